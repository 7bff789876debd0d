"""Organisations keeping their own listings true (issue 12), mounted at /listing/: the pages
the link an editor sends opens (directory.listing_views)."""

from django.urls import path

from directory import listing_views as views

urlpatterns = [
    path("open", views.open_link, name="listing-open"),
    path("", views.home, name="listing-home"),
    path("<uuid:service_id>/confirm", views.confirm, name="listing-confirm"),
    path("<uuid:service_id>/change", views.change, name="listing-change"),
    path("<uuid:service_id>/cancel", views.cancel, name="listing-cancel"),
    path("attendance", views.attendance, name="listing-attendance"),
    path(
        "attendance/<int:connection_id>", views.attendance_report, name="listing-attendance-report"
    ),
]
