//! The exercise library: its seeded content, ListExercises (filters, search in English and
//! French, pages), GetExercise and ListExerciseTerms. Public: every call goes without a token.

use std::collections::HashSet;

use stride_proto::activity_session::{
    Difficulty, Exercise, ExerciseFacet, GetExerciseRequest, ListExerciseTermsRequest,
    ListExercisesRequest,
};
use stride_testkit::bus::assert_invalid;
use time::macros::datetime;
use tonic::Code;
use uuid::Uuid;

use crate::support::{Harness, catalog, start};

async fn list(h: &Harness, req: ListExercisesRequest) -> (Vec<Exercise>, String) {
    let res = catalog(h)
        .list_exercises(req)
        .await
        .expect("list exercises")
        .into_inner();
    (res.exercises, res.next_page_token)
}

/// Every page of `req`, in order.
async fn all(h: &Harness, mut req: ListExercisesRequest) -> Vec<Exercise> {
    let mut out = Vec::new();
    loop {
        let (page, next) = list(h, req.clone()).await;
        assert!(page.len() <= usize::try_from(req.page_size.max(1)).unwrap() || req.page_size == 0);
        out.extend(page);
        if next.is_empty() {
            return out;
        }
        req.page_token = next;
    }
}

fn slugs(exercises: &[Exercise]) -> Vec<&str> {
    exercises.iter().map(|e| e.slug.as_str()).collect()
}

fn keys(terms: &[stride_proto::activity_session::ExerciseTerm]) -> Vec<&str> {
    terms.iter().map(|t| t.key.as_str()).collect()
}

async fn exercise_id(h: &Harness, slug: &str) -> String {
    sqlx::query_scalar::<_, Uuid>("SELECT id FROM exercises WHERE slug = $1")
        .bind(slug)
        .fetch_one(&h.db)
        .await
        .expect("exercise id")
        .to_string()
}

#[tokio::test]
async fn the_library_holds_over_a_hundred_exercises_in_english_and_french() {
    let (h, _probe) = start(datetime!(2026-11-22 10:00 UTC)).await;
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM exercises")
        .fetch_one(&h.db)
        .await
        .unwrap();
    assert!(count >= 100, "{count}");
    // Every exercise has both texts, with a name and at least two steps, and they differ.
    let incomplete: Vec<String> = sqlx::query_scalar(
        "SELECT e.slug FROM exercises e
         LEFT JOIN exercise_translations en ON en.exercise_id = e.id AND en.language = 'en'
         LEFT JOIN exercise_translations fr ON fr.exercise_id = e.id AND fr.language = 'fr'
         WHERE en.name IS NULL OR fr.name IS NULL
            OR cardinality(en.instructions) < 2 OR cardinality(fr.instructions) < 2
            OR en.instructions = fr.instructions
            OR cardinality(e.male_media_urls) = 0 OR cardinality(e.female_media_urls) = 0",
    )
    .fetch_all(&h.db)
    .await
    .unwrap();
    assert!(incomplete.is_empty(), "{incomplete:?}");
    // Every key an exercise names is in the vocabulary, labelled in both languages.
    let unknown: Vec<String> = sqlx::query_scalar(
        "WITH used AS (
             SELECT 'goal' AS facet, unnest(goals) AS key FROM exercises
             UNION SELECT 'muscle', unnest(muscles) FROM exercises
             UNION SELECT 'equipment', unnest(equipment) FROM exercises
             UNION SELECT 'category', unnest(categories) FROM exercises
             UNION SELECT 'goal', unnest(goals) FROM workout_plans)
         SELECT u.facet || ':' || u.key FROM used u
         WHERE (SELECT count(*) FROM exercise_terms t
                WHERE t.facet = u.facet AND t.key = u.key) <> 2",
    )
    .fetch_all(&h.db)
    .await
    .unwrap();
    assert!(unknown.is_empty(), "{unknown:?}");
    h.stop().await;
}

