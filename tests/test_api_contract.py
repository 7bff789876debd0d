"""The API does what its OpenAPI schema says: Schemathesis over /api/schema/.

``ApiContractTests`` (every test run): in-process over WSGI, anonymous, as a clinician and as a
trainer (signed in with a session, as the pages are), a few generated requests per operation and
mode (valid and schema-breaking) within a time budget, so the suite stays quick.

``ApiFuzzTests`` (``make fuzz`` only): the same world served by gunicorn on 127.0.0.1 as in
production (DEBUG off), with API tokens, until FUZZ_CALLS calls have been made; prints its
counts. Both: zero server errors and zero answers that differ from the schema (status code,
content type, headers, body).
"""

import os
import time
from pathlib import Path

import pytest
import schemathesis
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections, connection
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client

from config.served import database_url, production_env, served
from tests.contract import Tally, exercise
from tests.directory.conftest import make_service
from tests.referrals import conftest as referrals_fixtures

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES_PER_MODE = 6

# The referrals tests' world (two practices, two teams, one user per role, a referral).
world = referrals_fixtures.world
fast_passwords = referrals_fixtures.fast_passwords
BUDGET_PER_ROLE_S = 20


@pytest.fixture
def app():
    """Django's WSGI application, called in this thread inside the test's transaction.

    Django closes the database connection around each request; here that would end the test's
    transaction (and its data), so as Django's test client does, not while the test runs."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield WSGIHandler()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.fixture
def services(world):
    """Services with needs and offers near the world's Hyde postcodes, so searches find some."""
    return [
        make_service(
            "Hyde Health Walks",
            at="SK14 1PW",
            needs=["physical-activity", "loneliness"],
            price="2.50",
            sessions=[("MO,TH", "10:00", "11:30")],
        ),
        make_service("Tameside Befriending", districts=["SK14"], needs=["loneliness"]),
        make_service(
            "Hyde Library digital help",
            at="SK14 1AA",
            kind="online_centre",
            offers=["free-wifi", "one-to-one-help"],
        ),
    ]


def known(world, services) -> dict[str, dict]:
    """Things that exist, for the operations on one of them (generated ids find nothing)."""
    return {
        "/api/referrals/{id}": {"id": str(world.referral.pk)},
        "/api/services/{id}": {"id": str(services[0].pk)},
    }


def signed_in(user) -> dict:
    """A session cookie for ``user``, with the CSRF cookie and header a browser would send."""
    client = Client()
    client.force_login(user)
    csrf = _get_new_csrf_string()
    return {
        "cookies": {"sessionid": client.cookies["sessionid"].value, "csrftoken": csrf},
        "headers": {"X-CSRFToken": csrf},
    }


SHAPES = "#/components/schemas/"


def openapi() -> dict:
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)


class ApiSchemaTests:
    def test_it_documents_the_refusals_of_every_operation_in_one_shape(self):
        schema = openapi()
        for path, item in schema["paths"].items():
            for method, operation in item.items():
                responses = operation["responses"]
                assert {"400", "401"} <= set(responses), (method, path)
                for code, response in responses.items():
                    if not code.startswith("4"):
                        continue
                    assert response["description"], (method, path, code)
                    for content in response["content"].values():
                        ref = content["schema"]["$ref"]
                        if code == "400":  # the fields in error (a few name them)
                            assert ref in (f"{SHAPES}ValidationError", f"{SHAPES}BadCredentials")
                        else:
                            assert ref in (f"{SHAPES}Error", f"{SHAPES}Conflict"), (path, code)
        accept = schema["paths"]["/api/referrals/{id}/accept/"]["post"]["responses"]
        assert {"403", "404", "409"} <= set(accept)

    def test_it_documents_lists_as_the_results_object_they_are(self):
        paths = openapi()["paths"]
        for path in ("/api/needs/", "/api/kinds/", "/api/offers/", "/api/postcodes/"):
            content = paths[path]["get"]["responses"]["200"]["content"]["application/json"]
            assert "$ref" in content["schema"], path  # an object with results, not an array

    def test_it_documents_the_geojson_search_as_a_feature_collection(self):
        content = openapi()["paths"]["/api/services/"]["get"]["responses"]["200"]["content"]
        assert content["application/json"]["schema"]["$ref"].endswith("/SearchPage")
        assert content["application/geo+json"]["schema"]["$ref"].endswith("/SearchFeaturePage")

    def test_it_allows_what_referrals_really_send_for_outcome_and_email(self):
        schemas = openapi()["components"]["schemas"]
        outcome = schemas["Referral"]["properties"]["outcome"]
        assert "#/components/schemas/BlankEnum" in [o["$ref"] for o in outcome["oneOf"]]
        assert "format" not in schemas["Patient"]["properties"]["email"]


