from django.db import DatabaseError, connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from config.openapi import results_of
from geo import postcodes
from geo.models import Postcode, PostcodeLoad, PostcodeNotFound, locate_postcode, make_point
from geo.serializers import NearbyPostcodeSerializer, NearestQuerySerializer, PlaceSerializer


class PostcodeDetail(APIView):
    """Where a postcode is. Unknown but well-formed postcodes fall back to their sector, then
    district centroid; ``precision`` says which."""

    # The hot path of every postcode box: public, so no authentication to run (no session or
    # token lookup), JSON only (no content negotiation with the browsable API), and the place
    # written out rather than through PlaceSerializer (which documents it).
    authentication_classes = []
    permission_classes = []
    renderer_classes = [JSONRenderer]

    @extend_schema(
        operation_id="postcodes_retrieve",
        responses={
            200: PlaceSerializer,
            400: OpenApiResponse(description="Not a UK postcode: the message says why."),
            404: OpenApiResponse(description="Neither the postcode, its sector nor its district."),
        },
    )
    def get(self, request, postcode: str):
        try:
            place = locate_postcode(postcode)
        except postcodes.InvalidPostcode as exc:
            return Response({"detail": str(exc)}, status=400)
        except PostcodeNotFound as exc:
            return Response({"detail": str(exc)}, status=404)
        return Response(
            {
                "postcode": place.postcode,
                "outcode": place.outcode,
                "latitude": place.latitude,
                "longitude": place.longitude,
                "precision": place.precision,
            }
        )


class NearestPostcodes(APIView):
    """The postcodes nearest a latitude/longitude, nearest first, through the spatial index."""

    @extend_schema(
        operation_id="postcodes_nearest",
        parameters=[NearestQuerySerializer],
        responses={
            200: results_of("NearbyPostcodeList", NearbyPostcodeSerializer),
            400: OpenApiResponse(description="lat/lng missing, not numbers or outside the UK."),
        },
    )
    def get(self, request):
        query = NearestQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        point = make_point(query.validated_data["lat"], query.validated_data["lng"])
        nearest = Postcode.objects.nearest(point, query.validated_data["limit"])
        return Response({"results": NearbyPostcodeSerializer(nearest, many=True).data})


@never_cache
@require_GET
def healthz(request):
    """200 with the number of postcodes when the database answers, 503 when it does not."""
    try:
        last = PostcodeLoad.objects.order_by("-finished_at").values("rows_loaded").first()
        count = last["rows_loaded"] if last else Postcode.objects.count()
    except DatabaseError:
        # Throw the broken connection away so the next request reconnects by itself.
        connection.close_if_unusable_or_obsolete()
        try:
            connection.close()
        except DatabaseError:
            pass
        return JsonResponse({"status": "unavailable", "database": "unreachable"}, status=503)
    return JsonResponse({"status": "ok", "database": "ok", "postcodes": count})
