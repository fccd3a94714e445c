//! Objects written in place and registered together.
//!
//! [`Store::add_path`] copies a tree into staging, syncs the file system and registers
//! the object in a transaction of its own. A producer that writes many objects (the
//! layers of an image, on every core) can instead write each tree straight into a
//! [`Batch`]'s staging directory: no copy, one file system sync and one transaction for
//! the whole batch. Until [`Batch::commit`], nothing is registered; a batch dropped
//! without a commit leaves nothing behind.

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::Store;
use crate::add::{AddOptions, ObjectSpec, Staged, stage};
use crate::error::{Result, StoreError};
use crate::lock::Staging;
use crate::path::{StorePath, validate_name};
use crate::tree::sync_filesystem;

/// Where one object of a batch is written: only [`Batch::tree_path`] makes one, so
/// [`Batch::stage`] can take nothing but a tree in its own staging directory.
#[derive(Debug)]
pub struct BatchTree(PathBuf);

impl BatchTree {
    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

/// A staging directory shared by the objects of one batch.
pub struct Batch<'a> {
    store: &'a Store,
    staging: Staging,
    next: AtomicUsize,
    staged: Mutex<Vec<Staged>>,
}

impl Store {
    /// Starts a batch of objects (see [`Batch`]).
    pub fn batch(&self) -> Result<Batch<'_>> {
        Ok(Batch {
            store: self,
            staging: Staging::new(&self.tmp_dir(), &self.gc_lock_path())?,
            next: AtomicUsize::new(0),
            staged: Mutex::new(Vec::new()),
        })
    }
}

impl Batch<'_> {
    /// A place, not yet existing, at which the caller writes one object's tree (a file,
    /// a directory or a symlink) before passing it to [`Batch::stage`].
    pub fn tree_path(&self) -> Result<BatchTree> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let dir = self.staging.path().join(n.to_string());
        fs_err::create_dir(&dir)?;
        Ok(BatchTree(dir.join("tree")))
    }

    /// Hashes, checks and freezes the tree written at `tree` (a path from
    /// [`Batch::tree_path`]) and returns the path it will have. `options.name` is
    /// required. The object is registered by [`Batch::commit`].
    pub fn stage(&self, tree: BatchTree, options: &AddOptions) -> Result<StorePath> {
        let tree = tree.0;
        let name = options
            .name
            .clone()
            .ok_or_else(|| StoreError::InvalidName {
                name: String::new(),
                reason: "an object in a batch needs a name",
            })?;
        validate_name(&name)?;
        // A tree of another batch (tree paths are made by `tree_path`, so a prefix test
        // is exact).
        if !tree.starts_with(self.staging.path()) {
            return Err(StoreError::InvalidName {
                name,
                reason: "the tree is not in this batch's staging directory",
            });
        }
        self.store.protect_references(&options.references)?;
        let spec = ObjectSpec::new(name, options, &tree)?;
        let staged = stage(tree, spec, false)?;
        let path = staged.path.clone();
        self.staged
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(staged);
        Ok(path)
    }

    /// Syncs the file system once and registers every staged object in one
    /// transaction (an object staged twice, once). Returns how many objects were new
    /// to the store.
    pub fn commit(self) -> Result<usize> {
        let mut staged = self
            .staged
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut seen = std::collections::BTreeSet::new();
        staged.retain(|s| seen.insert(s.path.clone()));
        // What the store has already needs neither a sync nor a transaction (a no-op
        // build stages only such objects); `register` checks again under the locks.
        // Temp-rooted first (as `register` roots what it adds), so an object found here
        // cannot be collected before its caller roots it for good.
        let paths: Vec<StorePath> = staged.iter().map(|s| s.path.clone()).collect();
        let present: std::collections::BTreeSet<StorePath> =
            self.store.add_temp_roots(&paths)?.into_iter().collect();
        staged.retain(|s| !present.contains(&s.path));
        if staged.is_empty() {
            return Ok(0);
        }
        sync_filesystem(self.staging.path())?;
        let (_, fresh) = self.store.register(staged)?;
        drop(self.staging);
        Ok(fresh)
    }
}
