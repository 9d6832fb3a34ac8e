//! The ProfileService handlers: the caller's own profile, read and partial update.

use sqlx::PgPool;
use stride_bus::outbox::OutboxHandle;
use stride_kit::{
    AppError, AppResult, Caller, Violations, clock::SharedClock, convert::is_valid_timezone,
};
use stride_proto::profile::{self as pb, profile_service_server::ProfileService};
use tonic::{Request, Response, Status};

use crate::store::{self, Changes};

pub const DISPLAY_NAME_MAX: usize = 64;
pub const LOCALES: [&str; 2] = ["en", "fr"];
/// Paths `update_mask` may name.
pub const MASK_PATHS: [&str; 3] = ["display_name", "timezone", "locale"];
/// More paths than this is not a real request.
const MAX_MASK_PATHS: usize = 16;

pub struct ProfileSvc {
    pub pool: PgPool,
    pub clock: SharedClock,
    pub outbox: OutboxHandle,
}

/// Checks the mask and the values it names. `profile.user_id` is ignored on purpose: the user
/// is the caller.
pub fn changes(req: &pb::UpdateMyProfileRequest) -> AppResult<Changes> {
    let mut v = Violations::new();
    let paths = req
        .update_mask
        .as_ref()
        .map(|m| m.paths.as_slice())
        .unwrap_or_default();
    if paths.is_empty() {
        v.add(
            "update_mask",
            "name at least one field to update: display_name, timezone or locale",
        );
        return v.check().map(|()| Changes::default());
    }
    if paths.len() > MAX_MASK_PATHS {
        v.add("update_mask.paths", "too many paths");
        return v.check().map(|()| Changes::default());
    }
    for p in paths.iter().filter(|p| !MASK_PATHS.contains(&p.as_str())) {
        let shown: String = p.chars().take(64).collect();
        v.add(
            "update_mask.paths",
            &format!("unknown field {shown:?}; allowed: display_name, timezone, locale"),
        );
    }
    let empty = pb::Profile::default();
    let profile = req.profile.as_ref().unwrap_or(&empty);
    let named = |f: &str| paths.iter().any(|p| p == f);
    let mut c = Changes::default();
    if named("display_name") {
        let name = profile.display_name.trim();
        let n = name.chars().count();
        let bad = n == 0 || n > DISPLAY_NAME_MAX || name.chars().any(char::is_control);
        v.when(
            bad,
            "profile.display_name",
            "must be 1 to 64 characters, without control characters",
        );
        c.display_name = Some(name.to_owned());
    }
    if named("timezone") {
        v.when(
            !is_valid_timezone(&profile.timezone),
            "profile.timezone",
            "must be an IANA time zone, e.g. Europe/Paris",
        );
        c.timezone = Some(profile.timezone.clone());
    }
    if named("locale") {
        v.when(
            !LOCALES.contains(&profile.locale.as_str()),
            "profile.locale",
            "must be \"en\" or \"fr\"",
        );
        c.locale = Some(profile.locale.clone());
    }
    v.check()?;
    Ok(c)
}

impl ProfileSvc {
    async fn get_inner(&self, caller: Caller) -> AppResult<pb::GetMyProfileResponse> {
        let mut conn = self.pool.acquire().await?;
        let row = store::get(&mut conn, caller.user_id)
            .await?
            .ok_or(AppError::not_found("profile"))?;
        Ok(pb::GetMyProfileResponse {
            profile: Some(row.to_proto()),
        })
    }

    async fn update_inner(
        &self,
        caller: Caller,
        req: pb::UpdateMyProfileRequest,
    ) -> AppResult<pb::UpdateMyProfileResponse> {
        let changes = changes(&req)?;
        let now = store::micros(self.clock.now());
        let mut tx = self.pool.begin().await?;
        let row = store::update(&mut tx, caller.user_id, &changes, now)
            .await?
            .ok_or(AppError::not_found("profile"))?;
        stride_bus::outbox::enqueue(&mut tx, &row.event()).await?;
        tx.commit().await?;
        self.outbox.kick();
        Ok(pb::UpdateMyProfileResponse {
            profile: Some(row.to_proto()),
        })
    }
}

