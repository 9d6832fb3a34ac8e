//! `WorkoutLogService`: the caller's workout logs — log, get, history, edit (field mask),
//! delete. Each change publishes what consumers need to correct their totals.

use sqlx::PgConnection;
use stride_bus::directory;
use stride_kit::{
    AppError, AppResult, Call, Violations,
    convert::{date, from_date, from_duration, local_date, parse_id, require_id, timestamp},
    pagination::Page,
};
use stride_proto::activity_session::{self as pb, workout_log_service_server::WorkoutLogService};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::ActivitySessions;
use crate::{
    domain::{
        plans::Status,
        workouts::{self, Figures, Unit},
    },
    errors,
    events::publish::{self, At},
    store::{
        self,
        workouts::{Filter, LogRow, Target},
    },
};

stride_kit::grpc_handlers! {
    impl WorkoutLogService for ActivitySessions {
        fn log_workout(pb::LogWorkoutRequest) -> pb::LogWorkoutResponse => log_workout;
        fn get_workout_log(pb::GetWorkoutLogRequest) -> pb::GetWorkoutLogResponse => get_workout_log;
        fn list_workout_logs(pb::ListWorkoutLogsRequest) -> pb::ListWorkoutLogsResponse => list_workout_logs;
        fn update_workout_log(pb::UpdateWorkoutLogRequest) -> pb::UpdateWorkoutLogResponse => update_workout_log;
        fn delete_workout_log(pb::DeleteWorkoutLogRequest) -> pb::DeleteWorkoutLogResponse => delete_workout_log;
    }
}

const DEFAULT_PAGE_SIZE: usize = 50;
/// More mask paths than this is no honest update (there are 6 fields).
const MAX_MASK_PATHS: usize = 32;
/// The fields UpdateWorkoutLog may change.
const UPDATABLE: &[&str] = &[
    "date_performed",
    "sets",
    "reps",
    "weight",
    "duration",
    "notes",
];

/// The unit a request asks weights in: kilograms unless it says pounds.
fn answer_unit(v: &mut Violations, raw: i32) -> Unit {
    match pb::WeightUnit::try_from(raw) {
        Ok(pb::WeightUnit::Lb) => Unit::Lb,
        Ok(pb::WeightUnit::Kg | pb::WeightUnit::Unspecified) => Unit::Kg,
        Err(_) => {
            v.add("weight_unit", "must be KG or LB");
            Unit::Kg
        }
    }
}

/// The unit a given weight is in; None when unspecified (refused unless the weight is 0).
fn given_unit(v: &mut Violations, field: &str, raw: i32) -> Option<Unit> {
    match pb::WeightUnit::try_from(raw) {
        Ok(pb::WeightUnit::Kg) => Some(Unit::Kg),
        Ok(pb::WeightUnit::Lb) => Some(Unit::Lb),
        Ok(pb::WeightUnit::Unspecified) => None,
        Err(_) => {
            v.add(field, "must be KG or LB");
            Some(Unit::Kg)
        }
    }
}

/// An optional id: None when empty, a violation when not a UUID.
fn optional_id(v: &mut Violations, field: &str, raw: &str) -> Option<Uuid> {
    (!raw.is_empty()).then(|| parse_id(v, field, raw))
}

/// The weight a log gives, in kilograms (unset: bodyweight, 0).
fn weight_kg(v: &mut Violations, w: Option<&pb::Weight>) -> f64 {
    w.map_or(0.0, |w| {
        let unit = given_unit(v, "workout_log.weight.unit", w.unit);
        workouts::normalise(v, "workout_log.weight", w.value, unit)
    })
}

fn duration_secs(v: &mut Violations, d: Option<&prost_types::Duration>) -> i32 {
    let secs = d.map_or(Some(0), |d| workouts::whole_seconds(from_duration(d)));
    secs.unwrap_or_else(|| {
        v.add(
            "workout_log.duration",
            "must be whole seconds, 0 to 24 hours",
        );
        0
    })
}

fn performed(v: &mut Violations, d: Option<&stride_proto::Date>) -> Date {
    d.and_then(from_date).unwrap_or_else(|| {
        v.add(
            "workout_log.date_performed",
            "is required: a valid calendar date",
        );
        Date::MIN
    })
}

