"""Every patient record now belongs to the practice that recorded it (0005 filled it in)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("referrals", "0005_split_patients_by_practice")]

    operations = [
        migrations.AlterField(
            model_name="patient",
            name="practice",
            field=models.ForeignKey(
                help_text="The practice that recorded these details; only it may change them.",
                on_delete=django.db.models.deletion.PROTECT,
                related_name="patients",
                to="referrals.practice",
            ),
        ),
        migrations.AddConstraint(
            model_name="patient",
            constraint=models.UniqueConstraint(
                fields=("practice", "nhs_number"), name="unique_patient_per_practice"
            ),
        ),
    ]
