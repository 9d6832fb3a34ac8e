//! `stride.profile.v1.ProfileService`: the caller's own profile (read, masked update,
//! onboarding, background, avatar) and other users' public cards.

use std::sync::Arc;

use sqlx::PgPool;
use stride_bus::Outbox;
use stride_kit::{
    AppError, AppResult, Call,
    clock::SharedClock,
    convert::{local_date, require_id, timestamp},
};
use stride_proto::profile::{self as pb, profile_service_server::ProfileService};
use tokio::sync::Semaphore;

use crate::{
    avatar::{self, Urls, storage::SharedStore},
    domain::{self, Editable, Measure, Today, background},
    errors,
    events::publish,
    store::{self, ProfileRow},
};

pub struct Profiles {
    pub pool: PgPool,
    pub clock: SharedClock,
    pub outbox: Outbox,
    pub objects: SharedStore,
    pub urls: Urls,
    /// Image decodes at once (each may use up to `avatar::MAX_ALLOC` bytes and a core).
    pub decodes: Arc<Semaphore>,
}

stride_kit::grpc_handlers! {
    impl ProfileService for Profiles {
        fn get_my_profile(pb::GetMyProfileRequest) -> pb::GetMyProfileResponse => get_my_profile;
        fn update_my_profile(pb::UpdateMyProfileRequest) -> pb::UpdateMyProfileResponse => update_my_profile;
        fn save_onboarding_step(pb::SaveOnboardingStepRequest) -> pb::SaveOnboardingStepResponse => save_onboarding_step;
        fn complete_onboarding(pb::CompleteOnboardingRequest) -> pb::CompleteOnboardingResponse => complete_onboarding;
        fn set_my_background(pb::SetMyBackgroundRequest) -> pb::SetMyBackgroundResponse => set_my_background;
        fn redact_my_background(pb::RedactMyBackgroundRequest) -> pb::RedactMyBackgroundResponse => redact_my_background;
        fn set_my_training_focus(pb::SetMyTrainingFocusRequest) -> pb::SetMyTrainingFocusResponse => set_my_training_focus;
        fn upload_my_avatar(pb::UploadMyAvatarRequest) -> pb::UploadMyAvatarResponse => upload_my_avatar;
        fn set_my_avatar_preset(pb::SetMyAvatarPresetRequest) -> pb::SetMyAvatarPresetResponse => set_my_avatar_preset;
        fn delete_my_avatar(pb::DeleteMyAvatarRequest) -> pb::DeleteMyAvatarResponse => delete_my_avatar;
        fn list_avatar_presets(pb::ListAvatarPresetsRequest) -> pb::ListAvatarPresetsResponse => list_avatar_presets;
        fn get_public_profile(pb::GetPublicProfileRequest) -> pb::GetPublicProfileResponse => get_public_profile;
    }
}

impl Profiles {
    fn today(&self, tz: &str) -> Today {
        Today(local_date(self.clock.now(), tz))
    }

    fn profile(&self, row: &ProfileRow) -> pb::Profile {
        to_proto(row, &self.urls, self.today(&row.timezone))
    }

    /// Applies `paths` of `wanted` to the caller's profile (recording `step` when it is an
    /// onboarding step), announces it, returns the new row.
    async fn edit(
        &self,
        user: uuid::Uuid,
        paths: &[String],
        wanted: &Editable,
        step: Option<i32>,
    ) -> AppResult<ProfileRow> {
        // Values are checked before the profile is looked up, so a caller learns what is wrong
        // with the request even before the profile exists.
        domain::apply(paths, wanted, &Editable::default(), self.today("UTC"))?;
        let mut tx = self.outbox.begin().await?;
        let row = store::get_for_update(&mut tx, user)
            .await?
            .ok_or_else(errors::no_profile)?;
        let next = domain::apply(paths, wanted, &row.editable(), self.today(&row.timezone))?;
        let steps = match step {
            Some(s) => domain::with_step(&row.onboarding_steps, s),
            None => row.onboarding_steps.clone(),
        };
        let row = store::save(&mut tx, user, &next, &steps, self.clock.now_db()).await?;
        tx.publish(&publish::profile_updated(&row, &self.urls))
            .await?;
        tx.commit().await?;
        Ok(row)
    }

