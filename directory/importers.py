"""Bringing listings in: Open Referral UK 3.0 JSON, and the spreadsheet councils keep.

Both importers upsert by id and are safe to run again. Each record (or row) is written in its
own savepoint: a bad one is reported and rolled back whole, so it never stops the good ones and
never leaves a half-written service behind.

The Open Referral importer is liberal in what it accepts, because real feeds are untidy: a part
of a record that cannot be placed or understood (a phone holding free text, HTML in a
description, a placeholder web address, an extent that is not an area, an age of -1) is
normalised where its meaning is clear, otherwise left out, and each record's outcome lists what
was changed or dropped and why. A record is refused only when it cannot be a service at all
(not an object, no id, no name, a status that cannot be read).
"""

import contextvars
import csv
import datetime as dt
import html.parser
import json
import math
import re
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.contrib.gis.gdal import GDALException
from django.contrib.gis.geos import (
    GeometryCollection,
    GEOSException,
    GEOSGeometry,
    MultiPolygon,
    Polygon,
)
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.validators import URLValidator, validate_email
from django.db import DatabaseError, transaction
from django.utils.dateparse import parse_date, parse_time

from directory import vocabularies
from directory.models import (
    Accessibility,
    Attribute,
    Contact,
    CostOption,
    Language,
    Location,
    Organization,
    Phone,
    Schedule,
    Service,
    ServiceArea,
    ServiceAtLocation,
    Taxonomy,
    TaxonomyTerm,
)
from geo import postcodes
from geo.models import OutsideUK, PostcodeNotFound, locate_postcode, make_point

FETCH_TIMEOUT_SECONDS = 30
MAX_PAGES = 1000
_OUTCODE_RE = re.compile(r"^[A-Z]{1,2}[0-9][0-9A-Z]?$")


class RecordError(ValueError):
    """A record that cannot be imported; the message says why."""


@dataclass
class Outcome:
    where: str  # "record 3" or "row 7"
    action: str  # created | updated | rejected | skipped (nothing to import) | warning (CSV)
    id: str = ""
    name: str = ""
    reasons: list[str] = field(default_factory=list)
    # What was normalised or left out of a record that was imported (or skipped), and why.
    warnings: list[str] = field(default_factory=list)
    kind: str = ""  # "" for a service; "organization", "taxonomy", ... otherwise

    def __str__(self) -> str:
        label = f"{self.where}: {self.action}"
        if self.kind:
            label += f" {self.kind.replace('_', ' ')}"
        if self.name or self.id:
            label += f" {self.name!r}" if self.name else ""
            label += f" ({self.id})" if self.id else ""
        if self.reasons:
            label += ": " + "; ".join(self.reasons)
        for warning in self.warnings:
            label += f"\n    - {warning}"
        return label


@dataclass
class Report:
    outcomes: list[Outcome] = field(default_factory=list)
    # About the file as a whole rather than one record (its page envelope, for one).
    notes: list[str] = field(default_factory=list)

    def count(self, action: str) -> int:
        return sum(1 for o in self.outcomes if o.action == action)

    @property
    def with_warnings(self) -> int:
        return sum(1 for o in self.outcomes if o.warnings and o.action != "rejected")

    @property
    def summary(self) -> str:
        text = (
            f"{self.count('created')} created, {self.count('updated')} updated, "
            f"{self.count('rejected')} rejected"
        )
        if skipped := self.count("skipped"):
            text += f", {skipped} with nothing to import"
        text += "."
        if self.with_warnings:
            text += f" {self.with_warnings} with warnings (listed under each)."
        return text


# --- What a record's import noticed ----------------------------------------------------------
@dataclass
class _Record:
    warnings: list[str]
    # (table, id) of every part written for this record: a publisher that reuses one id for
    # several parts (the official HSDS example gives the service, its contact and its location
    # the same phone) would otherwise have the second copy overwrite the first.
    used: set = field(default_factory=set)


_current: contextvars.ContextVar[_Record | None] = contextvars.ContextVar(
    "openreferral_record", default=None
)


def _warn(message: str) -> None:
    record = _current.get()
    if record is not None and message not in record.warnings:
        record.warnings.append(message)


