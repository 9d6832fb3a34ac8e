-- The local copy of profile data that consuming services keep from profile.updated.v1
-- (stride_bus::directory). `revision` drops updates that arrive late.
CREATE TABLE user_directory (
    user_id      uuid PRIMARY KEY,
    display_name text   NOT NULL DEFAULT '',
    timezone     text   NOT NULL DEFAULT 'UTC',
    locale       text   NOT NULL DEFAULT '',
    revision     bigint NOT NULL
);
