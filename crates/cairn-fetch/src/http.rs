//! What every HTTP user in cairn shares: downloads (`Fetcher`), binary caches and
//! registries. One way to build a client (rustls with the `ring` provider, cairn's
//! user agent, each host looked up once), one small runtime, one answer to "is this
//! worth retrying", one retry loop with exponential backoff, and errors on one line.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// The `User-Agent` of every request cairn makes.
pub const USER_AGENT: &str = concat!("cairn/", env!("CARGO_PKG_VERSION"));

/// A `reqwest` client as cairn uses them everywhere.
pub fn client(
    connect_timeout: Duration,
    read_timeout: Duration,
) -> Result<reqwest::Client, String> {
    // Another part of the process may have installed a provider already; either is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .dns_resolver(Arc::new(CachingResolver::default()))
        .user_agent(USER_AGENT)
        .connect_timeout(connect_timeout)
        .read_timeout(read_timeout)
        .build()
        .map_err(|e| error_chain(&e))
}

/// The runtime a blocking API runs its requests on: two worker threads, named `name`.
pub fn runtime(name: &str) -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(name)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
}

/// Whether an HTTP status is worth asking again: `408`, `429` and `5xx`. Other statuses
/// are answers.
pub fn retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500..=599)
}

/// How often to try again, and how long to wait first (doubled each time).
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    /// Attempts after the first one.
    pub retries: u32,
    pub backoff: Duration,
}

impl Retry {
    /// Runs `attempt` until `again` says its result is final or the retries are spent.
    /// `again` sees each result and the wait before the next attempt (to report it).
    /// Returns the last result and how many attempts were made.
    pub async fn run<T, E, F, Fut>(
        self,
        mut attempt: F,
        mut again: impl FnMut(&Result<T, E>, Duration) -> bool,
    ) -> (Result<T, E>, u32)
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let mut wait = self.backoff;
        let mut attempts = 0;
        loop {
            attempts += 1;
            let result = attempt().await;
            if attempts > self.retries || !again(&result, wait) {
                return (result, attempts);
            }
            tokio::time::sleep(wait).await;
            wait = wait.saturating_mul(2);
        }
    }
}

/// An error and its causes on one line: `reqwest` and `object_store` keep the useful
/// part (connection refused, …) in their sources.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = s.source();
    }
    message
}

/// Looks each host up once per client, however many connections it opens: eight
/// parallel downloads from one mirror would otherwise be eight lookups at once, and
/// resolvers that drop bursts of queries make each lost one a 5 s stall (glibc's
/// retry). Concurrent lookups of one host wait for the same answer; a failed lookup
/// is not kept, so a retry asks again.
#[derive(Default)]
pub(crate) struct CachingResolver {
    hosts: std::sync::Mutex<
        std::collections::BTreeMap<String, Arc<tokio::sync::OnceCell<Vec<std::net::SocketAddr>>>>,
    >,
}

impl reqwest::dns::Resolve for CachingResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        let cell = self
            .hosts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(host.clone())
            .or_default()
            .clone();
        Box::pin(async move {
            let addrs = cell
                .get_or_try_init(|| async {
                    let found = tokio::task::spawn_blocking(move || {
                        std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), 0))
                            .map(Iterator::collect::<Vec<_>>)
                    })
                    .await
                    .map_err(|e| std::io::Error::other(e.to_string()))??;
                    Ok::<_, std::io::Error>(found)
                })
                .await?
                .clone();
            let addrs: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}
