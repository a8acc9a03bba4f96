-- Incidents overdue at district level keep their deadline (issue: escalation to the top blanked
-- it, and the warning rules then cleared the red warning). Repair what the old escalation did:
-- an open incident at district level with no deadline gets back the time its district-level
-- overdue warning was raised (at most a minute after the real deadline), and overdue warnings
-- take the one cause key that escalation and the rules now share: incident:<id>:<level>.
UPDATE incident i SET due_at = w.raised_at
FROM (SELECT subject_id, min(raised_at) AS raised_at FROM warning
      WHERE rule = 'incident_overdue' AND cause_key LIKE '%:district:%' GROUP BY subject_id) w
WHERE i.id = w.subject_id AND i.due_at IS NULL AND i.level = 'district'
  AND i.state IN ('reported', 'accepted', 'dispatched', 'in_progress');

-- old keys: '<id>:<level>:<state>' (escalation) and 'incident:<id>' (the rule, any level)
WITH rekeyed AS (
    SELECT w.id, 'incident:' || w.subject_id || ':' ||
           CASE WHEN w.cause_key LIKE 'incident:%' THEN i.level ELSE split_part(w.cause_key, ':', 2) END AS key
    FROM warning w JOIN incident i ON i.id = w.subject_id
    WHERE w.rule = 'incident_overdue' AND w.state <> 'cleared'
), first AS (
    SELECT DISTINCT ON (key) id, key FROM rekeyed ORDER BY key, id
)
UPDATE warning w SET cause_key = f.key FROM first f WHERE w.id = f.id;

-- a second warning for the same incident and level (one from each key) is the same warning
UPDATE warning SET state = 'cleared', cleared_at = now()
WHERE rule = 'incident_overdue' AND state <> 'cleared' AND cause_key NOT LIKE 'incident:%:%';
