"""The referrals API: the same roles, the same 404s and the same access log as the pages.

Token auth (``Authorization: Token <token>`` from ``POST /api/auth/token/``; expiring, hashed
tokens: see ``referrals.api_auth``) and session auth. Token authentication is listed first so an
anonymous request is a 401 with a challenge.
"""

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import exceptions, serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from config.clientip import client_ip
from geo.models import PostcodeNotFound
from referrals import permissions, services
from referrals.authentication import TokenAuthentication
from referrals.models import AccessLog, IllegalMove, Referral, StaleReferral
from referrals.serializers import (
    AcceptSerializer,
    CloseSerializer,
    DeclineSerializer,
    EventSerializer,
    FollowUpSerializer,
    NoteSerializer,
    ReferralCreateSerializer,
    ReferralDetailSerializer,
    ReferralSerializer,
    TeamSuggestionsSerializer,
)

CONFLICT = inline_serializer(
    "Conflict",
    {
        "detail": serializers.CharField(),
        "code": serializers.ChoiceField(choices=["stale_version", "illegal_move"]),
        "version": serializers.IntegerField(),
        "status": serializers.CharField(),
    },
)


@method_decorator(never_cache, name="dispatch")
class ReferralAPIView(APIView):
    """Patient data: every answer is ``Cache-Control: no-store`` (``never_cache``), so no browser,
    proxy or shared computer keeps a copy."""

    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated, permissions.InCareTeam]

    def visible(self, pk) -> Referral:
        queryset = Referral.objects.visible_to(self.request.user).select_related(
            "patient", "practice", "team", "assigned_to", "referred_by"
        )
        return get_object_or_404(queryset, pk=pk)

    def acting(self, pk) -> Referral:
        referral = self.visible(pk)
        if not referral.may_act(self.request.user):
            raise exceptions.PermissionDenied("Only a trainer in this referral's team can do that.")
        return referral


def create_referral(request, body, *, idempotency_key: str | None) -> tuple[Referral, bool]:
    """The API's one way to make a referral from a request body shaped like
    ``ReferralCreateSerializer``'s input: the JSON API and FHIR's ``$process-message`` (which
    maps a message onto that shape) both come here, so both validate, rate-limit and replay alike.

    Returns ``(referral, created)``; ``created`` is False when the key was used before with the
    same body (a retry). Raises DRF's ``ValidationError`` (the fields in error),
    ``services.IdempotencyKeyReused`` (the same key with another body) and
    ``ratelimit.RateLimited``.
    """
    fingerprint = services.request_fingerprint(body) if idempotency_key else ""
    if idempotency_key:
        existing = services.find_replay(request.user, idempotency_key, fingerprint)
        if existing is not None:
            return existing, False
    serializer = ReferralCreateSerializer(data=body, context={"request": request})
    serializer.is_valid(raise_exception=True)
    data = serializer.validated_data
    try:
        return services.referral_create(
            by=request.user,
            practice=data["practice"],
            patient=data["patient"],
            needs=data["needs"],
            team=data["team"],
            what_matters=data["what_matters"],
            urgency=data["urgency"],
            consent_to_contact=data["consent_to_contact"],
            consent_to_share=data["consent_to_share"],
            services_in_mind=data["services_in_mind"],
            idempotency_key=idempotency_key,
            fingerprint=fingerprint,
            ip_address=client_ip(request),
        )
    except ValidationError as error:
        raise exceptions.ValidationError(error.message_dict) from None


