//! A raw HTTP/1.1 client for the JSON/HTTP and Connect journeys, and the sign-up both start with.

use std::{net::SocketAddr, time::Duration};

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};
use serde_json::{Value, json};
use stride_e2e::Mesh;

pub const MAIL: Duration = Duration::from_secs(20);

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {} {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The fields a `google.rpc.BadRequest` in a Status JSON names.
    pub fn bad_fields(&self) -> Vec<String> {
        let v = self.json();
        v["details"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|d| d["@type"] == "type.googleapis.com/google.rpc.BadRequest")
            .flat_map(|d| d["fieldViolations"].as_array().cloned().unwrap_or_default())
            .filter_map(|f| f["field"].as_str().map(str::to_owned))
            .collect()
    }
}

#[derive(Clone)]
pub struct Http {
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
}

impl Http {
    pub fn new(addr: SocketAddr) -> Self {
        Self {
            client: Client::builder(TokioExecutor::new()).build_http(),
            base: format!("http://{addr}"),
        }
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Answer {
        let mut req = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(Full::new(body.into())).expect("request");
        let res = self.client.request(req).await.expect("the gateway answers");
        let (parts, body) = res.into_parts();
        let body = body.collect().await.expect("body").to_bytes();
        Answer {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }

    /// A JSON/HTTP call: `body` sent as JSON when given, the token as a bearer.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut headers = vec![];
        if let Some(a) = &auth {
            headers.push(("authorization", a.as_str()));
        }
        let bytes = match body {
            Some(v) => {
                headers.push(("content-type", "application/json"));
                serde_json::to_vec(&v).expect("json")
            }
            None => Vec::new(),
        };
        self.send(method, path, &headers, bytes).await
    }
}

pub fn code_in(text: &str) -> String {
    let i = text.find("code is ").expect("a code in the mail") + 8;
    text[i..i + 6].to_owned()
}

pub struct Account {
    pub id: String,
    pub access: String,
}

/// Signs up over JSON/HTTP, reads the confirmation code from the dev mail sink and confirms.
pub async fn signup_confirmed(http: &Http, mesh: &Mesh, name: &str) -> Account {
    let email = format!("{name}@example.com");
    let res = http
        .call(
            Method::POST,
            "/api/v1/auth/signup",
            None,
            Some(json!({
                "email": email, "username": name,
                "password": "correct horse battery", "timezone": "America/New_York"
            })),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
    let v = res.json();
    assert_eq!(v["confirmationRequired"], true, "{v}");
    let mail = mesh.sink.wait_for_mail(&email, MAIL).await.expect("mail");
    let res = http
        .call(
            Method::POST,
            "/api/v1/auth/signup/confirm",
            None,
            Some(json!({
                "email": email, "code": code_in(&mail.text),
                "password": "correct horse battery"
            })),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
    let v = res.json();
    Account {
        id: v["user"]["id"].as_str().expect("user id").to_owned(),
        access: v["tokens"]["accessToken"]
            .as_str()
            .expect("access token")
            .to_owned(),
    }
}
