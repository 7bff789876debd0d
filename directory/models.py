"""The directory, in Open Referral UK 3.0 (HSDS-UK) shape, plus what social prescribing needs.

Entity and field names follow the standard (../shared/standards/openreferral-uk-3.0/). Ids are
UUIDs, as the standard expects. Nothing is hard-deleted: retiring a service sets its status.
Points are geography (SRID 4326) so distances are metres; geo/ owns SRIDs and postcodes.
"""

import datetime as dt
import re
import uuid
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.gis.db import models
from django.contrib.gis.db.models.functions import Distance
from django.contrib.gis.geos import Point
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector, SearchVectorField
from django.core.exceptions import ValidationError
from django.db.models import Exists, F, FloatField, OuterRef, Q, Subquery, Value
from django.db.models.expressions import RawSQL

NEEDS_TAXONOMY = "flourish-needs"
DIGITAL_TAXONOMY = "flourish-digital-inclusion"

# Opening times are wall-clock times where the service is: a 10:00 session is 10:00 in Britain,
# GMT in winter and BST in summer.
LONDON = ZoneInfo("Europe/London")
WEEKDAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]  # date.weekday() order
DAY_NAMES = {
    "MO": "Monday",
    "TU": "Tuesday",
    "WE": "Wednesday",
    "TH": "Thursday",
    "FR": "Friday",
    "SA": "Saturday",
    "SU": "Sunday",
}


class Audited(models.Model):
    """Who changed an entry and when (the admin also keeps a LogEntry per change)."""

    created_at = models.DateTimeField(auto_now_add=True)
    last_modified = models.DateTimeField(auto_now=True)
    modified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )

    class Meta:
        abstract = True


class Organization(Audited):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    email = models.EmailField(blank=True)
    website = models.URLField(blank=True)
    uri = models.URLField(blank=True)
    is_demo = models.BooleanField(default=False, help_text="Fictional demo data.")
    search_vector = models.GeneratedField(
        expression=SearchVector("name", config="english", weight="A"),
        output_field=SearchVectorField(),
        db_persist=True,
    )

    class Meta:
        ordering = ["name"]
        indexes = [GinIndex(fields=["search_vector"])]

    def __str__(self) -> str:
        return self.name


