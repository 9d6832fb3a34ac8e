//! The auth harness and what auth's tests share.
//!
//! auth verifies its own tokens: it runs with a verifier over the keys it publishes in its own
//! database (`keys::DbJwks`, as `main` does), not the harness's test issuer, so `h.token(..)` is
//! of no use here: sign up or log in for a token. Its mail and SMS go to a dev sink (`h.sink`).

pub mod providers;

use std::{
    future::Future,
    ops::{Deref, DerefMut},
    sync::{Arc, RwLock},
};

use sqlx::PgPool;
use stride_auth::{Config, settings::Settings};
use stride_kit::{
    Clock as _, SystemClock, Verifier, authn::Claims, clock::SharedClock, config::CommonConfig,
    jwt::StaticJwks, serve::Running,
};
use stride_notify::DevSink;
use stride_proto::auth::{self as pb, auth_service_client::AuthServiceClient};
use stride_testkit::{EVENT_DEADLINE, ServiceHarness, authed, eventually};
use time::OffsetDateTime;
use tonic::{Status, transport::Channel};
use uuid::Uuid;

pub type Harness = ServiceHarness<AuthServiceClient<Channel>>;

/// The password every test account is created with.
pub const PASSWORD: &str = "password-1";

/// auth, started and ready, with the sink that catches its mail (over real SMTP) and SMS. It
/// derefs to its [`Harness`]: `h.client`, `h.clock` (auth's clock), `h.db`, `h.amqp`.
pub struct Auth {
    pub h: Harness,
    pub sink: Arc<DevSink>,
}

impl Deref for Auth {
    type Target = Harness;
    fn deref(&self) -> &Harness {
        &self.h
    }
}

impl DerefMut for Auth {
    fn deref_mut(&mut self) -> &mut Harness {
        &mut self.h
    }
}

impl Auth {
    pub async fn stop(self) {
        self.h.stop().await;
    }
}

/// auth with its clock at the current instant (a manual clock: it moves only when a test moves
/// it) and default settings.
pub async fn start() -> Auth {
    start_with(|_| {}).await
}

/// Like [`start`], with settings `tune` may change (providers, limits, rotation, confirmation).
pub async fn start_with(tune: impl FnOnce(&mut Settings)) -> Auth {
    start_at(SystemClock.now(), tune).await
}

/// auth with its clock at `now` and settings `tune` may change.
pub async fn start_at(now: OffsetDateTime, tune: impl FnOnce(&mut Settings)) -> Auth {
    let sink = Arc::new(
        DevSink::start(
            "127.0.0.1:0".parse().unwrap(),
            "127.0.0.1:0".parse().unwrap(),
        )
        .await
        .expect("dev sink"),
    );
    let settings = settings(&sink, tune);
    let h = Harness::start(
        stride_auth::SERVICE,
        now,
        |common, _test_issuer, clock| launch(common, settings, clock),
        AuthServiceClient::new,
    )
    .await;
    Auth { h, sink }
}

/// Stops `auth` and starts it again on the same database, clock and sink, with settings `tune`
/// may change: what auth stored survives, nothing it held in memory does.
pub async fn restart(auth: Auth, tune: impl FnOnce(&mut Settings)) -> Auth {
    let Auth { h, sink } = auth;
    let (db, db_url, clock) = (h.db.clone(), h.db_url.clone(), h.clock.clone());
    h.stop().await;
    let settings = settings(&sink, tune);
    let (url, shared): (String, SharedClock) = (db_url.clone(), Arc::new(clock.clone()));
    // The harness makes a fresh database and clock; auth is given the previous ones instead.
    let mut h = Harness::start(
        stride_auth::SERVICE,
        clock.now(),
        move |mut common, _test_issuer, _fresh_clock| {
            common.database_url = url.into();
            launch(common, settings, shared)
        },
        AuthServiceClient::new,
    )
    .await;
    (h.db, h.db_url, h.clock) = (db, db_url, clock);
    Auth { h, sink }
}

/// Five minutes behind real time, in whole seconds: auth's access tokens (signed at its clock's
/// instant, checked against real time) are valid at once, and the times it reports are exact.
pub fn before_now() -> OffsetDateTime {
    SystemClock.now().replace_nanosecond(0).unwrap() - time::Duration::minutes(5)
}

/// Mail and SMS to `sink`; sign-up without confirmation (most tests sign up and go; tests of
/// the confirmation flow turn it on).
fn settings(sink: &DevSink, tune: impl FnOnce(&mut Settings)) -> Settings {
    let mut settings = Settings {
        mail_url: sink.smtp_url().into(),
        sms_url: sink.sms_url().into(),
        signup_confirmation: false,
        ..Default::default()
    };
    tune(&mut settings);
    settings
}