#[tokio::test]
async fn pages_cover_the_library_once_in_slug_order() {
    let (h, _probe) = start(datetime!(2026-11-22 10:00 UTC)).await;
    let every = all(
        &h,
        ListExercisesRequest {
            page_size: 40,
            ..Default::default()
        },
    )
    .await;
    let got = slugs(&every);
    assert!(got.len() >= 100);
    assert_eq!(got.iter().collect::<HashSet<_>>().len(), got.len());
    let mut sorted = got.clone();
    sorted.sort_unstable();
    assert_eq!(got, sorted);

    // The default page is 20, in English, with labelled terms and media.
    let (first, next) = list(&h, ListExercisesRequest::default()).await;
    assert_eq!(first.len(), 20);
    assert!(!next.is_empty());
    let rdl = all(&h, ListExercisesRequest::default())
        .await
        .into_iter()
        .find(|e| e.slug == "romanian-deadlift")
        .expect("romanian deadlift");
    assert_eq!(rdl.language, "en");
    assert_eq!(rdl.name, "Romanian deadlift");
    assert_eq!(rdl.difficulty, Difficulty::Intermediate as i32);
    assert_eq!(keys(&rdl.primary_muscles), ["hamstrings", "glutes"]);
    assert_eq!(rdl.primary_muscles[0].label, "Hamstrings");
    assert_eq!(rdl.primary_muscles[0].facet, ExerciseFacet::Muscle as i32);
    assert_eq!(keys(&rdl.equipment), ["barbell"]);
    assert_eq!(rdl.instructions.len(), 3);
    assert_eq!(
        rdl.male_media_urls,
        ["/media/exercises/romanian-deadlift/male.gif"]
    );
    assert_eq!(
        rdl.female_media_urls,
        ["/media/exercises/romanian-deadlift/female.gif"]
    );
    h.stop().await;
}

#[tokio::test]
async fn filters_keep_only_matching_exercises() {
    let (h, _probe) = start(datetime!(2026-11-22 10:00 UTC)).await;
    let beginner = all(
        &h,
        ListExercisesRequest {
            difficulty: Difficulty::Beginner as i32,
            page_size: 100,
            ..Default::default()
        },
    )
    .await;
    assert!(beginner.len() > 20);
    assert!(
        beginner
            .iter()
            .all(|e| e.difficulty == Difficulty::Beginner as i32)
    );

    // Several muscles: any of them, primary or secondary.
    let arms = all(
        &h,
        ListExercisesRequest {
            muscles: vec!["biceps".into(), "triceps".into()],
            page_size: 100,
            ..Default::default()
        },
    )
    .await;
    let works = |e: &Exercise, m: &str| {
        keys(&e.primary_muscles).contains(&m) || keys(&e.secondary_muscles).contains(&m)
    };
    assert!(
        arms.iter()
            .all(|e| works(e, "biceps") || works(e, "triceps"))
    );
    let arm_slugs = slugs(&arms);
    for s in ["barbell-curl", "triceps-pushdown", "push-up", "pull-up"] {
        assert!(arm_slugs.contains(&s), "{s}: {arm_slugs:?}");
    }
    assert!(!arm_slugs.contains(&"bodyweight-squat"));

    // Several pieces of equipment: any of them; combined with a goal and a difficulty.
    let kb_or_band = all(
        &h,
        ListExercisesRequest {
            equipment: vec!["kettlebell".into(), "resistance_band".into()],
            goal: "strength".into(),
            difficulty: Difficulty::Intermediate as i32,
            ..Default::default()
        },
    )
    .await;
    assert!(!kb_or_band.is_empty());
    for e in &kb_or_band {
        let eq = keys(&e.equipment);
        assert!(
            eq.contains(&"kettlebell") || eq.contains(&"resistance_band"),
            "{eq:?}"
        );
        assert!(keys(&e.goals).contains(&"strength"));
        assert_eq!(e.difficulty, Difficulty::Intermediate as i32);
    }
    assert!(slugs(&kb_or_band).contains(&"kettlebell-swing"));

    let cardio = all(
        &h,
        ListExercisesRequest {
            category: "plyometrics".into(),
            ..Default::default()
        },
    )
    .await;
    assert!(slugs(&cardio).contains(&"box-jump"));
    assert!(
        cardio
            .iter()
            .all(|e| keys(&e.categories).contains(&"plyometrics"))
    );
    h.stop().await;
}

