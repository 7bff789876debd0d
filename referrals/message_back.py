"""The message back to the referrer (PRSB's "message back to the GP and referrer").

``compose`` is the one place it is written. The close form's preview, the in-app message (the
Messages page and the referral page) and the email are all made from what it returns, so what a
trainer is shown before closing is what the referrer then reads.

Two audiences, two levels of detail:
- In Flourish, signed in, the referrer sees who the message is about (their own patient's name
  and NHS number, read from the referral, and only while they may see it: ``who_for``) and the
  whole message: the outcome, the trainer's note, the services the person was connected to and
  which they attended, and the change in each measure.
- By email (an inbox may be shared, forwarded or read on a phone in a waiting room): what
  happened in general terms and a link to the message in Flourish. No name, NHS number, date of
  birth, postcode, free text (a note or a decline reason may name the person), team or referral
  id.

A notification keeps what was said at the time (``Notification.details``, a snapshot): a later
change to the plan or the measures does not rewrite a message already sent.
"""

from dataclasses import asdict, dataclass, field
from datetime import datetime

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from referrals import measures as measure_figures

ACCEPTED = "accepted"
DECLINED = "declined"
CONTACTED = "contacted"
CLOSED = "closed"
KINDS = (ACCEPTED, DECLINED, CONTACTED, CLOSED)

# What the email says happened, per kind: general terms only (see the module's docstring).
EMAIL_SUMMARIES = {
    ACCEPTED: "A health trainer team has accepted a referral you made.",
    DECLINED: "A health trainer team could not take on a referral you made. The message in "
    "Flourish says why and what you could do instead.",
    CONTACTED: "A health trainer has spoken to a person you referred.",
    CLOSED: "A referral you made has been closed. The message in Flourish gives the outcome, "
    "the services the person was connected to and any change in their wellbeing measures.",
}
EMAIL_SUBJECT = "Flourish: an update on a referral you made"


