"""``/fhir/``: referrals as FHIR R4 UK Core for GP systems and BaRS-style senders.

Each view is a ``referrals.api.ReferralAPIView``: the same token and session authentication,
the same roles (``InCareTeam`` to read, ``IsClinician`` to refer), the same one read rule
(``visible``, so a referral you may not see is a 404 exactly like one that does not exist), the
same access-log row for every view of a patient's details and the same ``Cache-Control:
no-store``. Only the shapes differ: FHIR JSON (``application/fhir+json``), and every refusal an
OperationOutcome. They are left out of the OpenAPI schema: FHIR profiles document them.
"""

import re
import uuid

from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions
from rest_framework.negotiation import BaseContentNegotiation, DefaultContentNegotiation
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from config.input import JSONParser
from referrals import permissions, services
from referrals.api import ReferralAPIView, create_referral
from referrals.fhir import inbound
from referrals.fhir.resources import (
    Issue,
    operation_outcome,
    referral_bundle,
    response_message,
    service_request,
    task,
)
from referrals.models import AccessLog, Referral

FHIR_JSON = "application/fhir+json"
# A FHIR id: what may be echoed back in a message about it.
FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
ISSUE_TYPES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    409: "conflict",
    415: "not-supported",
    422: "business-rule",
    429: "throttled",
}


class FhirRenderer(JSONRenderer):
    media_type = FHIR_JSON
    format = "fhir"


class FhirParser(JSONParser):
    """The API's bounded JSON parser (size, depth, control characters), for FHIR's media type."""

    media_type = FHIR_JSON


class FhirNegotiation(BaseContentNegotiation):
    """FHIR JSON whatever the Accept header says: there is no other representation."""

    def select_parser(self, request, parsers):
        return DefaultContentNegotiation().select_parser(request, parsers)

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def _outcome(status: int, issues: list[Issue], headers: dict | None = None) -> Response:
    return Response(operation_outcome(status, issues), status=status, headers=headers)


def fhir_exception_handler(exc, context):
    """DRF's refusals (401, 403, 404, 405, 415, 429, a body that is not JSON) as
    OperationOutcomes, with the headers DRF would send (WWW-Authenticate, Retry-After)."""
    if isinstance(exc, inbound.Refused):
        return _outcome(exc.status, exc.issues)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    if not isinstance(exc, exceptions.APIException):
        return None  # a bug: Django's 500
    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))
    detail = exc.detail
    text = " ".join(str(v) for v in detail.values()) if isinstance(detail, dict) else str(detail)
    issue = Issue(ISSUE_TYPES.get(exc.status_code, "processing"), text)
    return _outcome(exc.status_code, [issue], headers)


class FhirView(ReferralAPIView):
    renderer_classes = [FhirRenderer]
    parser_classes = [FhirParser, JSONParser]
    content_negotiation_class = FhirNegotiation
    schema = None
    metadata_class = None  # OPTIONS is a 405 OperationOutcome, not DRF's description

    def get_exception_handler(self):
        return fhir_exception_handler

    def visible(self, pk) -> Referral:
        """A self-referral has no practice, referrer or (often) NHS number to put in a FHIR
        referral: no GP system sees one, and the team reads it in the pages and the API. Here
        it is the same 404 as a referral you may not see."""
        referral = super().visible(pk)
        if referral.is_self_referral:
            raise Http404
        return referral

    def fhir_visible(self, kind: str, pk: str) -> Referral:
        """``visible`` for a FHIR id: unknown, malformed and not-yours are the same 404."""
        try:
            return self.visible(uuid.UUID(pk))
        except (ValueError, Http404):
            shown = f"{kind}/{pk}" if FHIR_ID.fullmatch(pk) else f"this {kind}"
            raise inbound.Refused(
                404,
                [Issue("not-found", f"No {shown} that you may see.", kind)],
            ) from None

    def read(self, request, referral: Referral, resource: dict) -> Response:
        """A patient's details leave here: one access-log row per read, as the API writes."""
        AccessLog.record(request, referral, channel="api")
        return Response(resource, headers={"ETag": f'W/"{referral.version}"'})


