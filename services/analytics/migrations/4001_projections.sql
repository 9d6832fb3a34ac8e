-- analytics (issue 15): every figure of the issue's Projections list, per user and local date
-- (the date the producer put on the event). All are sums, so an event adds its delta and a
-- correction (task reopened/deleted, workout updated/deleted) subtracts one: order-independent.
ALTER TABLE daily_rollups
    -- sessions and active seconds by kind (focus_sessions and total_seconds exist)
    ADD COLUMN break_sessions    integer NOT NULL DEFAULT 0,
    ADD COLUMN study_sessions    integer NOT NULL DEFAULT 0,
    ADD COLUMN workout_sessions  integer NOT NULL DEFAULT 0,
    ADD COLUMN routine_sessions  integer NOT NULL DEFAULT 0,
    ADD COLUMN focus_seconds     bigint  NOT NULL DEFAULT 0,
    ADD COLUMN break_seconds     bigint  NOT NULL DEFAULT 0,
    ADD COLUMN study_seconds     bigint  NOT NULL DEFAULT 0,
    ADD COLUMN workout_seconds   bigint  NOT NULL DEFAULT 0,
    ADD COLUMN routine_seconds   bigint  NOT NULL DEFAULT 0,
    -- planned versus actual (total_seconds) for the sessions that said their plan
    ADD COLUMN planned_seconds   bigint  NOT NULL DEFAULT 0,
    ADD COLUMN tasks_created     integer NOT NULL DEFAULT 0,
    ADD COLUMN tasks_completed   integer NOT NULL DEFAULT 0,
    -- shutdown reflections and their ratings
    ADD COLUMN reflections       integer NOT NULL DEFAULT 0,
    ADD COLUMN rated_great       integer NOT NULL DEFAULT 0,
    ADD COLUMN rated_good        integer NOT NULL DEFAULT 0,
    ADD COLUMN rated_okay        integer NOT NULL DEFAULT 0,
    ADD COLUMN rated_tough       integer NOT NULL DEFAULT 0,
    -- logged workouts (on the date performed) and their volume
    ADD COLUMN workouts          integer NOT NULL DEFAULT 0,
    -- grams, so sums are exact whatever the order (kilograms × 1000, rounded)
    ADD COLUMN workout_volume_g  bigint  NOT NULL DEFAULT 0,
    ADD COLUMN lessons           integer NOT NULL DEFAULT 0,
    ADD COLUMN lesson_minutes    integer NOT NULL DEFAULT 0,
    ADD COLUMN xp                bigint  NOT NULL DEFAULT 0,
    ADD COLUMN evaluations       integer NOT NULL DEFAULT 0,
    ADD COLUMN evaluation_score_sum integer NOT NULL DEFAULT 0,
    -- the latest shutdown reflection's instant that day (the seed's clocked-out time)
    ADD COLUMN clocked_out_at    timestamptz;

-- Existing rows: their sessions predate the split by kind; focus seconds are unknown (0).

-- Runs of active dates per streak kind ('activity', 'focus', 'study', 'workout', 'shutdown');
-- the existing rows are activity runs.
ALTER TABLE active_runs ADD COLUMN kind text NOT NULL DEFAULT 'activity';
ALTER TABLE active_runs DROP CONSTRAINT active_runs_pkey;
ALTER TABLE active_runs ADD CONSTRAINT active_runs_pkey PRIMARY KEY (user_id, kind, first_date);
CREATE UNIQUE INDEX active_runs_last ON active_runs (user_id, kind, last_date);

-- Per-user streak settings (ADR 0020): missed days a streak tolerates, and freezes per month.
CREATE TABLE streak_settings (
    user_id           uuid    PRIMARY KEY,
    grace_days        integer NOT NULL DEFAULT 0 CHECK (grace_days BETWEEN 0 AND 3),
    freezes_per_month integer NOT NULL DEFAULT 0 CHECK (freezes_per_month BETWEEN 0 AND 5)
);

-- The user's tasks as the events last told them (the shutdown summary's list and counts).
-- revision orders snapshots: the occur_time of the event that wrote it (a late, older event
-- loses). Deleted tasks stay as tombstones so a late created/updated does not revive them.
CREATE TABLE tasks (
    user_id       uuid        NOT NULL,
    task_id       text        NOT NULL,
    title         text        NOT NULL,
    priority      text        NOT NULL,
    due_time      timestamptz,
    completed     boolean     NOT NULL,
    complete_date date,
    created_date  date,
    deleted       boolean     NOT NULL DEFAULT false,
    revision      timestamptz NOT NULL,
    PRIMARY KEY (user_id, task_id)
);
CREATE INDEX tasks_open ON tasks (user_id) WHERE NOT deleted AND NOT completed;
CREATE INDEX tasks_completed_on ON tasks (user_id, complete_date) WHERE NOT deleted AND completed;

-- The daily focus goal (profile.updated.v1 daily_focus_goal_minutes), newest revision wins.
CREATE TABLE focus_goals (
    user_id  uuid    PRIMARY KEY,
    minutes  integer NOT NULL,
    revision bigint  NOT NULL
);

-- The recent-activity feed reads the log newest first.
CREATE INDEX event_log_feed ON event_log (user_id, occurred_at DESC, seq DESC);
