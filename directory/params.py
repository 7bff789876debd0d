"""Query parameters, declared once: the directory search's and the Open Referral UK feed's.

Each parameter is a field of a serializer class, with the plain-English message a person sees
when they type it wrong. The classes validate (``SearchParams.read(request.GET)``) and the same
classes describe the API in OpenAPI (``@extend_schema(parameters=[SearchParams])``), so the
list of parameters, their types and their limits exist in one place.

Query strings are not JSON: every value arrives as text, a parameter may be repeated, and a
blank one means "not given". ``Params`` reads them that way before the fields see them.
"""

import datetime as dt
import math
import re
import threading
import time
import uuid

from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime, parse_time
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.fields import empty

from directory.models import DAY_NAMES, LONDON, WEEKDAYS, Service, TaxonomyTerm
from geo import places, postcodes
from geo.models import OutsideUK, Place, PostcodeNotFound, make_point

PAGE_SIZE_DEFAULT = 20
PAGE_SIZE_MAX = 100
QUERY_MAX_LENGTH = 200
# No search value is longer than the search words (a postcode is 8, a need code about 20), and
# no one chooses more needs or offers than the vocabularies hold.
VALUE_MAX_LENGTH = QUERY_MAX_LENGTH
TERMS_MAX = 30
AGE_MAX = 120
FEED_PER_PAGE_DEFAULT = 50
FEED_PER_PAGE_MAX = 500

_TIME_RE = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_LANGUAGE_RE = re.compile(r"[^\W\d_][\w ()'-]{1,40}")


class ParamsError(ValueError):
    """Invalid query parameters: ``errors`` maps each parameter to messages saying how to fix it.

    When "where" was a question rather than a mistake (several places called Newport, or a
    postcode with a slip that reads two ways), ``code`` says which ("ambiguous_place",
    "ambiguous_postcode") and ``choices`` lists the answers: each has a ``name`` and either a
    ``place`` token (send it back as ``place=``) or a ``postcode`` (send it as ``postcode=``).
    """

    def __init__(
        self, errors: dict[str, list[str]], *, code: str = "", choices: list[dict] | None = None
    ):
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))
        self.errors = errors
        self.code = code
        self.choices = choices or []


class SearchError(ParamsError):
    """Invalid search input (see ``SearchParams``)."""


# --- The vocabularies, by code -----------------------------------------------------------------
VOCABULARY_SECONDS = 60
_vocabularies: dict[str, tuple[float, dict[str, TaxonomyTerm]]] = {}
_vocabularies_lock = threading.Lock()


def vocabulary(name: str) -> dict[str, TaxonomyTerm]:
    """The terms of ``TaxonomyTerm.objects.<name>()`` ("needs" or "digital_offers") by code, in
    their order. Every search reads them; they change only when an editor edits a vocabulary,
    so each process reads them at most once a minute rather than once a request."""
    cached = _vocabularies.get(name)
    if cached is None or cached[0] <= time.monotonic():
        with _vocabularies_lock:
            terms = {
                term.code: term
                for term in getattr(TaxonomyTerm.objects, name)().select_related("taxonomy")
            }
            cached = (time.monotonic() + VOCABULARY_SECONDS, terms)
            _vocabularies[name] = cached
    return cached[1]


def forget_vocabularies() -> None:
    """Read the vocabularies afresh at the next search (tests; after an import)."""
    _vocabularies.clear()


# --- Fields: one text value in, a clean value or a plain-English refusal out --------------------
def _setting(value):
    return value() if callable(value) else value


class WholeNumber(serializers.IntegerField):
    """A whole number between ``low`` and ``high`` (either may be a callable reading a setting,
    so a test's override_settings applies)."""

    default_error_messages = {
        "whole": "{what} must be a whole number, like {example}.",
        "range": "{what} must be between {low} and {high}; you gave {number}.",
    }

    def __init__(self, *, what: str, low, high, example=1, **kwargs):
        self.what, self.low, self.high, self.example = what, low, high, example
        super().__init__(**kwargs)
        # The range is checked below, with the number given in the message.
        self.validators = []

    # Read when asked (by the OpenAPI schema), so the schema shows the cap in force.
    @property
    def min_value(self) -> int:
        return _setting(self.low)

    @min_value.setter
    def min_value(self, value) -> None:
        """IntegerField sets it from its arguments; ``low`` decides it here."""

    @property
    def max_value(self) -> int:
        return _setting(self.high)

    @max_value.setter
    def max_value(self, value) -> None:
        """IntegerField sets it from its arguments; ``high`` decides it here."""

    def to_internal_value(self, text: str) -> int:
        low, high = _setting(self.low), _setting(self.high)
        try:
            number = int(text)
        except ValueError:
            self.fail("whole", what=self.what, example=_setting(self.example))
        if not low <= number <= high:
            self.fail("range", what=self.what, low=low, high=high, number=number)
        return number


