//! Sign-in identities: an email address (with or without a password), a phone number, or an
//! external provider's subject. Listing, linking (after proving the account), unlinking (never
//! the last) and choosing the primary one (where codes and mail go).

use sqlx::PgConnection;
use stride_kit::{AppError, AppResult, Caller, ClientInfo, convert::timestamp};
use stride_proto::auth as pb;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{
    codes::Purpose,
    external::ExternalIdentity,
    service::{AuthSvc, UserRow, invalid_credentials, is_unique_violation, micros},
};

/// An identity about to be stored.
#[derive(Clone, Debug)]
pub(crate) struct NewIdentity {
    pub provider: &'static str,
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
}

impl NewIdentity {
    pub(crate) fn email(address: &str, verified: bool) -> Self {
        Self {
            provider: "email",
            subject: address.to_owned(),
            email: Some(address.to_owned()),
            email_verified: verified,
        }
    }

    pub(crate) fn phone(number: &str) -> Self {
        Self {
            provider: "phone",
            subject: number.to_owned(),
            email: None,
            email_verified: false,
        }
    }
}

impl From<ExternalIdentity> for NewIdentity {
    fn from(e: ExternalIdentity) -> Self {
        Self {
            provider: e.provider,
            subject: e.subject,
            email: e.email,
            email_verified: e.email_verified,
        }
    }
}

pub(crate) fn provider_of(name: &str) -> pb::Provider {
    match name {
        "email" => pb::Provider::Email,
        "phone" => pb::Provider::Phone,
        "google" => pb::Provider::Google,
        "facebook" => pb::Provider::Facebook,
        "telegram" => pb::Provider::Telegram,
        _ => pb::Provider::Unspecified,
    }
}

/// Stores `identity` for `user`; ALREADY_EXISTS when another account holds it.
pub(crate) async fn insert(
    conn: &mut PgConnection,
    user: Uuid,
    identity: NewIdentity,
    primary: bool,
    now: OffsetDateTime,
) -> AppResult<Uuid> {
    let id = Uuid::now_v7();
    let inserted = sqlx::query(
        "INSERT INTO identities (id, user_id, provider, subject, email, email_verified, is_primary,
                                 created_at, last_used_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
    )
    .bind(id)
    .bind(user)
    .bind(identity.provider)
    .bind(&identity.subject)
    .bind(&identity.email)
    .bind(identity.email_verified)
    .bind(primary)
    .bind(now)
    .execute(&mut *conn)
    .await;
    match inserted {
        Ok(_) => Ok(id),
        Err(e) if is_unique_violation(&e) => Err(identity_in_use()),
        Err(e) => Err(e.into()),
    }
}

fn identity_in_use() -> AppError {
    AppError::AlreadyExists {
        reason: "IDENTITY_IN_USE",
        message: "this identity already belongs to an account".into(),
    }
}

/// The account an identity signs in to.
pub(crate) async fn owner(
    conn: &mut PgConnection,
    provider: &str,
    subject: &str,
) -> AppResult<Option<Uuid>> {
    let row: Option<(Uuid,)> =
        sqlx::query_as("SELECT user_id FROM identities WHERE provider = $1 AND subject = $2")
            .bind(provider)
            .bind(subject)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(row.map(|(u,)| u))
}

/// `address` is proved to be `user`'s (a code or a reset link reached it): the account's email,
/// if it is this address, and its email identity for it are marked verified.
pub(crate) async fn mark_email_verified(
    conn: &mut PgConnection,
    user: Uuid,
    address: &str,
    now: OffsetDateTime,
) -> AppResult<()> {
    sqlx::query(
        "UPDATE users SET email_verified_at = coalesce(email_verified_at, $3)
         WHERE id = $1 AND email = $2",
    )
    .bind(user)
    .bind(address)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE identities SET email_verified = true
         WHERE user_id = $1 AND provider = 'email' AND subject = $2",
    )
    .bind(user)
    .bind(address)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(crate) async fn touch(
    conn: &mut PgConnection,
    user: Uuid,
    provider: &str,
    subject: &str,
    now: OffsetDateTime,
) -> AppResult<()> {
    sqlx::query(
        "UPDATE identities SET last_used_at = $4 WHERE user_id = $1 AND provider = $2 AND subject = $3",
    )
    .bind(user)
    .bind(provider)
    .bind(subject)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    provider: String,
    subject: String,
    email: Option<String>,
    email_verified: bool,
    is_primary: bool,
    created_at: OffsetDateTime,
    last_used_at: Option<OffsetDateTime>,
}

