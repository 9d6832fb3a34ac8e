//! `cargo xtask deploy-check`: the deployment files, checked offline (part of `cargo xtask test`).
//!
//! - every overlay under deploy/k8s/overlays renders with `kubectl kustomize` (kubectl from the
//!   machine: Debian/Google's `kubectl` package ships kustomize v5; an older kubectl, e.g.
//!   Debian's kubernetes-client 1.20 with kustomize v2, cannot render components and is refused);
//! - each rendering validates strictly (unknown fields are errors) against the Kubernetes
//!   schemas with `kubernetes-validate`, and the custom resources of the operators component
//!   against the CRD schemas vendored in deploy/k8s/schemas;
//! - `checkov` scans each rendering with its downloads and platform look-ups off: a failed check
//!   fails the step; skips are annotations in the manifests, each with its reason.
//!
//! Both tools come from PyPI, pinned, into .stride/venv (kept between runs; reinstalled only when
//! the pins change).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// Pinned so a new check or schema cannot fail a build that did not change.
const PACKAGES: [&str; 2] = ["checkov==3.3.30", "kubernetes-validate==1.37.0"];
/// The Kubernetes version the manifests are validated against.
const KUBERNETES_VERSION: &str = "1.32.0";

pub fn run(_args: &[String]) -> Result<i32> {
    let root = crate::root();
    let summary = check(&root)?;
    eprintln!("{summary}");
    Ok(0)
}

#[derive(Debug, Default)]
pub struct Summary {
    pub overlays: usize,
    pub resources: usize,
    pub custom_resources: usize,
    pub passed: u64,
    pub failed: u64,
    pub skipped: u64,
    pub monitoring: crate::monitoring::Summary,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "deploy check: {} overlays rendered, {} resources validated strictly ({} custom \
             resources against vendored CRD schemas); checkov: {} passed, {} failed, {} skipped \
             with reasons; promtool: {} rules, {} rule tests passed; {} metrics named by rules \
             and {} dashboard panels all exported",
            self.overlays,
            self.resources,
            self.custom_resources,
            self.passed,
            self.failed,
            self.skipped,
            self.monitoring.rules,
            self.monitoring.rule_tests,
            self.monitoring.metrics,
            self.monitoring.panels
        )
    }
}

