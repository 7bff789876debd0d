"""Small, explicit test data for referrals: one user per role, two practices and two teams."""

import itertools
from datetime import date

from django.contrib.auth.models import Group, User
from django.contrib.gis.geos import MultiPolygon, Point, Polygon

from directory.models import (
    Attribute,
    Location,
    Organization,
    Service,
    ServiceArea,
    ServiceAtLocation,
    TaxonomyTerm,
)
from referrals import permissions
from referrals.models import Practice, PracticeMembership, Team, TeamMembership, nhs_check_digit
from referrals.services import referral_create

PASSWORD = "a-long-test-password-42"
_serial = itertools.count(1)


def nhs_number(n: int | None = None) -> str:
    """A valid NHS number from the 999 test range (never issued)."""
    n = next(_serial) if n is None else n
    while True:
        first_nine = f"999{n:06d}"
        check = nhs_check_digit(first_nine)
        if check is not None:
            return f"{first_nine}{check}"
        n += 1000


def make_user(username: str, *groups: str, practice=None, team=None, **extra) -> User:
    user = User.objects.create_user(
        username, email=f"{username}@example.org", password=PASSWORD, **extra
    )
    for name in groups:
        user.groups.add(Group.objects.get_or_create(name=name)[0])
    if practice:
        PracticeMembership.objects.create(practice=practice, user=user)
    if team:
        TeamMembership.objects.create(team=team, user=user)
    return user


def make_service(
    name: str,
    *,
    lat: float,
    lng: float,
    kind=Service.Kind.HEALTH_TRAINER_SERVICE,
    districts=(),
    polygon=None,
    needs=(),
) -> Service:
    org = Organization.objects.create(name=f"{name} organisation")
    service = Service.objects.create(organization=org, name=name, kind=kind)
    location = Location.objects.create(
        organization=org, name=f"{name} base", point=Point(lng, lat, srid=4326)
    )
    ServiceAtLocation.objects.create(service=service, location=location)
    if districts or polygon:
        ServiceArea.objects.create(
            service=service,
            postcode_districts=list(districts),
            extent=MultiPolygon(Polygon.from_bbox(polygon), srid=4326) if polygon else None,
        )
    for code in needs:
        Attribute.objects.create(
            service=service, taxonomy_term=TaxonomyTerm.objects.needs().get(code=code)
        )
    return service


def make_practice(name: str, ods_code: str) -> Practice:
    return Practice.objects.create(name=name, ods_code=ods_code)


def make_team(name: str, service: Service, **extra) -> Team:
    return Team.objects.create(name=name, service=service, **extra)


def patient_data(**overrides) -> dict:
    data = {
        "nhs_number": nhs_number(),
        "given_name": "Ada",
        "family_name": "Example",
        "date_of_birth": date(1960, 5, 17),
        "postcode": "SK14 1AA",
        "phone": "07700 900123",
        "email": "",
        "preferred_contact": "phone",
    }
    data.update(overrides)
    return data


def make_referral(by: User, team: Team, *, needs=("loneliness",), **overrides):
    referral, _ = referral_create(
        rate_limit=False,
        by=by,
        practice=overrides.pop("practice", None) or by.practices.first(),
        patient=overrides.pop("patient", None) or patient_data(),
        needs=list(TaxonomyTerm.objects.needs().filter(code__in=needs)),
        team=team,
        what_matters=overrides.pop("what_matters", "Getting out of the house"),
        consent_to_contact=True,
        consent_to_share=overrides.pop("consent_to_share", True),
        **overrides,
    )
    return referral


ROLES = permissions


def minutes_ago(minutes: int, *, form: bool = False) -> str:
    """A contact time after the (just made) referral: ISO for the API, local for the form."""
    from datetime import timedelta

    from django.utils import timezone

    at = timezone.localtime() - timedelta(minutes=minutes)
    return at.strftime("%Y-%m-%dT%H:%M") if form else at.isoformat()
