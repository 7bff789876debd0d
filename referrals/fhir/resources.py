"""A referral as FHIR R4 UK Core resources: ServiceRequest, its Bundle, and the Task that says
what became of it (the message back). Plain dictionaries, each checked with ``fhir.resources``
before it leaves (``validated``), so an answer that is not valid FHIR is a bug a test catches.

Least data: each resource carries only what the referrals API already shows the same caller
(``ReferralDetailSerializer``); the patient's details are in the ServiceRequest (NHS number and
name), the Bundle's Patient and the Task (NHS number only), and reading any of them writes the
access log (the views do).
"""

import uuid
from dataclasses import dataclass

from django.utils import timezone
from fhir.resources.R4B import get_fhir_model_class

from referrals.models import SNOMED_DECLINED, SNOMED_REFERRAL, Referral, ReferralEvent

UK_CORE = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-"
SNOMED = "http://snomed.info/sct"
NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"
# Spelt as in the NHS Booking and Referral Standard's OperationOutcome examples ("Codesystem").
HTTP_ERROR_SYSTEM = "https://fhir.nhs.uk/Codesystem/http-error-codes"
SNOMED_DISPLAY = {
    SNOMED_REFERRAL: "Referral to social prescribing service",
    SNOMED_DECLINED: "Social prescribing declined",
}

# Flourish's own identifiers and codes (team ids, needs, statuses, outcomes). No registered URL or
# OID exists for them yet: a deployment that registers one changes this line and tells senders.
FLOURISH = "https://flourish.example/fhir"
TEAM_SYSTEM = f"{FLOURISH}/Id/team"
NEED_SYSTEM = f"{FLOURISH}/CodeSystem/need"
STATUS_SYSTEM = f"{FLOURISH}/CodeSystem/referral-status"
OUTCOME_SYSTEM = f"{FLOURISH}/CodeSystem/referral-outcome"
TASK_OUTPUT_SYSTEM = f"{FLOURISH}/CodeSystem/task-output"

# Stable ids for the resources a referral's Bundle holds (uuid5 of the row), so the same patient
# record or clinician is the same resource in every Bundle.
_NAMESPACE = uuid.UUID("2b7c05a4-45a5-4f0b-9a38-6f5d1bb3c2e1")

S = Referral.Status
O = Referral.Outcome  # noqa: E741
# The whole mapping on one screen: (status, outcome) -> (ServiceRequest.status, Task.status).
# Declined means the team could not take it on: the request is revoked, the task rejected. A
# closed referral completed what was asked unless its outcome says it ended first (the person
# declined, could not be reached, it was not appropriate, they moved away).
STATUS_MAP: dict[tuple[str, str], tuple[str, str]] = {
    (S.NEW, ""): ("active", "requested"),
    (S.ACCEPTED, ""): ("active", "accepted"),
    (S.CONTACTED, ""): ("active", "in-progress"),
    (S.ENGAGED, ""): ("active", "in-progress"),
    (S.DECLINED, ""): ("revoked", "rejected"),
    (S.CLOSED, O.GOALS_MET): ("completed", "completed"),
    (S.CLOSED, O.PARTLY_MET): ("completed", "completed"),
    (S.CLOSED, O.OTHER): ("completed", "completed"),
    (S.CLOSED, O.PERSON_DECLINED): ("revoked", "cancelled"),
    (S.CLOSED, O.COULD_NOT_CONTACT): ("revoked", "failed"),
    (S.CLOSED, O.NOT_APPROPRIATE): ("revoked", "cancelled"),
    (S.CLOSED, O.MOVED_AWAY): ("revoked", "cancelled"),
}
PRIORITY = {Referral.Urgency.ROUTINE: "routine", Referral.Urgency.SOON: "urgent"}

# The NHS Booking and Referral Standard's error codes (OperationOutcome.issue.details).
HTTP_ERROR_CODES = {
    400: "REC_BAD_REQUEST",
    401: "REC_UNAUTHORIZED",
    403: "REC_FORBIDDEN",
    404: "REC_NOT_FOUND",
    405: "REC_METHOD_NOT_ALLOWED",
    409: "REC_CONFLICT",
    422: "REC_UNPROCESSABLE_ENTITY",
    429: "REC_TOO_MANY_REQUESTS",
    500: "REC_SERVER_ERROR",
}


def validated(resource: dict) -> dict:
    """``resource`` unchanged, once ``fhir.resources`` has read it without error."""
    get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    return resource


