-- The catalogue as data (issue 27): admins edit classes, items, handling levels, departments and
-- stage deadlines; each edit is a new version of the item, kept, and an incident keeps the
-- version it was reported under, so a changed deadline applies to new incidents only.
ALTER TABLE category ADD COLUMN version int NOT NULL DEFAULT 1;
CREATE TABLE category_version (
    category_code   text NOT NULL REFERENCES category ON DELETE CASCADE,
    version         int NOT NULL,
    handling_level  text NOT NULL,
    department_code text NOT NULL REFERENCES department,
    accept_hours    numeric NOT NULL,
    dispatch_hours  numeric NOT NULL,
    handle_hours    numeric NOT NULL,
    valid_from      timestamptz NOT NULL DEFAULT now(),
    changed_by      text NOT NULL,
    PRIMARY KEY (category_code, version)
);
INSERT INTO category_version (category_code, version, handling_level, department_code, accept_hours,
                              dispatch_hours, handle_hours, valid_from, changed_by)
SELECT code, 1, handling_level, department_code, accept_hours, dispatch_hours, handle_hours, '-infinity', 'migration'
FROM category;
-- Every insert and every change of routing or deadlines is a version, however it is made (the
-- demo loader, an import, an admin): the triggers keep the history, `onegrid.actor` names who.
CREATE FUNCTION category_next_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.handling_level, NEW.department_code, NEW.accept_hours, NEW.dispatch_hours, NEW.handle_hours)
       IS DISTINCT FROM (OLD.handling_level, OLD.department_code, OLD.accept_hours, OLD.dispatch_hours,
                         OLD.handle_hours) THEN
        NEW.version := OLD.version + 1;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER category_next_version BEFORE UPDATE ON category
    FOR EACH ROW EXECUTE FUNCTION category_next_version();
CREATE FUNCTION category_keep_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO category_version (category_code, version, handling_level, department_code, accept_hours,
                                  dispatch_hours, handle_hours, changed_by)
    VALUES (NEW.code, NEW.version, NEW.handling_level, NEW.department_code, NEW.accept_hours,
            NEW.dispatch_hours, NEW.handle_hours, coalesce(nullif(current_setting('onegrid.actor', true), ''), 'system'))
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;
CREATE TRIGGER category_keep_version AFTER INSERT OR UPDATE ON category
    FOR EACH ROW EXECUTE FUNCTION category_keep_version();
CREATE TRIGGER category_version_append_only BEFORE UPDATE OR DELETE ON category_version
    FOR EACH ROW WHEN (pg_trigger_depth() = 0) EXECUTE FUNCTION forbid_change();
ALTER TABLE incident ADD COLUMN category_version int NOT NULL DEFAULT 1;
