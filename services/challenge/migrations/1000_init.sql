CREATE TABLE challenges (
    id            uuid PRIMARY KEY,
    title         text NOT NULL,
    description   text NOT NULL DEFAULT '',
    goal_kind     text NOT NULL CHECK (goal_kind IN ('sessions_completed')),
    activity_kind text NOT NULL,               -- "focus", "break", "workout", "study"
    target        integer NOT NULL CHECK (target > 0),
    points        integer NOT NULL CHECK (points >= 0),
    recurrence    text NOT NULL CHECK (recurrence IN ('none', 'weekly')),
    is_system     boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- The system challenge; its id is fixed so every database and client agrees on it.
INSERT INTO challenges (id, title, description, goal_kind, activity_kind, target, points, recurrence, is_system)
VALUES ('c0000000-0000-4000-8000-000000000001', 'Focus Three', 'Complete 3 focus sessions this week',
        'sessions_completed', 'focus', 3, 50, 'weekly', true);

CREATE TABLE participants (
    challenge_id uuid NOT NULL REFERENCES challenges (id),
    user_id      uuid NOT NULL,
    joined_at    timestamptz NOT NULL,
    PRIMARY KEY (challenge_id, user_id)
);
CREATE INDEX participants_by_user ON participants (user_id);

-- Progress per window; window_start is the Monday of the ISO week of the event's local date
-- (a fixed date for non-recurring challenges).
CREATE TABLE progress (
    challenge_id uuid NOT NULL REFERENCES challenges (id),
    user_id      uuid NOT NULL,
    window_start date NOT NULL,
    current      integer NOT NULL DEFAULT 0,
    completed_at timestamptz,
    PRIMARY KEY (challenge_id, user_id, window_start)
);

-- Points awarded; the unique key makes a window pay out at most once.
CREATE TABLE points_ledger (
    id           uuid PRIMARY KEY,
    user_id      uuid NOT NULL,
    challenge_id uuid NOT NULL REFERENCES challenges (id),
    window_start date NOT NULL,
    points       integer NOT NULL,
    -- When the points were earned (the completing session's end), which orders leaderboard ties.
    created_at   timestamptz NOT NULL,
    UNIQUE (challenge_id, user_id, window_start)
);
CREATE INDEX points_ledger_by_user ON points_ledger (user_id);

-- Display names and timezones from profile.updated.v1; `revision` drops stale updates.
CREATE TABLE users (
    user_id      uuid PRIMARY KEY,
    display_name text NOT NULL DEFAULT '',
    timezone     text NOT NULL DEFAULT 'UTC',
    revision     bigint NOT NULL
);
