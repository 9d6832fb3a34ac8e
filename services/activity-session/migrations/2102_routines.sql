-- activity-session: routines (seed 000's user-built "challenges"): a named, ordered list of
-- activities with durations. Steps are a JSON array [{"activity_id", "seconds"}], always read and
-- written whole; a routine session copies them at its start.
CREATE TABLE routines (
    id         uuid PRIMARY KEY,            -- UUIDv7
    user_id    uuid NOT NULL,
    name       text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    steps      jsonb NOT NULL CHECK (jsonb_typeof(steps) = 'array'),
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX routines_by_user ON routines (user_id, created_at DESC, id DESC);
