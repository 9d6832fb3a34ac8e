-- Accounts. email and username are nullable so anonymous (guest) accounts fit later.
CREATE TABLE users (
    id            uuid PRIMARY KEY,                 -- UUIDv7
    email         text UNIQUE,                      -- trimmed and lowercased before storing
    username      text,                             -- as typed; unique case-insensitively below
    password_hash text,                             -- argon2id PHC string
    roles         text[]      NOT NULL DEFAULT '{user}',
    is_anonymous  boolean     NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL
);
CREATE UNIQUE INDEX users_username_ci ON users (lower(username));

-- Opaque refresh tokens, stored only as SHA-256. One family per login; rotation adds a row,
-- reuse of a spent token revokes the whole family.
CREATE TABLE refresh_tokens (
    id          uuid PRIMARY KEY,
    family_id   uuid        NOT NULL,
    user_id     uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash  bytea       NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    revoked_at  timestamptz
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);

-- Ed25519 keys that sign access tokens; the public halves are served by GetJwks.
CREATE TABLE signing_keys (
    kid           text PRIMARY KEY,
    private_pkcs8 bytea       NOT NULL,
    public_key    bytea       NOT NULL,
    created_at    timestamptz NOT NULL,
    retired_at    timestamptz
);
