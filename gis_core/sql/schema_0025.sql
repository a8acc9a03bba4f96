-- Residents' ID numbers and phones sealed at rest (gis_core/platform/sealing.py): each is kept
-- as a Fernet token to read back and an HMAC digest to match exactly, under keys the database
-- never sees, so that a dump or a backup file holds neither in clear. This file adds the
-- columns; the migration fills them in Python; schema_0025_finish.sql drops the clear ones.
ALTER TABLE person
    ADD COLUMN id_number_sealed bytea,
    ADD COLUMN id_number_digest bytea,
    ADD COLUMN phone_sealed     bytea,
    ADD COLUMN phone_digest     bytea;
