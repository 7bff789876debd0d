"""Query parameters declared once (directory/params.py): what each refuses, the vocabulary
cache, and the OpenAPI description drawn from the same classes."""

import datetime as dt

import pytest
from django.conf import settings
from django.http import QueryDict
from django.test import override_settings

from directory import params
from directory.models import Service, Taxonomy, TaxonomyTerm
from directory.params import (
    FeedServiceAtLocationParams,
    FeedServiceParams,
    ParamsError,
    SearchError,
    SearchParams,
    parse_search,
)

NOW = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def fresh_vocabularies():
    params.forget_vocabularies()
    yield
    params.forget_vocabularies()


def refusal(query) -> dict[str, list[str]]:
    with pytest.raises(SearchError) as failure:
        parse_search(query, now=NOW)
    return failure.value.errors


class SearchParamsRefusalTests:
    @pytest.mark.parametrize(
        "query, field, message",
        [
            ({"radius": "ten"}, "radius", "radius (metres) must be a whole number, like 5000."),
            ({"radius": "0"}, "radius", "radius (metres) must be between 1 and 50000; you gave 0."),
            ({"need": "unicorns"}, "need", "We do not know the need 'unicorns'. Use one of: "),
            ({"offer": "yachts"}, "offer", "We do not know the offer 'yachts'. Use one of: "),
            (
                {"need": [f"n{i}" for i in range(31)]},
                "need",
                "Choose at most 30 of need; you gave 31.",
            ),
            (
                {"lat": "north", "lng": "-2.07"},
                "lat",
                "lat (latitude) must be a number in decimal degrees, like 53.45.",
            ),
            (
                {"lat": "53.45"},
                "lng",
                "Give lng (longitude) with lat, or search by postcode instead.",
            ),
            ({"lat": "10", "lng": "10"}, "lat", "outside the UK"),
            (
                {"postcode": "SK14 1AA", "lat": "53.45"},
                "postcode",
                "Give a postcode or lat and lng, not both.",
            ),
            (
                {"kind": "pub"},
                "kind",
                "'pub' is not a kind of service. Use one of: "
                "community_asset, health_trainer_service, online_centre.",
            ),
            (
                {"access": "vip"},
                "access",
                "'vip' is not a way to access a service. Use one of: "
                "self_referral, referral, drop_in.",
            ),
            ({"free": "maybe"}, "free", 'free must be "true" or "false".'),
            ({"age": "-3"}, "age", "age (years) must be between 0 and 120; you gave -3."),
            ({"age": "old"}, "age", "age (years) must be a whole number, like 40."),
            (
                {"language": "<script>"},
                "language",
                "'<script>' is not a language. Give its name or code, like Urdu or ur.",
            ),
            (
                {"open": "later"},
                "open",
                'open can only be "now"; for another time use day and time.',
            ),
            (
                {"open": "now", "day": "MO", "time": "10:00"},
                "open",
                "Give open=now or day and time, not both.",
            ),
            (
                {"day": "Funday", "time": "10:00"},
                "day",
                "'Funday' is not a day. Use MO, TU, WE, TH, FR, SA or SU.",
            ),
            (
                {"day": "MO", "time": "25:00"},
                "time",
                "'25:00' is not a time. Use the 24-hour clock, like 09:30 or 14:00.",
            ),
            ({"day": "MO"}, "time", "Give a time with the day, like time=14:00."),
            ({"time": "10:00"}, "day", "Give a day with the time, like day=MO for Monday."),
            ({"page": "0"}, "page", "page must be between 1 and 10000; you gave 0."),
            ({"page_size": "x"}, "page_size", "page_size must be a whole number, like 20."),
            (
                {"page_size": "101"},
                "page_size",
                "page_size must be between 1 and 100; you gave 101.",
            ),
            ({"q": "x" * 201}, "q", "q is too long: give at most 200 characters."),
            (
                {"postcode": "nowhere"},
                "postcode",
                "'nowhere' is not a UK postcode or a place we know.",
            ),
        ],
    )
    def test_it_refuses_each_bad_value_with_its_message(self, places, query, field, message):
        errors = refusal(query)

        assert list(errors) == [field]
        assert errors[field][0].startswith(message) or message in errors[field][0]

    def test_it_reports_every_bad_field_at_once_in_the_order_they_are_declared(self, db):
        errors = refusal({"page": "0", "kind": "pub", "need": "happiness", "radius": "999999"})

        assert list(errors) == ["radius", "need", "kind", "page"]

    @override_settings(SEARCH_RADIUS_MAX_M=20000)
    def test_it_reads_the_radius_cap_in_force(self, db):
        assert refusal({"radius": "30000"})["radius"] == [
            "radius (metres) must be between 1 and 20000; you gave 30000."
        ]

    def test_it_reads_a_query_dict_and_a_dict_of_lists_alike(self, db):
        from_url = parse_search(QueryDict("need=food&need=housing,food&page=&page=2"), now=NOW)
        from_dict = parse_search({"need": ["food", "housing,food"], "page": ["", "2"]}, now=NOW)

        assert from_url == from_dict
        assert [t.code for t in from_url["needs"]] == ["food", "housing"]
        assert from_url["page"] == 2
        assert from_url["radius"] == settings.SEARCH_RADIUS_DEFAULT_M

    def test_it_names_only_parameters_it_declares(self):
        assert SearchParams.names("postcode", "need") == ("postcode", "need")
        with pytest.raises(ValueError, match="nede"):
            SearchParams.names("postcode", "nede")


