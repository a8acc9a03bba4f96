-- Spatial searches under row-level security (migration 0012; `onegrid db restore` runs it
-- again, because a dump recreates PostGIS without it).
--
-- On a table with policies, PostgreSQL evaluates the policies before any condition of the
-- query that is not LEAKPROOF, and so cannot use an index for such a condition: PostGIS does
-- not mark `&&`, ST_DWithin and ST_Intersects LEAKPROOF, so every map tile, bounding box and
-- radius query on persons or incidents read the whole table (17 ms for an incident tile that
-- the index answers in 1). These functions reveal nothing about a row they are not allowed
-- to return: they have no side effects, and their only errors concern arguments (mixed SRIDs,
-- a negative distance) or a geometry too broken to compare, not row data. Marking them needs
-- a superuser; without one this says so and the tiles stay correct but slow.
DO $$
BEGIN
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        ALTER FUNCTION geometry_overlaps(geometry, geometry) LEAKPROOF;
        ALTER FUNCTION st_dwithin(geometry, geometry, float8) LEAKPROOF;
        ALTER FUNCTION st_intersects(geometry, geometry) LEAKPROOF;
    ELSE
        RAISE WARNING 'not a superuser: spatial indexes cannot serve row-level-security-bound '
            'queries until a superuser runs gis_core/sql/postgis_leakproof.sql on this database';
    END IF;
END $$;
