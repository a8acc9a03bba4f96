-- The repaired deadlines stay (the old code blanks them again at its next tick); keys go back to the rule's.
UPDATE warning SET cause_key = 'incident:' || subject_id
WHERE rule = 'incident_overdue' AND state <> 'cleared' AND cause_key LIKE 'incident:%:%'
  AND id IN (SELECT DISTINCT ON (subject_id) id FROM warning
             WHERE rule = 'incident_overdue' AND state <> 'cleared' ORDER BY subject_id, id);
