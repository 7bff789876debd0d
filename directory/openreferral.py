"""The Open Referral UK 3.0 (HSDS-UK) feed: the directory as open data at /openreferral/.

Shapes follow the official schemas in ../shared/standards/openreferral-uk-3.0/schema/ (the tests
validate real responses against them). The feed is open to all: no key, and every response,
errors included, carries ``Access-Control-Allow-Origin: *`` so a browser on any site may read it.
Flourish's own fields (kind, how to access, capacity) travel in an extra ``flourish`` object,
which the standard allows, so an export imports back into Flourish unchanged.

The feed publishes every service whatever its status (``Service.objects.published()``), each
with its ``status``: a harvester that copied a service needs to see it turn inactive or defunct
to withdraw its copy, which it could not if the service simply vanished. Consumers that show
services to the public should show only ``active`` ones (and ``temporarily closed`` ones with
a notice), as Flourish's own pages do. The root (``/openreferral/``) says the same.

Services harvested from other directories (directory.harvest) are carried only where their
source's licence lets us republish them (``feed_services()``, the one rule every endpoint
starts from), each with its provenance in ``flourish.source``.
"""

import functools
import math
import uuid

from django.conf import settings
from django.contrib.gis.db.models.functions import Distance
from django.contrib.gis.gdal import GDALException
from django.contrib.gis.geos import GEOSException, GEOSGeometry, MultiPolygon, Polygon
from django.db.models import Exists, F, OuterRef, Prefetch, Q
from django.http import HttpResponse, JsonResponse

