-- Rewards (issue 14): the points ledger keyed by cause, the XP ledger, the activity read model
-- achievements are judged on, unlocked achievements, leaderboard standings and friends.
-- Rules: docs/rewards.md.

-- The points ledger becomes append-only by cause: any award has a unique (user, cause) key
-- ("challenge:<id>:<window_start>", "achievement:<id>"), and the local date it was earned on
-- (which week and month boards it counts toward).
ALTER TABLE points_ledger
    ALTER COLUMN challenge_id DROP NOT NULL,
    ALTER COLUMN window_start DROP NOT NULL,
    ADD COLUMN cause text,
    ADD COLUMN reason text NOT NULL DEFAULT 'challenge',
    ADD COLUMN local_date date;
UPDATE points_ledger p
SET cause = 'challenge:' || p.challenge_id || ':' || p.window_start,
    local_date = (p.created_at AT TIME ZONE coalesce(
        (SELECT d.timezone FROM user_directory d WHERE d.user_id = p.user_id), 'UTC'))::date;
ALTER TABLE points_ledger
    ALTER COLUMN cause SET NOT NULL,
    ALTER COLUMN local_date SET NOT NULL,
    ADD CONSTRAINT points_ledger_cause UNIQUE (user_id, cause);
-- History pages newest first.
CREATE INDEX points_ledger_history ON points_ledger (user_id, created_at DESC, id DESC);

-- XP, append-only by cause like points.
CREATE TABLE xp_ledger (
    id         uuid PRIMARY KEY,
    user_id    uuid NOT NULL,
    cause      text NOT NULL,
    reason     text NOT NULL,
    -- Negative only for an `undo:<cause>` entry (a reversal takes the XP back).
    xp         integer NOT NULL CHECK (xp >= 0 OR cause LIKE 'undo:%'),
    local_date date NOT NULL,
    created_at timestamptz NOT NULL,
    CONSTRAINT xp_ledger_cause UNIQUE (user_id, cause)
);

-- What a user did that rewards look at, one row per cause (a session id, a task id, ...): an
-- event delivered twice or a cause reported twice counts once; a reversal deletes its row.
-- Achievement counters and streaks are aggregates of a user's rows.
CREATE TABLE reward_activity (
    user_id    uuid NOT NULL,
    cause      text NOT NULL,
    kind       text NOT NULL,
    amount     bigint NOT NULL DEFAULT 0,
    local_date date NOT NULL,
    PRIMARY KEY (user_id, cause)
);
CREATE INDEX reward_activity_days ON reward_activity (user_id, local_date DESC);

CREATE TABLE user_achievements (
    user_id     uuid NOT NULL,
    achievement text NOT NULL,
    unlocked_at timestamptz NOT NULL,
    local_date  date NOT NULL,
    PRIMARY KEY (user_id, achievement)
);

