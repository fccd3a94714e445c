//! Cross-process coordination through `flock(2)` locks (released by the kernel when a
//! process dies, so a SIGKILL never leaves a store locked).
//!
//! - `v1/gc.lock`: shared while objects are registered, staging directories created,
//!   temp roots written, or objects read by export and verify; exclusive while garbage
//!   is collected or staging debris cleaned. A GC therefore never sees half of any of
//!   those.
//! - `v1/db.lock`: exclusive while a process opens the database (WAL switch and
//!   schema), so concurrent first opens of a new store take turns.
//! - `v1/locks/<hash32>.lock`: exclusive while one object is being created, so two
//!   processes adding the same object do the rename and registration once.
//! - `v1/temproots/<pid>-<random>`: each open store handle's temporary roots (objects it
//!   added or is using), one path a line, locked exclusively for the handle's lifetime
//!   and named with `O_EXCL`, so handles never share one (not even across PID
//!   namespaces). GC treats the paths in locked files as roots and deletes unlocked
//!   (dead) files.
//! - `v1/tmp/<stage-…>/`: a staging directory, locked while it is in use; unlocked ones
//!   are debris from a crash, removed when a store is opened or collected.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::tree::remove_tree;

fn open_lock_file(path: &Path) -> Result<File> {
    let file = std::fs::File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("failed to open lock `{}`: {e}", path.display()),
            )
        })?;
    Ok(file)
}

/// Takes a shared lock on `path`, waiting for an exclusive holder.
pub(crate) fn lock_shared(path: &Path) -> Result<File> {
    let file = open_lock_file(path)?;
    file.lock_shared()?;
    Ok(file)
}

/// Takes an exclusive lock on `path`, waiting for any holder.
pub(crate) fn lock_exclusive(path: &Path) -> Result<File> {
    let file = open_lock_file(path)?;
    file.lock()?;
    Ok(file)
}

/// A staging directory under `tmp/`, locked while alive and removed on drop.
#[derive(Debug)]
pub(crate) struct Staging {
    dir: PathBuf,
    _lock: File,
}

impl Staging {
    /// Creates and locks a staging directory. Both happen under the GC lock (shared),
    /// and debris is only cleaned under the GC lock (exclusive), so a cleaner never sees
    /// a directory between its creation and its locking.
    pub(crate) fn new(tmp: &Path, gc_lock: &Path) -> Result<Self> {
        let _gc = lock_shared(gc_lock)?;
        let dir = tempfile::Builder::new()
            .prefix("stage-")
            .tempdir_in(tmp)?
            .keep();
        let lock = fs_err::File::open(&dir)?.into_parts().0;
        lock.lock()?;
        Ok(Self { dir, _lock: lock })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if let Err(e) = remove_tree(&self.dir) {
            tracing::warn!(
                "failed to remove staging directory `{}`: {e}",
                self.dir.display()
            );
        }
    }
}

/// Removes staging debris if the GC lock can be taken exclusively right now; if not, a
/// GC or a registration is running and the cleaning is left to a later open.
pub(crate) fn try_clean_staging_debris(tmp: &Path, gc_lock: &Path) -> Result<usize> {
    let lock = open_lock_file(gc_lock)?;
    if lock.try_lock().is_err() {
        return Ok(0);
    }
    clean_staging_debris(tmp)
}

/// Removes staging directories nobody holds. The caller holds the GC lock exclusively.
pub(crate) fn clean_staging_debris(tmp: &Path) -> Result<usize> {
    let mut removed = 0;
    for entry in fs_err::read_dir(tmp)? {
        let path = entry?.path();
        let Ok(file) = fs_err::File::open(&path) else {
            continue;
        };
        if file.file().try_lock().is_ok() {
            remove_tree(&path)?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// This handle's temp-roots file, created on first use.
#[derive(Debug)]
pub(crate) struct TempRoots {
    dir: PathBuf,
    /// The file and its path, once created.
    file: Option<(File, PathBuf)>,
    /// Every path added.
    added: std::collections::BTreeSet<String>,
}

impl TempRoots {
    pub(crate) fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_owned(),
            file: None,
            added: std::collections::BTreeSet::new(),
        }
    }

    pub(crate) fn added(&self) -> &std::collections::BTreeSet<String> {
        &self.added
    }

    pub(crate) fn path(&self) -> Option<&Path> {
        self.file.as_ref().map(|(_, path)| path.as_path())
    }

    /// Appends roots. The caller holds the GC lock shared.
    pub(crate) fn add(&mut self, paths: &[String]) -> Result<()> {
        if self.file.is_none() {
            let (file, path) = tempfile::Builder::new()
                .prefix(&format!("{}-", std::process::id()))
                .tempfile_in(&self.dir)?
                .keep()
                .map_err(|e| e.error)?;
            file.lock()?;
            self.file = Some((file, path));
        }
        let (file, _) = self.file.as_mut().expect("set above");
        let mut text = String::new();
        for p in paths {
            text.push_str(p);
            text.push('\n');
            self.added.insert(p.clone());
        }
        file.write_all(text.as_bytes())?;
        Ok(())
    }
}

impl Drop for TempRoots {
    fn drop(&mut self) {
        if let Some((file, path)) = self.file.take() {
            // Unlink while still holding the lock; GC skips files that vanish.
            let _ = fs_err::remove_file(path);
            drop(file);
        }
    }
}

/// Reads the roots of live handles and deletes the files of dead ones. The caller holds
/// the GC lock exclusively. `own` is the caller's own file, locked by itself.
pub(crate) fn live_temp_roots(dir: &Path, own: Option<&Path>) -> Result<Vec<String>> {
    // A handle that exits between our listing and our reading removes its file: that
    // is a dead handle, not an error.
    let gone = |e: &io::Error| e.kind() == io::ErrorKind::NotFound;
    let mut roots = Vec::new();
    for entry in fs_err::read_dir(dir)? {
        let path = entry?.path();
        let file = match fs_err::File::open(&path) {
            Ok(file) => file,
            Err(e) if gone(&e) => continue,
            Err(e) => return Err(e.into()),
        };
        let live = Some(path.as_path()) == own || file.file().try_lock().is_err();
        if live {
            match fs_err::read_to_string(&path) {
                Ok(contents) => roots.extend(contents.lines().map(str::to_owned)),
                Err(e) if gone(&e) => {}
                Err(e) => return Err(e.into()),
            }
        } else if let Err(e) = fs_err::remove_file(&path)
            && !gone(&e)
        {
            return Err(e.into());
        }
    }
    Ok(roots)
}
