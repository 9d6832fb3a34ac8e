-- activity-session: the caller's to-do tasks (seed 001).
CREATE TABLE tasks (
    id                  uuid PRIMARY KEY,          -- UUIDv7
    user_id             uuid NOT NULL,
    title               text NOT NULL,
    description         text NOT NULL DEFAULT '',
    start_at            timestamptz,
    due_at              timestamptz,
    priority            text NOT NULL DEFAULT 'medium' CHECK (priority IN ('low', 'medium', 'high')),
    -- The order "by priority" sorts on: high first.
    priority_rank       smallint GENERATED ALWAYS AS (
                            CASE priority WHEN 'high' THEN 0 WHEN 'medium' THEN 1 ELSE 2 END
                        ) STORED,
    tags                text[] NOT NULL DEFAULT '{}',
    reminder_enabled    boolean NOT NULL DEFAULT false,
    reminder_at         timestamptz,
    completed           boolean NOT NULL DEFAULT false,
    -- Set while completed: the instant and the local date (in that zone) it counted on.
    completed_at        timestamptz,
    completed_date      date,
    completed_timezone  text,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    CHECK (completed = (completed_at IS NOT NULL))
);
CREATE INDEX tasks_by_user_due ON tasks (user_id, completed, (COALESCE(due_at, 'infinity')), id);
CREATE INDEX tasks_tags ON tasks USING gin (tags);
