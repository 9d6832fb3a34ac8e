-- analytics (issue 15, H): evaluation trends, topic mastery and share cards.

-- One row per evaluated practice session (practice_session.evaluated.v1); a re-evaluation of
-- the same session replaces it when newer. improvement_areas as the coach wrote them.
CREATE TABLE evaluations (
    user_id             uuid        NOT NULL,
    practice_session_id text        NOT NULL,
    overall_score       integer     NOT NULL CHECK (overall_score BETWEEN 0 AND 100),
    evaluate_time       timestamptz NOT NULL,
    local_date          date        NOT NULL,
    preparation_type    text        NOT NULL DEFAULT '',
    improvement_areas   text[]      NOT NULL DEFAULT '{}',
    PRIMARY KEY (user_id, practice_session_id)
);
-- Trends read one user's window of local dates.
CREATE INDEX evaluations_by_date ON evaluations (user_id, local_date);

CREATE TABLE evaluation_scores (
    user_id             uuid    NOT NULL,
    practice_session_id text    NOT NULL,
    dimension           text    NOT NULL,
    score               integer NOT NULL CHECK (score BETWEEN 0 AND 100),
    label               text    NOT NULL DEFAULT '',
    PRIMARY KEY (user_id, practice_session_id, dimension),
    FOREIGN KEY (user_id, practice_session_id)
        REFERENCES evaluations (user_id, practice_session_id) ON DELETE CASCADE ON UPDATE CASCADE
);

-- The facts topic mastery is computed from, one row each, so a fact counts once (a merge of two
-- accounts that both completed a lesson keeps one) and the per-topic figures can be recomputed.
CREATE TABLE lessons_completed (
    user_id      uuid        NOT NULL,
    lesson_id    text        NOT NULL,
    topic_id     text        NOT NULL,
    subject_id   text        NOT NULL,
    completed_at timestamptz,
    PRIMARY KEY (user_id, lesson_id)
);

CREATE TABLE quiz_attempts (
    user_id         uuid        NOT NULL,
    quiz_attempt_id text        NOT NULL,
    topic_id        text        NOT NULL,
    subject_id      text        NOT NULL,
    topic_title     text        NOT NULL DEFAULT '',
    correct_count   integer     NOT NULL,
    question_count  integer     NOT NULL,
    percent         integer     NOT NULL CHECK (percent BETWEEN 0 AND 100),
    submit_time     timestamptz NOT NULL,
    PRIMARY KEY (user_id, quiz_attempt_id)
);

-- Per user and topic, kept at write time so mastery and the dashboard read one row per topic
-- (never the attempts). latest_*: the attempt with the latest submit_time (ties: highest id),
-- whatever order attempts arrive in.
CREATE TABLE topic_mastery (
    user_id           uuid        NOT NULL,
    topic_id          text        NOT NULL,
    subject_id        text        NOT NULL,
    topic_title       text        NOT NULL DEFAULT '',
    lessons_completed integer     NOT NULL DEFAULT 0,
    quiz_attempts     integer     NOT NULL DEFAULT 0,
    quiz_percent_sum  bigint      NOT NULL DEFAULT 0,
    latest_percent    integer     NOT NULL DEFAULT 0,
    latest_time       timestamptz,
    latest_attempt_id text        NOT NULL DEFAULT '',
    PRIMARY KEY (user_id, topic_id)
);

-- Share cards (ADR 0021). The link's token is random (256 bits) and only its SHA-256 is kept:
-- a database leak reveals no working link. The figures are frozen at creation.
CREATE TABLE share_cards (
    id                 uuid        PRIMARY KEY,
    user_id            uuid        NOT NULL,
    token_sha256       bytea       NOT NULL CONSTRAINT share_cards_token_unique UNIQUE,
    kind               smallint    NOT NULL,
    display_name       text        NOT NULL DEFAULT '',
    start_date         date,
    end_date           date,
    as_of_date         date        NOT NULL,
    sessions_completed integer     NOT NULL DEFAULT 0,
    focus_sessions     integer     NOT NULL DEFAULT 0,
    active_seconds     bigint      NOT NULL DEFAULT 0,
    active_days        integer     NOT NULL DEFAULT 0,
    points             bigint      NOT NULL DEFAULT 0,
    current_streak     integer     NOT NULL DEFAULT 0,
    longest_streak     integer     NOT NULL DEFAULT 0,
    created_at         timestamptz NOT NULL,
    expires_at         timestamptz NOT NULL,
    revoked_at         timestamptz
);
-- ListShareCards: newest first, keyset (created_at, id).
CREATE INDEX share_cards_by_user ON share_cards (user_id, created_at DESC, id DESC);
