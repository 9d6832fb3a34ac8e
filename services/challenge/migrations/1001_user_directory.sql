-- challenge: display names and timezones now live in the shared user directory
-- (stride_bus::directory, table user_directory, created by migration 50). Keep what the old
-- replica knew, then drop it.
INSERT INTO user_directory (user_id, display_name, timezone, revision)
SELECT user_id, display_name, timezone, revision FROM users
ON CONFLICT (user_id) DO NOTHING;

DROP TABLE users;
