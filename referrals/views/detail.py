"""One referral's page and its timeline. Only ``referral_detail`` shows a patient's details,
and it writes the access log each time.

The page is built from sections, each with its own template under ``referrals/detail/`` and its
context from the module that owns the section's actions: ``moves.actions_context`` (what next),
``contacts.contacts_context`` (contacts and measures), ``plan.plan_context`` (goals and
connections)."""

from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from referrals.models import AccessLog
from referrals.views.access import _visible, care_team_required
from referrals.views.contacts import contacts_context
from referrals.views.moves import actions_context
from referrals.views.plan import plan_context


@care_team_required
@require_http_methods(["GET"])
def referral_detail(request, pk):
    referral = _visible(request, pk)
    # Special-category data: every view of a patient's details is logged (and only this one).
    AccessLog.record(request, referral, channel="page")
    may_act = referral.may_act(request.user)
    context = {
        "referral": referral,
        "patient": referral.patient,
        "may_act": may_act,
        "needs": referral.needs.all(),
        "services_in_mind": referral.services_in_mind.all(),
        "same_person": referral.same_person(request.user),
        "now": timezone.now(),
    }
    context.update(actions_context(request, referral, may_act=may_act))
    context.update(contacts_context(request, referral, may_act=may_act))
    context.update(plan_context(request, referral, may_act=may_act))
    return render(request, "referrals/detail.html", context)


@care_team_required
@require_http_methods(["GET"])
def referral_timeline(request, pk):
    referral = _visible(request, pk)
    events = referral.events.select_related("by")
    return render(request, "referrals/timeline.html", {"referral": referral, "events": events})
