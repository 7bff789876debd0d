"""The message back to the referrer: a notification keeps what it said at the time (its kind
and a snapshot of the outcome, the trainer's note, services and measures), and goals changed in
the plan are events like the moves."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("referrals", "0012_measure_items")]

    operations = [
        migrations.AddField(
            model_name="notification",
            name="kind",
            field=models.CharField(
                blank=True,
                choices=[
                    ("accepted", "Referral accepted"),
                    ("contacted", "Person contacted"),
                    ("declined", "Referral declined"),
                    ("closed", "Referral closed"),
                    ("", "Message"),
                ],
                default="",
                max_length=10,
            ),
        ),
        migrations.AddField(
            model_name="notification",
            name="details",
            field=models.JSONField(
                blank=True,
                default=dict,
                help_text="A message back as it was sent (message_back).",
            ),
        ),
        migrations.AlterField(
            model_name="notification",
            name="message",
            field=models.TextField(help_text="The message as plain text, naming nobody."),
        ),
        migrations.AlterField(
            model_name="referralevent",
            name="kind",
            field=models.CharField(
                choices=[
                    ("created", "Referred"),
                    ("moved", "Status changed"),
                    ("assigned", "Assigned"),
                    ("reminded", "Team reminded"),
                    ("connection", "Connection updated"),
                    ("goal", "Plan updated"),
                ],
                max_length=10,
            ),
        ),
    ]
