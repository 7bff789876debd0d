"""The lists: a practice's or team's referrals, the team queue, a trainer's caseload."""

from datetime import timedelta

from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from referrals import forms, permissions
from referrals.models import (
    Referral,
    Team,
)
from referrals.views.access import care_team_required


def _with_list_data(queryset):
    return queryset.select_related("patient", "team", "practice", "assigned_to").prefetch_related(
        "needs"
    )


@care_team_required
@require_http_methods(["GET"])
def referral_list(request):
    """Clinicians: my practice's referrals; trainers: their teams'. Filter by status, age, need."""
    form = forms.ReferralFilterForm(request.GET or None)
    referrals = _with_list_data(Referral.objects.visible_to(request.user))
    if form.is_valid():
        status = form.cleaned_data["status"]
        if status == "open":
            referrals = referrals.open()
        elif status:
            referrals = referrals.filter(status=status)
        if form.cleaned_data["age"]:
            cutoff = timezone.now() - timedelta(days=int(form.cleaned_data["age"]))
            referrals = referrals.filter(created_at__lte=cutoff)
        if form.cleaned_data["need"]:
            referrals = referrals.filter(needs=form.cleaned_data["need"])
    page = Paginator(referrals.order_by("-created_at"), 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "referrals/list.html",
        {"form": form, "page": page, "query": query.urlencode(), "now": timezone.now()},
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
