//! `cargo xtask infra`: PostgreSQL and RabbitMQ for running tests by hand, until Ctrl-C.

use std::time::Duration;

use anyhow::{Result, bail};
use stride_infra::Infra;

use crate::signals;

pub fn run(args: &[String]) -> Result<i32> {
    if let Some(arg) = args.first() {
        bail!("unexpected argument {arg:?}");
    }
    signals::install();
    stride_infra::ensure_installed()?;
    // One folder per run: several people (or agents) may each run their own servers from one
    // checkout. Folders of runs that are no longer alive are removed.
    let base = crate::root().join(".stride/infra");
    std::fs::create_dir_all(&base)?;
    for entry in std::fs::read_dir(&base)?.flatten() {
        let pid = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok());
        if let Some(pid) = pid
            && !std::path::Path::new(&format!("/proc/{pid}")).exists()
        {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
    let dir = base.join(std::process::id().to_string());
    let infra = Infra::start(&dir)?;
    println!("# PostgreSQL and RabbitMQ are up; in another shell:");
    for (key, value) in infra.test_env() {
        println!("export {key}={value}");
    }
    println!("# then e.g. `cargo nextest run -p stride-auth`. Ctrl-C here stops both.");
    let code = loop {
        if let Some(sig) = signals::received() {
            eprintln!("{}: stopping", signals::name(sig));
            break 0;
        }
        if !infra.pg.is_running() || !infra.rabbit.is_running() {
            eprintln!("a server exited unexpectedly; stopping");
            break 1;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    drop(infra);
    eprintln!("stopped; logs stay in {} until the next run", dir.display());
    Ok(code)
}
