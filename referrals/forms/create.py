"""A clinician's referral form."""

import uuid

from django import forms
from django.core.exceptions import ValidationError

from directory.models import Service, TaxonomyTerm
from geo import postcodes
from referrals.forms.base import ErrorSummaryMixin
from referrals.models import (
    ACCESSIBILITY_NEEDS_MAX,
    MAX_NEEDS,
    MAX_SERVICES_IN_MIND,
    WHAT_MATTERS_MAX,
    Patient,
    Referral,
    Team,
    nhs_number_digits,
    validate_date_of_birth,
    validate_nhs_number,
)


class ReferralForm(ErrorSummaryMixin, forms.Form):
    form_token = forms.CharField(widget=forms.HiddenInput, max_length=100)
    practice = forms.ModelChoiceField(queryset=None, empty_label=None)
    nhs_number = forms.CharField(
        label="NHS number", max_length=20, help_text="10 digits, like 943 476 5919."
    )
    given_name = forms.CharField(label="First name", max_length=100)
    family_name = forms.CharField(label="Last name", max_length=100)
    date_of_birth = forms.DateField(
        label="Date of birth",
        help_text="For example 27/03/1961.",
        input_formats=["%d/%m/%Y", "%Y-%m-%d", "%d %m %Y"],
    )
    postcode = forms.CharField(
        max_length=10,
        help_text="Used to find teams and services near them; not shown outside the care team.",
    )
    phone = forms.CharField(max_length=30, required=False)
    email = forms.EmailField(required=False)
    preferred_contact = forms.ChoiceField(
        label="How would they like to be contacted?",
        choices=Patient.ContactMethod.choices,
        widget=forms.RadioSelect,
    )
    preferred_language = forms.CharField(max_length=60, required=False, initial="English")
    interpreter_needed = forms.BooleanField(label="They need an interpreter", required=False)
    accessibility_needs = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        max_length=ACCESSIBILITY_NEEDS_MAX,
        help_text="For example: uses a wheelchair, needs large print, deaf (BSL).",
    )
    needs = forms.ModelMultipleChoiceField(
        queryset=TaxonomyTerm.objects.needs(),
        to_field_name="code",
        widget=forms.CheckboxSelectMultiple,
        label="What would they like help with?",
        error_messages={"required": "Choose at least one need."},
    )
    what_matters = forms.CharField(
        label="What matters to the person",
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        max_length=WHAT_MATTERS_MAX,
        help_text="In their own words, if you can.",
    )
    urgency = forms.ChoiceField(
        choices=Referral.Urgency.choices, widget=forms.RadioSelect, initial="routine"
    )
    consent_to_contact = forms.BooleanField(
        label="The person agreed to this referral and to being contacted by the team",
        error_messages={
            "required": "The person must agree to the referral and to being contacted."
        },
    )
    consent_to_share = forms.TypedChoiceField(
        label="May their details be shared with community services?",
        choices=[("yes", "Yes"), ("no", "No")],
        coerce=lambda value: value == "yes",
        widget=forms.RadioSelect,
        error_messages={"required": "Say whether their details may be shared."},
    )
    team = forms.ModelChoiceField(
        queryset=Team.objects.all(),
        widget=forms.RadioSelect,
        empty_label=None,
        label="Team",
        error_messages={"required": "Choose a team."},
    )
    services_in_mind = forms.ModelMultipleChoiceField(
        queryset=Service.objects.active().exclude(kind=Service.Kind.HEALTH_TRAINER_SERVICE),
        required=False,
        label="Services you already have in mind (optional)",
        widget=forms.SelectMultiple(attrs={"size": 6}),
    )

    def __init__(self, *args, user, team_order: list[Team] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["practice"].queryset = user.practices.all()
        self.fields["form_token"].initial = uuid.uuid4().hex
        if team_order:
            # The suggested teams first, in order; the rest stay choosable.
            ids = [team.pk for team in team_order]
            rest = Team.objects.exclude(pk__in=ids)
            self.fields["team"].queryset = Team.objects.all()
            self.fields["team"].choices = [(t.pk, t.name) for t in team_order + list(rest)]

    def clean_nhs_number(self) -> str:
        validate_nhs_number(self.cleaned_data["nhs_number"])
        return nhs_number_digits(self.cleaned_data["nhs_number"])

    def clean_postcode(self) -> str:
        try:
            parsed = postcodes.parse(self.cleaned_data["postcode"], allow_outcode=False)
        except postcodes.InvalidPostcode as error:
            raise ValidationError(str(error)) from None
        return parsed.postcode

    def clean_date_of_birth(self):
        born = self.cleaned_data["date_of_birth"]
        validate_date_of_birth(born)
        return born

    def clean_needs(self):
        needs = self.cleaned_data["needs"]
        if len(needs) > MAX_NEEDS:
            raise ValidationError(f"Choose at most {MAX_NEEDS} needs.")
        return needs

    def clean_services_in_mind(self):
        chosen = self.cleaned_data["services_in_mind"]
        if len(chosen) > MAX_SERVICES_IN_MIND:
            raise ValidationError(f"Choose at most {MAX_SERVICES_IN_MIND} services.")
        return chosen

    def clean(self):
        data = super().clean()
        method = data.get("preferred_contact")
        if method in ("phone", "text") and not data.get("phone"):
            self.add_error("phone", "Enter a phone number, or choose another way to contact them.")
        if method == "email" and not data.get("email"):
            self.add_error(
                "email", "Enter an email address, or choose another way to contact them."
            )
        return data

    def patient_data(self) -> dict:
        return {name: self.cleaned_data[name] for name in Patient.REFERRER_FIELDS}
