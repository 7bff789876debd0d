"""One page of search results in one SQL statement.

Raw SQL, kept here and nowhere else (STYLE.md), because the shape the ORM writes cannot stop
early. Which services match is still decided by the ORM's rules (``Service.objects``' filters,
compiled into the WHERE clause below, and ``ServiceArea.objects.covering``); this module only
decides the order in which the database looks at them and what it returns:

- Near a place, the venues are walked nearest first through the GiST index on their point in
  National Grid metres (``<->``; migration 0005 says why not geography), each checked against
  the filters as it comes, and the walk stops at the end of the page; a city centre may hold
  thousands of candidates, but a person wants the nearest twenty. A service with several
  venues is taken once, at its nearest. Services found only through a service area (no venue
  within the radius) come after, nearest venue first.
- Without a place, services are walked by name (or ranked by the search words).
- The total is counted the same way but stops at ``COUNT_LIMIT`` ("more than 100").
- ``open=now`` with no place, when few services are open (at night), starts from those,
  found through the services' hours index (migration 0007), rather than walking past
  everything closed. Near a place the walk's own rows carry the hours, so it needs no such
  branch.
- The page's details (organisation, needs, schedules, costs, nearest venue) come back with it,
  as arrays and JSON, rather than from seven queries and model instances per related row.

The ORM version of the matching rule, ``Service.objects.serving``, stays for the Open Referral
feed; tests/directory/test_finder.py checks the two agree.
"""

import datetime as dt
import functools
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from django.contrib.gis.geos import GEOSGeometry
from django.db import connection
from django.utils.dateparse import parse_date, parse_time

from directory.models import (
    LONDON,
    Location,
    Organization,
    Schedule,
    Service,
    ServiceArea,
)
from directory.params import vocabulary
from directory.presenters import dress

# Open now across the country: below this many services open in the hour, find them by index.
OPEN_FEW = 1_000
# British National Grid: the venues' point_bng (see migration 0005).
BNG = 27700
# Count at most this many matches: "more than 100" tells a person as much as 12,345 would, and
# counting further costs more than the page itself where a city centre has thousands of venues.
COUNT_LIMIT = 100


@dataclass
class Page:
    rows: list[Service]
    total: int
    exact: bool  # False: there are more than ``total`` matches


# --- The statement -------------------------------------------------------------------------
def filtered_services(query: dict):
    """Every search filter but the place, as the ORM's rules write them."""
    services = Service.objects.searchable()
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
        services = services.open_at(query["when"])
    if query["q"]:
        services = services.matching_text(query["q"])
    return services


def _compiled_filters(query: dict) -> tuple[str, list, str, list]:
    """:func:`_compiled` of :func:`filtered_services`, remembered for the same filters.

    Building and compiling the rules' ORM expressions costs 0.5 ms for a need and 8 ms with
    ``open=now`` (the open-at rule is a large tree, resolved for a service's own schedules and
    its venues'), more than the SQL itself takes; the result depends only on the filters' values
    (and on today's date, which ``free()`` reads), so each process compiles a combination once.
    """
    when = query["when"]
    key = (
        tuple(t.id for t in query["needs"]),
        tuple(t.id for t in query["offers"]),
        query["kind"],
        query["access"],
        query["free"],
        query["age"],
        query["language"],
        query["q"],
        None if when is None else when.replace(microsecond=0),
        dt.date.today(),
    )
    where, where_params, rank, rank_params = _compile_once(key)
    return where, list(where_params), rank, list(rank_params)


@functools.lru_cache(maxsize=512)
def _compile_once(key: tuple) -> tuple[str, tuple, str, tuple]:
    needs, offers, kind, access, free, age, language, q, when, _today = key
    query = {
        "needs": [_Id(i) for i in needs],
        "offers": [_Id(i) for i in offers],
        "kind": kind,
        "access": access,
        "free": free,
        "age": age,
        "language": language,
        "q": q,
        "when": when,
    }
    where, where_params, rank, rank_params = _compiled(filtered_services(query))
    return where, tuple(where_params), rank, tuple(rank_params)


