"""Report a problem: the hourly limit holds for every worker, and a form can be sent once."""

import pytest
from django.core.cache import cache
from django.urls import reverse

from directory.forms import started_token
from directory.models import ListingReport

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_cache(settings):
    settings.LISTING_REPORT_MIN_SECONDS = 0
    cache.clear()
    yield
    cache.clear()


def report(client, service, started=None, email="", **meta):
    data = {
        "reason": "times",
        "details": "It is on Wednesdays now.",
        "email": email,
        "website": "",
        "started": started or started_token(),
    }
    return client.post(reverse("directory-report", args=[service.pk]), data, **meta)


class ReportLimitTests:
    def test_a_burst_of_50_stores_no_more_than_the_limit(self, client, directory, settings):
        settings.LISTING_REPORT_LIMIT_PER_HOUR = 10
        responses = [report(client, directory.walking) for _ in range(50)]
        assert [r.status_code for r in responses] == [302] * 10 + [429] * 40
        assert ListingReport.objects.count() == 10
        for response in responses[10:]:
            assert 1 <= int(response["Retry-After"]) <= 3600
            assert "too many reports" in response.content.decode()

    def test_each_address_has_its_own_allowance(self, client, directory, settings):
        settings.LISTING_REPORT_LIMIT_PER_HOUR = 1
        assert report(client, directory.walking, REMOTE_ADDR="198.51.100.1").status_code == 302
        assert report(client, directory.walking, REMOTE_ADDR="198.51.100.1").status_code == 429
        assert report(client, directory.walking, REMOTE_ADDR="198.51.100.2").status_code == 302

    def test_a_made_up_forwarded_address_does_not_earn_a_new_allowance(
        self, client, directory, settings
    ):
        settings.LISTING_REPORT_LIMIT_PER_HOUR = 1
        for n, expected in ((1, 302), (2, 429), (3, 429)):
            response = report(client, directory.walking, HTTP_X_FORWARDED_FOR=f"203.0.113.{n}")
            assert response.status_code == expected
        assert ListingReport.objects.count() == 1

    def test_behind_a_trusted_proxy_each_client_has_its_own_allowance(
        self, client, directory, settings
    ):
        settings.LISTING_REPORT_LIMIT_PER_HOUR = 1
        settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
        via_proxy = {"REMOTE_ADDR": "10.0.0.2"}
        first = report(client, directory.walking, HTTP_X_FORWARDED_FOR="203.0.113.1", **via_proxy)
        again = report(client, directory.walking, HTTP_X_FORWARDED_FOR="203.0.113.1", **via_proxy)
        other = report(client, directory.walking, HTTP_X_FORWARDED_FOR="203.0.113.2", **via_proxy)
        assert (first.status_code, again.status_code, other.status_code) == (302, 429, 302)


class SingleUseTokenTests:
    def test_a_replayed_form_is_refused_and_nothing_is_stored(self, client, directory):
        token = started_token()
        assert report(client, directory.walking, started=token).status_code == 302
        replays = [report(client, directory.walking, started=token) for _ in range(5)]
        assert {r.status_code for r in replays} == {400}
        assert "This report has already been sent" in replays[0].content.decode()
        assert ListingReport.objects.count() == 1

    def test_a_replay_to_another_listing_is_refused_too(self, client, directory):
        token = started_token()
        assert report(client, directory.walking, started=token).status_code == 302
        assert report(client, directory.money, started=token).status_code == 400
        assert ListingReport.objects.count() == 1

    def test_a_form_with_a_mistake_keeps_its_token_for_the_corrected_send(self, client, directory):
        token = started_token()
        response = report(client, directory.walking, started=token, email="not-an-email")
        assert response.status_code == 400
        assert report(client, directory.walking, started=token).status_code == 302
        assert ListingReport.objects.count() == 1