/// The caller's zone and local date now.
async fn today(
    conn: &mut PgConnection,
    user: Uuid,
    now: OffsetDateTime,
) -> sqlx::Result<(String, Date)> {
    let tz = directory::timezone(conn, user).await?;
    let today = local_date(now, &tz);
    Ok((tz, today))
}

/// Logs an exercise performed: of a plan exercise of one of the caller's plans (not removed),
/// or of a library exercise.
async fn log_workout(
    s: &ActivitySessions,
    call: Call<pb::LogWorkoutRequest>,
) -> AppResult<pb::LogWorkoutResponse> {
    let user = call.caller()?.user_id;
    let req = &call.message;
    let log = req
        .workout_log
        .as_ref()
        .ok_or_else(|| AppError::invalid("workout_log", "is required"))?;
    let mut v = Violations::new();
    let unit = answer_unit(&mut v, req.weight_unit);
    let exercise_id = optional_id(&mut v, "workout_log.exercise_id", &log.exercise_id);
    let user_plan_id = optional_id(&mut v, "workout_log.user_plan_id", &log.user_plan_id);
    let plan_exercise_id = optional_id(
        &mut v,
        "workout_log.plan_exercise_id",
        &log.plan_exercise_id,
    );
    v.when(
        user_plan_id.is_some() && log.plan_exercise_id.is_empty(),
        "workout_log.plan_exercise_id",
        "is required with user_plan_id",
    );
    v.when(
        plan_exercise_id.is_some() && log.user_plan_id.is_empty(),
        "workout_log.user_plan_id",
        "is required with plan_exercise_id",
    );
    v.when(
        log.exercise_id.is_empty()
            && log.user_plan_id.is_empty()
            && log.plan_exercise_id.is_empty(),
        "workout_log.exercise_id",
        "is required for an exercise outside a plan",
    );
    let figures = Figures {
        date_performed: performed(&mut v, log.date_performed.as_ref()),
        sets: log.sets,
        reps: log.reps,
        weight_kg: weight_kg(&mut v, log.weight.as_ref()),
        duration_secs: duration_secs(&mut v, log.duration.as_ref()),
        notes: log.notes.clone(),
    };
    let now = s.clock.now_db();
    let mut tx = s.outbox.begin().await?;
    let (tz, today) = today(&mut tx, user, now).await?;
    workouts::check(&mut v, "workout_log", &figures, today);
    v.check()?;

    let target = match (user_plan_id, plan_exercise_id) {
        (Some(up), Some(pe)) => {
            let plan = store::plans::get(&mut tx, user, up)
                .await?
                .ok_or_else(errors::no_user_plan)?;
            if plan.status == Status::Removed {
                return Err(errors::plan_status("log to", plan.status.as_str()));
            }
            let of_plan = store::workouts::plan_exercise(&mut tx, plan.plan_id, pe)
                .await?
                .ok_or_else(errors::no_plan_exercise)?;
            if exercise_id.is_some_and(|e| e != of_plan) {
                return Err(AppError::invalid(
                    "workout_log.exercise_id",
                    "is not the plan exercise's exercise: leave it empty",
                ));
            }
            Target {
                exercise_id: of_plan,
                plan: Some((up, pe)),
            }
        }
        _ => {
            let id = exercise_id.unwrap_or_default();
            if !store::workouts::exercise_exists(&mut tx, id).await? {
                return Err(errors::no_exercise());
            }
            Target {
                exercise_id: id,
                plan: None,
            }
        }
    };
    let row = store::workouts::insert(&mut tx, user, target, &figures, now).await?;
    let at = At {
        now,
        local_date: today,
        timezone: &tz,
    };
    tx.publish(&publish::workout_logged(&row, &at)).await?;
    tx.commit().await?;
    Ok(pb::LogWorkoutResponse {
        workout_log: Some(to_proto(&row, unit)),
    })
}

