"""GET /api/services/ and friends: the answers, every refusal, pagination edges, GeoJSON."""

import pytest
from django.urls import reverse

from directory.models import Service
from tests.directory.conftest import make_service

URL = "/api/services/"


def get(client, **params):
    return client.get(URL, params)


@pytest.fixture
def hyde(places):
    make_service(
        "Near Walks",
        at="SK14 1PW",
        needs=["physical-activity"],
        price="0",
        sessions=[("MO,TU,WE,TH,FR,SA,SU", "00:00", "23:59")],
    )
    make_service("Middle Pantry", at="SK14 4QH", needs=["food"], price="3.50")
    make_service("Far Choir", at="SK15 1AA", needs=["arts-creativity"])
    return places


class SearchApiTests:
    def test_it_returns_results_nearest_first_with_what_a_person_needs(self, client, hyde):
        response = get(client, postcode="sk14 1aa", radius="5000")

        assert response.status_code == 200
        body = response.json()
        assert body["place"] == {
            "postcode": "SK14 1AA",
            "outcode": "SK14",
            "latitude": 53.451886,
            "longitude": -2.078805,
            "precision": "postcode",
            "approximate": False,
            "postcode_corrected": False,
            "name": None,
            "nation": None,
            "radius_m": 5000,
        }
        assert body["count"] == 3
        assert [r["name"] for r in body["results"]] == ["Near Walks", "Middle Pantry", "Far Choir"]
        first = body["results"][0]
        assert set(first) >= {
            "id",
            "name",
            "kind",
            "organization",
            "short_description",
            "needs",
            "cost_summary",
            "access",
            "next_opening",
            "nearest_location",
            "distance_m",
            "match",
        }
        assert first["needs"][0]["slug"] == "physical-activity"
        assert first["cost_summary"] == "Free"
        assert first["match"] == "within_radius"
        assert 600 < first["distance_m"] < 700
        assert first["nearest_location"]["postcode"] == "SK14 1PW"
        assert first["nearest_location"]["latitude"] == pytest.approx(53.450040)

    def test_it_filters_by_need(self, client, hyde):
        body = get(client, postcode="SK14 1AA", need="food").json()

        assert [r["name"] for r in body["results"]] == ["Middle Pantry"]

    def test_it_answers_geojson_for_maps(self, client, hyde):
        response = get(client, postcode="SK14 1AA", format="geojson")

        assert response.status_code == 200
        body = response.json()
        assert body["type"] == "FeatureCollection"
        assert len(body["features"]) == 3
        feature = body["features"][0]
        assert feature["type"] == "Feature"
        assert feature["geometry"]["type"] == "Point"
        assert feature["geometry"]["coordinates"] == pytest.approx([-2.069602, 53.450040])
        assert feature["properties"]["name"] == "Near Walks"
        assert body["place"]["postcode"] == "SK14 1AA"

    def test_it_refuses_to_change_anything(self, client, hyde):
        assert client.post(URL, {"postcode": "SK14 1AA"}).status_code in (403, 405)
        assert client.delete(URL).status_code in (403, 405)


class SearchApiRefusalTests:
    @pytest.mark.parametrize(
        ("params", "field", "words"),
        [
            ({"postcode": "not a postcode"}, "postcode", "is not a UK postcode"),
            ({"postcode": "BT1 1AA"}, "postcode", "could not find"),
            ({"lat": "fifty", "lng": "-2.07"}, "lat", "must be a number"),
            ({"lat": "53.45", "lng": "NaN"}, "lng", "must be a number"),
            ({"lat": "53.45"}, "lng", "Give lng"),
            ({"lat": "40.7", "lng": "-74.0"}, "lat", "outside the UK"),
            ({"postcode": "SK14 1AA", "lat": "53.4", "lng": "-2.0"}, "postcode", "not both"),
            ({"postcode": "SK14 1AA", "radius": "50001"}, "radius", "between 1 and 50000"),
            ({"postcode": "SK14 1AA", "radius": "0"}, "radius", "between 1 and 50000"),
            ({"postcode": "SK14 1AA", "radius": "5km"}, "radius", "whole number"),
            ({"need": "happiness"}, "need", "do not know the need 'happiness'"),
            ({"offer": "jetpacks"}, "offer", "do not know the offer"),
            ({"kind": "pub"}, "kind", "not a kind of service"),
            ({"access": "vip"}, "access", "Use one of"),
            ({"free": "maybe"}, "free", '"true" or "false"'),
            ({"age": "-3"}, "age", "between 0 and 120"),
            ({"age": "old"}, "age", "whole number"),
            ({"language": "<script>"}, "language", "not a language"),
            ({"open": "later"}, "open", 'only be "now"'),
            ({"open": "now", "day": "MO", "time": "10:00"}, "open", "not both"),
            ({"day": "Funday", "time": "10:00"}, "day", "not a day"),
            ({"day": "MO", "time": "25:00"}, "time", "24-hour clock"),
            ({"day": "MO"}, "time", "Give a time"),
            ({"time": "10:00"}, "day", "Give a day"),
            ({"page": "0"}, "page", "between 1"),
            ({"page": "two"}, "page", "whole number"),
            ({"page": "2"}, "page", "only 1 page"),
            ({"page_size": "101"}, "page_size", "between 1 and 100"),
            ({"q": "x" * 201}, "q", "at most 200"),
        ],
    )
    def test_it_refuses_bad_input_with_a_message_per_field(
        self, client, places, params, field, words
    ):
        response = get(client, **params)

        assert response.status_code == 400
        errors = response.json()["errors"]
        assert field in errors
        assert words.lower() in " ".join(errors[field]).lower()

    def test_it_reports_several_bad_fields_at_once(self, client, places):
        errors = get(client, kind="pub", need="happiness", radius="999999").json()["errors"]

        assert set(errors) == {"kind", "need", "radius"}


