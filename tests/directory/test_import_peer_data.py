"""Importing what real publishers publish: every file in shared/peer-data/oruk/ (issue 13).

Bristol City Council's live ORUK 3.0 records, the official HSDS 3.0 examples, and the ORUK
validator's own pass / warn / fail fixtures (their README says where each came from). The
expected counts come from reading each file: how many records it holds and of what kind.
"""

import io
import json
import os
import re
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse

from directory import importers
from directory.models import Contact, Organization, Phone, Service, Taxonomy, TaxonomyTerm

# Peer data is not copied into the repo: it comes from the team's shared/ folder beside the
# clone (as in test_openreferral.py). A checkout without it skips these tests and says why.
PEER = Path(
    os.environ.get("FLOURISH_PEER_DATA")
    or Path(__file__).resolve().parents[3] / "shared" / "peer-data"
)
ORUK = PEER / "oruk"
BRISTOL = (
    "bristol_live_v3/bristol-service-1625ip.json",
    "bristol_live_v3/bristol-services-page1.json",
)


def peer(name: str) -> Path:
    path = ORUK / name
    if not path.exists():
        pytest.skip(f"peer data not found at {path}: put shared/ beside the checkout")
    return path


def load(name: str):
    return json.loads(peer(name).read_text())


def import_file(name: str) -> importers.Report:
    records, notes = importers.read_feed(str(peer(name)))
    report = importers.import_openreferral(records)
    report.notes = notes
    return report


def warnings_of(report: importers.Report) -> list[str]:
    return [w for o in report.outcomes for w in o.warnings]


# file -> (created, updated, rejected, nothing to import, with warnings), from each file's
# contents: a service file holds 1 service (Bristol's page 3); an organization file 1
# organization with 1 service in it (2 created), an organization list 1 (or 10) organizations;
# a service_at_location creates its service; the root, taxonomies, terms and a lone location
# have nothing to import; the pagination fixtures hold id-only items.
EXPECTED = {
    "bristol_live_v3/bristol-service-1625ip.json": (1, 0, 0, 0, 1),
    "bristol_live_v3/bristol-services-page1.json": (3, 0, 0, 0, 3),
    "hsds_3.0_core_examples/base.json": (0, 0, 0, 1, 1),  # profile https://path/to/profile
    "hsds_3.0_core_examples/location.json": (0, 0, 0, 1, 0),
    "hsds_3.0_core_examples/organization_full.json": (2, 0, 0, 0, 2),
    "hsds_3.0_core_examples/organization_list.json": (1, 0, 0, 0, 1),
    "hsds_3.0_core_examples/service_at_location_full.json": (1, 0, 0, 0, 1),
    "hsds_3.0_core_examples/service_at_location_list.json": (1, 0, 0, 0, 1),
    "hsds_3.0_core_examples/service_full.json": (1, 0, 0, 0, 1),
    "hsds_3.0_core_examples/service_list.json": (1, 0, 0, 0, 1),
    "hsds_3.0_core_examples/taxonomy.json": (0, 0, 0, 1, 1),  # uri http://example.com
    "hsds_3.0_core_examples/taxonomy_list.json": (0, 0, 0, 1, 1),
    "hsds_3.0_core_examples/taxonomy_term.json": (0, 0, 0, 1, 1),
    "hsds_3.0_core_examples/taxonomy_term_list.json": (0, 0, 0, 1, 1),
    "validator_mocks/pass/api_details.json": (0, 0, 0, 1, 0),
    "validator_mocks/pass/organization.json": (2, 0, 0, 0, 2),
    "validator_mocks/pass/organization_list.json": (10, 0, 0, 0, 0),
    "validator_mocks/pass/service_at_location_full.json": (1, 0, 0, 0, 1),
    "validator_mocks/pass/service_at_location_list.json": (1, 0, 0, 0, 1),
    "validator_mocks/pass/service_full.json": (1, 0, 0, 0, 1),
    "validator_mocks/pass/service_list.json": (1, 0, 0, 0, 1),
    "validator_mocks/pass/taxonomy.json": (0, 0, 0, 1, 1),
    "validator_mocks/pass/taxonomy_list.json": (0, 0, 0, 1, 1),
    "validator_mocks/pass/taxonomy_term.json": (0, 0, 0, 1, 1),
    "validator_mocks/pass/taxonomy_term_list.json": (0, 0, 0, 1, 1),
    "validator_mocks/warn/api_details.json": (0, 0, 0, 1, 0),
    "validator_mocks/warn/organization_full.json": (2, 0, 0, 0, 2),
    "validator_mocks/warn/organization_list.json": (1, 0, 0, 0, 1),
    "validator_mocks/warn/service_at_location_full.json": (1, 0, 0, 0, 1),
    "validator_mocks/warn/service_at_location_list.json": (1, 0, 0, 0, 1),
    "validator_mocks/warn/service_full.json": (1, 0, 0, 0, 1),
    "validator_mocks/warn/service_list.json": (1, 0, 0, 0, 1),
    "validator_mocks/warn/taxonomy.json": (0, 0, 0, 1, 1),
    "validator_mocks/warn/taxonomy_list.json": (0, 0, 0, 1, 1),
    "validator_mocks/warn/taxonomy_term.json": (0, 0, 0, 1, 1),  # no description, example_com
    "validator_mocks/warn/taxonomy_term_list.json": (0, 0, 0, 1, 1),
    # All 128 variants share one id: the first creates the service, the others update it.
    "validator_mocks/test_variants/service_list.json": (1, 127, 0, 0, 128),
    "validator_pagination_testdata/pagination.json": (0, 0, 0, 5, 0),
    "validator_pagination_testdata/paginationFirstPage.json": (0, 0, 0, 5, 0),
    "validator_pagination_testdata/paginationFirstPageWithIssues.json": (0, 0, 0, 5, 0),
    "validator_pagination_testdata/paginationLastPage.json": (0, 0, 0, 2, 0),
    "validator_pagination_testdata/paginationLastPageWithIssues.json": (0, 0, 0, 5, 0),
    "validator_pagination_testdata/paginationWithIssues.json": (0, 0, 0, 4, 0),
}