class Taxonomy(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    uri = models.URLField(blank=True)
    version = models.CharField(max_length=50, blank=True)

    class Meta:
        verbose_name_plural = "taxonomies"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class TaxonomyTermQuerySet(models.QuerySet):
    def needs(self):
        return self.filter(taxonomy__slug=NEEDS_TAXONOMY)

    def digital_offers(self):
        return self.filter(taxonomy__slug=DIGITAL_TAXONOMY)


class TaxonomyTerm(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    taxonomy = models.ForeignKey(Taxonomy, on_delete=models.PROTECT, related_name="terms")
    code = models.SlugField(help_text="Stable code (the slug used in URLs and the API).")
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT)
    term_uri = models.URLField(blank=True)
    # Plain-language label for residents ("Feeling lonely"), where it differs from the name.
    plain_label = models.CharField(max_length=100, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    objects = TaxonomyTermQuerySet.as_manager()

    class Meta:
        ordering = ["taxonomy", "position", "name"]
        constraints = [
            models.UniqueConstraint(fields=["taxonomy", "code"], name="unique_term_code")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def label(self) -> str:
        """What residents read: the plain-language label where there is one, else the name."""
        return self.plain_label or self.name


class Location(Audited):
    class Type(models.TextChoices):
        PHYSICAL = "physical"
        POSTAL = "postal"
        VIRTUAL = "virtual"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.PROTECT, related_name="locations"
    )
    location_type = models.CharField(max_length=10, choices=Type.choices, default=Type.PHYSICAL)
    name = models.CharField(max_length=255, blank=True)
    description = models.TextField(blank=True)
    # A public place only (a hall, a library, a team's base): never a person's home.
    point = models.PointField(srid=4326, geography=True, null=True, blank=True)
    address_1 = models.CharField(max_length=255, blank=True)
    address_2 = models.CharField(max_length=255, blank=True)
    city = models.CharField(max_length=100, blank=True)
    region = models.CharField(max_length=100, blank=True)
    state_province = models.CharField(max_length=100, blank=True)
    postal_code = models.CharField(max_length=8, blank=True)
    country = models.CharField(max_length=2, default="GB")
    external_identifier = models.CharField(max_length=100, blank=True)
    external_identifier_type = models.CharField(max_length=50, blank=True)

    def __str__(self) -> str:
        return self.name or self.address_1 or str(self.id)

    def clean(self):
        """A physical place needs a postcode or a map point; the postcode places it."""
        from geo import postcodes
        from geo.models import PostcodeNotFound, locate_postcode

        if self.postal_code:
            try:
                place = locate_postcode(self.postal_code)
            except postcodes.InvalidPostcode as exc:
                raise ValidationError({"postal_code": str(exc)}) from None
            except PostcodeNotFound as exc:
                place = None
                if self.point is None:
                    raise ValidationError({"postal_code": str(exc)}) from None
            self.postal_code = postcodes.normalise(self.postal_code)
            if self.point is None and place is not None:
                self.point = place.point
        if self.location_type == Location.Type.PHYSICAL and self.point is None:
            raise ValidationError(
                {"postal_code": "Give the postcode (or put a pin on the map) for a physical place."}
            )

    @property
    def address_lines(self) -> list[str]:
        """The address as shown, line by line (the parts that are filled in)."""
        parts = [self.address_1, self.address_2, self.city, self.postal_code]
        return [p for p in parts if p]

    @property
    def latitude(self) -> float | None:
        return self.point.y if self.point else None

    @property
    def longitude(self) -> float | None:
        return self.point.x if self.point else None


class Accessibility(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="accessibility")
    description = models.TextField(blank=True)
    details = models.TextField(blank=True)
    url = models.URLField(blank=True)

    class Meta:
        verbose_name_plural = "accessibility"


class CorrelatedExists(Exists):
    """EXISTS that PostgreSQL checks row by row through the subquery's index, never by first
    hashing every row the subquery could match. A search stops after a page of services, so
    it checks a few hundred; hashing ran the subquery for the whole country first (100,000
    running sessions, 60-190 ms at a million services). ``OFFSET 0`` is what stops the planner
    turning EXISTS into a hashable IN (PostgreSQL's simplify_EXISTS_query gives up on it)."""

    template = "EXISTS(%(subquery)s OFFSET 0)"


class ServiceQuerySet(models.QuerySet):
    """Which services the public sees is decided here, once, by three methods built on each
    other: ``published()`` (the open-data feed) > ``public()`` (a page a resident can open) >
    ``searchable()`` (what a search returns). Every public surface starts from one of them."""

    def published(self):
        """What the Open Referral UK feed publishes: every service, whatever its status.

        Nothing is deleted (a referral may point at any service), and the standard carries the
        status on each record so that a harvester that copied a service can see it is now
        inactive or defunct and withdraw its copy; leaving such services out of the feed would
        leave stale copies live elsewhere for ever. Residents never see the feed directly.
        """
        return self.all()

    def public(self):
        """Services a resident may open: the service page, its "report a problem" form, the
        shortlist (saved, shared and printed) and ``/api/services/<id>/``. By status:

        - active: shown.
        - temporarily closed: shown, with its status, so a saved shortlist, a printed list or a
          link a link worker sent still opens and says the service is paused for now (not
          found would read as "gone"). Search leaves it out: see ``searchable()``.
        - inactive: not shown (404): an editor has taken the listing out of the directory (not
          running, or not ready to be listed); only the feed carries it, with its status.
        - defunct: not shown (404): it has stopped for good, and a live page would send a
          resident to something that is no longer there.
        """
        return self.published().filter(
            status__in=[Service.Status.ACTIVE, Service.Status.TEMPORARILY_CLOSED]
        )

    def searchable(self):
        """What a search returns (the API, the results page, get online, health trainers):
        public services that are running now, i.e. active only. A temporarily closed service
        keeps its page (see ``public()``) but is not offered to someone looking for support
        today, who could not go."""
        return self.public().filter(status=Service.Status.ACTIVE)

    def active(self):
        """Services a referral may be made to (staff forms and the referrals API): active
        only. Not a public-visibility rule: public surfaces use ``public()``/``searchable()``."""
        return self.filter(status=Service.Status.ACTIVE)

    def open_at(self, moment: dt.datetime):
        """Services with a schedule session running at ``moment`` (read in Europe/London).

        A session runs on the days its rule names (WEEKLY ``byday``, MONTHLY ``bymonthday``;
        a WEEKLY rule without ``byday`` runs every day) between ``opens_at`` and ``closes_at``;
        a close at or before the open runs past midnight into the next morning, so a session
        that started yesterday evening can still be running now. ``valid_from``/``valid_to``
        bound the day the session starts on. Schedules may hang on the service or on one of its
        service_at_locations. A session its organisation cancelled (``CancelledSession``, on
        the day it starts) is not running.

        First a necessary condition from the service's own row (``Service.may_run_at_q``,
        indexed), then the exact rule on its schedules and its venues' schedules.
        """
        local = moment.astimezone(LONDON)
        today, now = local.date(), local.time().replace(microsecond=0)
        yesterday = today - dt.timedelta(days=1)
        started_today = (
            Schedule.runs_on_q(today)
            & Q(opens_at__lte=now)
            & (Q(closes_at__isnull=True) | Q(closes_at__gt=now) | Q(closes_at__lte=F("opens_at")))
            & ~Exists(CancelledSession.objects.filter(schedule=OuterRef("pk"), date=today))
        )
        started_yesterday = (
            Schedule.runs_on_q(yesterday)
            & Q(closes_at__lte=F("opens_at"))
            & Q(closes_at__gt=now)
            & ~Exists(CancelledSession.objects.filter(schedule=OuterRef("pk"), date=yesterday))
        )
        sessions = Schedule.objects.filter(
            Schedule.may_run_at_q(local) & (started_today | started_yesterday)
        )
        at_venues = ServiceAtLocation.objects.filter(
            CorrelatedExists(sessions.filter(service_at_location=OuterRef("pk"))),
            service=OuterRef("pk"),
        )
        return self.filter(
            Service.may_run_at_q(local),
            CorrelatedExists(sessions.filter(service=OuterRef("pk"))) | CorrelatedExists(at_venues),
        )

    def free(self):
        """No charge listed: no current cost option with an amount above zero."""
        today = dt.date.today()
        paid = CostOption.objects.filter(service=OuterRef("pk"), amount__gt=0).filter(
            Q(valid_to__isnull=True) | Q(valid_to__gte=today)
        )
        return self.exclude(Exists(paid))

    def for_age(self, age: int):
        return self.filter(
            Q(minimum_age__isnull=True) | Q(minimum_age__lte=age),
            Q(maximum_age__isnull=True) | Q(maximum_age__gte=age),
        )

    def speaking(self, language: str):
        """Services that speak ``language`` (an ISO code like ``ur`` or a name like ``Urdu``).
        A service listing no languages is taken to work in English only."""
        spoken = Language.objects.filter(service=OuterRef("pk")).filter(
            Q(code__iexact=language) | Q(name__iexact=language)
        )
        match = Exists(spoken)
        if language.lower() in {"en", "eng", "english"}:
            match |= ~Exists(Language.objects.filter(service=OuterRef("pk")))
        return self.filter(match)

    def with_any_term(self, term_ids):
        return self.filter(
            Exists(Attribute.objects.filter(service=OuterRef("pk"), taxonomy_term_id__in=term_ids))
        )

    def with_every_term(self, term_ids):
        qs = self
        for term_id in term_ids:
            qs = qs.filter(
                Exists(Attribute.objects.filter(service=OuterRef("pk"), taxonomy_term_id=term_id))
            )
        return qs

    def matching_text(self, text: str):
        """PostgreSQL full-text search (English stemming) over the service's name and
        description and its organisation's name, annotated with ``rank`` (higher is better;
        a hit in a name weighs more than one in a description)."""
        query = SearchQuery(text, search_type="websearch", config="english")
        return self.filter(Q(search_vector=query) | Q(organization__search_vector=query)).annotate(
            rank=SearchRank(F("search_vector"), query)
            + SearchRank(F("organization__search_vector"), query) * Value(0.5)
        )

    def serving(self, point: Point, radius_m: float, outcode: str | None = None):
        """Services that serve a place, each annotated with why and how far.

        The directory's one matching rule: a service matches a place when one of its locations
        is within ``radius_m`` of it and it has no service area that excludes the place, or
        when one of its service areas covers the place (a polygon containing the point, or a
        postcode district list naming ``outcode``) - so a borough-wide phone line is found
        without a building nearby.

        Annotations: ``distance`` (metres to the nearest location, or None), ``match``
        ("within_radius" or "service_area"). Order is left to the caller.
        """
        near_locations = ServiceAtLocation.objects.filter(
            location__point__dwithin=(point, radius_m)
        )
        covering_areas = ServiceArea.objects.covering(point, outcode)
        # Candidates first, straight from the indexes (GiST on points and extents, GIN on the
        # district lists): the rule below then runs on the few services near the place, not
        # on every service in the country.
        candidates = near_locations.values("service_id").union(covering_areas.values("service_id"))
        near_locations = near_locations.filter(service=OuterRef("pk"))
        covering = covering_areas.filter(service=OuterRef("pk"))
        any_area = ServiceArea.objects.filter(service=OuterRef("pk"))
        nearest = (
            ServiceAtLocation.objects.filter(service=OuterRef("pk"), location__point__isnull=False)
            .annotate(d=Distance("location__point", point))
            .order_by("d")
            .values("d")[:1]
        )
        return (
            self.filter(pk__in=candidates)
            .annotate(
                _near=Exists(near_locations),
                _covered=Exists(covering),
                _has_area=Exists(any_area),
            )
            # (near and no area) or (near and covered) or covered == (near and no area) or covered
            .filter(Q(_near=True, _has_area=False) | Q(_covered=True))
            .annotate(
                distance=Subquery(nearest, output_field=FloatField()),
                match=models.Case(
                    models.When(_near=True, then=Value("within_radius")),
                    default=Value("service_area"),
                ),
            )
        )


class Service(Audited):
    class Status(models.TextChoices):
        ACTIVE = "active"
        INACTIVE = "inactive"
        DEFUNCT = "defunct"
        TEMPORARILY_CLOSED = "temporarily closed"

    class Kind(models.TextChoices):
        COMMUNITY_ASSET = "community_asset", "Community group or activity"
        HEALTH_TRAINER_SERVICE = "health_trainer_service", "Health trainer service"
        ONLINE_CENTRE = "online_centre", "Online centre (help getting online)"

    class Access(models.TextChoices):
        SELF_REFERRAL = "self_referral", "Refer yourself"
        REFERRAL = "referral", "Needs a referral"
        DROP_IN = "drop_in", "Drop in"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="services"
    )
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    url = models.URLField(blank=True)
    email = models.EmailField(blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    fees = models.TextField(blank=True)
    accreditations = models.TextField(blank=True)
    minimum_age = models.PositiveSmallIntegerField(null=True, blank=True)
    maximum_age = models.PositiveSmallIntegerField(null=True, blank=True)
    # "Last checked": when someone confirmed the listing is true, kept apart from last_modified.
    assured_date = models.DateField(null=True, blank=True)
    assurer_email = models.EmailField(blank=True)
    alert = models.TextField(blank=True)
    kind = models.CharField(max_length=30, choices=Kind.choices, default=Kind.COMMUNITY_ASSET)
    access = models.CharField(max_length=20, choices=Access.choices, default=Access.SELF_REFERRAL)
    # HSDS 3.1 service_capacity, kept simple: places available out of a maximum, per unit.
    capacity_available = models.PositiveIntegerField(null=True, blank=True)
    capacity_maximum = models.PositiveIntegerField(null=True, blank=True)
    capacity_unit = models.CharField(max_length=50, blank=True, help_text="e.g. places, sessions")
    is_demo = models.BooleanField(default=False, help_text="Fictional demo data.")
    taxonomy_terms = models.ManyToManyField(
        TaxonomyTerm, through="Attribute", related_name="services", blank=True
    )
    search_vector = models.GeneratedField(
        expression=SearchVector("name", config="english", weight="A")
        + SearchVector("description", config="english", weight="B"),
        output_field=SearchVectorField(),
        db_persist=True,
    )

    objects = ServiceQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        indexes = [
            GinIndex(fields=["search_vector"]),
            models.Index(fields=["status", "kind"]),
            # Listing without a place is by name: the first page straight off this index.
            models.Index(fields=["name", "id"], name="directory_service_name_id"),
        ]

    def __str__(self) -> str:
        return self.name

    @staticmethod
    def may_run_at_q(local: dt.datetime) -> Q:
        """A necessary condition for one of a service's sessions running at ``local``: the
        hour of the week is in the service's ``week_hours`` (the union of its schedules', kept
        by triggers: migration 0007; not mapped by the ORM). Not the rule itself."""
        return Q(
            RawSQL(
                '"directory_service"."week_hours" @> ARRAY[%s]::int[]',
                [Schedule.hour_of_week(local)],
                output_field=models.BooleanField(),
            )
        )

    def clean(self):
        if (
            self.minimum_age is not None
            and self.maximum_age is not None
            and self.minimum_age > self.maximum_age
        ):
            raise ValidationError({"maximum_age": "The maximum age is below the minimum age."})
        if (
            self.capacity_available is not None
            and self.capacity_maximum is not None
            and self.capacity_available > self.capacity_maximum
        ):
            raise ValidationError({"capacity_available": "More places available than the maximum."})


class ServiceAtLocation(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    service = models.ForeignKey(
        Service, on_delete=models.CASCADE, related_name="service_at_locations"
    )
    location = models.ForeignKey(
        Location, on_delete=models.PROTECT, related_name="service_at_locations"
    )
    description = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["service", "location"], name="unique_service_location")
        ]


class Schedule(models.Model):
    """A recurring opening (RFC 5545 style, as HSDS): WEEKLY on ``byday`` (every ``interval``
    weeks counted from the week of ``dtstart``, so 2 is fortnightly) or MONTHLY on
    ``bymonthday``, from ``opens_at`` to ``closes_at`` (a close before the open runs past
    midnight)."""

    class Freq(models.TextChoices):
        WEEKLY = "WEEKLY"
        MONTHLY = "MONTHLY"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    service = models.ForeignKey(
        Service, null=True, blank=True, on_delete=models.CASCADE, related_name="schedules"
    )
    service_at_location = models.ForeignKey(
        ServiceAtLocation, null=True, blank=True, on_delete=models.CASCADE, related_name="schedules"
    )
    freq = models.CharField(max_length=7, choices=Freq.choices, default=Freq.WEEKLY)
    interval = models.PositiveSmallIntegerField(default=1)
    byday = models.CharField(max_length=40, blank=True, help_text='e.g. "MO,TH"')
    bymonthday = models.CharField(max_length=40, blank=True, help_text='e.g. "1,15"')
    opens_at = models.TimeField(null=True, blank=True)
    closes_at = models.TimeField(null=True, blank=True)
    valid_from = models.DateField(null=True, blank=True)
    valid_to = models.DateField(null=True, blank=True)
    dtstart = models.DateField(null=True, blank=True)
    description = models.TextField(blank=True)
    attending_type = models.CharField(max_length=100, blank=True)
    notes = models.TextField(blank=True)

    def clean(self):
        errors = {}
        codes = [c.strip().upper() for c in self.byday.split(",") if c.strip()]
        if any(c not in WEEKDAYS for c in codes):
            errors["byday"] = "Days must be MO, TU, WE, TH, FR, SA or SU, separated by commas."
        else:
            self.byday = ",".join(codes)
        if self.bymonthday and not re.fullmatch(
            r"\s*-?\d{1,2}(\s*,\s*-?\d{1,2})*\s*", self.bymonthday
        ):
            errors["bymonthday"] = (
                'Days of the month must be numbers separated by commas, like "1,15".'
            )
        if self.freq == Schedule.Freq.MONTHLY and not self.bymonthday:
            errors["bymonthday"] = "A monthly schedule needs the days of the month it runs on."
        if self.closes_at and not self.opens_at:
            errors["opens_at"] = "Give the opening time too."
        if self.valid_from and self.valid_to and self.valid_from > self.valid_to:
            errors["valid_to"] = "The end date is before the start date."
        if errors:
            raise ValidationError(errors)

    # "Open at this time" is defined once, here: runs_on_q says which rules have a session
    # starting on a day (ServiceQuerySet.open_at adds the clock), weekday_q is its weekday part
    # (the feed's day= filter, which has a weekday but no date), and runs_on is the same rule,
    # clause for clause, for schedules already in memory. tests/directory/test_open_at.py checks
    # the SQL and Python answers agree for every shape of schedule at every half hour of weeks.
    @staticmethod
    def weekday_q(code: str) -> Q:
        """A Q for weekly rules with sessions on the weekday ``code`` (MO..SU): those listing
        it in ``byday``, and those listing no day at all (every day)."""
        # A substring test, not a regex: day codes are two letters between commas, so "MO" is
        # found only where Monday is listed, and LIKE is many times cheaper.
        return Q(freq=Schedule.Freq.WEEKLY) & (Q(byday="") | Q(byday__contains=code))

    @staticmethod
    def monthday_pattern(day: dt.date) -> str:
        """The regex (the same in PostgreSQL and Python) that finds ``day``'s day of the month
        in a ``bymonthday`` list such as "1,15"."""
        return rf"(^|,)\s*0?{day.day}\s*(,|$)"

    @staticmethod
    def hour_of_week(local: dt.datetime) -> int:
        """0 for Monday 00:00-00:59 to 167 for Sunday 23:00-23:59 (``local`` in London)."""
        return local.weekday() * 24 + local.hour

    @staticmethod
    def may_run_at_q(local: dt.datetime) -> Q:
        """A necessary condition for a session running at ``local`` (Europe/London), answered
        from an index: the hour of the week is one of the schedule's weekly hours (migration
        0006's ``flourish_week_hours``, a superset of the rule). Not the rule itself."""
        return Q(
            RawSQL(
                "flourish_week_hours(freq, byday, opens_at, closes_at) @> ARRAY[%s]::int[]",
                [Schedule.hour_of_week(local)],
                output_field=models.BooleanField(),
            )
        )

    @staticmethod
    def runs_on_q(day: dt.date) -> Q:
        """A Q for schedules whose rule has a session starting on ``day``."""
        monday = day - dt.timedelta(days=day.weekday())
        # Raw SQL: the ORM's date - date gives an interval, and RFC 5545's INTERVAL needs the
        # whole weeks from the week of dtstart (weeks start on Monday) to this one.
        in_step = RawSQL(
            "((%s::date - (dtstart - (EXTRACT(ISODOW FROM dtstart)::int - 1))) / 7)"
            ' %% "interval" = 0',
            [monday],
            output_field=models.BooleanField(),
        )
        return (
            (Q(valid_from__isnull=True) | Q(valid_from__lte=day))
            & (Q(valid_to__isnull=True) | Q(valid_to__gte=day))
            & (Q(dtstart__isnull=True) | Q(dtstart__lte=day))
            & Q(opens_at__isnull=False)
            & (
                Schedule.weekday_q(WEEKDAYS[day.weekday()])
                & (Q(interval__lte=1) | Q(dtstart__isnull=True) | Q(in_step))
                | Q(freq=Schedule.Freq.MONTHLY)
                & Q(bymonthday__regex=Schedule.monthday_pattern(day))
            )
        )

    def runs_on(self, day: dt.date) -> bool:
        """:meth:`runs_on_q` for one schedule already in memory (the handful on a results
        page), clause for clause in the same order; the two are tested to agree."""
        if self.opens_at is None:
            return False
        if (self.valid_from and day < self.valid_from) or (self.valid_to and day > self.valid_to):
            return False
        if self.dtstart and day < self.dtstart:
            return False
        if self.freq == Schedule.Freq.WEEKLY:
            if self.byday and WEEKDAYS[day.weekday()] not in self.byday:
                return False
            if self.interval <= 1 or self.dtstart is None:
                return True
            first_monday = self.dtstart - dt.timedelta(days=self.dtstart.weekday())
            monday = day - dt.timedelta(days=day.weekday())
            return ((monday - first_monday).days // 7) % self.interval == 0
        if self.freq == Schedule.Freq.MONTHLY:
            return re.search(Schedule.monthday_pattern(day), self.bymonthday) is not None
        return False

    def sessions(self, start: dt.date, days: int):
        """(opens, closes) aware datetimes in Europe/London for sessions starting on the
        ``days`` days from ``start``; a close at or before the open is the next morning (the
        clock of ServiceQuerySet.open_at, for schedules in memory; tested to agree)."""
        for offset in range(days):
            day = start + dt.timedelta(days=offset)
            if not self.runs_on(day):
                continue
            opens = dt.datetime.combine(day, self.opens_at, tzinfo=LONDON)
            if self.closes_at is None:
                closes = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=LONDON)
            elif self.closes_at <= self.opens_at:
                closes = dt.datetime.combine(
                    day + dt.timedelta(days=1), self.closes_at, tzinfo=LONDON
                )
            else:
                closes = dt.datetime.combine(day, self.closes_at, tzinfo=LONDON)
            yield opens, closes


class CostOption(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="cost_options")
    option = models.CharField(max_length=255, blank=True)
    amount = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    amount_description = models.CharField(max_length=255, blank=True)
    valid_from = models.DateField(null=True, blank=True)
    valid_to = models.DateField(null=True, blank=True)

    def clean(self):
        if self.amount is not None and self.amount < 0:
            raise ValidationError({"amount": "A cost cannot be negative; use 0 for free."})
        if self.valid_from and self.valid_to and self.valid_from > self.valid_to:
            raise ValidationError({"valid_to": "The end date is before the start date."})


class Contact(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    service = models.ForeignKey(
        Service, null=True, blank=True, on_delete=models.CASCADE, related_name="contacts"
    )
    name = models.CharField(max_length=255, blank=True)
    title = models.CharField(max_length=255, blank=True)
    email = models.EmailField(blank=True)


class Phone(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    service = models.ForeignKey(
        Service, null=True, blank=True, on_delete=models.CASCADE, related_name="phones"
    )
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.CASCADE, related_name="phones"
    )
    location = models.ForeignKey(
        Location, null=True, blank=True, on_delete=models.CASCADE, related_name="phones"
    )
    number = models.CharField(max_length=30)
    description = models.CharField(max_length=255, blank=True)


class Language(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    service = models.ForeignKey(
        Service, null=True, blank=True, on_delete=models.CASCADE, related_name="languages"
    )
    phone = models.ForeignKey(
        Phone, null=True, blank=True, on_delete=models.CASCADE, related_name="languages"
    )
    name = models.CharField(max_length=100)
    code = models.CharField(max_length=3, blank=True, help_text="ISO 639-1 or 639-3, e.g. en, ur")
    note = models.CharField(max_length=255, blank=True)


class ServiceAreaQuerySet(models.QuerySet):
    def covering(self, point: Point, outcode: str | None = None):
        """Areas that cover a place: a polygon containing the point, or a list of postcode
        districts naming ``outcode``."""
        area_filter = Q(extent__covers=point)
        if outcode:
            area_filter |= Q(postcode_districts__contains=[outcode])
        return self.filter(area_filter)


class ServiceArea(models.Model):
    """Where a service serves: a polygon (``extent``) and/or a list of postcode districts."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="service_areas")
    name = models.CharField(max_length=255, blank=True)
    description = models.TextField(blank=True)
    extent = models.MultiPolygonField(srid=4326, geography=True, null=True, blank=True)
    extent_type = models.CharField(max_length=20, blank=True, default="geojson")
    postcode_districts = ArrayField(
        models.CharField(max_length=4),
        default=list,
        blank=True,
        help_text="Postcode districts served, e.g. SK14, SK15",
    )
    uri = models.URLField(blank=True)

    objects = ServiceAreaQuerySet.as_manager()

    class Meta:
        indexes = [GinIndex(fields=["postcode_districts"])]

    def clean(self):
        from geo import postcodes

        districts = []
        for text in self.postcode_districts:
            try:
                parsed = postcodes.parse(text)
            except postcodes.InvalidPostcode:
                parsed = None
            if parsed is None or parsed.postcode:
                raise ValidationError(
                    {"postcode_districts": f"{text!r} is not a postcode district, like SK14."}
                )
            districts.append(parsed.outcode)
        self.postcode_districts = list(dict.fromkeys(districts))
        if not districts and self.extent is None:
            raise ValidationError(
                "Give the postcode districts served, or draw the area on the map."
            )


class Attribute(models.Model):
    """Links a service to a taxonomy term (its needs, its digital-inclusion offers, ...)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="attributes")
    taxonomy_term = models.ForeignKey(
        TaxonomyTerm, on_delete=models.PROTECT, related_name="attributes"
    )
    link_type = models.CharField(max_length=50, blank=True, default="service")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["service", "taxonomy_term"], name="unique_service_term")
        ]


