//! Password hashing (argon2id) on a bounded slice of the blocking pool, so a burst of signups
//! and logins cannot starve the other calls of CPU (DESIGN §7).

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::Context as _;

use argon2::{
    Algorithm, Argon2, Block, Params, Version,
    password_hash::phc::{Output, ParamsString, PasswordHash, Salt},
};
use stride_kit::{AppError, AppResult};
use tokio::sync::Semaphore;

use crate::errors::too_many_requests;

/// Hashes waiting for a permit beyond this are refused: the caller retries later instead of
/// queueing unbounded work.
pub const MAX_WAITING: usize = 64;

fn argon2() -> anyhow::Result<Argon2<'static>> {
    // OWASP minimum for argon2id: 19 MiB, 2 passes, 1 lane.
    let params =
        Params::new(19_456, 2, 1, None).map_err(|e| anyhow::anyhow!("argon2 params: {e}"))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Runs argon2 with at most `permits` hashes at once.
pub struct Hasher {
    permits: Arc<Semaphore>,
    waiting: AtomicUsize,
    /// Verified when the email is unknown, so that answer takes as long as a wrong password.
    dummy: String,
}

/// Decrements the waiting count however the wait ends (permit, error, or the call dropped).
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Hasher {
    /// A hasher with one permit per available CPU. Computes the dummy hash once.
    pub async fn new() -> anyhow::Result<Self> {
        let permits = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        let dummy = tokio::task::spawn_blocking(|| hash_now("stride-dummy-password-never-matches"))
            .await
            .context("dummy hash task")??;
        // Frees hashing memory nobody used for a while (see MEMORY).
        tokio::spawn(async {
            let mut tick = tokio::time::interval(KEEP_IDLE / 3);
            loop {
                tick.tick().await;
                release_idle();
            }
        });
        Ok(Self {
            permits: Arc::new(Semaphore::new(permits)),
            waiting: AtomicUsize::new(0),
            dummy,
        })
    }

    /// Refuses at once when the waiting line is full, so a caller about to hash can skip its
    /// database work: under a flood, refusals must stay cheap or they starve the hashing itself.
    pub fn check_capacity(&self) -> AppResult<()> {
        if self.waiting.load(Ordering::SeqCst) >= MAX_WAITING {
            return Err(too_many_requests());
        }
        Ok(())
    }

    async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> AppResult<T> {
        let waiting = Waiting(&self.waiting);
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= MAX_WAITING {
            return Err(too_many_requests());
        }
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(AppError::internal)?;
        drop(waiting);
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            f()
        })
        .await
        .map_err(AppError::internal)
    }

    /// The PHC string of `password`.
    pub async fn hash(&self, password: String) -> AppResult<String> {
        self.run(move || hash_now(&password))
            .await?
            .map_err(AppError::Internal)
    }

    /// True when `password` matches `phc`; with `None`, verifies against the dummy hash (and
    /// returns false) so unknown accounts cost the same time.
    pub async fn verify(&self, password: String, phc: Option<String>) -> AppResult<bool> {
        let (phc, real) = match phc {
            Some(h) => (h, true),
            None => (self.dummy.clone(), false),
        };
        let ok = self.run(move || verify_now(&password, &phc)).await?;
        Ok(ok && real)
    }
}

/// True when `phc` was not made with today's algorithm and parameters (they were raised since,
/// or it is not argon2id at all): the next successful login stores a fresh hash.
pub fn needs_rehash(phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let Ok(current) = argon2() else {
        return false;
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return true;
    };
    let want = current.params();
    parsed.algorithm != Algorithm::Argon2id.ident()
        || parsed.version != Some(Version::V0x13.into())
        || params.m_cost() < want.m_cost()
        || params.t_cost() < want.t_cost()
        || params.p_cost() < want.p_cost()
}

/// Argon2's working memory (19 MiB per hash in flight), kept between hashes. A fresh
/// allocation per hash is a fresh mapping: faulting its 4,864 pages in and unmapping them again
/// cost a fifth of every login's CPU (see docs/performance.md). At most one buffer per hashing
/// permit exists; one unused for [`KEEP_IDLE`] is freed, so an idle auth goes back to its idle
/// size. Every hash overwrites the blocks before reading them.
static MEMORY: Mutex<Vec<(Vec<Block>, Instant)>> = Mutex::new(Vec::new());

/// How long an unused hashing buffer is kept.
pub const KEEP_IDLE: Duration = Duration::from_secs(3);

/// Frees the buffers unused for [`KEEP_IDLE`].
fn release_idle() {
    if let Ok(mut pool) = MEMORY.lock() {
        pool.retain(|(_, used)| used.elapsed() < KEEP_IDLE);
    }
}

