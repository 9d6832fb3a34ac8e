//! Rebuild equivalence (property test): a random history of every consumed event kind,
//! corrections included, applied in order to one user and shuffled with redeliveries to
//! another, gives both the same projections; `rebuild` then replays the log into emptied
//! projections and gives the same again.

use proptest::{prelude::*, test_runner::TestRunner};
use sqlx::PgPool;
use stride_analytics::rebuild::{Entry, ingest, rebuild};
use stride_kit::convert::{date, timestamp};
use stride_proto::{Event, events};
use stride_testkit::fixtures;
use time::{Date, Duration, OffsetDateTime, macros::datetime};
use uuid::Uuid;

use crate::support::start;

#[derive(Clone, Debug)]
enum Op {
    Session {
        kind: usize,
        counts: Option<bool>,
        minutes: i64,
        day: i64,
    },
    TaskCreated {
        task: usize,
        day: i64,
    },
    TaskCompleted {
        task: usize,
        day: i64,
    },
    TaskReopened {
        task: usize,
        was: i64,
        day: i64,
    },
    TaskDeleted {
        task: usize,
        was: Option<i64>,
        day: i64,
    },
    Workout {
        log: usize,
        kg: u8,
        day: i64,
    },
    WorkoutUpdated {
        log: usize,
        before: (u8, i64),
        after: (u8, i64),
        day: i64,
    },
    WorkoutDeleted {
        log: usize,
        kg: u8,
        day: i64,
    },
    Reflection {
        rating: usize,
        day: i64,
    },
    Lesson {
        day: i64,
    },
    Evaluation {
        score: i32,
        day: i64,
    },
    Award {
        points: i32,
        day: i64,
    },
    Achievement {
        day: i64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let day = 0i64..6;
    prop_oneof![
        (
            0usize..6,
            prop::option::of(any::<bool>()),
            0i64..90,
            day.clone()
        )
            .prop_map(|(kind, counts, minutes, day)| Op::Session {
                kind,
                counts,
                minutes,
                day
            }),
        (0usize..3, day.clone()).prop_map(|(task, day)| Op::TaskCreated { task, day }),
        (0usize..3, day.clone()).prop_map(|(task, day)| Op::TaskCompleted { task, day }),
        (0usize..3, day.clone(), day.clone()).prop_map(|(task, was, day)| Op::TaskReopened {
            task,
            was,
            day
        }),
        (0usize..3, prop::option::of(day.clone()), day.clone())
            .prop_map(|(task, was, day)| Op::TaskDeleted { task, was, day }),
        (0usize..3, any::<u8>(), day.clone()).prop_map(|(log, kg, day)| Op::Workout {
            log,
            kg,
            day
        }),
        (
            0usize..3,
            (any::<u8>(), day.clone()),
            (any::<u8>(), day.clone()),
            day.clone()
        )
            .prop_map(|(log, before, after, day)| Op::WorkoutUpdated {
                log,
                before,
                after,
                day
            }),
        (0usize..3, any::<u8>(), day.clone()).prop_map(|(log, kg, day)| Op::WorkoutDeleted {
            log,
            kg,
            day
        }),
        (0usize..5, day.clone()).prop_map(|(rating, day)| Op::Reflection { rating, day }),
        day.clone().prop_map(|day| Op::Lesson { day }),
        (0i32..101, day.clone()).prop_map(|(score, day)| Op::Evaluation { score, day }),
        (0i32..100, day.clone()).prop_map(|(points, day)| Op::Award { points, day }),
        day.prop_map(|day| Op::Achievement { day }),
    ]
}

const KINDS: [&str; 6] = ["focus", "break", "study", "workout", "routine", "yoga"];
const RATINGS: [&str; 5] = ["great", "good", "okay", "tough", "meh"];
const TZ: &str = "Europe/Paris";

fn day(d: i64) -> Date {
    datetime!(2026-03-25 12:00 UTC).date() + Duration::days(d)
}

fn figures(kg: u8, d: i64) -> events::WorkoutFigures {
    events::WorkoutFigures {
        date_performed: Some(date(day(d))),
        sets: 1,
        reps: 1,
        weight_kg: f64::from(kg) * 0.5,
        volume_kg: f64::from(kg) * 0.5,
        ..Default::default()
    }
}

/// The event an op stands for, at instant `at` (distinct per op: snapshots order by it).
fn encode(op: &Op, user: Uuid, at: OffsetDateTime) -> (&'static str, Vec<u8>, Date) {
    let u = user.to_string();
    let task_id = |t: &usize| format!("task-{t}");
    let snap = |done: Option<i64>| events::TaskSnapshot {
        title: "t".into(),
        priority: "high".into(),
        completed: done.is_some(),
        complete_date: done.map(|d| date(day(d))),
        ..Default::default()
    };
    fn pack<E: Event>(e: E, d: Date) -> (&'static str, Vec<u8>, Date) {
        (E::TYPE, e.encode_to_vec(), d)
    }
    let ld = |d: &i64| Some(date(day(*d)));
    match op {
        Op::Session {
            kind,
            counts,
            minutes,
            day: d,
        } => {
            let mut e = fixtures::session_completed(
                user,
                KINDS[*kind],
                at,
                Duration::minutes(*minutes),
                TZ,
            );
            e.counts = *counts;
            e.local_date = ld(d);
            pack(e, day(*d))
        }
        Op::TaskCreated { task, day: d } => pack(
            events::TaskCreated {
                user_id: u,
                task_id: task_id(task),
                task: Some(snap(None)),
                occur_time: Some(timestamp(at)),
                local_date: ld(d),
                timezone: TZ.into(),
            },
            day(*d),
        ),
        Op::TaskCompleted { task, day: d } => pack(
            events::TaskCompleted {
                user_id: u,
                task_id: task_id(task),
                task: Some(snap(Some(*d))),
                occur_time: Some(timestamp(at)),
                local_date: ld(d),
                timezone: TZ.into(),
            },
            day(*d),
        ),
        Op::TaskReopened { task, was, day: d } => pack(
            events::TaskReopened {
                user_id: u,
                task_id: task_id(task),
                previous: Some(snap(Some(*was))),
                task: Some(snap(None)),
                occur_time: Some(timestamp(at)),
                local_date: ld(d),
                timezone: TZ.into(),
            },
            day(*d),
        ),
        Op::TaskDeleted { task, was, day: d } => pack(
            events::TaskDeleted {
                user_id: u,
                task_id: task_id(task),
                task: Some(snap(*was)),
                occur_time: Some(timestamp(at)),
                local_date: ld(d),
                timezone: TZ.into(),
            },
            day(*d),
        ),
        Op::Workout { log, kg, day: d } => pack(
            events::WorkoutLogged {
                user_id: u,
                log_id: format!("log-{log}"),
                figures: Some(figures(*kg, *d)),
                occur_time: Some(timestamp(at)),
                local_date: ld(d),
                timezone: TZ.into(),
            },
            day(*d),
        ),
        Op::WorkoutUpdated {
            log,
            before,
            after,
            day: d,
        } => pack(
            events::WorkoutUpdated {
                user_id: u,
                log_id: format!("log-{log}"),
                before: Some(figures(before.0, before.1)),
                after: Some(figures(after.0, after.1)),
                occur_time: Some(timestamp(at)),
                local_date: ld(d),
                timezone: TZ.into(),
            },
            day(*d),
        ),
        Op::WorkoutDeleted { log, kg, day: d } => pack(
            events::WorkoutDeleted {
                user_id: u,
                log_id: format!("log-{log}"),
                figures: Some(figures(*kg, *d)),
                occur_time: Some(timestamp(at)),
                local_date: ld(d),
                timezone: TZ.into(),
            },
            day(*d),
        ),
        Op::Reflection { rating, day: d } => {
            let mut e = fixtures::reflection_submitted(user, RATINGS[*rating], at, TZ);
            e.local_date = ld(d);
            pack(e, day(*d))
        }
        Op::Lesson { day: d } => {
            let mut e = fixtures::lesson_completed(user, at, TZ);
            e.local_date = ld(d);
            pack(e, day(*d))
        }
        Op::Evaluation { score, day: d } => {
            let mut e = fixtures::practice_session_evaluated(user, Uuid::now_v7(), *score, at, TZ);
            e.local_date = ld(d);
            pack(e, day(*d))
        }
        Op::Award { points, day: d } => {
            let mut e = fixtures::challenge_completed(user, Uuid::now_v7(), *points, at, TZ);
            e.local_date = ld(d);
            pack(e, day(*d))
        }
        Op::Achievement { day: d } => {
            let mut e = fixtures::achievement_unlocked(user, at);
            e.local_date = ld(d);
            pack(e, day(*d))
        }
    }
}

fn entries(ops: &[Op], user: Uuid) -> Vec<Entry> {
    let base = datetime!(2026-03-25 06:00 UTC);
    ops.iter()
        .enumerate()
        .map(|(i, op)| {
            let at = base + Duration::seconds(i64::try_from(i).unwrap() * 61);
            let (ty, payload, d) = encode(op, user, at);
            Entry {
                event_id: Uuid::now_v7(),
                event_type: ty.into(),
                user,
                occurred_at: at,
                local_date: Some(d),
                received_at: at,
                payload,
            }
        })
        .collect()
}

/// Everything the projections hold for `user`, without the user id.
async fn snapshot(db: &PgPool, user: Uuid) -> Vec<String> {
    let mut out = Vec::new();
    for sql in [
        "SELECT (to_jsonb(r) - 'user_id')::text FROM daily_rollups r WHERE user_id = $1 ORDER BY local_date",
        "SELECT (to_jsonb(r) - 'user_id')::text FROM active_runs r WHERE user_id = $1 ORDER BY kind, first_date",
        "SELECT (to_jsonb(r) - 'user_id')::text FROM tasks r WHERE user_id = $1 ORDER BY task_id",
        "SELECT (to_jsonb(r) - 'user_id')::text FROM timezone_hints r WHERE user_id = $1",
    ] {
        let rows: Vec<String> = sqlx::query_scalar(sql)
            .bind(user)
            .fetch_all(db)
            .await
            .unwrap();
        out.extend(rows);
    }
    out
}

async fn feed(db: &PgPool, entries: &[Entry]) {
    let mut conn = db.acquire().await.unwrap();
    for e in entries {
        ingest(&mut conn, e).await.unwrap();
    }
}

#[test]
fn any_order_with_redeliveries_equals_in_order_and_the_rebuild() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (h, _p) = rt.block_on(start(datetime!(2026-03-31 12:00 UTC)));
    let db = h.db.clone();
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 16,
        ..ProptestConfig::default()
    });
    let history = prop::collection::vec(op(), 1..40).prop_flat_map(|ops| {
        let n = ops.len();
        (
            Just(ops),
            Just((0..n).collect::<Vec<_>>()).prop_shuffle(),
            prop::collection::vec(0..n, 0..8),
        )
    });
    runner
        .run(&history, |(ops, order, dups)| {
            rt.block_on(async {
                let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
                feed(&db, &entries(&ops, a)).await;
                // b: the same history, shuffled, some events delivered twice.
                let eb = entries(&ops, b);
                let shuffled: Vec<Entry> = order
                    .iter()
                    .chain(dups.iter())
                    .map(|i| eb[*i].clone())
                    .collect();
                feed(&db, &shuffled).await;
                let (sa, sb) = (snapshot(&db, a).await, snapshot(&db, b).await);
                assert_eq!(sa, sb, "shuffled with redeliveries differs from in order");
                rebuild(&db).await.unwrap();
                assert_eq!(snapshot(&db, a).await, sa, "rebuild differs (in order)");
                assert_eq!(snapshot(&db, b).await, sb, "rebuild differs (shuffled)");
            });
            Ok(())
        })
        .unwrap();
    rt.block_on(h.stop());
}
