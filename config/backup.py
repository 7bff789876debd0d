"""Backups that have been restored: `make backup` and `make restore FILE=...`.

A backup is pg_dump's custom format, taken in one snapshot: the row counts, the latest referral
events and the latest access-log entries written beside it (the manifest) are read in the same
snapshot the dump is taken from (``pg_export_snapshot`` + ``pg_dump --snapshot``), so a restore
can be checked against exactly what the dump holds, even while the app goes on writing.

The manifest holds counts, ids, times and kinds: nothing that identifies a patient.
A restore never touches an existing database: it creates a new one, restores into it, checks
it against the manifest, and says how to point the app at it.
"""

import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2
from django.conf import settings
from django.db import connection

# The newest rows whose presence proves a restore is current, not just the right size.
LATEST = {
    "referral_events": (
        "SELECT id, referral_id, kind, to_status, at FROM referrals_referralevent "
        "ORDER BY at DESC, id DESC LIMIT 10"
    ),
    "access_log": (
        "SELECT id, user_id, referral_id, channel, at FROM referrals_accesslog "
        "ORDER BY at DESC, id DESC LIMIT 10"
    ),
}


class BackupError(Exception):
    """Something a person must fix; the message says what."""


@dataclass
class Backup:
    path: Path
    manifest_path: Path
    size: int
    seconds: float
    sha256: str
    tables: dict[str, int]


@dataclass
class Verification:
    database: str
    tables: dict[str, tuple[int, int]]  # table -> (in the manifest, restored)
    latest: dict[str, tuple[int, int]]  # kind -> (in the manifest, found in the restore)
    seconds: float
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _params(name: str | None = None) -> dict:
    db = settings.DATABASES["default"]
    params = {"dbname": name or db["NAME"], "user": db["USER"] or None}
    params |= {"host": db["HOST"] or None, "port": db["PORT"] or None}
    params["password"] = db["PASSWORD"] or None
    return {k: v for k, v in params.items() if v is not None}


def _connect(name: str | None = None):
    return psycopg2.connect(**_params(name), connect_timeout=10)


def _tool(name: str) -> str:
    """pg_dump/pg_restore of the server's own major version where Debian installed it (a newer
    server refuses an older pg_dump), else the one on PATH."""
    major = connection.pg_version // 10000
    candidate = Path(f"/usr/lib/postgresql/{major}/bin/{name}")
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if not found:
        raise BackupError(
            f"{name} is not installed. Install it with: "
            f"sudo apt-get install -y postgresql-client-{major}"
        )
    return found


def _env() -> dict:
    env = dict(os.environ)
    if password := settings.DATABASES["default"]["PASSWORD"]:
        env["PGPASSWORD"] = password
    return env


def _conn_args(name: str) -> list[str]:
    p = _params(name)
    args = ["--dbname", p["dbname"]]
    if "host" in p:
        args += ["--host", p["host"]]
    if "port" in p:
        args += ["--port", str(p["port"])]
    if "user" in p:
        args += ["--username", p["user"]]
    return [*args, "--no-password"]


def _table_counts(cur) -> dict[str, int]:
    cur.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY c.relname"
    )
    tables = [name for (name,) in cur.fetchall()]
    counts = {}
    for table in tables:
        cur.execute(f'SELECT count(*) FROM "{table}"')  # names come from the catalogue
        counts[table] = cur.fetchone()[0]
    return counts


def _latest(cur) -> dict[str, list[dict]]:
    found = {}
    for kind, sql in LATEST.items():
        cur.execute(sql)
        columns = [c.name for c in cur.description]
        found[kind] = [
            {k: _plain(v) for k, v in zip(columns, row, strict=True)} for row in cur.fetchall()
        ]
    return found


