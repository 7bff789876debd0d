import math

import pytest
from django.urls import reverse

from tests.conftest import add_postcode, rebuild_postcode_areas

# SK14 4DB is the only postcode of sector SK14 4 in the test gazetteer, so that sector's centroid is
# exactly this point, and the SK14 district's centroid is the mean of the three SK14 points.
SK14_4DB = (53.459359, -2.074150)


@pytest.fixture
def hyde(gazetteer):
    add_postcode("SK14 4DB", *SK14_4DB)
    rebuild_postcode_areas()
    return {**gazetteer, "SK14 4DB": SK14_4DB}


def detail(client, postcode):
    return client.get(reverse("geo-postcode", args=[postcode]))


def nearest(client, **params):
    return client.get(reverse("geo-postcodes-nearest"), params)


def metres_between(a, b):
    """Great-circle distance; close enough to PostGIS's spheroid for a 1% tolerance."""
    lat1, lng1, lat2, lng2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lng2 - lng1) / 2) ** 2
    )
    return 2 * 6_371_008.8 * math.asin(math.sqrt(h))


class PostcodeDetailTests:
    def test_it_places_a_known_postcode_exactly(self, client, hyde):
        response = detail(client, "SK14 1AA")

        assert response.status_code == 200
        assert response.json() == {
            "postcode": "SK14 1AA",
            "outcode": "SK14",
            "latitude": pytest.approx(53.451886, abs=1e-6),
            "longitude": pytest.approx(-2.078805, abs=1e-6),
            "precision": "postcode",
        }

    def test_it_normalises_what_was_typed(self, client, hyde):
        response = detail(client, " ec1a1bb ")

        assert response.status_code == 200
        assert response.json()["postcode"] == "EC1A 1BB"
        assert response.json()["precision"] == "postcode"

    def test_it_falls_back_to_the_sector_for_an_unknown_postcode(self, client, hyde):
        response = detail(client, "SK14 4DE")

        assert response.status_code == 200
        body = response.json()
        assert body["precision"] == "sector"
        assert body["postcode"] == "SK14 4DE"
        assert body["outcode"] == "SK14"
        assert (body["latitude"], body["longitude"]) == pytest.approx(SK14_4DB, abs=1e-6)

    def test_it_falls_back_to_the_district_when_the_sector_is_unknown_too(self, client, hyde):
        response = detail(client, "SK14 9ZZ")

        assert response.status_code == 200
        body = response.json()
        assert body["precision"] == "district"
        sk14 = [point for code, point in hyde.items() if code.startswith("SK14 ")]
        mean = (sum(p[0] for p in sk14) / len(sk14), sum(p[1] for p in sk14) / len(sk14))
        assert (body["latitude"], body["longitude"]) == pytest.approx(mean, abs=1e-5)

    def test_it_answers_an_outcode_with_the_district_centroid(self, client, hyde):
        response = detail(client, "ec1a")

        assert response.status_code == 200
        body = response.json()
        assert body["precision"] == "district"
        assert body["outcode"] == "EC1A"
        assert body["postcode"] is None
        assert (body["latitude"], body["longitude"]) == pytest.approx(hyde["EC1A 1BB"], abs=1e-6)

    @pytest.mark.parametrize("typed", ["QQ1 1AA", "SK14 4D", "12345", "SK14-4DE!", "X" * 40])
    def test_it_refuses_malformed_input_with_a_400_saying_why(self, client, hyde, typed):
        response = detail(client, typed)

        assert response.status_code == 400
        body = response.json()
        assert list(body) == ["detail"]
        assert "SK14 4QH" in body["detail"]

    @pytest.mark.parametrize("typed", ["BT1 1AA", "BT1", "ZE1 0AA"])
    def test_it_answers_404_when_even_the_district_is_unknown(self, client, hyde, typed):
        response = detail(client, typed)

        assert response.status_code == 404
        assert "could not find" in response.json()["detail"]

    def test_it_refuses_a_post(self, client, hyde):
        response = client.post(reverse("geo-postcode", args=["SK14 1AA"]), {})

        assert response.status_code == 405


class NearestPostcodesTests:
    def test_it_lists_the_nearest_postcodes_first_with_their_distance(self, client, hyde):
        here = (53.4521, -2.0790)  # a few tens of metres from SK14 1AA

        response = nearest(client, lat=here[0], lng=here[1])

        assert response.status_code == 200
        results = response.json()["results"]
        assert [r["postcode"] for r in results] == ["SK14 1AA", "SK14 1PW", "SK14 4DB", "EC1A 1BB"]
        distances = [r["distance_m"] for r in results]
        assert distances == sorted(distances)
        for result in results:
            expected = metres_between(here, hyde[result["postcode"]])
            assert result["distance_m"] == pytest.approx(expected, rel=0.01, abs=1)
            assert (result["latitude"], result["longitude"]) == pytest.approx(
                hyde[result["postcode"]], abs=1e-6
            )

    def test_it_orders_by_distance_from_where_it_is_asked(self, client, hyde):
        response = nearest(client, lat=51.52, lng=-0.11)  # central London

        assert response.json()["results"][0]["postcode"] == "EC1A 1BB"

    def test_it_respects_the_limit(self, client, hyde):
        response = nearest(client, lat=53.4521, lng=-2.0790, limit=2)

        assert response.status_code == 200
        assert [r["postcode"] for r in response.json()["results"]] == ["SK14 1AA", "SK14 1PW"]

    @pytest.mark.parametrize(
        "params, field, words",
        [
            ({"lat": 48.5, "lng": -2.0}, "lat", "outside the UK"),  # Brittany
            ({"lat": 62.0, "lng": -2.0}, "lat", "outside the UK"),
            ({"lat": 53.4, "lng": 2.5}, "lng", "outside the UK"),  # the North Sea, off Belgium
            ({"lat": 53.4, "lng": -10.0}, "lng", "outside the UK"),
            ({"lat": "abc", "lng": -2.0}, "lat", "must be a number"),
            ({"lat": "nan", "lng": -2.0}, "lat", ""),
            ({"lat": 53.4, "lng": "inf"}, "lng", ""),
            ({"lng": -2.0}, "lat", "required"),
            ({"lat": 53.4}, "lng", "required"),
            ({"lat": 53.4, "lng": -2.0, "limit": 101}, "limit", "at most 100"),
            ({"lat": 53.4, "lng": -2.0, "limit": 0}, "limit", ""),
            ({"lat": 53.4, "lng": -2.0, "limit": "ten"}, "limit", ""),
        ],
    )
    def test_it_refuses_bad_input_with_a_400_naming_the_field(
        self, client, hyde, params, field, words
    ):
        response = nearest(client, **params)

        assert response.status_code == 400
        body = response.json()
        assert field in body
        assert words in " ".join(body[field])

    def test_it_allows_the_largest_limit(self, client, hyde):
        response = nearest(client, lat=53.4, lng=-2.0, limit=100)

        assert response.status_code == 200
        assert len(response.json()["results"]) == 4

    def test_it_refuses_a_post(self, client, hyde):
        response = client.post(reverse("geo-postcodes-nearest"), {"lat": 53.4, "lng": -2.0})

        assert response.status_code == 405
