"""Where Flourish has services, and what to offer someone searching from elsewhere.

A search near a place that no listed service serves (none within the radius, none whose service
area covers it, whatever the filters) is not a dead end: ``out_of_area`` says which areas the
directory covers (worked out from the services themselves, not a list kept by hand), the
nearest services that do exist with their distance, and national help from ``Helpline`` (with
Scotland's and Wales' national directories for places there).
"""

from dataclasses import dataclass, field

from django.contrib.gis.db.models.functions import Distance, GeometryDistance
from django.core.cache import cache
from django.db import connection

from directory.models import Helpline, Location, Service, ServiceArea, ServiceAtLocation
from geo import places
from geo.models import Place, PlaceName, PostcodeArea

NEAREST_SERVICES = 3
COVERED_AREAS_MAX = 40
COVERED_AREAS_SECONDS = 600
# A district is named after the nearest town of at least this many people, this close.
TOWN_POPULATION = 5_000
TOWN_NEAR_M = 15_000


@dataclass
class OutOfArea:
    nation: str
    areas: list[dict]
    nearest: list[Service]
    helplines: list[Helpline]
    directories: list[Helpline] = field(default_factory=list)

    @property
    def nation_label(self) -> str:
        return dict(PlaceName.Nation.choices).get(self.nation, "")


def serves(place: Place, radius_m: int) -> bool:
    """Whether any listed service serves the place at all (the directory's one rule,
    ``Service.objects.serving``), whatever a search's filters."""
    return Service.objects.searchable().serving(place.point, radius_m, place.outcode).exists()


# Each covered district named after its nearest town: raw SQL because every district needs a
# nearest-neighbour walk of its own through the places' GiST index (a LATERAL join).
_TOWNS = f"""
    SELECT a.code, t.name
      FROM {PostcodeArea._meta.db_table} a
      LEFT JOIN LATERAL (
        SELECT p.name FROM {PlaceName._meta.db_table} p
         WHERE p.population >= %(population)s AND ST_DWithin(p.point, a.point, %(near_m)s)
         ORDER BY p.point <-> a.point LIMIT 1) t ON true
     WHERE a.kind = 'district' AND a.code = ANY(%(codes)s)
"""


def covered_areas() -> list[dict]:
    """The postcode districts where listed services are (their venues and the districts their
    service areas list), each named after its nearest town, most services first; grouped by
    town: ``[{"town": "Hyde", "districts": ["SK14"], "services": 12}]``. Cached a while."""
    cached = cache.get("directory:covered-areas")
    if cached is not None:
        return cached
    listed = Service.objects.searchable()
    counts: dict[str, set] = {}
    venues = (
        Location.objects.filter(service_at_locations__service__in=listed)
        .exclude(postal_code="")
        .values_list("postal_code", "service_at_locations__service")
    )
    for postcode, service in venues:
        outcode = postcode.split()[0].upper() if " " in postcode else postcode[:-3].upper()
        counts.setdefault(outcode, set()).add(service)
    for districts, service in ServiceArea.objects.filter(service__in=listed).values_list(
        "postcode_districts", "service"
    ):
        for outcode in districts:
            counts.setdefault(outcode, set()).add(service)
    with connection.cursor() as cur:
        cur.execute(
            _TOWNS,
            {"population": TOWN_POPULATION, "near_m": TOWN_NEAR_M, "codes": list(counts)},
        )
        towns = dict(cur.fetchall())
    grouped: dict[str, dict] = {}
    for outcode, services in counts.items():
        town = towns.get(outcode) or ""
        entry = grouped.setdefault(town or outcode, {"town": town, "districts": [], "ids": set()})
        entry["districts"].append(outcode)
        entry["ids"] |= services
    areas = [
        {"town": e["town"], "districts": sorted(e["districts"]), "services": len(e["ids"])}
        for e in grouped.values()
    ]
    areas.sort(key=lambda a: (-a["services"], a["town"] or a["districts"][0]))
    areas = areas[:COVERED_AREAS_MAX]
    cache.set("directory:covered-areas", areas, COVERED_AREAS_SECONDS)
    return areas


def nearest_services(place: Place, limit: int = NEAREST_SERVICES) -> list[Service]:
    """The nearest listed services with a venue, however far, each with ``distance`` (metres)
    and ``nearest_location``; nearest first, through the venues' GiST index (``<->``)."""
    visits = (
        ServiceAtLocation.objects.filter(
            service__in=Service.objects.searchable(), location__point__isnull=False
        )
        .select_related("service__organization", "location")
        .annotate(distance=Distance("location__point", place.point))
        .order_by(GeometryDistance("location__point", place.point))
    )
    found: dict = {}
    for visit in visits[: limit * 10]:
        if visit.service_id in found:
            continue
        service = visit.service
        service.distance = visit.distance.m
        service.nearest_location = visit.location
        found[service.pk] = service
        if len(found) == limit:
            break
    return list(found.values())


def out_of_area(place: Place, radius_m: int) -> OutOfArea | None:
    """What to show instead of an empty list, or None when some service serves the place."""
    if serves(place, radius_m):
        return None
    nation = places.nation_at(place)
    helplines = Helpline.objects.filter(active=True)
    if nation:
        helplines = helplines.filter(**{nation: True})
    helplines = list(helplines)
    return OutOfArea(
        nation=nation,
        areas=covered_areas(),
        nearest=nearest_services(place),
        helplines=[h for h in helplines if h.kind == Helpline.Kind.HELPLINE],
        directories=[h for h in helplines if h.kind == Helpline.Kind.DIRECTORY],
    )
