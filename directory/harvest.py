"""Harvesting other directories: walk a remote Open Referral UK 3.0 API and keep a copy.

A feed (``Feed``) is walked page by page (``<base>/services?page=N``, or ``/services/?page=N``
for feeds that only answer there), politely (a delay between requests, a timeout, a User-Agent
naming us), believing only what it can check: the walk stops at an empty page, at a page the
envelope calls the last, or at a page that only repeats what was already seen (a feed that
ignores ``page``); ``size`` and ``total_pages`` are never trusted. List items that lack the nested
lists are fetched whole from ``/services/{id}``.

Each record is written by the importer (``importers.upsert_service``, one rule for what a
record means) after every id in it is mapped into the feed's own namespace (uuid5 of the feed's
id), so two feeds using the same ids, or a feed reusing one of ours, never overwrite each other;
taxonomy terms keep their ids, so shared vocabularies still link. ``HarvestedRecord`` keeps the
provenance: the remote id as given, first and last seen, last changed, a hash of the record.
An unchanged record only moves ``last_seen``. Only a complete walk withdraws what the feed no
longer lists (made inactive, never deleted); a walk that fails half way keeps what it got and
withdraws nothing. Likely duplicates are offered to an editor (``DuplicateCandidate``).
"""

import datetime as dt
import difflib
import hashlib
import ipaddress
import json
import re
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from directory import importers
from directory.models import DuplicateCandidate, Feed, HarvestedRecord, Service

TIMEOUT_SECONDS = 20.0
DELAY_SECONDS = 0.5
MAX_PAGES = 500
MAX_RESPONSE_BYTES = 20 * 1024 * 1024
NAME_SIMILARITY = 0.8
# A complete walk that would withdraw more than this share of a feed's live services (and more
# than five), or that found none at all, withdraws nothing unless told to: a feed that breaks
# into answering an empty list must not empty ours.
MAX_WITHDRAWN_SHARE = 0.5
# The nested lists only a full service record carries; a list item with none of them is sparse.
NESTED = (
    "service_at_locations",
    "schedules",
    "contacts",
    "phones",
    "service_areas",
    "languages",
    "cost_options",
    "attributes",
)
# Shared vocabularies: their ids are the same in every feed (and ours), so never remapped.
SHARED_KEYS = {"taxonomy_term", "taxonomy_term_id", "taxonomy", "taxonomy_id"}
# References to another record, by the kind of record they name.
REFERENCES = {
    "organization_id": "organization",
    "parent_organization_id": "organization",
    "service_id": "service",
    "serviceId": "service",  # Bristol's service_areas
    "location_id": "location",
    "service_at_location_id": "service_at_location",
    "contact_id": "contact",
    "phone_id": "phone",
    "program_id": "program",
    "address_id": "address",
    "schedule_id": "schedule",
}


class HarvestError(Exception):
    """The walk cannot go on (timeout, an HTTP error, an answer that is not JSON)."""


class NotFound(HarvestError):
    pass


@dataclass
class HarvestReport:
    feed: Feed
    pages: int = 0
    seen: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    restored: int = 0
    rejected: int = 0
    withdrawn: int = 0
    merged: int = 0
    duplicates: int = 0
    complete: bool = False
    error: str = ""
    warnings: list[str] = field(default_factory=list)
    rejections: list[str] = field(default_factory=list)

    @property
    def outcome(self) -> str:
        if self.error:
            return Feed.Outcome.FAILED
        return Feed.Outcome.COMPLETE if self.complete else Feed.Outcome.INCOMPLETE

    @property
    def summary(self) -> str:
        text = (
            f"{self.pages} page(s), {self.seen} service(s) seen: {self.created} created, "
            f"{self.updated} updated, {self.restored} restored, {self.unchanged} unchanged, "
            f"{self.rejected} rejected, {self.withdrawn} withdrawn; "
            f"{self.duplicates} possible duplicate(s) to review."
        )
        if self.error:
            text += f" FAILED: {self.error} Nothing was withdrawn."
        elif not self.complete:
            text += " INCOMPLETE: nothing was withdrawn."
        return text