def statuses(referral: Referral) -> tuple[str, str]:
    """(ServiceRequest.status, Task.status) for the referral, from ``STATUS_MAP``."""
    return STATUS_MAP[(referral.status, referral.outcome or "")]


def snomed(code: str) -> dict:
    return {"system": SNOMED, "code": code, "display": SNOMED_DISPLAY[code]}


def _meta(profile: str, referral: Referral | None = None) -> dict:
    meta = {"profile": [f"{UK_CORE}{profile}"]}
    if referral is not None:
        meta["versionId"] = str(referral.version)
    return meta


def _at(value) -> str:
    return timezone.localtime(value).isoformat()


def _urn(kind: str, pk) -> str:
    return f"urn:uuid:{uuid.uuid5(_NAMESPACE, f'{kind}/{pk}')}"


def _id(urn: str) -> str:
    return urn.removeprefix("urn:uuid:")


def _person_name(user) -> str:
    return user.get_full_name() or user.get_username()


def nhs_number_identifier(referral: Referral) -> dict:
    return {"system": NHS_NUMBER_SYSTEM, "value": referral.patient.nhs_number}


def practice_reference(referral: Referral) -> dict:
    """The referring practice by its ODS code (a logical reference: no Organization endpoint)."""
    return {
        "type": "Organization",
        "identifier": {"system": ODS_SYSTEM, "value": referral.practice.ods_code},
        "display": referral.practice.name,
    }


def team_reference(referral: Referral) -> dict:
    """The health trainer team the referral went to, by its Flourish id."""
    return {
        "type": "HealthcareService",
        "identifier": {"system": TEAM_SYSTEM, "value": str(referral.team_id)},
        "display": referral.team.name,
    }


@dataclass
class BundleRefs:
    """Where the Bundle puts the resources the ServiceRequest points at."""

    patient: str
    practitioner: str
    practitioner_role: str
    organization: str

    @classmethod
    def of(cls, referral: Referral) -> "BundleRefs":
        return cls(
            patient=_urn("patient", referral.patient_id),
            practitioner=_urn("user", referral.referred_by_id),
            practitioner_role=_urn("role", f"{referral.referred_by_id}/{referral.practice_id}"),
            organization=_urn("practice", referral.practice_id),
        )


def service_request(
    referral: Referral, *, refs: BundleRefs | None = None, patient_details: bool = True
) -> dict:
    """The referral as a UK Core ServiceRequest coded SNOMED CT 871731000000106.

    Alone, it points at the patient by NHS number and at the practice by ODS code; in a Bundle
    (``refs``) at the Bundle's Patient and PractitionerRole. ``patient_details=False`` (the
    answer to a new referral, like the API's) names the patient and nothing more.
    """
    status, _ = statuses(referral)
    patient = referral.patient
    if not patient_details:
        subject = {"display": patient.name}
    elif refs is not None:
        subject = {"reference": refs.patient, "display": patient.name}
    else:
        subject = {
            "type": "Patient",
            "identifier": nhs_number_identifier(referral),
            "display": patient.name,
        }
    if refs is not None:
        requester = {
            "reference": refs.practitioner_role,
            "display": _person_name(referral.referred_by),
        }
    else:
        requester = practice_reference(referral)
    resource = {
        "resourceType": "ServiceRequest",
        "id": str(referral.pk),
        "meta": _meta("ServiceRequest", referral),
        "status": status,
        "intent": "order",
        "priority": PRIORITY[referral.urgency],
        "code": {"coding": [snomed(referral.snomed_code)]},
        "subject": subject,
        "authoredOn": _at(referral.created_at),
        "requester": requester,
        "performer": [team_reference(referral)],
        "reasonCode": [
            {
                "coding": [{"system": NEED_SYSTEM, "code": need.code, "display": need.name}],
                "text": need.name,
            }
            for need in referral.needs.all()
        ],
    }
    if referral.what_matters:
        resource["note"] = [{"text": referral.what_matters}]
    if not resource["reasonCode"]:
        del resource["reasonCode"]
    return validated(resource)


def patient_resource(referral: Referral, refs: BundleRefs) -> dict:
    """The referring practice's record of the person, as the API's ``PatientSerializer`` shows
    it (NHS number, name, date of birth, postcode, phone, email, language)."""
    patient = referral.patient
    resource = {
        "resourceType": "Patient",
        "id": _id(refs.patient),
        "meta": _meta("Patient"),
        "identifier": [nhs_number_identifier(referral)],
        "name": [{"use": "official", "family": patient.family_name, "given": [patient.given_name]}],
        "birthDate": patient.date_of_birth.isoformat(),
        "generalPractitioner": [
            {"reference": refs.organization, "display": referral.practice.name}
        ],
    }
    telecom = []
    if patient.phone:
        telecom.append({"system": "phone", "value": patient.phone})
    if patient.email:
        telecom.append({"system": "email", "value": patient.email})
    if telecom:
        resource["telecom"] = telecom
    if patient.postcode:
        resource["address"] = [{"use": "home", "postalCode": patient.postcode}]
    if patient.preferred_language:
        resource["communication"] = [
            {"language": {"text": patient.preferred_language}, "preferred": True}
        ]
    return validated(resource)


