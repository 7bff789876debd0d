"""Report a problem with this listing: a short form, resistant to spam, that editors see."""

import uuid

import pytest
from django.contrib.auth.models import Group, User
from django.core.cache import cache
from django.test import override_settings
from django.urls import reverse

from directory.forms import started_token
from directory.models import ListingReport

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_cache(settings):
    settings.LISTING_REPORT_MIN_SECONDS = 0  # each test that cares sets its own
    cache.clear()
    yield
    cache.clear()


def report(client, service, **fields):
    data = {
        "reason": "times",
        "details": "It is on Wednesdays now.",
        "email": "",
        "website": "",
        "started": started_token(),
    }
    data.update(fields)
    return client.post(reverse("directory-report", args=[service.pk]), data)


class ReportListingTests:
    def test_it_shows_a_short_form(self, client, directory):
        response = client.get(reverse("directory-report", args=[directory.walking.pk]))
        assert response.status_code == 200
        html = response.content.decode()
        assert "Report a problem with this listing" in html
        assert "Opening times are wrong" in html
        assert 'name="website"' in html and 'name="started"' in html

    def test_it_saves_a_report_and_thanks_the_person(self, client, directory):
        response = report(client, directory.walking)
        assert response.status_code == 302
        assert response["Location"] == reverse("directory-report-sent", args=[directory.walking.pk])
        saved = ListingReport.objects.get()
        assert (saved.service, saved.reason, saved.resolved) == (directory.walking, "times", False)
        assert "Thank you" in client.get(response["Location"]).content.decode()

    def test_it_asks_what_is_wrong(self, client, directory):
        response = report(client, directory.walking, reason="")
        assert response.status_code == 400
        html = response.content.decode()
        assert '<a href="#id_reason_0">Select what is wrong with this listing.</a>' in html
        assert not ListingReport.objects.exists()

    def test_it_refuses_a_bad_email(self, client, directory):
        response = report(client, directory.walking, email="not-an-email")
        assert response.status_code == 400
        assert "Enter an email address like name@example.com" in response.content.decode()

    def test_it_keeps_nothing_when_the_hidden_field_is_filled(self, client, directory):
        response = report(client, directory.walking, website="http://spam.example")
        assert response.status_code == 302  # a bot is told nothing
        assert not ListingReport.objects.exists()

    @override_settings(LISTING_REPORT_MIN_SECONDS=30)
    def test_it_refuses_a_form_sent_faster_than_a_person_could(self, client, directory):
        response = report(client, directory.walking)
        assert response.status_code == 400
        assert "select Send report again" in response.content.decode()
        assert not ListingReport.objects.exists()

    def test_it_refuses_a_forged_start_time(self, client, directory):
        assert report(client, directory.walking, started="12345").status_code == 400
        assert not ListingReport.objects.exists()

    @override_settings(LISTING_REPORT_LIMIT_PER_HOUR=2)
    def test_it_limits_reports_from_one_address(self, client, directory):
        assert report(client, directory.walking).status_code == 302
        assert report(client, directory.money).status_code == 302
        response = report(client, directory.walking)
        assert response.status_code == 429
        assert "too many reports" in response.content.decode()
        assert ListingReport.objects.count() == 2

    def test_it_is_404_for_a_retired_or_unknown_service(self, client, directory):
        assert report(client, directory.defunct).status_code == 404
        assert client.get(reverse("directory-report", args=[uuid.uuid4()])).status_code == 404

    def test_it_refuses_other_methods(self, client, directory):
        assert (
            client.put(reverse("directory-report", args=[directory.walking.pk])).status_code == 405
        )
        assert (
            client.post(reverse("directory-report-sent", args=[directory.walking.pk])).status_code
            == 405
        )

    def test_editors_see_reports_in_the_admin(self, client, directory):
        report(client, directory.walking)
        editor = User.objects.create_user("ed", password="x-long-password-1", is_staff=True)
        editor.groups.add(Group.objects.get(name="Directory editors"))
        client.force_login(editor)
        response = client.get(reverse("admin:directory_listingreport_changelist"))
        assert response.status_code == 200
        assert "Hyde Walking Group" in response.content.decode()
