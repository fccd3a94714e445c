use std::path::PathBuf;

/// Why a cache operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The cache URL cannot be used.
    #[error("`{url}` is not a cache URL cairn can use: {why}")]
    BadUrl { url: String, why: String },
    /// The backend failed to read or write a file (network, permissions, the server's
    /// answer); `message` says what happened.
    #[error("cache `{url}`: could not {action} `{key}`: {message}")]
    Backend {
        url: String,
        action: &'static str,
        key: String,
        message: String,
    },
    #[error("could not use `{}`", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}
