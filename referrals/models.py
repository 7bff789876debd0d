"""Social prescribing referrals: practices, teams, patients, referrals and what trainers log.

Special-category health data lives here. Three rules hold throughout:
- every read starts from a ``visible_to(user)`` queryset, so a record you may not see is a 404;
- every change of a referral is a model method that locks the row, checks the version the user
  saw and the allowed move, and writes one append-only ``ReferralEvent``;
- every view of a patient's details writes an ``AccessLog`` row (``AccessLog.record``).
"""

import logging
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings
from django.contrib.gis.db import models
from django.contrib.gis.db.models.functions import Distance
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import transaction
from django.db.models import Count, F, FloatField, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from config.clientip import client_ip
from directory.models import Service, ServiceAtLocation, TaxonomyTerm
from referrals import measures as measure_fields
from referrals import permissions

logger = logging.getLogger(__name__)
security_logger = logging.getLogger("flourish.security")

SNOMED_REFERRAL = "871731000000106"  # Referral to social prescribing service
SNOMED_DECLINED = "871711000000103"  # Social prescribing declined

# Three unanswered contact attempts in a row suggest closing as "could not contact".
UNANSWERED_ATTEMPTS_BEFORE_CLOSING = 3


# --- Validators -----------------------------------------------------------------------------
def nhs_number_digits(text: str) -> str:
    """``943 476 5919`` -> ``9434765919``; spaces and hyphens are dropped, nothing else."""
    return re.sub(r"[\s-]", "", text or "")


def nhs_check_digit(first_nine: str) -> int | None:
    """Modulus 11: weights 10..2, 11 - (sum mod 11); 11 means 0 and 10 means no valid number."""
    total = sum(
        int(digit) * weight for digit, weight in zip(first_nine, range(10, 1, -1), strict=True)
    )
    check = 11 - total % 11
    if check == 11:
        return 0
    if check == 10:
        return None
    return check


def validate_nhs_number(value: str) -> None:
    digits = nhs_number_digits(value)
    if not re.fullmatch(r"\d{10}", digits):
        raise ValidationError("Enter an NHS number with 10 digits, like 943 476 5919.")
    if nhs_check_digit(digits[:9]) != int(digits[9]):
        raise ValidationError("This is not a valid NHS number: check the digits and try again.")


def format_nhs_number(digits: str) -> str:
    return f"{digits[:3]} {digits[3:6]} {digits[6:]}" if len(digits) == 10 else digits


# GP practices have ODS codes of one letter and five digits (P84001); other ODS organisations
# use 3 to 10 letters and digits, which we accept too so a hub or PCN can be a "practice".
ODS_CODE_RE = re.compile(r"^(?:[A-Z][0-9]{5}|[A-Z0-9]{3,10})$")


def validate_ods_code(value: str) -> None:
    if not ODS_CODE_RE.match(value or ""):
        raise ValidationError(
            "Enter an ODS code: a GP practice's is a letter and five digits, like P84001."
        )


# --- Practices and teams --------------------------------------------------------------------
class Practice(models.Model):
    name = models.CharField(max_length=200)
    ods_code = models.CharField(
        "ODS code", max_length=10, unique=True, validators=[validate_ods_code]
    )
    address = models.TextField(blank=True)
    postcode = models.CharField(max_length=8, blank=True)
    point = models.PointField(srid=4326, geography=True, null=True, blank=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="PracticeMembership", related_name="practices"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.ods_code})"


class PracticeMembership(models.Model):
    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="practice_memberships"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["practice", "user"], name="unique_practice_member")
        ]

    def __str__(self) -> str:
        return f"{self.user} at {self.practice}"


OPEN_STATUSES = ("new", "accepted", "contacted", "engaged")


class TeamQuerySet(models.QuerySet):
    def covering(self, point, outcode: str | None = None):
        """Teams whose coverage includes a place, nearest base first, with their load.

        A team covers a place when its directory service serves it, by the directory's own
        matching rule (``Service.objects.serving``: a service area covering the point or naming
        ``outcode``, or a base within the radius when the service has no area that leaves the
        place out), with the team's ``radius_m`` as the radius. Annotates ``distance`` (metres
        to the nearest base, or None), ``open_cases`` and ``trainers``.
        """
        # The rule takes one radius; teams may each have their own, so one clause per radius
        # in use (a handful: most teams keep the default).
        radii = self.order_by().values_list("radius_m", flat=True).distinct()
        served = Q(pk__in=[])
        for radius in radii:
            serving = Service.objects.serving(point, radius, outcode).values("pk")
            served |= Q(radius_m=radius, service__in=serving)
        nearest_base = (
            ServiceAtLocation.objects.filter(
                service=OuterRef("service"), location__point__isnull=False
            )
            .annotate(d=Distance("location__point", point))
            .order_by("d")
            .values("d")[:1]
        )
        return (
            self.with_load()
            .filter(served)
            .annotate(distance=Subquery(nearest_base, output_field=FloatField()))
            .order_by(F("distance").asc(nulls_last=True), "name")
        )

    def with_load(self):
        open_cases = (
            Referral.objects.filter(team=OuterRef("pk"), status__in=OPEN_STATUSES)
            .order_by()
            .values("team")
            .annotate(n=Count("pk"))
            .values("n")
        )
        trainers = (
            TeamMembership.objects.filter(team=OuterRef("pk"))
            .order_by()
            .values("team")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return self.annotate(
            open_cases=Coalesce(Subquery(open_cases), 0),
            trainers=Coalesce(Subquery(trainers), 0),
        )


class Team(models.Model):
    """Health trainers who run one health-trainer / link-worker service from the directory."""

    name = models.CharField(max_length=200)
    service = models.ForeignKey(
        Service,
        on_delete=models.PROTECT,
        related_name="+",
        limit_choices_to={"kind": Service.Kind.HEALTH_TRAINER_SERVICE},
        help_text="The directory's listing for this team; its service areas are the coverage.",
    )
    radius_m = models.PositiveIntegerField(
        "coverage radius (metres)",
        default=8000,
        help_text="Used only when the service has no service area: the radius around its base.",
    )
    capacity_per_trainer = models.PositiveSmallIntegerField(
        default=20, help_text="Open cases one trainer can hold."
    )
    email = models.EmailField(blank=True, help_text="The team's shared inbox, for reminders.")
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="TeamMembership", related_name="teams"
    )

    objects = TeamQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def capacity(self) -> int | None:
        trainers = getattr(self, "trainers", None)
        if trainers is None:
            trainers = self.memberships.count()
        return trainers * self.capacity_per_trainer

    def trainer_users(self):
        from django.contrib.auth import get_user_model

        return (
            get_user_model()
            .objects.filter(
                team_memberships__team=self,
                is_active=True,
                groups__name__in=[permissions.TRAINERS, permissions.LEADS],
            )
            .distinct()
        )


class TeamMembership(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="team_memberships"
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "user"], name="unique_team_member")]

    def __str__(self) -> str:
        return f"{self.user} in {self.team}"


# --- Patients -------------------------------------------------------------------------------
# Longest text a person may type into each free-text field: forms, API serializers and the admin
# all take their limits from these (TextField max_length is enforced by both).
ACCESSIBILITY_NEEDS_MAX = 1000
WHAT_MATTERS_MAX = 2000
NOTE_MAX = 2000
FOLLOW_UP_NOTES_MAX = 5000
GOAL_MAX = 500
# A referral is for a few needs; a list of thousands is a mistake or an attack.
MAX_NEEDS = 10
MAX_SERVICES_IN_MIND = 20
# Nobody alive was born before this: an earlier date of birth is a typing slip (0001-01-01).
EARLIEST_DATE_OF_BIRTH = date(1900, 1, 1)