    /// Points the caller's avatar at `key` or `preset` (or nothing), announces it, and deletes
    /// the upload it replaces.
    async fn set_avatar(
        &self,
        user: uuid::Uuid,
        key: Option<&str>,
        preset: Option<&str>,
    ) -> AppResult<ProfileRow> {
        let mut tx = self.outbox.begin().await?;
        let before = store::get_for_update(&mut tx, user)
            .await?
            .ok_or_else(errors::no_profile)?;
        let row = store::set_avatar(&mut tx, user, key, preset, self.clock.now_db())
            .await?
            .ok_or_else(errors::no_profile)?;
        tx.publish(&publish::profile_updated(&row, &self.urls))
            .await?;
        tx.commit().await?;
        if let Some(old) = before.avatar_key.filter(|old| Some(old.as_str()) != key) {
            // After the commit: the profile no longer points at it. A failure leaves an
            // unreferenced file (logged), never a profile pointing at a missing one.
            if let Err(e) = self.objects.delete(&old).await {
                tracing::warn!(key = %old, error = format!("{e:#}"), "replaced avatar not deleted");
            }
        }
        Ok(row)
    }
}

async fn get_my_profile(
    s: &Profiles,
    call: Call<pb::GetMyProfileRequest>,
) -> AppResult<pb::GetMyProfileResponse> {
    let caller = call.caller()?;
    let mut conn = s.pool.acquire().await?;
    let row = store::get(&mut conn, caller.user_id)
        .await?
        .ok_or_else(errors::no_profile)?;
    Ok(pb::GetMyProfileResponse {
        profile: Some(s.profile(&row)),
    })
}

/// `profile.user_id` in the request is ignored on purpose: the user is the caller.
async fn update_my_profile(
    s: &Profiles,
    call: Call<pb::UpdateMyProfileRequest>,
) -> AppResult<pb::UpdateMyProfileResponse> {
    let caller = call.caller()?;
    let req = &call.message;
    let paths = req
        .update_mask
        .as_ref()
        .map(|m| m.paths.as_slice())
        .unwrap_or_default();
    let wanted = req.profile.as_ref().map(from_proto).unwrap_or_default();
    let row = s.edit(caller.user_id, paths, &wanted, None).await?;
    Ok(pb::UpdateMyProfileResponse {
        profile: Some(s.profile(&row)),
    })
}

async fn save_onboarding_step(
    s: &Profiles,
    call: Call<pb::SaveOnboardingStepRequest>,
) -> AppResult<pb::SaveOnboardingStepResponse> {
    let caller = call.caller()?;
    let req = &call.message;
    let paths: Vec<String> = domain::onboarding_step_paths(req.step)
        .ok_or_else(|| AppError::invalid("step", "must be one of the OnboardingStep values"))?
        .iter()
        .map(|p| (*p).to_owned())
        .collect();
    // An absent profile is a step saved with every value at its default.
    let wanted = from_proto(&req.profile.clone().unwrap_or_default());
    // Violations name the profile's fields (`profile.body.weight.value`) as in updates.
    let row = s
        .edit(caller.user_id, &paths, &wanted, Some(req.step))
        .await?;
    Ok(pb::SaveOnboardingStepResponse {
        profile: Some(s.profile(&row)),
    })
}

/// Idempotent (docs/api.md): the first call completes onboarding and announces the profile;
/// later calls return it unchanged, with the first completion time.
async fn complete_onboarding(
    s: &Profiles,
    call: Call<pb::CompleteOnboardingRequest>,
) -> AppResult<pb::CompleteOnboardingResponse> {
    let caller = call.caller()?;
    let mut tx = s.outbox.begin().await?;
    let row = match store::complete_onboarding(&mut tx, caller.user_id, s.clock.now_db()).await? {
        Some(row) => {
            tx.publish(&publish::profile_updated(&row, &s.urls)).await?;
            row
        }
        None => store::get(&mut tx, caller.user_id)
            .await?
            .ok_or_else(errors::no_profile)?,
    };
    tx.commit().await?;
    Ok(pb::CompleteOnboardingResponse {
        profile: Some(s.profile(&row)),
    })
}

