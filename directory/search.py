"""The directory search: one function that the API and the HTML pages both call.

``search_services(params)`` validates what a person typed (a postcode or coordinates, a radius,
needs, filters, a page) and returns one page of services, nearest first when a place is given.
Bad input raises ``SearchError`` with plain-English messages per field, saying how to fix it;
the callers turn that into a 400 or into messages beside the form fields.
"""

import datetime as dt
import math
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, F, Prefetch, Window

from directory.models import LONDON, Attribute, Service, ServiceAtLocation

# The search's parameters are declared, with their messages, in directory.params; the names
# imported from here before stay importable from here.
from directory.params import (  # noqa: F401
    PAGE_SIZE_DEFAULT,
    PAGE_SIZE_MAX,
    PARAMETERS,
    QUERY_MAX_LENGTH,
    SearchError,
    parse_search,
)
from geo.models import Place

# Far enough ahead to find the next session of a monthly rule.
NEXT_OPENING_HORIZON_DAYS = 62


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
