DROP INDEX incident_photo_sha256_idx;