def validate_contact_time(at, referral) -> None:
    """A contact happens between the referral and now (five minutes' grace for clocks)."""
    if at > timezone.now() + timedelta(minutes=5):
        raise ValidationError("A contact cannot be in the future.")
    made = timezone.localdate(referral.created_at)
    if at < referral.created_at and timezone.localdate(at) < made:
        raise ValidationError(
            f"A contact cannot be before the referral was made ({made:%-d %B %Y}): check the date."
        )


def validate_measure_date(taken_on: date, referral) -> None:
    """A measure is taken between the day of the referral and today."""
    if taken_on > timezone.localdate():
        raise ValidationError("A measure cannot be dated in the future.")
    made = timezone.localdate(referral.created_at)
    if taken_on < made:
        raise ValidationError(
            f"A measure cannot be dated before the referral was made ({made:%-d %B %Y})."
        )


def validate_date_of_birth(value: date) -> None:
    if value < EARLIEST_DATE_OF_BIRTH:
        raise ValidationError(f"Enter a date of birth after {EARLIEST_DATE_OF_BIRTH:%-d %B %Y}.")
    if value > timezone.localdate():
        raise ValidationError("Date of birth must be in the past.")


# How the person would like to be contacted needs the detail to do it. The clinician's form and
# the API both show these words (``validate_contact_method``).
CONTACT_NEEDS_PHONE = "Enter a phone number, or choose another way to contact them"
CONTACT_NEEDS_EMAIL = "Enter an email address, or choose another way to contact them"


def validate_contact_method(method: str, *, phone: str = "", email: str = "") -> None:
    """A phone call or a text needs a phone number; an email needs an email address. Raises
    ``ValidationError`` keyed by the missing field (``phone`` or ``email``)."""
    if method in ("phone", "text") and not (phone or "").strip():
        raise ValidationError({"phone": CONTACT_NEEDS_PHONE})
    if method == "email" and not (email or "").strip():
        raise ValidationError({"email": CONTACT_NEEDS_EMAIL})


class Patient(models.Model):
    """A person as one referring practice recorded them.

    Why one record per practice, not one per NHS number: a shared row let a clinician at one
    practice learn that another practice had referred someone (the NHS number was "already
    recorded"), read the other practice's contact details once they guessed the date of birth,
    and overwrite them. With a record per practice, what a clinician types is all they ever get
    back, and one practice never changes what another recorded. The receiving team, which can
    see both referrals, is shown that they are the same person (same NHS number and date of
    birth: ``Referral.same_person``) and reconciles the two sets of contact details
    itself; the referrers never see each other's.

    Least data needed. The postcode is placed with the gazetteer (text + point, never a foreign
    key: the postcode table is swapped on reload) and never shown outside the care team."""

    class ContactMethod(models.TextChoices):
        PHONE = "phone", "Phone call"
        TEXT = "text", "Text message"
        EMAIL = "email", "Email"
        LETTER = "letter", "Letter"
        NONE = "none", "Don't contact me, I'll get in touch"

    practice = models.ForeignKey(
        Practice,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="patients",
        help_text="The practice that recorded these details; only it may change them.",
    )
    # A person who referred themselves has no referring practice: their record is held by the
    # team they asked, one new record per self-referral (see ``services.referral_create``).
    team = models.ForeignKey(
        "Team",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="self_referred_patients",
        help_text="For a self-referral: the team the person asked, which holds these details.",
    )
    # Required from a practice; a person referring themselves often does not know it.
    nhs_number = models.CharField(
        "NHS number", max_length=10, blank=True, db_index=True, validators=[validate_nhs_number]
    )
    given_name = models.CharField(max_length=100)
    family_name = models.CharField(max_length=100)
    date_of_birth = models.DateField(validators=[validate_date_of_birth])
    postcode = models.CharField(max_length=8, blank=True)
    point = models.PointField(srid=4326, geography=True, null=True, blank=True)
    phone = models.CharField(max_length=30, blank=True)
    email = models.EmailField(blank=True)
    preferred_contact = models.CharField(
        max_length=10, choices=ContactMethod.choices, default=ContactMethod.PHONE
    )
    preferred_language = models.CharField(max_length=60, blank=True, default="English")
    interpreter_needed = models.BooleanField(default=False)
    accessibility_needs = models.TextField(blank=True, max_length=ACCESSIBILITY_NEEDS_MAX)
    created_at = models.DateTimeField(default=timezone.now)

    # How to reach the person: the referring practice's newest values replace its older ones.
    CONTACT_FIELDS = (
        "phone",
        "email",
        "preferred_contact",
        "preferred_language",
        "interpreter_needed",
        "accessibility_needs",
    )
    # What a referrer types about the person (the form, the API) and is shown back.
    REFERRER_FIELDS = (
        "nhs_number",
        "given_name",
        "family_name",
        "date_of_birth",
        "postcode",
        *CONTACT_FIELDS,
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(nhs_number__regex=r"^[0-9]{10}$")
                | Q(nhs_number="", practice__isnull=True),
                name="nhs_number_ten_digits",
            ),
            # Recorded by one practice, or (a self-referral) held by one team: never both.
            models.CheckConstraint(
                condition=Q(practice__isnull=False, team__isnull=True)
                | Q(practice__isnull=True, team__isnull=False),
                name="patient_held_by_practice_or_team",
            ),
            models.UniqueConstraint(
                fields=["practice", "nhs_number"], name="unique_patient_per_practice"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        validate_contact_method(self.preferred_contact, phone=self.phone, email=self.email)

    @property
    def name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    @property
    def nhs_number_display(self) -> str:
        return format_nhs_number(self.nhs_number)

    def age(self, today: date | None = None) -> int:
        today = today or timezone.localdate()
        born = self.date_of_birth
        return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


class SecurityEvent(models.Model):
    """Something that looks like probing or abuse, for the people who run the service. Holds no
    patient identity (no NHS number, no name): who did it, when, from where, and what kind.
    Append-only like the access log."""

    class Kind(models.TextChoices):
        NHS_NUMBER_DOB_MISMATCH = "nhs_dob_mismatch", "NHS number and date of birth disagree"
        RATE_LIMITED = "rate_limited", "Rate limit reached"
        SELF_REFERRAL_REFUSED = "self_ref_refused", "Self-referral refused by a spam check"

    at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    detail = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-at"]
        default_permissions = ("view",)

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.get_kind_display()} ({self.user})"

    @classmethod
    def record(cls, *, kind: str, user=None, ip_address: str | None = None, detail: str = ""):
        security_logger.warning(
            "security event %s user=%s ip=%s %s",
            kind,
            getattr(user, "pk", None),
            ip_address,
            detail,
        )
        return cls.objects.create(
            kind=kind, user=user, ip_address=ip_address or None, detail=detail[:300]
        )


# --- Referrals ------------------------------------------------------------------------------
class IllegalMove(Exception):
    """The referral cannot make this move from where it is (the message says why)."""


