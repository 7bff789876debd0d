"""One patient record per referring practice (see ``Patient``'s docstring for why).

The data step splits every patient row that referrals from more than one practice shared: the
practice of the earliest referral keeps the row, each other practice gets its own copy and its
referrals are pointed at it. The copies carry the details as they stood, because the old model
kept only the latest contact details whoever typed them; nothing tells us which practice typed
which, so each practice starts from the same (its own) copy and no longer sees later changes by
the other. Access-log rows keep pointing at the row that was actually viewed (the log is
append-only in the database). A patient with no referral at all was unreachable and is removed,
unless the access log names it, in which case it goes to the practice of the user who viewed it.
"""

from django.db import migrations

COPIED = [
    "nhs_number",
    "given_name",
    "family_name",
    "date_of_birth",
    "postcode",
    "point",
    "phone",
    "email",
    "preferred_contact",
    "preferred_language",
    "interpreter_needed",
    "accessibility_needs",
    "created_at",
]


def split_patients_by_practice(apps, schema_editor):
    Patient = apps.get_model("referrals", "Patient")
    Referral = apps.get_model("referrals", "Referral")
    AccessLog = apps.get_model("referrals", "AccessLog")
    PracticeMembership = apps.get_model("referrals", "PracticeMembership")
    for patient in Patient.objects.order_by("pk").iterator():
        practice_ids = list(
            Referral.objects.filter(patient=patient)
            .order_by("created_at")
            .values_list("practice_id", flat=True)
        )
        ordered = list(dict.fromkeys(practice_ids))  # unique, earliest referral first
        if not ordered:
            viewer = AccessLog.objects.filter(patient=patient).values("user_id").first()
            membership = (
                PracticeMembership.objects.filter(user_id=viewer["user_id"]).first()
                if viewer
                else None
            )
            if membership is None:
                patient.delete()
                continue
            ordered = [membership.practice_id]
        patient.practice_id = ordered[0]
        patient.save(update_fields=["practice"])
        for practice_id in ordered[1:]:
            copy = Patient.objects.create(
                practice_id=practice_id, **{name: getattr(patient, name) for name in COPIED}
            )
            Referral.objects.filter(patient=patient, practice_id=practice_id).update(patient=copy)


class Migration(migrations.Migration):
    # Its own migration (its own transaction): PostgreSQL refuses to alter a table that has
    # pending foreign-key checks from rows changed in the same transaction.
    dependencies = [("referrals", "0004_patient_practice")]

    operations = [migrations.RunPython(split_patients_by_practice, migrations.RunPython.noop)]
