"""Get online (online centres and their offers) and Health trainers near me."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


class GetOnlineTests:
    def test_it_explains_itself_before_a_search(self, client, directory):
        response = client.get(reverse("directory-get-online"))
        assert response.status_code == 200
        assert "NHS App" in response.content.decode()

    def test_it_finds_online_centres_and_says_what_they_offer(self, client, directory):
        response = client.get(reverse("directory-get-online"), {"postcode": "SK14 1AA"})
        assert response.status_code == 200
        html = response.content.decode()
        assert "1 online centre near SK14 1AA" in html
        assert "Hyde Library Online Centre" in html and "Money Matters Hyde" not in html
        assert "Free wifi" in html and "Help with the NHS App" in html and "Borrow a device" in html
        assert 'href="tel:01614960003"' in html

    def test_it_filters_by_what_is_offered(self, client, directory):
        html = client.get(
            reverse("directory-get-online"), {"postcode": "SK14 1AA", "offer": "printing"}
        ).content.decode()
        assert "No online centres found near SK14 1AA" in html

    def test_it_explains_a_bad_postcode(self, client, directory):
        response = client.get(reverse("directory-get-online"), {"postcode": "12345"})
        assert response.status_code == 400
        assert '<a href="#postcode">' in response.content.decode()

    def test_it_refuses_an_unknown_offer(self, client, directory):
        response = client.get(
            reverse("directory-get-online"), {"postcode": "SK14 1AA", "offer": "jetpacks"}
        )
        assert response.status_code == 400
        assert '<a href="#offer-free-wifi">' in response.content.decode()

    def test_it_refuses_a_post(self, client, directory):
        assert client.post(reverse("directory-get-online")).status_code == 405


class HealthTrainersTests:
    def test_it_explains_what_a_health_trainer_is(self, client, directory):
        response = client.get(reverse("directory-health-trainers"))
        assert response.status_code == 200
        assert "A health trainer is a friendly, trained person" in response.content.decode()

    def test_it_offers_to_refer_yourself_without_a_gp(self, client, directory):
        page = client.get(reverse("directory-health-trainers")).content.decode()
        assert f'href="{reverse("referrals-self")}"' in page
        assert client.get(reverse("referrals-self")).status_code == 200

    def test_every_page_links_to_the_widget_and_referring_yourself(self, client, directory):
        page = client.get(reverse("directory-search")).content.decode()
        assert f'href="{reverse("directory-embed")}"' in page
        assert f'href="{reverse("referrals-self")}"' in page

    def test_it_finds_the_service_covering_the_postcode_with_how_to_get_in_touch(
        self, client, directory
    ):
        # The team is based in Stalybridge, further than the radius, but covers SK14.
        response = client.get(
            reverse("directory-health-trainers"), {"postcode": "SK14 1AA", "radius": "1609"}
        )
        html = response.content.decode()
        assert "1 health trainer service for SK14 1AA" in html
        assert "Tameside Health Trainers" in html
        assert 'href="tel:01614960004"' in html and 'href="mailto:trainers@example.org"' in html
        assert "Hyde Walking Group" not in html

    def test_it_says_when_none_covers_the_postcode(self, client, directory):
        html = client.get(
            reverse("directory-health-trainers"), {"postcode": "EC1A 1BB"}
        ).content.decode()
        assert "No health trainer service found for EC1A 1BB" in html

    def test_it_explains_a_missing_postcode(self, client, directory):
        response = client.get(reverse("directory-health-trainers"), {"postcode": " "})
        assert response.status_code == 400
        assert "Enter a postcode." in response.content.decode()

    def test_it_refuses_a_post(self, client, directory):
        assert client.post(reverse("directory-health-trainers")).status_code == 405
