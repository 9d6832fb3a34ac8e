-- activity-session (catalog): workout plan templates (seed 004), by week and day. Users' own
-- plans (assigned from a template) are another table; templates are catalog data, public.
CREATE TABLE workout_plans (
    id            uuid PRIMARY KEY,
    slug          text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
    difficulty    text NOT NULL CHECK (difficulty IN ('beginner', 'intermediate', 'advanced')),
    goals         text[] NOT NULL DEFAULT '{}',
    weeks         smallint NOT NULL CHECK (weeks BETWEEN 1 AND 52),
    days_per_week smallint NOT NULL CHECK (days_per_week BETWEEN 1 AND 7),
    featured      boolean NOT NULL DEFAULT false
);
CREATE INDEX workout_plans_featured ON workout_plans (slug) WHERE featured;

CREATE TABLE workout_plan_translations (
    plan_id     uuid NOT NULL REFERENCES workout_plans (id) ON DELETE CASCADE,
    language    text NOT NULL CHECK (language IN ('en', 'fr')),
    name        text NOT NULL CHECK (name <> ''),
    description text NOT NULL DEFAULT '',
    PRIMARY KEY (plan_id, language)
);

-- One exercise of one training day: `day` is the training day within the week
-- (1..days_per_week), `position` its order in the day. Either reps or a duration per set.
CREATE TABLE plan_exercises (
    id               uuid PRIMARY KEY,
    plan_id          uuid NOT NULL REFERENCES workout_plans (id) ON DELETE CASCADE,
    week             smallint NOT NULL CHECK (week >= 1),
    day              smallint NOT NULL CHECK (day BETWEEN 1 AND 7),
    position         smallint NOT NULL CHECK (position >= 1),
    exercise_id      uuid NOT NULL REFERENCES exercises (id),
    sets             smallint NOT NULL CHECK (sets BETWEEN 1 AND 20),
    reps             smallint CHECK (reps BETWEEN 1 AND 500),
    duration_seconds integer CHECK (duration_seconds BETWEEN 1 AND 7200),
    rest_seconds     integer NOT NULL CHECK (rest_seconds BETWEEN 0 AND 900),
    CHECK ((reps IS NULL) <> (duration_seconds IS NULL)),
    UNIQUE (plan_id, week, day, position)
);
CREATE INDEX plan_exercises_by_exercise ON plan_exercises (exercise_id);
