"""A search from somewhere Flourish has no services: not a dead end (directory.coverage)."""

import importlib

import pytest
from django.apps import apps
from django.urls import reverse

from directory import coverage
from directory.models import Helpline
from tests.conftest import add_place, add_postcode, rebuild_postcode_areas
from tests.pages.conftest import directory  # noqa: F401  (the pages' small Hyde directory)

# Real Code-Point Open positions (WGS84).
KW1_4AJ = (58.441364, -3.094025)  # Wick, Caithness: Scotland
CF10_1AA = (51.479866, -3.176394)  # Cardiff: Wales
CA3_8QG = (54.894956, -2.936543)  # Carlisle: England


@pytest.fixture
def far_places(directory):  # noqa: F811
    # The migration's helplines (a transactional test before this one may have flushed them).
    importlib.import_module("directory.migrations.0010_helpline").seed(apps, None)
    add_postcode("KW1 4AJ", *KW1_4AJ)
    add_postcode("CF10 1AA", *CF10_1AA)
    add_postcode("CA3 8QG", *CA3_8QG)
    rebuild_postcode_areas()
    add_place(2646327, "Hyde", 53.45131, -2.07943, population=35895)
    add_place(2633982, "Wick", 58.43906, -3.09424, nation="scotland", population=7140)
    add_place(2653822, "Cardiff", 51.48, -3.18, nation="wales", population=372089)
    add_place(2653775, "Carlisle", 54.8951, -2.9382, population=78470)
    coverage.cache.delete("directory:covered-areas")


def search(client, **params):
    return client.get(reverse("directory-search"), params)


class OutOfAreaPageTests:
    def test_it_says_where_flourish_is_and_what_is_nearest(self, client, far_places):
        response = search(client, postcode="KW1 4AJ")

        assert response.status_code == 200
        section = response.context["out_of_area"]
        assert section.nation == "scotland"
        html = response.content.decode()
        assert "No services in Flourish are near KW1 4AJ yet (Scotland)." in html
        # Where the services are, worked out from them: the Hyde ones are in SK14 and SK15.
        towns = {area["town"] or area["districts"][0] for area in section.areas}
        assert "Hyde" in towns
        assert "Hyde (SK14" in html
        # The nearest services anywhere, nearest first, with the distance.
        assert [s.name for s in section.nearest] == [
            "Tameside Health Trainers",  # Stalybridge, the furthest north
            "Hyde Listening Line",
            "Money Matters Hyde",
        ]
        assert all(s.distance > 400_000 for s in section.nearest)
        assert "miles (" in html and "km) away" in html

    def test_scotland_gets_its_own_helplines_and_directory(self, client, far_places):
        html = search(client, postcode="KW1 4AJ").content.decode()

        assert "NHS 24" in html and "Breathing Space" in html and "Samaritans" in html
        assert 'href="https://www.aliss.org"' in html
        assert "DEWIS" not in html and "NHS 111 Wales" not in html
        assert "Age UK Advice Line" not in html  # England only

    def test_wales_gets_dewis_and_nhs_111_wales(self, client, far_places):
        html = search(client, postcode="CF10 1AA").content.decode()

        assert "DEWIS Cymru" in html and "NHS 111 Wales" in html
        assert "ALISS" not in html and "NHS 24" not in html

    def test_england_gets_nhs_111_and_no_other_nations_directory(self, client, far_places):
        html = search(client, postcode="Carlisle").content.decode()

        assert "No services in Flourish are near Carlisle yet (England)." in html
        assert 'href="tel:111"' in html and "Citizens Advice Adviceline" in html
        assert "ALISS" not in html and "DEWIS" not in html

    def test_editors_keep_the_helplines(self, client, far_places):
        Helpline.objects.filter(name="Samaritans").update(active=False)
        Helpline.objects.create(
            name="Caithness Helpline", phone="01955 000000", england=False, wales=False
        )

        html = search(client, postcode="KW1 4AJ").content.decode()

        assert "Samaritans" not in html
        assert "Caithness Helpline" in html and 'href="tel:01955000000"' in html

    def test_no_results_because_of_filters_is_not_out_of_area(self, client, far_places):
        response = search(client, postcode="SK14 1AA", q="xylophone")

        assert response.status_code == 200
        assert response.context["out_of_area"] is None
        assert "choose fewer filters" in response.content.decode()
        assert "data-out-of-area" not in response.content.decode()

    def test_a_place_with_services_has_no_such_section(self, client, far_places):
        response = search(client, postcode="SK14 1AA")

        assert response.context["result"].total > 0
        assert "data-out-of-area" not in response.content.decode()


class CoveredAreasTests:
    def test_a_new_district_appears_once_a_service_is_listed_there(self, far_places):
        before = {d for area in coverage.covered_areas() for d in area["districts"]}
        assert "CA3" not in before and {"SK14", "SK15"} <= before

        from tests.pages.conftest import PLACES, make_service

        PLACES["CA3 8QG"] = CA3_8QG
        try:
            make_service("Carlisle Walks", at="CA3 8QG")
        finally:
            del PLACES["CA3 8QG"]
        coverage.cache.delete("directory:covered-areas")

        areas = coverage.covered_areas()
        assert {"town": "Carlisle", "districts": ["CA3"], "services": 1} in areas

    def test_services_that_are_not_listed_do_not_count(self, far_places):
        # The Clerkenwell choir is in EC1A; the defunct lunch club's venue is in SK14 anyway.
        districts = {d for area in coverage.covered_areas() for d in area["districts"]}
        assert "EC1A" in districts
        from directory.models import Service

        Service.objects.filter(name="Clerkenwell Choir").update(status=Service.Status.INACTIVE)
        coverage.cache.delete("directory:covered-areas")
        districts = {d for area in coverage.covered_areas() for d in area["districts"]}
        assert "EC1A" not in districts


class HelplineAdminTests:
    @pytest.fixture
    def editor(self, db):
        from django.contrib.auth.models import Group, User

        from directory.admin import EDITORS_GROUP

        user = User.objects.create_user("editor", password="a-long-password-1", is_staff=True)
        user.groups.add(Group.objects.get(name=EDITORS_GROUP))
        return user

    def test_an_editor_adds_a_helpline_and_cannot_delete_one(self, client, far_places, editor):
        client.force_login(editor)
        assert client.get("/admin/directory/helpline/").status_code == 200

        response = client.post(
            "/admin/directory/helpline/add/",
            {
                "name": "Highland Helpline",
                "kind": "helpline",
                "phone": "01463 000000",
                "scotland": "on",
                "order": "30",
                "active": "on",
            },
        )

        assert response.status_code == 302
        line = Helpline.objects.get(name="Highland Helpline")
        assert (line.scotland, line.england, line.wales) == (True, False, False)
        assert client.post(f"/admin/directory/helpline/{line.pk}/delete/").status_code == 403
        assert Helpline.objects.filter(pk=line.pk).exists()

    def test_someone_not_an_editor_cannot_open_them(self, client, far_places):
        from django.contrib.auth.models import User

        outsider = User.objects.create_user("outsider", password="a-long-password-1", is_staff=True)
        client.force_login(outsider)
        assert client.get("/admin/directory/helpline/").status_code == 403