#[tonic::async_trait]
impl ProfileService for ProfileSvc {
    #[tracing::instrument(skip_all, fields(user_id))]
    async fn get_my_profile(
        &self,
        request: Request<pb::GetMyProfileRequest>,
    ) -> Result<Response<pb::GetMyProfileResponse>, Status> {
        let caller = Caller::of(&request)?;
        tracing::Span::current().record("user_id", tracing::field::display(caller.user_id));
        self.get_inner(caller)
            .await
            .map(Response::new)
            .map_err(Into::into)
    }

    #[tracing::instrument(skip_all, fields(user_id))]
    async fn update_my_profile(
        &self,
        request: Request<pb::UpdateMyProfileRequest>,
    ) -> Result<Response<pb::UpdateMyProfileResponse>, Status> {
        let caller = Caller::of(&request)?;
        tracing::Span::current().record("user_id", tracing::field::display(caller.user_id));
        self.update_inner(caller, request.into_inner())
            .await
            .map(Response::new)
            .map_err(Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(paths: &[&str], profile: pb::Profile) -> pb::UpdateMyProfileRequest {
        pb::UpdateMyProfileRequest {
            profile: Some(profile),
            update_mask: Some(prost_types::FieldMask {
                paths: paths.iter().map(|p| p.to_string()).collect(),
            }),
        }
    }

    fn fields(e: AppError) -> Vec<String> {
        match e {
            AppError::InvalidArgument(v) => v.into_iter().map(|(f, _)| f).collect(),
            other => panic!("expected INVALID_ARGUMENT, got {other:?}"),
        }
    }

    #[test]
    fn mask_and_values_are_checked() {
        let p = pb::Profile {
            user_id: "ignored".into(),
            display_name: "  Ann  ".into(),
            timezone: "Europe/Paris".into(),
            locale: "fr".into(),
            ..Default::default()
        };
        let c = changes(&req(&["display_name", "timezone", "locale"], p.clone())).unwrap();
        assert_eq!(c.display_name.as_deref(), Some("Ann"));
        assert_eq!(c.timezone.as_deref(), Some("Europe/Paris"));
        assert_eq!(c.locale.as_deref(), Some("fr"));
        // Only named fields change.
        let c = changes(&req(&["locale"], p.clone())).unwrap();
        assert!(c.display_name.is_none() && c.timezone.is_none());

        let none = pb::UpdateMyProfileRequest {
            profile: Some(p.clone()),
            update_mask: None,
        };
        assert_eq!(fields(changes(&none).unwrap_err()), ["update_mask"]);
        assert_eq!(
            fields(changes(&req(&[], p.clone())).unwrap_err()),
            ["update_mask"]
        );
        assert_eq!(
            fields(changes(&req(&["user_id"], p.clone())).unwrap_err()),
            ["update_mask.paths"]
        );

        let bad = pb::Profile {
            display_name: "   ".into(),
            timezone: "Mars/Olympus".into(),
            locale: "de".into(),
            ..Default::default()
        };
        assert_eq!(
            fields(changes(&req(&["display_name", "timezone", "locale"], bad)).unwrap_err()),
            ["profile.display_name", "profile.timezone", "profile.locale"]
        );
        let long = pb::Profile {
            display_name: "é".repeat(65),
            ..Default::default()
        };
        assert_eq!(
            fields(changes(&req(&["display_name"], long)).unwrap_err()),
            ["profile.display_name"]
        );
        let max = pb::Profile {
            display_name: "é".repeat(64),
            ..Default::default()
        };
        assert!(changes(&req(&["display_name"], max)).is_ok());
    }
}
