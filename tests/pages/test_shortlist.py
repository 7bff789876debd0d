"""The take-away shortlist: tick services, print one A4 page, share a link. Nothing personal."""

import uuid

import pytest
from django.urls import reverse

from directory.views import SHORTLIST_KEY

pytestmark = pytest.mark.django_db


def add(client, *services, **extra):
    return client.post(
        reverse("directory-shortlist-add"),
        {"service": [str(s.pk) for s in services], "next": "/search/?postcode=SK14+1AA"},
        **extra,
    )


class ShortlistTests:
    def test_it_starts_empty(self, client, directory):
        response = client.get(reverse("directory-shortlist"))
        assert response.status_code == 200
        assert "Your shortlist is empty." in response.content.decode()

    def test_it_adds_services_and_goes_back_to_the_results(self, client, directory):
        response = add(client, directory.walking)
        assert response.status_code == 302 and response["Location"] == "/search/?postcode=SK14+1AA"
        add(client, directory.money)
        add(client, directory.walking)  # twice is once
        html = client.get(reverse("directory-shortlist")).content.decode()
        assert html.index("Hyde Walking Group") < html.index("Money Matters Hyde")
        assert "data-shortlist-count>2<" in html

    def test_it_stores_only_service_ids(self, client, directory):
        add(client, directory.walking, directory.money)
        assert client.session[SHORTLIST_KEY] == [str(directory.walking.pk), str(directory.money.pk)]

    def test_it_answers_javascript_with_json(self, client, directory):
        response = add(client, directory.walking, headers={"Accept": "application/json"})
        assert response.json() == {"count": 1, "in_shortlist": True, "full": False}

    def test_it_removes_a_service(self, client, directory):
        add(client, directory.walking, directory.money)
        response = client.post(
            reverse("directory-shortlist-remove"), {"service": str(directory.walking.pk)}
        )
        assert response.status_code == 302
        assert client.session[SHORTLIST_KEY] == [str(directory.money.pk)]

    def test_it_empties_the_list(self, client, directory):
        add(client, directory.walking)
        client.post(reverse("directory-shortlist-clear"))
        assert client.session[SHORTLIST_KEY] == []

    def test_it_refuses_an_unknown_or_retired_service(self, client, directory):
        assert add(client, directory.defunct).status_code == 400
        response = client.post(
            reverse("directory-shortlist-add"),
            {"service": str(uuid.uuid4())},
            headers={"Accept": "application/json"},
        )
        assert response.status_code == 400
        assert (
            client.post(reverse("directory-shortlist-add"), {"service": "nonsense"}).status_code
            == 400
        )

    def test_it_does_not_follow_a_next_link_off_site(self, client, directory):
        response = client.post(
            reverse("directory-shortlist-add"),
            {"service": str(directory.walking.pk), "next": "https://evil.example/"},
        )
        assert response["Location"] == reverse("directory-shortlist")

    def test_it_refuses_changes_by_get(self, client, directory):
        for name in (
            "directory-shortlist-add",
            "directory-shortlist-remove",
            "directory-shortlist-clear",
        ):
            assert client.get(reverse(name)).status_code == 405
        assert client.post(reverse("directory-shortlist")).status_code == 405
        assert client.post(reverse("directory-shortlist-print")).status_code == 405

    def test_its_share_link_reopens_the_same_list_anywhere(
        self, client, directory, django_user_model
    ):
        add(client, directory.walking, directory.online)
        html = client.get(reverse("directory-shortlist")).content.decode()
        share = f"/shortlist/?s={directory.walking.pk}&amp;s={directory.online.pk}"
        assert share in html
        from django.test import Client

        stranger = Client()
        response = stranger.get(
            reverse("directory-shortlist"),
            {"s": [str(directory.walking.pk), str(directory.online.pk)]},
        )
        page = response.content.decode()
        assert "A shared list of services" in page
        assert page.index("Hyde Walking Group") < page.index("Hyde Library Online Centre")
        assert "Save to my shortlist" in page
        assert SHORTLIST_KEY not in stranger.session  # looking at a shared list stores nothing

    def test_a_shared_link_skips_retired_and_malformed_ids(self, client, directory):
        response = client.get(
            reverse("directory-shortlist"),
            {"s": [str(directory.defunct.pk), "junk", str(directory.money.pk)]},
        )
        html = response.content.decode()
        assert "Money Matters Hyde" in html and "Old Lunch Club" not in html

    def test_the_print_view_has_names_addresses_phones_times_and_a_note(self, client, directory):
        add(client, directory.walking, directory.money)
        html = client.get(reverse("directory-shortlist-print")).content.decode()
        for text in (
            "Hyde Walking Group",
            "Hyde Park bandstand, Hyde, SK14 1PW",
            "0161 496 0001",
            "Tuesdays, 10am to 12pm",
            "Money Matters Hyde",
            "Mondays and Thursdays, 9:30am to 1pm",
        ):
            assert text in html
        assert '<label class="label" for="note">Note</label>' in html
        assert "This note is not saved or sent anywhere." in html
