//! The `profiles` table. Functions run on the caller's connection or transaction and never
//! begin or commit.

use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::{self, Body, Editable, Fields, Learning, Measure, Practice};

pub const COLUMNS: &str =
    "user_id, username, display_name, timezone, locale, revision, created_at, updated_at,
    bio, units, visibility, show_on_leaderboards, activation_state, activated_at, onboarding_steps,
    onboarding_completed_at, avatar_key, avatar_preset, birth_year, height_value, height_unit,
    weight_value, weight_unit, fitness_level, fitness_goals, workout_style, daily_activity,
    equipment, limitations, preparation_type, meeting_subtype, agenda, tone, focus_title,
    focus_tags, focus_agenda_template, subjects, learning_goals, study_preferences,
    work_start_minute, work_end_minute, daily_focus_goal_minutes, cv_text, background_text,
    background_redacted, background_updated_at, activated_by";

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ProfileRow {
    pub user_id: Uuid,
    pub username: String,
    pub display_name: String,
    pub timezone: String,
    pub locale: String,
    pub revision: i64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub bio: String,
    pub units: i32,
    pub visibility: i32,
    pub show_on_leaderboards: bool,
    pub activation_state: i32,
    pub activated_at: Option<OffsetDateTime>,
    pub onboarding_steps: Vec<i32>,
    pub onboarding_completed_at: Option<OffsetDateTime>,
    pub avatar_key: Option<String>,
    pub avatar_preset: Option<String>,
    pub birth_year: i32,
    pub height_value: Option<f64>,
    pub height_unit: Option<i32>,
    pub weight_value: Option<f64>,
    pub weight_unit: Option<i32>,
    pub fitness_level: i32,
    pub fitness_goals: Vec<String>,
    pub workout_style: i32,
    pub daily_activity: i32,
    pub equipment: Vec<String>,
    pub limitations: Vec<String>,
    pub preparation_type: i32,
    pub meeting_subtype: String,
    pub agenda: String,
    pub tone: String,
    pub focus_title: String,
    pub focus_tags: Vec<String>,
    pub focus_agenda_template: String,
    pub subjects: Vec<String>,
    pub learning_goals: Vec<String>,
    pub study_preferences: Vec<String>,
    pub work_start_minute: Option<i32>,
    pub work_end_minute: Option<i32>,
    pub daily_focus_goal_minutes: i32,
    pub cv_text: String,
    pub background_text: String,
    pub background_redacted: bool,
    pub background_updated_at: Option<OffsetDateTime>,
    pub activated_by: Option<Uuid>,
}

impl ProfileRow {
    pub fn fields(&self) -> Fields {
        Fields {
            display_name: self.display_name.clone(),
            timezone: self.timezone.clone(),
            locale: self.locale.clone(),
        }
    }

    pub fn editable(&self) -> Editable {
        let measure = |v: Option<f64>, u: Option<i32>| match (v, u) {
            (Some(value), Some(unit)) => Some(Measure { value, unit }),
            _ => None,
        };
        Editable {
            display_name: self.display_name.clone(),
            bio: self.bio.clone(),
            timezone: self.timezone.clone(),
            locale: self.locale.clone(),
            units: self.units,
            visibility: self.visibility,
            show_on_leaderboards: self.show_on_leaderboards,
            body: Body {
                birth_year: self.birth_year,
                height: measure(self.height_value, self.height_unit),
                weight: measure(self.weight_value, self.weight_unit),
                fitness_level: self.fitness_level,
                goals: self.fitness_goals.clone(),
                workout_style: self.workout_style,
                daily_activity: self.daily_activity,
                equipment: self.equipment.clone(),
                limitations: self.limitations.clone(),
            },
            practice: Practice {
                preparation_type: self.preparation_type,
                meeting_subtype: self.meeting_subtype.clone(),
                agenda: self.agenda.clone(),
                tone: self.tone.clone(),
                focus_title: self.focus_title.clone(),
                focus_tags: self.focus_tags.clone(),
                focus_agenda_template: self.focus_agenda_template.clone(),
            },
            learning: Learning {
                subjects: self.subjects.clone(),
                goals: self.learning_goals.clone(),
                study_preferences: self.study_preferences.clone(),
                work_hours: self.work_start_minute.zip(self.work_end_minute),
                daily_focus_goal_minutes: self.daily_focus_goal_minutes,
            },
        }
    }
}

