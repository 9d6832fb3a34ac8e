//! The AuthService gRPC surface: [`AuthSvc`] (what every flow needs) and the RPC table. Each
//! RPC is a flow in a submodule, `async fn(&AuthSvc, Call<Request>) -> AppResult<Response>`,
//! that owns its transaction: `outbox.begin()`, `store` calls, `tx.publish` of what
//! `crate::events` builds, `tx.commit()` (which wakes the relay). The kit's authn layer has already put the caller's id on the request span.

mod account;
mod admin;
mod audit;
mod codes;
mod convert;
mod email;
mod external;
mod guest;
mod identities;
mod login;
mod proof;
mod recovery;
mod sessions;
mod signins;
mod signup;
mod tokens;
mod users;

use std::sync::Arc;

use sqlx::PgPool;
use stride_bus::Outbox;
use stride_kit::clock::SharedClock;
use stride_proto::{auth as pb, auth::auth_service_server::AuthService};

use crate::{
    external::Providers, keys::KeyRing, notifier::Notifier, password::Hasher, settings::Settings,
};

pub struct AuthSvc {
    pub pool: PgPool,
    pub clock: SharedClock,
    pub keys: Arc<KeyRing>,
    pub hasher: Arc<Hasher>,
    pub outbox: Outbox,
    pub settings: Arc<Settings>,
    pub notifier: Notifier,
    pub providers: Arc<Providers>,
    /// Telegram Mini Apps, Facebook access tokens, Google's web flow (`crate::signins`).
    pub signins: Arc<crate::signins::SignIns>,
    /// Checks tokens presented inside requests (MergeGuest's guest token).
    pub verifier: Arc<stride_kit::Verifier>,
}

/// Records on the request span the user a public call (sign-up, login, refresh) signed in or
/// created; for callers with a token the kit has already done it.
fn record_user(id: uuid::Uuid) {
    tracing::Span::current().record("user_id", tracing::field::display(id));
}

stride_kit::grpc_handlers! {
    impl AuthService for AuthSvc {
        fn signup(pb::SignupRequest) -> pb::SignupResponse => signup::signup;
        fn confirm_signup(pb::ConfirmSignupRequest) -> pb::ConfirmSignupResponse => signup::confirm_signup;
        fn login(pb::LoginRequest) -> pb::LoginResponse => login::login;
        fn refresh(pb::RefreshRequest) -> pb::RefreshResponse => tokens::refresh;
        fn get_jwks(pb::GetJwksRequest) -> pb::GetJwksResponse => tokens::get_jwks;
        fn list_sessions(pb::ListSessionsRequest) -> pb::ListSessionsResponse => sessions::list_sessions;
        fn revoke_session(pb::RevokeSessionRequest) -> pb::RevokeSessionResponse => sessions::revoke_session;
        fn logout(pb::LogoutRequest) -> pb::LogoutResponse => sessions::logout;
        fn logout_all(pb::LogoutAllRequest) -> pb::LogoutAllResponse => sessions::logout_all;
        fn signup_guest(pb::SignupGuestRequest) -> pb::SignupGuestResponse => guest::signup_guest;
        fn claim_guest(pb::ClaimGuestRequest) -> pb::ClaimGuestResponse => guest::claim_guest;
        fn merge_guest(pb::MergeGuestRequest) -> pb::MergeGuestResponse => guest::merge_guest;
        fn sign_in_with_id_token(pb::SignInWithIdTokenRequest) -> pb::SignInWithIdTokenResponse => external::sign_in_with_id_token;
        fn sign_in_with_telegram(pb::SignInWithTelegramRequest) -> pb::SignInWithTelegramResponse => external::sign_in_with_telegram;
        fn sign_in_with_telegram_web_app(pb::SignInWithTelegramWebAppRequest) -> pb::SignInWithTelegramWebAppResponse => signins::sign_in_with_telegram_webapp;
        fn sign_in_with_facebook_access_token(pb::SignInWithFacebookAccessTokenRequest) -> pb::SignInWithFacebookAccessTokenResponse => signins::sign_in_with_facebook_access_token;
        fn start_google_sign_in(pb::StartGoogleSignInRequest) -> pb::StartGoogleSignInResponse => signins::start_google_sign_in;
        fn finish_google_sign_in(pb::FinishGoogleSignInRequest) -> pb::FinishGoogleSignInResponse => signins::finish_google_sign_in;
        fn send_code(pb::SendCodeRequest) -> pb::SendCodeResponse => codes::send_code;
        fn sign_in_with_code(pb::SignInWithCodeRequest) -> pb::SignInWithCodeResponse => codes::sign_in_with_code;
        fn list_identities(pb::ListIdentitiesRequest) -> pb::ListIdentitiesResponse => identities::list_identities;
        fn link_identity(pb::LinkIdentityRequest) -> pb::LinkIdentityResponse => identities::link_identity;
        fn unlink_identity(pb::UnlinkIdentityRequest) -> pb::UnlinkIdentityResponse => identities::unlink_identity;
        fn set_primary_identity(pb::SetPrimaryIdentityRequest) -> pb::SetPrimaryIdentityResponse => identities::set_primary_identity;
        fn change_password(pb::ChangePasswordRequest) -> pb::ChangePasswordResponse => recovery::change_password;
        fn request_password_reset(pb::RequestPasswordResetRequest) -> pb::RequestPasswordResetResponse => recovery::request_password_reset;
        fn reset_password(pb::ResetPasswordRequest) -> pb::ResetPasswordResponse => recovery::reset_password;
        fn verify_email(pb::VerifyEmailRequest) -> pb::VerifyEmailResponse => email::verify_email;
        fn request_email_change(pb::RequestEmailChangeRequest) -> pb::RequestEmailChangeResponse => email::request_email_change;
        fn confirm_email_change(pb::ConfirmEmailChangeRequest) -> pb::ConfirmEmailChangeResponse => email::confirm_email_change;
        fn get_me(pb::GetMeRequest) -> pb::GetMeResponse => account::get_me;
        fn delete_account(pb::DeleteAccountRequest) -> pb::DeleteAccountResponse => account::delete_account;
        fn set_user_roles(pb::SetUserRolesRequest) -> pb::SetUserRolesResponse => admin::set_user_roles;
        fn list_audit_events(pb::ListAuditEventsRequest) -> pb::ListAuditEventsResponse => audit::list_audit_events;
    }
}
