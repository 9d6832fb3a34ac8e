-- activity-session: end-of-day shutdown reflections (seed 001).
CREATE TABLE shutdown_reflections (
    id                           uuid PRIMARY KEY,   -- UUIDv7: the history's order
    user_id                      uuid NOT NULL,
    productivity_rating          text NOT NULL CHECK (productivity_rating IN ('great', 'good', 'okay', 'tough')),
    note                         text NOT NULL DEFAULT '',
    mindful_disconnect_completed boolean[] NOT NULL DEFAULT '{}',
    -- A loose reference to one of the user's sessions, checked on submit. Not a foreign key:
    -- sessions may be purged or moved on their own.
    focus_session_id             uuid,
    submitted_at                 timestamptz NOT NULL,
    local_date                   date NOT NULL,
    timezone                     text NOT NULL
);
CREATE INDEX shutdown_reflections_by_user ON shutdown_reflections (user_id, id DESC);
