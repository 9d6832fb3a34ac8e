//! One-time codes: 6 digits, 10 minutes, at most 5 guesses, at most 3 sends per address per hour,
//! and a new send kills the pending code. Stored as SHA-256 over (row id, code).
//!
//! Every answer about an address is the same whether or not an account uses it.

use stride_kit::{AppError, AppResult, Caller, ClientInfo, convert::timestamp};
use stride_proto::auth as pb;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{
    identities::{self, NewIdentity},
    service::{
        AuthSvc, USER_COLUMNS, UserRow, micros, normalize_email, random_bytes, sha256, valid_email,
    },
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Channel {
    Email,
    Sms,
}

impl Channel {
    fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Purpose {
    SignIn,
    Link,
    Reauthenticate,
    VerifyEmail,
    ChangeEmail,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::SignIn => "sign_in",
            Purpose::Link => "link",
            Purpose::Reauthenticate => "reauthenticate",
            Purpose::VerifyEmail => "verify_email",
            Purpose::ChangeEmail => "change_email",
        }
    }
}

/// E.164: a plus, a non-zero digit, 7 to 15 digits in all.
pub(crate) fn valid_phone(p: &str) -> bool {
    let Some(digits) = p.strip_prefix('+') else {
        return false;
    };
    (7..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

/// Validates and normalises an address for its channel.
pub(crate) fn parse_address(channel: i32, raw: &str) -> AppResult<(Channel, String)> {
    match pb::CodeChannel::try_from(channel) {
        Ok(pb::CodeChannel::Email) => {
            let a = normalize_email(raw);
            if !valid_email(&a) {
                return Err(AppError::invalid(
                    "address",
                    "must be an email address of 3 to 254 characters",
                ));
            }
            Ok((Channel::Email, a))
        }
        Ok(pb::CodeChannel::Sms) => {
            let a: String = raw
                .chars()
                .filter(|c| !matches!(c, ' ' | '-' | '(' | ')'))
                .collect();
            if !valid_phone(&a) {
                return Err(AppError::invalid(
                    "address",
                    "must be a phone number in international form, e.g. +4915112345678",
                ));
            }
            Ok((Channel::Sms, a))
        }
        _ => Err(AppError::invalid(
            "channel",
            "must be CODE_CHANNEL_EMAIL or CODE_CHANNEL_SMS",
        )),
    }
}

/// A uniformly random 6-digit code (rejection sampling: no modulo bias).
fn new_code() -> AppResult<String> {
    loop {
        let n = u32::from_le_bytes(random_bytes::<4>()?);
        // 4_294_000_000 is the largest multiple of 10^6 below 2^32.
        if n < 4_294_000_000 {
            return Ok(format!("{:06}", n % 1_000_000));
        }
    }
}

fn code_hash(id: Uuid, code: &str) -> Vec<u8> {
    let mut input = id.as_bytes().to_vec();
    input.extend_from_slice(code.as_bytes());
    sha256(&input)
}

pub(crate) fn code_invalid() -> AppError {
    AppError::unauthenticated("CODE_INVALID", "the code is wrong or has expired")
}

pub(crate) struct Consumed {
    pub address: String,
}

impl AuthSvc {
    /// Creates a code and sends it. Refuses past the hourly send limit for the address (the
    /// same for every address, so it reveals nothing).
    pub(crate) async fn issue_code(
        &self,
        purpose: Purpose,
        channel: Channel,
        address: &str,
        user: Option<Uuid>,
    ) -> AppResult<OffsetDateTime> {
        let now = micros(self.clock.now());
        let limits = &self.settings.limits;
        let mut tx = self.pool.begin().await?;
        // Serialise sends to one address so the count below cannot be raced past.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
            .bind(format!("code:{}:{address}", channel.as_str()))
            .execute(&mut *tx)
            .await?;
        let (sent,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM one_time_codes WHERE channel = $1 AND address = $2 AND created_at > $3",
        )
        .bind(channel.as_str())
        .bind(address)
        .bind(now - time::Duration::hours(1))
        .fetch_one(&mut *tx)
        .await?;
        if sent >= limits.code_sends_per_hour {
            return Err(crate::throttle::too_many(
                "too many codes were sent to this address; try again later",
            ));
        }
        // The pending code for the same purpose dies.
        sqlx::query(
            "UPDATE one_time_codes SET consumed_at = $5
             WHERE purpose = $1 AND channel = $2 AND address = $3
               AND user_id IS NOT DISTINCT FROM $4 AND consumed_at IS NULL",
        )
        .bind(purpose.as_str())
        .bind(channel.as_str())
        .bind(address)
        .bind(user)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let id = Uuid::now_v7();
        let code = new_code()?;
        let expires = now + limits.code_ttl;
        sqlx::query(
            "INSERT INTO one_time_codes (id, purpose, channel, address, user_id, code_hash, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id)
        .bind(purpose.as_str())
        .bind(channel.as_str())
        .bind(address)
        .bind(user)
        .bind(code_hash(id, &code))
        .bind(now)
        .bind(expires)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        let what = match purpose {
            Purpose::SignIn => "sign-in",
            Purpose::Link => "confirmation",
            Purpose::Reauthenticate => "re-authentication",
            Purpose::VerifyEmail => "email verification",
            Purpose::ChangeEmail => "email change",
        };
        let minutes = limits.code_ttl.whole_minutes();
        let text = format!(
            "Your Stride {what} code is {code}. It expires in {minutes} minutes. If you did not ask for it, ignore this message."
        );
        match channel {
            Channel::Email => {
                self.notifier
                    .mail(address.to_owned(), format!("Your Stride {what} code"), text)
            }
            Channel::Sms => self.notifier.sms(address.to_owned(), text),
        }
        Ok(expires)
    }

    /// Checks `code` against the pending code of (purpose, channel, address, user); when the
    /// address is None the pending code of that purpose for `user` is used. A wrong guess
    /// counts (committed even though the call fails); the fifth kills the code.
    pub(crate) async fn consume_code(
        &self,
        purpose: Purpose,
        channel: Option<Channel>,
        address: Option<&str>,
        user: Option<Uuid>,
        code: &str,
    ) -> AppResult<Consumed> {
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(code_invalid());
        }
        let now = micros(self.clock.now());
        let mut tx = self.pool.begin().await?;
        let row: Option<(Uuid, String, i32, Vec<u8>)> = sqlx::query_as(
            "SELECT id, address, attempts, code_hash FROM one_time_codes
             WHERE purpose = $1 AND ($2::text IS NULL OR channel = $2)
               AND ($3::text IS NULL OR address = $3)
               AND user_id IS NOT DISTINCT FROM $4
               AND consumed_at IS NULL AND expires_at > $5
             ORDER BY created_at DESC LIMIT 1 FOR UPDATE",
        )
        .bind(purpose.as_str())
        .bind(channel.map(Channel::as_str))
        .bind(address)
        .bind(user)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((id, address, attempts, stored)) = row else {
            return Err(code_invalid());
        };
        let matches =
            aws_lc_rs::constant_time::verify_slices_are_equal(&stored, &code_hash(id, code))
                .is_ok();
        if matches {
            sqlx::query("UPDATE one_time_codes SET consumed_at = $2 WHERE id = $1")
                .bind(id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            return Ok(Consumed { address });
        }
        let dead = attempts + 1 >= self.settings.limits.code_attempts;
        sqlx::query(
            "UPDATE one_time_codes SET attempts = attempts + 1,
                    consumed_at = CASE WHEN $2 THEN $3 ELSE consumed_at END
             WHERE id = $1",
        )
        .bind(id)
        .bind(dead)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Err(code_invalid())
    }

    pub(crate) async fn send_code_inner(
        &self,
        caller: Option<&Caller>,
        req: pb::SendCodeRequest,
    ) -> AppResult<pb::SendCodeResponse> {
        let purpose =
            pb::CodePurpose::try_from(req.purpose).unwrap_or(pb::CodePurpose::Unspecified);
        let need_caller = || {
            caller.ok_or_else(|| {
                AppError::unauthenticated("TOKEN_MISSING", "this purpose needs an access token")
            })
        };
        let expires = match purpose {
            pb::CodePurpose::SignIn => {
                let (channel, address) = parse_address(req.channel, &req.address)?;
                self.issue_code(Purpose::SignIn, channel, &address, None)
                    .await?
            }
            pb::CodePurpose::Link => {
                let caller = need_caller()?;
                let (channel, address) = parse_address(req.channel, &req.address)?;
                self.issue_code(Purpose::Link, channel, &address, Some(caller.user_id))
                    .await?
            }
            pb::CodePurpose::Reauthenticate => {
                let caller = need_caller()?;
                let user = self.account(caller.user_id).await?;
                // To the account's own address: the primary identity's channel when it is a
                // phone, the email otherwise.
                let (primary,): (Option<String>,) = sqlx::query_as(
                    "SELECT (SELECT provider FROM identities WHERE user_id = $1 AND is_primary)",
                )
                .bind(user.id)
                .fetch_one(&self.pool)
                .await?;
                let target = match (primary.as_deref(), &user.email, &user.phone) {
                    (Some("phone"), _, Some(p)) => Some((Channel::Sms, p.clone())),
                    (_, Some(e), _) => Some((Channel::Email, e.clone())),
                    (_, None, Some(p)) => Some((Channel::Sms, p.clone())),
                    _ => None,
                };
                let Some((channel, address)) = target else {
                    return Err(AppError::precondition(
                        "NO_ADDRESS",
                        "the account has no email or phone to send a code to",
                    ));
                };
                self.issue_code(Purpose::Reauthenticate, channel, &address, Some(user.id))
                    .await?
            }
            pb::CodePurpose::VerifyEmail => {
                let caller = need_caller()?;
                let user = self.account(caller.user_id).await?;
                let Some(email) = user.email.clone() else {
                    return Err(AppError::precondition(
                        "NO_EMAIL",
                        "the account has no email",
                    ));
                };
                if user.email_verified_at.is_some() {
                    return Err(AppError::precondition(
                        "EMAIL_ALREADY_VERIFIED",
                        "the email is already verified",
                    ));
                }
                self.issue_code(Purpose::VerifyEmail, Channel::Email, &email, Some(user.id))
                    .await?
            }
            pb::CodePurpose::Unspecified => {
                return Err(AppError::invalid(
                    "purpose",
                    "must be one of SIGN_IN, LINK, REAUTHENTICATE, VERIFY_EMAIL",
                ));
            }
        };
        Ok(pb::SendCodeResponse {
            expire_time: Some(timestamp(expires)),
        })
    }

    pub(crate) async fn account(&self, id: Uuid) -> AppResult<UserRow> {
        let mut conn = self.pool.acquire().await?;
        self.load_user(&mut conn, id)
            .await?
            .ok_or_else(|| AppError::not_found("account"))
    }

    pub(crate) async fn sign_in_with_code_inner(
        &self,
        client: &ClientInfo,
        req: pb::SignInWithCodeRequest,
    ) -> AppResult<pb::SignInWithCodeResponse> {
        let (channel, address) = parse_address(req.channel, &req.address)?;
        let mut v = stride_kit::Violations::new();
        let timezone = crate::service::timezone_or_utc(&mut v, &req.timezone);
        v.check()?;
        self.consume_code(
            Purpose::SignIn,
            Some(channel),
            Some(&address),
            None,
            &req.code,
        )
        .await?;
        let now = micros(self.clock.now());
        let (provider, identity) = match channel {
            Channel::Email => ("email", NewIdentity::email(&address, true)),
            Channel::Sms => ("phone", NewIdentity::phone(&address)),
        };
        let mut tx = self.pool.begin().await?;
        let mut owner = identities::owner(&mut tx, provider, &address).await?;
        if owner.is_none() {
            // An account that has this address but predates its identity row.
            let column = if channel == Channel::Email {
                "email"
            } else {
                "phone"
            };
            let row: Option<(Uuid,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT id FROM users WHERE {column} = $1"
            )))
            .bind(&address)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some((id,)) = row {
                identities::insert(&mut tx, id, identity.clone(), false, now).await?;
                owner = Some(id);
            }
        }
        let created = owner.is_none();
        let user = match owner {
            Some(id) => {
                if channel == Channel::Email {
                    // The code proved the address.
                    identities::mark_email_verified(&mut tx, id, &address, now).await?;
                }
                identities::touch(&mut tx, id, provider, &address, now).await?;
                if channel == Channel::Email {
                    crate::signup::activate_if_pending(&mut tx, self, id, now).await?;
                }
                self.load_user(&mut tx, id)
                    .await?
                    .ok_or_else(|| AppError::not_found("account"))?
            }
            None => {
                let user = UserRow {
                    id: Uuid::now_v7(),
                    email: (channel == Channel::Email).then(|| address.clone()),
                    username: None,
                    password_hash: None,
                    roles: vec!["user".into()],
                    is_anonymous: false,
                    created_at: now,
                    timezone,
                    email_verified_at: (channel == Channel::Email).then_some(now),
                    phone: (channel == Channel::Sms).then(|| address.clone()),
                };
                self.insert_user(&mut tx, &user, Some(identity), now)
                    .await?;
                user
            }
        };
        let family = Uuid::now_v7();
        let tokens = self.issue(&mut tx, &user, family, now).await?;
        crate::audit::record(
            &mut tx,
            Some(user.id),
            if created { "account.created" } else { "login.succeeded" },
            client,
            serde_json::json!({"method": format!("{}_code", channel.as_str()), "session_id": family.to_string()}),
            now,
        )
        .await?;
        tx.commit().await?;
        // A new account, or a pending sign-up this code just confirmed, was announced.
        self.outbox.kick();
        Ok(pb::SignInWithCodeResponse {
            user: Some(user.to_proto()),
            tokens: Some(tokens),
            created,
        })
    }
}

/// Loads a user by a column value (used by the email flows).
pub(crate) async fn user_by_email(
    conn: &mut sqlx::PgConnection,
    email: &str,
) -> AppResult<Option<UserRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {USER_COLUMNS} FROM users WHERE email = $1"
    )))
    .bind(email)
    .fetch_optional(&mut *conn)
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits_and_vary() {
        let codes: std::collections::HashSet<String> =
            (0..200).map(|_| new_code().unwrap()).collect();
        assert!(
            codes
                .iter()
                .all(|c| c.len() == 6 && c.bytes().all(|b| b.is_ascii_digit()))
        );
        assert!(codes.len() > 190);
    }

    #[test]
    fn phone_numbers_are_e164() {
        assert!(valid_phone("+4915112345678"));
        assert!(valid_phone("+12025550123"));
        assert!(!valid_phone("4915112345678"));
        assert!(!valid_phone("+0123456789"));
        assert!(!valid_phone("+12"));
        assert!(!valid_phone("+1202555012a"));
        assert!(!valid_phone("+1234567890123456"));
        assert_eq!(
            parse_address(pb::CodeChannel::Sms as i32, "+49 151 1234-5678")
                .unwrap()
                .1,
            "+4915112345678"
        );
        assert!(parse_address(0, "a@b.co").is_err());
    }
}
