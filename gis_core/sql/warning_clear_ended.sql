-- Clear a rule's warnings whose cause is no longer among its causes.
UPDATE warning SET state = 'cleared', cleared_at = :now
WHERE rule = :rule AND state <> 'cleared' AND NOT (cause_key = ANY(CAST(:keys AS text[])))
RETURNING id
