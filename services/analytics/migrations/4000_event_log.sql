-- analytics (issue 15): the append-only log of every consumed event that feeds a projection.
-- Every projection is a function of this log: `stride-analytics rebuild` empties them and
-- replays it (docs/analytics.md). One row per event id (a redelivery is absorbed); user_id is
-- the owner now (a merge moves a guest's rows to the target, so a rebuild after the merge
-- agrees with the live figures), which may differ from the id inside the payload.
CREATE TABLE event_log (
    seq         bigint      GENERATED ALWAYS AS IDENTITY,
    event_id    uuid        NOT NULL,
    event_type  text        NOT NULL,
    user_id     uuid        NOT NULL,
    -- The producer's instant for the fact (end_time, occur_time, submit_time… per type); the
    -- receive time when the event carries none.
    occurred_at timestamptz NOT NULL,
    -- The producer's local date of the fact (NULL when the event carries none).
    local_date  date,
    received_at timestamptz NOT NULL,
    payload     bytea       NOT NULL,
    CONSTRAINT event_log_pkey PRIMARY KEY (event_id)
);
CREATE UNIQUE INDEX event_log_seq ON event_log (seq);
CREATE INDEX event_log_user ON event_log (user_id, seq);
-- The day's sessions (daily focus summary).
CREATE INDEX event_log_day ON event_log (user_id, event_type, local_date);
