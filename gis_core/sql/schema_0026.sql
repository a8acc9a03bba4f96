-- Single sign-on (OpenID Connect, authorization code with PKCE; gis_core/platform/oidc.py).
-- A login under way: its state (also in the browser's cookie), the PKCE verifier and the nonce,
-- taken once by the callback and useless after ten minutes. Server-side, so any API host can
-- finish a login another began.
CREATE TABLE oidc_login (
    state        text PRIMARY KEY,
    verifier     text NOT NULL,
    nonce        text NOT NULL,
    next_path    text NOT NULL,
    redirect_uri text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
REVOKE ALL ON oidc_login FROM onegrid_app;  -- the auth connection's business, never a request's

-- An account the identity provider vouches for: its issuer and subject (the person's stable id
-- there). Such an account has no local password; its role and place follow the provider's claims.
ALTER TABLE app_user ADD COLUMN sso_issuer text, ADD COLUMN sso_subject text,
    ADD CONSTRAINT app_user_sso_key UNIQUE (sso_issuer, sso_subject),
    ADD CONSTRAINT app_user_sso_both CHECK ((sso_issuer IS NULL) = (sso_subject IS NULL));
