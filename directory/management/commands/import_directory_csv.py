from django.core.management.base import BaseCommand, CommandError

from directory.importers import import_directory_csv, read_csv


class Command(BaseCommand):
    help = (
        "Import services from a spreadsheet saved as CSV, in the template described in "
        "docs/directory_csv.md (example: fixtures/directory_template.csv). Locations are placed "
        "from their postcode. Errors name the row and column; valid rows are kept. Safe to re-run."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="Path to the CSV file")

    def handle(self, *args, file, **options):
        try:
            handle = read_csv(file)
        except OSError as exc:
            raise CommandError(f"Could not open {file}: {exc}") from None
        with handle:
            report = import_directory_csv(handle)
        for outcome in report.outcomes:
            (self.stderr if outcome.action in ("rejected", "warning") else self.stdout).write(
                str(outcome)
            )
        self.stdout.write(self.style.SUCCESS(report.summary))
