"""Demo data for `make run`: the demo directory, then practices, teams, accounts and referrals.

Everything is fictional. Patients use NHS numbers from the 999 range, which are never issued.
Safe to run twice: the second run finds the demo data present and changes nothing.
"""

import os
import random
import secrets
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from directory.models import Service, TaxonomyTerm
from geo.models import PostcodeNotFound, locate_postcode
from referrals import permissions
from referrals.models import (
    Connection,
    FollowUp,
    Goal,
    Measure,
    Practice,
    PracticeMembership,
    Referral,
    ReferralEvent,
    Team,
    TeamMembership,
    nhs_check_digit,
)
from referrals.services import referral_create

PASSWORD_FILE = Path(settings.BASE_DIR) / "var" / "demo_password"

PLACES = {
    # key: (practice name, fictional ODS code, practice postcode, team name)
    "hyde": ("Clarendon Street Surgery (demo)", "Z99001", "SK14 2BZ", "Hyde Health Trainers"),
    "sheffield": (
        "Sharrow Vale Medical Centre (demo)",
        "Z99002",
        "S11 8JL",
        "Sheffield Link Workers",
    ),
    "carlisle": (
        "Botchergate Family Practice (demo)",
        "Z99003",
        "CA1 1JN",
        "Carlisle Health Trainers",
    ),
}
PEOPLE = {
    "clinician": ("Dr Priya", "Shah"),
    "trainer": ("Jo", "Bennett"),
    "lead": ("Sam", "Okafor"),
}
GIVEN = ["Ada", "Ben", "Carys", "Dev", "Elif", "Frank", "Grace", "Hamza", "Iris", "Jack"]
FAMILY = ["Archer", "Begum", "Clarke", "Dunn", "Evans", "Fox", "Green", "Hussain", "Ito", "Jones"]
NEEDS = [
    ["loneliness", "physical-activity"],
    ["mental-wellbeing"],
    ["money-debt", "food"],
    ["digital-skills"],
    ["physical-activity", "healthy-eating"],
    ["carers", "mental-wellbeing"],
    ["bereavement", "loneliness"],
    ["employment-skills"],
    ["long-term-conditions", "peer-support"],
    ["housing", "money-debt"],
]
# Where each town's ten referrals have got to: (final status, days since referred).
STORIES = [
    ("new", 2),
    ("new", 9),
    ("accepted", 6),
    ("accepted", 12),
    ("contacted", 15),
    ("contacted", 20),
    ("engaged", 30),
    ("engaged", 45),
    ("declined", 16),
    ("closed", 60),
]
PATHS = {
    "new": [],
    "accepted": ["accept"],
    "contacted": ["accept", "contact"],
    "engaged": ["accept", "contact", "engage"],
    "declined": ["decline"],
    "closed": ["accept", "contact", "engage", "close"],
}


def demo_nhs_number(n: int) -> str:
    """The n-th valid number from the 999 test range (Modulus 11)."""
    while True:
        first_nine = f"999{n:06d}"
        check = nhs_check_digit(first_nine)
        if check is not None:
            return f"{first_nine}{check}"
        n += 1


