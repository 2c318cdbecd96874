//! The table store: an object store (S3-compatible, or a shared file
//! system) that holds the checkpoints and the cold Parquet files, so that
//! any processor can take over any partition and a query node needs no
//! disk of its own.
//!
//! `store.url` names it: `s3://bucket/prefix` (options and `AWS_*`
//! variables give endpoint, region and credentials), `file:///path` (a
//! shared mount), or `memory://` (tests). Empty, the default, keeps both in
//! `data_dir` on the local disk, where [`crate::checkpoint::FsCheckpointStore`]
//! fsyncs what it writes (object_store's `LocalFileSystem` renames into
//! place but does not fsync) and cold files are written in place.
//!
//! The processor's fold runs on a plain thread and calls this store
//! synchronously; each call runs on the store's own small tokio runtime and
//! waits for its answer, so no caller needs to be async.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path as Key;
use object_store::{
    ClientOptions, ObjectStore, ObjectStoreExt, ObjectStoreScheme, PutPayload, RetryConfig,
    WriteMultipart,
};
use url::Url;

/// Files up to this size are uploaded in one request; bigger ones in parts.
const SINGLE_PUT_BYTES: u64 = 32 << 20;
/// The part size of a multipart upload.
const PART_BYTES: usize = 16 << 20;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// `store.url` or `store.options` cannot be used.
    #[error("store.url {url:?}: {reason}")]
    Config { url: String, reason: String },
    #[error("object store: {0}")]
    Remote(#[from] object_store::Error),
    #[error("{path}: {source}")]
    Local {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The store's runtime is gone (the process is stopping).
    #[error("the table store is shut down")]
    Stopped,
}

/// An object store and the prefix hoso's objects live under.
pub struct TableStore {
    store: Arc<dyn ObjectStore>,
    /// `scheme://authority` of the store: how a query engine finds it.
    base: String,
    /// Every key is under this path of the store.
    root: Key,
    /// Runs the store's futures for synchronous callers; `None` once dropped.
    runtime: Option<tokio::runtime::Runtime>,
}

impl fmt::Debug for TableStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TableStore({}{})", self.base, self.root)
    }
}

impl Drop for TableStore {
    /// A runtime cannot be dropped inside another one (the last reference
    /// may go on an async worker): shut it down without waiting.
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl TableStore {
    /// Opens the store `url` names, with `options` of its kind (S3:
    /// `aws_endpoint`, `aws_region`, `aws_allow_http`, ... as object_store
    /// spells them; `AWS_*` variables are read first). An unknown option is
    /// an error, not silently ignored.
    pub fn open(url: &str, options: &BTreeMap<String, String>) -> Result<Self, StoreError> {
        let config = |reason: String| StoreError::Config {
            url: url.to_string(),
            reason,
        };
        let parsed = Url::parse(url).map_err(|e| config(e.to_string()))?;
        let (scheme, path) =
            ObjectStoreScheme::parse(&parsed).map_err(|e| config(e.to_string()))?;
        let no_options = |kind: &str| {
            if options.is_empty() {
                Ok(())
            } else {
                Err(config(format!("{kind} takes no store.options")))
            }
        };
        let store: Arc<dyn ObjectStore> = match scheme {
            ObjectStoreScheme::Local => {
                no_options("file://")?;
                Arc::new(LocalFileSystem::new())
            }
            ObjectStoreScheme::Memory => {
                no_options("memory://")?;
                Arc::new(InMemory::new())
            }
            ObjectStoreScheme::AmazonS3 if parsed.scheme() != "s3" => {
                return Err(config(
                    "name the bucket as s3://bucket/prefix (an endpoint goes in \
                     store.options.aws_endpoint)"
                        .into(),
                ));
            }
            ObjectStoreScheme::AmazonS3 => {
                // Bounded waits: the fold thread and the rebalance callback
                // call the store, and Kafka expels a member that stalls for
                // minutes. (Options may still set `timeout` and the rest.)
                let mut builder = AmazonS3Builder::from_env()
                    .with_url(url)
                    .with_client_options(
                        ClientOptions::new()
                            .with_connect_timeout(Duration::from_secs(5))
                            .with_timeout(Duration::from_secs(60)),
                    )
                    .with_retry(RetryConfig {
                        max_retries: 5,
                        retry_timeout: Duration::from_secs(60),
                        ..RetryConfig::default()
                    });
                for (k, v) in options {
                    let key: AmazonS3ConfigKey = k
                        .to_ascii_lowercase()
                        .parse()
                        .map_err(|_| config(format!("store.options.{k} is not an S3 option")))?;
                    builder = builder.with_config(key, v);
                }
                Arc::new(builder.build().map_err(|e| config(e.to_string()))?)
            }
            other => {
                return Err(config(format!(
                    "{other:?} stores are not supported (s3://, file://, memory://)"
                )));
            }
        };
        let base = match (parsed.host_str(), parsed.port()) {
            (Some(host), Some(port)) => format!("{}://{host}:{port}", parsed.scheme()),
            (Some(host), None) => format!("{}://{host}", parsed.scheme()),
            (None, _) => format!("{}://", parsed.scheme()),
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("hoso-store")
            .enable_all()
            .build()
            .map_err(|e| StoreError::Local {
                path: PathBuf::from("<runtime>"),
                source: e,
            })?;
        Ok(TableStore {
            store,
            base,
            root: path,
            runtime: Some(runtime),
        })
    }

    /// The object store and the URL a query engine registers it under.
    pub fn object_store(&self) -> (Url, Arc<dyn ObjectStore>) {
        let url = Url::parse(&self.base).expect("the prefix of a parsed URL parses");
        (url, self.store.clone())
    }

    /// The key of `rel` (a `/`-separated path under the root).
    pub fn key(&self, rel: &str) -> Key {
        rel.split('/')
            .filter(|p| !p.is_empty())
            .fold(self.root.clone(), |k, part| k.join(part))
    }

    /// Where `rel` is, as a URL a query engine reads.
    pub fn url(&self, rel: &str) -> String {
        format!("{}/{}", self.base, self.key(rel))
    }

    /// Runs `f` on the store's runtime and waits for it (from any thread).
    fn run<T: Send + 'static>(
        &self,
        f: impl Future<Output = Result<T, StoreError>> + Send + 'static,
    ) -> Result<T, StoreError> {
        let rt = self.runtime.as_ref().ok_or(StoreError::Stopped)?;
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        rt.spawn(async move {
            let _ = tx.send(f.await);
        });
        rx.recv().map_err(|_| StoreError::Stopped)?
    }

    /// Writes `bytes` at `rel`: a reader sees the old object or this one.
    pub fn put(&self, rel: &str, bytes: Bytes) -> Result<(), StoreError> {
        let (store, key) = (self.store.clone(), self.key(rel));
        self.run(async move {
            store.put(&key, PutPayload::from(bytes)).await?;
            Ok(())
        })
    }

    /// The object at `rel`, `None` when there is none.
    pub fn get(&self, rel: &str) -> Result<Option<Bytes>, StoreError> {
        let (store, key) = (self.store.clone(), self.key(rel));
        self.run(async move {
            match store.get(&key).await {
                Ok(r) => Ok(Some(r.bytes().await?)),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(e.into()),
            }
        })
    }

    /// Deletes `rel`; one already gone is not an error.
    pub fn delete(&self, rel: &str) -> Result<(), StoreError> {
        let (store, key) = (self.store.clone(), self.key(rel));
        self.run(async move {
            match store.delete(&key).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(e.into()),
            }
        })
    }

