//! Every figure through the API: corrections reverse totals, periods and the previous period,
//! the focus and shutdown summaries, the recent-activity feed, streak settings; each for the
//! caller only.

use stride_kit::convert;
use stride_proto::analytics::{
    GetDailyFocusSummaryRequest, GetProgressSummaryRequest, GetProgressSummaryResponse,
    GetShutdownSummaryRequest, GetStreakSettingsRequest, GetWeeklyFocusSummaryRequest,
    ListRecentActivityRequest, StreakSettings, SummaryRange, UpdateStreakSettingsRequest,
};
use stride_proto::events;
use stride_testkit::{authed, bus::Publisher, bus::assert_invalid, fixtures};
use time::{
    Date, Duration, OffsetDateTime,
    macros::{date, datetime},
};
use tonic::Code;
use uuid::Uuid;

use crate::support::{Harness, profile, session, start};

async fn send<E: stride_proto::Event>(h: &Harness, p: &Publisher, e: &E) {
    let id = p.publish(e).await;
    h.consumed(id).await;
}

async fn summary_of(
    h: &Harness,
    user: Uuid,
    range: SummaryRange,
    date: Option<Date>,
) -> GetProgressSummaryResponse {
    let req = GetProgressSummaryRequest {
        range: range.into(),
        date: date.map(convert::date),
        ..Default::default()
    };
    h.client
        .clone()
        .get_progress_summary(authed(req, &h.token(user)))
        .await
        .expect("summary")
        .into_inner()
}

fn task_deleted(
    user: Uuid,
    task: Uuid,
    done: Option<OffsetDateTime>,
    at: OffsetDateTime,
) -> events::TaskDeleted {
    events::TaskDeleted {
        user_id: user.to_string(),
        task_id: task.to_string(),
        task: Some(fixtures::task_snapshot("Task", done, "UTC")),
        occur_time: Some(convert::timestamp(at)),
        local_date: Some(convert::date(at.date())),
        timezone: "UTC".into(),
    }
}

