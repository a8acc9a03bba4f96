DROP TRIGGER tiles_ins ON party_org;
DROP TRIGGER tiles_upd ON party_org;
DROP TRIGGER tiles_del ON party_org;
DELETE FROM anchored_table WHERE name = 'unit'::regclass;
DROP TABLE unit;
