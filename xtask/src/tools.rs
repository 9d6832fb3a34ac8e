//! Linters installed on demand into `target/tools/` (never committed): buf from npm and
//! check-jsonschema from PyPI, pinned so lint results don't change under us.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

const BUF_PACKAGE: &str = "@bufbuild/buf@1.75.0";
const CHECK_JSONSCHEMA_PACKAGE: &str = "check-jsonschema==0.39.0";
/// The reference gRPC C-core client and its code generator, for the external-client check.
const GRPCIO_PACKAGES: [&str; 2] = ["grpcio==1.85.1", "grpcio-tools==1.85.1"];

pub struct Tools {
    pub buf: PathBuf,
    pub check_jsonschema: PathBuf,
    /// A Python with grpcio and grpcio-tools (tests read it from `STRIDE_TEST_PYTHON`).
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

fn run(cmd: &mut Command) -> Result<()> {
    let status = cmd
        .status()
        .with_context(|| format!("running {:?}", cmd.get_program()))?;
    if !status.success() {
        bail!("{:?} failed: {status}", cmd.get_program());
    }
    Ok(())
}