#[tokio::test]
async fn english_search_finds_names_muscles_and_equipment_with_stems_and_prefixes() {
    let (h, _probe) = start(datetime!(2026-11-22 10:00 UTC)).await;
    let search = |q: &str| ListExercisesRequest {
        query: q.into(),
        page_size: 100,
        ..Default::default()
    };
    let bench = all(&h, search("bench press")).await;
    let got = slugs(&bench);
    assert!(got.contains(&"barbell-bench-press"), "{got:?}");
    assert!(got.contains(&"dumbbell-bench-press"), "{got:?}");
    // The name outranks the instructions: a bench press comes first.
    assert!(got[0].ends_with("bench-press"), "{got:?}");

    // Stemming: "squats" finds "squat"; the last word is a prefix: "lun" finds lunges.
    assert!(slugs(&all(&h, search("squats")).await).contains(&"goblet-squat"));
    let lunges = all(&h, search("lun")).await;
    assert!(
        slugs(&lunges).contains(&"reverse-lunge"),
        "{:?}",
        slugs(&lunges)
    );
    // Hyphenated names; muscles and equipment by their labels.
    let push = all(&h, search("push-up")).await;
    let top: Vec<&str> = slugs(&push).into_iter().take(6).collect();
    assert!(top.contains(&"push-up"), "{top:?}");
    assert!(top.iter().all(|s| s.ends_with("push-up")), "{top:?}");
    let hams = all(&h, search("hamstrings")).await;
    assert!(slugs(&hams).contains(&"lying-leg-curl"));
    let kb = all(&h, search("kettlebell")).await;
    assert!(kb.iter().all(|e| {
        keys(&e.equipment).contains(&"kettlebell")
            || e.name.to_lowercase().contains("kettlebell")
            || e.instructions
                .iter()
                .any(|i| i.to_lowercase().contains("kettlebell"))
    }));
    // Filters apply to the hits.
    let kb_beginner = all(
        &h,
        ListExercisesRequest {
            difficulty: Difficulty::Beginner as i32,
            ..search("kettlebell")
        },
    )
    .await;
    assert!(!kb_beginner.is_empty());
    assert!(kb_beginner.len() < kb.len());
    assert!(
        kb_beginner
            .iter()
            .all(|e| e.difficulty == Difficulty::Beginner as i32)
    );
    // Nothing matches: an empty page, no token.
    let (none, next) = list(&h, search("zzzzqqq")).await;
    assert!(none.is_empty() && next.is_empty());
    h.stop().await;
}

