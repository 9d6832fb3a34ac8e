-- Per-user figures keyed by the local date the producer computed in the user's zone at the
-- event's instant: a later timezone change never moves a past day.
CREATE TABLE daily_rollups (
    user_id            uuid    NOT NULL,
    local_date         date    NOT NULL,
    sessions_completed integer NOT NULL DEFAULT 0,
    focus_sessions     integer NOT NULL DEFAULT 0,
    total_seconds      bigint  NOT NULL DEFAULT 0,
    points             integer NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, local_date)
);

-- The user's current IANA zone, used only to decide which local date is "today".
-- revision: the profile revision it came from; -1 marks a hint taken from a session event
-- (used until the first profile update arrives). observed_at orders hints.
CREATE TABLE user_timezones (
    user_id     uuid        PRIMARY KEY,
    timezone    text        NOT NULL,
    revision    bigint      NOT NULL,
    observed_at timestamptz NOT NULL DEFAULT now()
);
