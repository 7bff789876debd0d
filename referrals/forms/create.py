"""A clinician's referral form. It shapes input only: the rules (the date of birth, how the
person can be contacted, the NHS number) are the model's, called from here."""

import uuid

from django import forms
from django.core.exceptions import ValidationError

from config.forms import DateInputField
from directory.models import Service, TaxonomyTerm
from directory.templatetags.directory_pages import miles_km
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
    validate_contact_method,
    validate_date_of_birth,
    validate_nhs_number,
)

YES_NO = [("yes", "Yes"), ("no", "No")]


def _yes(value) -> bool:
    return value == "yes"


def team_label(team: Team) -> str:
    """A team as the form offers it: with how far its base is and its load, when known."""
    details = []
    distance = getattr(team, "distance", None)
    if distance is not None:
        details.append(f"base {miles_km(distance)} away")
    open_cases = getattr(team, "open_cases", None)
    if open_cases is not None:
        details.append(
            f"{open_cases} open case{'' if open_cases == 1 else 's'} (capacity {team.capacity})"
        )
    return f"{team.name}: {', '.join(details)}" if details else team.name


def service_label(service: Service) -> str:
    if getattr(service, "distance", None) is not None:
        return f"{service.name}, {miles_km(service.distance)} away"
    if getattr(service, "match", None) == "service_area":
        return f"{service.name}, covers their area"
    return service.name


