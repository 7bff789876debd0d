"""The referral pages: server-rendered, one URL per action, redirect after POST.

Every view that shows a referral starts from ``Referral.objects.visible_to(request.user)`` (a
referral you may not see is a 404); only ``detail`` shows a patient's details, and it writes the
access log each time.
"""

from referrals.views.access import care_team_required
from referrals.views.auth import LoginView, LogoutView
from referrals.views.contacts import follow_up_new, measures
from referrals.views.create import referral_new
from referrals.views.detail import referral_detail, referral_timeline
from referrals.views.inbox import email_retry, emails, notification, notifications
from referrals.views.lists import caseload, queue, referral_list
from referrals.views.moves import (
    referral_accept,
    referral_assign,
    referral_close,
    referral_contact,
    referral_decline,
    referral_engage,
)
from referrals.views.plan import connection_add, connection_update, goal_add, goal_update
from referrals.views.report import report

__all__ = [
    "care_team_required",
    "LoginView",
    "LogoutView",
    "referral_list",
    "queue",
    "caseload",
    "referral_new",
    "referral_detail",
    "referral_timeline",
    "referral_accept",
    "referral_assign",
    "referral_decline",
    "referral_close",
    "referral_contact",
    "referral_engage",
    "follow_up_new",
    "measures",
    "goal_add",
    "goal_update",
    "connection_add",
    "connection_update",
    "notifications",
    "notification",
    "emails",
    "email_retry",
    "report",
]
