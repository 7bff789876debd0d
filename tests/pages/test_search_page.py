"""Find support near me: the results page (and the home page that leads to it)."""

import json
import re

import pytest
from django.test import override_settings
from django.urls import reverse

pytestmark = pytest.mark.django_db


def names(response) -> list[str]:
    html = response.content.decode()
    return re.findall(
        r'class="result__title"><a href="[^"]+">(?:<span[^>]*>[^<]*</span>)?([^<]+)</a>', html
    )


class HomePageTests:
    def test_it_asks_for_a_postcode_and_offers_need_cards(self, client, directory):
        response = client.get(reverse("home"))
        assert response.status_code == 200
        html = response.content.decode()
        assert (
            '<label class="label label--l" for="postcode">Enter your postcode or town</label>'
            in html
        )
        assert "Feeling lonely" in html and "Money worries" in html and "Get more active" in html
        assert 'action="/search/"' in html
        # "Link worker" is explained where it first appears.
        assert "social prescribing link worker</strong>: someone who" in html

    def test_it_refuses_a_post(self, client, directory):
        assert client.post(reverse("home")).status_code == 405


class SearchResultsTests:
    def test_it_lists_what_is_near_nearest_first_with_distance_in_miles_and_km(
        self, client, directory
    ):
        response = client.get(reverse("directory-search"), {"postcode": "sk14 1aa"})
        assert response.status_code == 200
        found = names(response)
        assert found[:3] == [
            "Money Matters Hyde",
            "Hyde Library Online Centre",
            "Hyde Walking Group",
        ]
        assert "Clerkenwell Choir" not in found and "Old Lunch Club" not in found
        html = response.content.decode()
        assert "Support near SK14 1AA" in html
        assert "0.4 miles (0.6 km) away" in html  # Hyde Walking Group, ~650 m
        assert "Needs a referral" in html and "Drop in" in html
        assert "£3.00 per session" in html and ">Free<" in html

    def test_it_lists_the_same_services_as_the_api_for_the_same_query(self, client, directory):
        query = {"postcode": "SK14 1AA", "radius": "5000", "need": "loneliness", "page_size": "20"}
        api = [r["name"] for r in client.get("/api/services/", query).json()["results"]]
        assert api and names(client.get(reverse("directory-search"), query)) == api

    def test_it_finds_a_service_covering_the_area_with_no_building_nearby(self, client, directory):
        response = client.get(
            reverse("directory-search"), {"postcode": "SK14 1AA", "radius": "1609"}
        )
        found = names(response)
        assert "Tameside Health Trainers" in found  # its base is 4 km away; its area covers SK14
        assert "also covers your area" in response.content.decode()

    def test_it_leaves_out_temporarily_closed_and_defunct_services(self, client, directory):
        # Service.objects.searchable(): active only (a paused service keeps its own page).
        found = names(client.get(reverse("directory-search"), {"postcode": "SK14 1AA"}))
        assert "Old Lunch Club" not in found and "Hyde Tea Dance" not in found
        assert "Hyde Walking Group" in found

    def test_it_filters_by_need(self, client, directory):
        response = client.get(
            reverse("directory-search"),
            {"postcode": "SK14 1AA", "need": ["money-debt", "digital-skills"]},
        )
        assert sorted(names(response)) == ["Hyde Library Online Centre", "Money Matters Hyde"]
        assert 'value="money-debt" id="need-money-debt" checked' in response.content.decode()

    def test_it_filters_by_kind(self, client, directory):
        response = client.get(
            reverse("directory-search"), {"postcode": "SK14 1AA", "kind": "online_centre"}
        )
        assert names(response) == ["Hyde Library Online Centre"]

    def test_it_filters_free_only(self, client, directory):
        found = names(
            client.get(reverse("directory-search"), {"postcode": "SK14 1AA", "free": "true"})
        )
        assert "Money Matters Hyde" not in found and "Hyde Walking Group" in found

    def test_it_filters_open_now(self, client, directory):
        response = client.get(reverse("directory-search"), {"postcode": "SK14 1AA", "open": "now"})
        found = names(response)
        assert "Hyde Listening Line" in found  # open 24 hours every day
        assert response.content.decode().count('tag--green">Open now') == len(found)

    def test_it_narrows_by_radius(self, client, directory):
        found = names(
            client.get(reverse("directory-search"), {"postcode": "SK14 1AA", "radius": "500"})
        )
        assert "Money Matters Hyde" in found and "Hyde Walking Group" not in found

    def test_it_pages_with_the_api_parameter_names(self, client, directory):
        first = client.get(reverse("directory-search"), {"postcode": "SK14 1AA", "page_size": "2"})
        second = client.get(
            reverse("directory-search"), {"postcode": "SK14 1AA", "page_size": "2", "page": "2"}
        )
        assert len(names(first)) == 2 and len(names(second)) == 2
        assert not set(names(first)) & set(names(second))
        html = second.content.decode()
        assert "Page 2 of" in html and 'rel="prev"' in html and 'rel="next"' in html
        assert '<ol class="results__list" start="3">' in html

    def test_it_draws_numbered_markers_for_the_map(self, client, directory):
        response = client.get(reverse("directory-search"), {"postcode": "SK14 1AA"})
        data = re.search(
            r'<script id="map-data" type="application/json">(.*?)</script>',
            response.content.decode(),
        ).group(1)
        markers = json.loads(data)["markers"]
        assert [m["number"] for m in markers] == list(range(1, len(markers) + 1))
        assert markers[0]["name"] == "Money Matters Hyde"

    def test_it_says_when_distances_are_approximate(self, client, directory):
        response = client.get(reverse("directory-search"), {"postcode": "SK14 9ZZ"})
        assert response.status_code == 200
        assert "Distances are approximate." in response.content.decode()
        assert names(response)

    def test_it_says_a_postcode_district_alone_gives_approximate_distances(self, client, directory):
        html = client.get(reverse("directory-search"), {"postcode": "sk14"}).content.decode()
        assert "measured from the middle of the SK14 area. Enter your full postcode" in html

    def test_it_shows_just_the_form_when_nothing_was_asked(self, client, directory):
        response = client.get(reverse("directory-search"))
        assert response.status_code == 200
        assert "There is a problem" not in response.content.decode()

    def test_it_says_nothing_was_found_and_what_to_try(self, client, directory):
        response = client.get(
            reverse("directory-search"), {"postcode": "SK14 1AA", "need": "domestic-abuse"}
        )
        assert response.status_code == 200
        assert "No results near SK14 1AA" in response.content.decode()

    def test_it_refuses_a_post(self, client, directory):
        assert client.post(reverse("directory-search"), {"postcode": "SK14 1AA"}).status_code == 405