class StaleReferral(Exception):
    """The referral changed since the user opened it; nothing was written."""

    message = "This referral changed since you opened it. Check it again and retry."

    def __str__(self) -> str:
        return self.message


class ReferralQuerySet(models.QuerySet):
    def visible_to(self, user):
        """The one read rule: clinicians see their practices' referrals, trainers and leads their
        teams'; nobody else sees any (managers get aggregates elsewhere, never rows)."""
        rules = []
        # Subqueries, not joins: no duplicate rows, and select_for_update() still works.
        if permissions.is_clinician(user):
            rules.append(Q(practice__in=Practice.objects.filter(memberships__user=user)))
        if permissions.is_trainer(user):
            rules.append(Q(team__in=Team.objects.filter(memberships__user=user)))
        if not rules:
            return self.none()
        rule = rules[0]
        for other in rules[1:]:
            rule |= other
        return self.filter(rule)

    def open(self):
        return self.filter(status__in=OPEN_STATUSES)


def working_days_after(start: date, days: int) -> date:
    """The date ``days`` working days (Monday to Friday) after ``start``."""
    current = start
    while days > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            days -= 1
    return current


@dataclass(frozen=True)
class NextStep:
    """What is expected next on a referral, and by when (``Referral.next_step``)."""

    text: str
    due: date | None = None
    overdue: bool = False
    # For a new referral past its reminder: the day the chaser declines it.
    declines_on: date | None = None

    def __str__(self) -> str:
        return f"{self.text} by {self.due:%-d %B %Y}" if self.due else self.text


# Crockford's base 32: no I, L, O or U, so a reference read out on the phone is not misheard.
REFERENCE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_reference() -> str:
    """``7KQ3-M9XD``: 40 random bits, short enough to read out, too many to guess (and nothing
    public looks a referral up by it: only the team, signed in, sees it beside the referral)."""
    chars = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(8))
    return f"{chars[:4]}-{chars[4:]}"


