-- The complete profile (issue 12): privacy, activation, onboarding, avatar, body and training,
-- practice context, learning preferences, background. Enumerations are stored as the API's enum
-- numbers (stride.profile.v1), which never change; 0 means "not set".
ALTER TABLE profiles
    ADD COLUMN bio                      text        NOT NULL DEFAULT '',
    ADD COLUMN units                    integer     NOT NULL DEFAULT 1,      -- metric
    ADD COLUMN visibility               integer     NOT NULL DEFAULT 1,      -- private
    ADD COLUMN show_on_leaderboards     boolean     NOT NULL DEFAULT true,
    ADD COLUMN activation_state         integer     NOT NULL DEFAULT 1,      -- new
    ADD COLUMN activated_at             timestamptz,
    ADD COLUMN onboarding_steps         integer[]   NOT NULL DEFAULT '{}',
    ADD COLUMN onboarding_completed_at  timestamptz,
    -- At most one of the two: an uploaded image's object key, or a preset's id.
    ADD COLUMN avatar_key               text,
    ADD COLUMN avatar_preset            text,
    ADD COLUMN birth_year               integer     NOT NULL DEFAULT 0,
    ADD COLUMN height_value             double precision,
    ADD COLUMN height_unit              integer,
    ADD COLUMN weight_value             double precision,
    ADD COLUMN weight_unit              integer,
    ADD COLUMN fitness_level            integer     NOT NULL DEFAULT 0,
    ADD COLUMN fitness_goals            text[]      NOT NULL DEFAULT '{}',
    ADD COLUMN workout_style            integer     NOT NULL DEFAULT 0,
    ADD COLUMN daily_activity           integer     NOT NULL DEFAULT 0,
    ADD COLUMN equipment                text[]      NOT NULL DEFAULT '{}',
    ADD COLUMN limitations              text[]      NOT NULL DEFAULT '{}',
    ADD COLUMN preparation_type         integer     NOT NULL DEFAULT 0,
    ADD COLUMN meeting_subtype          text        NOT NULL DEFAULT '',
    ADD COLUMN agenda                   text        NOT NULL DEFAULT '',
    ADD COLUMN tone                     text        NOT NULL DEFAULT 'Professional & Confident',
    ADD COLUMN focus_title              text        NOT NULL DEFAULT '',
    ADD COLUMN focus_tags               text[]      NOT NULL DEFAULT '{}',
    ADD COLUMN focus_agenda_template    text        NOT NULL DEFAULT '',
    ADD COLUMN subjects                 text[]      NOT NULL DEFAULT '{}',
    ADD COLUMN learning_goals           text[]      NOT NULL DEFAULT '{}',
    ADD COLUMN study_preferences        text[]      NOT NULL DEFAULT '{}',
    ADD COLUMN work_start_minute        integer,
    ADD COLUMN work_end_minute          integer,
    ADD COLUMN daily_focus_goal_minutes integer     NOT NULL DEFAULT 480,
    -- The CV as given (emptied by a redaction) and the text its structured copy is built from
    -- (the CV, or its redacted form).
    ADD COLUMN cv_text                  text        NOT NULL DEFAULT '',
    ADD COLUMN background_text          text        NOT NULL DEFAULT '',
    ADD COLUMN background_redacted      boolean     NOT NULL DEFAULT false,
    ADD COLUMN background_updated_at    timestamptz,
    ADD CONSTRAINT profiles_one_avatar CHECK (avatar_key IS NULL OR avatar_preset IS NULL);

-- A practice session activates its user once; replays and later sessions change nothing.
ALTER TABLE profiles ADD COLUMN activated_by uuid;
