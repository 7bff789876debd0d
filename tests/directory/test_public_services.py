"""Which services the public sees: every surface agrees with Service.objects' one rule.

One service of each status, all at the same place with the same need, so the only thing that
can tell them apart is the status. ``published()`` (the open-data feed) has all four;
``public()`` (service page, shortlist, /api/services/<id>/) has active and temporarily closed;
``searchable()`` (the search API and results page) has active only.
"""

import re

import pytest
from django.urls import reverse

from directory.models import Service
from tests.directory.conftest import make_service

NAMES = {
    Service.Status.ACTIVE: "Alder Walks",
    Service.Status.INACTIVE: "Birch Walks",
    Service.Status.DEFUNCT: "Cedar Walks",
    Service.Status.TEMPORARILY_CLOSED: "Damson Walks",
}
PUBLIC = {"Alder Walks", "Damson Walks"}
SEARCHABLE = {"Alder Walks"}
EVERY = set(NAMES.values())


@pytest.fixture
def by_status(places):
    return {
        status: make_service(name, at="SK14 1PW", needs=["physical-activity"], status=status)
        for status, name in NAMES.items()
    }


def names_of(queryset) -> set[str]:
    return set(queryset.values_list("name", flat=True))


class PublicServicesRuleTests:
    def test_it_narrows_published_to_public_to_searchable(self, by_status):
        assert names_of(Service.objects.published()) == EVERY
        assert names_of(Service.objects.public()) == PUBLIC
        assert names_of(Service.objects.searchable()) == SEARCHABLE


class PublicServicesSurfaceTests:
    def test_it_searches_active_services_only_in_the_api(self, client, by_status):
        body = client.get("/api/services/", {"postcode": "SK14 1AA"}).json()

        assert {r["name"] for r in body["results"]} == names_of(Service.objects.searchable())

    def test_it_lists_active_services_only_on_the_results_page(self, client, by_status):
        response = client.get(reverse("directory-search"), {"postcode": "SK14 1AA"})

        found = re.findall(
            r'class="result__title"><a href="[^"]+">(?:<span[^>]*>[^<]*</span>)?([^<]+)</a>',
            response.content.decode(),
        )
        assert response.status_code == 200
        assert set(found) == names_of(Service.objects.searchable())

    def test_it_opens_the_page_of_public_services_only(self, client, by_status):
        opened = {
            service.name
            for service in by_status.values()
            if client.get(reverse("directory-service", args=[service.pk])).status_code == 200
        }
        refused = {
            service.name
            for service in by_status.values()
            if client.get(reverse("directory-service", args=[service.pk])).status_code == 404
        }

        assert opened == names_of(Service.objects.public())
        assert refused == EVERY - PUBLIC

    def test_it_shortlists_public_services_only(self, client, by_status):
        added = {
            service.name
            for service in by_status.values()
            if client.post(
                reverse("directory-shortlist-add"), {"service": [str(service.pk)]}
            ).status_code
            == 302
        }
        html = client.get(
            reverse("directory-shortlist"), {"s": [str(s.pk) for s in by_status.values()]}
        ).content.decode()

        assert added == names_of(Service.objects.public())
        assert {name for name in EVERY if name in html} == names_of(Service.objects.public())

    def test_it_answers_the_service_api_for_public_services_only(self, client, by_status):
        answers = {
            service.name: client.get(f"/api/services/{service.pk}/")
            for service in by_status.values()
        }

        assert {n for n, r in answers.items() if r.status_code == 200} == names_of(
            Service.objects.public()
        )
        assert {n for n, r in answers.items() if r.status_code == 404} == EVERY - PUBLIC
        closed = answers[NAMES[Service.Status.TEMPORARILY_CLOSED]].json()
        assert closed["status"] == "temporarily closed"

    def test_it_publishes_every_status_in_the_feed_list(self, client, by_status):
        body = client.get("/openreferral/services", {"per_page": "50"}).json()

        published = {item["name"]: item["status"] for item in body["contents"]}
        assert set(published) == names_of(Service.objects.published())
        assert published == {name: status for status, name in NAMES.items()}

    def test_it_publishes_each_service_with_its_status_in_the_feed(self, client, by_status):
        for status, service in by_status.items():
            response = client.get(f"/openreferral/services/{service.pk}")

            assert response.status_code == 200
            assert response.json()["status"] == status

    def test_the_feed_root_says_what_it_publishes(self, client, db):
        body = client.get("/openreferral/").json()

        assert "whatever its status" in body["flourish"]["service_status"]
