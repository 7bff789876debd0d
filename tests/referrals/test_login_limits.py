"""Signing in: one address trying many usernames is locked out too, every lockout is a 429 that
says when to retry, and a locked-out address leaves no more rows behind."""

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.urls import reverse

from tests.referrals.factories import PASSWORD

ADDRESS = "198.51.100.23"


def fail(client, path="login", username="nobody", **extra):
    return client.post(reverse(path), {"username": username, "password": "wrong-password"}, **extra)


def retry_after(response) -> int:
    assert response.status_code == 429, (response.status_code, response.content[:300])
    return int(response["Retry-After"])


class AddressLimitTests:
    def test_50_made_up_usernames_from_one_address_are_stopped_at_the_limit(self, client, db):
        limit = settings.LOGIN_FAILURE_LIMIT_PER_ADDRESS
        responses = [fail(client, username=f"made-up-{n}", REMOTE_ADDR=ADDRESS) for n in range(50)]
        codes = [r.status_code for r in responses]
        assert codes == [200] * (limit - 1) + [429] * (50 - limit + 1)
        cool_off = settings.AXES_COOLOFF_TIME * 3600
        assert all(0 < retry_after(r) <= cool_off for r in responses[limit - 1 :])
        assert "Too many failed sign-in attempts" in responses[-1].content.decode()
        # Once the address is locked, further made-up usernames leave no rows.
        assert AccessAttempt.objects.filter(ip_address=ADDRESS).count() == limit

    def test_a_real_user_at_a_locked_address_waits_too(self, client, world):
        for n in range(settings.LOGIN_FAILURE_LIMIT_PER_ADDRESS):
            fail(client, username=f"made-up-{n}", REMOTE_ADDR=ADDRESS)
        response = client.post(
            reverse("login"), {"username": "trainer", "password": PASSWORD}, REMOTE_ADDR=ADDRESS
        )
        assert retry_after(response) > 0
        assert client.get(reverse("referrals-queue")).status_code == 302  # not signed in

    def test_another_address_is_not_held_up(self, client, world):
        for n in range(settings.LOGIN_FAILURE_LIMIT_PER_ADDRESS):
            fail(client, username=f"made-up-{n}", REMOTE_ADDR=ADDRESS)
        response = client.post(
            reverse("login"),
            {"username": "trainer", "password": PASSWORD},
            REMOTE_ADDR="198.51.100.24",
        )
        assert response.status_code == 302

    def test_a_forged_forwarded_address_does_not_escape_the_limit(self, client, db):
        limit = settings.LOGIN_FAILURE_LIMIT_PER_ADDRESS
        for n in range(limit - 1):
            fail(
                client,
                username=f"made-up-{n}",
                REMOTE_ADDR=ADDRESS,
                HTTP_X_FORWARDED_FOR=f"203.0.113.{n}",
            )
        response = fail(
            client, username="last", REMOTE_ADDR=ADDRESS, HTTP_X_FORWARDED_FOR="1.1.1.1"
        )
        assert retry_after(response) > 0

    def test_behind_a_trusted_proxy_each_client_is_counted_apart(self, client, world, settings):
        settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
        proxy = {"REMOTE_ADDR": "10.0.0.2"}
        for n in range(settings.LOGIN_FAILURE_LIMIT_PER_ADDRESS):
            fail(client, username=f"made-up-{n}", HTTP_X_FORWARDED_FOR="203.0.113.9", **proxy)
        assert fail(client, HTTP_X_FORWARDED_FOR="203.0.113.9", **proxy).status_code == 429
        response = client.post(
            reverse("login"),
            {"username": "trainer", "password": PASSWORD},
            HTTP_X_FORWARDED_FOR="203.0.113.10",
            **proxy,
        )
        assert response.status_code == 302
        assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.9"}

    @pytest.mark.parametrize("path", ["login", "api-token", "admin:login"])
    def test_the_per_address_limit_covers_every_way_to_sign_in(self, client, db, path):
        for n in range(settings.LOGIN_FAILURE_LIMIT_PER_ADDRESS - 1):
            fail(client, path, username=f"made-up-{n}")
        assert retry_after(fail(client, path, username="one-more")) > 0


class LockoutResponseTests:
    def test_the_username_lockout_says_when_to_retry(self, client, world):
        responses = [
            fail(client, username="trainer", REMOTE_ADDR=ADDRESS)
            for _ in range(settings.AXES_FAILURE_LIMIT)
        ]
        cool_off = settings.AXES_COOLOFF_TIME * 3600
        assert cool_off - 60 < retry_after(responses[-1]) <= cool_off
        locked = client.post(
            reverse("login"), {"username": "trainer", "password": PASSWORD}, REMOTE_ADDR=ADDRESS
        )
        assert cool_off - 60 < retry_after(locked) <= cool_off
        assert "try again in 15 minutes" in locked.content.decode()

    def test_trying_again_while_locked_does_not_extend_the_wait_or_store_rows(self, client, world):
        for _ in range(settings.AXES_FAILURE_LIMIT):
            fail(client, username="trainer", REMOTE_ADDR=ADDRESS)
        AccessAttempt.objects.update(attempt_time=AccessAttempt.objects.get().attempt_time)
        first = retry_after(fail(client, username="trainer", REMOTE_ADDR=ADDRESS))
        rows = list(AccessAttempt.objects.values_list("failures_since_start", "attempt_time"))
        later = retry_after(fail(client, username="trainer", REMOTE_ADDR=ADDRESS))
        assert later <= first
        assert (
            list(AccessAttempt.objects.values_list("failures_since_start", "attempt_time")) == rows
        )

    def test_the_api_token_lockout_is_json_with_retry_after(self, client, world):
        for _ in range(settings.AXES_FAILURE_LIMIT):
            fail(client, "api-token", username="trainer")
        response = client.post(reverse("api-token"), {"username": "trainer", "password": PASSWORD})
        assert retry_after(response) > 0
        assert response["Content-Type"] == "application/json"
        assert "Too many failed sign-in attempts" in response.json()["detail"]

    def test_the_admin_login_lockout_says_when_to_retry(self, client, world):
        for _ in range(settings.AXES_FAILURE_LIMIT):
            fail(client, "admin:login", username="admin")
        response = client.post(reverse("admin:login"), {"username": "admin", "password": PASSWORD})
        assert retry_after(response) > 0
