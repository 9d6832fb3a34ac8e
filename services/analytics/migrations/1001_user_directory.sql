-- analytics: the shared user directory (stride_bus::directory, kept from profile.updated.v1)
-- replaces user_timezones. Its two kinds of rows part ways:
--  - profile zones (revision >= 0) move to user_directory with their revision, so a late, older
--    profile update still loses; '' (a profile without a usable zone) becomes 'UTC', what the
--    directory stores for it. Display name and locale were never kept here: they stay empty
--    until the user's next profile revision.
--  - zones taken from session events (revision -1) become timezone_hints, still ordered by the
--    session's end (observed_at): the latest session's zone stands in until a profile zone
--    arrives.
CREATE TABLE timezone_hints (
    user_id     uuid        PRIMARY KEY,
    timezone    text        NOT NULL,
    observed_at timestamptz NOT NULL
);

INSERT INTO user_directory (user_id, timezone, revision)
SELECT user_id, COALESCE(NULLIF(timezone, ''), 'UTC'), revision
FROM user_timezones WHERE revision >= 0
ON CONFLICT (user_id) DO NOTHING;

INSERT INTO timezone_hints (user_id, timezone, observed_at)
SELECT user_id, timezone, observed_at
FROM user_timezones WHERE revision < 0
ON CONFLICT (user_id) DO NOTHING;

DROP TABLE user_timezones;
