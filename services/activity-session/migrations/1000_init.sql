-- Preset activity catalog. Ids are fixed so every database (and every client) agrees on them.
CREATE TABLE activities (
    id              uuid PRIMARY KEY,
    slug            text NOT NULL UNIQUE,
    name            text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('focus', 'break', 'workout', 'study')),
    default_seconds integer NOT NULL CHECK (default_seconds > 0),
    description     text NOT NULL DEFAULT ''
);

INSERT INTO activities (id, slug, name, kind, default_seconds, description) VALUES
    ('a0000000-0000-4000-8000-000000000001', 'focus-25',      'Focus',         'focus',   25 * 60, 'A 25-minute pomodoro focus block'),
    ('a0000000-0000-4000-8000-000000000002', 'break-5',       'Short break',   'break',    5 * 60, 'A short pause between focus blocks'),
    ('a0000000-0000-4000-8000-000000000003', 'break-15',      'Long break',    'break',   15 * 60, 'A longer pause after several focus blocks'),
    ('a0000000-0000-4000-8000-000000000004', 'study-45',      'Study session', 'study',   45 * 60, 'A 45-minute study block'),
    ('a0000000-0000-4000-8000-000000000005', 'pushups',       'Push-ups',      'workout', 10 * 60, 'Push-up sets'),
    ('a0000000-0000-4000-8000-000000000006', 'squats',        'Squats',        'workout', 10 * 60, 'Bodyweight squat sets'),
    ('a0000000-0000-4000-8000-000000000007', 'plank',         'Plank',         'workout',  5 * 60, 'Plank holds'),
    ('a0000000-0000-4000-8000-000000000008', 'jumping-jacks', 'Jumping jacks', 'workout',  5 * 60, 'Jumping jack intervals');

CREATE TABLE sessions (
    id               uuid PRIMARY KEY,          -- UUIDv7
    user_id          uuid NOT NULL,
    activity_id      uuid NOT NULL REFERENCES activities (id),
    kind             text NOT NULL,
    state            text NOT NULL CHECK (state IN ('active', 'completed')),
    started_at       timestamptz NOT NULL,
    ended_at         timestamptz,
    planned_seconds  integer NOT NULL,
    duration_seconds integer,
    local_date       date,
    timezone         text
);
-- One active session per user, enforced by the database so concurrent starts cannot race.
CREATE UNIQUE INDEX sessions_one_active ON sessions (user_id) WHERE state = 'active';
CREATE INDEX sessions_by_user ON sessions (user_id, started_at DESC);

-- Each user's IANA timezone, from profile.updated.v1; `revision` drops stale updates.
CREATE TABLE user_timezones (
    user_id  uuid PRIMARY KEY,
    timezone text NOT NULL,
    revision bigint NOT NULL
);
