-- activity-session: sessions no longer carry a foreign key to activities.
--
-- Every session insert made PostgreSQL share-lock the activity row it names (the foreign-key
-- check). Everyone starts the same few preset activities, so concurrent starts piled share locks
-- onto the same rows, and each pile became a MultiXact: the insert cost 0.2 ms of database time
-- and starting sessions was the costliest statement of the session flow (docs/performance.md).
-- The key protected nothing the code does not already: StartSession looks the activity up
-- first (unknown: NOT_FOUND), a session copies the activity's kind, and activities are never
-- deleted (a custom activity that goes away must be archived, so history keeps its name).
ALTER TABLE sessions DROP CONSTRAINT IF EXISTS sessions_activity_id_fkey;
