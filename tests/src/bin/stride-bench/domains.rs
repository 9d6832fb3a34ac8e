//! The domain phases of `stride-bench run`, each against a baseline measured in the same run:
//!
//! - `catalog`: exercise search (full text, first page) over a library grown to 10,000
//!   exercises, against `GetMyProfile` through the same gateway, both at the idle rate (p50/p99)
//!   and saturated (calls/s).
//! - `leaderboard`: top 10 + my rank + five either side of me on an all-time board of
//!   1,000,000 participants, against `GetMyProfile` the same way.
//! - `sync`: offline session events ingested through the gateway (`SyncSessionEvents`, 40
//!   events a call: ten sessions of start, pause, resume, complete), in events/s against
//!   `GetMyProfile` calls/s; then how fast challenge and analytics apply the completions.
//!
//! The data is written straight into the services' databases (the bench owns them), the way
//! the history of the summary phase is.

use std::{
    sync::{
        Arc,
        atomic::{AtomicI64, Ordering},
    },
    time::{Duration, Instant},
};

use serde::Serialize;
use stride_e2e::Clients;
use stride_kit::convert::timestamp;
use stride_proto::{
    activity_session::{
        ListExercisesRequest, OfflineSessionEvent, SessionAction, StartSessionRequest,
        SyncSessionEventsRequest,
    },
    challenge::{GetLeaderboardRequest, LeaderboardMetric, LeaderboardPeriod},
    profile::GetMyProfileRequest,
};
use stride_testkit::authed;
use tonic::transport::Channel;

use crate::{User, load};

/// Exercises in the grown library (the seeded 121 copied until at least this many).
const EXERCISES: i64 = 10_000;
/// Participants on the benchmarked board (plus the bench users).
const PARTICIPANTS: i64 = 1_000_000;
/// Sessions per SyncSessionEvents call (four events each).
const SESSIONS_PER_BATCH: usize = 10;
/// Seconds between two sessions of a timeline.
const SESSION_SPACING_SECS: i64 = 120;
/// The idle rate of the latency comparison, as the mesh's idle phases.
const IDLE_RATE: f64 = 50.0;

/// One domain call against its baseline, both measured in this run.
#[derive(Debug, Default, Serialize)]
pub struct Versus {
    pub name: &'static str,
    pub idle_p50_ms: f64,
    pub idle_p99_ms: f64,
    pub baseline_idle_p50_ms: f64,
    pub baseline_idle_p99_ms: f64,
    pub saturated_per_s: f64,
    pub baseline_saturated_per_s: f64,
    pub failed: u64,
}

impl Versus {
    fn print(&self, unit: &str) {
        println!(
            "  {:<40} idle p50 {:>6.2} ms  p99 {:>6.2} ms   (GetMyProfile p50 {:.2} ms, p99 {:.2} ms: p99 ratio {:.2})",
            self.name,
            self.idle_p50_ms,
            self.idle_p99_ms,
            self.baseline_idle_p50_ms,
            self.baseline_idle_p99_ms,
            self.idle_p99_ms / self.baseline_idle_p99_ms.max(1e-3)
        );
        println!(
            "  {:<40} saturated {:>8.0} {unit}/s   (GetMyProfile {:.0}/s: ratio {:.2}){}",
            "",
            self.saturated_per_s,
            self.baseline_saturated_per_s,
            self.saturated_per_s / self.baseline_saturated_per_s.max(1e-3),
            if self.failed > 0 {
                format!("  {} calls failed", self.failed)
            } else {
                String::new()
            }
        );
    }
}

pub struct Ctx<'a> {
    pub gw: Arc<Vec<Clients<Channel>>>,
    pub users: Arc<Vec<User>>,
    pub activity_db: &'a sqlx::PgPool,
    pub challenge_db: &'a sqlx::PgPool,
    pub concurrency: usize,
    pub phase: Duration,
}

