-- activity-session (user plans, issue 13): a workout plan template assigned to a user from a
-- start date (the user's local date), with its status and its pauses. Progress is not stored:
-- it is computed from the template and the user's workout logs of the plan.
CREATE TABLE user_plans (
    id          uuid PRIMARY KEY,          -- UUIDv7
    user_id     uuid NOT NULL,
    -- Templates are catalog data and never deleted; assignments are rare, so the key's share
    -- lock on the template row costs nothing that matters (unlike sessions, migration 1002).
    plan_id     uuid NOT NULL REFERENCES workout_plans (id),
    status      text NOT NULL CHECK (status IN ('active', 'paused', 'completed', 'removed')),
    start_date  date NOT NULL,
    -- Finished pauses, oldest first: the date each began and how many days it lasted.
    pause_dates date[] NOT NULL DEFAULT '{}',
    pause_days  integer[] NOT NULL DEFAULT '{}',
    paused_on   date,
    ended_on    date,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    CHECK (cardinality(pause_dates) = cardinality(pause_days)),
    CHECK ((status = 'paused') = (paused_on IS NOT NULL)),
    CHECK ((status IN ('completed', 'removed')) = (ended_on IS NOT NULL))
);
-- A template runs once at a time per user: assigning it again while active or paused is
-- ALREADY_EXISTS (the index decides, so two concurrent assignments cannot both win).
CREATE UNIQUE INDEX user_plans_one_running ON user_plans (user_id, plan_id)
    WHERE status IN ('active', 'paused');
CREATE INDEX user_plans_by_user ON user_plans (user_id, id DESC);
