"""The message back to the referrer (placeholder: filled by the status work)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("referrals", "0012_measure_items")]

    operations = []