class Degrees(serializers.FloatField):
    default_error_messages = {"number": "{what} must be a number in decimal degrees, like 53.45."}

    def __init__(self, *, what: str, **kwargs):
        self.what = what
        super().__init__(**kwargs)

    def to_internal_value(self, text: str) -> float:
        try:
            number = float(text)
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            self.fail("number", what=self.what)
        return number


class Terms(serializers.ListField):
    """Codes from a vocabulary (repeat the parameter, or separate codes by commas)."""

    default_error_messages = {
        "too_many": "Choose at most {most} of {name}; you gave {count}.",
        "unknown": "We do not know the {what} {unknown}. Use one of: {valid}.",
    }

    def __init__(self, *, vocabulary: str, what: str, **kwargs):
        self.vocabulary, self.what = vocabulary, what
        super().__init__(child=serializers.CharField(), **kwargs)

    def to_internal_value(self, codes: list[str]) -> list[TaxonomyTerm]:
        codes = list(dict.fromkeys(codes))
        if len(codes) > TERMS_MAX:
            self.fail("too_many", most=TERMS_MAX, name=self.field_name, count=len(codes))
        known = vocabulary(self.vocabulary)
        unknown = [c for c in codes if c.lower() not in known]
        if unknown:
            self.fail(
                "unknown",
                what=self.what,
                unknown=", ".join(repr(u) for u in unknown),
                valid=", ".join(known),
            )
        return [known[c.lower()] for c in codes]


class OneOf(serializers.ChoiceField):
    """One of a few words, in any case; returned in lower case."""

    default_error_messages = {"choice": "{value!r} is not a {what}. Use one of: {valid}."}

    def __init__(self, choices, *, what: str = "", **kwargs):
        self.what = what
        super().__init__(choices, **kwargs)

    def to_internal_value(self, value: str) -> str:
        if value.lower() not in self.choices:
            self.fail("choice", value=value, what=self.what, valid=", ".join(self.choices))
        return value.lower()


class Day(serializers.ChoiceField):
    """A weekday: its code (MO) or name (Monday)."""

    default_error_messages = {"day": "{value!r} is not a day. Use MO, TU, WE, TH, FR, SA or SU."}

    def __init__(self, **kwargs):
        super().__init__(list(DAY_NAMES.items()), **kwargs)

    def to_internal_value(self, day: str) -> str:
        code = day.upper()[:2] if day.title() in DAY_NAMES.values() else day.upper()
        if code not in WEEKDAYS:
            self.fail("day", value=day[:20])
        return code


class Matching(serializers.CharField):
    """Text of a given shape; ``message`` may use {value!r}, the text given (its first
    ``shown`` characters)."""

    def __init__(self, pattern: re.Pattern, *, message: str, shown: int | None = None, **kwargs):
        self.pattern, self.shown = pattern, shown
        super().__init__(**kwargs)
        self.error_messages["shape"] = message

    def to_internal_value(self, value: str) -> str:
        if not self.pattern.fullmatch(value):
            self.fail("shape", value=value[: self.shown])
        return value


class Words(serializers.CharField):
    default_error_messages = {"long": "{message}"}

    def __init__(self, *, too_long: str, **kwargs):
        self.too_long = too_long
        super().__init__(max_length=QUERY_MAX_LENGTH, **kwargs)

    def to_internal_value(self, value: str) -> str:
        if len(value) > QUERY_MAX_LENGTH:
            self.fail("long", message=self.too_long)
        return value


class YesNo(serializers.BooleanField):
    default_error_messages = {"yes_no": '{name} must be "true" or "false".'}

    def __init__(self, *, true=("true", "1", "yes"), false=("false", "0", "no"), **kwargs):
        self.true, self.false = frozenset(true), frozenset(false)
        super().__init__(**kwargs)

    def to_internal_value(self, value: str) -> bool:
        value = value.lower()
        if value not in self.true | self.false:
            self.fail("yes_no", name=self.field_name)
        return value in self.true