from directory import harvest
from directory.models import (
    Attribute,
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
from directory.params import (
    FeedParams,
    FeedSearchParams,
    FeedServiceAtLocationParams,
    FeedServiceParams,
    FeedTaxonomyTermParams,
    ParamsError,
)

VERSION = "HSDS-UK-3.0"
PROFILE_URL = "https://openreferraluk.org/"
OPENAPI_URL = "https://raw.githubusercontent.com/openreferral/uk-profile/main/schema/openapi.json"
# Said at the root, beside the standard's fields (extra fields are allowed there).
STATUS_POLICY = (
    "Every service is published whatever its status (active, inactive, defunct, temporarily "
    "closed), with that status on the record, so that a copy made earlier can be withdrawn "
    "when a service becomes inactive or defunct. Show only active services to the public "
    "(temporarily closed ones with a notice)."
)


# --- Serialising: model -> HSDS-UK dict ----------------------------------------------------
def _clean(data: dict, keep: tuple[str, ...] = ()) -> dict:
    """Drop unset fields (None, "") except those the schema requires, which stay as ""."""
    return {k: v for k, v in data.items() if k in keep or (v is not None and v != "")}


def _date(value) -> str | None:
    return value.isoformat() if value else None


def _time(value) -> str | None:
    return value.strftime("%H:%M") if value else None


def address_id(location: Location) -> uuid.UUID:
    """Flourish keeps one address per location; its id is derived so it is stable."""
    return uuid.uuid5(location.id, "address")


def organization_dict(org: Organization) -> dict:
    return _clean(
        {
            "id": str(org.id),
            "name": org.name,
            "description": org.description,
            "email": org.email,
            "website": org.website,
            "uri": org.uri,
        },
        keep=("description",),
    )


def taxonomy_dict(taxonomy: Taxonomy, *, terms: bool = False) -> dict:
    data = _clean(
        {
            "id": str(taxonomy.id),
            "name": taxonomy.name,
            "description": taxonomy.description,
            "uri": taxonomy.uri,
            "version": taxonomy.version,
        },
        keep=("description",),
    )
    if terms:
        data["taxonomy_terms"] = [term_dict(t) for t in taxonomy.terms.all()]
    return data


def term_dict(term: TaxonomyTerm) -> dict:
    return _clean(
        {
            "id": str(term.id),
            "name": term.name,
            "description": term.description,
            "parent_id": str(term.parent_id) if term.parent_id else None,
            "taxonomy": term.taxonomy.name,
            "taxonomy_id": str(term.taxonomy_id),
            "term_uri": term.term_uri,
            "code": term.code,
            "term": term.code,
        },
        keep=("description",),
    )


def location_dict(location: Location, *, full: bool = True) -> dict:
    data = _clean(
        {
            "id": str(location.id),
            "location_type": location.location_type,
            "name": location.name,
            "description": location.description,
            "latitude": round(location.latitude, 6) if location.point else None,
            "longitude": round(location.longitude, 6) if location.point else None,
            "external_identifier": location.external_identifier,
            "external_identifier_type": location.external_identifier_type,
        }
    )
    if not full:
        return data
    data["addresses"] = []
    if location.address_1 or location.postal_code:
        data["addresses"].append(
            _clean(
                {
                    "id": str(address_id(location)),
                    "location_id": str(location.id),
                    "address_1": location.address_1,
                    "address_2": location.address_2,
                    "city": location.city,
                    "region": location.region,
                    "state_province": location.state_province,
                    "postal_code": location.postal_code,
                    "country": location.country,
                    "address_type": "postal"
                    if location.location_type == Location.Type.POSTAL
                    else "physical",
                },
                keep=("address_1", "city", "state_province", "postal_code", "country"),
            )
        )
    data["accessibility"] = [
        _clean(
            {
                "id": str(a.id),
                "location_id": str(location.id),
                "description": a.description,
                "details": a.details,
                "url": a.url,
            }
        )
        for a in location.accessibility.all()
    ]
    data["phones"] = [_phone(p) for p in location.phones.all()]
    return data


def _phone(phone) -> dict:
    return _clean(
        {
            "id": str(phone.id),
            "number": phone.number,
            "description": phone.description,
            "languages": [_language(lang) for lang in phone.languages.all()],
        },
        keep=("number",),
    )


def _language(language) -> dict:
    return _clean(
        {
            "id": str(language.id),
            "service_id": str(language.service_id) if language.service_id else None,
            "phone_id": str(language.phone_id) if language.phone_id else None,
            "name": language.name,
            "code": language.code,
            "note": language.note,
        }
    )


def schedule_dict(schedule: Schedule) -> dict:
    return _clean(
        {
            "id": str(schedule.id),
            "service_id": str(schedule.service_id) if schedule.service_id else None,
            "service_at_location_id": str(schedule.service_at_location_id)
            if schedule.service_at_location_id
            else None,
            "valid_from": _date(schedule.valid_from),
            "valid_to": _date(schedule.valid_to),
            "dtstart": _date(schedule.dtstart),
            "freq": schedule.freq,
            "interval": schedule.interval,
            "byday": schedule.byday,
            "bymonthday": schedule.bymonthday,
            "opens_at": _time(schedule.opens_at),
            "closes_at": _time(schedule.closes_at),
            "description": schedule.description,
            "attending_type": schedule.attending_type,
            "notes": schedule.notes,
        }
    )


def service_at_location_dict(sal: ServiceAtLocation, *, full: bool = True) -> dict:
    data = {
        "id": str(sal.id),
        "service_id": str(sal.service_id),
        "location_id": str(sal.location_id),
        "location": location_dict(sal.location, full=full),
    }
    if sal.description:
        data["description"] = sal.description
    if full:
        data["schedules"] = [schedule_dict(s) for s in sal.schedules.all()]
    return data


def service_area_dict(area: ServiceArea) -> dict:
    return _clean(
        {
            "id": str(area.id),
            "service_id": str(area.service_id),
            "name": area.name,
            "description": area.description,
            # Postcode districts travel as the free-text service_area, comma-separated.
            "service_area": ", ".join(area.postcode_districts),
            "extent": area.extent.json if area.extent else None,
            "extent_type": "geojson" if area.extent else None,
            "uri": area.uri,
        }
    )


def attribute_dict(attribute: Attribute) -> dict:
    return {
        "id": str(attribute.id),
        "link_id": str(attribute.service_id),
        "link_type": attribute.link_type or "service",
        "taxonomy_term_id": str(attribute.taxonomy_term_id),
        "taxonomy_term": term_dict(attribute.taxonomy_term),
    }


def service_dict(service: Service, *, full: bool = True) -> dict:
    """One service: one-to-one fields and its organisation; with ``full``, everything."""
    data = _clean(
        {
            "id": str(service.id),
            "organization_id": str(service.organization_id),
            "name": service.name,
            "description": service.description,
            "url": service.url,
            "email": service.email,
            "status": service.status,
            "fees": service.fees,
            "accreditations": service.accreditations,
            "minimum_age": service.minimum_age,
            "maximum_age": service.maximum_age,
            "assured_date": _date(service.assured_date),
            # assurer_email is never published: it names the member of staff who checked the
            # listing (personal data). Editors see it in the admin.
            "alert": service.alert,
            "last_modified": service.last_modified.isoformat() if service.last_modified else None,
        }
    )
    data["organization"] = organization_dict(service.organization)
    if not full:
        return data
    data["schedules"] = [schedule_dict(s) for s in service.schedules.all()]
    data["service_areas"] = [service_area_dict(a) for a in service.service_areas.all()]
    data["service_at_locations"] = [
        service_at_location_dict(s) for s in service.service_at_locations.all()
    ]
    data["languages"] = [_language(lang) for lang in service.languages.all()]
    data["funding"] = []
    data["cost_options"] = [
        _clean(
            {
                "id": str(c.id),
                "service_id": str(service.id),
                "valid_from": _date(c.valid_from),
                "valid_to": _date(c.valid_to),
                "option": c.option,
                "amount": float(c.amount) if c.amount is not None else None,
                "amount_description": c.amount_description,
            }
        )
        for c in service.cost_options.all()
    ]
    data["contacts"] = [
        _clean(
            {
                "id": str(c.id),
                "service_id": str(service.id),
                "name": c.name,
                "title": c.title,
                "email": c.email,
                "phones": [_phone(p) for p in c.phones.all()],
            }
        )
        for c in service.contacts.all()
    ]
    data["phones"] = [_phone(p) for p in service.phones.all()]
    data["attributes"] = [attribute_dict(a) for a in service.attributes.all()]
    data["flourish"] = _clean(
        {
            "kind": service.kind,
            "access": service.access,
            "capacity_available": service.capacity_available,
            "capacity_maximum": service.capacity_maximum,
            "capacity_unit": service.capacity_unit,
            # Where a harvested service came from, and under which licence (directory.harvest).
            "source": harvest.provenance(service),
        }
    )
    return data


def feed_services():
    """The services the feed carries: published ones, less harvested services whose source's
    licence does not let us republish them. Every endpoint of the feed starts here."""
    return harvest.publishable_services(Service.objects.published())


def full_services(queryset=None):
    """Services with everything ``service_dict(full=True)`` reads, in a fixed number of queries."""
    queryset = feed_services() if queryset is None else queryset
    location_parts = ("accessibility", "phones__languages")
    return queryset.select_related("organization", "harvested__feed").prefetch_related(
        "schedules",
        "service_areas",
        Prefetch(
            "service_at_locations",
            queryset=ServiceAtLocation.objects.select_related("location").prefetch_related(
                "schedules", *(f"location__{p}" for p in location_parts)
            ),
        ),
        "languages",
        "cost_options",
        "contacts__phones__languages",
        # A contact's phones are listed under the contact, not again under the service.
        Prefetch(
            "phones", queryset=Phone.objects.filter(contact=None).prefetch_related("languages")
        ),
        Prefetch(
            "attributes",
            queryset=Attribute.objects.select_related("taxonomy_term__taxonomy"),
        ),
    )


# --- The feed: views ---------------------------------------------------------------------
class BadRequest(ValueError):
    def __init__(self, errors: dict[str, list[str]]):
        super().__init__(str(errors))
        self.errors = errors


def open_feed(view):
    """GET (and OPTIONS) only, JSON errors, and CORS open to every origin on every response."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.method == "OPTIONS":
            response = HttpResponse(status=204)
            response["Allow"] = "GET, HEAD, OPTIONS"
        elif request.method not in ("GET", "HEAD"):
            response = JsonResponse(
                {"detail": "Only GET is allowed: this feed is read-only."}, status=405
            )
            response["Allow"] = "GET, HEAD, OPTIONS"
        else:
            try:
                response = view(request, *args, **kwargs)
            except BadRequest as exc:
                response = JsonResponse(
                    {"detail": "Invalid query.", "errors": exc.errors}, status=400
                )
        response["Access-Control-Allow-Origin"] = "*"
        response["Access-Control-Allow-Methods"] = "GET, HEAD, OPTIONS"
        response["Access-Control-Allow-Headers"] = "Accept, Content-Type"
        return response

    wrapper.csrf_exempt = True
    return wrapper


def _json(data, status: int = 200) -> JsonResponse:
    return JsonResponse(data, status=status, json_dumps_params={"ensure_ascii": False})


def _not_found(what: str) -> JsonResponse:
    return _json({"detail": f"No {what} with that id."}, status=404)


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def _params(request, params_class: type[FeedParams]) -> dict:
    """The query parameters a view reads, validated by their class in directory.params."""
    try:
        return params_class.read(request.GET)
    except ParamsError as exc:
        raise BadRequest(exc.errors) from None


def _page(params: dict, queryset, to_dict) -> JsonResponse:
    """The standard page envelope. A page past the last is empty (not an error), as feeds
    are read by machines that page until ``last_page``."""
    page, per_page = params["page"], params["per_page"]
    total = queryset.count()
    total_pages = max(1, math.ceil(total / per_page))
    rows = list(queryset[(page - 1) * per_page : page * per_page]) if page <= total_pages else []
    return _json(
        {
            "total_items": total,
            "total_pages": total_pages,
            "page_number": page,
            "size": len(rows),
            "first_page": page == 1,
            "last_page": page >= total_pages,
            "empty": not rows,
            "contents": [to_dict(row) for row in rows],
        }
    )


def filter_services(params: dict, services):
    """The Open Referral UK query parameters shared by /services and /service_at_locations
    (``FeedServiceFilterParams``, validated)."""
    if params["taxonomy_term_id"]:
        services = services.with_any_term([params["taxonomy_term_id"]])
    if params["taxonomy_id"]:
        services = services.filter(
            Exists(
                Attribute.objects.filter(
                    service=OuterRef("pk"), taxonomy_term__taxonomy_id=params["taxonomy_id"]
                )
            )
        )
    if params["organization_id"]:
        services = services.filter(organization_id=params["organization_id"])
    if params["minimum_age"] is not None:
        services = services.filter(minimum_age__gte=params["minimum_age"])
    if params["maximum_age"] is not None:
        services = services.filter(maximum_age__lte=params["maximum_age"])
    if params["modified_after"]:
        services = services.filter(last_modified__gte=params["modified_after"])
    day, start, end = params["day"], params["start_time"], params["end_time"]
    if day or start or end:
        sessions = Q(opens_at__isnull=False)
        if day:
            # The directory's one weekday rule (a weekday, no date: weekly rules only).
            sessions &= Schedule.weekday_q(day)
        if start:
            sessions &= Q(opens_at__gte=start)
        if end:
            sessions &= Q(closes_at__lte=end)
        matching = Schedule.objects.filter(sessions)
        services = services.filter(
            Exists(matching.filter(service=OuterRef("pk")))
            | Exists(matching.filter(service_at_location__service=OuterRef("pk")))
        )
    if params["search"]:
        services = services.matching_text(params["search"]).order_by(F("rank").desc(), "name", "id")
    return services


@open_feed
def root(request):
    return _json(
        {
            "version": VERSION,
            "profile": PROFILE_URL,
            "openapi_url": OPENAPI_URL,
            "flourish": {"service_status": STATUS_POLICY},
        }
    )


@open_feed
def services(request):
    params = _params(request, FeedServiceParams)
    full = params["full"]
    # Every status, each with its status: see the module docstring.
    queryset = filter_services(params, feed_services().order_by("name", "id"))
    queryset = (
        full_services(queryset)
        if full
        else queryset.select_related("organization", "harvested__feed")
    )
    return _page(params, queryset, functools.partial(service_dict, full=full))


@open_feed
def service(request, id: str):
    # Every status, inactive and defunct included, so a harvester can withdraw its copy.
    found = full_services(feed_services()).filter(pk=_uuid(id)).first() if _uuid(id) else None
    return _json(service_dict(found)) if found else _not_found("service")


def _sal_dict(sal: ServiceAtLocation) -> dict:
    data = service_at_location_dict(sal, full=False)
    data["service"] = service_dict(sal.service, full=False)
    if getattr(sal, "proximity", None) is not None:
        data["proximity"] = round(sal.proximity.m)
    return data


@open_feed
def service_at_locations(request):
    params = _params(request, FeedServiceAtLocationParams)
    services_qs = filter_services(params, feed_services())
    sals = ServiceAtLocation.objects.filter(service__in=services_qs.values("pk")).select_related(
        "location", "service__organization"
    )
    place, proximity = params["place"], params["proximity"]
    if place is not None:
        # The directory's one rule decides which services serve the postcode; proximity (else
        # the default search radius) is the radius.
        radius = proximity or settings.SEARCH_RADIUS_DEFAULT_M
        serving = Service.objects.serving(place.point, radius, place.outcode)
        sals = sals.filter(service__in=serving.values("pk"))
        if proximity:
            covered = Exists(
                ServiceArea.objects.filter(service=OuterRef("service_id")).filter(
                    Q(extent__covers=place.point) | Q(postcode_districts__contains=[place.outcode])
                )
            )
            sals = sals.filter(Q(location__point__dwithin=(place.point, proximity)) | covered)
        sals = sals.annotate(proximity=Distance("location__point", place.point)).order_by(
            F("proximity").asc(nulls_last=True), "id"
        )
    else:
        sals = sals.order_by("service__name", "id")
    return _page(params, sals, _sal_dict)


@open_feed
def service_at_location(request, id: str):
    found = None
    if _uuid(id):
        found = (
            ServiceAtLocation.objects.filter(pk=_uuid(id), service__in=feed_services().values("pk"))
            .select_related("location", "service__organization", "service__harvested__feed")
            .prefetch_related("schedules", "location__accessibility", "location__phones__languages")
            .first()
        )
    if not found:
        return _not_found("service_at_location")
    data = service_at_location_dict(found)
    data["service"] = service_dict(found.service, full=False)
    return _json(data)


@open_feed
def organizations(request):
    params = _params(request, FeedSearchParams)
    queryset = harvest.publishable_organizations(Organization.objects.order_by("name", "id"))
    if params["search"]:
        queryset = queryset.filter(name__icontains=params["search"])
    return _page(params, queryset, organization_dict)


@open_feed
def organization(request, id: str):
    organizations = harvest.publishable_organizations(Organization.objects.all())
    found = organizations.filter(pk=_uuid(id)).first() if _uuid(id) else None
    if not found:
        return _not_found("organization")
    data = organization_dict(found)
    data["services"] = [
        service_dict(s)
        for s in full_services(feed_services().filter(organization=found).order_by("name", "id"))
    ]
    return _json(data)


@open_feed
def taxonomies(request):
    return _page(
        _params(request, FeedParams), Taxonomy.objects.order_by("name", "id"), taxonomy_dict
    )


@open_feed
def taxonomy(request, id: str):
    found = Taxonomy.objects.filter(pk=_uuid(id)).first() if _uuid(id) else None
    return _json(taxonomy_dict(found, terms=True)) if found else _not_found("taxonomy")


@open_feed
def taxonomy_terms(request):
    params = _params(request, FeedTaxonomyTermParams)
    queryset = TaxonomyTerm.objects.select_related("taxonomy").order_by(
        "taxonomy__name", "position", "name", "id"
    )
    if params["taxonomy_id"]:
        queryset = queryset.filter(taxonomy_id=params["taxonomy_id"])
    return _page(params, queryset, term_dict)


@open_feed
def taxonomy_term(request, id: str):
    found = (
        TaxonomyTerm.objects.select_related("taxonomy").filter(pk=_uuid(id)).first()
        if _uuid(id)
        else None
    )
    return _json(term_dict(found)) if found else _not_found("taxonomy_term")


def extent_from_text(text: str) -> MultiPolygon | None:
    """A service area's extent from GeoJSON text, as a MultiPolygon (None if unusable)."""
    try:
        geometry = GEOSGeometry(text)
    except (ValueError, TypeError, GEOSException, GDALException):
        return None
    if geometry.srid is None:
        geometry.srid = 4326
    if isinstance(geometry, Polygon):
        geometry = MultiPolygon(geometry, srid=geometry.srid)
    return geometry if isinstance(geometry, MultiPolygon) else None
