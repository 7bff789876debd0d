"""Harvesting another directory's Open Referral UK feed, from a real HTTP server on loopback.

The server serves the peer-data files (shared/peer-data/oruk, read-only, beside the checkout as
the schemas are for test_openreferral.py) as a paged feed: the validator's 128 test variants,
ten a page, under an envelope that lies as the validator's own does (size 31, total_items 31,
total_pages 1, never last_page). The variants all share one id in the file; each is given its
own here (a feed of one service would test nothing). The 28 variants with no organisation at
all are left out: the importer decides about them, not the harvester.
"""

import copy
import datetime as dt
import json
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import CommandError, call_command
from django.utils import timezone

from directory import harvest
from directory.admin import EDITORS_GROUP
from directory.models import DuplicateCandidate, Feed, HarvestedRecord, Service
from tests.directory.conftest import PLACES, make_service

PEER_DATA = Path(__file__).resolve().parents[3] / "shared" / "peer-data" / "oruk"
NS = uuid.UUID("0b6a3c1e-7d4f-4c11-9e55-3f0c2a9d8e71")


def peer(path: str):
    file = PEER_DATA / path
    if not file.exists():
        pytest.skip(f"Peer data not found at {file}: put shared/ beside the checkout.")
    return json.loads(file.read_text())


def variants() -> list[dict]:
    items = peer("validator_mocks/test_variants/service_list.json")["contents"]
    return [
        dict(item, id=str(uuid.uuid5(NS, f"variant/{n}")))
        for n, item in enumerate(items)
        if item.get("organization") or item.get("organization_id")
    ]


def placed_full_record(remote_id: str, name: str, postcode: str) -> dict:
    """The validator's full service record (every nested list), at a real English postcode
    (its own location is at latitude 100 in "MyCity"), without the two parts the importer
    refuses today (service areas with a non-GeoJSON extent, a language with neither name nor
    code): what it accepts is the importer's business, not the harvester's."""
    record = copy.deepcopy(peer("validator_mocks/pass/service_full.json"))
    record.update(id=remote_id, name=name)
    record.pop("service_areas", None)
    record["languages"] = [x for x in record["languages"] if x.get("name") or x.get("code")]
    lat, lng = PLACES[postcode]
    for sal in record["service_at_locations"]:
        location = sal["location"]
        location.update(latitude=lat, longitude=lng)
        for address in location["addresses"]:
            address.update(postal_code=postcode, country="GB")
    return record


