"""API shapes for referrals. Validation only: no serializer saves or sends anything."""

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from directory.models import Service, TaxonomyTerm
from geo import postcodes
from referrals.measures import ONS4_SCALE
from referrals.models import (
    ACCESSIBILITY_NEEDS_MAX,
    MAX_NEEDS,
    MAX_SERVICES_IN_MIND,
    NOTE_MAX,
    WHAT_MATTERS_MAX,
    FollowUp,
    Measure,
    Patient,
    Referral,
    ReferralEvent,
    Team,
    nhs_number_digits,
    validate_contact_method,
    validate_date_of_birth,
    validate_nhs_number,
)


class PatientInputSerializer(serializers.Serializer):
    nhs_number = serializers.CharField(max_length=20, help_text="10 digits; spaces allowed.")
    given_name = serializers.CharField(max_length=100)
    family_name = serializers.CharField(max_length=100)
    # The model's rule (not in the future, not before 1900), run by the field itself.
    date_of_birth = serializers.DateField(validators=[validate_date_of_birth])
    postcode = serializers.CharField(max_length=10)
    phone = serializers.CharField(max_length=30, required=False, allow_blank=True, default="")
    email = serializers.EmailField(required=False, allow_blank=True, default="")
    preferred_contact = serializers.ChoiceField(
        choices=Patient.ContactMethod.choices, default=Patient.ContactMethod.PHONE
    )
    preferred_language = serializers.CharField(max_length=60, required=False, allow_blank=True)
    interpreter_needed = serializers.BooleanField(required=False, default=False)
    accessibility_needs = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=ACCESSIBILITY_NEEDS_MAX
    )

    def validate_nhs_number(self, value: str) -> str:
        try:
            validate_nhs_number(value)
        except Exception as error:
            raise serializers.ValidationError(error.messages) from None
        return nhs_number_digits(value)

    def validate_postcode(self, value: str) -> str:
        try:
            return postcodes.parse(value, allow_outcode=False).postcode
        except postcodes.InvalidPostcode as error:
            raise serializers.ValidationError(str(error)) from None

    def validate(self, data):
        # The model's contact rule (a call or a text needs a phone number, an email an address),
        # with the same words the form shows; errors land under "patient".
        try:
            validate_contact_method(
                data.get("preferred_contact"), phone=data.get("phone"), email=data.get("email")
            )
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.message_dict) from None
        return data


class ReferralCreateSerializer(serializers.Serializer):
    patient = PatientInputSerializer()
    needs = serializers.ListField(
        child=serializers.CharField(max_length=100),
        min_length=1,
        max_length=MAX_NEEDS,
        help_text=f"Codes from the needs vocabulary (GET /api/needs/), at most {MAX_NEEDS}; "
        "a code given twice counts once.",
    )
    what_matters = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=WHAT_MATTERS_MAX
    )
    urgency = serializers.ChoiceField(choices=Referral.Urgency.choices, default="routine")
    consent_to_contact = serializers.BooleanField(
        help_text="The person agreed to the referral and to being contacted: must be true."
    )
    consent_to_share = serializers.BooleanField()
    team = serializers.PrimaryKeyRelatedField(queryset=Team.objects.all())
    practice = serializers.CharField(
        required=False,
        help_text="ODS code of the referring practice; needed only if you belong to several.",
    )
    services_in_mind = serializers.ListField(
        child=serializers.UUIDField(),
        required=False,
        default=list,
        max_length=MAX_SERVICES_IN_MIND,
        help_text=f"Ids of active directory services, at most {MAX_SERVICES_IN_MIND}.",
    )

    def validate_needs(self, value: list[str]) -> list[TaxonomyTerm]:
        # One query for the whole list (never one per item), duplicates dropped in order.
        codes = list(dict.fromkeys(value))
        found = {term.code: term for term in TaxonomyTerm.objects.needs().filter(code__in=codes)}
        unknown = [code for code in codes if code not in found]
        if unknown:
            raise serializers.ValidationError(
                f"Unknown need {unknown[0][:100]!r}: use a code from GET /api/needs/."
            )
        return [found[code] for code in codes]

    def validate_services_in_mind(self, value) -> list[Service]:
        ids = list(dict.fromkeys(value))
        found = {service.pk: service for service in Service.objects.active().filter(pk__in=ids)}
        missing = [str(pk) for pk in ids if pk not in found]
        if missing:
            raise serializers.ValidationError(
                f"No active service with id {missing[0]}: check GET /api/services/."
            )
        return [found[pk] for pk in ids]

    def validate_consent_to_contact(self, value: bool) -> bool:
        if not value:
            raise serializers.ValidationError(
                "The person must agree to the referral and to being contacted."
            )
        return value

    def validate(self, data):
        practices = self.context["request"].user.practices.all()
        if "practice" in data:
            practice = practices.filter(ods_code=data["practice"].upper()).first()
            if practice is None:
                raise serializers.ValidationError({"practice": "Not one of your practices."})
        elif practices.count() == 1:
            practice = practices.get()
        else:
            raise serializers.ValidationError(
                {"practice": "You belong to several practices: give the ODS code."}
            )
        data["practice"] = practice
        return data


class TeamBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Team
        fields = ["id", "name"]


class ReferralSerializer(serializers.ModelSerializer):
    """A referral without the patient's details (lists, create and action answers)."""

    team = TeamBriefSerializer(read_only=True)
    # None for a self-referral (source "self"): the person asked, with no practice.
    practice = serializers.CharField(
        source="practice.ods_code", read_only=True, allow_null=True, default=None
    )
    source = serializers.ChoiceField(choices=Referral.Source.choices, read_only=True)
    reference = serializers.CharField(
        read_only=True,
        allow_null=True,
        help_text="The reference a person who referred themselves was given; null otherwise.",
    )
    needs = serializers.SlugRelatedField(many=True, slug_field="code", read_only=True)
    patient_name = serializers.CharField(source="patient.name", read_only=True)
    assigned_to = serializers.CharField(
        source="assigned_to.username", read_only=True, allow_null=True, default=None
    )
    # Declared so the schema says what is sent: "" until the referral is closed.
    outcome = serializers.ChoiceField(
        choices=Referral.Outcome.choices, allow_blank=True, read_only=True
    )

    class Meta:
        model = Referral
        fields = [
            "id",
            "status",
            "version",
            "source",
            "reference",
            "patient_name",
            "practice",
            "team",
            "assigned_to",
            "needs",
            "what_matters",
            "urgency",
            "consent_to_contact",
            "consent_to_share",
            "snomed_code",
            "decline_reason",
            "outcome",
            "outcome_snomed_code",
            "created_at",
            "status_changed_at",
        ]
        read_only_fields = fields


class PatientSerializer(serializers.ModelSerializer):
    nhs_number = serializers.CharField(source="nhs_number_display")
    # As recorded, "" when none was given: the schema must not promise an email format.
    email = serializers.CharField(read_only=True)

    class Meta:
        model = Patient
        fields = list(Patient.REFERRER_FIELDS)
        read_only_fields = fields


class SamePersonSerializer(serializers.ModelSerializer):
    """Another referral the reader can already see for the same person (ids and status only)."""

    practice = serializers.CharField(
        source="practice.ods_code", read_only=True, allow_null=True, default=None
    )
    match = serializers.ChoiceField(
        choices=[
            ("same", "Same NHS number and date of birth"),
            (
                "check",
                "Same NHS number, "
                "different date of birth: check before treating them as one person",
            ),
        ],
        read_only=True,
    )

    class Meta:
        model = Referral
        fields = ["id", "practice", "status", "created_at", "match"]
        read_only_fields = fields


class ReferralDetailSerializer(ReferralSerializer):
    """A referral with the patient's details: reading it writes the access log."""

    patient = PatientSerializer(read_only=True)
    services_in_mind = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    same_person = serializers.SerializerMethodField(
        help_text="Other referrals you can see for this person: the receiving team sees every "
        "practice's, a referrer only their own practice's."
    )

    class Meta(ReferralSerializer.Meta):
        fields = [*ReferralSerializer.Meta.fields, "patient", "services_in_mind", "same_person"]
        read_only_fields = fields

    @extend_schema_field(SamePersonSerializer(many=True))
    def get_same_person(self, referral) -> list[dict]:
        found = referral.same_person(self.context["request"].user)
        rows = []
        for match, referrals in found.items():
            for other in referrals:
                other.match = match
                rows.append(other)
        return SamePersonSerializer(rows, many=True).data


