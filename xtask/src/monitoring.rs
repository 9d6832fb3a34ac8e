//! The monitoring half of `cargo xtask deploy-check`: deploy/monitoring's alert rules pass
//! `promtool check rules` and their unit tests (`promtool test rules`), and every metric a rule or
//! a dashboard panel names is one the code registers (or one of RabbitMQ's, listed below), so a
//! renamed metric cannot leave an alert silently watching nothing.

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, Result, bail};

/// Debian's `prometheus` package ships `promtool`; installed on first use like the test servers.
const PROMTOOL: &str = "/usr/bin/promtool";

/// Queue metrics of RabbitMQ's `rabbitmq_prometheus` plugin (with per-object metrics on) that
/// the rules and the dashboard use: the broker, not our code, exports them.
const RABBITMQ_METRICS: &[&str] = &["rabbitmq_queue_messages", "rabbitmq_queue_messages_ready"];

/// Prefixes of the metric names the code exports (kit's gRPC layer, everything else `stride_`).
const CODE_PREFIXES: &[&str] = &["stride_", "grpc_server_"];

#[derive(Debug, Default)]
pub struct Summary {
    pub rules: usize,
    pub rule_tests: usize,
    pub panels: usize,
    pub metrics: usize,
}

pub fn check(root: &Path) -> Result<Summary> {
    let dir = root.join("deploy/monitoring");
    stride_infra::ensure_package(PROMTOOL, "prometheus")?;
    let out = run_promtool(&dir, &["check", "rules", "alerts.yaml"])?;
    let rules = out
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("SUCCESS: ")?
                .strip_suffix(" rules found")
        })
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    run_promtool(&dir, &["test", "rules", "alerts.test.yaml"])?;
    let tests = std::fs::read_to_string(dir.join("alerts.test.yaml"))?;
    let rule_tests = tests.matches("alertname:").count();

    let exported = exported_metrics(root)?;
    let alerts = std::fs::read_to_string(dir.join("alerts.yaml"))?;
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("dashboard.json"))?)
            .context("deploy/monitoring/dashboard.json")?;
    let panels = dashboard["panels"].as_array().map_or(0, Vec::len);
    // Comment lines name things that are not metrics (the plugin, for one).
    let alerts: String = alerts
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    let mut exprs = vec![alerts];
    for panel in dashboard["panels"].as_array().into_iter().flatten() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            exprs.push(target["expr"].as_str().unwrap_or_default().to_owned());
        }
    }
    let named: BTreeSet<String> = exprs.iter().flat_map(|e| referenced_metrics(e)).collect();
    let unknown = unknown_metrics(&named, &exported);
    if !unknown.is_empty() {
        bail!(
            "deploy/monitoring names metrics nothing exports: {} (exported: {})",
            unknown.join(", "),
            exported.iter().cloned().collect::<Vec<_>>().join(", ")
        );
    }
    Ok(Summary {
        rules,
        rule_tests,
        panels,
        metrics: named.len(),
    })
}

fn run_promtool(dir: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new(PROMTOOL)
        .args(args)
        .current_dir(dir)
        .output()
        .context("running promtool")?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !out.status.success() {
        bail!("promtool {} failed:\n{text}", args.join(" "));
    }
    Ok(text)
}

/// The names registered in the Rust sources: the first string literal after each call of kit's
/// `metrics::{counter, histogram, gauge}` or prometheus' `Opts::new` / `HistogramOpts::new`.
fn exported_metrics(root: &Path) -> Result<BTreeSet<String>> {
    let mut files = Vec::new();
    for dir in ["crates", "services", "gateway"] {
        rust_files(&root.join(dir), &mut files)?;
    }
    let mut names = BTreeSet::new();
    for file in files {
        names.extend(registered_names(&std::fs::read_to_string(&file)?));
    }
    Ok(names)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir)?.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "target") {
                rust_files(&path, out)?;
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

fn registered_names(source: &str) -> Vec<String> {
    const CALLS: &[&str] = &[
        "metrics::counter(",
        "metrics::histogram(",
        "metrics::gauge(",
        "Opts::new(",
    ];
    let mut names = Vec::new();
    for call in CALLS {
        for (at, _) in source.match_indices(call) {
            let rest = &source[at + call.len()..];
            let Some(open) = rest.find('"') else { continue };
            // Only a literal that is the call's first argument (nothing but whitespace before it).
            if !rest[..open].trim().is_empty() {
                continue;
            }
            if let Some(len) = rest[open + 1..].find('"') {
                names.push(rest[open + 1..open + 1 + len].to_owned());
            }
        }
    }
    names
}

/// Metric names (ours and RabbitMQ's) in a PromQL text; recording rules (with a `:`) and label
/// names are not metrics and do not start with these prefixes.
fn referenced_metrics(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let bytes = expr.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let starts_word = i == 0 || !is_ident(bytes[i - 1]);
        if starts_word && is_ident(bytes[i]) {
            let end = (i..bytes.len())
                .find(|&j| !is_ident(bytes[j]))
                .unwrap_or(bytes.len());
            let word = &expr[i..end];
            let record = bytes.get(end) == Some(&b':');
            if !record
                && CODE_PREFIXES
                    .iter()
                    .chain(&["rabbitmq_"])
                    .any(|p| word.starts_with(p))
            {
                out.push(word.to_owned());
            }
            i = end;
        } else {
            i += 1;
        }
    }
    out
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Names that neither the code nor RabbitMQ exports; a histogram's `_bucket`, `_sum` and `_count`
/// series count as the histogram's name.
fn unknown_metrics(named: &BTreeSet<String>, exported: &BTreeSet<String>) -> Vec<String> {
    named
        .iter()
        .filter(|name| {
            let base = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| name.strip_suffix(s))
                .unwrap_or(name);
            !(exported.contains(name.as_str())
                || exported.contains(base)
                || RABBITMQ_METRICS.contains(&name.as_str()))
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_registered_names_as_first_arguments_only() {
        let src = r#"
            stride_kit::metrics::counter(
                "stride_a_total", "help", &["x"]);
            prometheus::HistogramOpts::new("grpc_server_handling_seconds", "h");
            stride_kit::metrics::gauge(name, "not_a_name");
        "#;
        assert_eq!(
            registered_names(src),
            vec!["stride_a_total", "grpc_server_handling_seconds"]
        );
    }

    #[test]
    fn flags_a_misspelled_metric_but_not_recording_rules_labels_or_histogram_series() {
        let exported: BTreeSet<String> = ["stride_a_total", "grpc_server_handling_seconds"]
            .map(String::from)
            .into();
        let named: BTreeSet<String> = referenced_metrics(
            r#"stride:rate5m / sum by (le) (rate(grpc_server_handling_seconds_bucket{app_kubernetes_io_name="x"}[5m]))
               + stride_a_total + stride_b_total + rabbitmq_queue_messages_ready + rabbitmq_nope"#,
        )
        .into_iter()
        .collect();
        assert_eq!(
            unknown_metrics(&named, &exported),
            vec!["rabbitmq_nope", "stride_b_total"]
        );
    }

    #[test]
    fn the_code_exports_the_metrics_the_alerts_need() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let exported = exported_metrics(&root).expect("reading the sources");
        for name in [
            "grpc_server_handled_total",
            "grpc_server_handling_seconds",
            "stride_outbox_lag_seconds",
            "stride_events_consumed_total",
        ] {
            assert!(exported.contains(name), "{name} not found in {exported:?}");
        }
    }
}