class ReferralListView(ReferralAPIView):
    def get_permissions(self):
        if self.request.method == "POST":
            return [IsAuthenticated(), permissions.IsClinician()]
        return super().get_permissions()

    @extend_schema(
        tags=["referrals"],
        summary="Referrals you may see (your practice's or your team's)",
        parameters=[
            OpenApiParameter("status", str, enum=Referral.Status.values),
            OpenApiParameter("need", str, description="A need code"),
        ],
        responses=ReferralSerializer(many=True),
    )
    def get(self, request):
        referrals = (
            Referral.objects.visible_to(request.user)
            .select_related("patient", "practice", "team", "assigned_to")
            .prefetch_related("needs")
        )
        if value := request.query_params.get("status"):
            if value not in Referral.Status.values:
                raise exceptions.ValidationError({"status": f"Unknown status {value!r}."})
            referrals = referrals.filter(status=value)
        if value := request.query_params.get("need"):
            referrals = referrals.filter(needs__code=value)
        return Response(ReferralSerializer(referrals[:500], many=True).data)

    @extend_schema(
        tags=["referrals"],
        summary="Refer a patient (clinicians)",
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                description="Retrying with the same key returns the first referral (200) "
                "instead of making a second one.",
            )
        ],
        request=ReferralCreateSerializer,
        responses={
            201: ReferralSerializer,
            200: ReferralSerializer,
            422: OpenApiResponse(
                description="This Idempotency-Key was already used with a different request"
            ),
        },
    )
    def post(self, request):
        key = request.headers.get("Idempotency-Key", "").strip()
        if len(key) > 90:
            raise exceptions.ValidationError(
                {"Idempotency-Key": "Use a key of at most 90 characters, such as a UUID."}
            )
        try:
            referral, created = create_referral(
                request, request.data, idempotency_key=f"api:{key}" if key else None
            )
        except services.IdempotencyKeyReused as error:
            return self._key_reused(error)
        if not created:
            return self._replayed(referral)
        return Response(ReferralSerializer(referral).data, status=status.HTTP_201_CREATED)

    def _key_reused(self, error):
        return Response(
            {"detail": str(error), "code": "idempotency_key_reused"},
            status=status.HTTP_422_UNPROCESSABLE_ENTITY,
        )

    def _replayed(self, referral):
        response = Response(ReferralSerializer(referral).data, status=status.HTTP_200_OK)
        response["Idempotent-Replayed"] = "true"
        return response


class ReferralDetailView(ReferralAPIView):
    @extend_schema(
        tags=["referrals"],
        summary="A referral with the patient's details (every call is logged)",
        responses={200: ReferralDetailSerializer, 404: OpenApiResponse(description="Not yours")},
    )
    def get(self, request, pk):
        referral = self.visible(pk)
        AccessLog.record(request, referral, channel="api")
        return Response(ReferralDetailSerializer(referral, context={"request": request}).data)


class MoveView(ReferralAPIView):
    serializer_class = NoteSerializer
    action = ""

    def post(self, request, pk):
        referral = self.acting(pk)
        serializer = self.serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        try:
            self.move(referral, data)
        except StaleReferral as error:
            referral.refresh_from_db()
            return self._conflict(referral, str(error), "stale_version")
        except IllegalMove as error:
            referral.refresh_from_db()
            return self._conflict(referral, str(error), "illegal_move")
        except PermissionDenied as error:
            raise exceptions.PermissionDenied(str(error)) from None
        return Response(ReferralSerializer(referral).data)

    def _conflict(self, referral, detail, code):
        return Response(
            {
                "detail": detail,
                "code": code,
                "version": referral.version,
                "status": referral.status,
            },
            status=status.HTTP_409_CONFLICT,
        )

    def move(self, referral, data) -> None:
        getattr(referral, self.action)(by=self.request.user, **data)


def _move_schema(summary: str, serializer):
    return extend_schema(
        tags=["referrals"],
        summary=summary,
        request=serializer,
        responses={
            200: ReferralSerializer,
            403: OpenApiResponse(description="You can see it but not change it"),
            404: OpenApiResponse(description="Not yours"),
            409: CONFLICT,
        },
    )


@_move_schema("Accept (a lead may assign it to a trainer in the team)", AcceptSerializer)
class AcceptView(MoveView):
    serializer_class = AcceptSerializer

    def move(self, referral, data) -> None:
        assign_to = None
        if "assign_to" in data:
            assign_to = get_user_model().objects.filter(pk=data.pop("assign_to")).first()
            if assign_to is None:
                raise IllegalMove("You can only assign a referral to a trainer in this team.")
        referral.accept(by=self.request.user, assign_to=assign_to, **data)