class Referral(models.Model):
    class Source(models.TextChoices):
        CLINICIAN = "clinician", "Clinician"
        SELF = "self", "Self-referral"

    class Status(models.TextChoices):
        NEW = "new", "New"
        ACCEPTED = "accepted", "Accepted"
        CONTACTED = "contacted", "Contacted"
        ENGAGED = "engaged", "Engaged"
        DECLINED = "declined", "Declined"
        CLOSED = "closed", "Closed"

    # The whole workflow on one screen. Any open referral may also be closed with an outcome.
    ALLOWED_MOVES = {
        Status.NEW: {Status.ACCEPTED, Status.DECLINED, Status.CLOSED},
        Status.ACCEPTED: {Status.CONTACTED, Status.CLOSED},
        Status.CONTACTED: {Status.ENGAGED, Status.CLOSED},
        Status.ENGAGED: {Status.CLOSED},
        Status.DECLINED: set(),
        Status.CLOSED: set(),
    }

    class Urgency(models.TextChoices):
        ROUTINE = "routine", "Routine"
        SOON = "soon", "Soon"

    class Outcome(models.TextChoices):
        GOALS_MET = "goals_met", "Goals met"
        PARTLY_MET = "partly_met", "Goals partly met"
        PERSON_DECLINED = "person_declined", "The person declined"
        COULD_NOT_CONTACT = "could_not_contact", "Could not contact after three attempts"
        NOT_APPROPRIATE = "not_appropriate", "Not appropriate"
        MOVED_AWAY = "moved_away", "Moved away"
        OTHER = "other", "Other"

    NOT_PICKED_UP = "Not picked up in time"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Who asked: a clinician at a practice (the pages, the API, FHIR), or the person themselves
    # through the public form, with no practice and no referrer (see the constraint below).
    source = models.CharField(
        max_length=10, choices=Source.choices, default=Source.CLINICIAN, editable=False
    )
    # Given to a person who referred themselves, to quote when they call the team.
    reference = models.CharField(max_length=9, unique=True, null=True, blank=True, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="referrals")
    practice = models.ForeignKey(
        Practice, null=True, blank=True, on_delete=models.PROTECT, related_name="referrals"
    )
    referred_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="referrals_made",
    )
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="referrals")
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="caseload",
    )
    needs = models.ManyToManyField(TaxonomyTerm, related_name="+")
    what_matters = models.TextField(
        "what matters to the person", blank=True, max_length=WHAT_MATTERS_MAX
    )
    urgency = models.CharField(max_length=10, choices=Urgency.choices, default=Urgency.ROUTINE)
    consent_to_contact = models.BooleanField()
    consent_to_share = models.BooleanField()
    services_in_mind = models.ManyToManyField(Service, blank=True, related_name="+")
    snomed_code = models.CharField(max_length=18, default=SNOMED_REFERRAL, editable=False)

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.NEW)
    decline_reason = models.TextField(blank=True, max_length=NOTE_MAX)
    outcome = models.CharField(max_length=20, choices=Outcome.choices, blank=True)
    outcome_snomed_code = models.CharField(max_length=18, blank=True)
    # Optimistic locking: every change carries the version the user saw and bumps it.
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)
    status_changed_at = models.DateTimeField(default=timezone.now)
    reminded_at = models.DateTimeField(null=True, blank=True)
    # Double submits and API retries: the same key from the same referrer makes one referral.
    idempotency_key = models.CharField(max_length=100, null=True, blank=True, editable=False)
    # What was asked with that key (a SHA-256 of the request): the same key with a different
    # request is refused, never answered with the first referral.
    idempotency_fingerprint = models.CharField(max_length=64, blank=True, editable=False)

    objects = ReferralQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["referred_by", "idempotency_key"], name="unique_referral_idempotency_key"
            ),
            models.CheckConstraint(condition=Q(consent_to_contact=True), name="consent_required"),
            # A clinician's referral always has its practice and referrer; a self-referral has
            # neither, and always a reference for the person to quote.
            models.CheckConstraint(
                condition=Q(source="clinician", practice__isnull=False, referred_by__isnull=False)
                | Q(
                    source="self",
                    practice__isnull=True,
                    referred_by__isnull=True,
                    reference__isnull=False,
                ),
                name="referral_source_has_its_referrer",
            ),
            # The public form's single-use token, as the backstop to the cache: one referral per
            # token even if the cache lost it (referred_by is NULL, so the constraint above on
            # (referred_by, idempotency_key) does not hold for these).
            models.UniqueConstraint(
                fields=["idempotency_key"],
                condition=Q(source="self"),
                name="unique_self_referral_token",
            ),
        ]
        indexes = [models.Index(fields=["team", "status", "created_at"])]

    def __str__(self) -> str:
        return f"Referral {str(self.id)[:8]} ({self.get_status_display()})"

    def get_absolute_url(self) -> str:
        return reverse("referrals-detail", args=[self.pk])

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def is_self_referral(self) -> bool:
        return self.source == self.Source.SELF

    @property
    def from_label(self) -> str:
        """Where the referral came from, as the team's pages show it."""
        if self.is_self_referral:
            return self.Source.SELF.label
        return self.practice.name

    def time_in_status(self, now=None) -> timedelta:
        return (now or timezone.now()) - self.status_changed_at

    def waiting(self, now=None) -> timedelta:
        return (now or timezone.now()) - self.created_at

    def accept_by(self) -> date:
        """The day the team is expected to have accepted or declined a new referral: when
        ``services.chase_referrals`` reminds them (REFERRAL_CHASE_AFTER_DAYS)."""
        made = self.created_at + timedelta(days=settings.REFERRAL_CHASE_AFTER_DAYS)
        return timezone.localdate(made)

    def declined_automatically_on(self) -> date:
        """The day ``services.chase_referrals`` declines a referral nobody picked up
        (REFERRAL_DECLINE_AFTER_DAYS)."""
        made = self.created_at + timedelta(days=settings.REFERRAL_DECLINE_AFTER_DAYS)
        return timezone.localdate(made)

    def first_contact_by(self, accepted_on: date | None = None) -> date:
        """First contact with the person is due this many working days after acceptance
        (SELF_REFERRAL_CONTACT_WORKING_DAYS, the promise the public form makes too)."""
        accepted_on = accepted_on or timezone.localdate(self.status_changed_at)
        return working_days_after(accepted_on, settings.SELF_REFERRAL_CONTACT_WORKING_DAYS)

    def next_step(self, now=None) -> NextStep:
        """The next thing expected on this referral and by when: the one rule behind every
        list (the referral list, the team queue, the caseload)."""
        today = timezone.localdate(now or timezone.now())
        if self.status == self.Status.NEW:
            due = self.accept_by()
            if today > due:
                return NextStep(
                    "Team to accept or decline",
                    due=due,
                    overdue=True,
                    declines_on=self.declined_automatically_on(),
                )
            return NextStep("Team to accept or decline", due=due)
        if self.status == self.Status.ACCEPTED:
            due = self.first_contact_by()
            return NextStep("First contact with the person", due=due, overdue=today > due)
        if self.status == self.Status.CONTACTED:
            return NextStep("Agree goals with the person")
        if self.status == self.Status.ENGAGED:
            return NextStep("Outcome when the work ends")
        if self.status == self.Status.DECLINED:
            return NextStep(
                f"Declined: {self.decline_reason}" if self.decline_reason else "Declined"
            )
        return NextStep(f"Closed: {self.get_outcome_display()}" if self.outcome else "Closed")

    def can_move(self, to: str) -> bool:
        return to in self.ALLOWED_MOVES[self.Status(self.status)]

    def may_act(self, user) -> bool:
        """Trainers and leads of the referral's team may move it; nobody else."""
        return (
            user is not None
            and permissions.is_trainer(user)
            and self.team.memberships.filter(user=user).exists()
        )

    def may_assign(self, user) -> bool:
        return self.may_act(user) and permissions.is_lead(user)

    # -- state changes: each locks the row, checks, saves, writes one event ------------------
    def accept(self, *, by, version: int, assign_to=None, note: str = "") -> "ReferralEvent":
        """A trainer takes the referral on (or a lead assigns it); the referrer is told."""
        with transaction.atomic():
            locked = self._lock(by=by, version=version)
            assignee = assign_to or by
            if assignee != by and not locked.may_assign(by):
                raise PermissionDenied("Only a team lead can assign a referral to someone else.")
            if assignee != by and not locked.may_act(assignee):
                raise IllegalMove("You can only assign a referral to a trainer in this team.")
            locked.assigned_to = assignee
            if assignee != by:
                note = note or f"Assigned to {_person(assignee)}."
            event = locked._move(self.Status.ACCEPTED, by=by, note=note)
        self._refresh_from(locked)
        return event

    def decline(self, *, by, version: int, reason: str) -> "ReferralEvent":
        """The team cannot take it on; the referrer is told why. Recorded with SNOMED
        871711000000103 only when the *person* declined, which is a closing outcome instead."""
        if not reason.strip():
            raise IllegalMove("Give a reason for declining, so the referrer knows what to do next.")
        with transaction.atomic():
            locked = self._lock(by=by, version=version)
            locked.decline_reason = reason.strip()
            event = locked._move(self.Status.DECLINED, by=by, note=reason.strip())
        self._refresh_from(locked)
        return event

    def contact(self, *, by, version: int, note: str = "") -> "ReferralEvent":
        """First contact made with the person."""
        with transaction.atomic():
            locked = self._lock(by=by, version=version)
            event = locked._move(self.Status.CONTACTED, by=by, note=note)
        self._refresh_from(locked)
        return event

    def engage(self, *, by, version: int, note: str = "") -> "ReferralEvent":
        """The person is working with the trainer."""
        with transaction.atomic():
            locked = self._lock(by=by, version=version)
            event = locked._move(self.Status.ENGAGED, by=by, note=note)
        self._refresh_from(locked)
        return event

    def close(
        self, *, by, version: int, outcome: str, note: str = "", before_telling=None
    ) -> "ReferralEvent":
        """Any open referral ends with an outcome; the referrer is told which, with ``note``
        (written for them) and what the work achieved (``message_back.compose``).
        ``before_telling(locked)`` runs on the locked row after the checks and before the
        message is composed, in the same transaction: the close form saves the final measures
        there, so they are in the message and a refused close saves nothing."""
        if outcome not in self.Outcome.values:
            raise IllegalMove("Choose an outcome to close the referral.")
        with transaction.atomic():
            locked = self._lock(by=by, version=version)
            if not locked.can_move(self.Status.CLOSED):
                locked._refuse(self.Status.CLOSED)
            if before_telling is not None:
                before_telling(locked)
            locked.outcome = outcome
            locked.outcome_snomed_code = (
                SNOMED_DECLINED if outcome == self.Outcome.PERSON_DECLINED else ""
            )
            label = self.Outcome(outcome).label
            note = (note or "").strip()
            event = locked._move(
                self.Status.CLOSED,
                by=by,
                note=f"{label}. {note}" if note else label,
                referrer_note=note,
            )
        self._refresh_from(locked)
        return event

    def assign(self, *, by, version: int, to) -> "ReferralEvent":
        """A lead hands an accepted referral to another trainer in the team."""
        with transaction.atomic():
            locked = self._lock(by=by, version=version)
            if not locked.may_assign(by):
                raise PermissionDenied("Only a team lead can assign referrals.")
            if not locked.may_act(to):
                raise IllegalMove("You can only assign a referral to a trainer in this team.")
            if not locked.is_open or locked.status == self.Status.NEW:
                raise IllegalMove("Accept the referral before reassigning it.")
            locked.assigned_to = to
            locked.version += 1
            locked.save(update_fields=["assigned_to", "version"])
            event = ReferralEvent.objects.create(
                referral=locked,
                by=by,
                kind=ReferralEvent.Kind.ASSIGNED,
                from_status=locked.status,
                to_status=locked.status,
                note=f"Assigned to {_person(to)}.",
            )
        self._refresh_from(locked)
        return event

    # -- the plan: goals and connections change the referral like a move does --------------
    def add_goal(self, *, by, version: int, text: str) -> "Goal":
        """A goal agreed with the person, in their words. Agreeing one means the work has begun:
        an accepted or contacted referral becomes engaged in the same step, through contacted
        when it was accepted (the person was reached: the referrer is told, and the time to
        first contact is kept), each move with its event. The trainer records it once."""
        text = (text or "").strip()
        if not text:
            raise ValidationError({"text": "Enter the goal, in the person's own words."})
        with transaction.atomic():
            locked = self._lock(by=by, version=version)
            locked._check_plannable()
            goal = Goal(referral=locked, text=text, by=by)
            goal.full_clean(exclude=["referral", "by"])
            goal.save()
            locked._plan_event(by=by, note=f"Goal agreed: {_quoted(text)}.")
            if locked.status == self.Status.ACCEPTED:
                locked._move(
                    self.Status.CONTACTED, by=by, note="The person was reached: a goal was agreed."
                )
            if locked.status == self.Status.CONTACTED:
                locked._move(self.Status.ENGAGED, by=by, note="First goal agreed.")
        self._refresh_from(locked)
        return goal

    def set_goal_status(self, *, by, version: int, goal_id: int, status: str) -> "Goal":
        """A goal is in progress, achieved or dropped. ``Goal.DoesNotExist`` for another
        referral's goal."""
        if status not in Goal.Status.values:
            raise ValidationError({"status": "Select the goal's status from the list."})
        with transaction.atomic():
            locked = self._lock(by=by, version=version)
            goal = locked.goals.select_for_update().get(pk=goal_id)
            locked._check_plannable()
            if goal.status != status:
                before = goal.get_status_display().lower()
                goal.status = status
                goal.status_changed_on = timezone.localdate()
                goal.save(update_fields=["status", "status_changed_on"])
                locked._plan_event(
                    by=by,
                    note=f"Goal {_quoted(goal.text)}: {before} to "
                    f"{goal.get_status_display().lower()}.",
                )
        self._refresh_from(locked)
        return goal

    def add_connection(
        self, *, by, version: int, service, status: str = "suggested", note: str = ""
    ) -> "Connection":
        """A community service the trainer suggests or refers the person to."""
        with transaction.atomic():
            locked = self._lock(by=by, version=version)
            locked._check_plannable()
            locked._check_connection_status(status)
            if locked.connections.filter(service=service).exists():
                raise ValidationError(
                    {
                        "service": f"{service.name} is already one of the person's connections: "
                        "change its status instead."
                    }
                )
            now = timezone.now()
            connection = Connection.objects.create(
                referral=locked,
                service=service,
                status=status,
                note=(note or "").strip(),
                by=by,
                created_at=now,
                updated_at=now,
            )
            locked._plan_event(
                by=by,
                kind=ReferralEvent.Kind.CONNECTION,
                note=f"{service.name}: {connection.get_status_display().lower()}.",
            )
        self._refresh_from(locked)
        return connection

    def set_connection_status(
        self, *, by, version: int, connection_id: int, status: str
    ) -> "Connection":
        """Referred, attended, did not attend, declined. ``Connection.DoesNotExist`` for another
        referral's connection."""
        with transaction.atomic():
            locked = self._lock(by=by, version=version)
            connection = (
                locked.connections.select_for_update(of=("self",))
                .select_related("service")
                .get(pk=connection_id)
            )
            locked._check_plannable()
            locked._check_connection_status(status)
            if connection.status != status:
                connection.status = status
                connection.updated_at = timezone.now()
                connection.save(update_fields=["status", "updated_at"])
                locked._plan_event(
                    by=by,
                    kind=ReferralEvent.Kind.CONNECTION,
                    note=f"{connection.service.name}: {connection.get_status_display().lower()}.",
                )
        self._refresh_from(locked)
        return connection

    def decline_unpicked(self, *, now) -> "ReferralEvent | None":
        """chase_referrals: still new after the decline period -> declined by the system."""
        with transaction.atomic():
            locked = Referral.objects.select_for_update().get(pk=self.pk)
            if locked.status != self.Status.NEW:
                return None  # someone picked it up while we were looking
            locked.decline_reason = self.NOT_PICKED_UP
            event = locked._move(self.Status.DECLINED, by=None, note=self.NOT_PICKED_UP, now=now)
        self._refresh_from(locked)
        return event

    def remind_team(self, *, now) -> "ReferralEvent | None":
        """chase_referrals: still new after the chase period -> the team is reminded, once."""
        with transaction.atomic():
            locked = Referral.objects.select_for_update().get(pk=self.pk)
            if locked.status != self.Status.NEW or locked.reminded_at is not None:
                return None
            locked.reminded_at = now
            locked.save(update_fields=["reminded_at"])
            days = (now - locked.created_at).days
            message = f"A referral for your team has waited {days} days without being picked up."
            event = ReferralEvent.objects.create(
                referral=locked,
                at=now,
                by=None,
                kind=ReferralEvent.Kind.REMINDED,
                from_status=locked.status,
                to_status=locked.status,
                note=message,
            )
            recipients = list(locked.team.trainer_users())
            for user in recipients:
                Notification.send(user=user, referral=locked, message=message, at=now)
            if locked.team.email:
                Notification.email_address(locked.team.email, locked, message)
        self._refresh_from(locked)
        return event

    # -- internals ----------------------------------------------------------------------------
    def _lock(self, *, by, version: int) -> "Referral":
        # SELECT ... FOR UPDATE: a concurrent move waits here, then sees the bumped version.
        locked = Referral.objects.select_for_update().get(pk=self.pk)
        if not locked.may_act(by):
            raise PermissionDenied("Only a trainer in this referral's team can do that.")
        if version is None or int(version) != locked.version:
            raise StaleReferral()
        return locked

    def _refuse(self, to: str):
        raise IllegalMove(
            f"A referral that is {self.get_status_display().lower()} cannot be "
            f"{self.Status(to).label.lower()}."
        )

    def _check_plannable(self) -> None:
        """Goals and connections change while the referral is being worked: accepted and open."""
        if self.status == self.Status.NEW:
            raise IllegalMove("Accept the referral before planning with the person.")
        if not self.is_open:
            raise IllegalMove(
                f"This referral is {self.get_status_display().lower()}: its plan can no longer "
                "change."
            )

    def _check_connection_status(self, status: str) -> None:
        if status not in Connection.Status.values:
            raise ValidationError({"status": "Select the connection's status from the list."})
        if status == Connection.Status.REFERRED and not self.consent_to_share:
            raise ValidationError(
                {
                    "status": "The person has not agreed to share their details with community "
                    "services: suggest the service for them to contact instead of referring them."
                }
            )

    def _plan_event(self, *, by, note: str, kind: str = "goal") -> "ReferralEvent":
        """On a locked row: the plan changed. The version moves on, so a page opened before
        this change cannot overwrite it."""
        self.version += 1
        self.save(update_fields=["version"])
        return ReferralEvent.objects.create(
            referral=self,
            by=by,
            kind=kind,
            from_status=self.status,
            to_status=self.status,
            note=note,
        )

    def _move(
        self, to: str, *, by, note: str = "", now=None, referrer_note: str = ""
    ) -> "ReferralEvent":
        """On a locked row: refuse an illegal move, save, write the event, tell the referrer."""
        to = self.Status(to)
        if not self.can_move(to):
            self._refuse(to)
        now = now or timezone.now()
        from_status = self.status
        self.status = to
        self.status_changed_at = now
        self.version += 1
        self.save()
        event = ReferralEvent.objects.create(
            referral=self,
            at=now,
            by=by,
            kind=ReferralEvent.Kind.MOVED,
            from_status=from_status,
            to_status=to,
            note=note,
        )
        if to in self.TOLD_TO_REFERRER:
            self._tell_referrer(to, by=by, now=now, note=referrer_note)
        return event

    # The moves the referrer hears about (engaged is not news to them: the goal is).
    TOLD_TO_REFERRER = (Status.ACCEPTED, Status.CONTACTED, Status.DECLINED, Status.CLOSED)

    def _tell_referrer(self, to: str, *, by=None, now, note: str = "") -> None:
        """The PRSB "message back to the GP and referrer": accepted, contacted, declined (why),
        closed (the outcome, the trainer's note, services, measures), composed in one place
        (``referrals.message_back``). The email that goes with it names nobody. A
        self-referral has no referrer to tell: the team contacts the person itself, and nothing
        about the referral is sent back to the public beyond the confirmation."""
        if self.referred_by_id is None:
            return
        from referrals import message_back

        message = message_back.compose(self, to, outcome=self.outcome, note=note, by=by, at=now)
        Notification.send(
            user=self.referred_by,
            referral=self,
            message=message.text(),
            at=now,
            kind=to,
            details=message.as_details(),
        )

    def _refresh_from(self, locked: "Referral") -> None:
        for field in self._meta.concrete_fields:
            setattr(self, field.attname, getattr(locked, field.attname))

    # -- reading ------------------------------------------------------------------------------
    def unanswered_attempts(self) -> int:
        """Contact attempts since the person was last reached."""
        count = 0
        for reached in self.follow_ups.order_by("-at").values_list("reached", flat=True):
            if reached:
                break
            count += 1
        return count

    def suggests_could_not_contact(self, unanswered: int | None = None) -> bool:
        """``unanswered``: ``unanswered_attempts()`` if the caller already has it (one query
        for a page that shows both)."""
        if unanswered is None:
            unanswered = self.unanswered_attempts()
        return self.is_open and unanswered >= UNANSWERED_ATTEMPTS_BEFORE_CLOSING

    def same_person(self, user) -> dict[str, list["Referral"]]:
        """Other referrals *the user can already see* that are for this person.

        ``same``: same NHS number and date of birth (another practice's record of the same
        person, or an earlier referral); ``check``: same NHS number, different date of birth
        (one of the two practices mistyped something: the team should check before merging
        anything). A referrer sees only their own practice's; the receiving team sees both
        practices' referrals to it, which is the point: it reconciles them. A self-referral
        given without an NHS number matches nothing (an empty number is no one's)."""
        if not self.patient.nhs_number:
            return {"same": [], "check": []}
        others = (
            Referral.objects.visible_to(user)
            .filter(patient__nhs_number=self.patient.nhs_number)
            .exclude(pk=self.pk)
            .select_related("patient", "practice", "team")
            .order_by("-created_at")
        )
        found: dict[str, list[Referral]] = {"same": [], "check": []}
        for other in others[:20]:
            key = "same" if other.patient.date_of_birth == self.patient.date_of_birth else "check"
            found[key].append(other)
        return found