class PaginationTests:
    def test_it_pages_through_results(self, client, hyde):
        first = get(client, postcode="SK14 1AA", page_size="2").json()
        second = get(client, postcode="SK14 1AA", page_size="2", page="2").json()

        assert [first["count"], first["total_pages"], first["page"]] == [3, 2, 1]
        assert [r["name"] for r in first["results"]] == ["Near Walks", "Middle Pantry"]
        assert [r["name"] for r in second["results"]] == ["Far Choir"]
        assert first["previous"] is None and "page=2" in first["next"]
        assert second["next"] is None and "page=1" in second["previous"]

    def test_it_refuses_a_page_past_the_last(self, client, hyde):
        response = get(client, postcode="SK14 1AA", page_size="2", page="3")

        assert response.status_code == 400
        assert "only 2 pages" in response.json()["errors"]["page"][0]

    def test_it_answers_page_one_of_nothing(self, client, places):
        body = get(client, postcode="CA1 1AA").json()

        assert (body["count"], body["total_pages"], body["results"]) == (0, 1, [])

    def test_it_allows_a_hundred_a_page(self, client, hyde):
        assert get(client, page_size="100").json()["page_size"] == 100

    def test_it_pages_exactly_full_pages(self, client, hyde):
        body = get(client, page_size="3").json()

        assert (body["total_pages"], body["next"]) == (1, None)


class ServiceDetailApiTests:
    def test_it_shows_everything_about_a_service(self, client, hyde):
        service = Service.objects.get(name="Near Walks")

        response = client.get(reverse("directory-api-service", args=[service.pk]))

        assert response.status_code == 200
        body = response.json()
        assert body["name"] == "Near Walks"
        assert body["organization"]["name"] == "Tameside Community Trust"
        assert body["needs"][0]["slug"] == "physical-activity"
        assert (
            body["service_at_locations"][0]["location"]["addresses"][0]["postal_code"] == "SK14 1PW"
        )
        assert body["schedules"][0]["byday"] == "MO,TU,WE,TH,FR,SA,SU"

    def test_it_answers_404_for_an_unknown_service(self, client, db):
        response = client.get("/api/services/6f1c1a52-9d0e-4c39-9b8e-3c5a1f0f2a11/")

        assert response.status_code == 404


class VocabularyApiTests:
    def test_it_lists_the_needs(self, client, db):
        needs = client.get("/api/needs/").json()["results"]

        assert len(needs) >= 20
        assert {
            "slug": "loneliness",
            "name": "Loneliness and isolation",
            "label": "Feeling lonely",
            "description": "Meeting people, friendship, befriending and social groups.",
        } in needs

    def test_it_lists_the_kinds(self, client, db):
        kinds = client.get("/api/kinds/").json()["results"]

        assert [k["slug"] for k in kinds] == [
            "community_asset",
            "health_trainer_service",
            "online_centre",
        ]

    def test_it_lists_the_online_centre_offers(self, client, db):
        offers = client.get("/api/offers/").json()["results"]

        assert "free-wifi" in [o["slug"] for o in offers]


class OpenApiTests:
    def test_it_documents_the_search_parameters(self, client, db):
        response = client.get("/api/schema/", {"format": "json"})

        assert response.status_code == 200
        operation = response.json()["paths"]["/api/services/"]["get"]
        documented = {p["name"] for p in operation["parameters"]}
        assert documented >= {
            "postcode",
            "lat",
            "lng",
            "radius",
            "need",
            "offer",
            "kind",
            "q",
            "free",
            "access",
            "age",
            "language",
            "open",
            "day",
            "time",
            "page",
            "page_size",
            "format",
        }
