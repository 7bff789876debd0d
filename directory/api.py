"""The directory's search API (/api/services/ and friends). Reads only; open to all."""

from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from config.openapi import results_of
from directory import openreferral
from directory.models import Service, TaxonomyTerm
from directory.params import SearchParams, query_parameters
from directory.presenters import dress_prefetched
from directory.search import SearchError, search_services
from directory.serializers import (
    KindSerializer,
    SearchFeaturePageSerializer,
    SearchPageSerializer,
    TermSerializer,
    feature_dict,
    moment,
    result_dict,
)


class GeoJSONRenderer(JSONRenderer):
    """``?format=geojson``: the same search as a GeoJSON FeatureCollection, for maps."""

    media_type = "application/geo+json"
    format = "geojson"


# The search's parameters come from the class that validates them; format is the renderer's.
SEARCH_PARAMETERS = [
    *query_parameters(SearchParams),
    OpenApiParameter(
        "format",
        str,
        OpenApiParameter.QUERY,
        description="geojson for a GeoJSON FeatureCollection.",
        enum=["json", "geojson"],
    ),
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
                description="The search could not be run: `errors` has the messages per field. "
                "When where was a question rather than a mistake, `code` says which: "
                "`ambiguous_place` (several places have the name; each of `choices` has a `name` "
                "and a `place` token: send it back as `place=`) or `ambiguous_postcode` (a "
                "postcode with O/0 or I/1 slips that reads two ways; each choice has a `name` "
                "and a `postcode` to send as `postcode=`). Otherwise `code` is absent."
            ),
            404: OpenApiResponse(description="No such format (json or geojson)."),
        },
    )
    def get(self, request):
        try:
            found = search_services(request.query_params)
        except SearchError as exc:
            body = {"detail": "Please correct the search.", "errors": exc.errors}
            if exc.code:
                body.update(code=exc.code, choices=exc.choices)
            return Response(body, status=400)
        place = None
        if found.place is not None:
            place = {**found.place.as_dict(), "radius_m": found.radius_m}
        page = {
            "place": place,
            "count": found.total,
            "count_exact": found.total_exact,
            "page": found.page,
            "page_size": found.page_size,
            "total_pages": found.total_pages,
            "next": self._page_url(request, found.page + 1) if found.has_next else None,
            "previous": self._page_url(request, found.page - 1) if found.has_previous else None,
        }
        if getattr(request.accepted_renderer, "format", None) == "geojson":
            features = [feature_dict(service) for service in found.results]
            return Response({"type": "FeatureCollection", "features": features, **page})
        return Response({**page, "results": [result_dict(service) for service in found.results]})

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
        dress_prefetched(service, timezone.now())
        data.update(
            kind=service.kind,
            kind_label=service.get_kind_display(),
            access=service.access,
            access_label=service.get_access_display(),
            needs=TermSerializer(service.needs, many=True).data,
            offers=TermSerializer(service.offers, many=True).data,
            # As a search result says them (directory.presenters decides, once).
            cost_summary=service.cost_summary,
            is_free=service.is_free,
            next_opening=moment(service.next_opening),
            open_now=service.open_now,
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
