"""Community organisations keep their own listings true (issue 12): the moves.

An editor sends an organisation's contact a link (``send_link``); through it, with no account,
the contact confirms a listing (``confirm``), proposes changes that wait for an editor
(``propose``, then ``approve`` or ``reject`` in the admin's review queue), cancels one session
(``cancel_session``), and says whether people a health trainer connected to the organisation
came (``report_attendance``). Every move writes a LogEntry (the admin's history of the object
changed); moves made through a link are logged as the ``listing-link`` user, naming the link.

A listing not confirmed for ``STALE_MONTHS`` months is flagged to editors (admin filter) and
residents read that it may be out of date (``checked_status``).
"""

import datetime as dt
from dataclasses import dataclass

from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from directory.listing_models import (
    CancelledSession,
    ListingChange,
    ListingConfirmation,
    ListingLink,
)
from directory.models import LONDON, Phone, Schedule, Service

STALE_MONTHS = 6
# How far ahead a session may be cancelled, and how far back attendance may be reported.
CANCEL_AHEAD_DAYS = 90
ATTENDANCE_DAYS = 90
LINK_USERNAME = "listing-link"
# The referral timeline's kind for "an organisation said whether the person came".
CONNECTION_EVENT = "connection"

# What an organisation may propose, in the order the form and the diff show it.
EDITABLE_FIELDS = {
    "name": "Name",
    "description": "Description",
    "phone": "Phone number",
    "email": "Email address",
    "url": "Website",
    "times": "Opening times",
    "fees": "Cost",
}
# Applied straight onto the service when approved; "phone" goes to its first phone number, and
# "times" is read by the editor, who changes the schedules (structured rules) by hand.
SERVICE_FIELDS = ("name", "description", "email", "url", "fees")


