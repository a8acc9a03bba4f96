DROP TABLE IF EXISTS cold_chain_reading, warning_event;
DROP INDEX IF EXISTS warning_state_idx;
