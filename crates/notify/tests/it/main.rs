//! stride-notify against its own dev sink over real TCP: lettre's SMTP client to the sink's SMTP
//! server, the SMS client to the sink's HTTP API, and a raw SMTP conversation.

mod mail;
mod sms;
mod smtp_protocol;
mod twilio;

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use stride_notify::DevSink;

pub const DEADLINE: Duration = Duration::from_secs(10);
pub const FROM: &str = "Stride <no-reply@stride.local>";

pub async fn sink() -> DevSink {
    let any: SocketAddr = "127.0.0.1:0".parse().expect("addr");
    DevSink::start(any, any).await.expect("dev sink starts")
}

/// One HTTP/1.1 exchange with a plain hyper client; returns status and body text.
pub async fn http(method: Method, url: &str, json: Option<&str>) -> (u16, String) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut request = Request::builder().method(method).uri(url);
    if json.is_some() {
        request = request.header("content-type", "application/json");
    }
    let request = request
        .body(Full::new(Bytes::from(json.unwrap_or("").to_owned())))
        .expect("request");
    let response = tokio::time::timeout(DEADLINE, client.request(request))
        .await
        .expect("HTTP answer in time")
        .expect("HTTP exchange");
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (
        status,
        String::from_utf8(body.to_vec()).expect("UTF-8 body"),
    )
}

pub async fn get_json(url: &str) -> serde_json::Value {
    let (status, body) = http(Method::GET, url, None).await;
    assert_eq!(status, 200, "GET {url}: {body}");
    serde_json::from_str(&body).expect("JSON body")
}
