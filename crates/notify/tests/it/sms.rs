use hyper::Method;
use stride_notify::{Sms, sms_from_url};

use crate::{DEADLINE, get_json, http, sink};

#[tokio::test]
async fn sms_reaches_the_sink() {
    let sink = sink().await;
    let sender = sms_from_url(&sink.sms_url()).unwrap();
    for text in ["Stride code 111111", "Stride-Code 222222 — gültig 10 min"] {
        sender
            .send(Sms {
                to: "+4915112345678".into(),
                text: text.into(),
            })
            .await
            .unwrap();
    }
    sender
        .send(Sms {
            to: "+15550100".into(),
            text: "other".into(),
        })
        .await
        .unwrap();

    let latest = sink.wait_for_sms("+4915112345678", DEADLINE).await.unwrap();
    assert_eq!(latest.text, "Stride-Code 222222 — gültig 10 min");
    assert_eq!(sink.sms_to("+4915112345678").len(), 2);

    let base = sink.http_url();
    for query in ["%2B4915112345678", "+4915112345678"] {
        let list = get_json(&format!("{base}/sms?to={query}")).await;
        let texts: Vec<&str> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["text"].as_str().unwrap())
            .collect();
        assert_eq!(
            texts,
            ["Stride code 111111", "Stride-Code 222222 — gültig 10 min"]
        );
    }
    let latest = get_json(&format!("{base}/sms/latest?to=%2B15550100")).await;
    assert_eq!(latest["text"], "other");
    assert_eq!(
        get_json(&format!("{base}/sms"))
            .await
            .as_array()
            .unwrap()
            .len(),
        3
    );

    let (status, _) = http(Method::DELETE, &format!("{base}/sms"), None).await;
    assert_eq!(status, 204);
    assert!(sink.all_sms().is_empty());
}

#[tokio::test]
async fn sink_validates_posted_sms() {
    let sink = sink().await;
    let url = sink.sms_url();
    let (status, _) = http(Method::POST, &url, Some("{not json")).await;
    assert_eq!(status, 400);
    let (status, _) = http(Method::POST, &url, Some(r#"{"to":"+1"}"#)).await;
    assert_eq!(status, 422);
    let (status, body) = http(Method::POST, &url, Some(r#"{"to":"  ","text":"x"}"#)).await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = http(Method::POST, &url, Some(r#"{"to":"+1555","text":"hi"}"#)).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        sink.wait_for_sms("+1555", DEADLINE).await.unwrap().text,
        "hi"
    );
}

#[tokio::test]
async fn sender_reports_sink_errors() {
    let sink = sink().await;
    // A path the sink does not serve: the sender must turn the 404 into an error.
    let sender = sms_from_url(&format!("{}/nope", sink.http_url())).unwrap();
    let sms = Sms {
        to: "+1555".into(),
        text: "x".into(),
    };
    let err = sender.send(sms.clone()).await.unwrap_err();
    assert!(format!("{err:#}").contains("404"), "{err:#}");

    let addr = sink.http_addr();
    sink.shutdown().await;
    let sender = sms_from_url(&format!("http://{addr}/sms")).unwrap();
    let err = sender.send(sms).await.unwrap_err();
    assert!(
        format!("{err:#}").contains(&format!("http://{addr}")),
        "{err:#}"
    );
}
