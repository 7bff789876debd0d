"""Each venue's point in British National Grid (EPSG:27700) metres, kept by PostgreSQL.

The search walks venues nearest first through a GiST index (directory.finder). On geography
that walk measures on a sphere for every row, and PostGIS's estimate of how many venues a
geography box holds is out by a factor of ten in a city, which led the planner to sort every
candidate instead of walking. In National Grid metres the distance is a plain subtraction (within
0.1 % of the ellipsoid's across Great Britain) and the planner's estimates are good. A generated
column, so nothing in Python has to keep it up to date; the ORM does not map it (only the
finder's SQL reads it).
"""

from django.db import migrations

SQL = """
ALTER TABLE directory_location
    ADD COLUMN point_bng geometry(Point, 27700)
    GENERATED ALWAYS AS (ST_Transform(point::geometry, 27700)) STORED;
CREATE INDEX directory_location_point_bng ON directory_location USING gist (point_bng);
-- The planner needs the new column's statistics to choose the walk (see above).
ANALYZE directory_location;
"""

REVERSE = """
DROP INDEX IF EXISTS directory_location_point_bng;
ALTER TABLE directory_location DROP COLUMN IF EXISTS point_bng;
"""


class Migration(migrations.Migration):
    dependencies = [("directory", "0004_service_name_index")]

    operations = [migrations.RunSQL(SQL, REVERSE)]