async fn set_my_background(
    s: &Profiles,
    call: Call<pb::SetMyBackgroundRequest>,
) -> AppResult<pb::SetMyBackgroundResponse> {
    let caller = call.caller()?;
    let req = &call.message;
    let text = req.cv_text.trim();
    let n = text.chars().count();
    let bad_char = text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'));
    if n == 0 || n > background::CV_TEXT_MAX || bad_char {
        return Err(AppError::invalid(
            "cv_text",
            "must be 1 to 20000 characters, without control characters other than line breaks and tabs",
        ));
    }
    let mut tx = s.pool.begin().await?;
    let row = store::get_for_update(&mut tx, caller.user_id)
        .await?
        .ok_or_else(errors::no_profile)?;
    let structured = if req.redact_personal_data {
        background::redact(text, &row.display_name)
    } else {
        text.to_owned()
    };
    let row = store::set_background(
        &mut tx,
        caller.user_id,
        text,
        &structured,
        req.redact_personal_data,
        s.clock.now_db(),
    )
    .await?
    .ok_or_else(errors::no_profile)?;
    tx.commit().await?;
    Ok(pb::SetMyBackgroundResponse {
        background: Some(background_proto(&row)),
    })
}

/// Redacts the stored structured copy and drops the raw text (which holds what was redacted).
async fn redact_my_background(
    s: &Profiles,
    call: Call<pb::RedactMyBackgroundRequest>,
) -> AppResult<pb::RedactMyBackgroundResponse> {
    let caller = call.caller()?;
    let mut tx = s.pool.begin().await?;
    let row = store::get_for_update(&mut tx, caller.user_id)
        .await?
        .ok_or_else(errors::no_profile)?;
    let redacted = background::redact(&row.background_text, &row.display_name);
    let row = store::set_background(
        &mut tx,
        caller.user_id,
        "",
        &redacted,
        true,
        s.clock.now_db(),
    )
    .await?
    .ok_or_else(errors::no_profile)?;
    tx.commit().await?;
    Ok(pb::RedactMyBackgroundResponse {
        background: Some(background_proto(&row)),
    })
}

async fn set_my_training_focus(
    s: &Profiles,
    call: Call<pb::SetMyTrainingFocusRequest>,
) -> AppResult<pb::SetMyTrainingFocusResponse> {
    let caller = call.caller()?;
    let focus = call.message.training_focus.clone().unwrap_or_default();
    let wanted = from_proto(&pb::Profile {
        practice: Some(pb::PracticeContext {
            agenda: focus.agenda_template.clone(),
            training_focus: Some(focus),
            ..Default::default()
        }),
        ..Default::default()
    });
    let paths = [
        "practice.training_focus".to_owned(),
        "practice.agenda".to_owned(),
    ];
    let row = s.edit(caller.user_id, &paths, &wanted, None).await?;
    Ok(pb::SetMyTrainingFocusResponse {
        profile: Some(s.profile(&row)),
    })
}

