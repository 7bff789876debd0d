"""The directory search: one function that the API and the HTML pages both call.

``search_services(params)`` validates what a person typed (a postcode or coordinates, a radius,
needs, filters, a page) and returns one page of services, nearest first when a place is given.
Bad input raises ``SearchError`` with plain-English messages per field, saying how to fix it;
the callers turn that into a 400 or into messages beside the form fields.
"""

import datetime as dt
import math
import re
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, F, Prefetch, Window
from django.utils import timezone

from directory.models import (
    LONDON,
    WEEKDAYS,
    Attribute,
    Service,
    ServiceAtLocation,
    TaxonomyTerm,
)
from geo import postcodes
from geo.models import OutsideUK, Place, PostcodeNotFound, locate_postcode, make_point

PAGE_SIZE_DEFAULT = 20
PAGE_SIZE_MAX = 100
QUERY_MAX_LENGTH = 200
# No search value is longer than the search words (a postcode is 8, a need code about 20), and
# no one chooses more needs or offers than the vocabularies hold.
VALUE_MAX_LENGTH = QUERY_MAX_LENGTH
TERMS_MAX = 30
AGE_MAX = 120
# Far enough ahead to find the next session of a monthly rule.
NEXT_OPENING_HORIZON_DAYS = 62

DAY_NAMES = {
    "MO": "Monday",
    "TU": "Tuesday",
    "WE": "Wednesday",
    "TH": "Thursday",
    "FR": "Friday",
    "SA": "Saturday",
    "SU": "Sunday",
}
_TIME_RE = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off", ""}

# Every parameter search_services reads (others, like ``format``, are the caller's business).
PARAMETERS = (
    "postcode",
    "lat",
    "lng",
    "radius",
    "need",
    "offer",
    "kind",
    "q",
    "free",
    "access",
    "age",
    "language",
    "open",
    "day",
    "time",
    "page",
    "page_size",
)


