//! Linters installed on demand, pinned so lint results don't change under us: buf from npm and
//! check-jsonschema from PyPI into `target/tools/` (never committed), cargo-deny from crates.io
//! with `cargo install` into cargo's own bin directory (kept on the machine across clones).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

const BUF_PACKAGE: &str = "@bufbuild/buf@1.75.0";
const CHECK_JSONSCHEMA_PACKAGE: &str = "check-jsonschema==0.39.0";
/// The reference gRPC C-core client and its code generator, for the external-client check.
const GRPCIO_PACKAGES: [&str; 2] = ["grpcio==1.85.1", "grpcio-tools==1.85.1"];
/// An S3-speaking stand-in for profile's avatar store test (signature checking included).
const MOTO_PACKAGE: &str = "moto[server]==5.2.1";
/// Compiled from source by `cargo install` (about 9 minutes on 2 cores, once per machine).
const CARGO_DENY_VERSION: &str = "0.20.2";

pub struct Tools {
    pub buf: PathBuf,
    pub check_jsonschema: PathBuf,
    /// A Python with grpcio, grpcio-tools and moto (tests read it from `STRIDE_TEST_PYTHON`).
    pub python: PathBuf,
}

/// Installs whatever of the tools is missing.
pub fn ensure(root: &Path) -> Result<Tools> {
    let dir = root.join("target/tools");
    std::fs::create_dir_all(&dir)?;

    let buf = dir.join("node_modules/.bin/buf");
    if !buf.exists() {
        eprintln!("tools: npm install {BUF_PACKAGE}");
        run(Command::new("npm")
            .args([
                "install",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
                "--prefix",
            ])
            .arg(&dir)
            .arg(BUF_PACKAGE))?;
    }

    let venv = dir.join("venv");
    let check_jsonschema = venv.join("bin/check-jsonschema");
    if !check_jsonschema.exists() {
        eprintln!("tools: pip install {CHECK_JSONSCHEMA_PACKAGE}");
        run(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
        run(Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check"])
            .arg(CHECK_JSONSCHEMA_PACKAGE))?;
    }
    let python = venv.join("bin/python");
    ensure_cargo_deny()?;
    let has_grpcio = Command::new(&python)
        .args(["-c", "import grpc, grpc_tools"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_grpcio {
        eprintln!("tools: pip install {}", GRPCIO_PACKAGES.join(" "));
        run(Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check"])
            .args(GRPCIO_PACKAGES))?;
    }
    let has_moto = Command::new(&python)
        .args(["-c", "import moto.server, boto3"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_moto {
        eprintln!("tools: pip install {MOTO_PACKAGE}");
        run(Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check"])
            .arg(MOTO_PACKAGE))?;
    }
    Ok(Tools {
        buf,
        check_jsonschema,
        python,
    })
}

/// `buf lint` over proto/ (configured by proto/buf.yaml).
pub fn buf_lint(tools: &Tools, root: &Path) -> Result<()> {
    run(Command::new(&tools.buf)
        .arg("lint")
        .current_dir(root.join("proto")))
    .context("buf lint found problems in proto/")
}

/// Validates docker-compose.yml against the Compose specification. Returns false when there
/// is no compose file yet.
pub fn check_compose(tools: &Tools, root: &Path) -> Result<bool> {
    let compose = root.join("docker-compose.yml");
    if !compose.exists() {
        return Ok(false);
    }
    run(Command::new(&tools.check_jsonschema)
        .args(["--builtin-schema", "vendor.compose-spec"])
        .arg(&compose))
    .context("docker-compose.yml does not match the Compose specification")?;
    Ok(true)
}

/// `cargo install cargo-deny` at the pinned version, unless `cargo deny` already is that version.
fn ensure_cargo_deny() -> Result<()> {
    let installed = crate::cargo()
        .args(["deny", "--version"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    if installed.as_deref() == Some(&format!("cargo-deny {CARGO_DENY_VERSION}")) {
        return Ok(());
    }
    eprintln!(
        "tools: cargo install cargo-deny@{CARGO_DENY_VERSION} (was: {}; compiles for several minutes)",
        installed.as_deref().unwrap_or("not installed")
    );
    run(crate::cargo()
        .args(["install", "--locked", "--quiet", "cargo-deny", "--version"])
        .arg(CARGO_DENY_VERSION))
    .context("installing cargo-deny")
}

/// What `cargo deny` checked.
pub struct DenyChecks {
    /// False when no RustSec advisory database is on this machine (it comes from GitHub, which
    /// CI cannot reach), so the advisories check was skipped.
    pub advisories: bool,
}

/// `cargo deny check` against deny.toml: licenses, bans (duplicates, banned crates) and sources
/// always; advisories only when a RustSec database already is in `$CARGO_HOME/advisory-dbs`. It
/// runs offline so the database is never fetched (nor `cargo metadata` sent to the network):
/// `cargo fetch` first brings the crates it reads the licenses of.
pub fn cargo_deny(root: &Path) -> Result<DenyChecks> {
    run(crate::cargo()
        .args(["fetch", "--locked", "--quiet"])
        .current_dir(root))
    .context("cargo fetch")?;
    let advisories = has_advisory_db();
    let mut cmd = crate::cargo();
    cmd.args(["deny", "--offline", "check", "licenses", "bans", "sources"]);
    if advisories {
        cmd.arg("advisories");
    }
    run(cmd.current_dir(root)).context("cargo deny found problems (see deny.toml)")?;
    Ok(DenyChecks { advisories })
}

/// Whether cargo-deny's default database directory holds a database.
fn has_advisory_db() -> bool {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    cargo_home
        .and_then(|home| std::fs::read_dir(home.join("advisory-dbs")).ok())
        .is_some_and(|mut entries| entries.any(|e| e.is_ok_and(|e| e.path().join(".git").exists())))
}

fn run(cmd: &mut Command) -> Result<()> {
    let status = cmd
        .status()
        .with_context(|| format!("running {:?}", cmd.get_program()))?;
    if !status.success() {
        bail!("{:?} failed: {status}", cmd.get_program());
    }
    Ok(())
}
