-- One row per answer any coach capability gives (rules or model): token accounting, the
-- answer_id feedback refers to, and admin stats per kind. The text itself lives with the
-- capability's own rows.
CREATE TABLE answers (
    id                uuid        PRIMARY KEY,   -- UUIDv7
    user_id           uuid        NOT NULL,
    kind              text        NOT NULL CHECK (kind ~ '^[a-z][a-z_.]{0,63}$'),
    path              text        NOT NULL CHECK (path IN ('rules', 'model', 'rules_fallback')),
    model             text        NOT NULL DEFAULT '',
    reason            text        NOT NULL DEFAULT '',
    prompt_tokens     integer     NOT NULL DEFAULT 0 CHECK (prompt_tokens >= 0),
    completion_tokens integer     NOT NULL DEFAULT 0 CHECK (completion_tokens >= 0),
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX answers_by_user ON answers (user_id, created_at DESC);
CREATE INDEX answers_by_kind ON answers (kind, created_at);

-- Model-backed answers charged per user per UTC day (the daily quota).
CREATE TABLE quota_days (
    user_id uuid    NOT NULL,
    day     date    NOT NULL,
    calls   integer NOT NULL CHECK (calls >= 0),
    PRIMARY KEY (user_id, day)
);
