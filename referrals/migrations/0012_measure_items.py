"""Wellbeing measures item by item: SWEMWBS's seven item scores (the total is their sum; older
rows keep a total and no items), a PAM score with one decimal place, a form token so a contact
sent twice is logged once, and a contact's length within a day."""

import django.core.validators
from django.db import migrations, models
from django.db.models import F, Q

SWEMWBS_ITEMS = [f"swemwbs_{n}" for n in range(1, 8)]


def _items_sum():
    total = F(SWEMWBS_ITEMS[0])
    for item in SWEMWBS_ITEMS[1:]:
        total = total + F(item)
    return total


class Migration(migrations.Migration):
    dependencies = [("referrals", "0011_outbox_text_messages")]

    # Keyword conditions in a Q are kept sorted by name, so the items come before the total
    # (as in the model's constraint): the migration state then matches the model's exactly.
    operations = [
        migrations.RemoveConstraint(model_name="measure", name="measure_values_in_range"),
        *[
            migrations.AddField(
                model_name="measure",
                name=item,
                field=models.PositiveSmallIntegerField(
                    blank=True, null=True, verbose_name=f"SWEMWBS item {item[-1]}"
                ),
            )
            for item in SWEMWBS_ITEMS
        ],
        migrations.AlterField(
            model_name="measure",
            name="pam_score",
            field=models.DecimalField(
                blank=True, decimal_places=1, max_digits=4, null=True, verbose_name="PAM score"
            ),
        ),
        migrations.AddConstraint(
            model_name="measure",
            constraint=models.CheckConstraint(
                condition=Q(
                    instrument="ons4",
                    life_satisfaction__range=(0, 10),
                    worthwhile__range=(0, 10),
                    happiness__range=(0, 10),
                    anxiety__range=(0, 10),
                )
                | Q(
                    ("instrument", "swemwbs"),
                    *[(f"{item}__isnull", True) for item in SWEMWBS_ITEMS],
                    ("swemwbs_total__range", (7, 35)),
                )
                | Q(
                    ("instrument", "swemwbs"),
                    *[(f"{item}__range", (1, 5)) for item in SWEMWBS_ITEMS],
                    ("swemwbs_total", _items_sum()),
                )
                | Q(instrument="pam", pam_level__range=(1, 4), pam_score__range=(0, 100)),
                name="measure_values_in_range",
            ),
        ),
        migrations.AddField(
            model_name="followup",
            name="idempotency_key",
            field=models.CharField(blank=True, editable=False, max_length=100, null=True),
        ),
        migrations.AddConstraint(
            model_name="followup",
            constraint=models.UniqueConstraint(
                fields=("referral", "idempotency_key"), name="unique_follow_up_idempotency_key"
            ),
        ),
        migrations.AlterField(
            model_name="followup",
            name="duration_minutes",
            field=models.PositiveSmallIntegerField(
                blank=True,
                null=True,
                validators=[
                    django.core.validators.MinValueValidator(1),
                    django.core.validators.MaxValueValidator(1440),
                ],
            ),
        ),
    ]
