//! The product flow: sign up, profile, sessions, challenge, leaderboard, summary, coach — plus
//! the hostile cases.

use std::time::Duration;

use bytes::Bytes;
use stride_e2e::{Clients, Mesh};
use stride_proto::{
    activity_session::{
        ActivityKind, CompleteSessionRequest, GetCurrentSessionRequest, ListActivitiesRequest,
        StartSessionRequest,
    },
    ai_coach::{GetRecommendationRequest, RecommendationSource},
    analytics::GetProgressSummaryRequest,
    auth::{DeleteAccountRequest, LoginRequest, RefreshRequest, SignupRequest},
    challenge::{
        GetChallengeRequest, GetLeaderboardRequest, JoinChallengeRequest, ListChallengesRequest,
        ListPointsHistoryRequest,
    },
    profile::{GetMyProfileRequest, Profile, UpdateMyProfileRequest},
};
use stride_testkit::{EVENT_DEADLINE, authed, eventually};
use tonic::{Code, client::GrpcService};
use tonic_types::StatusExt;

type StdError = Box<dyn std::error::Error + Send + Sync>;

/// The challenge entries of the caller's points history.
async fn challenge_points<T>(c: &Clients<T>, tok: &str) -> Vec<i32>
where
    T: GrpcService<tonic::body::Body> + Clone,
    T::Error: Into<StdError>,
    T::ResponseBody: http_body::Body<Data = Bytes> + Send + 'static,
    <T::ResponseBody as http_body::Body>::Error: Into<StdError> + Send,
{
    c.rewards
        .clone()
        .list_points_history(authed(ListPointsHistoryRequest::default(), tok))
        .await
        .expect("points history")
        .into_inner()
        .entries
        .into_iter()
        .filter(|e| e.reason == "challenge")
        .map(|e| e.points)
        .collect()
}

fn fields(status: &tonic::Status) -> Vec<String> {
    status
        .get_error_details()
        .bad_request()
        .map(|b| b.field_violations.iter().map(|f| f.field.clone()).collect())
        .unwrap_or_default()
}

struct User {
    id: String,
    access: String,
}

async fn signup<T>(c: &mut Clients<T>, name: &str) -> User
where
    T: GrpcService<tonic::body::Body> + Clone + Send,
    T::Error: Into<StdError>,
    T::ResponseBody: http_body::Body<Data = Bytes> + Send + 'static,
    <T::ResponseBody as http_body::Body>::Error: Into<StdError> + Send,
{
    let res = c
        .auth
        .signup(SignupRequest {
            email: format!("{name}@example.com"),
            username: name.to_owned(),
            password: "correct horse battery".into(),
            timezone: "America/New_York".into(),
        })
        .await
        .expect("signup")
        .into_inner();
    let user = res.user.expect("user");
    User {
        id: user.id,
        access: res.tokens.expect("tokens").access_token,
    }
}

