"""Small hand-made directory data at real places (never the demo fixtures)."""

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from django.contrib.gis.geos import MultiPolygon, Point, Polygon

from directory import vocabularies
from directory.models import (
    Accessibility,
    Attribute,
    Contact,
    CostOption,
    Language,
    Location,
    Organization,
    Phone,
    Schedule,
    Service,
    ServiceArea,
    ServiceAtLocation,
)
from tests.conftest import add_postcode, rebuild_postcode_areas

# Real postcodes with their Code-Point Open positions (WGS84).
PLACES = {
    "SK14 1AA": (53.451886, -2.078805),  # Hyde town centre
    "SK14 1PW": (53.450040, -2.069602),  # ~650 m east of SK14 1AA
    "SK14 4QH": (53.464030, -2.090351),  # ~1.6 km north-west of SK14 1AA
    "SK15 1AA": (53.484924, -2.053956),  # Stalybridge, ~4 km north-east
    "SK16 4AA": (53.476511, -2.083898),  # Dukinfield, ~2.8 km north
    "M1 1AE": (53.483471, -2.231184),  # Manchester, ~10.6 km west
    "SK13 8AA": (53.442931, -1.949316),  # Glossop, ~8.6 km east
    "S7 1AA": (53.364208, -1.483250),  # Sheffield, Sharrow
    "CA1 1AA": (54.890559, -2.943791),  # Carlisle
}


@pytest.fixture
def places(db):
    for postcode, (lat, lng) in PLACES.items():
        add_postcode(postcode, lat, lng)
    rebuild_postcode_areas()
    return PLACES


def need(code: str) -> uuid.UUID:
    return vocabularies.term_id("flourish-needs", code)


def offer(code: str) -> uuid.UUID:
    return vocabularies.term_id("flourish-digital-inclusion", code)


def make_service(
    name: str,
    *,
    at: str | None = None,
    organization: str = "Tameside Community Trust",
    description: str = "",
    needs=(),
    offers=(),
    kind=Service.Kind.COMMUNITY_ASSET,
    access=Service.Access.SELF_REFERRAL,
    status=Service.Status.ACTIVE,
    districts=None,
    price=None,
    languages=(),
    minimum_age=None,
    maximum_age=None,
    sessions=(),
) -> Service:
    """A service at a real postcode (``at``), with needs, offers, a price and weekly sessions.

    ``sessions`` are (byday, "HH:MM", "HH:MM") or (byday, opens, closes, {extra fields}).
    """
    org, _ = Organization.objects.get_or_create(name=organization)
    service = Service.objects.create(
        organization=org,
        name=name,
        description=description,
        kind=kind,
        access=access,
        status=status,
        minimum_age=minimum_age,
        maximum_age=maximum_age,
    )
    if at:
        lat, lng = PLACES[at]
        location = Location.objects.create(
            organization=org,
            name=f"{name} venue",
            point=Point(lng, lat, srid=4326),
            address_1="1 High Street",
            city="Hyde",
            postal_code=at,
        )
        ServiceAtLocation.objects.create(service=service, location=location)
    if districts is not None:
        ServiceArea.objects.create(service=service, postcode_districts=list(districts))
    for code in needs:
        Attribute.objects.create(service=service, taxonomy_term_id=need(code))
    for code in offers:
        Attribute.objects.create(service=service, taxonomy_term_id=offer(code))
    if price is not None:
        CostOption.objects.create(service=service, amount=Decimal(price), option="per session")
    for language in languages:
        Language.objects.create(service=service, name=language[0], code=language[1])
    for session in sessions:
        byday, opens, closes = session[:3]
        extra = session[3] if len(session) > 3 else {}
        Schedule.objects.create(
            service=service,
            byday=byday,
            opens_at=dt.time.fromisoformat(opens),
            closes_at=dt.time.fromisoformat(closes),
            **extra,
        )
    return service


def london(*args) -> dt.datetime:
    """An aware datetime in Europe/London."""
    from directory.models import LONDON as ZONE

    return dt.datetime(*args, tzinfo=ZONE)


@pytest.fixture
def directory(places):
    """Two services using every part of the model: a walk at a venue, a phone line by area."""
    walks = make_service(
        "Hyde Health Walks",
        at="SK14 1PW",
        description="Gentle walks.",
        needs=["physical-activity"],
        price="2.50",
        languages=[("English", "en"), ("Urdu", "ur")],
        minimum_age=18,
        sessions=[("MO,TH", "10:00", "11:30")],
    )
    walks.url, walks.email, walks.assured_date = (
        "https://walks.example/",
        "walks@example.org",
        dt.date(2026, 10, 1),
    )
    walks.save()
    walks.organization.website = "https://trust.example/"
    walks.organization.save()
    sal = walks.service_at_locations.get()
    Accessibility.objects.create(
        location=sal.location, description="Step-free", url="https://a.example/"
    )
    Phone.objects.create(location=sal.location, number="0161 496 0000")
    Schedule.objects.create(
        service_at_location=sal,
        freq="MONTHLY",
        bymonthday="1,15",
        opens_at=dt.time(14),
        closes_at=dt.time(16),
        valid_from=dt.date(2026, 1, 1),
    )
    ServiceArea.objects.create(
        service=walks,
        name="Hyde",
        postcode_districts=["SK14"],
        extent=MultiPolygon(Polygon.from_bbox((-2.10, 53.44, -2.06, 53.46)), srid=4326),
    )
    contact = Contact.objects.create(
        service=walks, name="Sam", title="Coordinator", email="sam@example.org"
    )
    Phone.objects.create(contact=contact, number="0161 496 0001")
    Phone.objects.create(service=walks, number="0161 496 0002", description="Main line")
    CostOption.objects.create(service=walks, option="concession", amount=Decimal("0"))
    line = make_service(
        "Tameside Befriending",
        districts=["SK14", "SK15"],
        organization="Age Well",
        needs=["loneliness"],
        sessions=[("FR", "22:00", "02:00")],
    )
    Language.objects.create(service=line, name="Polish", code="pl")
    return {"walks": walks, "line": line}
