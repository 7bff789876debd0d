"""The directory's search API (/api/services/ and friends). Reads only; open to all."""

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from config.openapi import results_of
from directory import openreferral
from directory.models import Service, TaxonomyTerm
from directory.search import SearchError, search_services
from directory.serializers import (
    KindSerializer,
    ResultFeatureSerializer,
    ResultSerializer,
    SearchFeaturePageSerializer,
    SearchPageSerializer,
    TermSerializer,
)


class GeoJSONRenderer(JSONRenderer):
    """``?format=geojson``: the same search as a GeoJSON FeatureCollection, for maps."""

    media_type = "application/geo+json"
    format = "geojson"


def _param(name, type_, description, many=False, enum=None):
    return OpenApiParameter(
        name,
        type_,
        OpenApiParameter.QUERY,
        description=description,
        many=many,
        enum=enum,
        explode=True if many else None,
    )


SEARCH_PARAMETERS = [
    _param(
        "postcode",
        str,
        "A UK postcode (SK14 4QH) or district (SK14). Unknown postcodes "
        "fall back to their sector or district; the response says so in place.precision.",
    ),
    _param("lat", float, "Latitude (WGS84), with lng, instead of a postcode."),
    _param("lng", float, "Longitude (WGS84), with lat."),
    _param("radius", int, "Search radius in metres (default 5000; over the cap is a 400)."),
    _param("need", str, "Need slug from /api/needs/; repeat for any of several.", many=True),
    _param(
        "offer",
        str,
        "Digital-inclusion offer code (online centres); repeat: all must be offered.",
        many=True,
    ),
    _param("kind", str, "Kind of service.", enum=[k.value for k in Service.Kind]),
    _param(
        "q",
        str,
        "Words to search for in names, descriptions and organisation names "
        '(English stemming; "quotes" and -minus work as in web search).',
    ),
    _param("free", bool, "true: only services that list no charge."),
    _param("access", str, "How a person gets in.", enum=[a.value for a in Service.Access]),
    _param("age", int, "The person's age in years."),
    _param("language", str, "A language the service works in: a name (Urdu) or code (ur)."),
    _param("open", str, "now: only services open right now (UK time).", enum=["now"]),
    _param("day", str, "With time: open on this weekday.", enum=list(openreferral.WEEKDAYS)),
    _param("time", str, "With day: open at this time (24-hour HH:MM, UK time)."),
    _param("page", int, "Page number, from 1."),
    _param("page_size", int, "Results per page (default 20, at most 100)."),
    _param("format", str, "geojson for a GeoJSON FeatureCollection.", enum=["json", "geojson"]),
]


class ServiceSearch(APIView):
    """Search the directory by place and need, nearest first."""

    renderer_classes = [JSONRenderer, GeoJSONRenderer, BrowsableAPIRenderer]

    @extend_schema(
        operation_id="directory_services_search",
        parameters=SEARCH_PARAMETERS,
        responses={
            (200, "application/json"): SearchPageSerializer,
            (200, "application/geo+json"): SearchFeaturePageSerializer,
            400: OpenApiResponse(
                description="The search could not be run: `errors` has the messages per field."
            ),
            404: OpenApiResponse(description="No such format (json or geojson)."),
        },
    )
    def get(self, request):
        try:
            found = search_services(request.query_params)
        except SearchError as exc:
            return Response(
                {"detail": "Please correct the search.", "errors": exc.errors}, status=400
            )
        place = None
        if found.place is not None:
            place = {**found.place.as_dict(), "radius_m": found.radius_m}
        page = {
            "place": place,
            "count": found.total,
            "page": found.page,
            "page_size": found.page_size,
            "total_pages": found.total_pages,
            "next": self._page_url(request, found.page + 1) if found.has_next else None,
            "previous": self._page_url(request, found.page - 1) if found.has_previous else None,
        }
        if getattr(request.accepted_renderer, "format", None) == "geojson":
            collection = ResultFeatureSerializer(found.results, many=True).data
            return Response({**collection, **page})
        return Response({**page, "results": ResultSerializer(found.results, many=True).data})

    @staticmethod
    def _page_url(request, page: int) -> str:
        params = request.query_params.copy()
        params["page"] = str(page)
        return request.build_absolute_uri(f"{request.path}?{params.urlencode()}")


class ServiceDetail(APIView):
    """Everything about one service: its Open Referral UK record plus needs and offers."""

    @extend_schema(
        operation_id="directory_service_detail",
        responses={
            200: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description="The Open Referral UK 3.0 service record, with kind, access, needs "
                "and offers added.",
            ),
            404: OpenApiResponse(
                description="No such service, or not listed any more (inactive or defunct)."
            ),
        },
    )
    def get(self, request, pk):
        # A resident's view of one service: public() decides (inactive and defunct are a 404);
        # the open-data feed at /openreferral/services/<id> carries every status.
        service = get_object_or_404(openreferral.full_services(Service.objects.public()), pk=pk)
        data = openreferral.service_dict(service)
        terms = [a.taxonomy_term for a in service.attributes.all()]
        data.update(
            kind=service.kind,
            kind_label=service.get_kind_display(),
            access=service.access,
            access_label=service.get_access_display(),
            needs=TermSerializer(
                [t for t in terms if t.taxonomy.slug == "flourish-needs"], many=True
            ).data,
            offers=TermSerializer(
                [t for t in terms if t.taxonomy.slug == "flourish-digital-inclusion"], many=True
            ).data,
        )
        return Response(data)


class NeedList(APIView):
    """The social-prescribing needs vocabulary (the slugs ``need=`` takes)."""

    @extend_schema(responses={200: results_of("NeedList", TermSerializer)})
    def get(self, request):
        terms = TaxonomyTerm.objects.needs().select_related("taxonomy")
        return Response({"results": TermSerializer(terms, many=True).data})


class OfferList(APIView):
    """What an online centre may offer (the codes ``offer=`` takes)."""

    @extend_schema(responses={200: results_of("OfferList", TermSerializer)})
    def get(self, request):
        terms = TaxonomyTerm.objects.digital_offers().select_related("taxonomy")
        return Response({"results": TermSerializer(terms, many=True).data})


class KindList(APIView):
    """The kinds of service (the values ``kind=`` takes)."""

    @extend_schema(responses={200: results_of("KindList", KindSerializer)})
    def get(self, request):
        kinds = [{"slug": k.value, "name": k.label} for k in Service.Kind]
        return Response({"results": KindSerializer(kinds, many=True).data})
