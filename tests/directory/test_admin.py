"""Directory editors edit in the admin; nobody else reaches it; nothing is ever deleted."""

import re

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Group, User

from directory.admin import EDITORS_GROUP
from directory.models import Location, Organization, Service
from tests.directory.conftest import PLACES, make_service

CHANGELIST = "/admin/directory/service/"


@pytest.fixture
def editor(db):
    user = User.objects.create_user("editor", password="a-long-password-1", is_staff=True)
    user.groups.add(Group.objects.get(name=EDITORS_GROUP))
    return user


@pytest.fixture
def outsider(db):
    """Staff (e.g. a practice manager using another part of the admin) but not an editor."""
    return User.objects.create_user("outsider", password="a-long-password-1", is_staff=True)


def inline_management(prefixes):
    data = {}
    for prefix in prefixes:
        data.update(
            {
                f"{prefix}-TOTAL_FORMS": "0",
                f"{prefix}-INITIAL_FORMS": "0",
                f"{prefix}-MIN_NUM_FORMS": "0",
                f"{prefix}-MAX_NUM_FORMS": "1000",
            }
        )
    return data


SERVICE_INLINES = [
    "service_at_locations",
    "schedules",
    "attributes",
    "cost_options",
    "languages",
    "service_areas",
    "contacts",
    "phones",
]


def service_form(service, **changes):
    data = {
        "organization": str(service.organization_id),
        "name": service.name,
        "description": service.description,
        "kind": service.kind,
        "access": service.access,
        "status": service.status,
        "alert": "",
        "url": "",
        "email": "",
        "minimum_age": "",
        "maximum_age": "",
        "fees": "",
        "accreditations": "",
        "capacity_available": "",
        "capacity_maximum": "",
        "capacity_unit": "",
        "assured_date": "",
        "assurer_email": "",
        **inline_management(SERVICE_INLINES),
    }
    data.update(changes)
    return data


class EditorTests:
    def test_the_editors_group_may_do_everything_but_delete(self, db):
        codenames = set(
            Group.objects.get(name=EDITORS_GROUP).permissions.values_list("codename", flat=True)
        )

        assert {
            "add_service",
            "change_service",
            "view_service",
            "change_location",
            "add_schedule",
        } <= codenames
        assert not {c for c in codenames if c.startswith("delete_")}

    def test_an_editor_sees_the_directory(self, client, editor):
        make_service("Hyde Walks")
        client.force_login(editor)

        response = client.get(CHANGELIST)

        assert response.status_code == 200
        assert "Hyde Walks" in response.content.decode()

    def test_an_editor_changes_a_service_and_it_is_recorded(self, client, editor):
        service = make_service("Hyde Walks")
        client.force_login(editor)

        response = client.post(
            f"{CHANGELIST}{service.pk}/change/",
            service_form(service, name="Hyde Health Walks", status="inactive"),
        )

        assert response.status_code == 302, response.content.decode()[:3000]
        service.refresh_from_db()
        assert (service.name, service.status, service.modified_by) == (
            "Hyde Health Walks",
            "inactive",
            editor,
        )
        entry = LogEntry.objects.get(object_id=str(service.pk))
        assert (entry.user, entry.action_flag) == (editor, CHANGE)

    def test_an_editor_is_told_what_is_wrong(self, client, editor):
        service = make_service("Youth Club")
        client.force_login(editor)

        response = client.post(
            f"{CHANGELIST}{service.pk}/change/",
            service_form(service, minimum_age="18", maximum_age="11", email="nope"),
        )

        assert response.status_code == 200
        page = response.content.decode()
        assert "The maximum age is below the minimum age." in page
        assert "Enter a valid email address." in page
        service.refresh_from_db()
        assert service.minimum_age is None

    def test_an_editor_places_a_location_by_postcode_on_a_map(self, client, editor, places):
        org = Organization.objects.create(name="Walkers")
        client.force_login(editor)

        page = client.get("/admin/directory/location/add/").content.decode()
        response = client.post(
            "/admin/directory/location/add/",
            {
                "organization": str(org.pk),
                "location_type": "physical",
                "name": "Park gates",
                "postal_code": "sk14 1pw",
                "country": "GB",
                "point": "",
                **inline_management(["accessibility"]),
            },
        )

        assert '<script src="/static/leaflet/leaflet.js"' in page and "cdn" not in page.lower()
        assert response.status_code == 302, response.content.decode()[:3000]
        location = Location.objects.get(name="Park gates")
        assert location.postal_code == "SK14 1PW"
        assert (round(location.latitude, 6), round(location.longitude, 6)) == PLACES["SK14 1PW"]
        assert location.modified_by == editor

    def test_an_editor_cannot_save_a_physical_place_without_a_postcode_or_pin(self, client, editor):
        client.force_login(editor)

        response = client.post(
            "/admin/directory/location/add/",
            {
                "location_type": "physical",
                "name": "Somewhere",
                "postal_code": "",
                "country": "GB",
                "point": "",
                **inline_management(["accessibility"]),
            },
        )

        assert response.status_code == 200
        assert "Give the postcode (or put a pin on the map)" in response.content.decode()
        assert not Location.objects.exists()

    def test_the_map_script_is_allowed_by_the_pages_content_security_policy(self, client, editor):
        client.force_login(editor)

        response = client.get("/admin/directory/location/add/")

        nonce = re.search(r"'nonce-([^']+)'", response["Content-Security-Policy"]).group(1)
        inline_scripts = re.findall(r"<script nonce=\"([^\"]*)\">", response.content.decode())
        assert inline_scripts, "the map widget has inline scripts"
        assert set(inline_scripts) == {nonce}


class NoDeletionTests:
    def test_nobody_deletes_a_service_not_even_a_superuser(self, client, editor):
        service = make_service("Hyde Walks")
        admin_user = User.objects.create_superuser("root", password="a-long-password-1")

        for user in (editor, admin_user):
            client.force_login(user)
            assert client.get(f"{CHANGELIST}{service.pk}/delete/").status_code == 403
            assert (
                client.post(f"{CHANGELIST}{service.pk}/delete/", {"post": "yes"}).status_code == 403
            )
            # The only built-in bulk action is delete, so the list has no action menu at all.
            assert client.get(CHANGELIST).context["action_form"] is None

        assert Service.objects.filter(pk=service.pk).exists()


class OutsiderTests:
    def test_staff_who_are_not_editors_are_refused(self, client, outsider):
        service = make_service("Hyde Walks")
        client.force_login(outsider)

        assert client.get(CHANGELIST).status_code == 403
        assert client.get(f"{CHANGELIST}{service.pk}/change/").status_code == 403
        response = client.post(
            f"{CHANGELIST}{service.pk}/change/", service_form(service, name="Hacked")
        )
        assert response.status_code == 403
        service.refresh_from_db()
        assert service.name == "Hyde Walks"

    def test_people_who_are_not_staff_are_sent_to_log_in(self, client, db):
        user = User.objects.create_user("resident", password="a-long-password-1")
        client.force_login(user)

        response = client.get(CHANGELIST)

        assert response.status_code == 302
        assert "/login/" in response["Location"]

    def test_anonymous_visitors_are_sent_to_log_in(self, client, db):
        response = client.get(CHANGELIST)

        assert response.status_code == 302
        assert "/login/" in response["Location"]
