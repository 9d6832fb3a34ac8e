//! The TypeScript client in clients/ts: its npm install, generation from proto/ and staleness
//! check, typecheck, the browser test page's bundle, and the Chromium the browser tests drive.
//!
//! `cargo xtask ts-client` regenerates clients/ts/src/gen (commit the result); `cargo xtask test`
//! runs [`check`], which fails when the committed code is not what the protos generate.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// Debian's Chromium, as the browser tests launch it (playwright-core never downloads one).
pub const CHROMIUM: &str = "/usr/bin/chromium";
const FIX: &str = "cargo xtask ts-client";

fn dir(root: &Path) -> PathBuf {
    root.join("clients/ts")
}

/// `cargo xtask ts-client [--check]`: install, regenerate clients/ts/src/gen (or, with
/// `--check`, only say whether it is stale), typecheck, unit tests, bundle.
pub fn run(args: &[String]) -> Result<i32> {
    let root = crate::root();
    match args {
        [] => {}
        [flag] if flag == "--check" => {
            npm_ci(&root)?;
            check_generated(&root)?;
            typecheck(&root)?;
            eprintln!("clients/ts: generated code up to date, typecheck clean");
            return Ok(0);
        }
        _ => bail!("usage: cargo xtask ts-client [--check] (got {args:?})"),
    }
    npm_ci(&root)?;
    generate(&root, None)?;
    typecheck(&root)?;
    unit_tests(&root)?;
    bundle(&root)?;
    eprintln!(
        "clients/ts: generated into clients/ts/src/gen, typechecked, unit tests passed, test page bundled"
    );
    Ok(0)
}

/// What `cargo xtask test` runs: install, fail on stale generated code, typecheck, the client's
/// unit tests, bundle, and make sure Chromium is there for the browser tests.
pub fn check(root: &Path) -> Result<()> {
    npm_ci(root)?;
    check_generated(root)?;
    typecheck(root)?;
    unit_tests(root)?;
    bundle(root)?;
    ensure_chromium()
}

/// The token rules of src/index.ts under node's test runner (bundled by esbuild).
pub fn unit_tests(root: &Path) -> Result<()> {
    status(
        Command::new("npm")
            .args(["run", "--silent", "test:unit"])
            .current_dir(dir(root)),
    )
    .context("the TypeScript client's unit tests failed (clients/ts/test/unit)")
}

/// `npm ci`: exactly the versions in package-lock.json.
pub fn npm_ci(root: &Path) -> Result<()> {
    status(
        Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(dir(root)),
    )
    .context("npm ci in clients/ts (is Node.js 20+ with npm installed?)")
}

/// buf (from node_modules) compiles proto/ and runs protoc-gen-es (also from node_modules, found
/// through the PATH npm sets up) into `out_base`/src/gen, or into clients/ts/src/gen.
fn generate(root: &Path, out_base: Option<&Path>) -> Result<()> {
    let mut cmd = Command::new("npm");
    cmd.args(["run", "--silent", "generate"]);
    if let Some(base) = out_base {
        cmd.arg("--").arg("--output").arg(base);
    }
    status(cmd.current_dir(dir(root))).context("buf generate (clients/ts/buf.gen.yaml)")
}