/// The row of `user_id`, locked for a read-modify-write.
pub async fn get_for_update(
    tx: &mut PgConnection,
    user_id: Uuid,
) -> sqlx::Result<Option<ProfileRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM profiles WHERE user_id = $1 FOR UPDATE"
    )))
    .bind(user_id)
    .fetch_optional(tx)
    .await
}

/// Writes every editable field (and the saved onboarding steps) and bumps the revision.
pub async fn save(
    tx: &mut PgConnection,
    user_id: Uuid,
    e: &Editable,
    steps: &[i32],
    now: OffsetDateTime,
) -> sqlx::Result<ProfileRow> {
    let b = &e.body;
    let p = &e.practice;
    let l = &e.learning;
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE profiles SET
             display_name = $2, bio = $3, timezone = $4, locale = $5, units = $6, visibility = $7,
             show_on_leaderboards = $8, birth_year = $9, height_value = $10, height_unit = $11,
             weight_value = $12, weight_unit = $13, fitness_level = $14, fitness_goals = $15,
             workout_style = $16, daily_activity = $17, equipment = $18, limitations = $19,
             preparation_type = $20, meeting_subtype = $21, agenda = $22, tone = $23,
             focus_title = $24, focus_tags = $25, focus_agenda_template = $26, subjects = $27,
             learning_goals = $28, study_preferences = $29, work_start_minute = $30,
             work_end_minute = $31, daily_focus_goal_minutes = $32, onboarding_steps = $33,
             revision = revision + 1,
             updated_at = GREATEST($34, updated_at)
         WHERE user_id = $1
         RETURNING {COLUMNS}"
    )))
    .bind(user_id)
    .bind(&e.display_name)
    .bind(&e.bio)
    .bind(&e.timezone)
    .bind(&e.locale)
    .bind(e.units)
    .bind(e.visibility)
    .bind(e.show_on_leaderboards)
    .bind(b.birth_year)
    .bind(b.height.map(|m| m.value))
    .bind(b.height.map(|m| m.unit))
    .bind(b.weight.map(|m| m.value))
    .bind(b.weight.map(|m| m.unit))
    .bind(b.fitness_level)
    .bind(&b.goals)
    .bind(b.workout_style)
    .bind(b.daily_activity)
    .bind(&b.equipment)
    .bind(&b.limitations)
    .bind(p.preparation_type)
    .bind(&p.meeting_subtype)
    .bind(&p.agenda)
    .bind(&p.tone)
    .bind(&p.focus_title)
    .bind(&p.focus_tags)
    .bind(&p.focus_agenda_template)
    .bind(&l.subjects)
    .bind(&l.goals)
    .bind(&l.study_preferences)
    .bind(l.work_hours.map(|w| w.0))
    .bind(l.work_hours.map(|w| w.1))
    .bind(l.daily_focus_goal_minutes)
    .bind(steps)
    .bind(now)
    .fetch_one(tx)
    .await
}

/// Marks onboarding completed unless it already is; `None` when it already was (or there is
/// no profile).
pub async fn complete_onboarding(
    tx: &mut PgConnection,
    user_id: Uuid,
    now: OffsetDateTime,
) -> sqlx::Result<Option<ProfileRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE profiles SET onboarding_completed_at = $2,
             revision = revision + 1, updated_at = GREATEST($2, updated_at)
         WHERE user_id = $1 AND onboarding_completed_at IS NULL
         RETURNING {COLUMNS}"
    )))
    .bind(user_id)
    .bind(now)
    .fetch_optional(tx)
    .await
}

