"""Faults survived, with real processes: a real SMTP server on loopback (aiosmtpd) stopped and
started, a real worker process (`manage.py worker`) killed mid-task, and a database that turns
read-only under the worker. (The database restart under the web servers is `make faults`:
tests/faults/, since it restarts a PostgreSQL of its own.)"""

import asyncio
import os
import signal
import threading
import time

import psycopg2
import pytest
from aiosmtpd.controller import Controller
from django.conf import settings
from django.db import connection

from config.backup import _params
from config.served import database_url, free_port, production_env, worker
from referrals.models import OutgoingEmail
from tests.referrals.factories import make_referral

pytestmark = pytest.mark.django_db(transaction=True)


class Mailbox:
    """What the SMTP server accepted; ``hold`` keeps the next client waiting at RCPT TO (before
    any of the message has been sent), as a slow server would."""

    def __init__(self):
        self.message_ids: list[str] = []
        self.hold = threading.Event()
        self.held = threading.Event()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.hold.is_set():
            self.held.set()
            while self.hold.is_set():
                await asyncio.sleep(0.1)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        for line in envelope.content.decode().splitlines():
            if line.lower().startswith("message-id:"):
                self.message_ids.append(line.split(":", 1)[1].strip())
        return "250 Message accepted"


class SmtpServer:
    def __init__(self):
        self.port = free_port()
        self.mailbox = Mailbox()
        self.controller = None

    def start(self):
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self):
        if self.controller:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp():
    server = SmtpServer()
    yield server
    server.mailbox.hold.clear()
    server.stop()


@pytest.fixture
def worker_env(smtp):
    env = production_env(database_url(settings.DATABASES["default"]))
    env.update(
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(smtp.port),
        EMAIL_TIMEOUT="60",
        EMAIL_RETRY_BASE_SECONDS="1",
        EMAIL_MAX_ATTEMPTS="30",
        EMAIL_DELIVERY_LEASE_SECONDS="3",
        OUTBOX_SWEEP_SECONDS="1",
        WORKER_TICK_SECONDS="1",
        CONN_MAX_AGE="60",
    )
    env.pop("EMAIL_BACKEND_ALLOW_CONSOLE", None)
    return env


def wait_until(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"Timed out after {timeout} s waiting for {what}")


def emails(**filters):
    return OutgoingEmail.objects.filter(**filters)


def accept_referrals(world, n: int) -> list:
    referrals = [world.referral] + [
        make_referral(world.clinician, world.team) for _ in range(n - 1)
    ]
    for referral in referrals:
        referral.accept(by=world.trainer, version=referral.version)
    return referrals


class MailServerDownTests:
    def test_messages_wait_for_the_mail_server_and_arrive_once_when_it_is_back(
        self, world, smtp, worker_env, tmp_path
    ):
        with worker(worker_env, tmp_path / "worker.log"):
            accept_referrals(world, 3)  # the moves succeed while the mail server is down
            wait_until(
                lambda: emails(attempts__gte=2).count() == 3,
                30,
                "each email to have been tried twice",
            )
            assert not emails(status="sent").exists()
            assert "Connection refused" in emails().first().last_error

            smtp.start()
            wait_until(lambda: emails(status="sent").count() == 3, 40, "every email sent")

        expected = sorted(email.message_id for email in emails())
        assert sorted(smtp.mailbox.message_ids) == expected, "each delivered exactly once"


class WorkerKilledTests:
    def test_a_worker_killed_mid_send_is_replaced_and_the_email_arrives_once(
        self, world, smtp, worker_env, tmp_path
    ):
        smtp.start()
        smtp.mailbox.hold.set()
        with worker(worker_env, tmp_path / "first.log") as first:
            accept_referrals(world, 1)
            assert smtp.mailbox.held.wait(30), "the worker started sending"
            os.killpg(first.pid, signal.SIGKILL)  # a crash: no clean-up of any kind
            first.wait(10)
        smtp.mailbox.hold.clear()
        email = emails().get()
        assert email.status == "pending"

        with worker(worker_env, tmp_path / "second.log"):
            wait_until(lambda: emails(status="sent").exists(), 40, "the next worker to send it")
            time.sleep(2)  # and nothing more arrives
        assert smtp.mailbox.message_ids == [email.message_id]


class ReadOnlyDatabaseTests:
    def test_the_worker_stops_taking_tasks_says_why_and_picks_up_afterwards(
        self, world, smtp, worker_env, tmp_path
    ):
        smtp.start()
        name = settings.DATABASES["default"]["NAME"]
        with connection.cursor() as cur:
            cur.execute("SELECT pg_backend_pid()")
            (own_pid,) = cur.fetchone()
        admin = psycopg2.connect(**_params("postgres"))
        admin.autocommit = True
        log = tmp_path / "worker.log"
        try:
            with worker(worker_env, log), admin.cursor() as cur:
                time.sleep(2)  # the worker is up and idle
                cur.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
                cur.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = %s AND pid <> %s",
                    [name, own_pid],
                )
                accept_referrals(world, 1)  # this session began before: it may still write
                wait_until(lambda: "Not taking tasks" in log.read_text(), 20, "the worker to stop")
                # Why: PostgreSQL's "read-only transaction" when a task's write is refused, or,
                # when the first refusal was its connection being cut, the worker's own "the
                # database is read-only" once it looks again (on a busy machine, either).
                wait_until(lambda: "read-only" in log.read_text(), 20, "the worker to say why")
                time.sleep(2)
                assert emails().get().status == "pending"

                cur.execute(f'ALTER DATABASE "{name}" RESET default_transaction_read_only')
                wait_until(lambda: emails(status="sent").exists(), 30, "the worker to pick up")
                assert "taking tasks again" in log.read_text()
        finally:
            with admin.cursor() as cur:
                cur.execute(f'ALTER DATABASE "{name}" RESET default_transaction_read_only')
            admin.close()
        assert smtp.mailbox.message_ids == [emails().get().message_id]
