"""Demo directory: fictional services in three real places, for trying Flourish out.

Everything here is made up (the organisations, venues, phone numbers and people) except the
postcodes, which are real ones from Hyde (SK14), Sheffield around Sharrow (S7, S11) and
Carlisle (CA1 to CA3); locations are placed from them through the postcode gazetteer. Every
row is marked ``is_demo=True``. Ids are uuid5 of a stable key, so loading twice updates in place
and other code (the referrals demo) can point at the health trainer services by id.
"""

import datetime as dt
import uuid
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction

from directory import vocabularies
from directory.models import (
    DIGITAL_TAXONOMY,
    NEEDS_TAXONOMY,
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
from geo.models import PostcodeNotFound, locate_postcode


def demo_id(key: str) -> uuid.UUID:
    return uuid.uuid5(vocabularies.NAMESPACE, f"demo/{key}")


DEMO_HEALTH_TRAINER_SERVICES = {
    "hyde": demo_id("health-trainer-service/hyde"),
    "sheffield": demo_id("health-trainer-service/sheffield"),
    "carlisle": demo_id("health-trainer-service/carlisle"),
}

FICTIONAL = "Demo listing: this service is fictional, made up to show how Flourish works."


@dataclass
class Town:
    key: str
    name: str
    council: str
    region: str
    districts: list[str]  # what the health trainers cover
    postcodes: list[str]  # real postcodes, all in geo_postcode
    streets: list[str]
    languages: list[tuple[str, str]]  # community languages besides English
    phone_prefix: str


TOWNS = [
    Town(
        key="hyde",
        name="Hyde",
        council="Tameside",
        region="Greater Manchester",
        districts=["SK14", "SK15", "SK16"],
        postcodes=[
            "SK14 1AA",
            "SK14 1NA",
            "SK14 2BZ",
            "SK14 2RB",
            "SK14 3DW",
            "SK14 3LA",
            "SK14 4AB",
            "SK14 4GU",
            "SK14 4PZ",
            "SK14 5GB",
            "SK14 5QE",
            "SK14 6JE",
        ],
        streets=[
            "Market Street",
            "Clarendon Place",
            "Union Street",
            "Grange Road",
            "Mottram Road",
            "Stockport Road",
            "Newton Street",
            "Great Norbury Street",
        ],
        languages=[("Urdu", "ur"), ("Bengali", "bn"), ("Polish", "pl")],
        phone_prefix="0161 496 0",
    ),
    Town(
        key="sheffield",
        name="Sheffield",
        council="Sheffield",
        region="South Yorkshire",
        districts=["S7", "S11", "S2", "S8"],
        postcodes=[
            "S7 1AA",
            "S7 1DN",
            "S7 1FQ",
            "S7 1LL",
            "S7 1RJ",
            "S7 2BE",
            "S11 7DA",
            "S11 8DJ",
            "S11 8JL",
            "S11 8RD",
            "S11 8UL",
            "S11 9BX",
        ],
        streets=[
            "Sharrow Vale Road",
            "Abbeydale Road",
            "Sharrow Lane",
            "Cemetery Road",
            "Ecclesall Road",
            "London Road",
            "Wostenholm Road",
            "Montgomery Road",
        ],
        languages=[("Urdu", "ur"), ("Arabic", "ar"), ("Somali", "so"), ("Punjabi", "pa")],
        phone_prefix="0114 496 0",
    ),
    Town(
        key="carlisle",
        name="Carlisle",
        council="Cumberland",
        region="Cumbria",
        districts=["CA1", "CA2", "CA3"],
        postcodes=[
            "CA1 1AA",
            "CA1 1JN",
            "CA1 2BD",
            "CA1 2JQ",
            "CA1 3DS",
            "CA2 4AA",
            "CA2 5EG",
            "CA2 6AS",
            "CA2 7DP",
            "CA3 8AP",
            "CA3 8JY",
            "CA3 9DZ",
        ],
        streets=[
            "English Street",
            "Botchergate",
            "Warwick Road",
            "Lowther Street",
            "Scotch Street",
            "London Road",
            "Wigton Road",
            "Stanwix Bank",
        ],
        languages=[("Polish", "pl"), ("Romanian", "ro")],
        phone_prefix="01228 496 0",
    ),
]


@dataclass
class Listing:
    """A kind of service each town gets, named and placed locally."""

    key: str
    name: str  # "{town}" is replaced by the town's name
    organization: str
    description: str
    needs: list[str]
    kind: str = Service.Kind.COMMUNITY_ASSET
    access: str = Service.Access.SELF_REFERRAL
    # (byday or "", opens, closes[, bymonthday]); closes before opens runs past midnight.
    sessions: list[tuple] = field(default_factory=list)
    price: Decimal | None = None  # None: free
    price_option: str = "per session"
    minimum_age: int | None = None
    maximum_age: int | None = None
    offers: list[str] = field(default_factory=list)
    virtual: bool = False  # no building: found through its service area (the town's districts)
    venue: str = "Community Centre"
    step_free: bool = True
    community_languages: int = 0  # how many of the town's community languages it speaks


LISTINGS = [
    Listing(
        "walking-group",
        "{town} Health Walks",
        "{town} Ramblers Together",
        "Friendly, gentle walks of about an hour on paths and parks, led by trained volunteers. "
        "Tea afterwards. Good for anyone getting back into exercise.",
        ["physical-activity", "loneliness", "nature-green-space"],
        access=Service.Access.DROP_IN,
        sessions=[("MO,TH", "10:00", "11:30")],
        venue="Park Gates",
    ),
    Listing(
        "community-pantry",
        "{town} Community Pantry",
        "{town} Food Network",
        "A community pantry: members pay a small weekly amount and choose groceries worth much "
        "more. Fresh fruit and vegetables, and a warm welcome.",
        ["food", "money-debt"],
        access=Service.Access.DROP_IN,
        sessions=[("WE", "10:00", "12:00"), ("WE", "14:00", "16:00"), ("SA", "10:00", "12:00")],
        price=Decimal("3.50"),
        price_option="weekly membership",
        venue="Church Hall",
    ),
    Listing(
        "food-bank",
        "{town} Food Bank",
        "{town} Food Network",
        "Emergency food parcels for three days. Bring a voucher from your GP, social worker or "
        "advice centre, or call us to talk about getting one.",
        ["food"],
        access=Service.Access.REFERRAL,
        sessions=[("TU,FR", "12:00", "14:00")],
        venue="Methodist Church",
    ),
    Listing(
        "debt-advice",
        "{town} Money Advice",
        "{town} Advice Centre",
        "Free, confidential help with debt, benefits checks, energy bills and budgeting, face "
        "to face or by phone.",
        ["money-debt", "legal-advice"],
        sessions=[("MO,TU,TH", "09:30", "16:00")],
        venue="Advice Centre",
        community_languages=2,
    ),
    Listing(
        "mens-shed",
        "{town} Men's Shed",
        "{town} Men's Shed",
        "A workshop where men (and anyone who likes making things) get together for woodwork, "
        "repairs, tea and a chat.",
        ["loneliness", "mental-wellbeing", "older-people"],
        access=Service.Access.DROP_IN,
        sessions=[("TU,TH", "10:00", "15:00")],
        price=Decimal("1.00"),
        venue="Workshop",
    ),
    Listing(
        "singing",
        "Sing Your Heart Out {town}",
        "{town} Arts for Health",
        "A relaxed singing group for wellbeing. No auditions, no reading music, just singing "
        "together.",
        ["arts-creativity", "mental-wellbeing", "loneliness"],
        access=Service.Access.DROP_IN,
        sessions=[("WE", "13:30", "15:00")],
        venue="Arts Centre",
    ),
    Listing(
        "knit-natter",
        "Knit and Natter {town}",
        "{town} Library Friends",
        "Bring your knitting, crochet or sewing, or learn from scratch. Wool provided.",
        ["loneliness", "arts-creativity", "older-people"],
        access=Service.Access.DROP_IN,
        sessions=[("FR", "10:00", "12:00")],
        venue="Library",
    ),
    Listing(
        "carers-cafe",
        "{town} Carers' Café",
        "{town} Carers Centre",
        "For people looking after a family member or friend: a break, a brew and advice on "
        "carers' assessments, breaks and benefits.",
        ["carers", "mental-wellbeing"],
        sessions=[("", "10:00", "12:00", "1,15")],
        venue="Carers Centre",
        community_languages=1,
    ),
    Listing(
        "bereavement",
        "{town} Bereavement Support Group",
        "Cruse-style Bereavement Care {town}",
        "A small, gentle group for adults who have lost someone close. Trained volunteers; "
        "talk as much or as little as you want.",
        ["bereavement", "mental-wellbeing"],
        sessions=[("TH", "18:30", "20:00")],
        minimum_age=18,
        venue="Quaker Meeting House",
    ),
    Listing(
        "peer-support",
        "{town} Mental Health Peer Support",
        "{town} Mind Matters",
        "Groups run by and for people with experience of anxiety, depression and other "
        "mental health problems.",
        ["mental-wellbeing", "peer-support"],
        sessions=[("MO", "18:00", "20:00")],
        minimum_age=18,
        venue="Wellbeing Hub",
        community_languages=1,
    ),
    Listing(
        "nightline",
        "{town} Night Listening Line",
        "{town} Mind Matters",
        "Someone to talk to late at night, by phone, when things feel too much. Not a crisis "
        "service: in an emergency call 999 or NHS 111.",
        ["mental-wellbeing", "loneliness"],
        sessions=[("FR,SA", "22:00", "02:00")],
        virtual=True,
        minimum_age=16,
    ),
    Listing(
        "garden",
        "{town} Community Garden",
        "{town} Growing Together",
        "Grow fruit and vegetables with others on our community plot. Tools, gloves and "
        "seeds provided; all abilities welcome, raised beds for wheelchair users.",
        ["nature-green-space", "physical-activity", "volunteering"],
        access=Service.Access.DROP_IN,
        sessions=[("SA", "10:00", "13:00"), ("WE", "14:00", "16:00")],
        venue="Allotments",
    ),
    Listing(
        "stop-smoking",
        "{town} Stop Smoking Clinic",
        "{town} Healthy Lives",
        "Free support to stop smoking: weekly sessions with an adviser, and nicotine "
        "replacement or a vape starter kit.",
        ["smoking-alcohol"],
        sessions=[("TU", "17:00", "19:00")],
        minimum_age=12,
        venue="Health Centre",
        community_languages=2,
    ),
    Listing(
        "toddlers",
        "{town} Stay and Play",
        "{town} Family Hub",
        "Play sessions for babies and toddlers with their parents and carers; health visitor "
        "drop-in on the first session of the month.",
        ["parenting-family", "loneliness"],
        access=Service.Access.DROP_IN,
        sessions=[("MO,WE", "09:30", "11:00")],
        price=Decimal("1.50"),
        venue="Family Hub",
        community_languages=1,
    ),
    Listing(
        "job-club",
        "{town} Job Club",
        "{town} Works",
        "Help with CVs, applications and interviews, and courses to build confidence and skills.",
        ["employment-skills", "digital-skills"],
        sessions=[("TH", "10:00", "13:00")],
        minimum_age=16,
        venue="Library",
    ),
    Listing(
        "housing",
        "{town} Housing Advice",
        "{town} Advice Centre",
        "Advice on renting, repairs, eviction and homelessness. Phone first for an appointment.",
        ["housing", "legal-advice"],
        sessions=[("WE", "09:30", "13:00")],
        venue="Advice Centre",
    ),
    Listing(
        "chair-exercise",
        "Chair-Based Exercise {town}",
        "{town} Healthy Lives",
        "Gentle seated exercise to build strength and balance, for older people and anyone "
        "less steady on their feet.",
        ["physical-activity", "older-people", "long-term-conditions"],
        sessions=[("TU", "14:00", "15:00")],
        price=Decimal("2.50"),
        minimum_age=55,
        venue="Sheltered Housing Lounge",
    ),
    Listing(
        "befriending",
        "{town} Telephone Befriending",
        "{town} Age Well",
        "A weekly friendly phone call from the same trained volunteer, for older people who "
        "feel lonely. Across the whole area.",
        ["loneliness", "older-people"],
        access=Service.Access.REFERRAL,
        sessions=[("MO,TU,WE,TH,FR", "10:00", "16:00")],
        virtual=True,
        minimum_age=60,
    ),
    Listing(
        "domestic-abuse",
        "{town} Domestic Abuse Support Line",
        "{town} Safe at Home",
        "Confidential support and safety planning for anyone experiencing domestic abuse.",
        ["domestic-abuse", "mental-wellbeing"],
        sessions=[("MO,TU,WE,TH,FR", "09:00", "17:00")],
        virtual=True,
        minimum_age=16,
        community_languages=2,
    ),
    Listing(
        "arts-prescription",
        "Arts on Prescription {town}",
        "{town} Arts for Health",
        "Ten weeks of creative sessions (painting, clay, printmaking) for people referred by "
        "their GP or link worker.",
        ["arts-creativity", "mental-wellbeing"],
        access=Service.Access.REFERRAL,
        sessions=[("FR", "13:00", "15:30")],
        venue="Arts Centre",
    ),
    Listing(
        "volunteering",
        "{town} Volunteer Centre",
        "{town} Council for Voluntary Service",
        "Find a volunteering role that suits you, from gardening to driving to befriending.",
        ["volunteering", "employment-skills"],
        sessions=[("MO,WE,FR", "10:00", "15:00")],
        venue="CVS Offices",
    ),
    Listing(
        "diabetes",
        "{town} Diabetes Peer Support",
        "{town} Healthy Lives",
        "Meet others living with type 2 diabetes; talks from nurses and dietitians.",
        ["long-term-conditions", "peer-support", "healthy-eating"],
        sessions=[("", "18:00", "19:30", "10")],
        venue="Health Centre",
    ),
    Listing(
        "cook-eat",
        "Cook and Eat {town}",
        "{town} Food Network",
        "A six-week course: cook healthy meals on a budget, then sit down and eat together.",
        ["healthy-eating", "food", "loneliness"],
        sessions=[("TH", "17:30", "19:30")],
        price=Decimal("2.00"),
        venue="Community Kitchen",
        maximum_age=99,
    ),
    Listing(
        "online-library",
        "{town} Library Digital Help",
        "{town} Libraries",
        "Free help to get online at the library: free wifi and computers, Learn My Way "
        "courses, and one-to-one help with the NHS App and booking GP appointments online.",
        ["digital-skills"],
        kind=Service.Kind.ONLINE_CENTRE,
        access=Service.Access.DROP_IN,
        sessions=[("MO,TU,WE,TH,FR", "09:00", "17:00"), ("SA", "09:30", "12:30")],
        offers=[
            "free-wifi",
            "public-computers",
            "digital-skills-course",
            "nhs-app-help",
            "gp-online-help",
            "printing",
        ],
        venue="Library",
    ),
    Listing(
        "online-centre",
        "{town} Get Online Centre",
        "{town} Digital Champions",
        "Borrow a tablet, get free mobile data through the National Databank and learn with a "
        "digital champion, one to one.",
        ["digital-skills", "loneliness"],
        kind=Service.Kind.ONLINE_CENTRE,
        sessions=[("TU,TH", "10:00", "14:00")],
        offers=["device-loan", "free-data", "one-to-one-help", "nhs-app-help", "free-wifi"],
        venue="Community Centre",
        community_languages=1,
    ),
]

HEALTH_TRAINER = Listing(
    "health-trainer-service",
    "{town} Health Trainers",
    "{town} Healthy Lives",
    "Health trainers help you set your own goals (a personal health plan) to move more, eat "
    "well, cut down on smoking or drinking and feel better, over up to six meetings near you. "
    "Ask your GP practice or link worker to refer you, or refer yourself.",
    [
        "physical-activity",
        "healthy-eating",
        "smoking-alcohol",
        "mental-wellbeing",
        "long-term-conditions",
    ],
    kind=Service.Kind.HEALTH_TRAINER_SERVICE,
    access=Service.Access.REFERRAL,
    sessions=[("MO,TU,WE,TH,FR", "09:00", "17:00")],
    minimum_age=18,
    venue="Health Trainer Base",
)


def _time(text: str) -> dt.time:
    return dt.time.fromisoformat(text)


def _say(stdout, message: str) -> None:
    if stdout is not None:
        stdout.write(message)


def _place(postcode: str):
    try:
        return locate_postcode(postcode)
    except PostcodeNotFound:
        raise RuntimeError(
            f"The demo directory places its services from real postcodes, but {postcode} is not "
            f"in the postcode table. Run `python manage.py load_postcodes` first."
        ) from None


def _load_service(town: Town, listing: Listing, index: int, terms: dict) -> Service:
    key = f"{town.key}/{listing.key}"
    org_name = listing.organization.format(town=town.name)
    organization, _ = Organization.objects.update_or_create(
        id=demo_id(f"organization/{town.key}/{org_name}"),
        defaults={
            "name": org_name,
            "description": f"{org_name} is a fictional organisation in the Flourish demo.",
            "email": f"hello@{listing.key}.{town.key}.example",
            "website": f"https://{town.key}.example/{listing.key}",
            "is_demo": True,
        },
    )
    service_id = (
        DEMO_HEALTH_TRAINER_SERVICES[town.key]
        if listing.kind == Service.Kind.HEALTH_TRAINER_SERVICE
        else demo_id(f"service/{key}")
    )
    prices = [listing.price] if listing.price else []
    service, _ = Service.objects.update_or_create(
        id=service_id,
        defaults={
            "organization": organization,
            "name": listing.name.format(town=town.name),
            "description": f"{listing.description}\n\n{FICTIONAL}",
            "url": f"https://{town.key}.example/{listing.key}",
            "email": f"{listing.key}@{town.key}.example",
            "status": Service.Status.ACTIVE,
            "fees": "",
            "minimum_age": listing.minimum_age,
            "maximum_age": listing.maximum_age,
            "assured_date": dt.date(2026, 10, 1) + dt.timedelta(days=index),
            "assurer_email": f"directory@{town.key}.example",
            "kind": listing.kind,
            "access": listing.access,
            "capacity_available": 4
            if listing.kind == Service.Kind.HEALTH_TRAINER_SERVICE
            else None,
            "capacity_maximum": 30 if listing.kind == Service.Kind.HEALTH_TRAINER_SERVICE else None,
            "capacity_unit": "new clients a week"
            if listing.kind == Service.Kind.HEALTH_TRAINER_SERVICE
            else "",
            "is_demo": True,
        },
    )
    # Children are replaced wholesale (same ids each time), so a second load changes nothing.
    for related in (
        service.schedules,
        service.cost_options,
        service.languages,
        service.attributes,
        service.service_areas,
        service.contacts,
        service.phones,
    ):
        related.all().delete()
    old_locations = list(Location.objects.filter(service_at_locations__service=service))
    service.service_at_locations.all().delete()
    for location in old_locations:
        if not location.service_at_locations.exists():
            location.delete()

    if listing.virtual:
        location = Location.objects.create(
            id=demo_id(f"location/{key}"),
            organization=organization,
            location_type=Location.Type.VIRTUAL,
            name=f"{service.name} (by phone)",
            description="A phone and online service: no building to visit.",
        )
        ServiceArea.objects.create(
            id=demo_id(f"service-area/{key}"),
            service=service,
            name=f"{town.council} area",
            postcode_districts=list(town.districts),
        )
    else:
        postcode = town.postcodes[index % len(town.postcodes)]
        place = _place(postcode)
        location = Location.objects.create(
            id=demo_id(f"location/{key}"),
            organization=organization,
            location_type=Location.Type.PHYSICAL,
            name=f"{town.name} {listing.venue}",
            point=place.point,
            address_1=f"{10 + index * 3} {town.streets[index % len(town.streets)]}",
            city=town.name,
            state_province=town.region,
            postal_code=postcode,
        )
        Accessibility.objects.create(
            id=demo_id(f"accessibility/{key}"),
            location=location,
            description="Step-free access and an accessible toilet"
            if listing.step_free
            else "Two steps at the entrance; a portable ramp on request",
            details="Hearing loop at reception." if index % 2 else "",
        )
        if listing.kind == Service.Kind.HEALTH_TRAINER_SERVICE:
            ServiceArea.objects.create(
                id=demo_id(f"service-area/{key}"),
                service=service,
                name=f"{town.name} and around",
                description="Postcode districts the health trainers cover.",
                postcode_districts=list(town.districts),
            )
    sal = ServiceAtLocation.objects.create(
        id=demo_id(f"service-at-location/{key}"), service=service, location=location
    )
    for n, session in enumerate(listing.sessions):
        byday, opens, closes = session[:3]
        monthly = len(session) > 3
        Schedule.objects.create(
            id=demo_id(f"schedule/{key}/{n}"),
            service_at_location=sal,
            freq=Schedule.Freq.MONTHLY if monthly else Schedule.Freq.WEEKLY,
            byday="" if monthly else byday,
            bymonthday=session[3] if monthly else "",
            opens_at=_time(opens),
            closes_at=_time(closes),
            description="Monthly" if monthly else "",
        )
    if prices:
        CostOption.objects.create(
            id=demo_id(f"cost/{key}"),
            service=service,
            option=listing.price_option,
            amount=prices[0],
            amount_description=f"£{prices[0]} {listing.price_option}",
        )
        CostOption.objects.create(
            id=demo_id(f"cost/{key}/concession"),
            service=service,
            option="if money is tight",
            amount=Decimal("0"),
            amount_description="Free if money is tight: just ask.",
        )
    else:
        CostOption.objects.create(
            id=demo_id(f"cost/{key}"),
            service=service,
            option="free",
            amount=Decimal("0"),
            amount_description="Free",
        )
    Language.objects.create(
        id=demo_id(f"language/{key}/en"), service=service, name="English", code="en"
    )
    for name, code in town.languages[: listing.community_languages]:
        Language.objects.create(
            id=demo_id(f"language/{key}/{code}"), service=service, name=name, code=code
        )
    contact = Contact.objects.create(
        id=demo_id(f"contact/{key}"),
        service=service,
        name="Sam Example",
        title="Coordinator (fictional)",
        email=f"sam@{town.key}.example",
    )
    Phone.objects.create(
        id=demo_id(f"phone/{key}"),
        contact=contact,
        number=f"{town.phone_prefix}{(index * 7) % 1000:03d}",
    )
    Phone.objects.create(
        id=demo_id(f"phone/{key}/service"),
        service=service,
        number=f"{town.phone_prefix}{(index * 7 + 1) % 1000:03d}",
        description="Main line",
    )
    for code in listing.needs:
        Attribute.objects.create(
            id=demo_id(f"attribute/{key}/{code}"),
            service=service,
            taxonomy_term_id=terms[(NEEDS_TAXONOMY, code)],
        )
    for code in listing.offers:
        Attribute.objects.create(
            id=demo_id(f"attribute/{key}/offer/{code}"),
            service=service,
            taxonomy_term_id=terms[(DIGITAL_TAXONOMY, code)],
        )
    return service


def load_demo_directory(stdout=None) -> int:
    """Create or update the demo directory; returns how many services it holds. Idempotent."""
    from directory.models import Taxonomy, TaxonomyTerm

    vocabularies.install(Taxonomy, TaxonomyTerm)
    terms = {
        (slug, code): vocabularies.term_id(slug, code)
        for slug, _, _, entries in vocabularies.TAXONOMIES
        for code, *_ in entries
    }
    count = 0
    with transaction.atomic():
        for town in TOWNS:
            for index, listing in enumerate([HEALTH_TRAINER, *LISTINGS]):
                _load_service(town, listing, index, terms)
                count += 1
            _say(stdout, f"Demo directory: {town.name}: {len(LISTINGS) + 1} services.")
    _say(
        stdout,
        f"Demo directory loaded: {count} fictional services (is_demo=True) at real postcodes in "
        f"Hyde, Sheffield and Carlisle. None of these organisations or services exist.",
    )
    return count
