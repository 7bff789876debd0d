"""The Open Referral UK 3.0 feed: every endpoint validated against the official JSON schemas."""

import datetime as dt
import json
import os
from functools import cache
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from directory import vocabularies
from directory.models import (
    Organization,
    Service,
)

# The official schemas are not copied into the repo: they come from the team's shared/ folder,
# which CI lays beside the clone (as /work/shared is beside /work/main), or from
# OPENREFERRAL_SCHEMA_DIR. A checkout with neither skips these tests and says why.
SCHEMAS = Path(
    os.environ.get("OPENREFERRAL_SCHEMA_DIR")
    or Path(__file__).resolve().parents[3]
    / "shared"
    / "standards"
    / "openreferral-uk-3.0"
    / "schema"
)


def schemas() -> Path:
    if not (SCHEMAS / "openapi.json").exists():
        pytest.skip(
            f"Open Referral UK schemas not found at {SCHEMAS}: put shared/ beside the checkout "
            f"or set OPENREFERRAL_SCHEMA_DIR to the folder holding openapi.json."
        )
    return SCHEMAS


@cache
def openapi() -> dict:
    return json.loads((schemas() / "openapi.json").read_text())


@cache
def registry() -> Registry:
    """Every schema file by its name, so relative "$ref": "taxonomy_term.json" resolves."""
    resources = []
    folder = schemas()
    for path in [*folder.glob("*.json"), *folder.glob("compiled/*.json")]:
        name = str(path.relative_to(folder))
        resource = Resource.from_contents(
            json.loads(path.read_text()), default_specification=DRAFT202012
        )
        resources.append((name, resource))
    return Registry().with_resources(resources)


def assert_valid(instance, schema_name: str) -> None:
    schema = registry().contents(schema_name)
    validator = Draft202012Validator(schema, registry=registry(), format_checker=FormatChecker())
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(instance)]
    assert errors == [], f"{schema_name}: {errors[:5]}"


def assert_page(body: dict, item_schema: str) -> None:
    page_schema = openapi()["components"]["schemas"]["Page"]
    assert set(body) == {*page_schema["properties"], "contents"}
    Draft202012Validator(page_schema).validate({k: v for k, v in body.items() if k != "contents"})
    for item in body["contents"]:
        assert_valid(item, item_schema)


