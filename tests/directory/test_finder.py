"""The search's one SQL statement (directory.finder) against the ORM's rules and the API's
documented shapes: same services, nearest first, each once, with a total that stops early."""

import json

import pytest

from directory import finder, params
from directory.models import Location, Service, ServiceAtLocation, TaxonomyTerm
from directory.search import parse_search, search_services
from directory.serializers import (
    ResultFeatureSerializer,
    ResultSerializer,
    feature_dict,
    result_dict,
)
from tests.directory.conftest import PLACES, make_service


def _everything(params) -> list[Service]:
    found, page = [], 1
    while True:
        result = search_services({**params, "page_size": "100", "page": str(page)})
        found += result.results
        if not result.has_next:
            return found
        page += 1


@pytest.fixture
def spread(places):
    """Services at every test postcode, some by area, some excluded by their own area."""
    make_service("Hyde Walks", at="SK14 1PW", needs=["loneliness"])
    make_service("Town Centre Pantry", at="SK14 1AA", needs=["food"], price="2.50")
    make_service("Glossop Choir", at="SK13 8AA", needs=["loneliness"])
    make_service("Manchester Line", at="M1 1AE", districts=["SK14"], needs=["loneliness"])
    make_service("Stalybridge Only", at="SK14 1PW", districts=["SK15"])
    make_service("Borough Phone Line", districts=["SK14", "SK13"])
    make_service("City Walks", at="S7 1AA", needs=["loneliness"])
    make_service("Closed For Now", at="SK14 1AA", status=Service.Status.TEMPORARILY_CLOSED)


class AgreesWithTheRuleTests:
    @pytest.mark.parametrize("postcode", ["SK14 1AA", "SK13 8AA", "M1 1AE", "S7 1AA"])
    @pytest.mark.parametrize("radius", ["500", "5000", "20000"])
    def test_the_same_services_as_the_orm_rule(self, spread, postcode, radius):
        query = parse_search({"postcode": postcode, "radius": radius})
        place = query["place"]
        expected = Service.objects.searchable().serving(place.point, int(radius), place.outcode)
        by_rule = {s.pk: s for s in expected}

        found = _everything({"postcode": postcode, "radius": radius})

        assert sorted(s.pk for s in found) == sorted(by_rule)
        for service in found:
            assert service.match == by_rule[service.pk].match
            if by_rule[service.pk].distance is None:
                assert service.distance is None
            else:  # the rule measures on the spheroid, the search in National Grid metres
                expected = by_rule[service.pk].distance
                assert service.distance == pytest.approx(expected, rel=0.002, abs=1)

    def test_nearest_first_then_services_found_by_area(self, spread):
        found = _everything({"postcode": "SK14 1AA", "radius": "5000"})

        matches = [s.match for s in found]
        assert matches == sorted(matches, key=lambda m: m != "within_radius")
        near = [s.distance for s in found if s.match == "within_radius"]
        assert near == sorted(near)
        assert found[-1].name == "Borough Phone Line"  # no venue at all: last

    def test_a_service_with_several_venues_is_listed_once_at_the_nearest(self, spread):
        service = make_service("Two Halls", at="SK13 8AA")
        near = Location.objects.create(name="Near hall", point=_point("SK14 1PW"))
        ServiceAtLocation.objects.create(service=service, location=near)

        found = [s for s in _everything({"postcode": "SK14 1AA"}) if s.name == "Two Halls"]

        assert len(found) == 1
        assert found[0].nearest_location.name == "Near hall"
        assert 600 < found[0].distance < 700

    def test_services_in_one_building_page_in_name_order_without_repeats(self, places):
        # Equal distances at a page's edge: the walk may cut them anywhere, the page may not.
        for name in ["Echo", "Alpha", "Delta", "Bravo", "Charlie"]:
            make_service(name, at="SK14 1PW")

        seen = []
        for page in ("1", "2", "3"):
            result = search_services({"postcode": "SK14 1AA", "page_size": "2", "page": page})
            seen += [s.name for s in result.results]

        assert seen == ["Alpha", "Bravo", "Charlie", "Delta", "Echo"]


