"""Contacts with the person and the wellbeing measures taken."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from referrals import forms
from referrals.models import (
    Measure,
    Referral,
)
from referrals.views.access import _acting, _visible, care_team_required


def _measure_summary(referral: Referral) -> list[dict]:
    """Each instrument's first and latest values and the change, for the referral page."""
    by_instrument: dict[str, list[Measure]] = {}
    for measure in referral.measures.all():
        by_instrument.setdefault(measure.instrument, []).append(measure)
    rows = []
    for instrument, taken in by_instrument.items():
        first, latest = taken[0], taken[-1]
        for name in Measure.FIELDS[instrument]:
            label = Measure._meta.get_field(name).verbose_name
            change = getattr(latest, name) - getattr(first, name) if len(taken) > 1 else None
            rows.append(
                {
                    "instrument": Measure.Instrument(instrument).label,
                    "item": label,
                    "first": getattr(first, name),
                    "first_on": first.taken_on,
                    "latest": getattr(latest, name),
                    "latest_on": latest.taken_on,
                    "change": change,
                    "count": len(taken),
                    # For anxiety a fall is the improvement.
                    "lower_is_better": name == "anxiety",
                }
            )
    return rows


@care_team_required
@require_http_methods(["GET", "POST"])
def follow_up_new(request, pk):
    referral = _acting(request, pk)
    form = forms.FollowUpForm(
        request.POST or None,
        initial={"at": timezone.localtime().replace(second=0, microsecond=0)},
        referral=referral,
    )
    if request.method == "POST" and form.is_valid():
        follow_up = form.save(commit=False)
        follow_up.referral = referral
        follow_up.by = request.user
        follow_up.save()
        messages.success(request, "Contact logged.")
        if referral.suggests_could_not_contact():
            messages.warning(
                request,
                f"{referral.unanswered_attempts()} attempts without reaching the person: "
                "consider closing the referral as 'could not contact'.",
            )
        return redirect(referral)
    return render(request, "referrals/follow_up.html", {"referral": referral, "form": form})


@care_team_required
@require_http_methods(["GET", "POST"])
def measures(request, pk):
    """All measures taken, each instrument's first/latest/change, and one form per instrument."""
    referral = _visible(request, pk)
    may_act = referral.may_act(request.user)
    instruments = Measure.Instrument.values
    posted = request.POST.get("instrument") if request.method == "POST" else None
    if request.method == "POST":
        if not may_act:
            raise PermissionDenied("Only a trainer in this referral's team can record measures.")
        if posted not in instruments:
            return HttpResponseBadRequest("Unknown measure.")
    measure_forms = {
        instrument: forms.MeasureForm(
            request.POST if instrument == posted else None,
            instrument=instrument,
            referral=referral,
            prefix=instrument,
        )
        for instrument in instruments
    }
    if posted:
        form = measure_forms[posted]
        if form.is_valid():
            measure = form.save(commit=False)
            measure.referral = referral
            measure.by = request.user
            measure.save()
            messages.success(request, f"{measure.get_instrument_display()} recorded.")
            return redirect("referrals-measures", pk=referral.pk)
    return render(
        request,
        "referrals/measures.html",
        {
            "referral": referral,
            "may_act": may_act,
            "measures": referral.measures.all(),
            "measure_rows": _measure_summary(referral),
            "measure_forms": [
                (Measure.Instrument(i).label, i, measure_forms[i]) for i in instruments
            ],
            "posted_form": measure_forms.get(posted),
        },
    )


def contacts_context(request, referral: Referral, *, may_act: bool) -> dict:
    """The referral page's contacts and measures sections."""
    return {
        "follow_ups": referral.follow_ups.select_related("by")[:10],
        "measure_rows": _measure_summary(referral),
    }
