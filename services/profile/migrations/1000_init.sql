-- One profile per user, created when auth announces the account (user.registered.v1).
CREATE TABLE profiles (
    user_id      uuid PRIMARY KEY,
    username     text        NOT NULL,
    display_name text        NOT NULL,
    timezone     text        NOT NULL DEFAULT 'UTC',   -- IANA name; every per-day figure uses it
    locale       text        NOT NULL DEFAULT 'en',    -- 'en' or 'fr'
    revision     bigint      NOT NULL,                 -- bumped on every change, sent in profile.updated.v1
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);