class _Id(NamedTuple):
    """A term as ``filtered_services`` reads it: only its id."""

    id: uuid.UUID


def _compiled(services) -> tuple[str, list, str, list]:
    """(WHERE sql, params, rank sql, params) of a Service queryset, for tables named
    ``directory_service`` and ``directory_organization`` in the statement."""
    sql_query = services.query
    compiler = sql_query.get_compiler(connection=connection)
    unexpected = set(sql_query.alias_map) - {"directory_service", "directory_organization"}
    if unexpected:  # a new filter that joins another table: add the join below first
        raise AssertionError(f"search filters join {sorted(unexpected)}")
    where, where_params = compiler.compile(sql_query.where)
    rank, rank_params = "0::real", []
    if "rank" in sql_query.annotations:
        rank, rank_params = compiler.compile(sql_query.annotations["rank"])
    return where, list(where_params), rank, list(rank_params)


_FROM = """
    directory_service
    JOIN directory_organization ON directory_organization.id = directory_service.organization_id"""

# A venue is the service's nearest (ties broken by id): the service is listed once, there.
_NEAREST_VENUE = """
    NOT EXISTS (
        SELECT 1 FROM directory_searchvenue v2
        WHERE v2.service_id = v.service_id
          AND ((v2.point_bng <-> {ref}), v2.location_id) < ((v.point_bng <-> {ref}), v.location_id))"""


def _first_checks(query: dict) -> str:
    """What the walk checks on the venue's search row before joining its service: supersets
    of the rules (the copy is kept by triggers; the rules still decide after). Literal SQL:
    the values are UUIDs from the vocabularies and an hour."""

    def uuids(terms) -> str:
        return "ARRAY[" + ", ".join(f"'{t.id}'" for t in terms) + "]::uuid[]"

    checks = ["v.active"]
    if query["needs"]:
        checks.append(f"v.term_ids && {uuids(query['needs'])}")
    if query["offers"]:
        checks.append(f"v.term_ids @> {uuids(query['offers'])}")
    if query["when"] is not None:
        hour = Schedule.hour_of_week(query["when"].astimezone(LONDON))
        checks.append(f"v.week_hours @> ARRAY[{hour:d}]")
    return " AND ".join(checks)


# Matched by a venue within the radius unless the service draws its own area elsewhere.
_AREA_ALLOWS = """
    (directory_service.id IN (SELECT service_id FROM covering)
     OR NOT EXISTS (SELECT 1 FROM directory_servicearea a
                    WHERE a.service_id = directory_service.id))"""


def _open_services(moment) -> tuple[str, str]:
    """SQL for "few services are open at ``moment``" (fewer than OPEN_FEW, counted through the
    services' hours index and stopping there) and for "the service is one of those", to gate
    two plans of one statement: whichever gate is false, PostgreSQL skips that branch (a
    one-time filter). The planner cannot choose by itself: an hour in which no service is open
    has no statistics, and it guesses thousands."""
    hour = Schedule.hour_of_week(moment.astimezone(LONDON))
    few = f"""(SELECT count(*) < {OPEN_FEW:d} FROM (
                  SELECT 1 FROM directory_service
                  WHERE week_hours @> ARRAY[{hour:d}] LIMIT {OPEN_FEW:d}) f)"""
    fenced = f"""directory_service.id IN (
                  SELECT id FROM directory_service WHERE week_hours @> ARRAY[{hour:d}] OFFSET 0)"""
    return few, fenced


