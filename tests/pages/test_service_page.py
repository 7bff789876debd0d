"""One service: everything a person needs to go, call or ask."""

import uuid

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


class ServicePageTests:
    def test_it_shows_everything_about_the_service(self, client, directory):
        response = client.get(reverse("directory-service", args=[directory.walking.pk]))
        assert response.status_code == 200
        html = response.content.decode()
        assert '<h1 class="heading-l">Hyde Walking Group</h1>' in html
        assert "Run by Hyde Ramblers" in html
        assert "Tuesdays, 10am to 12pm" in html
        assert "Hyde Park bandstand" in html and "SK14 1PW" in html
        assert (
            'href="https://www.google.com/maps/dir/?api=1&amp;destination=53.450040,-2.069602"'
            in html
        )
        assert 'href="tel:01614960001">Call 0161 496 0001</a>' in html
        assert 'href="mailto:walks@example.org"' in html
        assert 'href="https://walks.example.org/"' in html
        assert "Step-free paths" in html
        assert "English, Urdu" in html
        assert "Drop in" in html and "Just turn up" in html
        assert ">Free<" in html
        assert "Get more active" in html and "Feeling lonely" in html
        checked = directory.walking.assured_date
        assert f'Checked in <time datetime="{checked:%Y-%m}">{checked:%B %Y}</time>' in html, (
            "a month-old check is shown as its month"
        )
        assert reverse("directory-report", args=[directory.walking.pk]) in html

    def test_it_explains_a_referral_and_the_link_worker(self, client, directory):
        html = client.get(reverse("directory-service", args=[directory.money.pk])).content.decode()
        assert "Needs a referral" in html
        assert (
            "social prescribing link worker (someone at your practice who helps you find local support)"
            in html
        )
        assert "Mondays and Thursdays, 9:30am to 1pm" in html
        assert "£3.00 per session" in html
        assert "This listing has not been checked yet." in html

    def test_it_says_when_a_service_is_temporarily_closed(self, client, directory):
        response = client.get(reverse("directory-service", args=[directory.closed.pk]))
        assert response.status_code == 200
        assert "Temporarily closed" in response.content.decode()

    def test_it_says_a_24_hour_service_is_open_now(self, client, directory):
        html = client.get(
            reverse("directory-service", args=[directory.helpline.pk])
        ).content.decode()
        assert "Every day, 24 hours" in html and "Open now" in html

    def test_it_is_404_for_a_retired_service(self, client, directory):
        assert (
            client.get(reverse("directory-service", args=[directory.defunct.pk])).status_code == 404
        )

    def test_it_is_404_for_an_unknown_service(self, client, directory):
        assert client.get(reverse("directory-service", args=[uuid.uuid4()])).status_code == 404
        assert client.get("/services/not-a-uuid/").status_code == 404

    def test_it_refuses_a_post(self, client, directory):
        assert (
            client.post(reverse("directory-service", args=[directory.walking.pk])).status_code
            == 405
        )
