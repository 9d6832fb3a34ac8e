//! The exercise library: list with filters and full-text search, get by id, the vocabulary.
//! Public: no token needed.

use stride_kit::{AppResult, Call, Violations, convert::parse_id, pagination::Page};
use stride_proto::activity_session as pb;

use super::{
    ActivitySessions,
    convert::{self, Vocabulary},
};
use crate::{
    domain::exercise::{self, Facet},
    errors,
    store::{self, exercises::ExerciseRow},
};

/// Page size when the request says 0.
const DEFAULT_PAGE_SIZE: usize = 20;

/// Lists by slug, or by relevance when the request searches. The page token is the last row's
/// (rank, slug); rank is absent for an unsearched listing.
pub(super) async fn list_exercises(
    s: &ActivitySessions,
    call: Call<pb::ListExercisesRequest>,
) -> AppResult<pb::ListExercisesResponse> {
    let req = &call.message;
    let mut v = Violations::new();
    let page = Page::<(Option<f32>, String)>::request(
        &mut v,
        req.page_size,
        &req.page_token,
        DEFAULT_PAGE_SIZE,
    );
    let language = convert::language(&mut v, "language", &req.language);
    let query = exercise::search_query(&req.query).unwrap_or_else(|why| {
        v.add("query", why);
        None
    });
    let difficulty = convert::from_difficulty(&mut v, "difficulty", req.difficulty);
    let mut conn = s.pool.acquire().await?;
    let vocabulary = Vocabulary::new(store::exercises::terms(&mut conn, language, None).await?);
    let filter = store::exercises::Filter {
        difficulty,
        goal: vocabulary.key(&mut v, "goal", Facet::Goal, &req.goal),
        category: vocabulary.key(&mut v, "category", Facet::Category, &req.category),
        muscles: vocabulary.keys(&mut v, "muscles", Facet::Muscle, &req.muscles),
        equipment: vocabulary.keys(&mut v, "equipment", Facet::Equipment, &req.equipment),
    };
    v.check()?;
    let (rows, next_page_token) = match query {
        None => {
            let after = page.after().map(|(_, slug)| slug.as_str());
            let rows =
                store::exercises::list(&mut conn, language, &filter, after, page.fetch_limit())
                    .await?;
            page.finish(rows, |r| (None, r.slug.clone()))
        }
        Some(query) => {
            let after = page
                .after()
                .and_then(|(rank, slug)| rank.map(|r| (r, slug.as_str())));
            let hits = store::exercises::search(
                &mut conn,
                language,
                &query,
                &filter,
                after,
                page.fetch_limit(),
            )
            .await?;
            let (hits, token) = page.finish(hits, |h| (Some(h.rank), h.exercise.slug.clone()));
            (hits.into_iter().map(|h| h.exercise).collect(), token)
        }
    };
    Ok(pb::ListExercisesResponse {
        exercises: rows.into_iter().map(|r| to_proto(r, &vocabulary)).collect(),
        next_page_token,
    })
}

/// One exercise by id; NOT_FOUND when the library has none.
pub(super) async fn get_exercise(
    s: &ActivitySessions,
    call: Call<pb::GetExerciseRequest>,
) -> AppResult<pb::GetExerciseResponse> {
    let req = &call.message;
    let mut v = Violations::new();
    let id = parse_id(&mut v, "exercise_id", &req.exercise_id);
    let language = convert::language(&mut v, "language", &req.language);
    v.check()?;
    let mut conn = s.pool.acquire().await?;
    let row = store::exercises::get(&mut conn, language, id)
        .await?
        .ok_or_else(errors::no_exercise)?;
    let vocabulary = Vocabulary::new(store::exercises::terms(&mut conn, language, None).await?);
    Ok(pb::GetExerciseResponse {
        exercise: Some(to_proto(row, &vocabulary)),
    })
}

/// The vocabulary, labelled in the asked language, optionally one facet.
pub(super) async fn list_exercise_terms(
    s: &ActivitySessions,
    call: Call<pb::ListExerciseTermsRequest>,
) -> AppResult<pb::ListExerciseTermsResponse> {
    let req = &call.message;
    let mut v = Violations::new();
    let language = convert::language(&mut v, "language", &req.language);
    let facet = convert::from_facet(&mut v, "facet", req.facet);
    v.check()?;
    let mut conn = s.pool.acquire().await?;
    let rows = store::exercises::terms(&mut conn, language, facet).await?;
    Ok(pb::ListExerciseTermsResponse {
        terms: rows
            .into_iter()
            .map(|t| pb::ExerciseTerm {
                key: t.key,
                label: t.label,
                facet: convert::facet(t.facet) as i32,
            })
            .collect(),
    })
}

pub(super) fn to_proto(r: ExerciseRow, vocabulary: &Vocabulary) -> pb::Exercise {
    pb::Exercise {
        id: r.id.to_string(),
        slug: r.slug,
        language: r.language.as_str().to_owned(),
        name: r.name,
        instructions: r.instructions,
        difficulty: convert::difficulty(r.difficulty) as i32,
        goals: vocabulary.terms(Facet::Goal, &r.goals),
        primary_muscles: vocabulary.terms(Facet::Muscle, &r.primary_muscles),
        secondary_muscles: vocabulary.terms(Facet::Muscle, &r.secondary_muscles),
        equipment: vocabulary.terms(Facet::Equipment, &r.equipment),
        categories: vocabulary.terms(Facet::Category, &r.categories),
        male_media_urls: r.male_media_urls,
        female_media_urls: r.female_media_urls,
    }
}
