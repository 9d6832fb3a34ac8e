//! ListSessions, RevokeSession, Logout and LogoutAll: each sign-in is a session, the caller's
//! own only.

use stride_proto::auth as pb;
use stride_testkit::{authed, bus::assert_invalid};
use tonic::{Code, Status};

use crate::support::{Auth, before_now, login, refresh, sessions, signup, start, start_at};

/// The id of the session `access` belongs to, as ListSessions reports it.
async fn current_session(h: &Auth, access: &str) -> String {
    let list = sessions(h, access, 0, "").await.unwrap();
    let current: Vec<_> = list.sessions.iter().filter(|s| s.current).collect();
    assert_eq!(current.len(), 1, "{list:?}");
    current[0].id.clone()
}

async fn revoke(h: &Auth, access: &str, session_id: &str) -> Result<(), Status> {
    h.client
        .clone()
        .revoke_session(authed(
            pb::RevokeSessionRequest {
                session_id: session_id.into(),
            },
            access,
        ))
        .await
        .map(drop)
}

#[tokio::test]
async fn list_sessions_shows_each_sign_in_newest_first_with_one_current() {
    // Behind real time, so tokens signed at the manual instant are already valid (nbf).
    let t0 = before_now();
    let h = start_at(t0, |_| {}).await;
    let (_, first) = signup(&h, "gil@example.com", "gil").await;
    h.clock.advance(time::Duration::seconds(10));
    let second = login(&h, "gil@example.com").await;
    h.clock.advance(time::Duration::seconds(10));
    // Using the first session moves its last use, not its creation or its place in the list.
    let first = refresh(&h, &first.refresh_token).await.unwrap();

    let list = sessions(&h, &second.access_token, 0, "").await.unwrap();
    assert_eq!(list.sessions.len(), 2, "{list:?}");
    assert!(list.next_page_token.is_empty());
    let (newest, oldest) = (&list.sessions[0], &list.sessions[1]);
    assert!(newest.current && !oldest.current);
    let secs = |t: &Option<prost_types::Timestamp>| t.as_ref().unwrap().seconds;
    let at = |d: i64| (t0 + time::Duration::seconds(d)).unix_timestamp();
    assert_eq!(secs(&newest.create_time), at(10));
    assert_eq!(secs(&newest.last_use_time), at(10));
    assert_eq!(secs(&newest.expire_time), at(10) + 30 * 86_400);
    assert_eq!(secs(&oldest.create_time), at(0));
    assert_eq!(secs(&oldest.last_use_time), at(20));
    assert_eq!(secs(&oldest.expire_time), at(20) + 30 * 86_400);

    // From the other session's token, the other one is current.
    assert_eq!(current_session(&h, &first.access_token).await, oldest.id);

    // Pages of one, in the same order.
    let page1 = sessions(&h, &second.access_token, 1, "").await.unwrap();
    assert_eq!(page1.sessions.len(), 1);
    assert_eq!(page1.sessions[0].id, newest.id);
    assert!(!page1.next_page_token.is_empty());
    let page2 = sessions(&h, &second.access_token, 1, &page1.next_page_token)
        .await
        .unwrap();
    assert_eq!(page2.sessions.len(), 1);
    assert_eq!(page2.sessions[0].id, oldest.id);
    assert!(page2.next_page_token.is_empty());

    let err = sessions(&h, &second.access_token, 101, "@@")
        .await
        .unwrap_err();
    assert_invalid(&err, &["page_size", "page_token"]);
    let err = sessions(&h, &second.access_token, -1, "")
        .await
        .unwrap_err();
    assert_invalid(&err, &["page_size"]);

    // Expired sessions are gone from the list (the second one's newest token is 20 s younger).
    h.clock
        .advance(time::Duration::days(30) - time::Duration::seconds(5));
    let left = sessions(&h, &second.access_token, 0, "").await.unwrap();
    let ids: Vec<_> = left.sessions.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, [oldest.id.as_str()]);
    h.stop().await;
}

