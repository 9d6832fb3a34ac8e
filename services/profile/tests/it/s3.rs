//! The S3 adapter (object_store's AWS client) against moto's S3 server (PyPI `moto[server]`), started by the test with
//! signature checking on: requests signed with the wrong secret are refused, so a pass proves
//! the SigV4 signing, not only the HTTP plumbing. Then profile itself on S3: upload, serve, purge.
//!
//! Needs a Python with moto 5 (`STRIDE_TEST_PYTHON`, default `python3`).

use std::{process::Stdio, time::Duration};

use stride_kit::config::Secret;
use stride_profile::avatar::{
    s3::{S3, S3Config},
    storage::ObjectStore,
};
use stride_proto::profile as pb;
use stride_testkit::{authed, bus::Publisher, fixtures};
use tokio::io::AsyncBufReadExt as _;
use uuid::Uuid;

use crate::support::{NOW, png, registered, start_with};

/// Starts moto with IAM auth enforced after the three calls that create a user with an S3
/// policy and its access key, then creates the bucket `avatars` with that key.
const MOTO: &str = r#"
import os, sys, json
os.environ["INITIAL_NO_AUTH_ACTION_COUNT"] = "3"
from moto.server import ThreadedMotoServer
s = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
s.start()
host, port = s.get_host_and_port()
url = f"http://{host}:{port}"
import boto3
iam = boto3.client("iam", endpoint_url=url, region_name="us-east-1",
                   aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")
iam.create_user(UserName="profile")
iam.put_user_policy(UserName="profile", PolicyName="s3", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
k = iam.create_access_key(UserName="profile")["AccessKey"]
boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id=k["AccessKeyId"],
             aws_secret_access_key=k["SecretAccessKey"]).create_bucket(Bucket="avatars")
print(json.dumps({"endpoint": url, "key": k["AccessKeyId"], "secret": k["SecretAccessKey"]}), flush=True)
sys.stdin.read()
"#;

struct Moto {
    config: S3Config,
    _child: tokio::process::Child,
}

async fn moto() -> Moto {
    let python = std::env::var("STRIDE_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let mut child = tokio::process::Command::new(&python)
        .args(["-c", MOTO])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("start {python} (moto): {e}"));
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
        .await
        .expect("moto answers within 60 s")
        .expect("read moto's output")
        .unwrap_or_else(|| panic!("moto exited: is moto[server] 5 installed for {python}?"));
    let v: serde_json::Value = serde_json::from_str(&line).expect("moto's JSON line");
    Moto {
        config: S3Config {
            endpoint: v["endpoint"].as_str().unwrap().into(),
            bucket: "avatars".into(),
            region: "us-east-1".into(),
            access_key_id: v["key"].as_str().unwrap().into(),
            secret_access_key: Secret::new(v["secret"].as_str().unwrap()),
        },
        _child: child,
    }
}

fn store(config: S3Config) -> S3 {
    S3::new(&config).unwrap()
}

#[tokio::test]
async fn the_s3_adapter_stores_reads_and_deletes_with_signed_requests() {
    stride_kit::install_crypto_provider();
    let m = moto().await;
    let s3 = store(m.config.clone());
    let key = format!(
        "{}-{}.jpg",
        Uuid::now_v7().simple(),
        Uuid::now_v7().simple()
    );
    assert_eq!(s3.get(&key).await.unwrap(), None);
    s3.put(&key, b"jpeg bytes".to_vec(), "image/jpeg")
        .await
        .unwrap();
    assert_eq!(
        s3.get(&key).await.unwrap().as_deref(),
        Some(&b"jpeg bytes"[..])
    );
    s3.delete(&key).await.unwrap();
    assert_eq!(s3.get(&key).await.unwrap(), None);
    s3.delete(&key)
        .await
        .expect("deleting a missing object succeeds");

    // The same requests signed with another secret are refused: moto checks the signature.
    let forged = store(S3Config {
        secret_access_key: Secret::new("not-the-secret"),
        ..m.config.clone()
    });
    let err = forged
        .put(&key, b"x".to_vec(), "image/jpeg")
        .await
        .unwrap_err();
    let shown = format!("{err:#}");
    assert!(
        shown.contains("403") || shown.contains("Forbidden") || shown.contains("Signature"),
        "{shown}"
    );
    assert_eq!(s3.get(&key).await.unwrap(), None);
}

#[tokio::test]
async fn profile_on_s3_serves_uploads_and_purges_them_with_the_user() {
    let m = moto().await;
    let config = m.config.clone();
    let (h, _probe) = start_with(move |common| stride_profile::Config {
        s3: Some(config),
        ..stride_profile::Config::new(common, "/nonexistent/not-used".into())
    })
    .await;
    let user = Uuid::now_v7();
    let auth = Publisher::start(&h.amqp, "auth").await;
    registered(&h, &auth, user, "sam").await;
    let p = h
        .client
        .clone()
        .upload_my_avatar(authed(
            pb::UploadMyAvatarRequest {
                content: png(100, 80),
            },
            &h.token(user),
        ))
        .await
        .unwrap()
        .into_inner()
        .profile
        .unwrap();
    let r = reqwest::get(&p.avatar_url).await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let img = image::load_from_memory(&r.bytes().await.unwrap()).unwrap();
    assert_eq!((img.width(), img.height()), (256, 256));
    let key = p.avatar_url.rsplit('/').next().unwrap().to_owned();
    let s3 = store(m.config.clone());
    assert!(
        s3.get(&key).await.unwrap().is_some(),
        "stored in the bucket"
    );

    let id = auth.publish(&fixtures::user_deleted(user, NOW)).await;
    h.consumed(id).await;
    assert_eq!(s3.get(&key).await.unwrap(), None, "purged from the bucket");
    assert_eq!(
        reqwest::get(&p.avatar_url).await.unwrap().status().as_u16(),
        404
    );
    h.stop().await;
}
