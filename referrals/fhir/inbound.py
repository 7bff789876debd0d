"""A referral arriving as a FHIR message (NHS Booking and Referral Standard style), read into the
body the referrals API takes (``ReferralCreateSerializer``'s input), so it is checked, rate
limited and de-duplicated exactly as ``POST /api/referrals/`` is (``api.create_referral``).

What is read, and from where (everything else in the message is ignored):

| referral            | FHIR                                                                    |
| ------------------- | ----------------------------------------------------------------------- |
| idempotency key     | MessageHeader.id (a resent message has the same id)                     |
| patient             | ServiceRequest.subject -> Patient: NHS number identifier, official    |
|                     | name, birthDate, home address postalCode, telecom phone/email, language |
| needs               | ServiceRequest.reasonCode codings with system ``NEED_SYSTEM``           |
| what matters        | ServiceRequest.note text                                                |
| urgency             | ServiceRequest.priority: routine -> routine, urgent -> soon             |
| team                | ServiceRequest.performer: identifier system ``TEAM_SYSTEM``            |
| practice            | ServiceRequest.requester (Organization, or PractitionerRole's           |
|                     | organization) or MessageHeader.sender: the ODS code                    |
| consent to contact  | an active Consent for the Patient with scope ``treatment``             |
| consent to share    | an active Consent for the Patient with scope ``patient-privacy``       |

A message that is not valid FHIR (``fhir.resources``) is refused whole before anything is read.
A message sent again with the same MessageHeader.id is answered with the first referral when it
asks for the same referral (its timestamp may differ), and refused (422) when it asks for another.
"""

import re
from dataclasses import dataclass, field

from fhir.resources.R4B.bundle import Bundle
from pydantic import ValidationError

from geo import postcodes
from referrals.fhir.resources import (
    NEED_SYSTEM,
    NHS_NUMBER_SYSTEM,
    ODS_SYSTEM,
    SNOMED,
    TEAM_SYSTEM,
    Issue,
)
from referrals.models import SNOMED_REFERRAL

# How many structural problems one answer lists (a broken generator can produce thousands).
MAX_ISSUES = 20

# Each field of the API's input, and where in the message it comes from.
WHERE = {
    "patient.nhs_number": "Patient.identifier",
    "patient.given_name": "Patient.name.given",
    "patient.family_name": "Patient.name.family",
    "patient.date_of_birth": "Patient.birthDate",
    "patient.postcode": "Patient.address.postalCode",
    "patient.phone": "Patient.telecom",
    "patient.email": "Patient.telecom",
    "patient.preferred_contact": "Patient.telecom",
    "patient.preferred_language": "Patient.communication.language",
    "patient": "Patient",
    # referral_create's own checks name these fields without the "patient." prefix.
    "date_of_birth": "Patient.birthDate",
    "postcode": "Patient.address.postalCode",
    "needs": "ServiceRequest.reasonCode",
    "what_matters": "ServiceRequest.note",
    "urgency": "ServiceRequest.priority",
    "team": "ServiceRequest.performer",
    "practice": "ServiceRequest.requester",
    "consent_to_contact": "Consent",
    "consent_to_share": "Consent",
}
# What to send when the message has nothing for a field the referral needs.
HINTS = {
    "patient.nhs_number": f"give the NHS number as an identifier with system {NHS_NUMBER_SYSTEM}.",
    "patient.given_name": "give the person's official name with a given name.",
    "patient.family_name": "give the person's official name with a family name.",
    "patient.date_of_birth": "give the person's birthDate.",
    "patient.postcode": "give the person's home address with its postalCode.",
    "patient.phone": "give a phone number or an email address (telecom), so the team can reach "
    "the person.",
    "needs": f"give at least one need as a reasonCode coding with system {NEED_SYSTEM} and a "
    "code from GET /api/needs/.",
    "team": f"name the health trainer team: a performer with an identifier of system "
    f"{TEAM_SYSTEM} and the team's id (GET /api/teams/suggest/?postcode=...).",
    "consent_to_contact": "include an active Consent for the Patient with scope treatment: the "
    "person agreed to the referral and to being contacted.",
}
PRIORITY = {None: "routine", "routine": "routine", "urgent": "soon"}


class Refused(Exception):
    """The message cannot become a referral: the HTTP status and the issues to answer with."""

    def __init__(self, status: int, issues: list[Issue]):
        super().__init__(issues[0].diagnostics if issues else "")
        self.status = status
        self.issues = issues