def _person(user) -> str:
    return user.get_full_name() or user.get_username()


def _quoted(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return f"\u201c{text if len(text) <= limit else text[: limit - 1] + '\u2026'}\u201d"


class ReferralEvent(models.Model):
    """Append-only: who did what, when, from which status to which. Never updated."""

    class Kind(models.TextChoices):
        CREATED = "created", "Referred"
        MOVED = "moved", "Status changed"
        ASSIGNED = "assigned", "Assigned"
        REMINDED = "reminded", "Team reminded"
        CONNECTION = "connection", "Connection updated"
        GOAL = "goal", "Plan updated"

    referral = models.ForeignKey(Referral, on_delete=models.PROTECT, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    from_status = models.CharField(max_length=10, blank=True)
    to_status = models.CharField(max_length=10)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.from_status} -> {self.to_status}"

    @property
    def by_label(self) -> str:
        if self.by:
            return _person(self.by)
        if self.kind == self.Kind.CREATED:
            return "The person (self-referral)"
        return "Flourish (automatic)"


class Notification(models.Model):
    """In-app message to one user; an email goes with it when the user has an address.

    A message back to a referrer (``kind`` accepted, contacted, declined or closed) keeps what
    it said at the time in ``details`` (``referrals.message_back``); its email says only that
    there is a message, with a link, because an email leaves Flourish."""

    class Kind(models.TextChoices):
        ACCEPTED = "accepted", "Referral accepted"
        CONTACTED = "contacted", "Person contacted"
        DECLINED = "declined", "Referral declined"
        CLOSED = "closed", "Referral closed"
        OTHER = "", "Message"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    referral = models.ForeignKey(
        Referral, null=True, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices, blank=True, default="")
    message = models.TextField(help_text="The message as plain text, naming nobody.")
    details = models.JSONField(
        default=dict, blank=True, help_text="A message back as it was sent (message_back)."
    )
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.message

    def get_absolute_url(self) -> str:
        return reverse("referrals-notification", args=[self.pk])

    @property
    def message_back(self):
        """The message back as it was sent, or None for other messages (and old ones)."""
        from referrals.message_back import KINDS, MessageBack

        if self.kind in KINDS and self.details:
            return MessageBack.from_details(self.details)
        return None

    @property
    def is_unread(self) -> bool:
        return self.read_at is None

    def mark_read(self, *, at=None) -> None:
        if self.read_at is None:
            self.read_at = at or timezone.now()
            Notification.objects.filter(pk=self.pk, read_at__isnull=True).update(
                read_at=self.read_at
            )

    @classmethod
    def send(
        cls, *, user, referral, message: str, at=None, kind: str = "", details=None
    ) -> "Notification":
        notification = cls.objects.create(
            user=user,
            referral=referral,
            kind=kind,
            message=message,
            details=details or {},
            created_at=at or timezone.now(),
        )
        if user.email:
            notification.email(user.email)
        return notification

    def email(self, address: str) -> "OutgoingEmail":
        """This message's email: a message back says what happened in general terms and links
        to the message; any other (a reminder to the team) is already free of identifiers."""
        from referrals.message_back import EMAIL_SUBJECT, message_url

        link = message_url(self)
        back = self.message_back
        if back is not None:
            subject, body = EMAIL_SUBJECT, back.email_body(link)
        else:
            subject = "Flourish: referral update"
            body = f"{self.message}\n\nSign in to Flourish to read it:\n{link}"
        return OutgoingEmail.queue(to=address, subject=subject, body=body, referral=self.referral)

    @staticmethod
    def email_address(address: str, referral, message: str) -> "OutgoingEmail":
        # Queued in the caller's transaction: a move that rolls back sends nothing, one that
        # commits always sends (the worker delivers it, retrying a mail server that is down).
        return OutgoingEmail.queue(
            to=address,
            subject="Flourish: referral update",
            body=f"{message}\n\nSign in to Flourish to see the referral.",
            referral=referral,
        )


class OutgoingEmailQuerySet(models.QuerySet):
    def undelivered(self):
        """Failed for good, or still being retried after a failure."""
        return self.filter(
            Q(status=OutgoingEmail.Status.FAILED)
            | Q(status=OutgoingEmail.Status.PENDING, attempts__gt=0)
        )

    def watched_by(self, user):
        """Whose delivery problems a person may see and retry: the admin all, a team lead those
        about their teams' referrals; nobody else any."""
        if user.is_superuser:
            return self
        if permissions.is_lead(user):
            return self.filter(referral__team__in=Team.objects.filter(memberships__user=user))
        return self.none()


class OutgoingEmail(models.Model):
    """The outbox: one email (or, where GOV.UK Notify is set up, one text message), written in
    the same transaction as the change that causes it, and delivered by the background worker
    (referrals.tasks.deliver_email) exactly once: the row is locked while it is sent and marked
    sent in that transaction, and an email's Message-ID is fixed, so a delivery repeated after a
    crash is one message to the recipient's mail program."""

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        TEXT = "text", "Text message"

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to send"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed: needs a retry"

    channel = models.CharField(max_length=5, choices=Channel.choices, default=Channel.EMAIL)
    to = models.CharField(max_length=254, help_text="An email address, or a mobile number.")
    subject = models.CharField(max_length=200)
    body = models.TextField()
    referral = models.ForeignKey(
        Referral, null=True, blank=True, on_delete=models.PROTECT, related_name="emails"
    )
    created_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=7, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    objects = OutgoingEmailQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.subject} to {self.to} ({self.get_status_display()})"

    @property
    def message_id(self) -> str:
        return f"<outbox-{self.pk}@flourish.invalid>"

    @classmethod
    def queue(cls, *, to: str, subject: str, body: str, referral=None) -> "OutgoingEmail":
        from referrals.tasks import deliver_email

        email = cls.objects.create(to=to, subject=subject, body=body, referral=referral)
        deliver_email.enqueue(email.pk)
        return email

    @classmethod
    def queue_text(cls, *, to: str, body: str, referral=None) -> "OutgoingEmail":
        """A text message through GOV.UK Notify (referrals.sms), with the same guarantees."""
        from referrals.tasks import deliver_email

        text = cls.objects.create(
            channel=cls.Channel.TEXT, to=to, subject="Text message", body=body, referral=referral
        )
        deliver_email.enqueue(text.pk)
        return text

    def retry(self) -> None:
        """A person asked to try a failed email again (admin or team lead)."""
        from referrals.tasks import deliver_email

        with transaction.atomic():
            locked = OutgoingEmail.objects.select_for_update().get(pk=self.pk)
            if locked.status != self.Status.FAILED:
                return
            locked.status = self.Status.PENDING
            locked.attempts = 0
            locked.next_attempt_at = timezone.now()
            locked.save(update_fields=["status", "attempts", "next_attempt_at"])
            deliver_email.enqueue(locked.pk)
        self.refresh_from_db()


