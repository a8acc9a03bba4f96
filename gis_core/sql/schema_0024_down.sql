ALTER TABLE incident DROP COLUMN category_version;
DROP TABLE category_version;
ALTER TABLE category DROP COLUMN version;