def page_statement(query: dict) -> tuple[str, list]:
    """The SQL and parameters that answer one page of a validated search (``parse_search``),
    with the total on every row. Also the benchmark's floor."""
    place = query["place"]
    size, page = query["page_size"], query["page"]
    offset = (page - 1) * size
    count_limit = max(COUNT_LIMIT, page * size) + 1
    where, where_params, rank, rank_params = _compiled_filters(query)
    ordered_by_rank = "rank DESC, " if query["q"] else ""
    if place is not None:
        # The place in National Grid metres, as the venues' point_bng (migration 0005), written
        # out each time it is used so that the planner folds it to a constant it can see (a
        # CTE's value would be a blind guess). Transformed by PostGIS: GDAL in Python takes
        # 15 ms to set up a transformation.
        ref = (
            f"ST_Transform('SRID=4326;POINT({place.point.x!r} {place.point.y!r})'::geometry, {BNG})"
        )
        radius = query["radius"]
        covering_sql, covering_params = (
            ServiceArea.objects.covering(place.point, place.outcode)
            .values("service_id")
            .query.sql_with_params()
        )
        # The walk reads the search's own copy of each venue (migration 0008): the checks that
        # rule most venues out are on the row walked, and only those that pass join the
        # service, where the rules (``where``) decide.
        venue_from = f"""
            directory_searchvenue v
            JOIN {_FROM} ON directory_service.id = v.service_id"""
        first = f"v.point_bng && ST_Expand({ref}, {radius:d}) AND {_first_checks(query)}"
        matches = f"{where} AND {_AREA_ALLOWS} AND {_NEAREST_VENUE.format(ref=ref)}"
        columns = f"""directory_service.id, directory_service.name,
                   (v.point_bng <-> {ref}) AS distance, {rank} AS rank"""
        walked = offset + size
        hits = f"""
        covering AS MATERIALIZED ({covering_sql}),
        walk AS (
            -- Ordered by distance alone, so that the index gives the order and the walk stops
            -- at the page: with more sort keys the planner sorts every candidate first. WITH
            -- TIES takes the venues as far as the page's last one too (the same building,
            -- say), which a plain LIMIT would cut arbitrarily: with them, ordering by name and
            -- id below keeps paging stable.
            SELECT {columns} FROM {venue_from}
            WHERE {first} AND {matches}
            ORDER BY v.point_bng <-> {ref}
            FETCH FIRST {walked:d} ROWS WITH TIES
        ),
        cutoff AS (SELECT count(*) AS n FROM walk),
        near AS (
            -- The walk covers a square; the corners beyond the radius come last, and go.
            SELECT * FROM walk WHERE distance <= {radius:d}
        ),
        by_area AS MATERIALIZED (
            SELECT directory_service.id, directory_service.name,
                   (SELECT min(v.point_bng <-> {ref}) FROM directory_searchvenue v
                    WHERE v.service_id = directory_service.id) AS distance,
                   {rank} AS rank
            FROM {_FROM}
            WHERE directory_service.id IN (SELECT service_id FROM covering) AND {where}
              AND NOT EXISTS (
                  SELECT 1 FROM directory_searchvenue v
                  WHERE v.service_id = directory_service.id
                    AND v.point_bng && ST_Expand({ref}, {radius:d})
                    AND (v.point_bng <-> {ref}) <= {radius:d})
        ),
        hits AS (
            SELECT *, 'within_radius' AS match, 0 AS grp FROM near
            UNION ALL SELECT *, 'service_area', 1 FROM by_area
        ),
        counted AS (
            -- Services, not venues: a service with two venues nearby counts once. Venues are
            -- counted up to the limit; when it is reached the total is a lower bound anyway.
            -- A walk that ended before the page was full saw every match: count those.
            SELECT CASE WHEN (SELECT n FROM cutoff) < {walked:d} THEN (SELECT count(*) FROM near)
                   ELSE (SELECT CASE WHEN count(*) < {count_limit:d} THEN count(DISTINCT sid)
                                     ELSE {count_limit:d} END
                         FROM (SELECT v.service_id AS sid FROM {venue_from}
                               WHERE {first} AND (v.point_bng <-> {ref}) <= {radius:d}
                                 AND {where} AND {_AREA_ALLOWS}
                               LIMIT {count_limit:d}) c) END
                   + (SELECT count(*) FROM by_area) AS n
        ),"""
        # In the order the SQL reads them: the areas; rank and filters for the walk and for
        # by_area; the filters once more for the count.
        params = list(covering_params) + (rank_params + where_params) * 2 + where_params
        order = f"grp, distance NULLS LAST, {ordered_by_rank}name, id"
        venue_order = f"l.point_bng IS NULL, l.point_bng <-> {ref}, l.name, l.id"
    else:
        order = f"{ordered_by_rank}name, id"
        columns = f"""directory_service.id, directory_service.name, NULL::float AS distance,
                   {rank} AS rank, NULL AS match, 0 AS grp"""
        walk_order = f"{ordered_by_rank}directory_service.name, directory_service.id"
        if query["when"] is None:
            hits = f"""
        hits AS (
            SELECT {columns} FROM {_FROM} WHERE {where}
            ORDER BY {walk_order} LIMIT {offset + size:d}
        ),"""
            params = rank_params + where_params
        else:
            # Open now, anywhere: by day most services are open and walking them by name stops
            # at once; at night few are, the walk would read every service, and the services'
            # hours index (migration 0007) finds them instead. The planner cannot tell the two
            # apart (an hour no service is open in has no statistics), so the statement counts
            # the open services up to a threshold first and runs the branch that fits; the other
            # is never executed (a one-time filter).
            few, fenced = _open_services(query["when"])
            hits = f"""
        hits AS (
            (SELECT {columns} FROM {_FROM}
             WHERE {few} AND {fenced} AND {where}
             ORDER BY {walk_order} LIMIT {offset + size:d})
            UNION ALL
            (SELECT {columns} FROM {_FROM} WHERE NOT {few} AND {where}
             ORDER BY {walk_order} LIMIT {offset + size:d})
        ),"""
            params = rank_params + where_params + rank_params + where_params
        hits += f"""
        counted AS (
            SELECT CASE WHEN (SELECT count(*) FROM hits) < {offset + size:d}
                        THEN (SELECT count(*) FROM hits)
                   ELSE (SELECT count(*) FROM (SELECT 1 FROM {_FROM} WHERE {where}
                                               LIMIT {count_limit:d}) c) END AS n
        ),"""
        params += where_params
        venue_order = "l.point IS NULL, l.name, l.id"
    sql = f"""WITH {hits}
    page AS (
        SELECT id, distance, match, row_number() OVER (ORDER BY {order}) AS n
        FROM hits ORDER BY {order} LIMIT {size:d} OFFSET {offset:d}
    )
    SELECT s.id, s.name, s.description, s.email, s.url, s.kind, s.access, s.fees,
           s.organization_id, o.name, page.distance, page.match,
           ARRAY(SELECT a.taxonomy_term_id FROM directory_attribute a WHERE a.service_id = s.id),
           (SELECT json_agg(json_build_array({_RULE_COLUMNS}))
            FROM (SELECT * FROM directory_schedule WHERE service_id = s.id
                  UNION ALL
                  SELECT sc.* FROM directory_schedule sc
                  JOIN directory_serviceatlocation sl ON sl.id = sc.service_at_location_id
                  WHERE sl.service_id = s.id) sc),
           (SELECT json_agg(json_build_array(c.option, c.amount, c.valid_to))
            FROM directory_costoption c WHERE c.service_id = s.id),
           venue.id, venue.name, venue.location_type, venue.address_1, venue.address_2,
           venue.city, venue.postal_code, venue.point,
           counted.n
    FROM counted
    LEFT JOIN (page
               JOIN directory_service s ON s.id = page.id
               JOIN directory_organization o ON o.id = s.organization_id) ON true
    LEFT JOIN LATERAL (
        SELECT l.*
        FROM directory_serviceatlocation sal
        JOIN directory_location l ON l.id = sal.location_id
        WHERE sal.service_id = s.id
        ORDER BY {venue_order} LIMIT 1
    ) venue ON true
    ORDER BY page.n"""
    return sql, params


