"""Measure the directory over HTTP, served as `make run` serves it, against its database floor.

Serves the app from the database DATABASE_URL points at (``bench_directory`` runs this in each
benchmark database) with gunicorn, 2 workers and production settings (DEBUG off), on a free
loopback port; then loads it with wrk (2 threads, 8 connections, 10 s, rotating through 50
postcodes drawn reproducibly from the seeded services): a static file (the ceiling: what
gunicorn and wrk manage at all), /healthz, /api/postcodes/<pc>, the search API and the results
page. pgbench runs the search's one SQL statement for the same postcodes at the same
concurrency: the floor. Prints requests/s, p50 and p99 for each with the load average, and
checks the issue's targets; gunicorn is stopped at the end, also on an error or Ctrl-C.
"""

import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path
from urllib.parse import urlencode
from urllib.request import urlopen

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.utils import timezone

from config.served import database_url, production_env, served
from directory import vocabularies
from directory.management.commands.bench_directory import (
    Check,
    check,
    failed,
    floor_statement,
    load1,
    percentile,
    summary,
)

THREADS, CONNECTIONS, SECONDS = 2, 8, 10
POSTCODES = 50
# The targets over HTTP.
SEARCH_SHARE_OF_FLOOR_MIN = 25.0  # % of pgbench's rate for the same statements
SEARCH_P99_MAX_MS = 100.0
PAGE_SHARE_OF_API_MIN = 80.0  # % of the search API's rate
POSTCODES_SHARE_OF_STATIC_MIN = 50.0  # % of a static file's rate

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text.strip())
    if not match:
        raise ValueError(f"Not a wrk duration: {text!r}")
    return float(match.group(1)) * _UNITS_MS[match.group(2)]


def parse_wrk(output: str) -> dict:
    """Requests/s, p50 and p99 (ms), requests, and failures from `wrk --latency` output.

    Failures are non-2xx/3xx answers plus socket errors: a run with any is not a figure."""
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.M)
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.M)
    count = re.search(r"^\s+(\d+) requests in", output, re.M)
    if not (rate and p50 and p99 and count):
        raise ValueError(f"Could not read wrk's output:\n{output}")
    failures = 0
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    if non_2xx:
        failures += int(non_2xx.group(1))
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if sockets:
        failures += sum(int(n) for n in sockets.groups())
    return {
        "rate": float(rate.group(1)),
        "p50": _ms(p50.group(1)),
        "p99": _ms(p99.group(1)),
        "requests": int(count.group(1)),
        "failures": failures,
    }


def parse_pgbench(output: str, latencies_us: list[int]) -> dict:
    """Transactions/s from pgbench's summary; p50 and p99 (ms) from its per-transaction log."""
    tps = re.search(r"^tps = ([\d.]+)", output, re.M)
    failed_ = re.search(r"number of failed transactions: (\d+)", output)
    if not tps or not latencies_us:
        raise ValueError(f"Could not read pgbench's output:\n{output}")
    return {
        "rate": float(tps.group(1)),
        "p50": percentile(latencies_us, 0.50) / 1000,
        "p99": percentile(latencies_us, 0.99) / 1000,
        "requests": len(latencies_us),
        "failures": int(failed_.group(1)) if failed_ else 0,
    }


def rotating_script(paths: list[str]) -> str:
    """A wrk Lua script that walks through ``paths``, each thread from its own offset."""
    listed = ",\n".join(json.dumps(p) for p in paths)  # URL-encoded ASCII: a valid Lua string
    return f"""local paths = {{
{listed}
}}
local threads = 0
function setup(thread)
  thread:set("offset", threads * 17)
  threads = threads + 1
end
function init(args)
  i = offset or 0
end
function request()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
"""


