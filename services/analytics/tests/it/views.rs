//! H's queries (issue 15) over real events and the real API: evaluation trends, topic mastery,
//! the dashboard with its peers down, the CSV export and share cards.

use stride_kit::{Clock as _, convert};
use stride_proto::{
    analytics::{
        CreateShareCardRequest, ExportFiguresCsvRequest, GetDashboardRequest,
        GetEvaluationTrendsRequest, GetSharedCardRequest, GetTopicMasteryRequest,
        ListShareCardsRequest, MasteryLevel, RevokeShareCardRequest, ShareCardKind,
        dashboard_service_client::DashboardServiceClient,
        figures_service_client::FiguresServiceClient, mastery_service_client::MasteryServiceClient,
        share_service_client::ShareServiceClient, trends_service_client::TrendsServiceClient,
    },
    events::{EvaluationDimensionScore, PracticeSessionEvaluated},
};
use stride_testkit::{
    authed,
    bus::{Publisher, assert_invalid},
    fixtures,
};
use time::{
    Duration, OffsetDateTime,
    macros::{date, datetime},
};
use tonic::{Code, transport::Channel};
use uuid::Uuid;

use crate::support::{Harness, award, delivered, profile, session, start, start_with_peers};

fn trends(h: &Harness) -> TrendsServiceClient<Channel> {
    TrendsServiceClient::new(h.channel.clone())
}
fn mastery(h: &Harness) -> MasteryServiceClient<Channel> {
    MasteryServiceClient::new(h.channel.clone())
}
fn dashboard(h: &Harness) -> DashboardServiceClient<Channel> {
    DashboardServiceClient::new(h.channel.clone())
}
fn figures(h: &Harness) -> FiguresServiceClient<Channel> {
    FiguresServiceClient::new(h.channel.clone())
}
fn shares(h: &Harness) -> ShareServiceClient<Channel> {
    ShareServiceClient::new(h.channel.clone())
}

/// An evaluation of a new practice session at `at` with `overall`, clarity at `clarity`, and
/// `areas`.
fn evaluation(
    user: Uuid,
    at: OffsetDateTime,
    overall: i32,
    clarity: i32,
    areas: &[&str],
) -> PracticeSessionEvaluated {
    let mut e = fixtures::practice_session_evaluated(user, Uuid::now_v7(), overall, at, "UTC");
    e.dimension_scores = vec![EvaluationDimensionScore {
        dimension: "clarity_structure".into(),
        score: clarity,
        label: "solid".into(),
    }];
    e.improvement_areas = areas.iter().map(|a| (*a).to_owned()).collect();
    e
}

/// Gives `user` a row in each of H's tables: an evaluation, a lesson, a quiz attempt and a
/// share card (the lifecycle tests' seed).
pub async fn seed(h: &Harness, p: &Publisher, user: Uuid) {
    let now = h.clock.now();
    let ids = [
        p.publish(&evaluation(
            user,
            now - Duration::hours(2),
            70,
            60,
            &["Pause"],
        ))
        .await,
        p.publish(&fixtures::lesson_completed(
            user,
            now - Duration::hours(2),
            "UTC",
        ))
        .await,
        p.publish(&fixtures::quiz_completed(
            user,
            4,
            5,
            now - Duration::hours(1),
            "UTC",
        ))
        .await,
    ];
    for id in ids {
        h.consumed(id).await;
    }
    shares(h)
        .create_share_card(authed(
            CreateShareCardRequest {
                kind: ShareCardKind::Streak as i32,
                ..Default::default()
            },
            &h.token(user),
        ))
        .await
        .expect("share card");
}

