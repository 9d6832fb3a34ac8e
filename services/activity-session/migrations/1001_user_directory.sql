-- activity-session (sessions' local dates): each user's timezone moves from this service's own
-- `user_timezones` replica to the shared `user_directory` (stride_bus::directory, migration 50),
-- with its revision, so older profile updates are still refused. Display name and locale stay
-- empty until the user's next profile update.
INSERT INTO user_directory (user_id, timezone, revision)
SELECT user_id, timezone, revision FROM user_timezones
ON CONFLICT (user_id) DO NOTHING;

DROP TABLE user_timezones;
