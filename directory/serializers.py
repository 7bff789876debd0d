"""How the search API shows services. Serializers only read: no side effects."""

from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework_gis.fields import GeometrySerializerMethodField
from rest_framework_gis.serializers import GeoFeatureModelSerializer

from directory.models import Service, TaxonomyTerm

SHORT_DESCRIPTION_LENGTH = 200


def short(text: str, length: int = SHORT_DESCRIPTION_LENGTH) -> str:
    text = " ".join(text.split())
    if len(text) <= length:
        return text
    return text[: length - 1].rsplit(" ", 1)[0].rstrip(",.;:") + "…"


def _address(location) -> str:
    return ", ".join(location.address_lines)


def _term(term: TaxonomyTerm) -> dict:
    return {
        "slug": term.code,
        "name": term.name,
        "label": term.label,
        "description": term.description,
    }


_DATETIME = serializers.DateTimeField()


def moment(value) -> str | None:
    """A date-time as DRF writes it (in settings.TIME_ZONE, ISO 8601), so both shapes agree."""
    return None if value is None else _DATETIME.to_representation(value)


def _distance(service) -> int | None:
    return None if service.distance is None else round(service.distance)


class TermSerializer(serializers.Serializer):
    """A need or an offer: its slug (what ``need=``/``offer=`` take) and plain-language label."""

    slug = serializers.CharField(source="code")
    name = serializers.CharField()
    label = serializers.SerializerMethodField()
    description = serializers.CharField()

    def get_label(self, term: TaxonomyTerm) -> str:
        return term.label


class KindSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()


class NearestLocationSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    location_type = serializers.CharField()
    address = serializers.SerializerMethodField()
    postcode = serializers.CharField(source="postal_code")
    latitude = serializers.FloatField(allow_null=True)
    longitude = serializers.FloatField(allow_null=True)

    def get_address(self, location) -> str:
        return _address(location)


class ResultSerializer(serializers.Serializer):
    """One search result: a service decorated by ``directory.search.search_services``."""

    id = serializers.UUIDField()
    name = serializers.CharField()
    kind = serializers.CharField()
    kind_label = serializers.CharField(source="get_kind_display")
    organization = serializers.CharField(source="organization.name")
    short_description = serializers.SerializerMethodField()
    needs = TermSerializer(many=True)
    offers = TermSerializer(many=True)
    cost_summary = serializers.CharField()
    is_free = serializers.BooleanField()
    access = serializers.CharField()
    access_label = serializers.CharField(source="get_access_display")
    next_opening = serializers.DateTimeField(allow_null=True)
    open_now = serializers.BooleanField()
    nearest_location = NearestLocationSerializer(allow_null=True)
    distance_m = serializers.SerializerMethodField()
    match = serializers.CharField(allow_null=True)

    def get_short_description(self, service) -> str:
        return short(service.description)

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_distance_m(self, service) -> int | None:
        return _distance(service)


def result_dict(service) -> dict:
    """What ``ResultSerializer`` says, written out: a page of results is the hot path, and a
    plain function is several times faster than a serializer. The serializer documents the
    shape; tests/directory/test_search_api.py checks the two agree field for field."""
    location = service.nearest_location
    return {
        "id": str(service.id),
        "name": service.name,
        "kind": service.kind,
        "kind_label": service.get_kind_display(),
        "organization": service.organization.name,
        "short_description": short(service.description),
        "needs": [_term(t) for t in service.needs],
        "offers": [_term(t) for t in service.offers],
        "cost_summary": service.cost_summary,
        "is_free": service.is_free,
        "access": service.access,
        "access_label": service.get_access_display(),
        "next_opening": moment(service.next_opening),
        "open_now": service.open_now,
        "nearest_location": None
        if location is None
        else {
            "id": str(location.id),
            "name": location.name,
            "location_type": location.location_type,
            "address": _address(location),
            "postcode": location.postal_code,
            "latitude": location.latitude,
            "longitude": location.longitude,
        },
        "distance_m": _distance(service),
        "match": service.match,
    }


def feature_dict(service) -> dict:
    """``ResultFeatureSerializer``, written out (as ``result_dict``)."""
    location = service.nearest_location
    point = location.point if location is not None else None
    return {
        "type": "Feature",
        "id": str(service.id),
        "geometry": None if point is None else {"type": "Point", "coordinates": [point.x, point.y]},
        "properties": {
            "name": service.name,
            "kind": service.kind,
            "kind_label": service.get_kind_display(),
            "organization": service.organization.name,
            "needs": [t.code for t in service.needs],
            "cost_summary": service.cost_summary,
            "access": service.access,
            "next_opening": moment(service.next_opening),
            "open_now": service.open_now,
            "address": _address(location) if location else "",
            "distance_m": _distance(service),
            "match": service.match,
        },
    }


