"""Referrals in FHIR R4 (UK Core), for GP systems and the NHS Booking and Referral Standard.

- ``resources``: a referral as a UK Core ServiceRequest, its Bundle (Patient, Practitioner,
  PractitionerRole, Organization) and the Task that carries the message back; every status and
  outcome mapped in one table each.
- ``inbound``: a BaRS-style message Bundle read into the input the referrals API takes.
- ``views``: ``/fhir/...``: the same authentication, access rules, 404s and access log as
  ``/api/referrals/`` (they are its views' subclasses), every refusal an OperationOutcome.

Models come from ``fhir.resources``' R4B package: the library's releases that still ship R4
(4.0.1) are from 2021 and need pydantic 1. R4B (4.3.0) is R4 with changes confined to the
medication-definition, evidence and subscription resources (HL7's R4B notes); the resources used
here (ServiceRequest, Task, Patient, Practitioner, PractitionerRole, Organization, Consent,
Bundle, MessageHeader, OperationOutcome) are the same in both, and the tests read the UK Core R4
examples with these models.
"""
