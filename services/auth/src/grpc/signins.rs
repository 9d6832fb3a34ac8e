//! Sign-in with Telegram Mini App `initData` and Facebook access tokens. The verified identity then goes through the same
//! find-or-create as the other external sign-ins (`external::sign_in_once_more`).

use stride_kit::{AppResult, Call, Violations};
use stride_proto::auth as pb;

use super::{AuthSvc, convert, external::sign_in_once_more};
use crate::{
    domain::{
        identity,
        validate::{normalize_email, timezone_or_utc},
    },
    errors,
    external::{ExternalIdentity, map_idp},
};

pub(super) async fn sign_in_with_telegram_webapp(
    svc: &AuthSvc,
    call: Call<pb::SignInWithTelegramWebAppRequest>,
) -> AppResult<pb::SignInWithTelegramWebAppResponse> {
    let req = &call.message;
    let mut v = Violations::new();
    let timezone = timezone_or_utc(&mut v, &req.timezone);
    v.when(req.init_data.is_empty(), "init_data", "is required");
    v.when(
        req.init_data.len() > stride_idp::telegram_webapp::MAX_INIT_DATA_LEN,
        "init_data",
        "is too long",
    );
    v.check()?;
    let verifier = svc
        .signins
        .telegram_webapp
        .as_ref()
        .ok_or_else(errors::provider_not_configured)?;
    let tg = verifier
        .verify(&req.init_data, svc.clock.now().unix_timestamp())
        .map_err(map_idp)?;
    let ext = ExternalIdentity {
        provider: identity::TELEGRAM,
        subject: tg.id.to_string(),
        email: None,
        email_verified: false,
    };
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
    v.when(req.access_token.is_empty(), "access_token", "is required");
    v.when(
        req.access_token.len() > stride_idp::facebook::MAX_ACCESS_TOKEN_LEN,
        "access_token",
        "is too long",
    );
    v.check()?;
    let graph = svc
        .signins
        .facebook
        .as_ref()
        .ok_or_else(errors::provider_not_configured)?;
    let fb = graph
        .verify_access_token(&req.access_token, svc.clock.now().unix_timestamp())
        .await
        .map_err(map_idp)?;
    // Facebook's email is never treated as verified: it neither links nor becomes the address.
    let ext = ExternalIdentity {
        provider: identity::FACEBOOK,
        subject: fb.id,
        email: fb.email.map(|e| normalize_email(&e)),
        email_verified: false,
    };
    let (user, tokens, created) = sign_in_once_more(svc, &call.client, &ext, &timezone).await?;
    Ok(pb::SignInWithFacebookAccessTokenResponse {
        user: Some(convert::user(&user)),
        tokens: Some(tokens),
        created,
    })
}
