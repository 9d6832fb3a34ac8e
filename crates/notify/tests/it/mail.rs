use hyper::Method;
use stride_notify::{Mail, mailer_from_url, sms_from_url};

use crate::{DEADLINE, FROM, get_json, http, sink};

fn mail(to: &str, subject: &str, text: &str) -> Mail {
    Mail {
        to: to.into(),
        subject: subject.into(),
        text: text.into(),
    }
}

#[tokio::test]
async fn utf8_mail_arrives_intact() {
    let sink = sink().await;
    let mailer = mailer_from_url(&sink.smtp_url(), FROM).unwrap();
    // Mostly ASCII (lettre picks quoted-printable) and mostly Cyrillic (lettre picks base64).
    let cases = [
        (
            "alice@example.com",
            "Ihr Anmeldecode – Grüße",
            "Grüße — 123456\nDieser Code läuft in 10 Minuten ab.\n.line starting with a dot\n",
        ),
        (
            "Борис <boris@example.com>",
            "Код подтверждения",
            "Здравствуйте! Ваш код: 654321. Никому его не сообщайте.",
        ),
    ];
    for (to, subject, text) in cases {
        mailer.send(mail(to, subject, text)).await.unwrap();
        let bare = to.rsplit('<').next().unwrap().trim_end_matches('>');
        let got = sink.wait_for_mail(bare, DEADLINE).await.unwrap();
        assert_eq!(got.subject, subject);
        assert_eq!(got.text, text);
        assert_eq!(got.to, vec![bare.to_string()]);
        assert_eq!(got.from, "no-reply@stride.local");
        assert!(
            got.raw.contains("From: Stride <no-reply@stride.local>"),
            "{}",
            got.raw
        );
        // The body went through a transfer encoding, so the decoders did real work.
        assert!(
            !got.raw.contains(text.lines().next().unwrap()),
            "{}",
            got.raw
        );
        assert!(!got.raw.contains(subject), "{}", got.raw);
    }
    assert!(got_encodings(&sink.all_mail()).contains(&"quoted-printable".to_string()));
    assert!(got_encodings(&sink.all_mail()).contains(&"base64".to_string()));
}

fn got_encodings(mails: &[stride_notify::StoredMail]) -> Vec<String> {
    mails
        .iter()
        .filter_map(|m| {
            m.raw
                .lines()
                .find_map(|l| l.strip_prefix("Content-Transfer-Encoding: "))
                .map(str::to_owned)
        })
        .collect()
}

#[tokio::test]
async fn several_mails_through_the_http_api() {
    let sink = sink().await;
    let mailer = mailer_from_url(&sink.smtp_url(), FROM).unwrap();
    for i in 1..=3 {
        let text = format!("code {i}");
        mailer
            .send(mail("bob@example.com", &format!("Code #{i}"), &text))
            .await
            .unwrap();
    }
    mailer
        .send(mail("carol+tag@example.com", "Hi Carol", "plain ascii"))
        .await
        .unwrap();

    let base = sink.http_url();
    let (status, body) = http(Method::GET, &format!("{base}/healthz"), None).await;
    assert_eq!((status, body.trim()), (200, "ok"));

    let bob = get_json(&format!("{base}/messages?to=BOB%40example.com")).await;
    let subjects: Vec<&str> = bob
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["subject"].as_str().unwrap())
        .collect();
    assert_eq!(subjects, ["Code #1", "Code #2", "Code #3"], "newest last");
    assert_eq!(bob[2]["text"], "code 3");
    assert_eq!(bob[2]["from"], "no-reply@stride.local");
    assert_eq!(bob[2]["to"], serde_json::json!(["bob@example.com"]));
    assert!(bob[2]["received_at"].as_str().unwrap().ends_with('Z'));
    assert!(bob[2]["id"].as_u64().unwrap() > bob[1]["id"].as_u64().unwrap());

    // `+` in a query is kept as a `+` (addresses and numbers have them, never spaces).
    let carol = get_json(&format!("{base}/messages/latest?to=carol+tag@example.com")).await;
    assert_eq!(carol["subject"], "Hi Carol");
    assert_eq!(carol["text"], "plain ascii");

    let all = get_json(&format!("{base}/messages")).await;
    assert_eq!(all.as_array().unwrap().len(), 4);
    let (status, _) = http(
        Method::GET,
        &format!("{base}/messages/latest?to=nobody@x.org"),
        None,
    )
    .await;
    assert_eq!(status, 404);

    let (status, _) = http(Method::DELETE, &format!("{base}/messages"), None).await;
    assert_eq!(status, 204);
    assert_eq!(
        get_json(&format!("{base}/messages")).await,
        serde_json::json!([])
    );
    assert!(sink.all_mail().is_empty());
}

