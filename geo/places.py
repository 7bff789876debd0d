"""Where a search is centred: what a person typed, read in one place.

``locate(text)`` is the one rule the pages, the search API and the Open Referral feed all use:

1. A well-formed postcode or outward code (``SK14 4AD``, ``SK14``) is looked up as it is.
2. A town or neighbourhood by name (``Hyde``, ``Sharrow, Sheffield``, ``Carlisle city centre``)
   is found in the GeoNames gazetteer (``PlaceName``), with no network. Case, accents and
   punctuation do not matter; words like "city centre" at the end are dropped; what follows a
   comma (or the last words) may narrow it down by nation, by nearby larger town, or by the
   area we keep for each place. A name that fits several places is a question, never a guess
   (``AmbiguousPlace`` with the choices, each with a token for ``place=``).
3. A postcode typed with O for 0 or I for 1 (``SKI4 4AD``, ``WIA OAA``) is read by position
   (``geo.postcodes.readings``); one reading is used and said ("Showing results for SK14 4AD"),
   several are a question ("Did you mean ...?").
4. Only then, and only when ``GEOCODER`` is set, the external geocoder (geo.geocoding).
"""

import re
import unicodedata
from dataclasses import dataclass

from django.conf import settings
from django.contrib.gis.db.models.functions import GeometryDistance
from django.contrib.gis.measure import D
from django.db.models import Q

from geo import postcodes
from geo.models import Place, PlaceName, Postcode, PostcodeArea, PostcodeNotFound, locate_postcode

HOW_TO_FIX = (
    "Enter a full UK postcode, like SK14 4QH, the first half of one, like SK14, or the name of "
    "a town or village, like Hyde."
)
# Said after a place's name, they name no other place: "Carlisle city centre" is Carlisle.
GENERIC_SUFFIXES = (
    "city centre",
    "city center",
    "town centre",
    "town center",
    "centre",
    "center",
    "city",
    "town",
    "village",
    "area",
)
GENERIC_PREFIXES = ("near", "in", "around", "central")
NATION_WORDS = {
    "england": PlaceName.Nation.ENGLAND,
    "scotland": PlaceName.Nation.SCOTLAND,
    "wales": PlaceName.Nation.WALES,
    "cymru": PlaceName.Nation.WALES,
    "northern ireland": PlaceName.Nation.NORTHERN_IRELAND,
    "ni": PlaceName.Nation.NORTHERN_IRELAND,
    "uk": None,
    "gb": None,
    "united kingdom": None,
}
# A qualifier naming a larger town matches places this close to it ("Sharrow, Sheffield").
QUALIFIER_TOWN_M = 30_000
CHOICES_MAX = 12
# A postcode takes the nation of the nearest gazetteer place this close (else its area's).
NATION_NEAR_M = 25_000
# A place takes the postcode district of the nearest postcode this close.
DISTRICT_NEAR_M = 3_000
# Postcode areas by nation, for a postcode when the gazetteer has no places near (tests, a new
# install): areas wholly or mostly in Scotland or Wales. The gazetteer's answer comes first.
_SCOTTISH_AREAS = {
    *"AB DD DG EH FK G HS IV KA KW KY ML PA PH TD ZE".split(),
}
_WELSH_AREAS = {*"CF LD LL NP SA".split()}


class WhereError(LookupError):
    """The place could not be settled; ``choices`` (maybe empty) are what to offer instead."""

    code = "unknown_place"

    def __init__(self, message: str, choices: list[dict] | None = None):
        super().__init__(message)
        self.choices = choices or []


class AmbiguousPlace(WhereError):
    """Several places have the name: each choice has ``name`` and ``place`` (a token)."""

    code = "ambiguous_place"


class AmbiguousPostcode(WhereError):
    """Several postcodes fit what was typed: each choice has ``name`` and ``postcode``."""

    code = "ambiguous_postcode"


class PlaceNotFound(WhereError):
    code = "unknown_place"


def place_key(text: str) -> str:
    """``St. Helen's`` -> ``st helens``: lower case, no accents or punctuation, one space."""
    text = unicodedata.normalize("NFKD", text or "")
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    text = re.sub(r"['\u2019`]", "", text).replace("&", " and ")
    words = re.sub(r"[^a-z0-9]+", " ", text).split()
    return " ".join("st" if word == "saint" else word for word in words)


def _without_generic_words(key: str) -> str:
    words = key.split()
    while words and words[0] in GENERIC_PREFIXES and len(words) > 1:
        words = words[1:]
    stripped = " ".join(words)
    for suffix in GENERIC_SUFFIXES:
        if stripped.endswith(" " + suffix):
            return stripped[: -len(suffix) - 1]
    return stripped


