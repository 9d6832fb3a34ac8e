//! Workout plan templates: list (featured, difficulty, goal) and get with the schedule grouped
//! by week and day. Public: no token needed.

use stride_kit::{AppResult, Call, Violations, convert::parse_id, pagination::Page};
use stride_proto::activity_session as pb;

use super::{
    ActivitySessions,
    convert::{self, Vocabulary},
    exercises,
};
use crate::{
    domain::{
        exercise::Facet,
        plan_template::{self, Slot},
    },
    errors,
    store::{
        self,
        plan_templates::{PlanExerciseRow, PlanRow},
    },
};

/// Page size when the request says 0.
const DEFAULT_PAGE_SIZE: usize = 20;

/// Templates by slug; the page token is the last slug served.
pub(super) async fn list_workout_plans(
    s: &ActivitySessions,
    call: Call<pb::ListWorkoutPlansRequest>,
) -> AppResult<pb::ListWorkoutPlansResponse> {
    let req = &call.message;
    let mut v = Violations::new();
    let page = Page::<String>::request(&mut v, req.page_size, &req.page_token, DEFAULT_PAGE_SIZE);
    let language = convert::language(&mut v, "language", &req.language);
    let difficulty = convert::from_difficulty(&mut v, "difficulty", req.difficulty);
    let mut conn = s.pool.acquire().await?;
    let vocabulary =
        Vocabulary::new(store::exercises::terms(&mut conn, language, Some(Facet::Goal)).await?);
    let filter = store::plan_templates::Filter {
        featured_only: req.featured,
        difficulty,
        goal: vocabulary.key(&mut v, "goal", Facet::Goal, &req.goal),
    };
    v.check()?;
    let rows = store::plan_templates::list(
        &mut conn,
        language,
        &filter,
        page.after().map(String::as_str),
        page.fetch_limit(),
    )
    .await?;
    let (rows, next_page_token) = page.finish(rows, |r| r.slug.clone());
    Ok(pb::ListWorkoutPlansResponse {
        plans: rows
            .into_iter()
            .map(|r| to_proto(r, &vocabulary, Vec::new()))
            .collect(),
        next_page_token,
    })
}

/// One template with its schedule and every exercise it names; NOT_FOUND when there is none.
pub(super) async fn get_workout_plan(
    s: &ActivitySessions,
    call: Call<pb::GetWorkoutPlanRequest>,
) -> AppResult<pb::GetWorkoutPlanResponse> {
    let req = &call.message;
    let mut v = Violations::new();
    let id = parse_id(&mut v, "plan_id", &req.plan_id);
    let language = convert::language(&mut v, "language", &req.language);
    v.check()?;
    let mut conn = s.pool.acquire().await?;
    let plan = store::plan_templates::get(&mut conn, language, id)
        .await?
        .ok_or_else(errors::no_workout_plan)?;
    let slots = store::plan_templates::schedule(&mut conn, id).await?;
    let mut ids: Vec<_> = slots.iter().map(|s| s.exercise_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let used = store::exercises::get_many(&mut conn, language, &ids).await?;
    let vocabulary = Vocabulary::new(store::exercises::terms(&mut conn, language, None).await?);
    let name_of = |id| {
        used.iter()
            .find(|e| e.id == id)
            .map(|e| e.name.clone())
            .unwrap_or_default()
    };
    let schedule = plan_template::schedule(
        slots
            .into_iter()
            .map(|r| Slot {
                week: r.week,
                day: r.day,
                position: r.position,
                item: plan_exercise(&r, name_of(r.exercise_id)),
            })
            .collect(),
    )
    .into_iter()
    .map(|w| pb::PlanWeek {
        week: w.week.into(),
        days: w
            .days
            .into_iter()
            .map(|d| pb::PlanDay {
                day: d.day.into(),
                exercises: d.items,
            })
            .collect(),
    })
    .collect();
    Ok(pb::GetWorkoutPlanResponse {
        plan: Some(to_proto(plan, &vocabulary, schedule)),
        exercises: used
            .into_iter()
            .map(|e| exercises::to_proto(e, &vocabulary))
            .collect(),
    })
}

fn plan_exercise(r: &PlanExerciseRow, exercise_name: String) -> pb::PlanExercise {
    let target = match (r.reps, r.duration_seconds) {
        (Some(reps), _) => Some(pb::plan_exercise::Target::Reps(reps.into())),
        (None, Some(secs)) => Some(pb::plan_exercise::Target::Duration(convert::seconds(secs))),
        (None, None) => None,
    };
    pb::PlanExercise {
        id: r.id.to_string(),
        position: r.position.into(),
        exercise_id: r.exercise_id.to_string(),
        exercise_name,
        sets: r.sets.into(),
        target,
        rest: Some(convert::seconds(r.rest_seconds)),
    }
}

fn to_proto(r: PlanRow, vocabulary: &Vocabulary, schedule: Vec<pb::PlanWeek>) -> pb::WorkoutPlan {
    pb::WorkoutPlan {
        id: r.id.to_string(),
        slug: r.slug,
        language: r.language.as_str().to_owned(),
        name: r.name,
        description: r.description,
        difficulty: convert::difficulty(r.difficulty) as i32,
        goals: vocabulary.terms(Facet::Goal, &r.goals),
        weeks: r.weeks.into(),
        days_per_week: r.days_per_week.into(),
        featured: r.featured,
        exercise_count: i32::try_from(r.exercise_count).unwrap_or(i32::MAX),
        schedule,
    }
}
