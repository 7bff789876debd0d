"""Referral work that crosses apps (the gazetteer, the directory) or runs on a clock."""

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from config import ratelimit
from directory.models import Service, TaxonomyTerm
from directory.search import SearchError, search_services
from geo import postcodes
from geo.models import Place, PostcodeNotFound, locate_postcode
from referrals import sms
from referrals.models import (
    FollowUp,
    Measure,
    OutgoingEmail,
    Patient,
    Practice,
    Referral,
    ReferralEvent,
    SecurityEvent,
    Team,
    new_reference,
    nhs_number_digits,
)


def place_postcode(text: str) -> Place | None:
    """The gazetteer's place for a patient's postcode; None when well formed but unknown.

    Raises ``ValidationError`` for text that is not a postcode at all.
    """
    try:
        parsed = postcodes.parse(text, allow_outcode=False)
    except postcodes.InvalidPostcode as error:
        raise ValidationError({"postcode": str(error)}) from None
    try:
        return locate_postcode(parsed.postcode)
    except PostcodeNotFound:
        return None


def suggest_teams(*, postcode: str) -> tuple[Place | None, list[Team]]:
    """Teams whose coverage includes the postcode, nearest first, each with ``open_cases``."""
    place = place_postcode(postcode)
    if place is None:
        return None, []
    return place, list(Team.objects.covering(place.point, place.outcode))


class IdempotencyKeyReused(Exception):
    """The same Idempotency-Key came with a different request (IETF draft: answer 422)."""

    message = (
        "This Idempotency-Key was already used for a different referral. Send a new key for a "
        "new referral, or the same request to get the first answer again."
    )

    def __str__(self) -> str:
        return self.message