class CountTests:
    def test_the_total_stops_at_the_count_limit_and_says_more_than(self, spread, monkeypatch):
        monkeypatch.setattr(finder, "COUNT_LIMIT", 2)

        result = search_services({"postcode": "SK14 1AA", "page_size": "1"})

        assert (result.total, result.total_exact) == (2, False)
        assert result.total_label == "more than 2"
        assert result.total_pages is None
        assert result.has_next

    def test_a_page_beyond_the_count_limit_is_still_served(self, spread, monkeypatch):
        monkeypatch.setattr(finder, "COUNT_LIMIT", 2)

        result = search_services({"postcode": "SK14 1AA", "page_size": "1", "page": "4"})

        assert len(result.results) == 1
        assert result.has_previous

    def test_under_the_limit_the_total_is_exact(self, spread):
        result = search_services({"postcode": "SK14 1AA", "page_size": "1"})

        assert result.total_exact
        assert result.total == len(_everything({"postcode": "SK14 1AA"})) > 1
        assert result.total_pages == result.total

    def test_the_api_says_when_its_count_is_a_lower_bound(self, spread, client, monkeypatch):
        monkeypatch.setattr(finder, "COUNT_LIMIT", 2)

        body = client.get("/api/services/", {"postcode": "SK14 1AA", "page_size": "1"}).json()

        assert (body["count"], body["count_exact"], body["total_pages"]) == (2, False, None)
        assert body["next"] is not None

    def test_the_results_page_says_more_than(self, spread, client, monkeypatch):
        monkeypatch.setattr(finder, "COUNT_LIMIT", 2)

        page = client.get("/search/", {"postcode": "SK14 1AA", "page_size": "1"})

        assert "More than 2 places near SK14 1AA" in page.text
        assert "Page 1 of" not in page.text


class ShapeTests:
    def test_the_plain_result_is_what_the_documented_serializer_says(self, spread):
        results = _everything({"postcode": "SK14 1AA", "radius": "20000"})

        documented = json.loads(json.dumps(ResultSerializer(results, many=True).data))
        plain = json.loads(json.dumps([result_dict(s) for s in results]))

        assert plain == documented

    def test_the_plain_feature_is_what_the_documented_serializer_says(self, spread):
        results = _everything({"postcode": "SK14 1AA", "radius": "20000"})

        documented = ResultFeatureSerializer(results, many=True).data["features"]
        plain = [feature_dict(s) for s in results]

        for mine, theirs in zip(plain, json.loads(json.dumps(documented)), strict=True):
            if mine["geometry"] is not None:  # GEOS writes coordinates to 15 digits
                assert mine["geometry"]["coordinates"] == pytest.approx(
                    theirs["geometry"]["coordinates"], abs=1e-12
                )
                mine["geometry"] = theirs["geometry"]
            assert mine == theirs


class VocabularyTests:
    def test_a_renamed_need_shows_once_the_cached_copy_expires(self, spread, monkeypatch):
        clock = [1000.0]
        monkeypatch.setattr(params.time, "monotonic", lambda: clock[0])
        params.forget_vocabularies()

        def label():
            walks = _everything({"postcode": "SK14 1PW"})
            return next(s.needs[0].plain_label for s in walks if s.name == "Hyde Walks")

        before = label()
        TaxonomyTerm.objects.filter(code="loneliness").update(plain_label="Lonely")

        assert label() == before  # within the minute: this process's copy
        clock[0] += params.VOCABULARY_SECONDS + 1
        assert label() == "Lonely"

    def test_a_page_of_results_costs_one_query_once_the_vocabularies_are_read(
        self, spread, django_assert_num_queries
    ):
        query = parse_search({"postcode": "SK14 1AA"})
        finder.find(query)  # reads the vocabularies

        with django_assert_num_queries(1):
            page = finder.find(query)

        assert page.rows and all(s.organization.name for s in page.rows)
        assert any(s.needs for s in page.rows)


def _point(postcode):
    from django.contrib.gis.geos import Point

    lat, lng = PLACES[postcode]
    return Point(lng, lat, srid=4326)


class CompiledFiltersTests:
    """The rules' compiled SQL is remembered per combination of filters: a combination that
    differs in any filter must not get another's SQL."""

    VARIANTS = [
        {},
        {"need": "food"},
        {"need": "housing"},
        {"offer": "free-wifi"},
        {"kind": "online_centre"},
        {"access": "drop_in"},
        {"free": "true"},
        {"age": "30"},
        {"age": "70"},
        {"language": "ur"},
        {"q": "walk"},
        {"q": "choir"},
        {"open": "now"},
        {"day": "TU", "time": "11:00"},
        {"day": "TU", "time": "12:00"},
    ]

    def test_each_combination_gets_its_own_sql(self, places):
        from directory.vocabularies import DIGITAL_OFFERS

        assert "free-wifi" in {code for code, *_ in DIGITAL_OFFERS}
        seen = {}
        for variant in self.VARIANTS:
            query = parse_search({"postcode": "SK14 1AA", **variant})
            remembered = finder._compiled_filters(query)
            fresh = finder._compiled(finder.filtered_services(query))
            assert remembered == fresh, variant
            key = (remembered[0], tuple(map(str, remembered[1])), remembered[2])
            assert key not in seen, (variant, seen.get(key))
            seen[key] = variant