def _named(key: str) -> list[PlaceName]:
    if not key:
        return []
    found = list(PlaceName.objects.filter(key=key).order_by("-population"))
    if not found:
        found = list(PlaceName.objects.filter(other_keys__contains=[key]).order_by("-population"))
    return found


def _narrowed(places: list[PlaceName], qualifier: str) -> list[PlaceName]:
    """The places that fit the qualifier: a nation, the area kept for them, or a larger town
    within ``QUALIFIER_TOWN_M``."""
    qualifier = _without_generic_words(qualifier)
    if qualifier in NATION_WORDS:
        nation = NATION_WORDS[qualifier]
        return [p for p in places if nation is None or p.nation == nation]
    fits = [p for p in places if place_key(p.area) == qualifier]
    if fits:
        return fits
    # GeoNames' other names sometimes say where ("Newport pa Isle of Wight").
    fits = [p for p in places if any(f" {qualifier} " in f" {k} " for k in p.other_keys)]
    if fits:
        return fits
    towns = PlaceName.objects.filter(key=qualifier)
    if not towns.exists():
        return []
    near = Q()
    for town in towns:
        near |= Q(point__dwithin=(town.point, D(m=QUALIFIER_TOWN_M)))
    ids = set(
        PlaceName.objects.filter(near, pk__in=[p.pk for p in places]).values_list("pk", flat=True)
    )
    return [p for p in places if p.pk in ids]


@dataclass
class _Found:
    places: list[PlaceName]
    note: str = ""
    several_named: bool = False  # the name alone fits more than one place


def find_places(text: str) -> _Found:
    """The gazetteer's places for what was typed (see the module's docstring)."""
    parts = [p for p in re.split(r"[,()]", text) if p.strip()]
    name, qualifiers = (parts[0], parts[1:]) if parts else ("", [])
    key = place_key(name)
    qualifiers = [place_key(q) for q in qualifiers if place_key(q)]
    places = _named(key) or _named(_without_generic_words(key))
    if not places and not qualifiers:
        # "Newport Wales", "Sharrow Sheffield": the last words may be the qualifier.
        words = key.split()
        for cut in range(len(words) - 1, 0, -1):
            head, tail = " ".join(words[:cut]), " ".join(words[cut:])
            head_places = _named(head) or _named(_without_generic_words(head))
            if head_places and (
                tail in NATION_WORDS
                or _narrowed(head_places, tail)
                or PlaceName.objects.filter(key=_without_generic_words(tail)).exists()
            ):
                places, key, qualifiers = head_places, head, [tail]
                break
    several = len(places) > 1
    for qualifier in qualifiers:
        if places:
            narrowed = _narrowed(places, qualifier)
            if narrowed:
                places = narrowed
        else:
            # A neighbourhood we do not know, in a town we do: the town, and say so.
            town = _named(_without_generic_words(qualifier))
            if town:
                shown = name.strip()[:60]
                return _Found(
                    town,
                    note=f"We do not know {shown} by name, so these are near "
                    f"{town[0].name} instead.",
                    several_named=len(town) > 1,
                )
    return _Found(places, several_named=several)


def place_from(place_name: PlaceName, *, several_named: bool = False, note: str = "") -> Place:
    # The postcode district at the place's centre, so services that list the districts they
    # serve are found by town name as they are by postcode.
    nearest = (
        Postcode.objects.filter(point__dwithin=(place_name.point, D(m=DISTRICT_NEAR_M)))
        .order_by(GeometryDistance("point", place_name.point))
        .values_list("outcode", flat=True)
        .first()
    )
    return Place(
        latitude=place_name.point.y,
        longitude=place_name.point.x,
        precision="place",
        outcode=nearest,
        label=place_name.label if several_named else place_name.name,
        nation=place_name.nation,
        note=note,
    )


def place_choice(place_name: PlaceName) -> dict:
    return {"name": place_name.label, "place": str(place_name.pk)}


def locate_place_token(token: str) -> Place:
    """A place chosen from a list of choices (``place=`` is its GeoNames id)."""
    place_name = None
    if str(token).strip().isdigit():
        place_name = PlaceName.objects.filter(pk=int(str(token).strip())).first()
    if place_name is None:
        raise PlaceNotFound("We no longer know that place. Search for it again by name.")
    several = PlaceName.objects.filter(key=place_name.key).count() > 1
    return place_from(place_name, several_named=several)


