from django.conf import settings
from django.core.management.base import BaseCommand

from referrals.services import chase_referrals


class Command(BaseCommand):
    help = (
        "Chase referrals nobody has picked up: remind the team after REFERRAL_CHASE_AFTER_DAYS, "
        "decline as 'not picked up in time' (and tell the referrer) after "
        "REFERRAL_DECLINE_AFTER_DAYS. Safe to run every hour."
    )

    def handle(self, *args, **options):
        result = chase_referrals()
        self.stdout.write(
            f"Reminded teams about {len(result.reminded)} referral(s) waiting "
            f"{settings.REFERRAL_CHASE_AFTER_DAYS}+ days; declined {len(result.declined)} "
            f"waiting {settings.REFERRAL_DECLINE_AFTER_DAYS}+ days."
        )
