-- Issue 10: the security review's fixes.

-- H1: a guest claim waits for its address to be proved. The username and password it asked for
-- apply only when the guest links that email with the code mailed to it.
CREATE TABLE guest_claims (
    user_id       uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    email         text        NOT NULL,
    username      text        NOT NULL,
    password_hash text        NOT NULL,
    created_at    timestamptz NOT NULL
);

-- M2: a rotated token may be replayed once, by the client that rotated it.
ALTER TABLE refresh_tokens
    ADD COLUMN rotated_by  bytea,          -- SHA-256 of the rotating client's address and agent
    ADD COLUMN replayed_at timestamptz;

-- M7: a compromised key is withdrawn at once (no longer published, never signs again).
ALTER TABLE signing_keys ADD COLUMN revoked_at timestamptz;

-- L7: TRUNCATE bypasses row triggers; refuse it too.
CREATE FUNCTION audit_events_no_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only (TRUNCATE refused)';
END $$;
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_no_truncate();