class Id(serializers.UUIDField):
    default_error_messages = {"uuid": "{name} must be a UUID."}

    def to_internal_value(self, value: str) -> uuid.UUID:
        try:
            return uuid.UUID(value)
        except ValueError:
            self.fail("uuid", name=self.field_name)


class Years(serializers.FloatField):
    """An age in years as the Open Referral UK profile has it (18, or 18.5, read as 18)."""

    default_error_messages = {"years": "{name} must be a number of years, like 18."}

    def to_internal_value(self, value: str) -> int:
        if not re.fullmatch(r"\d{1,3}(\.\d+)?", value):
            self.fail("years", name=self.field_name)
        return int(float(value))


def _parsed(parse, text: str):
    """Django's date/time parsers return None for a wrong shape but raise for an impossible
    value (25:00, month 13): both are the same bad request here."""
    try:
        return parse(text)
    except ValueError:
        return None


class Moment(serializers.DateTimeField):
    """A date-time, or a date (its midnight); without an offset, UK time."""

    default_error_messages = {
        "moment": "{name} must be a date-time like 2025-01-31T09:00:00Z.",
    }

    def to_internal_value(self, text: str) -> dt.datetime:
        moment = _parsed(parse_datetime, text)
        if moment is None and (day := _parsed(parse_date, text)) is not None:
            moment = dt.datetime.combine(day, dt.time(0))
        if moment is None:
            self.fail("moment", name=self.field_name)
        return moment if moment.tzinfo else moment.replace(tzinfo=LONDON)


class ClockTime(serializers.TimeField):
    default_error_messages = {"clock": "{name} must be a time like 09:30."}

    def to_internal_value(self, text: str) -> dt.time:
        parsed = _parsed(parse_time, text)
        if parsed is None:
            self.fail("clock", name=self.field_name)
        return parsed


# --- Reading a query string ---------------------------------------------------------------------
def _raw(data, name: str) -> list[str]:
    """Every value given for ``name``, from a QueryDict or a dict whose values may be lists."""
    if hasattr(data, "getlist"):
        return data.getlist(name)
    raw = data.get(name)
    if raw is None:
        return []
    return [str(v) for v in raw if v is not None] if isinstance(raw, list | tuple) else [str(raw)]


class Params(serializers.Serializer):
    """Query parameters. A blank parameter is not given; a repeated one counts once (the last
    value given), except lists, which take every value (also comma-separated). An absent one
    is its field's ``default``, else None. Fields' refusals and the cross-field rules of
    ``check`` are all reported together, in the order the fields are declared."""

    @property
    def fields(self):
        # DRF deep-copies every declared field for every serializer made, which is most of the
        # cost of reading a query (0.4 ms of the search's). These fields keep no state of a
        # request and read no context, so each class copies and binds them once, to a blank
        # instance of its own, and every instance shares them.
        cls = type(self)
        if "_shared_fields" not in cls.__dict__:
            cls._shared_fields = super(Params, cls()).fields
        return cls._shared_fields

    def given(self, data, name: str, field) -> str | list[str] | None:
        raw = _raw(data, name)
        if isinstance(field, serializers.ListField):
            parts = [part.strip() for value in raw for part in value.split(",")]
            return [part for part in parts if part] or None
        values = [v.strip() for v in raw if v.strip()]
        return values[-1] if values else None

    def to_internal_value(self, data) -> dict:
        fields = self.fields
        given = {
            name: self.given(data, name, field) if name in data else None
            for name, field in fields.items()
        }
        values, errors = {}, {}
        for name, field in fields.items():
            if given[name] is None:
                values[name] = None if field.default is empty else field.get_default()
                continue
            try:
                values[name] = field.to_internal_value(given[name])
            except serializers.ValidationError as exc:
                values[name] = None
                errors[name] = [str(message) for message in exc.detail]
        self.check(given, values, errors)
        if errors:
            raise serializers.ValidationError({n: errors[n] for n in fields if n in errors})
        return values

    def check(self, given: dict, values: dict, errors: dict) -> None:
        """Rules across fields: add to ``errors`` (or drop a field's, when it does not count)."""

    @classmethod
    def names(cls, *names: str) -> tuple[str, ...]:
        """Some of the parameter names, checked: a page naming one the class does not declare
        fails when it is imported, not when a person searches."""
        unknown = [name for name in names if name not in cls._declared_fields]
        if unknown:
            raise ValueError(f"{cls.__name__} has no parameter {', '.join(unknown)}")
        return names

    @classmethod
    def read(cls, data, error=ParamsError, **context) -> dict:
        """The clean values of ``data`` (a QueryDict or a dict); raises ``error``."""
        params = cls(data=data, context=context)
        if not params.is_valid():
            question = getattr(params, "where_question", None)
            raise error(
                {name: list(map(str, messages)) for name, messages in params.errors.items()},
                code=question.code if question else "",
                choices=question.choices if question else None,
            )
        return params.validated_data

    def _where(self, text: str, errors: dict, name: str = "postcode") -> Place | None:
        """``geo.places.locate``: the one reading of "where" (postcode, place name, a postcode
        typed with O for 0); a question (which Newport?) is kept for ``read`` to hand on."""
        try:
            return places.locate(text)
        except places.WhereError as exc:
            if exc.choices:
                self.where_question = exc
            errors[name] = [str(exc)]
        except (postcodes.InvalidPostcode, PostcodeNotFound) as exc:
            errors[name] = [str(exc)]
        return None


