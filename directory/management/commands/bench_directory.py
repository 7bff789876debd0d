"""Measure the directory search at national scale, against the raw SQL floor.

Seeds (or reuses) a directory of --size services at random real postcode points across GB,
reproducibly from --seed, all under one organisation named "Benchmark data" (is_demo=False, so
it never mixes with the demo) and removable with --drop. Then times, in process:

- the search API (postcode + 5 km + one need, 20 a page) through django.test.Client,
- the same search as one hand-written SQL query (the floor), and their ratio,
- likewise for open=now and q= searches,
- and, if the HTML search page exists (URL name ``directory-search``), that page too.

It prints figures; it asserts nothing.
"""

import io
import random
import statistics
import time
import uuid

from django.contrib.gis.db.models.functions import GeometryDistance
from django.core.management.base import BaseCommand
from django.db import connection, transaction
from django.test import Client
from django.test.utils import override_settings
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from directory import vocabularies
from directory.models import LONDON, WEEKDAYS, Location, Organization, Service
from directory.search import parse_search, search_queryset

BENCH_ORG_ID = uuid.uuid5(vocabularies.NAMESPACE, "bench/organization")
BENCH_ORG_NAME = "Benchmark data"
BATCH = 10_000
BENCH_LOCK = 7_410_318  # any constant; names the advisory lock

ACTIVITIES = [
    "Walking Group",
    "Community Pantry",
    "Men's Shed",
    "Choir",
    "Knit and Natter",
    "Carers Cafe",
    "Bereavement Group",
    "Peer Support",
    "Community Garden",
    "Stop Smoking Clinic",
    "Stay and Play",
    "Job Club",
    "Housing Advice",
    "Chair Exercise",
    "Befriending",
    "Arts Club",
    "Volunteer Centre",
    "Diabetes Support",
    "Cook and Eat",
    "Digital Help",
    "Food Bank",
    "Money Advice",
    "Dance Class",
    "Book Club",
    "Lunch Club",
    "Football Club",
    "Yoga",
    "Tai Chi",
    "Parkrun Buddies",
    "Repair Cafe",
]
PLACES_WORDS = [
    "Community",
    "Neighbourhood",
    "Friendly",
    "Village",
    "Riverside",
    "Park",
    "Library",
    "Church",
    "Town",
    "Valley",
]
QUERY_WORDS = ["walking", "garden", "choir", "advice", "pantry", "yoga", "digital", "support"]


def _escape(value) -> str:
    if value is None:
        return r"\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    return str(value).replace("\\", "\\\\").replace("\t", " ").replace("\n", " ")


def _copy(cursor, table: str, columns: list[str], rows: list[tuple]) -> None:
    # COPY, not the ORM: 100,000 services and their rows load in seconds, not minutes.
    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join(_escape(v) for v in row) + "\n")
    buffer.seek(0)
    cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", buffer)