#[tokio::test]
async fn trends_show_series_velocity_and_recurring_areas_of_the_callers_evaluations() {
    let (h, p) = start(datetime!(2026-03-31 12:00 UTC)).await;
    let (ada, bob) = (Uuid::now_v7(), Uuid::now_v7());
    let t0 = datetime!(2026-03-02 18:00 UTC);
    let first = evaluation(ada, t0, 50, 40, &["Use metrics", "Pause before answering"]);
    let evals = [
        first.clone(),
        evaluation(ada, t0 + Duration::weeks(1), 60, 60, &["use metrics."]),
        evaluation(
            ada,
            t0 + Duration::weeks(2),
            70,
            80,
            &["Use  metrics", "Speak slower"],
        ),
        evaluation(bob, t0, 10, 10, &["Bob's area", "Bob's area"]),
    ];
    for e in &evals {
        p.publish(e).await;
    }
    // A late, older evaluation of ada's first session does not replace the newer one.
    let mut older = first.clone();
    older.overall_score = 0;
    older.evaluate_time = Some(convert::timestamp(t0 - Duration::days(1)));
    p.publish(&older).await;
    delivered(&h, "handled", 5).await;

    let t = trends(&h)
        .get_evaluation_trends(authed(GetEvaluationTrendsRequest::default(), &h.token(ada)))
        .await
        .expect("trends")
        .into_inner();
    assert_eq!(t.evaluation_count, 3, "bob's are not ada's");
    assert_eq!(
        convert::from_date(t.end_date.as_ref().unwrap()),
        Some(date!(2026 - 03 - 31))
    );
    assert_eq!(
        convert::from_date(t.start_date.as_ref().unwrap()),
        Some(date!(2026 - 01 - 01)),
        "90 days by default"
    );
    let names: Vec<_> = t.dimensions.iter().map(|d| d.dimension.as_str()).collect();
    assert_eq!(names, ["overall", "clarity_structure"]);
    let overall: Vec<_> = t.dimensions[0].points.iter().map(|p| p.score).collect();
    assert_eq!(
        overall,
        [50, 60, 70],
        "oldest first, the older re-evaluation ignored"
    );
    assert_eq!(t.improvement_velocity, 10.0);
    assert_eq!(t.dimensions[1].velocity_per_week, 20.0);
    assert_eq!(t.dimensions[0].average, 60.0);
    let areas: Vec<_> = t
        .recurring_improvement_areas
        .iter()
        .map(|a| (a.text.as_str(), a.count))
        .collect();
    assert_eq!(areas, [("Use  metrics", 3)]);

    // A window holding only the last evaluation.
    let t = trends(&h)
        .get_evaluation_trends(authed(
            GetEvaluationTrendsRequest {
                start_date: Some(convert::date(date!(2026 - 03 - 16))),
                end_date: Some(convert::date(date!(2026 - 03 - 20))),
            },
            &h.token(ada),
        ))
        .await
        .expect("trends")
        .into_inner();
    assert_eq!(t.evaluation_count, 1);
    assert_eq!(t.improvement_velocity, 0.0);
    assert!(t.recurring_improvement_areas.is_empty());

    // Bad windows name their field; no token, no trends.
    let bad = |start, end| GetEvaluationTrendsRequest {
        start_date: Some(convert::date(start)),
        end_date: Some(convert::date(end)),
    };
    let err = trends(&h)
        .get_evaluation_trends(authed(
            bad(date!(2026 - 03 - 20), date!(2026 - 03 - 10)),
            &h.token(ada),
        ))
        .await
        .unwrap_err();
    assert_invalid(&err, &["end_date"]);
    let err = trends(&h)
        .get_evaluation_trends(authed(
            bad(date!(2024 - 01 - 01), date!(2026 - 03 - 10)),
            &h.token(ada),
        ))
        .await
        .unwrap_err();
    assert_invalid(&err, &["end_date"]);
    let err = trends(&h)
        .get_evaluation_trends(authed(
            GetEvaluationTrendsRequest {
                start_date: Some(stride_proto::Date {
                    year: 2026,
                    month: 2,
                    day: 30,
                }),
                end_date: None,
            },
            &h.token(ada),
        ))
        .await
        .unwrap_err();
    assert_invalid(&err, &["start_date"]);
    let err = trends(&h)
        .get_evaluation_trends(GetEvaluationTrendsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    h.stop().await;
}

#[tokio::test]
async fn topic_mastery_comes_from_lessons_and_quizzes_and_names_weak_topics() {
    let (h, p) = start(datetime!(2026-03-10 12:00 UTC)).await;
    let (ada, bob) = (Uuid::now_v7(), Uuid::now_v7());
    let at = datetime!(2026-03-09 10:00 UTC);
    let lesson = fixtures::lesson_completed(ada, at, "UTC");
    let mut other_lesson = lesson.clone();
    other_lesson.lesson_id = Uuid::now_v7().to_string();
    let mut other_topic = lesson.clone();
    other_topic.lesson_id = Uuid::now_v7().to_string();
    other_topic.topic_id = "52000000-0000-4000-8000-000000000099".into();
    // Attempts on the fixture topic: 100 % then (later) 20 %; the later one arrives first.
    let later = fixtures::quiz_completed(ada, 1, 5, at + Duration::hours(2), "UTC");
    let earlier = fixtures::quiz_completed(ada, 5, 5, at + Duration::hours(1), "UTC");
    let ids = [
        p.publish(&lesson).await,
        p.publish(&other_lesson).await,
        p.publish(&other_topic).await,
        p.publish(&later).await,
        p.publish(&earlier).await,
        p.publish(&fixtures::quiz_completed(bob, 5, 5, at, "UTC"))
            .await,
    ];
    for id in ids {
        h.consumed(id).await;
    }
    // The same lesson announced again (a new event id): counted once.
    let id = p.publish(&lesson).await;
    h.consumed(id).await;

    let m = mastery(&h)
        .get_topic_mastery(authed(GetTopicMasteryRequest::default(), &h.token(ada)))
        .await
        .expect("mastery")
        .into_inner();
    assert_eq!(m.topics.len(), 2);
    let quizzed = &m.topics[0];
    assert_eq!(quizzed.topic_id, "52000000-0000-4000-8000-000000000011");
    assert_eq!(quizzed.topic_title, "Linear equations");
    assert_eq!(quizzed.lessons_completed, 2);
    assert_eq!(quizzed.quiz_attempts, 2);
    assert_eq!(quizzed.average_quiz_score, 60.0);
    assert_eq!(
        quizzed.latest_quiz_score, 20,
        "the latest by submit time, not arrival"
    );
    // 0.4 × 60 + 0.6 × 20 = 36.
    assert_eq!(quizzed.mastery_score, 36);
    assert_eq!(quizzed.level, MasteryLevel::Beginner as i32);
    assert!(quizzed.weak);
    let unassessed = &m.topics[1];
    assert_eq!(unassessed.level, MasteryLevel::NotAssessed as i32);
    assert!(!unassessed.weak);
    assert_eq!(m.weak_topics.len(), 1);

    // Another subject's filter: nothing. Bob sees only his.
    let m = mastery(&h)
        .get_topic_mastery(authed(
            GetTopicMasteryRequest {
                subject_id: uuid::Uuid::now_v7().to_string(),
            },
            &h.token(ada),
        ))
        .await
        .expect("mastery")
        .into_inner();
    assert!(m.topics.is_empty());
    let m = mastery(&h)
        .get_topic_mastery(authed(GetTopicMasteryRequest::default(), &h.token(bob)))
        .await
        .expect("mastery")
        .into_inner();
    assert_eq!(m.topics.len(), 1);
    assert_eq!(m.topics[0].mastery_score, 100);
    assert!(m.weak_topics.is_empty());
    // Not a subject id (too long, a NUL): the field is named, nothing reaches the database.
    for bad in ["x".repeat(200), "\0".into()] {
        let err = mastery(&h)
            .get_topic_mastery(authed(
                GetTopicMasteryRequest { subject_id: bad },
                &h.token(ada),
            ))
            .await
            .unwrap_err();
        assert_invalid(&err, &["subject_id"]);
    }
    h.stop().await;
}

#[tokio::test]
async fn an_impossible_quiz_result_is_dead_lettered() {
    let (h, p) = start(datetime!(2026-03-10 12:00 UTC)).await;
    let ada = Uuid::now_v7();
    p.publish(&fixtures::quiz_completed(ada, 6, 5, h.clock.now(), "UTC"))
        .await;
    delivered(&h, "dead_lettered", 1).await;
    h.stop().await;
}

#[tokio::test]
async fn the_dashboard_answers_its_own_parts_and_names_the_peers_that_are_down() {
    // Both peers at a closed port: nothing listens there.
    let (h, p) = start(datetime!(2026-03-05 12:00 UTC)).await;
    let ada = Uuid::now_v7();
    let ids = [
        p.publish(&profile(ada, "Europe/Paris", 1, h.clock.now()))
            .await,
        p.publish(&session(
            ada,
            "study",
            datetime!(2026-03-04 09:00 UTC),
            45,
            "Europe/Paris",
        ))
        .await,
        p.publish(&session(
            ada,
            "focus",
            datetime!(2026-03-05 09:00 UTC),
            25,
            "Europe/Paris",
        ))
        .await,
        p.publish(&award(ada, date!(2026 - 03 - 05), 50)).await,
        p.publish(&fixtures::lesson_completed(ada, h.clock.now(), "UTC"))
            .await,
        p.publish(&fixtures::quiz_completed(ada, 1, 4, h.clock.now(), "UTC"))
            .await,
    ];
    for id in ids {
        h.consumed(id).await;
    }
    let d = dashboard(&h)
        .get_dashboard(authed(GetDashboardRequest::default(), &h.token(ada)))
        .await
        .expect("a partial dashboard, not an error")
        .into_inner();
    assert_eq!(d.timezone, "Europe/Paris");
    let study = d.study.expect("study");
    assert_eq!(
        convert::from_date(study.week_start.as_ref().unwrap()),
        Some(date!(2026 - 03 - 02))
    );
    assert_eq!(study.sessions_completed, 2);
    assert_eq!(study.active_days, 2);
    assert_eq!(study.active_duration.unwrap().seconds, 70 * 60);
    assert_eq!(study.lessons_completed, 1);
    assert_eq!(study.topics_started, 1);
    assert_eq!(study.average_mastery, 25.0);
    let streaks = d.streaks.expect("streaks");
    assert_eq!((streaks.current, streaks.longest), (2, 2));
    assert!(d.xp.is_none(), "XP is challenge's");
    assert_eq!(d.weak_topics.len(), 1);
    assert!(d.recommendation.is_none());
    assert!(d.leaderboard.is_none());
    let missing: Vec<_> = d.missing.iter().map(|m| m.part.as_str()).collect();
    assert!(missing.contains(&"recommendation"), "{missing:?}");
    assert!(missing.contains(&"leaderboard"), "{missing:?}");
    assert!(missing.contains(&"xp"), "{missing:?}");
    for m in &d.missing {
        assert!(!m.reason.is_empty());
    }
    let reason = |part: &str| {
        d.missing
            .iter()
            .find(|m| m.part == part)
            .map(|m| m.reason.clone())
            .unwrap_or_default()
    };
    assert_eq!(reason("recommendation"), "ai-coach is unavailable");
    assert_eq!(reason("leaderboard"), "challenge is unavailable");

    let err = dashboard(&h)
        .get_dashboard(GetDashboardRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    h.stop().await;
}

#[tokio::test]
async fn a_peer_that_never_answers_is_named_late() {
    // A listener that accepts connections and never speaks: the HTTP/2 handshake never ends.
    let hole = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = hole.local_addr().unwrap();
    let held = tokio::spawn(async move {
        let mut conns = Vec::new();
        while let Ok((c, _)) = hole.accept().await {
            conns.push(c);
        }
    });
    let url = format!("http://{addr}");
    let (h, _p) = start_with_peers(datetime!(2026-03-05 12:00 UTC), &url, &url).await;
    let ada = Uuid::now_v7();
    let d = dashboard(&h)
        .get_dashboard(authed(GetDashboardRequest::default(), &h.token(ada)))
        .await
        .expect("a partial dashboard")
        .into_inner();
    let reasons: Vec<_> = d
        .missing
        .iter()
        .map(|m| (m.part.as_str(), m.reason.as_str()))
        .collect();
    assert!(
        reasons.contains(&("recommendation", "ai-coach did not answer within 1500ms")),
        "{reasons:?}"
    );
    assert!(
        reasons.contains(&("leaderboard", "challenge did not answer within 1500ms")),
        "{reasons:?}"
    );
    held.abort();
    h.stop().await;
}

#[tokio::test]
async fn the_csv_export_has_a_row_per_date_of_the_callers_figures() {
    let (h, p) = start(datetime!(2026-03-10 12:00 UTC)).await;
    let (ada, bob) = (Uuid::now_v7(), Uuid::now_v7());
    let ids = [
        p.publish(&session(
            ada,
            "focus",
            datetime!(2026-03-02 09:00 UTC),
            25,
            "UTC",
        ))
        .await,
        p.publish(&session(
            ada,
            "workout",
            datetime!(2026-03-02 18:00 UTC),
            40,
            "UTC",
        ))
        .await,
        p.publish(&award(ada, date!(2026 - 03 - 03), 50)).await,
        p.publish(&session(
            bob,
            "focus",
            datetime!(2026-03-02 09:00 UTC),
            25,
            "UTC",
        ))
        .await,
    ];
    for id in ids {
        h.consumed(id).await;
    }
    let req = |start, end| ExportFiguresCsvRequest {
        start_date: Some(convert::date(start)),
        end_date: Some(convert::date(end)),
    };
    let csv = figures(&h)
        .export_figures_csv(authed(
            req(date!(2026 - 03 - 01), date!(2026 - 03 - 03)),
            &h.token(ada),
        ))
        .await
        .expect("csv")
        .into_inner();
    assert_eq!(csv.content_type, "text/csv; charset=utf-8");
    assert_eq!(csv.filename, "stride-figures-2026-03-01-2026-03-03.csv");
    assert_eq!(csv.row_count, 3);
    assert_eq!(
        csv.csv,
        "date,sessions_completed,focus_sessions,active_seconds,active_minutes,points\r\n\
         2026-03-01,0,0,0,0,0\r\n\
         2026-03-02,2,1,3900,65,0\r\n\
         2026-03-03,0,0,0,0,50\r\n"
    );
    let err = figures(&h)
        .export_figures_csv(authed(
            req(date!(2026 - 03 - 03), date!(2026 - 03 - 01)),
            &h.token(ada),
        ))
        .await
        .unwrap_err();
    assert_invalid(&err, &["end_date"]);
    let err = figures(&h)
        .export_figures_csv(authed(ExportFiguresCsvRequest::default(), &h.token(ada)))
        .await
        .unwrap_err();
    assert_invalid(&err, &["start_date", "end_date"]);
    h.stop().await;
}

#[tokio::test]
async fn share_links_show_the_frozen_card_without_a_token_until_they_expire_or_are_revoked() {
    let (h, p) = start(datetime!(2026-03-10 12:00 UTC)).await;
    let (ada, eve) = (Uuid::now_v7(), Uuid::now_v7());
    let ids = [
        p.publish(&stride_testkit::fixtures::profile_updated(
            ada,
            "Ada L.",
            "UTC",
            1,
            h.clock.now(),
        ))
        .await,
        p.publish(&session(
            ada,
            "focus",
            datetime!(2026-03-02 09:00 UTC),
            25,
            "UTC",
        ))
        .await,
        p.publish(&session(
            ada,
            "focus",
            datetime!(2026-03-03 09:00 UTC),
            25,
            "UTC",
        ))
        .await,
        p.publish(&award(ada, date!(2026 - 03 - 03), 75)).await,
    ];
    for id in ids {
        h.consumed(id).await;
    }
    let created = shares(&h)
        .create_share_card(authed(
            CreateShareCardRequest {
                kind: ShareCardKind::RangeSummary as i32,
                start_date: Some(convert::date(date!(2026 - 03 - 01))),
                end_date: Some(convert::date(date!(2026 - 03 - 07))),
                ttl: Some(convert::duration(Duration::days(2))),
                show_display_name: true,
            },
            &h.token(ada),
        ))
        .await
        .expect("create")
        .into_inner();
    assert_eq!(created.token.len(), 43, "256 bits, base64url");
    let card = created.card.expect("card");
    assert!(card.active);

    // Public: no token at all.
    let read = |token: String| {
        let mut c = shares(&h);
        async move { c.get_shared_card(GetSharedCardRequest { token }).await }
    };
    let shown = read(created.token.clone())
        .await
        .expect("public read")
        .into_inner();
    let c = shown.content.expect("content");
    assert_eq!(c.kind, ShareCardKind::RangeSummary as i32);
    assert_eq!(c.display_name, "Ada L.");
    assert_eq!(
        (c.sessions_completed, c.focus_sessions, c.active_days),
        (2, 2, 2)
    );
    assert_eq!(c.active_duration.unwrap().seconds, 50 * 60);
    assert_eq!(c.points, 75);

    // Frozen: a later session does not change the card.
    let id = p
        .publish(&session(
            ada,
            "focus",
            datetime!(2026-03-04 09:00 UTC),
            25,
            "UTC",
        ))
        .await;
    h.consumed(id).await;
    let again = read(created.token.clone()).await.unwrap().into_inner();
    assert_eq!(again.content.unwrap().sessions_completed, 2);

    // Unknown tokens: NOT_FOUND.
    let err = read("A".repeat(43)).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = read(String::new()).await.unwrap_err();
    assert_invalid(&err, &["token"]);

    // Another user cannot revoke (or see) it: NOT_FOUND, and the link still works.
    let err = shares(&h)
        .revoke_share_card(authed(
            RevokeShareCardRequest {
                card_id: card.card_id.clone(),
            },
            &h.token(eve),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let eves = shares(&h)
        .list_share_cards(authed(ListShareCardsRequest::default(), &h.token(eve)))
        .await
        .unwrap()
        .into_inner();
    assert!(eves.cards.is_empty());
    read(created.token.clone()).await.expect("still works");

    // Expiry: one second before, it answers; at the expiry, the same NOT_FOUND.
    h.clock.advance(Duration::days(2) - Duration::seconds(1));
    read(created.token.clone()).await.expect("not yet expired");
    h.clock.advance(Duration::seconds(1));
    let err = read(created.token.clone()).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let mine = shares(&h)
        .list_share_cards(authed(ListShareCardsRequest::default(), &h.token(ada)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(mine.cards.len(), 1);
    assert!(!mine.cards[0].active, "expired");

    // Revocation: a streak card, revoked, answers NOT_FOUND at once; revoking twice is a no-op.
    let streak = shares(&h)
        .create_share_card(authed(
            CreateShareCardRequest {
                kind: ShareCardKind::Streak as i32,
                ..Default::default()
            },
            &h.token(ada),
        ))
        .await
        .unwrap()
        .into_inner();
    let c = read(streak.token.clone())
        .await
        .unwrap()
        .into_inner()
        .content
        .unwrap();
    assert_eq!(c.kind, ShareCardKind::Streak as i32);
    assert_eq!(c.longest_streak, 3);
    assert_eq!(c.display_name, "", "not asked to show the name");
    let revoke = RevokeShareCardRequest {
        card_id: streak.card.unwrap().card_id,
    };
    let first = shares(&h)
        .revoke_share_card(authed(revoke.clone(), &h.token(ada)))
        .await
        .unwrap()
        .into_inner()
        .card
        .unwrap();
    assert!(!first.active);
    h.clock.advance(Duration::minutes(1));
    let second = shares(&h)
        .revoke_share_card(authed(revoke, &h.token(ada)))
        .await
        .unwrap()
        .into_inner()
        .card
        .unwrap();
    assert_eq!(first.revoke_time, second.revoke_time);
    let err = read(streak.token).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);

    // Pages: newest first, one per page.
    let page = shares(&h)
        .list_share_cards(authed(
            ListShareCardsRequest {
                page_size: 1,
                page_token: String::new(),
            },
            &h.token(ada),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page.cards.len(), 1);
    assert_eq!(
        page.cards[0].content.as_ref().unwrap().kind,
        ShareCardKind::Streak as i32
    );
    let next = shares(&h)
        .list_share_cards(authed(
            ListShareCardsRequest {
                page_size: 1,
                page_token: page.next_page_token,
            },
            &h.token(ada),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(next.cards[0].card_id, card.card_id);
    assert!(next.next_page_token.is_empty());
    h.stop().await;
}

#[tokio::test]
async fn share_card_requests_name_their_bad_fields() {
    let (h, _p) = start(datetime!(2026-03-10 12:00 UTC)).await;
    let ada = Uuid::now_v7();
    let create = |req: CreateShareCardRequest| {
        let mut c = shares(&h);
        let token = h.token(ada);
        async move { c.create_share_card(authed(req, &token)).await.unwrap_err() }
    };
    let err = create(CreateShareCardRequest::default()).await;
    assert_invalid(&err, &["kind"]);
    let err = create(CreateShareCardRequest {
        kind: ShareCardKind::RangeSummary as i32,
        ttl: Some(convert::duration(Duration::minutes(5))),
        ..Default::default()
    })
    .await;
    assert_invalid(&err, &["ttl", "start_date", "end_date"]);
    let err = create(CreateShareCardRequest {
        kind: ShareCardKind::RangeSummary as i32,
        start_date: Some(convert::date(date!(2026 - 03 - 01))),
        end_date: Some(convert::date(date!(2026 - 03 - 20))),
        ..Default::default()
    })
    .await;
    assert_invalid(&err, &["end_date"]);
    let err = shares(&h)
        .revoke_share_card(authed(
            RevokeShareCardRequest {
                card_id: "nope".into(),
            },
            &h.token(ada),
        ))
        .await
        .unwrap_err();
    assert_invalid(&err, &["card_id"]);
    let err = shares(&h)
        .list_share_cards(authed(
            ListShareCardsRequest {
                page_size: 101,
                page_token: String::new(),
            },
            &h.token(ada),
        ))
        .await
        .unwrap_err();
    assert_invalid(&err, &["page_size"]);
    let err = shares(&h)
        .create_share_card(CreateShareCardRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    h.stop().await;
}

#[tokio::test]
async fn a_merge_moves_evaluations_mastery_and_cards_counting_nothing_twice() {
    let (h, p) = start(datetime!(2026-03-10 12:00 UTC)).await;
    let (guest, target) = (Uuid::now_v7(), Uuid::now_v7());
    let at = datetime!(2026-03-09 10:00 UTC);
    // Both completed the same lesson; each took a quiz and was evaluated once.
    let ids = [
        p.publish(&fixtures::lesson_completed(guest, at, "UTC"))
            .await,
        p.publish(&fixtures::lesson_completed(target, at, "UTC"))
            .await,
        p.publish(&fixtures::quiz_completed(guest, 2, 4, at, "UTC"))
            .await,
        p.publish(&fixtures::quiz_completed(
            target,
            4,
            4,
            at + Duration::hours(1),
            "UTC",
        ))
        .await,
        p.publish(&evaluation(guest, at, 40, 40, &["Pause"])).await,
        p.publish(&evaluation(
            target,
            at + Duration::days(-7),
            60,
            60,
            &["pause"],
        ))
        .await,
    ];
    for id in ids {
        h.consumed(id).await;
    }
    let card = shares(&h)
        .create_share_card(authed(
            CreateShareCardRequest {
                kind: ShareCardKind::Streak as i32,
                ..Default::default()
            },
            &h.token(guest),
        ))
        .await
        .unwrap()
        .into_inner();

    let auth = Publisher::start(&h.amqp, "auth").await;
    let merged = fixtures::user_merged(&guest.to_string(), &target.to_string(), h.clock.now());
    let id = auth.publish(&merged).await;
    h.consumed(id).await;

    let m = mastery(&h)
        .get_topic_mastery(authed(GetTopicMasteryRequest::default(), &h.token(target)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(m.topics.len(), 1);
    let t = &m.topics[0];
    assert_eq!(
        t.lessons_completed, 1,
        "the lesson both completed counts once"
    );
    assert_eq!(t.quiz_attempts, 2);
    assert_eq!(t.average_quiz_score, 75.0);
    assert_eq!(t.latest_quiz_score, 100);
    let tr = trends(&h)
        .get_evaluation_trends(authed(
            GetEvaluationTrendsRequest::default(),
            &h.token(target),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(tr.evaluation_count, 2);
    assert_eq!(tr.recurring_improvement_areas.len(), 1);
    let cards = shares(&h)
        .list_share_cards(authed(ListShareCardsRequest::default(), &h.token(target)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(cards.cards.len(), 1, "the guest's card is the target's now");
    shares(&h)
        .get_shared_card(GetSharedCardRequest { token: card.token })
        .await
        .expect("its link still works");
    // The guest has nothing left.
    let m = mastery(&h)
        .get_topic_mastery(authed(GetTopicMasteryRequest::default(), &h.token(guest)))
        .await
        .unwrap()
        .into_inner();
    assert!(m.topics.is_empty());

    // A redelivered merge (new event id) finds nothing of the guest: nothing doubles.
    let id = auth.publish(&merged).await;
    h.consumed(id).await;
    let m = mastery(&h)
        .get_topic_mastery(authed(GetTopicMasteryRequest::default(), &h.token(target)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (m.topics[0].lessons_completed, m.topics[0].quiz_attempts),
        (1, 2)
    );
    h.stop().await;
}
