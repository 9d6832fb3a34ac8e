-- LLM usage accounting: one row per recommendation answered (rules answers have no model and
-- zero tokens, so the share of LLM answers and fallbacks is visible too).
CREATE TABLE recommendations (
    id                uuid        PRIMARY KEY,   -- UUIDv7
    user_id           uuid        NOT NULL,
    source            text        NOT NULL CHECK (source IN ('rules', 'llm', 'rules_fallback')),
    model             text,
    prompt_tokens     integer     NOT NULL DEFAULT 0,
    completion_tokens integer     NOT NULL DEFAULT 0,
    created_at        timestamptz NOT NULL
);
CREATE INDEX recommendations_by_user ON recommendations (user_id, created_at DESC);
