import datetime as dt
import re
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from config.backup import BackupError, restore
from config.served import database_url

NAME_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class Command(BaseCommand):
    help = (
        "Restore a backup made by `backup` into a NEW database (never over an existing one), "
        "then verify it against the backup's manifest: row counts per table, the latest "
        "referral events and the latest access-log entries. Exits non-zero if anything differs."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="The .dump file (its .json manifest must be beside it).")
        parser.add_argument(
            "--database",
            help="Name of the new database (default: <name>_restored_<UTC time>).",
        )

    def handle(self, *args, file, database, **options):
        current = settings.DATABASES["default"]["NAME"]
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S")
        database = database or f"{current}_restored_{stamp}"
        if not NAME_RE.match(database):
            raise CommandError(
                f"{database!r} is not a usable database name: use lower-case letters, digits "
                f"and underscores, starting with a letter (at most 63)."
            )
        try:
            check = restore(Path(file), database, progress=self.stdout.write)
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        width = max(len(t) for t in check.tables)
        self.stdout.write(f"{'table':<{width}}  {'backup':>10}  {'restored':>10}")
        for table, (want, got) in check.tables.items():
            mark = "" if want == got else "  <- DIFFERS"
            self.stdout.write(f"{table:<{width}}  {want!s:>10}  {got!s:>10}{mark}")
        for kind, (want, present) in check.latest.items():
            self.stdout.write(f"latest {kind}: {present} of {want} present and unchanged")
        if not check.ok:
            raise CommandError(
                f"Restored into {database}, but it does not match the backup:\n  "
                + "\n  ".join(check.problems)
            )
        url = database_url(settings.DATABASES["default"], database)
        self.stdout.write(
            f"Restored and verified in {check.seconds:.1f} s: database {database}.\n"
            f"To serve it: DATABASE_URL={url} make run"
        )
