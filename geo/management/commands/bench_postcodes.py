import math
import os
import random
import statistics
import time
from collections.abc import Callable

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test import Client, override_settings
from django.urls import reverse

from geo.models import Postcode

LOAD_TARGET_SECONDS = 60
RATIO_TARGET = 10
WARM_UP = 50
BATCH = 50
API = "GET /api/postcodes/<pc>"
RAW = "raw SQL primary key"
# The baseline: the cheapest way to answer the same question, one primary-key lookup.
RAW_LOOKUP = (
    "SELECT ST_Y(point::geometry), ST_X(point::geometry) FROM geo_postcode WHERE postcode = %s"
)


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile: the smallest value at or above ``fraction`` of the samples."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


class Command(BaseCommand):
    help = (
        "Measure the postcode gazetteer on the full table: the time load_postcodes takes, and the "
        "median and p95 latency of GET /api/postcodes/<pc> (in-process, through Django's test "
        "client) next to a raw SQL primary-key lookup of the same random real postcodes. Says "
        "PASS or FAIL against the targets: load under 60 s, API median within 10x the raw one."
    )

    def add_arguments(self, parser):
        parser.add_argument("--samples", type=int, default=1000, help="Postcodes to look up.")
        parser.add_argument(
            "--skip-load", action="store_true", help="Measure lookups on the table as it is."
        )
        parser.add_argument("--seed", type=int, default=1, help="Seed for picking postcodes.")

    def handle(self, *args, samples, skip_load, seed, **options):
        if samples < 1:
            raise CommandError("--samples must be at least 1.")
        load_seconds = None if skip_load else self.time_load()
        sample = self.pick(samples, seed)
        # As in production: no query log (DEBUG keeps every query, which would slow the API side).
        with override_settings(DEBUG=False), connection.cursor() as cursor:
            timings = self.measure(sample, {API: self.api_lookup(sample), RAW: raw_lookup(cursor)})
        if not self.report(load_seconds, timings[API], timings[RAW]):
            raise CommandError("The gazetteer missed a target (see above).")

    def time_load(self) -> float:
        self.stdout.write(self.style.MIGRATE_HEADING("Loading the postcode table"))
        started = time.perf_counter()
        call_command("load_postcodes", stdout=self.stdout, stderr=self.stderr)
        return time.perf_counter() - started

    def pick(self, samples: int, seed: int) -> list[str]:
        # Sorted first, so a seed picks the same postcodes again after a reload of the same data.
        everything = list(Postcode.objects.order_by("postcode").values_list("postcode", flat=True))
        if len(everything) < samples:
            raise CommandError(
                f"Only {len(everything):,} postcodes are loaded; run `manage.py load_postcodes`."
            )
        self.stdout.write(
            f"Picked {samples:,} of {len(everything):,} postcodes at random (seed {seed})."
        )
        return random.Random(seed).sample(everything, samples)

    def api_lookup(self, sample: list[str]) -> tuple[Callable, Callable]:
        client = Client()
        urls = {postcode: reverse("geo-postcode", args=[postcode]) for postcode in sample}

        def check(postcode, response) -> None:
            body = response.json() if response.status_code == 200 else {}
            if body.get("precision") != "postcode" or body.get("postcode") != postcode:
                raise CommandError(f"GET {urls[postcode]} answered {response.status_code}")

        return (lambda postcode: client.get(urls[postcode])), check

    def measure(self, sample: list[str], lookups: dict[str, tuple]) -> dict[str, list[float]]:
        """Seconds per lookup, per way of looking up; each answer is checked outside the timing.

        The sample is taken in batches: each way looks up a whole batch in a row (so the raw
        lookup runs in a tight loop, its best case), and the ways take turns going first, so both
        see the same load on a shared machine and neither always finds the rows already cached.
        """
        for postcode in sample[:WARM_UP]:
            for lookup, check in lookups.values():
                check(postcode, lookup(postcode))
        timings = {label: [] for label in lookups}
        order = list(lookups)
        # On a terminal, one line that counts up; in a log, a line every quarter.
        live = self.stdout.isatty()
        every = max(1, len(sample) // (20 if live else 4))
        for start in range(0, len(sample), BATCH):
            batch = sample[start : start + BATCH]
            for label in order if start // BATCH % 2 == 0 else reversed(order):
                lookup, check = lookups[label]
                for postcode in batch:
                    started = time.perf_counter()
                    answer = lookup(postcode)
                    timings[label].append(time.perf_counter() - started)
                    check(postcode, answer)
            done = start + len(batch)
            if done // every > start // every or done == len(sample):
                progress = f"  looked up {done:,}/{len(sample):,} postcodes both ways"
                self.stdout.write(
                    f"\r{progress}" if live else progress, ending="" if live else "\n"
                )
                self.stdout.flush()
        if live:
            self.stdout.write("")
        return timings

    def report(self, load_seconds: float | None, api: list[float], raw: list[float]) -> bool:
        def ms(seconds: float) -> str:
            return f"{seconds * 1000:.3f} ms"

        def verdict(ok: bool) -> str:
            return self.style.SUCCESS("PASS") if ok else self.style.ERROR("FAIL")

        rows = [("", "median", "p95", "target", "")]
        passed = True
        if load_seconds is not None:
            load_ok = load_seconds < LOAD_TARGET_SECONDS
            passed &= load_ok
            target = f"< {LOAD_TARGET_SECONDS} s"
            rows.append(("load_postcodes", f"{load_seconds:.1f} s", "", target, verdict(load_ok)))
        for label, timings in ((API, api), (RAW, raw)):
            rows.append(
                (label, ms(statistics.median(timings)), ms(percentile(timings, 0.95)), "", "")
            )
        ratio = statistics.median(api) / statistics.median(raw)
        ratio_ok = ratio <= RATIO_TARGET
        passed &= ratio_ok
        target = f"<= {RATIO_TARGET}x"
        rows.append(("API / raw (medians)", f"{ratio:.1f}x", "", target, verdict(ratio_ok)))
        self.stdout.write("")
        self.stdout.write(
            self.style.MIGRATE_HEADING(f"Postcode gazetteer, {len(api):,} lookups each way")
        )
        # Other work on the machine slows the API side (Python) more than the raw lookup.
        busy = ", ".join(f"{load:.2f}" for load in os.getloadavg())
        self.stdout.write(f"  load average {busy} on {os.cpu_count()} CPUs")
        for label, median, p95, target, result in rows:
            self.stdout.write(f"  {label:<25}{median:>12}{p95:>12}   {target:<10}{result}")
        return passed


def raw_lookup(cursor) -> tuple[Callable, Callable]:
    def lookup(postcode):
        cursor.execute(RAW_LOOKUP, [postcode])
        return cursor.fetchone()

    def check(postcode, row) -> None:
        if row is None:
            raise CommandError(f"{postcode} is not in geo_postcode")

    return lookup, check