class ApiContractTests:
    def test_it_answers_as_its_schema_says_for_every_role(self, app, world, services):
        schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", app)
        tally = Tally()
        for label, auth in (
            ("anonymous", {}),
            ("clinician", signed_in(world.clinician)),
            ("trainer", signed_in(world.trainer)),
        ):
            exercise(
                schema,
                tally,
                label=label,
                max_examples=EXAMPLES_PER_MODE,
                budget_s=BUDGET_PER_ROLE_S,
                known=known(world, services),
                **auth,
            )
        print(tally.summary())
        assert tally.calls > 300  # the budget did not cut the run short
        assert tally.server_errors == 0, tally.report()
        assert tally.mismatches == 0, tally.report()


# --- make fuzz ----------------------------------------------------------------------------
FUZZ_CALLS = int(os.environ.get("FUZZ_CALLS") or 0)
FUZZ_EXAMPLES_PER_MODE = 40
FUZZ_TIME_LIMIT_S = int(os.environ.get("FUZZ_TIME_LIMIT_S") or 1800)


@pytest.fixture
def gunicorn(transactional_db, tmp_path):
    """The app as deployed (gunicorn, DEBUG off) on a loopback port, on the test database.

    The test database is committed to (transactional_db), so the workers see the world; it is
    flushed afterwards and dropped at the end of the run. Mail goes to the console (the log)."""
    env = production_env(database_url(connection.settings_dict))
    with served(env, tmp_path / "gunicorn.log") as base:
        yield base


def token_for(user) -> dict:
    """A fresh API token, made directly: the fuzz's own wrong passwords soon lock POST
    /api/auth/token/ for 127.0.0.1, as they should."""
    from knox.models import AuthToken

    _, token = AuthToken.objects.create(user=user)
    return {"headers": {"Authorization": f"Token {token}"}}


@pytest.mark.skipif(not FUZZ_CALLS, reason="make fuzz runs it (FUZZ_CALLS=10000)")
class ApiFuzzTests:
    def test_it_answers_as_its_schema_says_under_a_long_fuzz(self, gunicorn, world, services):
        schema = schemathesis.openapi.from_url(f"{gunicorn}/api/schema/?format=json")
        started = time.monotonic()
        tally = Tally()
        round_ = 0
        while tally.calls < FUZZ_CALLS and time.monotonic() - started < FUZZ_TIME_LIMIT_S:
            round_ += 1
            # Fresh tokens each round: the last operations of a round sign them out.
            roles = [("anonymous", {})] + [
                (name, token_for(getattr(world, name))) for name in ("clinician", "trainer", "lead")
            ]
            for label, auth in roles:
                exercise(
                    schema,
                    tally,
                    label=label,
                    max_examples=FUZZ_EXAMPLES_PER_MODE,
                    budget_s=FUZZ_TIME_LIMIT_S,
                    seed=round_,
                    known=known(world, services),
                    base_url=gunicorn,
                    **auth,
                )
            print(f"round {round_}: {tally.calls} calls", flush=True)
        print(f"\n{tally.summary()}\n", flush=True)
        if tally.examples:
            print(tally.report(), flush=True)
        assert tally.calls >= FUZZ_CALLS
        assert tally.server_errors == 0
        assert tally.mismatches == 0
