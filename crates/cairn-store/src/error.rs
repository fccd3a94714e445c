use std::io;
use std::path::PathBuf;

use cairn_nar::NarError;

/// Everything the store can refuse or fail at. Messages name the path or object and the
/// cause; [`StoreError::hint`] suggests a fix where there is an obvious one.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("Failed to open the store at `{}`", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: Box<StoreError>,
    },

    #[error(transparent)]
    Io(#[from] io::Error),

    #[error(transparent)]
    Nar(#[from] NarError),

    #[error("Store database error")]
    Database(#[from] rusqlite::Error),

    #[error("The store at `{}` has schema version {found}, but this cairn understands version {expected}", path.display())]
    SchemaVersion {
        path: PathBuf,
        found: String,
        expected: u32,
    },

    #[error("Invalid object name `{name}`: {reason}")]
    InvalidName { name: String, reason: &'static str },

    #[error("`{0}` is not a store object path (expected `<32 nixbase32 characters>-<name>`)")]
    InvalidStorePath(String),

    #[error("No object `{0}` in the store")]
    NotFound(String),

    #[error("`{query}` matches several objects: {}", candidates.join(", "))]
    Ambiguous {
        query: String,
        candidates: Vec<String>,
    },

    #[error("Reference `{0}` is not a valid object in this store")]
    InvalidReference(String),

    #[error("Invalid permissions manifest: {0}")]
    InvalidPermissions(String),

    #[error("Invalid object metadata: {0}")]
    InvalidMetadata(String),

    #[error("Not a valid fixed-output object: {0}")]
    FixedOutput(String),

    #[error("Failed to add `{}` to the store", path.display())]
    Add {
        path: PathBuf,
        #[source]
        source: Box<StoreError>,
    },

    #[error("Import refused: {0}")]
    ImportRefused(String),

    #[error("Import stream is truncated (it ended at byte {offset})")]
    ImportTruncated { offset: u64 },

    #[error("Root `{0}` does not exist")]
    NoSuchRoot(String),

    #[error("`{}` exists and is not a symlink into this store; refusing to replace it", path.display())]
    RootLinkOccupied { path: PathBuf },
}

impl StoreError {
    /// A suggestion for the user, when there is one.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::Open { source, .. } | Self::Add { source, .. } => source.hint(),
            Self::Nar(NarError::UnsupportedFileType { .. }) => Some(
                "remove the special file from the tree (or add a directory that does not contain it)".into(),
            ),
            Self::Nar(NarError::Read { source, .. }) | Self::Io(source)
                if source.kind() == io::ErrorKind::PermissionDenied =>
            {
                Some("make the file readable by the user running cairn (e.g. `chmod u+r`)".into())
            }
            Self::Io(e) | Self::Nar(NarError::Write { source: e, .. } | NarError::Io(e))
                if matches!(e.kind(), io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded) =>
            {
                Some("free some disk space, or run `cairn store gc` to delete unreachable objects".into())
            }
            Self::Database(rusqlite::Error::SqliteFailure(e, _)) if e.code == rusqlite::ErrorCode::DiskFull => {
                Some("free some disk space, or run `cairn store gc` to delete unreachable objects".into())
            }
            Self::SchemaVersion { .. } => {
                Some("use the cairn version that created this store, or point --store at a new directory".into())
            }
            Self::NotFound(_) => Some("`cairn store add` adds objects; `cairn store roots` lists the named roots".into()),
            Self::ImportRefused(_) | Self::ImportTruncated { .. } => {
                Some("nothing was registered; export the closure again and re-run the import".into())
            }
            _ => None,
        }
    }

    pub(crate) fn add(path: impl Into<PathBuf>, source: StoreError) -> Self {
        Self::Add {
            path: path.into(),
            source: Box::new(source),
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;
