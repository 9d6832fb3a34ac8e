-- Issue 3: every way in (identities), one-time codes, password resets, throttling, audit.

ALTER TABLE users
    ADD COLUMN email_verified_at timestamptz,
    ADD COLUMN phone             text UNIQUE,      -- E.164, set by an SMS identity
    ADD COLUMN password_changed_at timestamptz;

-- How a user signs in. PROVIDER_* names in lower case: email, phone, google, facebook, telegram.
-- An email identity's subject is the (lowercased) address; a password, if any, sits on users.
CREATE TABLE identities (
    id             uuid PRIMARY KEY,
    user_id        uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider       text        NOT NULL,
    subject        text        NOT NULL,
    email          text,
    email_verified boolean     NOT NULL DEFAULT false,
    is_primary     boolean     NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL,
    last_used_at   timestamptz,
    UNIQUE (provider, subject)
);
CREATE INDEX identities_user ON identities (user_id);
CREATE UNIQUE INDEX identities_one_primary ON identities (user_id) WHERE is_primary;

-- Accounts that existed before identities: their email becomes their primary email identity.
INSERT INTO identities (id, user_id, provider, subject, email, email_verified, is_primary, created_at)
SELECT gen_random_uuid(), id, 'email', email, email, false, true, created_at
FROM users WHERE email IS NOT NULL;

-- One-time codes (6 digits, stored as SHA-256 over id and code). A new send supersedes the
-- pending code of the same (purpose, channel, address); superseded rows stay so the hourly send
-- limit can count them, and are swept after a day.
CREATE TABLE one_time_codes (
    id            uuid PRIMARY KEY,
    purpose       text        NOT NULL,
    channel       text        NOT NULL,
    address       text        NOT NULL,
    user_id       uuid        REFERENCES users (id) ON DELETE CASCADE,
    code_hash     bytea       NOT NULL,
    attempts      integer     NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    consumed_at   timestamptz             -- used, superseded, exhausted or revoked
);
CREATE INDEX one_time_codes_address ON one_time_codes (channel, address, created_at);
CREATE UNIQUE INDEX one_time_codes_one_pending
    ON one_time_codes (purpose, channel, address,
                       coalesce(user_id, '00000000-0000-0000-0000-000000000000'::uuid))
    WHERE consumed_at IS NULL;
CREATE INDEX one_time_codes_user ON one_time_codes (user_id) WHERE user_id IS NOT NULL;

-- Password-reset tokens: 256-bit, stored as SHA-256, single use, one live per user.
CREATE TABLE password_resets (
    id          uuid PRIMARY KEY,
    user_id     uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash  bytea       NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);
CREATE INDEX password_resets_user ON password_resets (user_id, created_at);

-- Sliding-window counters for throttling (failed logins per account and per client address,
-- guest sign-ups per address). Keys are hashed so the table holds no addresses in clear.
CREATE TABLE throttle_hits (
    key_hash  bytea       NOT NULL,
    at        timestamptz NOT NULL
);
CREATE INDEX throttle_hits_key ON throttle_hits (key_hash, at);

-- Append-only security log. Rows are never updated; they are deleted only with their account
-- (the purge sets stride.purging_user for its transaction).
CREATE TABLE audit_events (
    id          uuid PRIMARY KEY,             -- UUIDv7: time-ordered
    user_id     uuid,
    kind        text        NOT NULL,
    client_ip   text,
    user_agent  text,
    details     jsonb       NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL
);
CREATE INDEX audit_events_user ON audit_events (user_id, id DESC);

CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE'
       AND OLD.user_id IS NOT NULL
       AND current_setting('stride.purging_user', true) = OLD.user_id::text THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_events is append-only (% refused)', TG_OP;
END $$;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();

-- Refresh replay grace: the token a rotation replaced remembers its successor, and the pair that
-- rotation returned, sealed (AES-256-GCM) under a key derived from the replaced token itself, so
-- only someone presenting that token can read it back and the database alone reveals nothing.
ALTER TABLE refresh_tokens
    ADD COLUMN successor_id     uuid,
    ADD COLUMN successor_sealed bytea;
