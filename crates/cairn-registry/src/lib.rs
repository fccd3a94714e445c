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