@dataclass
class Message:
    """A referral message read into the API's terms."""

    key: str
    header: dict
    body: dict
    missing: set[str] = field(default_factory=set)
    warnings: list[Issue] = field(default_factory=list)


def read_message(data) -> Message:
    """``data`` (parsed JSON) as a referral request, or ``Refused`` saying why not."""
    if not isinstance(data, dict) or data.get("resourceType") != "Bundle":
        raise Refused(
            400,
            [
                Issue(
                    "structure",
                    "Send a FHIR Bundle of type message: a MessageHeader first, then the "
                    "ServiceRequest and the Patient it refers to.",
                    "Bundle",
                )
            ],
        )
    _check_fhir(data)
    if data.get("type") != "message":
        raise Refused(
            400,
            [Issue("value", "Bundle.type must be message for $process-message.", "Bundle.type")],
        )
    bundle = _Entries(data)
    header = bundle.first()
    if header is None or header.get("resourceType") != "MessageHeader":
        raise Refused(
            400,
            [
                Issue(
                    "structure",
                    "The first entry of a message Bundle must be its MessageHeader.",
                    "Bundle.entry[0]",
                )
            ],
        )
    if not header.get("id") or len(header["id"]) > 64:
        raise Refused(
            400,
            [
                Issue(
                    "required",
                    "MessageHeader.id is required (a FHIR id, at most 64 characters): it "
                    "identifies the message, so that a message sent again makes no second "
                    "referral.",
                    "MessageHeader.id",
                )
            ],
        )
    request = next(
        (
            found
            for ref in header.get("focus") or []
            if (found := bundle.resolve(ref, "ServiceRequest")) is not None
        ),
        None,
    )
    if request is None:
        raise Refused(
            400,
            [
                Issue(
                    "required",
                    "MessageHeader.focus must refer to the ServiceRequest in the Bundle.",
                    "MessageHeader.focus",
                )
            ],
        )
    _refuse_what_we_do_not_do(request)
    patient = bundle.resolve(request.get("subject"), "Patient")
    if patient is None:
        raise Refused(
            400,
            [
                Issue(
                    "required",
                    "ServiceRequest.subject must refer to the Patient in the Bundle.",
                    "ServiceRequest.subject",
                )
            ],
        )
    message = Message(key=header["id"], header=header, body={})
    message.body["patient"] = _patient(patient, message)
    _request(request, bundle, message)
    _practice(request, header, bundle, message)
    _consents(patient, bundle, message)
    return message


def issues_from_errors(detail, message: Message) -> list[Issue]:
    """The referrals API's validation errors (DRF's ``detail``) as issues naming the FHIR
    element each came from, and what to send where the message had nothing."""
    issues = []
    for path, text in _flatten(detail):
        key = _known(path)
        where = WHERE.get(key, "Bundle")
        if key in message.missing:
            continue  # said below, with what to send
        if key == "patient.nhs_number":
            number = message.body["patient"].get("nhs_number", "")
            where_said = f"{where} (NHS number {number})" if number else where
            issues.append(Issue("value", f"{where_said}: {text}", where))
            continue
        issues.append(Issue("invalid" if key else "processing", f"{where}: {text}", where))
    # Each missing field is refused sooner or later (the serializer stops at its field checks
    # before the checks across fields, such as a phone for phone contact): say all at once.
    for key in sorted(message.missing):
        where = WHERE[key]
        issues.append(Issue("required", f"{where}: {HINTS[key]}", where))
    # One issue per field: a missing field can fail more than one check.
    unique = {(issue.expression, issue.diagnostics): issue for issue in issues}
    return list(unique.values())


# --- Reading ---------------------------------------------------------------------------------
def _check_fhir(data: dict) -> None:
    """Refuse a Bundle that ``fhir.resources`` does not read as valid FHIR, listing where."""
    try:
        Bundle.model_validate(data)
    except ValidationError as error:
        issues = [
            Issue("structure", f"{_path(e['loc'])}: {e['msg']}", _path(e["loc"]))
            for e in error.errors()[:MAX_ISSUES]
        ]
        raise Refused(400, issues) from None
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        # fhir.resources raises these for some shapes pydantic does not catch first; hostile
        # input must be a 400, never a 500.
        raise Refused(
            400, [Issue("structure", f"The Bundle is not valid FHIR: {str(error)[:200]}", "Bundle")]
        ) from None


def _path(loc) -> str:
    path = "Bundle"
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part not in ("root", "__root__"):
            path += f".{part}"
    return path