class PeriodicRun(models.Model):
    """When each periodic job (referrals.tasks.PERIODIC) is next due. Workers take a due row
    with SELECT ... FOR UPDATE SKIP LOCKED and move it on, so however many workers run, each
    due run is enqueued once."""

    name = models.CharField(max_length=50, primary_key=True)
    next_run_at = models.DateTimeField()
    last_run_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} next at {self.next_run_at:%Y-%m-%d %H:%M}"


class AccessLog(models.Model):
    """Every view of a patient's details (page or API): who, which patient, referral, when, from
    where. Append-only: the admin shows it read-only and nothing in the app updates it."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    referral = models.ForeignKey(
        Referral, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    path = models.CharField(max_length=300)
    channel = models.CharField(max_length=4, choices=[("page", "Page"), ("api", "API")])

    class Meta:
        ordering = ["-at"]
        default_permissions = ("view",)

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.user} viewed patient {self.patient_id}"

    @classmethod
    def record(cls, request, referral: Referral, *, channel: str) -> "AccessLog":
        return cls.objects.create(
            user=request.user,
            patient=referral.patient,
            referral=referral,
            ip_address=client_ip(request) or None,
            path=request.get_full_path()[:300],
            channel=channel,
        )


# --- Follow-ups -----------------------------------------------------------------------------
# A contact lasts from a minute to a day; more is a typing slip (600 for 60).
FOLLOW_UP_MINUTES_MAX = 24 * 60


class FollowUp(models.Model):
    """One contact or attempt at contact with the person, and any measures taken then
    (``services.record_contact`` makes both, in one transaction)."""

    class Method(models.TextChoices):
        PHONE = "phone", "Phone"
        FACE_TO_FACE = "face_to_face", "Face to face"
        VIDEO = "video", "Video"
        TEXT = "text", "Text message"
        EMAIL = "email", "Email"
        LETTER = "letter", "Letter"

    referral = models.ForeignKey(Referral, on_delete=models.PROTECT, related_name="follow_ups")
    at = models.DateTimeField(default=timezone.now)
    method = models.CharField(max_length=15, choices=Method.choices)
    reached = models.BooleanField(help_text="Did you reach the person?")
    duration_minutes = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(FOLLOW_UP_MINUTES_MAX)],
    )
    notes = models.TextField(blank=True, max_length=FOLLOW_UP_NOTES_MAX)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    # The page's form token: a form sent twice (a double click, a resend after a timeout) logs
    # one contact. NULL from the API, which has no token.
    idempotency_key = models.CharField(max_length=100, null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["referral", "idempotency_key"], name="unique_follow_up_idempotency_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_method_display()} {self.at:%Y-%m-%d}"

    def clean(self) -> None:
        if self.at is not None and self.referral_id is not None:
            try:
                validate_contact_time(self.at, self.referral)
            except ValidationError as error:
                raise ValidationError({"at": error.messages}) from None


class Goal(models.Model):
    """One line of the personal health plan, in the person's own words."""

    class Status(models.TextChoices):
        AGREED = "agreed", "Agreed"
        IN_PROGRESS = "in_progress", "In progress"
        ACHIEVED = "achieved", "Achieved"
        DROPPED = "dropped", "Dropped"

    referral = models.ForeignKey(Referral, on_delete=models.PROTECT, related_name="goals")
    text = models.TextField("goal, in the person's own words", max_length=GOAL_MAX)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.AGREED)
    agreed_on = models.DateField(default=timezone.localdate)
    status_changed_on = models.DateField(default=timezone.localdate)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["agreed_on", "pk"]

    def __str__(self) -> str:
        return self.text