/// `stride_auth::start` with the verifier `main` gives it: the keys auth publishes in its
/// database (the pool is lazy, so the keys exist by the first call).
fn launch(
    common: CommonConfig,
    settings: Settings,
    clock: SharedClock,
) -> impl Future<Output = anyhow::Result<Running>> {
    let keys = PgPool::connect_lazy(common.database_url.expose()).expect("pool");
    let verifier = Verifier::new(Arc::new(stride_auth::keys::DbJwks {
        pool: keys,
        clock: clock.clone(),
    }));
    stride_auth::start(Config { common, settings }, verifier, clock)
}

// ---- accounts and tokens ----

pub fn signup_req(email: &str, username: &str, password: &str) -> pb::SignupRequest {
    pb::SignupRequest {
        email: email.into(),
        username: username.into(),
        password: password.into(),
        timezone: String::new(),
    }
}

/// Signs up `email` with [`PASSWORD`].
pub async fn signup(h: &Auth, email: &str, username: &str) -> (pb::User, pb::TokenPair) {
    let res = h
        .client
        .clone()
        .signup(signup_req(email, username, PASSWORD))
        .await
        .expect("signup")
        .into_inner();
    (res.user.unwrap(), res.tokens.unwrap())
}

/// Logs `email` in with [`PASSWORD`].
pub async fn login(h: &Auth, email: &str) -> pb::TokenPair {
    login_with(h, email, PASSWORD).await.expect("login")
}

pub async fn login_with(h: &Auth, email: &str, password: &str) -> Result<pb::TokenPair, Status> {
    h.client
        .clone()
        .login(pb::LoginRequest {
            email: email.into(),
            password: password.into(),
        })
        .await
        .map(|r| r.into_inner().tokens.expect("tokens"))
}

pub async fn refresh(h: &Auth, token: &str) -> Result<pb::TokenPair, Status> {
    h.client
        .clone()
        .refresh(pb::RefreshRequest {
            refresh_token: token.into(),
        })
        .await
        .map(|r| r.into_inner().tokens.expect("tokens"))
}

pub async fn me(h: &Auth, access: &str) -> pb::User {
    h.client
        .clone()
        .get_me(authed(pb::GetMeRequest {}, access))
        .await
        .expect("get me")
        .into_inner()
        .user
        .unwrap()
}

/// A verifier over the keys auth publishes now (GetJwks), as any other process verifies.
pub async fn jwks_verifier(h: &Auth) -> Arc<Verifier> {
    let keys = h
        .client
        .clone()
        .get_jwks(pb::GetJwksRequest {})
        .await
        .unwrap()
        .into_inner()
        .keys;
    Verifier::new(Arc::new(StaticJwks(Arc::new(RwLock::new(keys)))))
}

/// The claims of one of auth's access tokens, checked against the keys auth publishes.
pub async fn claims(h: &Auth, access: &str) -> Claims {
    jwks_verifier(h)
        .await
        .verify(access)
        .await
        .expect("auth's token verifies")
}

pub async fn sessions(
    h: &Auth,
    access: &str,
    page_size: i32,
    page_token: &str,
) -> Result<pb::ListSessionsResponse, Status> {
    h.client
        .clone()
        .list_sessions(authed(
            pb::ListSessionsRequest {
                page_size,
                page_token: page_token.into(),
            },
            access,
        ))
        .await
        .map(|r| r.into_inner())
}

pub async fn identities(h: &Auth, access: &str) -> Vec<pb::Identity> {
    h.client
        .clone()
        .list_identities(authed(pb::ListIdentitiesRequest {}, access))
        .await
        .expect("list identities")
        .into_inner()
        .identities
}

// ---- password reset ----

/// RequestPasswordReset's answer: `Status::ok` when it succeeded, to compare with refusals.
pub async fn request_reset(h: &Auth, email: &str) -> Status {
    match h
        .client
        .clone()
        .request_password_reset(pb::RequestPasswordResetRequest {
            email: email.into(),
        })
        .await
    {
        Ok(_) => Status::ok(""),
        Err(e) => e,
    }
}

pub async fn reset(h: &Auth, token: &str, password: &str) -> Result<(), Status> {
    h.client
        .clone()
        .reset_password(pb::ResetPasswordRequest {
            token: token.into(),
            new_password: password.into(),
        })
        .await
        .map(drop)
}

// ---- rows ----

/// (`user`'s row in `users`, its refresh tokens). `users` keys by `id`, so the generic
/// `bus::user_rows` (tables with a `user_id`) does not see it.
pub async fn account_rows(h: &Auth, user: &str) -> (i64, i64) {
    let id = Uuid::parse_str(user).unwrap();
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users WHERE id = $1")
        .bind(id)
        .fetch_one(&h.db)
        .await
        .unwrap();
    let tokens: i64 = sqlx::query_scalar("SELECT count(*) FROM refresh_tokens WHERE user_id = $1")
        .bind(id)
        .fetch_one(&h.db)
        .await
        .unwrap();
    (users, tokens)
}

/// (users, identities) rows in auth's database.
pub async fn counts(h: &Auth) -> (i64, i64) {
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&h.db)
        .await
        .unwrap();
    let identities: i64 = sqlx::query_scalar("SELECT count(*) FROM identities")
        .fetch_one(&h.db)
        .await
        .unwrap();
    (users, identities)
}

