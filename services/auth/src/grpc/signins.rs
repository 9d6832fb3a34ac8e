//! Sign-in with Telegram Mini App `initData`, Facebook access tokens, and Google's server-side
//! web flow (StartGoogleSignIn / FinishGoogleSignIn: authorization code with PKCE and state). The verified identity then goes through the same
//! find-or-create as the other external sign-ins (`external::sign_in_once_more`).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use stride_idp::oauth;
use stride_kit::{AppError, AppResult, Call, Violations, convert::timestamp};
use stride_proto::auth as pb;

use super::{AuthSvc, convert, external::sign_in_once_more};
use crate::{
    domain::{
        crypto, identity,
        validate::{normalize_email, timezone_or_utc},
    },
    errors,
    external::{ExternalIdentity, map_idp},
    store::oauth_states,
};

pub(super) async fn sign_in_with_telegram_webapp(
    svc: &AuthSvc,
    call: Call<pb::SignInWithTelegramWebAppRequest>,
) -> AppResult<pb::SignInWithTelegramWebAppResponse> {
    let req = &call.message;
    let mut v = Violations::new();
    let timezone = timezone_or_utc(&mut v, &req.timezone);
    v.check()?;
    let ext = telegram_webapp_identity(svc, &req.init_data, "init_data")?;
    let (user, tokens, created) = sign_in_once_more(svc, &call.client, &ext, &timezone).await?;
    Ok(pb::SignInWithTelegramWebAppResponse {
        user: Some(convert::user(&user)),
        tokens: Some(tokens),
        created,
    })
}

pub(super) async fn sign_in_with_facebook_access_token(
    svc: &AuthSvc,
    call: Call<pb::SignInWithFacebookAccessTokenRequest>,
) -> AppResult<pb::SignInWithFacebookAccessTokenResponse> {
    let req = &call.message;
    let mut v = Violations::new();
    let timezone = timezone_or_utc(&mut v, &req.timezone);
    v.check()?;
    let ext = facebook_identity(svc, &req.access_token, "access_token").await?;
    let (user, tokens, created) = sign_in_once_more(svc, &call.client, &ext, &timezone).await?;
    Ok(pb::SignInWithFacebookAccessTokenResponse {
        user: Some(convert::user(&user)),
        tokens: Some(tokens),
        created,
    })
}

/// The Telegram user a Mini App's `init_data` (the request field `field`) names, checked with
/// the WebAppData-keyed HMAC and its age. Used to sign in and to link.
pub(super) fn telegram_webapp_identity(
    svc: &AuthSvc,
    init_data: &str,
    field: &str,
) -> AppResult<ExternalIdentity> {
    let mut v = Violations::new();
    v.when(init_data.is_empty(), field, "is required");
    v.when(
        init_data.len() > stride_idp::telegram_webapp::MAX_INIT_DATA_LEN,
        field,
        "is too long",
    );
    v.check()?;
    let verifier = svc
        .signins
        .telegram_webapp
        .as_ref()
        .ok_or_else(errors::provider_not_configured)?;
    let tg = verifier
        .verify(init_data, svc.clock.now().unix_timestamp())
        .map_err(map_idp)?;
    Ok(ExternalIdentity {
        provider: identity::TELEGRAM,
        subject: tg.id.to_string(),
        email: None,
        email_verified: false,
    })
}

/// The Facebook user an SDK access token (the request field `field`) belongs to, inspected with
/// the Graph API. Used to sign in and to link.
pub(super) async fn facebook_identity(
    svc: &AuthSvc,
    access_token: &str,
    field: &str,
) -> AppResult<ExternalIdentity> {
    let mut v = Violations::new();
    v.when(access_token.is_empty(), field, "is required");
    v.when(
        access_token.len() > stride_idp::facebook::MAX_ACCESS_TOKEN_LEN,
        field,
        "is too long",
    );
    v.check()?;
    let graph = svc
        .signins
        .facebook
        .as_ref()
        .ok_or_else(errors::provider_not_configured)?;
    let fb = graph
        .verify_access_token(access_token, svc.clock.now().unix_timestamp())
        .await
        .map_err(map_idp)?;
    // Facebook's email is never treated as verified: it neither links nor becomes the address.
    Ok(ExternalIdentity {
        provider: identity::FACEBOOK,
        subject: fb.id,
        email: fb.email.map(|e| normalize_email(&e)),
        email_verified: false,
    })
}

