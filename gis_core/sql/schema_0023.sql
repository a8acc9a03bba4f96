-- Accounts without the demo (issue 27): an admin creates them with a one-time password that
-- must be changed at the first login; every change an admin makes is in an append-only log.
ALTER TABLE app_user ADD COLUMN must_change_password boolean NOT NULL DEFAULT false,
                     ADD COLUMN password_changed_at timestamptz;

CREATE TABLE admin_log (
    id      bigserial PRIMARY KEY,
    at      timestamptz NOT NULL DEFAULT now(),
    actor   text NOT NULL,          -- the admin's username, or 'cli:<os user>' from the command line
    action  text NOT NULL,          -- user.add, user.disable, user.enable, user.reset_password, user.set_role, user.password
    subject text NOT NULL,          -- the account's username
    data    jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX admin_log_subject_idx ON admin_log (subject, at);
CREATE TRIGGER admin_log_append_only BEFORE UPDATE OR DELETE ON admin_log
    FOR EACH ROW WHEN (pg_trigger_depth() = 0) EXECUTE FUNCTION forbid_change();
