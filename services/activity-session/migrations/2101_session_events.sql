-- activity-session: every session's event log. Offline clients send their own event ids: the
-- primary key makes a replayed event a no-op (SyncSessionEvents is idempotent).
CREATE TABLE session_events (
    user_id    uuid NOT NULL,
    event_id   uuid NOT NULL,
    session_id uuid NOT NULL,
    action     text NOT NULL CHECK (action IN ('start', 'pause', 'resume', 'next', 'previous',
                                               'complete', 'stop', 'abort')),
    -- When it happened (the client's time for offline events), and when the server applied it.
    occur_time timestamptz NOT NULL,
    applied_at timestamptz NOT NULL,
    -- 'live' (an RPC) or 'offline' (SyncSessionEvents).
    source     text NOT NULL CHECK (source IN ('live', 'offline')),
    PRIMARY KEY (user_id, event_id)
);
CREATE INDEX session_events_by_session ON session_events (session_id, occur_time);
