"""Bringing listings in: Open Referral UK 3.0 JSON, and the spreadsheet councils keep.

Both importers upsert by id and are safe to run again. Each record (or row) is written in its
own savepoint: a bad one is reported and rolled back whole, so it never stops the good ones and
never leaves a half-written service behind.
"""

import csv
import datetime as dt
import json
import re
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction
from django.utils.dateparse import parse_date, parse_time

from directory import openreferral, vocabularies
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
from geo.models import PostcodeNotFound, locate_postcode, make_point

FETCH_TIMEOUT_SECONDS = 30
MAX_PAGES = 1000
_OUTCODE_RE = re.compile(r"^[A-Z]{1,2}[0-9][0-9A-Z]?$")


class RecordError(ValueError):
    """A record that cannot be imported; the message says why."""


@dataclass
class Outcome:
    where: str  # "record 3" or "row 7"
    action: str  # created | updated | rejected
    id: str = ""
    name: str = ""
    reasons: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        label = f"{self.where}: {self.action}"
        if self.name or self.id:
            label += f" {self.name!r}" if self.name else ""
            label += f" ({self.id})" if self.id else ""
        if self.reasons:
            label += ": " + "; ".join(self.reasons)
        return label


@dataclass
class Report:
    outcomes: list[Outcome] = field(default_factory=list)

    def count(self, action: str) -> int:
        return sum(1 for o in self.outcomes if o.action == action)

    @property
    def summary(self) -> str:
        return (
            f"{self.count('created')} created, {self.count('updated')} updated, "
            f"{self.count('rejected')} rejected."
        )


# --- Open Referral UK JSON ------------------------------------------------------------------
def read_source(source: str) -> list[dict]:
    """The service records in a file or URL: a single service, a page envelope (every page
    is followed, for a URL), a JSON list, or newline-delimited JSON."""
    if re.match(r"^https?://", source):
        records, url, pages = [], source, 0
        while url and pages < MAX_PAGES:
            text = _fetch(url)
            found, envelope = _records(text)
            records.extend(found)
            pages += 1
            url = _next_page_url(url, envelope) if envelope else None
        return records
    with open(source, encoding="utf-8-sig") as handle:
        return _records(handle.read())[0]


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


def import_openreferral(records: list, *, by=None) -> Report:
    """Upsert each HSDS-UK service record in its own savepoint; report what happened."""
    report = Report()
    for number, record in enumerate(records, start=1):
        where = f"record {number}"
        if isinstance(record, RecordError):
            report.outcomes.append(Outcome(where, "rejected", reasons=[str(record)]))
            continue
        ident = str(record.get("id", "")) if isinstance(record, dict) else ""
        name = str(record.get("name", "")) if isinstance(record, dict) else ""
        try:
            with transaction.atomic():
                created = upsert_service(record, by=by)
        except RecordError as exc:
            report.outcomes.append(Outcome(where, "rejected", ident, name, [str(exc)]))
        except ValidationError as exc:
            report.outcomes.append(Outcome(where, "rejected", ident, name, _messages(exc)))
        except (DatabaseError, ValueError, TypeError, KeyError, AttributeError) as exc:
            # Whatever else a malformed record trips over: report it and go on to the next.
            first_line = (
                str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            )
            report.outcomes.append(Outcome(where, "rejected", ident, name, [first_line]))
        else:
            report.outcomes.append(Outcome(where, "created" if created else "updated", ident, name))
    return report


def _messages(exc: ValidationError) -> list[str]:
    if hasattr(exc, "message_dict"):
        return [f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items()]
    return list(exc.messages)


