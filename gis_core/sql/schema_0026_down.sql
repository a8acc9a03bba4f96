ALTER TABLE app_user DROP COLUMN sso_subject, DROP COLUMN sso_issuer;
DROP TABLE oidc_login;