def request_fingerprint(data: dict) -> str:
    """A stable digest of what was asked, so a retried key can be told from a reused one."""
    canonical = json.dumps(data, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _log_dob_mismatch(by, ip_address, detail: str) -> None:
    """Someone may be probing NHS numbers: the security log gets who and where, never whose."""
    SecurityEvent.record(
        kind=SecurityEvent.Kind.NHS_NUMBER_DOB_MISMATCH,
        user=by,
        ip_address=ip_address,
        detail=detail,
    )


class OwnRecordMismatch(ValidationError):
    """The practice's own record of this NHS number has another date of birth."""


def _find_or_add_patient(*, practice: Practice, data: dict, by, ip_address) -> Patient:
    """This practice's record of the person: found by NHS number *within the practice*, or added.

    Nothing outside the practice is read into the answer, so creating a referral says the same
    whether or not another practice knows the NHS number (see ``Patient``). A date of birth that
    disagrees with another practice's record is not an error the referrer sees: it is logged as
    a security event (someone may be probing NHS numbers) and the receiving team is shown the
    two referrals side by side to check.
    """
    nhs_number = nhs_number_digits(data["nhs_number"])
    place = place_postcode(data.get("postcode", "")) if data.get("postcode") else None
    normalised_postcode = postcodes.normalise(data.get("postcode", ""))
    # The row lock keeps two referrals for a new patient from racing to create them twice.
    patient = (
        Patient.objects.select_for_update().filter(practice=practice, nhs_number=nhs_number).first()
    )
    if patient is None:
        patient = Patient(practice=practice, nhs_number=nhs_number)
        patient.given_name = data["given_name"]
        patient.family_name = data["family_name"]
        patient.date_of_birth = data["date_of_birth"]
        elsewhere = (
            Patient.objects.filter(nhs_number=nhs_number)
            .exclude(date_of_birth=data["date_of_birth"])
            .exists()
        )
        if elsewhere:
            _log_dob_mismatch(
                by,
                ip_address,
                f"Referral from {practice.ods_code}: another "
                "practice has this NHS number with a different date of birth.",
            )
    elif patient.date_of_birth != data["date_of_birth"]:
        # The practice's own record: the clinician can already see it through their practice's
        # referrals, so saying so leaks nothing. Logged by the caller, after the rollback.
        raise OwnRecordMismatch(
            {
                "date_of_birth": "Your practice has already referred this NHS number with a "
                "different date of birth. Check the NHS number and the date of birth."
            }
        )
    # The practice's newest details replace its own older ones; another practice's record is
    # never touched (it is another row).
    if normalised_postcode:
        patient.postcode = normalised_postcode
        patient.point = place.point if place else None
    for name in Patient.CONTACT_FIELDS:
        if name in data and data[name] not in (None, ""):
            setattr(patient, name, data[name])
    # Field rules only: uniqueness per practice is the database's to enforce. Checked here, a
    # colleague's insert committed a moment ago would raise ValidationError instead of the
    # IntegrityError that referral_create retries on (it then finds that row).
    patient.full_clean(validate_unique=False, validate_constraints=False)
    patient.save()
    return patient


def _add_self_referred_patient(*, team: Team, data: dict) -> Patient:
    """A new record for a person who referred themselves, held by the team they asked.

    Always new, never looked up: whoever fills in the public form cannot find, join or change a
    record anyone else made (a practice's or an earlier self-referral), and the form answers the
    same whatever the NHS number. The team sees the match itself (``Referral.same_person``)."""
    postcode = postcodes.normalise(data.get("postcode", ""))
    place = place_postcode(postcode) if postcode else None
    patient = Patient(
        team=team,
        nhs_number=nhs_number_digits(data.get("nhs_number", "")),
        postcode=postcode,
        point=place.point if place else None,
    )
    for name in ("given_name", "family_name", "date_of_birth", *Patient.CONTACT_FIELDS):
        if data.get(name) not in (None, ""):
            setattr(patient, name, data[name])
    patient.full_clean(validate_unique=False, validate_constraints=False)
    patient.save()
    return patient


def self_referral_limits() -> tuple[tuple[str, int, int], ...]:
    """(scope, limit, seconds) for self-referrals from one address, from the settings."""
    return (
        ("self-referral-hour", settings.SELF_REFERRALS_PER_HOUR, 3600),
        ("self-referral-day", settings.SELF_REFERRALS_PER_DAY, 24 * 3600),
    )


def _refuse_if_too_many_from(ip_address) -> None:
    """The public form: a few self-referrals an hour and a day from one address, counted in the
    shared cache (``config.ratelimit``) so every process sees one count. The first refusal in
    a window is a security event."""
    key = ip_address or "unknown"
    for scope, limit, period in self_referral_limits():
        retry_after = ratelimit.hit(scope, key, limit=limit, period_s=period)
        if retry_after is None:
            continue
        if ratelimit.hit(f"{scope}-logged", key, limit=1, period_s=period) is None:
            SecurityEvent.record(
                kind=SecurityEvent.Kind.RATE_LIMITED,
                ip_address=ip_address,
                detail=f"More than {limit} self-referrals from one address in "
                f"{period // 3600} hour{'s' if period > 3600 else ''}.",
            )
        raise ratelimit.RateLimited(
            retry_after,
            "We have had several requests from your connection in a short time, so we cannot "
            "send this one yet.",
        )


def _refuse_if_too_fast(by, ip_address) -> None:
    """A clinician makes tens of referrals a day, not hundreds a minute: past either limit the
    request is a 429 with Retry-After (``config.ratelimit``, shared by every process), and the
    first refusal in a window is a security event."""
    for scope, limit, period in (
        ("referral-create-minute", settings.REFERRALS_PER_MINUTE, 60),
        ("referral-create-day", settings.REFERRALS_PER_DAY, 24 * 3600),
    ):
        retry_after = ratelimit.hit(scope, str(by.pk), limit=limit, period_s=period)
        if retry_after is None:
            continue
        if ratelimit.hit(f"{scope}-logged", str(by.pk), limit=1, period_s=period) is None:
            SecurityEvent.record(
                kind=SecurityEvent.Kind.RATE_LIMITED,
                user=by,
                ip_address=ip_address,
                detail=f"More than {limit} referrals in {period // 60} minutes.",
            )
        raise ratelimit.RateLimited(
            retry_after,
            f"You have made more than {limit} referrals in a short time. If this is wrong, ask "
            "an administrator to raise the limit.",
        )


def find_replay(by, idempotency_key: str, fingerprint: str) -> Referral | None:
    """The referral this referrer already made with this key, if any; the same key with a
    different request raises ``IdempotencyKeyReused``."""
    existing = Referral.objects.filter(referred_by=by, idempotency_key=idempotency_key).first()
    if existing is not None and fingerprint and existing.idempotency_fingerprint != fingerprint:
        raise IdempotencyKeyReused()
    return existing


def referral_create(
    *,
    by,
    practice: Practice | None,
    patient: dict,
    needs: list[TaxonomyTerm],
    team: Team,
    what_matters: str = "",
    urgency: str = Referral.Urgency.ROUTINE,
    consent_to_contact: bool,
    consent_to_share: bool,
    services_in_mind: list[Service] = (),
    idempotency_key: str | None = None,
    fingerprint: str = "",
    ip_address: str | None = None,
    rate_limit: bool = True,
    source: str = Referral.Source.CLINICIAN,
) -> tuple[Referral, bool]:
    """A clinician refers a patient (found by NHS number in their practice, or added) to a team;
    or, with ``source=Referral.Source.SELF`` (and no ``by`` or ``practice``), a person refers
    themselves through the public form: their record is new and held by the team
    (``_add_self_referred_patient``), needs are optional, the limits are per address, and an
    email confirming their reference is queued when they gave an address.

    Returns ``(referral, created)``: the same ``idempotency_key`` from the same referrer returns
    the first referral with ``created=False`` (a double submit or a retried API call); the same
    key with a different ``fingerprint`` raises ``IdempotencyKeyReused``. Raises
    ``ratelimit.RateLimited`` past the per-user (or, for a self-referral, per-address) limits
    (``rate_limit=False`` only for the demo loader and test factories, which refer in bulk
    without a person behind them).
    """
    is_self = source == Referral.Source.SELF
    if is_self and (by is not None or practice is not None):
        raise ValueError("A self-referral has no referrer and no practice.")
    if idempotency_key:
        existing = find_replay(by, idempotency_key, fingerprint)
        if existing is not None:
            return existing, False
    if not consent_to_contact:
        raise ValidationError(
            {"consent_to_contact": "The person must agree to the referral and to being contacted."}
        )
    if not needs and not is_self:
        raise ValidationError({"needs": "Choose at least one need."})
    if not is_self and not practice.memberships.filter(user=by).exists():
        raise ValidationError({"practice": "You can only refer from your own practice."})
    if rate_limit and is_self:
        _refuse_if_too_many_from(ip_address)
    elif rate_limit:
        _refuse_if_too_fast(by, ip_address)
    # Two tries: two referrals for the same new patient at the same moment both try to add
    # them; the loser's insert fails on the unique NHS number, and its retry finds the patient.
    for attempt in (1, 2):
        try:
            with transaction.atomic():
                referral = _create(
                    by=by,
                    practice=practice,
                    patient=patient,
                    needs=needs,
                    team=team,
                    services_in_mind=services_in_mind,
                    idempotency_key=idempotency_key,
                    idempotency_fingerprint=fingerprint if idempotency_key else "",
                    ip_address=ip_address,
                    what_matters=what_matters,
                    urgency=urgency,
                    consent_to_contact=consent_to_contact,
                    consent_to_share=consent_to_share,
                    source=source,
                )
            break
        except OwnRecordMismatch:
            _log_dob_mismatch(
                by,
                ip_address,
                f"Referral from {practice.ods_code} refused: the "
                "practice's own record has a different date of birth.",
            )
            raise
        except IntegrityError:
            # Two submits with one key raced past the check above: return the winner's.
            if idempotency_key:
                existing = find_replay(by, idempotency_key, fingerprint)
                if existing is not None:
                    return existing, False
            if attempt == 2:
                raise
    return referral, True


def _create(
    *,
    by,
    practice,
    patient,
    needs,
    team,
    services_in_mind,
    idempotency_key,
    ip_address,
    source,
    **fields,
) -> Referral:
    is_self = source == Referral.Source.SELF
    if is_self:
        person = _add_self_referred_patient(team=team, data=patient)
    else:
        person = _find_or_add_patient(practice=practice, data=patient, by=by, ip_address=ip_address)
    now = timezone.now()
    referral = Referral.objects.create(
        patient=person,
        practice=practice,
        referred_by=by,
        team=team,
        source=source,
        reference=new_reference() if is_self else None,
        idempotency_key=idempotency_key or None,
        **fields,
        created_at=now,
        status_changed_at=now,
    )
    referral.needs.set(needs)
    referral.services_in_mind.set(services_in_mind)
    how = "Self-referral" if is_self else "Referred"
    ReferralEvent.objects.create(
        referral=referral,
        at=now,
        by=by,
        kind=ReferralEvent.Kind.CREATED,
        from_status="",
        to_status=Referral.Status.NEW,
        note=f"{how} to {team.name} (SNOMED CT {referral.snomed_code}).",
    )
    if is_self and person.email:
        # In this transaction, like every email: no referral, no confirmation; and once made,
        # the worker sends it even if the mail server is down for a while.
        OutgoingEmail.queue(
            to=person.email,
            subject=f"Your request for a health trainer: reference {referral.reference}",
            body=self_referral_confirmation_text(referral),
            referral=referral,
        )
    texted = person.preferred_contact == Patient.ContactMethod.TEXT
    if is_self and texted and person.phone and sms.texts_enabled():
        OutgoingEmail.queue_text(
            to=person.phone, body=self_referral_confirmation_sms(referral), referral=referral
        )
    return referral


def contact_working_days() -> int:
    """How soon the public form promises the team will be in touch (working days)."""
    return settings.SELF_REFERRAL_CONTACT_WORKING_DAYS


def self_referral_confirmation_text(referral: Referral) -> str:
    """The confirmation email: the reference and what happens next, and nothing about the
    person's health or what they wrote (an inbox may be shared or read by others)."""
    method = referral.patient.get_preferred_contact_display().lower()
    return (
        f"Thank you. {referral.team.name} has your request for support from a health trainer "
        f"or link worker.\n\n"
        f"Your reference number is {referral.reference}. Please quote it if you contact the "
        "team.\n\n"
        "What happens next\n"
        f"Someone from the team will contact you by {method} within {contact_working_days()} "
        "working days to talk about what matters to you and what might help.\n\n"
        "If you need help urgently, call NHS 111 or go to 111.nhs.uk. In an emergency, call "
        "999.\n\n"
        "If you did not ask for this, please ignore this email."
    )


def self_referral_confirmation_sms(referral: Referral) -> str:
    """The confirmation by text: as short as the email says it, and as discreet."""
    return (
        f"{referral.team.name} has your request for a health trainer. Your reference is "
        f"{referral.reference}. They will contact you within {contact_working_days()} working "
        "days. Urgent help: call 111. Emergency: 999."
    )


# --- Contacts and measures --------------------------------------------------------------------
class ContactRefused(ValidationError):
    """``record_contact`` saved nothing: ``contact`` holds the contact's errors by field and
    ``measures`` each instrument's, ``{instrument: {field: [messages]}}``. As a ValidationError
    its ``message_dict`` has them all by field name (the measures' names are all different)."""

    def __init__(self, contact: dict, measures: dict):
        self.contact = contact
        self.measures = measures
        flat: dict[str, list[str]] = {name: list(errors) for name, errors in contact.items()}
        for errors in measures.values():
            for name, messages in errors.items():
                flat.setdefault(name, []).extend(messages)
        super().__init__(flat)


def record_contact(
    referral: Referral,
    *,
    by,
    at: datetime | None = None,
    method: str,
    reached: bool,
    duration_minutes: int | None = None,
    notes: str = "",
    measures: list[dict] = (),
    idempotency_key: str | None = None,
) -> tuple[FollowUp, bool]:
    """A trainer logs a contact (or an attempt) with the person and any measures taken then.

    One transaction on the locked referral row: the ``FollowUp``, one ``Measure`` per entry of
    ``measures`` (each a dict with ``instrument`` and that instrument's fields; dated the day of
    the contact, so a ``taken_on`` given must be that day) and, when the person was reached and
    the referral is ``accepted``, the move to ``contacted`` (the model's move: one event, the
    referrer told). Every value is checked by the models' own rules (``full_clean``) before
    anything is written: if any is wrong, ``ContactRefused`` lists them all and nothing is
    saved. Raises ``PermissionDenied`` for someone outside the referral's team.

    Returns ``(follow_up, created)``: the same ``idempotency_key`` (the page's form token) again
    returns the contact already logged with ``created=False``. ``at`` defaults to now."""
    at = at or timezone.now()
    with transaction.atomic():
        locked = Referral.objects.select_for_update().get(pk=referral.pk)
        if not locked.may_act(by):
            raise PermissionDenied("Only a trainer in this referral's team can log a contact.")
        if idempotency_key:
            existing = locked.follow_ups.filter(idempotency_key=idempotency_key).first()
            if existing is not None:
                return existing, False
        follow_up = FollowUp(
            referral=locked,
            by=by,
            at=at,
            method=method,
            reached=reached,
            duration_minutes=duration_minutes,
            notes=notes or "",
            idempotency_key=idempotency_key or None,
        )
        contact_errors = _errors_of(follow_up)
        taken: list[Measure] = []
        measure_errors: dict[str, dict[str, list[str]]] = {}
        seen: set[str] = set()
        for values in measures:
            values = dict(values)
            instrument = values.pop("instrument", "")
            if instrument in seen:
                raise ContactRefused(
                    contact_errors, {instrument: {NON_FIELD_ERRORS: [ONE_OF_EACH_INSTRUMENT]}}
                )
            seen.add(instrument)
            values.setdefault("taken_on", timezone.localdate(at))
            measure = Measure(
                referral=locked, follow_up=follow_up, by=by, instrument=instrument, **values
            )
            errors = _errors_of(measure, exclude=["follow_up"])
            if errors:
                measure_errors[instrument] = errors
            taken.append(measure)
        if contact_errors or measure_errors:
            raise ContactRefused(contact_errors, measure_errors)
        follow_up.save()
        for measure in taken:
            measure.follow_up = follow_up
            measure.save()
        if reached and locked.status == Referral.Status.ACCEPTED:
            how = follow_up.get_method_display().lower()
            locked._move(Referral.Status.CONTACTED, by=by, note=f"Contact logged: reached ({how}).")
    referral._refresh_from(locked)
    return follow_up, True


ONE_OF_EACH_INSTRUMENT = "Give each instrument at most once per contact."


def record_final_measures(referral: Referral, *, by, measures: list[dict]) -> list[Measure]:
    """The measures taken as the referral closes (the close form's, one per instrument, dated
    today). Called on the row ``Referral.close`` has locked (its ``before_telling``), so they
    are in the message back and a refused close saves none. The model's rules check every
    value first; if any is wrong ``ContactRefused`` (with no contact errors) lists them all and
    nothing is saved."""
    taken: list[Measure] = []
    errors: dict[str, dict[str, list[str]]] = {}
    today = timezone.localdate()
    for values in measures:
        values = dict(values)
        instrument = values.pop("instrument", "")
        if instrument in {m.instrument for m in taken}:
            raise ContactRefused({}, {instrument: {NON_FIELD_ERRORS: [ONE_OF_EACH_INSTRUMENT]}})
        measure = Measure(referral=referral, by=by, instrument=instrument, taken_on=today, **values)
        problems = _errors_of(measure, exclude=["follow_up"])
        if problems:
            errors[instrument] = problems
        taken.append(measure)
    if errors:
        raise ContactRefused({}, errors)
    for measure in taken:
        measure.save()
    return taken


def _errors_of(instance, exclude=()) -> dict[str, list[str]]:
    try:
        instance.full_clean(
            exclude=list(exclude), validate_unique=False, validate_constraints=False
        )
    except ValidationError as error:
        return error.message_dict
    return {}


@dataclass
class ChaseResult:
    reminded: list[Referral] = field(default_factory=list)
    declined: list[Referral] = field(default_factory=list)


def chase_referrals(*, now: datetime | None = None) -> ChaseResult:
    """Nobody waits in silence: a referral still ``new`` after REFERRAL_CHASE_AFTER_DAYS reminds
    its team (once); after REFERRAL_DECLINE_AFTER_DAYS it is declined as "not picked up in time"
    and the referrer is told. Safe to run every hour: each step happens once per referral."""
    now = now or timezone.now()
    result = ChaseResult()
    decline_before = now - timedelta(days=settings.REFERRAL_DECLINE_AFTER_DAYS)
    chase_before = now - timedelta(days=settings.REFERRAL_CHASE_AFTER_DAYS)
    waiting = Referral.objects.filter(status=Referral.Status.NEW).select_related("team")
    for referral in waiting.filter(created_at__lte=decline_before):
        if referral.decline_unpicked(now=now):
            result.declined.append(referral)
    for referral in waiting.filter(created_at__lte=chase_before, reminded_at__isnull=True):
        if referral.remind_team(now=now):
            result.reminded.append(referral)
    return result


def services_near(referral: Referral, *, limit: int = 10) -> list[Service]:
    """Active directory services near the patient that match the referral's needs: where the
    directory and the referral meet (``services_near_postcode``)."""
    patient = referral.patient
    return services_near_postcode(
        patient.postcode, [term.code for term in referral.needs.all()], limit=limit
    )


def services_near_postcode(postcode: str, need_codes: list[str], *, limit: int = 10) -> list:
    """Active directory services (not health-trainer teams) near a postcode that offer help
    with any of the needs (any service, given none), nearest first: the directory's own search
    (its matching rule and order), so the referral form and the referral page offer what a
    resident would find. Each result has ``distance`` (metres, or None) and ``match``. Empty
    for no postcode or a postcode the directory cannot place."""
    if not postcode:
        return []
    params = {"postcode": postcode, "need": list(need_codes), "page_size": limit * 2}
    try:
        found = search_services(params)
    except SearchError:
        return []
    others = [s for s in found.results if s.kind != Service.Kind.HEALTH_TRAINER_SERVICE]
    return others[:limit]


# --- Finding referrals in the lists -----------------------------------------------------------
SEARCH_MAX_WORDS = 5


def search_referrals(referrals, text: str):
    """Narrow referrals (already ``visible_to`` the reader: a search never widens what anyone
    may see) by what someone typed: an NHS number or part of one, with or without spaces; a
    self-referral's reference (7KQ3-M9XD); or a name, each word matching the start or any part
    of the first or last name, case-insensitively ("ada love" finds Ada Lovelace)."""
    text = " ".join(text.split())
    if not text:
        return referrals
    compact = text.replace(" ", "").replace("-", "").upper()
    if compact.isdigit():
        rule = Q(patient__nhs_number__contains=compact)
    else:
        rule = Q()
        for word in text.split()[:SEARCH_MAX_WORDS]:
            rule &= Q(patient__given_name__icontains=word) | Q(patient__family_name__icontains=word)
    if len(compact) == 8:  # a reference may be all digits, or look like a name
        rule |= Q(reference=f"{compact[:4]}-{compact[4:]}")
    return referrals.filter(rule)
