-- analytics (issue 15): the figures counted before event_log existed. They have no events to
-- replay, so `stride-analytics rebuild` starts from them instead of from nothing (then replays
-- the log on top). Rows only for days counted before this migration; like every user table,
-- exported, purged on user.deleted.v1 and added up into the target on user.merged.v1.
CREATE TABLE rollup_baseline (
    user_id            uuid    NOT NULL,
    local_date         date    NOT NULL,
    sessions_completed integer NOT NULL,
    focus_sessions     integer NOT NULL,
    total_seconds      bigint  NOT NULL,
    points             integer NOT NULL,
    PRIMARY KEY (user_id, local_date)
);

INSERT INTO rollup_baseline (user_id, local_date, sessions_completed, focus_sessions, total_seconds, points)
SELECT user_id, local_date, sessions_completed, focus_sessions, total_seconds, points
FROM daily_rollups
WHERE NOT EXISTS (SELECT 1 FROM event_log);
