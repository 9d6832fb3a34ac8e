-- A password sign-up with email confirmation on stays pending until the mailed code comes back:
-- it cannot sign in, nothing is announced (user.registered.v1 waits for the confirmation), and it
-- is swept after a day if never confirmed.
ALTER TABLE users ADD COLUMN pending_confirmation boolean NOT NULL DEFAULT false;
CREATE INDEX users_pending ON users (created_at) WHERE pending_confirmation;
