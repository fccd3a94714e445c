//! The one error type of the crate.

use std::path::PathBuf;

use crate::auth::CredentialSource;
use crate::reference::BadReference;

/// Why a push, a pull or a credential lookup failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error(transparent)]
    BadReference(#[from] BadReference),
    #[error("`--creds` must be `user:password`, not {0}")]
    BadCredentials(&'static str),
    #[error("could not reach the registry `{registry}` at `{url}`{}: {message}", retried(*.attempts))]
    Unreachable {
        registry: String,
        url: String,
        attempts: u32,
        message: String,
    },
    #[error("the registry `{registry}` refused {credentials} (401 Unauthorized){}", detail(.messages))]
    Unauthorized {
        registry: String,
        credentials: Box<CredentialSource>,
        messages: Vec<String>,
    },
    #[error("the registry `{registry}` denied access to `{repository}` with {credentials} (403 Forbidden){}", detail(.messages))]
    Denied {
        registry: String,
        repository: String,
        credentials: Box<CredentialSource>,
        messages: Vec<String>,
    },
    #[error("the registry `{registry}` has no {what} (404 Not Found){}", detail(.messages))]
    NotFound {
        registry: String,
        what: String,
        messages: Vec<String>,
    },
    #[error("the registry `{registry}` refused {what} ({status}){}", detail(.messages))]
    Refused {
        registry: String,
        what: String,
        status: u16,
        messages: Vec<String>,
    },
    #[error("the registry `{registry}` sent {what} that cairn cannot read: {message}")]
    BadResponse {
        registry: String,
        what: String,
        message: String,
    },
    #[error("{what} has digest {actual}, but {expected} was expected")]
    DigestMismatch {
        what: String,
        expected: String,
        actual: String,
    },
    #[error("{what} has {actual} bytes, but {expected} were expected")]
    SizeMismatch {
        what: String,
        expected: u64,
        actual: u64,
    },
    #[error("could not upload blob {digest} to `{registry}`{}", retried(*.attempts))]
    BlobUpload {
        digest: String,
        registry: String,
        attempts: u32,
        #[source]
        source: Box<RegistryError>,
    },
    #[error("could not get a token for `{registry}` from `{realm}` with {credentials}: {message}")]
    Token {
        registry: String,
        realm: String,
        credentials: Box<CredentialSource>,
        message: String,
    },
    #[error("`{}` is not an OCI image layout cairn can push: {reason}", path.display())]
    Layout { path: PathBuf, reason: String },
    #[error(
        "`{}` exists and is not an OCI image layout; refusing to replace it",
        .0.display()
    )]
    NotALayout(PathBuf),
    #[error("{what} has media type `{media_type}`, which cairn does not support")]
    UnsupportedMediaType { what: String, media_type: String },
    #[error("`{reference}` has no image for {wanted}; it has {available}")]
    NoPlatform {
        reference: String,
        wanted: String,
        available: String,
    },
    #[error("could not read the registry credentials in `{}`: {reason}", path.display())]
    AuthFile { path: PathBuf, reason: String },
    #[error("the credential helper `{helper}` failed: {message}")]
    CredentialHelper { helper: String, message: String },
    #[error("could not access `{}`", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("could not start the HTTP client: {0}")]
    Client(String),
}

/// Where credentials came from, boxed: it keeps [`RegistryError`] small.
pub(crate) fn boxed_source(source: &CredentialSource) -> Box<CredentialSource> {
    Box::new(source.clone())
}

fn retried(attempts: u32) -> String {
    if attempts > 1 {
        format!(" (after {attempts} attempts)")
    } else {
        String::new()
    }
}

fn detail(messages: &[String]) -> String {
    if messages.is_empty() {
        String::new()
    } else {
        format!(": {}", messages.join("; "))
    }
}

impl RegistryError {
    /// A suggestion for the user, when there is one.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            Self::BadReference(_) => {
                "write a reference as `registry/repository:tag`, e.g. `localhost:5000/app:1` or \
                 `ghcr.io/team/app:v1`"
                    .to_owned()
            }
            Self::BadCredentials(_) => "pass `--creds user:password`".to_owned(),
            Self::Unreachable { message, .. } if message.contains("certificate") => {
                "the registry's TLS certificate was not accepted; for a registry without TLS \
                 on a trusted network, use the insecure option"
                    .to_owned()
            }
            Self::Unreachable { .. } => {
                "check that the registry is running and that its host and port are right \
                 (a registry on another machine must answer HTTPS unless the insecure option \
                 is given)"
                    .to_owned()
            }
            Self::Unauthorized { credentials, .. } | Self::Token { credentials, .. } => {
                match credentials.as_ref() {
                    CredentialSource::Anonymous => {
                        "the registry needs credentials: log in (`podman login` or `docker \
                         login`) or pass `--creds user:password`"
                            .to_owned()
                    }
                    CredentialSource::Explicit => {
                        "check the user name and password given with `--creds`".to_owned()
                    }
                    CredentialSource::AuthFile { path, .. } => format!(
                        "the login stored in `{}` was refused: log in again, or pass `--creds`",
                        path.display()
                    ),
                    CredentialSource::Helper { helper, .. } => format!(
                        "the login that `{helper}` keeps was refused: log in again, or pass \
                         `--creds`"
                    ),
                }
            }
            Self::Denied { .. } => {
                "the credentials were accepted but may not do this: check the repository name \
                 and the account's permissions on it"
                    .to_owned()
            }
            Self::NotFound { .. } => {
                "check the repository name and the tag; some registries need a repository (or \
                 its project or organisation) created before the first push"
                    .to_owned()
            }
            Self::DigestMismatch { .. } | Self::SizeMismatch { .. } => {
                "the bytes are not the ones their digest names; nothing was kept. Try again, or \
                 another registry or mirror"
                    .to_owned()
            }
            Self::BlobUpload { .. } => {
                "run the push again: the blobs the registry already has are skipped".to_owned()
            }
            Self::Layout { .. } => {
                "push a layout written by `cairn build` or `cairn image` (an `index.json` with \
                 one image manifest, and its blobs under `blobs/sha256/`)"
                    .to_owned()
            }
            Self::NotALayout(_) => "choose an empty or new directory".to_owned(),
            Self::NoPlatform { .. } => {
                "choose one of the platforms the image has with the platform option".to_owned()
            }
            Self::AuthFile { .. } => {
                "fix the file's JSON, or pass `--creds` to ignore it".to_owned()
            }
            Self::CredentialHelper { helper, .. } => format!(
                "check that `{helper}` is installed and on PATH, and that you are logged in"
            ),
            Self::Refused { .. }
            | Self::BadResponse { .. }
            | Self::UnsupportedMediaType { .. }
            | Self::Io { .. }
            | Self::Client(_) => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_error_stays_small() {
        // clippy's `result_large_err` starts at 128 bytes.
        assert!(std::mem::size_of::<super::RegistryError>() <= 112);
    }
}
