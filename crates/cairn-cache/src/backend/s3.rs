//! A cache in an S3 bucket or an S3-compatible server (MinIO, Ceph, Garage…), through
//! `object_store`: `s3://bucket/prefix?endpoint=http://127.0.0.1:9000&region=us-east-1`.
//!
//! A put is atomic on S3 (an object appears whole or not at all). Files larger than a
//! part are uploaded in parts ([`PART_SIZE`], a few in flight), so a large NAR is never
//! held in memory, and downloads stream to disk. `object_store` retries transport
//! errors, `429` and `5xx` with backoff.

use std::io::{Read as _, Write as _};
use std::path::Path;

use futures_util::StreamExt as _;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjectPath;
use object_store::{
    BackoffConfig, ClientOptions, ObjectStoreExt as _, PutPayload, RetryConfig, WriteMultipart,
};

use cairn_fetch::http::error_chain;

use super::{Backend, BackendOptions, check_key};
use crate::CacheError;

/// The size of each part of a multipart upload; a file up to this size is one `PUT`.
/// S3 wants parts of at least 5 MiB (but the last).
const PART_SIZE: usize = 8 << 20;
/// Parts uploaded at once: memory stays under `(PARTS_IN_FLIGHT + 1) * PART_SIZE`.
const PARTS_IN_FLIGHT: usize = 4;

/// Credentials for S3, for when the environment's are not the ones to use.
#[derive(Clone)]
pub struct S3Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl std::fmt::Debug for S3Credentials {
    /// Names the key, never the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Credentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// A cache in an S3 bucket, under a prefix.
pub struct S3Backend {
    url: String,
    store: AmazonS3,
    bucket: String,
    /// Object names of keys start with this (`""`, or ending in `/`).
    prefix: String,
    runtime: tokio::runtime::Runtime,
}

impl std::fmt::Debug for S3Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Backend")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// The parts of an `s3://` URL.
#[derive(Debug, PartialEq, Eq)]
struct S3Url {
    bucket: String,
    prefix: String,
    endpoint: Option<String>,
    region: Option<String>,
}

fn parse_url(url: &str) -> Result<S3Url, String> {
    let parsed = url::Url::parse(url).map_err(|e| e.to_string())?;
    if parsed.scheme() != "s3" {
        return Err("an S3 cache URL starts with `s3://`".to_owned());
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(
            "credentials do not go in the URL; cairn reads `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`"
                .to_owned(),
        );
    }
    if parsed.port().is_some() {
        return Err(
            "an S3 URL names a bucket, not a server: give the server as `?endpoint=http://host:port`"
                .to_owned(),
        );
    }
    if parsed.fragment().is_some() {
        return Err("an S3 cache URL takes no `#fragment`".to_owned());
    }
    let bucket = parsed.host_str().unwrap_or_default().to_owned();
    if bucket.is_empty() {
        return Err("it names no bucket: `s3://<bucket>/<prefix>`".to_owned());
    }
    if !bucket
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        return Err(format!(
            "`{bucket}` is not a bucket name: lowercase letters, digits, `.` and `-` only"
        ));
    }
    let prefix = parsed.path().trim_matches('/').to_owned();
    if !prefix.is_empty() {
        check_key(&prefix).map_err(|e| format!("the prefix {e}"))?;
    }
    let (mut endpoint, mut region) = (None, None);
    for (name, value) in parsed.query_pairs() {
        let slot = match &*name {
            "endpoint" => &mut endpoint,
            "region" => &mut region,
            other => {
                return Err(format!(
                    "unknown parameter `{other}`: an S3 cache URL takes `endpoint` and `region`"
                ));
            }
        };
        if slot.is_some() {
            return Err(format!("`{name}` is given twice"));
        }
        if value.is_empty() {
            return Err(format!("`{name}` is empty"));
        }
        *slot = Some(value.into_owned());
    }
    if let Some(endpoint) = &endpoint {
        let parsed = url::Url::parse(endpoint)
            .map_err(|e| format!("the endpoint `{endpoint}` is not a URL: {e}"))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(format!(
                "the endpoint `{endpoint}` is not an `http://` or `https://` URL of a server"
            ));
        }
    }
    Ok(S3Url {
        bucket,
        prefix,
        endpoint,
        region,
    })
}

