-- Warning rule incident_overdue: open incidents past their deadline, at any level; red at
-- district level or a day late. The key is escalation.overdue_cause_key's: escalation raises
-- this rule's own warning.
-- Columns: key, subject_type, subject_id, level, message, wkb (WGS 84).
SELECT 'incident:' || i.id || ':' || i.level AS key, 'incident' AS subject_type, i.id AS subject_id,
       CASE WHEN i.level = 'district' OR :now - i.due_at > interval '24 hours' THEN 'red' ELSE 'orange' END
         AS level,
       '事件 ' || i.code || ' 已超时' AS message, ST_AsBinary(i.geom) AS wkb
FROM incident i WHERE i.state = ANY(:active) AND i.due_at < :now