class ServiceRequestView(FhirView):
    def get(self, request, pk):
        referral = self.fhir_visible("ServiceRequest", pk)
        return self.read(request, referral, service_request(referral))


class BundleView(FhirView):
    def get(self, request, pk):
        referral = self.fhir_visible("Bundle", pk)
        url = request.build_absolute_uri(reverse("fhir-service-request", args=[referral.pk]))
        return self.read(request, referral, referral_bundle(referral, service_request_url=url))


class TaskView(FhirView):
    def get(self, request, pk):
        referral = self.fhir_visible("Task", pk)
        return self.read(request, referral, task(referral))


class TaskSearchView(FhirView):
    """``GET /fhir/Task?focus=ServiceRequest/<id>``: a searchset with the referral's Task, or
    none when it is not one you may see (a search finds nothing rather than refusing)."""

    def get(self, request):
        focus = request.query_params.get("focus", "").strip()
        match = re.fullmatch(r"(?:.*/)?(?:ServiceRequest/)?([0-9a-fA-F-]{32,36})", focus)
        if not match:
            raise inbound.Refused(
                400,
                [
                    Issue(
                        "required",
                        "Search Tasks by the referral they fulfil: focus=ServiceRequest/<id>.",
                        "focus",
                    )
                ],
            )
        try:
            referral = self.visible(uuid.UUID(match.group(1)))
        except (ValueError, Http404):
            referral = None
        entries = []
        if referral is not None:
            AccessLog.record(request, referral, channel="api")
            url = request.build_absolute_uri(reverse("fhir-task", args=[referral.pk]))
            entries.append(
                {"fullUrl": url, "resource": task(referral), "search": {"mode": "match"}}
            )
        bundle = {
            "resourceType": "Bundle",
            "id": str(uuid.uuid4()),
            "type": "searchset",
            "total": len(entries),
            "link": [{"relation": "self", "url": request.build_absolute_uri()}],
            "entry": entries,
        }
        if not entries:
            del bundle["entry"]
        return Response(bundle)


class ProcessMessageView(FhirView):
    """``POST /fhir/$process-message``: a referral message in, the referral made through the
    referrals API's own ``create_referral`` (same checks, same rate limits), keyed by the
    MessageHeader.id so a message sent again is answered again without a second referral."""

    def get_permissions(self):
        return [IsAuthenticated(), permissions.IsClinician()]

    def post(self, request):
        message = inbound.read_message(request.data)
        try:
            referral, created = create_referral(
                request, message.body, idempotency_key=f"fhir:{message.key}"
            )
        except exceptions.ValidationError as error:
            raise inbound.Refused(400, inbound.issues_from_errors(error.detail, message)) from None
        except services.IdempotencyKeyReused:
            raise inbound.Refused(
                422,
                [
                    Issue(
                        "conflict",
                        f"MessageHeader.id {message.key!r} was already used for a different "
                        "referral. Give a new message a new id; send the same message again to "
                        "get the first answer again.",
                        "MessageHeader.id",
                    )
                ],
            ) from None
        url = request.build_absolute_uri(reverse("fhir-service-request", args=[referral.pk]))
        body = response_message(
            referral,
            request_header=message.header,
            endpoint=request.build_absolute_uri(reverse("fhir-process-message")),
            service_request_url=url,
            warnings=message.warnings,
        )
        headers = {"Location": url}
        if not created:
            headers["Idempotent-Replayed"] = "true"
        return Response(body, status=201 if created else 200, headers=headers)


@csrf_exempt
def unknown(request, path=""):
    """Any other address under /fhir/: a 404 OperationOutcome, not an HTML page."""
    body = operation_outcome(
        404,
        [
            Issue(
                "not-found",
                "No such FHIR address here. Flourish answers ServiceRequest/<id>, Bundle/<id>, "
                "Task/<id>, Task?focus=ServiceRequest/<id> and $process-message.",
            )
        ],
    )
    return JsonResponse(body, status=404, content_type=FHIR_JSON)
