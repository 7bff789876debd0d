"""Each service's hours of the week (the union of its schedules' ``flourish_week_hours``), kept
by PostgreSQL triggers, with a GIN index.

``open=now`` asks, of every candidate service, whether one of its schedules has a session
running. Asked through the schedules (two probes per service: its own, its venues'), a search
that walks services by name stops early by day but reads every service at night, and the other
way round (the running sessions first) costs a second by day at a million services. With the
hours on the service row, the first check costs nothing per row and the index answers when
few services are open; the planner picks, on good statistics. It is a superset, like the
schedules' own hours: ``ServiceQuerySet.open_at`` still applies the exact rule after it.

Triggers, not Python, keep it: schedules are written by the admin, importers, the benchmark's
COPY and raw SQL alike. Statement-level with transition tables, so a bulk load updates each
service once per statement rather than once per row. The ORM does not map the column (a
save() would write back a stale copy); only SQL reads it.
"""

from django.db import migrations

SQL = r"""
ALTER TABLE directory_service ADD COLUMN week_hours int[] NOT NULL DEFAULT '{}';

CREATE OR REPLACE FUNCTION flourish_service_week_hours(service uuid) RETURNS int[]
LANGUAGE sql STABLE AS $$
    SELECT coalesce(array_agg(DISTINCT hour ORDER BY hour), '{}')
    FROM (
        SELECT unnest(flourish_week_hours(sc.freq, sc.byday, sc.opens_at, sc.closes_at)) AS hour
        FROM directory_schedule sc WHERE sc.service_id = service
        UNION ALL
        SELECT unnest(flourish_week_hours(sc.freq, sc.byday, sc.opens_at, sc.closes_at))
        FROM directory_schedule sc
        JOIN directory_serviceatlocation sal ON sal.id = sc.service_at_location_id
        WHERE sal.service_id = service
    ) hours
$$;

CREATE OR REPLACE FUNCTION flourish_update_week_hours(services uuid[]) RETURNS void
LANGUAGE sql AS $$
    UPDATE directory_service s SET week_hours = flourish_service_week_hours(s.id)
     WHERE s.id = ANY(services)
       AND s.week_hours IS DISTINCT FROM flourish_service_week_hours(s.id)
$$;

-- One function for the four triggers: which transition tables exist depends on the event.
CREATE OR REPLACE FUNCTION flourish_refresh_week_hours() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'directory_serviceatlocation' THEN
        PERFORM flourish_update_week_hours(ARRAY(
            SELECT service_id FROM old_rows UNION SELECT service_id FROM new_rows));
    ELSIF TG_OP = 'INSERT' THEN
        PERFORM flourish_update_week_hours(ARRAY(
            SELECT DISTINCT coalesce(r.service_id, sal.service_id) FROM new_rows r
            LEFT JOIN directory_serviceatlocation sal ON sal.id = r.service_at_location_id));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM flourish_update_week_hours(ARRAY(
            SELECT DISTINCT coalesce(r.service_id, sal.service_id) FROM old_rows r
            LEFT JOIN directory_serviceatlocation sal ON sal.id = r.service_at_location_id));
    ELSE
        PERFORM flourish_update_week_hours(ARRAY(
            SELECT coalesce(r.service_id, sal.service_id) FROM new_rows r
            LEFT JOIN directory_serviceatlocation sal ON sal.id = r.service_at_location_id
            UNION
            SELECT coalesce(r.service_id, sal.service_id) FROM old_rows r
            LEFT JOIN directory_serviceatlocation sal ON sal.id = r.service_at_location_id));
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER directory_schedule_week_hours_insert AFTER INSERT ON directory_schedule
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION flourish_refresh_week_hours();
CREATE TRIGGER directory_schedule_week_hours_update AFTER UPDATE ON directory_schedule
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION flourish_refresh_week_hours();
CREATE TRIGGER directory_schedule_week_hours_delete AFTER DELETE ON directory_schedule
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION flourish_refresh_week_hours();
CREATE TRIGGER directory_serviceatlocation_week_hours AFTER UPDATE ON directory_serviceatlocation
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION flourish_refresh_week_hours();

UPDATE directory_service s SET week_hours = flourish_service_week_hours(s.id)
 WHERE EXISTS (SELECT 1 FROM directory_schedule WHERE service_id = s.id)
    OR EXISTS (SELECT 1 FROM directory_schedule sc
               JOIN directory_serviceatlocation sal ON sal.id = sc.service_at_location_id
               WHERE sal.service_id = s.id);
CREATE INDEX directory_service_week_hours ON directory_service USING gin (week_hours);
ANALYZE directory_service;
"""

REVERSE = """
DROP TRIGGER IF EXISTS directory_schedule_week_hours_insert ON directory_schedule;
DROP TRIGGER IF EXISTS directory_schedule_week_hours_update ON directory_schedule;
DROP TRIGGER IF EXISTS directory_schedule_week_hours_delete ON directory_schedule;
DROP TRIGGER IF EXISTS directory_serviceatlocation_week_hours ON directory_serviceatlocation;
DROP FUNCTION IF EXISTS flourish_refresh_week_hours();
DROP FUNCTION IF EXISTS flourish_update_week_hours(uuid[]);
DROP FUNCTION IF EXISTS flourish_service_week_hours(uuid);
ALTER TABLE directory_service DROP COLUMN IF EXISTS week_hours;
"""


class Migration(migrations.Migration):
    dependencies = [("directory", "0006_schedule_week_hours")]

    operations = [migrations.RunSQL(SQL, REVERSE)]