def _stats(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return statistics.median(ordered), p95


class Command(BaseCommand):
    help = (
        "Benchmark the directory search at national scale (seeds --size services at real GB "
        "postcodes, reproducibly from --seed, or reuses them); prints median and p95 of the API "
        "against the raw SQL floor. --drop removes the benchmark data."
    )

    def add_arguments(self, parser):
        parser.add_argument("--size", type=int, default=100_000)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--queries", type=int, default=200, help="Postcodes to search from")
        parser.add_argument(
            "--drop", action="store_true", help="Remove the benchmark data and stop"
        )

    def handle(self, *args, size, seed, queries, drop, **options):
        # Two people running `make bench` at once on one database would seed over each other:
        # the second waits for the first (a session-level advisory lock) and then reuses its data.
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(%s)", [BENCH_LOCK])
            try:
                if drop:
                    self.drop()
                    return
                self.seed(size=size, seed=seed)
            finally:
                cur.execute("SELECT pg_advisory_unlock(%s)", [BENCH_LOCK])
        self.measure(seed=seed, queries=queries)

    # --- Data --------------------------------------------------------------------------
    def drop(self) -> None:
        started = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute(
                "CREATE TEMP TABLE bench_services ON COMMIT DROP AS "
                "SELECT id FROM directory_service WHERE organization_id = %s",
                [BENCH_ORG_ID],
            )
            for table in (
                "directory_attribute",
                "directory_schedule",
                "directory_costoption",
                "directory_servicearea",
            ):
                cur.execute(
                    f"DELETE FROM {table} WHERE service_id IN (SELECT id FROM bench_services)"
                )
            cur.execute(
                "DELETE FROM directory_schedule WHERE service_at_location_id IN (SELECT id FROM "
                "directory_serviceatlocation WHERE service_id IN (SELECT id FROM bench_services))"
            )
            cur.execute(
                "DELETE FROM directory_serviceatlocation WHERE service_id IN (SELECT id FROM bench_services)"
            )
            cur.execute("DELETE FROM directory_service WHERE id IN (SELECT id FROM bench_services)")
            cur.execute("DELETE FROM directory_location WHERE organization_id = %s", [BENCH_ORG_ID])
            cur.execute("DELETE FROM directory_organization WHERE id = %s", [BENCH_ORG_ID])
        self.stdout.write(f"Benchmark data removed ({time.perf_counter() - started:.1f} s).")

    def seed(self, *, size: int, seed: int) -> None:
        marker = f"seed={seed} size={size}"
        org = Organization.objects.filter(pk=BENCH_ORG_ID).first()
        if org is not None and org.description == marker:
            count = Service.objects.filter(organization=org).count()
            if count == size:
                self.stdout.write(
                    f"Reusing the benchmark directory ({size:,} services, seed {seed})."
                )
                return
        if org is not None:
            self.stdout.write(f"Benchmark data is for {org.description!r}; replacing it.")
            self.drop()
        started = time.perf_counter()
        rng = random.Random(seed)
        needs = [vocabularies.term_id("flourish-needs", code) for code, *_ in vocabularies.NEEDS]
        offers = [
            vocabularies.term_id("flourish-digital-inclusion", c)
            for c, *_ in vocabularies.DIGITAL_OFFERS
        ]
        with connection.cursor() as cur:
            cur.execute("SELECT count(*) FROM geo_postcode")
            if cur.fetchone()[0] == 0:
                self.stderr.write("The postcode table is empty: run load_postcodes first.")
                return
            # Random real postcodes, the same ones for the same seed (setseed drives random()).
            cur.execute("SELECT setseed(%s)", [(seed % 1000) / 1000])
            cur.execute(
                "SELECT postcode, outcode, ST_X(point::geometry), ST_Y(point::geometry) "
                "FROM geo_postcode ORDER BY random() LIMIT %s",
                [size],
            )
            points = cur.fetchall()
        now = timezone.now()
        with transaction.atomic(), connection.cursor() as cur:
            Organization.objects.create(
                id=BENCH_ORG_ID, name=BENCH_ORG_NAME, description=marker, is_demo=False
            )
            for start in range(0, len(points), BATCH):
                chunk = points[start : start + BATCH]
                services, locations, sals, attributes, schedules, costs, areas = (
                    [] for _ in range(7)
                )
                for postcode, outcode, lng, lat in chunk:
                    sid = uuid.UUID(int=rng.getrandbits(128), version=4)
                    activity = rng.choice(ACTIVITIES)
                    kind = rng.choices(
                        ["community_asset", "online_centre", "health_trainer_service"], [90, 8, 2]
                    )[0]
                    chosen = rng.sample(needs, rng.randint(1, 3))
                    services.append(
                        (
                            now,
                            now,
                            sid,
                            f"{rng.choice(PLACES_WORDS)} {activity} {outcode}",
                            f"{activity} near {postcode}. Benchmark data, not a real service.",
                            "",
                            "",
                            "active",
                            "",
                            "",
                            None,
                            None,
                            None,
                            "",
                            "",
                            kind,
                            rng.choice(["self_referral", "referral", "drop_in"]),
                            None,
                            None,
                            "",
                            False,
                            None,
                            BENCH_ORG_ID,
                        )
                    )
                    if rng.random() < 0.02:
                        # A borough-wide service: found through its service area, no building.
                        areas.append(
                            (
                                uuid.UUID(int=rng.getrandbits(128), version=4),
                                sid,
                                "",
                                "",
                                None,
                                "",
                                "{" + outcode + "}",
                                "",
                            )
                        )
                    else:
                        lid = uuid.UUID(int=rng.getrandbits(128), version=4)
                        locations.append(
                            (
                                now,
                                now,
                                lid,
                                "physical",
                                f"{activity} venue",
                                "",
                                f"SRID=4326;POINT({lng} {lat})",
                                "1 High Street",
                                "",
                                "",
                                "",
                                "",
                                "",
                                postcode,
                                "GB",
                                "",
                                None,
                                BENCH_ORG_ID,
                            )
                        )
                        sals.append((uuid.UUID(int=rng.getrandbits(128), version=4), sid, lid, ""))
                    for term in chosen + (rng.sample(offers, 3) if kind == "online_centre" else []):
                        attributes.append(
                            (uuid.UUID(int=rng.getrandbits(128), version=4), sid, term, "service")
                        )
                    opens = rng.choice([9, 10, 13, 14, 18, 22])
                    for _ in range(rng.choice([1, 1, 2])):
                        days = ",".join(
                            sorted(rng.sample(WEEKDAYS, rng.randint(1, 3)), key=WEEKDAYS.index)
                        )
                        schedules.append(
                            (
                                uuid.UUID(int=rng.getrandbits(128), version=4),
                                sid,
                                None,
                                "WEEKLY",
                                1,
                                days,
                                "",
                                f"{opens:02d}:00",
                                f"{(opens + rng.choice([2, 3, 4])) % 24:02d}:00",
                                None,
                                None,
                                None,
                                "",
                                "",
                                "",
                            )
                        )
                    costs.append(
                        (
                            uuid.UUID(int=rng.getrandbits(128), version=4),
                            sid,
                            "",
                            rng.choice(["0", "0", "0", "2.50", "4.00"]),
                            "",
                            None,
                            None,
                        )
                    )
                _copy(
                    cur,
                    "directory_service",
                    [
                        "created_at",
                        "last_modified",
                        "id",
                        "name",
                        "description",
                        "url",
                        "email",
                        "status",
                        "fees",
                        "accreditations",
                        "minimum_age",
                        "maximum_age",
                        "assured_date",
                        "assurer_email",
                        "alert",
                        "kind",
                        "access",
                        "capacity_available",
                        "capacity_maximum",
                        "capacity_unit",
                        "is_demo",
                        "modified_by_id",
                        "organization_id",
                    ],
                    services,
                )
                _copy(
                    cur,
                    "directory_location",
                    [
                        "created_at",
                        "last_modified",
                        "id",
                        "location_type",
                        "name",
                        "description",
                        "point",
                        "address_1",
                        "address_2",
                        "city",
                        "region",
                        "state_province",
                        "external_identifier",
                        "postal_code",
                        "country",
                        "external_identifier_type",
                        "modified_by_id",
                        "organization_id",
                    ],
                    locations,
                )
                _copy(
                    cur,
                    "directory_serviceatlocation",
                    ["id", "service_id", "location_id", "description"],
                    sals,
                )
                _copy(
                    cur,
                    "directory_attribute",
                    ["id", "service_id", "taxonomy_term_id", "link_type"],
                    attributes,
                )
                _copy(
                    cur,
                    "directory_schedule",
                    [
                        "id",
                        "service_id",
                        "service_at_location_id",
                        "freq",
                        "interval",
                        "byday",
                        "bymonthday",
                        "opens_at",
                        "closes_at",
                        "valid_from",
                        "valid_to",
                        "dtstart",
                        "description",
                        "attending_type",
                        "notes",
                    ],
                    schedules,
                )
                _copy(
                    cur,
                    "directory_costoption",
                    [
                        "id",
                        "service_id",
                        "option",
                        "amount",
                        "amount_description",
                        "valid_from",
                        "valid_to",
                    ],
                    costs,
                )
                _copy(
                    cur,
                    "directory_servicearea",
                    [
                        "id",
                        "service_id",
                        "name",
                        "description",
                        "extent",
                        "extent_type",
                        "postcode_districts",
                        "uri",
                    ],
                    areas,
                )
                done = start + len(chunk)
                self.stdout.write(
                    f"  seeded {done:,}/{len(points):,} services ({time.perf_counter() - started:.0f} s)"
                )
        with connection.cursor() as cur:
            for table in (
                "directory_service",
                "directory_location",
                "directory_serviceatlocation",
                "directory_attribute",
                "directory_schedule",
                "directory_costoption",
                "directory_servicearea",
            ):
                cur.execute(f"ANALYZE {table}")
        self.stdout.write(
            f"Seeded {len(points):,} benchmark services at random real postcodes (seed {seed}) in "
            f"{time.perf_counter() - started:.1f} s."
        )

    # --- Measuring ---------------------------------------------------------------------
    def measure(self, *, seed: int, queries: int) -> None:
        rng = random.Random(seed + 1)
        with connection.cursor() as cur:
            # Search from postcodes near the benchmark services: a random sample of real ones.
            cur.execute("SELECT setseed(%s)", [((seed + 7) % 1000) / 1000])
            cur.execute(
                "SELECT postcode FROM geo_postcode TABLESAMPLE SYSTEM (1) ORDER BY random() LIMIT %s",
                [queries],
            )
            postcodes = [row[0] for row in cur.fetchall()]
        needs = [code for code, *_ in vocabularies.NEEDS]
        cases = [(p, rng.choice(needs), rng.choice(QUERY_WORDS)) for p in postcodes]
        total = Service.objects.active().count()
        self.stdout.write(
            f"\nSearching {total:,} active services from {len(cases)} random real postcodes, "
            f"radius 5000 m, 20 a page (in-process; times in milliseconds).\n"
        )
        try:
            page_url = reverse("directory-search")
        except NoReverseMatch:
            page_url = None
        client = Client()
        now = timezone.now()
        scenarios = [
            ("postcode + 5 km + need", lambda p, n, q: {"need": n}, self.raw_need),
            ("postcode + 5 km + open=now", lambda p, n, q: {"open": "now"}, self.raw_open),
            ("postcode + 5 km + q=", lambda p, n, q: {"q": q}, self.raw_text),
        ]
        rows = []
        # ALLOWED_HOSTS etc. as in tests; debug off so queries are not recorded.
        with override_settings(DEBUG=False):
            for label, extra, raw in scenarios:
                api, floor, page = [], [], []
                for postcode, need, word in cases[:3]:  # warm caches and connections
                    params = {
                        "postcode": postcode,
                        "radius": 5000,
                        "page_size": 20,
                        **extra(postcode, need, word),
                    }
                    client.get("/api/services/", params)
                    raw(postcode, need, word, now)
                for postcode, need, word in cases:
                    params = {
                        "postcode": postcode,
                        "radius": 5000,
                        "page_size": 20,
                        **extra(postcode, need, word),
                    }
                    started = time.perf_counter()
                    response = client.get("/api/services/", params)
                    api.append((time.perf_counter() - started) * 1000)
                    if response.status_code != 200:
                        self.stderr.write(
                            f"  {params}: {response.status_code} {response.content[:200]!r}"
                        )
                    started = time.perf_counter()
                    raw(postcode, need, word, now)
                    floor.append((time.perf_counter() - started) * 1000)
                    if page_url:
                        started = time.perf_counter()
                        client.get(page_url, params)
                        page.append((time.perf_counter() - started) * 1000)
                rows.append((label, api, floor, page))
        self.stdout.write(
            f"{'search':30} {'API median':>11} {'API p95':>8} {'raw median':>11} "
            f"{'raw p95':>8} {'ratio':>6}"
            + (f" {'page median':>12} {'page p95':>9}" if page_url else "")
        )
        for label, api, floor, page in rows:
            (am, ap), (rm, rp) = _stats(api), _stats(floor)
            line = f"{label:30} {am:11.1f} {ap:8.1f} {rm:11.1f} {rp:8.1f} {am / rm:5.1f}x"
            if page:
                pm, pp = _stats(page)
                line += f" {pm:12.1f} {pp:9.1f}"
            self.stdout.write(line)
            verdict = "within" if am <= 10 * rm else "NOT within"
            self.stdout.write(f"{'':30} API median is {verdict} 10x the raw query.")
        if not page_url:
            self.stdout.write(
                "(No URL named directory-search yet: the HTML search page was not timed.)"
            )
        self.explain(cases[0][0], cases[0][1], now)

    def explain(self, postcode: str, need: str, now) -> None:
        query = parse_search({"postcode": postcode, "radius": "5000", "need": need}, now=now)
        services = search_queryset(query)
        plan = services[:20].explain()
        self.stdout.write(
            f"\nEXPLAIN of the API's search query (postcode {postcode}, need {need}):"
        )
        self.stdout.write(plan)
        # Nearest-first as the ORM writes it (GeometryDistance emits <->), from the place's point.
        knn = (
            Location.objects.filter(point__isnull=False)
            .order_by(GeometryDistance("point", query["place"].point))[:20]
            .explain()
        )
        self.stdout.write(
            "\nEXPLAIN of nearest-first locations (order_by(GeometryDistance) = ORDER BY point <-> place LIMIT 20):"
        )
        self.stdout.write(knn)
        gist_radius = "directory_location_point" in plan
        gist_knn = "Index Scan using directory_location_point" in knn and "Sort" not in knn
        self.stdout.write(
            f"\nThe search {'uses' if gist_radius else 'does NOT use'} the GiST index on "
            f"directory_location.point to find candidates within the radius (ST_DWithin), then "
            f"sorts those few by distance. Nearest-first with <-> "
            f"{'uses the GiST index as an ordered index scan (KNN, no sort)' if gist_knn else 'does NOT use the GiST index as an ordered scan'}."
        )

    # --- The floor: the same searches as single hand-written SQL queries ---------------
    # Raw SQL on purpose: this is the floor the ORM is measured against, written the way a
    # careful person would by hand (candidates from the GiST index, then the rule and filters).
    CANDIDATES = """
        WITH place AS (SELECT point, outcode FROM geo_postcode WHERE postcode = %(postcode)s),
        near AS (
            SELECT sal.service_id, min(ST_Distance(l.point, place.point)) AS distance
            FROM place, directory_location l
            JOIN directory_serviceatlocation sal ON sal.location_id = l.id
            WHERE ST_DWithin(l.point, place.point, %(radius)s)
            GROUP BY sal.service_id
        ),
        covered AS (
            SELECT DISTINCT a.service_id FROM place, directory_servicearea a
            WHERE a.postcode_districts @> ARRAY[place.outcode]::varchar[]
               OR ST_Covers(a.extent, place.point)
        ),
        matched AS (
            SELECT near.service_id, near.distance FROM near
            WHERE NOT EXISTS (SELECT 1 FROM directory_servicearea x WHERE x.service_id = near.service_id)
               OR near.service_id IN (SELECT service_id FROM covered)
            UNION
            SELECT c.service_id, NULL FROM covered c
            WHERE c.service_id NOT IN (SELECT service_id FROM near)
        )
        SELECT s.id, s.name, m.distance, count(*) OVER () AS total
        FROM matched m JOIN directory_service s ON s.id = m.service_id
        WHERE s.status = 'active' {extra}
        ORDER BY m.distance NULLS LAST, s.name, s.id
        LIMIT 20
    """

    def _run(self, extra: str, params: dict) -> list:
        with connection.cursor() as cur:
            cur.execute(self.CANDIDATES.format(extra=extra), {"radius": 5000, **params})
            return cur.fetchall()

    def raw_need(self, postcode, need, word, now):
        return self._run(
            "AND EXISTS (SELECT 1 FROM directory_attribute a WHERE a.service_id = s.id "
            "AND a.taxonomy_term_id = %(term)s)",
            {"postcode": postcode, "term": vocabularies.term_id("flourish-needs", need)},
        )

    def raw_open(self, postcode, need, word, now):
        local = now.astimezone(LONDON)
        day = WEEKDAYS[local.weekday()]
        yesterday = WEEKDAYS[(local.weekday() - 1) % 7]
        return self._run(
            """AND (EXISTS (SELECT 1 FROM directory_schedule sc
                         WHERE sc.service_id = s.id AND {open})
                 OR EXISTS (SELECT 1 FROM directory_schedule sc
                            JOIN directory_serviceatlocation sl ON sl.id = sc.service_at_location_id
                            WHERE sl.service_id = s.id AND {open}))""".replace(
                "{open}",
                """
                sc.freq = 'WEEKLY'
                AND ((sc.byday ~ %(day)s AND sc.opens_at <= %(time)s
                      AND (sc.closes_at > %(time)s OR sc.closes_at <= sc.opens_at))
                  OR (sc.byday ~ %(yesterday)s AND sc.closes_at <= sc.opens_at
                      AND sc.closes_at > %(time)s))""",
            ),
            {
                "postcode": postcode,
                "day": rf"(^|,){day}(,|$)",
                "yesterday": rf"(^|,){yesterday}(,|$)",
                "time": local.time(),
            },
        )

    def raw_text(self, postcode, need, word, now):
        return self._run(
            "AND (s.search_vector @@ websearch_to_tsquery('english', %(q)s) OR EXISTS ("
            "SELECT 1 FROM directory_organization o WHERE o.id = s.organization_id "
            "AND o.search_vector @@ websearch_to_tsquery('english', %(q)s)))",
            {"postcode": postcode, "q": word},
        )
