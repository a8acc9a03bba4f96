DROP TRIGGER deleted_tracks ON worker;
DROP FUNCTION worker_deleted_tracks();
DROP TRIGGER check_worker_upd ON track_point;
DROP TRIGGER check_worker_ins ON track_point;
DROP FUNCTION track_point_worker_exists();
ALTER TABLE track_point ADD CONSTRAINT track_point_worker_id_fkey
    FOREIGN KEY (worker_id) REFERENCES worker ON DELETE CASCADE;