# --- The directory search (the API and the public pages) ----------------------------------------
class SearchParams(Params):
    """What a person may search the directory by (``search_services``)."""

    postcode = serializers.CharField(
        required=False,
        max_length=VALUE_MAX_LENGTH,
        help_text="Where: a UK postcode (SK14 4QH), a district (SK14), or a town or "
        "neighbourhood by name (Hyde; Sharrow, Sheffield). Unknown postcodes fall back to their "
        "sector or district (place.precision says so). A postcode typed with O for 0 or I for 1 "
        "is read by position when only one reading fits (place.postcode is the one used, "
        "place.postcode_corrected is true). A name several places have, or a slip that reads "
        "two ways, is a 400 with code ambiguous_place or ambiguous_postcode and choices.",
    )
    place = serializers.CharField(
        required=False,
        max_length=VALUE_MAX_LENGTH,
        help_text="A place chosen from an ambiguous_place answer's choices (its place token). "
        "With it, postcode is not read.",
    )
    lat = Degrees(
        what="lat (latitude)",
        required=False,
        help_text="Latitude (WGS84), with lng, instead of a postcode.",
    )
    lng = Degrees(what="lng (longitude)", required=False, help_text="Longitude (WGS84), with lat.")
    radius = WholeNumber(
        what="radius (metres)",
        low=1,
        high=lambda: settings.SEARCH_RADIUS_MAX_M,
        example=lambda: settings.SEARCH_RADIUS_DEFAULT_M,
        required=False,
        default=lambda: settings.SEARCH_RADIUS_DEFAULT_M,
        help_text="Search radius in metres (default 5000; over the cap is a 400).",
    )
    need = Terms(
        vocabulary="needs",
        what="need",
        required=False,
        help_text="Need slug from /api/needs/; repeat for any of several.",
    )
    offer = Terms(
        vocabulary="digital_offers",
        what="offer",
        required=False,
        help_text="Digital-inclusion offer code (online centres); repeat: all must be offered.",
    )
    kind = OneOf(
        Service.Kind.choices, what="kind of service", required=False, help_text="Kind of service."
    )
    access = OneOf(
        Service.Access.choices,
        what="way to access a service",
        required=False,
        help_text="How a person gets in.",
    )
    q = Words(
        too_long=f"Search words must be at most {QUERY_MAX_LENGTH} characters long.",
        required=False,
        help_text="Words to search for in names, descriptions and organisation names "
        '(English stemming; "quotes" and -minus work as in web search).',
    )
    free = YesNo(
        true=("true", "1", "yes", "on"),
        false=("false", "0", "no", "off"),
        required=False,
        default=False,
        help_text="true: only services that list no charge.",
    )
    age = WholeNumber(
        what="age (years)",
        low=0,
        high=AGE_MAX,
        example=40,
        required=False,
        help_text="The person's age in years.",
    )
    language = Matching(
        _LANGUAGE_RE,
        message="{value!r} is not a language. Give its name or code, like Urdu or ur.",
        shown=20,
        required=False,
        max_length=VALUE_MAX_LENGTH,
        help_text="A language the service works in: a name (Urdu) or code (ur).",
    )
    open = OneOf(
        [("now", "open right now")],
        required=False,
        error_messages={"choice": 'open can only be "now"; for another time use day and time.'},
        help_text="now: only services open right now (UK time).",
    )
    day = Day(required=False, help_text="With time: open on this weekday.")
    time = Matching(
        _TIME_RE,
        message="{value!r} is not a time. Use the 24-hour clock, like 09:30 or 14:00.",
        required=False,
        max_length=VALUE_MAX_LENGTH,
        help_text="With day: open at this time (24-hour HH:MM, UK time).",
    )
    page = WholeNumber(
        what="page", low=1, high=10_000, required=False, default=1, help_text="Page number, from 1."
    )
    page_size = WholeNumber(
        what="page_size",
        low=1,
        high=PAGE_SIZE_MAX,
        example=PAGE_SIZE_DEFAULT,
        required=False,
        default=PAGE_SIZE_DEFAULT,
        help_text=f"Results per page (default {PAGE_SIZE_DEFAULT}, at most {PAGE_SIZE_MAX}).",
    )

    def to_internal_value(self, data) -> dict:
        # Over-long values are refused before any is looked up (a postcode, a vocabulary).
        too_long = {
            name: [f"{name} is too long: give at most {VALUE_MAX_LENGTH} characters."]
            for name in self.fields
            if name in data and any(len(value) > VALUE_MAX_LENGTH for value in _raw(data, name))
        }
        if too_long:
            raise serializers.ValidationError(too_long)
        return super().to_internal_value(data)

    def check(self, given: dict, values: dict, errors: dict) -> None:
        values["place"] = self._place(given, values, errors)
        values["when"] = self._when(given, values, errors)

    def _place(self, given: dict, values: dict, errors: dict) -> Place | None:
        postcode, lat, lng = given["postcode"], given["lat"], given["lng"]
        if (postcode or given["place"]) and (lat or lng):
            errors.pop("lat", None)
            errors.pop("lng", None)
            errors["postcode"] = ["Give a postcode or lat and lng, not both."]
            return None
        if given["place"]:
            try:
                return places.locate_place_token(given["place"])
            except places.WhereError as exc:
                errors["place"] = [str(exc)]
            return None
        if postcode:
            return self._where(postcode, errors)
        if not (lat or lng):
            return None
        if not (lat and lng):
            if lat:
                errors.pop("lat", None)
                errors["lng"] = ["Give lng (longitude) with lat, or search by postcode instead."]
            else:
                errors.pop("lng", None)
                errors["lat"] = ["Give lat (latitude) with lng, or search by postcode instead."]
            return None
        if "lat" in errors or "lng" in errors:
            return None
        try:
            make_point(values["lat"], values["lng"])
        except OutsideUK as exc:
            errors["lat"] = [str(exc)]
            return None
        return Place(latitude=values["lat"], longitude=values["lng"], precision="coordinates")

    def _when(self, given: dict, values: dict, errors: dict) -> dt.datetime | None:
        """The moment an ``open=now`` or ``day=&time=`` search asks about, in Europe/London."""
        now = self.context["now"]
        day, time_ = given["day"], given["time"]
        if given["open"] is not None:
            # open=now and day/time are two ways to ask; the other is not read.
            errors.pop("day", None)
            errors.pop("time", None)
            if "open" in errors:
                return None
            if day or time_:
                errors["open"] = ["Give open=now or day and time, not both."]
                return None
            return now.astimezone(LONDON)
        if not (day or time_):
            return None
        if not day:
            errors["day"] = ["Give a day with the time, like day=MO for Monday."]
        if not time_:
            errors["time"] = ["Give a time with the day, like time=14:00."]
        if "day" in errors or "time" in errors:
            return None
        weekday = WEEKDAYS.index(values["day"])
        match = _TIME_RE.match(values["time"])
        today = now.astimezone(LONDON).date()
        # The next such weekday (today counts), so dated and monthly rules are read for a real day.
        date = today + dt.timedelta(days=(weekday - today.weekday()) % 7)
        return dt.datetime.combine(
            date, dt.time(int(match.group(1)), int(match.group(2))), tzinfo=LONDON
        )


