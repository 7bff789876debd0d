import logging
import threading
import time

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connections
from django_tasks_db.management.commands import db_worker

from referrals.tasks import tick

logger = logging.getLogger("flourish.worker")


class Command(db_worker.Command):
    help = (
        "Run Flourish's background worker: emails and messages back, with retries, and the "
        "periodic jobs (chase_referrals every hour, the outbox sweep every minute), so no cron "
        "is needed. Run as many as you like on as many machines: each task runs once. When the "
        "database is unreachable, read-only or full, the worker stops taking tasks, says why, "
        "and carries on by itself when the database is back."
    )

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--no-periodic",
            action="store_false",
            dest="periodic",
            help="Do not enqueue periodic jobs from this worker (others still may).",
        )

    def handle(self, *args, periodic: bool = True, **options):
        if periodic and not options.get("batch"):
            threading.Thread(target=self._tick_forever, name="periodic", daemon=True).start()
        elif periodic:
            tick()
        options.setdefault("reload", False)
        pause = 1.0
        while True:
            try:
                super().handle(*args, **options)
                return
            except DatabaseError as exc:
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
                logger.error(
                    "Not taking tasks: the database refused (%s). Trying again in %.0f s.",
                    reason,
                    pause,
                )
                self.stderr.write(f"Not taking tasks: the database refused ({reason}).")
                self._drop_connections()
                time.sleep(pause)
                pause = min(pause * 2, 30.0)
                self._wait_for_database()
                pause = 1.0

    def _wait_for_database(self) -> None:
        """Until a write would succeed again (a read-only or full database answers reads)."""
        while True:
            try:
                with connections["default"].cursor() as cur:
                    cur.execute(
                        "SELECT pg_is_in_recovery(), current_setting('transaction_read_only')"
                    )
                    in_recovery, read_only = cur.fetchone()
                if not in_recovery and read_only == "off":
                    logger.warning("The database is back: taking tasks again.")
                    self.stderr.write("The database is back: taking tasks again.")
                    return
                reason = "the database is read-only"
            except DatabaseError as exc:
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            logger.error("Still not taking tasks: %s.", reason)
            self._drop_connections()
            time.sleep(2)

    @staticmethod
    def _drop_connections() -> None:
        for conn in connections.all(initialized_only=True):
            try:
                conn.close()
            except DatabaseError:
                pass

    @staticmethod
    def _tick_forever() -> None:
        while True:
            try:
                close_old_connections()
                if due := tick():
                    logger.info("Enqueued periodic work: %s", ", ".join(due))
            except DatabaseError as exc:
                logger.error("Periodic work not enqueued: %s", str(exc).strip().splitlines()[0])
                connections.close_all()
            time.sleep(settings.WORKER_TICK_SECONDS)
