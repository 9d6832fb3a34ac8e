//! One end-to-end run of both servers (slow: RabbitMQ boots twice, ~25 s in all).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::json;
use stride_infra::{Infra, sys};

#[test]
fn starts_serves_restarts_and_stops() -> Result<()> {
    // Under xtask's run directory when there is one, so its cleanup covers a killed test.
    let dir = match std::env::var_os(stride_infra::ENV_INFRA_DIR) {
        Some(base) => tempfile::tempdir_in(base)?,
        None => tempfile::tempdir()?,
    };
    let mut infra = Infra::start(dir.path())?;
    let pg_port = infra.pg.port();
    let amqp_port = infra.rabbit.amqp_port();
    let mgmt_port = infra.rabbit.mgmt_port();

    infra.pg.create_database("infra_test")?;
    let out = Command::new("/usr/lib/postgresql/15/bin/psql")
        .args(["-X", "-At", "-c", "select current_database()"])
        .arg(infra.pg.url("infra_test"))
        .output()?;
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "infra_test");

    // A vhost needing percent-encoding, a durable queue and a persistent message in it.
    let vhost = "infra/test";
    let rabbit = &infra.rabbit;
    rabbit.create_vhost(vhost)?;
    assert!(rabbit.amqp_url(vhost).ends_with("/infra%2Ftest"));
    let mgmt = rabbit.mgmt();
    mgmt.call(
        "PUT",
        "/api/queues/infra%2Ftest/q",
        Some(&json!({"durable": true, "arguments": {"x-queue-type": "quorum"}})),
    )?;
    let published = mgmt.call(
        "POST",
        "/api/exchanges/infra%2Ftest/amq.default/publish",
        Some(
            &json!({"properties": {"delivery_mode": 2}, "routing_key": "q",
                     "payload": "hello", "payload_encoding": "string"}),
        ),
    )?;
    assert!(published.contains("\"routed\":true"), "{published}");
    wait_for_messages(&infra, vhost, "q", 1)?;
    assert_amqp_handshake(amqp_port)?;

    // A crashed broker comes back on the same port with its durable data.
    infra.rabbit.kill();
    assert!(
        !sys::port_open(amqp_port),
        "AMQP port still open after kill"
    );
    infra.rabbit.restart()?;
    assert_eq!(infra.rabbit.amqp_port(), amqp_port);
    wait_for_messages(&infra, vhost, "q", 1)?;
    infra.rabbit.delete_vhost(vhost)?;
    infra.rabbit.delete_vhost(vhost)?;

    infra.stop();
    for port in [pg_port, amqp_port, mgmt_port] {
        assert!(!sys::port_open(port), "port {port} still open after stop");
    }
    infra.stop();
    Ok(())
}

fn wait_for_messages(infra: &Infra, vhost: &str, queue: &str, want: u64) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = infra.rabbit.queue_messages(vhost, queue)?;
        if got == want {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("{vhost}/{queue} has {got} messages, want {want}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The broker answers the AMQP 0-9-1 protocol header with a Connection.Start method frame.
fn assert_amqp_handshake(port: u16) -> Result<()> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.write_all(b"AMQP\x00\x00\x09\x01")?;
    let mut frame = [0u8; 11];
    stream
        .read_exact(&mut frame)
        .context("reading Connection.Start")?;
    // type 1 (method), channel 0, then class 10 (connection), method 10 (start).
    assert_eq!(frame[0], 1);
    assert_eq!(&frame[7..11], &[0, 10, 0, 10]);
    Ok(())
}
