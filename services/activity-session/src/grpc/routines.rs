//! The caller's routines (create, list, get, replace, delete) and the presets everyone may start.

use stride_kit::{
    AppResult, Call, Violations,
    convert::{from_duration, parse_id, require_id, timestamp},
    pagination::Page,
};
use stride_proto::activity_session as pb;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{ActivitySessions, convert};
use crate::{
    domain::routine::{self, Step},
    errors,
    store::{self, routines::RoutineRow},
};

/// Page size when the request says 0.
const DEFAULT_PAGE_SIZE: usize = 20;

/// Checks a routine's name and steps, naming the fields; the steps' activities must exist.
async fn checked(
    s: &ActivitySessions,
    name: &str,
    steps: &[pb::RoutineStep],
    mut v: Violations,
) -> AppResult<(String, Vec<Step>)> {
    if let Some(why) = routine::bad_name(name) {
        v.add("name", why);
    }
    if let Some(why) = routine::bad_step_count(steps.len()) {
        v.add("steps", why);
    }
    let mut out = Vec::with_capacity(steps.len());
    for (i, st) in steps.iter().enumerate().take(*routine::STEPS.end()) {
        let activity_id = parse_id(&mut v, &format!("steps[{i}].activity_id"), &st.activity_id);
        let seconds = match st.duration.as_ref().map(from_duration) {
            None => {
                v.add(&format!("steps[{i}].duration"), "is required");
                0
            }
            Some(d) => {
                if let Some(why) = routine::bad_step_duration(d) {
                    v.add(&format!("steps[{i}].duration"), why);
                }
                i32::try_from(d.whole_seconds()).unwrap_or(0)
            }
        };
        out.push(Step {
            activity_id,
            seconds,
        });
    }
    v.check()?;
    let ids: Vec<Uuid> = out.iter().map(|s| s.activity_id).collect();
    let mut conn = s.pool.acquire().await?;
    let unknown = store::routines::unknown_activities(&mut conn, &ids).await?;
    let mut v = Violations::new();
    for (i, st) in out.iter().enumerate() {
        v.when(
            unknown.contains(&st.activity_id),
            &format!("steps[{i}].activity_id"),
            "names no activity of the catalog",
        );
    }
    v.check()?;
    Ok((name.trim().to_owned(), out))
}

pub(super) async fn create_routine(
    s: &ActivitySessions,
    call: Call<pb::CreateRoutineRequest>,
) -> AppResult<pb::CreateRoutineResponse> {
    let caller = call.caller()?;
    let req = &call.message;
    let (name, steps) = checked(s, &req.name, &req.steps, Violations::new()).await?;
    let mut conn = s.pool.acquire().await?;
    let row =
        store::routines::insert(&mut conn, caller.user_id, &name, &steps, s.clock.now_db()).await?;
    Ok(pb::CreateRoutineResponse {
        routine: Some(to_proto(row)),
    })
}

pub(super) async fn list_routines(
    s: &ActivitySessions,
    call: Call<pb::ListRoutinesRequest>,
) -> AppResult<pb::ListRoutinesResponse> {
    let caller = call.caller()?;
    let req = &call.message;
    let mut v = Violations::new();
    let page = Page::<(OffsetDateTime, Uuid)>::request(
        &mut v,
        req.page_size,
        &req.page_token,
        DEFAULT_PAGE_SIZE,
    );
    v.check()?;
    let mut conn = s.pool.acquire().await?;
    let rows = store::routines::list(
        &mut conn,
        caller.user_id,
        page.after().copied(),
        page.fetch_limit(),
    )
    .await?;
    let (rows, next_page_token) = page.finish(rows, |r| (r.created_at, r.id));
    Ok(pb::ListRoutinesResponse {
        routines: rows.into_iter().map(to_proto).collect(),
        next_page_token,
    })
}

/// A routine of the caller, or a preset (read-only).
pub(super) async fn get_routine(
    s: &ActivitySessions,
    call: Call<pb::GetRoutineRequest>,
) -> AppResult<pb::GetRoutineResponse> {
    let caller = call.caller()?;
    let id = require_id("routine_id", &call.message.routine_id)?;
    if let Some(p) = routine::preset(id) {
        return Ok(pb::GetRoutineResponse {
            routine: Some(preset_proto(p)),
        });
    }
    let mut conn = s.pool.acquire().await?;
    let row = store::routines::get(&mut conn, caller.user_id, id)
        .await?
        .ok_or_else(errors::no_routine)?;
    Ok(pb::GetRoutineResponse {
        routine: Some(to_proto(row)),
    })
}

/// Replaces name and steps. Presets are not the caller's: NOT_FOUND, like any other id.
pub(super) async fn update_routine(
    s: &ActivitySessions,
    call: Call<pb::UpdateRoutineRequest>,
) -> AppResult<pb::UpdateRoutineResponse> {
    let caller = call.caller()?;
    let req = &call.message;
    let mut v = Violations::new();
    let id = parse_id(&mut v, "routine_id", &req.routine_id);
    let (name, steps) = checked(s, &req.name, &req.steps, v).await?;
    let mut conn = s.pool.acquire().await?;
    let row = store::routines::update(
        &mut conn,
        caller.user_id,
        id,
        &name,
        &steps,
        s.clock.now_db(),
    )
    .await?
    .ok_or_else(errors::no_routine)?;
    Ok(pb::UpdateRoutineResponse {
        routine: Some(to_proto(row)),
    })
}

/// Deletes a routine. Sessions that stepped through it keep their copy of its steps.
pub(super) async fn delete_routine(
    s: &ActivitySessions,
    call: Call<pb::DeleteRoutineRequest>,
) -> AppResult<pb::DeleteRoutineResponse> {
    let caller = call.caller()?;
    let id = require_id("routine_id", &call.message.routine_id)?;
    let mut conn = s.pool.acquire().await?;
    if !store::routines::delete(&mut conn, caller.user_id, id).await? {
        return Err(errors::no_routine());
    }
    Ok(pb::DeleteRoutineResponse {})
}

/// The presets; public.
pub(super) async fn list_routine_presets(
    _: &ActivitySessions,
    _: Call<pb::ListRoutinePresetsRequest>,
) -> AppResult<pb::ListRoutinePresetsResponse> {
    Ok(pb::ListRoutinePresetsResponse {
        routines: routine::PRESETS.iter().map(preset_proto).collect(),
    })
}

fn steps_proto(steps: &[Step]) -> Vec<pb::RoutineStep> {
    steps
        .iter()
        .map(|s| pb::RoutineStep {
            activity_id: s.activity_id.to_string(),
            duration: Some(convert::seconds(s.seconds)),
        })
        .collect()
}

fn to_proto(r: RoutineRow) -> pb::Routine {
    pb::Routine {
        id: r.id.to_string(),
        name: r.name,
        total_duration: Some(convert::seconds(routine::total_seconds(&r.steps.0))),
        steps: steps_proto(&r.steps.0),
        preset: false,
        create_time: Some(timestamp(r.created_at)),
        update_time: Some(timestamp(r.updated_at)),
    }
}

fn preset_proto(p: &routine::Preset) -> pb::Routine {
    pb::Routine {
        id: p.id.to_string(),
        name: p.name.to_owned(),
        steps: steps_proto(p.steps),
        total_duration: Some(convert::seconds(routine::total_seconds(p.steps))),
        preset: true,
        create_time: None,
        update_time: None,
    }
}