impl Ctx<'_> {
    /// `GetMyProfile` through the gateway: idle p50/p99 and saturated calls/s.
    async fn baseline(&self) -> (f64, f64, f64) {
        let (g, u) = (self.gw.clone(), self.users.clone());
        let idle = load::open(IDLE_RATE, Duration::from_secs(4), move |k| {
            let mut c = g[k as usize % g.len()].profile.clone();
            let t = u[k as usize % u.len()].token.clone();
            async move {
                c.get_my_profile(authed(GetMyProfileRequest {}, &t))
                    .await
                    .is_ok()
            }
        })
        .await;
        let (g, u) = (self.gw.clone(), self.users.clone());
        let sat = load::closed(self.concurrency, self.phase, move |i| {
            let mut c = g[i % g.len()].profile.clone();
            let t = u[i % u.len()].token.clone();
            async move {
                c.get_my_profile(authed(GetMyProfileRequest {}, &t))
                    .await
                    .is_ok()
            }
        })
        .await;
        (idle.p_ms(0.5), idle.p_ms(0.99), sat.rate())
    }

    /// Measures `call(caller or call index)` idle and saturated, then the baseline.
    async fn versus<F, Fut>(&self, name: &'static str, call: F) -> Versus
    where
        F: Fn(usize) -> Fut + Clone + Send + Sync + 'static,
        Fut: std::future::Future<Output = bool> + Send + 'static,
    {
        let c = call.clone();
        let idle = load::open(IDLE_RATE, Duration::from_secs(4), move |k| c(k as usize)).await;
        let sat = load::closed(self.concurrency, self.phase, call).await;
        let (b50, b99, brate) = self.baseline().await;
        Versus {
            name,
            idle_p50_ms: idle.p_ms(0.5),
            idle_p99_ms: idle.p_ms(0.99),
            baseline_idle_p50_ms: b50,
            baseline_idle_p99_ms: b99,
            saturated_per_s: sat.rate(),
            baseline_saturated_per_s: brate,
            failed: idle.failed + sat.failed,
        }
    }
}

/// Grows the exercise library to EXERCISES (copies of the seeded ones under new slugs and
/// numbered names, in both languages), then searches it.
pub async fn catalog(ctx: &Ctx<'_>) -> anyhow::Result<Versus> {
    let t = Instant::now();
    let (seeded,): (i64,) = sqlx::query_as("SELECT count(*) FROM exercises")
        .fetch_one(ctx.activity_db)
        .await?;
    let copies = (EXERCISES - seeded).max(0) / seeded.max(1) + 1;
    sqlx::query(
        "INSERT INTO exercises (id, slug, difficulty, goals, primary_muscles, secondary_muscles,
                                equipment, categories, male_media_urls, female_media_urls)
         SELECT gen_random_uuid(), e.slug || '-copy' || g, e.difficulty, e.goals, e.primary_muscles,
                e.secondary_muscles, e.equipment, e.categories, e.male_media_urls, e.female_media_urls
         FROM exercises e, generate_series(1, $1::int) g
         WHERE e.slug !~ '-copy[0-9]+$'
         ON CONFLICT (slug) DO NOTHING",
    )
    .bind(copies as i32)
    .execute(ctx.activity_db)
    .await?;
    sqlx::query(
        "INSERT INTO exercise_translations (exercise_id, language, name, instructions, terms)
         SELECT n.id, t.language, t.name || ' ' || substring(n.slug FROM '-copy([0-9]+)$'),
                t.instructions, t.terms
         FROM exercises n
         JOIN exercises o ON o.slug = regexp_replace(n.slug, '-copy[0-9]+$', '')
         JOIN exercise_translations t ON t.exercise_id = o.id
         WHERE n.slug ~ '-copy[0-9]+$'
         ON CONFLICT DO NOTHING",
    )
    .execute(ctx.activity_db)
    .await?;
    sqlx::query("ANALYZE exercises")
        .execute(ctx.activity_db)
        .await?;
    sqlx::query("ANALYZE exercise_translations")
        .execute(ctx.activity_db)
        .await?;
    let (total,): (i64,) = sqlx::query_as("SELECT count(*) FROM exercises")
        .fetch_one(ctx.activity_db)
        .await?;
    println!(
        "  library: {total} exercises ({:.1} s to write)",
        t.elapsed().as_secs_f64()
    );
    // Queries as the apps send them: a word, two words, a prefix being typed, French accents.
    const QUERIES: [(&str, &str); 4] = [
        ("en", "bench press"),
        ("en", "squat"),
        ("en", "shoul"),
        ("fr", "developpe couche"),
    ];
    let g = ctx.gw.clone();
    let v = ctx
        .versus("ListExercises search (10k) via gateway", move |i| {
            let mut c = g[i % g.len()].catalog.clone();
            let (language, query) = QUERIES[i % QUERIES.len()];
            async move {
                c.list_exercises(ListExercisesRequest {
                    page_size: 20,
                    language: language.into(),
                    query: query.into(),
                    ..Default::default()
                })
                .await
                .is_ok_and(|r| !r.into_inner().exercises.is_empty())
            }
        })
        .await;
    v.print("searches");
    Ok(v)
}

