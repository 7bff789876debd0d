"""Forms for the referral pages. They validate input only: no saving, no side effects (views
call the model methods and ``services`` functions)."""

import uuid

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.utils import timezone

from directory.models import Service, TaxonomyTerm
from geo import postcodes
from referrals.models import (
    ACCESSIBILITY_NEEDS_MAX,
    MAX_NEEDS,
    MAX_SERVICES_IN_MIND,
    NOTE_MAX,
    WHAT_MATTERS_MAX,
    Connection,
    FollowUp,
    Goal,
    Measure,
    Patient,
    Referral,
    Team,
    nhs_number_digits,
    validate_contact_time,
    validate_date_of_birth,
    validate_measure_date,
    validate_nhs_number,
)

MULTI_INPUT_WIDGETS = (forms.RadioSelect, forms.CheckboxSelectMultiple)


class ErrorSummaryMixin:
    """``error_links`` for the error summary at the top of a page: each message links to its
    field (the first radio or checkbox of a group). Labels carry no trailing colon."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)

    def error_links(self) -> list[tuple[str, str]]:
        links = []
        for name, errors in self.errors.items():
            if name == NON_FIELD_ERRORS or name not in self.fields:
                anchor = ""
            else:
                bound = self[name]
                anchor = bound.auto_id
                if isinstance(bound.field.widget, MULTI_INPUT_WIDGETS):
                    anchor += "_0"
            links.extend((anchor, message) for message in errors)
        return links


class VersionForm(ErrorSummaryMixin, forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


class AcceptForm(VersionForm):
    assign_to = forms.ModelChoiceField(
        queryset=None, required=False, label="Assign to", empty_label="Me"
    )

    def __init__(self, *args, team: Team, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assign_to"].queryset = team.trainer_users().order_by("username")


class AssignForm(VersionForm):
    to = forms.ModelChoiceField(queryset=None, label="Assign to")

    def __init__(self, *args, team: Team, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to"].queryset = team.trainer_users().order_by("username")


class DeclineForm(VersionForm):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=NOTE_MAX,
        help_text="The referrer sees this: say why, and what they could do instead.",
        error_messages={"required": "Give a reason for declining."},
    )


class CloseForm(VersionForm):
    outcome = forms.ChoiceField(
        choices=Referral.Outcome.choices,
        widget=forms.RadioSelect,
        error_messages={"required": "Choose an outcome."},
    )
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=NOTE_MAX
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


class GoalForm(ErrorSummaryMixin, forms.ModelForm):
    class Meta:
        model = Goal
        fields = ["text"]
        widgets = {"text": forms.Textarea(attrs={"rows": 2})}


class GoalStatusForm(ErrorSummaryMixin, forms.ModelForm):
    class Meta:
        model = Goal
        fields = ["status"]


class ConnectionForm(ErrorSummaryMixin, forms.Form):
    service = forms.ModelChoiceField(queryset=Service.objects.active())
    status = forms.ChoiceField(choices=Connection.Status.choices, initial="suggested")


class ConnectionStatusForm(ErrorSummaryMixin, forms.ModelForm):
    class Meta:
        model = Connection
        fields = ["status"]


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


class ReferralFilterForm(forms.Form):
    AGES = [("", "Any age"), ("7", "Over 7 days"), ("14", "Over 14 days"), ("28", "Over 28 days")]

    status = forms.ChoiceField(
        choices=[("", "Any status"), ("open", "Open"), *Referral.Status.choices], required=False
    )
    age = forms.ChoiceField(label="Referred", choices=AGES, required=False)
    need = forms.ModelChoiceField(
        queryset=TaxonomyTerm.objects.needs(),
        to_field_name="code",
        required=False,
        empty_label="Any need",
    )
