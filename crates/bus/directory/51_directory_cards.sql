-- The public card other services show beside a name (challenge participants): the avatar URL and
-- who may see the profile ("private", "friends", "public"; '' until a revision carrying it).
ALTER TABLE user_directory
    ADD COLUMN avatar_url         text NOT NULL DEFAULT '',
    ADD COLUMN profile_visibility text NOT NULL DEFAULT '';
