"""Wellbeing measures item by item (placeholder: filled by the measures work)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("referrals", "0011_outbox_text_messages")]

    operations = []
