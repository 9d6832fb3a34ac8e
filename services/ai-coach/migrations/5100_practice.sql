-- Practice sessions (seed 002, issue 16): the conversation, its evaluation, and the improvement
-- plan rebuilt from the evaluations after each one (and after a merge).
CREATE TABLE practice_sessions (
    id              uuid PRIMARY KEY,
    user_id         uuid NOT NULL,
    preparation_type text NOT NULL CHECK (preparation_type IN ('interview','corporate','pitch','sales','presentation','other')),
    meeting_subtype text NOT NULL,
    agenda          text NOT NULL,
    tone            text NOT NULL,
    focus           text NOT NULL,
    -- The caller's timezone when the session started (the event's fallback when profile is down).
    timezone        text NOT NULL,
    status          text NOT NULL CHECK (status IN ('in_progress','completed','archived')),
    turns           integer NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL,
    completed_at    timestamptz,
    archived_at     timestamptz,
    -- Copied from the evaluation: history sorts and filters on it.
    overall_score   integer
);
CREATE INDEX practice_sessions_user ON practice_sessions (user_id, created_at DESC, id DESC);

CREATE TABLE practice_messages (
    session_id  uuid NOT NULL REFERENCES practice_sessions (id) ON DELETE CASCADE,
    seq         integer NOT NULL,
    role        text NOT NULL CHECK (role IN ('coach','user')),
    text        text NOT NULL,
    turn        integer NOT NULL,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (session_id, seq)
);

CREATE TABLE practice_evaluations (
    id                   uuid PRIMARY KEY,
    session_id           uuid NOT NULL UNIQUE REFERENCES practice_sessions (id) ON DELETE CASCADE,
    user_id              uuid NOT NULL,
    preparation_type     text NOT NULL,
    rubric_version       text NOT NULL,
    overall_score        integer NOT NULL CHECK (overall_score BETWEEN 0 AND 100),
    overall_label        text NOT NULL,
    -- [{dimension, title, kind, score, label}]
    dimension_scores     jsonb NOT NULL,
    -- [{dimension, area, suggestion}], at most 3
    improvement_areas    jsonb NOT NULL,
    practice_suggestions jsonb NOT NULL,
    summary              text NOT NULL,
    -- Provenance: rules | model | rules_fallback, the model, why the rules answered.
    path                 text NOT NULL,
    model                text NOT NULL,
    reason               text NOT NULL,
    -- answers.id (feedback refers to it).
    answer_id            uuid NOT NULL,
    created_at           timestamptz NOT NULL
);
CREATE INDEX practice_evaluations_user ON practice_evaluations (user_id, created_at DESC);

-- The improvement plan: recurring improvement areas per dimension.
CREATE TABLE practice_focus_areas (
    user_id     uuid NOT NULL,
    dimension   text NOT NULL,
    occurrences integer NOT NULL,
    area        text NOT NULL,
    suggestion  text NOT NULL,
    last_seen   timestamptz NOT NULL,
    PRIMARY KEY (user_id, dimension)
);

-- Rollup metrics per dimension ("overall" for the overall score).
CREATE TABLE practice_rollups (
    user_id   uuid NOT NULL,
    dimension text NOT NULL,
    sessions  integer NOT NULL,
    average   double precision NOT NULL,
    best      integer NOT NULL,
    latest    integer NOT NULL,
    PRIMARY KEY (user_id, dimension)
);
