-- activity-session (workout logs, issue 13): what a user performed of an exercise on a local
-- date — of a plan exercise of one of their user plans, or of a free library exercise. Weights
-- are stored in kilograms, whatever unit they were given in.
CREATE TABLE workout_logs (
    id               uuid PRIMARY KEY,     -- UUIDv7
    user_id          uuid NOT NULL,
    -- No foreign keys to the catalog (exercises, plan_exercises): everyone logs the same few
    -- exercises, and the keys' share locks on those rows are the pile-up migration 1002
    -- removed from sessions. The handlers check both exist; catalog rows are never deleted.
    exercise_id      uuid NOT NULL,
    user_plan_id     uuid REFERENCES user_plans (id),
    plan_exercise_id uuid,
    date_performed   date NOT NULL,
    sets             integer NOT NULL CHECK (sets BETWEEN 1 AND 100),
    reps             integer NOT NULL CHECK (reps BETWEEN 0 AND 1000),
    weight_kg        double precision NOT NULL CHECK (weight_kg >= 0 AND weight_kg <= 1000),
    duration_seconds integer NOT NULL CHECK (duration_seconds BETWEEN 0 AND 86400),
    notes            text NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    CHECK ((user_plan_id IS NULL) = (plan_exercise_id IS NULL))
);
-- History: newest date first, keyset (date_performed, id).
CREATE INDEX workout_logs_by_date ON workout_logs (user_id, date_performed DESC, id DESC);
-- Progress: which plan exercises of a user plan have a log.
CREATE INDEX workout_logs_by_plan ON workout_logs (user_plan_id, plan_exercise_id)
    WHERE user_plan_id IS NOT NULL;
