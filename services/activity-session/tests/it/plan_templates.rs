//! Workout plan templates: ListWorkoutPlans (featured, filters, pages) and GetWorkoutPlan (the
//! schedule by week and day). Public: every call goes without a token.

use std::collections::HashSet;

use stride_kit::convert::from_duration;
use stride_proto::activity_session::{
    Difficulty, GetWorkoutPlanRequest, ListWorkoutPlansRequest, WorkoutPlan, plan_exercise::Target,
};
use stride_testkit::bus::assert_invalid;
use time::macros::datetime;
use tonic::Code;
use uuid::Uuid;

use crate::support::{Harness, catalog, start};

async fn plans(h: &Harness, req: ListWorkoutPlansRequest) -> Vec<WorkoutPlan> {
    let mut req = req;
    let mut out = Vec::new();
    loop {
        let res = catalog(h)
            .list_workout_plans(req.clone())
            .await
            .expect("list plans")
            .into_inner();
        out.extend(res.plans);
        if res.next_page_token.is_empty() {
            return out;
        }
        req.page_token = res.next_page_token;
    }
}

fn slugs(p: &[WorkoutPlan]) -> Vec<&str> {
    p.iter().map(|p| p.slug.as_str()).collect()
}

#[tokio::test]
async fn templates_list_by_slug_with_featured_and_filters() {
    let (h, _probe) = start(datetime!(2026-11-22 10:00 UTC)).await;
    let every = plans(
        &h,
        ListWorkoutPlansRequest {
            page_size: 2,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        slugs(&every),
        [
            "beginner-full-body",
            "core-and-mobility",
            "dumbbell-upper-lower",
            "hiit-fat-burn",
            "home-bodyweight-starter"
        ]
    );
    assert!(
        every
            .iter()
            .all(|p| p.schedule.is_empty() && p.language == "en")
    );
    let full = &every[0];
    assert_eq!(full.name, "Beginner full body");
    assert_eq!((full.weeks, full.days_per_week), (4, 3));
    assert!(full.featured);
    assert_eq!(full.exercise_count, 15);
    assert_eq!(full.difficulty, Difficulty::Beginner as i32);

    let featured = plans(
        &h,
        ListWorkoutPlansRequest {
            featured: true,
            language: "fr".into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        slugs(&featured),
        [
            "beginner-full-body",
            "core-and-mobility",
            "home-bodyweight-starter"
        ]
    );
    assert!(featured.iter().all(|p| p.featured && p.language == "fr"));
    assert_eq!(featured[1].name, "Gainage et mobilité");
    assert_eq!(featured[1].goals[0].label, "Mobilité");

    let fat_loss = plans(
        &h,
        ListWorkoutPlansRequest {
            goal: "fat_loss".into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        slugs(&fat_loss),
        ["hiit-fat-burn", "home-bodyweight-starter"]
    );
    let intermediate = plans(
        &h,
        ListWorkoutPlansRequest {
            difficulty: Difficulty::Intermediate as i32,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        slugs(&intermediate),
        ["dumbbell-upper-lower", "hiit-fat-burn"]
    );

    let err = catalog(&h)
        .list_workout_plans(ListWorkoutPlansRequest {
            page_size: -1,
            language: "1".into(),
            difficulty: 4,
            goal: "chest".into(),
            ..Default::default()
        })
        .await
        .expect_err("bad filters");
    assert_invalid(&err, &["page_size", "language", "difficulty", "goal"]);
    h.stop().await;
}

#[tokio::test]
async fn a_template_comes_grouped_by_week_and_day_with_its_exercises() {
    let (h, _probe) = start(datetime!(2026-11-22 10:00 UTC)).await;
    let id: Uuid =
        sqlx::query_scalar("SELECT id FROM workout_plans WHERE slug = 'beginner-full-body'")
            .fetch_one(&h.db)
            .await
            .unwrap();
    let res = catalog(&h)
        .get_workout_plan(GetWorkoutPlanRequest {
            plan_id: id.to_string(),
            language: "fr".into(),
        })
        .await
        .expect("plan")
        .into_inner();
    let plan = res.plan.expect("plan");
    assert_eq!(plan.name, "Full body débutant");
    assert_eq!(
        plan.schedule.iter().map(|w| w.week).collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );
    for w in &plan.schedule {
        assert_eq!(w.days.iter().map(|d| d.day).collect::<Vec<_>>(), [1, 2, 3]);
        for d in &w.days {
            assert_eq!(
                d.exercises.iter().map(|e| e.position).collect::<Vec<_>>(),
                (1..=i32::try_from(d.exercises.len()).unwrap()).collect::<Vec<_>>()
            );
        }
    }
    let w1d1 = &plan.schedule[0].days[0].exercises;
    assert_eq!(w1d1[0].exercise_name, "Squat gobelet");
    assert_eq!((w1d1[0].sets, w1d1[0].target), (3, Some(Target::Reps(10))));
    assert_eq!(
        w1d1[0].rest.as_ref().map(from_duration),
        Some(time::Duration::seconds(90))
    );
    // The plank is held for a time, not counted in reps.
    let plank = &w1d1[4];
    assert_eq!(plank.exercise_name, "Planche");
    assert!(
        matches!(&plank.target, Some(Target::Duration(d)) if from_duration(d) == time::Duration::seconds(20))
    );
    // The progression is written out: a set more from week 3.
    assert_eq!(plan.schedule[2].days[0].exercises[0].sets, 4);

    // Every exercise the schedule names is in the list, once, in French.
    let named: HashSet<&str> = plan
        .schedule
        .iter()
        .flat_map(|w| &w.days)
        .flat_map(|d| &d.exercises)
        .map(|e| e.exercise_id.as_str())
        .collect();
    let listed: Vec<&str> = res.exercises.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(listed.len(), named.len());
    assert_eq!(listed.iter().copied().collect::<HashSet<_>>(), named);
    assert_eq!(i32::try_from(named.len()).unwrap(), plan.exercise_count);
    assert!(res.exercises.iter().all(|e| e.language == "fr"));

    let err = catalog(&h)
        .get_workout_plan(GetWorkoutPlanRequest {
            plan_id: Uuid::now_v7().to_string(),
            language: String::new(),
        })
        .await
        .expect_err("unknown");
    assert_eq!(err.code(), Code::NotFound);
    let err = catalog(&h)
        .get_workout_plan(GetWorkoutPlanRequest {
            plan_id: "beginner-full-body".into(),
            language: String::new(),
        })
        .await
        .expect_err("slug is not an id");
    assert_invalid(&err, &["plan_id"]);
    h.stop().await;
}
