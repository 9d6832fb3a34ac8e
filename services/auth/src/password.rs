//! Password hashing (argon2id) on threads of its own, one per core, below the priority of
//! everything else, so a burst of signups and logins cannot starve the other calls of CPU
//! (DESIGN §7): a hash uses whatever CPU the calls leave and yields the core to any of them.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
        mpsc,
    },
    time::{Duration, Instant},
};

use anyhow::Context as _;

use argon2::{
    Algorithm, Argon2, Block, Params, Version,
    password_hash::phc::{Output, ParamsString, PasswordHash, Salt},
};
use stride_kit::{AppError, AppResult};
use tokio::sync::{Semaphore, oneshot};

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

/// How much lower than the rest of the process the hashing threads are scheduled (nice
/// levels, added to the process's own). At +10 a hashing thread weighs about a tenth of a
/// thread serving calls: with every core hashing, a call still gets a core at once, and with
/// no call waiting the hashes get all of it.
pub const HASH_NICE: i32 = 10;

/// A hash to compute on a hashing thread.
type Job = Box<dyn FnOnce() + Send>;

/// Runs argon2 with at most `permits` hashes at once, each on a hashing thread.
pub struct Hasher {
    permits: Arc<Semaphore>,
    jobs: mpsc::Sender<Job>,
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
    /// A hasher with one permit and one hashing thread per available CPU. Computes the dummy
    /// hash once.
    pub async fn new() -> anyhow::Result<Self> {
        let permits = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        let jobs = hashing_threads(permits)?;
        let (tx, rx) = oneshot::channel();
        jobs.send(Box::new(move || {
            let _ = tx.send(hash_now("stride-dummy-password-never-matches"));
        }))
        .map_err(|_| anyhow::anyhow!("no hashing thread"))?;
        let dummy = rx.await.context("dummy hash")??;
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
            jobs,
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
        let (tx, rx) = oneshot::channel();
        self.jobs
            .send(Box::new(move || {
                let _permit = permit;
                let _ = tx.send(f());
            }))
            .map_err(|_| AppError::internal(anyhow::anyhow!("the hashing threads are gone")))?;
        rx.await.map_err(AppError::internal)
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

/// Starts `n` hashing threads at [`HASH_NICE`] and returns the queue they take hashes from;
/// they end when it is dropped. (Written here rather than taken from a crate: a thread pool
/// with a start hook is a channel and a loop, and the permits already bound the work.)
fn hashing_threads(n: usize) -> anyhow::Result<mpsc::Sender<Job>> {
    let (tx, rx) = mpsc::channel::<Job>();
    let rx = Arc::new(Mutex::new(rx));
    for i in 0..n {
        let rx = rx.clone();
        std::thread::Builder::new()
            .name(format!("argon2-{i}"))
            .spawn(move || {
                lower_priority();
                loop {
                    // The lock is held only while waiting; the hash runs without it.
                    let job = match rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => return,
                    };
                    let Ok(job) = job else { return };
                    // A panicking hash fails its own call (its answer is dropped), not the thread.
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                }
            })
            .context("starting a hashing thread")?;
    }
    Ok(tx)
}

/// Schedules the calling thread [`HASH_NICE`] levels below where it is (Linux: nice is per
/// thread). Failing to is logged, not fatal: the hashes are only less polite.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn lower_priority() {
    // SAFETY: getpriority/setpriority on this thread's own id only read and lower its
    // scheduling weight; errno is reset first so a nice of -1 is told from an error.
    let done = unsafe {
        let tid = libc::gettid() as libc::id_t;
        *libc::__errno_location() = 0;
        let now = libc::getpriority(libc::PRIO_PROCESS, tid);
        *libc::__errno_location() == 0
            && libc::setpriority(libc::PRIO_PROCESS, tid, (now + HASH_NICE).min(19)) == 0
    };
    if !done {
        tracing::warn!(
            error = %std::io::Error::last_os_error(),
            "could not lower the hashing threads' priority"
        );
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {}

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

    /// The calling thread's nice level.
    #[cfg(target_os = "linux")]
    #[allow(unsafe_code)]
    fn nice() -> i32 {
        // SAFETY: reads this thread's own scheduling priority.
        unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t) }
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn hashes_run_below_the_priority_of_calls_and_a_panic_loses_no_thread() {
        let h = Hasher::new().await.unwrap();
        let here = nice();
        let permits = h.permits.available_permits();
        // Every hashing thread: as many jobs at once as there are threads.
        let levels = futures::future::join_all((0..permits).map(|_| {
            h.run(|| {
                std::thread::sleep(Duration::from_millis(50));
                (nice(), std::thread::current().name().map(str::to_owned))
            })
        }))
        .await;
        for level in levels {
            let (level, name) = level.unwrap();
            assert_eq!(level, (here + HASH_NICE).min(19));
            assert!(
                name.is_some_and(|n| n.starts_with("argon2-")),
                "not a hashing thread"
            );
        }
        // A hash that panics fails its own call; the threads go on hashing.
        for _ in 0..permits {
            assert!(h.run(|| panic!("a broken hash")).await.is_err());
        }
        let phc = h.hash("still hashing".into()).await.unwrap();
        assert!(h.verify("still hashing".into(), Some(phc)).await.unwrap());
    }

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
