-- Quizzes (seed 003): generated questions with their answers (never shown before submit) and
-- the caller's scored attempts. One attempt per (user, request id): a retried submit returns it.
CREATE TABLE quizzes (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL,
    topic_id uuid NOT NULL,
    subject_id uuid NOT NULL,
    topic_title text NOT NULL,
    -- [{prompt, options[], correct, explanation}]
    questions jsonb NOT NULL,
    path text NOT NULL,
    model text NOT NULL DEFAULT '',
    reason text NOT NULL DEFAULT '',
    answer_id uuid NOT NULL,
    timezone text NOT NULL DEFAULT 'UTC',
    created_at timestamptz NOT NULL
);
CREATE INDEX quizzes_user ON quizzes (user_id, created_at DESC);

CREATE TABLE quiz_attempts (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL,
    quiz_id uuid NOT NULL REFERENCES quizzes (id) ON DELETE CASCADE,
    request_id uuid NOT NULL,
    topic_id uuid NOT NULL,
    topic_title text NOT NULL,
    answers integer[] NOT NULL,
    -- [{index, chosen, correct_option, correct, explanation}]
    results jsonb NOT NULL,
    correct_count integer NOT NULL,
    question_count integer NOT NULL,
    created_at timestamptz NOT NULL,
    UNIQUE (user_id, request_id)
);
CREATE INDEX quiz_attempts_user ON quiz_attempts (user_id, created_at DESC, id DESC);
