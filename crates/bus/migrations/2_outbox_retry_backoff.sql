-- An event the broker returns (unroutable) or nacks is retried with its own backoff instead of
-- pausing the whole relay: one stuck row must not hold back the events behind it.
ALTER TABLE outbox
    ADD COLUMN attempts        integer NOT NULL DEFAULT 0,
    ADD COLUMN next_attempt_at timestamptz;