# --- Rows to services ----------------------------------------------------------------------
def _shown_terms() -> dict:
    """The terms a result shows (needs and digital offers) by id, from this process's copy of
    the vocabularies (directory.params.vocabulary, read at most once a minute)."""
    return {
        term.id: term for name in ("needs", "digital_offers") for term in vocabulary(name).values()
    }


class _Rule:
    """A schedule's rule as a result row gives it, read by ``Schedule``'s own ``runs_on`` and
    ``sessions`` (one definition) without building a model instance: twenty results bring about
    forty schedules and cost options, and a model's __init__ works out every field's default."""

    __slots__ = (
        "freq",
        "interval",
        "byday",
        "bymonthday",
        "opens_at",
        "closes_at",
        "valid_from",
        "valid_to",
        "dtstart",
        "cancelled_dates",
    )
    runs_on = Schedule.runs_on
    sessions = Schedule.sessions

    def __init__(self, row):
        # The statement sends the fields in __slots__' order (JSON: times and dates as text).
        values = dict(zip(self.__slots__, row, strict=True))
        self.freq, self.interval = values["freq"], values["interval"]
        self.byday, self.bymonthday = values["byday"], values["bymonthday"]
        for name in ("opens_at", "closes_at"):
            setattr(self, name, parse_time(values[name]) if values[name] else None)
        for name in ("valid_from", "valid_to", "dtstart"):
            setattr(self, name, parse_date(values[name]) if values[name] else None)
        self.cancelled_dates = {parse_date(d) for d in values["cancelled_dates"] or ()}