class EveryPeerFileImportsTests:
    def test_it_knows_every_file_in_the_folder(self):
        peer("README.txt")
        found = {
            str(p.relative_to(ORUK))
            for p in ORUK.rglob("*.json")
            if not str(p.relative_to(ORUK)).startswith("validator_mocks/fail/")
        }
        assert found == set(EXPECTED)

    @pytest.mark.parametrize("name", sorted(EXPECTED))
    def test_it_imports_the_file(self, db, name):
        report = import_file(name)

        counts = (
            report.count("created"),
            report.count("updated"),
            report.count("rejected"),
            report.count("skipped"),
            report.with_warnings,
        )
        assert counts == EXPECTED[name], "\n".join(str(o) for o in report.outcomes)
        for outcome in report.outcomes:
            if outcome.action == "skipped":
                assert outcome.reasons[0].startswith("nothing to import: "), outcome


class BristolTests:
    """Bristol City Council's live feed (Placecube): all four records were refused before."""

    @pytest.fixture
    def imported(self, db):
        # The page first: its items are sparse (no contacts), the single record is rich, and
        # a record replaces everything under its service.
        return {name: import_file(name) for name in reversed(BRISTOL)}

    def test_its_ages_of_minus_one_mean_no_limit(self, imported):
        for service in Service.objects.all():
            assert (service.minimum_age, service.maximum_age) == (None, None)
        warnings = warnings_of(imported[BRISTOL[0]])
        assert "minimum_age -1 means no limit: imported as no minimum age" in warnings
        assert "maximum_age -1 means no limit: imported as no maximum age" in warnings

    def test_its_html_descriptions_become_plain_text_keeping_the_words(self, imported):
        service = Service.objects.get(name="1625 Independent People")
        assert "<" not in service.description and "&nbsp;" not in service.description
        assert service.description.startswith("About Us\n\n1625 Independent People works with")
        assert "23 The Parade, Coniston Road, Patchway, Bristol, BS34 5LP." in service.description
        two_way = Service.objects.get(name="2 Way St Bristol")
        # &nbsp; is a space; a link keeps its address after its text.
        assert "therapy room open for anyone" in two_way.description
        assert "Facebook (https://www.facebook.com/2waystbristol/?ref=page_internal)" in (
            two_way.description
        )
        assert "description was HTML: imported as plain text" in warnings_of(imported[BRISTOL[1]])

    def test_its_phone_number_holding_a_label_is_split(self, imported):
        contact = Contact.objects.get(service__name="1625 Independent People")
        numbers = {p.number: p.description for p in Phone.objects.filter(contact=contact)}
        assert numbers == {"0800 0354213": "", "0117 332 7111": "Bristol Youth MAPS"}
        assert (
            "contacts[0].phones[1].number 'Bristol Youth MAPS: 0117 332 7111' held more than a "
            "number: imported as '0117 332 7111', with 'Bristol Youth MAPS' as its description"
        ) in warnings_of(imported[BRISTOL[0]])

    def test_its_placeholders_are_left_out_and_named(self, imported):
        warnings = warnings_of(imported[BRISTOL[0]])
        assert (
            "service_areas[0].uri 'http://www.example.com' is a placeholder, not a real "
            "address: left out"
        ) in warnings
        # Free-text areas ("Bristol") cannot be mapped: left out, so the report says the
        # service will not be found near a place.
        assert any(
            w.startswith("service_areas[0] left out: 'Bristol' cannot be mapped") for w in warnings
        )
        assert any("will not show in searches near a place" in w for w in warnings)
        nhs = Service.objects.get(name="A Picture of Health")
        assert nhs.email == ""  # Unknown-...@noemail.invalid says it is no address
        assert any(
            "@noemail.invalid' is a placeholder, not an address: left out" in w
            for w in warnings_of(imported[BRISTOL[1]])
        )

    def test_it_notes_that_the_page_is_one_of_many(self, imported):
        assert any(
            "this file is page 1 of 292 (874 items in the feed)" in n
            for n in imported[BRISTOL[1]].notes
        )

    def test_the_command_prints_each_records_warnings(self, db):
        out, err = io.StringIO(), io.StringIO()
        call_command("import_openreferral", str(peer(BRISTOL[1])), stdout=out, stderr=err)

        assert "3 created, 0 updated, 0 rejected. 3 with warnings" in out.getvalue()
        assert "record 2: created '2 Way St Bristol'" in out.getvalue()
        assert "\n    - description was HTML: imported as plain text" in out.getvalue()
        assert err.getvalue() == ""


