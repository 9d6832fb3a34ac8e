-- profile (issue 12): a weekly challenge's ending reminder repeats. When one window's reminder
-- is delivered, or cancelled because the participant completed the window, the next window's
-- is armed from it (same wall time, one week later) until the participant leaves or the
-- challenge ends.
ALTER TABLE reminders ADD COLUMN repeat_weekly boolean NOT NULL DEFAULT false;
