"""Harvesting other directories' Open Referral UK feeds: the feeds, each harvested service's
provenance, and likely duplicates offered to an editor. Directory editors may view, add and
change them (never delete), as with every directory model (0003)."""

import uuid

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def grant_editors(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    app_config = apps.get_app_config("directory")
    app_config.models_module = True  # as in 0003: the historical stub has none
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name="Directory editors")
    group.permissions.add(
        *Permission.objects.filter(
            content_type__app_label="directory",
            content_type__model__in=["feed", "harvestedrecord", "duplicatecandidate"],
        ).exclude(codename__startswith="delete_")
    )


class Migration(migrations.Migration):
    dependencies = [
        ("directory", "0008_searchvenue"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Feed",
            fields=[
                (
                    "id",
                    models.UUIDField(
                        default=uuid.uuid4, editable=False, primary_key=True, serialize=False
                    ),
                ),
                ("name", models.CharField(max_length=255)),
                (
                    "base_url",
                    models.URLField(
                        help_text="The API's base, e.g. https://example.org/api/v3 (its services are at <base>/services).",
                        max_length=500,
                        unique=True,
                    ),
                ),
                (
                    "licence",
                    models.CharField(blank=True, help_text="e.g. OGL v3.0", max_length=255),
                ),
                ("licence_url", models.URLField(blank=True, max_length=500)),
                (
                    "republish",
                    models.BooleanField(
                        default=False,
                        help_text="The licence lets us republish these services in our own open-data feed (with their provenance). Unticked, they are shown on our pages but left out of it.",
                    ),
                ),
                (
                    "active",
                    models.BooleanField(
                        default=True, help_text="Harvested by harvest_openreferral --due."
                    ),
                ),
                (
                    "interval_hours",
                    models.PositiveIntegerField(
                        default=24,
                        help_text="Harvest again this many hours after the last harvest started.",
                    ),
                ),
                ("services_path", models.CharField(blank=True, editable=False, max_length=20)),
                ("last_started_at", models.DateTimeField(blank=True, editable=False, null=True)),
                ("last_finished_at", models.DateTimeField(blank=True, editable=False, null=True)),
                (
                    "last_outcome",
                    models.CharField(
                        blank=True,
                        choices=[
                            ("complete", "Complete"),
                            ("incomplete", "Incomplete (nothing withdrawn)"),
                            ("failed", "Failed (nothing withdrawn)"),
                        ],
                        editable=False,
                        max_length=10,
                    ),
                ),
                ("last_summary", models.TextField(blank=True, editable=False)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
            ],
            options={
                "ordering": ["name"],
            },
        ),
        migrations.CreateModel(
            name="DuplicateCandidate",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("reason", models.TextField()),
                ("similarity", models.FloatField(help_text="How alike the names are, 0 to 1.")),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("open", "Open"),
                            ("merged", "Merged (left kept, right withdrawn)"),
                            ("kept_apart", "Not duplicates (both kept)"),
                        ],
                        default="open",
                        max_length=10,
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("decided_at", models.DateTimeField(blank=True, editable=False, null=True)),
                (
                    "decided_by",
                    models.ForeignKey(
                        blank=True,
                        editable=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "left",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="directory.service",
                    ),
                ),
                (
                    "right",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="directory.service",
                    ),
                ),
            ],
            options={
                "ordering": ["status", "-similarity"],
                "constraints": [
                    models.UniqueConstraint(fields=("left", "right"), name="unique_duplicate_pair"),
                    models.CheckConstraint(
                        condition=models.Q(("left", models.F("right")), _negated=True),
                        name="duplicate_of_another",
                    ),
                ],
            },
        ),
        migrations.CreateModel(
            name="HarvestedRecord",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "remote_id",
                    models.CharField(
                        help_text="The id the feed gives it, as given.", max_length=255
                    ),
                ),
                ("first_seen", models.DateTimeField()),
                ("last_seen", models.DateTimeField()),
                ("last_changed", models.DateTimeField()),
                (
                    "content_hash",
                    models.CharField(help_text="SHA-256 of the record as fetched.", max_length=64),
                ),
                (
                    "withdrawn_at",
                    models.DateTimeField(
                        blank=True,
                        help_text="Gone from the feed: the service was made inactive.",
                        null=True,
                    ),
                ),
                (
                    "feed",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="records",
                        to="directory.feed",
                    ),
                ),
                (
                    "merged_into",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="directory.service",
                    ),
                ),
                (
                    "service",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="harvested",
                        to="directory.service",
                    ),
                ),
            ],
            options={
                "ordering": ["feed", "remote_id"],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("feed", "remote_id"), name="unique_feed_remote_id"
                    )
                ],
            },
        ),
        migrations.RunPython(grant_editors, migrations.RunPython.noop),
    ]
