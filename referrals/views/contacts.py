"""Contacts with the person and the wellbeing measures taken.

One page records both (``follow_up_new``): the contact and any of ONS4, SWEMWBS and PAM, saved
together by ``services.record_contact`` or not at all, everything typed kept on a refusal. The
measures page shows their history and summary; recording goes through the follow-up page."""

import json

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from config.forms import error_links
from referrals import forms, services
from referrals import measures as m
from referrals.models import Measure, Referral
from referrals.views.access import _acting, _visible, care_team_required


def measure_summary(referral: Referral, taken=None) -> list[dict]:
    """Each instrument's first, latest and change per field, for the pages: ``[{"instrument":
    label, "key": "ons4", "rows": [{"field", "label", "question", "change": FieldChange,
    "better": "Higher is better"}]}]``, in the order ONS4, SWEMWBS, PAM."""
    taken = referral.measures.all() if taken is None else taken
    changes = m.first_and_latest(taken).get(referral.pk, {})
    sections = []
    for instrument, fields in m.SUMMARY_FIELDS.items():
        rows = [
            {
                "field": field,
                "label": m.FIELD_LABELS[field],
                "question": m.ONS4_QUESTIONS.get(field, ""),
                "change": changes[field],
                "better": "Lower is better" if field in m.LOWER_IS_BETTER else "Higher is better",
            }
            for field in fields
            if field in changes
        ]
        if rows:
            sections.append(
                {"instrument": m.INSTRUMENT_LABELS[instrument], "key": instrument, "rows": rows}
            )
    return sections


def _saved_message(follow_up) -> str:
    """What was saved, in words: the contact and each measure (SWEMWBS with its total and
    metric score, so the page after saving shows them whether or not JavaScript ran)."""
    parts = []
    for measure in follow_up.measures.all():
        if measure.instrument == Measure.Instrument.SWEMWBS:
            parts.append(
                f"SWEMWBS (total {measure.swemwbs_total}, metric score {measure.swemwbs_metric})"
            )
        elif measure.instrument == Measure.Instrument.PAM:
            parts.append(f"PAM (score {measure.pam_score}, level {measure.pam_level})")
        else:
            parts.append("ONS4")
    text = "Contact logged."
    if parts:
        text += " Measures recorded: " + ", ".join(parts) + "."
    return text


@care_team_required
@require_http_methods(["GET", "POST"])
def follow_up_new(request, pk):
    """Log a contact and any measures taken then, in one form and one save."""
    referral = _acting(request, pk)
    data = request.POST if request.method == "POST" else None
    contact_form = forms.FollowUpForm(data, referral=referral)
    measure_form = forms.MeasureForm(data, referral=referral)
    if request.method == "POST":
        # Both forms checked, so every error shows at once.
        contact_ok = contact_form.is_valid()
        measures_ok = measure_form.is_valid()
        if contact_ok and measures_ok:
            status_before = referral.status
            try:
                follow_up, created = services.record_contact(
                    referral,
                    by=request.user,
                    measures=measure_form.measures(),
                    idempotency_key=contact_form.idempotency_key(),
                    **contact_form.contact(),
                )
            except services.ContactRefused as refused:
                for field, errors in refused.contact.items():
                    contact_form.show_error(field, errors)
                for errors in refused.measures.values():
                    for field, messages_ in errors.items():
                        measure_form.show_error(field, messages_)
            else:
                if not created:
                    messages.info(
                        request,
                        "This form was already sent, so the contact was logged once. To log "
                        "another contact, choose 'Log a contact' again.",
                    )
                    return redirect(referral)
                messages.success(request, _saved_message(follow_up))
                if referral.status != status_before:
                    told = " The referrer has been told." if referral.referred_by_id else ""
                    messages.info(request, f"The referral is now contacted.{told}")
                if referral.suggests_could_not_contact():
                    messages.warning(
                        request,
                        f"{referral.unanswered_attempts()} attempts without reaching the person: "
                        "you can close the referral as 'could not contact' (see Contacts).",
                    )
                return redirect(f"{referral.get_absolute_url()}#contacts-heading")
    total, metric = measure_form.swemwbs_typed_total()
    return render(
        request,
        "referrals/follow_up.html",
        {
            "referral": referral,
            "contact_form": contact_form,
            "measure_form": measure_form,
            "error_links": error_links(contact_form, measure_form),
            "swemwbs_total": total,
            "swemwbs_metric": metric,
            "swemwbs_table": sorted(m.SWEMWBS_METRIC.items()),
            "swemwbs_json": json.dumps(
                {raw: str(metric) for raw, metric in m.SWEMWBS_METRIC.items()}
            ),
            "ons4_attribution": m.ONS4_ATTRIBUTION,
            "ons4_licence_url": m.ONS4_LICENCE_URL,
        },
    )


@care_team_required
@require_http_methods(["GET"])
def measures(request, pk):
    """Every measure taken and each field's first, latest and change. Measures are recorded
    with a contact, on the follow-up page."""
    referral = _visible(request, pk)
    taken = list(referral.measures.select_related("by"))
    return render(
        request,
        "referrals/measures.html",
        {
            "referral": referral,
            "may_act": referral.may_act(request.user),
            "measures": [_history_row(measure) for measure in reversed(taken)],
            "measure_summary": measure_summary(referral, taken),
            "ons4_attribution": m.ONS4_ATTRIBUTION,
            "ons4_licence_url": m.ONS4_LICENCE_URL,
        },
    )


def _history_row(measure: Measure) -> dict:
    values = [(m.FIELD_LABELS[field], value) for field, value in measure.values().items()]
    if measure.instrument == Measure.Instrument.SWEMWBS and measure.swemwbs_metric is not None:
        values.append((m.FIELD_LABELS["swemwbs_metric"], measure.swemwbs_metric))
    return {"measure": measure, "values": values}


def contacts_context(request, referral: Referral, *, may_act: bool) -> dict:
    """The referral page's contacts and measures sections."""
    unanswered = referral.unanswered_attempts()
    return {
        "follow_ups": referral.follow_ups.select_related("by").prefetch_related("measures")[:10],
        "follow_up_count": referral.follow_ups.count(),
        "measure_summary": measure_summary(referral),
        "unanswered_attempts": unanswered,
        "offer_could_not_contact": referral.suggests_could_not_contact(unanswered),
        "ons4_attribution": m.ONS4_ATTRIBUTION,
        "ons4_licence_url": m.ONS4_LICENCE_URL,
    }