# Every parameter search_services reads (others, like ``format``, are the caller's business).
PARAMETERS = tuple(SearchParams._declared_fields)


def parse_search(params, *, now: dt.datetime | None = None) -> dict:
    """Validate search parameters into a clean query; raises ``SearchError``."""
    now = now or timezone.now()
    clean = SearchParams.read(params, error=SearchError, now=now)
    return {
        "place": clean["place"],
        "radius": clean["radius"],
        "needs": clean["need"] or [],
        "offers": clean["offer"] or [],
        "kind": clean["kind"],
        "access": clean["access"],
        "q": clean["q"],
        "free": clean["free"],
        "age": clean["age"],
        "language": clean["language"],
        "when": clean["when"],
        "page": clean["page"],
        "page_size": clean["page_size"],
        "now": now,
    }


def query_parameters(params_class: type[Params]) -> list:
    """``@extend_schema(parameters=...)`` for a class: its fields as query parameters, the
    repeatable ones said to be repeated (``need=a&need=b``) explicitly."""
    repeatable = [
        OpenApiParameter(
            name,
            str,
            OpenApiParameter.QUERY,
            description=field.help_text,
            many=True,
            explode=True,
        )
        for name, field in params_class().fields.items()
        if isinstance(field, serializers.ListField)
    ]
    return [params_class, *repeatable]


