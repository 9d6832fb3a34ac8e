-- challenge (issue 14): a rank read sums at most 98 + 31 + 31 rows. standings_above used to sum
-- up to 1,023 standing_counts rows inside the score's band (0.9 ms of the 1M-user board's
-- read, once per distinct score of "me ± 5"); sub-bands of 32 scores inside each band of 1,024
-- cut that to at most 31 sub-band rows and 31 count rows.
CREATE TABLE standing_subbands (
    board text   NOT NULL,
    sub   bigint NOT NULL, -- score >> 5
    n     bigint NOT NULL,
    PRIMARY KEY (board, sub)
);

INSERT INTO standing_subbands (board, sub, n)
SELECT board, score >> 5, sum(n) FROM standing_counts GROUP BY board, score >> 5;

-- Moves one visible line's weight (`step`: +1 or -1) to or from `score` at every level.
CREATE FUNCTION standings_count(b text, score bigint, step bigint) RETURNS void LANGUAGE sql AS $$
    INSERT INTO standing_counts (board, score, n) VALUES (b, score, step)
    ON CONFLICT (board, score) DO UPDATE SET n = standing_counts.n + step;
    INSERT INTO standing_subbands (board, sub, n) VALUES (b, score >> 5, step)
    ON CONFLICT (board, sub) DO UPDATE SET n = standing_subbands.n + step;
    INSERT INTO standing_bands (board, band, n) VALUES (b, score >> 10, step)
    ON CONFLICT (board, band) DO UPDATE SET n = standing_bands.n + step;
$$;

CREATE OR REPLACE FUNCTION standings_add(b text, u uuid, delta bigint, at timestamptz, vis boolean)
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
            PERFORM standings_count(b, old_score, -1);
        END IF;
    END IF;
    IF old_visible THEN
        PERFORM standings_count(b, new_score, 1);
    END IF;
END $$;

CREATE OR REPLACE FUNCTION standings_remove_user(u uuid) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    r record;
    k bigint := 0;
BEGIN
    FOR r IN DELETE FROM standings WHERE user_id = u RETURNING board, score, visible LOOP
        IF r.visible THEN
            PERFORM standings_count(r.board, r.score, -1);
        END IF;
        k := k + 1;
    END LOOP;
    RETURN k;
END $$;

CREATE OR REPLACE FUNCTION standings_set_visible(u uuid, vis boolean) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    r record;
    step bigint := CASE WHEN vis THEN 1 ELSE -1 END;
BEGIN
    FOR r IN UPDATE standings SET visible = vis WHERE user_id = u AND visible <> vis
             RETURNING board, score LOOP
        PERFORM standings_count(r.board, r.score, step);
    END LOOP;
END $$;

-- Visible users on `b` with a score above `s`: the bands above s's band, the sub-bands above
-- s's sub-band inside its band, the scores above s inside its sub-band.
CREATE OR REPLACE FUNCTION standings_above(b text, s bigint) RETURNS bigint LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT sum(n) FROM standing_bands WHERE board = b AND band > s >> 10), 0)::bigint
         + coalesce((SELECT sum(n) FROM standing_subbands
                     WHERE board = b AND sub > s >> 5 AND sub < ((s >> 10) + 1) << 5), 0)::bigint
         + coalesce((SELECT sum(n) FROM standing_counts
                     WHERE board = b AND score > s AND score < ((s >> 5) + 1) << 5), 0)::bigint
$$;