class StaffEmailsAreNeverPublishedTests:
    def test_no_assurer_address_reaches_the_feed_the_api_or_the_public_page(self, client, db):
        addresses = set()
        for name in BRISTOL:
            data = load(name)
            for record in data.get("contents", [data]):
                addresses.add(record["assurer_email"])
                addresses.add(record["pc_metadata"]["assured_by"])
            import_file(name)
        assert addresses and all("@" in a for a in addresses)
        # Kept for editors, who see it in the admin.
        assert set(Service.objects.values_list("assurer_email", flat=True)) <= addresses

        pages = [
            "/openreferral/services?full=true&per_page=50",
            "/openreferral/services",
            "/openreferral/organizations",
            "/openreferral/service_at_locations",
            "/api/services/",
        ]
        for service in Service.objects.all():
            pages += [
                f"/openreferral/services/{service.pk}",
                f"/openreferral/organizations/{service.organization_id}",
                reverse("directory-api-service", args=[service.pk]),
                reverse("directory-service", args=[service.pk]),
            ]
        for url in pages:
            response = client.get(url)
            assert response.status_code == 200, url
            for address in addresses:
                assert address.encode() not in response.content, url
        detail = client.get(f"/openreferral/services/{Service.objects.first().pk}").json()
        assert "assurer_email" not in detail


