-- Warning rule camera_offline: every camera reported offline.
-- Columns: key, subject_type, subject_id, level, message, wkb (WGS 84).
SELECT 'camera:' || c.id AS key, 'camera' AS subject_type, c.id AS subject_id, 'yellow' AS level,
       '探头 ' || c.code || ' 离线' AS message, ST_AsBinary(c.geom) AS wkb
FROM camera c WHERE NOT c.online