class FeedSchemaTests:
    def test_the_schemas_really_refuse_a_bad_service(self):
        bad = {"id": "not-a-uuid", "name": "X", "status": "open", "service_at_locations": [{}]}

        with pytest.raises(AssertionError) as failure:
            assert_valid(bad, "compiled/service.json")

        for words in ("is not a 'uuid'", "'open' is not one of", "'id' is a required property"):
            assert words in str(failure.value)

    def test_it_says_what_it_is(self, client, db):
        body = client.get("/openreferral/").json()

        schema = openapi()["paths"]["/"]["get"]["responses"]["200"]["content"]["application/json"]
        Draft202012Validator(schema["schema"], format_checker=FormatChecker()).validate(body)
        assert body["version"] == "HSDS-UK-3.0"
        assert body["openapi_url"].startswith("https://")
        assert "profile" in body

    def test_it_publishes_a_page_of_services(self, client, directory):
        body = client.get("/openreferral/services").json()

        assert_page(body, "compiled/service_list.json")
        assert body["total_items"] == 2

    def test_it_publishes_a_page_of_full_services(self, client, directory):
        body = client.get("/openreferral/services", {"full": "true"}).json()

        assert_page(body, "compiled/service.json")

    def test_it_publishes_one_service_in_full(self, client, directory):
        body = client.get(f"/openreferral/services/{directory['walks'].pk}").json()

        assert_valid(body, "compiled/service.json")
        assert (
            body["service_at_locations"][0]["location"]["addresses"][0]["postal_code"] == "SK14 1PW"
        )
        assert body["service_at_locations"][0]["schedules"][0]["freq"] == "MONTHLY"
        assert body["service_areas"][0]["service_area"] == "SK14"
        assert json.loads(body["service_areas"][0]["extent"])["type"] == "MultiPolygon"
        assert body["attributes"][0]["taxonomy_term"]["name"] == "Physical activity"
        assert {c["amount"] for c in body["cost_options"]} == {2.5, 0.0}
        assert body["flourish"]["kind"] == "community_asset"

    def test_it_publishes_a_virtual_service_in_full(self, client, directory):
        body = client.get(f"/openreferral/services/{directory['line'].pk}").json()

        assert_valid(body, "compiled/service.json")
        assert body["service_at_locations"] == []

    def test_it_publishes_services_at_locations(self, client, directory):
        body = client.get("/openreferral/service_at_locations").json()

        assert_page(body, "compiled/service_at_location_list.json")
        assert body["total_items"] == 1

    def test_it_publishes_one_service_at_location(self, client, directory):
        sal = directory["walks"].service_at_locations.get()

        body = client.get(f"/openreferral/service_at_locations/{sal.pk}").json()

        assert_valid(body, "compiled/service_at_location.json")

    def test_it_publishes_organizations(self, client, directory):
        body = client.get("/openreferral/organizations").json()

        assert_page(body, "compiled/organization_list.json")
        assert body["total_items"] == 2

    def test_it_publishes_one_organization_with_its_services(self, client, directory):
        org = directory["walks"].organization

        body = client.get(f"/openreferral/organizations/{org.pk}").json()

        assert_valid(body, "compiled/organization.json")
        assert [s["name"] for s in body["services"]] == ["Hyde Health Walks"]

    def test_it_publishes_taxonomies(self, client, db):
        body = client.get("/openreferral/taxonomies").json()

        assert_page(body, "taxonomy.json")
        assert body["total_items"] == 2

    def test_it_publishes_one_taxonomy_with_its_terms(self, client, db):
        body = client.get(
            f"/openreferral/taxonomies/{vocabularies.taxonomy_id('flourish-needs')}"
        ).json()

        assert_valid(body, "taxonomy.json")
        assert len(body["taxonomy_terms"]) == len(vocabularies.NEEDS)

    def test_it_publishes_taxonomy_terms(self, client, db):
        body = client.get("/openreferral/taxonomy_terms", {"per_page": "100"}).json()

        assert_page(body, "taxonomy_term.json")
        assert body["total_items"] == len(vocabularies.NEEDS) + len(vocabularies.DIGITAL_OFFERS)

    def test_it_publishes_one_taxonomy_term(self, client, db):
        body = client.get(
            f"/openreferral/taxonomy_terms/{vocabularies.term_id('flourish-needs', 'food')}"
        ).json()

        assert_valid(body, "taxonomy_term.json")
        assert body["name"] == "Food"


class FeedOpennessTests:
    @pytest.mark.parametrize(
        "path",
        [
            "/openreferral/",
            "/openreferral/services",
            "/openreferral/services/",
            "/openreferral/organizations",
            "/openreferral/taxonomies",
            "/openreferral/taxonomy_terms",
            "/openreferral/service_at_locations",
            "/openreferral/services/not-a-uuid",
            "/openreferral/services?page=x",
            "/openreferral/organizations/6f1c1a52-9d0e-4c39-9b8e-3c5a1f0f2a11",
        ],
    )
    def test_it_lets_any_website_read_every_answer(self, client, db, path):
        response = client.get(path)

        assert response["Access-Control-Allow-Origin"] == "*"
        assert response.status_code in (200, 400, 404)

    def test_it_answers_a_preflight(self, client, db):
        response = client.options(
            "/openreferral/services",
            HTTP_ORIGIN="https://elsewhere.example",
            HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
        )

        assert response.status_code == 204
        assert response["Access-Control-Allow-Origin"] == "*"
        assert "GET" in response["Access-Control-Allow-Methods"]

    def test_it_is_read_only(self, client, db):
        response = client.post("/openreferral/services", {})

        assert response.status_code == 405
        assert response["Access-Control-Allow-Origin"] == "*"

    @pytest.mark.parametrize(
        "path",
        [
            "/openreferral/services/6f1c1a52-9d0e-4c39-9b8e-3c5a1f0f2a11",
            "/openreferral/services/nope",
            "/openreferral/service_at_locations/nope",
            "/openreferral/organizations/nope",
            "/openreferral/taxonomies/nope",
            "/openreferral/taxonomy_terms/nope",
        ],
    )
    def test_it_answers_404_for_unknown_ids(self, client, db, path):
        assert client.get(path).status_code == 404


