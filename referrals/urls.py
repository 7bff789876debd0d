from django.urls import path

from referrals import views
from referrals.views.create import referral_sent
from referrals.views.report import report_csv

urlpatterns = [
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/logout/", views.LogoutView.as_view(), name="logout"),
    path("referrals/", views.referral_list, name="referrals-list"),
    path("referrals/new/", views.referral_new, name="referrals-new"),
    path("referrals/queue/", views.queue, name="referrals-queue"),
    path("referrals/caseload/", views.caseload, name="referrals-caseload"),
    path("referrals/<uuid:pk>/", views.referral_detail, name="referrals-detail"),
    path("referrals/<uuid:pk>/sent/", referral_sent, name="referrals-sent"),
    path("referrals/<uuid:pk>/timeline/", views.referral_timeline, name="referrals-timeline"),
    path("referrals/<uuid:pk>/accept/", views.referral_accept, name="referrals-accept"),
    path("referrals/<uuid:pk>/assign/", views.referral_assign, name="referrals-assign"),
    path("referrals/<uuid:pk>/decline/", views.referral_decline, name="referrals-decline"),
    path("referrals/<uuid:pk>/contact/", views.referral_contact, name="referrals-contact"),
    path("referrals/<uuid:pk>/engage/", views.referral_engage, name="referrals-engage"),
    path("referrals/<uuid:pk>/close/", views.referral_close, name="referrals-close"),
    path("referrals/<uuid:pk>/follow-up/", views.follow_up_new, name="referrals-follow-up"),
    path("referrals/<uuid:pk>/measures/", views.measures, name="referrals-measures"),
    path("referrals/<uuid:pk>/goals/", views.goal_add, name="referrals-goal-add"),
    path(
        "referrals/<uuid:pk>/goals/<int:goal_id>/", views.goal_update, name="referrals-goal-update"
    ),
    path("referrals/<uuid:pk>/connections/", views.connection_add, name="referrals-connection-add"),
    path(
        "referrals/<uuid:pk>/connections/<int:connection_id>/",
        views.connection_update,
        name="referrals-connection-update",
    ),
    path("notifications/", views.notifications, name="referrals-notifications"),
    path("notifications/<int:pk>/", views.notification, name="referrals-notification"),
    path("referrals/emails/", views.emails, name="referrals-emails"),
    path("referrals/emails/<int:email_id>/retry/", views.email_retry, name="referrals-email-retry"),
    path("reports/referrals/", views.report, name="referrals-report"),
    path("reports/referrals.csv", report_csv, name="referrals-report-csv"),
]
