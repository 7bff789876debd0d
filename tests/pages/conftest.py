"""The pages' test data (small, hand-made, at real Hyde postcodes) and the browser harness.

Browser tests (``-m browser``) drive Debian's Chromium through Playwright against pytest-django's
``live_server``; ``--screenshots`` also saves one PNG per journey under docs/screenshots/.
"""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.gis.geos import Point

from directory import vocabularies
from directory.models import (
    Accessibility,
    Attribute,
    CostOption,
    Language,
    Location,
    Organization,
    Phone,
    Schedule,
    Service,
    ServiceArea,
    ServiceAtLocation,
    Taxonomy,
    TaxonomyTerm,
)
from tests.conftest import add_postcode, rebuild_postcode_areas

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"

# Real postcodes (Code-Point Open positions, WGS84).
PLACES = {
    "SK14 1AA": (53.451886, -2.078805),  # Hyde town centre
    "SK14 1PW": (53.450040, -2.069602),  # ~650 m east
    "SK14 4QH": (53.464030, -2.090351),  # ~1.6 km north-west
    "SK15 1AA": (53.484924, -2.053956),  # Stalybridge, ~4 km north-east
    "SK13 8AA": (53.442931, -1.949316),  # Glossop, ~8.6 km east
    "EC1A 1BB": (51.524565, -0.112042),  # London
}


def _need(code: str):
    return vocabularies.term_id("flourish-needs", code)


def _offer(code: str):
    return vocabularies.term_id("flourish-digital-inclusion", code)


def make_service(
    name: str,
    *,
    at: str | None,
    organization: str = "Hyde Community Action",
    description: str = "",
    kind: str = Service.Kind.COMMUNITY_ASSET,
    access: str = Service.Access.SELF_REFERRAL,
    status: str = Service.Status.ACTIVE,
    needs=(),
    offers=(),
    price: str | None = None,
    sessions=(),
    phone: str = "",
    districts=None,
    address: str = "1 Market Street",
    east_m: float = 0,
) -> Service:
    org, _ = Organization.objects.get_or_create(name=organization)
    service = Service.objects.create(
        organization=org,
        name=name,
        description=description,
        kind=kind,
        access=access,
        status=status,
    )
    if at:
        lat, lng = PLACES[at]
        lng += east_m / 67_000  # about 67 km per degree of longitude at Hyde's latitude
        location = Location.objects.create(
            organization=org,
            name=f"{name} venue",
            point=Point(lng, lat, srid=4326),
            address_1=address,
            city="Hyde",
            postal_code=at,
        )
        ServiceAtLocation.objects.create(service=service, location=location)
    for code in needs:
        Attribute.objects.create(service=service, taxonomy_term_id=_need(code))
    for code in offers:
        Attribute.objects.create(service=service, taxonomy_term_id=_offer(code))
    if price is not None:
        CostOption.objects.create(service=service, amount=Decimal(price), option="per session")
    for byday, opens, closes in sessions:
        Schedule.objects.create(
            service=service,
            byday=byday,
            opens_at=dt.time.fromisoformat(opens),
            closes_at=dt.time.fromisoformat(closes),
        )
    if phone:
        Phone.objects.create(service=service, number=phone)
    if districts:
        ServiceArea.objects.create(service=service, name="Tameside", postcode_districts=districts)
    return service


@dataclass
class Directory:
    walking: Service
    money: Service
    online: Service
    trainers: Service
    helpline: Service
    far_away: Service
    closed: Service
    defunct: Service


@pytest.fixture
def directory(db) -> Directory:
    """A tiny directory around Hyde (SK14), with every kind of service."""
    # A transactional test before this one may have flushed the vocabularies the migration put in.
    vocabularies.install(Taxonomy, TaxonomyTerm)
    for postcode, (lat, lng) in PLACES.items():
        add_postcode(postcode, lat, lng)
    rebuild_postcode_areas()

    walking = make_service(
        "Hyde Walking Group",
        at="SK14 1PW",
        organization="Hyde Ramblers",
        description="Friendly short walks around Hyde Park for all abilities.",
        access=Service.Access.DROP_IN,
        needs=["physical-activity", "loneliness"],
        sessions=[("TU", "10:00", "12:00")],
        phone="0161 496 0001",
        address="Hyde Park bandstand",
    )
    walking.email = "walks@example.org"
    walking.url = "https://walks.example.org/"
    # Checked by its organisation a month ago: the page says "Checked in <that month>".
    walking.assured_date = dt.date.today() - dt.timedelta(days=30)
    walking.save()
    location = walking.service_at_locations.get().location
    Accessibility.objects.create(location=location, description="Step-free paths")
    Language.objects.create(service=walking, name="English", code="en")
    Language.objects.create(service=walking, name="Urdu", code="ur")

    money = make_service(
        "Money Matters Hyde",
        at="SK14 1AA",
        organization="Hyde Advice Centre",
        description="Benefit checks and help with debts.",
        access=Service.Access.REFERRAL,
        needs=["money-debt"],
        price="3.00",
        sessions=[("MO,TH", "09:30", "13:00")],
        phone="0161 496 0002",
        east_m=120,
    )
    online = make_service(
        "Hyde Library Online Centre",
        at="SK14 1AA",
        organization="Tameside Libraries",
        description="Free computers and help to get online.",
        kind=Service.Kind.ONLINE_CENTRE,
        access=Service.Access.DROP_IN,
        needs=["digital-skills"],
        offers=["free-wifi", "nhs-app-help", "device-loan"],
        sessions=[("MO,TU,WE,TH,FR", "09:00", "17:00")],
        phone="0161 496 0003",
        east_m=300,
    )
    # Based in Stalybridge (about 4 km away) but covering all of SK14: found through its area.
    trainers = make_service(
        "Tameside Health Trainers",
        at="SK15 1AA",
        organization="Tameside Wellbeing",
        description="Health trainers help you set goals to eat well and move more.",
        kind=Service.Kind.HEALTH_TRAINER_SERVICE,
        needs=["physical-activity", "healthy-eating"],
        phone="0161 496 0004",
        districts=["SK14", "SK15"],
    )
    trainers.email = "trainers@example.org"
    trainers.save()
    # A session from midnight to midnight: open whenever the test runs.
    helpline = make_service(
        "Hyde Listening Line",
        at="SK14 4QH",
        organization="Hyde Listening Line",
        needs=["loneliness", "mental-wellbeing"],
        sessions=[("", "00:00", "00:00")],
        phone="0161 496 0005",
    )
    far_away = make_service("Clerkenwell Choir", at="EC1A 1BB", needs=["arts-creativity"])
    closed = make_service(
        "Hyde Tea Dance",
        at="SK14 1PW",
        status=Service.Status.TEMPORARILY_CLOSED,
        needs=["loneliness"],
        east_m=60,
    )
    defunct = make_service(
        "Old Lunch Club",
        at="SK14 1AA",
        status=Service.Status.DEFUNCT,
        needs=["food"],
    )
    return Directory(walking, money, online, trainers, helpline, far_away, closed, defunct)


@pytest.fixture
def screenshots(request) -> bool:
    return request.config.getoption("--screenshots")
