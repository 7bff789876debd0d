"""Logging a contact with the person, and the wellbeing measures taken then.

The follow-up page is one ``<form>`` with two form classes: ``FollowUpForm`` (the contact) and
``MeasureForm`` (any of ONS4, SWEMWBS and PAM). They shape what was typed; the rules (ranges,
which fields make up an instrument, dates) are the models', which these forms run so that every
error shows at once, and ``services.record_contact`` saves it all or nothing."""

import uuid
from datetime import datetime

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from config.forms import DateInputField, TimeInputField
from referrals import measures as m
from referrals.forms.base import ErrorSummaryMixin
from referrals.models import FOLLOW_UP_NOTES_MAX, FollowUp, Measure, Referral

NUMBER_BOX = {"inputmode": "numeric", "autocomplete": "off"}


class FollowUpForm(ErrorSummaryMixin, forms.Form):
    """The contact: when (date boxes and a time), how, whether the person was reached, how long
    and notes. ``cleaned_data["at"]`` is the aware date and time."""

    date = DateInputField(
        label="Date of the contact",
        noun="the date of the contact",
        help_text="For example, 27 3 2026",
    )
    time = TimeInputField(label="Time", help_text="For example, 14:30")
    method = forms.ChoiceField(
        label="How did you contact them?", choices=FollowUp.Method.choices, widget=forms.RadioSelect
    )
    reached = forms.TypedChoiceField(
        label="Did you reach the person?",
        choices=[("yes", "Yes"), ("no", "No")],
        coerce=lambda value: value == "yes",
        widget=forms.RadioSelect(attrs={"data-inline": "1"}),
    )
    duration_minutes = forms.IntegerField(
        label="How long did it take, in minutes? (optional)",
        required=False,
        # The model's limits (a minute to a day), with the design system's wording.
        validators=FollowUp._meta.get_field("duration_minutes").validators,
        widget=forms.TextInput(attrs={"class": "input--width-3", **NUMBER_BOX}),
    )
    notes = forms.CharField(
        label="Notes (optional)",
        required=False,
        max_length=FOLLOW_UP_NOTES_MAX,
        widget=forms.Textarea(attrs={"rows": 5}),
    )
    # One contact per form, however many times it is sent (a double click, a resend).
    form_token = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)

    nouns = {
        "time": "the time of the contact",
        "method": "how you contacted them",
        "reached": "whether you reached the person",
        "duration_minutes": "the length of the contact",
        "notes": "the notes",
    }

    def __init__(self, *args, referral: Referral, **kwargs):
        super().__init__(*args, **kwargs)
        self.referral = referral
        if not self.is_bound:
            now = timezone.localtime()
            self.initial.update(
                date=now.date(), time=now.strftime("%H:%M"), form_token=uuid.uuid4().hex
            )

    def clean(self):
        data = super().clean()
        day, at_time = data.get("date"), data.get("time")
        if day is None or at_time is None:
            return data
        try:
            at = timezone.make_aware(datetime.combine(day, at_time))
        except ValueError:  # a time the clocks skipped
            self.add_error("time", "This time did not happen that day (the clocks changed)")
            return data
        try:
            FollowUp(referral=self.referral, at=at).clean()  # the model's rule for when
        except ValidationError as error:
            self.add_error("date", error.message_dict.get("at", error.messages))
        else:
            data["at"] = at
        return data

    def contact(self) -> dict:
        """What ``services.record_contact`` takes for the contact."""
        data = self.cleaned_data
        return {
            "at": data["at"],
            "method": data["method"],
            "reached": data["reached"],
            "duration_minutes": data["duration_minutes"],
            "notes": data["notes"],
        }

    def idempotency_key(self) -> str | None:
        token = self.cleaned_data.get("form_token")
        return f"form:{token}" if token else None

    def show_error(self, field: str, messages) -> None:
        """A refusal from ``record_contact`` beside its box (``at`` is the date)."""
        field = "date" if field == "at" else field
        self.add_error(field if field in self.fields else None, messages)


def _number(label: str, width: int = 2, **attrs) -> forms.IntegerField:
    return forms.IntegerField(
        label=label,
        required=False,
        widget=forms.TextInput(attrs={"class": f"input--width-{width}", **NUMBER_BOX, **attrs}),
    )