#[tokio::test]
async fn every_figure_rolls_up_and_corrections_reverse_totals() {
    let (h, p) = start(datetime!(2026-03-04 12:00 UTC)).await;
    let (ada, bob) = (Uuid::now_v7(), Uuid::now_v7());
    let at = |hh: u8| {
        date!(2026 - 03 - 03)
            .with_hms(hh, 0, 0)
            .unwrap()
            .assume_utc()
    };
    send(&h, &p, &session(ada, "focus", at(9), 25, "UTC")).await;
    send(&h, &p, &session(ada, "break", at(10), 5, "UTC")).await;
    // A task completed then reopened, one completed then deleted, one completed and kept.
    let (t1, t2, t3) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    for t in [t1, t2, t3] {
        send(
            &h,
            &p,
            &fixtures::task_created(ada, t, "Task", None, at(8), "UTC"),
        )
        .await;
        send(&h, &p, &fixtures::task_completed(ada, t, at(11), "UTC")).await;
    }
    send(
        &h,
        &p,
        &fixtures::task_reopened(ada, t1, at(11), at(12), "UTC"),
    )
    .await;
    send(&h, &p, &task_deleted(ada, t2, Some(at(11)), at(12))).await;
    // A workout logged then corrected from 1500 to 1800 kg; another logged then deleted.
    let before = fixtures::workout_figures(3, 10, 50.0, at(13), "UTC");
    let after = fixtures::workout_figures(3, 10, 60.0, at(13), "UTC");
    let logged = fixtures::workout_logged(ada, before.clone(), at(13), "UTC");
    send(&h, &p, &logged).await;
    send(
        &h,
        &p,
        &fixtures::workout_updated(ada, &logged.log_id, before, after, at(14), "UTC"),
    )
    .await;
    let gone = fixtures::workout_logged(
        ada,
        fixtures::workout_figures(1, 1, 100.0, at(13), "UTC"),
        at(13),
        "UTC",
    );
    send(&h, &p, &gone).await;
    send(
        &h,
        &p,
        &fixtures::workout_deleted(
            ada,
            &gone.log_id,
            gone.figures.clone().unwrap(),
            at(15),
            "UTC",
        ),
    )
    .await;
    send(
        &h,
        &p,
        &fixtures::reflection_submitted(ada, "good", at(18), "UTC"),
    )
    .await;
    send(&h, &p, &fixtures::lesson_completed(ada, at(16), "UTC")).await;
    send(
        &h,
        &p,
        &fixtures::practice_session_evaluated(ada, Uuid::now_v7(), 80, at(17), "UTC"),
    )
    .await;
    send(&h, &p, &fixtures::achievement_unlocked(ada, at(17))).await;
    send(&h, &p, &session(ada, "focus", at(19), 10, "UTC")).await;

    let s = summary_of(&h, ada, SummaryRange::Day, Some(date!(2026 - 03 - 03))).await;
    let t = s.totals.expect("totals");
    assert_eq!(
        (t.sessions_completed, t.focus_sessions, t.break_sessions),
        (3, 2, 1)
    );
    assert_eq!(t.focus_duration.unwrap().seconds, 35 * 60);
    assert_eq!(t.break_duration.unwrap().seconds, 5 * 60);
    assert_eq!(t.planned_duration.unwrap().seconds, 40 * 60);
    assert_eq!((t.tasks_created, t.tasks_completed), (3, 1));
    assert_eq!((t.workouts, t.workout_volume_kg), (1, 1800.0));
    assert_eq!((t.reflections, t.rated_good), (1, 1));
    assert_eq!((t.lessons, t.lesson_minutes), (1, 5));
    assert_eq!((t.evaluations, t.average_evaluation_score), (1, 80.0));
    assert_eq!((t.points, t.xp, s.points), (10, 20, 10));
    assert_eq!(s.days.len(), 1);
    // Another user sees none of it.
    let other = summary_of(&h, bob, SummaryRange::Day, Some(date!(2026 - 03 - 03))).await;
    let o = other.totals.unwrap();
    assert_eq!(
        (
            o.sessions_completed,
            o.tasks_created,
            o.workouts,
            o.points,
            o.reflections
        ),
        (0, 0, 0, 0, 0)
    );
    h.stop().await;
}

