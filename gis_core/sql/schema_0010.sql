-- Migration 0010: track_point's worker check once per statement instead of once per row.
--
-- Phones upload fixes 20,000 at a time. The foreign key checked each row on its own (a lookup
-- and a KEY SHARE lock on worker per fix, 3.4 µs a row: a quarter of the upload). These
-- triggers keep the same guarantee with one query per statement: every worker the new rows
-- name exists and is locked FOR KEY SHARE, as the foreign key would lock it, so a concurrent
-- delete of that worker waits for the upload and then deletes its fixes too; deleting a worker
-- still deletes their fixes. The error is the foreign key's (SQLSTATE 23503, same name).
ALTER TABLE track_point DROP CONSTRAINT track_point_worker_id_fkey;

-- SECURITY DEFINER: locking rows needs UPDATE on worker, which the request role does not have.
CREATE FUNCTION track_point_worker_exists() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    missing int;
BEGIN
    PERFORM 1 FROM worker WHERE id IN (SELECT DISTINCT worker_id FROM new_rows) FOR KEY SHARE;
    SELECT n.worker_id INTO missing
      FROM (SELECT DISTINCT worker_id FROM new_rows) n
     WHERE NOT EXISTS (SELECT FROM worker w WHERE w.id = n.worker_id)
     LIMIT 1;
    IF FOUND THEN
        RAISE foreign_key_violation USING
            MESSAGE = 'insert or update on table "track_point" violates foreign key constraint '
                      '"track_point_worker_id_fkey"',
            DETAIL = format('Key (worker_id)=(%s) is not present in table "worker".', missing),
            TABLE = 'track_point', CONSTRAINT = 'track_point_worker_id_fkey';
    END IF;
    RETURN NULL;
END $$;
-- Named to sort first: a statement's triggers fire in name order, and the check goes before
-- track_to_position and point_call_arrivals use the rows.
CREATE TRIGGER check_worker_ins AFTER INSERT ON track_point
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION track_point_worker_exists();
CREATE TRIGGER check_worker_upd AFTER UPDATE ON track_point
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION track_point_worker_exists();

-- ON DELETE CASCADE, as a statement: whoever may delete a worker may delete their fixes.
CREATE FUNCTION worker_deleted_tracks() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    DELETE FROM track_point WHERE worker_id IN (SELECT id FROM old_rows);
    RETURN NULL;
END $$;
CREATE TRIGGER deleted_tracks AFTER DELETE ON worker
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION worker_deleted_tracks();
