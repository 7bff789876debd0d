from django.urls import path

from directory import views

urlpatterns = [
    path("", views.home, name="home"),
    path("search/", views.search, name="directory-search"),
    path("services/<uuid:service_id>/", views.service_detail, name="directory-service"),
    path("services/<uuid:service_id>/report/", views.report_listing, name="directory-report"),
    path(
        "services/<uuid:service_id>/report/sent/", views.report_sent, name="directory-report-sent"
    ),
    path("get-online/", views.get_online, name="directory-get-online"),
    path("health-trainers/", views.health_trainers, name="directory-health-trainers"),
    path("shortlist/", views.shortlist, name="directory-shortlist"),
    path("shortlist/add/", views.shortlist_add, name="directory-shortlist-add"),
    path("shortlist/remove/", views.shortlist_remove, name="directory-shortlist-remove"),
    path("shortlist/clear/", views.shortlist_clear, name="directory-shortlist-clear"),
    path("shortlist/print/", views.shortlist_print, name="directory-shortlist-print"),
]
