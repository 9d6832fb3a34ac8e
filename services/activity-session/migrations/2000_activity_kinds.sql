-- activity-session (catalog): two more activity kinds, meditation and custom (issue 13), and
-- their presets. Ids stay fixed so every database and every client agrees on them.
ALTER TABLE activities DROP CONSTRAINT IF EXISTS activities_kind_check;
ALTER TABLE activities ADD CONSTRAINT activities_kind_check
    CHECK (kind IN ('focus', 'break', 'workout', 'study', 'meditation', 'custom'));

INSERT INTO activities (id, slug, name, kind, default_seconds, description) VALUES
    ('a0000000-0000-4000-8000-000000000009', 'meditation-10', 'Meditation',        'meditation', 10 * 60, 'A 10-minute guided or silent meditation'),
    ('a0000000-0000-4000-8000-00000000000a', 'breathing-5',   'Breathing exercise', 'meditation',  5 * 60, 'Five minutes of slow, paced breathing'),
    ('a0000000-0000-4000-8000-00000000000b', 'custom-20',     'Custom activity',   'custom',     20 * 60, 'A timed block for anything else you want to track');
