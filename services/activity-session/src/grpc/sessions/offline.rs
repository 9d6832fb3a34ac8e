//! `SyncSessionEvents`: an offline client's batch of session events, applied in order in one
//! transaction (all or nothing), through the same checks and statements as live calls.

use std::collections::HashSet;

use super::*;

/// Most events one offline batch may hold.
const MAX_BATCH: usize = 500;

/// One offline event, shape-checked.
struct Offline {
    event_id: Uuid,
    session_id: Uuid,
    /// None for START.
    action: Option<Action>,
    at: OffsetDateTime,
    start: Option<StartSpec>,
}

/// Adds `events[i]: ` to a refusal's message so the client knows which event failed.
fn at_event(i: usize, e: AppError) -> AppError {
    match e {
        AppError::FailedPrecondition { reason, message } => {
            AppError::precondition(reason, format!("events[{i}]: {message}"))
        }
        other => other,
    }
}

/// Most events with violations one answer lists.
const MAX_BAD_EVENTS_REPORTED: usize = 10;

/// Shape-checks offline event `i`, naming fields `events[i].<field>`.
fn check_offline(
    v: &mut Violations,
    i: usize,
    e: &pb::OfflineSessionEvent,
    now: OffsetDateTime,
) -> Offline {
    let f = |name: &str| format!("events[{i}].{name}");
    let event_id = parse_id(v, &f("event_id"), &e.event_id);
    let session_id = parse_id(v, &f("session_id"), &e.session_id);
    let start = e.action == pb::SessionAction::Start as i32;
    let action = action_of(e.action);
    v.when(
        !start && action.is_none(),
        &f("action"),
        "must be START, PAUSE, RESUME, NEXT, PREVIOUS, COMPLETE, STOP or ABORT",
    );
    // Stored at PostgreSQL's precision: the announcement is built before the write, from
    // exactly what is stored.
    let at = e
        .occur_time
        .as_ref()
        .and_then(from_timestamp)
        .map(stride_kit::clock::db_precision);
    if at.is_none() {
        v.add(
            &f("occur_time"),
            "is required and must be a valid timestamp",
        );
    }
    // Only the skew here (the other checks need the session).
    if let Some(why) = at.and_then(|t| session::implausible_time(t, now, Some(t), None)) {
        v.add(&f("occur_time"), why);
    }
    let spec = match (&e.start, start) {
        (Some(r), true) => Some(check_start(v, &f("start."), r)),
        (None, true) => {
            v.add(&f("start"), "is required for a START event");
            None
        }
        (Some(_), false) => {
            v.add(&f("start"), "must be unset unless the action is START");
            None
        }
        (None, false) => None,
    };
    Offline {
        event_id,
        session_id,
        action,
        at: at.unwrap_or(now),
        start: spec,
    }
}

/// Applies an offline batch in order, all or nothing; event ids already applied are skipped.
pub(in crate::grpc) async fn sync_session_events(
    s: &ActivitySessions,
    call: Call<pb::SyncSessionEventsRequest>,
) -> AppResult<pb::SyncSessionEventsResponse> {
    let caller = call.caller()?;
    let user = caller.user_id;
    let now = s.clock.now_db();
    let req = &call.message;
    if req.events.is_empty() || req.events.len() > MAX_BATCH {
        return Err(AppError::invalid("events", "must hold 1 to 500 events"));
    }
    let mut v = Violations::new();
    let mut bad_events = 0;
    let mut batch = Vec::with_capacity(req.events.len());
    for (i, e) in req.events.iter().enumerate() {
        if bad_events == MAX_BAD_EVENTS_REPORTED {
            // Enough to fix; the rest are checked on the next attempt (keeps the error small).
            break;
        }
        let mut ev = Violations::new();
        let offline = check_offline(&mut ev, i, e, now);
        if let Err(AppError::InvalidArgument(problems)) = ev.check() {
            bad_events += 1;
            for (field, why) in problems {
                v.add(&field, &why);
            }
        }
        batch.push(offline);
    }
    v.check()?;

    let mut tx = s.outbox.begin().await?;
    let (mut applied, mut duplicates) = (0, 0);
    let mut touched: Vec<SessionRow> = Vec::new();
    let mut seen = HashSet::new();
    for (i, e) in batch.iter().enumerate() {
        let field = |name: &str| format!("events[{i}].{name}");
        if !seen.insert(e.event_id)
            || store::sessions::event_seen(&mut tx, user, e.event_id).await?
        {
            duplicates += 1;
            continue;
        }
        let row = match (&e.start, e.action) {
            (Some(spec), _) => {
                if store::sessions::exists(&mut tx, e.session_id).await? {
                    return Err(AppError::invalid(
                        &field("session_id"),
                        "names a session that already exists: START needs a new id",
                    ));
                }
                if let Some(why) = session::implausible_time(e.at, now, None, None) {
                    return Err(AppError::invalid(&field("occur_time"), why));
                }
                if let Some(other) =
                    store::sessions::overlapping(&mut tx, user, e.at, e.session_id).await?
                {
                    return Err(AppError::invalid(
                        &field("occur_time"),
                        &format!("overlaps session {other}"),
                    ));
                }
                if let Some(live) = store::sessions::active(&mut tx, user).await? {
                    return Err(at_event(i, errors::session_already_active(Some(live.id))));
                }
                let origin = Origin {
                    session_id: e.session_id,
                    event_id: e.event_id,
                    at: e.at,
                    offline: true,
                };
                let tz = directory::timezone(&mut tx, user).await?;
                let start = prepare_start(s, &mut tx, (user, tz), &origin, spec, &field("start."))
                    .await
                    .map_err(|err| at_event(i, err))?;
                insert_start(&mut tx, &start, &origin, false)
                    .await
                    .map_err(|err| at_event(i, err))?
                    .ok_or_else(|| at_event(i, errors::session_contended()))?
            }
            (None, Some(action)) => {
                let locked = store::sessions::lock(&mut tx, user, e.session_id)
                    .await?
                    .ok_or_else(errors::no_session)?;
                let row = &locked.row;
                let previous = store::sessions::last_event_time(&mut tx, row.id)
                    .await?
                    .unwrap_or(row.since)
                    .max(row.since);
                if let Some(why) =
                    session::implausible_time(e.at, now, Some(row.started_at), Some(previous))
                {
                    return Err(AppError::invalid(&field("occur_time"), why));
                }
                if matches!(action, Action::Complete | Action::Stop | Action::Abort)
                    && let Some(other) =
                        store::sessions::started_within(&mut tx, user, row.started_at, e.at, row.id)
                            .await?
                {
                    return Err(AppError::invalid(
                        &field("occur_time"),
                        &format!("ends after session {other} started: sessions overlap"),
                    ));
                }
                // Locked: the compare-and-set cannot miss.
                let c = compute(&locked, action, e.at).map_err(|err| at_event(i, err))?;
                store_transition(&mut tx, &locked, &c, action, e.event_id, now, Via::Offline)
                    .await
                    .map_err(|err| at_event(i, err))?
                    .ok_or_else(|| at_event(i, errors::session_contended()))?
            }
            (None, None) => return Err(AppError::invalid(&field("action"), "is required")),
        };
        applied += 1;
        touched.retain(|r| r.id != row.id);
        touched.push(row);
    }
    tx.commit().await?;
    // The statements above wrote their announcements themselves: wake the relay.
    s.outbox.kick();
    Ok(pb::SyncSessionEventsResponse {
        applied,
        duplicates,
        sessions: touched.into_iter().map(|r| to_proto(r, now)).collect(),
    })
}
