-- Agents (seed 004, ADR 0024): every multi-step agent run is an execution (its steps with
-- timings, path and reasoning); generated plans stay in the coach.
CREATE TABLE agent_executions (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL,
    -- "agent.plan", "agent.nutrition", "agent.injury"
    kind text NOT NULL,
    -- [{name, path, reasoning, duration_ms, attempt}]
    steps jsonb NOT NULL,
    path text NOT NULL,
    model text NOT NULL DEFAULT '',
    reason text NOT NULL DEFAULT '',
    answer_id uuid NOT NULL,
    result_id uuid,
    duration_ms bigint NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX agent_executions_user ON agent_executions (user_id, created_at DESC, id DESC);

CREATE TABLE generated_plans (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL,
    execution_id uuid NOT NULL,
    title text NOT NULL,
    -- {title, weeks: [{days: [{day, items: [{exercise_id, sets, reps, duration_seconds, rest_seconds}]}]}]}
    plan jsonb NOT NULL,
    -- exercise id → name, for display
    names jsonb NOT NULL,
    level text NOT NULL,
    equipment text[] NOT NULL,
    limitations text[] NOT NULL,
    path text NOT NULL,
    model text NOT NULL DEFAULT '',
    reason text NOT NULL DEFAULT '',
    answer_id uuid NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX generated_plans_user ON generated_plans (user_id, created_at DESC, id DESC);
