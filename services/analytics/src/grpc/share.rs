//! `stride.analytics.v1.ShareService`: progress cards behind unguessable, expiring, revocable
//! links (ADR 0021).
//!
//! The link's token is 32 random bytes (base64url, 43 characters); only its SHA-256 is stored,
//! so the token is shown once, at creation. The public read hashes what it is given and looks
//! the card up by that hash: an unknown, expired or revoked token is the same NOT_FOUND.

use aws_lc_rs::{digest, rand::SecureRandom as _};
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use sqlx::PgPool;
use stride_bus::directory;
use stride_kit::{
    AppError, AppResult, Call, Violations, clock::SharedClock, convert, pagination::Page,
};
use stride_proto::analytics::{self as pb, ShareCardKind, share_service_server::ShareService};
use time::OffsetDateTime;
use uuid::Uuid;

use super::caller;
use crate::{
    domain::{share, timezone, window},
    store::{
        self,
        share::{Card, Content},
    },
};

pub struct Shares {
    pub pool: PgPool,
    pub clock: SharedClock,
}

stride_kit::grpc_handlers! {
    impl ShareService for Shares {
        fn create_share_card(pb::CreateShareCardRequest) -> pb::CreateShareCardResponse => create_share_card;
        fn list_share_cards(pb::ListShareCardsRequest) -> pb::ListShareCardsResponse => list_share_cards;
        fn revoke_share_card(pb::RevokeShareCardRequest) -> pb::RevokeShareCardResponse => revoke_share_card;
        fn get_shared_card(pb::GetSharedCardRequest) -> pb::GetSharedCardResponse => get_shared_card;
    }
}

/// Longest token the public read hashes (ours are 43 characters).
const MAX_TOKEN_LEN: usize = 128;

fn new_token() -> AppResult<String> {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| AppError::internal(anyhow::anyhow!("the system random source failed")))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

fn token_hash(token: &str) -> Vec<u8> {
    digest::digest(&digest::SHA256, token.as_bytes())
        .as_ref()
        .to_vec()
}

async fn create_share_card(
    s: &Shares,
    call: Call<pb::CreateShareCardRequest>,
) -> AppResult<pb::CreateShareCardResponse> {
    let user = call.caller()?.user_id;
    let req = &call.message;
    let mut v = Violations::new();
    let kind = ShareCardKind::try_from(req.kind).ok();
    v.when(
        !matches!(
            kind,
            Some(ShareCardKind::RangeSummary | ShareCardKind::Streak)
        ),
        "kind",
        "must be SHARE_CARD_KIND_RANGE_SUMMARY or SHARE_CARD_KIND_STREAK",
    );
    let start = caller::date(&mut v, "start_date", req.start_date.as_ref());
    let end = caller::date(&mut v, "end_date", req.end_date.as_ref());
    let ttl = share::ttl(req.ttl.as_ref().map(convert::from_duration));
    v.when(ttl.is_none(), "ttl", "must be between 1 hour and 365 days");
    if kind == Some(ShareCardKind::RangeSummary) {
        v.when(
            req.start_date.is_none(),
            "start_date",
            "is required for a range summary",
        );
        v.when(
            req.end_date.is_none(),
            "end_date",
            "is required for a range summary",
        );
        if let (Some(start), Some(end)) = (start, end) {
            window::check(&mut v, start, end, "end_date");
        }
    }
    v.check()?;

    let mut conn = s.pool.acquire().await?;
    let tz = caller::zone(&mut conn, user).await?;
    let now = s.clock.now_db();
    let today = timezone::today(now, &tz);
    let mut content = Content {
        as_of_date: Some(today),
        ..Content::default()
    };
    match (kind, start, end) {
        (Some(ShareCardKind::RangeSummary), Some(start), Some(end)) => {
            if end > today {
                return Err(AppError::invalid("end_date", "must not be after today"));
            }
            let rows = store::figures::rows(&mut conn, user, start, end).await?;
            let t = store::figures::totals(&rows);
            content.kind = ShareCardKind::RangeSummary as i16;
            content.start_date = Some(start);
            content.end_date = Some(end);
            content.sessions_completed = t.sessions_completed;
            content.focus_sessions = t.focus_sessions;
            content.active_seconds = t.seconds;
            content.active_days = t.active_days;
            content.points = t.points;
        }
        _ => {
            let st = store::figures::activity_streak(&mut conn, user, today).await?;
            content.kind = ShareCardKind::Streak as i16;
            content.current_streak = st.current;
            content.longest_streak = st.longest;
        }
    }
    if req.show_display_name {
        content.display_name = directory::get(&mut conn, user)
            .await?
            .map(|d| d.display_name)
            .unwrap_or_default();
    }
    let card = Card {
        id: Uuid::now_v7(),
        content,
        created_at: now,
        expires_at: now + ttl.unwrap_or(share::DEFAULT_TTL),
        revoked_at: None,
    };
    let token = new_token()?;
    store::share::insert(&mut conn, user, &card, &token_hash(&token)).await?;
    tracing::info!(%user, card = %card.id, "share card created");
    Ok(pb::CreateShareCardResponse {
        card: Some(to_proto(&card, now)),
        token,
    })
}

