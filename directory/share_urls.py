"""Taking the directory elsewhere (issue 12, parts 3 and 5; views in directory/share.py): the
widget any practice can paste, and the shortlist's QR code and "send it to me"."""

from django.urls import path

from directory import share

urlpatterns = [
    path("embed/", share.embed_builder, name="directory-embed"),
    path("embed/widget/", share.embed_widget, name="directory-embed-widget"),
    path("shortlist/qr.svg", share.shortlist_qr, name="directory-shortlist-qr"),
    path("shortlist/send/", share.shortlist_send, name="directory-shortlist-send"),
]