async fn get_workout_log(
    s: &ActivitySessions,
    call: Call<pb::GetWorkoutLogRequest>,
) -> AppResult<pb::GetWorkoutLogResponse> {
    let user = call.caller()?.user_id;
    let req = &call.message;
    let mut v = Violations::new();
    let id = parse_id(&mut v, "log_id", &req.log_id);
    let unit = answer_unit(&mut v, req.weight_unit);
    v.check()?;
    let mut conn = s.pool.acquire().await?;
    let row = store::workouts::get(&mut conn, user, id, false)
        .await?
        .ok_or_else(errors::no_workout_log)?;
    Ok(pb::GetWorkoutLogResponse {
        workout_log: Some(to_proto(&row, unit)),
    })
}

/// History, newest date first: by date range (inclusive), exercise, plan exercise, user plan.
async fn list_workout_logs(
    s: &ActivitySessions,
    call: Call<pb::ListWorkoutLogsRequest>,
) -> AppResult<pb::ListWorkoutLogsResponse> {
    let user = call.caller()?.user_id;
    let req = &call.message;
    let mut v = Violations::new();
    let unit = answer_unit(&mut v, req.weight_unit);
    let mut day = |field: &str, d: Option<&stride_proto::Date>| {
        d.map(|d| {
            from_date(d).unwrap_or_else(|| {
                v.add(field, "must be a valid calendar date");
                Date::MIN
            })
        })
    };
    let from = day("from", req.from.as_ref());
    let to = day("to", req.to.as_ref());
    v.when(
        matches!((from, to), (Some(f), Some(t)) if f > t),
        "to",
        "must not be before from",
    );
    let filter = Filter {
        from,
        to,
        exercise_id: optional_id(&mut v, "exercise_id", &req.exercise_id),
        plan_exercise_id: optional_id(&mut v, "plan_exercise_id", &req.plan_exercise_id),
        user_plan_id: optional_id(&mut v, "user_plan_id", &req.user_plan_id),
    };
    let page =
        Page::<(Date, Uuid)>::request(&mut v, req.page_size, &req.page_token, DEFAULT_PAGE_SIZE);
    v.check()?;
    let mut conn = s.pool.acquire().await?;
    let rows = store::workouts::list(
        &mut conn,
        user,
        filter,
        page.after().copied(),
        page.fetch_limit(),
    )
    .await?;
    let (rows, next_page_token) = page.finish(rows, |r| (r.date_performed, r.id));
    Ok(pb::ListWorkoutLogsResponse {
        workout_logs: rows.iter().map(|r| to_proto(r, unit)).collect(),
        next_page_token,
    })
}