/// Writes PARTICIPANTS standings on the all-time points board (the bench users among them,
/// spread over the scores), with the per-score and per-band counts the service keeps, then
/// asks for the top 10, my rank and five either side.
pub async fn leaderboard(ctx: &Ctx<'_>) -> anyhow::Result<Versus> {
    const BOARD: &str = "points:all";
    let t = Instant::now();
    let ids: Vec<uuid::Uuid> = ctx.users.iter().filter_map(|u| u.id.parse().ok()).collect();
    sqlx::query(
        "INSERT INTO standings (board, user_id, score, reached_at, visible)
         SELECT $1, gen_random_uuid(), (random() * 100000)::bigint,
                now() - random() * interval '365 days', true
         FROM generate_series(1, $2::bigint)",
    )
    .bind(BOARD)
    .bind(PARTICIPANTS)
    .execute(ctx.challenge_db)
    .await?;
    sqlx::query(
        "INSERT INTO standings (board, user_id, score, reached_at, visible)
         SELECT $1, u, (random() * 100000)::bigint, now(), true FROM unnest($2::uuid[]) u
         ON CONFLICT (board, user_id) DO UPDATE SET score = excluded.score",
    )
    .bind(BOARD)
    .bind(&ids)
    .execute(ctx.challenge_db)
    .await?;
    for sql in [
        "DELETE FROM standing_counts WHERE board = $1",
        "DELETE FROM standing_bands WHERE board = $1",
        "DELETE FROM standing_subbands WHERE board = $1",
        "INSERT INTO standing_counts (board, score, n)
         SELECT board, score, count(*) FROM standings WHERE board = $1 AND visible GROUP BY board, score",
        "INSERT INTO standing_subbands (board, sub, n)
         SELECT board, score >> 5, count(*) FROM standings WHERE board = $1 AND visible
         GROUP BY board, score >> 5",
        "INSERT INTO standing_bands (board, band, n)
         SELECT board, score >> 10, count(*) FROM standings WHERE board = $1 AND visible
         GROUP BY board, score >> 10",
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(BOARD)
            .execute(ctx.challenge_db)
            .await?;
    }
    // A fixture, not the workload: vacuumed and checkpointed now, so its million rows' first
    // vacuum and checkpoint do not land in the phases that follow (they did: the sessions
    // phase's completion → visible p99 was 184–208 ms in a full run against 39–45 ms alone;
    // 78–159 ms with this).
    sqlx::raw_sql("VACUUM (ANALYZE) standings")
        .execute(ctx.challenge_db)
        .await?;
    // Needs a superuser or pg_checkpoint, as the bench's own cluster gives it.
    let _ = sqlx::raw_sql("CHECKPOINT").execute(ctx.challenge_db).await;
    println!(
        "  board: {PARTICIPANTS} participants + {} bench users ({:.1} s to write)",
        ids.len(),
        t.elapsed().as_secs_f64()
    );
    let (g, u) = (ctx.gw.clone(), ctx.users.clone());
    let v = ctx
        .versus("GetLeaderboard top 10 + me ± 5 (1M)", move |i| {
            let mut c = g[i % g.len()].leaderboards.clone();
            let t = u[i % u.len()].token.clone();
            async move {
                c.get_leaderboard(authed(
                    GetLeaderboardRequest {
                        top_n: 10,
                        period: LeaderboardPeriod::AllTime as i32,
                        metric: LeaderboardMetric::Points as i32,
                        around: 5,
                        ..Default::default()
                    },
                    &t,
                ))
                .await
                .is_ok_and(|r| {
                    let r = r.into_inner();
                    r.entries.len() == 10 && r.me.is_some_and(|m| m.rank > 0)
                })
            }
        })
        .await;
    v.print("boards");
    Ok(v)
}