async fn upload_my_avatar(
    s: &Profiles,
    call: Call<pb::UploadMyAvatarRequest>,
) -> AppResult<pb::UploadMyAvatarResponse> {
    let user = call.caller()?.user_id;
    let content = call.message.content;
    // Cheap refusals before taking a decode slot.
    if content.len() > avatar::MAX_UPLOAD_BYTES || content.is_empty() {
        let why = if content.is_empty() {
            avatar::Refused::Empty
        } else {
            avatar::Refused::TooLarge
        };
        return Err(AppError::invalid("content", &why.to_string()));
    }
    let thumb = {
        let _slot = s
            .decodes
            .clone()
            .acquire_owned()
            .await
            .map_err(AppError::internal)?;
        tokio::task::spawn_blocking(move || avatar::thumbnail(&content))
            .await
            .map_err(AppError::internal)?
            .map_err(|why| AppError::invalid("content", &why.to_string()))?
    };
    // Stored before the profile points at it; removed again if the profile cannot be updated.
    let key = avatar::new_key(user);
    s.objects
        .put(&key, thumb, avatar::CONTENT_TYPE)
        .await
        .map_err(AppError::Internal)?;
    let row = match s.set_avatar(user, Some(&key), None).await {
        Ok(row) => row,
        Err(e) => {
            if let Err(d) = s.objects.delete(&key).await {
                tracing::warn!(%key, error = format!("{d:#}"), "unused avatar not deleted");
            }
            return Err(e);
        }
    };
    Ok(pb::UploadMyAvatarResponse {
        profile: Some(s.profile(&row)),
    })
}

async fn set_my_avatar_preset(
    s: &Profiles,
    call: Call<pb::SetMyAvatarPresetRequest>,
) -> AppResult<pb::SetMyAvatarPresetResponse> {
    let caller = call.caller()?;
    let id = call.message.preset_id.as_str();
    if !avatar::is_preset(id) {
        return Err(AppError::invalid(
            "preset_id",
            "must be the id of a preset from ListAvatarPresets",
        ));
    }
    let row = s.set_avatar(caller.user_id, None, Some(id)).await?;
    Ok(pb::SetMyAvatarPresetResponse {
        profile: Some(s.profile(&row)),
    })
}

async fn delete_my_avatar(
    s: &Profiles,
    call: Call<pb::DeleteMyAvatarRequest>,
) -> AppResult<pb::DeleteMyAvatarResponse> {
    let caller = call.caller()?;
    let row = s.set_avatar(caller.user_id, None, None).await?;
    Ok(pb::DeleteMyAvatarResponse {
        profile: Some(s.profile(&row)),
    })
}

async fn list_avatar_presets(
    s: &Profiles,
    call: Call<pb::ListAvatarPresetsRequest>,
) -> AppResult<pb::ListAvatarPresetsResponse> {
    call.caller()?;
    Ok(pb::ListAvatarPresetsResponse {
        presets: avatar::PRESETS
            .iter()
            .map(|(id, _)| pb::AvatarPreset {
                id: (*id).to_owned(),
                url: s.urls.preset(id),
            })
            .collect(),
    })
}

/// NOT_FOUND unless the profile exists and its visibility allows a card: a caller cannot tell
/// a private profile from a missing one.
async fn get_public_profile(
    s: &Profiles,
    call: Call<pb::GetPublicProfileRequest>,
) -> AppResult<pb::GetPublicProfileResponse> {
    let caller = call.caller()?;
    let user = require_id("user_id", &call.message.user_id)?;
    let mut conn = s.pool.acquire().await?;
    let row = store::get(&mut conn, user)
        .await?
        // One's own card is always visible to oneself.
        .filter(|r| r.user_id == caller.user_id || domain::card_visible(r.visibility))
        .ok_or_else(errors::no_profile)?;
    Ok(pb::GetPublicProfileResponse {
        profile: Some(pb::PublicProfile {
            user_id: row.user_id.to_string(),
            display_name: row.display_name.clone(),
            avatar_url: publish::avatar_url(&row, &s.urls),
            bio: row.bio.clone(),
        }),
    })
}

fn background_proto(row: &ProfileRow) -> pb::Background {
    pb::Background {
        cv_text: row.cv_text.clone(),
        sections: background::structure(&row.background_text)
            .into_iter()
            .map(|s| pb::BackgroundSection {
                heading: s.heading,
                lines: s.lines,
            })
            .collect(),
        redacted: row.background_redacted,
        update_time: row.background_updated_at.map(timestamp),
    }
}

