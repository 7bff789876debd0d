from django.core.management.base import BaseCommand, CommandError

from directory.demo import load_demo_directory


class Command(BaseCommand):
    help = (
        "Load the demo directory: fictional services at real postcodes in Hyde, Sheffield and "
        "Carlisle, all marked is_demo. Safe to run again (updates in place)."
    )

    def handle(self, *args, **options):
        try:
            load_demo_directory(stdout=self.stdout)
        except RuntimeError as exc:
            raise CommandError(str(exc)) from None
