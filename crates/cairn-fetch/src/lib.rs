//! Downloads for cairn over HTTP(S): bounded parallelism, retries with backoff, and size and
//! SHA-256 checks before anything downloaded is used.
//!
//! The API is blocking; a [`Fetcher`] owns a small tokio runtime and one `reqwest`
//! client (connection pooling, rustls with the `ring` provider). What is retried:
//! connection failures, timeouts, bodies cut short, `408`, `429` and `5xx`. What is not:
//! other statuses (a `404` is an answer) and a body whose size or hash is wrong (a
//! mirror that serves the wrong bytes is not going to serve the right ones a second
//! later, and the error names both hashes).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};

pub mod http;

use crate::http::{Retry, error_chain, retryable_status};

/// What a download must be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// When known (a simple index page may not say; the hash still decides).
    pub size: Option<u64>,
    /// Lowercase hex SHA-256.
    pub sha256: String,
}

/// The most bytes a download of unknown size may have (4 GiB).
pub const UNSIZED_LIMIT: u64 = 4 << 30;

/// How a [`Fetcher`] behaves.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// At most this many downloads at once.
    pub connections: usize,
    /// Attempts after the first one for a retryable failure.
    pub retries: u32,
    /// The wait before the first retry; doubled for each further one.
    pub backoff: Duration,
    pub connect_timeout: Duration,
    /// The longest silence while reading a response.
    pub read_timeout: Duration,
    /// Refuse every download (`--offline`): only what the store has may be used.
    pub offline: bool,
}

impl Default for FetchOptions {
    fn default() -> Self {
        Self {
            connections: 8,
            retries: 4,
            backoff: Duration::from_millis(250),
            connect_timeout: Duration::from_secs(15),
            read_timeout: Duration::from_mins(1),
            offline: false,
        }
    }
}

/// Why a download failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("`{url}` is needed, but cairn is offline and the store does not have it")]
    Offline { url: String },
    #[error("`{url}` answered {status}{}", retried(*.attempts))]
    Status {
        url: String,
        status: u16,
        attempts: u32,
    },
    #[error("could not download `{url}`{}: {message}", retried(*.attempts))]
    Transport {
        url: String,
        attempts: u32,
        message: String,
    },
    #[error("`{url}` has {actual} bytes, but {expected} were expected")]
    SizeMismatch {
        url: String,
        expected: u64,
        actual: u64,
    },
    #[error("`{url}` has SHA-256 {actual}, but {expected} was expected")]
    HashMismatch {
        url: String,
        expected: String,
        actual: String,
    },
    #[error("`{url}` is larger than the {limit} bytes allowed for it")]
    TooLarge { url: String, limit: u64 },
    #[error("could not write `{}`", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("could not start the HTTP client: {0}")]
    Client(String),
}

fn retried(attempts: u32) -> String {
    if attempts > 1 {
        format!(" (after {attempts} attempts)")
    } else {
        String::new()
    }
}

impl FetchError {
    /// A suggestion for the user, when there is one.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::Offline { .. } => {
                Some("run once without `--offline` to fill the store".to_owned())
            }
            Self::Status { status: 404, .. } => Some(
                "the server does not have this file: check the mirror or index URL (and a \
                 Debian `--suite`); the mirror or the lock may be out of date"
                    .to_owned(),
            ),
            Self::Transport { .. } | Self::Status { .. } => Some(
                "check the URL and the network; `--offline` uses what the store has".to_owned(),
            ),
            Self::HashMismatch { .. } | Self::SizeMismatch { .. } => Some(
                "the server sent different bytes than the signed index or the lock promises; \
                 nothing was kept. Try another mirror or index"
                    .to_owned(),
            ),
            _ => None,
        }
    }

    fn retryable(&self) -> bool {
        match self {
            Self::Transport { .. } => true,
            Self::Status { status, .. } => retryable_status(*status),
            _ => false,
        }
    }

    fn with_attempts(mut self, n: u32) -> Self {
        if let Self::Transport { attempts, .. } | Self::Status { attempts, .. } = &mut self {
            *attempts = n;
        }
        self
    }
}

