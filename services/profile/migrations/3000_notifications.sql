-- Notification settings, push devices, the in-app inbox, reminders and data exports
-- (issue 12, part 2). Every row belongs to one user; `user.deleted.v1` purges them all.

-- Quiet hours per user; a user without a row has the defaults (domain::notifications).
CREATE TABLE notification_settings (
    user_id            uuid PRIMARY KEY,
    quiet_enabled      boolean     NOT NULL,
    quiet_start_minute integer     NOT NULL CHECK (quiet_start_minute BETWEEN 0 AND 1439),
    quiet_end_minute   integer     NOT NULL CHECK (quiet_end_minute BETWEEN 0 AND 1439),
    updated_at         timestamptz NOT NULL
);

-- Channels per kind; a kind without a row has its default.
CREATE TABLE notification_preferences (
    user_id uuid    NOT NULL,
    kind    text    NOT NULL,
    email   boolean NOT NULL,
    push    boolean NOT NULL,
    inbox   boolean NOT NULL,
    PRIMARY KEY (user_id, kind)
);

-- Push registrations. A token belongs to one user at a time: registering it again (another
-- account on the same phone) moves it.
CREATE TABLE push_devices (
    device_id    uuid PRIMARY KEY,
    user_id      uuid        NOT NULL,
    token        text        NOT NULL CONSTRAINT push_devices_token_key UNIQUE,
    platform     text        NOT NULL,
    display_name text        NOT NULL,
    created_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL
);
CREATE INDEX push_devices_user ON push_devices (user_id, created_at);

CREATE TABLE inbox_messages (
    message_id  uuid PRIMARY KEY,
    user_id     uuid        NOT NULL,
    kind        text        NOT NULL,
    title       text        NOT NULL,
    body        text        NOT NULL,
    created_at  timestamptz NOT NULL,
    read_at     timestamptz,
    -- The reminder it delivers: at most one inbox message per reminder.
    reminder_id uuid CONSTRAINT inbox_messages_reminder_key UNIQUE
);
CREATE INDEX inbox_messages_user ON inbox_messages (user_id, created_at DESC, message_id DESC);
CREATE INDEX inbox_messages_unread ON inbox_messages (user_id) WHERE read_at IS NULL;

-- A reminder is due at a local wall time in the user's zone; `due_at` is that instant in the zone
-- the user had when it was (re)computed, and is recomputed at delivery.
CREATE TABLE reminders (
    reminder_id  uuid PRIMARY KEY,
    user_id      uuid        NOT NULL,
    kind         text        NOT NULL,
    key          text        NOT NULL,
    local_due    timestamp   NOT NULL,
    due_at       timestamptz NOT NULL,
    title        text        NOT NULL,
    body         text        NOT NULL,
    state        text        NOT NULL CHECK (state IN ('pending', 'delivered', 'cancelled')),
    attempts     integer     NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL,
    delivered_at timestamptz,
    CONSTRAINT reminders_user_kind_key UNIQUE (user_id, kind, key)
);
CREATE INDEX reminders_due ON reminders (due_at) WHERE state = 'pending';

-- What each channel delivered for a reminder: at most once per channel.
CREATE TABLE reminder_deliveries (
    reminder_id  uuid        NOT NULL,
    channel      text        NOT NULL,
    delivered_at timestamptz NOT NULL,
    PRIMARY KEY (reminder_id, channel)
);

CREATE TABLE data_exports (
    export_id    uuid PRIMARY KEY,
    user_id      uuid        NOT NULL,
    state        text        NOT NULL CHECK (state IN ('running', 'succeeded', 'failed', 'expired')),
    -- SHA-256 of the download token; the token itself is shown once.
    token_hash   bytea       NOT NULL CONSTRAINT data_exports_token_key UNIQUE,
    file_name    text,
    size_bytes   bigint,
    error        text,
    created_at   timestamptz NOT NULL,
    completed_at timestamptz,
    expires_at   timestamptz NOT NULL
);
CREATE INDEX data_exports_user ON data_exports (user_id, created_at DESC);
CREATE INDEX data_exports_expiry ON data_exports (expires_at) WHERE state <> 'expired';

CREATE TABLE data_export_parts (
    export_id  uuid    NOT NULL REFERENCES data_exports ON DELETE CASCADE,
    service    text    NOT NULL,
    state      text    NOT NULL CHECK (state IN ('pending', 'succeeded', 'failed')),
    item_count bigint  NOT NULL DEFAULT 0,
    error      text,
    PRIMARY KEY (export_id, service)
);

-- Where reminder mail goes: the address from user.registered.v1.
CREATE TABLE notification_emails (
    user_id uuid PRIMARY KEY,
    email   text NOT NULL
);
