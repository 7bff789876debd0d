"""The Open Referral feed carries harvested services only where their source's licence allows,
each with its provenance; our own services always, with none."""

import pytest
from django.utils import timezone

from directory.models import Feed, HarvestedRecord
from tests.directory.test_openreferral import assert_page, assert_valid
from tests.referrals.factories import make_service


def harvested(service, *, republish: bool, name: str) -> HarvestedRecord:
    feed = Feed.objects.create(
        name=name,
        base_url=f"https://{name.lower()}.example.org/api",
        licence="OGL v3.0" if republish else "All rights reserved",
        republish=republish,
    )
    now = timezone.now()
    return HarvestedRecord.objects.create(
        feed=feed,
        remote_id=f"remote-{service.pk}",
        service=service,
        first_seen=now,
        last_seen=now,
        last_changed=now,
        content_hash="0" * 64,
    )


@pytest.fixture
def services(db):
    ours = make_service("Our walking group", lat=53.4505, lng=-2.0790)
    open_copy = make_service("Open council service", lat=53.4510, lng=-2.0780)
    closed_copy = make_service("Closed vendor service", lat=53.4520, lng=-2.0770)
    harvested(open_copy, republish=True, name="Council")
    harvested(closed_copy, republish=False, name="Vendor")
    return {"ours": ours, "open": open_copy, "closed": closed_copy}


class FeedLicenceTests:
    def test_the_list_leaves_out_what_we_may_not_republish(self, client, services):
        body = client.get("/openreferral/services", {"full": "true"}).json()
        assert_page(body, "compiled/service.json")
        names = {s["name"] for s in body["contents"]}
        assert names == {"Our walking group", "Open council service"}
        assert body["total_items"] == 2

    def test_a_harvested_service_carries_its_provenance_and_ours_none(self, client, services):
        copy = client.get(f"/openreferral/services/{services['open'].pk}").json()
        assert_valid(copy, "compiled/service.json")
        source = copy["flourish"]["source"]
        assert (source["feed"], source["licence"]) == ("Council", "OGL v3.0")
        assert source["remote_id"] == f"remote-{services['open'].pk}"
        assert source["feed_url"] == "https://council.example.org/api"
        ours = client.get(f"/openreferral/services/{services['ours'].pk}").json()
        assert "source" not in ours["flourish"]

    def test_one_we_may_not_republish_is_not_found_anywhere_in_the_feed(self, client, services):
        closed = services["closed"]
        assert client.get(f"/openreferral/services/{closed.pk}").status_code == 404
        sal = closed.service_at_locations.get()
        assert client.get(f"/openreferral/service_at_locations/{sal.pk}").status_code == 404
        sals = client.get("/openreferral/service_at_locations").json()["contents"]
        assert str(sal.pk) not in {s["id"] for s in sals}
        organizations = client.get("/openreferral/organizations").json()["contents"]
        assert str(closed.organization_id) not in {o["id"] for o in organizations}
        org = client.get(f"/openreferral/organizations/{closed.organization_id}")
        assert org.status_code == 404

    def test_a_licence_that_changes_is_followed_at_once(self, client, services):
        Feed.objects.filter(name="Vendor").update(republish=True)
        assert client.get(f"/openreferral/services/{services['closed'].pk}").status_code == 200