impl Row {
    fn to_proto(&self) -> pb::Identity {
        pb::Identity {
            id: self.id.to_string(),
            provider: provider_of(&self.provider).into(),
            subject: self.subject.clone(),
            email: self.email.clone().unwrap_or_default(),
            email_verified: self.email_verified,
            primary: self.is_primary,
            create_time: Some(timestamp(self.created_at)),
            last_sign_in_time: self.last_used_at.map(timestamp),
        }
    }
}

const ROW_COLUMNS: &str =
    "id, provider, subject, email, email_verified, is_primary, created_at, last_used_at";

impl AuthSvc {
    pub(crate) async fn list_identities_inner(
        &self,
        caller: &Caller,
    ) -> AppResult<pb::ListIdentitiesResponse> {
        let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {ROW_COLUMNS} FROM identities WHERE user_id = $1 ORDER BY created_at, id"
        )))
        .bind(caller.user_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(pb::ListIdentitiesResponse {
            identities: rows.iter().map(Row::to_proto).collect(),
        })
    }

    /// Proves the caller controls `user`: the current password, or a re-authentication code.
    /// A guest account has nothing to take over and needs no proof.
    pub(crate) async fn check_proof(
        &self,
        user: &UserRow,
        proof: Option<pb::AccountProof>,
        client: &ClientInfo,
    ) -> AppResult<()> {
        if user.is_anonymous {
            return Ok(());
        }
        let now = micros(self.clock.now());
        match proof.and_then(|p| p.proof) {
            Some(pb::account_proof::Proof::CurrentPassword(password)) => {
                // Same throttle as login: a stolen access token must not become a password oracle.
                let keys = crate::throttle::login_keys(
                    user.email.as_deref().unwrap_or(&user.id.to_string()),
                    client,
                );
                crate::throttle::check_login(&self.pool, &self.settings.limits, &keys, now).await?;
                let ok = crate::service::valid_password(&password)
                    && user.password_hash.is_some()
                    && self
                        .hasher
                        .verify(password, user.password_hash.clone())
                        .await?;
                if !ok {
                    let mut conn = self.pool.acquire().await?;
                    crate::throttle::hit_all(&mut conn, &keys, now).await?;
                    crate::audit::record(
                        &mut conn,
                        Some(user.id),
                        "reauthentication.failed",
                        client,
                        serde_json::json!({"method": "password"}),
                        now,
                    )
                    .await?;
                    return Err(invalid_credentials());
                }
                Ok(())
            }
            Some(pb::account_proof::Proof::ReauthenticationCode(code)) => self
                .consume_code(Purpose::Reauthenticate, None, None, Some(user.id), &code)
                .await
                .map(|_| ()),
            None => Err(AppError::invalid(
                "proof",
                "is required: the current password or a re-authentication code",
            )),
        }
    }

    pub(crate) async fn link_identity_inner(
        &self,
        caller: &Caller,
        client: &ClientInfo,
        req: pb::LinkIdentityRequest,
    ) -> AppResult<pb::LinkIdentityResponse> {
        use pb::link_identity_request::Credential;
        let Some(credential) = req.credential else {
            return Err(AppError::invalid(
                "credential",
                "is required: an ID token, Telegram data or a code credential",
            ));
        };
        let mut conn = self.pool.acquire().await?;
        let Some(user) = self.load_user(&mut conn, caller.user_id).await? else {
            return Err(AppError::not_found("account"));
        };
        drop(conn);
        self.check_proof(&user, req.proof, client).await?;
        let identity: NewIdentity = match credential {
            Credential::IdToken(c) => self.verify_id_token(&c).await?.into(),
            Credential::Telegram(t) => self.verify_telegram(&t)?.into(),
            Credential::Code(c) => {
                let (channel, address) = crate::codes::parse_address(c.channel, &c.address)?;
                self.consume_code(
                    Purpose::Link,
                    Some(channel),
                    Some(&address),
                    Some(user.id),
                    &c.code,
                )
                .await?;
                match channel {
                    crate::codes::Channel::Email => NewIdentity::email(&address, true),
                    crate::codes::Channel::Sms => NewIdentity::phone(&address),
                }
            }
        };
        let now = micros(self.clock.now());
        let mut tx = self.pool.begin().await?;
        // An address that is another account's own (its email or phone) belongs to that account
        // even without an identity row for it, e.g. the verified email a Google sign-in gave it.
        let address_column = match identity.provider {
            "email" => Some("email"),
            "phone" => Some("phone"),
            _ => None,
        };
        if let Some(column) = address_column {
            let (taken,): (bool,) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT EXISTS (SELECT 1 FROM users WHERE {column} = $1 AND id <> $2)"
            )))
            .bind(&identity.subject)
            .bind(user.id)
            .fetch_one(&mut *tx)
            .await?;
            if taken {
                return Err(identity_in_use());
            }
        }
        let (primary,): (bool,) =
            sqlx::query_as("SELECT NOT EXISTS (SELECT 1 FROM identities WHERE user_id = $1)")
                .bind(user.id)
                .fetch_one(&mut *tx)
                .await?;
        let id = insert(&mut tx, user.id, identity.clone(), primary, now).await?;
        // A proved address becomes the account's address when it has none yet.
        let set_address = match identity.provider {
            "email" => sqlx::query(
                "UPDATE users SET email = $2, email_verified_at = $3 WHERE id = $1 AND email IS NULL",
            )
            .bind(user.id)
            .bind(&identity.subject)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map(|_| ()),
            "phone" => sqlx::query("UPDATE users SET phone = $2 WHERE id = $1 AND phone IS NULL")
                .bind(user.id)
                .bind(&identity.subject)
                .execute(&mut *tx)
                .await
                .map(|_| ()),
            _ => Ok(()),
        };
        match set_address {
            Ok(()) => {}
            Err(e) if is_unique_violation(&e) => return Err(identity_in_use()),
            Err(e) => return Err(e.into()),
        }
        let claimed = user.is_anonymous;
        if claimed {
            sqlx::query("UPDATE users SET is_anonymous = false WHERE id = $1")
                .bind(user.id)
                .execute(&mut *tx)
                .await?;
        }
        let user = self
            .load_user(&mut tx, user.id)
            .await?
            .ok_or_else(|| AppError::not_found("account"))?;
        // A claimed guest gets a pair that no longer says anonymous, in the same session.
        let tokens = if claimed {
            let family = Uuid::parse_str(&caller.session_id).unwrap_or_else(|_| Uuid::now_v7());
            Some(self.issue(&mut tx, &user, family, now).await?)
        } else {
            None
        };
        crate::audit::record(
            &mut tx,
            Some(user.id),
            if claimed {
                "guest.claimed"
            } else {
                "identity.linked"
            },
            client,
            serde_json::json!({"provider": identity.provider, "identity_id": id.to_string()}),
            now,
        )
        .await?;
        let row: Row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {ROW_COLUMNS} FROM identities WHERE id = $1"
        )))
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        if let Some(email) = user.email.clone().filter(|_| !claimed) {
            self.notifier.mail(
                email,
                "A sign-in method was added to your Stride account".into(),
                format!(
                    "A {} identity was linked to your account. If this was not you, reset your password and remove it.",
                    identity.provider
                ),
            );
        }
        Ok(pb::LinkIdentityResponse {
            identity: Some(row.to_proto()),
            user: Some(user.to_proto()),
            tokens,
        })
    }

    pub(crate) async fn unlink_identity_inner(
        &self,
        caller: &Caller,
        client: &ClientInfo,
        req: pb::UnlinkIdentityRequest,
    ) -> AppResult<pb::UnlinkIdentityResponse> {
        let id = stride_kit::convert::require_id("identity_id", &req.identity_id)?;
        let now = micros(self.clock.now());
        let mut tx = self.pool.begin().await?;
        // Lock the user's identities so two concurrent unlinks cannot remove the last two.
        let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {ROW_COLUMNS} FROM identities WHERE user_id = $1 ORDER BY created_at, id FOR UPDATE"
        )))
        .bind(caller.user_id)
        .fetch_all(&mut *tx)
        .await?;
        let Some(target) = rows.iter().find(|r| r.id == id) else {
            return Err(AppError::not_found("identity"));
        };
        if rows.len() <= 1 {
            return Err(AppError::precondition(
                "LAST_IDENTITY",
                "the last way to sign in cannot be removed",
            ));
        }
        sqlx::query("DELETE FROM identities WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        match target.provider.as_str() {
            // Without its email the password has nothing to sign in with.
            "email" => {
                let cleared = sqlx::query(
                    "UPDATE users SET email = NULL, email_verified_at = NULL, password_hash = NULL
                     WHERE id = $1 AND email = $2",
                )
                .bind(caller.user_id)
                .bind(&target.subject)
                .execute(&mut *tx)
                .await?;
                // The oldest other email identity takes over as the account's address: without
                // one, re-authentication codes, notices and resets would have nowhere to go and a
                // passwordless account could no longer prove itself.
                if cleared.rows_affected() == 1 {
                    sqlx::query(
                        "UPDATE users SET email = next.subject,
                                email_verified_at = CASE WHEN next.email_verified THEN $2 END
                         FROM (SELECT subject, email_verified FROM identities i
                               WHERE i.user_id = $1 AND i.provider = 'email'
                                 AND NOT EXISTS (SELECT 1 FROM users u WHERE u.email = i.subject)
                               ORDER BY i.created_at, i.id LIMIT 1) AS next
                         WHERE users.id = $1",
                    )
                    .bind(caller.user_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            "phone" => {
                sqlx::query("UPDATE users SET phone = NULL WHERE id = $1 AND phone = $2")
                    .bind(caller.user_id)
                    .bind(&target.subject)
                    .execute(&mut *tx)
                    .await?;
            }
            _ => {}
        }
        if target.is_primary
            && let Some(next) = rows.iter().find(|r| r.id != id)
        {
            sqlx::query("UPDATE identities SET is_primary = true WHERE id = $1")
                .bind(next.id)
                .execute(&mut *tx)
                .await?;
        }
        crate::audit::record(
            &mut tx,
            Some(caller.user_id),
            "identity.unlinked",
            client,
            serde_json::json!({"provider": target.provider, "identity_id": id.to_string()}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(pb::UnlinkIdentityResponse {})
    }

    pub(crate) async fn set_primary_identity_inner(
        &self,
        caller: &Caller,
        req: pb::SetPrimaryIdentityRequest,
    ) -> AppResult<pb::SetPrimaryIdentityResponse> {
        let id = stride_kit::convert::require_id("identity_id", &req.identity_id)?;
        let mut tx = self.pool.begin().await?;
        let (exists,): (bool,) = sqlx::query_as(
            "SELECT EXISTS (SELECT 1 FROM identities WHERE id = $1 AND user_id = $2)",
        )
        .bind(id)
        .bind(caller.user_id)
        .fetch_one(&mut *tx)
        .await?;
        if !exists {
            return Err(AppError::not_found("identity"));
        }
        // Two statements: the one-primary index is checked row by row.
        sqlx::query("UPDATE identities SET is_primary = false WHERE user_id = $1 AND is_primary")
            .bind(caller.user_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE identities SET is_primary = true WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(pb::SetPrimaryIdentityResponse {})
    }
}
