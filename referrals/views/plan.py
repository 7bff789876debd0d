"""The personal health plan (goals) and connections to community services."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from referrals import forms, services
from referrals.models import Connection, Goal, Referral
from referrals.views.access import _acting, care_team_required


@care_team_required
@require_POST
def goal_add(request, pk):
    referral = _acting(request, pk)
    form = forms.GoalForm(request.POST, prefix="goal")
    if form.is_valid():
        goal = form.save(commit=False)
        goal.referral = referral
        goal.by = request.user
        goal.save()
        messages.success(request, "Goal added to the plan.")
    else:
        messages.error(request, "Write the goal in the person's own words.")
    return redirect(reverse("referrals-detail", args=[referral.pk]) + "#plan")


@care_team_required
@require_POST
def goal_update(request, pk, goal_id):
    referral = _acting(request, pk)
    goal = get_object_or_404(referral.goals, pk=goal_id)
    form = forms.GoalStatusForm(request.POST, instance=goal)
    if form.is_valid():
        goal = form.save(commit=False)
        goal.status_changed_on = timezone.localdate()
        goal.save(update_fields=["status", "status_changed_on"])
        messages.success(request, f"Goal marked {goal.get_status_display().lower()}.")
    return redirect(reverse("referrals-detail", args=[referral.pk]) + "#plan")


@care_team_required
@require_POST
def connection_add(request, pk):
    referral = _acting(request, pk)
    form = forms.ConnectionForm(request.POST)
    if form.is_valid():
        Connection.objects.get_or_create(
            referral=referral,
            service=form.cleaned_data["service"],
            defaults={"status": form.cleaned_data["status"], "by": request.user},
        )
        messages.success(request, f"Connected to {form.cleaned_data['service'].name}.")
    return redirect(reverse("referrals-detail", args=[referral.pk]) + "#connections")


@care_team_required
@require_POST
def connection_update(request, pk, connection_id):
    referral = _acting(request, pk)
    connection = get_object_or_404(referral.connections, pk=connection_id)
    form = forms.ConnectionStatusForm(request.POST, instance=connection)
    if form.is_valid():
        connection = form.save(commit=False)
        connection.updated_at = timezone.now()
        connection.save(update_fields=["status", "updated_at"])
        messages.success(request, f"{connection.service.name}: {connection.get_status_display()}.")
    return redirect(reverse("referrals-detail", args=[referral.pk]) + "#connections")


def plan_context(request, referral: Referral, *, may_act: bool) -> dict:
    """The referral page's personal health plan and connections sections."""
    context = {
        "goals": referral.goals.all(),
        "connections": referral.connections.select_related("service"),
    }
    if may_act:
        context["goal_form"] = forms.GoalForm(prefix="goal")
        connected = set(referral.connections.values_list("service_id", flat=True))
        context["nearby"] = [s for s in services.services_near(referral) if s.pk not in connected]
        context["goal_statuses"] = Goal.Status.choices
        context["connection_statuses"] = Connection.Status.choices
    return context
