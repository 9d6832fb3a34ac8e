-- analytics (issue 15): the longest run per user and kind by index, so the summary's streak read
-- is a few index probes whatever the length of the user's history (store::rollups::all_runs).
CREATE INDEX active_runs_longest ON active_runs (user_id, kind, (last_date - first_date) DESC, first_date);
