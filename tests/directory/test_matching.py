"""The directory's one matching rule: within the radius, or covered by a service area."""

from django.contrib.gis.geos import MultiPolygon, Polygon

from directory.models import Service, ServiceArea
from directory.search import search_services
from tests.directory.conftest import make_service


def names(result):
    return [s.name for s in result.results]


class MatchingRuleTests:
    def test_it_finds_a_service_within_the_radius_and_says_why(self, places):
        make_service("Hyde Walks", at="SK14 1PW")

        result = search_services({"postcode": "SK14 1AA", "radius": "1000"})

        assert names(result) == ["Hyde Walks"]
        assert result.results[0].match == "within_radius"
        assert 600 < result.results[0].distance < 700

    def test_it_leaves_out_a_service_beyond_the_radius(self, places):
        make_service("Manchester Walks", at="M1 1AE")

        assert search_services({"postcode": "SK14 1AA", "radius": "5000"}).total == 0
        assert search_services({"postcode": "SK14 1AA", "radius": "12000"}).total == 1

    def test_it_finds_a_service_whose_area_lists_the_postcode_district(self, places):
        # A borough-wide phone line based 10 km away, covering SK14.
        make_service("Tameside Befriending", at="M1 1AE", districts=["SK14", "SK15"])

        result = search_services({"postcode": "SK14 1AA", "radius": "1000"})

        assert names(result) == ["Tameside Befriending"]
        assert result.results[0].match == "service_area"
        assert result.results[0].distance > 10_000

    def test_it_finds_a_service_area_without_any_building(self, places):
        make_service("Tameside Phone Line", districts=["SK14"])

        result = search_services({"postcode": "SK14 4QH"})

        assert names(result) == ["Tameside Phone Line"]
        assert result.results[0].match == "service_area"
        assert result.results[0].distance is None
        assert result.results[0].nearest_location is None

    def test_it_leaves_out_a_nearby_service_whose_area_excludes_the_place(self, places):
        # Based in Hyde, but only for people living in Glossop (SK13).
        make_service("Glossop Carers", at="SK14 1PW", districts=["SK13"])

        assert search_services({"postcode": "SK14 1AA", "radius": "5000"}).total == 0
        assert search_services({"postcode": "SK13 8AA", "radius": "1000"}).total == 1

    def test_it_finds_a_service_whose_polygon_covers_the_place(self, places):
        service = make_service("Hyde Polygon Service")
        square = Polygon.from_bbox((-2.10, 53.44, -2.06, 53.46))
        ServiceArea.objects.create(service=service, extent=MultiPolygon(square, srid=4326))

        assert names(search_services({"postcode": "SK14 1AA"})) == ["Hyde Polygon Service"]
        assert search_services({"postcode": "SK15 1AA", "radius": "100"}).total == 0

    def test_it_says_within_radius_when_both_reasons_hold(self, places):
        make_service("Hyde Both", at="SK14 1PW", districts=["SK14"])

        result = search_services({"postcode": "SK14 1AA", "radius": "1000"})

        assert [(s.name, s.match) for s in result.results] == [("Hyde Both", "within_radius")]

    def test_it_orders_nearest_first_and_area_only_services_last(self, places):
        make_service("Far", at="SK15 1AA")
        make_service("Near", at="SK14 1PW")
        make_service("Area only", districts=["SK14"])
        make_service("Middle", at="SK14 4QH")

        assert names(search_services({"postcode": "SK14 1AA"})) == [
            "Near",
            "Middle",
            "Far",
            "Area only",
        ]

    def test_it_never_shows_retired_services(self, places):
        make_service("Closed Walks", at="SK14 1PW", status=Service.Status.DEFUNCT)
        make_service("Paused Walks", at="SK14 1PW", status=Service.Status.TEMPORARILY_CLOSED)

        assert search_services({"postcode": "SK14 1AA"}).total == 0

    def test_it_measures_to_the_nearest_of_several_locations(self, places):
        from directory.models import Location, ServiceAtLocation

        service = make_service("Two Venues", at="SK15 1AA")
        near = Location.objects.create(
            name="Near venue", postal_code="SK14 1PW", point=places_point("SK14 1PW")
        )
        ServiceAtLocation.objects.create(service=service, location=near)

        found = search_services({"postcode": "SK14 1AA"}).results[0]

        assert found.nearest_location == near
        assert 600 < found.distance < 700

    def test_it_searches_from_coordinates(self, places):
        make_service("Hyde Walks", at="SK14 1PW")

        result = search_services({"lat": "53.451886", "lng": "-2.078805", "radius": "1000"})

        assert names(result) == ["Hyde Walks"]
        assert result.place.precision == "coordinates"

    def test_it_falls_back_to_the_district_and_says_so(self, places):
        make_service("Hyde Walks", at="SK14 1PW")

        result = search_services({"postcode": "SK14 9ZZ"})

        assert result.place.precision in {"sector", "district"}
        assert result.place.approximate
        assert names(result) == ["Hyde Walks"]


def places_point(postcode):
    from django.contrib.gis.geos import Point

    from tests.directory.conftest import PLACES

    lat, lng = PLACES[postcode]
    return Point(lng, lat, srid=4326)
