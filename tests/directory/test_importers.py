"""Importing Open Referral UK JSON and the council spreadsheet: happy and broken inputs."""

import io
import json
import uuid
from pathlib import Path

import pytest
from django.core.management import call_command

from directory import importers
from directory.models import Location, Organization, Schedule, Service, ServiceAtLocation
from tests.directory.conftest import PLACES

REPO = Path(__file__).resolve().parents[2]


def record(name="Hyde Walks", **extra) -> dict:
    ident = str(uuid.uuid5(uuid.NAMESPACE_URL, name))
    data = {
        "id": ident,
        "name": name,
        "status": "active",
        "description": "Gentle walks.",
        "organization": {
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, "org")),
            "name": "Walkers",
            "description": "",
        },
        "service_at_locations": [
            {
                "id": str(uuid.uuid5(uuid.NAMESPACE_URL, name + "/sal")),
                "location": {
                    "id": str(uuid.uuid5(uuid.NAMESPACE_URL, name + "/loc")),
                    "location_type": "physical",
                    "name": "Park gates",
                    "addresses": [
                        {
                            "id": str(uuid.uuid4()),
                            "address_1": "Park Road",
                            "city": "Hyde",
                            "state_province": "",
                            "postal_code": "sk141pw",
                            "country": "GB",
                            "address_type": "physical",
                        }
                    ],
                },
            }
        ],
        "schedules": [
            {
                "id": str(uuid.uuid5(uuid.NAMESPACE_URL, name + "/s")),
                "freq": "WEEKLY",
                "byday": "MO",
                "opens_at": "10:00",
                "closes_at": "11:00",
            }
        ],
    }
    data.update(extra)
    return data