// ---- mail and codes ----

/// The 6-digit code in a code mail or SMS.
pub fn code_in(text: &str) -> String {
    let start = text.find("code is ").expect("code in message") + 8;
    text[start..start + 6].to_owned()
}

/// The token in a reset mail.
pub fn reset_token(text: &str) -> String {
    let start = text
        .find("reset token in the app: ")
        .expect("token in mail")
        + 24;
    text[start..]
        .split_whitespace()
        .next()
        .expect("token")
        .to_owned()
}

/// The id of the newest mail to `to` so far (0 if none), to wait for the next one after it.
pub fn last_mail(sink: &DevSink, to: &str) -> u64 {
    sink.mail_to(to).last().map_or(0, |m| m.id)
}

/// The code in the first code mail to `to` after mail id `after` (other mail, such as the
/// "sign-in method added" notice, is skipped).
pub async fn mail_code(sink: &DevSink, to: &str, after: u64) -> String {
    let text = eventually(EVENT_DEADLINE, &format!("a code mail to {to}"), || {
        let found = sink
            .mail_to(to)
            .into_iter()
            .find(|m| m.id > after && m.text.contains(" code is "))
            .map(|m| m.text);
        async move { found }
    })
    .await;
    let start = text.find(" code is ").unwrap() + " code is ".len();
    let code = text[start..start + 6].to_owned();
    assert!(code.bytes().all(|b| b.is_ascii_digit()), "{text}");
    code
}

/// Sends a code for `purpose` to `address` (with the caller's token when given) and reads it
/// from the sink: the mail goes to `mailbox` (the address itself, or the account's address for
/// re-authentication).
pub async fn send_code(
    h: &Auth,
    access: Option<&str>,
    purpose: pb::CodePurpose,
    address: &str,
    mailbox: &str,
) -> String {
    let after = last_mail(&h.sink, mailbox);
    let req = pb::SendCodeRequest {
        channel: pb::CodeChannel::Email.into(),
        address: address.into(),
        purpose: purpose.into(),
    };
    let req = match access {
        Some(token) => authed(req, token),
        None => tonic::Request::new(req),
    };
    h.client.clone().send_code(req).await.expect("send code");
    mail_code(&h.sink, mailbox, after).await
}

/// Passwordless sign-in with an email code: creates the account (email verified) if the address
/// is new, and verifies the address of an existing one.
pub async fn email_code_sign_in(h: &Auth, address: &str) -> pb::SignInWithCodeResponse {
    let code = send_code(h, None, pb::CodePurpose::SignIn, address, address).await;
    h.client
        .clone()
        .sign_in_with_code(pb::SignInWithCodeRequest {
            channel: pb::CodeChannel::Email.into(),
            address: address.into(),
            code,
            timezone: String::new(),
        })
        .await
        .expect("sign in with code")
        .into_inner()
}

// ---- linking identities ----

pub fn password(p: &str) -> Option<pb::AccountProof> {
    Some(pb::AccountProof {
        proof: Some(pb::account_proof::Proof::CurrentPassword(p.into())),
    })
}

pub fn reauth_code(code: &str) -> Option<pb::AccountProof> {
    Some(pb::AccountProof {
        proof: Some(pb::account_proof::Proof::ReauthenticationCode(code.into())),
    })
}

pub fn email_credential(address: &str, code: &str) -> pb::link_identity_request::Credential {
    pb::link_identity_request::Credential::Code(pb::CodeCredential {
        channel: pb::CodeChannel::Email.into(),
        address: address.into(),
        code: code.into(),
    })
}

pub fn id_token_credential(token: &str, nonce: &str) -> pb::link_identity_request::Credential {
    pb::link_identity_request::Credential::IdToken(pb::IdTokenCredential {
        provider: pb::Provider::Google.into(),
        id_token: token.into(),
        nonce: nonce.into(),
    })
}

pub async fn link(
    h: &Auth,
    access: &str,
    proof: Option<pb::AccountProof>,
    credential: Option<pb::link_identity_request::Credential>,
) -> Result<pb::LinkIdentityResponse, Status> {
    h.client
        .clone()
        .link_identity(authed(
            pb::LinkIdentityRequest { proof, credential },
            access,
        ))
        .await
        .map(|r| r.into_inner())
}

/// A LINK code for `address`, sent for the caller of `access`.
pub async fn link_code(h: &Auth, access: &str, address: &str) -> String {
    send_code(h, Some(access), pb::CodePurpose::Link, address, address).await
}

/// A re-authentication code; it goes to the account's own address, `mailbox`.
pub async fn reauthentication_code(h: &Auth, access: &str, mailbox: &str) -> String {
    send_code(
        h,
        Some(access),
        pb::CodePurpose::Reauthenticate,
        "",
        mailbox,
    )
    .await
}

pub fn primaries(ids: &[pb::Identity]) -> Vec<&str> {
    ids.iter()
        .filter(|i| i.primary)
        .map(|i| i.subject.as_str())
        .collect()
}