class OfficialExampleTests:
    def test_the_hsds_example_service_imports_with_each_dropped_part_named(self, db):
        report = import_file("hsds_3.0_core_examples/service_full.json")

        service = Service.objects.get(pk="ac148810-d857-441c-9679-408f346de14b")
        warnings = warnings_of(report)
        assert "service_areas[0].extent 'extent' is not GeoJSON or WKT: left out" in warnings
        assert any(
            w.startswith("service_at_locations[0] left out: location 'MyCity Civic Center'")
            for w in warnings
        )
        assert (
            "service_at_locations[0].location latitude, longitude 100, 101 is not in the UK: "
            "left out"
        ) in warnings
        # The example reuses one phone id for the service, its contact and its location.
        assert any("is used by another phone in this record" in w for w in warnings)
        assert {p.number for p in Phone.objects.all()} == {"+44 1234 234567"}
        assert Phone.objects.count() == 2  # the service's and its contact's
        assert service.fees.startswith("Non-NHS patients are expected to pay")
        assert (service.minimum_age, service.maximum_age) == (12, 100)
        assert service.url == "" and service.email == ""  # example.com placeholders
        assert service.cost_options.get().amount == 35
        assert service.schedules.get().byday == "TH,FR"
        assert any(
            w.startswith("not kept (Flourish has no field for them): alternate_name")
            for w in warnings
        )

    def test_a_well_formed_extent_in_wkt_or_geojson_is_read(self, db):
        record = load("validator_mocks/pass/service_full.json")
        square = "POLYGON((-2.1 53.4, -2.0 53.4, -2.0 53.5, -2.1 53.5, -2.1 53.4))"
        record["service_areas"][0]["extent"] = square
        record["service_areas"].append(
            {
                "id": "9c1f1c55-3b7b-4b0f-9a43-6d1c6f3b0e01",
                "name": "A point",
                "extent": {"type": "Point", "coordinates": [-2.05, 53.45]},
            }
        )
        report = importers.import_openreferral([record])

        area = Service.objects.get().service_areas.get()
        assert area.extent.num_geom == 1 and area.extent.contains(
            importers.GEOSGeometry("POINT(-2.05 53.45)", srid=4326)
        )
        assert any(
            w.startswith("service_areas[1].extent") and "is a Point, not an area: left out" in w
            for w in warnings_of(report)
        )

    def test_an_organization_imports_with_the_services_it_lists(self, db):
        report = import_file("hsds_3.0_core_examples/organization_full.json")

        assert [(o.kind, o.action) for o in report.outcomes] == [
            ("organization", "created"),
            ("", "created"),
        ]
        service = Service.objects.get()
        assert service.organization.name == "Example Organization Inc."

    def test_a_service_at_location_adds_its_place_to_a_service_already_here(self, db, places):
        importers.import_openreferral([load("validator_mocks/pass/service_full.json")])
        record = load("validator_mocks/pass/service_at_location_full.json")
        record["location"]["latitude"], record["location"]["longitude"] = 53.4519, -2.0788
        record["location"]["addresses"][0].update(postal_code="SK14 1AA", country="GB")

        report = importers.import_openreferral([record])

        assert [(o.kind, o.action) for o in report.outcomes] == [("service_at_location", "updated")]
        service = Service.objects.get()
        assert service.service_at_locations.get().location.name == "MyCity Civic Center"
        assert service.cost_options.count() == 1  # the rest of the service is untouched


class FeedRootTests:
    def test_the_official_examples_root_names_its_placeholder_profile(self, db):
        (outcome,) = import_file("hsds_3.0_core_examples/base.json").outcomes

        assert (outcome.action, outcome.kind) == ("skipped", "api_details")
        assert outcome.warnings == [
            "version '3.0' is not HSDS-UK-3.0",
            "profile 'https://path/to/profile' is a placeholder, not a real address: left out",
        ]


class ValidatorTestVariantsTests:
    def test_all_128_variants_import_and_each_warning_names_a_field(self, db):
        data = load("validator_mocks/test_variants/service_list.json")
        report = import_file("validator_mocks/test_variants/service_list.json")

        assert len(data["contents"]) == 128
        assert (report.count("created"), report.count("updated"), report.count("rejected")) == (
            1,
            127,
            0,
        )
        assert report.notes == [
            "the page envelope is inconsistent: size says 31 but the page holds 128 item(s)"
        ]
        fields = set()
        for warning in warnings_of(report):
            match = re.match(r"^(organization\.)?(\w+) ", warning)
            fields.add(match.group(0).strip() if match else warning[:40])
        assert fields == {
            "url",
            "email",
            "assurer_email",
            "organization.email",
            "organization.website",
            "organization.uri",
            "nothing",  # nothing in the record can be placed on a map
            "the",  # the record names no organization (28 variants)
        }
        no_org = [
            o
            for o, record in zip(report.outcomes, data["contents"], strict=True)
            if not record.get("organization") and not record.get("organization_id")
        ]
        assert len(no_org) == 28
        assert all(
            any(w.startswith("the record names no organization") for w in o.warnings)
            for o in no_org
        )
        # The last variant decides what is kept; the organization is the one named earlier.
        assert Organization.objects.filter(pk="d9d5e0f5-d3ce-4f73-9a2f-4dd0ecc6c610").exists()


