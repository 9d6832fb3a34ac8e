-- activity-session: sessions become a state machine (docs/adr/0015-session-state-machine.md).
-- Running keeps the stored name 'active'; pauses, early stops and aborts are new states. The
-- one-live-session index now covers paused sessions too.
ALTER TABLE sessions DROP CONSTRAINT IF EXISTS sessions_state_check;
ALTER TABLE sessions ADD CONSTRAINT sessions_state_check
    CHECK (state IN ('active', 'paused', 'completed', 'stopped', 'aborted'));
DROP INDEX IF EXISTS sessions_one_active;
CREATE UNIQUE INDEX sessions_one_active ON sessions (user_id) WHERE state IN ('active', 'paused');

-- A routine session has no single activity.
ALTER TABLE sessions ALTER COLUMN activity_id DROP NOT NULL;

ALTER TABLE sessions
    -- Loose references (other areas' tables): shape-checked ids.
    ADD COLUMN routine_id       uuid,
    ADD COLUMN lesson_id        uuid,
    ADD COLUMN topic_id         uuid,
    ADD COLUMN plan_day_id      uuid,
    -- The routine's steps as they were at the start: [{"activity_id", "seconds"}].
    ADD COLUMN steps            jsonb,
    ADD COLUMN step             integer NOT NULL DEFAULT 0,
    ADD COLUMN step_count       integer NOT NULL DEFAULT 1 CHECK (step_count >= 1),
    -- The timer: active milliseconds of closed running stretches, and since when the current
    -- stretch runs (or the last event's time).
    ADD COLUMN active_ms        bigint NOT NULL DEFAULT 0 CHECK (active_ms >= 0),
    ADD COLUMN since            timestamptz,
    -- Integrity, set on completion.
    ADD COLUMN counts           boolean,
    ADD COLUMN count_reason     text,
    -- The local date the session started on (history filters by it).
    ADD COLUMN start_local_date date,
    ADD CONSTRAINT sessions_step_in_bounds CHECK (step >= 0 AND step < step_count);

-- Sessions from before: no pauses, so active time was the whole duration; they all counted.
UPDATE sessions SET
    since = coalesce(ended_at, started_at),
    active_ms = coalesce(duration_seconds, 0)::bigint * 1000,
    counts = CASE WHEN state = 'completed' THEN true END,
    count_reason = CASE WHEN state = 'completed' THEN 'ACTIVE_TIME_REACHED_MINIMUM' END,
    start_local_date = coalesce(local_date, (started_at AT TIME ZONE 'UTC')::date);
ALTER TABLE sessions ALTER COLUMN since SET NOT NULL;
ALTER TABLE sessions ALTER COLUMN start_local_date SET NOT NULL;

CREATE INDEX sessions_history ON sessions (user_id, start_local_date DESC, started_at DESC, id DESC);