    /// Every object under `rel`, as paths relative to the root, with sizes.
    pub fn list(&self, rel: &str) -> Result<Vec<(String, u64)>, StoreError> {
        let (store, prefix, root) = (self.store.clone(), self.key(rel), self.root.clone());
        self.run(async move {
            let mut out = Vec::new();
            let mut objects = store.list(Some(&prefix));
            while let Some(meta) = objects.next().await {
                let meta = meta?;
                let rel: Vec<String> = match meta.location.prefix_match(&root) {
                    Some(parts) => parts.map(|p| p.as_ref().to_string()).collect(),
                    None => continue,
                };
                out.push((rel.join("/"), meta.size));
            }
            out.sort();
            Ok(out)
        })
    }

    /// Uploads the local file `from` to `rel`, in parts when it is big.
    pub fn upload(&self, from: &Path, rel: &str) -> Result<(), StoreError> {
        let local = |source| StoreError::Local {
            path: from.to_path_buf(),
            source,
        };
        let mut file = std::fs::File::open(from).map_err(local)?;
        let size = file.metadata().map_err(local)?.len();
        if size <= SINGLE_PUT_BYTES {
            let mut bytes = Vec::with_capacity(size as usize);
            file.read_to_end(&mut bytes).map_err(local)?;
            return self.put(rel, Bytes::from(bytes));
        }
        let (store, key, path) = (self.store.clone(), self.key(rel), from.to_path_buf());
        self.run(async move {
            let mut upload =
                WriteMultipart::new_with_chunk_size(store.put_multipart(&key).await?, PART_BYTES);
            let mut buf = vec![0u8; PART_BYTES];
            loop {
                let n = file.read(&mut buf).map_err(|source| StoreError::Local {
                    path: path.clone(),
                    source,
                })?;
                if n == 0 {
                    break;
                }
                if let Err(e) = upload.wait_for_capacity(4).await {
                    // An unfinished upload is invisible but billed: abort it.
                    let _ = upload.abort().await;
                    return Err(e.into());
                }
                upload.write(&buf[..n]);
            }
            upload.finish().await?;
            Ok(())
        })
    }