#[tokio::test]
async fn periods_compare_with_the_one_before_and_custom_ranges_are_checked() {
    let (h, p) = start(datetime!(2026-03-20 12:00 UTC)).await;
    let ada = Uuid::now_v7();
    for (end, minutes) in [
        (datetime!(2026-02-25 09:00 UTC), 10),
        (datetime!(2026-03-02 09:00 UTC), 20),
        (datetime!(2026-03-19 09:00 UTC), 30),
        (datetime!(2025-06-01 09:00 UTC), 40),
    ] {
        send(&h, &p, &session(ada, "study", end, minutes, "UTC")).await;
    }
    let month = summary_of(&h, ada, SummaryRange::Month, None).await;
    assert_eq!(month.range, SummaryRange::Month as i32);
    assert_eq!(month.days.len(), 31);
    assert_eq!(month.totals.as_ref().unwrap().study_sessions, 2);
    assert_eq!(
        month.previous_start_date,
        Some(convert::date(date!(2026 - 02 - 01)))
    );
    assert_eq!(month.previous_totals.as_ref().unwrap().study_sessions, 1);
    let year = summary_of(&h, ada, SummaryRange::Year, None).await;
    assert_eq!(year.days.len(), 365);
    assert_eq!(
        year.totals
            .as_ref()
            .unwrap()
            .study_duration
            .as_ref()
            .unwrap()
            .seconds,
        60 * 60
    );
    assert_eq!(year.previous_totals.as_ref().unwrap().study_sessions, 1);
    // The study streak: the 19th, and today (the 20th) not yet: it still counts.
    assert_eq!(
        year.streaks
            .as_ref()
            .unwrap()
            .study
            .as_ref()
            .unwrap()
            .current,
        1
    );

    let custom = |start: Date, end: Date| GetProgressSummaryRequest {
        range: SummaryRange::Custom.into(),
        start_date: Some(convert::date(start)),
        end_date: Some(convert::date(end)),
        ..Default::default()
    };
    let token = h.token(ada);
    let mut c = h.client.clone();
    let r = c
        .get_progress_summary(authed(
            custom(date!(2026 - 03 - 01), date!(2026 - 03 - 10)),
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.days.len(), 10);
    assert_eq!(
        r.previous_start_date,
        Some(convert::date(date!(2026 - 02 - 19)))
    );
    assert_eq!(r.previous_totals.unwrap().study_sessions, 1);
    for (req, fields) in [
        (
            custom(date!(2026 - 03 - 10), date!(2026 - 03 - 01)),
            vec!["end_date"],
        ),
        (
            custom(date!(2025 - 01 - 01), date!(2026 - 03 - 01)),
            vec!["end_date"],
        ),
        (
            GetProgressSummaryRequest {
                range: SummaryRange::Custom.into(),
                ..Default::default()
            },
            vec!["start_date", "end_date"],
        ),
        (
            GetProgressSummaryRequest {
                range: SummaryRange::Week.into(),
                start_date: Some(convert::date(date!(2026 - 03 - 01))),
                ..Default::default()
            },
            vec!["start_date"],
        ),
    ] {
        let err = c
            .get_progress_summary(authed(req, &token))
            .await
            .unwrap_err();
        assert_invalid(&err, &fields);
    }
    h.stop().await;
}

#[tokio::test]
async fn focus_summaries_split_focus_and_break_and_list_the_days_sessions() {
    let (h, p) = start(datetime!(2026-03-04 20:00 UTC)).await;
    let (ada, bob) = (Uuid::now_v7(), Uuid::now_v7());
    send(
        &h,
        &p,
        &session(ada, "focus", datetime!(2026-03-04 09:00 UTC), 25, "UTC"),
    )
    .await;
    send(
        &h,
        &p,
        &session(ada, "break", datetime!(2026-03-04 09:10 UTC), 5, "UTC"),
    )
    .await;
    send(
        &h,
        &p,
        &session(ada, "study", datetime!(2026-03-04 11:00 UTC), 30, "UTC"),
    )
    .await;
    send(
        &h,
        &p,
        &session(ada, "focus", datetime!(2026-03-02 09:00 UTC), 50, "UTC"),
    )
    .await;
    send(
        &h,
        &p,
        &fixtures::session_completed_uncounted(
            ada,
            "focus",
            datetime!(2026-03-04 12:00 UTC),
            Duration::seconds(30),
            "UTC",
        ),
    )
    .await;
    send(
        &h,
        &p,
        &session(bob, "focus", datetime!(2026-03-04 09:00 UTC), 45, "UTC"),
    )
    .await;
    let mut c = h.client.clone();
    let day = c
        .get_daily_focus_summary(authed(
            GetDailyFocusSummaryRequest::default(),
            &h.token(ada),
        ))
        .await
        .unwrap()
        .into_inner()
        .summary
        .unwrap();
    assert_eq!((day.focus_sessions, day.break_sessions), (1, 1));
    assert_eq!((day.focus_seconds, day.break_seconds), (25 * 60, 5 * 60));
    let kinds: Vec<&str> = day.sessions.iter().map(|s| s.kind.as_str()).collect();
    assert_eq!(kinds, ["focus", "break"]);
    let week = c
        .get_weekly_focus_summary(authed(
            GetWeeklyFocusSummaryRequest::default(),
            &h.token(ada),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(week.week_start, Some(convert::date(date!(2026 - 03 - 02))));
    assert_eq!(week.week_end, Some(convert::date(date!(2026 - 03 - 08))));
    assert_eq!(week.daily_summaries.len(), 7);
    assert_eq!((week.focus_sessions, week.focus_seconds), (2, 75 * 60));
    assert_eq!(week.daily_summaries[0].sessions.len(), 1);
    let err = c
        .get_daily_focus_summary(authed(
            GetDailyFocusSummaryRequest {
                date: Some(stride_proto::Date {
                    year: 2026,
                    month: 2,
                    day: 30,
                }),
            },
            &h.token(ada),
        ))
        .await
        .unwrap_err();
    assert_invalid(&err, &["date"]);
    h.stop().await;
}

#[tokio::test]
async fn the_shutdown_summary_follows_seed_001() {
    // 20:00 UTC is 22:00 in Paris on Wednesday 2026-06-10.
    let (h, p) = start(datetime!(2026-06-10 20:00 UTC)).await;
    let ada = Uuid::now_v7();
    let tz = "Europe/Paris";
    let mut prof = profile(ada, tz, 1, datetime!(2026-06-01 08:00 UTC));
    prof.daily_focus_goal_minutes = 30;
    send(&h, &p, &prof).await;
    send(
        &h,
        &p,
        &session(ada, "focus", datetime!(2026-06-10 09:00 UTC), 30, tz),
    )
    .await;
    let (open, done, old) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    for t in [open, done, old] {
        send(
            &h,
            &p,
            &fixtures::task_created(ada, t, "Task", None, datetime!(2026-06-08 08:00 UTC), tz),
        )
        .await;
    }
    send(
        &h,
        &p,
        &fixtures::task_completed(ada, done, datetime!(2026-06-10 10:00 UTC), tz),
    )
    .await;
    send(
        &h,
        &p,
        &fixtures::task_completed(ada, old, datetime!(2026-06-09 10:00 UTC), tz),
    )
    .await;
    send(
        &h,
        &p,
        &fixtures::reflection_submitted(ada, "good", datetime!(2026-06-09 19:00 UTC), tz),
    )
    .await;
    let mut c = h.client.clone();
    let get = |mut c: stride_proto::analytics::analytics_service_client::AnalyticsServiceClient<
        tonic::transport::Channel,
    >,
               token: String| async move {
        c.get_shutdown_summary(authed(GetShutdownSummaryRequest {}, &token))
            .await
            .unwrap()
            .into_inner()
    };
    // Before today's reflection: no shutdown streak (yesterday's does not carry over).
    let s = get(c.clone(), h.token(ada)).await;
    assert_eq!(
        (s.tasks_completed, s.tasks_pending, s.tasks_total),
        (1, 1, 2)
    );
    assert_eq!(s.today_tasks.len(), 2);
    assert_eq!((s.focus_goal_minutes, s.focus_goal_met), (30, true));
    assert_eq!(s.shutdown_streak, 0);
    assert_eq!(s.points, 10 + 5 + 15);
    assert_eq!(s.clocked_out_time, "");
    send(
        &h,
        &p,
        &fixtures::reflection_submitted(ada, "great", datetime!(2026-06-10 19:30 UTC), tz),
    )
    .await;
    let s = get(c.clone(), h.token(ada)).await;
    assert_eq!(s.shutdown_streak, 2);
    assert_eq!(s.points, 10 + 5 + 15 + 4);
    assert_eq!(s.clocked_out_time, "21:30");
    assert_eq!(s.date, Some(convert::date(date!(2026 - 06 - 10))));
    // Another user: the default goal, nothing done.
    let other = get(c.clone(), h.token(Uuid::now_v7())).await;
    assert_eq!(
        (other.focus_goal_minutes, other.tasks_total, other.points),
        (480, 0, 10)
    );
    let err = c
        .get_shutdown_summary(GetShutdownSummaryRequest {})
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    h.stop().await;
}

#[tokio::test]
async fn recent_activity_pages_newest_first_for_the_caller_only() {
    let (h, p) = start(datetime!(2026-03-04 20:00 UTC)).await;
    let (ada, bob) = (Uuid::now_v7(), Uuid::now_v7());
    let base = datetime!(2026-03-04 06:00 UTC);
    for i in 0..12 {
        send(
            &h,
            &p,
            &session(ada, "focus", base + Duration::minutes(30 * i), 10, "UTC"),
        )
        .await;
    }
    send(
        &h,
        &p,
        &fixtures::task_created(
            ada,
            Uuid::now_v7(),
            "Write",
            None,
            base + Duration::hours(7),
            "UTC",
        ),
    )
    .await;
    send(&h, &p, &session(bob, "focus", base, 10, "UTC")).await;
    let mut c = h.client.clone();
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = c
            .list_recent_activity(authed(
                ListRecentActivityRequest {
                    page_size: 5,
                    page_token: token.clone(),
                },
                &h.token(ada),
            ))
            .await
            .unwrap()
            .into_inner();
        seen.extend(page.items);
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(seen.len(), 13);
    assert_eq!(
        (seen[0].kind.as_str(), seen[0].title.as_str()),
        ("task_created", "Write")
    );
    let times: Vec<i64> = seen
        .iter()
        .map(|i| i.occur_time.as_ref().unwrap().seconds)
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first");
    let bobs = c
        .list_recent_activity(authed(ListRecentActivityRequest::default(), &h.token(bob)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(bobs.items.len(), 1);
    for (req, field) in [
        (
            ListRecentActivityRequest {
                page_size: 101,
                page_token: String::new(),
            },
            "page_size",
        ),
        (
            ListRecentActivityRequest {
                page_size: 5,
                page_token: "nope".into(),
            },
            "page_token",
        ),
    ] {
        let err = c
            .list_recent_activity(authed(req, &h.token(ada)))
            .await
            .unwrap_err();
        assert_invalid(&err, &[field]);
    }
    h.stop().await;
}

#[tokio::test]
async fn streak_settings_are_the_callers_bounded_and_applied() {
    let (h, p) = start(datetime!(2026-03-10 12:00 UTC)).await;
    let (ada, bob) = (Uuid::now_v7(), Uuid::now_v7());
    // Active the 6th and 8th; the 7th missed.
    for end in [
        datetime!(2026-03-06 09:00 UTC),
        datetime!(2026-03-08 09:00 UTC),
        datetime!(2026-03-09 09:00 UTC),
    ] {
        send(&h, &p, &session(ada, "focus", end, 25, "UTC")).await;
    }
    let mut c = h.client.clone();
    let s = summary_of(&h, ada, SummaryRange::Week, None).await;
    assert_eq!((s.current_streak, s.longest_streak), (2, 2));
    let set = |grace, freezes| UpdateStreakSettingsRequest {
        settings: Some(StreakSettings {
            grace_days: grace,
            freezes_per_month: freezes,
        }),
    };
    let r = c
        .update_streak_settings(authed(set(1, 2), &h.token(ada)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        r.settings,
        Some(StreakSettings {
            grace_days: 1,
            freezes_per_month: 2
        })
    );
    let s = summary_of(&h, ada, SummaryRange::Week, None).await;
    assert_eq!((s.current_streak, s.longest_streak), (3, 3));
    // Bob's settings are his own defaults.
    let b = c
        .get_streak_settings(authed(GetStreakSettingsRequest {}, &h.token(bob)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(b.settings, Some(StreakSettings::default()));
    let err = c
        .update_streak_settings(authed(set(4, 6), &h.token(ada)))
        .await
        .unwrap_err();
    assert_invalid(&err, &["settings.grace_days", "settings.freezes_per_month"]);
    let err = c
        .update_streak_settings(authed(
            UpdateStreakSettingsRequest { settings: None },
            &h.token(ada),
        ))
        .await
        .unwrap_err();
    assert_invalid(&err, &["settings"]);
    h.stop().await;
}

#[tokio::test]
async fn dst_days_keep_their_sessions_on_the_producers_dates() {
    // Europe/Paris: spring forward 2026-03-29 (23-hour day), fall back 2026-10-25 (25 hours).
    let (h, p) = start(datetime!(2026-10-26 08:00 UTC)).await;
    let ada = Uuid::now_v7();
    let tz = "Europe/Paris";
    send(
        &h,
        &p,
        &profile(ada, tz, 1, datetime!(2026-03-01 08:00 UTC)),
    )
    .await;
    for end in [
        // 02:30 local happens twice on the fall-back day: both count on the 25th.
        datetime!(2026-10-25 00:30 UTC),
        datetime!(2026-10-25 01:30 UTC),
        // 23:30 UTC on the 25th is already the 26th in Paris.
        datetime!(2026-10-25 23:30 UTC),
        datetime!(2026-10-24 12:00 UTC),
        // The spring-forward day: 22:30 UTC on the 29th is 00:30 on the 30th.
        datetime!(2026-03-29 10:00 UTC),
        datetime!(2026-03-29 22:30 UTC),
    ] {
        send(&h, &p, &session(ada, "focus", end, 25, tz)).await;
    }
    let mut c = h.client.clone();
    let day = |d: Date| GetDailyFocusSummaryRequest {
        date: Some(convert::date(d)),
    };
    let fall = c
        .get_daily_focus_summary(authed(day(date!(2026 - 10 - 25)), &h.token(ada)))
        .await
        .unwrap()
        .into_inner()
        .summary
        .unwrap();
    assert_eq!((fall.focus_sessions, fall.sessions.len()), (2, 2));
    let spring = summary_of(&h, ada, SummaryRange::Week, Some(date!(2026 - 03 - 29))).await;
    assert_eq!(spring.days[6].sessions_completed, 1, "Sunday the 29th");
    let next = summary_of(&h, ada, SummaryRange::Week, Some(date!(2026 - 03 - 30))).await;
    assert_eq!(next.days[0].sessions_completed, 1, "Monday the 30th");
    // Today the 26th: the 24th, 25th and 26th in a row.
    let s = summary_of(&h, ada, SummaryRange::Week, None).await;
    let focus = s.streaks.unwrap().focus.unwrap();
    assert_eq!((focus.current, s.current_streak), (3, 3));
    h.stop().await;
}

#[tokio::test]
async fn streaks_read_from_the_latest_and_the_longest_run_only() {
    let (h, p) = start(datetime!(2026-03-13 12:00 UTC)).await;
    let ada = Uuid::now_v7();
    // A three-day run long ago, then singletons every other day up to today.
    for d in [1u8, 2, 3, 5, 7, 9, 11, 13] {
        let end = Date::from_calendar_date(2026, time::Month::March, d)
            .unwrap()
            .with_hms(9, 0, 0)
            .unwrap()
            .assume_utc();
        send(&h, &p, &session(ada, "focus", end, 25, "UTC")).await;
    }
    let s = summary_of(&h, ada, SummaryRange::Week, None).await;
    assert_eq!((s.current_streak, s.longest_streak), (1, 3));
    let focus = s.streaks.unwrap().focus.unwrap();
    assert_eq!((focus.current, focus.longest), (1, 3));
    // With one grace day every gap is forgiven: the whole history is one streak.
    let req = UpdateStreakSettingsRequest {
        settings: Some(StreakSettings {
            grace_days: 1,
            freezes_per_month: 0,
        }),
    };
    h.client
        .clone()
        .update_streak_settings(authed(req, &h.token(ada)))
        .await
        .unwrap();
    let s = summary_of(&h, ada, SummaryRange::Week, None).await;
    assert_eq!((s.current_streak, s.longest_streak), (8, 8));
    h.stop().await;
}
