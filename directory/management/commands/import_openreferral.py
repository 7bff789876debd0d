import json
import urllib.error

from django.core.management.base import BaseCommand, CommandError

from directory.importers import import_openreferral, read_source


class Command(BaseCommand):
    help = (
        "Import services from Open Referral UK 3.0 (HSDS-UK) JSON: a file path or http(s) URL "
        "holding a single service, a page envelope (all pages are followed), a list, or "
        "newline-delimited JSON. Upserts by id; safe to re-run. Reports each record."
    )

    def add_arguments(self, parser):
        parser.add_argument("source", help="File path or http(s) URL")
        parser.add_argument("--quiet-ok", action="store_true", help="Only report rejected records")

    def handle(self, *args, source, quiet_ok=False, **options):
        try:
            records = read_source(source)
        except (OSError, urllib.error.URLError, json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise CommandError(f"Could not read {source}: {exc}") from None
        self.stdout.write(f"{len(records)} record(s) in {source}.")
        report = import_openreferral(records)
        for outcome in report.outcomes:
            if outcome.action == "rejected":
                self.stderr.write(str(outcome))
            elif not quiet_ok:
                self.stdout.write(str(outcome))
        self.stdout.write(self.style.SUCCESS(report.summary))
