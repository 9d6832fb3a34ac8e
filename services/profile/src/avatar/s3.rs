//! The S3-compatible object store (AWS S3, MinIO, Ceph RGW, R2…) through `object_store`'s AWS
//! client: path-style requests (`<endpoint>/<bucket>/<key>`), Signature V4, on aws-lc-rs and the
//! workspace's reqwest (no ring, no second HTTP stack). Configured by
//! `PROFILE_S3_ENDPOINT`, `…_S3_BUCKET`, `…_S3_REGION`, `…_S3_ACCESS_KEY_ID`,
//! `…_S3_SECRET_ACCESS_KEY` (see `crate::Config`).

use futures::future::BoxFuture;
use object_store::{
    Attribute, Attributes, ObjectStore as _, ObjectStoreExt as _, PutOptions, PutPayload,
    aws::{AmazonS3, AmazonS3Builder},
    path::Path,
};
use stride_kit::config::Secret;

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
    store: AmazonS3,
}

impl S3 {
    pub fn new(cfg: &S3Config) -> Result<Self> {
        let store = AmazonS3Builder::new()
            .with_endpoint(&cfg.endpoint)
            .with_bucket_name(&cfg.bucket)
            .with_region(&cfg.region)
            .with_access_key_id(&cfg.access_key_id)
            .with_secret_access_key(cfg.secret_access_key.expose())
            // Path-style: works with every S3-speaking server, and with plain HTTP inside a
            // cluster (MinIO); AWS accepts both.
            .with_virtual_hosted_style_request(false)
            .with_allow_http(cfg.endpoint.starts_with("http://"))
            .build()?;
        Ok(Self { store })
    }
}

fn is_not_found(e: &object_store::Error) -> bool {
    matches!(e, object_store::Error::NotFound { .. })
}

impl ObjectStore for S3 {
    fn put(
        &self,
        key: &str,
        bytes: Vec<u8>,
        content_type: &'static str,
    ) -> BoxFuture<'_, Result<()>> {
        let path = Path::from(key);
        Box::pin(async move {
            let opts = PutOptions {
                attributes: Attributes::from_iter([(Attribute::ContentType, content_type)]),
                ..PutOptions::default()
            };
            self.store
                .put_opts(&path, PutPayload::from(bytes), opts)
                .await?;
            Ok(())
        })
    }

    fn get(&self, key: &str) -> BoxFuture<'_, Result<Option<Vec<u8>>>> {
        let path = Path::from(key);
        Box::pin(async move {
            match self.store.get(&path).await {
                Ok(r) => Ok(Some(r.bytes().await?.to_vec())),
                Err(e) if is_not_found(&e) => Ok(None),
                Err(e) => Err(e.into()),
            }
        })
    }

    fn delete(&self, key: &str) -> BoxFuture<'_, Result<()>> {
        let path = Path::from(key);
        Box::pin(async move {
            match self.store.delete(&path).await {
                Ok(()) => Ok(()),
                // S3 answers 204 for a missing key; some stand-ins say 404.
                Err(e) if is_not_found(&e) => Ok(()),
                Err(e) => Err(e.into()),
            }
        })
    }
}
