//! cairn's content-addressed object store.
//!
//! A store is a directory (default `$XDG_DATA_HOME/cairn`) holding a versioned layout:
//!
//! ```text
//! v1/db.sqlite             objects, references, permissions, listings, named roots (WAL)
//! v1/objects/<hash32>-<name>   read-only trees (or single files / symlinks)
//! v1/blobs/sha256/<hex>    files named by SHA-256 outside the registry: downloads
//!                          waiting to be unpacked
//! v1/tmp/                  staging; unlocked entries are crash debris, removed on open
//! v1/roots/                indirect roots: links to `result`-style symlinks
//! v1/locks/, v1/temproots/, v1/gc.lock, v1/db.lock    see [`lock`](crate::lock)
//! ```
//!
//! This crate owns objects and their identity ([`StorePath`], [`PermissionsManifest`]),
//! the database, adding, querying, closures, roots, garbage collection, verification and
//! export/import. It knows nothing of Debian, PyPI or OCI.
//!
//! The invariants it keeps:
//! - an object is registered only after its tree is complete, read-only and synced, and
//!   only when all its references are registered (enforced by SQLite foreign keys);
//! - a crash at any point leaves either no registered object or a complete one;
//! - nothing reachable from a root, or held by a live cairn process, is collected.

mod add;
mod batch;
mod blob;
mod db;
mod error;
mod gc;
pub mod graph;
mod lock;
mod metadata;
mod path;
mod permissions;
mod query;
mod receive;
mod reporter;
mod transfer;
mod tree;
mod verify;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

pub use add::{AddOptions, PermissionsSource};
pub use batch::{Batch, BatchTree};
pub use error::{Result, StoreError};
pub use gc::{GcOptions, GcReport, Root, RootKind};
pub use metadata::ObjectMetadata;
pub use path::{
    Addressing, HASH_CHARS, MAX_NAME, ObjectHash, StorePath, object_hash, sanitize_name,
    validate_name,
};
pub use permissions::{
    CAPTURED_XATTRS, Permissions, PermissionsJson, PermissionsManifest, default_mode,
};
pub use query::ObjectInfo;
pub use receive::{Incoming, Received};
pub use reporter::{NoReporter, Reporter};
pub use transfer::{EXPORT_MAGIC, ImportOptions, ImportReport};
pub use verify::{Problem, VerifyReport};

/// The on-disk layout version: the name of the directory everything lives in.
pub const LAYOUT_VERSION: &str = "v1";

/// An open store. Cheap to share between threads; every method takes `&self`.
#[derive(Debug)]
pub struct Store {
    root: PathBuf,
    db: Mutex<rusqlite::Connection>,
    temp_roots: Mutex<lock::TempRoots>,
    /// Where missing objects may come from before they are fetched or built.
    substituter: Option<std::sync::Arc<dyn Substitute>>,
}

/// Something that brings objects into a store from elsewhere (a binary cache), so
/// they need not be fetched or built. See [`Store::substitute`].
pub trait Substitute: Send + Sync + std::fmt::Debug {
    /// Tries to add each of `paths` (none of which is in `store`) and its closure.
    /// Best effort: what it cannot give, it reports itself, and the caller makes.
    fn substitute(&self, store: &Store, paths: &[StorePath]) -> Result<()>;
}

impl Store {
    /// Opens the store at `dir`, creating the layout if it does not exist, and removes
    /// staging debris left by crashed processes.
    pub fn open(dir: &Path) -> Result<Self> {
        Self::open_inner(dir).map_err(|source| StoreError::Open {
            path: dir.to_owned(),
            source: Box::new(source),
        })
    }

    fn open_inner(dir: &Path) -> Result<Self> {
        let root = dir.join(LAYOUT_VERSION);
        for sub in [
            "objects",
            "blobs/sha256",
            "tmp",
            "roots",
            "locks",
            "temproots",
        ] {
            fs_err::create_dir_all(root.join(sub))?;
        }
        let root = fs_err::canonicalize(&root)?;
        // Opening sets WAL mode and creates the schema. On a new database, SQLite may
        // answer concurrent openers "database is locked" without waiting (the WAL switch
        // needs an exclusive lock, and the busy handler is not consulted there), so
        // processes take turns to open.
        let conn = {
            let _init = lock::lock_exclusive(&root.join("db.lock"))?;
            db::open(&root.join("db.sqlite"))?
        };
        let removed = lock::try_clean_staging_debris(&root.join("tmp"), &root.join("gc.lock"))?;
        if removed > 0 {
            tracing::info!("removed {removed} staging directories left by interrupted processes");
        }
        let temp_roots = lock::TempRoots::new(&root.join("temproots"));
        Ok(Self {
            root,
            db: Mutex::new(conn),
            temp_roots: Mutex::new(temp_roots),
            substituter: None,
        })
    }

    /// Missing objects are first asked of `substituter` ([`Store::substitute`]).
    #[must_use]
    pub fn with_substituter(mut self, substituter: std::sync::Arc<dyn Substitute>) -> Self {
        self.substituter = Some(substituter);
        self
    }

    /// Asks the substituter, if there is one, for those of `paths` the store lacks.
    /// Whoever is about to fetch or build objects whose paths it knows calls this first,
    /// then makes what is still missing.
    pub fn substitute(&self, paths: &[StorePath]) -> Result<()> {
        let Some(substituter) = &self.substituter else {
            return Ok(());
        };
        let mut missing = Vec::new();
        for path in paths {
            if !self.is_valid(path)? {
                missing.push(path.clone());
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        substituter.substitute(self, &missing)
    }

    /// Every object this handle has used or made (what it protects from garbage
    /// collection while it is open), sorted: after a build, everything the build needed.
    pub fn used_objects(&self) -> Result<Vec<StorePath>> {
        let roots = self
            .temp_roots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut used = Vec::new();
        for name in roots.added() {
            let path: StorePath = name.parse()?;
            if self.is_valid(&path)? {
                used.push(path);
            }
        }
        Ok(used)
    }

    /// The layout directory (`<store>/v1`).
    pub fn layout_dir(&self) -> &Path {
        &self.root
    }

    /// Where objects live.
    pub fn objects_dir(&self) -> PathBuf {
        self.root.join("objects")
    }

    /// The on-disk location of an object.
    pub fn object_dir(&self, path: &StorePath) -> PathBuf {
        self.objects_dir().join(path.to_string())
    }

    /// Where the log of the build that makes `path` (a `run()` step's output) is kept:
    /// `<store>/v1/logs/<hash>-<name>.log`, the last run's, whether it succeeded or
    /// not. Logs are not objects: garbage collection leaves them, `cairn store gc`
    /// does not need them.
    pub fn log_path(&self, path: &StorePath) -> PathBuf {
        self.root.join("logs").join(format!("{path}.log"))
    }

    fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    fn gc_lock_path(&self) -> PathBuf {
        self.root.join("gc.lock")
    }

    fn db(&self) -> MutexGuard<'_, rusqlite::Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent (transactions
        // roll back on drop), so a poisoned lock is still usable.
        self.db
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Protects `paths` from garbage collection for as long as this handle lives.
    /// Returns the paths that are (still) valid.
    pub fn add_temp_roots(&self, paths: &[StorePath]) -> Result<Vec<StorePath>> {
        let _gc = lock::lock_shared(&self.gc_lock_path())?;
        let names: Vec<String> = paths.iter().map(ToString::to_string).collect();
        self.temp_roots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .add(&names)?;
        let mut valid = Vec::new();
        for p in paths {
            if self.is_valid(p)? {
                valid.push(p.clone());
            }
        }
        Ok(valid)
    }
}
