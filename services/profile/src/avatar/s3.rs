//! The S3-compatible object store (AWS S3, MinIO, Ceph RGW, R2…): path-style requests
//! (`<endpoint>/<bucket>/<key>`) signed with AWS Signature Version 4 over the workspace's
//! reqwest (rustls on aws-lc-rs). `object_store` was not taken: it brings its own reqwest and
//! ring. Configured by `STRIDE_PROFILE_S3_ENDPOINT`, `…_S3_BUCKET`, `…_S3_REGION`,
//! `…_S3_ACCESS_KEY_ID`, `…_S3_SECRET_ACCESS_KEY` (see `crate::Config`).

use futures::future::BoxFuture;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use stride_kit::{clock::SharedClock, config::Secret};

use super::storage::{ObjectStore, Result};

#[derive(Clone, Debug)]
pub struct S3Config {
    /// `https://s3.eu-west-3.amazonaws.com`, `http://minio:9000`, …
    pub endpoint: String,
    pub bucket: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: Secret,
}

pub struct S3 {
    cfg: S3Config,
    http: reqwest::Client,
    clock: SharedClock,
}

impl S3 {
    pub fn new(cfg: S3Config, clock: SharedClock) -> Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()?;
        Ok(Self { cfg, http, clock })
    }

    fn url_and_path(&self, key: &str) -> Result<(reqwest::Url, String)> {
        let path = format!("/{}/{}", self.cfg.bucket, uri_encode(key));
        let url = reqwest::Url::parse(&format!(
            "{}{path}",
            self.cfg.endpoint.trim_end_matches('/')
        ))?;
        Ok((url, path))
    }

    async fn send(
        &self,
        method: reqwest::Method,
        key: &str,
        body: Vec<u8>,
        content_type: Option<&'static str>,
    ) -> Result<reqwest::Response> {
        let (url, path) = self.url_and_path(key)?;
        let host = match url.port() {
            Some(p) => format!("{}:{p}", url.host_str().unwrap_or_default()),
            None => url.host_str().unwrap_or_default().to_owned(),
        };
        let payload_hash = hex::encode(Sha256::digest(&body));
        let amz_date = amz_date(self.clock.now());
        let headers = [
            ("host", host.as_str()),
            ("x-amz-content-sha256", payload_hash.as_str()),
            ("x-amz-date", amz_date.as_str()),
        ];
        let auth = authorization(
            method.as_str(),
            &path,
            "",
            &headers,
            &payload_hash,
            &Credentials {
                access_key_id: &self.cfg.access_key_id,
                secret_access_key: self.cfg.secret_access_key.expose(),
                region: &self.cfg.region,
            },
            &amz_date,
        );
        let mut req = self
            .http
            .request(method, url)
            .header("x-amz-content-sha256", &payload_hash)
            .header("x-amz-date", &amz_date)
            .header("authorization", auth);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        Ok(req.body(body).send().await?)
    }
}

impl ObjectStore for S3 {
    fn put(
        &self,
        key: &str,
        bytes: Vec<u8>,
        content_type: &'static str,
    ) -> BoxFuture<'_, Result<()>> {
        let key = key.to_owned();
        Box::pin(async move {
            let r = self
                .send(reqwest::Method::PUT, &key, bytes, Some(content_type))
                .await?;
            anyhow::ensure!(r.status().is_success(), "S3 PUT {key}: {}", r.status());
            Ok(())
        })
    }

    fn get(&self, key: &str) -> BoxFuture<'_, Result<Option<Vec<u8>>>> {
        let key = key.to_owned();
        Box::pin(async move {
            let r = self
                .send(reqwest::Method::GET, &key, Vec::new(), None)
                .await?;
            if r.status() == reqwest::StatusCode::NOT_FOUND {
                return Ok(None);
            }
            anyhow::ensure!(r.status().is_success(), "S3 GET {key}: {}", r.status());
            Ok(Some(r.bytes().await?.to_vec()))
        })
    }

    fn delete(&self, key: &str) -> BoxFuture<'_, Result<()>> {
        let key = key.to_owned();
        Box::pin(async move {
            let r = self
                .send(reqwest::Method::DELETE, &key, Vec::new(), None)
                .await?;
            // S3 answers 204 for a missing key too; some stand-ins say 404.
            anyhow::ensure!(
                r.status().is_success() || r.status() == reqwest::StatusCode::NOT_FOUND,
                "S3 DELETE {key}: {}",
                r.status()
            );
            Ok(())
        })
    }
}

pub struct Credentials<'a> {
    pub access_key_id: &'a str,
    pub secret_access_key: &'a str,
    pub region: &'a str,
}

/// `YYYYMMDDTHHMMSSZ`.
pub fn amz_date(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// RFC 3986 unreserved characters stay; everything else is %XX (the key's '/' too: our keys
/// are flat).
pub fn uri_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    // HMAC accepts keys of any length: new_from_slice cannot fail for it.
    match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mut m) => {
            m.update(data.as_bytes());
            m.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

/// The `Authorization` header of an S3 request (SigV4, service "s3"). `headers` are the signed
/// ones, names lowercase; `path` is already URI-encoded; `amz_date` is `YYYYMMDDTHHMMSSZ`.
pub fn authorization(
    method: &str,
    path: &str,
    query: &str,
    headers: &[(&str, &str)],
    payload_hash: &str,
    creds: &Credentials<'_>,
    amz_date: &str,
) -> String {
    let mut hs: Vec<(&str, &str)> = headers.to_vec();
    hs.sort_by(|a, b| a.0.cmp(b.0));
    let canonical_headers: String = hs
        .iter()
        .map(|(k, v)| format!("{k}:{}\n", v.trim()))
        .collect();
    let signed_headers = hs.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(";");
    let canonical =
        format!("{method}\n{path}\n{query}\n{canonical_headers}\n{signed_headers}\n{payload_hash}");
    let date = amz_date.get(..8).unwrap_or_default();
    let scope = format!("{date}/{}/s3/aws4_request", creds.region);
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let k_date = hmac(format!("AWS4{}", creds.secret_access_key).as_bytes(), date);
    let k_region = hmac(&k_date, creds.region);
    let k_service = hmac(&k_region, "s3");
    let k_signing = hmac(&k_service, "aws4_request");
    let signature = hex::encode(hmac(&k_signing, &to_sign));
    format!(
        "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
        creds.access_key_id
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    /// AWS's published example "GET Object" (Signature Version 4, S3 API reference,
    /// "Examples: Signature Calculations").
    #[test]
    fn signs_awss_published_get_object_example() {
        let creds = Credentials {
            access_key_id: "AKIAIOSFODNN7EXAMPLE",
            secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            region: "us-east-1",
        };
        let auth = authorization(
            "GET",
            "/test.txt",
            "",
            &[
                ("host", "examplebucket.s3.amazonaws.com"),
                ("range", "bytes=0-9"),
                ("x-amz-content-sha256", EMPTY_SHA256),
                ("x-amz-date", "20130524T000000Z"),
            ],
            EMPTY_SHA256,
            &creds,
            "20130524T000000Z",
        );
        assert_eq!(
            auth,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
             SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, \
             Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
    }

    #[test]
    fn dates_and_encoding() {
        assert_eq!(
            amz_date(time::macros::datetime!(2013-05-24 0:00 UTC)),
            "20130524T000000Z"
        );
        assert_eq!(uri_encode("a b/c~d.jpg"), "a%20b%2Fc~d.jpg");
    }
}
