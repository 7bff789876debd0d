"""Patients: a practice per record (filled in by 0005), a security event log, limits on text.

The NHS number stops being unique on its own, so 0005 can give each practice its own copy.
"""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

import referrals.models


class Migration(migrations.Migration):
    dependencies = [
        ("referrals", "0003_accesslog_append_only"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # The NHS number stops being unique on its own first, so the copies can be made.
        migrations.AlterField(
            model_name="patient",
            name="nhs_number",
            field=models.CharField(
                db_index=True,
                max_length=10,
                validators=[referrals.models.validate_nhs_number],
                verbose_name="NHS number",
            ),
        ),
        migrations.AddField(
            model_name="patient",
            name="practice",
            field=models.ForeignKey(
                null=True,
                help_text="The practice that recorded these details; only it may change them.",
                on_delete=django.db.models.deletion.PROTECT,
                related_name="patients",
                to="referrals.practice",
            ),
        ),
        migrations.CreateModel(
            name="SecurityEvent",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("nhs_dob_mismatch", "NHS number and date of birth disagree"),
                            ("rate_limited", "Rate limit reached"),
                        ],
                        max_length=20,
                    ),
                ),
                ("ip_address", models.GenericIPAddressField(blank=True, null=True)),
                ("detail", models.CharField(blank=True, max_length=300)),
                (
                    "user",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={"ordering": ["-at"], "default_permissions": ("view",)},
        ),
        migrations.AddField(
            model_name="referral",
            name="idempotency_fingerprint",
            field=models.CharField(blank=True, editable=False, max_length=64),
        ),
        migrations.AlterField(
            model_name="connection",
            name="note",
            field=models.TextField(blank=True, max_length=2000),
        ),
        migrations.AlterField(
            model_name="followup",
            name="notes",
            field=models.TextField(blank=True, max_length=5000),
        ),
        migrations.AlterField(
            model_name="goal",
            name="text",
            field=models.TextField(max_length=500, verbose_name="goal, in the person's own words"),
        ),
        migrations.AlterField(
            model_name="patient",
            name="accessibility_needs",
            field=models.TextField(blank=True, max_length=1000),
        ),
        migrations.AlterField(
            model_name="patient",
            name="date_of_birth",
            field=models.DateField(validators=[referrals.models.validate_date_of_birth]),
        ),
        migrations.AlterField(
            model_name="referral",
            name="decline_reason",
            field=models.TextField(blank=True, max_length=2000),
        ),
        migrations.AlterField(
            model_name="referral",
            name="what_matters",
            field=models.TextField(
                blank=True, max_length=2000, verbose_name="what matters to the person"
            ),
        ),
    ]