class ReferralForm(ErrorSummaryMixin, forms.Form):
    nouns = {
        "practice": "the referring practice",
        "nhs_number": "the patient's NHS number",
        "given_name": "the patient's first name",
        "family_name": "the patient's last name",
        "postcode": "the patient's postcode",
        "phone": "a phone number",
        "email": "the email address",
        "preferred_language": "their preferred language",
        "accessibility_needs": "their access needs",
        "what_matters": "what matters to the person",
    }

    form_token = forms.CharField(widget=forms.HiddenInput, max_length=100)
    practice = forms.ModelChoiceField(
        queryset=None, empty_label=None, widget=forms.RadioSelect, label="Referring practice"
    )
    nhs_number = forms.CharField(
        label="NHS number",
        max_length=20,
        help_text="10 digits, like 943 476 5919.",
        widget=forms.TextInput(
            attrs={"class": "input--width-10", "inputmode": "numeric", "autocomplete": "off"}
        ),
    )
    given_name = forms.CharField(
        label="First name",
        max_length=100,
        widget=forms.TextInput(attrs={"class": "input--width-20", "autocomplete": "off"}),
    )
    family_name = forms.CharField(
        label="Last name",
        max_length=100,
        widget=forms.TextInput(attrs={"class": "input--width-20", "autocomplete": "off"}),
    )
    date_of_birth = DateInputField(
        label="Date of birth",
        noun="the patient's date of birth",
        help_text="For example, 27 3 1961",
        validators=[validate_date_of_birth],
    )
    postcode = forms.CharField(
        max_length=10,
        help_text="To find teams and services near them. Not shown outside the care team.",
        widget=forms.TextInput(attrs={"class": "input--width-10", "autocomplete": "off"}),
    )
    phone = forms.CharField(
        label="Phone number",
        max_length=30,
        required=False,
        widget=forms.TextInput(
            attrs={"class": "input--width-20", "type": "tel", "autocomplete": "off"}
        ),
    )
    email = forms.EmailField(
        label="Email address",
        required=False,
        widget=forms.EmailInput(attrs={"class": "input--width-30", "autocomplete": "off"}),
    )
    preferred_contact = forms.ChoiceField(
        label="How would they like to be contacted?",
        choices=Patient.ContactMethod.choices,
        widget=forms.RadioSelect,
        error_messages={"required": "Select how they would like to be contacted"},
    )
    preferred_language = forms.CharField(
        max_length=60,
        required=False,
        initial="English",
        widget=forms.TextInput(attrs={"class": "input--width-20"}),
    )
    interpreter_needed = forms.TypedChoiceField(
        label="Do they need an interpreter?",
        choices=YES_NO,
        coerce=_yes,
        empty_value=False,
        required=False,
        widget=forms.RadioSelect(attrs={"data-inline": "1"}),
    )
    accessibility_needs = forms.CharField(
        label="Access needs (optional)",
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
        help_text="Select all that apply.",
        error_messages={"required": "Select at least one thing they would like help with"},
    )
    what_matters = forms.CharField(
        label="What matters to the person (optional)",
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        max_length=WHAT_MATTERS_MAX,
        help_text="In their own words, if you can.",
    )
    urgency = forms.ChoiceField(
        label="How soon do they need support?",
        choices=Referral.Urgency.choices,
        widget=forms.RadioSelect(attrs={"data-inline": "1"}),
        error_messages={"required": "Select how soon they need support"},
    )
    consent_to_contact = forms.BooleanField(
        label="The person agreed to this referral and to being contacted by the team",
        error_messages={
            "required": "Confirm the person agreed to this referral and to being contacted"
        },
    )
    consent_to_share = forms.TypedChoiceField(
        label="May their details be shared with community services?",
        choices=YES_NO,
        coerce=_yes,
        widget=forms.RadioSelect(attrs={"data-inline": "1"}),
        error_messages={
            "required": "Select whether their details may be shared with community services"
        },
    )
    team = forms.ModelChoiceField(
        queryset=Team.objects.all(),
        widget=forms.RadioSelect,
        empty_label=None,
        label="Which team should this go to?",
        error_messages={"required": "Select a team"},
    )
    services_in_mind = forms.ModelMultipleChoiceField(
        queryset=Service.objects.active().exclude(kind=Service.Kind.HEALTH_TRAINER_SERVICE),
        required=False,
        label="Services you already have in mind (optional)",
        help_text="Near their postcode and for what they would like help with, nearest first.",
        widget=forms.CheckboxSelectMultiple,
        error_messages={"invalid_choice": "Select services from the list"},
    )

    def __init__(
        self,
        *args,
        user,
        team_order: list[Team] | None = None,
        nearby_services: list[Service] | None = None,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.fields["practice"].queryset = user.practices.all()
        self.fields["form_token"].initial = uuid.uuid4().hex
        team_order = team_order or []
        # The covering teams first, nearest first, with distance and load; the rest stay
        # choosable (a referrer may know better), by name.
        ids = [team.pk for team in team_order]
        rest = Team.objects.exclude(pk__in=ids).order_by("name")
        elsewhere = " (does not cover their postcode)" if team_order else ""
        self.fields["team"].choices = [(t.pk, team_label(t)) for t in team_order] + [
            (t.pk, f"{t.name}{elsewhere}") for t in rest
        ]
        # Only services near the postcode for the chosen needs are offered; one already ticked
        # stays offered (and ticked) when the list changes under it.
        offered = list(nearby_services or [])
        shown = {service.pk for service in offered}
        chosen = [s for s in self._chosen_services() if s.pk not in shown]
        self.fields["services_in_mind"].choices = [
            (service.pk, service_label(service)) for service in offered + chosen
        ]

    def _chosen_services(self) -> list[Service]:
        source = self.data if self.is_bound else self.initial
        if hasattr(source, "getlist"):
            values = source.getlist(self.add_prefix("services_in_mind"))
        else:
            values = source.get("services_in_mind") or []
        ids = []
        for value in values:
            try:
                ids.append(uuid.UUID(str(value)))
            except ValueError:
                continue
        if not ids:
            return []
        return list(
            self.fields["services_in_mind"].queryset.filter(pk__in=ids[:MAX_SERVICES_IN_MIND])
        )

    def clean_nhs_number(self) -> str:
        validate_nhs_number(self.cleaned_data["nhs_number"])
        return nhs_number_digits(self.cleaned_data["nhs_number"])

    def clean_postcode(self) -> str:
        try:
            parsed = postcodes.parse(self.cleaned_data["postcode"], allow_outcode=False)
        except postcodes.InvalidPostcode as error:
            raise ValidationError(str(error)) from None
        return parsed.postcode

    def clean_needs(self):
        needs = self.cleaned_data["needs"]
        if len(needs) > MAX_NEEDS:
            raise ValidationError(f"Select at most {MAX_NEEDS} needs")
        return needs

    def clean_services_in_mind(self):
        chosen = self.cleaned_data["services_in_mind"]
        if len(chosen) > MAX_SERVICES_IN_MIND:
            raise ValidationError(f"Select at most {MAX_SERVICES_IN_MIND} services")
        return chosen

    def clean(self):
        data = super().clean()
        if "preferred_contact" in data and not ({"phone", "email"} & set(self.errors)):
            try:
                validate_contact_method(
                    data["preferred_contact"], phone=data.get("phone"), email=data.get("email")
                )
            except ValidationError as error:
                self.add_error(None, error)
        return data

    def patient_data(self) -> dict:
        return {name: self.cleaned_data[name] for name in Patient.REFERRER_FIELDS}

    def typed(self, data) -> dict:
        """What was typed, as initial values for an unbound copy of the form (the "find" step
        shows it again without error messages)."""
        return {
            name: field.widget.value_from_datadict(data, {}, self.add_prefix(name))
            for name, field in self.fields.items()
        }