def _existing(readings: list[postcodes.ParsedPostcode]) -> list[postcodes.ParsedPostcode]:
    full = {r.postcode for r in readings if r.postcode}
    areas = {r.outcode for r in readings if not r.postcode}
    known = set(Postcode.objects.filter(postcode__in=full).values_list("postcode", flat=True))
    known |= set(PostcodeArea.objects.filter(code__in=areas).values_list("code", flat=True))
    return [r for r in readings if (r.postcode or r.outcode) in known]


def _corrected(text: str) -> Place | None:
    """The postcode meant by one typed with O/0 or I/1 swapped; None if there is no reading."""
    readings = postcodes.readings(text)
    if not readings:
        return None
    existing = _existing(readings)
    if len(readings) > 1 or not readings[0].postcode:
        # A tie, or an outward code alone (short words read as one too easily): only what exists.
        if len(existing) == 1:
            readings = existing
        elif not existing and not readings[0].postcode:
            return None
        else:
            shown = [r.postcode or r.outcode for r in (existing or readings)]
            raise AmbiguousPostcode(
                f"Did you mean {' or '.join(shown)}? Choose one, or type the postcode again.",
                [{"name": s, "postcode": s} for s in shown],
            )
    reading = readings[0]
    meant = reading.postcode or reading.outcode
    try:
        place = locate_postcode(meant)
    except PostcodeNotFound as exc:
        raise PostcodeNotFound(f"We read {text.strip()[:20]!r} as {meant}. {exc}") from None
    return Place(**{**place.__dict__, "corrected_from": text.strip()[:20]})


def _has_digit(text: str) -> bool:
    return any(c.isdigit() for c in text)


def locate(text: str) -> Place:
    """A place for what a person typed as "where" (see the module's docstring).

    Raises ``postcodes.InvalidPostcode`` (text with digits that is no postcode),
    ``PostcodeNotFound``, ``AmbiguousPlace``, ``AmbiguousPostcode`` or ``PlaceNotFound``; the
    message says what to do.
    """
    text = (text or "").strip()
    try:
        postcodes.parse(text)
    except postcodes.InvalidPostcode as invalid:
        if _has_digit(text):
            # No place name has a digit in it: a postcode with a slip, or not a postcode.
            found = _slip_or_geocoded(text)
            if found is not None:
                return found
            raise invalid
    else:
        return locate_postcode(text)
    found = find_places(text)
    if len(found.places) == 1:
        return place_from(found.places[0], several_named=found.several_named, note=found.note)
    if found.places:
        name = found.places[0].name
        raise AmbiguousPlace(
            f"There is more than one {name}. Choose one, or add the nation or a nearby town, "
            f'like "{found.places[0].label.split(", ", 1)[0]}, '
            f'{found.places[0].get_nation_display()}".',
            [place_choice(p) for p in found.places[:CHOICES_MAX]],
        )
    found = _slip_or_geocoded(text)
    if found is not None:
        return found
    raise PlaceNotFound(f"{text[:40]!r} is not a UK postcode or a place we know. {HOW_TO_FIX}")


def _slip_or_geocoded(text: str) -> Place | None:
    """The last readings: a postcode typed with a slip, then (when set up) the geocoder."""
    return _corrected(text) or _geocoded(text)


def _geocoded(text: str) -> Place | None:
    """The external geocoder, last, and only when configured (it needs the network)."""
    if settings.GEOCODER != "nominatim":
        return None
    from geo import geocoding

    try:
        return geocoding.geocode(text)
    except geocoding.GeocoderUnavailable as exc:
        raise PlaceNotFound(
            f"We could not look up {text[:40]!r} just now ({exc}). Try a postcode instead."
        ) from None


def nation_at(place: Place) -> str:
    """The nation a place is in: the gazetteer's (its own, or the nearest place's), else from
    the postcode area; "" when unknown."""
    if place.nation:
        return place.nation
    nearest = (
        PlaceName.objects.filter(point__dwithin=(place.point, D(m=NATION_NEAR_M)))
        .order_by(GeometryDistance("point", place.point))
        .values_list("nation", flat=True)
        .first()
    )
    if nearest:
        return nearest
    if place.outcode:
        area = re.match(r"[A-Z]+", place.outcode).group(0)
        if area == "BT":
            return PlaceName.Nation.NORTHERN_IRELAND
        if area in _SCOTTISH_AREAS:
            return PlaceName.Nation.SCOTLAND
        if area in _WELSH_AREAS:
            return PlaceName.Nation.WALES
        return PlaceName.Nation.ENGLAND
    return ""
