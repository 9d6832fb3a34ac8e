//! `stride-bench chaos`: faults injected into the event path while sessions flow through the
//! gateway, counting for each fault the events lost and counted twice by both consumers.
//!
//! xtask owns the processes; we ask it for a fault by printing one line `@<command>` on stdout
//! and waiting for its answer on stdin (`ok` or `err <why>`). Commands: `kill <svc>` (SIGKILL),
//! `start <svc>` (the same binary, ports and environment again, until ready), `term <svc>`
//! (SIGTERM, wait for the exit), `stop <svc>` / `cont <svc>` (SIGSTOP / SIGCONT),
//! `broker-kill`, `broker-start`, `pg-stop`, `pg-start`, `ready` (every service's /readyz).
//!
//! Each cycle uploads one user's offline session (`SyncSessionEvents`: a start and a completion
//! 61 s later, planned for 60 s, so it counts), laid out one after another in the last day: a live
//! session completed at once never counts (60 s of active time at least), and a consumer adds
//! nothing for a session that does not count, so live cycles would leave nothing to lose or
//! count twice. The upload goes through the same outbox statements as live calls (ADR 0033).
//!
//! The truth is activity-session's database: every completed session that counts and the
//! `session.completed.v1` event in its outbox. A consumer's count is its own effect: analytics'
//! `daily_rollups.sessions_completed` and challenge's rewards record (`reward_activity`, one
//! row per counted focus session), per user, and the event ids in its inbox. Per user, fewer than the
//! truth is lost, more is counted twice.

