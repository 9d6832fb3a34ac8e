//! Operator commands, run against auth's database from a shell (`kubectl exec`, `docker compose
//! run`), never reachable over the network:
//!
//! - `stride-auth admin grant <user-id|email>` / `admin revoke <user-id|email>`: the only way to
//!   make the first admin (later ones may also be made with SetUserRoles by an admin). An email
//!   must be the account's *verified* address.
//! - `stride-auth keys list`, `keys rotate-now`, `keys revoke <kid>`: see
//!   `docs/runbooks/key-rotation.md`.
//!
//! Each reads only `DATABASE_URL`.

use std::process::ExitCode;

use anyhow::Context as _;
use sqlx::PgPool;
use stride_kit::{ClientInfo, config::Env};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{
    domain::{audit, roles},
    keys, store,
};

/// An operator command line.
#[derive(Debug, PartialEq, Eq)]
pub enum Op {
    GrantAdmin(String),
    RevokeAdmin(String),
    ListKeys,
    RotateNow,
    RevokeKey(String),
}

pub const USAGE: &str = "usage: stride-auth admin (grant|revoke) <user-id|email> | stride-auth keys (list|rotate-now|revoke <kid>)";

impl Op {
    /// The operator command in `args` (without the program name); None for anything else (the
    /// service's own commands), Err for a malformed operator command.
    pub fn parse(args: &[String]) -> Option<Result<Op, String>> {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let op = match args.as_slice() {
            ["admin", "grant", who] => Op::GrantAdmin((*who).to_owned()),
            ["admin", "revoke", who] => Op::RevokeAdmin((*who).to_owned()),
            ["keys", "list"] => Op::ListKeys,
            ["keys", "rotate-now"] => Op::RotateNow,
            ["keys", "revoke", kid] => Op::RevokeKey((*kid).to_owned()),
            ["admin" | "keys", ..] => return Some(Err(USAGE.to_owned())),
            _ => return None,
        };
        Some(Ok(op))
    }
}

/// Runs `op` in a small runtime of its own; prints what it did.
pub fn main(op: Op) -> ExitCode {
    stride_kit::install_crypto_provider();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(async move {
        let mut env = Env::new();
        let url = stride_kit::config::migrate_database_url(&mut env);
        if let Err(e) = env.finish() {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
        let result = async {
            let pool = stride_kit::db::connect(url.expose(), 1).await?;
            let now = stride_kit::Clock::now(&stride_kit::SystemClock);
            let out = run(&pool, op, now).await;
            pool.close().await;
            out
        }
        .await;
        match result {
            Ok(msg) => {
                println!("{msg}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        }
    })
}

/// Applies `op`; the line to print.
pub async fn run(pool: &PgPool, op: Op, now: OffsetDateTime) -> anyhow::Result<String> {
    match op {
        Op::GrantAdmin(who) => set_admin(pool, &who, true, now).await,
        Op::RevokeAdmin(who) => set_admin(pool, &who, false, now).await,
        Op::ListKeys => {
            let rows = store::keys::list(pool).await?;
            Ok(rows
                .iter()
                .map(|(kid, created, retired, revoked)| {
                    let state = match (retired, revoked) {
                        (_, Some(at)) => format!("revoked {at}"),
                        (Some(at), None) => format!("retired {at}"),
                        (None, None) => "active".to_owned(),
                    };
                    format!("{kid}\tcreated {created}\t{state}")
                })
                .collect::<Vec<_>>()
                .join("\n"))
        }
        Op::RotateNow => Ok(format!(
            "new signing key {}",
            keys::rotate_now(pool, now).await?
        )),
        Op::RevokeKey(kid) => Ok(match keys::revoke(pool, &kid, now).await? {
            Some(new) => format!("revoked {kid}; new signing key {new}"),
            None => format!("revoked {kid}"),
        }),
    }
}

async fn set_admin(
    pool: &PgPool,
    who: &str,
    admin: bool,
    now: OffsetDateTime,
) -> anyhow::Result<String> {
    let mut tx = pool.begin().await?;
    let id = match Uuid::parse_str(who) {
        Ok(id) => id,
        Err(_) => {
            let email = who.trim().to_lowercase();
            let owners = store::addresses::verified_email_owners(&mut tx, &email).await?;
            match owners.as_slice() {
                [id] => *id,
                _ => anyhow::bail!("no account has the verified email {email:?}"),
            }
        }
    };
    let user = store::users::load(&mut tx, id)
        .await?
        .with_context(|| format!("no account {id}"))?;
    let mut wanted: Vec<String> = user
        .roles
        .iter()
        .filter(|r| *r != roles::ADMIN)
        .cloned()
        .collect();
    if admin {
        wanted.push(roles::ADMIN.to_owned());
    }
    let mut v = stride_kit::Violations::new();
    let wanted = roles::assignment(&mut v, &wanted);
    store::users::set_roles(&mut tx, id, &wanted).await?;
    store::audit::record(
        &mut tx,
        Some(id),
        audit::ROLES_CHANGED,
        &ClientInfo::default(),
        serde_json::json!({"roles": wanted.join(","), "by": "operator"}),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(format!("{id}: roles {}", wanted.join(",")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn operator_commands_parse_and_service_commands_pass_through() {
        assert_eq!(
            Op::parse(&args("admin grant a@b.co")),
            Some(Ok(Op::GrantAdmin("a@b.co".into())))
        );
        assert_eq!(Op::parse(&args("keys rotate-now")), Some(Ok(Op::RotateNow)));
        assert_eq!(
            Op::parse(&args("keys revoke k1")),
            Some(Ok(Op::RevokeKey("k1".into())))
        );
        assert!(matches!(Op::parse(&args("keys revoke")), Some(Err(_))));
        assert!(matches!(Op::parse(&args("admin")), Some(Err(_))));
        assert_eq!(Op::parse(&args("serve")), None);
        assert_eq!(Op::parse(&args("migrate")), None);
        assert_eq!(Op::parse(&[]), None);
    }
}
