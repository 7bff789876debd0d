"""An index that finds the sessions running at a moment without reading every schedule.

``flourish_week_hours`` gives the hours of the week (0 = Monday 00:00-00:59, 167 = Sunday
23:00-23:59) in which a schedule's rule could have a session running, ignoring what narrows it further
(valid_from/valid_to, dtstart, fortnightly intervals, which days of the month): every weekday
the rule names from its opening to its closing (past midnight for an overnight session, and from
Sunday night round to Monday morning), and the whole week for a monthly rule. It is a superset:
``ServiceQuerySet.open_at`` still applies the exact rule (``Schedule.runs_on_q``) and only uses
this to let a GIN index skip the schedules that cannot be running.
tests/directory/test_open_at.py checks the SQL and Python answers agree with it in place.

A search with ``open=now`` and no place read all of the schedules to find the running ones
(1.3 million at a million services: 0.5-2 s); with the index it reads the few that are. An
array of hours rather than a multirange of minutes: GIN answers "contains this hour" exactly,
where a GiST index on multiranges keeps only their outer bounds (a Monday-and-Sunday rule would
match the whole week).
"""

from django.db import migrations

SQL = r"""
CREATE OR REPLACE FUNCTION flourish_week_hours(freq text, byday text, opens time, closes time)
RETURNS int[] LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    codes text[] := ARRAY['MO', 'TU', 'WE', 'TH', 'FR', 'SA', 'SU'];
    result int[] := '{}';
    start_m int;
    end_m int;
BEGIN
    IF opens IS NULL THEN
        RETURN result;
    END IF;
    IF freq IS DISTINCT FROM 'WEEKLY' THEN
        RETURN ARRAY(SELECT generate_series(0, 167));
    END IF;
    start_m := floor(extract(epoch FROM opens) / 60);
    IF closes IS NULL THEN
        end_m := 1440;
    ELSIF closes <= opens THEN
        end_m := 1440 + ceil(extract(epoch FROM closes) / 60);
    ELSE
        end_m := ceil(extract(epoch FROM closes) / 60);
    END IF;
    FOR day IN 0..6 LOOP
        IF coalesce(byday, '') = '' OR position(codes[day + 1] IN byday) > 0 THEN
            FOR hour IN (day * 1440 + start_m) / 60 .. (day * 1440 + end_m - 1) / 60 LOOP
                result := result || (hour % 168);
            END LOOP;
        END IF;
    END LOOP;
    RETURN result;
END
$$;
CREATE INDEX directory_schedule_week_hours ON directory_schedule
    USING gin (flourish_week_hours(freq, byday, opens_at, closes_at));
ANALYZE directory_schedule;
"""

REVERSE = """
DROP INDEX IF EXISTS directory_schedule_week_hours;
DROP FUNCTION IF EXISTS flourish_week_hours(text, text, time, time);
"""


class Migration(migrations.Migration):
    dependencies = [("directory", "0005_location_point_bng")]

    operations = [migrations.RunSQL(SQL, REVERSE)]