class ValidatorFailFixturesTests:
    """Each fail fixture is refused, or imported with warnings, and the report says why."""

    def test_services_without_a_name_are_refused(self, db):
        report = import_file("validator_mocks/fail/service_list.json")

        assert [o.action for o in report.outcomes] == ["rejected"] * 4
        assert all(
            o.reasons == ["name is missing (the standard requires it)"] for o in report.outcomes
        )
        assert Service.objects.count() == 0

    def test_a_service_with_a_bad_url_and_email_imports_without_them(self, db):
        report = import_file("validator_mocks/fail/service_full.json")

        warnings = warnings_of(report)
        assert (
            "url 'example/counselling' is not a web address (http:// or https://): left out"
            in warnings
        )
        assert "email 'email-example_com' is not an email address: left out" in warnings
        service = Service.objects.get()
        assert (service.url, service.email) == ("", "")

    def test_the_feed_root_without_a_profile_is_named(self, db):
        (outcome,) = import_file("validator_mocks/fail/api_details.json").outcomes

        assert outcome.action == "skipped"
        assert outcome.warnings == [
            "profile is missing (the standard requires it)",
            "openapi_url 'docs-openreferraluk-org/en/latest/openapi30.json' is not a web "
            "address (http:// or https://): left out",
        ]

    def test_the_taxonomy_term_faults_are_named(self, db):
        (term,) = import_file("validator_mocks/fail/taxonomy_term.json").outcomes
        (listed,) = import_file("validator_mocks/fail/taxonomy_term_list.json").outcomes

        assert term.action == listed.action == "skipped"
        assert "description is missing (the standard requires it)" in term.warnings
        assert "term_uri 'example_com' is not a web address (http:// or https://): left out" in (
            term.warnings
        )
        assert "parent_id is the term's own id (0bc248fa-dc27-4650-9ba4-8f1a24ef16a2)" in (
            listed.warnings
        )

    def test_the_service_at_location_whose_id_is_its_locations_is_named(self, db):
        report = import_file("validator_mocks/fail/service_at_location_full.json")

        assert report.outcomes[0].action == "created"
        assert (
            "the service_at_location's id is its location's id "
            "(3a19ff88-4620-4d17-9830-ac1d859eb5d5)"
        ) in report.outcomes[0].warnings

    def test_the_inconsistent_page_envelopes_are_named(self, db):
        report = import_file("validator_mocks/fail/service_at_location_list.json")
        assert report.count("created") == 1
        assert report.notes == [
            "this file is page 1 of 10 (10 items in the feed): only its 1 record(s) are "
            "imported; give the feed's URL to import every page"
        ]
        paging = import_file("validator_pagination_testdata/paginationLastPageWithIssues.json")
        assert paging.notes == [
            "the page envelope is inconsistent: size says 4 but the page holds 5 item(s)",
            "the page envelope is inconsistent: empty is True but the page holds 5 item(s)",
            "the page envelope is inconsistent: last_page is False on page 4 of 4",
            "this file is page 4 of 4 (20 items in the feed): only its 5 record(s) are "
            "imported; give the feed's URL to import every page",
        ]

    @pytest.mark.parametrize(
        "name",
        [
            "organization_full.json",
            "organization_list.json",
            "service_at_location_list.json",
            "taxonomy.json",
            "taxonomy_list.json",
        ],
    )
    def test_the_fail_fixtures_that_match_the_pass_ones_import_alike(self, db, name):
        # These fail-set files are the pass set's (or the warn set's) own: what the validator
        # fails on is elsewhere in the set. They import with the same outcomes.
        twin = "organization.json" if name == "organization_full.json" else name
        twin_dir = "warn" if name == "organization_list.json" else "pass"
        failed = import_file(f"validator_mocks/fail/{name}")
        for model in (Service, Organization, TaxonomyTerm, Taxonomy):
            model.objects.all().delete()
        passed = import_file(f"validator_mocks/{twin_dir}/{twin}")

        assert [(o.action, o.warnings) for o in failed.outcomes] == [
            (o.action, o.warnings) for o in passed.outcomes
        ]