@_move_schema("Decline, with a reason the referrer will see", DeclineSerializer)
class DeclineView(MoveView):
    serializer_class = DeclineSerializer
    action = "decline"


@_move_schema("First contact made", NoteSerializer)
class ContactView(MoveView):
    action = "contact"


@_move_schema("The person is engaged", NoteSerializer)
class EngageView(MoveView):
    action = "engage"


@_move_schema("Close with an outcome", CloseSerializer)
class CloseView(MoveView):
    serializer_class = CloseSerializer
    action = "close"


class FollowUpListView(ReferralAPIView):
    @extend_schema(
        tags=["follow-ups"], summary="Contacts logged", responses=FollowUpSerializer(many=True)
    )
    def get(self, request, pk):
        referral = self.visible(pk)
        follow_ups = referral.follow_ups.select_related("by").prefetch_related("measures")
        return Response(FollowUpSerializer(follow_ups, many=True).data)

    @extend_schema(
        tags=["follow-ups"],
        summary="Log a contact (trainers), with any measures taken",
        description="Saves the contact and its measures together, or nothing: every refusal "
        "is listed (a measure's under `measures`, by position). When the person was reached "
        "and the referral is accepted, it moves to contacted (one event; the referrer is told). "
        "SWEMWBS: send the seven items; a bare total is still accepted (deprecated). PAM: a "
        "score with one decimal place.",
        request=FollowUpSerializer,
        responses={201: FollowUpSerializer},
    )
    def post(self, request, pk):
        referral = self.acting(pk)
        serializer = FollowUpSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        measures = [dict(measure) for measure in data.pop("measures", [])]
        try:
            follow_up, _ = services.record_contact(
                referral, by=request.user, measures=measures, **data
            )
        except services.ContactRefused as refused:
            raise exceptions.ValidationError(_refusal_body(refused, measures)) from None
        except PermissionDenied as error:
            raise exceptions.PermissionDenied(str(error)) from None
        body = FollowUpSerializer(follow_up).data
        body["suggest_closing_could_not_contact"] = referral.suggests_could_not_contact()
        return Response(body, status=status.HTTP_201_CREATED)


def _refusal_body(refused, measures: list[dict]) -> dict:
    """``record_contact``'s refusal in the serializer's error shape: the contact's errors by
    field, and under ``measures`` one entry per measure sent (empty for one without errors)."""
    body = {field: list(messages) for field, messages in refused.contact.items()}
    if refused.measures:
        body["measures"] = [
            {
                ("non_field_errors" if field == "__all__" else field): list(messages)
                for field, messages in refused.measures.get(measure.get("instrument"), {}).items()
            }
            for measure in measures
        ]
    if "__all__" in body:
        body["non_field_errors"] = body.pop("__all__")
    return body


class EventListView(ReferralAPIView):
    @extend_schema(tags=["referrals"], summary="The timeline", responses=EventSerializer(many=True))
    def get(self, request, pk):
        referral = self.visible(pk)
        return Response(EventSerializer(referral.events.select_related("by"), many=True).data)


class TeamSuggestView(APIView):
    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated, permissions.InCareTeam]

    @extend_schema(
        tags=["referrals"],
        summary="Teams covering a postcode, nearest first, with their open cases",
        parameters=[OpenApiParameter("postcode", OpenApiTypes.STR, required=True)],
        responses={200: TeamSuggestionsSerializer},
    )
    def get(self, request):
        text = request.query_params.get("postcode", "")
        try:
            place, teams = services.suggest_teams(postcode=text)
        except ValidationError as error:
            raise exceptions.ValidationError(error.message_dict) from None
        except PostcodeNotFound as error:
            raise exceptions.NotFound(str(error)) from None
        if place is None:
            raise exceptions.NotFound(f"We could not find {text.strip()[:10]!r}.")
        return Response(
            TeamSuggestionsSerializer(
                {"postcode": place.postcode, "approximate": place.approximate, "teams": teams}
            ).data
        )