class SearchError(ValueError):
    """Invalid search input: ``errors`` maps each parameter to messages saying how to fix it."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))
        self.errors = errors


@dataclass
class SearchResult:
    place: Place | None
    results: list[Service]
    total: int
    page: int
    page_size: int
    radius_m: int | None = None
    # The validated query, for callers that echo it back (e.g. to build the next page's link).
    query: dict = field(default_factory=dict)

    @property
    def total_pages(self) -> int:
        return max(1, math.ceil(self.total / self.page_size)) if self.page_size else 1

    @property
    def has_next(self) -> bool:
        return self.page < self.total_pages

    @property
    def has_previous(self) -> bool:
        return self.page > 1


def _values(params, name: str) -> list[str]:
    """All non-blank values of a parameter, from a QueryDict or a plain dict."""
    if hasattr(params, "getlist"):
        raw = params.getlist(name)
    else:
        raw = params.get(name, [])
        if raw is None:
            raw = []
        elif not isinstance(raw, list | tuple):
            raw = [raw]
    values = []
    for value in raw:
        # A repeatable field may also come comma-separated: need=food,housing.
        values.extend(part.strip() for part in str(value).split(","))
    return [v for v in values if v]


def _value(params, name: str) -> str | None:
    if hasattr(params, "getlist"):
        raw = params.getlist(name)
    else:
        raw = params.get(name)
        raw = [] if raw is None else raw if isinstance(raw, list | tuple) else [raw]
    raw = [str(v).strip() for v in raw if v is not None and str(v).strip() != ""]
    return raw[-1] if raw else None


def _too_long(params) -> dict[str, list[str]]:
    """Messages for values no parameter takes, checked before any is looked up."""
    errors = {}
    for name in PARAMETERS:
        if hasattr(params, "getlist"):
            raw = params.getlist(name)
        else:
            raw = params.get(name)
            raw = [] if raw is None else raw if isinstance(raw, list | tuple) else [raw]
        if any(len(str(v)) > VALUE_MAX_LENGTH for v in raw if v is not None):
            errors[name] = [f"{name} is too long: give at most {VALUE_MAX_LENGTH} characters."]
    return errors


def _int(
    errors, name: str, text: str | None, *, low: int, high: int, what: str, example: int = 1
) -> int | None:
    if text is None:
        return None
    try:
        number = int(text)
    except ValueError:
        errors[name] = [f"{what} must be a whole number, like {example}."]
        return None
    if not low <= number <= high:
        errors[name] = [f"{what} must be between {low} and {high}; you gave {number}."]
        return None
    return number


def _float(errors, name: str, text: str, what: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        errors[name] = [f"{what} must be a number in decimal degrees, like 53.45."]
        return None
    if not math.isfinite(number):
        errors[name] = [f"{what} must be a number in decimal degrees, like 53.45."]
        return None
    return number


def _terms(errors, name: str, codes: list[str], queryset, what: str) -> list[TaxonomyTerm]:
    if not codes:
        return []
    codes = list(dict.fromkeys(codes))
    if len(codes) > TERMS_MAX:
        errors[name] = [f"Choose at most {TERMS_MAX} of {name}; you gave {len(codes)}."]
        return []
    known = {term.code: term for term in queryset.filter(code__in=[c.lower() for c in codes])}
    unknown = [c for c in codes if c.lower() not in known]
    if unknown:
        valid = ", ".join(queryset.values_list("code", flat=True))
        errors[name] = [
            f"We do not know the {what} {', '.join(repr(u) for u in unknown)}. Use one of: {valid}."
        ]
        return []
    return [known[c.lower()] for c in dict.fromkeys(codes)]


def _place(errors, params) -> Place | None:
    postcode = _value(params, "postcode")
    lat, lng = _value(params, "lat"), _value(params, "lng")
    if postcode and (lat or lng):
        errors["postcode"] = ["Give a postcode or lat and lng, not both."]
        return None
    if postcode:
        try:
            return locate_postcode(postcode)
        except postcodes.InvalidPostcode as exc:
            errors["postcode"] = [str(exc)]
        except PostcodeNotFound as exc:
            errors["postcode"] = [str(exc)]
        return None
    if lat or lng:
        if not lat:
            errors["lat"] = ["Give lat (latitude) with lng, or search by postcode instead."]
        if not lng:
            errors["lng"] = ["Give lng (longitude) with lat, or search by postcode instead."]
        if not (lat and lng):
            return None
        latitude = _float(errors, "lat", lat, "lat (latitude)")
        longitude = _float(errors, "lng", lng, "lng (longitude)")
        if latitude is None or longitude is None:
            return None
        try:
            make_point(latitude, longitude)
        except OutsideUK as exc:
            errors["lat"] = [str(exc)]
            return None
        return Place(latitude=latitude, longitude=longitude, precision="coordinates")
    return None


def _when(errors, params, now: dt.datetime) -> dt.datetime | None:
    """The moment an ``open=now`` or ``day=&time=`` search asks about, in Europe/London."""
    open_ = _value(params, "open")
    day, time = _value(params, "day"), _value(params, "time")
    if open_ is not None:
        if open_.lower() != "now":
            errors["open"] = ['open can only be "now"; for another time use day and time.']
            return None
        if day or time:
            errors["open"] = ["Give open=now or day and time, not both."]
            return None
        return now.astimezone(LONDON)
    if not (day or time):
        return None
    code = None
    if not day:
        errors["day"] = ["Give a day with the time, like day=MO for Monday."]
    else:
        code = day.upper()[:2] if day.title() in DAY_NAMES.values() else day.upper()
        if code not in WEEKDAYS:
            errors["day"] = [f"{day[:20]!r} is not a day. Use MO, TU, WE, TH, FR, SA or SU."]
    if not time:
        errors["time"] = ["Give a time with the day, like time=14:00."]
    elif not _TIME_RE.match(time):
        errors["time"] = [f"{time!r} is not a time. Use the 24-hour clock, like 09:30 or 14:00."]
    if "day" in errors or "time" in errors:
        return None
    weekday = WEEKDAYS.index(code)
    match = _TIME_RE.match(time)
    today = now.astimezone(LONDON).date()
    # The next such weekday (today counts), so dated and monthly rules are read for a real day.
    date = today + dt.timedelta(days=(weekday - today.weekday()) % 7)
    return dt.datetime.combine(
        date, dt.time(int(match.group(1)), int(match.group(2))), tzinfo=LONDON
    )


def _choice(errors, params, name: str, choices, what: str) -> str | None:
    value = _value(params, name)
    if value is None:
        return None
    valid = [c.value for c in choices]
    if value.lower() not in valid:
        errors[name] = [f"{value!r} is not a {what}. Use one of: {', '.join(valid)}."]
        return None
    return value.lower()


def parse_search(params, *, now: dt.datetime | None = None) -> dict:
    """Validate search parameters into a clean query; raises ``SearchError``."""
    now = now or timezone.now()
    errors: dict[str, list[str]] = _too_long(params)
    if errors:
        raise SearchError(errors)
    query: dict = {"place": _place(errors, params)}
    query["radius"] = _int(
        errors,
        "radius",
        _value(params, "radius"),
        low=1,
        high=settings.SEARCH_RADIUS_MAX_M,
        what="radius (metres)",
        example=settings.SEARCH_RADIUS_DEFAULT_M,
    )
    if query["radius"] is None and "radius" not in errors:
        query["radius"] = settings.SEARCH_RADIUS_DEFAULT_M
    query["needs"] = _terms(
        errors, "need", _values(params, "need"), TaxonomyTerm.objects.needs(), "need"
    )
    query["offers"] = _terms(
        errors, "offer", _values(params, "offer"), TaxonomyTerm.objects.digital_offers(), "offer"
    )
    query["kind"] = _choice(errors, params, "kind", Service.Kind, "kind of service")
    query["access"] = _choice(errors, params, "access", Service.Access, "way to access a service")
    q = _value(params, "q")
    if q is not None and len(q) > QUERY_MAX_LENGTH:
        errors["q"] = [f"Search words must be at most {QUERY_MAX_LENGTH} characters long."]
    query["q"] = q
    free = _value(params, "free")
    if free is not None and free.lower() not in _TRUE | _FALSE:
        errors["free"] = ['free must be "true" or "false".']
    query["free"] = free is not None and free.lower() in _TRUE
    query["age"] = _int(
        errors, "age", _value(params, "age"), low=0, high=AGE_MAX, what="age (years)", example=40
    )
    language = _value(params, "language")
    if language is not None and not re.fullmatch(r"[^\W\d_][\w ()'-]{1,40}", language):
        errors["language"] = [
            f"{language[:20]!r} is not a language. Give its name or code, like Urdu or ur."
        ]
    query["language"] = language
    query["when"] = _when(errors, params, now)
    query["page"] = _int(errors, "page", _value(params, "page"), low=1, high=10_000, what="page")
    query["page_size"] = _int(
        errors,
        "page_size",
        _value(params, "page_size"),
        low=1,
        high=PAGE_SIZE_MAX,
        what="page_size",
        example=PAGE_SIZE_DEFAULT,
    )
    if errors:
        raise SearchError(errors)
    query["page"] = query["page"] or 1
    query["page_size"] = query["page_size"] or PAGE_SIZE_DEFAULT
    query["now"] = now
    return query


def search_queryset(query: dict):
    """The filtered, ordered services for a validated query (not yet paginated)."""
    services = Service.objects.searchable()
    place = query["place"]
    if place is not None:
        services = services.serving(place.point, query["radius"], place.outcode)
    if query["needs"]:
        services = services.with_any_term([t.id for t in query["needs"]])
    if query["offers"]:
        services = services.with_every_term([t.id for t in query["offers"]])
    if query["kind"]:
        services = services.filter(kind=query["kind"])
    if query["access"]:
        services = services.filter(access=query["access"])
    if query["free"]:
        services = services.free()
    if query["age"] is not None:
        services = services.for_age(query["age"])
    if query["language"]:
        services = services.speaking(query["language"])
    if query["when"] is not None:
        services = services.open_at(query["when"], nationwide=place is None)
    if query["q"]:
        services = services.matching_text(query["q"])
    if place is not None:
        order = [F("distance").asc(nulls_last=True)]
        if query["q"]:
            order.append(F("rank").desc())
        order += ["name", "id"]
    elif query["q"]:
        order = [F("rank").desc(), "name", "id"]
    else:
        order = ["name", "id"]
    return services.order_by(*order)


def _with_details(services, place: Place | None):
    """Load what a result shows, in a fixed number of queries whatever the page size."""
    return services.select_related("organization").prefetch_related(
        Prefetch(
            "attributes",
            queryset=Attribute.objects.select_related("taxonomy_term__taxonomy").order_by(
                "taxonomy_term__position"
            ),
        ),
        Prefetch(
            "service_at_locations",
            queryset=ServiceAtLocation.objects.select_related("location").prefetch_related(
                "schedules"
            ),
        ),
        "schedules",
        "cost_options",
    )


def next_opening(
    service: Service, now: dt.datetime
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """(opens, closes) of the session running now or, if none, the next one to start; from
    prefetched schedules. Both None when no session starts in the next two months."""
    schedules = list(service.schedules.all())
    for sal in service.service_at_locations.all():
        schedules.extend(sal.schedules.all())
    local = now.astimezone(LONDON)
    start = local.date() - dt.timedelta(days=1)  # a session from last night may still be on
    best = None
    for schedule in schedules:
        for opens, closes in schedule.sessions(start, NEXT_OPENING_HORIZON_DAYS + 1):
            if closes > local and (best is None or opens < best[0]):
                best = (opens, closes)
                break
    return best if best else (None, None)


def cost_summary(service: Service, today: dt.date) -> tuple[bool, str]:
    """(is_free, a short line such as "Free", "£3.00" or "From £2.50")."""
    options = [o for o in service.cost_options.all() if not (o.valid_to and o.valid_to < today)]
    amounts = sorted(o.amount for o in options if o.amount is not None and o.amount > 0)
    if not amounts:
        if options or not service.fees:
            return True, "Free"
        return False, service.fees[:100]
    free_too = any(o.amount is not None and o.amount == 0 for o in options)
    low, high = amounts[0], amounts[-1]
    if free_too:
        return False, f"Free, or {_money(low)}" + ("" if low == high else f" to {_money(high)}")
    if low == high:
        described = next((o.option for o in options if o.amount == low and o.option), "")
        return False, f"{_money(low)} {described}".strip()
    return False, f"From {_money(low)}"


def _money(amount: Decimal) -> str:
    return f"£{amount:,.2f}"


def _metres(place: Place, latitude: float, longitude: float) -> float:
    """Great-circle distance; enough to tell a service's venues apart by nearness."""
    lat1, lng1, lat2, lng2 = map(
        math.radians, (place.latitude, place.longitude, latitude, longitude)
    )
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lng2 - lng1) / 2) ** 2
    )
    return 2 * 6_371_008.8 * math.asin(math.sqrt(h))