class Measure(models.Model):
    """A dated wellbeing measure. Only item scores, totals and answers to public questions are
    stored: the SWEMWBS and PAM questions are licensed, so their wording is never stored or
    shown (``referrals.measures`` names the fields and holds the ONS4 wording).

    SWEMWBS is entered item by item (``swemwbs_1`` .. ``swemwbs_7``, each 1-5) and the total is
    their sum; rows from before items were kept, and API clients that still send a bare total,
    have a total and no items. Its metric score is derived (``swemwbs_metric``). A measure taken
    at a contact is dated the day of the contact."""

    class Instrument(models.TextChoices):
        ONS4 = "ons4", "ONS4 personal wellbeing"
        SWEMWBS = "swemwbs", "SWEMWBS"
        PAM = "pam", "Patient Activation Measure (PAM)"

    referral = models.ForeignKey(Referral, on_delete=models.PROTECT, related_name="measures")
    follow_up = models.ForeignKey(
        FollowUp, null=True, blank=True, on_delete=models.PROTECT, related_name="measures"
    )
    instrument = models.CharField(max_length=10, choices=Instrument.choices)
    taken_on = models.DateField(default=timezone.localdate)
    life_satisfaction = models.PositiveSmallIntegerField(null=True, blank=True)
    worthwhile = models.PositiveSmallIntegerField(null=True, blank=True)
    happiness = models.PositiveSmallIntegerField(null=True, blank=True)
    anxiety = models.PositiveSmallIntegerField(null=True, blank=True)
    swemwbs_1 = models.PositiveSmallIntegerField("SWEMWBS item 1", null=True, blank=True)
    swemwbs_2 = models.PositiveSmallIntegerField("SWEMWBS item 2", null=True, blank=True)
    swemwbs_3 = models.PositiveSmallIntegerField("SWEMWBS item 3", null=True, blank=True)
    swemwbs_4 = models.PositiveSmallIntegerField("SWEMWBS item 4", null=True, blank=True)
    swemwbs_5 = models.PositiveSmallIntegerField("SWEMWBS item 5", null=True, blank=True)
    swemwbs_6 = models.PositiveSmallIntegerField("SWEMWBS item 6", null=True, blank=True)
    swemwbs_7 = models.PositiveSmallIntegerField("SWEMWBS item 7", null=True, blank=True)
    swemwbs_total = models.PositiveSmallIntegerField("SWEMWBS total", null=True, blank=True)
    pam_level = models.PositiveSmallIntegerField("PAM level", null=True, blank=True)
    # One decimal place, as PAM reports it (48.5).
    pam_score = models.DecimalField(
        "PAM score", max_digits=4, decimal_places=1, null=True, blank=True
    )
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    ONS4_FIELDS = measure_fields.ONS4_FIELDS
    SWEMWBS_ITEMS = measure_fields.SWEMWBS_ITEMS
    # What each instrument is made of (a SWEMWBS row has its items, or only a total).
    FIELDS = {
        Instrument.ONS4: ONS4_FIELDS,
        Instrument.SWEMWBS: (*SWEMWBS_ITEMS, "swemwbs_total"),
        Instrument.PAM: ("pam_score", "pam_level"),
    }
    RANGES = {
        "life_satisfaction": (0, 10),
        "worthwhile": (0, 10),
        "happiness": (0, 10),
        "anxiety": (0, 10),
        **{item: (1, 5) for item in SWEMWBS_ITEMS},
        "swemwbs_total": (7, 35),
        "pam_score": (0, 100),
        "pam_level": (1, 4),
    }

    class Meta:
        ordering = ["taken_on", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    instrument="ons4",
                    life_satisfaction__range=(0, 10),
                    worthwhile__range=(0, 10),
                    happiness__range=(0, 10),
                    anxiety__range=(0, 10),
                )
                # SWEMWBS: seven items of 1-5 and their sum as the total, or (older rows and
                # API clients sending a bare total) no items and a total of 7-35.
                | Q(
                    instrument="swemwbs",
                    swemwbs_total__range=(7, 35),
                    swemwbs_1__isnull=True,
                    swemwbs_2__isnull=True,
                    swemwbs_3__isnull=True,
                    swemwbs_4__isnull=True,
                    swemwbs_5__isnull=True,
                    swemwbs_6__isnull=True,
                    swemwbs_7__isnull=True,
                )
                | Q(
                    instrument="swemwbs",
                    swemwbs_1__range=(1, 5),
                    swemwbs_2__range=(1, 5),
                    swemwbs_3__range=(1, 5),
                    swemwbs_4__range=(1, 5),
                    swemwbs_5__range=(1, 5),
                    swemwbs_6__range=(1, 5),
                    swemwbs_7__range=(1, 5),
                    swemwbs_total=F("swemwbs_1")
                    + F("swemwbs_2")
                    + F("swemwbs_3")
                    + F("swemwbs_4")
                    + F("swemwbs_5")
                    + F("swemwbs_6")
                    + F("swemwbs_7"),
                )
                | Q(instrument="pam", pam_level__range=(1, 4), pam_score__range=(0, 100)),
                name="measure_values_in_range",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_instrument_display()} {self.taken_on}"

    @property
    def swemwbs_metric(self):
        """The SWEMWBS metric score (Decimal) from the published conversion table."""
        return measure_fields.swemwbs_metric(self.swemwbs_total)

    def clean(self) -> None:
        errors = self.value_errors()
        if errors:
            raise ValidationError(errors)

    def value_errors(self) -> dict[str, str]:
        """What is wrong with the values, one message per field naming it (``clean`` raises
        these; the follow-up form shows them beside the boxes). Fills in the SWEMWBS total from
        complete, valid items."""
        errors: dict[str, str] = {}
        instrument = self.get_instrument_display()
        own = self.FIELDS.get(self.instrument, ())
        for field in self.RANGES:
            if field not in own and getattr(self, field) is not None:
                errors[field] = (
                    f"The {measure_fields.FIELD_LABELS[field]} is not part of the {instrument}: "
                    "leave it out."
                )
        if self.instrument == self.Instrument.SWEMWBS:
            errors.update(self._swemwbs_errors())
        else:
            for field in own:
                message = self._range_error(field)
                if message:
                    errors[field] = message
        date_error = self._date_error()
        if date_error:
            errors["taken_on"] = date_error
        return errors

    def _range_error(self, field: str) -> str | None:
        low, high = self.RANGES[field]
        value = getattr(self, field)
        noun = measure_fields.field_noun(field)
        if value is None:
            return f"Enter {noun}"
        if not low <= value <= high:
            return f"{noun[0].upper()}{noun[1:]} must be between {low} and {high}"
        return None

    def _swemwbs_errors(self) -> dict[str, str]:
        items = [getattr(self, item) for item in self.SWEMWBS_ITEMS]
        if all(value is None for value in items):
            # A bare total (an older row, an older API client).
            if self.swemwbs_total is None:
                return {"swemwbs_1": "Enter the seven SWEMWBS item scores"}
            message = self._range_error("swemwbs_total")
            return {"swemwbs_total": message} if message else {}
        errors = {}
        for item in self.SWEMWBS_ITEMS:
            message = self._range_error(item)
            if message:
                errors[item] = message
        if errors:
            return errors
        total = measure_fields.swemwbs_total(items)
        if self.swemwbs_total is not None and self.swemwbs_total != total:
            return {
                "swemwbs_total": f"The SWEMWBS total must be the sum of the seven items "
                f"({total}): leave it out and it is worked out for you"
            }
        self.swemwbs_total = total
        return {}

    def _date_error(self) -> str | None:
        if self.taken_on is None:
            return "Enter the date the measure was taken"
        if self.referral_id is not None:
            try:
                validate_measure_date(self.taken_on, self.referral)
            except ValidationError as error:
                return error.messages[0]
        if self.follow_up is not None and self.follow_up.at is not None:
            contact_day = timezone.localdate(self.follow_up.at)
            if self.taken_on != contact_day:
                return (
                    "A measure taken at a contact is dated the day of the contact "
                    f"({contact_day:%-d %B %Y})"
                )
        return None

    def values(self) -> dict[str, object]:
        """The values recorded, by field name (items a SWEMWBS row does not have are left out)."""
        found = {}
        for field in self.FIELDS[self.instrument]:
            value = getattr(self, field)
            if value is not None:
                found[field] = value
        return found


class Connection(models.Model):
    """A directory service the trainer connects the person to, and how that went."""

    class Status(models.TextChoices):
        SUGGESTED = "suggested", "Suggested"
        REFERRED = "referred", "Referred"
        ATTENDED = "attended", "Attended"
        DID_NOT_ATTEND = "did_not_attend", "Did not attend"
        DECLINED = "declined", "Declined"

    referral = models.ForeignKey(Referral, on_delete=models.PROTECT, related_name="connections")
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=15, choices=Status.choices, default=Status.SUGGESTED)
    note = models.TextField(blank=True, max_length=NOTE_MAX)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["referral", "service"], name="unique_connection")
        ]

    def __str__(self) -> str:
        return f"{self.service} ({self.get_status_display()})"
