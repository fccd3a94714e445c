use std::path::PathBuf;

/// Why a cache operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The cache URL cannot be used.
    #[error("`{url}` is not a cache URL cairn can use: {why}")]
    BadUrl { url: String, why: String },
    /// A key that is not a relative `/`-separated path of plain names.
    #[error("`{key}` is not a cache key: {why}")]
    BadKey { key: String, why: &'static str },
    /// The backend failed to read or write a file (network, permissions, the server's
    /// answer); `message` says what happened.
    #[error("cache `{url}`: could not {action} `{key}`: {message}")]
    Backend {
        url: String,
        action: &'static str,
        key: String,
        message: String,
    },
    /// The location holds something that is not a cairn cache.
    #[error(
        "`{url}` is not a cairn cache: its `nix-cache-info` has no `CairnCacheVersion: 1` (is it a Nix cache?)"
    )]
    NotCairnCache { url: String },
    /// The location has no `nix-cache-info`: nothing was pushed there, or the URL is wrong.
    #[error("`{url}` has no `nix-cache-info`: nothing was pushed there yet, or the URL is wrong")]
    NoCacheInfo { url: String },
    /// The store failed (reading an object to push, or registering received ones).
    #[error(transparent)]
    Store(#[from] cairn_store::StoreError),
    /// A signing key or public key cannot be used.
    #[error("bad signing key: {0}")]
    BadSigningKey(String),
    #[error("could not use `{}`", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl CacheError {
    /// A suggestion for the user, when there is one.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::NotCairnCache { .. } => Some(
                "push to an empty location, or one `cairn cache push` wrote".to_owned(),
            ),
            Self::BadSigningKey(_) => Some(
                "`cairn cache keygen NAME` writes a key pair; `trusted-keys` take the `.public` one"
                    .to_owned(),
            ),
            Self::Store(e) => e.hint(),
            _ => None,
        }
    }
}
