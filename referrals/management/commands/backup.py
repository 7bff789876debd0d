from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from config.backup import BackupError, backup


class Command(BaseCommand):
    help = (
        "Back up the whole database (referrals, events, follow-ups, measures, the access log, "
        "the directory and the postcodes) with pg_dump's custom format in one consistent "
        "snapshot, and write a manifest beside it (row counts per table, the latest referral "
        "events and access-log entries, the checksum) that `restore` verifies against."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--output",
            default=str(settings.BASE_DIR / "var" / "backups"),
            help="Folder for the dump and its manifest (default: var/backups).",
        )

    def handle(self, *args, output, **options):
        try:
            made = backup(Path(output), progress=self.stdout.write)
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        rows = sum(made.tables.values())
        self.stdout.write(
            f"Backup written: {made.path}\n"
            f"  size     {made.size / 1e6:,.1f} MB ({made.size:,} bytes)\n"
            f"  took     {made.seconds:.1f} s\n"
            f"  sha256   {made.sha256}\n"
            f"  rows     {rows:,} in {len(made.tables)} tables\n"
            f"  manifest {made.manifest_path}\n"
            f"Restore it with: make restore FILE={made.path}"
        )