use std::{
    collections::HashMap,
    io::{BufRead, Write},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{bail, ensure};
use lapin::{BasicProperties, options::BasicPublishOptions, types::FieldTable};
use stride_e2e::Clients;
use stride_proto::activity_session::{
    OfflineSessionEvent, SessionAction, StartSessionRequest, SyncSessionEventsRequest,
};
use stride_testkit::authed;
use tonic::transport::Channel;
use uuid::Uuid;

use crate::User;

const USERS: usize = 96;
const WORKERS: usize = 32;
const EVENT: &str = "session.completed.v1";
/// How long the consumers get to catch up after a fault's load ends.
const SETTLE: Duration = Duration::from_secs(180);

struct Env {
    gw: Vec<Clients<Channel>>,
    activity_db: sqlx::PgPool,
    analytics_db: sqlx::PgPool,
    challenge_db: sqlx::PgPool,
    amqp_url: String,
    mgmt_url: String,
    focus: String,
    users: Arc<Vec<User>>,
    /// Each user's next free slot in their offline timeline (see [`cycle`]), kept across faults.
    slots: Arc<Vec<AtomicU64>>,
    /// Where the timelines begin: a day ago, less an hour of margin.
    epoch: time::OffsetDateTime,
}

/// One fault's figures.
#[derive(Debug, Default, serde::Serialize)]
struct Row {
    fault: String,
    /// Completions acknowledged to the client during the fault's run.
    acked: u64,
    /// Completed sessions in activity-session's database (the truth), cumulative.
    truth: u64,
    /// Calls that failed while the fault was on (the client retried them).
    failed_calls: u64,
    /// Acknowledged completions missing from activity-session's database.
    acked_missing: u64,
    /// Answers INTERNAL or UNKNOWN during the fault: a dependency going away must read as
    /// UNAVAILABLE (retry), never as a bug.
    internal_answers: u64,
    lost_analytics: u64,
    double_analytics: u64,
    lost_challenge: u64,
    double_challenge: u64,
    /// Messages in the two dead-letter queues, cumulative.
    dead_lettered: u64,
    /// Seconds until both consumers had everything after the load stopped.
    settle_secs: f64,
    /// Fault-specific observations.
    notes: Vec<String>,
}

pub async fn run() -> anyhow::Result<()> {
    let db = |v: &'static str| async move {
        anyhow::Ok(
            sqlx::postgres::PgPoolOptions::new()
                .max_connections(2)
                .acquire_timeout(Duration::from_secs(60))
                .connect(&crate::var(v)?)
                .await?,
        )
    };
    let gateway = crate::var("BENCH_GATEWAY_ADDR")?;
    let mut gw = Vec::new();
    for _ in 0..4 {
        gw.push(Clients::over(crate::channel(&gateway).await?));
    }
    let users = crate::sign_up_users(&gw[0], "chaos", USERS).await?;
    let focus = crate::focus_activity(&gw[0], &users[0].token).await?;
    let env = Env {
        gw,
        activity_db: db("BENCH_ACTIVITY_DB").await?,
        analytics_db: db("BENCH_ANALYTICS_DB").await?,
        challenge_db: db("BENCH_CHALLENGE_DB").await?,
        amqp_url: crate::var("BENCH_AMQP_URL")?,
        mgmt_url: crate::var("BENCH_RABBIT_MGMT_URL")?,
        focus,
        slots: Arc::new((0..users.len()).map(|_| AtomicU64::new(0)).collect()),
        users: Arc::new(users),
        epoch: time::OffsetDateTime::now_utc() - time::Duration::hours(23),
    };
    let events: u64 = std::env::var("CHAOS_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let all = [
        "baseline",
        "broker-kill",
        "consumer-kill",
        "producer-kill",
        "duplicates",
        "poison",
        "unroutable",
        "consumer-stall",
        "pg-restart",
        "graceful-restart",
    ];
    let wanted: Vec<String> = match std::env::var("CHAOS_FAULTS") {
        Ok(v) if !v.trim().is_empty() => v.split(',').map(|s| s.trim().to_owned()).collect(),
        _ => all.iter().map(|s| (*s).to_owned()).collect(),
    };
    for w in &wanted {
        ensure!(
            all.contains(&w.as_str()),
            "unknown fault {w:?}; known: {all:?}"
        );
    }
    let mut rows = Vec::new();
    for fault in &wanted {
        println!("\n== {fault}: {events} completions with the fault injected mid-stream ==");
        let row = run_fault(&env, fault, events).await?;
        println!(
            "   acked {} · failed calls {} · lost {}/{} · double {}/{} (analytics/challenge) · dead-lettered {} · settled in {:.1}s {}",
            row.acked,
            row.failed_calls,
            row.lost_analytics,
            row.lost_challenge,
            row.double_analytics,
            row.double_challenge,
            row.dead_lettered,
            row.settle_secs,
            row.notes.join("; ")
        );
        rows.push(row);
    }
    println!(
        "\n{:<17} {:>7} {:>7} {:>8} {:>8} {:>8} {:>8} {:>8} {:>5} {:>8} {:>7}",
        "fault",
        "acked",
        "truth",
        "failed",
        "lost-an",
        "lost-ch",
        "dbl-an",
        "dbl-ch",
        "dlq",
        "internal",
        "settle"
    );
    let mut bad = 0;
    for r in &rows {
        println!(
            "{:<17} {:>7} {:>7} {:>8} {:>8} {:>8} {:>8} {:>8} {:>5} {:>8} {:>6.1}s",
            r.fault,
            r.acked,
            r.truth,
            r.failed_calls,
            r.lost_analytics,
            r.lost_challenge,
            r.double_analytics,
            r.double_challenge,
            r.dead_lettered,
            r.internal_answers,
            r.settle_secs
        );
        bad += r.lost_analytics
            + r.lost_challenge
            + r.double_analytics
            + r.double_challenge
            + r.acked_missing
            + r.internal_answers;
    }
    if let Ok(out) = std::env::var("BENCH_OUT") {
        std::fs::write(&out, serde_json::to_vec_pretty(&rows)?)?;
        println!("(JSON: {out})");
    }
    ensure!(
        bad == 0,
        "events were lost or counted twice, or calls answered INTERNAL (see the table)"
    );
    println!("nothing lost, nothing counted twice");
    Ok(())
}