def referral_bundle(referral: Referral, *, service_request_url: str) -> dict:
    """The ServiceRequest with the Patient, the referring clinician (Practitioner, and their
    PractitionerRole at the practice) and the practice (Organization), each reference resolving
    to an entry's ``fullUrl``."""
    refs = BundleRefs.of(referral)
    user = referral.referred_by
    practitioner = {
        "resourceType": "Practitioner",
        "id": _id(refs.practitioner),
        "meta": _meta("Practitioner"),
        "name": [_human_name(user)],
    }
    role = {
        "resourceType": "PractitionerRole",
        "id": _id(refs.practitioner_role),
        "meta": _meta("PractitionerRole"),
        "practitioner": {"reference": refs.practitioner, "display": _person_name(user)},
        "organization": {"reference": refs.organization, "display": referral.practice.name},
    }
    organization = {
        "resourceType": "Organization",
        "id": _id(refs.organization),
        "meta": _meta("Organization"),
        "identifier": [{"system": ODS_SYSTEM, "value": referral.practice.ods_code}],
        "name": referral.practice.name,
    }
    entries = [
        (service_request_url, service_request(referral, refs=refs)),
        (refs.patient, patient_resource(referral, refs)),
        (refs.practitioner_role, validated(role)),
        (refs.practitioner, validated(practitioner)),
        (refs.organization, validated(organization)),
    ]
    return validated(
        {
            "resourceType": "Bundle",
            "id": str(referral.pk),
            "meta": {"profile": [f"{UK_CORE}Bundle"]},
            "type": "collection",
            "timestamp": _at(timezone.now()),
            "entry": [{"fullUrl": url, "resource": resource} for url, resource in entries],
        }
    )


def _human_name(user) -> dict:
    name = {"text": _person_name(user)}
    if user.last_name:
        name["family"] = user.last_name
    if user.first_name:
        name["given"] = [user.first_name]
    return name


def _output(code: str, display: str, **value) -> dict:
    return {
        "type": {"coding": [{"system": TASK_OUTPUT_SYSTEM, "code": code, "display": display}]},
        **value,
    }


def outcome_concept(referral: Referral) -> dict:
    """How a closed referral ended: Flourish's outcome, and SNOMED CT 871711000000103 when the
    person declined (``Referral.outcome_snomed_code``, set by ``Referral.close``)."""
    coding = [
        {
            "system": OUTCOME_SYSTEM,
            "code": referral.outcome,
            "display": referral.get_outcome_display(),
        }
    ]
    if referral.outcome_snomed_code:
        coding.append(snomed(referral.outcome_snomed_code))
    return {"coding": coding, "text": referral.get_outcome_display()}


