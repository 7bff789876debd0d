from dataclasses import dataclass

import pytest
from django.contrib.auth.models import User

from directory import vocabularies
from directory.models import Taxonomy, TaxonomyTerm
from referrals import permissions
from referrals.models import Practice, Referral, Team
from tests.conftest import add_postcode, rebuild_postcode_areas
from tests.referrals.factories import (
    make_practice,
    make_referral,
    make_service,
    make_team,
    make_user,
)


@dataclass
class World:
    practice: Practice
    other_practice: Practice
    team: Team
    other_team: Team
    clinician: User
    trainer: User
    lead: User
    other_clinician: User
    other_trainer: User
    editor: User
    manager: User
    admin: User
    outsider: User
    referral: Referral

    def user(self, role: str) -> User | None:
        return None if role == "anonymous" else getattr(self, role)


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    # Dozens of users per test: a fast hasher keeps the permission matrix quick.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def world(db) -> World:
    """Hyde (SK14) and London (EC1A): a practice and a team in each, one user per role, and one
    new referral from the Hyde practice to the Hyde team."""
    # Transactional tests flush tables; make sure the needs vocabulary is there.
    vocabularies.install(Taxonomy, TaxonomyTerm)
    add_postcode("SK14 1AA", 53.451886, -2.078805)
    add_postcode("SK14 1PW", 53.450040, -2.069602)
    add_postcode("EC1A 1BB", 51.524565, -0.112042)
    rebuild_postcode_areas()
    practice = make_practice("Hyde Health Centre", "P89001")
    other_practice = make_practice("Barts Surgery", "F83001")
    hyde = make_service("Hyde health trainers", lat=53.4505, lng=-2.0790, districts=["SK14"])
    london = make_service("City health trainers", lat=51.5246, lng=-0.1100, districts=["EC1A"])
    team = make_team("Hyde health trainers", hyde)
    other_team = make_team("City health trainers", london)
    clinician = make_user("clinician", permissions.CLINICIANS, practice=practice)
    world = World(
        practice=practice,
        other_practice=other_practice,
        team=team,
        other_team=other_team,
        clinician=clinician,
        trainer=make_user("trainer", permissions.TRAINERS, team=team),
        lead=make_user("lead", permissions.LEADS, team=team),
        other_clinician=make_user(
            "other_clinician", permissions.CLINICIANS, practice=other_practice
        ),
        other_trainer=make_user("other_trainer", permissions.TRAINERS, team=other_team),
        editor=make_user("editor", permissions.EDITORS),
        manager=make_user("manager", permissions.MANAGERS),
        admin=User.objects.create_superuser(
            "admin", "admin@example.org", "a-long-test-password-42"
        ),
        outsider=make_user("outsider"),
        referral=make_referral(clinician, team),
    )
    return world
