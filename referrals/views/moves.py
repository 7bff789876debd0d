"""Moving a referral through its workflow: accept, assign, contact, engage, decline, close."""

import json

from django.contrib import messages
from django.http import HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from config.forms import error_links
from referrals import forms, message_back, services
from referrals import measures as measure_fields
from referrals.models import (
    SNOMED_DECLINED,
    IllegalMove,
    Measure,
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
            form = _kept(forms.DeclineForm, request, referral, error)
        else:
            messages.success(request, "Referral declined. The referrer has been told why.")
            return redirect(referral)
    return render(request, "referrals/decline.html", {"referral": referral, "form": form})


def _kept(form_class, request, referral: Referral, error, **kwargs):
    """A refused move's form, as typed, against the referral as it is now: the message says
    what happened and nothing typed is lost (sending again acts on what the page now shows)."""
    referral.refresh_from_db()
    data = request.POST.copy()
    data["version"] = referral.version
    form = form_class(data, **kwargs)
    form.is_valid()
    form.add_error(None, str(error))
    return form


@care_team_required
@require_http_methods(["GET", "POST"])
def referral_close(request, pk):
    """Close with an outcome. The page shows the message the referrer will get, composed by
    the function that sends it (``message_back.compose``), as chosen so far."""
    referral = _acting(request, pk)
    outcome = request.GET.get("outcome")
    initial = {
        "version": referral.version,
        "outcome": outcome if outcome in Referral.Outcome.values else None,
    }
    # Final measures, when first ones were taken: the same form as a contact's, for the
    # instruments the person did before (left blank, none is recorded).
    taken_before = list(
        dict.fromkeys(
            referral.measures.order_by("taken_on", "pk").values_list("instrument", flat=True)
        )
    )
    measure_form = forms.MeasureForm(request.POST or None, referral=referral)
    if request.POST.get("action") == "preview":
        # "Update the message" (no JavaScript): the page again with what was chosen, unsent.
        initial = {key: request.POST.get(key, "") for key in ("version", "outcome", "note")}
        form = forms.CloseForm(initial=initial)
    else:
        form = forms.CloseForm(request.POST or None, initial=initial)
    measures_ok = measure_form.is_valid() if measure_form.is_bound else True
    if form.is_bound and form.is_valid() and measures_ok:
        try:
            referral.close(
                by=request.user,
                version=form.cleaned_data["version"],
                outcome=form.cleaned_data["outcome"],
                note=form.cleaned_data["note"],
                before_telling=lambda locked: services.record_final_measures(
                    locked, by=request.user, measures=measure_form.measures()
                ),
            )
        except (StaleReferral, IllegalMove) as error:
            form = _kept(forms.CloseForm, request, referral, error)
        except services.ContactRefused as refused:
            for errors in refused.measures.values():
                for field, messages_ in errors.items():
                    measure_form.show_error(field, messages_)
        else:
            told = " The referrer has been told." if referral.referred_by_id else ""
            messages.success(request, f"Referral closed.{told}")
            return redirect(referral)
    typed_total, typed_metric = measure_form.swemwbs_typed_total()
    chosen_outcome, note = form.chosen()
    preview = message_back.compose(
        referral,
        message_back.CLOSED,
        outcome=chosen_outcome,
        note=note,
        by=request.user,
        final_measures=_typed_measures(referral, measure_form),
    )
    return render(
        request,
        "referrals/close.html",
        {
            "referral": referral,
            "form": form,
            "preview": preview,
            "measure_form": measure_form,
            "swemwbs_total": typed_total,
            "swemwbs_metric": typed_metric,
            "taken_before": taken_before,
            "error_links": error_links(form, measure_form),
            "ons4_attribution": measure_fields.ONS4_ATTRIBUTION,
            "ons4_licence_url": measure_fields.ONS4_LICENCE_URL,
            "swemwbs_table": sorted(measure_fields.SWEMWBS_METRIC.items()),
            "swemwbs_json": json.dumps(
                {raw: str(metric) for raw, metric in measure_fields.SWEMWBS_METRIC.items()}
            ),
            "referrer_name": _name(referral.referred_by) if referral.referred_by_id else "",
            "snomed_declined": SNOMED_DECLINED,
            "could_not_contact": referral.suggests_could_not_contact(),
            "could_not_contact_label": Referral.Outcome.COULD_NOT_CONTACT.label,
            "unanswered": referral.unanswered_attempts(),
        },
    )


def _typed_measures(referral: Referral, measure_form) -> list[Measure]:
    """The final measures as typed (valid ones only), unsaved, for the preview: dated today and
    counted after every measure already taken."""
    if not measure_form.is_bound or not measure_form.is_valid():
        return []
    typed = []
    for values in measure_form.measures():
        values = dict(values)
        measure = Measure(
            referral=referral, instrument=values.pop("instrument"), taken_on=timezone.localdate()
        )
        for name, value in values.items():
            setattr(measure, name, value)
        measure.value_errors()  # fills in the SWEMWBS total from the items
        measure.pk = PREVIEW_LAST  # sorts after the saved ones of the same day; never saved
        typed.append(measure)
    return typed


PREVIEW_LAST = 2**62


def _name(user) -> str:
    return user.get_full_name() or user.get_username()


def primary_action(referral: Referral, *, could_not_contact: bool) -> str:
    """The one thing to do next for a referral in its state (the page's green button):
    accept a new one, log a contact with an accepted one, agree a goal once the person is
    reached, and keep logging contacts with an engaged one. Three unanswered attempts make
    closing as "could not contact" the thing to do."""
    if not referral.is_open:
        return ""
    if could_not_contact:
        return "close"
    return {
        Referral.Status.NEW: "accept",
        Referral.Status.ACCEPTED: "contact",
        Referral.Status.CONTACTED: "goal",
        Referral.Status.ENGAGED: "contact",
    }[referral.status]


def actions_context(request, referral: Referral, *, may_act: bool) -> dict:
    """The referral page's "What next" section, and the messages its referrer was sent."""
    unanswered = referral.unanswered_attempts()
    could_not_contact = referral.suggests_could_not_contact(unanswered)
    context = {
        "may_assign": referral.may_assign(request.user),
        "suggest_could_not_contact": could_not_contact,
        "unanswered": unanswered,
        "can": {status: referral.can_move(status) for status in Referral.Status.values},
        "primary": primary_action(referral, could_not_contact=could_not_contact),
        "messages_back": [
            n
            for n in referral.notifications.filter(user_id=referral.referred_by_id).order_by(
                "-created_at", "-pk"
            )
            if referral.referred_by_id
        ],
    }
    if may_act:
        context["accept_form"] = forms.AcceptForm(
            initial={"version": referral.version}, team=referral.team
        )
        context["assign_form"] = forms.AssignForm(
            initial={"version": referral.version, "to": referral.assigned_to_id}, team=referral.team
        )
    return context
