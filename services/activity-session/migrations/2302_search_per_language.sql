-- activity-session (issue 13): one GIN index per language. Every search branch filters on one
-- language, and with a single index over both the planner estimated the language filter alone
-- as the cheaper path and rechecked every English row (a prefix search over a 10,000-exercise
-- library: 28 ms; with these: 7 ms, the rest being ts_rank over the hits).
DROP INDEX exercise_translations_search;
CREATE INDEX exercise_translations_search_en ON exercise_translations USING gin (search) WHERE language = 'en';
CREATE INDEX exercise_translations_search_fr ON exercise_translations USING gin (search) WHERE language = 'fr';
