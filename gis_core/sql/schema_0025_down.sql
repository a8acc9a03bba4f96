-- Back to clear ID numbers and phones: the migration fills these from the sealed columns first,
-- then schema_0025_down_finish.sql drops those.
ALTER TABLE person ADD COLUMN id_number char(18), ADD COLUMN phone text;