class ListingReport(models.Model):
    """ "Report a problem with this listing": what a member of the public told us. Editors see
    these in the admin. No account is needed; the reporter's email is optional."""

    class Reason(models.TextChoices):
        CLOSED = "closed", "It has closed or stopped running"
        DETAILS = "details", "Contact details or address are wrong"
        TIMES = "times", "Opening times are wrong"
        OTHER = "other", "Something else"

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="reports")
    reason = models.CharField(max_length=10, choices=Reason.choices)
    details = models.TextField(max_length=2000, blank=True)
    email = models.EmailField(blank=True, help_text="Only to ask about the report.")
    created_at = models.DateTimeField(auto_now_add=True)
    resolved = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at"]


# --- Harvesting other directories' Open Referral UK feeds (directory/harvest.py) -------------
class Feed(models.Model):
    """Another directory's Open Referral UK 3.0 API that we copy services from, on a schedule.

    Its ``id`` is the namespace its records' ids are mapped into (uuid5), so two feeds that use
    the same ids, or a feed that reuses one of ours, never overwrite each other's records.
    """

    class Outcome(models.TextChoices):
        COMPLETE = "complete", "Complete"
        INCOMPLETE = "incomplete", "Incomplete (nothing withdrawn)"
        FAILED = "failed", "Failed (nothing withdrawn)"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=255)
    base_url = models.URLField(
        max_length=500,
        unique=True,
        help_text="The API's base, e.g. https://example.org/api/v3 (its services are at "
        "<base>/services).",
    )
    licence = models.CharField(max_length=255, blank=True, help_text="e.g. OGL v3.0")
    licence_url = models.URLField(max_length=500, blank=True)
    republish = models.BooleanField(
        default=False,
        help_text="The licence lets us republish these services in our own open-data feed "
        "(with their provenance). Unticked, they are shown on our pages but left out of it.",
    )
    active = models.BooleanField(default=True, help_text="Harvested by harvest_openreferral --due.")
    interval_hours = models.PositiveIntegerField(
        default=24, help_text="Harvest again this many hours after the last harvest started."
    )
    # "services" or "services/": which of the two the feed answers on, found on the first walk.
    services_path = models.CharField(max_length=20, blank=True, editable=False)
    last_started_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_finished_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_outcome = models.CharField(
        max_length=10, choices=Outcome.choices, blank=True, editable=False
    )
    last_summary = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def is_due(self, now: dt.datetime) -> bool:
        return self.last_started_at is None or now - self.last_started_at >= dt.timedelta(
            hours=self.interval_hours
        )