pub async fn run<T>(mesh: &Mesh, mut c: Clients<T>)
where
    T: GrpcService<tonic::body::Body> + Clone + Send,
    T::Error: Into<StdError>,
    T::ResponseBody: http_body::Body<Data = Bytes> + Send + 'static,
    <T::ResponseBody as http_body::Body>::Error: Into<StdError> + Send,
{
    let suffix = uuid::Uuid::now_v7().simple().to_string();
    let alice_name = format!("alice{}", &suffix[20..]);
    let bob_name = format!("bob{}", &suffix[20..]);

    // --- auth: sign up, log in, refresh (rotation) ---
    let alice = signup(&mut c, &alice_name).await;
    let login = c
        .auth
        .login(LoginRequest {
            email: format!("{alice_name}@example.com"),
            password: "correct horse battery".into(),
        })
        .await
        .expect("login")
        .into_inner();
    let refresh = login.tokens.expect("tokens").refresh_token;
    let rotated = c
        .auth
        .refresh(RefreshRequest {
            refresh_token: refresh.clone(),
        })
        .await
        .expect("refresh")
        .into_inner();
    assert_ne!(
        rotated.tokens.as_ref().expect("tokens").refresh_token,
        refresh,
        "refresh rotates the token"
    );
    let wrong = c
        .auth
        .login(LoginRequest {
            email: format!("{alice_name}@example.com"),
            password: "wrong password!".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), Code::Unauthenticated);
    let bob = signup(&mut c, &bob_name).await;
    let tok = alice.access.clone();

    // --- profile: created from user.registered.v1, then updated ---
    let profile = eventually(
        EVENT_DEADLINE,
        "alice's profile is created from user.registered.v1",
        || {
            let mut p = c.profile.clone();
            let tok = tok.clone();
            async move {
                p.get_my_profile(authed(GetMyProfileRequest {}, &tok))
                    .await
                    .ok()
                    .and_then(|r| r.into_inner().profile)
            }
        },
    )
    .await;
    assert_eq!(profile.user_id, alice.id);
    assert_eq!(profile.display_name, alice_name);
    assert_eq!(
        profile.timezone, "America/New_York",
        "the sign-up timezone seeds the profile"
    );
    let updated = c
        .profile
        .update_my_profile(authed(
            UpdateMyProfileRequest {
                profile: Some(Profile {
                    display_name: "Alice".into(),
                    timezone: "Europe/Paris".into(),
                    locale: "fr".into(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types_mask(&["display_name", "timezone", "locale"])),
            },
            &tok,
        ))
        .await
        .expect("update profile")
        .into_inner()
        .profile
        .expect("profile");
    assert_eq!(
        (
            updated.display_name.as_str(),
            updated.timezone.as_str(),
            updated.locale.as_str()
        ),
        ("Alice", "Europe/Paris", "fr")
    );
    let bad = c
        .profile
        .update_my_profile(authed(
            UpdateMyProfileRequest {
                profile: Some(Profile {
                    timezone: "Mars/Olympus_Mons".into(),
                    locale: "xx".into(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types_mask(&["timezone", "locale"])),
            },
            &tok,
        ))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    let f = fields(&bad);
    assert!(
        f.iter().any(|x| x.contains("timezone")) && f.iter().any(|x| x.contains("locale")),
        "{f:?}"
    );

    // --- catalog and challenge ---
    let activities = c
        .catalog
        .list_activities(authed(
            ListActivitiesRequest {
                page_size: 100,
                ..Default::default()
            },
            &tok,
        ))
        .await
        .expect("activities")
        .into_inner()
        .activities;
    let focus = activities
        .iter()
        .find(|a| a.kind() == ActivityKind::Focus)
        .expect("a focus activity")
        .clone();
    assert_eq!(
        focus.default_duration.as_ref().map(|d| d.seconds),
        Some(25 * 60)
    );
    let challenges = c
        .challenge
        .list_challenges(authed(ListChallengesRequest::default(), &tok))
        .await
        .expect("challenges")
        .into_inner()
        .challenges;
    let weekly = challenges
        .iter()
        .find(|ch| ch.is_system && ch.activity_kind == "focus")
        .expect("the weekly focus challenge")
        .clone();
    c.challenge
        .join_challenge(authed(
            JoinChallengeRequest {
                challenge_id: weekly.id.clone(),
            },
            &tok,
        ))
        .await
        .expect("join");

    // The zone reaches activity-session through profile.updated.v1; wait until sessions use it.
    // --- three focus sessions of 25 minutes, on the server's clock ---
    let mut first_session = String::new();
    for i in 0..3 {
        let started = c
            .sessions
            .start_session(authed(
                StartSessionRequest {
                    activity_id: focus.id.clone(),
                    planned_duration: None,
                    ..Default::default()
                },
                &tok,
            ))
            .await
            .expect("start")
            .into_inner()
            .session
            .expect("session");
        if i == 0 {
            let again = c
                .sessions
                .start_session(authed(
                    StartSessionRequest {
                        activity_id: focus.id.clone(),
                        planned_duration: None,
                        ..Default::default()
                    },
                    &tok,
                ))
                .await
                .unwrap_err();
            assert_eq!(
                again.code(),
                Code::FailedPrecondition,
                "one active session per user"
            );
            let current = c
                .sessions
                .get_current_session(authed(GetCurrentSessionRequest {}, &tok))
                .await
                .expect("current");
            assert_eq!(
                current.into_inner().session.map(|s| s.id),
                Some(started.id.clone())
            );
            // Bob cannot complete Alice's session: it does not exist for him.
            let theft = c
                .sessions
                .complete_session(authed(
                    CompleteSessionRequest {
                        session_id: started.id.clone(),
                    },
                    &bob.access,
                ))
                .await
                .unwrap_err();
            assert_eq!(theft.code(), Code::NotFound);
            first_session = started.id.clone();
        }
        mesh.clock.advance(time::Duration::minutes(25));
        let done = c
            .sessions
            .complete_session(authed(
                CompleteSessionRequest {
                    session_id: started.id.clone(),
                },
                &tok,
            ))
            .await
            .expect("complete")
            .into_inner()
            .session
            .expect("session");
        assert_eq!(
            done.duration.as_ref().map(|d| d.seconds),
            Some(25 * 60),
            "server-computed duration"
        );
        mesh.clock.advance(time::Duration::minutes(5));
    }
    assert!(!first_session.is_empty());

    // --- challenge progress, completion, points, leaderboard ---
    let progress = eventually(EVENT_DEADLINE, "challenge progress reaches 3/3", || {
        let mut ch = c.challenge.clone();
        let (tok, id) = (tok.clone(), weekly.id.clone());
        async move {
            let p = ch
                .get_challenge(authed(GetChallengeRequest { challenge_id: id }, &tok))
                .await
                .ok()?
                .into_inner()
                .my_progress?;
            (p.current >= 3 && p.completed).then_some(p)
        }
    })
    .await;
    assert_eq!((progress.current, progress.target), (3, 3));
    // The week's board (the default period): the challenge's points, plus those of the
    // achievements the sessions unlocked (first_session, first_challenge, …).
    let board = eventually(EVENT_DEADLINE, "points reach the leaderboard", || {
        let mut lb = c.leaderboards.clone();
        let tok = tok.clone();
        let alice_id = alice.id.clone();
        async move {
            let b = lb
                .get_leaderboard(authed(
                    GetLeaderboardRequest {
                        top_n: 10,
                        around: 2,
                        ..Default::default()
                    },
                    &tok,
                ))
                .await
                .ok()?
                .into_inner();
            // Points (the challenge's and the achievements it unlocked) and the display name arrive by different events (challenge's own award,
            // profile.updated.v1): wait for both.
            let named = b
                .entries
                .iter()
                .any(|e| e.user_id == alice_id && e.display_name == "Alice");
            (b.me.as_ref()?.points > i64::from(weekly.points) && named).then_some(b)
        }
    })
    .await;
    assert_eq!(challenge_points(&c, &tok).await, [weekly.points]);
    let me = board.me.expect("my entry");
    assert_eq!(
        (me.user_id.as_str(), me.display_name.as_str()),
        (alice.id.as_str(), "Alice")
    );
    assert!(me.rank >= 1 && me.is_me);
    // Other tests share the mesh (and this week's board): Alice is around herself, not
    // necessarily in the top 10.
    assert!(
        board
            .around_me
            .iter()
            .any(|e| e.user_id == alice.id && e.display_name == "Alice" && e.rank == me.rank)
    );
    assert!(board.entries.len() <= 10);
    let bob_board = c
        .leaderboards
        .clone()
        .get_leaderboard(authed(
            GetLeaderboardRequest {
                top_n: 10,
                ..Default::default()
            },
            &bob.access,
        ))
        .await
        .expect("board")
        .into_inner();
    assert_eq!(bob_board.me.expect("bob's entry").points, 0);

    // --- weekly summary and streak on Alice's local dates ---
    let summary = eventually(
        EVENT_DEADLINE,
        "analytics counts the three sessions",
        || {
            let mut a = c.analytics.clone();
            let tok = tok.clone();
            async move {
                let s = a
                    .get_progress_summary(authed(GetProgressSummaryRequest::default(), &tok))
                    .await
                    .ok()?
                    .into_inner();
                (s.sessions_completed == 3).then_some(s)
            }
        },
    )
    .await;
    assert_eq!(summary.focus_sessions, 3);
    assert_eq!(summary.days.len(), 7);
    assert_eq!(
        summary.total_duration.as_ref().map(|d| d.seconds),
        Some(3 * 25 * 60)
    );
    assert!(summary.current_streak >= 1);

    // --- the coach answers from that progress (rules: no LLM configured here) ---
    let rec = c
        .coach
        .get_recommendation(authed(
            GetRecommendationRequest {
                goal: "stay focused".into(),
            },
            &tok,
        ))
        .await
        .expect("recommendation")
        .into_inner();
    assert_eq!(rec.source(), RecommendationSource::Rules);
    assert!(
        rec.text.contains('3'),
        "the recommendation uses the week's figures: {}",
        rec.text
    );
    assert!(
        activities.iter().any(|a| a.id == rec.suggested_activity_id),
        "suggests a real activity"
    );

    // --- hostile callers ---
    let anon = c
        .profile
        .get_my_profile(GetMyProfileRequest {})
        .await
        .unwrap_err();
    assert_eq!(anon.code(), Code::Unauthenticated, "no token");
    let forged = c
        .profile
        .get_my_profile(authed(GetMyProfileRequest {}, "eyJhbGciOiJub25lIn0.e30."))
        .await
        .unwrap_err();
    assert_eq!(forged.code(), Code::Unauthenticated, "alg none");
    let malformed = c
        .sessions
        .complete_session(authed(
            CompleteSessionRequest {
                session_id: "not-a-uuid".into(),
            },
            &tok,
        ))
        .await
        .unwrap_err();
    assert_eq!(malformed.code(), Code::InvalidArgument);
    assert_eq!(fields(&malformed), ["session_id"]);
    let other = c
        .challenge
        .get_challenge(authed(
            GetChallengeRequest {
                challenge_id: uuid::Uuid::now_v7().to_string(),
            },
            &tok,
        ))
        .await
        .unwrap_err();
    assert_eq!(other.code(), Code::NotFound);
    let weak = c
        .auth
        .signup(SignupRequest {
            email: "nope".into(),
            username: "x".into(),
            password: "short".into(),
            timezone: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(weak.code(), Code::InvalidArgument);
    let f = fields(&weak);
    for field in ["email", "username", "password"] {
        assert!(f.iter().any(|x| x == field), "{field} in {f:?}");
    }
    let huge = c
        .coach
        .get_recommendation(authed(
            GetRecommendationRequest {
                // Over the gateway's 4 MiB message limit.
                goal: "x".repeat(4 * 1024 * 1024 + 1),
            },
            &tok,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        huge.code(),
        Code::ResourceExhausted,
        "the gateway refuses oversized messages"
    );

    // --- a redelivered session.completed.v1 changes nothing ---
    redeliver_session_completed(mesh).await;
    // A fourth session proves the consumers moved past the duplicate.
    let s4 = c
        .sessions
        .start_session(authed(
            StartSessionRequest {
                activity_id: focus.id.clone(),
                planned_duration: None,
                ..Default::default()
            },
            &tok,
        ))
        .await
        .expect("start")
        .into_inner()
        .session
        .expect("session");
    mesh.clock.advance(time::Duration::minutes(25));
    c.sessions
        .complete_session(authed(CompleteSessionRequest { session_id: s4.id }, &tok))
        .await
        .expect("complete");
    let summary = eventually(EVENT_DEADLINE, "analytics sees the fourth session", || {
        let mut a = c.analytics.clone();
        let tok = tok.clone();
        async move {
            let s = a
                .get_progress_summary(authed(GetProgressSummaryRequest::default(), &tok))
                .await
                .ok()?
                .into_inner();
            (s.sessions_completed >= 4).then_some(s)
        }
    })
    .await;
    wait_inbox(&mesh.databases.analytics, 4).await;
    wait_inbox(&mesh.databases.challenge, 4).await;
    assert_eq!(
        summary.sessions_completed, 4,
        "the duplicate was not counted"
    );
    let p = c
        .challenge
        .get_challenge(authed(
            GetChallengeRequest {
                challenge_id: weekly.id.clone(),
            },
            &tok,
        ))
        .await
        .expect("challenge")
        .into_inner()
        .my_progress
        .expect("progress");
    assert_eq!(p.current, 4);
    assert_eq!(
        challenge_points(&c, &tok).await,
        [weekly.points],
        "points awarded once"
    );

    // --- deleting an account leaves no row of that user in any service ---
    let bob_id = uuid::Uuid::parse_str(&bob.id).expect("uuid");
    let dbs = &mesh.databases;
    let all = [
        &dbs.auth,
        &dbs.profile,
        &dbs.activity_session,
        &dbs.challenge,
        &dbs.analytics,
        &dbs.ai_coach,
    ];
    eventually(
        EVENT_DEADLINE,
        "bob's profile data has spread to the services",
        || async {
            (rows_of_user(&dbs.challenge, bob_id).await > 0
                && rows_of_user(&dbs.analytics, bob_id).await > 0)
                .then_some(())
        },
    )
    .await;
    let wrong = c
        .auth
        .delete_account(authed(
            DeleteAccountRequest {
                password: "not the password".into(),
                proof: None,
            },
            &bob.access,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        wrong.code(),
        Code::Unauthenticated,
        "deletion re-checks the password"
    );
    c.auth
        .delete_account(authed(
            DeleteAccountRequest {
                password: "correct horse battery".into(),
                proof: None,
            },
            &bob.access,
        ))
        .await
        .expect("delete account");
    for db in all {
        eventually(
            EVENT_DEADLINE,
            "user.deleted.v1 purges every service",
            || async { (rows_of_user(db, bob_id).await == 0).then_some(()) },
        )
        .await;
    }
    let alice_id = uuid::Uuid::parse_str(&alice.id).expect("uuid");
    assert!(
        rows_of_user(&dbs.profile, alice_id).await > 0,
        "other users stay"
    );
}

/// Rows that still name `user` in a service's database: every `user_id` column, plus auth's
/// own `users.id`.
async fn rows_of_user(db: &str, user: uuid::Uuid) -> i64 {
    let pool = sqlx::PgPool::connect(db).await.expect("db");
    let mut total: i64 = stride_testkit::bus::user_rows(&pool, user)
        .await
        .iter()
        .map(|(_, n)| n)
        .sum();
    let (has_users,): (bool,) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM information_schema.columns
                        WHERE table_schema = 'public' AND table_name = 'users' AND column_name = 'id')",
    )
    .fetch_one(&pool)
    .await
    .expect("users table");
    if has_users {
        let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM users WHERE id = $1")
            .bind(user)
            .fetch_one(&pool)
            .await
            .expect("count");
        total += n;
    }
    pool.close().await;
    total
}

fn prost_types_mask(paths: &[&str]) -> prost_types::FieldMask {
    prost_types::FieldMask {
        paths: paths.iter().map(|p| (*p).to_owned()).collect(),
    }
}

/// Marks activity-session's first published `session.completed.v1` as unpublished: its relay sends
/// the same event (same id) again, exactly as after a crash between publish and mark.
async fn redeliver_session_completed(mesh: &Mesh) {
    let pool = sqlx::PgPool::connect(&mesh.databases.activity_session)
        .await
        .expect("db");
    let (id,): (uuid::Uuid,) = sqlx::query_as(
        "UPDATE outbox SET published_at = NULL WHERE id = (SELECT id FROM outbox WHERE event_type = 'session.completed.v1' ORDER BY id LIMIT 1) RETURNING id",
    )
    .fetch_one(&pool)
    .await
    .expect("an already published event");
    eventually(
        Duration::from_secs(20),
        "the relay republishes the event",
        || {
            let pool = pool.clone();
            async move {
                let (published,): (bool,) =
                    sqlx::query_as("SELECT published_at IS NOT NULL FROM outbox WHERE id = $1")
                        .bind(id)
                        .fetch_one(&pool)
                        .await
                        .ok()?;
                published.then_some(())
            }
        },
    )
    .await;
}

/// Waits until a consumer's inbox holds `n` session events (the duplicate was seen and absorbed).
async fn wait_inbox(db: &str, n: i64) {
    let pool = sqlx::PgPool::connect(db).await.expect("db");
    eventually(
        EVENT_DEADLINE,
        "inbox holds every distinct session event",
        || {
            let pool = pool.clone();
            async move {
                let (count,): (i64,) = sqlx::query_as(
                    "SELECT count(*) FROM inbox WHERE event_type = 'session.completed.v1'",
                )
                .fetch_one(&pool)
                .await
                .ok()?;
                (count == n).then_some(())
            }
        },
    )
    .await;
}