/// `datePerformed` (a JSON client's mask) and `date_performed` name the same field.
fn snake(path: &str) -> String {
    let mut out = String::with_capacity(path.len() + 4);
    for c in path.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Edits the fields the mask names; publishes the figures before and after.
async fn update_workout_log(
    s: &ActivitySessions,
    call: Call<pb::UpdateWorkoutLogRequest>,
) -> AppResult<pb::UpdateWorkoutLogResponse> {
    let user = call.caller()?.user_id;
    let req = &call.message;
    let mut v = Violations::new();
    let id = parse_id(&mut v, "log_id", &req.log_id);
    let unit = answer_unit(&mut v, req.weight_unit);
    let paths: Vec<String> = req
        .update_mask
        .as_ref()
        .map(|m| m.paths.iter().map(|p| snake(p)).collect())
        .unwrap_or_default();
    if paths.is_empty() {
        v.add(
            "update_mask",
            "name at least one field: date_performed, sets, reps, weight, duration, notes",
        );
    }
    let unknown: Vec<&String> = paths
        .iter()
        .filter(|p| !UPDATABLE.contains(&p.as_str()))
        .collect();
    if paths.len() > MAX_MASK_PATHS {
        v.add("update_mask.paths", "too many paths");
    } else if let Some(first) = unknown.first() {
        // One violation for all of them: a detail per path could outgrow the trailers.
        let shown: String = first.chars().take(64).collect();
        v.add(
            "update_mask.paths",
            &format!(
                "{shown:?}{} cannot be updated; fields: date_performed, sets, reps, weight, duration, notes",
                if unknown.len() > 1 { " (and others)" } else { "" }
            ),
        );
    }
    v.when(
        req.workout_log.is_none() && !paths.is_empty(),
        "workout_log",
        "is required: it holds the new values",
    );
    v.check()?;
    let empty = pb::WorkoutLog::default();
    let new = req.workout_log.as_ref().unwrap_or(&empty);
    let named = |f: &str| paths.iter().any(|p| p == f);

    let now = s.clock.now_db();
    let mut tx = s.outbox.begin().await?;
    let before = store::workouts::get(&mut tx, user, id, true)
        .await?
        .ok_or_else(errors::no_workout_log)?;
    let mut f = before.figures();
    let mut v = Violations::new();
    if named("date_performed") {
        f.date_performed = performed(&mut v, new.date_performed.as_ref());
    }
    if named("sets") {
        f.sets = new.sets;
    }
    if named("reps") {
        f.reps = new.reps;
    }
    if named("weight") {
        f.weight_kg = weight_kg(&mut v, new.weight.as_ref());
    }
    if named("duration") {
        f.duration_secs = duration_secs(&mut v, new.duration.as_ref());
    }
    if named("notes") {
        f.notes.clone_from(&new.notes);
    }
    let (tz, today) = today(&mut tx, user, now).await?;
    workouts::check(&mut v, "workout_log", &f, today);
    v.check()?;
    let after = store::workouts::update(&mut tx, id, &f, now).await?;
    let at = At {
        now,
        local_date: today,
        timezone: &tz,
    };
    tx.publish(&publish::workout_updated(&before, &after, &at))
        .await?;
    tx.commit().await?;
    Ok(pb::UpdateWorkoutLogResponse {
        workout_log: Some(to_proto(&after, unit)),
    })
}

/// Deletes a log; publishes the figures it counted for.
async fn delete_workout_log(
    s: &ActivitySessions,
    call: Call<pb::DeleteWorkoutLogRequest>,
) -> AppResult<pb::DeleteWorkoutLogResponse> {
    let user = call.caller()?.user_id;
    let id = require_id("log_id", &call.message.log_id)?;
    let now = s.clock.now_db();
    let mut tx = s.outbox.begin().await?;
    let row = store::workouts::get(&mut tx, user, id, true)
        .await?
        .ok_or_else(errors::no_workout_log)?;
    store::workouts::delete(&mut tx, id).await?;
    let (tz, today) = today(&mut tx, user, now).await?;
    let at = At {
        now,
        local_date: today,
        timezone: &tz,
    };
    tx.publish(&publish::workout_deleted(&row, &at)).await?;
    tx.commit().await?;
    Ok(pb::DeleteWorkoutLogResponse {})
}

fn weight(kg: f64, unit: Unit) -> pb::Weight {
    pb::Weight {
        value: workouts::from_kg(kg, unit),
        unit: match unit {
            Unit::Kg => pb::WeightUnit::Kg,
            Unit::Lb => pb::WeightUnit::Lb,
        } as i32,
    }
}

fn to_proto(r: &LogRow, unit: Unit) -> pb::WorkoutLog {
    pb::WorkoutLog {
        id: r.id.to_string(),
        exercise_id: r.exercise_id.to_string(),
        user_plan_id: r.user_plan_id.map(|u| u.to_string()).unwrap_or_default(),
        plan_exercise_id: r
            .plan_exercise_id
            .map(|u| u.to_string())
            .unwrap_or_default(),
        date_performed: Some(date(r.date_performed)),
        sets: r.sets,
        reps: r.reps,
        weight: (r.weight_kg > 0.0).then(|| weight(r.weight_kg, unit)),
        duration: Some(super::convert::seconds(r.duration_seconds)),
        notes: r.notes.clone(),
        volume: Some(weight(r.figures().volume_kg(), unit)),
        create_time: Some(timestamp(r.created_at)),
        update_time: Some(timestamp(r.updated_at)),
    }
}

#[cfg(test)]
mod tests {
    use super::snake;

    #[test]
    fn json_mask_paths_name_the_proto_fields() {
        assert_eq!(snake("datePerformed"), "date_performed");
        assert_eq!(snake("date_performed"), "date_performed");
        assert_eq!(snake("sets"), "sets");
    }
}
