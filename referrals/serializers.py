"""API shapes for referrals. Validation only: no serializer saves or sends anything."""

from datetime import timedelta

from django.utils import timezone
from rest_framework import serializers

from directory.models import Service, TaxonomyTerm
from geo import postcodes
from referrals.models import (
    FollowUp,
    Measure,
    Patient,
    Referral,
    ReferralEvent,
    Team,
    nhs_number_digits,
    validate_nhs_number,
)


class PatientInputSerializer(serializers.Serializer):
    nhs_number = serializers.CharField(max_length=20, help_text="10 digits; spaces allowed.")
    given_name = serializers.CharField(max_length=100)
    family_name = serializers.CharField(max_length=100)
    date_of_birth = serializers.DateField()
    postcode = serializers.CharField(max_length=10)
    phone = serializers.CharField(max_length=30, required=False, allow_blank=True, default="")
    email = serializers.EmailField(required=False, allow_blank=True, default="")
    preferred_contact = serializers.ChoiceField(
        choices=Patient.ContactMethod.choices, default=Patient.ContactMethod.PHONE
    )
    preferred_language = serializers.CharField(max_length=60, required=False, allow_blank=True)
    interpreter_needed = serializers.BooleanField(required=False, default=False)
    accessibility_needs = serializers.CharField(required=False, allow_blank=True, default="")

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

    def validate_date_of_birth(self, value):
        if value > timezone.localdate():
            raise serializers.ValidationError("Date of birth must be in the past.")
        return value


class ReferralCreateSerializer(serializers.Serializer):
    patient = PatientInputSerializer()
    needs = serializers.SlugRelatedField(
        many=True,
        slug_field="code",
        queryset=TaxonomyTerm.objects.needs(),
        help_text="Codes from the needs vocabulary (GET /api/taxonomy_terms or the directory).",
    )
    what_matters = serializers.CharField(required=False, allow_blank=True, default="")
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
    services_in_mind = serializers.PrimaryKeyRelatedField(
        many=True, queryset=Service.objects.active(), required=False, default=list
    )

    def validate_needs(self, value):
        if not value:
            raise serializers.ValidationError("Choose at least one need.")
        return value

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
        method = data["patient"]["preferred_contact"]
        if method in ("phone", "text") and not data["patient"].get("phone"):
            raise serializers.ValidationError({"patient": {"phone": "Enter a phone number."}})
        if method == "email" and not data["patient"].get("email"):
            raise serializers.ValidationError({"patient": {"email": "Enter an email address."}})
        return data


class TeamBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Team
        fields = ["id", "name"]


class ReferralSerializer(serializers.ModelSerializer):
    """A referral without the patient's details (lists, create and action answers)."""

    team = TeamBriefSerializer(read_only=True)
    practice = serializers.CharField(source="practice.ods_code", read_only=True)
    needs = serializers.SlugRelatedField(many=True, slug_field="code", read_only=True)
    patient_name = serializers.CharField(source="patient.name", read_only=True)
    assigned_to = serializers.CharField(
        source="assigned_to.username", read_only=True, allow_null=True, default=None
    )

    class Meta:
        model = Referral
        fields = [
            "id",
            "status",
            "version",
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

    class Meta:
        model = Patient
        fields = [
            "nhs_number",
            "given_name",
            "family_name",
            "date_of_birth",
            "postcode",
            "phone",
            "email",
            "preferred_contact",
            "preferred_language",
            "interpreter_needed",
            "accessibility_needs",
        ]
        read_only_fields = fields


class ReferralDetailSerializer(ReferralSerializer):
    """A referral with the patient's details: reading it writes the access log."""

    patient = PatientSerializer(read_only=True)
    services_in_mind = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta(ReferralSerializer.Meta):
        fields = [*ReferralSerializer.Meta.fields, "patient", "services_in_mind"]
        read_only_fields = fields


class VersionSerializer(serializers.Serializer):
    version = serializers.IntegerField(
        min_value=1, help_text="The version you last saw; a stale one gets a 409."
    )


class AcceptSerializer(VersionSerializer):
    assign_to = serializers.IntegerField(
        required=False, help_text="User id of a trainer in the team (team leads only)."
    )


class DeclineSerializer(VersionSerializer):
    reason = serializers.CharField(max_length=2000)


class NoteSerializer(VersionSerializer):
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class CloseSerializer(NoteSerializer):
    outcome = serializers.ChoiceField(choices=Referral.Outcome.choices)


class MeasureSerializer(serializers.ModelSerializer):
    class Meta:
        model = Measure
        fields = ["instrument", "taken_on", *Measure.RANGES]

    def validate(self, data):
        measure = Measure(**data)
        try:
            measure.clean()
        except Exception as error:
            raise serializers.ValidationError(error.message_dict) from None
        if data.get("taken_on") and data["taken_on"] > timezone.localdate():
            raise serializers.ValidationError({"taken_on": "Cannot be in the future."})
        return data


class FollowUpSerializer(serializers.ModelSerializer):
    measures = MeasureSerializer(many=True, required=False)
    by = serializers.CharField(source="by.username", read_only=True)

    class Meta:
        model = FollowUp
        fields = ["id", "at", "method", "reached", "duration_minutes", "notes", "by", "measures"]
        read_only_fields = ["id", "by"]

    def validate_at(self, value):
        if value > timezone.now() + timedelta(minutes=5):
            raise serializers.ValidationError("A contact cannot be in the future.")
        return value


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