/// Asks xtask for a fault and waits for it to be done; returns what it answered after `ok`.
fn control(cmd: &str) -> anyhow::Result<String> {
    println!("@{cmd}");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    let answer = answer.trim();
    match answer.strip_prefix("ok") {
        Some(rest) => Ok(rest.trim().to_owned()),
        None => bail!("xtask could not `{cmd}`: {answer}"),
    }
}

async fn control_async(cmd: &str) -> anyhow::Result<String> {
    let cmd = cmd.to_owned();
    tokio::task::spawn_blocking(move || control(&cmd)).await?
}

/// Deliveries a consumer found already in its inbox (its effect committed before a crash, the
/// acknowledgement lost): proof that a kill landed between commit and acknowledgement.
async fn duplicates_seen(svc: &str) -> anyhow::Result<u64> {
    let v = control_async(&format!(
        "metric {svc} stride_events_consumed_total outcome=\"duplicate\""
    ))
    .await?;
    Ok(v.parse().unwrap_or(0))
}

/// The load: WORKERS callers cycling through the users (start, complete), retrying through
/// faults, until told to stop.
struct Load {
    acked: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    codes: Arc<Mutex<HashMap<String, u64>>>,
    acked_ids: Arc<Mutex<Vec<Uuid>>>,
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    fn start(env: &Env) -> Self {
        let acked = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let codes = Arc::new(Mutex::new(HashMap::new()));
        let acked_ids = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let per = env.users.len() / WORKERS;
        let tasks = (0..WORKERS)
            .map(|w| {
                let mut c = env.gw[w % env.gw.len()].sessions.clone();
                let users: Vec<(usize, User)> = (w * per..(w + 1) * per)
                    .map(|i| (i, env.users[i].clone()))
                    .collect();
                let (slots, epoch) = (env.slots.clone(), env.epoch);
                let (acked, failed, ids, stop, codes) = (
                    acked.clone(),
                    failed.clone(),
                    acked_ids.clone(),
                    stop.clone(),
                    codes.clone(),
                );
                let focus = env.focus.clone();
                tokio::spawn(async move {
                    let mut turn = 0usize;
                    while !stop.load(Ordering::Relaxed) {
                        let (i, u) = &users[turn % users.len()];
                        turn += 1;
                        // A failed upload may have committed (its answer lost): the next one
                        // takes the next slot either way, so timelines never overlap.
                        let slot = slots[*i].fetch_add(1, Ordering::Relaxed);
                        let start = epoch + SLOT * (slot as u32);
                        match cycle(&mut c, &u.token, &focus, start).await {
                            Ok(id) => {
                                acked.fetch_add(1, Ordering::Relaxed);
                                if let Ok(mut v) = ids.lock() {
                                    v.push(id);
                                }
                            }
                            Err(status) => {
                                failed.fetch_add(1, Ordering::Relaxed);
                                if let Ok(mut c) = codes.lock() {
                                    *c.entry(format!("{:?}", status.code())).or_default() += 1;
                                }
                                tokio::time::sleep(Duration::from_millis(50)).await;
                            }
                        }
                    }
                })
            })
            .collect();
        Self {
            acked,
            failed,
            codes,
            acked_ids,
            stop,
            tasks,
        }
    }

    fn acked(&self) -> u64 {
        self.acked.load(Ordering::Relaxed)
    }