def _at(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _short(value, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


# --- Open Referral UK JSON: reading ----------------------------------------------------------
def read_source(source: str) -> list[dict]:
    """The service records in a file or URL: a single service, a page envelope (every page
    is followed, for a URL), a JSON list, or newline-delimited JSON."""
    return read_feed(source)[0]


def read_feed(source: str) -> tuple[list, list[str]]:
    """Like ``read_source``, with notes about the file as a whole (what its page envelope
    says, and where the envelope contradicts itself)."""
    if re.match(r"^https?://", source):
        records, notes, url, pages = [], [], source, 0
        while url and pages < MAX_PAGES:
            text = _fetch(url)
            found, envelope = _records(text)
            records.extend(found)
            pages += 1
            if envelope:
                notes += [f"page {pages}: {n}" for n in envelope_problems(envelope)]
            url = _next_page_url(url, envelope) if envelope else None
        return records, notes
    with open(source, encoding="utf-8-sig") as handle:
        records, envelope = _records(handle.read())
    notes = []
    if envelope:
        notes += envelope_problems(envelope)
        total_pages, total = envelope.get("total_pages"), envelope.get("total_items")
        if isinstance(total_pages, int) and total_pages > 1:
            notes.append(
                f"this file is page {envelope.get('page_number', '?')} of {total_pages} "
                f"({total} items in the feed): only its {len(records)} record(s) are imported; "
                "give the feed's URL to import every page"
            )
    return records, notes


def envelope_problems(envelope: dict) -> list[str]:
    """Where a page envelope contradicts itself (the checks the ORUK validator makes)."""
    contents = envelope.get("contents") or []
    problems = []
    size, page, pages = (
        envelope.get("size"),
        envelope.get("page_number"),
        envelope.get("total_pages"),
    )
    if isinstance(size, int) and size != len(contents):
        problems.append(f"size says {size} but the page holds {len(contents)} item(s)")
    if "empty" in envelope and bool(envelope["empty"]) != (not contents):
        problems.append(f"empty is {envelope['empty']} but the page holds {len(contents)} item(s)")
    if isinstance(page, int) and "first_page" in envelope and envelope["first_page"] != (page == 1):
        problems.append(f"first_page is {envelope['first_page']} on page {page}")
    if isinstance(page, int) and isinstance(pages, int):
        if "last_page" in envelope and envelope["last_page"] != (page >= pages):
            problems.append(f"last_page is {envelope['last_page']} on page {page} of {pages}")
        if page > pages:
            problems.append(f"page_number {page} is past total_pages {pages}")
    return [f"the page envelope is inconsistent: {p}" for p in problems]


def _fetch(url: str) -> str:
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT_SECONDS) as response:  # noqa: S310
        return response.read().decode("utf-8-sig")


def _next_page_url(url: str, envelope: dict) -> str | None:
    if envelope.get("last_page", True) or envelope.get("empty"):
        return None
    parts = urllib.parse.urlsplit(url)
    query = dict(urllib.parse.parse_qsl(parts.query))
    query["page"] = str(int(envelope.get("page_number") or query.get("page") or 1) + 1)
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def _records(text: str) -> tuple[list, dict | None]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        records = []
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    records.append(RecordError(f"line {number} is not JSON: {exc.msg}"))
        return records, None
    if isinstance(data, dict) and isinstance(data.get("contents"), list):
        return data["contents"], data
    if isinstance(data, list):
        return data, None
    return [data], None


# --- What kind of record ---------------------------------------------------------------------
# Fields only an organization has (a service has url, not website).
_ORGANIZATION_ONLY = {
    "website",
    "logo",
    "legal_status",
    "tax_status",
    "year_incorporated",
    "organization_identifiers",
    "parent_organization_id",
    "services",
    "locations",
    "programs",
}
_TERM_ONLY = {"taxonomy", "taxonomy_id", "taxonomy_detail", "term_uri", "code", "parent_id", "term"}
_LOCATION_ONLY = {"latitude", "longitude", "addresses", "transportation"}
_TAXONOMY_FIELDS = {"id", "name", "description", "uri", "version", "taxonomy_terms"}


def record_kind(record) -> str:
    """Which of the standard's objects a record is, from its shape: a feed's endpoints each
    give one kind (``/services``, ``/organizations``, ``/taxonomies``, ``/`` ...)."""
    if not isinstance(record, dict):
        return "service"
    keys = set(record)
    if "id" not in keys and keys & {"version", "openapi_url", "profile"}:
        return "api_details"
    if "name" not in keys and keys and keys <= {"id", "status", "last_modified"}:
        return "reference"
    if isinstance(record.get("service"), dict):
        return "service_at_location"
    if "location_type" in keys:
        return "location"
    if keys & {"status", "service_at_locations", "organization", "organization_id", "url"}:
        return "service"
    if keys & _ORGANIZATION_ONLY:
        return "organization"
    if keys & _TERM_ONLY:
        return "taxonomy_term"
    if keys & {"taxonomy_terms", "version"} or ("uri" in keys and keys <= _TAXONOMY_FIELDS):
        return "taxonomy"
    if keys & _LOCATION_ONLY:
        return "location"
    if isinstance(record.get("location"), dict):
        return "service_at_location"
    return "service"


# --- Open Referral UK JSON: importing --------------------------------------------------------
def import_openreferral(records: list, *, by=None) -> Report:
    """Upsert each HSDS-UK record in its own savepoint; report what happened to each.

    Services are imported with everything under them; an organization with the services it
    holds; a service_at_location with its service. A record with nothing Flourish imports (the
    feed's root, a taxonomy, a location on its own, an id-only list item) is reported as such.
    """
    report = Report()
    for number, record in enumerate(records, start=1):
        where = f"record {number}"
        if isinstance(record, RecordError):
            report.outcomes.append(Outcome(where, "rejected", reasons=[str(record)]))
            continue
        kind = record_kind(record)
        if kind == "organization":
            _import_organization(record, where, report, by=by)
        elif kind == "service_at_location":
            service = record["service"]
            report.outcomes.append(
                _import_one(
                    record,
                    where,
                    _upsert_service_at_location,
                    by=by,
                    kind=kind,
                    name=str(service.get("name", "")),
                )
            )
        elif kind in _NOTHING_TO_IMPORT:
            report.outcomes.append(_nothing_to_import(record, where, kind))
        else:
            report.outcomes.append(_import_one(record, where, upsert_service, by=by))
    return report


def _import_one(
    record, where: str, upsert, *, by=None, kind: str = "", name: str | None = None
) -> Outcome:
    ident = str(record.get("id", "")) if isinstance(record, dict) else ""
    if name is None:
        name = str(record.get("name", "")) if isinstance(record, dict) else ""
    warnings: list[str] = []
    try:
        with transaction.atomic():
            created = upsert(record, by=by, warnings=warnings)
    except RecordError as exc:
        return Outcome(where, "rejected", ident, name, [str(exc)], kind=kind)
    except ValidationError as exc:
        return Outcome(where, "rejected", ident, name, _messages(exc), kind=kind)
    except (DatabaseError, ValueError, TypeError, KeyError, AttributeError) as exc:
        # Whatever else a malformed record trips over: report it and go on to the next.
        return Outcome(where, "rejected", ident, name, [_first_line(exc)], kind=kind)
    return Outcome(
        where, "created" if created else "updated", ident, name, warnings=warnings, kind=kind
    )


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _messages(exc: ValidationError) -> list[str]:
    if hasattr(exc, "message_dict"):
        return [f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items()]
    return list(exc.messages)


_NOTHING_TO_IMPORT = {
    "api_details": "the feed's root (api_details), which describes the feed",
    "reference": (
        "an id and status only, as a minimal list gives: the full record is at /services/{id}"
    ),
    "taxonomy": (
        "a taxonomy: Flourish keeps a publisher's terms when a service uses them, "
        "not vocabularies on their own"
    ),
    "taxonomy_term": (
        "a taxonomy term: Flourish keeps a publisher's terms when a service uses them, "
        "not vocabularies on their own"
    ),
    "location": (
        "a location on its own: locations are imported with the services at them "
        "(service_at_locations)"
    ),
}
# The fields the standard requires of each kind Flourish reads but does not import.
_REQUIRED = {
    "api_details": ("version", "profile", "openapi_url"),
    "taxonomy": ("id", "name", "description"),
    "taxonomy_term": ("id", "name", "description"),
    "location": ("id", "location_type"),
}


def _nothing_to_import(record: dict, where: str, kind: str) -> Outcome:
    """A record Flourish does not import, checked all the same so the report can say what is
    wrong with it (the validator's fail fixtures are of this kind too)."""
    warnings: list[str] = []
    token = _current.set(_Record(warnings))
    try:
        for name in _REQUIRED.get(kind, ()):
            if record.get(name) in (None, ""):
                _warn(f"{name} is missing (the standard requires it)")
        if kind == "api_details" and record.get("version") not in (None, "", "HSDS-UK-3.0"):
            _warn(f"version {record['version']!r} is not HSDS-UK-3.0")
        for name in ("profile", "openapi_url", "uri", "term_uri"):
            if record.get(name) not in (None, ""):
                _uri(record, name)
        for name in ("id", "parent_id", "taxonomy_id"):
            if record.get(name) not in (None, ""):
                try:
                    uuid.UUID(str(record[name]))
                except ValueError:
                    _warn(f"{name} {_short(record[name])} is not a UUID")
        if record.get("parent_id") and record.get("parent_id") == record.get("id"):
            _warn(f"parent_id is the term's own id ({record['id']})")
    finally:
        _current.reset(token)
    what = _NOTHING_TO_IMPORT[kind]
    if kind == "api_details":
        what += f" (version {record.get('version')!r})"
    if kind == "taxonomy" and record.get("taxonomy_terms"):
        what += f"; it lists {len(record['taxonomy_terms'])} term(s)"
    return Outcome(
        where,
        "skipped",
        str(record.get("id", "")),
        str(record.get("name", "")),
        [f"nothing to import: {what}"],
        warnings=warnings,
        kind=kind,
    )


def _import_organization(record: dict, where: str, report: Report, *, by=None) -> None:
    """An organization, then each service it lists (under it unless a service says otherwise)."""
    report.outcomes.append(
        _import_one(record, where, _upsert_organization, by=by, kind="organization")
    )
    if report.outcomes[-1].action == "rejected":
        return
    services = record.get("services")
    if not isinstance(services, list):
        return
    for m, service in enumerate(services, start=1):
        if isinstance(service, dict) and not (
            service.get("organization") or service.get("organization_id")
        ):
            service = {**service, "organization_id": record.get("id")}
        report.outcomes.append(_import_one(service, f"{where}, service {m}", upsert_service, by=by))


def _upsert_organization(data: dict, *, by=None, warnings: list | None = None) -> bool:
    token = _current.set(_Record([] if warnings is None else warnings))
    try:
        if not data.get("name"):
            raise RecordError("name is missing")
        ident = _record_uuid(data.get("id"), "id", "organization")
        existing = Organization.objects.filter(pk=ident).exists()
        _organization_from(data, "", by=by)
        if data.get("services") is not None and not isinstance(data.get("services"), list):
            _warn("services is not a list: left out")
        return not existing
    finally:
        _current.reset(token)


def _upsert_service_at_location(data: dict, *, by=None, warnings: list | None = None) -> bool:
    """A service_at_location record: its service (created if new) at this one location.

    A service already in the directory keeps everything else it has (this is one of its
    places, not the whole record); a new one is created from the service the record holds.
    """
    token = _current.set(_Record([] if warnings is None else warnings))
    try:
        given = data.get("service")
        if not isinstance(given, dict):
            raise RecordError("service must be an object")
        sal = {k: v for k, v in data.items() if k != "service"}
        location = data.get("location") if isinstance(data.get("location"), dict) else {}
        if location.get("id") and sal.get("id") == location.get("id"):
            _warn(f"the service_at_location's id is its location's id ({location['id']})")
        service = Service.objects.filter(pk=_record_uuid(given.get("id"), "service.id")).first()
        if service is None:
            upsert_service({**given, "service_at_locations": [sal]}, by=by, warnings=warnings)
            return True
        _part(
            "service_at_locations[0]",
            _service_at_location,
            sal,
            service,
            service.organization,
            0,
            "service_at_locations[0]",
            by=by,
        )
        return False
    finally:
        _current.reset(token)


def _record_uuid(value, what: str, kind: str = "service") -> uuid.UUID:
    """A record's own id. The standard says UUID; a feed whose ids are not gets a stable UUID
    made from its id (the same each run, so a re-import updates), and the report says so."""
    if value is None or str(value).strip() == "":
        raise RecordError(f"{what} is missing: a record needs an id to be updated by")
    try:
        return uuid.UUID(str(value))
    except (ValueError, TypeError):
        made = uuid.uuid5(vocabularies.NAMESPACE, f"openreferral/{kind}/{str(value).strip()}")
        _warn(f"{what} {_short(value)} is not a UUID: imported as {made}, made from it")
        return made


def _child_id(data: dict, parent: uuid.UUID, kind: str, n: int, path: str = "") -> uuid.UUID:
    """The part's own id, or (when a publisher left it out, or it is not a UUID) a stable one
    derived from its parent, so that importing twice updates rather than duplicates."""
    given = data.get("id")
    if given in (None, ""):
        ident = uuid.uuid5(parent, f"{kind}/{n}")
    else:
        try:
            ident = uuid.UUID(str(given))
        except (ValueError, TypeError):
            ident = uuid.uuid5(parent, f"{kind}/{given}")
            _warn(f"{_at(path, 'id')} {_short(given)} is not a UUID: imported as {ident}")
    record = _current.get()
    if record is not None:
        if (kind, ident) in record.used:
            again = uuid.uuid5(parent, f"{kind}/{n}/{ident}")
            _warn(
                f"{_at(path, 'id')} {ident} is used by another {kind.replace('_', ' ')} in "
                f"this record: this one imported as {again}"
            )
            ident = again
        record.used.add((kind, ident))
    return ident


# --- Reading one field -----------------------------------------------------------------------
_HTML_RE = re.compile(r"</?[a-zA-Z][a-zA-Z0-9]*(\s[^<>]*)?/?>|&(#[0-9]+|#x[0-9a-fA-F]+|[a-zA-Z]+);")


def _text(data: dict, name: str, limit: int | None = None, *, path: str = "") -> str:
    """Plain text: HTML made plain, and cut (with a warning) to what the field can hold."""
    value = data.get(name)
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        _warn(f"{_at(path, name)} is not text: left out")
        return ""
    text = str(value).strip()
    if _HTML_RE.search(text):
        text = html_to_text(text)
        _warn(f"{_at(path, name)} was HTML: imported as plain text")
    if limit and len(text) > limit:
        _warn(
            f"{_at(path, name)} is {len(text)} characters, more than the {limit} it can hold: "
            f"cut to {limit}"
        )
        text = text[:limit].rstrip()
    return text


class _PlainText(html.parser.HTMLParser):
    """HTML to plain text: paragraphs and line breaks kept, entities unescaped, a link's
    address kept after its text when the text does not already say it."""

    BLOCKS = {"p", "div", "section", "article", "blockquote", "ul", "ol", "table", "tr"}
    HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
    IGNORED = {"script", "style", "head", "title"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.ignoring = 0
        self.links: list[str | None] = []

    def handle_starttag(self, tag, attrs):
        if tag in self.IGNORED:
            self.ignoring += 1
        elif tag in self.BLOCKS or tag in self.HEADINGS:
            self.parts.append("\n\n")
        elif tag == "br":
            self.parts.append("\n")
        elif tag == "li":
            self.parts.append("\n- ")
        elif tag == "a":
            href = dict(attrs).get("href") or ""
            self.links.append(href if re.match(r"^(https?:|mailto:)", href) else None)
            self.parts.append("\x00")  # where the link's text starts

    def handle_endtag(self, tag):
        if tag in self.IGNORED:
            self.ignoring = max(0, self.ignoring - 1)
        elif tag in self.BLOCKS or tag in self.HEADINGS:
            self.parts.append("\n\n")
        elif tag == "a" and self.links:
            href = self.links.pop()
            start = len(self.parts) - 1 - self.parts[::-1].index("\x00")
            shown = "".join(self.parts[start + 1 :])
            self.parts[start] = ""
            target = href.removeprefix("mailto:") if href else ""
            if target and target not in shown:
                self.parts.append(f" ({target})")

    def handle_data(self, data):
        if not self.ignoring:
            self.parts.append(data)

    def text(self) -> str:
        text = "".join(p for p in self.parts if p != "\x00").replace("\xa0", " ")
        lines = [re.sub(r"[ \t\r\f\v]+", " ", line).strip() for line in text.split("\n")]
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def html_to_text(text: str) -> str:
    """Plain text from HTML (a description as a website's editor saved it)."""
    parser = _PlainText()
    parser.feed(text)
    parser.close()
    return parser.text()


# Web addresses a publisher's template leaves in (RFC 2606's example domain, "path/to").
_PLACEHOLDER_HOSTS = {"example.com", "www.example.com"}


def _uri(data: dict, name: str, *, path: str = "", limit: int = 200) -> str:
    """A web address, or "" (with a warning) for one that is not an address or a placeholder."""
    text = _text(data, name, path=path)
    if not text:
        return ""
    where = f"{_at(path, name)} {_short(text)}"
    if re.fullmatch(r"www\.[\w-]+(\.[\w-]+)+(/\S*)?", text, re.IGNORECASE):
        _warn(f"{where} had no https://: imported as https://{text}")
        text = f"https://{text}"
    parts = urllib.parse.urlsplit(text)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        _warn(f"{where} is not a web address (http:// or https://): left out")
        return ""
    if (parts.hostname or "").lower() in _PLACEHOLDER_HOSTS or "path/to/" in text.lower():
        _warn(f"{where} is a placeholder, not a real address: left out")
        return ""
    try:
        URLValidator(schemes=["http", "https"])(text)
    except ValidationError:
        _warn(f"{where} is not a valid web address: left out")
        return ""
    if len(text) > limit:
        _warn(f"{where} is longer than the {limit} characters an address may have: left out")
        return ""
    return text


def _email(data: dict, name: str, *, path: str = "") -> str:
    """An email address, or "" (with a warning) for one that is not, or says it is not."""
    value = data.get(name)
    if value in (None, ""):
        return ""
    text = str(value).strip().removeprefix("mailto:") if isinstance(value, str) else ""
    where = f"{_at(path, name)} {_short(value)}"
    domain = text.rpartition("@")[2].lower()
    if domain in _PLACEHOLDER_HOSTS or domain.endswith(".invalid"):
        _warn(f"{where} is a placeholder, not an address: left out")
        return ""
    try:
        validate_email(text)
    except ValidationError:
        _warn(f"{where} is not an email address: left out")
        return ""
    return text


def _number(data: dict, name: str, *, path: str = ""):
    """A finite number, or None (with a warning) for one that is not."""
    value = data.get(name)
    if value is None or value == "" or isinstance(value, bool):
        if isinstance(value, bool):
            _warn(f"{_at(path, name)} {value} is not a number: left out")
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number):
        _warn(f"{_at(path, name)} {_short(value)} is not a number: left out")
        return None
    return number


def _opt_int(data: dict, name: str, *, path: str = "") -> int | None:
    number = _number(data, name, path=path)
    if number is None:
        return None
    if number < 0:
        _warn(f"{_at(path, name)} {data[name]} is negative: left out")
        return None
    return int(number)


_OLDEST = 150  # past any age: a bigger number is not an age (999 and the like)


def _age(data: dict, name: str) -> int | None:
    number = _number(data, name)
    if number is None:
        return None
    which = "minimum" if name.startswith("min") else "maximum"
    if number == -1:
        # Bristol's (Placecube's) feed says -1 for "no limit": the same as leaving it out.
        _warn(f"{name} -1 means no limit: imported as no {which} age")
        return None
    if number < 0 or number > _OLDEST:
        _warn(f"{name} {data[name]} is not an age: left out (no {which} age)")
        return None
    return int(number)


def _opt_date(data: dict, name: str, *, path: str = "") -> dt.date | None:
    value = data.get(name)
    if not value:
        return None
    try:
        parsed = parse_date(str(value)[:10])
    except ValueError:
        parsed = None
    if parsed is None:
        _warn(f"{_at(path, name)} {_short(value)} is not a date (YYYY-MM-DD): left out")
    return parsed


def _opt_time(data: dict, name: str, *, path: str = "") -> dt.time | None:
    value = data.get(name)
    if not value:
        return None
    try:
        parsed = parse_time(str(value)[:8])
    except ValueError:
        parsed = None
    if parsed is None:
        _warn(f"{_at(path, name)} {_short(value)} is not a time (HH:MM): left out")
        return None
    return parsed.replace(tzinfo=None)


def _list(data: dict, name: str, *, path: str = "") -> list[dict]:
    value = data.get(name) or []
    if not isinstance(value, list):
        _warn(f"{_at(path, name)} is not a list: left out")
        return []
    kept = [v for v in value if isinstance(v, dict)]
    if len(kept) < len(value):
        _warn(f"{_at(path, name)}: {len(value) - len(kept)} item(s) are not objects: left out")
    return kept


def _save(obj) -> None:
    obj.full_clean(validate_unique=False, validate_constraints=False)
    obj.save()


def _save_leniently(obj, path: str, optional: tuple[str, ...]) -> None:
    """Save, leaving out (with a warning) any of the ``optional`` fields the model refuses."""
    try:
        obj.full_clean(validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        errors = getattr(exc, "message_dict", {NON_FIELD_ERRORS: exc.messages})
        if not set(errors) <= set(optional):
            raise
        for name, messages in errors.items():
            _warn(f"{_at(path, name)} {_short(getattr(obj, name))} left out: {' '.join(messages)}")
            blank = obj._meta.get_field(name)
            setattr(obj, name, None if blank.null else "")
        obj.full_clean(validate_unique=False, validate_constraints=False)
    obj.save()


def _part(path: str, write, *args, **kwargs) -> bool:
    """Write one part of a record (a schedule, a phone, a place) in its own savepoint: a part
    that cannot be understood is left out, and the report says which and why."""
    try:
        with transaction.atomic():
            write(*args, **kwargs)
    except RecordError as exc:
        _warn(f"{path} left out: {exc}")
        return False
    except ValidationError as exc:
        _warn(f"{path} left out: {'; '.join(_messages(exc))}")
        return False
    except DatabaseError as exc:
        _warn(f"{path} left out: {_first_line(exc)}")
        return False
    return True


# --- One service -----------------------------------------------------------------------------
_STATUS_WORDS = {s.replace(" ", ""): s for s in Service.Status.values}
# The standard's service fields Flourish has no place for: named in the report when they hold
# something, so that nobody believes them imported.
_NOT_KEPT = (
    "alternate_name",
    "interpretation_services",
    "application_process",
    "wait_time",
    "eligibility_description",
    "licenses",
    "funding",
    "program",
    "program_id",
    "required_documents",
    "metadata",
)


def upsert_service(data, *, by=None, warnings: list | None = None) -> bool:
    """Create or update one service and everything under it from HSDS-UK JSON; True if new.

    Call inside a transaction: on any error it raises and the caller rolls the record back.
    What was normalised or left out is appended to ``warnings`` (one sentence each).
    """
    if not isinstance(data, dict):
        raise RecordError("a service must be a JSON object")
    outer = _current.get()
    record = outer if outer is not None else _Record([] if warnings is None else warnings)
    token = _current.set(record)
    try:
        return _upsert_service(data, by=by)
    finally:
        _current.reset(token)


def _upsert_service(data: dict, *, by=None) -> bool:
    service_id = _record_uuid(data.get("id"), "id")
    name = _text(data, "name", 255)
    if not name:
        raise RecordError("name is missing (the standard requires it)")
    raw_status = _text(data, "status")
    status = _STATUS_WORDS.get(re.sub(r"[\s_-]+", "", raw_status.lower()))
    if not raw_status:
        status = Service.Status.ACTIVE
        _warn("status is missing (the standard requires it): imported as active")
    elif status is None:
        # Whether to show a service to the public hangs on its status: never guess one.
        raise RecordError(f"status {raw_status!r} is not one of {', '.join(Service.Status.values)}")
    elif status != raw_status:
        _warn(f"status {raw_status!r} imported as {status!r}")

    existing = Service.objects.filter(pk=service_id).select_related("organization").first()
    organization = _organization(data, existing, service_id, name, by=by)
    extra = data.get("flourish") if isinstance(data.get("flourish"), dict) else {}
    service = existing or Service(id=service_id)
    service.organization = organization
    service.name = name
    service.description = _text(data, "description")
    service.url = _uri(data, "url")
    service.email = _email(data, "email")
    service.status = status
    # HSDS 3.0 renamed fees to fees_description (fees is deprecated): prefer the new name.
    service.fees = _text(data, "fees_description") or _text(data, "fees")
    service.accreditations = _text(data, "accreditations")
    service.minimum_age = _age(data, "minimum_age")
    service.maximum_age = _age(data, "maximum_age")
    if (
        service.minimum_age is not None
        and service.maximum_age is not None
        and service.minimum_age > service.maximum_age
    ):
        _warn(
            f"minimum_age {service.minimum_age} is above maximum_age {service.maximum_age}: "
            "both left out"
        )
        service.minimum_age = service.maximum_age = None
    service.assured_date = _opt_date(data, "assured_date")
    # Kept for editors (the admin); never published: it names a member of staff.
    service.assurer_email = _email(data, "assurer_email")
    service.alert = _text(data, "alert")
    service.kind = extra.get("kind") or service.kind or Service.Kind.COMMUNITY_ASSET
    service.access = extra.get("access") or service.access or Service.Access.SELF_REFERRAL
    if service.kind not in Service.Kind.values:
        _warn(f"flourish.kind {_short(service.kind)} is not known: imported as community_asset")
        service.kind = Service.Kind.COMMUNITY_ASSET
    if service.access not in Service.Access.values:
        _warn(f"flourish.access {_short(service.access)} is not known: imported as self_referral")
        service.access = Service.Access.SELF_REFERRAL
    service.capacity_available = _opt_int(extra, "capacity_available", path="flourish")
    service.capacity_maximum = _opt_int(extra, "capacity_maximum", path="flourish")
    service.capacity_unit = _text(extra, "capacity_unit", 50, path="flourish")
    service.modified_by = by
    _save_leniently(
        service,
        "",
        optional=("description", "url", "email", "assurer_email", "capacity_available"),
    )

    # Everything under the service is replaced by what the record says.
    for related in (
        service.schedules,
        service.service_areas,
        service.languages,
        service.cost_options,
        service.contacts,
        service.phones,
        service.attributes,
    ):
        related.all().delete()
    service.service_at_locations.all().delete()

    for n, item in enumerate(_list(data, "schedules")):
        path = f"schedules[{n}]"
        _part(path, _schedule, item, service_id, n, path, service=service)
    for n, item in enumerate(_list(data, "service_areas")):
        path = f"service_areas[{n}]"
        _part(path, _service_area, item, service, n, path)
    for n, item in enumerate(_list(data, "service_at_locations")):
        path = f"service_at_locations[{n}]"
        _part(path, _service_at_location, item, service, organization, n, path, by=by)
    for n, item in enumerate(_list(data, "languages")):
        path = f"languages[{n}]"
        _part(path, _language, item, service_id, n, path, service=service)
    for n, item in enumerate(_list(data, "cost_options")):
        path = f"cost_options[{n}]"
        _part(path, _cost_option, item, service, n, path)
    for n, item in enumerate(_list(data, "contacts")):
        path = f"contacts[{n}]"
        _part(path, _contact, item, service, n, path)
    for n, item in enumerate(_list(data, "phones")):
        path = f"phones[{n}]"
        _part(path, _phone, item, service_id, n, path, service=service)
    for n, item in enumerate(_list(data, "attributes")):
        path = f"attributes[{n}]"
        _part(path, _attribute, item, service, n, path)

    not_kept = [k for k in _NOT_KEPT if data.get(k) not in (None, "", [], {})]
    if not_kept:
        _warn(f"not kept (Flourish has no field for them): {', '.join(not_kept)}")
    if not (
        service.service_areas.exists()
        or service.service_at_locations.filter(location__point__isnull=False).exists()
    ):
        _warn(
            "nothing in the record can be placed on a map (no location with an address or "
            "coordinates, no service area Flourish can map): the service is listed, but will "
            "not show in searches near a place"
        )
    return existing is None


def _organization(data: dict, existing: Service | None, service_id, name: str, *, by=None):
    """The service's organization: the one the record includes (upserted), else the one it
    names, else (a record that names none) the one it had, else a new one of its own."""
    given = data.get("organization") if isinstance(data.get("organization"), dict) else {}
    org_id = data.get("organization_id") or given.get("id")
    if given.get("name"):
        if given.get("id") in (None, "") and org_id:
            given = {**given, "id": org_id}
        return _organization_from(given, "organization", by=by)
    if org_id:
        ident = _record_uuid(org_id, "organization_id", "organization")
        org = Organization.objects.filter(pk=ident).first()
        if org is not None:
            return org
        if existing is not None:
            _warn(
                f"organization {org_id} is not in the directory and the record does not "
                f"include it: the service stays under {existing.organization.name!r}"
            )
            return existing.organization
        # A feed that gives organization_id alone (its /organizations has the rest): file the
        # service under an organization with that id, named for now after the service, so
        # that importing the organization later fills it in.
        _warn(
            f"organization {org_id} is not in the directory and the record does not include "
            f"it: imported as an organization of that id named {name!r} until the "
            "organization itself is imported"
        )
        org = Organization(id=ident, name=name, modified_by=by)
        _save(org)
        return org
    if existing is not None:
        _warn(
            "the record names no organization (the standard asks for organization_id): the "
            f"service stays under {existing.organization.name!r}"
        )
        return existing.organization
    ident = uuid.uuid5(service_id, "organization")
    _warn(
        "the record names no organization (the standard asks for organization_id): imported "
        f"under a new organization of the service's name ({ident})"
    )
    org = Organization.objects.filter(pk=ident).first() or Organization(id=ident, name=name)
    org.modified_by = by
    _save(org)
    return org


def _organization_from(given: dict, path: str, *, by=None) -> Organization:
    ident = _record_uuid(given.get("id"), _at(path, "id"), "organization")
    org = Organization.objects.filter(pk=ident).first() or Organization(id=ident)
    org.name = _text(given, "name", 255, path=path)
    org.description = _text(given, "description", path=path)
    org.email = _email(given, "email", path=path)
    org.website = _uri(given, "website", path=path)
    org.uri = _uri(given, "uri", path=path)
    org.modified_by = by
    _save_leniently(org, path, optional=("description", "email", "website", "uri"))
    return org


def _schedule(item: dict, parent_id, n: int, path: str, **owner) -> None:
    freq = _text(item, "freq", path=path).upper() or Schedule.Freq.WEEKLY
    if freq not in Schedule.Freq.values:
        raise RecordError(f"freq {freq!r} must be WEEKLY or MONTHLY")
    byday = _text(item, "byday", path=path).upper().replace(" ", "")
    if len(byday) > 40:
        raise RecordError(f"byday {_short(byday)} is not a list of days")
    _save(
        Schedule(
            id=_child_id(item, parent_id, "schedule", n, path),
            freq=freq,
            interval=_opt_int(item, "interval", path=path) or 1,
            byday=byday,
            bymonthday=_text(item, "bymonthday", path=path).replace(" ", "")[:40],
            opens_at=_opt_time(item, "opens_at", path=path),
            closes_at=_opt_time(item, "closes_at", path=path),
            valid_from=_opt_date(item, "valid_from", path=path),
            valid_to=_opt_date(item, "valid_to", path=path),
            dtstart=_opt_date(item, "dtstart", path=path),
            description=_text(item, "description", path=path),
            attending_type=_text(item, "attending_type", 100, path=path),
            notes=_text(item, "notes", path=path),
            **owner,
        )
    )


def _extent(value, path: str) -> MultiPolygon | None:
    """A service area's extent as a MultiPolygon: GeoJSON (text or object) or WKT, whatever
    GEOS reads; None, with a warning, for anything that is not an area on the map."""
    where = f"{_at(path, 'extent')} {_short(value, 40)}"
    text = json.dumps(value) if isinstance(value, dict) else str(value).strip()
    try:
        geometry = GEOSGeometry(text)
    except (ValueError, TypeError, GEOSException, GDALException):
        _warn(f"{where} is not GeoJSON or WKT: left out")
        return None
    if geometry.srid not in (None, 4326):
        geometry.transform(4326)
    if isinstance(geometry, GeometryCollection) and not isinstance(geometry, MultiPolygon):
        polygons = [g for g in geometry if isinstance(g, Polygon)]
        if polygons and len(polygons) == len(geometry):
            geometry = MultiPolygon(*polygons)
    if isinstance(geometry, Polygon):
        geometry = MultiPolygon(geometry)
    if not isinstance(geometry, MultiPolygon):
        _warn(f"{where} is a {geometry.geom_type}, not an area: left out")
        return None
    geometry.srid = 4326
    points = list(_points(geometry))
    lngs, lats = [p[0] for p in points], [p[1] for p in points]
    if min(lngs) < -180 or max(lngs) > 180 or min(lats) < -90 or max(lats) > 90:
        _warn(f"{where} has coordinates that are not longitude, latitude: left out")
        return None
    if not geometry.valid:
        repaired = geometry.make_valid()
        if isinstance(repaired, Polygon):
            repaired = MultiPolygon(repaired)
        if not isinstance(repaired, MultiPolygon):
            _warn(f"{where} is not a valid area ({geometry.valid_reason}): left out")
            return None
        _warn(f"{where} was not a valid area ({geometry.valid_reason}): repaired")
        repaired.srid = 4326
        geometry = repaired
    return geometry


def _points(geometry: MultiPolygon):
    for polygon in geometry:
        for ring in polygon:
            yield from ring


def _service_area(item: dict, service: Service, n: int, path: str) -> None:
    area = ServiceArea(
        id=_child_id(item, service.id, "service_area", n, path),
        service=service,
        name=_text(item, "name", 255, path=path),
        description=_text(item, "description", path=path),
        uri=_uri(item, "uri", path=path),
    )
    words = [w.strip().upper() for w in re.split(r"[,;]", _text(item, "service_area")) if w.strip()]
    if words and all(_OUTCODE_RE.match(w) for w in words):
        area.postcode_districts = words
    elif words and not area.description:
        area.description = _text(item, "service_area", path=path)
    if item.get("extent") not in (None, ""):
        area.extent = _extent(item["extent"], path)
        area.extent_type = "geojson"
    if not area.postcode_districts and area.extent is None:
        # A named area we cannot place ("Tameside") would hide the service from every radius
        # search (an area that covers nowhere); leave it out so the service stays findable.
        raise RecordError(
            f"{_short(area.name or area.description or 'the area', 50)} cannot be mapped (no "
            "extent Flourish can read, no postcode districts)"
        )
    _save(area)


def _service_at_location(
    item: dict, service: Service, organization, n: int, path: str, *, by=None
) -> None:
    given = item.get("location") if isinstance(item.get("location"), dict) else {}
    location_id = _record_uuid(
        given.get("id") or item.get("location_id"), _at(path, "location.id"), "location"
    )
    location = Location.objects.filter(pk=location_id).first()
    if given:
        here = _at(path, "location")
        location = location or Location(id=location_id, organization=organization)
        location_type = _text(given, "location_type", path=here).lower() or "physical"
        if location_type not in Location.Type.values:
            _warn(f"{here}.location_type {location_type!r} is not known: imported as physical")
            location_type = Location.Type.PHYSICAL
        location.location_type = location_type
        location.name = _text(given, "name", 255, path=here)
        location.description = _text(given, "description", path=here)
        location.external_identifier = _text(given, "external_identifier", 100, path=here)
        location.external_identifier_type = _text(given, "external_identifier_type", 50, path=here)
        addresses = _list(given, "addresses", path=here)
        address = addresses[0] if addresses else {}
        at = f"{here}.addresses[0]"
        location.address_1 = _text(address, "address_1", 255, path=at)
        location.address_2 = _text(address, "address_2", 255, path=at)
        location.city = _text(address, "city", 100, path=at)
        location.region = _text(address, "region", 100, path=at)
        location.state_province = _text(address, "state_province", 100, path=at)
        location.postal_code = _postcode(address, at)
        country = _text(address, "country", path=at).upper() or "GB"
        if len(country) != 2:
            _warn(f"{at}.country {country!r} is not a two-letter code: imported as GB")
            country = "GB"
        location.country = country
        location.point = _point(given, location.postal_code, here)
        if location.location_type == Location.Type.PHYSICAL and location.point is None:
            raise RecordError(
                f"location {location.name or location_id!r} cannot be placed (no UK postcode "
                "or coordinates Flourish can use)"
            )
        location.modified_by = by
        _save(location)
        location.accessibility.all().delete()
        for m, access in enumerate(_list(given, "accessibility", path=here)):
            where = f"{here}.accessibility[{m}]"
            _part(where, _accessibility, access, location, m, where)
        location.phones.all().delete()
        for m, phone in enumerate(_list(given, "phones", path=here)):
            where = f"{here}.phones[{m}]"
            _part(where, _phone, phone, location_id, m, where, location=location)
    elif location is None:
        raise RecordError(f"location {location_id} is not in the directory; include the location")
    sal = ServiceAtLocation(
        id=_child_id(item, service.id, "service_at_location", n, path),
        service=service,
        location=location,
        description=_text(item, "description", path=path),
    )
    _save(sal)
    sal.schedules.all().delete()
    for m, schedule in enumerate(_list(item, "schedules", path=path)):
        where = f"{path}.schedules[{m}]"
        _part(where, _schedule, schedule, sal.id, m, where, service_at_location=sal)


def _postcode(address: dict, path: str) -> str:
    text = _text(address, "postal_code", path=path)
    if not text:
        return ""
    try:
        parsed = postcodes.parse(text, allow_outcode=False)
    except postcodes.InvalidPostcode:
        _warn(f"{path}.postal_code {text!r} is not a UK postcode: left out")
        return ""
    return parsed.postcode or postcodes.normalise(text)


def _point(location: dict, postal_code: str, path: str):
    lat, lng = location.get("latitude"), location.get("longitude")
    if lat not in (None, "") and lng not in (None, ""):
        try:
            return make_point(float(lat), float(lng))
        except OutsideUK:
            _warn(f"{path} latitude, longitude {lat}, {lng} is not in the UK: left out")
        except (TypeError, ValueError):
            _warn(f"{path} latitude, longitude {_short(lat)}, {_short(lng)} are not numbers")
    if postal_code and location.get("location_type", "physical") != "virtual":
        # No coordinates: place the location at its postcode, as the gazetteer knows it.
        try:
            return locate_postcode(postal_code).point
        except (postcodes.InvalidPostcode, PostcodeNotFound) as exc:
            _warn(f"{path} postal_code {postal_code}: {exc}")
    return None


def _accessibility(item: dict, location: Location, m: int, path: str) -> None:
    _save(
        Accessibility(
            id=_child_id(item, location.id, "accessibility", m, path),
            location=location,
            description=_text(item, "description", path=path),
            details=_text(item, "details", path=path),
            url=_uri(item, "url", path=path),
        )
    )


def _cost_option(item: dict, service: Service, n: int, path: str) -> None:
    amount = item.get("amount")
    try:
        amount = None if amount in (None, "") else Decimal(str(amount))
        if amount is not None and (not amount.is_finite() or abs(amount) >= 10**6):
            raise InvalidOperation
    except InvalidOperation:
        _warn(f"{path}.amount {_short(item.get('amount'))} is not an amount: left out")
        amount = None
    _save(
        CostOption(
            id=_child_id(item, service.id, "cost_option", n, path),
            service=service,
            option=_text(item, "option", 255, path=path),
            amount=amount,
            amount_description=_text(item, "amount_description", 255, path=path),
            valid_from=_opt_date(item, "valid_from", path=path),
            valid_to=_opt_date(item, "valid_to", path=path),
        )
    )


def _contact(item: dict, service: Service, n: int, path: str) -> None:
    contact = Contact(
        id=_child_id(item, service.id, "contact", n, path),
        service=service,
        name=_text(item, "name", 255, path=path),
        title=_text(item, "title", 255, path=path),
        email=_email(item, "email", path=path),
    )
    _save(contact)
    for m, phone in enumerate(_list(item, "phones", path=path)):
        where = f"{path}.phones[{m}]"
        _part(where, _phone, phone, contact.id, m, where, contact=contact)


# A telephone number inside other text: digits with spaces, dots, dashes or brackets.
_PHONE_NUMBER_RE = re.compile(r"\+?\(?\d[\d ().\-]{1,24}\d(\s*(ext\.?|x)\s*\d{1,6})?")
_PHONE_MAX = 30  # Phone.number


def _digits(text: str) -> int:
    return sum(c.isdigit() for c in text)


def phone_number(text: str) -> tuple[str, str] | None:
    """(number, label) from a phone ``number`` as publishers fill it in: "0117 332 7111",
    "Bristol Youth MAPS: 0117 332 7111" -> ("0117 332 7111", "Bristol Youth MAPS"); None when
    there is no number in it."""
    text = text.strip().strip("\"'").strip()
    found = [m for m in _PHONE_NUMBER_RE.finditer(text) if _digits(m.group()) >= 3]
    if not found:
        return None
    match = max(found, key=lambda m: _digits(m.group()))  # the first of the longest
    number = match.group().strip()
    label = (text[: match.start()] + " " + text[match.end() :]).strip(" :-–—,;()\t")
    return number, re.sub(r"\s+", " ", label)


def _phone(item: dict, parent_id, n: int, path: str, **owner) -> None:
    raw = _text(item, "number", path=path)
    found = phone_number(raw) if raw else None
    if found is None:
        raise RecordError(f"no phone number in number {_short(raw)}" if raw else "no number")
    number, label = found
    if len(number) > _PHONE_MAX:
        raise RecordError(f"number {_short(number)} is longer than a phone number")
    description = _text(item, "description", path=path)
    if number != raw:
        _warn(
            f"{path}.number {_short(raw)} held more than a number: imported as {number!r}"
            + (f", with {label!r} as its description" if label else "")
        )
        if label:
            description = f"{label}: {description}" if description else label
    if len(description) > 255:
        _warn(f"{path}.description is longer than 255 characters: cut to 255")
        description = description[:255].rstrip()
    phone = Phone(
        id=_child_id(item, parent_id, "phone", n, path),
        number=number,
        description=description,
        **owner,
    )
    _save(phone)
    for m, language in enumerate(_list(item, "languages", path=path)):
        where = f"{path}.languages[{m}]"
        _part(where, _language, language, phone.id, m, where, phone=phone)


def _language(item: dict, parent_id, n: int, path: str, **owner) -> None:
    code = _text(item, "code", path=path).lower()
    if code and not re.fullmatch(r"[a-z]{2,3}", code):
        # "en-GB" is English: keep the language, not the region.
        short = re.match(r"^([a-z]{2,3})[-_]", code)
        _warn(
            f"{path}.code {code!r} is not an ISO 639 code: "
            + (f"imported as {short.group(1)!r}" if short else "left out")
        )
        code = short.group(1) if short else ""
    name = _text(item, "name", 100, path=path) or code
    if not name:
        raise RecordError("a language with neither name nor code")
    _save(
        Language(
            id=_child_id(item, parent_id, "language", n, path),
            name=name,
            code=code,
            note=_text(item, "note", 255, path=path),
            **owner,
        )
    )


def _attribute(item: dict, service: Service, n: int, path: str) -> None:
    term = _term(item, path)
    Attribute.objects.get_or_create(
        service=service,
        taxonomy_term=term,
        defaults={
            "id": _child_id(item, service.id, "attribute", n, path),
            "link_type": _text(item, "link_type", 50, path=path) or "service",
        },
    )


def _term(item: dict, path: str = "") -> TaxonomyTerm:
    given = item.get("taxonomy_term") if isinstance(item.get("taxonomy_term"), dict) else {}
    here = _at(path, "taxonomy_term")
    term_id = _record_uuid(
        item.get("taxonomy_term_id") or given.get("id"), "taxonomy_term_id", "taxonomy_term"
    )
    term = TaxonomyTerm.objects.filter(pk=term_id).first()
    if term is not None:
        return term
    if not given.get("name"):
        raise RecordError(f"taxonomy term {term_id} is unknown; include the taxonomy_term object")
    # A publisher's own vocabulary: keep its terms under its taxonomy, so links survive.
    detail = given.get("taxonomy_detail") if isinstance(given.get("taxonomy_detail"), dict) else {}
    taxonomy_id = given.get("taxonomy_id") or detail.get("id")
    taxonomy_name = (
        _text(given, "taxonomy", 255, path=here)
        or _text(detail, "name", 255, path=here)
        or "Imported terms"
    )
    taxonomy_pk = (
        _record_uuid(taxonomy_id, f"{here}.taxonomy_id", "taxonomy")
        if taxonomy_id
        else uuid.uuid5(vocabularies.NAMESPACE, f"imported/{taxonomy_name}")
    )
    taxonomy = Taxonomy.objects.filter(pk=taxonomy_pk).first()
    if taxonomy is None:
        taxonomy = Taxonomy.objects.create(
            id=taxonomy_pk, name=taxonomy_name, slug=f"imported-{str(taxonomy_pk)[:8]}"
        )
    code = re.sub(
        r"[^a-z0-9-]+",
        "-",
        (_text(given, "code") or _text(given, "term") or _text(given, "name")).lower(),
    ).strip("-")[:50]
    return TaxonomyTerm.objects.create(
        id=term_id,
        taxonomy=taxonomy,
        code=code or str(term_id)[:8],
        name=_text(given, "name", 255, path=here),
        description=_text(given, "description", path=here),
        term_uri=_uri(given, "term_uri", path=here),
    )


# --- The spreadsheet (CSV) ------------------------------------------------------------------
CSV_COLUMNS = [
    "id",
    "organisation",
    "service_name",
    "description",
    "kind",
    "access",
    "status",
    "needs",
    "offers",
    "location_name",
    "address_1",
    "address_2",
    "city",
    "postcode",
    "service_area",
    "phone",
    "email",
    "website",
    "days",
    "opens_at",
    "closes_at",
    "cost",
    "cost_description",
    "minimum_age",
    "maximum_age",
    "languages",
    "accessibility",
    "last_checked",
]
CSV_REQUIRED = ["organisation", "service_name"]


class RowError(ValueError):
    def __init__(self, column: str, message: str):
        super().__init__(f"column {column}: {message}")
        self.column = column


def import_directory_csv(handle, *, by=None) -> Report:
    """Upsert one service per row of the documented template (docs/directory_csv.md).

    Rows are numbered as a spreadsheet shows them (the header is row 1). A row without an
    ``id`` gets a stable one from its organisation, name and postcode, so a re-run updates it.
    """
    report = Report()
    reader = csv.DictReader(handle)
    headers = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in CSV_REQUIRED if c not in headers]
    if missing:
        report.outcomes.append(
            Outcome(
                "row 1",
                "rejected",
                reasons=[f"column {c}: the header row has no {c} column" for c in missing]
                + ["see docs/directory_csv.md for the template"],
            )
        )
        return report
    unknown = [h for h in headers if h not in CSV_COLUMNS]
    if unknown:
        report.outcomes.append(
            Outcome(
                "row 1",
                "warning",
                reasons=[f"column {h}: not in the template, ignored" for h in unknown],
            )
        )
    reader.fieldnames = headers
    terms = {(t.taxonomy.slug, t.code): t for t in TaxonomyTerm.objects.select_related("taxonomy")}
    for number, row in enumerate(reader, start=2):
        row = {k: (v or "").strip() for k, v in row.items() if k}
        where = f"row {number}"
        name = row.get("service_name", "")
        try:
            with transaction.atomic():
                ident, created = _csv_row(row, terms, by=by)
        except RowError as exc:
            report.outcomes.append(Outcome(where, "rejected", row.get("id", ""), name, [str(exc)]))
        except ValidationError as exc:
            reasons = [
                f"column {_CSV_FIELDS.get(k, k)}: {' '.join(v)}"
                for k, v in getattr(exc, "message_dict", {"": exc.messages}).items()
            ]
            report.outcomes.append(Outcome(where, "rejected", row.get("id", ""), name, reasons))
        except (DatabaseError, ValueError, TypeError) as exc:
            first_line = (
                str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            )
            report.outcomes.append(
                Outcome(where, "rejected", row.get("id", ""), name, [first_line])
            )
        else:
            report.outcomes.append(
                Outcome(where, "created" if created else "updated", str(ident), name)
            )
    return report


# Model field -> CSV column, for validation messages.
_CSV_FIELDS = {
    "name": "service_name",
    "url": "website",
    "postal_code": "postcode",
    "assured_date": "last_checked",
    "amount": "cost",
    "number": "phone",
}


def _csv_int(row, column) -> int | None:
    value = row.get(column, "")
    if not value:
        return None
    if not value.isdigit():
        raise RowError(column, f"{value!r} is not a whole number of years")
    return int(value)


def _csv_choice(row, column, choices, default):
    value = row.get(column, "").lower() or default
    if value not in choices.values:
        raise RowError(column, f"{value!r} is not one of {', '.join(choices.values)}")
    return value


def _csv_row(row: dict, terms: dict, *, by=None) -> tuple[uuid.UUID, bool]:
    for column in CSV_REQUIRED:
        if not row.get(column):
            raise RowError(column, "is empty; it is required")
    postcode = row.get("postcode", "")
    place = None
    if postcode:
        try:
            place = locate_postcode(postcode)
        except (postcodes.InvalidPostcode, PostcodeNotFound) as exc:
            raise RowError("postcode", str(exc)) from None
        if place.precision != "postcode":
            raise RowError("postcode", f"{postcode} is not a postcode we know; check it is right")
    districts = [
        d.strip().upper() for d in re.split(r"[;,]", row.get("service_area", "")) if d.strip()
    ]
    for district in districts:
        if not _OUTCODE_RE.match(district):
            raise RowError("service_area", f"{district!r} is not a postcode district like SK14")
    if not place and not districts:
        raise RowError(
            "postcode",
            "give a postcode for the venue, or postcode districts in "
            "service_area for a service without one",
        )
    if row.get("id"):
        try:
            ident = uuid.UUID(row["id"])
        except ValueError:
            raise RowError(
                "id", f"{row['id']!r} is not a UUID; leave it empty for a new service"
            ) from None
    else:
        ident = uuid.uuid5(
            vocabularies.NAMESPACE,
            "csv/"
            + "/".join(
                row.get(c, "").lower() for c in ("organisation", "service_name", "postcode")
            ),
        )
    needs = _csv_terms(row, "needs", "flourish-needs", terms)
    offers = _csv_terms(row, "offers", "flourish-digital-inclusion", terms)
    days = row.get("days", "").upper().replace(" ", "")
    if days and not all(d in ("MO", "TU", "WE", "TH", "FR", "SA", "SU") for d in days.split(",")):
        raise RowError("days", f"{row['days']!r} must be days like MO,TH (comma-separated)")
    times = {}
    for column in ("opens_at", "closes_at"):
        value = row.get(column, "")
        try:
            parsed = parse_time(value) if re.fullmatch(r"\d{1,2}:\d{2}", value) else None
        except ValueError:
            parsed = None
        if value and parsed is None:
            raise RowError(column, f"{value!r} is not a time like 09:30")
        times[column] = parsed
    if days and not times["opens_at"]:
        raise RowError("opens_at", "give the opening time for the days listed")
    cost = row.get("cost", "")
    try:
        amount = Decimal(cost.lstrip("£")) if cost else None
    except InvalidOperation:
        raise RowError("cost", f"{cost!r} is not an amount like 2.50 (0 for free)") from None
    last_checked = None
    if row.get("last_checked"):
        try:
            last_checked = parse_date(row["last_checked"])
        except ValueError:
            last_checked = None
        if last_checked is None:
            raise RowError("last_checked", f"{row['last_checked']!r} is not a date like 2025-06-30")

    org = Organization.objects.filter(name=row["organisation"]).order_by("created_at").first()
    if org is None:
        org = Organization(id=uuid.uuid5(ident, "organization"), name=row["organisation"])
        org.modified_by = by
        _save(org)
    existing = Service.objects.filter(pk=ident).first()
    service = existing or Service(id=ident)
    service.organization = org
    service.name = row["service_name"]
    service.description = row.get("description", "")
    service.kind = _csv_choice(row, "kind", Service.Kind, Service.Kind.COMMUNITY_ASSET)
    service.access = _csv_choice(row, "access", Service.Access, Service.Access.SELF_REFERRAL)
    service.status = _csv_choice(row, "status", Service.Status, Service.Status.ACTIVE)
    service.email = row.get("email", "")
    service.url = row.get("website", "")
    service.minimum_age = _csv_int(row, "minimum_age")
    service.maximum_age = _csv_int(row, "maximum_age")
    service.assured_date = last_checked
    service.modified_by = by
    _save(service)
    for related in (
        service.schedules,
        service.service_areas,
        service.languages,
        service.cost_options,
        service.phones,
        service.attributes,
    ):
        related.all().delete()
    service.service_at_locations.all().delete()

    location = Location.objects.filter(pk=uuid.uuid5(ident, "location")).first() or Location(
        id=uuid.uuid5(ident, "location")
    )
    location.organization = org
    location.name = row.get("location_name", "")
    location.address_1 = row.get("address_1", "")
    location.address_2 = row.get("address_2", "")
    location.city = row.get("city", "")
    if place:
        location.location_type = Location.Type.PHYSICAL
        location.postal_code = place.postcode
        location.point = place.point
    else:
        location.location_type = Location.Type.VIRTUAL
        location.postal_code = ""
        location.point = None
    location.modified_by = by
    _save(location)
    location.accessibility.all().delete()
    if row.get("accessibility"):
        Accessibility.objects.create(
            id=uuid.uuid5(ident, "accessibility"),
            location=location,
            description=row["accessibility"],
        )
    sal = ServiceAtLocation.objects.create(
        id=uuid.uuid5(ident, "sal"), service=service, location=location
    )
    if districts:
        ServiceArea.objects.create(
            id=uuid.uuid5(ident, "area"), service=service, postcode_districts=districts
        )
    if times["opens_at"]:
        Schedule.objects.create(
            id=uuid.uuid5(ident, "schedule"),
            service_at_location=sal,
            freq=Schedule.Freq.WEEKLY,
            byday=days,
            opens_at=times["opens_at"],
            closes_at=times["closes_at"],
        )
    if cost:
        _save(
            CostOption(
                id=uuid.uuid5(ident, "cost"),
                service=service,
                option="free" if amount == 0 else "",
                amount=amount,
                amount_description=row.get("cost_description", ""),
            )
        )
    if row.get("phone"):
        _save(Phone(id=uuid.uuid5(ident, "phone"), service=service, number=row["phone"][:30]))
    for n, language in enumerate(x.strip() for x in row.get("languages", "").split(";")):
        if language:
            Language.objects.create(
                id=uuid.uuid5(ident, f"language/{n}"), service=service, name=language[:100]
            )
    for term in needs + offers:
        Attribute.objects.create(
            id=uuid.uuid5(ident, f"term/{term.id}"), service=service, taxonomy_term=term
        )
    return ident, existing is None


def _csv_terms(row: dict, column: str, taxonomy: str, terms: dict) -> list[TaxonomyTerm]:
    codes = [c.strip().lower() for c in re.split(r"[;,]", row.get(column, "")) if c.strip()]
    unknown = [c for c in codes if (taxonomy, c) not in terms]
    if unknown:
        valid = ", ".join(code for (slug, code) in terms if slug == taxonomy)
        raise RowError(column, f"unknown {', '.join(unknown)}; use: {valid}")
    return [terms[(taxonomy, c)] for c in dict.fromkeys(codes)]


def read_csv(path: str):
    """Open a CSV as councils save it (Excel adds a byte-order mark)."""
    return open(path, encoding="utf-8-sig", newline="")
