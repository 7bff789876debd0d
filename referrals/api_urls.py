from django.urls import path

from referrals import api, api_auth

urlpatterns = [
    path("auth/token/", api_auth.TokenView.as_view(), name="api-token"),
    path("auth/logout/", api_auth.LogoutView.as_view(), name="api-logout"),
    path("auth/logoutall/", api_auth.LogoutAllView.as_view(), name="api-logoutall"),
    path("auth/tokens/", api_auth.TokenListView.as_view(), name="api-tokens"),
    path(
        "auth/tokens/<str:token_id>/", api_auth.TokenDetailView.as_view(), name="api-token-detail"
    ),
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
