"""One row per service at a venue with a point, holding what a search near a place checks
first, kept by PostgreSQL triggers: the venue's point in National Grid metres, the service's
taxonomy terms, its hours of the week (migration 0007) and whether it is active.

A search near a place walks venues nearest first (directory.finder). Through the venue, its
service link, the service and its attributes, each venue walked costs four index reads; where
few venues match (a need and "open at 11" together, one in a hundred) the walk reads most of a
city's 5 km, and a busy hour at a million services took 130 ms at p95. On this table each venue
walked is one read and the filters that rule most venues out are checked on it; only the few
that pass join the service, where ``Service.objects``' rules decide as before. It is a copy, an
index kept by triggers, not a second set of rules.

Statement-level triggers with transition tables on the tables it copies from, so a bulk load
refreshes each service once per statement.
"""

from django.db import migrations

SQL = r"""
CREATE TABLE directory_searchvenue (
    sal_id uuid PRIMARY KEY,
    service_id uuid NOT NULL,
    location_id uuid NOT NULL,
    point_bng geometry(Point, 27700) NOT NULL,
    term_ids uuid[] NOT NULL,
    week_hours int[] NOT NULL,
    active boolean NOT NULL
);
CREATE INDEX directory_searchvenue_point ON directory_searchvenue USING gist (point_bng);
CREATE INDEX directory_searchvenue_service ON directory_searchvenue (service_id);

CREATE OR REPLACE FUNCTION flourish_refresh_searchvenue(services uuid[]) RETURNS void
LANGUAGE sql AS $$
    DELETE FROM directory_searchvenue WHERE service_id = ANY(services);
    INSERT INTO directory_searchvenue
    SELECT sal.id, sal.service_id, sal.location_id, l.point_bng,
           coalesce((SELECT array_agg(DISTINCT a.taxonomy_term_id)
                     FROM directory_attribute a WHERE a.service_id = s.id), '{}'),
           s.week_hours, s.status = 'active'
      FROM directory_serviceatlocation sal
      JOIN directory_location l ON l.id = sal.location_id
      JOIN directory_service s ON s.id = sal.service_id
     WHERE sal.service_id = ANY(services) AND l.point_bng IS NOT NULL;
$$;

-- One function for every trigger: which transition tables exist depends on the table and event.
CREATE OR REPLACE FUNCTION flourish_searchvenue_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'directory_location' THEN
        PERFORM flourish_refresh_searchvenue(ARRAY(
            SELECT DISTINCT sal.service_id FROM new_rows n
            JOIN old_rows o ON o.id = n.id
            JOIN directory_serviceatlocation sal ON sal.location_id = n.id
            WHERE n.point_bng IS DISTINCT FROM o.point_bng));
    ELSIF TG_TABLE_NAME = 'directory_service' THEN
        PERFORM flourish_refresh_searchvenue(ARRAY(
            SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id
            WHERE n.status IS DISTINCT FROM o.status
               OR n.week_hours IS DISTINCT FROM o.week_hours));
    ELSIF TG_OP = 'INSERT' THEN
        PERFORM flourish_refresh_searchvenue(ARRAY(SELECT DISTINCT service_id FROM new_rows));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM flourish_refresh_searchvenue(ARRAY(SELECT DISTINCT service_id FROM old_rows));
    ELSE
        PERFORM flourish_refresh_searchvenue(ARRAY(
            SELECT service_id FROM new_rows UNION SELECT service_id FROM old_rows));
    END IF;
    RETURN NULL;
END
$$;
"""

TRIGGERS = [
    ("directory_serviceatlocation", "INSERT", "NEW TABLE AS new_rows"),
    ("directory_serviceatlocation", "UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
    ("directory_serviceatlocation", "DELETE", "OLD TABLE AS old_rows"),
    ("directory_attribute", "INSERT", "NEW TABLE AS new_rows"),
    ("directory_attribute", "UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
    ("directory_attribute", "DELETE", "OLD TABLE AS old_rows"),
    ("directory_location", "UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
    ("directory_service", "UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
]

SQL += "".join(
    f"CREATE TRIGGER {table}_searchvenue_{event.lower()} AFTER {event} ON {table}\n"
    f"    REFERENCING {tables}\n"
    f"    FOR EACH STATEMENT EXECUTE FUNCTION flourish_searchvenue_changed();\n"
    for table, event, tables in TRIGGERS
)
SQL += """
SELECT flourish_refresh_searchvenue(ARRAY(SELECT id FROM directory_service));
ANALYZE directory_searchvenue;
"""

REVERSE = (
    "".join(
        f"DROP TRIGGER IF EXISTS {table}_searchvenue_{event.lower()} ON {table};\n"
        for table, event, _ in TRIGGERS
    )
    + """
DROP FUNCTION IF EXISTS flourish_searchvenue_changed();
DROP FUNCTION IF EXISTS flourish_refresh_searchvenue(uuid[]);
DROP TABLE IF EXISTS directory_searchvenue;
"""
)


class Migration(migrations.Migration):
    dependencies = [("directory", "0007_service_week_hours")]

    operations = [migrations.RunSQL(SQL, REVERSE)]
