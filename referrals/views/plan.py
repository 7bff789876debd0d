"""The personal health plan (goals) and connections to community services.

Thin views: the form shapes the input, ``Referral.add_goal`` and the others lock the referral,
check the version the trainer saw, decide (a first goal engages the referral) and write the
event. A refusal comes back to the referral page as a message; a goal that was typed is kept in
the box (the session holds it for the next page), so a stale page never loses it."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from referrals import forms, services
from referrals.models import Connection, Goal, IllegalMove, Referral, StaleReferral
from referrals.views.access import _acting, care_team_required

GOAL_DRAFT = "referrals-goal-draft"


def _back(referral: Referral, anchor: str):
    return redirect(reverse("referrals-detail", args=[referral.pk]) + f"#{anchor}")


def _refused(request, form, referral: Referral, anchor: str):
    """A form that does not validate: its messages on the referral page, back at the section."""
    for errors in form.errors.values():
        for message in errors:
            messages.error(request, message)
    return _back(referral, anchor)


def _refusal(error) -> list[str]:
    if isinstance(error, ValidationError):
        return error.messages
    return [str(error) or "You cannot do that."]


def _change(request, referral: Referral, change) -> object | None:
    """Run a plan change; a refusal becomes a message on the referral page."""
    try:
        return change()
    except (StaleReferral, IllegalMove, PermissionDenied, ValidationError) as error:
        for message in _refusal(error):
            messages.error(request, message)
    except (Goal.DoesNotExist, Connection.DoesNotExist):
        raise Http404("No such goal or connection on this referral.") from None
    return None


@care_team_required
@require_POST
def goal_add(request, pk):
    referral = _acting(request, pk)
    form = forms.GoalForm(request.POST, prefix="goal")
    before = referral.status
    if not form.is_valid():
        # Kept with its error for the page to show in the box (nothing typed is lost).
        request.session[GOAL_DRAFT] = {
            "text": request.POST.get("goal-text", "")[:5000],
            "errors": [m for errors in form.errors.values() for m in errors],
        }
        return _back(referral, "plan")
    data = form.cleaned_data
    goal = _change(
        request,
        referral,
        lambda: referral.add_goal(by=request.user, version=data["version"], text=data["text"]),
    )
    if goal is None:
        request.session[GOAL_DRAFT] = {"text": data["text"], "errors": []}
        return _back(referral, "plan")
    done = "Goal added to the plan."
    if referral.status != before:
        done += " The referral is now engaged."
    messages.success(request, done)
    return _back(referral, "plan")


@care_team_required
@require_POST
def goal_update(request, pk, goal_id):
    referral = _acting(request, pk)
    form = forms.GoalStatusForm(request.POST)
    if not form.is_valid():
        return _refused(request, form, referral, "plan")
    goal = _change(
        request,
        referral,
        lambda: referral.set_goal_status(
            by=request.user,
            version=form.cleaned_data["version"],
            goal_id=goal_id,
            status=form.cleaned_data["status"],
        ),
    )
    if goal is not None:
        messages.success(request, f"Goal marked {goal.get_status_display().lower()}.")
    return _back(referral, "plan")


@care_team_required
@require_POST
def connection_add(request, pk):
    referral = _acting(request, pk)
    form = forms.ConnectionForm(request.POST)
    if not form.is_valid():
        return _refused(request, form, referral, "connections")
    data = form.cleaned_data
    connection = _change(
        request,
        referral,
        lambda: referral.add_connection(
            by=request.user, version=data["version"], service=data["service"], status=data["status"]
        ),
    )
    if connection is not None:
        messages.success(
            request, f"{connection.service.name}: {connection.get_status_display().lower()}."
        )
    return _back(referral, "connections")


@care_team_required
@require_POST
def connection_update(request, pk, connection_id):
    referral = _acting(request, pk)
    form = forms.ConnectionStatusForm(request.POST)
    if not form.is_valid():
        return _refused(request, form, referral, "connections")
    connection = _change(
        request,
        referral,
        lambda: referral.set_connection_status(
            by=request.user,
            version=form.cleaned_data["version"],
            connection_id=connection_id,
            status=form.cleaned_data["status"],
        ),
    )
    if connection is not None:
        messages.success(request, f"{connection.service.name}: {connection.get_status_display()}.")
    return _back(referral, "connections")


def plan_context(request, referral: Referral, *, may_act: bool) -> dict:
    """The referral page's personal health plan and connections sections."""
    context = {
        "goals": referral.goals.all(),
        "connections": referral.connections.select_related("service"),
    }
    if may_act:
        draft = request.session.pop(GOAL_DRAFT, None)
        if draft:
            goal_form = forms.GoalForm(
                {"goal-text": draft["text"], "goal-version": referral.version}, prefix="goal"
            )
            goal_form.is_valid()
            for message in draft["errors"]:
                if message not in goal_form.errors.get("text", []):
                    goal_form.add_error("text", message)
        else:
            goal_form = forms.GoalForm(prefix="goal", initial={"version": referral.version})
        context["goal_form"] = goal_form
        context["plannable"] = referral.is_open and referral.status != Referral.Status.NEW
        connected = set(referral.connections.values_list("service_id", flat=True))
        context["nearby"] = [s for s in services.services_near(referral) if s.pk not in connected]
        context["goal_statuses"] = Goal.Status.choices
        context["connection_statuses"] = Connection.Status.choices
    return context
