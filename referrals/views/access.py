"""Who may open the referral pages, and the lookups every page starts from."""

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.views.decorators.cache import never_cache

from referrals import permissions
from referrals.models import (
    IllegalMove,
    Referral,
    StaleReferral,
)


def care_team_required(view):
    """Signed in, and a clinician, trainer or lead: everyone else gets a 403. Every page behind
    it may show patient data, so none is kept by a browser or proxy (``Cache-Control:
    no-store`` from ``never_cache``)."""

    @wraps(view)
    @never_cache
    @login_required
    def wrapper(request, *args, **kwargs):
        if not permissions.in_care_team(request.user):
            raise PermissionDenied("Only clinicians and health trainers can see referrals.")
        return view(request, *args, **kwargs)

    return wrapper


def _visible(request, pk, **related) -> Referral:
    queryset = Referral.objects.visible_to(request.user).select_related(
        "patient", "practice", "team", "team__service", "referred_by", "assigned_to"
    )
    return get_object_or_404(queryset, pk=pk)


def _acting(request, pk) -> Referral:
    """A referral the user may change: 404 if they cannot see it, 403 if they only may look."""
    referral = _visible(request, pk)
    if not referral.may_act(request.user):
        raise PermissionDenied("Only a trainer in this referral's team can do that.")
    return referral


def _do_move(request, referral: Referral, action) -> None:
    """Run a move, turning the refusals into messages on the referral page."""
    try:
        action()
    except StaleReferral as error:
        messages.error(request, str(error))
    except IllegalMove as error:
        messages.error(request, str(error))
    except PermissionDenied as error:
        messages.error(request, str(error) or "You cannot do that.")