# --- The feed and its ids -------------------------------------------------------------------
def base_url(url: str) -> str:
    """The API's base as we keep it: no trailing slash, and no ``/services`` if one was given."""
    url = url.strip().rstrip("/")
    if url.endswith("/services"):
        url = url[: -len("/services")]
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise HarvestError(f"{url!r} is not an http(s) address")
    return url


def feed_for_url(
    url: str,
    *,
    name: str | None = None,
    licence: str | None = None,
    licence_url: str | None = None,
    republish: bool | None = None,
) -> Feed:
    """The Feed for ``url`` (made the first time), with whatever was given updated."""
    base = base_url(url)
    feed = Feed.objects.filter(base_url=base).first() or Feed(
        base_url=base, name=name or urllib.parse.urlsplit(base).netloc
    )
    for attr, value in (
        ("name", name),
        ("licence", licence),
        ("licence_url", licence_url),
        ("republish", republish),
    ):
        if value is not None:
            setattr(feed, attr, value)
    feed.full_clean()
    feed.save()
    return feed


def local_id(feed: Feed, kind: str, remote) -> str:
    """Our id for the feed's ``kind`` record ``remote``: stable, and the feed's alone (a UUID
    however it is written: upper case, braces)."""
    try:
        remote = uuid.UUID(str(remote).strip())
    except ValueError:
        remote = str(remote).strip()
    return str(uuid.uuid5(feed.id, f"{kind}/{remote}"))


def _singular(key: str) -> str:
    if key.endswith("sses"):
        return key[:-2]
    return key[:-1] if key.endswith("s") else key


def map_ids(feed: Feed, record: dict) -> dict:
    """A copy of ``record`` with every record id and reference in the feed's namespace, except
    taxonomies and their terms (shared vocabularies)."""

    def walk(value, kind: str):
        if isinstance(value, list):
            return [walk(item, kind) for item in value]
        if not isinstance(value, dict):
            return value
        out = {}
        for key, item in value.items():
            if key in SHARED_KEYS:
                out[key] = item
            elif key == "id" and isinstance(item, str | int) and item != "":
                out[key] = local_id(feed, kind, item)
            elif key in REFERENCES and isinstance(item, str | int) and item != "":
                out[key] = local_id(feed, REFERENCES[key], item)
            elif isinstance(item, dict | list):
                out[key] = walk(item, _singular(key))
            else:
                out[key] = item
        return out

    return walk(record, "service")


def content_hash(record) -> str:
    text = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


# --- Fetching -------------------------------------------------------------------------------
def user_agent(contact: str = "") -> str:
    contact = contact or settings.HARVEST_CONTACT
    agent = "Flourish-harvester/1.0 (Open Referral UK; social-prescribing directory"
    return agent + (f"; +{contact})" if contact else ")")


def check_public(url: str) -> None:
    """Refuse an address on a private, loopback or link-local network: a feed is public, and
    the harvester must not be pointed (by a typo or on purpose) at the servers beside ours.
    ``HARVEST_ALLOW_PRIVATE_ADDRESSES`` lifts this (tests serve feeds on loopback)."""
    if settings.HARVEST_ALLOW_PRIVATE_ADDRESSES:
        return
    host = urllib.parse.urlsplit(url).hostname or ""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except (socket.gaierror, UnicodeError) as exc:
        raise HarvestError(f"{host or url} could not be found ({exc}).") from None
    for address in addresses:
        if not ipaddress.ip_address(address.split("%")[0]).is_global:
            raise HarvestError(
                f"{url} is on a private or local network ({address}): feeds must be public."
            )


class _PublicRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        check_public(newurl)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