-- Leaderboard standings: one row per board and user. A board is a text key:
-- "<metric>:all", "<metric>:week:<monday>", "<metric>:month:<first day>" (metric points or xp,
-- periods in the user's local dates) or "challenge:<id>:<window_start>" (progress count).
-- Order on a board: score desc, reached_at asc (who got there first), user_id asc.
CREATE TABLE standings (
    board      text NOT NULL,
    user_id    uuid NOT NULL,
    score      bigint NOT NULL,
    reached_at timestamptz NOT NULL,
    -- False while the user opted out of public boards: kept (a friends board and their own
    -- rank still read it) but out of the counts and the public order.
    visible    boolean NOT NULL DEFAULT true,
    PRIMARY KEY (board, user_id)
);
CREATE INDEX standings_order ON standings (board, score DESC, reached_at, user_id) WHERE visible;
CREATE INDEX standings_by_user ON standings (user_id);

-- Visible users per score (rank = 1 + users with a higher score), and per band of 1024 scores
-- so that sum is over at most (scores in my band) + (bands above me) rows, never over users.
CREATE TABLE standing_counts (
    board text NOT NULL,
    score bigint NOT NULL,
    n     bigint NOT NULL,
    PRIMARY KEY (board, score)
);
CREATE TABLE standing_bands (
    board text NOT NULL,
    band  bigint NOT NULL,
    n     bigint NOT NULL,
    PRIMARY KEY (board, band)
);

-- Adds `delta` to `u`'s score on `b` as of `at`, keeping the counts. One round trip per board.
CREATE FUNCTION standings_add(b text, u uuid, delta bigint, at timestamptz, vis boolean)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    old_score bigint;
    old_visible boolean;
    new_score bigint;
BEGIN
    SELECT score, visible INTO old_score, old_visible FROM standings
    WHERE board = b AND user_id = u FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO standings (board, user_id, score, reached_at, visible) VALUES (b, u, delta, at, vis);
        new_score := delta;
        old_visible := vis;
    ELSE
        new_score := old_score + delta;
        UPDATE standings SET score = new_score, reached_at = greatest(reached_at, at)
        WHERE board = b AND user_id = u;
        IF old_visible THEN
            UPDATE standing_counts SET n = n - 1 WHERE board = b AND score = old_score;
            UPDATE standing_bands SET n = n - 1 WHERE board = b AND band = old_score >> 10;
        END IF;
    END IF;
    IF old_visible THEN
        INSERT INTO standing_counts (board, score, n) VALUES (b, new_score, 1)
        ON CONFLICT (board, score) DO UPDATE SET n = standing_counts.n + 1;
        INSERT INTO standing_bands (board, band, n) VALUES (b, new_score >> 10, 1)
        ON CONFLICT (board, band) DO UPDATE SET n = standing_bands.n + 1;
    END IF;
END $$;

-- Removes `u` from every board (purge, or before a rebuild), keeping the counts.
CREATE FUNCTION standings_remove_user(u uuid) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    r record;
    k bigint := 0;
BEGIN
    FOR r IN DELETE FROM standings WHERE user_id = u RETURNING board, score, visible LOOP
        IF r.visible THEN
            UPDATE standing_counts SET n = n - 1 WHERE board = r.board AND score = r.score;
            UPDATE standing_bands SET n = n - 1 WHERE board = r.board AND band = r.score >> 10;
        END IF;
        k := k + 1;
    END LOOP;
    RETURN k;
END $$;

-- Shows or hides `u` on every public board (profile's show_on_leaderboards).
CREATE FUNCTION standings_set_visible(u uuid, vis boolean) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    r record;
    step bigint := CASE WHEN vis THEN 1 ELSE -1 END;
BEGIN
    FOR r IN UPDATE standings SET visible = vis WHERE user_id = u AND visible <> vis
             RETURNING board, score LOOP
        INSERT INTO standing_counts (board, score, n) VALUES (r.board, r.score, step)
        ON CONFLICT (board, score) DO UPDATE SET n = standing_counts.n + step;
        INSERT INTO standing_bands (board, band, n) VALUES (r.board, r.score >> 10, step)
        ON CONFLICT (board, band) DO UPDATE SET n = standing_bands.n + step;
    END LOOP;
END $$;

-- Visible users on `b` with a score above `s`: at most 1024 count rows plus one row per band
-- above, whatever the number of users.
CREATE FUNCTION standings_above(b text, s bigint) RETURNS bigint LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT sum(n) FROM standing_bands WHERE board = b AND band > s >> 10), 0)::bigint
         + coalesce((SELECT sum(n) FROM standing_counts
                     WHERE board = b AND score > s AND score < ((s >> 10) + 1) << 10), 0)::bigint
$$;

-- Boards for the points already paid.
SELECT standings_add(b.board, b.user_id, b.points, b.reached, true)
FROM (
    SELECT 'points:all' AS board, user_id, sum(points)::bigint AS points, max(created_at) AS reached
    FROM points_ledger GROUP BY user_id
    UNION ALL
    SELECT 'points:week:' || date_trunc('week', local_date)::date, user_id, sum(points), max(created_at)
    FROM points_ledger GROUP BY 1, user_id
    UNION ALL
    SELECT 'points:month:' || date_trunc('month', local_date)::date, user_id, sum(points), max(created_at)
    FROM points_ledger GROUP BY 1, user_id
) b;

-- Users who opted out of public leaderboards (profile.updated.v1 show_on_leaderboards false).
CREATE TABLE board_opt_outs (
    user_id uuid PRIMARY KEY
);

-- Friends: a pending request, then two rows per friendship (one per side).
CREATE TABLE friend_requests (
    id         uuid PRIMARY KEY,
    from_user  uuid NOT NULL,
    to_user    uuid NOT NULL,
    created_at timestamptz NOT NULL,
    CONSTRAINT friend_requests_pair UNIQUE (from_user, to_user)
);
CREATE INDEX friend_requests_to ON friend_requests (to_user, created_at, id);
CREATE INDEX friend_requests_from_at ON friend_requests (from_user, created_at, id);

CREATE TABLE friendships (
    user_id   uuid NOT NULL,
    friend_id uuid NOT NULL,
    since     timestamptz NOT NULL,
    PRIMARY KEY (user_id, friend_id)
);
CREATE INDEX friendships_by_friend ON friendships (friend_id);

CREATE TABLE blocks (
    blocker    uuid NOT NULL,
    blocked    uuid NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (blocker, blocked)
);
CREATE INDEX blocks_by_blocked ON blocks (blocked);