    /// Waits until `n` completions were acknowledged (or the deadline passes).
    async fn until(&self, n: u64) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(600);
        while self.acked() < n {
            ensure!(
                Instant::now() < deadline,
                "the load stalled at {} of {n} completions",
                self.acked()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }

    async fn finish(self) -> (u64, u64, Vec<Uuid>, String) {
        self.stop.store(true, Ordering::Relaxed);
        let acked = self.acked();
        for t in self.tasks {
            let _ = t.await;
        }
        let ids = self.acked_ids.lock().map(|v| v.clone()).unwrap_or_default();
        let mut codes: Vec<(String, u64)> = self
            .codes
            .lock()
            .map(|c| c.clone().into_iter().collect())
            .unwrap_or_default();
        codes.sort_by_key(|c| std::cmp::Reverse(c.1));
        let codes = codes
            .iter()
            .map(|(c, n)| format!("{c} {n}"))
            .collect::<Vec<_>>()
            .join(", ");
        (
            acked.max(self.acked.load(Ordering::Relaxed)),
            self.failed.load(Ordering::Relaxed),
            ids,
            codes,
        )
    }
}

/// How far apart a user's offline sessions are: one lasts 61 s.
const SLOT: time::Duration = time::Duration::seconds(62);

/// One offline session uploaded, started at `start` and completed 61 s later (planned for 60 s:
/// it counts); the completed session's id.
async fn cycle(
    c: &mut stride_proto::activity_session::session_service_client::SessionServiceClient<Channel>,
    token: &str,
    focus: &str,
    start: time::OffsetDateTime,
) -> Result<Uuid, tonic::Status> {
    let id = Uuid::now_v7();
    let ts = |t: time::OffsetDateTime| Some(stride_kit::convert::timestamp(t));
    let events = vec![
        OfflineSessionEvent {
            event_id: Uuid::now_v7().to_string(),
            session_id: id.to_string(),
            action: SessionAction::Start as i32,
            occur_time: ts(start),
            start: Some(StartSessionRequest {
                activity_id: focus.to_owned(),
                planned_duration: Some(prost_types::Duration {
                    seconds: 60,
                    nanos: 0,
                }),
                ..Default::default()
            }),
        },
        OfflineSessionEvent {
            event_id: Uuid::now_v7().to_string(),
            session_id: id.to_string(),
            action: SessionAction::Complete as i32,
            occur_time: ts(start + time::Duration::seconds(61)),
            start: None,
        },
    ];
    c.sync_session_events(authed(SyncSessionEventsRequest { events }, token))
        .await?;
    Ok(id)
}

async fn run_fault(env: &Env, fault: &str, events: u64) -> anyhow::Result<Row> {
    let mut row = Row {
        fault: fault.to_owned(),
        ..Default::default()
    };
    let at = |pct: u64| events * pct / 100;
    let load = Load::start(env);
    let mut unroutable = None;
    let mut poisoned = None;
    match fault {
        "baseline" => {}
        "broker-kill" => {
            load.until(at(30)).await?;
            control_async("broker-kill").await?;
            tokio::time::sleep(Duration::from_secs(3)).await;
            control_async("broker-start").await?;
        }
        "consumer-kill" => {
            // Batches of up to 64 deliveries: a kill lands before some commits and after
            // others (committed, not yet acknowledged).
            let mut dups = 0;
            for pct in [20, 45, 70, 100] {
                load.until(at(pct)).await?;
                if pct > 20 {
                    // What the process started after the previous kill found in its inbox.
                    dups +=
                        duplicates_seen("analytics").await? + duplicates_seen("challenge").await?;
                }
                if pct == 100 {
                    break;
                }
                for svc in ["analytics", "challenge"] {
                    control_async(&format!("kill {svc}")).await?;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
                for svc in ["analytics", "challenge"] {
                    if pct == 45 {
                        // A SIGKILL from outside lands between commit and ack only by luck:
                        // this time the consumer aborts itself right there, then starts clean.
                        control_async(&format!(
                            "start-with {svc} STRIDE_FAULT_ABORT_AFTER_COMMITS=3"
                        ))
                        .await?;
                        control_async(&format!("wait-exit {svc}")).await?;
                    }
                    control_async(&format!("start {svc}")).await?;
                }
            }
            row.notes.push(format!(
                "2 SIGKILLs and 1 abort right after a commit per consumer; {dups} redeliveries found their effect already committed"
            ));
            ensure!(
                dups > 0,
                "no redelivery found its effect committed: the after-commit crash did not happen"
            );
        }
        "producer-kill" => {
            // Commits in the outbox not yet relayed die with the process; the next one
            // publishes them.
            let mut orphans = 0;
            for pct in [25, 60] {
                load.until(at(pct)).await?;
                let killed_at = db_now(&env.activity_db).await?;
                control_async("kill activity-session").await?;
                control_async("start activity-session").await?;
                // Rows committed before the kill and published only by the next process.
                let n: i64 = sqlx::query_scalar(
                    "SELECT count(*) FROM outbox WHERE created_at < $1 AND published_at >= $1",
                )
                .bind(killed_at)
                .fetch_one(&env.activity_db)
                .await?;
                orphans += n;
            }
            row.notes.push(format!(
                "2 kills; {orphans} events committed before a kill were published by the next process"
            ));
        }
        "duplicates" => {
            load.until(at(50)).await?;
            let n = republish(env, 1_000).await?;
            row.notes.push(format!("{n} published events sent again"));
        }
        "poison" => {
            load.until(at(50)).await?;
            let before = dead_lettered(env).await?;
            let n = poison(env, 5).await?;
            // Each consumer of completions (analytics, challenge) dead-letters its copy.
            poisoned = Some(before + 2 * n as u64);
        }
        "unroutable" => {
            load.until(at(10)).await?;
            let id = Uuid::now_v7();
            sqlx::query(
                "INSERT INTO outbox (id, event_type, payload) VALUES ($1, 'chaos.nobody-listens.v1', '\\x00')",
            )
            .bind(id)
            .execute(&env.activity_db)
            .await?;
            unroutable = Some(id);
        }
        "consumer-stall" => {
            // Past the broker's consumer timeout (set low for this run by xtask): the broker
            // closes the channel and requeues; the stalled consumer must notice and reconnect.
            load.until(at(30)).await?;
            control_async("stop analytics").await?;
            let stall = std::env::var("CHAOS_STALL_SECS")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(25);
            tokio::time::sleep(Duration::from_secs(stall)).await;
            control_async("cont analytics").await?;
            row.notes.push(format!("analytics stopped for {stall}s"));
        }
        "pg-restart" => {
            load.until(at(30)).await?;
            control_async("pg-stop").await?;
            // ADR 0005: readiness stays latched while a dependency is away.
            control_async("ready").await?;
            tokio::time::sleep(Duration::from_secs(3)).await;
            control_async("pg-start").await?;
        }
        "graceful-restart" => {
            // SIGTERM drains in-flight calls and the current batch; calls during the restart
            // fail (one replica) and are retried, none may be half done.
            for (pct, svc) in [
                (25, "activity-session"),
                (50, "analytics"),
                (75, "challenge"),
            ] {
                load.until(at(pct)).await?;
                control_async(&format!("term {svc}")).await?;
                control_async(&format!("start {svc}")).await?;
            }
        }
        other => bail!("unknown fault {other}"),
    }
    let started = load.acked();
    load.until(events.max(started)).await?;
    let (acked, failed, acked_ids, codes) = load.finish().await;
    row.acked = acked;
    row.failed_calls = failed;
    if failed > 0 {
        row.notes.push(format!("failed calls (retried): {codes}"));
    }
    // Codes by their Debug names: "Internal", "Unknown", "Unavailable", …
    row.internal_answers = codes
        .split(", ")
        .filter_map(|c| c.split_once(' '))
        .filter(|(code, _)| matches!(*code, "Internal" | "Unknown"))
        .filter_map(|(_, n)| n.parse::<u64>().ok())
        .sum();

    // Every acknowledged completion is in the producer's database.
    let present: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM sessions WHERE state = 'completed' AND id = ANY($1)",
    )
    .bind(&acked_ids)
    .fetch_one(&env.activity_db)
    .await?;
    row.acked_missing = acked_ids.len() as u64 - present as u64;

    let settle = Instant::now();
    loop {
        let c = count(env).await?;
        row.truth = c.truth_total;
        row.lost_analytics = c.lost_analytics;
        row.lost_challenge = c.lost_challenge;
        row.double_analytics = c.double_analytics;
        row.double_challenge = c.double_challenge;
        if c.lost_analytics == 0 && c.lost_challenge == 0 && c.outbox_pending == 0 {
            break;
        }
        if settle.elapsed() > SETTLE {
            row.notes.push(format!(
                "not settled after {SETTLE:?}: {} events still in the outbox",
                c.outbox_pending
            ));
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    row.settle_secs = settle.elapsed().as_secs_f64();
    row.dead_lettered = dead_lettered(env).await?;
    if let Some(want) = poisoned {
        // The management API's queue figures lag by a second or two.
        let deadline = Instant::now() + Duration::from_secs(30);
        while row.dead_lettered < want && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(500)).await;
            row.dead_lettered = dead_lettered(env).await?;
        }
        if row.dead_lettered == want {
            row.notes
                .push("every poison message reached both dead-letter queues".into());
        } else {
            row.notes.push(format!(
                "DEFECT: {} dead-lettered, {want} expected",
                row.dead_lettered
            ));
            row.acked_missing += 1;
        }
    }
    if let Some(id) = unroutable {
        let sent: Option<Option<time::OffsetDateTime>> =
            sqlx::query_scalar("SELECT published_at FROM outbox WHERE id = $1")
                .bind(id)
                .fetch_optional(&env.activity_db)
                .await?;
        match sent {
            Some(None) => row
                .notes
                .push("the unroutable event is still pending (never marked sent)".into()),
            Some(Some(_)) => {
                row.notes
                    .push("DEFECT: the unroutable event was marked sent".into());
                row.acked_missing += 1;
            }
            None => row
                .notes
                .push("DEFECT: the unroutable event vanished".into()),
        }
        sqlx::query("DELETE FROM outbox WHERE id = $1")
            .bind(id)
            .execute(&env.activity_db)
            .await?;
    }
    Ok(row)
}

async fn db_now(db: &sqlx::PgPool) -> anyhow::Result<time::OffsetDateTime> {
    Ok(sqlx::query_scalar("SELECT now()").fetch_one(db).await?)
}

#[derive(Debug, Default)]
struct Counts {
    truth_total: u64,
    outbox_pending: u64,
    lost_analytics: u64,
    double_analytics: u64,
    lost_challenge: u64,
    double_challenge: u64,
}

async fn per_user(db: &sqlx::PgPool, sql: String) -> anyhow::Result<HashMap<Uuid, i64>> {
    let rows: Vec<(Uuid, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().collect())
}

/// Truth against both consumers, per user; plus the truth's event ids against each inbox.
async fn count(env: &Env) -> anyhow::Result<Counts> {
    let truth = per_user(
        &env.activity_db,
        "SELECT user_id, count(*) FROM sessions WHERE state = 'completed' AND counts GROUP BY user_id"
            .into(),
    )
    .await?;
    let analytics = per_user(
        &env.analytics_db,
        "SELECT user_id, sum(sessions_completed)::bigint FROM daily_rollups GROUP BY user_id"
            .into(),
    )
    .await?;
    // The rewards' record of each counted focus session (not "Focus Three": the offline
    // sessions happened before the users joined it, and a challenge counts only what happened
    // after joining).
    let challenge = per_user(
        &env.challenge_db,
        "SELECT user_id, count(*) FROM reward_activity WHERE kind = 'session:focus' GROUP BY user_id"
            .into(),
    )
    .await?;
    let outbox_pending: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM outbox WHERE published_at IS NULL AND event_type = $1",
    )
    .bind(EVENT)
    .fetch_one(&env.activity_db)
    .await?;
    let mut c = Counts {
        outbox_pending: outbox_pending as u64,
        ..Default::default()
    };
    let diff = |got: &HashMap<Uuid, i64>, lost: &mut u64, double: &mut u64| {
        for (user, &want) in &truth {
            let have = got.get(user).copied().unwrap_or(0);
            *lost += (want - have).max(0) as u64;
            *double += (have - want).max(0) as u64;
        }
        for (user, &have) in got {
            if !truth.contains_key(user) {
                *double += have.max(0) as u64;
            }
        }
    };
    diff(&analytics, &mut c.lost_analytics, &mut c.double_analytics);
    diff(&challenge, &mut c.lost_challenge, &mut c.double_challenge);
    c.truth_total = truth.values().sum::<i64>() as u64;
    Ok(c)
}

