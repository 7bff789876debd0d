"""API tokens: hashed, expiring, revoked on logout (API or pages), listable and revocable by
their owner only, never in the admin, and throttled like the login page."""

import hashlib
import importlib
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib import admin
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from knox.models import AuthToken

from referrals import permissions
from tests.referrals.factories import PASSWORD, make_user


@pytest.fixture
def alice(db):
    return make_user("alice", permissions.CLINICIANS)


@pytest.fixture
def bob(db):
    return make_user("bob", permissions.CLINICIANS)


def issue(client, username="alice", password=PASSWORD):
    return client.post(reverse("api-token"), {"username": username, "password": password})


def auth(token: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Token {token}"}


def tokens_of(client, token: str):
    return client.get(reverse("api-tokens"), **auth(token))


class IssueTokenTests:
    def test_it_issues_a_token_that_works(self, client, world):
        response = issue(client, "clinician")
        assert response.status_code == 200
        body = response.json()
        assert set(body) == {"token", "id", "expiry"}
        assert body["token"].startswith(body["id"])
        listed = client.get(reverse("api-referrals"), **auth(body["token"]))
        assert listed.status_code == 200 and len(listed.json()) == 1

    def test_it_ends_the_token_after_api_token_hours(self, client, alice):
        assert settings.API_TOKEN_HOURS == 8
        before = timezone.now()
        issue(client)
        token = AuthToken.objects.get(user=alice)
        assert timedelta(hours=8) <= token.expiry - before < timedelta(hours=8, minutes=1)

    def test_it_refuses_an_expired_token_with_401_saying_what_to_do(self, client, alice):
        secret = issue(client).json()["token"]
        AuthToken.objects.filter(user=alice).update(expiry=timezone.now() - timedelta(seconds=1))
        response = tokens_of(client, secret)
        assert response.status_code == 401
        assert "POST /api/auth/token/" in response.json()["detail"]
        assert response["WWW-Authenticate"] == "Token"
        assert not AuthToken.objects.filter(user=alice).exists()  # knox deleted it

    def test_it_stores_only_a_digest_of_the_token(self, client, alice):
        secret = issue(client).json()["token"]
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM knox_authtoken")
            (row,) = cursor.fetchall()
        stored = " ".join(str(value) for value in row)
        assert secret not in stored
        assert hashlib.sha512(secret.encode()).hexdigest() in stored

    def test_it_refuses_a_wrong_password_with_400_and_issues_nothing(self, client, alice):
        response = issue(client, password="wrong-wrong-wrong")
        assert response.status_code == 400
        assert "Wrong username or password" in response.json()["non_field_errors"][0]
        assert not AuthToken.objects.exists()

    def test_it_refuses_an_overlong_username_with_400(self, client, db):
        assert issue(client, username="x" * 300).status_code == 400

    def test_it_counts_failures_and_locks_out_with_429(self, client, alice):
        for attempt in range(1, settings.AXES_FAILURE_LIMIT + 1):
            issue(client, password="wrong-wrong-wrong")
            assert AccessAttempt.objects.get(username="alice").failures_since_start == attempt
        response = issue(client)  # the right password, too late
        assert response.status_code == 429
        assert not AuthToken.objects.exists()

    def test_it_clears_the_failure_count_on_success(self, client, alice):
        issue(client, password="wrong-wrong-wrong")
        assert issue(client).status_code == 200
        assert not AccessAttempt.objects.filter(username="alice").exists()

    @pytest.mark.parametrize(
        ("header", "expected"),
        [
            ("Token", {401}),
            ("Token a b", {401}),
            ("Token caf\u00e9", {401}),
            ("Token " + "a" * 5000, {401}),
            ("Token a\x00b", {400, 401}),  # a NUL may be refused before the API sees it
        ],
    )
    def test_it_answers_a_malformed_token_header_with_4xx(self, client, db, header, expected):
        response = client.get(reverse("api-tokens"), HTTP_AUTHORIZATION=header)
        assert response.status_code in expected

    def test_it_answers_anonymous_requests_with_401(self, client, db):
        for name in ["api-tokens", "api-logout", "api-logoutall"]:
            method = client.get if name == "api-tokens" else client.post
            assert method(reverse(name)).status_code == 401, name
        url = reverse("api-token-detail", args=["abc"])
        assert client.delete(url).status_code == 401


class LogoutTests:
    def test_it_revokes_the_token_used_and_no_other(self, client, alice):
        first = issue(client).json()["token"]
        second = issue(client).json()["token"]
        assert client.post(reverse("api-logout"), **auth(first)).status_code == 204
        assert tokens_of(client, first).status_code == 401
        assert tokens_of(client, second).status_code == 200

    def test_it_needs_a_token_to_log_a_token_out(self, client, alice):
        client.force_login(alice)
        assert client.post(reverse("api-logout")).status_code == 401

    def test_it_revokes_every_token_of_the_user_on_logoutall(self, client, alice, bob):
        first = issue(client).json()["token"]
        second = issue(client).json()["token"]
        bobs = issue(client, "bob").json()["token"]
        assert client.post(reverse("api-logoutall"), **auth(first)).status_code == 204
        assert tokens_of(client, first).status_code == 401
        assert tokens_of(client, second).status_code == 401
        assert tokens_of(client, bobs).status_code == 200

    def test_it_revokes_every_token_when_the_user_signs_out_of_the_pages(self, client, alice, bob):
        secret = issue(client).json()["token"]
        bobs = issue(client, "bob").json()["token"]
        client.post(reverse("login"), {"username": "alice", "password": PASSWORD})
        assert client.post(reverse("logout")).status_code == 302
        assert tokens_of(client, secret).status_code == 401
        assert tokens_of(client, bobs).status_code == 200


class TokenListTests:
    def test_it_lists_the_owners_tokens_only_and_never_the_token(self, client, alice, bob):
        first = issue(client).json()
        second = issue(client).json()
        issue(client, "bob")
        response = tokens_of(client, second["token"])
        assert response.status_code == 200
        listed = response.json()
        assert [token["id"] for token in listed] == [second["id"], first["id"]]
        assert [token["current"] for token in listed] == [True, False]
        assert set(listed[0]) == {"id", "created", "expiry", "current"}
        assert first["token"] not in response.content.decode()
        assert second["token"] not in response.content.decode()

    def test_it_lists_tokens_to_a_signed_in_browser_too(self, client, alice):
        issue(client)
        client.force_login(alice)
        assert len(client.get(reverse("api-tokens")).json()) == 1


class RevokeTokenTests:
    def test_it_lets_the_owner_revoke_one_token(self, client, alice):
        first = issue(client).json()
        second = issue(client).json()
        url = reverse("api-token-detail", args=[first["id"]])
        assert client.delete(url, **auth(second["token"])).status_code == 204
        assert tokens_of(client, first["token"]).status_code == 401
        assert tokens_of(client, second["token"]).status_code == 200

    def test_it_answers_404_for_someone_elses_token_and_keeps_it(self, client, alice, bob):
        mine = issue(client).json()
        bobs = issue(client, "bob").json()
        response = client.delete(
            reverse("api-token-detail", args=[bobs["id"]]), **auth(mine["token"])
        )
        assert response.status_code == 404
        assert "GET /api/auth/tokens/" in response.json()["detail"]
        assert tokens_of(client, bobs["token"]).status_code == 200

    @pytest.mark.parametrize("token_id", ["caf\u00e9", "a b", "a" * 300])
    def test_it_answers_404_for_a_malformed_id(self, client, alice, token_id):
        mine = issue(client).json()
        url = reverse("api-token-detail", args=[token_id])
        assert client.delete(url, **auth(mine["token"])).status_code == 404


class TokenAdminTests:
    def test_it_shows_no_token_model_to_the_superuser(self, client, world):
        issue(client, "clinician")
        client.force_login(world.admin)
        html = client.get(reverse("admin:index")).content.decode()
        assert "Users" in html  # the page really is the admin index
        assert "/admin/knox/" not in html and "/admin/authtoken/" not in html
        assert "auth token" not in html.lower() and ">tokens<" not in html.lower()
        assert not admin.site.is_registered(AuthToken)
        assert client.get("/admin/knox/authtoken/").status_code == 404
        assert client.get("/admin/authtoken/tokenproxy/").status_code == 404


class PlainTokenMigrationTests:
    def test_it_drops_the_plain_text_token_table_of_an_upgraded_database(self, db):
        with connection.cursor() as cursor:
            cursor.execute("CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY)")
            cursor.execute("INSERT INTO authtoken_token VALUES ('plain-text-token')")
        migration = importlib.import_module("referrals.migrations.0007_drop_plaintext_tokens")
        with connection.cursor() as cursor:
            for operation in migration.Migration.operations:
                cursor.execute(operation.sql)
        assert "authtoken_token" not in connection.introspection.table_names()


class TokenSchemaTests:
    def test_it_documents_the_token_endpoints_and_their_refusals(self, client, db):
        paths = client.get(reverse("api-schema") + "?format=json").json()["paths"]
        expected = {
            ("/api/auth/token/", "post"): {"200", "400", "429"},
            ("/api/auth/logout/", "post"): {"204", "401"},
            ("/api/auth/logoutall/", "post"): {"204", "401"},
            ("/api/auth/tokens/", "get"): {"200", "401"},
            ("/api/auth/tokens/{token_id}/", "delete"): {"204", "401", "404"},
        }
        for (path, method), codes in expected.items():
            assert codes <= set(paths[path][method]["responses"]), path
        issued = paths["/api/auth/token/"]["post"]["responses"]["200"]
        assert issued["content"]["application/json"]["schema"]["$ref"].endswith("IssuedToken")
