ALTER TABLE person ALTER COLUMN id_number SET NOT NULL, ADD CONSTRAINT person_id_number_key UNIQUE (id_number);
ALTER TABLE person DROP COLUMN id_number_sealed, DROP COLUMN id_number_digest,
    DROP COLUMN phone_sealed, DROP COLUMN phone_digest;