fn to_proto(row: &ProfileRow, urls: &Urls, today: Today) -> pb::Profile {
    let e = row.editable();
    let height = e.body.height.map(|m| pb::Height {
        value: m.value,
        unit: m.unit,
    });
    let weight = e.body.weight.map(|m| pb::Weight {
        value: m.value,
        unit: m.unit,
    });
    pb::Profile {
        user_id: row.user_id.to_string(),
        username: row.username.clone(),
        display_name: e.display_name,
        timezone: e.timezone,
        locale: e.locale,
        create_time: Some(timestamp(row.created_at)),
        update_time: Some(timestamp(row.updated_at)),
        bio: e.bio,
        avatar_url: publish::avatar_url(row, urls),
        avatar_preset: row.avatar_preset.clone().unwrap_or_default(),
        units: e.units,
        privacy: Some(pb::Privacy {
            visibility: e.visibility,
            show_on_leaderboards: e.show_on_leaderboards,
        }),
        activation_state: row.activation_state,
        activate_time: row.activated_at.map(timestamp),
        onboarding_completed: row.onboarding_completed_at.is_some(),
        onboarding_complete_time: row.onboarding_completed_at.map(timestamp),
        onboarding_steps: row.onboarding_steps.clone(),
        body: Some(pb::Body {
            birth_year: e.body.birth_year,
            age: domain::age(e.body.birth_year, today),
            height,
            weight,
            fitness_level: e.body.fitness_level,
            goals: e.body.goals,
            workout_style: e.body.workout_style,
            daily_activity: e.body.daily_activity,
            equipment: e.body.equipment,
            limitations: e.body.limitations,
        }),
        practice: Some(pb::PracticeContext {
            preparation_type: e.practice.preparation_type,
            meeting_subtype: e.practice.meeting_subtype,
            agenda: e.practice.agenda,
            tone: e.practice.tone,
            training_focus: Some(pb::TrainingFocus {
                title: e.practice.focus_title,
                tags: e.practice.focus_tags,
                agenda_template: e.practice.focus_agenda_template,
            }),
        }),
        learning: Some(pb::Learning {
            subjects: e.learning.subjects,
            goals: e.learning.goals,
            study_preferences: e.learning.study_preferences,
            work_hours: e.learning.work_hours.map(|(start, end)| pb::WorkHours {
                start_minute: start,
                end_minute: end,
            }),
            daily_focus_goal_minutes: e.learning.daily_focus_goal_minutes,
        }),
        background: Some(background_proto(row)),
    }
}

/// The request's values as the domain reads them; absent sub-messages are empty.
fn from_proto(p: &pb::Profile) -> Editable {
    let privacy = p.privacy.unwrap_or_default();
    let body = p.body.clone().unwrap_or_default();
    let practice = p.practice.clone().unwrap_or_default();
    let focus = practice.training_focus.unwrap_or_default();
    let learning = p.learning.clone().unwrap_or_default();
    Editable {
        display_name: p.display_name.clone(),
        bio: p.bio.clone(),
        timezone: p.timezone.clone(),
        locale: p.locale.clone(),
        units: p.units,
        visibility: privacy.visibility,
        show_on_leaderboards: privacy.show_on_leaderboards,
        body: domain::Body {
            birth_year: body.birth_year,
            height: body.height.map(|m| Measure {
                value: m.value,
                unit: m.unit,
            }),
            weight: body.weight.map(|m| Measure {
                value: m.value,
                unit: m.unit,
            }),
            fitness_level: body.fitness_level,
            goals: body.goals,
            workout_style: body.workout_style,
            daily_activity: body.daily_activity,
            equipment: body.equipment,
            limitations: body.limitations,
        },
        practice: domain::Practice {
            preparation_type: practice.preparation_type,
            meeting_subtype: practice.meeting_subtype,
            agenda: practice.agenda,
            tone: practice.tone,
            focus_title: focus.title,
            focus_tags: focus.tags,
            focus_agenda_template: focus.agenda_template,
        },
        learning: domain::Learning {
            subjects: learning.subjects,
            goals: learning.goals,
            study_preferences: learning.study_preferences,
            work_hours: learning.work_hours.map(|w| (w.start_minute, w.end_minute)),
            daily_focus_goal_minutes: learning.daily_focus_goal_minutes,
        },
    }
}