/// Generates into a scratch directory and compares it with the committed clients/ts/src/gen.
pub fn check_generated(root: &Path) -> Result<()> {
    let scratch = root.join("target/ts-client/gen-check");
    if scratch.exists() {
        std::fs::remove_dir_all(&scratch)?;
    }
    std::fs::create_dir_all(&scratch)?;
    generate(root, Some(&scratch))?;
    let stale = differences(&dir(root).join("src/gen"), &scratch.join("src/gen"))?;
    if !stale.is_empty() {
        bail!(
            "clients/ts/src/gen is stale (does not match what proto/ generates):\n{}\nFix: `{FIX}`, then commit clients/ts/src/gen",
            stale
                .iter()
                .map(|s| format!("    {s}"))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    Ok(())
}

/// Files that differ, are missing from `committed`, or are extra in it; paths relative to the
/// repository root.
fn differences(committed: &Path, fresh: &Path) -> Result<Vec<String>> {
    let a = files(committed)?;
    let b = files(fresh)?;
    let mut out = Vec::new();
    for rel in a.union(&b) {
        let shown = format!("clients/ts/src/gen/{}", rel.display());
        match (a.contains(rel), b.contains(rel)) {
            (true, false) => out.push(format!("{shown}: not generated any more (delete it)")),
            (false, true) => out.push(format!("{shown}: missing")),
            _ => {
                if std::fs::read(committed.join(rel))? != std::fs::read(fresh.join(rel))? {
                    out.push(format!("{shown}: differs"));
                }
            }
        }
    }
    Ok(out)
}

fn files(base: &Path) -> Result<BTreeSet<PathBuf>> {
    let mut out = BTreeSet::new();
    if !base.exists() {
        return Ok(out);
    }
    let mut stack = vec![base.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).with_context(|| format!("reading {}", d.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.insert(path.strip_prefix(base)?.to_path_buf());
            }
        }
    }
    Ok(out)
}

/// tsc over the package and the browser test page, then over the node driver script.
pub fn typecheck(root: &Path) -> Result<()> {
    for project in ["tsconfig.json", "tsconfig.node.json"] {
        status(
            Command::new("npx")
                .args(["--no-install", "tsc", "--noEmit", "-p", project])
                .current_dir(dir(root)),
        )
        .with_context(|| format!("tsc -p clients/ts/{project} found type errors"))?;
    }
    Ok(())
}

/// esbuild bundles the browser test page into target/ts-client/browser/page.js.
pub fn bundle(root: &Path) -> Result<()> {
    status(
        Command::new("npm")
            .args(["run", "--silent", "bundle:browser-test"])
            .current_dir(dir(root)),
    )
    .context("esbuild: bundling clients/ts/test/browser/page.ts")
}

/// Installs Debian's chromium when it is missing and we are root (as on CI); otherwise says how.
pub fn ensure_chromium() -> Result<()> {
    if Path::new(CHROMIUM).exists() {
        return Ok(());
    }
    if !stride_infra::sys::is_root() {
        bail!(
            "{CHROMIUM} is missing and the browser tests need it; as root run: \
             apt-get update && apt-get install -y chromium"
        );
    }
    eprintln!("tools: apt-get install -y chromium");
    let install = || {
        status(
            Command::new("apt-get")
                .args(["install", "-y", "chromium"])
                .env("DEBIAN_FRONTEND", "noninteractive"),
        )
    };
    if install().is_err() {
        // A fresh machine may have no package lists yet.
        status(Command::new("apt-get").arg("update"))?;
        install().context("apt-get install -y chromium")?;
    }
    Ok(())
}

fn status(cmd: &mut Command) -> Result<()> {
    let status = cmd
        .status()
        .with_context(|| format!("running {:?}", cmd.get_program()))?;
    if !status.success() {
        bail!("{:?} failed: {status}", cmd.get_program());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_name_changed_missing_and_extra_files() -> Result<()> {
        let base = std::env::temp_dir().join(format!("stride-ts-diff-{}", std::process::id()));
        let (committed, fresh) = (base.join("committed"), base.join("fresh"));
        for d in [&committed, &fresh] {
            std::fs::create_dir_all(d.join("stride/a"))?;
            std::fs::write(d.join("same_pb.ts"), "same")?;
        }
        std::fs::write(committed.join("stride/a/changed_pb.ts"), "old")?;
        std::fs::write(fresh.join("stride/a/changed_pb.ts"), "new")?;
        std::fs::write(committed.join("gone_pb.ts"), "x")?;
        std::fs::write(fresh.join("stride/a/new_pb.ts"), "x")?;
        let found = differences(&committed, &fresh)?;
        std::fs::remove_dir_all(&base)?;
        assert_eq!(
            found,
            [
                "clients/ts/src/gen/gone_pb.ts: not generated any more (delete it)",
                "clients/ts/src/gen/stride/a/changed_pb.ts: differs",
                "clients/ts/src/gen/stride/a/new_pb.ts: missing",
            ]
        );
        Ok(())
    }

    #[test]
    fn identical_trees_have_no_differences() -> Result<()> {
        let base = std::env::temp_dir().join(format!("stride-ts-same-{}", std::process::id()));
        let (a, b) = (base.join("a"), base.join("b"));
        for d in [&a, &b] {
            std::fs::create_dir_all(d.join("x"))?;
            std::fs::write(d.join("x/f_pb.ts"), "same")?;
        }
        let found = differences(&a, &b)?;
        std::fs::remove_dir_all(&base)?;
        assert!(found.is_empty(), "{found:?}");
        Ok(())
    }
}