    /// Downloads `rel` to the local file `to` (through a temporary file,
    /// so `to` is whole or absent).
    pub fn download(&self, rel: &str, to: &Path) -> Result<(), StoreError> {
        let (store, key, to) = (self.store.clone(), self.key(rel), to.to_path_buf());
        self.run(async move {
            let local = |source| StoreError::Local {
                path: to.clone(),
                source,
            };
            if let Some(dir) = to.parent() {
                std::fs::create_dir_all(dir).map_err(local)?;
            }
            let tmp = to.with_extension("download");
            let fetched = async {
                let mut file = std::fs::File::create(&tmp).map_err(local)?;
                let mut stream = store.get(&key).await?.into_stream();
                while let Some(chunk) = stream.next().await {
                    file.write_all(&chunk?).map_err(local)?;
                }
                file.sync_all().map_err(local)?;
                std::fs::rename(&tmp, &to).map_err(local)
            }
            .await;
            if fetched.is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
            fetched
        })
    }
}

/// Where a processor's checkpoints and cold files go in the table store.
#[derive(Clone, Debug, PartialEq)]
pub struct RemoteTables {
    /// `checkpoints/<topic>`.
    pub checkpoints: StoreDir,
    /// `cold/<topic>`: the files go there, a local directory keeps copies.
    pub cold: StoreDir,
}

/// A directory of the table store (`cold/<topic>`, say), shared by
/// whoever holds the same `Arc`.
#[derive(Clone, Debug)]
pub struct StoreDir {
    pub store: Arc<TableStore>,
    /// The directory, relative to the store's root, without slashes at
    /// either end.
    pub prefix: String,
}

impl PartialEq for StoreDir {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.store, &other.store) && self.prefix == other.prefix
    }
}

impl StoreDir {
    pub fn new(store: Arc<TableStore>, prefix: &str) -> Self {
        StoreDir {
            store,
            prefix: prefix.trim_matches('/').to_string(),
        }
    }

    /// `name`'s path relative to the store's root.
    pub fn rel(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_string()
        } else {
            format!("{}/{name}", self.prefix)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_round_trip_under_the_root() {
        let store = TableStore::open("memory:///tables/prod", &BTreeMap::new()).unwrap();
        store.put("a/b.bin", Bytes::from_static(b"one")).unwrap();
        store.put("a/c/d.bin", Bytes::from_static(b"two")).unwrap();
        assert_eq!(store.get("a/b.bin").unwrap().unwrap(), &b"one"[..]);
        assert_eq!(store.get("a/none").unwrap(), None);
        assert_eq!(
            store.list("a").unwrap(),
            vec![("a/b.bin".to_string(), 3), ("a/c/d.bin".to_string(), 3)]
        );
        store.delete("a/b.bin").unwrap();
        store.delete("a/b.bin").unwrap();
        assert_eq!(store.list("a").unwrap().len(), 1);
        assert_eq!(store.url("a/c/d.bin"), "memory:///tables/prod/a/c/d.bin");
    }

    #[test]
    fn files_go_up_and_come_down_whole() {
        let dir = std::env::temp_dir().join(format!("hoso-store-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("file://{}/remote", dir.display());
        let store = TableStore::open(&url, &BTreeMap::new()).unwrap();
        // Big enough for a multipart upload.
        let big: Vec<u8> = (0..SINGLE_PUT_BYTES as usize + 5)
            .map(|i| i as u8)
            .collect();
        std::fs::write(dir.join("big"), &big).unwrap();
        store.upload(&dir.join("big"), "x/big.parquet").unwrap();
        assert_eq!(
            std::fs::read(dir.join("remote/x/big.parquet")).unwrap(),
            big
        );
        store
            .download("x/big.parquet", &dir.join("cache/x/big.parquet"))
            .unwrap();
        assert_eq!(std::fs::read(dir.join("cache/x/big.parquet")).unwrap(), big);
        assert!(store.download("x/none", &dir.join("cache/none")).is_err());
        assert!(!dir.join("cache/none").exists());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn bad_urls_and_options_say_what_is_wrong() {
        let none = BTreeMap::new();
        let err = TableStore::open("not a url", &none).unwrap_err();
        assert!(err.to_string().contains("not a url"), "{err}");
        let err = TableStore::open("https://s3.ap-southeast-1.amazonaws.com/bucket/x", &none)
            .unwrap_err();
        assert!(err.to_string().contains("s3://bucket/prefix"), "{err}");
        let err = TableStore::open("gs://bucket/x", &none).unwrap_err();
        assert!(err.to_string().contains("not supported"), "{err}");
        let typo = BTreeMap::from([("aws_endpint".to_string(), "http://x".to_string())]);
        let err = TableStore::open("s3://bucket/x", &typo).unwrap_err();
        assert!(err.to_string().contains("aws_endpint"), "{err}");
        let err = TableStore::open("file:///tmp/x", &typo).unwrap_err();
        assert!(err.to_string().contains("no store.options"), "{err}");
    }

    #[test]
    fn dropping_inside_an_async_runtime_does_not_panic() {
        let store = TableStore::open("memory:///", &BTreeMap::new()).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async move { drop(store) });
    }
}
