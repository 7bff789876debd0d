"""Referrals in FHIR R4 UK Core: ServiceRequest, Bundle, Task and $process-message.

Every body Flourish sends is read back with ``fhir.resources`` (``valid``). The peer-data tests
use the UK Core and Booking and Referral Standard (BaRS) examples from the team's shared/
folder, and are skipped when it is not beside the checkout.
"""

import copy
import json
import random
import uuid
from pathlib import Path

import pytest
from django.urls import reverse
from fhir.resources.R4B import get_fhir_model_class
from knox.models import AuthToken
from lxml import etree

from referrals.fhir.resources import (
    HTTP_ERROR_SYSTEM,
    NEED_SYSTEM,
    NHS_NUMBER_SYSTEM,
    ODS_SYSTEM,
    SNOMED,
    STATUS_MAP,
    TEAM_SYSTEM,
)
from referrals.models import AccessLog, Practice, PracticeMembership, Referral

PEER = Path(__file__).resolve().parents[3] / "shared" / "peer-data" / "fhir"
needs_peer_data = pytest.mark.skipif(
    not PEER.is_dir(), reason=f"FHIR peer data not found at {PEER}: put shared/ beside the checkout"
)
UK_CORE_SERVICE_REQUEST = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-ServiceRequest"
FHIR_JSON = "application/fhir+json"


def valid(body: dict) -> dict:
    """``body`` once fhir.resources has read it as the resource it says it is."""
    get_fhir_model_class(body["resourceType"]).model_validate(body)
    return body