class FakeFeed:
    """One feed's data and behaviour (mutable between harvests)."""

    def __init__(self, items, details=None, page_size=10):
        self.items = list(items)
        self.details = dict(details or {})
        self.page_size = page_size
        self.slash_only = False  # answers only on /services/
        self.ignore_page = False
        self.truthful = False  # else the validator's lying envelope
        self.stall_on_page: int | None = None
        self.stall_seconds = 0.0
        self.broken_page: tuple[int, str] | None = None  # (page, "503" or "not json")
        self.not_found_past_end = False  # 404 for a page past the last, not an empty page


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        parts = urllib.parse.urlsplit(self.path)
        self.server.requests.append(
            {
                "path": self.path,
                "agent": self.headers.get("User-Agent", ""),
                "accept": self.headers.get("Accept", ""),
                "at": time.monotonic(),
            }
        )
        name, _, sub = parts.path.lstrip("/").partition("/")
        feed = self.server.feeds.get(name)
        if feed is None:
            return self._send(404, {"error": "no such feed"})
        sub = "/" + sub
        if sub == "/services" and not feed.slash_only or sub == "/services/":
            query = dict(urllib.parse.parse_qsl(parts.query))
            page = 1 if feed.ignore_page else int(query.get("page", 1))
            if feed.stall_on_page == page:
                time.sleep(feed.stall_seconds)
            if feed.broken_page and feed.broken_page[0] == page:
                if feed.broken_page[1] == "503":
                    return self._send(503, {"error": "busy"})
                return self._send(200, "<html>Oops</html>")
            contents = feed.items[(page - 1) * feed.page_size : page * feed.page_size]
            if not contents and feed.not_found_past_end:
                return self._send(404, {"error": "no such page"})
            pages = -(-len(feed.items) // feed.page_size)
            envelope = (
                {
                    "total_items": len(feed.items),
                    "total_pages": pages,
                    "size": len(contents),
                    "last_page": page >= pages,
                }
                if feed.truthful
                else {"total_items": 31, "total_pages": 1, "size": 31, "last_page": False}
            )
            return self._send(
                200,
                envelope
                | {
                    "page_number": page,
                    "first_page": page == 1,
                    "empty": not contents,
                    "contents": contents,
                },
            )
        if sub.startswith("/services/"):
            ident = urllib.parse.unquote(sub[len("/services/") :])
            by_id = {item["id"]: item for item in feed.items}
            record = feed.details.get(ident) or by_id.get(ident)
            if record is None:
                return self._send(404, {"error": "not found"})
            return self._send(200, record)
        return self._send(404, {"error": "not found"})

    def _send(self, status, data):
        body = (data if isinstance(data, str) else json.dumps(data)).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the harvester gave up waiting (the timeout test)


class Server(ThreadingHTTPServer):
    daemon_threads = True


@pytest.fixture
def server():
    httpd = Server(("127.0.0.1", 0), Handler)
    httpd.feeds, httpd.requests = {}, []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def serve(server, name: str, feed: FakeFeed) -> str:
    server.feeds[name] = feed
    return f"http://127.0.0.1:{server.server_port}/{name}"


def run(url: str, **options) -> harvest.HarvestReport:
    feed = harvest.feed_for_url(url)
    options = {"delay": 0, "timeout": 5} | options
    return harvest.harvest(feed, **options)


def service_for(url: str, remote_id: str) -> Service:
    return HarvestedRecord.objects.get(
        feed__base_url=harvest.base_url(url), remote_id=remote_id
    ).service


@pytest.fixture(autouse=True)
def loopback_feeds(settings):
    """The feeds here are on loopback, which a real harvest refuses (see the test of it)."""
    settings.HARVEST_ALLOW_PRIVATE_ADDRESSES = True


@pytest.fixture
def editor(db):
    user = User.objects.create_user("editor", password="a-long-password-1", is_staff=True)
    user.groups.add(Group.objects.get(name=EDITORS_GROUP))
    return user


@pytest.mark.django_db
class FirstHarvestTests:
    def test_it_creates_each_service_with_its_provenance(self, server):
        items = variants()
        url = serve(server, "la", FakeFeed(items))
        report = run(url)
        assert (report.created, report.rejected, report.withdrawn) == (len(items), 0, 0)
        assert report.complete and report.pages == 10  # despite total_pages 1 and size 31
        feed = Feed.objects.get(base_url=url)
        assert feed.last_outcome == Feed.Outcome.COMPLETE
        assert f"{len(items)} created" in feed.last_summary
        record = HarvestedRecord.objects.get(feed=feed, remote_id=items[3]["id"])
        assert record.first_seen == record.last_seen == record.last_changed
        assert record.withdrawn_at is None
        # Its own id, in the feed's namespace; the feed's id is kept as provenance.
        assert record.service_id == uuid.uuid5(feed.id, f"service/{items[3]['id']}")
        assert record.service.name == items[3]["name"]
        assert harvest.provenance(record.service)["remote_id"] == items[3]["id"]
        # The list items are sparse (no nested lists), so each was fetched whole.
        details = [r for r in server.requests if "/services/" in r["path"] and "?" not in r["path"]]
        assert len(details) == len(items)

    def test_it_imports_the_nested_lists_of_a_full_record(self, server, places):
        remote = str(uuid.uuid4())
        full = placed_full_record(remote, "Community Counselling", "SK14 1AA")
        sparse = {k: v for k, v in full.items() if k in ("id", "name", "organization")}
        url = serve(server, "la", FakeFeed([sparse], details={remote: full}))
        report = run(url)
        assert report.created == 1, report.rejections
        service = service_for(url, remote)
        location = service.service_at_locations.get().location
        assert location.postal_code == "SK14 1AA"
        assert service.schedules.exists() or service.service_at_locations.get().schedules.exists()
        assert service.contacts.exists()

    def test_it_refuses_a_feed_on_a_private_network(self, server, settings):
        settings.HARVEST_ALLOW_PRIVATE_ADDRESSES = False
        url = serve(server, "la", FakeFeed(variants()[:2]))
        report = run(url)
        assert "private or local network (127.0.0.1)" in report.error
        assert not server.requests and not Service.objects.exists()
        for address in ("http://10.1.2.3/api", "http://169.254.169.254/", "http://[::1]:8000/"):
            with pytest.raises(harvest.HarvestError, match="feeds must be public"):
                harvest.check_public(address)
        harvest.check_public("https://8.8.8.8/api")  # a public address passes

    def test_ids_are_mapped_into_the_feeds_namespace_except_vocabulary_terms(self, db):
        feed = harvest.feed_for_url("https://example.org/api")
        term = str(uuid.uuid4())
        record = {
            "id": "AC148810-D857-441C-9679-408F346DE14B",
            "organization_id": 7,
            "organization": {"id": 7, "name": "Example"},
            "service_areas": [{"id": "a1", "serviceId": "ac148810-d857-441c-9679-408f346de14b"}],
            "attributes": [{"id": "x", "taxonomy_term_id": term, "taxonomy_term": {"id": term}}],
        }
        mapped = harvest.map_ids(feed, record)
        service = harvest.local_id(feed, "service", "ac148810-d857-441c-9679-408f346de14b")
        assert mapped["id"] == service == mapped["service_areas"][0]["serviceId"]
        assert mapped["organization_id"] == mapped["organization"]["id"] != "7"
        assert mapped["attributes"][0]["taxonomy_term_id"] == term
        assert mapped["attributes"][0]["taxonomy_term"] == {"id": term}
        other = harvest.feed_for_url("https://example.net/api")
        assert harvest.map_ids(other, record)["id"] != mapped["id"]

    def test_the_command_explains_itself(self, capsys):
        with pytest.raises(SystemExit):
            call_command("harvest_openreferral", "--help")
        out = capsys.readouterr().out
        assert "cron" in out and "--allow-mass-withdrawal" in out

    def test_it_says_why_a_feed_cannot_be_harvested(self, db):
        with pytest.raises(CommandError, match="Give either a URL or --due"):
            call_command("harvest_openreferral")
        with pytest.raises(CommandError, match="not an http"):
            call_command("harvest_openreferral", "file:///etc/passwd")


@pytest.mark.django_db
class LaterHarvestTests:
    def test_it_changes_nothing_when_nothing_changed(self, server):
        url = serve(server, "la", FakeFeed(variants()[:30]))
        first = run(url)
        modified = dict(Service.objects.values_list("id", "last_modified"))
        seen = dict(HarvestedRecord.objects.values_list("id", "last_seen"))
        second = run(url)
        assert (second.created, second.updated, second.withdrawn) == (0, 0, 0)
        assert second.unchanged == first.created
        assert dict(Service.objects.values_list("id", "last_modified")) == modified
        for pk, last_seen in HarvestedRecord.objects.values_list("id", "last_seen"):
            assert last_seen > seen[pk]

    def test_it_follows_a_feed_that_changes_between_runs(self, server):
        items = variants()[:30]
        fake = FakeFeed(items)
        url = serve(server, "la", fake)
        run(url)
        edited, removed = items[5]["id"], items[15]["id"]
        fake.items = [
            dict(i, name="Counselling (evenings)") if i["id"] == edited else i for i in items
        ]
        fake.items = [i for i in fake.items if i["id"] != removed]
        added = dict(items[0], id=str(uuid.uuid4()), name="Bereavement support")
        fake.items.append(added)
        before = HarvestedRecord.objects.get(remote_id=edited)

        report = run(url)
        assert (report.created, report.updated, report.withdrawn) == (1, 1, 1)
        assert report.unchanged == len(items) - 2
        after = HarvestedRecord.objects.get(remote_id=edited)
        assert after.service.name == "Counselling (evenings)"
        assert after.last_changed > before.last_changed
        gone = HarvestedRecord.objects.get(remote_id=removed)
        assert gone.withdrawn_at is not None
        assert gone.service.status == Service.Status.INACTIVE  # kept, never deleted
        assert service_for(url, added["id"]).name == "Bereavement support"

        # It comes back: restored, with the feed's own status.
        fake.items.append(next(i for i in items if i["id"] == removed))
        report = run(url)
        assert report.restored == 1 and report.withdrawn == 0
        gone.refresh_from_db()
        assert gone.withdrawn_at is None
        assert gone.service.status == Service.Status.ACTIVE

    def test_it_keeps_what_it_got_when_the_feed_times_out_half_way(self, server, capsys):
        items = variants()[:40]
        fake = FakeFeed(items)
        url = serve(server, "la", fake)
        run(url)
        fake.items = [dict(i, name=f"{i['name']} (new)") for i in items]  # every record changed
        fake.stall_on_page, fake.stall_seconds = 3, 3

        with pytest.raises(CommandError, match="failed"):
            call_command("harvest_openreferral", url, "--timeout", "0.5", "--delay", "0")
        err = capsys.readouterr().err
        assert "did not answer within 0.5 s" in err and "Nothing was withdrawn" in err
        feed = Feed.objects.get(base_url=url)
        assert feed.last_outcome == Feed.Outcome.FAILED
        assert "did not answer" in feed.last_summary
        names = {
            r.remote_id: r.service.name for r in HarvestedRecord.objects.select_related("service")
        }
        assert all(names[i["id"]].endswith("(new)") for i in items[:20])  # pages 1 and 2 kept
        assert not any(names[i["id"]].endswith("(new)") for i in items[20:])
        assert not HarvestedRecord.objects.filter(withdrawn_at__isnull=False).exists()
        assert Service.objects.filter(status=Service.Status.ACTIVE).count() == len(items)

    def test_a_feed_that_suddenly_lists_nothing_does_not_empty_ours(self, server, capsys):
        items = variants()[:30]
        fake = FakeFeed(items)
        url = serve(server, "la", fake)
        run(url)
        fake.items = items[:10]
        report = run(url)
        assert report.withdrawn == 0 and not report.complete
        assert "no longer lists 20 of its 30 services" in report.warnings[0]
        assert Service.objects.filter(status=Service.Status.ACTIVE).count() == len(items)
        call_command("harvest_openreferral", url, "--delay", "0", "--allow-mass-withdrawal")
        assert "20 withdrawn" in capsys.readouterr().out
        assert Service.objects.filter(status=Service.Status.ACTIVE).count() == 10
        fake.items = []  # an empty list is never believed without being told
        assert run(url).withdrawn == 0
        assert Service.objects.filter(status=Service.Status.ACTIVE).count() == 10

    @pytest.mark.parametrize("breakage", ["503", "not json"])
    def test_it_withdraws_nothing_when_a_page_is_broken(self, server, breakage):
        items = variants()[:30]
        fake = FakeFeed(items)
        url = serve(server, "la", fake)
        run(url)
        fake.items = items[:15]  # 85 gone, but page 2 will not be read
        fake.broken_page = (2, breakage)
        report = run(url)
        assert report.error and report.withdrawn == 0
        assert not HarvestedRecord.objects.filter(withdrawn_at__isnull=False).exists()
        assert Feed.objects.get(base_url=url).last_outcome == Feed.Outcome.FAILED


@pytest.mark.django_db
class AwkwardFeedTests:
    def test_it_finds_a_feed_given_with_a_slash_that_answers_only_on_services_slash(self, server):
        items = variants()[:25]
        fake = FakeFeed(items)
        fake.slash_only, fake.truthful = True, True
        url = serve(server, "la", fake)
        report = run(url + "/")
        assert report.complete and report.created == 25 and report.pages == 3
        feed = Feed.objects.get()
        assert feed.base_url == url and feed.services_path == "services/"
        server.requests.clear()
        run(url)
        assert server.requests[0]["path"].startswith("/la/services/?page=1")  # remembered

    def test_it_stops_when_a_feed_ignores_page_and_withdraws_nothing(self, server):
        items = variants()[:30]
        fake = FakeFeed(items)
        fake.truthful = True
        url = serve(server, "la", fake)
        run(url)
        fake.ignore_page = True  # every page is page 1, as Bristol's feed is reported to do
        report = run(url)
        assert report.pages == 1 and not report.complete and not report.error
        assert any("ignore ?page=" in w for w in report.warnings)
        assert report.withdrawn == 0
        assert Service.objects.filter(status=Service.Status.ACTIVE).count() == len(items)
        assert Feed.objects.get().last_outcome == Feed.Outcome.INCOMPLETE

    def test_a_feed_ignoring_page_that_holds_everything_is_complete(self, server):
        # As the validator's own file: one page of them all, claiming 31 (fewer than it holds).
        items = variants()
        fake = FakeFeed(items, page_size=len(items))
        fake.ignore_page = True
        url = serve(server, "la", fake)
        report = run(url)
        assert report.complete and report.created == len(items) > 31

    def test_a_feed_answering_404_past_its_last_page_is_complete(self, server):
        items = variants()[:30]
        fake = FakeFeed(items)
        fake.not_found_past_end = True
        url = serve(server, "la", fake)
        run(url)
        fake.items = items[:25]
        report = run(url)
        assert report.complete and report.withdrawn == 5 and not report.error

    def test_a_detail_answering_another_service_is_rejected_and_the_walk_goes_on(self, server):
        items = variants()[:12]
        wrong = dict(items[1], id=str(uuid.uuid4()))
        url = serve(server, "la", FakeFeed(items, details={items[1]["id"]: wrong}))
        report = run(url)
        assert (report.created, report.rejected) == (11, 1) and report.complete
        assert "answered another record" in report.rejections[0]

    def test_it_stops_at_the_page_cap_and_withdraws_nothing(self, server):
        items = variants()[:30]
        fake = FakeFeed(items)
        url = serve(server, "la", fake)
        run(url)
        fake.items = items[:25]  # 5 gone, but the walk will not reach the end
        report = run(url, max_pages=2)
        assert report.pages == 2 and not report.complete and report.withdrawn == 0
        assert any("cap" in w for w in report.warnings)

    def test_two_feeds_with_the_same_ids_never_overwrite_each_other(self, server):
        items = variants()[:10]
        url_a = serve(server, "a", FakeFeed(items))
        url_b = serve(server, "b", FakeFeed([dict(i, name="Feed B's copy") for i in items]))
        run(url_a)
        run(url_b)
        assert Service.objects.count() == 20
        for item in items:
            assert service_for(url_a, item["id"]).name == item["name"]
            assert service_for(url_b, item["id"]).name == "Feed B's copy"
        # Their organisations are kept apart too (both feeds give the same organisation id).
        assert service_for(url_a, items[0]["id"]).organization_id != (
            service_for(url_b, items[0]["id"]).organization_id
        )

    def test_it_never_touches_a_local_service_even_with_the_same_id(self, server, places):
        local = make_service("Our counselling", at="SK14 1AA")
        before = Service.objects.values().get(pk=local.pk)
        item = dict(variants()[0], id=str(local.pk))
        url = serve(server, "la", FakeFeed([item]))
        assert run(url).created == 1
        assert Service.objects.values().get(pk=local.pk) == before
        assert service_for(url, str(local.pk)).pk != local.pk

    def test_it_sends_its_user_agent_and_waits_between_requests(self, server):
        url = serve(server, "la", FakeFeed(variants()[:3], page_size=2))
        run(url, delay=0.2, contact="https://example.org/flourish-contact")
        requests = server.requests
        assert len(requests) == 6  # pages 1-3 (3 is empty) and 3 services
        for request in requests:
            assert request["agent"].startswith("Flourish-harvester/")
            assert "https://example.org/flourish-contact" in request["agent"]
            assert request["accept"] == "application/json"
        gaps = [b["at"] - a["at"] for a, b in zip(requests, requests[1:], strict=False)]
        assert min(gaps) >= 0.18


@pytest.mark.django_db
class DuplicateTests:
    def offer(self, server, places, remote_name="Community Counseling", postcode="SK14 1AA"):
        local = make_service(
            "Community Counselling", at="SK14 1AA", organization="Example Organization Inc."
        )
        remote = str(uuid.uuid4())
        record = placed_full_record(remote, remote_name, postcode)
        fake = FakeFeed([record])
        url = serve(server, "la", fake)
        report = run(url)
        assert report.created == 1, report.rejections
        return local, service_for(url, remote), url, fake, report

    def test_it_offers_a_same_organisation_same_postcode_similar_name_pair(self, server, places):
        local, copied, url, _, report = self.offer(server, places)
        assert report.duplicates == 1
        candidate = DuplicateCandidate.objects.get()
        assert (candidate.left, candidate.right) == (local, copied)  # our own is the one kept
        assert candidate.status == DuplicateCandidate.Status.OPEN
        assert "SK14 1AA" in candidate.reason
        # Nothing merged on its own; and not offered again by the next harvest.
        assert copied.status == Service.Status.ACTIVE
        assert run(url).duplicates == 0
        assert DuplicateCandidate.objects.count() == 1

    def test_it_offers_a_pair_from_two_feeds_keeping_the_older_copy(self, server, places):
        url_a = serve(server, "a", FakeFeed([placed_full_record("1", "Counselling", "SK14 1PW")]))
        url_b = serve(
            server, "b", FakeFeed([placed_full_record("x-1", "Counselling service", "SK14 1PW")])
        )
        assert run(url_a).duplicates == 0
        assert run(url_b).duplicates == 1
        candidate = DuplicateCandidate.objects.get()
        assert (candidate.left, candidate.right) == (
            service_for(url_a, "1"),
            service_for(url_b, "x-1"),
        )
        assert run(url_a).duplicates == 0  # the same pair, seen from the other side

    def test_names_are_compared_as_people_read_them(self):
        assert harvest.organisation_key("The Care Forum Ltd.") == harvest.organisation_key(
            "care forum"
        )
        assert harvest.organisation_key("Age UK") != harvest.organisation_key("Mind")
        assert harvest.name_similarity("Men's Shed", "Mens shed") >= harvest.NAME_SIMILARITY
        assert harvest.name_similarity("Walk & Talk", "Walk and talk group") >= 0.8
        assert harvest.name_similarity("Debt advice", "Walking football") < 0.8

    def test_it_offers_nothing_for_another_postcode(self, server, places):
        *_, report = self.offer(server, places, postcode="SK15 1AA")
        assert report.duplicates == 0 and not DuplicateCandidate.objects.exists()

    def test_it_offers_nothing_for_a_different_name(self, server, places):
        *_, report = self.offer(server, places, remote_name="Debt advice drop-in")
        assert report.duplicates == 0

    def test_an_editor_merges_and_the_next_harvest_does_not_undo_it(
        self, server, places, editor, client
    ):
        local, copied, url, fake, _ = self.offer(server, places)
        candidate = DuplicateCandidate.objects.get()
        client.force_login(editor)
        response = client.post(
            "/admin/directory/duplicatecandidate/",
            {"action": "merge", "_selected_action": [candidate.pk]},
            follow=True,
        )
        assert "1 pair(s) merged" in response.content.decode()
        candidate.refresh_from_db()
        assert candidate.status == DuplicateCandidate.Status.MERGED
        assert candidate.decided_by == editor and candidate.decided_at is not None
        copied.refresh_from_db()
        local.refresh_from_db()
        assert copied.status == Service.Status.INACTIVE and local.status == Service.Status.ACTIVE
        fake.items[0] = dict(fake.items[0], name="Community Counseling (changed)")
        report = run(url)
        copied.refresh_from_db()
        assert report.merged == 1 and copied.status == Service.Status.INACTIVE
        assert copied.name == "Community Counseling"

    def test_kept_apart_is_kept_and_not_offered_again(self, server, places, editor, client):
        local, copied, url, fake, _ = self.offer(server, places)
        candidate = DuplicateCandidate.objects.get()
        client.force_login(editor)
        client.post(
            "/admin/directory/duplicatecandidate/",
            {"action": "keep_apart", "_selected_action": [candidate.pk]},
        )
        candidate.refresh_from_db()
        assert candidate.status == DuplicateCandidate.Status.KEPT_APART
        assert Service.objects.filter(status=Service.Status.ACTIVE).count() == 2
        fake.items[0] = dict(fake.items[0], name="Community Counseling service")
        assert run(url).duplicates == 0
        # A decided pair cannot be decided again.
        response = client.post(
            "/admin/directory/duplicatecandidate/",
            {"action": "merge", "_selected_action": [candidate.pk]},
            follow=True,
        )
        assert "already decided" in response.content.decode()
        copied.refresh_from_db()
        assert copied.status == Service.Status.ACTIVE

    def test_only_editors_reach_the_duplicates(self, client, db):
        outsider = User.objects.create_user("outsider", password="a-long-password-1", is_staff=True)
        client.force_login(outsider)
        assert client.get("/admin/directory/duplicatecandidate/").status_code == 403
        assert client.get("/admin/directory/feed/").status_code == 403


@pytest.mark.django_db
class FeedAdminTests:
    def test_an_editor_harvests_a_feed_now_and_sees_the_outcome(self, server, editor, client):
        url = serve(server, "la", FakeFeed(variants()[:5]))
        feed = harvest.feed_for_url(url, name="Example council")
        client.force_login(editor)
        response = client.post(
            "/admin/directory/feed/",
            {"action": "harvest_now", "_selected_action": [feed.pk]},
            follow=True,
        )
        assert "Example council: 1 page(s), 5 service(s) seen: 5 created" in (
            response.content.decode()
        )
        assert "Complete" in client.get("/admin/directory/feed/").content.decode()

    def test_the_command_records_the_feeds_licence_and_shows_progress(self, server, capsys):
        url = serve(server, "la", FakeFeed(variants()[:12]))
        call_command(
            "harvest_openreferral",
            url + "/services/",
            "--name",
            "Example council",
            "--licence",
            "OGL v3.0",
            "--licence-url",
            "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/",
            "--republish",
            "--delay",
            "0",
        )
        out = capsys.readouterr().out
        assert "Page 1 (" in out and "Page 2 (" in out
        assert "Example council: 2 page(s), 12 service(s) seen: 12 created" in out
        feed = Feed.objects.get()
        assert (feed.name, feed.base_url, feed.licence, feed.republish) == (
            "Example council",
            url,
            "OGL v3.0",
            True,
        )

    def test_an_editor_opens_every_harvest_page(self, server, places, editor, client):
        local = make_service("Community Counselling", at="SK14 1AA", organization="Example Org")
        record = placed_full_record("r1", "Community Counselling", "SK14 1AA")
        record["organization"]["name"] = "Example Org"
        url = serve(server, "la", FakeFeed([record]))
        assert run(url).duplicates == 1
        feed, copy_ = Feed.objects.get(), HarvestedRecord.objects.get()
        candidate = DuplicateCandidate.objects.get()
        client.force_login(editor)
        for page in (
            "/admin/directory/feed/",
            f"/admin/directory/feed/{feed.pk}/change/",
            "/admin/directory/feed/add/",
            "/admin/directory/harvestedrecord/",
            f"/admin/directory/harvestedrecord/{copy_.pk}/change/",
            "/admin/directory/duplicatecandidate/",
            f"/admin/directory/duplicatecandidate/{candidate.pk}/change/",
        ):
            assert client.get(page).status_code == 200, page
        listing = client.get("/admin/directory/duplicatecandidate/").content.decode()
        assert local.name in listing and "Open" in listing
        # Provenance and candidates are written by harvests only; nothing is deleted.
        assert client.get("/admin/directory/harvestedrecord/add/").status_code == 403
        assert client.get("/admin/directory/duplicatecandidate/add/").status_code == 403
        assert (
            client.post(f"/admin/directory/feed/{feed.pk}/delete/", {"post": "yes"}).status_code
            == 403
        )

    def test_due_harvests_only_the_feeds_whose_interval_has_passed(self, server, capsys):
        url_a = serve(server, "a", FakeFeed(variants()[:2]))
        url_b = serve(server, "b", FakeFeed(variants()[2:4]))
        harvest.feed_for_url(url_a, name="Due")
        recent = harvest.feed_for_url(url_b, name="Recent")
        Feed.objects.filter(pk=recent.pk).update(last_started_at=timezone.now())
        inactive = harvest.feed_for_url(f"http://127.0.0.1:{server.server_port}/c", name="Inactive")
        Feed.objects.filter(pk=inactive.pk).update(active=False)
        call_command("harvest_openreferral", "--due", "--delay", "0")
        out = capsys.readouterr().out
        assert "Harvesting Due" in out
        assert "Recent" not in out and "Inactive" not in out
        assert HarvestedRecord.objects.filter(feed__name="Due").count() == 2
        Feed.objects.filter(name="Recent").update(
            last_started_at=timezone.now() - dt.timedelta(hours=25)
        )
        assert [f.name for f in harvest.due_feeds()] == ["Recent"]
        assert harvest.due_feeds() == []  # claimed: a second worker or cron run skips it


@pytest.mark.django_db
class PublishingTests:
    def test_only_feeds_that_allow_it_are_republished_with_their_provenance(self, server, places):
        local = make_service("Our own walk", at="SK14 1AA")
        url = serve(server, "la", FakeFeed(variants()[:2]))
        feed = harvest.feed_for_url(url, name="Example council", licence="CC BY-SA 4.0")
        harvest.harvest(feed, delay=0)
        copies = set(HarvestedRecord.objects.values_list("service_id", flat=True))
        published = set(
            harvest.publishable_services(Service.objects.all()).values_list("pk", flat=True)
        )
        assert published == {local.pk}
        assert harvest.provenance(local) is None

        Feed.objects.filter(pk=feed.pk).update(republish=True)
        published = set(
            harvest.publishable_services(Service.objects.all()).values_list("pk", flat=True)
        )
        assert published == copies | {local.pk}
        copied = Service.objects.get(pk=next(iter(copies)))
        provenance = harvest.provenance(copied)
        assert provenance["feed"] == "Example council"
        assert provenance["feed_url"] == url
        assert provenance["licence"] == "CC BY-SA 4.0"
        assert provenance["remote_id"] in {i["id"] for i in variants()[:2]}
        assert provenance["last_seen"] and provenance["withdrawn"] is False

    def test_their_organisations_and_venues_follow_the_same_rule(self, server, places):
        from directory.models import Organization, ServiceAtLocation

        local = make_service("Our own walk", at="SK14 1AA")
        record = placed_full_record("r1", "Counselling", "SK14 1PW")
        url = serve(server, "la", FakeFeed([record]))
        feed = harvest.feed_for_url(url)
        harvest.harvest(feed, delay=0)
        copied = service_for(url, "r1")
        orgs = harvest.publishable_organizations(Organization.objects.all())
        assert set(orgs) == {local.organization}
        venues = ServiceAtLocation.objects.filter(harvest.republishable_q("service"))
        assert {v.service_id for v in venues} == {local.pk}
        Feed.objects.filter(pk=feed.pk).update(republish=True)
        orgs = harvest.publishable_organizations(Organization.objects.all())
        assert set(orgs) == {local.organization, copied.organization}
        venues = ServiceAtLocation.objects.filter(harvest.republishable_q("service"))
        assert {v.service_id for v in venues} == {local.pk, copied.pk}

    def test_provenance_for_a_page_of_services_costs_one_query(
        self, server, places, django_assert_num_queries
    ):
        make_service("Our own walk", at="SK14 1AA")
        run(serve(server, "la", FakeFeed(variants()[:5])))
        with django_assert_num_queries(1):
            found = [
                harvest.provenance(s) for s in Service.objects.select_related("harvested__feed")
            ]
        assert sum(p is None for p in found) == 1 and len(found) == 6


@pytest.mark.django_db
class BristolTests:
    def test_it_harvests_bristols_sparse_list_through_each_services_own_record(self, server):
        """Bristol's real feed: sparse list items, the rich record only at /services/{id},
        minimum_age -1, a camelCase serviceId, vendor extensions."""
        page = peer("bristol_live_v3/bristol-services-page1.json")
        detail = peer("bristol_live_v3/bristol-service-1625ip.json")
        url = serve(server, "bristol", FakeFeed(page["contents"], details={detail["id"]: detail}))
        report = run(url)
        assert report.created == 3, report.rejections
        rich = service_for(url, detail["id"])
        assert rich.name == detail["name"]
        assert rich.contacts.exists()
        fetched = {r["path"] for r in server.requests}
        assert f"/bristol/services/{detail['id']}" in fetched


@pytest.mark.django_db
class WorkerHarvestTests:
    def test_the_worker_harvests_each_due_feed_from_its_periodic_task(self, server, settings):
        from django_tasks_db.models import DBTaskResult

        from referrals.tasks import tick
        from tests.conftest import run_tasks

        items = variants()[:5]
        url = serve(server, "due", FakeFeed(items))
        feed = harvest.feed_for_url(url)
        assert "harvest_feeds" in tick()
        run_tasks()
        feed.refresh_from_db()
        assert feed.last_outcome == Feed.Outcome.COMPLETE
        assert HarvestedRecord.objects.filter(feed=feed).count() == len(items)
        assert "harvest_feeds" not in tick()  # not due again for an hour
        task = DBTaskResult.objects.get(task_path__endswith="harvest_feeds_task")
        assert task.status == "SUCCESSFUL"