class VocabularyCacheTests:
    def add_need(self, code: str) -> TaxonomyTerm:
        return TaxonomyTerm.objects.create(
            taxonomy=Taxonomy.objects.get(slug="flourish-needs"), code=code, name="Gardening"
        )

    def test_it_reads_the_vocabularies_once_not_per_search(self, db, django_assert_num_queries):
        parse_search({"need": "food", "offer": "free-wifi"}, now=NOW)

        with django_assert_num_queries(0):
            query = parse_search({"need": "food", "offer": "free-wifi"}, now=NOW)
        assert [t.code for t in query["needs"] + query["offers"]] == ["food", "free-wifi"]

    def test_it_sees_an_editors_new_need_once_the_minute_is_up(self, db, monkeypatch):
        parse_search({"need": "food"}, now=NOW)
        self.add_need("gardening")

        # Still the vocabulary read a moment ago...
        assert "We do not know the need 'gardening'" in refusal({"need": "gardening"})["need"][0]

        later = params.time.monotonic() + params.VOCABULARY_SECONDS + 1
        monkeypatch.setattr(params.time, "monotonic", lambda: later)
        # ...and the edited one a minute later.
        assert [t.code for t in parse_search({"need": "gardening"}, now=NOW)["needs"]] == [
            "gardening"
        ]

    def test_it_forgets_a_renamed_code_once_the_minute_is_up(self, db, monkeypatch):
        parse_search({"need": "food"}, now=NOW)
        TaxonomyTerm.objects.needs().filter(code="food").update(code="food-and-essentials")
        later = params.time.monotonic() + params.VOCABULARY_SECONDS + 1
        monkeypatch.setattr(params.time, "monotonic", lambda: later)

        assert "We do not know the need 'food'" in refusal({"need": "food"})["need"][0]


class FeedParamsTests:
    @pytest.mark.parametrize(
        "query, field, message",
        [
            ({"page": "0"}, "page", "page must be between 1 and 1000000."),
            ({"per_page": "many"}, "per_page", "per_page must be a whole number."),
            ({"full": "perhaps"}, "full", 'full must be "true" or "false".'),
            ({"taxonomy_term_id": "food"}, "taxonomy_term_id", "taxonomy_term_id must be a UUID."),
            (
                {"minimum_age": "old"},
                "minimum_age",
                "minimum_age must be a number of years, like 18.",
            ),
            (
                {"day": "Funday"},
                "day",
                "day must be one of MO, TU, WE, TH, FR, SA, SU (or a day name).",
            ),
            ({"start_time": "25:00"}, "start_time", "start_time must be a time like 09:30."),
            (
                {"modified_after": "yesterday"},
                "modified_after",
                "modified_after must be a date-time like 2025-01-31T09:00:00Z.",
            ),
            ({"search": "x" * 201}, "search", "search must be at most 200 characters."),
        ],
    )
    def test_it_refuses_each_bad_value_with_its_message(self, db, query, field, message):
        with pytest.raises(ParamsError) as failure:
            FeedServiceParams.read(query)

        assert failure.value.errors == {field: [message]}

    def test_it_reads_the_standards_values(self, db):
        clean = FeedServiceParams.read(
            QueryDict("page=2&per_page=10&full=yes&day=Monday&minimum_age=18.5&start_time=09:30")
        )

        assert (clean["page"], clean["per_page"], clean["full"], clean["day"]) == (
            2,
            10,
            True,
            "MO",
        )
        assert (clean["minimum_age"], clean["start_time"]) == (18, dt.time(9, 30))

    def test_it_wants_a_postcode_to_measure_proximity_from(self, db):
        with pytest.raises(ParamsError) as failure:
            FeedServiceAtLocationParams.read({"proximity": "1000"})

        assert failure.value.errors == {"proximity": ["Give a postcode to measure proximity from."]}


class SearchSchemaTests:
    def operation(self) -> dict:
        from drf_spectacular.generators import SchemaGenerator

        schema = SchemaGenerator().get_schema(request=None, public=True)
        return schema["paths"]["/api/services/"]["get"]

    def test_it_documents_every_search_parameter_from_the_class(self):
        documented = {p["name"]: p for p in self.operation()["parameters"]}
        fields = SearchParams().fields

        assert set(documented) == set(fields) | {"format"}
        for name, field in fields.items():
            assert documented[name]["description"].startswith(str(field.help_text)), name

    def test_it_documents_types_limits_and_repeatable_parameters(self):
        documented = {p["name"]: p for p in self.operation()["parameters"]}

        for name in ("need", "offer"):
            assert documented[name]["schema"] == {"type": "array", "items": {"type": "string"}}
            assert documented[name]["explode"] is True
        assert documented["kind"]["schema"]["enum"] == list(Service.Kind.values)
        assert documented["page_size"]["schema"]["maximum"] == 100
        assert documented["radius"]["schema"]["maximum"] == settings.SEARCH_RADIUS_MAX_M
        assert documented["free"]["schema"]["type"] == "boolean"
        assert documented["format"]["schema"]["enum"] == ["geojson", "json"]

    def test_it_documents_the_radius_cap_in_force(self):
        assert SearchParams().fields  # the fields every search shares, made before the override
        with override_settings(SEARCH_RADIUS_MAX_M=20000):
            documented = {p["name"]: p for p in self.operation()["parameters"]}

        assert documented["radius"]["schema"]["maximum"] == 20000