class MeasureForm(ErrorSummaryMixin, forms.Form):
    """Any of the three measures taken at a contact. A section left blank is not recorded; a
    section partly filled is an error naming each missing answer; the values are checked with
    the model's rules (``Measure.value_errors``). ``measures()`` gives what to record."""

    life_satisfaction = _number(m.ONS4_QUESTIONS["life_satisfaction"])
    worthwhile = _number(m.ONS4_QUESTIONS["worthwhile"])
    happiness = _number(m.ONS4_QUESTIONS["happiness"])
    anxiety = _number(m.ONS4_QUESTIONS["anxiety"])
    swemwbs_1 = _number("Item 1", **{"data-swemwbs-item": "1"})
    swemwbs_2 = _number("Item 2", **{"data-swemwbs-item": "2"})
    swemwbs_3 = _number("Item 3", **{"data-swemwbs-item": "3"})
    swemwbs_4 = _number("Item 4", **{"data-swemwbs-item": "4"})
    swemwbs_5 = _number("Item 5", **{"data-swemwbs-item": "5"})
    swemwbs_6 = _number("Item 6", **{"data-swemwbs-item": "6"})
    swemwbs_7 = _number("Item 7", **{"data-swemwbs-item": "7"})
    pam_score = forms.DecimalField(
        label="PAM score",
        required=False,
        decimal_places=1,
        # The range is the model's rule; the field only reads a number with one decimal place.
        error_messages={
            "max_decimal_places": "The PAM score can have at most 1 decimal place, like 48.5"
        },
        help_text="From 0 to 100, with up to one decimal place, like 48.5",
        widget=forms.TextInput(
            attrs={"class": "input--width-4", "inputmode": "decimal", "autocomplete": "off"}
        ),
    )
    pam_level = forms.TypedChoiceField(
        label="PAM level",
        required=False,
        choices=[(str(level), str(level)) for level in range(1, 5)],
        coerce=int,
        empty_value=None,
        widget=forms.RadioSelect(attrs={"data-inline": "1"}),
    )

    SECTIONS = {
        Measure.Instrument.ONS4: Measure.ONS4_FIELDS,
        Measure.Instrument.SWEMWBS: Measure.SWEMWBS_ITEMS,
        Measure.Instrument.PAM: ("pam_score", "pam_level"),
    }
    nouns = {field: m.field_noun(field) for fields in SECTIONS.values() for field in fields}

    def __init__(self, *args, referral: Referral, **kwargs):
        super().__init__(*args, **kwargs)
        self.referral = referral
        scale = f"{m.ONS4_SCALE}."
        for field in Measure.ONS4_FIELDS:
            self.fields[field].help_text = scale
        self.fields["anxiety"].help_text = f"{scale} For anxiety, lower is better."
        self._measures: list[dict] = []

    def typed(self, name: str) -> bool:
        return bool(str(self.data.get(self.add_prefix(name), "")).strip())

    def clean(self):
        data = super().clean()
        self._measures = []
        for instrument, names in self.SECTIONS.items():
            typed = [name for name in names if self.typed(name)]
            if not typed:
                continue  # left blank: not taken this time
            missing = [name for name in names if name not in typed]
            for name in missing:
                verb = "Select" if name == "pam_level" else "Enter"
                self.add_error(name, f"{verb} {self.nouns[name]}")
            if missing or any(name in self.errors for name in names):
                continue
            values = {name: data.get(name) for name in names}
            measure = Measure(referral=self.referral, instrument=instrument, **values)
            errors = measure.value_errors()  # the model's rules, shown beside each box
            errors.pop("taken_on", None)  # dated by the contact, checked when it is recorded
            for name, message in errors.items():
                self.add_error(name if name in self.fields else None, message)
            if not errors:
                self._measures.append({"instrument": instrument, **values})
        return data

    def measures(self) -> list[dict]:
        """One dict per measure taken (``instrument`` and its fields), for ``record_contact``."""
        return list(self._measures)

    def swemwbs_typed_total(self):
        """The total and metric score of the seven items as typed (for the page without
        JavaScript, after a refusal), or (None, None)."""
        items = []
        for item in Measure.SWEMWBS_ITEMS:
            text = str(self.data.get(self.add_prefix(item), "")).strip()
            if not text.isdigit() or not 1 <= int(text) <= 5:
                return None, None
            items.append(int(text))
        total = m.swemwbs_total(items)
        return total, m.swemwbs_metric(total)

    def show_error(self, field: str, messages) -> None:
        """A refusal from ``record_contact`` beside its box."""
        self.add_error(field if field in self.fields else None, messages)