class Command(BaseCommand):
    help = (
        "Serve the app with gunicorn (production settings) from this database and load it with "
        "wrk: static file, /healthz, /api/postcodes/<pc>, the search API and the results page, "
        "against pgbench running the search's SQL. Prints requests/s, p50, p99 and the targets."
    )

    def add_arguments(self, parser):
        parser.add_argument("--label", default="", help="Shown before each figure (e.g. 100k)")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument(
            "--json", dest="json_path", type=Path, help="Write the targets here as JSON"
        )

    def handle(self, *args, label, seed, json_path, **options):
        for tool in ("wrk", "pgbench"):
            if not shutil.which(tool) and not Path(f"/usr/lib/postgresql/15/bin/{tool}").exists():
                raise CommandError(f"{tool} is not installed: run bin/setup.")
        self.label = f"{label} " if label else ""
        checks = self.measure(seed)
        if json_path:
            json_path.write_text(json.dumps({"checks": [asdict(c) for c in checks]}))
        else:
            self.stdout.write("")
            for line in summary(checks)[0]:
                self.stdout.write(line)

    def measure(self, seed: int) -> list[Check]:
        cases = self.cases(seed)
        env = production_env(database_url(connection.settings_dict))
        self.stdout.write("Collecting static files as production does (hashed names).")
        subprocess.run(
            [str(Path(sys.executable)), "manage.py", "collectstatic", "--noinput", "-v", "0"],
            cwd=settings.BASE_DIR,
            env=env,
            check=True,
        )
        manifest = json.loads((Path(settings.STATIC_ROOT) / "staticfiles.json").read_text())[
            "paths"
        ]
        static = "/" + settings.STATIC_URL.strip("/") + "/" + manifest["css/flourish.css"]
        endpoints = {
            "static file": [static],
            "/healthz": ["/healthz"],
            "/api/postcodes/<pc>": [f"/api/postcodes/{pc.replace(' ', '%20')}" for pc, _ in cases],
            "search API": [
                "/api/services/?" + urlencode({"postcode": pc, "need": need}) for pc, need in cases
            ],
            "results page": [
                "/search/?" + urlencode({"postcode": pc, "need": need}) for pc, need in cases
            ],
        }
        results: dict[str, dict] = {}
        checks: list[Check] = []
        with tempfile.TemporaryDirectory(prefix="flourish-http-") as tmp:
            with served(env, Path(tmp) / "gunicorn.log") as base:
                self.stdout.write(f"gunicorn answers at {base}.")
                for name, paths in endpoints.items():
                    try:
                        self.check_answers(base, paths)
                        results[name] = self.wrk(base, paths, Path(tmp))
                    except (OSError, ValueError, subprocess.SubprocessError) as exc:
                        self.stderr.write(f"{name}: {exc}")
                        checks.append(failed(f"{self.label}HTTP {name}", "failed"))
                        continue
                    self.show(name, results[name])
            self.stdout.write("gunicorn stopped.")
            try:
                results["pgbench floor"] = self.pgbench(cases, Path(tmp))
                self.show("pgbench floor (same SQL)", results["pgbench floor"])
            except (OSError, ValueError, subprocess.SubprocessError) as exc:
                self.stderr.write(f"pgbench: {exc}")
                checks.append(failed(f"{self.label}pgbench floor", "failed"))
        return checks + self.targets(results)

    def targets(self, results: dict[str, dict]) -> list[Check]:
        def rate(name):
            return results[name]["rate"] if name in results else None

        def share(part, whole):
            return None if part is None or not whole else 100 * part / whole

        answered = [
            failed(f"{self.label}HTTP {name}: answers 2xx", f"{result['failures']} failures")
            for name, result in results.items()
            if result["failures"]
        ]
        search, static = rate("search API"), rate("static file")
        if search and static:
            self.stdout.write(
                f"  wrk's ceiling here is the static file at {static:,.0f}/s: the search runs at "
                f"{100 * search / static:.0f}% of it, so wrk is not what limits the search."
            )
        label = f"{self.label}HTTP"
        return answered + [
            check(
                f"{label} search rate, % of pgbench floor",
                share(search, rate("pgbench floor")),
                ">=",
                SEARCH_SHARE_OF_FLOOR_MIN,
                " %",
            ),
            check(
                f"{label} search p99",
                results.get("search API", {}).get("p99"),
                "<",
                SEARCH_P99_MAX_MS,
                " ms",
            ),
            check(
                f"{label} results page rate, % of search API",
                share(rate("results page"), search),
                ">=",
                PAGE_SHARE_OF_API_MIN,
                " %",
            ),
            check(
                f"{label} /api/postcodes rate, % of static",
                share(rate("/api/postcodes/<pc>"), static),
                ">=",
                POSTCODES_SHARE_OF_STATIC_MIN,
                " %",
            ),
        ]

    def cases(self, seed: int) -> list[tuple[str, str]]:
        """50 postcodes of seeded services, each with a need: the same ones for the same seed."""
        with connection.cursor() as cur:
            cur.execute(
                "SELECT postal_code FROM (SELECT DISTINCT postal_code FROM directory_location "
                "WHERE postal_code <> '') AS p ORDER BY md5(postal_code || %s) LIMIT %s",
                [str(seed), POSTCODES],
            )
            postcodes = [row[0] for row in cur.fetchall()]
        if not postcodes:
            raise CommandError("No services with a postcode here: seed the directory first.")
        rng = random.Random(seed)
        needs = [code for code, *_ in vocabularies.NEEDS]
        return [(pc, rng.choice(needs)) for pc in postcodes]

    def check_answers(self, base: str, paths: list[str]) -> None:
        """Every URL answers 200 before it is timed (a fast 400 would flatter the figures)."""
        for path in paths:
            with urlopen(base + path, timeout=30) as answer:
                if answer.status != 200:
                    raise ValueError(f"{path} answered {answer.status}")

    def wrk(self, base: str, paths: list[str], tmp: Path) -> dict:
        script = tmp / "rotate.lua"
        script.write_text(rotating_script(paths))
        common = [f"-t{THREADS}", f"-c{CONNECTIONS}", "-s", str(script)]
        # A short warm-up first: both workers' first requests load code and open connections.
        subprocess.run(
            ["wrk", *common, "-d2s", base + "/"], capture_output=True, text=True, check=True
        )
        run = subprocess.run(
            ["wrk", *common, f"-d{SECONDS}s", "--latency", base + "/"],
            capture_output=True,
            text=True,
            check=True,
        )
        return parse_wrk(run.stdout)

    def pgbench(self, cases: list[tuple[str, str]], tmp: Path) -> dict:
        """The search's SQL for the same postcodes and needs, one literal file per postcode."""
        now = timezone.now()
        files = []
        with connection.cursor() as cur:
            for i, (pc, need) in enumerate(cases):
                sql, args = floor_statement({"postcode": pc, "need": need}, now)
                path = tmp / f"q{i}.sql"
                path.write_text(cur.mogrify(sql, args).decode().strip().rstrip(";") + ";\n")
                files += ["-f", f"{path}@1"]
        pgbench = shutil.which("pgbench") or "/usr/lib/postgresql/15/bin/pgbench"
        url = database_url(connection.settings_dict, scheme="postgresql")
        # The app's session settings (JIT and parallel workers off, ...): with JIT on, the
        # floor would spend 50 ms compiling each plan and flatter the app's share of it.
        session = connection.settings_dict["OPTIONS"].get("options", "")
        run = subprocess.run(
            [pgbench, "-n", f"-c{CONNECTIONS}", f"-j{THREADS}", f"-T{SECONDS}", *files]
            + ["--log", f"--log-prefix={tmp / 'pgbench'}", url],
            capture_output=True,
            text=True,
            env={**os.environ, "PGOPTIONS": session},
        )
        if run.returncode != 0:
            raise ValueError(f"pgbench failed (exit {run.returncode}):\n{run.stderr[-2000:]}")
        latencies = []
        for log in tmp.glob("pgbench.*"):
            for line in log.read_text().splitlines():
                fields = line.split()
                if len(fields) >= 3 and fields[2].isdigit():
                    latencies.append(int(fields[2]))
        return parse_pgbench(run.stdout, latencies)

    def show(self, name: str, result: dict) -> None:
        self.stdout.write(
            f"  {self.label}{name:<26} {result['rate']:9,.1f}/s  p50 {result['p50']:7.1f} ms  "
            f"p99 {result['p99']:7.1f} ms  ({result['requests']:,} requests"
            + (f", {result['failures']} FAILED" if result["failures"] else "")
            + f")  load {load1():.2f}"
        )
        self.stdout.flush()
