"""Structured logs: one JSON object a line per request, with a request id echoed in the
X-Request-ID header, the user id and the duration, and never the query string (a clinician's
search for a patient travels in it)."""

import io
import json
import logging

import pytest

from config.logs import JsonFormatter, RequestContextFilter


@pytest.fixture
def request_lines():
    """The JSON lines flourish.request writes, formatted as production formats them."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestContextFilter())
    logger = logging.getLogger("flourish.request")
    logger.addHandler(handler)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        logger.removeHandler(handler)


class RequestIdTests:
    def test_each_response_carries_a_new_request_id(self, client, db):
        first = client.get("/healthz")["X-Request-ID"]
        second = client.get("/healthz")["X-Request-ID"]
        assert len(first) == 32 and int(first, 16) >= 0
        assert first != second

    def test_a_proxys_request_id_is_kept_and_a_malformed_one_replaced(self, client, db):
        sent = "3f2a9c0e7b1d4e5f8a6b2c3d4e5f6a7b"
        assert client.get("/healthz", headers={"X-Request-ID": sent})["X-Request-ID"] == sent
        for bad in ("short", "has spaces in it ok", "x" * 200, "evil\u2028line"):
            got = client.get("/healthz", headers={"X-Request-ID": bad})["X-Request-ID"]
            assert got != bad and len(got) == 32


class RequestLineTests:
    def test_one_json_line_per_request_with_the_fields_on_call_needs(
        self, client, db, request_lines
    ):
        response = client.get("/healthz")
        (line,) = request_lines()
        assert line["request_id"] == response["X-Request-ID"]
        assert (line["level"], line["method"], line["path"]) == ("INFO", "GET", "/healthz")
        assert line["status"] == response.status_code
        assert line["duration_ms"] >= 0
        assert line["time"].endswith("+00:00")
        assert "user_id" not in line  # nobody signed in

    def test_the_signed_in_users_id_is_logged_and_the_query_string_never(
        self, client, django_user_model, request_lines
    ):
        user = django_user_model.objects.create_user("someone", password="a-long-password-42")
        client.force_login(user)
        client.get("/referrals/?q=Jane+Smith+9434765919")
        (line,) = request_lines()
        assert line["user_id"] == user.pk
        assert line["path"] == "/referrals/"
        raw = json.dumps(line)
        assert "9434765919" not in raw and "Smith" not in raw

    def test_a_404_is_one_line_not_two(self, client, db, request_lines, caplog):
        client.get("/no-such-page")
        assert [line["status"] for line in request_lines()] == [404]
        assert not [r for r in caplog.records if r.name == "django.request"]