class Command(BaseCommand):
    help = (
        "Load the demo: the demo directory, three practices and teams (Hyde, Sheffield, "
        "Carlisle), one account per role per place, and about 30 referrals. Safe to run twice."
    )

    def handle(self, *args, **options):
        try:
            from directory.demo import DEMO_HEALTH_TRAINER_SERVICES, load_demo_directory
        except ImportError as error:
            raise CommandError(
                f"The demo directory (directory.demo.load_demo_directory) is not available yet: "
                f"{error}"
            ) from None
        load_demo_directory(stdout=self.stdout)
        User = get_user_model()
        if Referral.objects.filter(patient__nhs_number__startswith="999").exists() and (
            User.objects.filter(username="admin").exists()
        ):
            self.stdout.write("Demo referrals and accounts are already present: nothing changed.")
            self._say_password(created=False)
            return
        password = self._password()
        with transaction.atomic():
            teams = self._places(DEMO_HEALTH_TRAINER_SERVICES, password)
            self._central_accounts(password)
            count = self._referrals(teams)
            for user in User.objects.filter(email="", username__in=self._usernames()):
                user.email = f"{user.username}@demo.flourish.invalid"
                user.save(update_fields=["email"])
        self.stdout.write(self.style.SUCCESS(f"Demo referrals: {count} across every status."))
        self._say_password(created=True)

    # -- password ----------------------------------------------------------------------------
    def _password(self) -> str:
        if os.environ.get("DEMO_PASSWORD"):
            password = os.environ["DEMO_PASSWORD"]
            try:
                validate_password(password)
            except ValidationError as error:
                self.stderr.write(
                    f"DEMO_PASSWORD is weak ({' '.join(error.messages)}); using it anyway."
                )
            return password
        if PASSWORD_FILE.exists():
            return PASSWORD_FILE.read_text().strip()
        password = secrets.token_urlsafe(12)
        PASSWORD_FILE.parent.mkdir(exist_ok=True)
        PASSWORD_FILE.write_text(password + "\n")
        PASSWORD_FILE.chmod(0o600)
        return password

    def _usernames(self) -> list[str]:
        return [f"{role}.{place}" for place in PLACES for role in PEOPLE] + [
            "editor",
            "manager",
            "admin",
        ]

    def _say_password(self, *, created: bool) -> None:
        accounts = ", ".join(self._usernames())
        self.stdout.write(f"Demo accounts: {accounts}.")
        if os.environ.get("DEMO_PASSWORD"):
            if created:
                self.stdout.write("Their password is the DEMO_PASSWORD you set.")
            else:
                self.stdout.write(
                    "Their password is the DEMO_PASSWORD set when the demo was first loaded "
                    f"(if none was set then, it is in {self._password_path()})."
                )
        elif PASSWORD_FILE.exists():
            self.stdout.write(
                f"Their password (also in {self._password_path()}): "
                f"{PASSWORD_FILE.read_text().strip()}"
            )
        else:
            self.stdout.write("Their password is the DEMO_PASSWORD set when they were created.")

    def _password_path(self) -> str:
        return str(PASSWORD_FILE.relative_to(settings.BASE_DIR))

    # -- places, teams and people ------------------------------------------------------------
    def _user(self, username, password, first, last, *groups, **extra):
        User = get_user_model()
        user, created = User.objects.get_or_create(
            username=username,
            defaults={
                "first_name": first,
                "last_name": last,
                # Addresses are added after the referrals are made, so loading the demo does
                # not send ~30 "referral update" emails to the console.
                "email": "",
                **extra,
            },
        )
        if created:
            user.set_password(password)
            user.save()
        for name in groups:
            user.groups.add(Group.objects.get_or_create(name=name)[0])
        return user

    def _places(self, services: dict, password: str) -> dict:
        teams = {}
        for key, (practice_name, ods, postcode, team_name) in PLACES.items():
            try:
                point = locate_postcode(postcode).point
            except PostcodeNotFound:
                point = None
            practice, _ = Practice.objects.get_or_create(
                ods_code=ods,
                defaults={
                    "name": practice_name,
                    "address": f"1 Demo Street, {key.title()}",
                    "postcode": postcode,
                    "point": point,
                },
            )
            team, _ = Team.objects.get_or_create(
                service=Service.objects.get(pk=services[key]),
                defaults={"name": team_name, "capacity_per_trainer": 15},
            )
            clinician = self._user(
                f"clinician.{key}", password, *PEOPLE["clinician"], permissions.CLINICIANS
            )
            PracticeMembership.objects.get_or_create(practice=practice, user=clinician)
            trainer = self._user(
                f"trainer.{key}", password, *PEOPLE["trainer"], permissions.TRAINERS
            )
            lead = self._user(f"lead.{key}", password, *PEOPLE["lead"], permissions.LEADS)
            for user in (trainer, lead):
                TeamMembership.objects.get_or_create(team=team, user=user)
            teams[key] = (practice, team, clinician, trainer, lead)
            self.stdout.write(f"Demo practice and team: {practice_name}, {team_name}.")
        return teams

    def _central_accounts(self, password: str) -> None:
        self._user("editor", password, "Eddie", "Tor", permissions.EDITORS, is_staff=True)
        self._user("manager", password, "Morgan", "Ager", permissions.MANAGERS)
        self._user("admin", password, "Ada", "Min", is_staff=True, is_superuser=True)

    # -- referrals ---------------------------------------------------------------------------
    def _referrals(self, teams: dict) -> int:
        from directory.demo import TOWNS

        rng = random.Random(5)  # the same demo every time
        now = timezone.now()
        postcodes = {town.key: town.postcodes for town in TOWNS}
        count = 0
        for place_index, (key, (practice, team, clinician, trainer, lead)) in enumerate(
            teams.items()
        ):
            nearby = list(
                Service.objects.filter(is_demo=True, name__icontains=team.name.split()[0]).exclude(
                    kind=Service.Kind.HEALTH_TRAINER_SERVICE
                )[:6]
            )
            for i, (status, days_ago) in enumerate(STORIES):
                n = place_index * 10 + i
                start = now - timedelta(days=days_ago, hours=rng.randint(1, 8))
                needs = list(TaxonomyTerm.objects.needs().filter(code__in=NEEDS[i]))
                referral, _ = referral_create(
                    rate_limit=False,
                    by=clinician,
                    practice=practice,
                    patient={
                        "nhs_number": demo_nhs_number(100 + n * 7),
                        "given_name": GIVEN[i],
                        "family_name": FAMILY[(i + place_index * 3) % 10],
                        "date_of_birth": date(1940 + (n * 3) % 60, 1 + n % 12, 1 + n % 27),
                        "postcode": postcodes[key][i % len(postcodes[key])],
                        "phone": f"07700 900{n:03d}",
                        "preferred_contact": "phone" if i % 3 else "text",
                        "preferred_language": "English",
                    },
                    needs=needs,
                    team=team,
                    what_matters=[
                        "Getting out of the house and meeting people again.",
                        "Feeling less anxious about money.",
                        "Being able to play with the grandchildren.",
                    ][i % 3],
                    urgency="soon" if i % 4 == 0 else "routine",
                    consent_to_contact=True,
                    consent_to_share=i % 5 != 0,
                    services_in_mind=nearby[:1] if i % 3 == 0 else [],
                    idempotency_key=f"demo:{n}",
                )
                self._backdate(referral, start)
                self._live(referral, status, start, now, trainer, lead, nearby, rng)
                count += 1
        return count

    def _backdate(self, referral: Referral, at) -> None:
        Referral.objects.filter(pk=referral.pk).update(created_at=at, status_changed_at=at)
        referral.events.update(at=at)
        referral.refresh_from_db()

    def _step_at(self, referral: Referral, at) -> None:
        # Demo only: the move just happened "now"; place it back in the story's past.
        Referral.objects.filter(pk=referral.pk).update(status_changed_at=at)
        ReferralEvent.objects.filter(pk=referral.events.latest("pk").pk).update(at=at)
        referral.notifications.filter(created_at__gt=at).update(created_at=at)
        referral.refresh_from_db()

    def _live(self, referral, status, start, now, trainer, lead, nearby, rng) -> None:
        span = now - start
        steps = PATHS[status]
        for k, step in enumerate(steps):
            at = start + span * (k + 1) / (len(steps) + 1)
            if step == "accept":
                who = lead if rng.random() < 0.3 else trainer
                referral.accept(by=who, version=referral.version, assign_to=trainer)
            elif step == "decline":
                referral.decline(
                    by=lead,
                    version=referral.version,
                    reason="The person lives outside our area; please refer to the neighbouring team.",
                )
            elif step == "contact":
                self._contacts(referral, trainer, start, at, rng)
                referral.contact(by=trainer, version=referral.version)
            elif step == "engage":
                self._plan(referral, trainer, at, nearby)
                referral.engage(by=trainer, version=referral.version)
            elif step == "close":
                self._measures(referral, trainer, at.date())
                referral.close(
                    by=trainer,
                    version=referral.version,
                    outcome=Referral.Outcome.GOALS_MET,
                    note="Walking twice a week and back in touch with friends.",
                )
            self._step_at(referral, at)
        if status == "accepted" and referral.created_at < now - timedelta(days=10):
            # Three unanswered calls: the page suggests closing as "could not contact".
            for d in (3, 2, 1):
                FollowUp.objects.create(
                    referral=referral,
                    at=now - timedelta(days=d),
                    method="phone",
                    reached=False,
                    notes="No answer; left a voicemail.",
                    by=trainer,
                )
        if status == "engaged":
            self._measures(referral, trainer, now.date())

    def _contacts(self, referral, trainer, start, at, rng) -> None:
        FollowUp.objects.create(
            referral=referral,
            at=start + (at - start) / 2,
            method="phone",
            reached=False,
            notes="No answer.",
            by=trainer,
        )
        FollowUp.objects.create(
            referral=referral,
            at=at,
            method=rng.choice(["phone", "face_to_face"]),
            reached=True,
            duration_minutes=rng.choice([20, 30, 45]),
            notes="Introduced myself and the service; agreed to meet.",
            by=trainer,
        )

    def _plan(self, referral, trainer, at, nearby) -> None:
        Goal.objects.create(
            referral=referral,
            text="Go for a walk with someone twice a week.",
            status=Goal.Status.IN_PROGRESS,
            agreed_on=at.date(),
            status_changed_on=at.date(),
            by=trainer,
        )
        Goal.objects.create(
            referral=referral,
            text="Sort out my bills so I stop worrying.",
            agreed_on=at.date(),
            status_changed_on=at.date(),
            by=trainer,
        )
        for service, state in zip(nearby[:2], ["attended", "referred"], strict=False):
            Connection.objects.get_or_create(
                referral=referral,
                service=service,
                defaults={"status": state, "by": trainer, "created_at": at, "updated_at": at},
            )
        self._measure_set(referral, trainer, at.date(), first=True)

    def _measures(self, referral, trainer, on) -> None:
        self._measure_set(referral, trainer, on, first=False)

    def _measure_set(self, referral, trainer, on, *, first: bool) -> None:
        lift = 0 if first else 2
        Measure.objects.create(
            referral=referral,
            instrument="ons4",
            taken_on=on,
            by=trainer,
            life_satisfaction=4 + lift,
            worthwhile=5 + lift,
            happiness=4 + lift,
            anxiety=7 - lift,
        )
        # SWEMWBS item by item (each 1-5), the total their sum: 18 at first, 24 later.
        items = [3, 2, 3, 2, 3, 2, 3]
        for n in range(lift * 3):
            items[n % len(items)] += 1
        Measure.objects.create(
            referral=referral,
            instrument="swemwbs",
            taken_on=on,
            by=trainer,
            swemwbs_total=sum(items),
            **dict(zip(Measure.SWEMWBS_ITEMS, items, strict=True)),
        )
        Measure.objects.create(
            referral=referral,
            instrument="pam",
            taken_on=on,
            by=trainer,
            pam_level=2 + (0 if first else 1),
            pam_score=Decimal("48.5") + lift * 5,  # PAM scores have one decimal place
        )
