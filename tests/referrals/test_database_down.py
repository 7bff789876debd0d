"""A database error is a 503 with Retry-After in the form each caller reads (a page, the API's
JSON, FHIR's OperationOutcome), never a 500 or a traceback; and hostile input on /fhir/ is an
OperationOutcome too."""

import uuid

import pytest
from django.db import OperationalError
from django.test import Client

from referrals.models import ReferralQuerySet


@pytest.fixture
def database_down(monkeypatch):
    def refuse(self, user):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(ReferralQuerySet, "visible_to", refuse)


@pytest.fixture
def signed_in(world):
    client = Client(raise_request_exception=False)
    client.force_login(world.clinician)
    return client


class DatabaseDownTests:
    def test_a_page_says_so_in_words(self, signed_in, database_down):
        response = signed_in.get("/referrals/")
        assert response.status_code == 503
        assert response["Retry-After"] == "30"
        assert "cannot reach its database" in response.content.decode()
        assert "Traceback" not in response.content.decode()

    def test_the_api_says_so_in_json(self, signed_in, database_down):
        response = signed_in.get("/api/referrals/")
        assert response.status_code == 503
        assert "cannot reach its database" in response.json()["detail"]

    def test_fhir_says_so_in_an_operation_outcome(self, signed_in, database_down):
        response = signed_in.get(f"/fhir/ServiceRequest/{uuid.uuid4()}")
        assert response.status_code == 503
        assert response["Content-Type"].startswith("application/fhir+json")
        body = response.json()
        assert body["resourceType"] == "OperationOutcome"
        assert "cannot reach its database" in body["issue"][0]["diagnostics"]

    def test_other_errors_are_still_500s(self, signed_in, monkeypatch):
        def crash(self, user):
            raise ValueError("a bug")

        monkeypatch.setattr(ReferralQuerySet, "visible_to", crash)
        assert signed_in.get("/api/referrals/").status_code == 500


def test_hostile_input_on_fhir_is_an_operation_outcome(client, db):
    response = client.get("/fhir/ServiceRequest/x", {"q": "a\x00b"})
    assert response.status_code == 400
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["code"] == "invalid"