class ResultFeatureSerializer(GeoFeatureModelSerializer):
    """The same result as a GeoJSON Feature at its nearest location (null if it has none)."""

    point = GeometrySerializerMethodField()
    kind_label = serializers.CharField(source="get_kind_display")
    organization = serializers.CharField(source="organization.name")
    needs = serializers.SerializerMethodField()
    cost_summary = serializers.CharField()
    next_opening = serializers.DateTimeField(allow_null=True)
    open_now = serializers.BooleanField()
    address = serializers.SerializerMethodField()
    distance_m = serializers.SerializerMethodField()
    match = serializers.CharField(allow_null=True)

    class Meta:
        model = Service
        geo_field = "point"
        id_field = "id"
        fields = [
            "id",
            "name",
            "kind",
            "kind_label",
            "organization",
            "needs",
            "cost_summary",
            "access",
            "next_opening",
            "open_now",
            "address",
            "distance_m",
            "match",
        ]

    @extend_schema_field(OpenApiTypes.OBJECT)  # the real schema: ResultFeatureSchema below
    def get_point(self, service):
        location = service.nearest_location
        return location.point if location is not None else None

    def get_needs(self, service) -> list[str]:
        return [term.code for term in service.needs]

    def get_address(self, service) -> str:
        location = service.nearest_location
        return _address(location) if location else ""

    def get_distance_m(self, service) -> int | None:
        return _distance(service)


class ResultFeatureSchema(OpenApiSerializerExtension):
    """The schema of ``ResultFeatureSerializer``: drf-spectacular's GeoJSON support cannot tell
    what a method's geometry is, so say it here (a Point at the nearest venue, or null)."""

    target_class = ResultFeatureSerializer
    priority = 1  # before drf-spectacular's own extension for GeoJSON serializers

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        feature_id = schema["properties"].pop("id")
        del schema["properties"]["point"]
        schema.pop("required", None)
        description = schema.pop("description", None)
        point = {
            "type": "object",
            "nullable": True,
            "description": "The nearest venue (WGS84 longitude, latitude); null if it has none.",
            "properties": {
                "type": {"type": "string", "enum": ["Point"]},
                "coordinates": {
                    "type": "array",
                    "items": {"type": "number"},
                    "minItems": 2,
                    "maxItems": 2,
                },
            },
            "required": ["type", "coordinates"],
        }
        return {
            "type": "object",
            "description": description,
            "properties": {
                "type": {"type": "string", "enum": ["Feature"]},
                "id": feature_id,
                "geometry": point,
                "properties": schema,
            },
            "required": ["type", "id", "geometry", "properties"],
        }


class SearchPlaceSerializer(serializers.Serializer):
    postcode = serializers.CharField(allow_null=True)
    outcode = serializers.CharField(allow_null=True)
    latitude = serializers.FloatField()
    longitude = serializers.FloatField()
    precision = serializers.CharField(
        help_text="postcode, sector, district (approximate), place (a town by name), "
        "coordinates or geocoder."
    )
    approximate = serializers.BooleanField()
    postcode_corrected = serializers.BooleanField(
        help_text="True when the postcode typed had O for 0 or I for 1 and was read as postcode."
    )
    name = serializers.CharField(allow_null=True, help_text="The place's name, for a place.")
    nation = serializers.CharField(
        allow_null=True, help_text="england, scotland, wales or northern_ireland, for a place."
    )
    radius_m = serializers.IntegerField()


class _SearchPagingSerializer(serializers.Serializer):
    """What every page of search results says about the search and the paging."""

    place = SearchPlaceSerializer(allow_null=True)
    count = serializers.IntegerField(
        help_text="How many services match; a lower bound when count_exact is false."
    )
    count_exact = serializers.BooleanField(
        help_text="False when more matched than were counted (more than 100, or than reach "
        "the page asked for): count is then a lower bound."
    )
    page = serializers.IntegerField()
    page_size = serializers.IntegerField()
    total_pages = serializers.IntegerField(
        allow_null=True, help_text="Null when count is a lower bound."
    )
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)


class SearchPageSerializer(_SearchPagingSerializer):
    """Documentation of the search response (the view builds it directly)."""

    results = ResultSerializer(many=True)


class SearchFeaturePageSerializer(_SearchPagingSerializer):
    """Documentation of ``format=geojson``: the page as a GeoJSON FeatureCollection."""

    type = serializers.ChoiceField(choices=["FeatureCollection"])
    features = serializers.ListField(child=ResultFeatureSerializer())