#[tokio::test]
async fn oversized_mail_is_refused_and_the_next_one_works() {
    let sink = sink().await;
    let mailer = mailer_from_url(&sink.smtp_url(), FROM).unwrap();
    let big = "0123456789abcdef".repeat(70_000); // 1.1 MB of text, more once encoded
    let err = mailer
        .send(mail("dave@example.com", "too big", &big))
        .await
        .expect_err("a message over 1 MiB is refused");
    let shown = format!("{err:#}");
    assert!(shown.contains("552"), "{shown}");
    assert!(sink.mail_to("dave@example.com").is_empty());

    mailer
        .send(mail("dave@example.com", "small", "fits"))
        .await
        .unwrap();
    assert_eq!(
        sink.wait_for_mail("dave@example.com", DEADLINE)
            .await
            .unwrap()
            .text,
        "fits"
    );
}

#[tokio::test]
async fn wait_for_mail_after_an_id_and_timeout() {
    let sink = sink().await;
    let mailer = mailer_from_url(&sink.smtp_url(), FROM).unwrap();
    let started = std::time::Instant::now();
    let err = sink
        .wait_for_mail("erin@example.com", std::time::Duration::from_millis(200))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("erin@example.com"), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));

    mailer
        .send(mail("erin@example.com", "first", "1"))
        .await
        .unwrap();
    let first = sink
        .wait_for_mail("erin@example.com", DEADLINE)
        .await
        .unwrap();
    // A waiter started before the mail is sent is woken by it (Notify, no polling).
    let waiter = sink.wait_for_mail_after("erin@example.com", first.id, DEADLINE);
    let send = mailer.send(mail("erin@example.com", "second", "2"));
    let (second, sent) = tokio::join!(waiter, send);
    sent.unwrap();
    assert_eq!(second.unwrap().subject, "second");
}

#[tokio::test]
async fn bad_urls_are_rejected_clearly() {
    let cases = [
        ("", FROM, "empty"),
        ("   ", FROM, "empty"),
        ("localhost:25", FROM, "scheme://"),
        ("http://mail.example.com", FROM, "unsupported scheme"),
        ("smtp://", FROM, "missing host"),
        ("smtp://mail.example.com:smtp", FROM, "bad port"),
        ("smtp://mail.example.com:70000", FROM, "bad port"),
        ("smtp://mail.example.com/extra?x=1", FROM, "path or query"),
        ("smtp://mail.example.com", "not an address", "From"),
        ("smtps://user:hunter2@", FROM, "missing host"),
        ("log:", "", "From"),
    ];
    for (url, from, expected) in cases {
        let err = match mailer_from_url(url, from) {
            Ok(_) => panic!("{url:?} with From {from:?} should be rejected"),
            Err(err) => format!("{err:#}"),
        };
        assert!(err.contains(expected), "{url:?}: {err}");
        assert!(!err.contains("hunter2"), "the password leaked: {err}");
    }
    for url in [
        "log:",
        "smtp://127.0.0.1:2525",
        "smtp+starttls://user%40x:p%40ss@mail.example.com",
        "smtps://mail.example.com:465",
    ] {
        assert!(
            mailer_from_url(url, FROM).is_ok(),
            "{url} should be accepted"
        );
    }
    for (url, expected) in [
        ("", "empty"),
        ("ftp://x", "unsupported scheme"),
        ("https://api.provider.example/sms", "https"),
        ("http://:80/sms", "missing host"),
    ] {
        let err = match sms_from_url(url) {
            Ok(_) => panic!("SMS URL {url:?} should be rejected"),
            Err(err) => format!("{err:#}"),
        };
        assert!(err.contains(expected), "{url:?}: {err}");
    }
    assert!(sms_from_url("log:").is_ok());
    assert!(sms_from_url("http://127.0.0.1:8025/sms").is_ok());
}

#[tokio::test]
async fn log_senders_accept_everything() {
    mailer_from_url("log:", FROM)
        .unwrap()
        .send(mail("x@example.com", "s", "secret 123456"))
        .await
        .unwrap();
    sms_from_url("LOG:")
        .unwrap()
        .send(stride_notify::Sms {
            to: "+15550100".into(),
            text: "secret".into(),
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn unreachable_mail_server_is_an_error() {
    // A port that was just free: connection refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mailer = mailer_from_url(&format!("smtp://127.0.0.1:{port}"), FROM).unwrap();
    let err = mailer
        .send(mail("x@example.com", "s", "t"))
        .await
        .unwrap_err();
    assert!(
        format!("{err:#}").contains(&format!("smtp://127.0.0.1:{port}")),
        "{err:#}"
    );
}