class _Entries:
    """The Bundle's entries, and references resolved among them: ``urn:uuid:...`` full URLs,
    ``Type/id``, and bare ids (the published BaRS examples use those too)."""

    def __init__(self, data: dict):
        self.items = [
            (entry.get("fullUrl") or "", entry["resource"])
            for entry in data.get("entry") or []
            if isinstance(entry.get("resource"), dict)
        ]

    def first(self) -> dict | None:
        return self.items[0][1] if self.items else None

    def of_type(self, kind: str) -> list[dict]:
        return [resource for _, resource in self.items if resource.get("resourceType") == kind]

    def resolve(self, ref, *kinds: str) -> dict | None:
        if not isinstance(ref, dict) or not ref.get("reference"):
            return None
        text = ref["reference"]
        for url, resource in self.items:
            if kinds and resource.get("resourceType") not in kinds:
                continue
            rid = resource.get("id") or ""
            typed = f"{resource.get('resourceType')}/{rid}"
            if text in (url, typed) or (rid and text in (rid, f"urn:uuid:{rid}")):
                return resource
            if url.endswith(f"/{typed}") and text.endswith(f"/{typed}"):
                return resource
        return None


def _refuse_what_we_do_not_do(request: dict) -> None:
    """Valid FHIR that is not a social prescribing referral Flourish can take on: 422."""
    issues = []
    if request.get("status") != "active":
        issues.append(
            Issue(
                "business-rule",
                f"ServiceRequest.status is {request.get('status')!r}: only an active request "
                "is a referral to act on.",
                "ServiceRequest.status",
            )
        )
    codings = (request.get("code") or {}).get("coding") or []
    if codings and not any(
        c.get("system") == SNOMED and c.get("code") == SNOMED_REFERRAL for c in codings
    ):
        asked = codings[0].get("display") or codings[0].get("code") or "another service"
        issues.append(
            Issue(
                "not-supported",
                f"ServiceRequest.code asks for {str(asked)[:100]!r}: Flourish takes referrals to "
                f"social prescribing (SNOMED CT {SNOMED_REFERRAL}).",
                "ServiceRequest.code",
            )
        )
    if request.get("priority") not in PRIORITY:
        issues.append(
            Issue(
                "business-rule",
                f"ServiceRequest.priority is {request.get('priority')!r}: social prescribing is "
                "not for care needed at once. Send routine or urgent, and arrange urgent care "
                "elsewhere.",
                "ServiceRequest.priority",
            )
        )
    if issues:
        raise Refused(422, issues)


def _preferred(items: list, **wanted) -> dict | None:
    """The first item with all of ``wanted``'s values, else the first item."""
    for item in items:
        if all(item.get(k) == v for k, v in wanted.items()):
            return item
    return items[0] if items else None


def _patient(patient: dict, message: Message) -> dict:
    found = {}
    nhs = next(
        (
            i.get("value")
            for i in patient.get("identifier") or []
            if i.get("system") == NHS_NUMBER_SYSTEM and i.get("value")
        ),
        None,
    )
    if nhs:
        found["nhs_number"] = nhs
    name = _preferred(patient.get("name") or [], use="official") or {}
    given = [part for part in name.get("given") or [] if isinstance(part, str)]
    if given:
        found["given_name"] = " ".join(given)
    if name.get("family"):
        found["family_name"] = name["family"]
    if patient.get("birthDate"):
        found["date_of_birth"] = patient["birthDate"]
    with_postcode = [a for a in patient.get("address") or [] if a.get("postalCode")]
    address = _preferred(with_postcode, use="home")
    if address:
        found["postcode"] = address["postalCode"]
    telecom = patient.get("telecom") or []
    phone = next(
        (t["value"] for t in telecom if t.get("system") in ("phone", "sms") and t.get("value")),
        None,
    )
    email = next(
        (t["value"] for t in telecom if t.get("system") == "email" and t.get("value")), None
    )
    if phone:
        found["phone"] = phone
    if email:
        found["email"] = email
    if phone:
        found["preferred_contact"] = "phone"
    elif email:
        found["preferred_contact"] = "email"
    else:
        message.missing.add("patient.phone")
    communication = _preferred(patient.get("communication") or [], preferred=True)
    if communication:
        language = communication.get("language") or {}
        coding = (language.get("coding") or [{}])[0]
        text = language.get("text") or coding.get("display") or coding.get("code")
        if text:
            found["preferred_language"] = text
    for name in ("nhs_number", "given_name", "family_name", "date_of_birth", "postcode"):
        if name not in found:
            message.missing.add(f"patient.{name}")
    return found


