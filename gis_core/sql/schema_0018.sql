-- A photo is served only when the caller may read an incident it belongs to: looked up by
-- its content address.
CREATE INDEX incident_photo_sha256_idx ON incident_photo (sha256);
