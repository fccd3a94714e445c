//! Where a cache's files live: a local directory, an HTTP(S) server, or an
//! S3-compatible bucket. A backend moves whole files by key and knows nothing of what
//! they mean; the format (`nix-cache-info`, `.narinfo`, NARs) is the caller's.
//!
//! Keys are relative, `/`-separated and never contain `..`: `nix-cache-info`,
//! `<hash>.narinfo`, `nar/<sha256>.nar.zst`.

use std::path::{Path, PathBuf};

use crate::CacheError;

/// A cache's storage.
pub trait Backend: Send + Sync {
    /// The cache's URL as the user gave it, for messages.
    fn url(&self) -> &str;

    /// Whether this is a directory on this machine (`file://`): the user's own cache,
    /// whose objects are trusted without a signature.
    fn is_local(&self) -> bool;

    /// The file's bytes, or `None` if the cache does not have it. For small files
    /// (`nix-cache-info`, `.narinfo`).
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, CacheError>;

    /// Streams the file into `dest` (created or truncated), a scratch copy that is not
    /// synced. `false` if the cache does not have it (then `dest` may exist but is to be
    /// ignored). For NARs.
    fn get_file(&self, key: &str, dest: &Path) -> Result<bool, CacheError>;

    /// The file itself, when it lies on this machine (a directory cache), so a reader
    /// can read it in place instead of copying it with [`Backend::get_file`]. `None`
    /// for remote caches; the file may still be missing.
    fn local_file(&self, key: &str) -> Result<Option<PathBuf>, CacheError> {
        let _ = key;
        Ok(None)
    }

    /// Whether the cache has the file (HEAD, `stat`), without reading it.
    fn exists(&self, key: &str) -> Result<bool, CacheError>;

    /// Writes the file, replacing it if it is there. Readers never see part of it.
    fn put(&self, key: &str, bytes: &[u8]) -> Result<(), CacheError>;

    /// Writes the file from `source` on disk, replacing it. For NARs.
    fn put_file(&self, key: &str, source: &Path) -> Result<(), CacheError>;
}

mod file;
mod http;
mod s3;

pub use file::FileBackend;
pub use http::HttpBackend;
pub use s3::{S3Backend, S3Credentials};

use std::time::Duration;

/// How a remote backend connects: credentials, retries and timeouts. A directory
/// ignores all of it.
#[derive(Clone)]
pub struct BackendOptions {
    /// User name and password for HTTP basic authentication (`http://`, `https://`).
    pub http_creds: Option<(String, String)>,
    /// A bearer token for HTTP caches (`Authorization: Bearer …`); used when
    /// `http_creds` is not set.
    pub http_token: Option<String>,
    /// S3 credentials; when `None`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and
    /// `AWS_SESSION_TOKEN`, else `object_store`'s usual chain (web identity, container
    /// and instance credentials).
    pub s3_credentials: Option<S3Credentials>,
    /// Attempts after the first one for a transport error, a timeout, `408`, `429` or
    /// `5xx`.
    pub retries: u32,
    /// The wait before the first retry; doubled for each further one.
    pub backoff: Duration,
    pub connect_timeout: Duration,
    /// The longest silence while waiting for or reading a response. There is no limit
    /// on a whole transfer: a NAR may be large and the link slow.
    pub read_timeout: Duration,
}

impl Default for BackendOptions {
    fn default() -> Self {
        Self {
            http_creds: None,
            http_token: None,
            s3_credentials: None,
            retries: 4,
            backoff: Duration::from_millis(250),
            connect_timeout: Duration::from_secs(15),
            read_timeout: Duration::from_mins(1),
        }
    }
}

impl std::fmt::Debug for BackendOptions {
    /// Says which credentials are set, never what they are.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackendOptions")
            .field(
                "http_creds",
                &self.http_creds.as_ref().map(|(user, _)| user),
            )
            .field("http_token", &self.http_token.as_ref().map(|_| "…"))
            .field("s3_credentials", &self.s3_credentials)
            .field("retries", &self.retries)
            .field("backoff", &self.backoff)
            .field("connect_timeout", &self.connect_timeout)
            .field("read_timeout", &self.read_timeout)
            .finish()
    }
}

/// Opens the cache at `url`:
///
/// - `file:///abs/dir`, or a plain path (absolute or relative): a directory
///   ([`FileBackend`]); it need not exist until something is written;
/// - `http://host/path`, `https://host/path`: a server that answers `GET`/`HEAD` and
///   accepts `PUT` ([`HttpBackend`]);
/// - `s3://bucket/prefix?endpoint=http://127.0.0.1:9000&region=us-east-1`: an S3 or
///   S3-compatible bucket ([`S3Backend`]); both parameters are optional, the region
///   otherwise comes from `AWS_REGION` or `AWS_DEFAULT_REGION`.
pub fn open(url: &str, options: &BackendOptions) -> Result<Box<dyn Backend>, CacheError> {
    let bad = |why: String| CacheError::BadUrl {
        url: url.to_owned(),
        why,
    };
    if url.trim().is_empty() {
        return Err(bad("it is empty".to_owned()));
    }
    let Some((scheme, _)) = url.split_once("://") else {
        return Ok(Box::new(FileBackend::new(url, Path::new(url))));
    };
    match scheme.to_ascii_lowercase().as_str() {
        "file" => {
            let parsed = url::Url::parse(url).map_err(|e| bad(e.to_string()))?;
            if !matches!(parsed.host_str(), None | Some("" | "localhost")) {
                return Err(bad(
                    "a file URL names a directory on this machine: `file:///abs/dir`, not a host"
                        .to_owned(),
                ));
            }
            if parsed.query().is_some() || parsed.fragment().is_some() {
                return Err(bad("a file URL takes no `?query` or `#fragment`".to_owned()));
            }
            let dir = parsed
                .to_file_path()
                .map_err(|()| bad("the path is not an absolute path".to_owned()))?;
            Ok(Box::new(FileBackend::new(url, &dir)))
        }
        "http" | "https" => Ok(Box::new(HttpBackend::open(url, options)?)),
        "s3" => Ok(Box::new(S3Backend::open(url, options)?)),
        other => Err(bad(format!(
            "cairn knows `file://`, `http://`, `https://` and `s3://` caches, not `{other}://`"
        ))),
    }
}

/// Checks that `key` is a relative path of plain names (`[A-Za-z0-9._+=-]`, not `.`
/// or `..`) joined by single `/`: it cannot leave the cache and needs no escaping in a
/// URL or an object name.
pub(crate) fn check_key(key: &str) -> Result<(), CacheError> {
    let bad = |why: &'static str| CacheError::BadKey {
        key: key.to_owned(),
        why,
    };
    if key.is_empty() {
        return Err(bad("it is empty"));
    }
    if key.starts_with('/') {
        return Err(bad("it is an absolute path"));
    }
    for part in key.split('/') {
        match part {
            "" => return Err(bad("it has an empty path component")),
            "." | ".." => return Err(bad("it has a `.` or `..` component")),
            _ if !part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._+=-".contains(&b)) =>
            {
                return Err(bad(
                    "only letters, digits, `.`, `_`, `+`, `=`, `-` and `/` may be used",
                ));
            }
            _ => {}
        }
    }
    Ok(())
}
