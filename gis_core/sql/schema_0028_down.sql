ALTER TABLE unit DROP COLUMN address_id;
ALTER TABLE person DROP COLUMN address_id;
DROP TABLE address_alias;
DELETE FROM anchored_table WHERE name = 'address'::regclass;
DROP TABLE address;