#[tokio::test]
async fn french_search_folds_accents_and_serves_french_text() {
    let (h, _probe) = start(datetime!(2026-11-22 10:00 UTC)).await;
    let search = |q: &str| ListExercisesRequest {
        query: q.into(),
        language: "fr".into(),
        page_size: 100,
        ..Default::default()
    };
    // No accents typed, accented names found, in French.
    let dc = all(&h, search("developpe couche")).await;
    assert!(!dc.is_empty());
    let names: Vec<&str> = dc.iter().map(|e| e.name.as_str()).collect();
    assert!(names.contains(&"Développé couché à la barre"), "{names:?}");
    assert!(
        names.contains(&"Développé couché aux haltères"),
        "{names:?}"
    );
    assert!(dc.iter().all(|e| e.language == "fr"));
    // With accents typed, the same hits.
    let accented = all(&h, search("Développé couché")).await;
    assert_eq!(slugs(&accented), slugs(&dc));
    // French stems and prefixes: "elevation" finds "Élévations latérales"; "halt" finds the
    // dumbbell exercises by their equipment's French label ("Haltères").
    assert!(slugs(&all(&h, search("elevation laterale")).await).contains(&"lateral-raise"));
    let halt = all(&h, search("halt")).await;
    assert!(slugs(&halt).contains(&"hammer-curl"), "{:?}", slugs(&halt));
    // A French muscle label: "pectoraux" (muscle) finds push-ups, named "Pompe".
    let pecs = all(&h, search("pectoraux")).await;
    let pompe = pecs.iter().find(|e| e.slug == "push-up").expect("pompe");
    assert_eq!(pompe.name, "Pompe");
    assert_eq!(pompe.primary_muscles[0].label, "Pectoraux");
    assert_eq!(pompe.equipment[0].label, "Poids du corps");
    // "fessiers" (glutes) and "ischio" (prefix of ischio-jambiers).
    assert!(slugs(&all(&h, search("fessiers")).await).contains(&"glute-bridge"));
    assert!(slugs(&all(&h, search("ischio")).await).contains(&"romanian-deadlift"));
    // An English word in a French search finds what is named so in French only.
    assert!(!slugs(&all(&h, search("deadlift")).await).contains(&"romanian-deadlift"));

    // A regional tag is served in its language; an unserved language falls back to English,
    // searched in English.
    let ca = all(
        &h,
        ListExercisesRequest {
            language: "fr-CA".into(),
            ..search("developpe")
        },
    )
    .await;
    assert!(ca.iter().all(|e| e.language == "fr") && !ca.is_empty());
    let de = all(
        &h,
        ListExercisesRequest {
            language: "de".into(),
            ..search("deadlift")
        },
    )
    .await;
    assert!(de.iter().all(|e| e.language == "en"));
    assert!(slugs(&de).contains(&"romanian-deadlift"));
    h.stop().await;
}

#[tokio::test]
async fn search_pages_follow_the_ranking_without_repeats() {
    let (h, _probe) = start(datetime!(2026-11-22 10:00 UTC)).await;
    let req = ListExercisesRequest {
        query: "dumbbell".into(),
        page_size: 3,
        ..Default::default()
    };
    let paged = all(&h, req.clone()).await;
    let whole = all(
        &h,
        ListExercisesRequest {
            page_size: 100,
            ..req
        },
    )
    .await;
    assert!(paged.len() > 6, "{}", paged.len());
    assert_eq!(slugs(&paged), slugs(&whole));
    assert_eq!(
        slugs(&paged).iter().collect::<HashSet<_>>().len(),
        paged.len()
    );
    h.stop().await;
}

#[tokio::test]
async fn bad_filters_are_refused_naming_each_field() {
    let (h, _probe) = start(datetime!(2026-11-22 10:00 UTC)).await;
    let err = catalog(&h)
        .list_exercises(ListExercisesRequest {
            page_size: 101,
            page_token: "nope".into(),
            language: "english!".into(),
            query: "!!!".into(),
            difficulty: 9,
            goal: "fly".into(),
            category: "Cardio".into(),
            muscles: vec!["chest".into(), "wings".into(), String::new()],
            equipment: vec!["dumbbell".into(); 21],
        })
        .await
        .expect_err("bad filters");
    assert_invalid(
        &err,
        &[
            "page_size",
            "page_token",
            "language",
            "query",
            "difficulty",
            "goal",
            "category",
            "muscles[1]",
            "muscles[2]",
            "equipment",
        ],
    );
    let err = catalog(&h)
        .list_exercises(ListExercisesRequest {
            query: "a".repeat(201),
            // A key of another facet is not a muscle.
            muscles: vec!["barbell".into()],
            ..Default::default()
        })
        .await
        .expect_err("long query");
    assert_invalid(&err, &["query", "muscles[0]"]);
    h.stop().await;
}

