-- Sealing, part two: the sealed columns are complete; the clear ones go.
ALTER TABLE person
    ALTER COLUMN id_number_sealed SET NOT NULL,
    ALTER COLUMN id_number_digest SET NOT NULL,
    ADD CONSTRAINT person_id_number_digest_key UNIQUE (id_number_digest),
    ADD CONSTRAINT person_phone_sealed_digest CHECK ((phone_sealed IS NULL) = (phone_digest IS NULL)),
    DROP COLUMN id_number,
    DROP COLUMN phone;
CREATE INDEX person_phone_digest_idx ON person (phone_digest);
