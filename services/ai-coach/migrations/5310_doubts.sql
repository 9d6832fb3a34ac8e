-- The doubt solver (seed 003): each question with its structured answer and provenance.
CREATE TABLE doubts (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL,
    question text NOT NULL,
    subject_id uuid,
    topic_id uuid,
    -- {explanation, steps[], key_points[], follow_up_questions[], lessons[[id, title]]}
    answer jsonb NOT NULL,
    path text NOT NULL,
    model text NOT NULL DEFAULT '',
    reason text NOT NULL DEFAULT '',
    answer_id uuid NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX doubts_user ON doubts (user_id, created_at DESC, id DESC);
