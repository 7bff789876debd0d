import json
import urllib.error

from django.core.management.base import BaseCommand, CommandError

from directory.importers import import_openreferral, read_feed


class Command(BaseCommand):
    help = (
        "Import services from Open Referral UK 3.0 (HSDS-UK) JSON: a file path or http(s) URL "
        "holding a single service, a page envelope (all pages are followed), a list, or "
        "newline-delimited JSON. An organization imports with the services it lists, a "
        "service_at_location with its service; the feed's root, taxonomies and lone locations "
        "are recognised and reported (nothing to import). Upserts by id; safe to re-run. "
        "Reports each record, with what was normalised or left out of it and why."
    )

    def add_arguments(self, parser):
        parser.add_argument("source", help="File path or http(s) URL")
        parser.add_argument("--quiet-ok", action="store_true", help="Only report rejected records")

    def handle(self, *args, source, quiet_ok=False, **options):
        try:
            records, notes = read_feed(source)
        except (OSError, urllib.error.URLError, json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise CommandError(f"Could not read {source}: {exc}") from None
        self.stdout.write(f"{len(records)} record(s) in {source}.")
        for note in notes:
            self.stdout.write(self.style.WARNING(f"Note: {note}"))
        report = import_openreferral(records)
        report.notes = notes
        for outcome in report.outcomes:
            if outcome.action == "rejected":
                self.stderr.write(str(outcome))
            elif not quiet_ok:
                self.stdout.write(str(outcome))
        self.stdout.write(self.style.SUCCESS(report.summary))
