-- Transactional outbox: events are written here in the same transaction as the state change
-- and published by the relay, which marks them only after the broker confirms.
CREATE TABLE outbox (
    id           uuid PRIMARY KEY,              -- event id (UUIDv7), becomes AMQP message_id
    event_type   text        NOT NULL,          -- routing key, e.g. session.completed.v1
    payload      bytea       NOT NULL,          -- protobuf message from stride.events.v1
    traceparent  text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX outbox_pending ON outbox (id) WHERE published_at IS NULL;

-- Inbox: ids of consumed events, recorded in the same transaction as their effect, so a
-- redelivered event changes nothing.
CREATE TABLE inbox (
    event_id    uuid PRIMARY KEY,
    event_type  text        NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
