//! Where avatar files live: an object store behind one small interface. Local disk by default
//! (`PROFILE_AVATAR_DIR`); any S3-compatible service in production ([`super::s3`]).
//!
//! Keys are checked by the caller ([`super::is_valid_key`]): flat names, no separators, so a
//! key can never leave the store's directory or bucket prefix.

use std::{path::PathBuf, sync::Arc};

use futures::future::BoxFuture;

pub type Result<T> = std::result::Result<T, anyhow::Error>;

pub trait ObjectStore: Send + Sync + 'static {
    /// Stores `bytes` under `key` (replacing any object there).
    fn put(
        &self,
        key: &str,
        bytes: Vec<u8>,
        content_type: &'static str,
    ) -> BoxFuture<'_, Result<()>>;
    /// The object's bytes; `None` when there is none.
    fn get(&self, key: &str) -> BoxFuture<'_, Result<Option<Vec<u8>>>>;
    /// Deletes the object; deleting a missing one succeeds (purges are replayed).
    fn delete(&self, key: &str) -> BoxFuture<'_, Result<()>>;
}

pub type SharedStore = Arc<dyn ObjectStore>;

/// Files in one directory, written through a temporary file and a rename so a reader never sees
/// half an image.
pub struct LocalDisk {
    dir: PathBuf,
}

impl LocalDisk {
    pub async fn open(dir: PathBuf) -> Result<Self> {
        tokio::fs::create_dir_all(&dir).await.map_err(|e| {
            anyhow::anyhow!("cannot create the avatar directory {}: {e}", dir.display())
        })?;
        Ok(Self { dir })
    }
}

impl ObjectStore for LocalDisk {
    fn put(&self, key: &str, bytes: Vec<u8>, _: &'static str) -> BoxFuture<'_, Result<()>> {
        let path = self.dir.join(key);
        let tmp = self
            .dir
            .join(format!(".{key}.{}.tmp", uuid::Uuid::now_v7().simple()));
        Box::pin(async move {
            tokio::fs::write(&tmp, &bytes).await?;
            tokio::fs::rename(&tmp, &path).await?;
            Ok(())
        })
    }

    fn get(&self, key: &str) -> BoxFuture<'_, Result<Option<Vec<u8>>>> {
        let path = self.dir.join(key);
        Box::pin(async move {
            match tokio::fs::read(&path).await {
                Ok(b) => Ok(Some(b)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e.into()),
            }
        })
    }

    fn delete(&self, key: &str) -> BoxFuture<'_, Result<()>> {
        let path = self.dir.join(key);
        Box::pin(async move {
            match tokio::fs::remove_file(&path).await {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(e.into()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn local_disk_round_trip_and_idempotent_delete() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDisk::open(dir.path().join("avatars")).await.unwrap();
        store
            .put("k.jpg", b"abc".to_vec(), "image/jpeg")
            .await
            .unwrap();
        assert_eq!(
            store.get("k.jpg").await.unwrap().as_deref(),
            Some(&b"abc"[..])
        );
        store.delete("k.jpg").await.unwrap();
        store.delete("k.jpg").await.unwrap();
        assert_eq!(store.get("k.jpg").await.unwrap(), None);
        // No temporary file is left behind.
        assert_eq!(
            std::fs::read_dir(dir.path().join("avatars"))
                .unwrap()
                .count(),
            0
        );
    }
}
