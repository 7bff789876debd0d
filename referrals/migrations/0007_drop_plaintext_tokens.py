"""API tokens kept in plain text (DRF's rest_framework.authtoken) are gone.

Tokens are now django-rest-knox's, stored hashed and expiring. The old app is no longer
installed, so nothing would ever remove its table: a database upgraded from before would keep
every clinician's token readable by anyone with a copy. Raw SQL because the ORM cannot drop a
table whose model no longer exists; IF EXISTS because a new database never had it. Its rows in
django_migrations go too, so re-installing that app later would recreate the table rather than
believe it is there. No way back: the tokens are not recoverable, nor should they be.
"""

from django.db import migrations

FORWARD = """
DROP TABLE IF EXISTS authtoken_token;
DELETE FROM django_migrations WHERE app = 'authtoken';
"""


class Migration(migrations.Migration):
    dependencies = [("referrals", "0006_patient_practice_required")]
    operations = [migrations.RunSQL(FORWARD, migrations.RunSQL.noop)]