/// A variable from the environment, if it is set and not empty.
fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl S3Backend {
    /// The cache at `url` (`s3://bucket/prefix?endpoint=…&region=…`).
    pub fn open(url: &str, options: &BackendOptions) -> Result<Self, CacheError> {
        let bad = |why: String| CacheError::BadUrl {
            url: url.to_owned(),
            why,
        };
        let parts = parse_url(url).map_err(bad)?;
        let region = parts
            .region
            .or_else(|| env("AWS_REGION"))
            .or_else(|| env("AWS_DEFAULT_REGION"))
            .unwrap_or_else(|| "us-east-1".to_owned());
        let client = ClientOptions::new()
            .with_user_agent(reqwest::header::HeaderValue::from_static(concat!(
                "cairn/",
                env!("CARGO_PKG_VERSION")
            )))
            .with_connect_timeout(options.connect_timeout)
            // A NAR may be large and the link slow: no limit on a whole request, only on
            // silence.
            .with_timeout_disabled()
            .with_read_timeout(options.read_timeout);
        let retry = RetryConfig {
            backoff: BackoffConfig {
                init_backoff: options.backoff,
                ..BackoffConfig::default()
            },
            max_retries: options.retries as usize,
            ..RetryConfig::default()
        };
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&parts.bucket)
            .with_region(region)
            .with_client_options(client)
            .with_retry(retry);
        if let Some(endpoint) = &parts.endpoint {
            builder = builder
                .with_allow_http(endpoint.starts_with("http://"))
                .with_endpoint(endpoint);
        }
        let credentials = options.s3_credentials.clone().or_else(|| {
            Some(S3Credentials {
                access_key_id: env("AWS_ACCESS_KEY_ID")?,
                secret_access_key: env("AWS_SECRET_ACCESS_KEY")?,
                session_token: env("AWS_SESSION_TOKEN"),
            })
        });
        // Without them, object_store looks for web identity, container and instance
        // credentials.
        if let Some(credentials) = credentials {
            builder = builder
                .with_access_key_id(credentials.access_key_id)
                .with_secret_access_key(credentials.secret_access_key);
            if let Some(token) = credentials.session_token {
                builder = builder.with_token(token);
            }
        }
        let setup = |message: String| CacheError::Backend {
            url: url.to_owned(),
            action: "set up a client for",
            key: String::new(),
            message,
        };
        // object_store builds its own reqwest client; it needs the process's rustls
        // provider, which `cairn_fetch::http::client` installs.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let store = builder.build().map_err(|e| setup(error_chain(&e)))?;
        let runtime = cairn_fetch::http::runtime("cairn-cache-s3").map_err(setup)?;
        let prefix = if parts.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", parts.prefix)
        };
        Ok(Self {
            url: url.to_owned(),
            store,
            bucket: parts.bucket,
            prefix,
            runtime,
        })
    }

    fn location(&self, key: &str) -> Result<ObjectPath, CacheError> {
        check_key(key)?;
        ObjectPath::parse(format!("{}{key}", self.prefix)).map_err(|_| CacheError::BadKey {
            key: key.to_owned(),
            why: "it is not an object name S3 accepts",
        })
    }

    fn error(&self, action: &'static str, key: &str, message: String) -> CacheError {
        CacheError::Backend {
            url: self.url.clone(),
            action,
            key: key.to_owned(),
            message,
        }
    }

    fn store_error(&self, action: &'static str, key: &str, e: &object_store::Error) -> CacheError {
        // S3 puts its XML error document in the message; one line reads better.
        self.error(action, key, error_chain(e).replace('\n', " "))
    }

    /// A missing bucket answers `404` like a missing object; a `GET`'s body tells them
    /// apart (a `HEAD` has none), so a mistyped bucket is not an empty cache.
    fn check_bucket(
        &self,
        action: &'static str,
        key: &str,
        e: &object_store::Error,
    ) -> Result<(), CacheError> {
        if error_chain(e).contains("<Code>NoSuchBucket</Code>") {
            return Err(self.error(
                action,
                key,
                format!("the bucket `{}` does not exist", self.bucket),
            ));
        }
        Ok(())
    }

    /// Uploads `file` in parts of [`PART_SIZE`], a few at a time.
    async fn put_parts(
        &self,
        key: &str,
        location: &ObjectPath,
        mut file: fs_err::File,
    ) -> Result<(), CacheError> {
        let upload = self
            .store
            .put_multipart(location)
            .await
            .map_err(|e| self.store_error("write", key, &e))?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        loop {
            if let Err(e) = writer.wait_for_capacity(PARTS_IN_FLIGHT).await {
                let _ = writer.abort().await;
                return Err(self.store_error("write", key, &e));
            }
            let mut part = Vec::with_capacity(PART_SIZE);
            let read = (&mut file)
                .take(PART_SIZE as u64)
                .read_to_end(&mut part)
                .map_err(|e| self.error("write", key, e.to_string()));
            match read {
                Ok(0) => break,
                Ok(_) => writer.put(bytes::Bytes::from(part)),
                Err(e) => {
                    let _ = writer.abort().await;
                    return Err(e);
                }
            }
        }
        // `finish` aborts the upload itself if a part or the completion fails.
        writer
            .finish()
            .await
            .map_err(|e| self.store_error("write", key, &e))?;
        Ok(())
    }
}

