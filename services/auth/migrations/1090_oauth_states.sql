-- Server-side web sign-in (authorization code with PKCE): what auth keeps between sending the
-- browser to the provider and the callback. The state is stored only as SHA-256; a row is taken
-- (deleted) by its first callback and lives at most `expires_at`. Numbered apart from the
-- hardening migrations so the two lines of work cannot collide.
CREATE TABLE oauth_states (
    state_hash    bytea PRIMARY KEY,
    provider      text NOT NULL,
    redirect_uri  text NOT NULL,
    code_verifier text NOT NULL,
    nonce         text NOT NULL,
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL
);
CREATE INDEX oauth_states_expires ON oauth_states (expires_at);
