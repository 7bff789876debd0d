"""The lists: a practice's or team's referrals, the team queue, a trainer's caseload.

Each row shows who (name, NHS number, age), the status and how long it has been in it, and the
next thing expected and by when (``Referral.next_step``, one rule for all three lists)."""

from datetime import timedelta

from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from referrals import forms, permissions, services
from referrals.models import (
    Referral,
    Team,
)
from referrals.views.access import care_team_required

PAGE_SIZE = 50


def _with_list_data(queryset):
    return queryset.select_related("patient", "team", "practice", "assigned_to").prefetch_related(
        "needs"
    )


@care_team_required
@require_http_methods(["GET"])
def referral_list(request):
    """Clinicians: my practices' referrals; trainers: their teams'. Search by name or NHS
    number; filter by status, how long ago, need (and practice or team, for someone in several).
    Everything starts from ``visible_to``: a search never finds anyone else's patients."""
    form = forms.ReferralFilterForm(request.GET or None, user=request.user)
    referrals = _with_list_data(Referral.objects.visible_to(request.user))
    if form.is_valid():
        data = form.cleaned_data
        referrals = services.search_referrals(referrals, data["q"])
        if data["status"] == "open":
            referrals = referrals.open()
        elif data["status"]:
            referrals = referrals.filter(status=data["status"])
        if data["age"]:
            cutoff = timezone.now() - timedelta(days=int(data["age"]))
            referrals = referrals.filter(created_at__lte=cutoff)
        if data["need"]:
            referrals = referrals.filter(needs=data["need"])
        if data.get("practice"):
            referrals = referrals.filter(practice=data["practice"])
        if data.get("team"):
            referrals = referrals.filter(team=data["team"])
    elif form.is_bound:
        referrals = referrals.none()
    page = Paginator(referrals.order_by("-created_at", "pk"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "referrals/list.html",
        {
            "form": form,
            "page": page,
            "query": query.urlencode(),
            "now": timezone.now(),
            "filtered": form.active(),
        },
    )


@care_team_required
@require_http_methods(["GET"])
def queue(request):
    """The team queue: new referrals, oldest first, with how long each has waited."""
    if not permissions.is_trainer(request.user):
        raise PermissionDenied("The queue is for health trainers.")
    referrals = _with_list_data(
        Referral.objects.visible_to(request.user)
        .filter(status=Referral.Status.NEW, team__memberships__user=request.user)
        .order_by("created_at")
    )
    teams = Team.objects.filter(memberships__user=request.user).with_load()
    return render(
        request,
        "referrals/queue.html",
        {"referrals": referrals, "teams": teams, "now": timezone.now()},
    )


@care_team_required
@require_http_methods(["GET"])
def caseload(request):
    if not permissions.is_trainer(request.user):
        raise PermissionDenied("The caseload is for health trainers.")
    referrals = _with_list_data(
        Referral.objects.visible_to(request.user)
        .open()
        .filter(assigned_to=request.user)
        .order_by("status_changed_at")
    )
    return render(
        request, "referrals/caseload.html", {"referrals": referrals, "now": timezone.now()}
    )
