//! Facebook access tokens against a stand-in Graph API (`stride_testkit::facebook`) speaking
//! debug_token's and /me's JSON.

use stride_idp::{FacebookConfig, FacebookGraph, IdpError, reason};
use stride_testkit::facebook::{APP_ID, APP_SECRET, Graph, TokenInfo};

const NOW: i64 = 1_800_000_000;

fn graph(g: &Graph) -> FacebookGraph {
    FacebookGraph::new(FacebookConfig {
        app_id: APP_ID.into(),
        app_secret: APP_SECRET.into(),
        graph_url: g.url.clone(),
    })
    .unwrap()
}

#[tokio::test]
async fn a_valid_token_of_our_app_names_its_user() {
    let g = Graph::start().await;
    g.add_token("EAAGood", TokenInfo::user("10158", NOW + 3600));
    let user = graph(&g).verify_access_token("EAAGood", NOW).await.unwrap();
    assert_eq!(user.id, "10158");
    assert_eq!(user.name.as_deref(), Some("Ann Lee"));
    assert_eq!(user.email.as_deref(), Some("ann@example.com"));
    // expires_at 0 means the token does not expire.
    g.add_token("EAAForever", TokenInfo::user("10159", 0));
    assert!(
        graph(&g)
            .verify_access_token("EAAForever", NOW)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn hostile_tokens_are_refused_with_their_reason() {
    let g = Graph::start().await;
    g.add_token(
        "EAAOtherApp",
        TokenInfo {
            app_id: "999".into(),
            ..TokenInfo::user("1", NOW + 3600)
        },
    );
    g.add_token("EAAExpired", TokenInfo::user("2", NOW));
    g.add_token(
        "EAARevoked",
        TokenInfo {
            is_valid: false,
            ..TokenInfo::user("3", NOW + 3600)
        },
    );
    g.add_token(
        "EAAPage",
        TokenInfo {
            kind: "PAGE",
            ..TokenInfo::user("4", NOW + 3600)
        },
    );
    let cases = [
        ("EAAOtherApp", reason::FACEBOOK_TOKEN_AUDIENCE),
        ("EAAExpired", reason::FACEBOOK_TOKEN_EXPIRED),
        ("EAARevoked", reason::FACEBOOK_TOKEN_INVALID),
        ("EAAPage", reason::FACEBOOK_TOKEN_INVALID),
        ("EAAUnknown", reason::FACEBOOK_TOKEN_INVALID),
        ("", reason::FACEBOOK_TOKEN_INVALID),
        ("EAA with spaces", reason::FACEBOOK_TOKEN_INVALID),
    ];
    let fb = graph(&g);
    for (token, want) in cases {
        let got = fb.verify_access_token(token, NOW).await.unwrap_err();
        assert_eq!(got.reason(), want, "{token}: {got}");
    }
}

#[tokio::test]
async fn wrong_app_credentials_or_a_down_graph_are_unavailable_not_the_callers_fault() {
    let g = Graph::start().await;
    g.add_token("EAAGood", TokenInfo::user("10158", NOW + 3600));
    let wrong_secret = FacebookGraph::new(FacebookConfig {
        app_id: APP_ID.into(),
        app_secret: "not-the-secret".into(),
        graph_url: g.url.clone(),
    })
    .unwrap();
    let e = wrong_secret
        .verify_access_token("EAAGood", NOW)
        .await
        .unwrap_err();
    assert!(matches!(e, IdpError::KeysUnavailable(_)), "{e}");
    assert!(!format!("{e:#}").contains("not-the-secret"), "{e:#}");
    assert!(!format!("{e:#}").contains("EAAGood"), "{e:#}");

    g.set_failing(true);
    let e = graph(&g)
        .verify_access_token("EAAGood", NOW)
        .await
        .unwrap_err();
    assert_eq!(e.reason(), reason::IDP_UNAVAILABLE);
}