/// Progress of downloads. All methods have empty defaults.
pub trait FetchReporter: Send + Sync {
    /// A download starts; `size` when known.
    fn on_download_start(&self, _url: &str, _size: Option<u64>) {}
    /// More bytes arrived.
    fn on_download_progress(&self, _url: &str, _bytes: u64) {}
    /// A download finished and was verified.
    fn on_download_done(&self, _url: &str, _bytes: u64) {}
    /// A retryable failure; the next attempt comes after `wait`.
    fn on_retry(&self, _url: &str, _error: &FetchError, _wait: Duration) {}
}

/// A [`FetchReporter`] that reports nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoFetchReporter;

impl FetchReporter for NoFetchReporter {}

/// One file to download to `dest`.
#[derive(Debug, Clone)]
pub struct Download {
    pub url: String,
    pub expected: Expected,
    pub dest: PathBuf,
}

/// One download into memory, for [`Fetcher::get_each`].
#[derive(Debug, Clone)]
pub struct Request {
    pub url: String,
    /// The `Accept` header, for content negotiation (PEP 691 simple pages).
    pub accept: Option<&'static str>,
    /// With it, the size and hash are checked; without, at most `limit` bytes are accepted.
    pub expected: Option<Expected>,
    pub limit: u64,
}

/// What a [`Request`] got.
#[derive(Debug, Clone)]
pub struct Response {
    /// The URL the body came from, after redirects (relative links resolve against it).
    pub url: String,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

/// A blocking HTTP client with retries and bounded parallelism.
pub struct Fetcher {
    runtime: tokio::runtime::Runtime,
    client: reqwest::Client,
    options: FetchOptions,
}

impl std::fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetcher")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// Where a body goes while it is read.
enum Sink<'a> {
    Memory(Vec<u8>),
    File(std::io::BufWriter<fs_err::File>, &'a Path),
}

impl Sink<'_> {
    fn write(&mut self, bytes: &[u8]) -> Result<(), FetchError> {
        match self {
            Self::Memory(buffer) => {
                buffer.extend_from_slice(bytes);
                Ok(())
            }
            Self::File(file, path) => file.write_all(bytes).map_err(|source| FetchError::Io {
                path: path.to_path_buf(),
                source,
            }),
        }
    }
}

impl Fetcher {
    pub fn new(options: FetchOptions) -> Result<Self, FetchError> {
        let client = http::client(options.connect_timeout, options.read_timeout)
            .map_err(FetchError::Client)?;
        let runtime = http::runtime("cairn-fetch").map_err(FetchError::Client)?;
        Ok(Self {
            runtime,
            client,
            options,
        })
    }

    pub fn options(&self) -> &FetchOptions {
        &self.options
    }

    /// Downloads `url` into memory. With `expected`, the size and hash are checked;
    /// without, at most `limit` bytes are accepted.
    pub fn get(
        &self,
        url: &str,
        expected: Option<&Expected>,
        limit: u64,
        reporter: &dyn FetchReporter,
    ) -> Result<Vec<u8>, FetchError> {
        if self.options.offline {
            return Err(FetchError::Offline {
                url: url.to_owned(),
            });
        }
        self.runtime
            .block_on(with_retries(&self.options, url, reporter, || async {
                let mut sink = Sink::Memory(Vec::new());
                fetch_once(
                    &self.client,
                    url,
                    None,
                    expected,
                    limit,
                    &mut sink,
                    reporter,
                )
                .await?;
                match sink {
                    Sink::Memory(bytes) => Ok(bytes),
                    Sink::File(..) => unreachable!("a memory sink stays one"),
                }
            }))
    }