def _uuid(value, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except (ValueError, TypeError):
        raise RecordError(f"{what} {value!r} is not a UUID") from None


def _child_id(data: dict, parent: uuid.UUID, kind: str, n: int) -> uuid.UUID:
    """The child's own id, or (when a publisher left it out) a stable one derived from its
    parent, so that importing twice updates rather than duplicates."""
    if data.get("id"):
        return _uuid(data["id"], f"{kind} id")
    return uuid.uuid5(parent, f"{kind}/{n}")


def _text(data: dict, name: str, limit: int | None = None) -> str:
    value = data.get(name)
    if value is None:
        return ""
    text = str(value).strip()
    if limit and len(text) > limit:
        raise RecordError(f"{name} is longer than {limit} characters")
    return text


def _opt_date(data: dict, name: str) -> dt.date | None:
    value = data.get(name)
    if not value:
        return None
    try:
        parsed = parse_date(str(value)[:10])
    except ValueError:
        parsed = None
    if parsed is None:
        raise RecordError(f"{name} {value!r} is not a date (YYYY-MM-DD)")
    return parsed


def _opt_time(data: dict, name: str) -> dt.time | None:
    value = data.get(name)
    if not value:
        return None
    try:
        parsed = parse_time(str(value)[:8])
    except ValueError:
        parsed = None
    if parsed is None:
        raise RecordError(f"{name} {value!r} is not a time (HH:MM)")
    return parsed.replace(tzinfo=None)


def _opt_int(data: dict, name: str) -> int | None:
    value = data.get(name)
    if value is None or value == "":
        return None
    try:
        number = int(float(value))
    except (TypeError, ValueError, OverflowError):
        raise RecordError(f"{name} {value!r} is not a number") from None
    if number < 0:
        raise RecordError(f"{name} must not be negative")
    return number


def _save(obj) -> None:
    obj.full_clean(validate_unique=False, validate_constraints=False)
    obj.save()


def upsert_service(data, *, by=None) -> bool:
    """Create or update one service and everything under it from HSDS-UK JSON; True if new.

    Call inside a transaction: on any error it raises and the caller rolls the record back.
    """
    if not isinstance(data, dict):
        raise RecordError("a service must be a JSON object")
    service_id = _uuid(data.get("id"), "id")
    name = _text(data, "name", 255)
    if not name:
        raise RecordError("name is missing")
    status = _text(data, "status") or Service.Status.ACTIVE
    if status not in Service.Status.values:
        raise RecordError(f"status {status!r} is not one of {', '.join(Service.Status.values)}")

    organization = _organization(data, by=by)
    extra = data.get("flourish") if isinstance(data.get("flourish"), dict) else {}
    existing = Service.objects.filter(pk=service_id).first()
    service = existing or Service(id=service_id)
    service.organization = organization
    service.name = name
    service.description = _text(data, "description")
    service.url = _text(data, "url")
    service.email = _text(data, "email")
    service.status = status
    service.fees = _text(data, "fees")
    service.accreditations = _text(data, "accreditations")
    service.minimum_age = _opt_int(data, "minimum_age")
    service.maximum_age = _opt_int(data, "maximum_age")
    service.assured_date = _opt_date(data, "assured_date")
    service.assurer_email = _text(data, "assurer_email")
    service.alert = _text(data, "alert")
    service.kind = extra.get("kind") or service.kind or Service.Kind.COMMUNITY_ASSET
    service.access = extra.get("access") or service.access or Service.Access.SELF_REFERRAL
    service.capacity_available = _opt_int(extra, "capacity_available")
    service.capacity_maximum = _opt_int(extra, "capacity_maximum")
    service.capacity_unit = _text(extra, "capacity_unit", 50)
    service.modified_by = by
    _save(service)

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
        _schedule(item, service_id, n, service=service)
    for n, item in enumerate(_list(data, "service_areas")):
        _service_area(item, service, n)
    for n, item in enumerate(_list(data, "service_at_locations")):
        _service_at_location(item, service, organization, n, by=by)
    for n, item in enumerate(_list(data, "languages")):
        _language(item, service_id, n, service=service)
    for n, item in enumerate(_list(data, "cost_options")):
        amount = item.get("amount")
        try:
            amount = None if amount in (None, "") else Decimal(str(amount))
        except InvalidOperation:
            raise RecordError(f"cost option amount {amount!r} is not a number") from None
        _save(
            CostOption(
                id=_child_id(item, service_id, "cost_option", n),
                service=service,
                option=_text(item, "option", 255),
                amount=amount,
                amount_description=_text(item, "amount_description", 255),
                valid_from=_opt_date(item, "valid_from"),
                valid_to=_opt_date(item, "valid_to"),
            )
        )
    for n, item in enumerate(_list(data, "contacts")):
        contact = Contact(
            id=_child_id(item, service_id, "contact", n),
            service=service,
            name=_text(item, "name", 255),
            title=_text(item, "title", 255),
            email=_text(item, "email"),
        )
        _save(contact)
        for m, phone in enumerate(_list(item, "phones")):
            _phone(phone, contact.id, m, contact=contact)
    for n, item in enumerate(_list(data, "phones")):
        _phone(item, service_id, n, service=service)
    for n, item in enumerate(_list(data, "attributes")):
        term = _term(item)
        Attribute.objects.get_or_create(
            service=service,
            taxonomy_term=term,
            defaults={
                "id": _child_id(item, service_id, "attribute", n),
                "link_type": _text(item, "link_type", 50) or "service",
            },
        )
    return existing is None


def _list(data: dict, name: str) -> list[dict]:
    value = data.get(name) or []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise RecordError(f"{name} must be a list of objects")
    return value


def _organization(data: dict, *, by=None) -> Organization:
    given = data.get("organization")
    org_id = data.get("organization_id") or (given or {}).get("id")
    if isinstance(given, dict) and given.get("name"):
        ident = _uuid(given.get("id") or org_id, "organization id")
        org = Organization.objects.filter(pk=ident).first() or Organization(id=ident)
        org.name = _text(given, "name", 255)
        org.description = _text(given, "description")
        org.email = _text(given, "email")
        org.website = _text(given, "website")
        org.uri = _text(given, "uri")
        org.modified_by = by
        _save(org)
        return org
    if org_id:
        org = Organization.objects.filter(pk=_uuid(org_id, "organization_id")).first()
        if org is None:
            raise RecordError(
                f"organization {org_id} is not in the directory; include the organization object"
            )
        return org
    raise RecordError("organization is missing (give organization or organization_id)")


def _schedule(item: dict, parent_id, n: int, **owner) -> None:
    freq = _text(item, "freq") or Schedule.Freq.WEEKLY
    if freq not in Schedule.Freq.values:
        raise RecordError(f"schedule freq {freq!r} must be WEEKLY or MONTHLY")
    _save(
        Schedule(
            id=_child_id(item, parent_id, "schedule", n),
            freq=freq,
            interval=_opt_int(item, "interval") or 1,
            byday=_text(item, "byday", 40).upper(),
            bymonthday=_text(item, "bymonthday", 40),
            opens_at=_opt_time(item, "opens_at"),
            closes_at=_opt_time(item, "closes_at"),
            valid_from=_opt_date(item, "valid_from"),
            valid_to=_opt_date(item, "valid_to"),
            dtstart=_opt_date(item, "dtstart"),
            description=_text(item, "description"),
            attending_type=_text(item, "attending_type", 100),
            notes=_text(item, "notes"),
            **owner,
        )
    )


def _service_area(item: dict, service: Service, n: int) -> None:
    area = ServiceArea(
        id=_child_id(item, service.id, "service_area", n),
        service=service,
        name=_text(item, "name", 255),
        description=_text(item, "description"),
        uri=_text(item, "uri"),
    )
    words = [w.strip().upper() for w in re.split(r"[,;]", _text(item, "service_area")) if w.strip()]
    if words and all(_OUTCODE_RE.match(w) for w in words):
        area.postcode_districts = words
    elif words and not area.description:
        area.description = _text(item, "service_area")
    if extent := _text(item, "extent"):
        area.extent = openreferral.extent_from_text(extent)
        if area.extent is None:
            raise RecordError("service area extent is not a GeoJSON polygon")
        area.extent_type = "geojson"
    if not area.postcode_districts and area.extent is None:
        # A named area we cannot place ("Tameside") would hide the service from every radius
        # search (an area that covers nowhere); leave it out so the service stays findable.
        return
    _save(area)


def _service_at_location(item: dict, service: Service, organization, n: int, *, by=None) -> None:
    given = item.get("location") if isinstance(item.get("location"), dict) else {}
    location_id = _uuid(given.get("id") or item.get("location_id"), "location id")
    location = Location.objects.filter(pk=location_id).first()
    if given:
        location = location or Location(id=location_id, organization=organization)
        location.location_type = _text(given, "location_type") or Location.Type.PHYSICAL
        location.name = _text(given, "name", 255)
        location.description = _text(given, "description")
        location.external_identifier = _text(given, "external_identifier", 100)
        location.external_identifier_type = _text(given, "external_identifier_type", 50)
        addresses = _list(given, "addresses")
        address = addresses[0] if addresses else {}
        location.address_1 = _text(address, "address_1", 255)
        location.address_2 = _text(address, "address_2", 255)
        location.city = _text(address, "city", 100)
        location.region = _text(address, "region", 100)
        location.state_province = _text(address, "state_province", 100)
        location.postal_code = (
            postcodes.normalise(_text(address, "postal_code")) if address.get("postal_code") else ""
        )
        location.country = (_text(address, "country") or "GB")[:2].upper()
        location.point = _point(given, location.postal_code)
        location.modified_by = by
        _save(location)
        location.accessibility.all().delete()
        for m, access in enumerate(_list(given, "accessibility")):
            _save(
                Accessibility(
                    id=_child_id(access, location_id, "accessibility", m),
                    location=location,
                    description=_text(access, "description"),
                    details=_text(access, "details"),
                    url=_text(access, "url"),
                )
            )
        location.phones.all().delete()
        for m, phone in enumerate(_list(given, "phones")):
            _phone(phone, location_id, m, location=location)
    elif location is None:
        raise RecordError(f"location {location_id} is not in the directory; include the location")
    sal = ServiceAtLocation(
        id=_child_id(item, service.id, "service_at_location", n),
        service=service,
        location=location,
        description=_text(item, "description"),
    )
    _save(sal)
    for m, schedule in enumerate(_list(item, "schedules")):
        _schedule(schedule, sal.id, m, service_at_location=sal)


def _point(location: dict, postal_code: str):
    lat, lng = location.get("latitude"), location.get("longitude")
    if lat not in (None, "") and lng not in (None, ""):
        try:
            return make_point(float(lat), float(lng))
        except (TypeError, ValueError) as exc:
            raise RecordError(f"location latitude/longitude: {exc}") from None
    if postal_code and location.get("location_type", "physical") != "virtual":
        # No coordinates: place the location at its postcode, as the gazetteer knows it.
        try:
            return locate_postcode(postal_code).point
        except (postcodes.InvalidPostcode, PostcodeNotFound) as exc:
            raise RecordError(f"location postal_code: {exc}") from None
    return None


def _phone(item: dict, parent_id, n: int, **owner) -> None:
    number = _text(item, "number", 30)
    if not number:
        raise RecordError("a phone has no number")
    phone = Phone(
        id=_child_id(item, parent_id, "phone", n),
        number=number,
        description=_text(item, "description", 255),
        **owner,
    )
    _save(phone)
    for m, language in enumerate(_list(item, "languages")):
        _language(language, phone.id, m, phone=phone)


def _language(item: dict, parent_id, n: int, **owner) -> None:
    name = _text(item, "name", 100) or _text(item, "code", 3)
    if not name:
        raise RecordError("a language has neither name nor code")
    _save(
        Language(
            id=_child_id(item, parent_id, "language", n),
            name=name,
            code=_text(item, "code", 3),
            note=_text(item, "note", 255),
            **owner,
        )
    )


def _term(item: dict) -> TaxonomyTerm:
    given = item.get("taxonomy_term") if isinstance(item.get("taxonomy_term"), dict) else {}
    term_id = _uuid(item.get("taxonomy_term_id") or given.get("id"), "taxonomy_term_id")
    term = TaxonomyTerm.objects.filter(pk=term_id).first()
    if term is not None:
        return term
    if not given.get("name"):
        raise RecordError(f"taxonomy term {term_id} is unknown; include the taxonomy_term object")
    # A publisher's own vocabulary: keep its terms under its taxonomy, so links survive.
    taxonomy_id = given.get("taxonomy_id")
    taxonomy_name = _text(given, "taxonomy", 255) or "Imported terms"
    taxonomy_pk = (
        _uuid(taxonomy_id, "taxonomy_id")
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
        name=_text(given, "name", 255),
        description=_text(given, "description"),
        term_uri=_text(given, "term_uri"),
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
