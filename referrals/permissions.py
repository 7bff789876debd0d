"""Roles, as Django groups, and the few checks built on them.

A role alone grants nothing to see: a clinician sees referrals only through a practice
membership, a trainer only through a team membership (``Referral.objects.visible_to``). The
groups are created by a data migration; ``admin`` is a superuser, not a group, and superusers
see no patient either (they run the accounts, not the care).
"""

from django.contrib.auth.models import AnonymousUser, User
from rest_framework.permissions import BasePermission

CLINICIANS = "Clinicians"
TRAINERS = "Health trainers"
LEADS = "Team leads"
EDITORS = "Directory editors"  # created by the directory app too; get_or_create by this name
MANAGERS = "Managers"

ROLE_GROUPS = [CLINICIANS, TRAINERS, LEADS, EDITORS, MANAGERS]


def group_names(user: User | AnonymousUser) -> frozenset[str]:
    """The user's group names, cached on the user object for the request."""
    if not user.is_authenticated or not user.is_active:
        return frozenset()
    if not hasattr(user, "_flourish_groups"):
        user._flourish_groups = frozenset(user.groups.values_list("name", flat=True))
    return user._flourish_groups


def is_clinician(user) -> bool:
    return CLINICIANS in group_names(user)


def is_trainer(user) -> bool:
    """Health trainers and team leads (a lead is a trainer who can also assign)."""
    return bool({TRAINERS, LEADS} & group_names(user))


def is_lead(user) -> bool:
    return LEADS in group_names(user)


def is_manager(user) -> bool:
    return MANAGERS in group_names(user)


def in_care_team(user) -> bool:
    """May open the referral pages at all (what they see is still filtered by membership)."""
    return is_clinician(user) or is_trainer(user)


class InCareTeam(BasePermission):
    message = "Only clinicians and health trainers can see referrals."

    def has_permission(self, request, view) -> bool:
        return in_care_team(request.user)


class IsClinician(BasePermission):
    message = "Only clinicians can make referrals."

    def has_permission(self, request, view) -> bool:
        return is_clinician(request.user)
