-- Issue 14 (challenges): typed goals, user challenges with a fixed window of local dates,
-- visibility and caps, windows ("periods") kept and settled, contributions idempotent by cause,
-- and the shutdown reflections behind the stats. docs/challenges.md has the rules.

ALTER TABLE challenges DROP CONSTRAINT challenges_goal_kind_check;
ALTER TABLE challenges ADD CONSTRAINT challenges_goal_kind_check CHECK (goal_kind IN (
    'sessions_completed', 'minutes', 'tasks_completed', 'shutdown_reflections',
    'workouts_logged', 'days_in_a_row', 'routines_completed', 'lessons_completed'));

ALTER TABLE challenges
    ADD COLUMN routine_id        uuid,
    -- NULL for system challenges.
    ADD COLUMN owner_id          uuid,
    ADD COLUMN visibility        text NOT NULL DEFAULT 'public'
        CHECK (visibility IN ('private', 'friends', 'public')),
    -- The window of a one-off challenge in each participant's local dates; NULL when weekly.
    ADD COLUMN starts_on         date,
    ADD COLUMN ends_on           date,
    ADD COLUMN max_participants  integer CHECK (max_participants > 0),
    -- Kept by join and leave (under the challenge's row lock): no count(*) over a big challenge.
    ADD COLUMN participant_count integer NOT NULL DEFAULT 0,
    -- Set when the owner ended it early.
    ADD COLUMN ended_at          timestamptz,
    ADD CONSTRAINT challenges_window_check CHECK (
        (recurrence = 'weekly' AND starts_on IS NULL AND ends_on IS NULL)
        OR (recurrence = 'none' AND starts_on IS NOT NULL AND ends_on >= starts_on)
        OR (recurrence = 'none' AND starts_on IS NULL AND ends_on IS NULL AND owner_id IS NULL));

UPDATE challenges c SET participant_count = (SELECT count(*) FROM participants p WHERE p.challenge_id = c.id);

CREATE INDEX challenges_by_owner ON challenges (owner_id) WHERE owner_id IS NOT NULL;
CREATE INDEX challenges_public ON challenges (id) WHERE visibility = 'public';
-- A few participants, first joined first, without reading all of them.
CREATE INDEX participants_by_join ON participants (challenge_id, joined_at, user_id);

-- Seed 001's weekly system challenges beside Focus Three; fixed ids like it.
INSERT INTO challenges (id, title, description, goal_kind, activity_kind, target, points, recurrence, is_system)
VALUES
    ('c0000000-0000-4000-8000-000000000002', 'Healthy Boundaries',
     'Submit 5 shutdown reflections this week', 'shutdown_reflections', '', 5, 75, 'weekly', true),
    ('c0000000-0000-4000-8000-000000000003', 'Focus Sprint Master',
     'Complete 10 focus sessions this week', 'sessions_completed', 'focus', 10, 75, 'weekly', true),
    ('c0000000-0000-4000-8000-000000000004', 'Break Champion',
     'Take 5 breaks this week', 'sessions_completed', 'break', 5, 75, 'weekly', true);

-- One row per window of a challenge: a weekly challenge gets one per ISO week from the
-- scheduler (an idempotent insert keyed by the period: replicas racing create one), a one-off
-- challenge one at creation. Kept after they end; settled once (final ranks) after
-- `settle_after`, the end of their last local day in the last timezone on Earth.
CREATE TABLE challenge_periods (
    challenge_id      uuid NOT NULL REFERENCES challenges (id),
    window_start      date NOT NULL,
    window_end        date NOT NULL CHECK (window_end >= window_start),
    settle_after      timestamptz NOT NULL,
    settled_at        timestamptz,
    participant_count integer NOT NULL DEFAULT 0,
    completed_count   integer NOT NULL DEFAULT 0,
    PRIMARY KEY (challenge_id, window_start)
);
CREATE INDEX challenge_periods_due ON challenge_periods (settle_after) WHERE settled_at IS NULL;

-- The windows progress was already counted in.
INSERT INTO challenge_periods (challenge_id, window_start, window_end, settle_after)
SELECT DISTINCT p.challenge_id, p.window_start, p.window_start + 6,
       (p.window_start + 7)::timestamp AT TIME ZONE 'UTC' + interval '13 hours'
FROM progress p JOIN challenges c ON c.id = p.challenge_id
WHERE c.recurrence = 'weekly';

-- A participant's final place in a settled window.
ALTER TABLE progress ADD COLUMN final_rank integer;

-- What each counted fact added to a participation, keyed by the fact (its cause): a second
-- delivery of the same fact changes nothing, a correction replaces the amount, a reversal leaves a
-- tombstone (reversed) so a late original cannot count again. `progress.current` is computed from
-- these rows (a sum, or the longest run of days).
CREATE TABLE contributions (
    challenge_id uuid    NOT NULL REFERENCES challenges (id),
    user_id      uuid    NOT NULL,
    cause_id     text    NOT NULL,
    window_start date    NOT NULL,
    local_date   date    NOT NULL,
    amount       integer NOT NULL,
    reversed     boolean NOT NULL DEFAULT false,
    PRIMARY KEY (challenge_id, user_id, cause_id)
);
-- Counts made before contributions existed stand as one contribution per window.
INSERT INTO contributions (challenge_id, user_id, cause_id, window_start, local_date, amount)
SELECT challenge_id, user_id, 'legacy:' || window_start, window_start, window_start, current
FROM progress WHERE current > 0;
CREATE INDEX contributions_by_window ON contributions (challenge_id, user_id, window_start);
CREATE INDEX contributions_by_user ON contributions (user_id);

-- Shutdown reflections (local date and time of day) for GetChallengeStats: streak and average
-- shutdown time. Idempotent by cause like contributions.
CREATE TABLE shutdowns (
    user_id       uuid    NOT NULL,
    cause_id      text    NOT NULL,
    local_date    date    NOT NULL,
    minute_of_day integer NOT NULL CHECK (minute_of_day BETWEEN 0 AND 1439),
    reversed      boolean NOT NULL DEFAULT false,
    PRIMARY KEY (user_id, cause_id)
);
CREATE INDEX shutdowns_by_day ON shutdowns (user_id, local_date);