def _plain(value):
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return value if isinstance(value, (int, str, type(None))) else str(value)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def backup(folder: Path, *, progress=print) -> Backup:
    """Dump the app's database into ``folder`` with a manifest read in the dump's snapshot."""
    folder.mkdir(parents=True, exist_ok=True)
    name = settings.DATABASES["default"]["NAME"]
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = folder / f"{name}-{stamp}.dump"
    partial = path.with_suffix(".dump.partial")
    started = time.monotonic()
    holder = _connect()
    try:
        holder.set_session(isolation_level="REPEATABLE READ", readonly=True)
        with holder.cursor() as cur:
            cur.execute("SELECT pg_export_snapshot()")
            snapshot = cur.fetchone()[0]
            progress(f"Counting rows in snapshot {snapshot}...")
            tables = _table_counts(cur)
            latest = _latest(cur)
            cur.execute("SELECT version()")
            server = cur.fetchone()[0]
        progress(f"Dumping {name} ({sum(tables.values()):,} rows in {len(tables)} tables)...")
        result = subprocess.run(
            [
                _tool("pg_dump"),
                *_conn_args(name),
                "--format=custom",
                f"--snapshot={snapshot}",
                "--file",
                str(partial),
            ],
            env=_env(),
            capture_output=True,
            text=True,
        )
    finally:
        holder.rollback()
        holder.close()
    if result.returncode != 0:
        partial.unlink(missing_ok=True)
        raise BackupError(f"pg_dump failed: {result.stderr.strip()}")
    checksum = sha256_of(partial)
    seconds = time.monotonic() - started
    manifest = {
        "file": path.name,
        "database": name,
        "taken_at": stamp,
        "server": server,
        "sha256": checksum,
        "size": partial.stat().st_size,
        "seconds": round(seconds, 2),
        "tables": tables,
        "latest": latest,
    }
    manifest_path = path.with_suffix(".json")
    manifest_path.write_text(json.dumps(manifest, indent=1))
    partial.rename(path)  # only a complete dump with its manifest carries the .dump name
    return Backup(path, manifest_path, manifest["size"], seconds, checksum, tables)


def read_manifest(dump: Path) -> dict:
    manifest_path = dump.with_suffix(".json")
    if not dump.exists():
        raise BackupError(f"{dump} does not exist. Give FILE=var/backups/<name>.dump")
    if not manifest_path.exists():
        raise BackupError(
            f"{manifest_path.name} (the manifest written with the dump) is missing: without it "
            f"the restore cannot be verified. Keep the .json beside the .dump."
        )
    try:
        manifest = json.loads(manifest_path.read_text())
    except json.JSONDecodeError as exc:
        raise BackupError(f"{manifest_path.name} is not valid JSON: {exc.msg}") from None
    if sha256_of(dump) != manifest.get("sha256"):
        raise BackupError(
            f"{dump.name} does not match the checksum in {manifest_path.name}: the file is "
            f"damaged or not the one the manifest describes. Restore another backup."
        )
    return manifest


def _database_exists(name: str) -> bool:
    with connection.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        return cur.fetchone() is not None


def restore(dump: Path, database: str, *, progress=print) -> Verification:
    """Restore ``dump`` into a new database ``database`` and verify it against the manifest."""
    manifest = read_manifest(dump)
    if _database_exists(database):
        raise BackupError(
            f"Database {database} already exists: a restore never overwrites one. "
            f"Choose another name (DATABASE=...) or drop it first."
        )
    started = time.monotonic()
    admin = _connect()
    try:
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{database}"')
    finally:
        admin.close()
    progress(f"Restoring {dump.name} into {database}...")
    result = subprocess.run(
        [
            _tool("pg_restore"),
            *_conn_args(database),
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            str(dump),
        ],
        env=_env(),
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise BackupError(
            f"pg_restore failed (database {database} is left for inspection): "
            f"{result.stderr.strip()}"
        )
    progress("Verifying...")
    return verify(database, manifest, started)


def verify(database: str, manifest: dict, started: float) -> Verification:
    restored = _connect(database)
    try:
        with restored.cursor() as cur:
            tables = _table_counts(cur)
            latest = _latest(cur)
    finally:
        restored.close()
    check = Verification(database, {}, {}, 0.0)
    for table in sorted(set(manifest["tables"]) | set(tables)):
        want, got = manifest["tables"].get(table), tables.get(table)
        check.tables[table] = (want, got)
        if want != got:
            check.problems.append(f"{table}: {want} rows in the backup, {got} restored")
    for kind, rows in manifest["latest"].items():
        found = {json.dumps(r, sort_keys=True) for r in latest.get(kind, [])}
        present = sum(json.dumps(r, sort_keys=True) in found for r in rows)
        check.latest[kind] = (len(rows), present)
        if present != len(rows):
            check.problems.append(f"latest {kind}: {len(rows) - present} missing or changed")
    check.seconds = time.monotonic() - started
    return check
