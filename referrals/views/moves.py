"""Moving a referral through its workflow: accept, assign, contact, engage, decline, close."""

from django.contrib import messages
from django.http import HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from referrals import forms
from referrals.models import (
    IllegalMove,
    Referral,
    StaleReferral,
)
from referrals.views.access import _acting, _do_move, care_team_required


@care_team_required
@require_POST
def referral_accept(request, pk):
    referral = _acting(request, pk)
    form = forms.AcceptForm(request.POST, team=referral.team)
    if not form.is_valid():
        return HttpResponseBadRequest("Missing or invalid version.")
    _do_move(
        request,
        referral,
        lambda: referral.accept(
            by=request.user,
            version=form.cleaned_data["version"],
            assign_to=form.cleaned_data["assign_to"],
        ),
    )
    if referral.status == Referral.Status.ACCEPTED:
        messages.success(request, "Referral accepted. The referrer has been told.")
    return redirect(referral)


@care_team_required
@require_POST
def referral_assign(request, pk):
    referral = _acting(request, pk)
    form = forms.AssignForm(request.POST, team=referral.team)
    if not form.is_valid():
        return HttpResponseBadRequest("Missing or invalid version or trainer.")
    version = referral.version
    _do_move(
        request,
        referral,
        lambda: referral.assign(
            by=request.user, version=form.cleaned_data["version"], to=form.cleaned_data["to"]
        ),
    )
    if referral.version != version:
        messages.success(request, "Referral reassigned.")
    return redirect(referral)


def _simple_move(method_name: str, done: str):
    @care_team_required
    @require_POST
    def view(request, pk):
        referral = _acting(request, pk)
        form = forms.VersionForm(request.POST)
        if not form.is_valid():
            return HttpResponseBadRequest("Missing or invalid version.")
        before = referral.status
        _do_move(
            request,
            referral,
            lambda: getattr(referral, method_name)(
                by=request.user, version=form.cleaned_data["version"]
            ),
        )
        if referral.status != before:
            messages.success(request, done)
        return redirect(referral)

    view.__name__ = f"referral_{method_name}"
    return view


referral_contact = _simple_move("contact", "Marked as contacted.")
referral_engage = _simple_move("engage", "Marked as engaged.")


@care_team_required
@require_http_methods(["GET", "POST"])
def referral_decline(request, pk):
    referral = _acting(request, pk)
    form = forms.DeclineForm(request.POST or None, initial={"version": referral.version})
    if request.method == "POST" and form.is_valid():
        try:
            referral.decline(
                by=request.user,
                version=form.cleaned_data["version"],
                reason=form.cleaned_data["reason"],
            )
        except (StaleReferral, IllegalMove) as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, "Referral declined. The referrer has been told why.")
            return redirect(referral)
    return render(request, "referrals/decline.html", {"referral": referral, "form": form})


@care_team_required
@require_http_methods(["GET", "POST"])
def referral_close(request, pk):
    referral = _acting(request, pk)
    initial = {"version": referral.version, "outcome": request.GET.get("outcome")}
    form = forms.CloseForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            referral.close(
                by=request.user,
                version=form.cleaned_data["version"],
                outcome=form.cleaned_data["outcome"],
                note=form.cleaned_data["note"],
            )
        except (StaleReferral, IllegalMove) as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, "Referral closed. The referrer has been told the outcome.")
            return redirect(referral)
    return render(request, "referrals/close.html", {"referral": referral, "form": form})


def actions_context(request, referral: Referral, *, may_act: bool) -> dict:
    """The referral page's "What next" section."""
    context = {
        "may_assign": referral.may_assign(request.user),
        "suggest_could_not_contact": referral.suggests_could_not_contact(),
        "unanswered": referral.unanswered_attempts(),
        "can": {status: referral.can_move(status) for status in Referral.Status.values},
    }
    if may_act:
        context["accept_form"] = forms.AcceptForm(
            initial={"version": referral.version}, team=referral.team
        )
        context["assign_form"] = forms.AssignForm(
            initial={"version": referral.version, "to": referral.assigned_to_id}, team=referral.team
        )
    return context