class Client:
    """GETs JSON, at most one request every ``delay`` seconds, each bounded by ``timeout``."""

    def __init__(self, *, timeout: float, delay: float, agent: str):
        self.timeout, self.delay, self.agent = timeout, delay, agent
        self.requests = 0
        self._last: float | None = None
        self._opener = urllib.request.build_opener(_PublicRedirects)

    def get_json(self, url: str):
        if self._last is not None:
            wait = self.delay - (time.monotonic() - self._last)
            if wait > 0:
                time.sleep(wait)
        request = urllib.request.Request(
            url, headers={"User-Agent": self.agent, "Accept": "application/json"}
        )
        self.requests += 1
        try:
            check_public(url)
            with self._opener.open(request, timeout=self.timeout) as response:
                body = response.read(MAX_RESPONSE_BYTES + 1)
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                raise NotFound(f"{url} was not found (HTTP 404).") from None
            raise HarvestError(f"{url} answered HTTP {exc.code}.") from None
        except (TimeoutError, urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, TimeoutError) or "timed out" in str(reason):
                raise HarvestError(f"{url} did not answer within {self.timeout:g} s.") from None
            raise HarvestError(f"{url} could not be fetched: {reason}.") from None
        finally:
            self._last = time.monotonic()
        if len(body) > MAX_RESPONSE_BYTES:
            raise HarvestError(f"{url} answered more than {MAX_RESPONSE_BYTES} bytes.")
        try:
            return json.loads(body.decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise HarvestError(f"{url} did not answer JSON ({exc}).") from None


def _page_items(data, url: str) -> tuple[list, dict]:
    if isinstance(data, dict) and isinstance(data.get("contents"), list):
        return data["contents"], data
    if isinstance(data, list):
        return data, {}
    raise HarvestError(f"{url} is not a page of services (no contents list).")


# --- The harvest ----------------------------------------------------------------------------
def harvest(
    feed: Feed,
    *,
    timeout: float = TIMEOUT_SECONDS,
    delay: float = DELAY_SECONDS,
    max_pages: int = MAX_PAGES,
    per_page: int | None = None,
    always_details: bool = False,
    allow_mass_withdrawal: bool = False,
    contact: str = "",
    progress: Callable[[str], None] = lambda line: None,
) -> HarvestReport:
    """Walk ``feed`` once and bring our copy up to date; the outcome is kept on the feed."""
    report = HarvestReport(feed)
    client = Client(timeout=timeout, delay=delay, agent=user_agent(contact))
    started = timezone.now()
    Feed.objects.filter(pk=feed.pk).update(last_started_at=started)
    feed.last_started_at = started
    seen: set[str] = set()
    try:
        base = base_url(feed.base_url)
        page = 1
        while True:
            if page > max_pages:
                report.warnings.append(f"Stopped after {max_pages} pages (the cap).")
                break
            items, envelope, url = _fetch_page(feed, client, base, page, per_page)
            if not items:
                report.complete = True
                break
            fresh = [r for r in map(_remote_id, items) if r is not None and r not in seen]
            if page > 1 and not fresh:
                total = envelope.get("total_items")
                report.complete = not isinstance(total, int) or len(seen) >= total
                report.warnings.append(
                    f"Page {page} only repeats services already seen: the feed seems to ignore "
                    f"?page=, so the walk stopped there"
                    + ("." if report.complete else f" with {len(seen)} of {total} services.")
                )
                break
            report.pages += 1
            for number, item in enumerate(items, start=1):
                remote = _remote_id(item)
                if remote is None:
                    report.rejected += 1
                    report.rejections.append(f"page {page} item {number}: it has no id")
                    continue
                if remote in seen:
                    continue
                seen.add(remote)
                report.seen += 1
                record = item
                if always_details or not any(key in item for key in NESTED):
                    record = _fetch_detail(client, base, remote, item, report)
                if record is not None:
                    _apply(feed, remote, record, started, report)
            progress(
                f"Page {page} ({url}): {len(items)} item(s); so far {report.created} created, "
                f"{report.updated + report.restored} updated, {report.unchanged} unchanged, "
                f"{report.rejected} rejected."
            )
            if envelope.get("last_page") is True:
                report.complete = True
                break
            page += 1
    except HarvestError as exc:
        report.error = str(exc)
    if report.complete and not report.error:
        _withdraw_unseen(feed, seen, started, report, allow_mass_withdrawal)
    report.duplicates = find_duplicates(feed)
    feed.last_finished_at = timezone.now()
    feed.last_outcome = report.outcome
    feed.last_summary = report.summary
    Feed.objects.filter(pk=feed.pk).update(
        last_finished_at=feed.last_finished_at,
        last_outcome=feed.last_outcome,
        last_summary=feed.last_summary,
        services_path=feed.services_path,
    )
    return report


def _remote_id(item) -> str | None:
    if not isinstance(item, dict):
        return None
    value = item.get("id")
    if value is None or str(value).strip() == "":
        return None
    return str(value).strip()


def _fetch_page(
    feed: Feed, client: Client, base: str, page: int, per_page: int | None
) -> tuple[list, dict, str]:
    """Page ``page``, from whichever of ``/services`` and ``/services/`` the feed answers on
    (remembered on the feed once found)."""
    query = {"page": page} | ({"per_page": per_page} if per_page else {})
    paths = ["services", "services/"]
    if feed.services_path in paths:
        paths.remove(feed.services_path)
        paths.insert(0, feed.services_path)
    if page > 1:
        paths = paths[:1]  # the path that answered page 1
    for n, path in enumerate(paths):
        url = f"{base}/{path}?{urllib.parse.urlencode(query)}"
        try:
            data = client.get_json(url)
        except NotFound:
            if page > 1:
                # Some feeds answer "no such page" past the end rather than an empty page.
                return [], {}, url
            if n == len(paths) - 1:
                raise HarvestError(
                    f"{base} has no list of services (HTTP 404 at /services and /services/)."
                ) from None
            continue
        feed.services_path = path
        items, envelope = _page_items(data, url)
        return items, envelope, url
    raise AssertionError("unreachable")


def _fetch_detail(client: Client, base: str, remote: str, item: dict, report) -> dict | None:
    """The service's own record (None, with the reason reported, if it answered another)."""
    url = f"{base}/services/{urllib.parse.quote(remote, safe='')}"
    try:
        detail = client.get_json(url)
    except NotFound:
        report.warnings.append(f"{url} was not found: the list's own record was used.")
        return item
    answered = _remote_id(detail)
    if not isinstance(detail, dict) or (answered and answered.lower() != remote.lower()):
        report.rejected += 1
        report.rejections.append(f"{remote}: {url} answered another record ({answered}).")
        return None
    return detail


def _apply(feed: Feed, remote: str, record, now: dt.datetime, report: HarvestReport) -> None:
    """Bring one service up to date with the feed's record (only if it changed)."""
    digest = content_hash(record)
    provenance = HarvestedRecord.objects.filter(feed=feed, remote_id=remote).first()
    if provenance is not None and (
        provenance.merged_into_id
        or (provenance.content_hash == digest and provenance.withdrawn_at is None)
    ):
        # Nothing to write: the service row (and its history) stays as it is.
        HarvestedRecord.objects.filter(pk=provenance.pk).update(last_seen=now)
        if provenance.merged_into_id:
            report.merged += 1
        else:
            report.unchanged += 1
        return
    mapped = map_ids(feed, record)
    mapped["id"] = local_id(feed, "service", remote)
    try:
        with transaction.atomic():
            importers.upsert_service(mapped, by=None)
            if provenance is None:
                HarvestedRecord.objects.create(
                    feed=feed,
                    remote_id=remote,
                    service_id=mapped["id"],
                    first_seen=now,
                    last_seen=now,
                    last_changed=now,
                    content_hash=digest,
                )
            else:
                HarvestedRecord.objects.filter(pk=provenance.pk).update(
                    last_seen=now, last_changed=now, content_hash=digest, withdrawn_at=None
                )
    except (
        importers.RecordError,
        ValidationError,
        DatabaseError,
        ValueError,
        TypeError,
        KeyError,
        AttributeError,
    ) as exc:
        reasons = getattr(exc, "messages", None) or [str(exc) or type(exc).__name__]
        report.rejected += 1
        report.rejections.append(f"{remote}: {'; '.join(str(r) for r in reasons)}")
        if provenance is not None:
            # Still listed, so not withdrawn; our copy keeps the last version that imported.
            HarvestedRecord.objects.filter(pk=provenance.pk).update(last_seen=now)
        return
    if provenance is None:
        report.created += 1
    elif provenance.withdrawn_at is not None:
        report.restored += 1
    else:
        report.updated += 1


def _withdraw_unseen(
    feed: Feed, seen: set[str], now: dt.datetime, report, allow_mass_withdrawal: bool
) -> None:
    """After a complete walk: what the feed no longer lists is made inactive (kept, and
    restored if it comes back)."""
    live = HarvestedRecord.objects.filter(feed=feed, withdrawn_at__isnull=True)
    gone = live.exclude(remote_id__in=seen)
    count, total = gone.count(), live.count()
    mass = not seen or (count > 5 and count > total * MAX_WITHDRAWN_SHARE)
    if count and mass and not allow_mass_withdrawal:
        report.complete = False
        report.warnings.append(
            f"The feed no longer lists {count} of its {total} services: more than "
            f"{MAX_WITHDRAWN_SHARE:.0%}, so none was withdrawn. If the feed really shrank, "
            f"harvest again allowing a mass withdrawal (--allow-mass-withdrawal)."
        )
        return
    for provenance in gone.select_related("service"):
        with transaction.atomic():
            if not provenance.merged_into_id:
                service = Service.objects.select_for_update().get(pk=provenance.service_id)
                service.status = Service.Status.INACTIVE
                service.modified_by = None
                service.save(update_fields=["status", "modified_by", "last_modified"])
            HarvestedRecord.objects.filter(pk=provenance.pk).update(withdrawn_at=now)
        report.withdrawn += 1


def due_feeds(now: dt.datetime | None = None) -> list[Feed]:
    """Claim the active feeds whose interval has passed since their last harvest began, and
    return them. Each is claimed by moving its ``last_started_at`` only if no one else moved it
    first, so a cron run and a worker (or two workers) never walk the same feed at once."""
    now = now or timezone.now()
    claimed = []
    for feed in Feed.objects.filter(active=True):
        if feed.is_due(now) and Feed.objects.filter(
            pk=feed.pk, last_started_at=feed.last_started_at
        ).update(last_started_at=now):
            claimed.append(feed)
    return claimed


def harvest_due(**options) -> list[HarvestReport]:
    """Harvest every feed that is due (for the worker's periodic task and ``--due``)."""
    return [harvest(feed, **options) for feed in due_feeds()]


# --- Likely duplicates ----------------------------------------------------------------------
_ORG_SUFFIX = re.compile(r"\b(ltd|limited|cic|inc|plc|llp|charity|trust)$")


def _words(text: str) -> str:
    text = text.casefold().replace("&", " and ")
    return " ".join(re.sub(r"[^\w]+", " ", text).split())


def organisation_key(name: str) -> str:
    """An organisation's name as compared: case, punctuation, a leading "the" and a legal
    suffix ("Ltd", "CIC") ignored."""
    key = _words(name)
    key = re.sub(r"^the ", "", key)
    return _ORG_SUFFIX.sub("", key).strip()


def name_similarity(a: str, b: str) -> float:
    """0 to 1: difflib's ratio of the names (case and punctuation ignored); a name whose
    words are all in the other ("Counselling" / "Counselling service") counts as 0.85."""
    a, b = _words(a), _words(b)
    ratio = difflib.SequenceMatcher(None, a, b).ratio()
    words_a, words_b = set(a.split()), set(b.split())
    if words_a and words_b and (words_a <= words_b or words_b <= words_a):
        ratio = max(ratio, 0.85)
    return ratio


def _summaries(services) -> dict:
    rows = services.values(
        "id",
        "name",
        "organization__name",
        "created_at",
        "service_at_locations__location__postal_code",
    )
    found: dict = {}
    for row in rows:
        entry = found.setdefault(
            row["id"],
            {
                "name": row["name"],
                "org": organisation_key(row["organization__name"]),
                "created_at": row["created_at"],
                "postcodes": set(),
            },
        )
        if postcode := row["service_at_locations__location__postal_code"]:
            entry["postcodes"].add(postcode)
    return found


def find_duplicates(feed: Feed) -> int:
    """Offer an editor each likely duplicate of this feed's services, in other feeds or among
    our own: the same organisation (by name), a postcode in common and names at least
    ``NAME_SIMILARITY`` alike. A pair is offered once: never again after a decision."""
    live = HarvestedRecord.objects.filter(withdrawn_at__isnull=True, merged_into__isnull=True)
    ours = _summaries(Service.objects.filter(harvested__in=live.filter(feed=feed)))
    postcodes = set().union(*(s["postcodes"] for s in ours.values())) if ours else set()
    if not postcodes:
        return 0
    gone = HarvestedRecord.objects.filter(
        Q(withdrawn_at__isnull=False) | Q(merged_into__isnull=False), service=OuterRef("pk")
    )
    others = _summaries(
        Service.objects.filter(service_at_locations__location__postal_code__in=postcodes)
        .exclude(harvested__feed=feed)
        .exclude(Exists(gone))
    )
    local = set(
        Service.objects.filter(pk__in=others, harvested__isnull=True).values_list("pk", flat=True)
    )
    offered = 0
    for pk, mine in ours.items():
        for other_pk, other in others.items():
            common = mine["postcodes"] & other["postcodes"]
            if not common or not mine["org"] or mine["org"] != other["org"]:
                continue
            similarity = name_similarity(mine["name"], other["name"])
            if similarity < NAME_SIMILARITY:
                continue
            # The left is the one a merge keeps: our own record, else the older copy.
            if other_pk in local or other["created_at"] <= mine["created_at"]:
                left, right = other_pk, pk
            else:
                left, right = pk, other_pk
            if DuplicateCandidate.objects.filter(
                Q(left=left, right=right) | Q(left=right, right=left)
            ).exists():
                continue
            DuplicateCandidate.objects.create(
                left_id=left,
                right_id=right,
                similarity=round(similarity, 3),
                reason=(
                    f"Same organisation and postcode ({', '.join(sorted(common))}); "
                    f"names {similarity:.0%} alike: {mine['name']!r} / {other['name']!r}."
                ),
            )
            offered += 1
    return offered


# --- Publishing (our own Open Referral UK feed) ---------------------------------------------
def republishable_q(service: str = "pk") -> Q:
    """Rows our open-data feed may carry: our own services, and harvested ones whose feed's
    licence lets us republish them. ``service`` names the service from the filtered model:
    "pk" for services, "service" for service_at_locations."""
    barred = HarvestedRecord.objects.filter(service=OuterRef(service), feed__republish=False)
    return Q(~Exists(barred))


def publishable_services(queryset):
    """``queryset`` without the harvested services we may not republish."""
    return queryset.filter(republishable_q())


def publishable_organizations(queryset):
    """``queryset`` without organisations that came with services we may not republish
    (a harvested organisation is its feed's own: its id is in the feed's namespace)."""
    barred = HarvestedRecord.objects.filter(
        service__organization=OuterRef("pk"), feed__republish=False
    )
    return queryset.filter(~Exists(barred))


def provenance(service: Service) -> dict | None:
    """Where a harvested service came from (None for our own), for the feed and the page.
    For many services, ``select_related("harvested__feed")`` saves a query for each."""
    try:
        record = service.harvested
    except HarvestedRecord.DoesNotExist:
        return None
    return {
        "feed": record.feed.name,
        "feed_url": record.feed.base_url,
        "remote_id": record.remote_id,
        "licence": record.feed.licence,
        "licence_url": record.feed.licence_url,
        "first_seen": record.first_seen.isoformat(),
        "last_seen": record.last_seen.isoformat(),
        "last_changed": record.last_changed.isoformat(),
        "withdrawn": record.withdrawn_at is not None,
    }