class SearchErrorTests:
    def assert_error(self, response, field_id: str, words: str):
        assert response.status_code == 400
        html = response.content.decode()
        assert "There is a problem" in html
        assert f'<a href="#{field_id}">' in html
        assert words in html
        assert "<title>Error:" in html

    def test_it_explains_a_malformed_postcode(self, client, directory):
        response = client.get(reverse("directory-search"), {"postcode": "hello"})
        self.assert_error(response, "postcode", "Enter a full UK postcode, like SK14 4QH")
        assert 'aria-invalid="true"' in response.content.decode()
        assert 'aria-describedby="postcode-hint postcode-error"' in response.content.decode()

    def test_it_asks_for_a_missing_postcode(self, client, directory):
        self.assert_error(
            client.get(reverse("directory-search"), {"postcode": ""}),
            "postcode",
            "Enter a postcode.",
        )

    def test_it_explains_a_postcode_it_cannot_find(self, client, directory):
        self.assert_error(
            client.get(reverse("directory-search"), {"postcode": "BT1 1AA"}),
            "postcode",
            "We could not find BT1 1AA",
        )

    def test_it_refuses_an_unknown_need(self, client, directory):
        self.assert_error(
            client.get(reverse("directory-search"), {"postcode": "SK14 1AA", "need": "unicorns"}),
            "need-loneliness",
            "We do not know the need",
        )

    @override_settings(SEARCH_RADIUS_MAX_M=20000)
    def test_it_refuses_a_radius_over_the_cap(self, client, directory):
        self.assert_error(
            client.get(reverse("directory-search"), {"postcode": "SK14 1AA", "radius": "40000"}),
            "radius",
            "radius (metres) must be between 1 and 20000",
        )

    def test_it_refuses_a_page_past_the_end(self, client, directory):
        response = client.get(reverse("directory-search"), {"postcode": "SK14 1AA", "page": "9"})
        assert response.status_code == 400
        assert "There is only 1 page of results" in response.content.decode()
