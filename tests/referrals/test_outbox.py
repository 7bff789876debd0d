"""Emails leave through the outbox: queued in the transaction of the change that causes them,
sent by the worker once, retried with backoff while the mail server is down, and shown to the
team lead and the admin (with a retry) when every try failed. Periodic work is enqueued once
however many workers ask."""

from datetime import timedelta

import pytest
from django.core import mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from referrals.models import OutgoingEmail, PeriodicRun
from referrals.tasks import PERIODIC, deliver_email, retry_delay, sweep_outbox, tick
from tests.conftest import run_tasks

LOCMEM_SEND = "django.core.mail.backends.locmem.EmailBackend.send_messages"


def mail_server_down(monkeypatch):
    def refuse(self, messages):
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(LOCMEM_SEND, refuse)


class QueuedWithTheChangeTests:
    def test_a_move_that_rolls_back_sends_nothing(self, world):
        with pytest.raises(RuntimeError), transaction.atomic():
            world.referral.accept(by=world.trainer, version=1)
            raise RuntimeError("something after the move failed")
        assert not OutgoingEmail.objects.exists()
        assert run_tasks() == 0
        assert mail.outbox == []

    def test_a_committed_move_sends_its_email_once_even_if_delivered_twice(self, world):
        world.referral.accept(by=world.trainer, version=1)
        email = OutgoingEmail.objects.get()
        assert (email.to, email.status, email.referral) == (
            "clinician@example.org",
            "pending",
            world.referral,
        )
        assert mail.outbox == [], "nothing is sent inside the request"
        deliver_email.enqueue(email.pk)  # a second delivery of the same email
        assert run_tasks() == 2
        assert len(mail.outbox) == 1
        assert mail.outbox[0].extra_headers["Message-ID"] == email.message_id
        email.refresh_from_db()
        assert (email.status, email.attempts) == ("sent", 1)
        assert email.sent_at is not None


class RetryTests:
    @pytest.fixture(autouse=True)
    def _quick_retries(self, settings):
        settings.EMAIL_RETRY_BASE_SECONDS = 0
        settings.EMAIL_MAX_ATTEMPTS = 3

    def test_a_mail_server_down_then_back_delivers_once(self, world, monkeypatch):
        world.referral.accept(by=world.trainer, version=1)
        mail_server_down(monkeypatch)
        assert run_tasks(limit=2) == 2
        email = OutgoingEmail.objects.get()
        assert (email.status, email.attempts) == ("pending", 2)
        assert "Connection refused" in email.last_error
        monkeypatch.undo()  # the mail server is back
        assert run_tasks() == 1
        email.refresh_from_db()
        assert (email.status, email.attempts, email.last_error) == ("sent", 3, "")
        assert len(mail.outbox) == 1

    def test_after_the_last_try_the_lead_sees_it_and_can_retry(self, world, client, monkeypatch):
        world.referral.accept(by=world.trainer, version=1)
        mail_server_down(monkeypatch)
        assert run_tasks() == 3  # every try, then it stops
        email = OutgoingEmail.objects.get()
        assert (email.status, email.attempts) == ("failed", 3)

        client.force_login(world.lead)
        page = client.get(reverse("referrals-emails"))
        assert page.status_code == 200
        assert "clinician@example.org" in page.content.decode()
        assert "Connection refused" in page.content.decode()
        assert "Undelivered emails" in client.get(reverse("referrals-queue")).content.decode()

        monkeypatch.undo()
        response = client.post(reverse("referrals-email-retry", args=[email.pk]))
        assert response.status_code == 302
        assert run_tasks() == 1
        email.refresh_from_db()
        assert email.status == "sent"
        assert len(mail.outbox) == 1
        assert "Every email has been delivered" in (
            client.get(reverse("referrals-emails")).content.decode()
        )

    @pytest.mark.parametrize("role", ["trainer", "clinician", "other_trainer", "manager"])
    def test_only_the_teams_lead_and_the_admin_see_or_retry_failed_emails(
        self, world, client, monkeypatch, role
    ):
        world.referral.accept(by=world.trainer, version=1)
        mail_server_down(monkeypatch)
        run_tasks()
        email = OutgoingEmail.objects.get(status="failed")
        client.force_login(world.user(role))
        assert client.get(reverse("referrals-emails")).status_code == 403
        response = client.post(reverse("referrals-email-retry", args=[email.pk]))
        assert response.status_code == 404
        email.refresh_from_db()
        assert email.status == "failed"

        client.force_login(world.admin)
        assert "clinician@example.org" in client.get(reverse("referrals-emails")).content.decode()


def test_backoff_doubles_and_stops_growing_at_an_hour(settings):
    settings.EMAIL_RETRY_BASE_SECONDS = 60
    assert [retry_delay(n).total_seconds() for n in (1, 2, 3, 7, 8, 20)] == [
        60,
        120,
        240,
        3600,
        3600,
        3600,
    ]


class SweepTests:
    def test_an_email_whose_delivery_was_lost_is_sent_by_the_sweep(self, world, settings):
        world.referral.accept(by=world.trainer, version=1)
        DBTaskResult.objects.all().delete()  # the worker holding it died: its task is gone
        email = OutgoingEmail.objects.get()
        assert sweep_outbox.call() == 0, "not yet: it may still be in flight"
        OutgoingEmail.objects.filter(pk=email.pk).update(
            next_attempt_at=timezone.now()
            - timedelta(seconds=settings.EMAIL_DELIVERY_LEASE_SECONDS + 1)
        )
        assert sweep_outbox.call() == 1
        assert run_tasks() == 1
        assert len(mail.outbox) == 1
        assert sweep_outbox.call() == 0


class PeriodicTests:
    def test_each_due_job_is_enqueued_once_however_many_workers_tick(self, db):
        now = timezone.now()
        assert sorted(tick(now)) == sorted(PERIODIC)
        assert tick(now) == []  # a second worker at the same moment
        chase = PeriodicRun.objects.get(name="chase_referrals")
        assert chase.next_run_at == now + timedelta(hours=1)
        assert DBTaskResult.objects.filter(task_path__endswith="chase_referrals_task").count() == 1
        assert tick(now + timedelta(minutes=59)) == ["sweep_outbox"]
        assert sorted(tick(now + timedelta(hours=1))) == sorted(PERIODIC)

    def test_after_a_long_outage_a_job_runs_once_not_once_per_missed_hour(self, db):
        now = timezone.now()
        tick(now)
        assert "chase_referrals" in tick(now + timedelta(hours=10, minutes=5))
        chase = PeriodicRun.objects.get(name="chase_referrals")
        assert chase.next_run_at == now + timedelta(hours=11)

    def test_the_chase_runs_from_the_worker(self, world):
        world.referral.created_at = timezone.now() - timedelta(days=8)
        world.referral.save(update_fields=["created_at"])
        tick()
        run_tasks()
        world.referral.refresh_from_db()
        assert world.referral.reminded_at is not None
