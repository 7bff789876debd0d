"""The access log is append-only in the database too, not only in the admin.

Raw SQL because the ORM has no triggers: a row of referrals_accesslog can be inserted, never
updated or deleted, whoever connects (the app, a shell, a script). TRUNCATE (test teardown, a
deliberate wipe by the database owner) is not affected.
"""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION referrals_accesslog_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'The access log is append-only: rows cannot be updated or deleted.';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER referrals_accesslog_append_only
    BEFORE UPDATE OR DELETE ON referrals_accesslog
    FOR EACH ROW EXECUTE FUNCTION referrals_accesslog_refuse_change();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS referrals_accesslog_append_only ON referrals_accesslog;
DROP FUNCTION IF EXISTS referrals_accesslog_refuse_change();
"""


class Migration(migrations.Migration):
    dependencies = [("referrals", "0002_roles")]
    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
