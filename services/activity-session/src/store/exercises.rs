//! The exercise library's tables: `exercises`, their `exercise_translations` (English always,
//! French when authored) and the `exercise_terms` vocabulary. Catalog data: seeded by the
//! migrations and only read here.

use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::exercise::{Difficulty, Facet, Language};

/// An exercise with its text in the language served: the one asked for, else English.
const SELECT: &str = "
    SELECT e.id, e.slug, e.difficulty, e.goals, e.primary_muscles, e.secondary_muscles,
           e.equipment, e.categories, e.male_media_urls, e.female_media_urls,
           coalesce(loc.language, en.language) AS language,
           coalesce(loc.name, en.name) AS name,
           coalesce(loc.instructions, en.instructions) AS instructions";
const FROM: &str = "
    JOIN exercise_translations en ON en.exercise_id = e.id AND en.language = 'en'
    LEFT JOIN exercise_translations loc ON loc.exercise_id = e.id AND loc.language = $1";
/// The filters, over parameters $2..$6; an absent one matches everything.
const FILTERS: &str = "
    ($2::text IS NULL OR e.difficulty = $2)
    AND ($3::text IS NULL OR e.goals @> ARRAY[$3::text])
    AND ($4::text IS NULL OR e.categories @> ARRAY[$4::text])
    AND (cardinality($5::text[]) = 0 OR e.muscles && $5)
    AND (cardinality($6::text[]) = 0 OR e.equipment && $6)";

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ExerciseRow {
    pub id: Uuid,
    pub slug: String,
    #[sqlx(try_from = "String")]
    pub difficulty: Difficulty,
    pub goals: Vec<String>,
    pub primary_muscles: Vec<String>,
    pub secondary_muscles: Vec<String>,
    pub equipment: Vec<String>,
    pub categories: Vec<String>,
    pub male_media_urls: Vec<String>,
    pub female_media_urls: Vec<String>,
    #[sqlx(try_from = "String")]
    pub language: Language,
    pub name: String,
    pub instructions: Vec<String>,
}

/// A search hit: the exercise and how well it matched.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Hit {
    #[sqlx(flatten)]
    pub exercise: ExerciseRow,
    pub rank: f32,
}

/// What a listing keeps; keys are checked against the vocabulary by the caller.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub difficulty: Option<Difficulty>,
    pub goal: Option<String>,
    pub category: Option<String>,
    /// Any of these muscles, primary or secondary.
    pub muscles: Vec<String>,
    /// Any of these pieces of equipment.
    pub equipment: Vec<String>,
}

/// Up to `limit` exercises by slug after `after`, matching `filter`.
pub async fn list(
    conn: &mut PgConnection,
    language: Language,
    filter: &Filter,
    after: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<ExerciseRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} FROM exercises e {FROM}
         WHERE {FILTERS} AND ($7::text IS NULL OR e.slug > $7)
         ORDER BY e.slug LIMIT $8"
    )))
    .bind(language.as_str())
    .bind(filter.difficulty.map(Difficulty::as_str))
    .bind(filter.goal.as_deref())
    .bind(filter.category.as_deref())
    .bind(&filter.muscles)
    .bind(&filter.equipment)
    .bind(after)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Up to `limit` exercises matching the text search `query` (a `to_tsquery` expression) in
/// `language` and `filter`, best first (rank, then slug), after the cursor `after`.
///
/// An exercise is searched in the text it is served in: its `language` row, or its English row
/// when it has none. Each language's branch matches its own configuration against its own rows,
/// so both use the GIN index on `search`. The page is chosen before the display text is
/// joined: a broad query (a prefix matching thousands of rows) joins translations for the page
/// only, not for every hit.
pub async fn search(
    conn: &mut PgConnection,
    language: Language,
    query: &str,
    filter: &Filter,
    after: Option<(f32, &str)>,
    limit: i64,
) -> sqlx::Result<Vec<Hit>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "WITH hits AS (
             SELECT t.exercise_id, ts_rank(t.search, to_tsquery('stride_french', $9)) AS rank
             FROM exercise_translations t
             WHERE $1 = 'fr' AND t.language = 'fr'
               AND t.search @@ to_tsquery('stride_french', $9)
             UNION ALL
             SELECT t.exercise_id, ts_rank(t.search, to_tsquery('stride_english', $9))
             FROM exercise_translations t
             WHERE t.language = 'en' AND t.search @@ to_tsquery('stride_english', $9)
               AND ($1 = 'en' OR NOT EXISTS (
                   SELECT 1 FROM exercise_translations x
                   WHERE x.exercise_id = t.exercise_id AND x.language = $1))
         ),
         page AS (
             SELECT e.id, h.rank
             FROM hits h JOIN exercises e ON e.id = h.exercise_id
             WHERE {FILTERS}
               AND ($7::real IS NULL OR h.rank < $7 OR (h.rank = $7 AND e.slug > $8))
             ORDER BY h.rank DESC, e.slug LIMIT $10
         )
         {SELECT}, p.rank
         FROM page p JOIN exercises e ON e.id = p.id {FROM}
         ORDER BY p.rank DESC, e.slug"
    )))
    .bind(language.as_str())
    .bind(filter.difficulty.map(Difficulty::as_str))
    .bind(filter.goal.as_deref())
    .bind(filter.category.as_deref())
    .bind(&filter.muscles)
    .bind(&filter.equipment)
    .bind(after.map(|(rank, _)| rank))
    .bind(after.map(|(_, slug)| slug))
    .bind(query)
    .bind(limit)
    .fetch_all(conn)
    .await
}

pub async fn get(
    conn: &mut PgConnection,
    language: Language,
    id: Uuid,
) -> sqlx::Result<Option<ExerciseRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} FROM exercises e {FROM} WHERE e.id = $2"
    )))
    .bind(language.as_str())
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// The exercises of `ids` that exist, by slug.
pub async fn get_many(
    conn: &mut PgConnection,
    language: Language,
    ids: &[Uuid],
) -> sqlx::Result<Vec<ExerciseRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} FROM exercises e {FROM} WHERE e.id = ANY ($2) ORDER BY e.slug"
    )))
    .bind(language.as_str())
    .bind(ids)
    .fetch_all(conn)
    .await
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct TermRow {
    #[sqlx(try_from = "String")]
    pub facet: Facet,
    pub key: String,
    /// In the language asked for, else English.
    pub label: String,
}

/// The vocabulary, by facet and key, labelled in `language`; one facet only when given.
pub async fn terms(
    conn: &mut PgConnection,
    language: Language,
    facet: Option<Facet>,
) -> sqlx::Result<Vec<TermRow>> {
    sqlx::query_as(
        "SELECT en.facet, en.key, coalesce(loc.label, en.label) AS label
         FROM exercise_terms en
         LEFT JOIN exercise_terms loc
           ON loc.facet = en.facet AND loc.key = en.key AND loc.language = $1
         WHERE en.language = 'en' AND ($2::text IS NULL OR en.facet = $2)
         ORDER BY en.facet, en.key",
    )
    .bind(language.as_str())
    .bind(facet.map(Facet::as_str))
    .fetch_all(conn)
    .await
}
