"""A self-referral's confirmation by text message, through GOV.UK Notify: queued in the outbox
with the referral, sent by the worker to a real HTTP server on loopback standing in for Notify,
retried while Notify is down; and, where Notify is not set up, nothing queued and the page
says no text was sent."""

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest

from referrals.models import OutgoingEmail, Referral
from tests.conftest import run_tasks
from tests.referrals.test_self_referral import public, send

SERVICE_ID = str(uuid.uuid4())
SECRET = str(uuid.uuid4())
TEMPLATE_ID = str(uuid.uuid4())


@pytest.fixture(autouse=True)
def quick_forms(settings):
    settings.SELF_REFERRAL_MIN_SECONDS = 0


class FakeNotify(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (http.server's name)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.received.append((self.path, self.headers["Authorization"], body))
        status = 503 if self.server.down else 201
        answer = {"id": str(uuid.uuid4())} if status == 201 else {"errors": [{"error": "down"}]}
        payload = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def notify(settings):
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeNotify)
    server.received, server.down = [], False
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.NOTIFY_API_KEY = f"flourish_test-{SERVICE_ID}-{SECRET}"
    settings.NOTIFY_SMS_TEMPLATE_ID = TEMPLATE_ID
    settings.NOTIFY_BASE_URL = f"http://127.0.0.1:{server.server_port}"
    settings.EMAIL_RETRY_BASE_SECONDS = 0
    yield server
    server.shutdown()
    server.server_close()


class TextConfirmationTests:
    def test_a_text_is_queued_with_the_referral_and_sent_by_the_worker(self, world, notify):
        response = send(public(), preferred_contact="text", phone="07700 900982")
        assert response.status_code == 200
        assert "sending it by text message" in response.content.decode()
        referral = Referral.objects.get(source="self")
        text = OutgoingEmail.objects.get(channel="text")
        assert (text.to, text.referral, text.status) == ("07700 900982", referral, "pending")
        assert notify.received == [], "nothing is sent inside the request"

        run_tasks()
        ((path, authorization, body),) = notify.received
        assert path == "/v2/notifications/sms"
        assert body["phone_number"] == "07700 900982"
        assert body["template_id"] == TEMPLATE_ID
        assert referral.reference in body["personalisation"]["message"]
        assert "lonely" not in body["personalisation"]["message"], "no health details"
        claims = jwt.decode(authorization.removeprefix("Bearer "), SECRET, algorithms=["HS256"])
        assert claims["iss"] == SERVICE_ID
        text.refresh_from_db()
        assert text.status == "sent"

    def test_notify_down_is_retried_and_the_text_sent_once(self, world, notify, settings):
        settings.EMAIL_MAX_ATTEMPTS = 5
        notify.down = True
        send(public(), preferred_contact="text", phone="07700 900982")
        run_tasks(limit=2)
        text = OutgoingEmail.objects.get(channel="text")
        assert (text.status, text.attempts) == ("pending", 2)
        assert "503" in text.last_error
        notify.down = False
        run_tasks()
        text.refresh_from_db()
        assert text.status == "sent"
        assert len(notify.received) == 3  # two refused, one taken

    def test_no_text_unless_they_asked_for_one(self, world, notify):
        send(public(), preferred_contact="phone", phone="07700 900982")
        assert not OutgoingEmail.objects.filter(channel="text").exists()


def test_without_notify_nothing_is_queued_and_the_page_says_so(world, settings):
    settings.NOTIFY_API_KEY = ""
    page = send(public(), preferred_contact="text", phone="07700 900982").content.decode()
    assert "we have not texted you" in page
    assert not OutgoingEmail.objects.filter(channel="text").exists()