def _request(request: dict, bundle: _Entries, message: Message) -> None:
    body = message.body
    needs = [
        coding["code"]
        for concept in request.get("reasonCode") or []
        for coding in concept.get("coding") or []
        if coding.get("system") == NEED_SYSTEM and coding.get("code")
    ]
    if needs:
        body["needs"] = needs
    else:
        message.missing.add("needs")
    notes = [note["text"] for note in request.get("note") or [] if note.get("text")]
    body["what_matters"] = "\n\n".join(notes)
    body["urgency"] = PRIORITY[request.get("priority")]
    team = None
    for ref in request.get("performer") or []:
        team = _identifier(ref, TEAM_SYSTEM) or _identifier(bundle.resolve(ref), TEAM_SYSTEM)
        if team:
            break
    if team:
        body["team"] = team
    else:
        message.missing.add("team")


def _identifier(thing: dict | None, system: str) -> str | None:
    """The value of ``thing``'s identifier of ``system`` (a resource, or a logical reference)."""
    if not isinstance(thing, dict):
        return None
    identifiers = thing.get("identifier") or []
    if isinstance(identifiers, dict):  # a Reference has one identifier, a resource a list
        identifiers = [identifiers]
    return next(
        (i["value"] for i in identifiers if i.get("system") == system and i.get("value")), None
    )


def _practice(request: dict, header: dict, bundle: _Entries, message: Message) -> None:
    """The referring practice's ODS code, if the message names one (the API then needs it only
    from a clinician in several practices). Its address is not read: the practice is ours."""
    for ref in (request.get("requester"), header.get("sender")):
        organization = None
        ods = _identifier(ref, ODS_SYSTEM)
        found = bundle.resolve(ref, "Organization", "PractitionerRole")
        if found is not None and found["resourceType"] == "PractitionerRole":
            ref = found.get("organization")
            ods = ods or _identifier(ref, ODS_SYSTEM)
            found = bundle.resolve(ref, "Organization")
        if found is not None:
            organization = found
            ods = ods or _identifier(found, ODS_SYSTEM)
        if ods:
            message.body["practice"] = ods
            if organization is not None:
                _note_bad_postcodes(organization, message)
            return


def _note_bad_postcodes(organization: dict, message: Message) -> None:
    for address in organization.get("address") or []:
        text = address.get("postalCode")
        if not text:
            continue
        try:
            postcodes.parse(text, allow_outcode=False)
        except postcodes.InvalidPostcode:
            shown = re.sub(r"[^A-Za-z0-9 ]", "", text)[:10]
            message.warnings.append(
                Issue(
                    "value",
                    f"Organization.address.postalCode {shown!r} is not a valid postcode. Flourish "
                    "knows the practice by its ODS code and did not use this address.",
                    "Organization.address.postalCode",
                    severity="warning",
                )
            )


def _consents(patient: dict, bundle: _Entries, message: Message) -> None:
    """What the person agreed to, from the Bundle's active Consents for this Patient."""
    scopes = set()
    for consent in bundle.of_type("Consent"):
        if consent.get("status") != "active":
            continue
        if bundle.resolve(consent.get("patient"), "Patient") is not patient:
            continue
        if (consent.get("provision") or {}).get("type") == "deny":
            continue
        for coding in (consent.get("scope") or {}).get("coding") or []:
            scopes.add(coding.get("code"))
    message.body["consent_to_contact"] = "treatment" in scopes
    message.body["consent_to_share"] = "patient-privacy" in scopes
    if not message.body["consent_to_contact"]:
        message.missing.add("consent_to_contact")


def _flatten(detail, path: str = "") -> list[tuple[str, str]]:
    """DRF's nested error detail as (``patient.nhs_number``, message) pairs."""
    if isinstance(detail, dict):
        return [
            pair
            for key, value in detail.items()
            for pair in _flatten(value, f"{path}.{key}" if path else str(key))
        ]
    if isinstance(detail, list):
        return [pair for item in detail for pair in _flatten(item, path)]
    return [(path, str(detail))]


def _known(path: str) -> str:
    """The longest prefix of ``path`` that ``WHERE`` knows (``needs.0`` -> ``needs``)."""
    parts = path.split(".")
    while parts:
        key = ".".join(parts)
        if key in WHERE:
            return key
        parts.pop()
    return ""
