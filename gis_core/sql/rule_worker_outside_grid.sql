-- Warning rule worker_outside_grid: a worker on shift (a fix within on_duty) farther than
-- worker_grid_m from every grid they are assigned.
-- Columns: key, subject_type, subject_id, level, message, wkb (WGS 84).
SELECT 'worker:' || p.worker_id AS key, 'worker' AS subject_type, p.worker_id AS subject_id,
       'blue' AS level, '网格员 ' || w.name || ' 值班期间不在本网格' AS message, ST_AsBinary(p.geom) AS wkb
FROM worker_position p JOIN worker w ON w.id = p.worker_id AND w.active
WHERE p.recorded_at > :now - CAST(:on_duty AS interval) AND p.recorded_at <= :now
  AND EXISTS (SELECT 1 FROM worker_grid wg WHERE wg.worker_id = p.worker_id)
  AND NOT EXISTS (SELECT 1 FROM worker_grid wg JOIN grid g ON g.id = wg.grid_id
                  WHERE wg.worker_id = p.worker_id
                    AND ST_DWithin(g.geom::geography, p.geom::geography, :worker_grid_m))