/// Sets the avatar to an uploaded object (`key`) or a preset, clearing the other; returns the
/// new row (`None` without a profile). The previous key, if any, is in the row read before.
pub async fn set_avatar(
    tx: &mut PgConnection,
    user_id: Uuid,
    key: Option<&str>,
    preset: Option<&str>,
    now: OffsetDateTime,
) -> sqlx::Result<Option<ProfileRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE profiles SET avatar_key = $2, avatar_preset = $3,
             revision = revision + 1, updated_at = GREATEST($4, updated_at)
         WHERE user_id = $1
         RETURNING {COLUMNS}"
    )))
    .bind(user_id)
    .bind(key)
    .bind(preset)
    .bind(now)
    .fetch_optional(tx)
    .await
}

/// Stores the background: the raw text and the text its structured copy is built from.
pub async fn set_background(
    tx: &mut PgConnection,
    user_id: Uuid,
    cv_text: &str,
    background_text: &str,
    redacted: bool,
    now: OffsetDateTime,
) -> sqlx::Result<Option<ProfileRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE profiles SET cv_text = $2, background_text = $3, background_redacted = $4,
             background_updated_at = $5
         WHERE user_id = $1
         RETURNING {COLUMNS}"
    )))
    .bind(user_id)
    .bind(cv_text)
    .bind(background_text)
    .bind(redacted)
    .bind(now)
    .fetch_optional(tx)
    .await
}

/// Activates the user on their first evaluated practice session; `false` when there was
/// nothing to change (already activated, or no profile).
pub async fn activate(
    tx: &mut PgConnection,
    user_id: Uuid,
    state: i32,
    session: Uuid,
    at: OffsetDateTime,
) -> sqlx::Result<bool> {
    Ok(sqlx::query(
        "UPDATE profiles SET activation_state = $2, activated_at = $4, activated_by = $3
         WHERE user_id = $1 AND activation_state <> $2",
    )
    .bind(user_id)
    .bind(state)
    .bind(session)
    .bind(at)
    .execute(tx)
    .await?
    .rows_affected()
        == 1)
}

/// Creates the profile of a new account with defaults (revision 1) unless it exists; returns
/// the created row, `None` when it was already there.
pub async fn create(
    tx: &mut PgConnection,
    user_id: Uuid,
    username: &str,
    timezone: &str,
    now: OffsetDateTime,
) -> sqlx::Result<Option<ProfileRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO profiles (user_id, username, display_name, timezone, revision, created_at, updated_at)
         VALUES ($1, $2, $3, $5, 1, $4, $4)
         ON CONFLICT (user_id) DO NOTHING
         RETURNING {COLUMNS}"
    )))
    .bind(user_id)
    .bind(username)
    .bind(domain::initial_display_name(username))
    .bind(now)
    .bind(timezone)
    .fetch_optional(tx)
    .await
}

pub async fn get(conn: &mut PgConnection, user_id: Uuid) -> sqlx::Result<Option<ProfileRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM profiles WHERE user_id = $1"
    )))
    .bind(user_id)
    .fetch_optional(conn)
    .await
}

/// Deletes every row of `user_id` (account deletion); returns the avatar object keys the rows
/// held, for the caller to delete from storage.
pub async fn purge_user(tx: &mut PgConnection, user_id: Uuid) -> sqlx::Result<Vec<String>> {
    let keys: Vec<Option<String>> =
        sqlx::query_scalar("DELETE FROM profiles WHERE user_id = $1 RETURNING avatar_key")
            .bind(user_id)
            .fetch_all(tx)
            .await?;
    Ok(keys.into_iter().flatten().collect())
}

/// What a merge did: the target's row when it changed (its revision bumped), and avatar
/// objects nobody references any more (to delete from storage after commit).
#[derive(Debug, Default)]
pub struct Merged {
    pub target: Option<ProfileRow>,
    pub orphaned_avatars: Vec<String>,
}