def _decorate(service: Service, place: Place | None, now: dt.datetime) -> Service:
    locations = [sal.location for sal in service.service_at_locations.all()]
    physical = [loc for loc in locations if loc.point is not None]
    if place is not None and physical:
        # The handful of venues of one service: nearest picked here rather than by another
        # subquery per row (the database already gave ``distance`` to the nearest one).
        nearest = min(physical, key=lambda loc: _metres(place, loc.latitude, loc.longitude))
    else:
        nearest = min(physical or locations, key=lambda loc: (loc.name, str(loc.pk)), default=None)
    service.nearest_location = nearest
    if place is None:
        service.distance = None
        service.match = None
    elif service.distance is not None:
        service.distance = float(
            service.distance.m if hasattr(service.distance, "m") else service.distance
        )
    service.needs = [
        a.taxonomy_term
        for a in service.attributes.all()
        if a.taxonomy_term.taxonomy.slug == "flourish-needs"
    ]
    service.offers = [
        a.taxonomy_term
        for a in service.attributes.all()
        if a.taxonomy_term.taxonomy.slug == "flourish-digital-inclusion"
    ]
    opens, closes = next_opening(service, now)
    service.next_opening = opens
    service.next_closing = closes
    service.open_now = opens is not None and opens <= now.astimezone(LONDON) < closes
    service.is_free, service.cost_summary = cost_summary(service, now.astimezone(LONDON).date())
    return service