def outcome(response, status: int) -> dict:
    """The OperationOutcome a refusal answers with, checked for status and shape."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith(FHIR_JSON)
    body = valid(response.json())
    assert body["resourceType"] == "OperationOutcome"
    return body


def diagnostics(body: dict) -> str:
    return " | ".join(issue["diagnostics"] for issue in body["issue"])


def get(client, name, pk, **extra):
    return client.get(reverse(name, args=[str(pk)]), **extra)


def move(referral, user, action, **data):
    referral.refresh_from_db()
    getattr(referral, action)(by=user, version=referral.version, **data)
    referral.refresh_from_db()
    return referral


# --- A referral as FHIR ----------------------------------------------------------------------
class ServiceRequestTests:
    def test_it_gives_the_referral_as_a_uk_core_service_request(self, client, world):
        client.force_login(world.clinician)
        response = get(client, "fhir-service-request", world.referral.pk)
        assert response.status_code == 200
        assert response["Content-Type"].startswith(FHIR_JSON)
        assert "no-store" in response["Cache-Control"]
        body = valid(response.json())
        patient = world.referral.patient
        assert body["resourceType"] == "ServiceRequest"
        assert body["id"] == str(world.referral.pk)
        assert body["meta"]["profile"] == [UK_CORE_SERVICE_REQUEST]
        assert body["code"]["coding"] == [
            {
                "system": SNOMED,
                "code": "871731000000106",
                "display": "Referral to social prescribing service",
            }
        ]
        assert (body["status"], body["intent"], body["priority"]) == ("active", "order", "routine")
        assert body["subject"]["identifier"] == {
            "system": NHS_NUMBER_SYSTEM,
            "value": patient.nhs_number,
        }
        assert body["subject"]["display"] == patient.name
        assert body["requester"]["identifier"] == {"system": ODS_SYSTEM, "value": "P89001"}
        assert body["performer"][0]["identifier"] == {
            "system": TEAM_SYSTEM,
            "value": str(world.team.pk),
        }
        assert body["reasonCode"][0]["coding"][0]["system"] == NEED_SYSTEM
        assert body["reasonCode"][0]["coding"][0]["code"] == "loneliness"
        assert body["note"] == [{"text": "Getting out of the house"}]
        assert body["authoredOn"].startswith(str(world.referral.created_at.date()))
        assert response["ETag"] == 'W/"1"'

    def test_it_answers_an_api_token(self, client, world):
        _, token = AuthToken.objects.create(world.trainer)
        response = get(
            client, "fhir-service-request", world.referral.pk, HTTP_AUTHORIZATION=f"Token {token}"
        )
        assert response.status_code == 200
        assert valid(response.json())["id"] == str(world.referral.pk)

    def test_it_logs_each_read(self, client, world):
        client.force_login(world.trainer)
        url = reverse("fhir-service-request", args=[world.referral.pk])
        client.get(url, REMOTE_ADDR="203.0.113.9")
        client.get(url, REMOTE_ADDR="203.0.113.9")
        rows = AccessLog.objects.filter(user=world.trainer)
        assert rows.count() == 2
        row = rows.first()
        assert (row.patient, row.referral, row.channel, row.path, row.ip_address) == (
            world.referral.patient,
            world.referral,
            "api",
            url,
            "203.0.113.9",
        )

    @pytest.mark.parametrize(
        "role", ["anonymous", "outsider", "manager", "editor", "admin", "other_trainer"]
    )
    def test_it_refuses_whoever_the_referral_api_refuses(self, client, world, role):
        if world.user(role):
            client.force_login(world.user(role))
        api = client.get(reverse("api-referral", args=[world.referral.pk]))
        response = get(client, "fhir-service-request", world.referral.pk)
        body = outcome(response, api.status_code)
        assert api.status_code in (401, 403, 404)
        assert AccessLog.objects.count() == 0
        if api.status_code == 401:
            assert response["WWW-Authenticate"] == "Token"
            assert body["issue"][0]["details"]["coding"][0]["code"] == "REC_UNAUTHORIZED"

    def test_it_answers_another_practices_clinician_as_if_there_were_no_such_referral(
        self, client, world
    ):
        client.force_login(world.other_clinician)
        refused = outcome(get(client, "fhir-service-request", world.referral.pk), 404)
        unknown = outcome(get(client, "fhir-service-request", uuid.uuid4()), 404)
        assert refused["issue"][0]["code"] == unknown["issue"][0]["code"] == "not-found"
        assert refused["issue"][0]["details"] == {
            "coding": [{"system": HTTP_ERROR_SYSTEM, "code": "REC_NOT_FOUND"}]
        }
        assert AccessLog.objects.count() == 0

    @pytest.mark.parametrize("pk", ["not-a-uuid", "12345", "a" * 70])
    def test_it_answers_a_malformed_id_with_a_404_outcome(self, client, world, pk):
        client.force_login(world.clinician)
        body = outcome(client.get(f"/fhir/ServiceRequest/{pk}"), 404)
        assert "that you may see" in diagnostics(body)

    def test_it_refuses_other_methods_with_an_outcome(self, client, world):
        client.force_login(world.trainer)
        url = reverse("fhir-service-request", args=[world.referral.pk])
        body = outcome(client.delete(url), 405)
        assert body["issue"][0]["details"]["coding"][0]["code"] == "REC_METHOD_NOT_ALLOWED"
        outcome(client.options(url), 405)

    def test_it_answers_an_unknown_address_with_an_outcome(self, client, world):
        client.force_login(world.trainer)
        outcome(client.get("/fhir/Patient/1"), 404)
        outcome(client.get("/fhir/"), 404)


class StatusMappingTests:
    def test_it_maps_every_status_and_outcome(self):
        combinations = {(s, "") for s in Referral.Status if s != Referral.Status.CLOSED} | {
            (Referral.Status.CLOSED, o) for o in Referral.Outcome
        }
        assert set(STATUS_MAP) == combinations

    @pytest.mark.parametrize(
        ("steps", "request_status", "task_status"),
        [
            ([], "active", "requested"),
            ([("accept", {})], "active", "accepted"),
            ([("accept", {}), ("contact", {})], "active", "in-progress"),
            ([("accept", {}), ("contact", {}), ("engage", {})], "active", "in-progress"),
            ([("decline", {"reason": "Outside our area"})], "revoked", "rejected"),
            ([("accept", {}), ("close", {"outcome": "goals_met"})], "completed", "completed"),
            ([("accept", {}), ("close", {"outcome": "person_declined"})], "revoked", "cancelled"),
            ([("accept", {}), ("close", {"outcome": "could_not_contact"})], "revoked", "failed"),
        ],
    )
    def test_it_shows_where_the_referral_is(
        self, client, world, steps, request_status, task_status
    ):
        for action, data in steps:
            move(world.referral, world.trainer, action, **data)
        client.force_login(world.clinician)
        service_request = valid(get(client, "fhir-service-request", world.referral.pk).json())
        task = valid(get(client, "fhir-task", world.referral.pk).json())
        assert service_request["status"] == request_status
        assert task["status"] == task_status


class BundleTests:
    def test_it_gives_the_referral_with_its_patient_practitioner_and_practice(self, client, world):
        client.force_login(world.trainer)
        response = get(client, "fhir-bundle", world.referral.pk)
        assert response.status_code == 200
        body = valid(response.json())
        assert body["type"] == "collection"
        kinds = [entry["resource"]["resourceType"] for entry in body["entry"]]
        assert kinds == [
            "ServiceRequest",
            "Patient",
            "PractitionerRole",
            "Practitioner",
            "Organization",
        ]
        by_url = {entry["fullUrl"]: entry["resource"] for entry in body["entry"]}
        request = body["entry"][0]["resource"]
        assert body["entry"][0]["fullUrl"].endswith(f"/fhir/ServiceRequest/{world.referral.pk}")
        patient = by_url[request["subject"]["reference"]]
        role = by_url[request["requester"]["reference"]]
        practitioner = by_url[role["practitioner"]["reference"]]
        practice = by_url[role["organization"]["reference"]]
        assert by_url[patient["generalPractitioner"][0]["reference"]] is practice
        assert patient["identifier"] == [
            {"system": NHS_NUMBER_SYSTEM, "value": world.referral.patient.nhs_number}
        ]
        assert patient["birthDate"] == "1960-05-17"
        assert patient["address"] == [{"use": "home", "postalCode": "SK14 1AA"}]
        assert practice["identifier"] == [{"system": ODS_SYSTEM, "value": "P89001"}]
        assert practitioner["name"][0]["text"] == "clinician"
        for url, resource in by_url.items():
            if url.startswith("urn:uuid:"):
                assert url == f"urn:uuid:{resource['id']}"
        assert AccessLog.objects.filter(user=world.trainer, channel="api").count() == 1

    def test_it_refuses_another_team_with_a_404(self, client, world):
        client.force_login(world.other_trainer)
        outcome(get(client, "fhir-bundle", world.referral.pk), 404)
        assert AccessLog.objects.count() == 0


class TaskTests:
    def test_it_says_an_open_referral_is_requested(self, client, world):
        client.force_login(world.clinician)
        body = valid(get(client, "fhir-task", world.referral.pk).json())
        assert body["status"] == "requested"
        assert body["focus"] == {"reference": f"ServiceRequest/{world.referral.pk}"}
        assert body["businessStatus"]["coding"][0]["code"] == "new"
        assert "output" not in body and "end" not in body["executionPeriod"]
        assert body["for"]["identifier"]["value"] == world.referral.patient.nhs_number
        assert "display" not in body["for"]  # the NHS number only, no name
        assert AccessLog.objects.filter(user=world.clinician).count() == 1

    def test_it_says_what_happened_when_the_referral_closed(self, client, world):
        move(world.referral, world.trainer, "accept")
        move(world.referral, world.trainer, "close", outcome="goals_met", note="Joined a choir.")
        client.force_login(world.clinician)
        body = valid(get(client, "fhir-task", world.referral.pk).json())
        assert body["status"] == "completed"
        assert body["businessStatus"]["coding"][0]["code"] == "goals_met"
        assert body["executionPeriod"]["end"]
        outputs = {o["type"]["coding"][0]["code"]: o for o in body["output"]}
        assert outputs["outcome"]["valueCodeableConcept"]["text"] == "Goals met"
        assert outputs["closing-note"]["valueString"] == "Goals met. Joined a choir."
        assert "Outcome: Goals met." in outputs["message-to-referrer"]["valueString"]

    def test_it_codes_a_person_declining_in_snomed(self, client, world):
        move(world.referral, world.trainer, "accept")
        move(world.referral, world.trainer, "close", outcome="person_declined")
        client.force_login(world.clinician)
        body = valid(get(client, "fhir-task", world.referral.pk).json())
        declined = {"system": SNOMED, "code": "871711000000103"}
        assert body["status"] == "cancelled"
        assert any(declined.items() <= c.items() for c in body["statusReason"]["coding"]), body[
            "statusReason"
        ]
        outputs = {o["type"]["coding"][0]["code"]: o for o in body["output"]}
        codes = outputs["outcome"]["valueCodeableConcept"]["coding"]
        assert {
            "system": SNOMED,
            "code": "871711000000103",
            "display": "Social prescribing declined",
        } in codes

    def test_it_gives_the_teams_reason_for_declining(self, client, world):
        move(world.referral, world.trainer, "decline", reason="We do not cover this address.")
        client.force_login(world.clinician)
        body = valid(get(client, "fhir-task", world.referral.pk).json())
        assert body["status"] == "rejected"
        assert body["statusReason"]["text"] == "We do not cover this address."
        outputs = {o["type"]["coding"][0]["code"]: o for o in body["output"]}
        assert outputs["decline-reason"]["valueString"] == "We do not cover this address."
        assert "Declined by Hyde health trainers" in outputs["message-to-referrer"]["valueString"]

    def test_it_finds_the_task_by_its_focus(self, client, world):
        client.force_login(world.trainer)
        url = reverse("fhir-task-search")
        response = client.get(url, {"focus": f"ServiceRequest/{world.referral.pk}"})
        body = valid(response.json())
        assert (body["type"], body["total"]) == ("searchset", 1)
        assert body["entry"][0]["resource"]["id"] == str(world.referral.pk)
        assert AccessLog.objects.filter(user=world.trainer).count() == 1

    def test_it_finds_nothing_for_a_referral_you_may_not_see(self, client, world):
        client.force_login(world.other_trainer)
        response = client.get(
            reverse("fhir-task-search"), {"focus": f"ServiceRequest/{world.referral.pk}"}
        )
        body = valid(response.json())
        assert (response.status_code, body["total"]) == (200, 0)
        assert AccessLog.objects.count() == 0

    def test_it_needs_a_focus_to_search(self, client, world):
        client.force_login(world.trainer)
        body = outcome(client.get(reverse("fhir-task-search")), 400)
        assert "focus=ServiceRequest/<id>" in diagnostics(body)

    def test_it_refuses_another_team_with_a_404(self, client, world):
        client.force_login(world.other_trainer)
        outcome(get(client, "fhir-task", world.referral.pk), 404)
        assert AccessLog.objects.count() == 0


# --- A referral arriving as a FHIR message ---------------------------------------------------
def referral_message(world, *, nhs_number="9434765919", message_id=None) -> dict:
    """A BaRS-shaped referral message with everything a Flourish referral needs."""
    ids = {name: str(uuid.uuid4()) for name in ("sr", "patient", "org", "consent", "share")}
    patient_ref = {"reference": f"urn:uuid:{ids['patient']}"}

    def consent(key, scope):
        return {
            "resourceType": "Consent",
            "id": ids[key],
            "status": "active",
            "scope": {
                "coding": [
                    {"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": scope}
                ]
            },
            "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
            "patient": patient_ref,
            "policyRule": {"coding": [{"code": "cric"}]},
        }

    resources = [
        {
            "resourceType": "MessageHeader",
            "id": message_id or str(uuid.uuid4()),
            "eventCoding": {
                "system": "https://fhir.nhs.uk/CodeSystem/message-events-bars",
                "code": "servicerequest-request",
            },
            "source": {"name": "GP system", "endpoint": "https://gp.example/fhir"},
            "focus": [{"reference": f"urn:uuid:{ids['sr']}"}],
        },
        {
            "resourceType": "ServiceRequest",
            "id": ids["sr"],
            "status": "active",
            "intent": "order",
            "priority": "urgent",
            "code": {"coding": [{"system": SNOMED, "code": "871731000000106"}]},
            "subject": patient_ref,
            "requester": {"reference": f"urn:uuid:{ids['org']}"},
            "performer": [{"identifier": {"system": TEAM_SYSTEM, "value": str(world.team.pk)}}],
            "reasonCode": [
                {"coding": [{"system": NEED_SYSTEM, "code": "loneliness"}]},
                {"coding": [{"system": SNOMED, "code": "1156204005"}], "text": "Lonely"},
            ],
            "note": [{"text": "Wants to meet people."}],
            "authoredOn": "2026-11-30T09:00:00+00:00",
        },
        {
            "resourceType": "Patient",
            "id": ids["patient"],
            "identifier": [{"system": NHS_NUMBER_SYSTEM, "value": nhs_number}],
            "name": [{"use": "official", "family": "Lovelace", "given": ["Ada"]}],
            "birthDate": "1965-12-10",
            "telecom": [{"system": "phone", "value": "07700 900111"}],
            "address": [{"use": "home", "postalCode": "sk14 1pw"}],
        },
        {
            "resourceType": "Organization",
            "id": ids["org"],
            "identifier": [{"system": ODS_SYSTEM, "value": world.practice.ods_code}],
            "name": world.practice.name,
        },
        consent("consent", "treatment"),
        consent("share", "patient-privacy"),
    ]
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "type": "message",
        "timestamp": "2026-11-30T09:00:00+00:00",
        "entry": [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in resources],
    }


def resource(message: dict, kind: str) -> dict:
    return next(e["resource"] for e in message["entry"] if e["resource"]["resourceType"] == kind)


def send(client, message, content_type=FHIR_JSON, **extra):
    body = message if isinstance(message, str | bytes) else json.dumps(message)
    return client.post(reverse("fhir-process-message"), body, content_type=content_type, **extra)


@pytest.fixture
def clinician_client(client, world):
    client.force_login(world.clinician)
    return client


class ProcessMessageTests:
    def test_it_makes_the_referral_the_message_asks_for(self, clinician_client, world):
        message = referral_message(world)
        response = send(clinician_client, message)
        assert response.status_code == 201, response.content
        assert response["Content-Type"].startswith(FHIR_JSON)
        body = valid(response.json())
        header = body["entry"][0]["resource"]
        assert (body["type"], header["resourceType"]) == ("message", "MessageHeader")
        assert header["response"] == {
            "identifier": resource(message, "MessageHeader")["id"],
            "code": "ok",
        }
        request = body["entry"][1]["resource"]
        referral = Referral.objects.exclude(pk=world.referral.pk).get()
        assert request["id"] == str(referral.pk)
        assert response["Location"].endswith(f"/fhir/ServiceRequest/{referral.pk}")
        assert header["focus"] == [{"reference": body["entry"][1]["fullUrl"]}]
        # Like the API's answer to a new referral: the patient's name, no other details.
        assert request["subject"] == {"display": "Ada Lovelace"}
        patient = referral.patient
        assert (patient.nhs_number, patient.given_name, patient.family_name) == (
            "9434765919",
            "Ada",
            "Lovelace",
        )
        assert (str(patient.date_of_birth), patient.postcode, patient.phone) == (
            "1965-12-10",
            "SK14 1PW",
            "07700 900111",
        )
        assert (referral.practice, referral.team, referral.referred_by) == (
            world.practice,
            world.team,
            world.clinician,
        )
        assert [n.code for n in referral.needs.all()] == ["loneliness"]
        assert referral.what_matters == "Wants to meet people."
        assert (referral.urgency, referral.consent_to_contact, referral.consent_to_share) == (
            "soon",
            True,
            True,
        )
        assert referral.events.get().to_status == "new"
        assert AccessLog.objects.count() == 0

    def test_it_answers_a_message_sent_again_without_a_second_referral(
        self, clinician_client, world
    ):
        message = referral_message(world)
        first = send(clinician_client, message)
        again = send(clinician_client, message)
        assert (first.status_code, again.status_code) == (201, 200)
        assert again["Idempotent-Replayed"] == "true"
        made = [valid(r.json())["entry"][1]["resource"]["id"] for r in (first, again)]
        assert made[0] == made[1]
        assert Referral.objects.filter(patient__nhs_number="9434765919").count() == 1

    def test_it_refuses_a_message_id_used_for_another_referral(self, clinician_client, world):
        first = referral_message(world, message_id="msg-1")
        second = referral_message(world, message_id="msg-1")
        resource(second, "Patient")["birthDate"] = "1970-01-01"
        resource(second, "Patient")["identifier"][0]["value"] = "9876543210"
        assert send(clinician_client, first).status_code == 201
        body = outcome(send(clinician_client, second), 422)
        assert body["issue"][0]["details"]["coding"][0]["code"] == "REC_UNPROCESSABLE_ENTITY"
        assert "already used for a different referral" in diagnostics(body)
        assert not Referral.objects.filter(patient__nhs_number="9876543210").exists()

    def test_it_keeps_message_ids_apart_from_the_apis_idempotency_keys(
        self, clinician_client, world
    ):
        from tests.referrals.test_idempotency import api_body

        clinician_client.post(
            reverse("api-referrals"),
            api_body(world),
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY="same-key",
        )
        response = send(clinician_client, referral_message(world, message_id="same-key"))
        assert response.status_code == 201

    def test_it_refuses_an_nhs_number_that_fails_the_check_digit(self, clinician_client, world):
        body = outcome(
            send(clinician_client, referral_message(world, nhs_number="9434765918")), 400
        )
        issue = next(i for i in body["issue"] if i["expression"] == ["Patient.identifier"])
        assert issue["details"]["coding"][0]["code"] == "REC_BAD_REQUEST"
        assert "NHS number 9434765918" in issue["diagnostics"]
        assert "not a valid NHS number" in issue["diagnostics"]
        assert Referral.objects.count() == 1

    def test_it_refuses_a_message_without_its_patient(self, clinician_client, world):
        message = referral_message(world)
        message["entry"] = [
            e for e in message["entry"] if e["resource"]["resourceType"] != "Patient"
        ]
        body = outcome(send(clinician_client, message), 400)
        assert body["issue"][0]["expression"] == ["ServiceRequest.subject"]

    def test_it_says_what_to_send_for_each_missing_field(self, clinician_client, world):
        message = referral_message(world)
        request = resource(message, "ServiceRequest")
        del request["performer"]
        request["reasonCode"] = request["reasonCode"][1:]
        patient = resource(message, "Patient")
        del patient["telecom"], patient["birthDate"]
        message["entry"] = [
            e
            for e in message["entry"]
            if e["resource"].get("scope", {}).get("coding", [{}])[0].get("code") != "treatment"
        ]
        body = outcome(send(clinician_client, message), 400)
        said = {issue["expression"][0]: issue for issue in body["issue"]}
        assert TEAM_SYSTEM in said["ServiceRequest.performer"]["diagnostics"]
        assert NEED_SYSTEM in said["ServiceRequest.reasonCode"]["diagnostics"]
        assert "phone number or an email" in said["Patient.telecom"]["diagnostics"]
        assert "birthDate" in said["Patient.birthDate"]["diagnostics"]
        assert "scope treatment" in said["Consent"]["diagnostics"]
        assert all(said[k]["code"] == "required" for k in said)
        assert Referral.objects.count() == 1

    def test_it_refuses_a_practice_that_is_not_the_senders(self, clinician_client, world):
        message = referral_message(world)
        resource(message, "Organization")["identifier"][0]["value"] = world.other_practice.ods_code
        body = outcome(send(clinician_client, message), 400)
        assert body["issue"][0]["expression"] == ["ServiceRequest.requester"]
        assert "Not one of your practices" in diagnostics(body)

    def test_it_refuses_a_patient_postcode_that_is_not_one(self, clinician_client, world):
        message = referral_message(world)
        resource(message, "Patient")["address"][0]["postalCode"] = "LS1288T"
        body = outcome(send(clinician_client, message), 400)
        assert body["issue"][0]["expression"] == ["Patient.address.postalCode"]

    def test_it_refuses_what_is_not_a_social_prescribing_referral(self, clinician_client, world):
        message = referral_message(world)
        request = resource(message, "ServiceRequest")
        request["code"] = {
            "coding": [{"system": SNOMED, "code": "73761001", "display": "Colonoscopy"}]
        }
        request["priority"] = "stat"
        body = outcome(send(clinician_client, message), 422)
        said = {issue["expression"][0]: issue["diagnostics"] for issue in body["issue"]}
        assert "'Colonoscopy'" in said["ServiceRequest.code"]
        assert "'stat'" in said["ServiceRequest.priority"]
        assert Referral.objects.count() == 1

    @pytest.mark.parametrize(
        ("body", "said"),
        [
            ('{"resourceType": "Bundle", ', "JSON parse error"),
            ("[1, 2]", "Send a FHIR Bundle of type message"),
            ('{"resourceType": "Patient"}', "Send a FHIR Bundle of type message"),
            ('{"resourceType": "Bundle", "type": "collection"}', "Bundle.type must be message"),
            ('{"resourceType": "Bundle", "type": "message"}', "must be its MessageHeader"),
        ],
    )
    def test_it_refuses_what_is_not_a_referral_message(self, clinician_client, world, body, said):
        response = outcome(send(clinician_client, body), 400)
        assert said in diagnostics(response)

    def test_it_refuses_invalid_fhir_saying_where(self, clinician_client, world):
        message = referral_message(world)
        resource(message, "Patient")["birthDate"] = "the tenth of December"
        del resource(message, "MessageHeader")["source"]
        body = outcome(send(clinician_client, message), 400)
        where = [issue["expression"][0] for issue in body["issue"]]
        assert "Bundle.entry[0].resource.source" in where
        assert "Bundle.entry[2].resource.birthDate" in where
        assert {issue["code"] for issue in body["issue"]} == {"structure"}
        assert Referral.objects.count() == 1

    def test_it_refuses_a_message_without_an_id(self, clinician_client, world):
        message = referral_message(world)
        del resource(message, "MessageHeader")["id"]
        body = outcome(send(clinician_client, message), 400)
        assert body["issue"][0]["expression"] == ["MessageHeader.id"]

    def test_it_refuses_fhir_xml_saying_it_takes_json(self, clinician_client, world):
        response = send(clinician_client, "<Bundle/>", content_type="application/fhir+xml")
        body = outcome(response, 415)
        assert body["issue"][0]["code"] == "not-supported"

    def test_it_takes_only_post(self, clinician_client, world):
        body = outcome(clinician_client.get(reverse("fhir-process-message")), 405)
        assert body["issue"][0]["code"] == "not-supported"

    def test_it_refuses_a_form(self, clinician_client, world):
        response = clinician_client.post(reverse("fhir-process-message"), {"a": "b"})
        assert "Send a FHIR Bundle" in diagnostics(outcome(response, 400))

    @pytest.mark.parametrize(("role", "status"), [("anonymous", 401), ("trainer", 403)])
    def test_it_takes_referrals_from_clinicians_only(self, client, world, role, status):
        if world.user(role):
            client.force_login(world.user(role))
        api = client.post(reverse("api-referrals"), {}, content_type="application/json")
        response = send(client, referral_message(world))
        outcome(response, status)
        assert api.status_code == status
        assert Referral.objects.count() == 1

    def test_it_rate_limits_as_the_api_does(self, clinician_client, world, settings):
        settings.REFERRALS_PER_MINUTE = 1
        assert send(clinician_client, referral_message(world)).status_code == 201
        response = send(clinician_client, referral_message(world, nhs_number="9876543210"))
        body = outcome(response, 429)
        assert body["issue"][0]["code"] == "throttled"
        assert int(response["Retry-After"]) > 0


JUNK = [
    None,
    "",
    "x",
    0,
    -1,
    3.5,
    True,
    [],
    {},
    ["x"],
    {"reference": "urn:uuid:nowhere"},
    "9" * 3000,
]


def _places(value, found=None):
    """Every (container, key) in a JSON value, depth first."""
    found = [] if found is None else found
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, item in items:
        found.append((value, key))
        if isinstance(item, dict | list):
            _places(item, found)
    return found


class ProcessMessageRobustnessTests:
    def test_it_answers_every_damaged_message_with_fhir_and_never_a_server_error(
        self, clinician_client, world, settings
    ):
        settings.REFERRALS_PER_MINUTE = settings.REFERRALS_PER_DAY = 10_000
        rng = random.Random(13)
        statuses = set()
        for _ in range(100):
            message = referral_message(world)
            container, key = rng.choice(_places(message))
            if rng.random() < 0.3 and isinstance(container, dict):
                del container[key]
            else:
                container[key] = copy.deepcopy(rng.choice(JUNK))
            response = send(clinician_client, message)
            assert response.status_code in (200, 201, 400, 422), (container, key, response.content)
            body = valid(response.json())
            assert body["resourceType"] == (
                "Bundle" if response.status_code < 300 else "OperationOutcome"
            )
            statuses.add(response.status_code)
        assert {201, 400} <= statuses


# --- Against the UK Core and BaRS examples ---------------------------------------------------
def uk_core(name: str) -> dict:
    """A UK Core XML example as FHIR JSON (read with fhir.resources)."""
    path = PEER / "uk_core" / f"{name}.xml"
    kind = etree.QName(etree.parse(path).getroot()).localname
    model = get_fhir_model_class(kind).model_validate_xml(path.read_bytes())
    return json.loads(model.model_dump_json())


def bars(name: str) -> dict:
    return json.loads((PEER / "bars_booking_and_referral" / name).read_text())


def repaired_bars_bundle() -> dict:
    """The published BaRS referral message with only its FHIR errors mended (a destination's
    endpoint, lists written as single objects), its data as published."""
    message = bars("referral-bundle-111-to-ED-ServiceRequest.json")
    for entry in message["entry"]:
        r = entry["resource"]
        for name in ("basedOn", "note"):
            if isinstance(r.get(name), dict):
                r[name] = [r[name]]
        if isinstance(r.get("policyRule"), list):
            r["policyRule"] = r["policyRule"][0]
        for destination in r.get("destination", []):
            destination.setdefault("endpoint", "https://receiver.example/fhir")
    return message


@needs_peer_data
class PeerExampleTests:
    def test_the_r4b_models_read_every_uk_core_r4_example(self):
        for path in sorted((PEER / "uk_core").glob("*Example.xml")):
            uk_core(path.stem)  # raises if not valid

    def test_the_service_request_is_on_the_uk_core_profile(self, client, world):
        profile = (PEER / "uk_core" / "UKCore-ServiceRequest.xml").read_text()
        assert f'<url value="{UK_CORE_SERVICE_REQUEST}"' in profile
        client.force_login(world.clinician)
        body = valid(get(client, "fhir-service-request", world.referral.pk).json())
        assert body["meta"]["profile"] == [UK_CORE_SERVICE_REQUEST]
        # The same elements as the UK Core examples use for the same things.
        example = uk_core("UKCore-ServiceRequest-ColonoscopyRequest-Example")
        for name in ("status", "intent", "code", "subject", "authoredOn", "requester", "performer"):
            assert type(body[name]) is type(example[name]), name

    def test_refusals_have_the_shape_of_the_bars_examples(self, client, world):
        client.force_login(world.clinician)
        ours = outcome(get(client, "fhir-service-request", uuid.uuid4()), 404)
        theirs = valid(bars("404-REC_NOT_FOUND-not-found.json"))
        assert ours["issue"][0].keys() >= theirs["issue"][0].keys()
        assert ours["issue"][0]["code"] == theirs["issue"][0]["code"]
        assert ours["issue"][0]["details"] == theirs["issue"][0]["details"]
        for name in (
            "400-REC_BAD_REQUEST-invalid.json",
            "422-REC_UNPROCESSABLE_ENTITY-not-supported.json",
        ):
            theirs = valid(bars(name))
            assert theirs["issue"][0]["details"]["coding"][0]["system"] == HTTP_ERROR_SYSTEM

    def test_it_refuses_the_published_bars_message_as_invalid_fhir(self, clinician_client, world):
        body = outcome(
            send(clinician_client, bars("referral-bundle-111-to-ED-ServiceRequest.json")), 400
        )
        where = [issue["expression"][0] for issue in body["issue"]]
        assert "Bundle.entry[0].resource.destination[0].endpoint" in where
        assert Referral.objects.count() == 1

    def test_it_refuses_the_bars_patients_nhs_number(self, clinician_client, world):
        body = outcome(send(clinician_client, repaired_bars_bundle()), 400)
        issue = next(i for i in body["issue"] if i["expression"] == ["Patient.identifier"])
        assert "NHS number 3478526985" in issue["diagnostics"]
        assert "not a valid NHS number" in issue["diagnostics"]
        assert Referral.objects.count() == 1

    def test_it_takes_the_bars_message_with_a_valid_nhs_number_once(self, clinician_client, world):
        message = repaired_bars_bundle()
        patient = resource(message, "Patient")
        patient["identifier"][0]["value"] = "9434765919"
        request = resource(message, "ServiceRequest")
        request["performer"] = [
            {"identifier": {"system": TEAM_SYSTEM, "value": str(world.team.pk)}}
        ]
        request["reasonCode"].append({"coding": [{"system": NEED_SYSTEM, "code": "loneliness"}]})
        ours = referral_message(world)
        message["entry"].append(
            next(
                e
                for e in ours["entry"]
                if e["resource"].get("scope", {}).get("coding", [{}])[0].get("code") == "treatment"
            )
        )
        message["entry"][-1]["resource"]["patient"] = request["subject"]
        first = send(clinician_client, message)
        again = send(clinician_client, message)
        assert (first.status_code, again.status_code) == (201, 200), first.content
        valid(first.json())
        referral = Referral.objects.get(patient__nhs_number="9434765919")
        assert (referral.patient.given_name, referral.patient.family_name) == ("Julie", "Jones")
        assert str(referral.patient.date_of_birth) == "1959-05-04"
        assert referral.patient.postcode == "LS10 4YU"
        assert referral.consent_to_share is True  # the message's own patient-privacy Consent
        assert referral.what_matters == ""  # the BaRS request has no note

    def test_it_takes_a_referral_from_the_uk_core_practice(self, client, world):
        # The UK Core GP practice (ODS GP5) is a Flourish practice, the clinician a member.
        practice = Practice.objects.create(
            name="White Rose Medical Centre", ods_code="GP5", postcode="LS1 1AA"
        )
        PracticeMembership.objects.create(practice=practice, user=world.clinician)
        client.force_login(world.clinician)
        message = referral_message(world)
        patient, practitioner, role, organization = (
            uk_core("UKCore-Patient-RichardSmith-Example"),
            uk_core("UKCore-Practitioner-DoctorPaulRastall-Example"),
            uk_core("UKCore-PractitionerRole-GeneralPractitioner-Example"),
            uk_core("UKCore-Organization-WhiteRoseMedicalCentre-Example"),
        )
        request = resource(message, "ServiceRequest")
        request["subject"] = {"reference": f"Patient/{patient['id']}"}
        request["requester"] = {"reference": f"PractitionerRole/{role['id']}"}
        kept = [
            e
            for e in message["entry"]
            if e["resource"]["resourceType"] in ("MessageHeader", "ServiceRequest", "Consent")
        ]
        for entry in kept:
            if entry["resource"]["resourceType"] == "Consent":
                entry["resource"]["patient"] = request["subject"]
        base = "https://fhir.hl7.org.uk/example"
        message["entry"] = kept + [
            {"fullUrl": f"{base}/{r['resourceType']}/{r['id']}", "resource": r}
            for r in (patient, practitioner, role, organization)
        ]
        response = send(client, message)
        assert response.status_code == 201, response.content
        body = valid(response.json())
        referral = Referral.objects.get(patient__nhs_number="9912003888")
        assert referral.practice == practice
        assert (referral.patient.given_name, referral.patient.family_name) == ("Richard", "SMITH")
        assert referral.patient.postcode == "LS17 7DF"
        assert referral.patient.preferred_language == "British Sign Language"
        # The practice's address in the message (postalCode LS1288T) is not a postcode: the
        # answer says so and that it was not used; Flourish's record of the practice is unchanged.
        header = body["entry"][0]["resource"]
        warnings = next(
            e["resource"]
            for e in body["entry"]
            if e["fullUrl"] == header["response"]["details"]["reference"]
        )
        assert warnings["issue"][0]["severity"] == "warning"
        assert "'LS1288T' is not a valid postcode" in warnings["issue"][0]["diagnostics"]
        practice.refresh_from_db()
        assert practice.postcode == "LS1 1AA"

    def test_it_refuses_the_uk_core_patient_at_the_practices_bad_postcode(
        self, clinician_client, world
    ):
        message = referral_message(world)
        patient = uk_core("UKCore-Patient-RichardSmith-Example")
        patient["address"][0]["postalCode"] = uk_core(
            "UKCore-Organization-WhiteRoseMedicalCentre-Example"
        )["address"][0]["postalCode"]
        request = resource(message, "ServiceRequest")
        old = request["subject"]["reference"]
        for entry in message["entry"]:
            if entry["resource"]["resourceType"] == "Patient":
                entry["resource"] = patient
                entry["fullUrl"] = f"urn:uuid:{patient['id']}"
            if entry["resource"].get("patient") == {"reference": old}:
                entry["resource"]["patient"] = {"reference": f"urn:uuid:{patient['id']}"}
        request["subject"] = {"reference": f"urn:uuid:{patient['id']}"}
        body = outcome(send(clinician_client, message), 400)
        assert body["issue"][0]["expression"] == ["Patient.address.postalCode"]
        assert not Referral.objects.filter(patient__nhs_number="9912003888").exists()
