-- One rating per answer (re-submitting replaces it); the answer row tells the owner and kind.
CREATE TABLE answer_feedback (
    answer_id  uuid        PRIMARY KEY REFERENCES answers (id) ON DELETE CASCADE,
    user_id    uuid        NOT NULL,
    rating     text        NOT NULL CHECK (rating IN ('positive', 'negative')),
    comment    text        NOT NULL DEFAULT '' CHECK (char_length(comment) <= 1000),
    updated_at timestamptz NOT NULL
);
CREATE INDEX answer_feedback_by_user ON answer_feedback (user_id);