#[tokio::test]
async fn revoke_session_ends_only_that_session_of_the_caller() {
    let h = start().await;
    let (_, mine) = signup(&h, "hal@example.com", "hal").await;
    let other = login(&h, "hal@example.com").await;
    let (_, stranger) = signup(&h, "ivy@example.com", "ivy").await;
    let my_id = current_session(&h, &mine.access_token).await;
    let other_id = current_session(&h, &other.access_token).await;
    let stranger_id = current_session(&h, &stranger.access_token).await;

    // Someone else's session looks exactly like one that does not exist.
    for id in [stranger_id.clone(), uuid::Uuid::now_v7().to_string()] {
        let err = revoke(&h, &mine.access_token, &id).await.unwrap_err();
        assert_eq!(err.code(), Code::NotFound, "{id}");
    }
    refresh(&h, &stranger.refresh_token)
        .await
        .expect("the stranger's session is untouched");
    for bad in ["", "not-a-uuid"] {
        let err = revoke(&h, &mine.access_token, bad).await.unwrap_err();
        assert_invalid(&err, &["session_id"]);
    }

    revoke(&h, &mine.access_token, &other_id).await.unwrap();
    let err = refresh(&h, &other.refresh_token).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    let mine = refresh(&h, &mine.refresh_token)
        .await
        .expect("my session still works");
    let list = sessions(&h, &mine.access_token, 0, "").await.unwrap();
    let ids: Vec<_> = list.sessions.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, [my_id.as_str()]);
    // Again: already ended, still the caller's, so nothing to do and no error.
    revoke(&h, &mine.access_token, &other_id).await.unwrap();
    h.stop().await;
}

#[tokio::test]
async fn logout_ends_the_callers_own_session() {
    let mut h = start().await;
    let (_, kept) = signup(&h, "jay@example.com", "jay").await;
    let ended = login(&h, "jay@example.com").await;
    let kept_id = current_session(&h, &kept.access_token).await;

    h.client
        .logout(authed(pb::LogoutRequest {}, &ended.access_token))
        .await
        .unwrap();
    let err = refresh(&h, &ended.refresh_token).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    refresh(&h, &kept.refresh_token)
        .await
        .expect("the other session goes on");

    // By design the ended session's access token works until it expires (no revocation list);
    // it just no longer sees its session.
    let list = sessions(&h, &ended.access_token, 0, "").await.unwrap();
    assert_eq!(list.sessions.len(), 1);
    assert_eq!(list.sessions[0].id, kept_id);
    assert!(!list.sessions[0].current);
    h.stop().await;
}

#[tokio::test]
async fn logout_all_ends_every_session_and_counts_them() {
    let mut h = start().await;
    let (_, a) = signup(&h, "kim@example.com", "kim").await;
    let b = login(&h, "kim@example.com").await;
    let c = login(&h, "kim@example.com").await;
    let d = login(&h, "kim@example.com").await;
    let (_, stranger) = signup(&h, "lou@example.com", "lou").await;
    // One already ended: not counted again.
    h.client
        .logout(authed(pb::LogoutRequest {}, &d.access_token))
        .await
        .unwrap();

    let res = h
        .client
        .logout_all(authed(pb::LogoutAllRequest {}, &a.access_token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(res.revoked_sessions, 3);
    for t in [&a, &b, &c, &d] {
        let err = refresh(&h, &t.refresh_token).await.unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated);
    }
    let list = sessions(&h, &a.access_token, 0, "").await.unwrap();
    assert!(list.sessions.is_empty(), "{list:?}");
    // M3: the access token of an ended session no longer works for auth's sensitive methods.
    let again = h
        .client
        .logout_all(authed(pb::LogoutAllRequest {}, &a.access_token))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::Unauthenticated);
    assert_eq!(stride_testkit::bus::reason(&again), "SESSION_ENDED");
    refresh(&h, &stranger.refresh_token)
        .await
        .expect("other users are untouched");
    h.stop().await;
}

#[tokio::test]
async fn session_and_account_calls_need_a_token() {
    let mut h = start().await;
    let c = &mut h.client;
    let errs = [
        c.list_sessions(pb::ListSessionsRequest::default())
            .await
            .unwrap_err(),
        c.revoke_session(pb::RevokeSessionRequest {
            session_id: uuid::Uuid::now_v7().to_string(),
        })
        .await
        .unwrap_err(),
        c.logout(pb::LogoutRequest {}).await.unwrap_err(),
        c.logout_all(pb::LogoutAllRequest {}).await.unwrap_err(),
        c.delete_account(pb::DeleteAccountRequest {
            proof: None,
            password: "password-1".into(),
        })
        .await
        .unwrap_err(),
    ];
    for err in errs {
        assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");
    }
    h.stop().await;
}