/// What the sync phase measured.
#[derive(Debug, Default, Serialize)]
pub struct Ingest {
    pub events_per_s: f64,
    pub batch_p50_ms: f64,
    pub batch_p99_ms: f64,
    pub baseline_per_s: f64,
    pub failed: u64,
    pub sessions_completed: u64,
    pub secs: f64,
}

/// Ten one-minute sessions from `cursor` on (seconds since the epoch), four events each (start,
/// pause after 40 s, resume 10 s later, complete after 90 s: 80 s active, so each counts), two
/// minutes apart so no two overlap.
fn batch(focus: &str, cursor: i64) -> Vec<OfflineSessionEvent> {
    let mut events = Vec::with_capacity(SESSIONS_PER_BATCH * 4);
    for s in 0..SESSIONS_PER_BATCH as i64 {
        let session = uuid::Uuid::now_v7().to_string();
        let start = cursor + s * SESSION_SPACING_SECS;
        for (action, second) in [
            (SessionAction::Start, start),
            (SessionAction::Pause, start + 40),
            (SessionAction::Resume, start + 50),
            (SessionAction::Complete, start + 90),
        ] {
            let at = time::OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(second);
            events.push(OfflineSessionEvent {
                event_id: uuid::Uuid::now_v7().to_string(),
                session_id: session.clone(),
                action: action as i32,
                occur_time: Some(timestamp(at)),
                start: (action == SessionAction::Start).then(|| StartSessionRequest {
                    activity_id: focus.to_owned(),
                    planned_duration: Some(stride_kit::convert::duration(time::Duration::minutes(
                        1,
                    ))),
                    ..Default::default()
                }),
            });
        }
    }
    events
}

/// Offline batches through the gateway: each caller has a user of its own (signed up for this
/// phase: the session phases leave live sessions behind, and a live session refuses an offline
/// START) and a timeline starting 23 hours back (a START more than 24 hours old is implausible),
/// so every batch is plausible and in order.
pub async fn sync(ctx: &Ctx<'_>, focus: &str) -> anyhow::Result<(Ingest, load::Stats)> {
    let users = Arc::new(crate::sign_up_users(&ctx.gw[0], "sync", ctx.concurrency).await?);
    // The baseline first: the completions keep challenge and analytics busy afterwards.
    let (_, _, baseline) = ctx.baseline().await;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let first = now - 23 * 3600;
    // The last start a batch may use: its sessions all end before now.
    let last = now - (SESSIONS_PER_BATCH as i64 + 1) * SESSION_SPACING_SECS;
    let cursors = Arc::new(
        (0..ctx.concurrency)
            .map(|_| AtomicI64::new(first))
            .collect::<Vec<_>>(),
    );
    let (g, f) = (ctx.gw.clone(), focus.to_owned());
    let refusals = Arc::new(AtomicI64::new(0));
    let s = load::closed(ctx.concurrency, ctx.phase, move |i| {
        let step = SESSION_SPACING_SECS * SESSIONS_PER_BATCH as i64;
        let cursor = cursors[i].fetch_add(step, Ordering::Relaxed);
        let mut c = g[i % g.len()].sessions.clone();
        let t = users[i % users.len()].token.clone();
        let events = batch(&f, cursor);
        let refusals = refusals.clone();
        async move {
            if cursor > last {
                return false; // this caller's day is full
            }
            match c
                .sync_session_events(authed(SyncSessionEventsRequest { events }, &t))
                .await
            {
                Ok(r) => r.into_inner().applied == (SESSIONS_PER_BATCH * 4) as i32,
                Err(e) => {
                    // The first few say why; the count is in the figures.
                    if refusals.fetch_add(1, Ordering::Relaxed) < 3 {
                        eprintln!("  sync batch refused: {e:?}");
                    }
                    false
                }
            }
        }
    })
    .await;
    let out = Ingest {
        events_per_s: s.rate() * (SESSIONS_PER_BATCH * 4) as f64,
        batch_p50_ms: s.p_ms(0.5),
        batch_p99_ms: s.p_ms(0.99),
        baseline_per_s: baseline,
        failed: s.failed,
        sessions_completed: s.ok * SESSIONS_PER_BATCH as u64,
        secs: s.secs,
    };
    println!(
        "  SyncSessionEvents via gateway (40 events)  {:>8.0} events/s  batch p50 {:.1} ms  p99 {:.1} ms  (GetMyProfile {:.0}/s: ratio {:.2}){}",
        out.events_per_s,
        out.batch_p50_ms,
        out.batch_p99_ms,
        out.baseline_per_s,
        out.events_per_s / out.baseline_per_s.max(1e-3),
        if out.failed > 0 {
            format!("  {} batches failed", out.failed)
        } else {
            String::new()
        }
    );
    Ok((out, s))
}

