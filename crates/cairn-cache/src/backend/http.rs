//! A cache on an HTTP(S) server: `GET` reads (`404` and `410` mean the cache does not
//! have the file), `HEAD` checks, `PUT` writes (a WebDAV server such as nginx with
//! `dav_methods PUT`, or anything that accepts uploads the same way).
//!
//! The API is blocking over a small tokio runtime and one `reqwest` client, built as
//! `cairn_fetch::http` builds them all. Transport errors, timeouts, `408`, `429`
//! and `5xx` are retried with exponential backoff; other statuses are answers.

use std::future::Future;
use std::io::Write as _;
use std::path::Path;

use reqwest::StatusCode;
use tokio::io::AsyncReadExt as _;

use cairn_fetch::http::{Retry, error_chain, retryable_status};

use super::{Backend, BackendOptions, check_key};
use crate::CacheError;

/// The chunk a file is read in while it is uploaded.
const UPLOAD_CHUNK: usize = 256 * 1024;

/// A cache served over HTTP(S).
pub struct HttpBackend {
    url: String,
    /// The cache's URL, ending in `/`: a key is appended to it.
    base: String,
    auth: Auth,
    client: reqwest::Client,
    runtime: tokio::runtime::Runtime,
    retry: Retry,
}

impl std::fmt::Debug for HttpBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpBackend")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

enum Auth {
    None,
    Basic(String, String),
    Bearer(String),
}

/// What a failed attempt was, and whether another may succeed.
struct Failure {
    message: String,
    retryable: bool,
}

impl Failure {
    fn transport(error: &reqwest::Error) -> Self {
        Self {
            message: error_chain(error),
            retryable: true,
        }
    }

    fn status(status: StatusCode) -> Self {
        let retryable = retryable_status(status.as_u16());
        let mut message = format!("the server answered HTTP {status}");
        if matches!(status.as_u16(), 401 | 403) {
            message.push_str(" (are the cache's credentials right?)");
        } else if status == StatusCode::METHOD_NOT_ALLOWED {
            message.push_str(" (does the server accept this method, e.g. PUT for uploads?)");
        }
        Self { message, retryable }
    }

    fn fatal(message: String) -> Self {
        Self {
            message,
            retryable: false,
        }
    }
}

impl HttpBackend {
    /// The cache at `url` (`http://` or `https://`).
    pub fn open(url: &str, options: &BackendOptions) -> Result<Self, CacheError> {
        let bad = |why: &str| CacheError::BadUrl {
            url: url.to_owned(),
            why: why.to_owned(),
        };
        let parsed = url::Url::parse(url).map_err(|e| bad(&e.to_string()))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(bad("an HTTP cache URL starts with `http://` or `https://`"));
        }
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err(bad("it names no host"));
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(bad(
                "credentials in the URL would show in every message; pass them as options instead",
            ));
        }
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(bad("an HTTP cache URL takes no `?query` or `#fragment`"));
        }
        let mut base = parsed.to_string();
        if !base.ends_with('/') {
            base.push('/');
        }
        let auth = match (&options.http_creds, &options.http_token) {
            (Some((user, password)), _) => Auth::Basic(user.clone(), password.clone()),
            (None, Some(token)) => Auth::Bearer(token.clone()),
            (None, None) => Auth::None,
        };
        let client_error = |message: String| CacheError::Backend {
            url: url.to_owned(),
            action: "set up a client for",
            key: String::new(),
            message,
        };
        let client = cairn_fetch::http::client(options.connect_timeout, options.read_timeout)
            .map_err(client_error)?;
        let runtime = cairn_fetch::http::runtime("cairn-cache-http").map_err(client_error)?;
        Ok(Self {
            url: url.to_owned(),
            base,
            auth,
            client,
            runtime,
            retry: Retry {
                retries: options.retries,
                backoff: options.backoff,
            },
        })
    }

    fn request(&self, method: reqwest::Method, key: &str) -> reqwest::RequestBuilder {
        let request = self.client.request(method, format!("{}{key}", self.base));
        match &self.auth {
            Auth::None => request,
            Auth::Basic(user, password) => request.basic_auth(user, Some(password)),
            Auth::Bearer(token) => request.bearer_auth(token),
        }
    }

    /// Sends `method` for `key`: the response when the file is there, `None` when the
    /// cache does not have it, a failure for any other answer.
    async fn found(
        &self,
        method: reqwest::Method,
        key: &str,
    ) -> Result<Option<reqwest::Response>, Failure> {
        let response = self
            .request(method, key)
            .send()
            .await
            .map_err(|e| Failure::transport(&e))?;
        let status = response.status();
        if is_missing(status) {
            Ok(None)
        } else if status.is_success() {
            Ok(Some(response))
        } else {
            Err(Failure::status(status))
        }
    }

    /// Runs `attempt` until it succeeds, fails for good, or the retries are spent.
    fn with_retries<T, F, Fut>(
        &self,
        action: &'static str,
        key: &str,
        mut attempt: F,
    ) -> Result<T, CacheError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        self.runtime.block_on(async {
            let (result, attempts) = self
                .retry
                .run(&mut attempt, |result, wait| match result {
                    Err(failure) if failure.retryable => {
                        tracing::debug!(
                            cache = self.url,
                            key,
                            error = failure.message,
                            "retrying in {wait:?}"
                        );
                        true
                    }
                    _ => false,
                })
                .await;
            result.map_err(|failure| CacheError::Backend {
                url: self.url.clone(),
                action,
                key: key.to_owned(),
                message: if attempts > 1 {
                    format!("{} (after {attempts} attempts)", failure.message)
                } else {
                    failure.message
                },
            })
        })
    }
}

