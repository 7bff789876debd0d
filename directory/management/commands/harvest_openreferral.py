from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from directory import harvest


class Command(BaseCommand):
    help = (
        "Harvest services from another directory's Open Referral UK 3.0 API: "
        "`harvest_openreferral URL` walks URL/services?page=N (the feed is added to the admin's "
        "feeds the first time), `harvest_openreferral --due` harvests every active feed whose "
        "interval has passed. Run --due hourly from cron or a systemd timer (each feed keeps its "
        "own interval; a feed being harvested is not started twice). Only what changed is "
        "written; what a complete walk no longer finds is withdrawn (made inactive, never "
        "deleted); a walk that fails half way keeps what it got, withdraws nothing and exits "
        "non-zero."
    )

    def add_arguments(self, parser):
        parser.add_argument("url", nargs="?", help="The API's base URL (with or without /)")
        parser.add_argument("--due", action="store_true", help="Harvest every feed that is due")
        parser.add_argument("--name", help="The feed's name (default: the host)")
        parser.add_argument(
            "--licence", help='The licence the feed is published under, e.g. "OGL v3.0"'
        )
        parser.add_argument("--licence-url", help="Where the licence is published")
        parser.add_argument(
            "--republish",
            action="store_true",
            default=None,
            help="The licence lets us republish these services in our own feed",
        )
        parser.add_argument(
            "--no-republish",
            dest="republish",
            action="store_false",
            help="Show them on our pages but leave them out of our feed (the default)",
        )
        parser.add_argument(
            "--timeout", type=float, default=harvest.TIMEOUT_SECONDS, help="Seconds per request"
        )
        parser.add_argument(
            "--delay",
            type=float,
            default=harvest.DELAY_SECONDS,
            help="Seconds between requests (be polite)",
        )
        parser.add_argument(
            "--max-pages",
            type=int,
            default=harvest.MAX_PAGES,
            help="Stop after this many pages (the walk is then incomplete: nothing withdrawn)",
        )
        parser.add_argument("--per-page", type=int, help="Ask for this many services a page")
        parser.add_argument(
            "--always-details",
            action="store_true",
            help="Fetch /services/{id} for every service, not only for sparse list items",
        )
        parser.add_argument(
            "--allow-mass-withdrawal",
            action="store_true",
            help="Withdraw what the feed no longer lists even when that is more than half its "
            "services (and more than five), or all of them; otherwise none is withdrawn",
        )
        parser.add_argument(
            "--contact",
            default="",
            help="A URL or e-mail put in our User-Agent for the feed's owner",
        )

    def handle(self, *args, url=None, due=False, **options):
        if bool(url) == bool(due):
            raise CommandError("Give either a URL or --due.")
        walk = {
            "timeout": options["timeout"],
            "delay": options["delay"],
            "max_pages": options["max_pages"],
            "per_page": options["per_page"],
            "always_details": options["always_details"],
            "allow_mass_withdrawal": options["allow_mass_withdrawal"],
            "contact": options["contact"],
            "progress": self.stdout.write,
        }
        if due:
            feeds = harvest.due_feeds()
            if not feeds:
                self.stdout.write("No feed is due.")
        else:
            try:
                feeds = [
                    harvest.feed_for_url(
                        url,
                        name=options["name"],
                        licence=options["licence"],
                        licence_url=options["licence_url"],
                        republish=options["republish"],
                    )
                ]
            except harvest.HarvestError as exc:
                raise CommandError(str(exc)) from None
            except ValidationError as exc:
                raise CommandError("; ".join(exc.messages)) from None
        failed = []
        for feed in feeds:
            self.stdout.write(f"Harvesting {feed.name} ({feed.base_url})")
            report = harvest.harvest(feed, **walk)
            for line in report.warnings:
                self.stderr.write(f"warning: {line}")
            for line in report.rejections:
                self.stderr.write(f"rejected {line}")
            if report.error:
                failed.append(feed)
                self.stderr.write(self.style.ERROR(f"{feed.name}: {report.summary}"))
            elif not report.complete:
                self.stdout.write(self.style.WARNING(f"{feed.name}: {report.summary}"))
            else:
                self.stdout.write(self.style.SUCCESS(f"{feed.name}: {report.summary}"))
        if failed:
            raise CommandError(
                f"{len(failed)} harvest(s) failed: {', '.join(f.name for f in failed)}."
            )
