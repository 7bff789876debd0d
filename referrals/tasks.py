"""Background work, run by `manage.py worker` (django.tasks on the database: django-tasks-db).

- ``deliver_email``: sends one outbox email (``OutgoingEmail``), retrying with backoff; after the
  last try the email is marked failed, for the team lead and the admin to see and retry.
- ``chase_referrals_task`` every hour and ``sweep_outbox`` every minute, enqueued by ``tick``,
  which the worker calls on a timer: no cron.

Every task is safe to run twice: what it does is decided under a row lock on the database.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.tasks import task
from django.utils import timezone

from referrals import sms
from referrals.models import OutgoingEmail, PeriodicRun

logger = logging.getLogger("flourish.tasks")


def retry_delay(attempts: int) -> timedelta:
    """Backoff after ``attempts`` failed tries: 1, 2, 4 ... minutes, at most an hour."""
    base = settings.EMAIL_RETRY_BASE_SECONDS
    return timedelta(seconds=min(base * 2 ** (attempts - 1), 3600))


@task()
def deliver_email(email_id: int) -> str:
    now = timezone.now()
    with transaction.atomic():
        # Locked while it is sent: a second delivery of the same email waits here, then finds
        # it sent. The lock ends with the transaction, or with the connection of a killed worker.
        email = OutgoingEmail.objects.select_for_update().filter(pk=email_id).first()
        if email is None or email.status != OutgoingEmail.Status.PENDING:
            return "nothing to do"
        email.attempts += 1
        try:
            if email.channel == OutgoingEmail.Channel.TEXT:
                sms.send_text(email.to, email.body, reference=f"outbox-{email.pk}")
            else:
                EmailMessage(
                    email.subject,
                    email.body,
                    None,
                    [email.to],
                    headers={"Message-ID": email.message_id},
                ).send()
        except Exception as exc:  # whatever the mail server, Notify or the network raised
            email.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            if email.attempts >= settings.EMAIL_MAX_ATTEMPTS:
                email.status = OutgoingEmail.Status.FAILED
                logger.error(
                    "Email %s failed %s times, giving up until someone retries it: %s",
                    email.pk,
                    email.attempts,
                    email.last_error,
                )
            else:
                email.next_attempt_at = now + retry_delay(email.attempts)
                deliver_email.using(run_after=email.next_attempt_at).enqueue(email.pk)
                logger.warning(
                    "Email %s not sent (try %s), retrying at %s: %s",
                    email.pk,
                    email.attempts,
                    email.next_attempt_at.isoformat(),
                    email.last_error,
                )
            email.save(update_fields=["attempts", "last_error", "status", "next_attempt_at"])
            return "failed"
        email.status = OutgoingEmail.Status.SENT
        email.sent_at = timezone.now()
        email.last_error = ""
        email.save(update_fields=["attempts", "last_error", "status", "sent_at"])
        return "sent"


@task()
def sweep_outbox() -> int:
    """Emails whose delivery was lost (a worker killed mid-send, a task row deleted) are due
    again: enqueue them. A delivery enqueued twice sends once (see deliver_email)."""
    lease = timedelta(seconds=settings.EMAIL_DELIVERY_LEASE_SECONDS)
    now = timezone.now()
    with transaction.atomic():
        stale = list(
            OutgoingEmail.objects.select_for_update(skip_locked=True)
            .filter(status=OutgoingEmail.Status.PENDING, next_attempt_at__lt=now - lease)
            .values_list("pk", flat=True)[:500]
        )
        OutgoingEmail.objects.filter(pk__in=stale).update(next_attempt_at=now)
        for pk in stale:
            deliver_email.enqueue(pk)
    if stale:
        logger.warning("Re-enqueued %s email(s) whose delivery was lost", len(stale))
    return len(stale)


@task()
def chase_referrals_task() -> dict:
    from referrals.services import chase_referrals

    result = chase_referrals()
    return {"reminded": len(result.reminded), "declined": len(result.declined)}


@task()
def harvest_feeds_task() -> list[str]:
    """Harvest every Open Referral feed in the admin whose interval has passed (a feed is
    claimed first, so a cron `harvest_openreferral --due` and the worker never walk one twice)."""
    from directory.harvest import harvest_due

    return [str(report) for report in harvest_due()]


# name -> (task, the setting that says how often, in seconds)
PERIODIC = {
    "chase_referrals": (chase_referrals_task, "CHASE_EVERY_SECONDS"),
    "sweep_outbox": (sweep_outbox, "OUTBOX_SWEEP_SECONDS"),
    "harvest_feeds": (harvest_feeds_task, "HARVEST_EVERY_SECONDS"),
}


def tick(now: datetime | None = None) -> list[str]:
    """Enqueue each periodic task that is due, once however many workers call this."""
    now = now or timezone.now()
    PeriodicRun.objects.bulk_create(
        [PeriodicRun(name=name, next_run_at=now) for name in PERIODIC], ignore_conflicts=True
    )
    enqueued = []
    with transaction.atomic():
        due = PeriodicRun.objects.select_for_update(skip_locked=True).filter(
            name__in=PERIODIC, next_run_at__lte=now
        )
        for run in due:
            job, setting = PERIODIC[run.name]
            every = timedelta(seconds=getattr(settings, setting))
            job.enqueue()
            run.last_run_at = now
            while run.next_run_at <= now:  # after downtime: once, not once per missed slot
                run.next_run_at += every
            run.save(update_fields=["last_run_at", "next_run_at"])
            enqueued.append(run.name)
    return enqueued