    /// Downloads every request into memory, at most [`FetchOptions::connections`] at
    /// once, and returns the results in the order of `requests`.
    pub fn get_each(
        &self,
        requests: &[Request],
        reporter: &Arc<dyn FetchReporter>,
    ) -> Vec<Result<Response, FetchError>> {
        if self.options.offline {
            return requests
                .iter()
                .map(|r| Err(FetchError::Offline { url: r.url.clone() }))
                .collect();
        }
        let limit = Arc::new(tokio::sync::Semaphore::new(self.options.connections.max(1)));
        self.runtime.block_on(async {
            let mut tasks = tokio::task::JoinSet::new();
            for (i, request) in requests.iter().enumerate() {
                let (client, options, request, limit, reporter) = (
                    self.client.clone(),
                    self.options.clone(),
                    request.clone(),
                    limit.clone(),
                    reporter.clone(),
                );
                tasks.spawn(async move {
                    let _permit = limit
                        .acquire()
                        .await
                        .expect("the semaphore is never closed");
                    let result =
                        with_retries(&options, &request.url, reporter.as_ref(), || async {
                            let mut sink = Sink::Memory(Vec::new());
                            let origin = fetch_once(
                                &client,
                                &request.url,
                                request.accept,
                                request.expected.as_ref(),
                                request.limit,
                                &mut sink,
                                reporter.as_ref(),
                            )
                            .await?;
                            match sink {
                                Sink::Memory(body) => Ok(Response {
                                    url: origin.url,
                                    content_type: origin.content_type,
                                    body,
                                }),
                                Sink::File(..) => unreachable!("a memory sink stays one"),
                            }
                        })
                        .await;
                    (i, result)
                });
            }
            let mut results: Vec<Option<Result<Response, FetchError>>> =
                (0..requests.len()).map(|_| None).collect();
            while let Some(ended) = tasks.join_next().await {
                match ended {
                    Ok((i, result)) => results[i] = Some(result),
                    Err(e) => {
                        // A panicked task: its slot stays empty and is filled below.
                        let _ = e;
                    }
                }
            }
            results
                .into_iter()
                .zip(requests)
                .map(|(result, request)| {
                    result.unwrap_or_else(|| {
                        Err(FetchError::Client(format!(
                            "the download task for `{}` failed",
                            request.url
                        )))
                    })
                })
                .collect()
        })
    }

    /// Downloads every job, at most [`FetchOptions::connections`] at once, each to its
    /// `dest` (written in full and checked, or removed), and calls `done(index, result)`
    /// as soon as each one ends, in the order they end, so the caller can use a file
    /// while others are still downloading. Returns when all ended.
    pub fn download_each(
        &self,
        jobs: &[Download],
        reporter: &Arc<dyn FetchReporter>,
        done: &(dyn Fn(usize, Result<(), FetchError>) + Sync),
    ) {
        if self.options.offline {
            for (i, job) in jobs.iter().enumerate() {
                done(
                    i,
                    Err(FetchError::Offline {
                        url: job.url.clone(),
                    }),
                );
            }
            return;
        }
        let limit = Arc::new(tokio::sync::Semaphore::new(self.options.connections.max(1)));
        self.runtime.block_on(async {
            let mut tasks = tokio::task::JoinSet::new();
            let mut index = std::collections::BTreeMap::new();
            for (i, job) in jobs.iter().enumerate() {
                let (client, options, job, limit, reporter) = (
                    self.client.clone(),
                    self.options.clone(),
                    job.clone(),
                    limit.clone(),
                    reporter.clone(),
                );
                let handle = tasks.spawn(async move {
                    let _permit = limit
                        .acquire()
                        .await
                        .expect("the semaphore is never closed");
                    download_one(&client, &options, &job, reporter.as_ref()).await
                });
                index.insert(handle.id(), i);
            }
            while let Some(ended) = tasks.join_next_with_id().await {
                let (id, result) = match ended {
                    Ok((id, result)) => (id, result),
                    Err(e) => (
                        e.id(),
                        Err(FetchError::Client(format!("a download task failed: {e}"))),
                    ),
                };
                done(index[&id], result);
            }
        });
    }
}