@dataclass
class MessageBack:
    """One message back, before it is sent (a preview) or as it was sent (a snapshot)."""

    kind: str
    headline: str
    team: str = ""
    at: str = ""  # "30 November 2026"
    by: str = ""
    outcome: str = ""
    outcome_code: str = ""
    snomed: str = ""
    reason: str = ""
    note: str = ""
    connections: list[dict] = field(default_factory=list)
    goals: list[dict] = field(default_factory=list)
    measures: list[dict] = field(default_factory=list)

    def as_details(self) -> dict:
        """The snapshot kept on the notification (JSON)."""
        return asdict(self)

    @classmethod
    def from_details(cls, details: dict) -> "MessageBack":
        known = {k: v for k, v in details.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    @property
    def attended(self) -> list[dict]:
        return [c for c in self.connections if c.get("attended")]

    def text(self) -> str:
        """The whole message as plain text (kept as ``Notification.message``; FHIR's Task
        carries it). No patient identity: the pages show that beside it, from the referral."""
        lines = [self.headline]
        if self.outcome:
            line = f"Outcome: {self.outcome}."
            if self.snomed:
                line += f" (SNOMED CT {self.snomed} Social prescribing declined)"
            lines.append(line)
        if self.reason:
            lines.append(f"Reason: {self.reason}")
        if self.note:
            lines.append(f"Note from {self.by or 'the trainer'}: {self.note}")
        if self.goals:
            lines.append(
                "Goals: " + "; ".join(f"{g['text']} ({g['status'].lower()})" for g in self.goals)
            )
        if self.kind == CLOSED:
            if self.connections:
                lines.append(
                    "Services: "
                    + "; ".join(f"{c['service']} ({c['status'].lower()})" for c in self.connections)
                )
            else:
                lines.append("Services: none.")
            if self.measures:
                lines.append("Measures: " + "; ".join(m["summary"] for m in self.measures))
            else:
                lines.append("Measures: none recorded.")
        return "\n".join(lines)

    def email_body(self, link: str) -> str:
        return (
            f"{EMAIL_SUMMARIES[self.kind]}\n\n"
            f"Read the message in Flourish (you will need to sign in):\n{link}\n\n"
            "This email does not name the person, to keep their details safe. Please do not "
            "reply to it."
        )


def compose(
    referral,
    kind: str,
    *,
    outcome: str = "",
    note: str = "",
    by=None,
    at: datetime | None = None,
    final_measures=(),
) -> MessageBack:
    """The message the referrer gets when ``referral`` is ``kind`` (accepted, declined,
    contacted, closed). For a close, ``outcome`` and ``note`` (for the referrer) are what the
    trainer chose; the services, goals and measures are read from the referral as they are now.
    Nothing is saved: ``Referral._tell_referrer`` sends it, the close form previews it (with
    ``final_measures``, unsaved ``Measure`` rows typed on the form, counted as the latest)."""
    if kind not in KINDS:
        raise ValueError(f"No message back for {kind!r}.")
    at = timezone.localtime(at or timezone.now())
    team = referral.team.name
    by_name = _person(by) if by is not None else ""
    message = MessageBack(kind=kind, headline="", team=team, at=f"{at:%-d %B %Y}", by=by_name)
    if kind == ACCEPTED:
        trainer = referral.assigned_to or by
        message.headline = f"Accepted by {team} on {message.at}."
        if trainer is not None:
            message.by = _person(trainer)
            message.headline += f" Their trainer is {message.by}."
    elif kind == DECLINED:
        message.headline = f"Declined by {team} on {message.at}."
        message.reason = referral.decline_reason
        if not by_name:
            message.by = "Flourish (automatic)"
    elif kind == CONTACTED:
        message.headline = f"{team} spoke to the person on {message.at}."
    else:
        from referrals.models import SNOMED_DECLINED, Referral

        message.outcome_code = outcome
        message.outcome = Referral.Outcome(outcome).label if outcome else ""
        if outcome == Referral.Outcome.PERSON_DECLINED:
            message.snomed = SNOMED_DECLINED
        message.headline = f"Closed by {team} on {message.at}."
        message.note = note.strip()
        message.connections = connections_of(referral)
        message.goals = [
            {"text": goal.text, "status": goal.get_status_display()}
            for goal in referral.goals.all()
        ]
        message.measures = measure_changes(referral, extra=final_measures)
    return message


def connections_of(referral) -> list[dict]:
    from referrals.models import Connection

    return [
        {
            "service": connection.service.name,
            "status": connection.get_status_display(),
            "attended": connection.status == Connection.Status.ATTENDED,
        }
        for connection in referral.connections.select_related("service").order_by(
            "created_at", "pk"
        )
    ]


def measure_changes(referral, extra=()) -> list[dict]:
    """Each measure's first and latest value and the change, as ``referrals.measures`` works
    them out for the referral page and the reports (``extra``: measures not saved yet)."""
    rows = list(referral.measures.all()) + list(extra)
    figures = measure_figures.first_and_latest(rows).get(referral.pk, {})
    changes = []
    for name, figure in figures.items():
        if name == "swemwbs_total" and "swemwbs_metric" in figures:
            continue  # the metric score is the one to compare
        first, latest = _number(figure.first), _number(figure.latest)
        if figure.change is None:
            summary = f"{figure.label} {first} ({figure.first_on:%-d %b %Y}, taken once)"
            direction = ""
        else:
            change = _number(figure.change, signed=True)
            direction = {True: "better", False: "worse", None: "no change"}[figure.improved]
            summary = f"{figure.label} {first} to {latest} ({change}, {direction})"
        changes.append(
            {
                "name": figure.label,
                "first": first,
                "latest": latest,
                "change": _number(figure.change, signed=True) if figure.change is not None else "",
                "direction": direction,
                "first_on": f"{figure.first_on:%-d %b %Y}",
                "latest_on": f"{figure.latest_on:%-d %b %Y}",
                "times": figure.n,
                "summary": summary,
            }
        )
    return changes


def _number(value, *, signed: bool = False) -> str:
    if value is None:
        return ""
    text = f"{value:.2f}".rstrip("0").rstrip(".") if not isinstance(value, int) else str(value)
    if signed and value > 0:
        text = f"+{text}"
    return text


def _person(user) -> str:
    return user.get_full_name() or user.get_username()


def message_url(notification) -> str:
    """The message's absolute address, for the email (``SITE_URL`` is the public address)."""
    path = reverse("referrals-notification", args=[notification.pk])
    return f"{settings.SITE_URL.rstrip('/')}{path}"


def who_for(notification, user):
    """The referral a message is about, if ``user`` may see it (its patient can then be named);
    else None. Messages go to one user, but a referrer who left the practice keeps theirs."""
    from referrals.models import Referral

    if notification.referral_id is None:
        return None
    return (
        Referral.objects.visible_to(user)
        .select_related("patient")
        .filter(pk=notification.referral_id)
        .first()
    )