async fn dead_lettered(env: &Env) -> anyhow::Result<u64> {
    let url = env.mgmt_url.clone();
    tokio::task::spawn_blocking(move || {
        let mgmt = stride_infra::http::Mgmt::from_url(&url)?;
        let mut n = 0;
        for svc in ["analytics", "challenge"] {
            n += mgmt.queue_messages("/", &format!("{svc}.events.dlq"))?;
        }
        anyhow::Ok(n)
    })
    .await?
}

async fn amqp_channel(env: &Env) -> anyhow::Result<(lapin::Connection, lapin::Channel)> {
    let conn =
        lapin::Connection::connect(&env.amqp_url, lapin::ConnectionProperties::default()).await?;
    let ch = conn.create_channel().await?;
    ch.confirm_select(Default::default()).await?;
    Ok((conn, ch))
}

/// Sends `n` already-published session.completed.v1 events again, exactly as the relay did
/// (same message id, type and payload): a producer that crashed after the broker's confirm but
/// before marking the row would do the same.
async fn republish(env: &Env, n: i64) -> anyhow::Result<usize> {
    let rows: Vec<(Uuid, String, Vec<u8>)> = sqlx::query_as(
        "SELECT id, event_type, payload FROM outbox
         WHERE published_at IS NOT NULL AND event_type = $1 ORDER BY random() LIMIT $2",
    )
    .bind(EVENT)
    .bind(n)
    .fetch_all(&env.activity_db)
    .await?;
    let (conn, ch) = amqp_channel(env).await?;
    for (id, event_type, payload) in &rows {
        let props = BasicProperties::default()
            .with_message_id(id.to_string().into())
            .with_type(event_type.as_str().into())
            .with_app_id("activity-session".into())
            .with_content_type(stride_bus::CONTENT_TYPE.into())
            .with_delivery_mode(2)
            .with_headers(FieldTable::default());
        ch.basic_publish(
            stride_bus::EXCHANGE.into(),
            event_type.as_str().into(),
            BasicPublishOptions {
                mandatory: true,
                ..Default::default()
            },
            payload,
            props,
        )
        .await?
        .await?;
    }
    let _ = conn.close(200, "done".into()).await;
    Ok(rows.len())
}

/// Publishes `n` messages no consumer can decode, typed as completions.
async fn poison(env: &Env, n: usize) -> anyhow::Result<usize> {
    let (conn, ch) = amqp_channel(env).await?;
    for _ in 0..n {
        let props = BasicProperties::default()
            .with_message_id(Uuid::now_v7().to_string().into())
            .with_type(EVENT.into())
            .with_app_id("chaos".into())
            .with_content_type(stride_bus::CONTENT_TYPE.into())
            .with_delivery_mode(2);
        ch.basic_publish(
            stride_bus::EXCHANGE.into(),
            EVENT.into(),
            BasicPublishOptions {
                mandatory: true,
                ..Default::default()
            },
            b"\xff\xff\xff not a protobuf message",
            props,
        )
        .await?
        .await?;
    }
    let _ = conn.close(200, "done".into()).await;
    Ok(n)
}