/// `ErrorInfo.reason` of a web sign-in callback whose `state` is unknown, already used or
/// expired.
pub const OAUTH_STATE_INVALID: &str = "OAUTH_STATE_INVALID";
const MAX_REDIRECT_URI_LEN: usize = 2048;
const MAX_CODE_LEN: usize = 2048;
const MAX_STATE_LEN: usize = 256;

/// 32 random bytes, base64url without padding (43 characters: also a valid PKCE verifier).
fn random_token() -> AppResult<String> {
    Ok(URL_SAFE_NO_PAD.encode(crypto::random_bytes::<32>()?))
}

pub(super) async fn start_google_sign_in(
    svc: &AuthSvc,
    call: Call<pb::StartGoogleSignInRequest>,
) -> AppResult<pb::StartGoogleSignInResponse> {
    let req = &call.message;
    let mut v = Violations::new();
    v.when(req.redirect_uri.is_empty(), "redirect_uri", "is required");
    v.when(
        req.redirect_uri.len() > MAX_REDIRECT_URI_LEN,
        "redirect_uri",
        "is too long",
    );
    v.when(req.login_hint.len() > 320, "login_hint", "is too long");
    v.check()?;
    let (Some(web), Some(_)) = (&svc.signins.google_web, &svc.providers.google) else {
        return Err(errors::provider_not_configured());
    };
    if !web.redirect_allowed(&req.redirect_uri) {
        return Err(AppError::invalid(
            "redirect_uri",
            "is not one of the allowed redirect URIs",
        ));
    }
    let (state, code_verifier, raw_nonce) = (random_token()?, random_token()?, random_token()?);
    let authorization_url = oauth::authorization_url(
        &web.auth_url,
        &oauth::AuthorizationRequest {
            client_id: web.token.client_id(),
            redirect_uri: &req.redirect_uri,
            state: &state,
            code_verifier: &code_verifier,
            raw_nonce: &raw_nonce,
            login_hint: Some(req.login_hint.as_str()),
        },
    )
    .map_err(map_idp)?;
    let now = svc.clock.now_db();
    let expires_at = now + web.state_ttl;
    oauth_states::purge_expired(&svc.pool, now).await?;
    oauth_states::insert(
        &svc.pool,
        &crypto::sha256(state.as_bytes()),
        &oauth_states::OauthState {
            provider: identity::GOOGLE.to_owned(),
            redirect_uri: req.redirect_uri.clone(),
            code_verifier,
            nonce: raw_nonce,
            expires_at,
        },
        now,
    )
    .await?;
    Ok(pb::StartGoogleSignInResponse {
        authorization_url,
        state,
        expire_time: Some(timestamp(expires_at)),
    })
}

pub(super) async fn finish_google_sign_in(
    svc: &AuthSvc,
    call: Call<pb::FinishGoogleSignInRequest>,
) -> AppResult<pb::FinishGoogleSignInResponse> {
    let req = &call.message;
    let mut v = Violations::new();
    let timezone = timezone_or_utc(&mut v, &req.timezone);
    v.when(req.code.is_empty(), "code", "is required");
    v.when(req.code.len() > MAX_CODE_LEN, "code", "is too long");
    v.when(req.state.is_empty(), "state", "is required");
    v.when(req.state.len() > MAX_STATE_LEN, "state", "is too long");
    v.check()?;
    let Some(web) = &svc.signins.google_web else {
        return Err(errors::provider_not_configured());
    };
    // Spent by this call whatever happens next: a state serves one callback.
    let pending = oauth_states::take(
        &svc.pool,
        identity::GOOGLE,
        &crypto::sha256(req.state.as_bytes()),
    )
    .await?;
    let now = svc.clock.now_db();
    let Some(pending) = pending.filter(|p| p.expires_at > now) else {
        return Err(AppError::unauthenticated(
            OAUTH_STATE_INVALID,
            "the state is unknown, already used or expired; start the sign-in again",
        ));
    };
    let id_token = web
        .token
        .exchange(&req.code, &pending.redirect_uri, &pending.code_verifier)
        .await
        .map_err(map_idp)?;
    let credential = pb::IdTokenCredential {
        provider: pb::Provider::Google.into(),
        id_token,
        nonce: pending.nonce,
    };
    let ext = svc
        .providers
        .verify_id_token(&credential, svc.clock.now().into())
        .await?;
    let (user, tokens, created) = sign_in_once_more(svc, &call.client, &ext, &timezone).await?;
    Ok(pb::FinishGoogleSignInResponse {
        user: Some(convert::user(&user)),
        tokens: Some(tokens),
        created,
    })
}