/// Whether the server says it does not have the file.
fn is_missing(status: StatusCode) -> bool {
    status == StatusCode::NOT_FOUND || status == StatusCode::GONE
}

impl Backend for HttpBackend {
    fn url(&self) -> &str {
        &self.url
    }

    fn is_local(&self) -> bool {
        false
    }

    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, CacheError> {
        check_key(key)?;
        self.with_retries("read", key, || async {
            let Some(response) = self.found(reqwest::Method::GET, key).await? else {
                return Ok(None);
            };
            let bytes = response.bytes().await.map_err(|e| Failure::transport(&e))?;
            Ok(Some(bytes.to_vec()))
        })
    }

    fn get_file(&self, key: &str, dest: &Path) -> Result<bool, CacheError> {
        check_key(key)?;
        self.with_retries("read", key, || async {
            let Some(mut response) = self.found(reqwest::Method::GET, key).await? else {
                return Ok(false);
            };
            let local = |e: std::io::Error| Failure::fatal(e.to_string());
            let mut out = std::io::BufWriter::new(fs_err::File::create(dest).map_err(local)?);
            while let Some(chunk) = response.chunk().await.map_err(|e| Failure::transport(&e))? {
                out.write_all(&chunk).map_err(local)?;
            }
            // A scratch copy for the caller to check and unpack: not synced.
            out.flush().map_err(local)?;
            Ok(true)
        })
    }

    fn exists(&self, key: &str) -> Result<bool, CacheError> {
        check_key(key)?;
        self.with_retries("check", key, || async {
            Ok(self.found(reqwest::Method::HEAD, key).await?.is_some())
        })
    }

    fn put(&self, key: &str, bytes: &[u8]) -> Result<(), CacheError> {
        check_key(key)?;
        let body = bytes::Bytes::copy_from_slice(bytes);
        self.with_retries("write", key, || async {
            let response = self
                .request(reqwest::Method::PUT, key)
                // Even when it is 0: without it nginx refuses an empty body.
                .header(reqwest::header::CONTENT_LENGTH, body.len())
                .body(body.clone())
                .send()
                .await
                .map_err(|e| Failure::transport(&e))?;
            let status = response.status();
            if status.is_success() {
                Ok(())
            } else {
                Err(Failure::status(status))
            }
        })
    }

    fn put_file(&self, key: &str, source: &Path) -> Result<(), CacheError> {
        check_key(key)?;
        self.with_retries("write", key, || async {
            let local = |e: std::io::Error| Failure::fatal(e.to_string());
            let file = fs_err::tokio::File::open(source).await.map_err(local)?;
            let size = file.metadata().await.map_err(local)?.len();
            // Each attempt reads the file again from the start, a chunk at a time.
            let chunks = futures_util::stream::try_unfold(file, |mut file| async move {
                let mut chunk = vec![0; UPLOAD_CHUNK];
                let n = file.read(&mut chunk).await?;
                if n == 0 {
                    return Ok(None);
                }
                chunk.truncate(n);
                Ok::<_, std::io::Error>(Some((bytes::Bytes::from(chunk), file)))
            });
            let response = self
                .request(reqwest::Method::PUT, key)
                // A length, so the upload is not chunked: some servers refuse that.
                .header(reqwest::header::CONTENT_LENGTH, size)
                .body(reqwest::Body::wrap_stream(chunks))
                .send()
                .await
                .map_err(|e| Failure::transport(&e))?;
            let status = response.status();
            if status.is_success() {
                Ok(())
            } else {
                Err(Failure::status(status))
            }
        })
    }
}
