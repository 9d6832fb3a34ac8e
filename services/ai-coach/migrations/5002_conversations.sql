-- Conversations with the coach. `summary` is the running summary of the turns older than the
-- ones kept verbatim in the model's context (and, once ended, of the whole conversation).
CREATE TABLE conversations (
    id               uuid        PRIMARY KEY,   -- UUIDv7
    user_id          uuid        NOT NULL,
    title            text        NOT NULL DEFAULT '',
    state            text        NOT NULL CHECK (state IN ('active', 'ended')),
    summary          text        NOT NULL DEFAULT '',
    -- Messages folded into `summary` (the oldest ones, in order).
    summarized       integer     NOT NULL DEFAULT 0,
    message_count    integer     NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL,
    last_activity_at timestamptz NOT NULL,
    ended_at         timestamptz
);
CREATE INDEX conversations_by_user ON conversations (user_id, last_activity_at DESC, id DESC);

CREATE TABLE conversation_messages (
    id              uuid        PRIMARY KEY,   -- UUIDv7: ordered within a conversation
    conversation_id uuid        NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    user_id         uuid        NOT NULL,
    role            text        NOT NULL CHECK (role IN ('user', 'coach')),
    text            text        NOT NULL,
    -- Coach messages: the answer row (provenance, tokens) and the tools consulted.
    answer_id       uuid        REFERENCES answers (id) ON DELETE SET NULL,
    tools_used      text[]      NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL
);
CREATE INDEX conversation_messages_by_conversation ON conversation_messages (conversation_id, id);
CREATE INDEX conversation_messages_by_user ON conversation_messages (user_id);
