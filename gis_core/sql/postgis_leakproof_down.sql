DO $$
BEGIN
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        ALTER FUNCTION geometry_overlaps(geometry, geometry) NOT LEAKPROOF;
        ALTER FUNCTION st_dwithin(geometry, geometry, float8) NOT LEAKPROOF;
        ALTER FUNCTION st_intersects(geometry, geometry) NOT LEAKPROOF;
    END IF;
END $$;
