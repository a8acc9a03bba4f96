-- API keys: long-lived tokens with a name, for desktop GIS clients (QGIS, GDAL) that send HTTP
-- Basic with the key as the password. Their owner lists and revokes them by id; a session
-- token from the login keeps name NULL. Revoking NOTIFYs onegrid_tokens like a logout.
ALTER TABLE api_token
    ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    ADD COLUMN name text;