# The statement's columns for a _Rule: the schedule's own, then the dates its organisation
# cancelled a session on (presenters.next_session skips them; from yesterday, as it looks).
_RULE_COLUMNS = ", ".join(
    [f"sc.{f}" for f in _Rule.__slots__ if f != "cancelled_dates"]
    + [
        "(SELECT json_agg(cs.date) FROM directory_cancelledsession cs"
        " WHERE cs.schedule_id = sc.id AND cs.date >= CURRENT_DATE - 1)"
    ]
)


class _Cost(NamedTuple):
    """What ``presenters.cost_summary`` reads of a cost option."""

    option: str
    amount: Decimal | None
    valid_to: dt.date | None

    @classmethod
    def from_row(cls, row) -> "_Cost":
        option, amount, valid_to = row
        return cls(
            option,
            None if amount is None else Decimal(str(amount)),
            parse_date(valid_to) if valid_to else None,
        )


def _service(row, now: dt.datetime, shown: dict) -> Service:
    (sid, name, description, email, url, kind, access, fees, org_id, org_name, distance, match,
     term_ids, schedules, costs, venue_id, venue_name, venue_type, address_1, address_2, city,
     postal_code, point, _total) = row  # fmt: skip
    service = Service(
        id=sid,
        name=name,
        description=description,
        email=email,
        url=url,
        kind=kind,
        access=access,
        fees=fees,
        organization=Organization(id=org_id, name=org_name),
    )
    service.distance = distance
    service.match = match
    service.nearest_location = None
    if venue_id is not None:
        service.nearest_location = Location(
            id=venue_id,
            name=venue_name,
            location_type=venue_type,
            address_1=address_1,
            address_2=address_2,
            city=city,
            postal_code=postal_code,
            point=None if point is None else GEOSGeometry(point),
        )
    terms = [shown[t] for t in term_ids if t in shown]
    return dress(
        service,
        # psycopg2 decodes json columns itself.
        schedules=[_Rule(s) for s in schedules or ()],
        cost_options=[_Cost.from_row(c) for c in costs or ()],
        terms=terms,
        now=now,
    )


def find(query: dict) -> Page:
    """One page of services for a validated search, dressed for display, and the total."""
    sql, params = page_statement(query)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    now = query["now"]
    shown = _shown_terms()
    # Always one row at least: an empty page still says how many there are (for "there are
    # only 3 pages").
    total = rows[0][-1]
    limit = max(COUNT_LIMIT, query["page"] * query["page_size"])
    return Page(
        rows=[_service(row, now, shown) for row in rows if row[0] is not None],
        total=min(total, limit),
        exact=total <= limit,
    )