/// Installs the tools when missing and returns the venv's bin directory.
fn ensure_venv(root: &Path) -> Result<PathBuf> {
    let venv = root.join(".stride/venv");
    let bin = venv.join("bin");
    let stamp = venv.join("stride-pins.txt");
    let want = PACKAGES.join("\n");
    let current = std::fs::read_to_string(&stamp).unwrap_or_default();
    if current != want || !bin.join("checkov").exists() || !bin.join("kubernetes-validate").exists()
    {
        eprintln!("deploy check: pip install {}", PACKAGES.join(" "));
        if !bin.join("pip").exists() {
            exec(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
        }
        exec(
            Command::new(bin.join("pip"))
                .args(["install", "--quiet", "--disable-pip-version-check"])
                .args(PACKAGES),
        )?;
        std::fs::write(&stamp, want)?;
    }
    Ok(bin)
}

fn ensure_kustomize() -> Result<()> {
    let out = Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .context("kubectl is not installed (Debian/Google package `kubectl`)")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let kustomize = text
        .lines()
        .find_map(|l| l.strip_prefix("Kustomize Version: v"))
        .unwrap_or("");
    let major: u32 = kustomize
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    if major < 5 {
        bail!(
            "kubectl's kustomize is {kustomize:?}; components need kustomize v5 (kubectl >= 1.27)"
        );
    }
    Ok(())
}

pub fn check(root: &Path) -> Result<Summary> {
    ensure_kustomize()?;
    let bin = ensure_venv(root)?;
    let out_dir = root.join("target/deploy-check");
    std::fs::create_dir_all(&out_dir)?;
    let mut summary = Summary::default();

    let mut overlays: Vec<PathBuf> = std::fs::read_dir(root.join("deploy/k8s/overlays"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("kustomization.yaml").exists())
        .collect();
    overlays.sort();
    for overlay in &overlays {
        let name = overlay
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let rendered = out_dir.join(format!("{name}.yaml"));
        let out = Command::new("kubectl")
            .arg("kustomize")
            .arg(overlay)
            .output()
            .context("running kubectl kustomize")?;
        if !out.status.success() {
            bail!(
                "kubectl kustomize {} failed:\n{}",
                overlay.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::fs::write(&rendered, &out.stdout)?;
        let text = String::from_utf8_lossy(&out.stdout);
        let (builtin, custom) = split_custom(&text, &root.join("deploy/k8s/schemas"))?;
        summary.resources += builtin.len() + custom.len();
        summary.custom_resources += custom.len();

        let builtin_file = out_dir.join(format!("{name}.builtin.yaml"));
        std::fs::write(&builtin_file, builtin.join("---\n"))?;
        let out = Command::new(bin.join("kubernetes-validate"))
            .args(["--strict", "--quiet", "-k", KUBERNETES_VERSION])
            .arg(&builtin_file)
            .output()
            .context("running kubernetes-validate")?;
        if !out.status.success() {
            bail!(
                "kubernetes-validate: overlay {name} does not match the Kubernetes {KUBERNETES_VERSION} schemas:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        for (doc, schema) in &custom {
            validate_custom(&bin, &out_dir, &name, doc, schema)?;
        }
        if !custom.is_empty() {
            let out = Command::new(bin.join("python"))
                .args(["-c", include_str!("deploy_check/datastores.py")])
                .arg(&rendered)
                .output()
                .context("checking the datastore wiring")?;
            if !out.status.success() {
                bail!(
                    "overlay {name}: the services' connection settings do not follow from the \
                     operators' resources:\n{}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }

        let out = Command::new(bin.join("checkov"))
            .args(["--framework", "kubernetes", "--skip-download", "--quiet"])
            .args(["-o", "json", "-f"])
            .arg(&rendered)
            // No look-ups on the Bridgecrew/Prisma platform; no API key is ever given.
            .env("BC_SKIP_MAPPING", "TRUE")
            .env("CHECKOV_RUN_SCA_PACKAGE_SCAN_V2", "false")
            .env_remove("BC_API_KEY")
            .output()
            .context("running checkov")?;
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).with_context(|| {
            format!(
                "checkov printed no JSON report:\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        })?;
        let s = &report["summary"];
        let (passed, failed, skipped) = (
            s["passed"].as_u64().unwrap_or(0),
            s["failed"].as_u64().unwrap_or(0),
            s["skipped"].as_u64().unwrap_or(0),
        );
        if s["parsing_errors"].as_u64().unwrap_or(0) > 0 {
            bail!("checkov could not parse {}", rendered.display());
        }
        if failed > 0 {
            let failures: Vec<String> = report["results"]["failed_checks"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| {
                    format!(
                        "  {} {} ({})",
                        c["check_id"].as_str().unwrap_or("?"),
                        c["resource"].as_str().unwrap_or("?"),
                        c["check_name"].as_str().unwrap_or("?")
                    )
                })
                .collect();
            bail!(
                "checkov: overlay {name}: {failed} failed checks (fix them, or skip one in the \
                 manifest with `checkov.io/skipN: CHECK=reason`):\n{}",
                failures.join("\n")
            );
        }
        summary.overlays += 1;
        summary.passed += passed;
        summary.failed += failed;
        summary.skipped += skipped;
    }
    summary.monitoring = crate::monitoring::check(root)?;
    Ok(summary)
}

/// Splits a rendering into built-in resources and custom resources paired with their vendored
/// schema file (`<group>/<kind lowercased>_<version>.json` under `schemas`). A custom resource
/// without a vendored schema is an error: it would otherwise go unchecked.
/// A custom resource's YAML and the schema file it is validated against.
type Custom = (String, PathBuf);

fn split_custom(text: &str, schemas: &Path) -> Result<(Vec<String>, Vec<Custom>)> {
    let mut builtin = Vec::new();
    let mut custom = Vec::new();
    for doc in text.split("\n---\n") {
        let doc = doc.trim_start_matches("---\n");
        if doc.trim().is_empty() {
            continue;
        }
        let field = |key: &str| {
            doc.lines()
                .find_map(|l| l.strip_prefix(key))
                .map(|v| v.trim().trim_matches('"').to_owned())
                .unwrap_or_default()
        };
        let api = field("apiVersion:");
        let kind = field("kind:");
        let group = api.split_once('/').map(|(g, _)| g).unwrap_or("");
        if group.contains('.') && !group.ends_with(".k8s.io") {
            let version = api.rsplit('/').next().unwrap_or("");
            let schema = schemas
                .join(group)
                .join(format!("{}_{version}.json", kind.to_lowercase()));
            if !schema.exists() {
                bail!(
                    "{kind} ({api}) has no vendored schema at {}",
                    schema.display()
                );
            }
            custom.push((doc.to_owned(), schema));
        } else {
            builtin.push(format!("{doc}\n"));
        }
    }
    Ok((builtin, custom))
}

/// Strict JSON-schema validation of one custom resource (the CRD's openAPIV3Schema, with
/// unknown fields rejected as the API server's structural pruning would drop them).
fn validate_custom(
    bin: &Path,
    out_dir: &Path,
    overlay: &str,
    doc: &str,
    schema: &Path,
) -> Result<()> {
    let file = out_dir.join(format!("{overlay}.custom.yaml"));
    std::fs::write(&file, doc)?;
    let script = r#"
import json, sys, yaml, jsonschema
schema = json.load(open(sys.argv[1]))
def strict(s):
    if isinstance(s, dict):
        if s.get("type") == "object" and "properties" in s and "additionalProperties" not in s \
                and not s.get("x-kubernetes-preserve-unknown-fields"):
            s["additionalProperties"] = False
        for v in s.values():
            strict(v)
    elif isinstance(s, list):
        for v in s:
            strict(v)
strict(schema)
doc = yaml.safe_load(open(sys.argv[2]))
for key in ("apiVersion", "kind", "metadata"):
    doc.pop(key, None)
schema.setdefault("properties", {}).pop("apiVersion", None)
schema["properties"].pop("kind", None)
schema["properties"].pop("metadata", None)
# metadata is the API server's (ObjectMeta, validated with the built-ins' rules), not the CRD's
schema["required"] = [r for r in schema.get("required", []) if r not in ("apiVersion", "kind", "metadata")]
errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(doc), key=lambda e: list(e.path))
for e in errors:
    print("/".join(map(str, e.path)) + ": " + e.message)
sys.exit(1 if errors else 0)
"#;
    let out = Command::new(bin.join("python"))
        .args(["-c", script])
        .arg(schema)
        .arg(&file)
        .output()
        .context("validating a custom resource")?;
    if !out.status.success() {
        bail!(
            "overlay {overlay}: a custom resource does not match {}:\n{}{}",
            schema.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

fn exec(cmd: &mut Command) -> Result<()> {
    let status = cmd
        .status()
        .with_context(|| format!("running {:?}", cmd.get_program()))?;
    if !status.success() {
        bail!("{:?} failed: {status}", cmd.get_program());
    }
    Ok(())
}
