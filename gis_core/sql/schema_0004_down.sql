-- Undo schema_0004.sql.
DROP TABLE track_rejected;