def write(tmp_path, name, text) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def run(source) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("import_openreferral", source, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


class ImportOpenReferralTests:
    def test_it_imports_a_single_service_and_places_it_from_its_postcode(self, places, tmp_path):
        out, err = run(write(tmp_path, "one.json", json.dumps(record())))

        service = Service.objects.get(name="Hyde Walks")
        location = service.service_at_locations.get().location
        assert "record 1: created 'Hyde Walks'" in out
        assert "1 created, 0 updated, 0 rejected." in out
        assert location.postal_code == "SK14 1PW"
        assert (round(location.latitude, 6), round(location.longitude, 6)) == PLACES["SK14 1PW"]
        assert service.schedules.get().byday == "MO"

    def test_it_imports_a_page_envelope(self, places, tmp_path):
        page = {
            "total_items": 2,
            "total_pages": 1,
            "page_number": 1,
            "size": 2,
            "first_page": True,
            "last_page": True,
            "empty": False,
            "contents": [record("A"), record("B")],
        }

        out, _ = run(write(tmp_path, "page.json", json.dumps(page)))

        assert "2 created" in out
        assert sorted(Service.objects.values_list("name", flat=True)) == ["A", "B"]

    def test_it_imports_a_list_and_ndjson(self, places, tmp_path):
        run(write(tmp_path, "list.json", json.dumps([record("A"), record("B")])))
        out, _ = run(
            write(
                tmp_path,
                "lines.ndjson",
                "\n".join(json.dumps(r) for r in [record("C"), record("A")]),
            )
        )

        assert "1 created, 1 updated, 0 rejected." in out
        assert Service.objects.count() == 3

    def test_it_updates_by_id_and_is_safe_to_rerun(self, places, tmp_path):
        path = write(tmp_path, "one.json", json.dumps(record()))
        run(path)
        changed = record(description="Longer walks now.")
        out, _ = run(write(tmp_path, "two.json", json.dumps(changed)))

        assert "0 created, 1 updated" in out
        assert Service.objects.get().description == "Longer walks now."
        assert (
            Location.objects.count(),
            ServiceAtLocation.objects.count(),
            Schedule.objects.count(),
        ) == (1, 1, 1)

    def test_it_rejects_records_that_cannot_be_a_service_and_keeps_the_good_ones(
        self, places, tmp_path
    ):
        records = [
            record("Good One"),
            {"name": "No id"},
            record("Bad status", status="open"),
            record("", description="No name"),
            "not an object",
            record("Good Two"),
        ]

        out, err = run(write(tmp_path, "mixed.json", json.dumps(records)))

        assert sorted(Service.objects.values_list("name", flat=True)) == ["Good One", "Good Two"]
        assert "2 created, 0 updated, 4 rejected." in out
        assert "record 2: rejected 'No id': id is missing" in err
        assert "record 3: rejected 'Bad status'" in err and "status 'open'" in err
        assert "record 4: rejected" in err and "name is missing" in err
        assert "record 5: rejected: a service must be a JSON object" in err

    def test_it_leaves_out_the_parts_it_cannot_read_and_says_so(self, places, tmp_path):
        org_id = str(uuid.uuid4())
        records = [
            record("Bad email", email="not-an-email"),
            record("Unknown org", organization=None, organization_id=org_id),
            record("Impossible date", assured_date="2025-13-45"),
            record("Huge age", minimum_age=1e308 * 10),
            record(
                "Yearly",
                schedules=[
                    {"id": str(uuid.uuid4()), "freq": "WEEKLY", "byday": "MO", "opens_at": "10:00"},
                    {"id": str(uuid.uuid4()), "freq": "YEARLY", "byday": "MO"},
                ],
            ),
        ]

        out, err = run(write(tmp_path, "mixed.json", json.dumps(records)))

        assert "5 created, 0 updated, 0 rejected. 5 with warnings" in out
        assert err == ""
        assert "email 'not-an-email' is not an email address: left out" in out
        assert Service.objects.get(name="Bad email").email == ""
        assert f"organization {org_id} is not in the directory" in out
        assert Service.objects.get(name="Unknown org").organization_id == uuid.UUID(org_id)
        assert "assured_date '2025-13-45' is not a date (YYYY-MM-DD): left out" in out
        assert Service.objects.get(name="Impossible date").assured_date is None
        assert "minimum_age inf is not a number: left out" in out
        assert Service.objects.get(name="Huge age").minimum_age is None
        assert "schedules[1] left out: freq 'YEARLY' must be WEEKLY or MONTHLY" in out
        assert Service.objects.get(name="Yearly").schedules.get().byday == "MO"

    def test_it_never_leaves_a_half_written_service(self, places, tmp_path, monkeypatch):
        # The service and its location are written before its phones; a phone that trips
        # over something unforeseen rolls the whole record back.
        def broken_phone(*args, **kwargs):
            raise TypeError("unforeseen")

        monkeypatch.setattr(importers, "_phone", broken_phone)
        half = record("Half", phones=[{"id": str(uuid.uuid4()), "number": "0161 000 0000"}])

        out, err = run(write(tmp_path, "half.json", json.dumps(half)))

        assert "record 1: rejected 'Half'" in err and "unforeseen" in err
        assert Service.objects.count() == 0
        assert (
            Organization.objects.count(),
            Location.objects.count(),
            Schedule.objects.count(),
        ) == (0, 0, 0)

    def test_it_leaves_out_a_location_it_cannot_place_and_says_so(self, places, tmp_path):
        bad = record("Nowhere")
        bad["service_at_locations"][0]["location"]["addresses"][0]["postal_code"] = "not a postcode"

        out, err = run(write(tmp_path, "bad.json", json.dumps(bad)))

        assert "postal_code 'not a postcode' is not a UK postcode: left out" in out
        assert "service_at_locations[0] left out: location 'Park gates' cannot be placed" in out
        assert "will not show in searches near a place" in out
        service = Service.objects.get()
        assert service.service_at_locations.count() == 0 and Location.objects.count() == 0

    def test_it_reports_lines_of_ndjson_that_are_not_json(self, places, tmp_path):
        out, err = run(write(tmp_path, "x.ndjson", json.dumps(record("A")) + "\n{oops\n"))

        assert "1 created, 0 updated, 1 rejected." in out
        assert "line 2 is not JSON" in err

    def test_it_follows_every_page_of_a_url(self, places, monkeypatch):
        pages = {
            "1": {"page_number": 1, "last_page": False, "contents": [record("A")]},
            "2": {"page_number": 2, "last_page": True, "contents": [record("B")]},
        }
        asked = []

        def fetch(url):
            asked.append(url)
            page = "2" if "page=2" in url else "1"
            return json.dumps(pages[page])

        monkeypatch.setattr(importers, "_fetch", fetch)
        out, _ = run("https://directory.example/openreferral/services?per_page=1")

        assert "2 created" in out
        assert asked == [
            "https://directory.example/openreferral/services?per_page=1",
            "https://directory.example/openreferral/services?per_page=1&page=2",
        ]

    def test_it_says_when_the_source_cannot_be_read(self, db, tmp_path):
        from django.core.management.base import CommandError

        with pytest.raises(CommandError, match="Could not read"):
            run(str(tmp_path / "missing.json"))


class LiberalImportTests:
    """What real feeds hold beyond the peer data's cases: normalised where the meaning is
    clear, otherwise left out, and always said."""

    def test_it_gives_a_record_whose_id_is_not_a_uuid_a_stable_one(self, places):
        first = importers.import_openreferral([record("Hyde Walks", id="svc-42")])
        again = importers.import_openreferral([record("Hyde Walks", id="svc-42")])

        made = uuid.uuid5(importers.vocabularies.NAMESPACE, "openreferral/service/svc-42")
        assert first.summary.startswith("1 created") and again.summary.startswith("0 created, 1")
        assert Service.objects.get().pk == made
        assert f"id 'svc-42' is not a UUID: imported as {made}, made from it" in (
            first.outcomes[0].warnings
        )

    def test_it_reads_phone_numbers_inside_text_and_drops_phones_without_one(self, places):
        phones = [
            {"number": "Call 9am-5pm on 0161 496 0000"},
            {"number": "ask at reception"},
            {"number": "111", "description": "NHS 111"},
        ]
        report = importers.import_openreferral([record(phones=phones)])

        saved = {p.number: p.description for p in Service.objects.get().phones.all()}
        assert saved == {"0161 496 0000": "Call 9am-5pm on", "111": "NHS 111"}
        assert "phones[1] left out: no phone number in number 'ask at reception'" in (
            report.outcomes[0].warnings
        )

    def test_it_turns_html_into_plain_text_keeping_paragraphs_lists_and_links(self):
        text = importers.html_to_text(
            "<h2>Walks</h2><p>Tea &amp; cake&nbsp;after.<br>Free.</p>"
            "<ul><li>Mondays</li><li>Fridays</li></ul>"
            '<p>See <a href="https://walks.example/">our site</a>.</p><script>x()</script>'
        )

        assert text == (
            "Walks\n\nTea & cake after.\nFree.\n\n- Mondays\n- Fridays\n\n"
            "See our site (https://walks.example/)."
        )

    def test_it_normalises_what_has_one_meaning_and_names_it(self, places):
        data = record(
            url="www.hydewalks.org.uk",
            status="Temporarily_Closed",
            minimum_age=65,
            maximum_age=18,
            languages=[{"name": "English", "code": "en-GB"}, {"note": "no name"}],
        )
        report = importers.import_openreferral([data])

        service = Service.objects.get()
        warnings = report.outcomes[0].warnings
        assert service.url == "https://www.hydewalks.org.uk"
        assert service.status == "temporarily closed"
        assert (service.minimum_age, service.maximum_age) == (None, None)
        assert service.languages.get().code == "en"
        assert "minimum_age 65 is above maximum_age 18: both left out" in warnings
        assert "languages[0].code 'en-gb' is not an ISO 639 code: imported as 'en'" in warnings
        assert "languages[1] left out: a language with neither name nor code" in warnings
        assert "status 'Temporarily_Closed' imported as 'temporarily closed'" in warnings


class RoundTripTests:
    def test_it_exports_and_imports_into_an_empty_directory_unchanged(self, client, directory):
        def export():
            body = client.get("/openreferral/services", {"full": "true", "per_page": "500"}).json()
            for service in body["contents"]:
                service.pop("last_modified")
            return sorted(body["contents"], key=lambda s: s["id"])

        before = export()
        Service.objects.all().delete()
        Location.objects.all().delete()
        Organization.objects.all().delete()
        assert export() == []

        report = importers.import_openreferral(json.loads(json.dumps(before)))

        assert report.summary == "2 created, 0 updated, 0 rejected."
        assert export() == before


class ImportCsvTests:
    def run(self, text) -> tuple[str, str]:
        out, err = io.StringIO(), io.StringIO()
        path = Path(self.tmp) / "directory.csv"
        path.write_text(text, encoding="utf-8-sig")
        call_command("import_directory_csv", str(path), stdout=out, stderr=err)
        return out.getvalue(), err.getvalue()

    @pytest.fixture(autouse=True)
    def _tmp(self, tmp_path):
        self.tmp = tmp_path

    def test_it_imports_the_documented_template(self, places):
        out, err = io.StringIO(), io.StringIO()
        call_command(
            "import_directory_csv",
            str(REPO / "fixtures" / "directory_template.csv"),
            stdout=out,
            stderr=err,
        )

        assert "3 created, 0 updated, 0 rejected." in out.getvalue()
        walk = Service.objects.get(name="Tuesday Health Walk")
        location = walk.service_at_locations.get().location
        assert (round(location.latitude, 6), round(location.longitude, 6)) == PLACES["SK14 1AA"]
        assert walk.access == "drop_in"
        assert sorted(walk.taxonomy_terms.values_list("code", flat=True)) == [
            "loneliness",
            "nature-green-space",
            "physical-activity",
        ]
        library = Service.objects.get(name="Library Digital Help")
        assert library.kind == "online_centre"
        assert library.schedules.count() + library.service_at_locations.get().schedules.count() == 1
        phone_line = Service.objects.get(name="Money Advice by Phone")
        assert phone_line.service_areas.get().postcode_districts == ["CA1", "CA2", "CA3"]
        assert phone_line.minimum_age == 18

    def test_it_is_safe_to_run_twice(self, places):
        path = str(REPO / "fixtures" / "directory_template.csv")
        call_command("import_directory_csv", path, stdout=io.StringIO(), stderr=io.StringIO())
        out = io.StringIO()
        call_command("import_directory_csv", path, stdout=out, stderr=io.StringIO())

        assert "0 created, 3 updated, 0 rejected." in out.getvalue()
        assert Service.objects.count() == 3

    def test_it_names_the_row_and_column_of_each_error_and_keeps_valid_rows(self, places):
        text = (
            "organisation,service_name,postcode,needs,email,days,opens_at,cost\n"
            "Walkers,Good Walk,SK14 1AA,physical-activity,a@example.org,MO,10:00,0\n"
            "Walkers,Bad Need,SK14 1AA,happiness,,,,\n"
            "Walkers,Bad Postcode,XX99 9XX,,,,,\n"
            "Walkers,,SK14 1AA,,,,,\n"
            "Walkers,Bad Email,SK14 1AA,,not-an-email,,,\n"
            "Walkers,Bad Time,SK14 1AA,,,MO,ten,\n"
            "Walkers,Bad Cost,SK14 1AA,,,,,a fiver\n"
            "Walkers,Bad Hour,SK14 1AA,,,MO,25:00,\n"
            "Walkers,Another Good One,SK14 1PW,,,,,\n"
        )

        out, err = self.run(text)

        assert "2 created, 0 updated, 7 rejected." in out
        assert sorted(Service.objects.values_list("name", flat=True)) == [
            "Another Good One",
            "Good Walk",
        ]
        assert "row 3: rejected 'Bad Need': column needs: unknown happiness" in err
        assert "row 4: rejected 'Bad Postcode': column postcode:" in err
        assert "row 5: rejected: column service_name: is empty; it is required" in err
        assert "row 6: rejected 'Bad Email': column email:" in err
        assert "row 7: rejected 'Bad Time': column opens_at:" in err
        assert "row 8: rejected 'Bad Cost': column cost:" in err
        assert "row 9: rejected 'Bad Hour': column opens_at:" in err

    def test_it_refuses_a_file_without_the_required_columns(self, db):
        out, err = self.run("name,town\nWalks,Hyde\n")

        assert "row 1: rejected" in err
        assert "column organisation" in err and "column service_name" in err
        assert Service.objects.count() == 0

    def test_it_needs_a_postcode_or_a_service_area(self, places):
        _, err = self.run("organisation,service_name\nWalkers,Floating Walk\n")

        assert "row 2: rejected 'Floating Walk': column postcode:" in err