async fn download_one(
    client: &reqwest::Client,
    options: &FetchOptions,
    job: &Download,
    reporter: &dyn FetchReporter,
) -> Result<(), FetchError> {
    let io = |source| FetchError::Io {
        path: job.dest.clone(),
        source,
    };
    let result = with_retries(options, &job.url, reporter, || async {
        let file = fs_err::File::create(&job.dest).map_err(io)?;
        let mut sink = Sink::File(std::io::BufWriter::new(file), &job.dest);
        fetch_once(
            client,
            &job.url,
            None,
            Some(&job.expected),
            job.expected.size.unwrap_or(UNSIZED_LIMIT),
            &mut sink,
            reporter,
        )
        .await?;
        if let Sink::File(file, _) = sink {
            let file = file.into_inner().map_err(|e| io(e.into_error()))?;
            file.sync_all().map_err(io)?;
        }
        Ok(())
    })
    .await;
    if result.is_err() {
        let _ = fs_err::remove_file(&job.dest);
    }
    result
}

async fn with_retries<T, F, Fut>(
    options: &FetchOptions,
    url: &str,
    reporter: &dyn FetchReporter,
    mut attempt: F,
) -> Result<T, FetchError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, FetchError>>,
{
    let retry = Retry {
        retries: options.retries,
        backoff: options.backoff,
    };
    let (result, attempts) = retry
        .run(&mut attempt, |result, wait| match result {
            Err(e) if e.retryable() => {
                reporter.on_retry(url, e, wait);
                true
            }
            _ => false,
        })
        .await;
    result.map_err(|e| e.with_attempts(attempts))
}

/// One attempt: GET `url` into `sink`, checking the size as it arrives and the hash at
/// the end.
async fn fetch_once(
    client: &reqwest::Client,
    url: &str,
    accept: Option<&str>,
    expected: Option<&Expected>,
    limit: u64,
    sink: &mut Sink<'_>,
    reporter: &dyn FetchReporter,
) -> Result<Origin, FetchError> {
    let transport = |e: reqwest::Error| FetchError::Transport {
        url: url.to_owned(),
        attempts: 1,
        message: error_chain(&e),
    };
    let mut request = client.get(url);
    if let Some(accept) = accept {
        request = request.header(reqwest::header::ACCEPT, accept);
    }
    let mut response = request.send().await.map_err(transport)?;
    let origin = Origin {
        url: response.url().to_string(),
        content_type: response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    };
    let status = response.status();
    if !status.is_success() {
        return Err(FetchError::Status {
            url: url.to_owned(),
            status: status.as_u16(),
            attempts: 1,
        });
    }
    reporter.on_download_start(url, expected.and_then(|e| e.size));
    let mut hasher = Sha256::new();
    let mut received = 0u64;
    while let Some(chunk) = response.chunk().await.map_err(transport)? {
        received += chunk.len() as u64;
        if received > limit {
            return Err(match expected.and_then(|e| e.size) {
                Some(size) => FetchError::SizeMismatch {
                    url: url.to_owned(),
                    expected: size,
                    actual: received,
                },
                None => FetchError::TooLarge {
                    url: url.to_owned(),
                    limit,
                },
            });
        }
        hasher.update(&chunk);
        sink.write(&chunk)?;
        reporter.on_download_progress(url, chunk.len() as u64);
    }
    if let Some(expected) = expected {
        if let Some(size) = expected.size.filter(|&size| size != received) {
            return Err(FetchError::SizeMismatch {
                url: url.to_owned(),
                expected: size,
                actual: received,
            });
        }
        let actual = data_encoding::HEXLOWER.encode(&hasher.finalize());
        if actual != expected.sha256 {
            return Err(FetchError::HashMismatch {
                url: url.to_owned(),
                expected: expected.sha256.clone(),
                actual,
            });
        }
    }
    reporter.on_download_done(url, received);
    Ok(origin)
}

/// Where a response came from.
struct Origin {
    url: String,
    content_type: Option<String>,
}
