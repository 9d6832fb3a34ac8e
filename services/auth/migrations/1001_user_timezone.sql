-- The IANA zone given at sign-up: user.deleted.v1 carries it so consumers can date the deletion
-- on the user's local calendar. Accounts created before this column existed count as UTC.
ALTER TABLE users ADD COLUMN timezone text NOT NULL DEFAULT 'UTC';
