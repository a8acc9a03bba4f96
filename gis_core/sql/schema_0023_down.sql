DROP TABLE admin_log;
ALTER TABLE app_user DROP COLUMN password_changed_at, DROP COLUMN must_change_password;
