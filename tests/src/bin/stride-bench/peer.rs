//! Stride against the FastAPI baseline (`../shared/peers/fastapi`): its `bench.sh` writes a
//! summary JSON in the same run; this prints the ratios the promise is stated in (≥ 5× the
//! throughput at a lower p99 on each flow).

use anyhow::Context as _;

/// Stride's (throughput, p99 ms) per flow. The cycle's throughput is cycles/s.
pub struct Stride {
    pub me: Option<(f64, f64)>,
    pub summary: Option<(f64, f64)>,
    pub cycle: Option<(f64, f64)>,
}

/// The baseline's summary JSON.
fn read(path: &str) -> anyhow::Result<serde_json::Value> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
    Ok(serde_json::from_str(&text)?)
}

pub fn compare(path: &str, stride: &Stride) -> anyhow::Result<()> {
    let json = read(path)?;
    let scenario = |name: &str| -> Option<(f64, f64)> {
        let s = json.get("scenarios")?.get(name)?;
        Some((
            s.get("rps_median")?.as_f64()?,
            s.get("p99_ms_median")?.as_f64()?,
        ))
    };
    let meta = json.get("meta").cloned().unwrap_or_default();
    println!(
        "\n== Stride (gRPC through the gateway) against the FastAPI baseline, same machine, same run ==\n  baseline: FastAPI {} + SQLAlchemy {}, {} workers, wrk -c{} ({} × {})",
        meta["fastapi"].as_str().unwrap_or("?"),
        meta["sqlalchemy"].as_str().unwrap_or("?"),
        meta["workers"],
        meta["connections"],
        meta["runs"],
        meta["duration"].as_str().unwrap_or("?"),
    );
    println!(
        "  {:<28} {:>12} {:>12} {:>7}   {:>10} {:>10}  goal",
        "flow", "FastAPI /s", "Stride /s", "ratio", "p99 FastAPI", "p99 Stride"
    );
    // wrk's req/s counts both calls of a cycle: cycles/s is half of it.
    let rows = [
        ("GET /me = GetMyProfile", scenario("me"), stride.me),
        ("weekly summary", scenario("summary"), stride.summary),
        (
            "session cycles (start+complete)",
            scenario("cycle").map(|(r, p)| (r / 2.0, p)),
            stride.cycle,
        ),
    ];
    for (name, base, ours) in rows {
        match (base, ours) {
            (Some((b, bp)), Some((s, sp))) => println!(
                "  {name:<28} {b:>12.0} {s:>12.0} {:>6.1}×   {bp:>8.1}ms {sp:>8.1}ms  {}",
                s / b,
                if s >= 5.0 * b && sp < bp {
                    "met"
                } else {
                    "NOT met (≥ 5× and a lower p99)"
                }
            ),
            _ => println!("  {name:<28} (not measured in this run)"),
        }
    }
    Ok(())
}

/// Logins at the baseline's login concurrency (16), against its `login` scenario.
pub fn compare_logins(path: &str, rate: f64, p99_ms: f64) -> anyhow::Result<()> {
    let json = read(path)?;
    let Some(s) = json.get("scenarios").and_then(|s| s.get("login")) else {
        println!("  (the baseline's login scenario was not measured in this run)");
        return Ok(());
    };
    let (b, bp) = (
        s.get("rps_median").and_then(|v| v.as_f64()).unwrap_or(0.0),
        s.get("p99_ms_median")
            .and_then(|v| v.as_f64())
            .unwrap_or(0.0),
    );
    println!(
        "  against FastAPI at 16 connections: {b:.1} logins/s (p99 {bp:.0} ms) vs Stride {rate:.1}/s (p99 {p99_ms:.0} ms) = {:.2}×  [goal > 1]",
        rate / b.max(1e-9)
    );
    Ok(())
}