# --- Who did it ------------------------------------------------------------------------------
def link_actor():
    """The user that moves made through a listing link are recorded as (LogEntry and the
    referral timeline need a user). It cannot sign in."""
    User = get_user_model()
    user, created = User.objects.get_or_create(
        username=LINK_USERNAME,
        defaults={
            "first_name": "Community organisation",
            "last_name": "(listing link)",
            "is_active": False,
        },
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


def log(obj, message: str, *, user, flag: int = CHANGE) -> LogEntry:
    return LogEntry.objects.log_actions(
        user.pk, [obj], flag, change_message=message, single_object=True
    )


def _through(link: ListingLink) -> str:
    who = f"{link.contact_name} <{link.contact_email}>" if link.contact_name else link.contact_email
    return f"through listing link #{link.pk} ({who})"


# --- Links ------------------------------------------------------------------------------------
def send_link(
    *, organization, contact_email: str, contact_name: str = "", by, base_url: str
) -> tuple[ListingLink, str]:
    """Issue a link and queue the email that carries it (delivered by the worker, in this
    transaction). Returns the link and its URL, which is shown to the editor once."""
    from django.urls import reverse

    from referrals.models import OutgoingEmail

    with transaction.atomic():
        link, token = ListingLink.issue(
            organization=organization,
            contact_email=contact_email,
            contact_name=contact_name,
            by=by,
        )
        url = f"{base_url.rstrip('/')}{reverse('listing-open')}?t={token}"
        greeting = f"Dear {contact_name}," if contact_name else "Hello,"
        sender = by.get_full_name() or by.get_username()
        OutgoingEmail.queue(
            to=contact_email,
            subject=f"Flourish: keep {organization.name}'s listings up to date",
            body=(
                f"{greeting}\n\n"
                f"People find {organization.name} on Flourish, the local directory of support. "
                "Please check your listings are still right. With this link you can confirm "
                "them, tell us what has changed, cancel a session, and tell health trainers "
                "whether the people they sent you came along. You do not need an account.\n\n"
                f"{url}\n\n"
                f"The link works until {timezone.localtime(link.expires_at):%-d %B %Y}. "
                "Do not forward it: anyone with it can change your listings.\n\n"
                f"{sender}, Flourish directory editor" + (f" ({by.email})" if by.email else "")
            ),
        )
        log(
            link,
            f"Link sent to {contact_email}, valid until {link.expires_at:%Y-%m-%d}.",
            user=by,
            flag=ADDITION,
        )
    return link, url


def revoke_link(link: ListingLink, *, by) -> bool:
    """End a link now. False if it had already been revoked."""
    with transaction.atomic():
        locked = ListingLink.objects.select_for_update().get(pk=link.pk)
        if locked.revoked_at is not None:
            return False
        locked.revoked_at, locked.revoked_by = timezone.now(), by
        locked.save(update_fields=["revoked_at", "revoked_by"])
        log(locked, "Revoked.", user=by)
    link.refresh_from_db()
    return True


def services_of(link: ListingLink):
    """The listings a link may look after: its organisation's services that residents see."""
    return Service.objects.public().filter(organization=link.organization).order_by("name")


# --- Confirming -------------------------------------------------------------------------------
def confirm(*, link: ListingLink, service: Service) -> ListingConfirmation:
    """ "All still correct": the listing's last-checked date (``assured_date``) becomes today."""
    actor = link_actor()
    with transaction.atomic():
        locked = Service.objects.select_for_update().get(pk=service.pk)
        locked.assured_date = timezone.localdate()
        locked.assurer_email = link.contact_email
        locked.save(update_fields=["assured_date", "assurer_email"])
        confirmation = ListingConfirmation.objects.create(service=locked, link=link)
        log(locked, f"Confirmed all still correct {_through(link)}.", user=actor)
    service.assured_date, service.assurer_email = locked.assured_date, locked.assurer_email
    return confirmation


def stale_before(today: dt.date) -> dt.date:
    """The date ``STALE_MONTHS`` months before ``today`` (the last day of a shorter month when
    that month has no such day): a listing last checked before it is out of date."""
    month = today.month - STALE_MONTHS
    year = today.year + (month - 1) // 12
    month = (month - 1) % 12 + 1
    day = today.day
    while True:
        try:
            return dt.date(year, month, day)
        except ValueError:
            day -= 1


@dataclass
class Checked:
    date: dt.date | None
    stale: bool


def checked_status(service: Service, today: dt.date | None = None) -> Checked:
    today = today or timezone.localdate()
    checked = service.assured_date
    return Checked(checked, checked is None or checked < stale_before(today))


# --- Proposing changes --------------------------------------------------------------------------
def current_values(service: Service) -> dict[str, str]:
    """The listing's editable fields as the organisation reads and edits them, as text."""
    from directory.presenters import schedules_of
    from directory.templatetags.directory_pages import schedule_text

    phone = service.phones.order_by("pk").first()
    times = [schedule_text(s) for s in schedules_of(service) if schedule_text(s)]
    values = {name: getattr(service, name) or "" for name in SERVICE_FIELDS}
    values.update(phone=phone.number if phone else "", times="\n".join(times))
    return values


def _same(a: str, b: str) -> bool:
    return " ".join(str(a).split()) == " ".join(str(b).split())


def propose(*, link: ListingLink, service: Service, values: dict) -> ListingChange | None:
    """Changes for an editor to review: only the fields that differ from the listing now.
    None when nothing differs."""
    now = current_values(service)
    proposed = {
        name: values[name].strip()
        for name in EDITABLE_FIELDS
        if name in values and not _same(values[name], now[name])
    }
    if not proposed:
        return None
    with transaction.atomic():
        change = ListingChange.objects.create(
            service=service,
            link=link,
            previous={name: now[name] for name in proposed},
            proposed=proposed,
        )
        log(
            change,
            f"Proposed changes to {', '.join(EDITABLE_FIELDS[n].lower() for n in proposed)} "
            f"{_through(link)}.",
            user=link_actor(),
            flag=ADDITION,
        )
    return change


@dataclass
class DiffRow:
    field: str
    label: str
    before: str
    after: str
    changed_since: bool  # the listing changed after the proposal was made


def diff(change: ListingChange) -> list[DiffRow]:
    """Field by field: the value when proposed, the proposed value, and whether the listing
    has since changed under the proposal."""
    now = current_values(Service.objects.get(pk=change.service_id))
    return [
        DiffRow(
            name,
            EDITABLE_FIELDS[name],
            change.previous.get(name, ""),
            change.proposed[name],
            not _same(change.previous.get(name, ""), now.get(name, "")),
        )
        for name in EDITABLE_FIELDS
        if name in change.proposed
    ]


def _decide(change: ListingChange, status: str, *, by) -> ListingChange:
    locked = ListingChange.objects.select_for_update().get(pk=change.pk)
    if status not in ListingChange.ALLOWED_MOVES.get(locked.status, ()):
        raise ValidationError(f"This change was already {locked.get_status_display().lower()}.")
    locked.status, locked.decided_by, locked.decided_at = status, by, timezone.now()
    return locked


def approve(change: ListingChange, *, by) -> list[str]:
    """Apply the proposed values to the listing. Returns what the editor must still do by hand
    (opening times are rules, not text)."""
    todo = []
    with transaction.atomic():
        locked = _decide(change, ListingChange.Status.APPROVED, by=by)
        locked.save(update_fields=["status", "decided_by", "decided_at"])
        service = Service.objects.select_for_update().get(pk=locked.service_id)
        for name, value in locked.proposed.items():
            if name in SERVICE_FIELDS:
                setattr(service, name, value)
        service.modified_by = by
        # The organisation looked at the whole listing to propose this.
        service.assured_date = max(service.assured_date or dt.date.min, locked.created_at.date())
        service.save()
        if "phone" in locked.proposed:
            phone = service.phones.order_by("pk").first()
            if not locked.proposed["phone"]:
                if phone:
                    phone.delete()
            elif phone:
                phone.number = locked.proposed["phone"]
                phone.save(update_fields=["number"])
            else:
                Phone.objects.create(service=service, number=locked.proposed["phone"])
        if "times" in locked.proposed:
            todo.append(
                f"Opening times are not changed automatically: edit {service.name}'s schedules "
                f'to match "{locked.proposed["times"]}".'
            )
        names = ", ".join(
            EDITABLE_FIELDS[n].lower() for n in EDITABLE_FIELDS if n in locked.proposed
        )
        log(locked, "Approved.", user=by)
        log(service, f"Changed {names}: proposed {_through(locked.link)}, approved.", user=by)
    change.refresh_from_db()
    return todo


def reject(change: ListingChange, *, by, reason: str) -> None:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("Give the reason for rejecting the change.")
    with transaction.atomic():
        locked = _decide(change, ListingChange.Status.REJECTED, by=by)
        locked.reason = reason
        locked.save(update_fields=["status", "decided_by", "decided_at", "reason"])
        log(locked, f"Rejected: {reason}", user=by)
    change.refresh_from_db()


# --- Cancelling a session -----------------------------------------------------------------------
def schedules_for(service: Service):
    """The service's schedules, its own and its venues'."""
    from django.db.models import Q

    return Schedule.objects.filter(
        Q(service=service) | Q(service_at_location__service=service)
    ).order_by("opens_at", "pk")


@dataclass
class Session:
    schedule: Schedule
    opens: dt.datetime
    closes: dt.datetime

    @property
    def key(self) -> str:
        return f"{self.schedule.pk}/{self.opens.date().isoformat()}"


def upcoming_sessions(service: Service, today: dt.date | None = None) -> list[Session]:
    """Sessions from today to ``CANCEL_AHEAD_DAYS`` ahead that are not cancelled yet."""
    today = today or timezone.localdate()
    schedules = list(schedules_for(service))
    cancelled = set(
        CancelledSession.objects.filter(schedule__in=schedules, date__gte=today).values_list(
            "schedule_id", "date"
        )
    )
    sessions = [
        Session(schedule, opens, closes)
        for schedule in schedules
        for opens, closes in schedule.sessions(today, CANCEL_AHEAD_DAYS)
        if (schedule.pk, opens.date()) not in cancelled
    ]
    return sorted(sessions, key=lambda s: s.opens)


def cancel_session(
    *, link: ListingLink, service: Service, schedule: Schedule, date: dt.date, note: str = ""
) -> CancelledSession:
    """One session will not run. ``schedule`` must be one of ``service``'s (the caller found it
    among ``schedules_for(service)``); the date must be one it runs on, today or later."""
    today = timezone.localdate()
    if date < today:
        raise ValidationError("That session has already happened: choose one from today on.")
    if date > today + dt.timedelta(days=CANCEL_AHEAD_DAYS) or not schedule.runs_on(date):
        raise ValidationError("There is no session then: choose one from the list.")
    with transaction.atomic():
        cancelled, created = CancelledSession.objects.get_or_create(
            schedule=schedule,
            date=date,
            defaults={"service": service, "note": note.strip(), "link": link},
        )
        if created:
            log(
                service,
                f"Session on {date:%-d %B %Y} at {schedule.opens_at:%H:%M} cancelled "
                f"{_through(link)}" + (f": {cancelled.note}" if cancelled.note else "."),
                user=link_actor(),
            )
    return cancelled


def cancelled_dates(schedules, today: dt.date) -> dict:
    """{schedule id: {dates}} of the sessions cancelled from yesterday on (a session from last
    night may still be running), for schedules in memory: one query."""
    ids = [s.pk for s in schedules if getattr(s, "pk", None)]
    found: dict = {}
    if not ids:
        return found
    for schedule_id, date in CancelledSession.objects.filter(
        schedule_id__in=ids, date__gte=today - dt.timedelta(days=1)
    ).values_list("schedule_id", "date"):
        found.setdefault(schedule_id, set()).add(date)
    return found


def upcoming_cancellations(service: Service, today: dt.date | None = None):
    """What residents are told: the cancelled sessions from today on."""
    today = today or timezone.localdate()
    return (
        CancelledSession.objects.filter(service=service, date__gte=today)
        .select_related("schedule")
        .order_by("date", "schedule__opens_at")
    )


# --- Attendance -----------------------------------------------------------------------------------
def connections_for(link: ListingLink, now: dt.datetime | None = None):
    """People a health trainer connected to the link's organisation that it may be asked about:
    referred to one of its services (the trainer passed their details on), with the person's
    consent to share, on an open referral, within ``ATTENDANCE_DAYS`` days. Least data: the
    caller shows only ``attendance_row``'s first name, initial and date."""
    # Organisations report back into referrals: the one place the directory reaches into it.
    from referrals.models import Connection, Referral

    now = now or timezone.now()
    return (
        Connection.objects.filter(
            service__organization=link.organization,
            status=Connection.Status.REFERRED,
            referral__consent_to_share=True,
            referral__status__in=[
                Referral.Status.ACCEPTED,
                Referral.Status.CONTACTED,
                Referral.Status.ENGAGED,
            ],
            created_at__gte=now - dt.timedelta(days=ATTENDANCE_DAYS),
        )
        .select_related("service")
        .order_by("created_at", "pk")
    )


@dataclass
class AttendanceRow:
    id: int
    person: str  # "Ann B."
    date: dt.date
    service: str


def attendance_rows(link: ListingLink, *, request=None) -> list[AttendanceRow]:
    """The people to ask about, as the organisation sees them. With ``request``, each one shown
    is written to the access log (a view of a patient's details, however few), as the
    ``listing-link`` user, with the link in the path."""
    from config.clientip import client_ip
    from referrals.models import AccessLog

    rows, seen = [], []
    for connection in connections_for(link).select_related("referral__patient"):
        patient = connection.referral.patient
        initial = patient.family_name.strip()[:1].upper()
        rows.append(
            AttendanceRow(
                connection.pk,
                f"{patient.given_name.strip()} {initial}." if initial else patient.given_name,
                timezone.localtime(connection.created_at, LONDON).date(),
                connection.service.name,
            )
        )
        seen.append(connection.referral)
    if request is not None and seen:
        actor = link_actor()
        AccessLog.objects.bulk_create(
            AccessLog(
                user=actor,
                patient_id=referral.patient_id,
                referral=referral,
                ip_address=client_ip(request) or None,
                path=f"{request.path} (listing link #{link.pk})"[:300],
                channel="page",
            )
            for referral in seen
        )
    return rows


def report_attendance(*, link: ListingLink, connection_id: int, attended: bool):
    """The organisation says whether the person came: the connection becomes attended or did
    not attend, and the referral's timeline says who said so and when. A connection the link
    may not report on raises ``Connection.DoesNotExist``."""
    from referrals.models import Connection, Referral

    actor = link_actor()
    status = Connection.Status.ATTENDED if attended else Connection.Status.DID_NOT_ATTEND
    with transaction.atomic():
        connection = connections_for(link).select_for_update(of=("self",)).get(pk=connection_id)
        # The referral's row too, as a trainer's change to the plan locks it: the version moves
        # on, so a referral page opened before this report cannot overwrite it.
        referral = Referral.objects.select_for_update().get(pk=connection.referral_id)
        connection.status = status
        connection.updated_at = timezone.now()
        connection.save(update_fields=["status", "updated_at"])
        label = Connection.Status(status).label.lower()
        referral._plan_event(
            by=actor,
            kind=CONNECTION_EVENT,
            note=f"{connection.service.name}: {label}, said {link.organization.name} "
            f"{_through(link)}.",
        )
        log(connection, f"Marked {label} {_through(link)}.", user=actor)
    return connection
