-- activity-session (catalog): the exercise library (seed 004), in English and French.
--
-- Search is PostgreSQL full-text search with one text search configuration per language, each
-- folding accents first (unaccent as a filtering dictionary before the stemmer), so "developpe"
-- finds "Développé couché". The configurations are named and fixed at creation, which makes the
-- two-argument to_tsvector immutable: the search documents are generated columns with GIN indexes.
-- unaccent is a trusted extension (PostgreSQL 13+): a database owner may create it.
CREATE EXTENSION IF NOT EXISTS unaccent;

CREATE TEXT SEARCH CONFIGURATION stride_english (COPY = pg_catalog.english);
ALTER TEXT SEARCH CONFIGURATION stride_english
    ALTER MAPPING FOR hword, hword_part, word WITH unaccent, english_stem;
CREATE TEXT SEARCH CONFIGURATION stride_french (COPY = pg_catalog.french);
ALTER TEXT SEARCH CONFIGURATION stride_french
    ALTER MAPPING FOR asciiword, asciihword, hword_asciipart, hword, hword_part, word
    WITH unaccent, french_stem;

-- The vocabulary of the library's facets: stable keys (what filters name and clients store) and
-- their label per language.
CREATE TABLE exercise_terms (
    facet    text NOT NULL CHECK (facet IN ('muscle', 'equipment', 'goal', 'category')),
    key      text NOT NULL CHECK (key ~ '^[a-z][a-z0-9_]{0,39}$'),
    language text NOT NULL CHECK (language IN ('en', 'fr')),
    label    text NOT NULL CHECK (label <> ''),
    PRIMARY KEY (facet, key, language)
);

CREATE TABLE exercises (
    id                uuid PRIMARY KEY,
    -- Stable key, and the order of unsearched listings.
    slug              text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
    difficulty        text NOT NULL CHECK (difficulty IN ('beginner', 'intermediate', 'advanced')),
    -- Keys of exercise_terms, by facet.
    goals             text[] NOT NULL DEFAULT '{}',
    primary_muscles   text[] NOT NULL CHECK (cardinality(primary_muscles) > 0),
    secondary_muscles text[] NOT NULL DEFAULT '{}',
    equipment         text[] NOT NULL CHECK (cardinality(equipment) > 0),
    categories        text[] NOT NULL DEFAULT '{}',
    -- Every muscle worked: what the muscle filter matches.
    muscles           text[] GENERATED ALWAYS AS (primary_muscles || secondary_muscles) STORED,
    -- Demonstration media, as URL paths on the media origin (the front ends' CDN).
    male_media_urls   text[] NOT NULL DEFAULT '{}',
    female_media_urls text[] NOT NULL DEFAULT '{}'
);
CREATE INDEX exercises_by_difficulty ON exercises (difficulty, slug);
CREATE INDEX exercises_by_goal ON exercises USING gin (goals);
CREATE INDEX exercises_by_muscle ON exercises USING gin (muscles);
CREATE INDEX exercises_by_equipment ON exercises USING gin (equipment);
CREATE INDEX exercises_by_category ON exercises USING gin (categories);

-- An exercise's text per language. Every exercise has its English row (the fallback); French
-- rows are served when asked for. `terms` holds the labels of its muscles and equipment in the
-- row's language, so a search for "pectoraux" or "haltères" finds the exercises that use them.
CREATE TABLE exercise_translations (
    exercise_id  uuid NOT NULL REFERENCES exercises (id) ON DELETE CASCADE,
    language     text NOT NULL CHECK (language IN ('en', 'fr')),
    name         text NOT NULL CHECK (name <> ''),
    description  text NOT NULL DEFAULT '',
    instructions text[] NOT NULL DEFAULT '{}',
    terms        text NOT NULL DEFAULT '',
    search       tsvector GENERATED ALWAYS AS (
        CASE language
            WHEN 'fr' THEN
                setweight(to_tsvector('stride_french'::regconfig, name), 'A')
                || setweight(to_tsvector('stride_french'::regconfig, terms), 'B')
                || setweight(to_tsvector('stride_french'::regconfig, description), 'C')
            ELSE
                setweight(to_tsvector('stride_english'::regconfig, name), 'A')
                || setweight(to_tsvector('stride_english'::regconfig, terms), 'B')
                || setweight(to_tsvector('stride_english'::regconfig, description), 'C')
        END
    ) STORED,
    PRIMARY KEY (exercise_id, language)
);
CREATE INDEX exercise_translations_search ON exercise_translations USING gin (search);