async fn list_share_cards(
    s: &Shares,
    call: Call<pb::ListShareCardsRequest>,
) -> AppResult<pb::ListShareCardsResponse> {
    let user = call.caller()?.user_id;
    let req = &call.message;
    let mut v = Violations::new();
    let page = Page::<(OffsetDateTime, Uuid)>::request(&mut v, req.page_size, &req.page_token, 20);
    v.check()?;
    let mut conn = s.pool.acquire().await?;
    let rows =
        store::share::list(&mut conn, user, page.after().copied(), page.fetch_limit()).await?;
    let (rows, next_page_token) = page.finish(rows, |c| (c.created_at, c.id));
    let now = s.clock.now();
    Ok(pb::ListShareCardsResponse {
        cards: rows.iter().map(|c| to_proto(c, now)).collect(),
        next_page_token,
    })
}

async fn revoke_share_card(
    s: &Shares,
    call: Call<pb::RevokeShareCardRequest>,
) -> AppResult<pb::RevokeShareCardResponse> {
    let user = call.caller()?.user_id;
    let id = convert::require_id("card_id", &call.message.card_id)?;
    let mut conn = s.pool.acquire().await?;
    let now = s.clock.now_db();
    let card = store::share::revoke(&mut conn, user, id, now)
        .await?
        .ok_or_else(|| AppError::not_found("share card"))?;
    tracing::info!(%user, card = %id, "share card revoked");
    Ok(pb::RevokeShareCardResponse {
        card: Some(to_proto(&card, now)),
    })
}

/// Public: no caller. Reveals the card's content and expiry, nothing else.
async fn get_shared_card(
    s: &Shares,
    call: Call<pb::GetSharedCardRequest>,
) -> AppResult<pb::GetSharedCardResponse> {
    let token = call.message.token.trim();
    let mut v = Violations::new();
    v.when(token.is_empty(), "token", "is required");
    v.when(
        token.len() > MAX_TOKEN_LEN,
        "token",
        "is not a share link token",
    );
    v.check()?;
    let mut conn = s.pool.acquire().await?;
    let card = store::share::by_token(&mut conn, &token_hash(token))
        .await?
        .filter(|c| share::active(s.clock.now(), c.expires_at, c.revoked_at))
        .ok_or_else(|| AppError::not_found("shared card"))?;
    Ok(pb::GetSharedCardResponse {
        content: Some(content_to_proto(&card.content)),
        expire_time: Some(convert::timestamp(card.expires_at)),
    })
}

fn content_to_proto(c: &Content) -> pb::ShareCardContent {
    pb::ShareCardContent {
        kind: i32::from(c.kind),
        display_name: c.display_name.clone(),
        start_date: c.start_date.map(convert::date),
        end_date: c.end_date.map(convert::date),
        sessions_completed: c.sessions_completed,
        focus_sessions: c.focus_sessions,
        active_duration: Some(convert::duration(time::Duration::seconds(c.active_seconds))),
        active_days: c.active_days,
        points: c.points,
        current_streak: c.current_streak,
        longest_streak: c.longest_streak,
        as_of_date: c.as_of_date.map(convert::date),
    }
}

fn to_proto(c: &Card, now: OffsetDateTime) -> pb::ShareCard {
    pb::ShareCard {
        card_id: c.id.to_string(),
        content: Some(content_to_proto(&c.content)),
        create_time: Some(convert::timestamp(c.created_at)),
        expire_time: Some(convert::timestamp(c.expires_at)),
        revoke_time: c.revoked_at.map(convert::timestamp),
        active: share::active(now, c.expires_at, c.revoked_at),
    }
}
