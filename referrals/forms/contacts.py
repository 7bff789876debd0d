"""Logging a contact with the person, and the wellbeing measures taken."""

from django import forms
from django.utils import timezone

from referrals.forms.base import ErrorSummaryMixin
from referrals.models import (
    FollowUp,
    Measure,
    Referral,
    validate_contact_time,
    validate_measure_date,
)


class FollowUpForm(ErrorSummaryMixin, forms.ModelForm):
    at = forms.DateTimeField(
        label="When",
        input_formats=["%Y-%m-%dT%H:%M", "%d/%m/%Y %H:%M", "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="For example 27/03/2026 14:30.",
    )
    reached = forms.TypedChoiceField(
        label="Did you reach the person?",
        choices=[("yes", "Yes"), ("no", "No, no answer")],
        coerce=lambda value: value == "yes",
        widget=forms.RadioSelect,
    )

    class Meta:
        model = FollowUp
        fields = ["at", "method", "reached", "duration_minutes", "notes"]
        widgets = {"method": forms.RadioSelect, "notes": forms.Textarea(attrs={"rows": 4})}
        labels = {"method": "How", "duration_minutes": "How long (minutes)"}

    def __init__(self, *args, referral: Referral, **kwargs):
        super().__init__(*args, **kwargs)
        self.referral = referral

    def clean_at(self):
        at = self.cleaned_data["at"]
        validate_contact_time(at, self.referral)
        return at


class MeasureForm(ErrorSummaryMixin, forms.ModelForm):
    """One instrument at a time (the page shows one small form per instrument)."""

    class Meta:
        model = Measure
        fields = ["taken_on", *Measure.RANGES]
        labels = {
            "taken_on": "Date taken",
            "life_satisfaction": "Life satisfaction (0-10)",
            "worthwhile": "Things you do are worthwhile (0-10)",
            "happiness": "Happiness yesterday (0-10)",
            "anxiety": "Anxiety yesterday (0-10, lower is better)",
            "swemwbs_total": "SWEMWBS total (7-35)",
            "pam_level": "PAM level (1-4)",
            "pam_score": "PAM score (0-100)",
        }
        # ISO format: a type="date" input shows nothing for any other.
        widgets = {"taken_on": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")}

    def __init__(self, *args, instrument: str, referral: Referral, **kwargs):
        super().__init__(*args, **kwargs)
        self.referral = referral
        self.instrument = instrument
        self.instance.instrument = instrument
        keep = {"taken_on", *Measure.FIELDS[instrument]}
        for name in list(self.fields):
            if name not in keep:
                del self.fields[name]
        for name in Measure.FIELDS[instrument]:
            self.fields[name].required = True
            low, high = Measure.RANGES[name]
            self.fields[name].widget.attrs.update({"min": low, "max": high})
        self.fields["taken_on"].input_formats = ["%Y-%m-%d", "%d/%m/%Y"]
        self.fields["taken_on"].initial = timezone.localdate()

    def clean_taken_on(self):
        taken_on = self.cleaned_data["taken_on"]
        validate_measure_date(taken_on, self.referral)
        return taken_on
