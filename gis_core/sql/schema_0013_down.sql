DROP INDEX IF EXISTS incident_open_geom_gist;