def task(referral: Referral) -> dict:
    """The referral's progress as a Task fulfilling its ServiceRequest: the PRSB "message back
    to the GP and referrer" in FHIR. ``status`` from ``STATUS_MAP``; ``businessStatus`` says
    where it is in Flourish's words (the outcome, once closed); ``output`` holds the outcome,
    the team's closing note or reason for declining, and the message the referrer was sent."""
    _, status = statuses(referral)
    finished = not referral.is_open
    if referral.status == S.CLOSED:
        business_status = outcome_concept(referral)
    else:
        label = referral.get_status_display()
        business_status = {
            "coding": [{"system": STATUS_SYSTEM, "code": referral.status, "display": label}],
            "text": label,
        }
    resource = {
        "resourceType": "Task",
        "id": str(referral.pk),
        "meta": _meta("Task", referral),
        "basedOn": [{"reference": f"ServiceRequest/{referral.pk}"}],
        "status": status,
        "businessStatus": business_status,
        "intent": "order",
        "priority": PRIORITY[referral.urgency],
        "code": {
            "coding": [
                {
                    "system": "http://hl7.org/fhir/CodeSystem/task-code",
                    "code": "fulfill",
                    "display": "Fulfill the focal request",
                }
            ]
        },
        "focus": {"reference": f"ServiceRequest/{referral.pk}"},
        "for": {"type": "Patient", "identifier": nhs_number_identifier(referral)},
        "executionPeriod": {"start": _at(referral.created_at)},
        "authoredOn": _at(referral.created_at),
        "lastModified": _at(referral.status_changed_at),
        "requester": practice_reference(referral),
        "owner": team_reference(referral),
    }
    outputs = []
    if finished:
        resource["executionPeriod"]["end"] = _at(referral.status_changed_at)
    if referral.status == S.DECLINED:
        resource["statusReason"] = {"text": referral.decline_reason}
        outputs.append(
            _output("decline-reason", "Why the team declined", valueString=referral.decline_reason)
        )
    elif referral.status == S.CLOSED:
        if status != "completed":
            resource["statusReason"] = outcome_concept(referral)
        outputs.append(
            _output("outcome", "Outcome", valueCodeableConcept=outcome_concept(referral))
        )
        closing = (
            referral.events.filter(kind=ReferralEvent.Kind.MOVED, to_status=S.CLOSED)
            .order_by("at", "pk")
            .last()
        )
        if closing is not None and closing.note:
            outputs.append(
                _output("closing-note", "The team's closing note", valueString=closing.note)
            )
    message = referral.notifications.filter(user_id=referral.referred_by_id).first()
    if message is not None:
        outputs.append(
            _output(
                "message-to-referrer",
                "The message the referrer was sent",
                valueString=message.message,
            )
        )
    if outputs:
        resource["output"] = outputs
    return validated(resource)


@dataclass
class Issue:
    """One problem, for an OperationOutcome: FHIR's issue type (``invalid``, ``required``,
    ``not-found``...), a sentence saying what to change, and where (a FHIRPath)."""

    code: str
    diagnostics: str
    expression: str | None = None
    severity: str = "error"


def operation_outcome(status_code: int, issues: list[Issue]) -> dict:
    """The shape of the Booking and Referral Standard's examples: each issue with its FHIR
    type, the standard's error code for the HTTP status, and what went wrong in words."""
    body = {
        "resourceType": "OperationOutcome",
        "id": str(uuid.uuid4()),
        "meta": {"profile": [f"{UK_CORE}OperationOutcome"]},
        "issue": [],
    }
    error_code = HTTP_ERROR_CODES.get(status_code)
    for issue in issues:
        row = {"severity": issue.severity, "code": issue.code}
        if error_code and issue.severity in ("error", "fatal"):
            row["details"] = {"coding": [{"system": HTTP_ERROR_SYSTEM, "code": error_code}]}
        row["diagnostics"] = issue.diagnostics
        if issue.expression:
            row["expression"] = [issue.expression]
        body["issue"].append(row)
    return validated(body)


def response_message(
    referral: Referral,
    *,
    request_header: dict,
    endpoint: str,
    service_request_url: str,
    warnings: list[Issue],
) -> dict:
    """The answer to a referral message: a message Bundle whose MessageHeader responds ``ok`` to
    the request's MessageHeader.id, with the referral's ServiceRequest (naming the patient and
    nothing more, like the API's answer to a new referral) and any warnings."""
    header_urn = f"urn:uuid:{uuid.uuid4()}"
    header = {
        "resourceType": "MessageHeader",
        "id": _id(header_urn),
        "meta": {"profile": [f"{UK_CORE}MessageHeader"]},
        "source": {"name": "Flourish", "endpoint": endpoint},
        "response": {"identifier": request_header["id"], "code": "ok"},
        "focus": [{"reference": service_request_url}],
    }
    for event in ("eventCoding", "eventUri"):
        if event in request_header:
            header[event] = request_header[event]
    sender = (request_header.get("source") or {}).get("endpoint")
    if sender:
        header["destination"] = [{"endpoint": sender}]
    entries = [
        {"fullUrl": header_urn, "resource": header},
        {
            "fullUrl": service_request_url,
            "resource": service_request(referral, patient_details=False),
        },
    ]
    if warnings:
        outcome_urn = f"urn:uuid:{uuid.uuid4()}"
        outcome = operation_outcome(200, warnings)
        outcome["id"] = _id(outcome_urn)
        header["response"]["details"] = {"reference": outcome_urn}
        entries.append({"fullUrl": outcome_urn, "resource": outcome})
    return validated(
        {
            "resourceType": "Bundle",
            "id": str(uuid.uuid4()),
            "meta": {"profile": [f"{UK_CORE}Bundle"]},
            "type": "message",
            "timestamp": _at(timezone.now()),
            "entry": entries,
        }
    )
