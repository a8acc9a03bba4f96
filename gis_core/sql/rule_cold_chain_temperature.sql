-- Warning rule cold_chain_temperature: a site whose latest reading (within the reading window)
-- is warmer than the limit; red at high-risk sites.
-- Columns: key, subject_type, subject_id, level, message, wkb (WGS 84).
SELECT 'cold_chain:' || s.id AS key, 'cold_chain_site' AS subject_type, s.id AS subject_id,
       CASE WHEN s.risk_level = 'high' THEN 'red' ELSE 'orange' END AS level,
       s.name || ' 温度异常 ' || round(r.temperature_c::numeric, 1) || '℃' AS message,
       ST_AsBinary(ST_PointOnSurface(s.geom)) AS wkb
FROM cold_chain_site s
CROSS JOIN LATERAL (SELECT temperature_c, recorded_at FROM cold_chain_reading
                    WHERE site_id = s.id AND recorded_at <= :now
                    ORDER BY recorded_at DESC LIMIT 1) r
WHERE r.recorded_at > :now - CAST(:reading_window AS interval) AND r.temperature_c > :cold_max
