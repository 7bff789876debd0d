from django.urls import path

from referrals import api

urlpatterns = [
    path("auth/token/", api.TokenView.as_view(), name="api-token"),
    path("referrals/", api.ReferralListView.as_view(), name="api-referrals"),
    path("referrals/<uuid:pk>/", api.ReferralDetailView.as_view(), name="api-referral"),
    path("referrals/<uuid:pk>/accept/", api.AcceptView.as_view(), name="api-referral-accept"),
    path("referrals/<uuid:pk>/decline/", api.DeclineView.as_view(), name="api-referral-decline"),
    path("referrals/<uuid:pk>/contact/", api.ContactView.as_view(), name="api-referral-contact"),
    path("referrals/<uuid:pk>/engage/", api.EngageView.as_view(), name="api-referral-engage"),
    path("referrals/<uuid:pk>/close/", api.CloseView.as_view(), name="api-referral-close"),
    path(
        "referrals/<uuid:pk>/follow-ups/",
        api.FollowUpListView.as_view(),
        name="api-referral-follow-ups",
    ),
    path("referrals/<uuid:pk>/events/", api.EventListView.as_view(), name="api-referral-events"),
    path("teams/suggest/", api.TeamSuggestView.as_view(), name="api-teams-suggest"),
]