/// Days of history of the long-history users of the `history` phase (five years).
const LONG_HISTORY_DAYS: i32 = 5 * 365;
/// Days of history of the short-history users: two weeks, so a week's summary and its comparison
/// with the previous week read as many days for them as for the five-year users.
const SHORT_HISTORY_DAYS: i32 = 14;
/// Days of history of the two-year users: a year's summary and the previous year's, full for
/// them too — so the only difference left is the history beyond what the answer shows.
const YEAR_HISTORY_DAYS: i32 = 730;
/// Users per history group.
const HISTORY_USERS: usize = 16;
/// How long each group is read at the idle rate: 500 calls each, so the p99 is the fifth
/// slowest call rather than the second (one scheduler hiccup on this VM moved it by 10 ms).
const HISTORY_READ: Duration = Duration::from_secs(10);

/// One summary range read for both history groups, at the idle rate.
#[derive(Debug, Default, Serialize)]
pub struct HistoryRead {
    pub range: &'static str,
    /// What the five-year users are compared with ("1 week", "1 year").
    pub against: &'static str,
    pub long_p50_ms: f64,
    pub long_p99_ms: f64,
    pub short_p50_ms: f64,
    pub short_p99_ms: f64,
    pub failed: u64,
}

/// `GetProgressSummary` for users with five years of daily history (about one day in seven
/// missed, so hundreds of streak runs) against users with just the days the answer covers — two
/// weeks for the week's summary (this week and the previous one it is compared with), two years
/// for the year's — read at the same time, at the idle rate: the summary must not scan history
/// (issue 15: p99 under 5 ms either way, ratio ≈ 1).
pub async fn history(
    ctx: &Ctx<'_>,
    analytics_db: &sqlx::PgPool,
) -> anyhow::Result<Vec<HistoryRead>> {
    use stride_proto::analytics::{GetProgressSummaryRequest, SummaryRange};
    let t = Instant::now();
    let long = Arc::new(crate::sign_up_users(&ctx.gw[0], "hist-long", HISTORY_USERS).await?);
    let short = Arc::new(crate::sign_up_users(&ctx.gw[0], "hist-short", HISTORY_USERS).await?);
    let year = Arc::new(crate::sign_up_users(&ctx.gw[0], "hist-year", HISTORY_USERS).await?);
    for (users, days) in [
        (&long, LONG_HISTORY_DAYS),
        (&short, SHORT_HISTORY_DAYS),
        (&year, YEAR_HISTORY_DAYS),
    ] {
        let ids: Vec<uuid::Uuid> = users.iter().filter_map(|u| u.id.parse().ok()).collect();
        // Yesterday is always active, so every user has a live streak to compute.
        sqlx::query(
            "INSERT INTO daily_rollups (user_id, local_date, sessions_completed, focus_sessions,
                                        total_seconds, focus_seconds, points, tasks_completed)
             SELECT u, d::date, 1 + (random() * 4)::int, 1 + (random() * 2)::int,
                    600 + (random() * 3000)::int, 600 + (random() * 1000)::int,
                    20 + (random() * 80)::int, (random() * 5)::int
             FROM unnest($1::uuid[]) AS u,
                  generate_series(current_date - $2::int, current_date - 1, interval '1 day') AS d
             WHERE d::date = current_date - 1 OR random() < 0.85
             ON CONFLICT DO NOTHING",
        )
        .bind(&ids)
        .bind(days)
        .execute(analytics_db)
        .await?;
        // The runs analytics keeps at write time, for the activity and focus streaks.
        for kind in ["activity", "focus"] {
            sqlx::query(
                "INSERT INTO active_runs (user_id, kind, first_date, last_date)
                 SELECT user_id, $2, min(local_date), max(local_date)
                 FROM (SELECT user_id, local_date,
                              local_date - (row_number() OVER (PARTITION BY user_id ORDER BY local_date))::int AS grp
                       FROM daily_rollups WHERE user_id = ANY($1)) d
                 GROUP BY user_id, grp
                 ON CONFLICT DO NOTHING",
            )
            .bind(&ids)
            .bind(kind)
            .execute(analytics_db)
            .await?;
        }
    }
    sqlx::query("ANALYZE daily_rollups")
        .execute(analytics_db)
        .await?;
    sqlx::query("ANALYZE active_runs")
        .execute(analytics_db)
        .await?;
    println!(
        "  history: {HISTORY_USERS} users each with {LONG_HISTORY_DAYS}, {YEAR_HISTORY_DAYS} and {SHORT_HISTORY_DAYS} days ({:.1} s to write)",
        t.elapsed().as_secs_f64()
    );
    let mut out = Vec::new();
    for (name, range, against, others) in [
        ("week", SummaryRange::Week, "2 weeks", short.clone()),
        ("year", SummaryRange::Year, "2 years", year.clone()),
    ] {
        let read = |users: Arc<Vec<User>>| {
            let g = ctx.gw.clone();
            load::open(IDLE_RATE, HISTORY_READ, move |k| {
                let mut c = g[k as usize % g.len()].analytics.clone();
                let t = users[k as usize % users.len()].token.clone();
                async move {
                    c.get_progress_summary(authed(
                        GetProgressSummaryRequest {
                            range: range as i32,
                            ..Default::default()
                        },
                        &t,
                    ))
                    .await
                    .is_ok_and(|r| {
                        r.into_inner()
                            .streaks
                            .and_then(|s| s.activity)
                            .is_some_and(|a| a.current > 0)
                    })
                }
            })
        };
        // Both groups at once, so they share whatever the machine is doing meanwhile.
        let (l, s) = tokio::join!(read(long.clone()), read(others));
        let r = HistoryRead {
            range: name,
            against,
            long_p50_ms: l.p_ms(0.5),
            long_p99_ms: l.p_ms(0.99),
            short_p50_ms: s.p_ms(0.5),
            short_p99_ms: s.p_ms(0.99),
            failed: l.failed + s.failed,
        };
        println!(
            "  GetProgressSummary {:<5} 5 years p50 {:>6.2} ms  p99 {:>6.2} ms   {} p50 {:.2} ms  p99 {:.2} ms: p99 ratio {:.2}{}",
            r.range,
            r.long_p50_ms,
            r.long_p99_ms,
            r.against,
            r.short_p50_ms,
            r.short_p99_ms,
            r.long_p99_ms / r.short_p99_ms.max(1e-3),
            if r.failed > 0 {
                format!("  {} calls failed", r.failed)
            } else {
                String::new()
            }
        );
        out.push(r);
    }
    Ok(out)
}