impl Backend for S3Backend {
    fn url(&self) -> &str {
        &self.url
    }

    fn is_local(&self) -> bool {
        false
    }

    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, CacheError> {
        let location = self.location(key)?;
        self.runtime.block_on(async {
            let result = match self.store.get(&location).await {
                Ok(result) => result,
                Err(e @ object_store::Error::NotFound { .. }) => {
                    self.check_bucket("read", key, &e)?;
                    return Ok(None);
                }
                Err(e) => return Err(self.store_error("read", key, &e)),
            };
            let bytes = result
                .bytes()
                .await
                .map_err(|e| self.store_error("read", key, &e))?;
            Ok(Some(bytes.to_vec()))
        })
    }

    fn get_file(&self, key: &str, dest: &Path) -> Result<bool, CacheError> {
        let location = self.location(key)?;
        let local = |source| CacheError::Io {
            path: dest.to_path_buf(),
            source,
        };
        self.runtime.block_on(async {
            let result = match self.store.get(&location).await {
                Ok(result) => result,
                Err(e @ object_store::Error::NotFound { .. }) => {
                    self.check_bucket("read", key, &e)?;
                    return Ok(false);
                }
                Err(e) => return Err(self.store_error("read", key, &e)),
            };
            let mut out = std::io::BufWriter::new(fs_err::File::create(dest).map_err(local)?);
            let mut stream = result.into_stream();
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| self.store_error("read", key, &e))?;
                out.write_all(&chunk).map_err(local)?;
            }
            // A scratch copy for the caller to check and unpack: not synced.
            out.flush().map_err(local)?;
            Ok(true)
        })
    }

    fn exists(&self, key: &str) -> Result<bool, CacheError> {
        let location = self.location(key)?;
        self.runtime
            .block_on(async { self.store.head(&location).await })
            .map_or_else(
                |e| match e {
                    object_store::Error::NotFound { .. } => Ok(false),
                    e => Err(self.store_error("check", key, &e)),
                },
                |_| Ok(true),
            )
    }

    fn put(&self, key: &str, bytes: &[u8]) -> Result<(), CacheError> {
        let location = self.location(key)?;
        let payload = PutPayload::from(bytes::Bytes::copy_from_slice(bytes));
        self.runtime
            .block_on(async { self.store.put(&location, payload).await })
            .map_err(|e| self.store_error("write", key, &e))?;
        Ok(())
    }

    fn put_file(&self, key: &str, source: &Path) -> Result<(), CacheError> {
        let location = self.location(key)?;
        let local = |e| CacheError::Io {
            path: source.to_path_buf(),
            source: e,
        };
        let mut file = fs_err::File::open(source).map_err(local)?;
        let size = file.metadata().map_err(local)?.len();
        if size <= PART_SIZE as u64 {
            let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(PART_SIZE));
            file.read_to_end(&mut bytes).map_err(local)?;
            return self.put(key, &bytes);
        }
        self.runtime.block_on(self.put_parts(key, &location, file))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() {
        assert_eq!(
            parse_url("s3://cache/a/b/?endpoint=http://127.0.0.1:9000&region=eu-west-1").unwrap(),
            S3Url {
                bucket: "cache".to_owned(),
                prefix: "a/b".to_owned(),
                endpoint: Some("http://127.0.0.1:9000".to_owned()),
                region: Some("eu-west-1".to_owned()),
            }
        );
        assert_eq!(
            parse_url("s3://cache").unwrap(),
            S3Url {
                bucket: "cache".to_owned(),
                prefix: String::new(),
                endpoint: None,
                region: None,
            }
        );
    }

    #[test]
    fn refuses_bad_urls() {
        for (url, why) in [
            ("s3:///prefix", "names no bucket"),
            ("s3://Cache/x", "not a bucket name"),
            ("s3://cache:9000/x", "not a server"),
            ("s3://key:secret@cache/x", "credentials"),
            ("s3://cache/x?profile=dev", "unknown parameter `profile`"),
            ("s3://cache/x?region=a&region=b", "twice"),
            ("s3://cache/x?endpoint=", "`endpoint` is empty"),
            ("s3://cache/x?endpoint=ftp://host", "not an `http://`"),
            ("s3://cache/a%20b", "the prefix"),
            ("s3://cache/x#y", "fragment"),
        ] {
            let error = parse_url(url).unwrap_err();
            assert!(error.contains(why), "{url}: {error}");
        }
    }
}
