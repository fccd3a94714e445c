//! OCI distribution for cairn: image references, registry credentials, and push and pull
//! of OCI image layouts (the OCI distribution spec v1.1, which Docker Hub, GHCR, Quay,
//! Harbor, ECR, GAR and `distribution` itself implement).
//!
//! - [`Reference`]: `registry/repository[:tag][@sha256:…]`, read as Docker reads it.
//! - [`find_credentials`]: `--creds`, auth files (podman's and Docker's) and credential
//!   helpers; the challenge (`Basic`, or `Bearer` tokens per scope) is answered by the
//!   client.
//! - [`RegistryClient::push`]: a layout's one image, blobs skipped when present, mounted
//!   from other repositories when allowed, uploaded in parallel and in chunks, resumed
//!   after a dropped connection; the manifest last, byte for byte.
//! - [`RegistryClient::pull`]: an image into a new layout, every byte checked against its
//!   digest before the layout appears.
//!
//! Plain HTTP is used only for loopback registries (`localhost`, `127.0.0.0/8`, `::1`)
//! or when asked for ([`RegistryOptions::insecure`]); everything else is HTTPS.
//!
//! It knows nothing of the store: a layout kept in the store is a directory whose layer
//! blobs are links, which are followed. The API is blocking (a small tokio runtime
//! inside), reports progress through [`PushReporter`] and [`PullReporter`], and never
//! prints.

mod auth;
mod client;
mod error;
mod layout;
mod pull;
mod push;
mod reference;

pub use auth::{AuthEnv, CredentialOptions, CredentialSource, Credentials, find_credentials};
pub use client::{DEFAULT_CHUNK_SIZE, RegistryClient, RegistryOptions};
pub use error::RegistryError;
pub use layout::{DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST};
pub use pull::{
    NoPullReporter, PullOptions, PullReport, PullReporter, RemoteManifest, host_platform,
};
pub use push::{NoPushReporter, PushOptions, PushReport, PushReporter};
pub use reference::{
    BadReference, DEFAULT_TAG, DOCKER_HUB, DOCKER_HUB_API, Reference, is_loopback,
};

/// Runs `task` on each of `items`, at most `limit` at once, handing each result to
/// `done` as it comes; the first failure stops the others and is returned. What push
/// and pull do with their blobs.
pub(crate) async fn for_each_limited<I, T, F, Fut>(
    items: I,
    limit: usize,
    task: F,
    mut done: impl FnMut(T),
) -> Result<(), RegistryError>
where
    I: IntoIterator,
    F: Fn(I::Item) -> Fut,
    Fut: Future<Output = Result<T, RegistryError>> + Send + 'static,
    T: Send + 'static,
{
    let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(limit.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for item in items {
        let (permits, work) = (permits.clone(), task(item));
        tasks.spawn(async move {
            let _permit = permits
                .acquire()
                .await
                .expect("the semaphore is never closed");
            work.await
        });
    }
    let mut failed = None;
    while let Some(joined) = tasks.join_next().await {
        let error = match joined {
            Ok(Ok(value)) => {
                done(value);
                continue;
            }
            Err(e) if e.is_cancelled() => continue,
            Ok(Err(error)) => error,
            Err(e) => RegistryError::Client(format!("a blob transfer task failed: {e}")),
        };
        if failed.is_none() {
            failed = Some(error);
            tasks.abort_all();
        }
    }
    failed.map_or(Ok(()), Err)
}
