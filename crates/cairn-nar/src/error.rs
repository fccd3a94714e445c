use std::io;
use std::path::{Path, PathBuf};

/// Everything that can go wrong reading, writing or parsing a NAR.
#[derive(Debug, thiserror::Error)]
pub enum NarError {
    #[error(transparent)]
    Io(io::Error),

    #[error("Failed to read `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("Failed to write `{}`", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("`{}` is {what}; only regular files, directories and symlinks can be archived", path.display())]
    UnsupportedFileType { path: PathBuf, what: &'static str },

    #[error("Malformed NAR at byte {offset}: {what}")]
    Malformed { offset: u64, what: String },

    #[error("NAR is truncated: the stream ended at byte {offset}")]
    Truncated { offset: u64 },

    #[error("Invalid nixbase32 `{text}`: {reason}")]
    InvalidBase32 { text: String, reason: String },

    #[error(
        "Invalid hash `{0}`: expected `sha256-<base64>`, `sha256:<nixbase32>` or `sha256:<hex>`"
    )]
    InvalidHash(String),
}

impl NarError {
    pub(crate) fn read(path: &Path, source: io::Error) -> Self {
        Self::Read {
            path: path.to_owned(),
            source,
        }
    }

    pub(crate) fn write(path: &Path, source: io::Error) -> Self {
        Self::Write {
            path: path.to_owned(),
            source,
        }
    }
}