class VersionSerializer(serializers.Serializer):
    version = serializers.IntegerField(
        min_value=1, help_text="The version you last saw; a stale one gets a 409."
    )


class AcceptSerializer(VersionSerializer):
    assign_to = serializers.IntegerField(
        required=False, help_text="User id of a trainer in the team (team leads only)."
    )


class DeclineSerializer(VersionSerializer):
    reason = serializers.CharField(max_length=NOTE_MAX)


class NoteSerializer(VersionSerializer):
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=NOTE_MAX)


class CloseSerializer(NoteSerializer):
    outcome = serializers.ChoiceField(choices=Referral.Outcome.choices)
    note = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=NOTE_MAX,
        help_text="For the referrer: sent to them in Flourish with the outcome (never by email).",
    )


class MeasureSerializer(serializers.ModelSerializer):
    """One measure taken at a contact. Shape only: which fields belong to which instrument,
    the ranges and the dates are the model's rules, applied by ``services.record_contact``."""

    taken_on = serializers.DateField(
        required=False,
        help_text="The day of the contact (the default). A measure taken at a contact is dated "
        "that day; another date is refused.",
    )
    pam_score = serializers.DecimalField(
        max_digits=4,
        decimal_places=1,
        coerce_to_string=False,
        required=False,
        allow_null=True,
        help_text="PAM only: the score, 0 to 100 with at most one decimal place (48.5).",
    )
    swemwbs_total = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=0,
        max_value=32767,
        help_text="SWEMWBS only: the sum of the seven items, 7 to 35. Send the seven items "
        "(swemwbs_1 to swemwbs_7) and leave this out: it is worked out from them (if given, it "
        "must equal their sum). For older clients a total alone, with no items, is still "
        "accepted and stored without items (deprecated).",
    )
    swemwbs_metric = serializers.DecimalField(
        max_digits=4,
        decimal_places=2,
        coerce_to_string=False,
        read_only=True,
        allow_null=True,
        help_text="SWEMWBS only: the metric score for the total, from the published Rasch "
        "conversion table (Stewart-Brown et al. 2009, Warwick Medical School).",
    )

    class Meta:
        model = Measure
        fields = ["instrument", "taken_on", *Measure.RANGES, "swemwbs_metric"]
        extra_kwargs = {
            **{
                field: {"help_text": f"ONS4 only: the answer, {low} to {high} ({ONS4_SCALE})."}
                for field, (low, high) in Measure.RANGES.items()
                if field in Measure.ONS4_FIELDS
            },
            **{
                item: {"help_text": f"SWEMWBS only: item {n}'s score, 1 to 5."}
                for n, item in enumerate(Measure.SWEMWBS_ITEMS, start=1)
            },
            "pam_level": {"help_text": "PAM only: the level, 1 to 4."},
        }


class FollowUpSerializer(serializers.ModelSerializer):
    """A contact logged, with the measures taken then. Shape only: ``services.record_contact``
    (the same function the page uses) checks the values with the models' rules, saves the
    contact and its measures in one transaction (all or nothing) and moves an accepted referral
    to contacted when the person was reached."""

    # At most one of each instrument in one contact (record_contact refuses a repeat).
    measures = MeasureSerializer(many=True, required=False, max_length=len(Measure.Instrument))
    by = serializers.CharField(source="by.username", read_only=True)

    class Meta:
        model = FollowUp
        fields = ["id", "at", "method", "reached", "duration_minutes", "notes", "by", "measures"]
        read_only_fields = ["id", "by"]


class EventSerializer(serializers.ModelSerializer):
    by = serializers.CharField(source="by_label", read_only=True)

    class Meta:
        model = ReferralEvent
        fields = ["id", "at", "kind", "from_status", "to_status", "by", "note"]
        read_only_fields = fields


class SuggestedTeamSerializer(serializers.ModelSerializer):
    distance_m = serializers.SerializerMethodField()
    open_cases = serializers.IntegerField(read_only=True)
    capacity = serializers.IntegerField(read_only=True)

    class Meta:
        model = Team
        fields = ["id", "name", "distance_m", "open_cases", "capacity"]

    def get_distance_m(self, team) -> int | None:
        return round(team.distance) if team.distance is not None else None


class TeamSuggestionsSerializer(serializers.Serializer):
    postcode = serializers.CharField()
    approximate = serializers.BooleanField()
    teams = SuggestedTeamSerializer(many=True)