class HarvestedRecord(models.Model):
    """Provenance of one harvested service: which feed, the feed's own id for it, when it was
    first and last seen, when it last changed, and when it disappeared from the feed."""

    feed = models.ForeignKey(Feed, on_delete=models.PROTECT, related_name="records")
    remote_id = models.CharField(max_length=255, help_text="The id the feed gives it, as given.")
    service = models.OneToOneField(Service, on_delete=models.PROTECT, related_name="harvested")
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    last_changed = models.DateTimeField()
    content_hash = models.CharField(max_length=64, help_text="SHA-256 of the record as fetched.")
    withdrawn_at = models.DateTimeField(
        null=True, blank=True, help_text="Gone from the feed: the service was made inactive."
    )
    # An editor merged this service into another (DuplicateCandidate): the feed's later
    # changes to it are no longer applied, so the merge is not undone by the next harvest.
    merged_into = models.ForeignKey(
        Service, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["feed", "remote_id"]
        constraints = [
            models.UniqueConstraint(fields=["feed", "remote_id"], name="unique_feed_remote_id")
        ]

    def __str__(self) -> str:
        return f"{self.feed}: {self.remote_id}"


class DuplicateCandidate(models.Model):
    """Two services that may be the same (same organisation and postcode, similar name), one of
    them harvested. Offered to an editor, never merged without one, never offered twice."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        MERGED = "merged", "Merged (left kept, right withdrawn)"
        KEPT_APART = "kept_apart", "Not duplicates (both kept)"

    ALLOWED_MOVES = {Status.OPEN: {Status.MERGED, Status.KEPT_APART}}

    left = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="+")
    right = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField()
    similarity = models.FloatField(help_text="How alike the names are, 0 to 1.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    decided_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["status", "-similarity"]
        constraints = [
            models.UniqueConstraint(fields=["left", "right"], name="unique_duplicate_pair"),
            models.CheckConstraint(condition=~Q(left=F("right")), name="duplicate_of_another"),
        ]

    def __str__(self) -> str:
        return f"{self.left} / {self.right}"

    def merge(self, *, by) -> None:
        """Keep the left service, withdraw the right (made inactive, never deleted); if the
        right was harvested its feed's later changes are no longer applied."""
        from django.db import transaction

        with transaction.atomic():
            locked = DuplicateCandidate.objects.select_for_update().get(pk=self.pk)
            locked._move(DuplicateCandidate.Status.MERGED, by=by)
            right = Service.objects.select_for_update().get(pk=locked.right_id)
            right.status = Service.Status.INACTIVE
            right.modified_by = by
            right.save(update_fields=["status", "modified_by", "last_modified"])
            HarvestedRecord.objects.filter(service=right).update(merged_into=locked.left_id)
            self.refresh_from_db()

    def keep_apart(self, *, by) -> None:
        """Not duplicates: both stay as they are, and the pair is not offered again."""
        from django.db import transaction

        with transaction.atomic():
            locked = DuplicateCandidate.objects.select_for_update().get(pk=self.pk)
            locked._move(DuplicateCandidate.Status.KEPT_APART, by=by)
            self.refresh_from_db()

    def _move(self, status: str, *, by) -> None:
        from django.utils import timezone

        if status not in self.ALLOWED_MOVES.get(self.status, ()):
            raise ValidationError(f"This pair was already decided ({self.get_status_display()}).")
        self.status = status
        self.decided_by = by
        self.decided_at = timezone.now()
        self.save(update_fields=["status", "decided_by", "decided_at"])


# --- National help, shown when a search finds nothing near (issue 12) ------------------------
class Helpline(models.Model):
    """A national helpline or directory that editors keep, signposted when a search finds
    nothing nearby. Each applies to the nations ticked; a place's nation comes from geo."""

    class Kind(models.TextChoices):
        HELPLINE = "helpline", "Helpline"
        DIRECTORY = "directory", "National directory of local services"

    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.HELPLINE)
    description = models.CharField(max_length=300, blank=True)
    phone = models.CharField(max_length=30, blank=True, help_text="As it should be dialled.")
    text = models.CharField(max_length=60, blank=True, help_text='e.g. "Text SHOUT to 85258".')
    url = models.URLField(blank=True)
    england = models.BooleanField(default=True)
    scotland = models.BooleanField(default=True)
    wales = models.BooleanField(default=True)
    northern_ireland = models.BooleanField(default=True)
    order = models.PositiveSmallIntegerField(default=100, help_text="Lower comes first.")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["order", "name"]

    def __str__(self) -> str:
        return self.name


# --- Organisations keeping their own listings true (issue 12): directory/listing_models.py ---
# Imported here so Django finds them in the directory app; they import the classes above.
from directory.listing_models import (  # noqa: E402, F401
    CancelledSession,
    ListingChange,
    ListingConfirmation,
    ListingLink,
)
