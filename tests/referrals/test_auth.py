"""Signing in: the login page, session expiry, throttling and password rules."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from tests.referrals.factories import PASSWORD


class LoginTests:
    def test_it_shows_a_labelled_login_form(self, client, db):
        response = client.get(reverse("login"))
        html = response.content.decode()
        assert response.status_code == 200
        assert '<label class="label" for="id_username">Username</label>' in html
        assert '<label class="label" for="id_password">Password</label>' in html
        assert "Username:" not in html  # NHS.UK labels carry no colon
        assert response.headers["Content-Security-Policy"]

    def test_a_wrong_password_says_what_to_do_and_links_to_the_username(self, client, world):
        response = client.post(reverse("login"), {"username": "trainer", "password": "wrong"})
        html = response.content.decode()
        assert response.status_code == 200
        assert "<title>Error: Sign in" in html
        assert (
            '<a href="#id_username">Enter a correct username and password. Both are '
            "case-sensitive: check Caps Lock.</a>" in html
        )
        assert 'value="trainer"' in html  # what was typed is kept

    def test_an_empty_form_names_each_field(self, client, db):
        html = client.post(reverse("login"), {}).content.decode()
        assert '<a href="#id_username">Enter your username</a>' in html
        assert '<a href="#id_password">Enter your password</a>' in html
        assert "This field is required" not in html

    def test_it_signs_a_user_in_and_out(self, client, world):
        response = client.post(reverse("login"), {"username": "trainer", "password": PASSWORD})
        assert response.status_code == 302
        assert client.get(reverse("referrals-queue")).status_code == 200
        client.post(reverse("logout"))
        assert client.get(reverse("referrals-queue")).status_code == 302

    @pytest.mark.parametrize(
        ("username", "page"),
        [
            ("trainer", "referrals-queue"),
            ("clinician", "referrals-list"),
            ("manager", "referrals-report"),
            ("outsider", "home"),
        ],
    )
    def test_it_takes_each_role_to_its_work_after_signing_in(self, client, world, username, page):
        response = client.post(reverse("login"), {"username": username, "password": PASSWORD})
        assert response["Location"] == reverse(page)

    def test_it_shows_an_error_summary_for_a_wrong_password(self, client, world):
        response = client.post(
            reverse("login"), {"username": "trainer", "password": "nope-nope-nope"}
        )
        assert response.status_code == 200
        assert "There is a problem" in response.content.decode()

    def test_it_issues_an_api_token_for_good_credentials_only(self, client, world):
        good = client.post(reverse("api-token"), {"username": "trainer", "password": PASSWORD})
        assert good.status_code == 200 and len(good.json()["token"]) == 64
        bad = client.post(reverse("api-token"), {"username": "trainer", "password": "wrong-wrong"})
        assert bad.status_code == 400
        token = good.json()["token"]
        listed = client.get(reverse("api-referrals"), HTTP_AUTHORIZATION=f"Token {token}")
        assert listed.status_code == 200 and len(listed.json()) == 1


class SessionExpiryTests:
    def test_it_ends_sessions_after_30_idle_minutes(self):
        assert settings.SESSION_COOKIE_AGE == 30 * 60
        assert settings.SESSION_SAVE_EVERY_REQUEST is True

    def test_it_signs_out_a_session_left_idle_past_the_limit(self, client, world):
        client.post(reverse("login"), {"username": "trainer", "password": PASSWORD})
        assert client.session.get_expiry_age() == 30 * 60
        assert client.get(reverse("referrals-queue")).status_code == 200
        # Thirty-one idle minutes later (the session row's expiry has passed):
        Session.objects.update(expire_date=timezone.now() - timedelta(minutes=1))
        response = client.get(reverse("referrals-queue"))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


class ThrottlingTests:
    def test_it_refuses_a_login_after_the_failure_limit(self, client, world):
        for _ in range(settings.AXES_FAILURE_LIMIT):
            client.post(reverse("login"), {"username": "trainer", "password": "wrong-password"})
        response = client.post(reverse("login"), {"username": "trainer", "password": PASSWORD})
        assert response.status_code == 429
        assert client.get(reverse("referrals-queue")).status_code == 302  # not signed in

    def test_it_throttles_the_api_token_endpoint_too(self, client, world):
        for _ in range(settings.AXES_FAILURE_LIMIT):
            client.post(reverse("api-token"), {"username": "trainer", "password": "wrong-password"})
        response = client.post(reverse("api-token"), {"username": "trainer", "password": PASSWORD})
        assert response.status_code == 429, (response.status_code, response.content)


class PasswordRuleTests:
    @pytest.mark.parametrize("password", ["short", "1234567890123", "password123"])
    def test_it_refuses_weak_passwords(self, password):
        with pytest.raises(ValidationError):
            validate_password(password)