/// Argon2 of `password` and `salt` into `out`, in a kept buffer.
fn compute(a: &Argon2<'_>, password: &[u8], salt: &[u8], out: &mut [u8]) -> anyhow::Result<()> {
    let n = a.params().block_count();
    let kept = MEMORY.lock().ok().and_then(|mut pool| pool.pop());
    let mut blocks = match kept {
        Some((b, _)) if b.len() == n => b,
        _ => vec![Block::default(); n],
    };
    let r = a
        .hash_password_into_with_memory(password, salt, out, blocks.as_mut_slice())
        .map_err(|e| anyhow::anyhow!("argon2 hash: {e}"));
    if let Ok(mut pool) = MEMORY.lock() {
        pool.push((blocks, Instant::now()));
    }
    r
}

fn hash_now(password: &str) -> anyhow::Result<String> {
    let a = argon2()?;
    let salt_bytes: [u8; 16] = crate::domain::crypto::random_bytes()
        .map_err(|_| anyhow::anyhow!("no randomness for a salt"))?;
    let mut out = [0u8; 32];
    compute(&a, password.as_bytes(), &salt_bytes, &mut out)?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(a.params()).map_err(|e| anyhow::anyhow!("{e}"))?,
        salt: Some(Salt::new(&salt_bytes).map_err(|e| anyhow::anyhow!("{e}"))?),
        hash: Some(Output::new(&out).map_err(|e| anyhow::anyhow!("{e}"))?),
    };
    Ok(phc.to_string())
}

fn verify_now(password: &str, phc: &str) -> bool {
    // A malformed stored hash must not let anyone in; it simply never matches.
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return false;
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm.as_str()) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from) {
        None => Version::V0x13,
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let a = Argon2::new(algorithm, version, params);
    let mut out = vec![0u8; expected.len()];
    if compute(&a, password.as_bytes(), salt.as_ref(), &mut out).is_err() {
        return false;
    }
    // `Output`'s equality is constant-time.
    Output::new(&out).is_ok_and(|o| &o == expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_the_dummy_never_matches() {
        let h = Hasher::new().await.unwrap();
        let phc = h.hash("correct horse".into()).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(
            h.verify("correct horse".into(), Some(phc.clone()))
                .await
                .unwrap()
        );
        assert!(!h.verify("wrong horse".into(), Some(phc)).await.unwrap());
        assert!(
            !h.verify("stride-dummy-password-never-matches".into(), None)
                .await
                .unwrap()
        );
        assert!(
            !h.verify("x".into(), Some("not a phc string".into()))
                .await
                .unwrap()
        );
    }

    #[test]
    fn reused_memory_agrees_with_the_crates_own_hashing() {
        use argon2::{PasswordHasher as _, PasswordVerifier as _};
        // Ours verifies the crate's hashes (as stored by earlier releases), older parameters
        // included, and the crate verifies ours; each twice, so the second runs in reused memory.
        let weaker = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8_192, 1, 1, None).unwrap(),
        );
        for a in [argon2().unwrap(), weaker] {
            let theirs = a.hash_password(b"correct horse").unwrap().to_string();
            for _ in 0..2 {
                assert!(verify_now("correct horse", &theirs));
                assert!(!verify_now("correct horsf", &theirs));
            }
        }
        let ours = hash_now("correct horse").unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            argon2()
                .unwrap()
                .verify_password(b"correct horse", &parsed)
                .is_ok()
        );
        assert!(
            argon2()
                .unwrap()
                .verify_password(b"wrong", &parsed)
                .is_err()
        );
        assert_ne!(
            ours,
            hash_now("correct horse").unwrap(),
            "a fresh salt every time"
        );
    }

    #[tokio::test]
    async fn refuses_when_too_many_are_waiting() {
        let h = Arc::new(Hasher::new().await.unwrap());
        // Hold every permit, then fill the waiting line.
        let held = h
            .permits
            .clone()
            .acquire_many_owned(h.permits.available_permits() as u32)
            .await
            .unwrap();
        let mut queued = Vec::new();
        for _ in 0..MAX_WAITING {
            let h = h.clone();
            queued.push(tokio::spawn(async move { h.run(|| ()).await }));
        }
        while h.waiting.load(Ordering::SeqCst) < MAX_WAITING {
            tokio::task::yield_now().await;
        }
        let refused = h.run(|| ()).await;
        assert!(matches!(refused, Err(AppError::ResourceExhausted { .. })));
        assert!(matches!(
            h.check_capacity(),
            Err(AppError::ResourceExhausted { .. })
        ));
        drop(held);
        for q in queued {
            assert!(q.await.unwrap().is_ok());
        }
        assert_eq!(h.waiting.load(Ordering::SeqCst), 0);
        assert!(h.check_capacity().is_ok());
    }
}