def search_services(params, *, now: dt.datetime | None = None) -> SearchResult:
    """Search the directory. ``params`` is a QueryDict or a dict (values may be lists).

    Parameters: ``postcode`` or ``lat`` and ``lng``; ``radius`` in metres (default and cap from
    settings); ``need`` (repeatable, any of); ``offer`` (repeatable digital-inclusion codes,
    all of); ``kind``; ``q`` (full text); ``free``; ``access``; ``age``; ``language``;
    ``open=now`` or ``day`` and ``time``; ``page`` and ``page_size``.

    Raises ``SearchError`` with messages per field. A page past the last one is an error too,
    except page 1 of an empty result.
    """
    query = parse_search(params, now=now)
    now = query["now"]
    services = search_queryset(query)
    page, size = query["page"], query["page_size"]
    window = slice((page - 1) * size, page * size)
    if query["place"] is not None or query["q"]:
        # Every match is ranked by distance or relevance anyway, so the total comes with the
        # page (COUNT(*) OVER ()) rather than from a second run of the search; only a page past
        # the end needs a separate count, to say how many pages there are.
        counted = services.annotate(total_count=Window(Count("pk")))
        rows = list(_with_details(counted, query["place"])[window])
        total = rows[0].total_count if rows else (0 if page == 1 else services.count())
    else:
        # By name across the whole country: the page comes straight off the name index and
        # the count is a separate, cheaper query.
        total = services.count()
        rows = list(_with_details(services, None)[window]) if total else []
    last = max(1, math.ceil(total / size))
    if page > last:
        raise SearchError(
            {
                "page": [
                    f"{'There is only 1 page' if last == 1 else f'There are only {last} pages'}"
                    f" of results; ask for page {last} or lower."
                ]
            }
        )
    return SearchResult(
        place=query["place"],
        results=[_decorate(s, query["place"], now) for s in rows],
        total=total,
        page=page,
        page_size=size,
        radius_m=query["radius"] if query["place"] else None,
        query=query,
    )