# --- The Open Referral UK feed (/openreferral/) -------------------------------------------------
class FeedParams(Params):
    """The feed's page parameters, as the Open Referral UK profile names them. The feed reads a
    repeated parameter's last value, blank or not (a blank one is not given)."""

    page = WholeNumber(
        what="page",
        low=1,
        high=1_000_000,
        required=False,
        default=1,
        error_messages={
            "whole": "{what} must be a whole number.",
            "range": "{what} must be between {low} and {high}.",
        },
    )
    per_page = WholeNumber(
        what="per_page",
        low=1,
        high=FEED_PER_PAGE_MAX,
        required=False,
        default=FEED_PER_PAGE_DEFAULT,
        error_messages={
            "whole": "{what} must be a whole number.",
            "range": "{what} must be between {low} and {high}.",
        },
    )

    def given(self, data, name: str, field) -> str | None:
        value = data.get(name, "")
        value = (value[-1] if value else "") if isinstance(value, list | tuple) else value
        return str(value).strip() or None


class FeedSearchParams(FeedParams):
    search = Words(
        too_long=f"search must be at most {QUERY_MAX_LENGTH} characters.", required=False
    )


class FeedTaxonomyTermParams(FeedParams):
    taxonomy_id = Id(required=False)


class FeedDay(serializers.ChoiceField):
    """A weekday's code (MO), or any word starting with it (Monday)."""

    default_error_messages = {
        "day": "day must be one of MO, TU, WE, TH, FR, SA, SU (or a day name).",
    }

    def __init__(self, **kwargs):
        super().__init__(WEEKDAYS, **kwargs)

    def to_internal_value(self, text: str) -> str:
        code = text.upper()[:2] if len(text) > 2 else text.upper()
        if code not in WEEKDAYS:
            self.fail("day")
        return code


class FeedServiceFilterParams(FeedSearchParams):
    """The query parameters shared by /services and /service_at_locations."""

    taxonomy_term_id = Id(required=False)
    taxonomy_id = Id(required=False)
    organization_id = Id(required=False)
    # As the standard words them: a minimum age of at least, a maximum age of at most, the value.
    minimum_age = Years(required=False)
    maximum_age = Years(required=False)
    modified_after = Moment(required=False)
    day = FeedDay(required=False)
    start_time = ClockTime(required=False)
    end_time = ClockTime(required=False)


class FeedServiceParams(FeedServiceFilterParams):
    full = YesNo(required=False, default=False)


class FeedServiceAtLocationParams(FeedServiceFilterParams):
    postcode = serializers.CharField(required=False)
    proximity = WholeNumber(
        what="proximity",
        low=1,
        high=lambda: settings.SEARCH_RADIUS_MAX_M,
        required=False,
        error_messages={
            "whole": "{what} must be a whole number.",
            "range": "{what} must be between {low} and {high}.",
        },
    )

    def check(self, given: dict, values: dict, errors: dict) -> None:
        values["place"] = None
        if values["proximity"] and not given["postcode"]:
            errors["proximity"] = ["Give a postcode to measure proximity from."]
        if given["postcode"]:
            values["place"] = self._where(given["postcode"], errors)
            question = getattr(self, "where_question", None)
            if question is not None:
                # The feed has no place= of its own: name the choices, each of which reads back.
                errors["postcode"].append(
                    "It could be: " + "; ".join(c["name"] for c in question.choices) + "."
                )