#[tokio::test]
async fn get_exercise_in_each_language_with_english_as_the_fallback() {
    let (h, _probe) = start(datetime!(2026-11-22 10:00 UTC)).await;
    let id = exercise_id(&h, "bulgarian-split-squat").await;
    let get = |language: &str| GetExerciseRequest {
        exercise_id: id.clone(),
        language: language.into(),
    };
    let en = catalog(&h)
        .get_exercise(get(""))
        .await
        .expect("en")
        .into_inner()
        .exercise
        .unwrap();
    assert_eq!(
        (en.language.as_str(), en.name.as_str()),
        ("en", "Bulgarian split squat")
    );
    assert_eq!(en.id, id);
    let fr = catalog(&h)
        .get_exercise(get("fr"))
        .await
        .expect("fr")
        .into_inner()
        .exercise
        .unwrap();
    assert_eq!(
        (fr.language.as_str(), fr.name.as_str()),
        ("fr", "Fente bulgare")
    );
    assert_eq!(
        fr.equipment
            .iter()
            .map(|t| t.label.as_str())
            .collect::<Vec<_>>(),
        ["Banc", "Haltères"]
    );
    assert!(fr.instructions[0].starts_with("Debout devant un banc"));
    let it = catalog(&h)
        .get_exercise(get("it"))
        .await
        .expect("it")
        .into_inner()
        .exercise
        .unwrap();
    assert_eq!(it.language, "en");
    assert_eq!(it.name, en.name);

    // An exercise without a French text yet is served in English when French is asked for.
    sqlx::query(
        "DELETE FROM exercise_translations WHERE exercise_id = $1::uuid AND language = 'fr'",
    )
    .bind(&id)
    .execute(&h.db)
    .await
    .unwrap();
    let fallback = catalog(&h)
        .get_exercise(get("fr"))
        .await
        .expect("fallback")
        .into_inner()
        .exercise
        .unwrap();
    assert_eq!(
        (fallback.language.as_str(), fallback.name.as_str()),
        ("en", "Bulgarian split squat")
    );
    // ... and a French search reaches it through its English text.
    let (hits, _) = list(
        &h,
        ListExercisesRequest {
            query: "bulgarian".into(),
            language: "fr".into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(slugs(&hits), ["bulgarian-split-squat"]);
    assert_eq!(hits[0].language, "en");

    let err = catalog(&h)
        .get_exercise(GetExerciseRequest {
            exercise_id: Uuid::now_v7().to_string(),
            language: String::new(),
        })
        .await
        .expect_err("unknown");
    assert_eq!(err.code(), Code::NotFound);
    let err = catalog(&h)
        .get_exercise(GetExerciseRequest {
            exercise_id: "push-up".into(),
            language: "??".into(),
        })
        .await
        .expect_err("bad");
    assert_invalid(&err, &["exercise_id", "language"]);
    h.stop().await;
}

#[tokio::test]
async fn terms_are_the_vocabulary_labelled_in_the_asked_language() {
    let (h, _probe) = start(datetime!(2026-11-22 10:00 UTC)).await;
    let muscles = catalog(&h)
        .list_exercise_terms(ListExerciseTermsRequest {
            language: "fr".into(),
            facet: ExerciseFacet::Muscle as i32,
        })
        .await
        .expect("terms")
        .into_inner()
        .terms;
    assert_eq!(muscles.len(), 18);
    assert!(
        muscles
            .iter()
            .all(|t| t.facet == ExerciseFacet::Muscle as i32)
    );
    let hams = muscles.iter().find(|t| t.key == "hamstrings").unwrap();
    assert_eq!(hams.label, "Ischio-jambiers");
    let every = catalog(&h)
        .list_exercise_terms(ListExerciseTermsRequest::default())
        .await
        .expect("all terms")
        .into_inner()
        .terms;
    assert!(
        every
            .iter()
            .any(|t| t.key == "kettlebell" && t.facet == ExerciseFacet::Equipment as i32)
    );
    assert!(
        every
            .iter()
            .any(|t| t.key == "fat_loss" && t.label == "Fat loss")
    );
    let err = catalog(&h)
        .list_exercise_terms(ListExerciseTermsRequest {
            language: String::new(),
            facet: 7,
        })
        .await
        .expect_err("bad facet");
    assert_invalid(&err, &["facet"]);
    h.stop().await;
}