class FeedQueryTests:
    def ids(self, client, path="/openreferral/services", **params):
        return sorted(c["name"] for c in client.get(path, params).json()["contents"])

    def test_it_searches(self, client, directory):
        assert self.ids(client, search="walking") == ["Hyde Health Walks"]

    def test_it_filters_by_taxonomy_term_and_taxonomy(self, client, directory):
        food = vocabularies.term_id("flourish-needs", "loneliness")
        needs = vocabularies.taxonomy_id("flourish-needs")
        offers = vocabularies.taxonomy_id("flourish-digital-inclusion")

        assert self.ids(client, taxonomy_term_id=str(food)) == ["Tameside Befriending"]
        assert len(self.ids(client, taxonomy_id=str(needs))) == 2
        assert self.ids(client, taxonomy_id=str(offers)) == []

    def test_it_filters_by_ages_as_the_standard_words_them(self, client, directory):
        assert self.ids(client, minimum_age="18") == ["Hyde Health Walks"]
        assert self.ids(client, minimum_age="19") == []

    def test_it_filters_by_day_and_times(self, client, directory):
        assert self.ids(client, day="TH") == ["Hyde Health Walks"]
        assert self.ids(client, day="FR") == ["Tameside Befriending"]
        assert self.ids(client, day="MO", start_time="09:00", end_time="12:00") == [
            "Hyde Health Walks"
        ]
        assert self.ids(client, day="MO", start_time="10:30") == []

    def test_it_filters_by_modified_after(self, client, directory):
        Service.objects.filter(pk=directory["line"].pk).update(
            last_modified=dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
        )

        assert self.ids(client, modified_after="2024-01-01T00:00:00Z") == ["Hyde Health Walks"]

    def test_it_filters_by_organization(self, client, directory):
        org = Organization.objects.get(name="Age Well")

        assert self.ids(client, organization_id=str(org.pk)) == ["Tameside Befriending"]

    def test_it_finds_services_at_locations_near_a_postcode(self, client, directory):
        near = client.get(
            "/openreferral/service_at_locations", {"postcode": "SK14 1AA", "proximity": "1000"}
        ).json()
        far = client.get(
            "/openreferral/service_at_locations", {"postcode": "CA1 1AA", "proximity": "1000"}
        ).json()

        assert_page(near, "compiled/service_at_location_list.json")
        assert [c["service"]["name"] for c in near["contents"]] == ["Hyde Health Walks"]
        assert 600 < near["contents"][0]["proximity"] < 700
        assert far["total_items"] == 0

    @pytest.mark.parametrize(
        "params",
        [
            {"page": "0"},
            {"per_page": "100000"},
            {"taxonomy_term_id": "food"},
            {"minimum_age": "old"},
            {"day": "Funday"},
            {"start_time": "morning"},
            {"modified_after": "yesterday"},
            {"full": "perhaps"},
            {"modified_after": "2025-13-45"},
            {"start_time": "25:00"},
            {"minimum_age": "1e400"},
        ],
    )
    def test_it_refuses_bad_parameters(self, client, db, params):
        response = client.get("/openreferral/services", params)

        assert response.status_code == 400
        assert set(response.json()["errors"]) == set(params)

    def test_it_refuses_a_bad_postcode(self, client, db):
        response = client.get("/openreferral/service_at_locations", {"postcode": "nowhere"})

        assert response.status_code == 400
        assert "postcode" in response.json()["errors"]


class FeedPaginationTests:
    def test_it_pages_with_the_standard_envelope(self, client, directory):
        first = client.get("/openreferral/services", {"per_page": "1"}).json()
        last = client.get("/openreferral/services", {"per_page": "1", "page": "2"}).json()
        beyond = client.get("/openreferral/services", {"per_page": "1", "page": "3"}).json()

        assert {
            k: first[k]
            for k in (
                "total_items",
                "total_pages",
                "page_number",
                "size",
                "first_page",
                "last_page",
                "empty",
            )
        } == {
            "total_items": 2,
            "total_pages": 2,
            "page_number": 1,
            "size": 1,
            "first_page": True,
            "last_page": False,
            "empty": False,
        }
        assert (last["first_page"], last["last_page"], last["size"]) == (False, True, 1)
        assert first["contents"][0]["id"] != last["contents"][0]["id"]
        assert (beyond["empty"], beyond["contents"], beyond["last_page"]) == (True, [], True)

    def test_it_pages_an_empty_directory(self, client, db):
        body = client.get("/openreferral/services").json()

        assert (body["total_items"], body["total_pages"], body["empty"], body["last_page"]) == (
            0,
            1,
            True,
            True,
        )