/// Merges the profile of guest `source` into `target` (`user.merged.v1`, rule in
/// [`domain::merge`]); a target without a profile takes the source's
/// whole. The source's row is deleted; a target without an avatar takes the guest's. Nothing
/// changes on a replay, which finds no source row.
pub async fn merge(
    tx: &mut PgConnection,
    source: Uuid,
    target: Uuid,
    now: OffsetDateTime,
) -> sqlx::Result<Merged> {
    // Lock both rows in a fixed order so two merges touching the same users cannot deadlock.
    let rows: Vec<ProfileRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM profiles WHERE user_id = ANY($1) ORDER BY user_id FOR UPDATE"
    )))
    .bind([source, target])
    .fetch_all(&mut *tx)
    .await?;
    let Some(from) = rows.iter().find(|r| r.user_id == source) else {
        return Ok(Merged::default());
    };
    let Some(into) = rows.iter().find(|r| r.user_id == target) else {
        // The target has no profile yet: the guest's becomes its, under the next revision so
        // consumers that somehow hold an older one for the target take it.
        let target = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "UPDATE profiles SET user_id = $2, revision = revision + 1,
                 updated_at = GREATEST($3, updated_at)
             WHERE user_id = $1
             RETURNING {COLUMNS}"
        )))
        .bind(source)
        .bind(target)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        return Ok(Merged {
            target,
            orphaned_avatars: Vec::new(),
        });
    };
    let (changes, username) = domain::merge(
        &into.fields(),
        &into.username,
        &from.fields(),
        &from.username,
    );
    let mut answers = domain::merge_answers(&into.editable(), &from.editable());
    if let Some(v) = &changes.display_name {
        answers.display_name.clone_from(v);
    }
    if let Some(v) = &changes.timezone {
        answers.timezone.clone_from(v);
    }
    if let Some(v) = &changes.locale {
        answers.locale.clone_from(v);
    }
    let steps = domain::merge_steps(&into.onboarding_steps, &from.onboarding_steps);
    // Facts the guest earned carry over: onboarding done, activation, a background.
    let completed = into
        .onboarding_completed_at
        .or(from.onboarding_completed_at);
    let activated = into.activated_at.is_none() && from.activated_at.is_some();
    let background = into.background_text.is_empty() && !from.background_text.is_empty();
    let mut orphaned_avatars = purge_user(tx, source).await?;
    let take_avatar = into.avatar_key.is_none()
        && into.avatar_preset.is_none()
        && (from.avatar_key.is_some() || from.avatar_preset.is_some());
    let unchanged = username.is_none()
        && answers == into.editable()
        && steps == into.onboarding_steps
        && completed == into.onboarding_completed_at
        && !activated
        && !background
        && !take_avatar;
    if unchanged {
        return Ok(Merged {
            target: None,
            orphaned_avatars,
        });
    }
    if let Some(username) = &username {
        sqlx::query("UPDATE profiles SET username = $2 WHERE user_id = $1")
            .bind(target)
            .bind(username)
            .execute(&mut *tx)
            .await?;
    }
    if take_avatar {
        sqlx::query("UPDATE profiles SET avatar_key = $2, avatar_preset = $3 WHERE user_id = $1")
            .bind(target)
            .bind(&from.avatar_key)
            .bind(&from.avatar_preset)
            .execute(&mut *tx)
            .await?;
        orphaned_avatars.clear();
    }
    sqlx::query("UPDATE profiles SET onboarding_completed_at = $2 WHERE user_id = $1")
        .bind(target)
        .bind(completed)
        .execute(&mut *tx)
        .await?;
    if activated {
        sqlx::query(
            "UPDATE profiles SET activation_state = $2, activated_at = $3, activated_by = $4
             WHERE user_id = $1",
        )
        .bind(target)
        .bind(from.activation_state)
        .bind(from.activated_at)
        .bind(from.activated_by)
        .execute(&mut *tx)
        .await?;
    }
    if background {
        set_background(
            tx,
            target,
            &from.cv_text,
            &from.background_text,
            from.background_redacted,
            from.background_updated_at.unwrap_or(now),
        )
        .await?;
    }
    Ok(Merged {
        target: Some(save(tx, target, &answers, &steps, now).await?),
        orphaned_avatars,
    })
}
