//! Cross-process coordination through `flock(2)` locks (released by the kernel when a
//! process dies, so a SIGKILL never leaves a store locked).
//!
//! - `v1/gc.lock`: shared while objects are registered or temp roots written, exclusive
//!   while garbage is collected. A GC therefore never sees half of a registration.
//! - `v1/locks/<hash32>.lock`: exclusive while one object is being created, so two
//!   processes adding the same object do the rename and registration once.
//! - `v1/temproots/<pid>-<n>`: each open store handle's temporary roots (objects it
//!   added or is using), one path a line, locked exclusively for the handle's lifetime.
//!   GC treats the paths in locked files as roots and deletes unlocked (dead) files.
//! - `v1/tmp/<stage-…>/`: a staging directory, locked while it is in use; unlocked ones
//!   are debris from a crash and are removed when a store is opened.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

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
            std::io::Error::new(
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
    pub(crate) fn new(tmp: &Path) -> Result<Self> {
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

/// Removes staging directories nobody holds (debris of a crashed process).
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

static HANDLE_COUNTER: AtomicU64 = AtomicU64::new(0);

/// This handle's temp-roots file, created on first use.
#[derive(Debug)]
pub(crate) struct TempRoots {
    path: PathBuf,
    file: Option<File>,
}

impl TempRoots {
    pub(crate) fn new(dir: &Path) -> Self {
        let n = HANDLE_COUNTER.fetch_add(1, Ordering::Relaxed);
        Self {
            path: dir.join(format!("{}-{n}", std::process::id())),
            file: None,
        }
    }

    /// Appends roots. The caller holds the GC lock shared.
    pub(crate) fn add(&mut self, paths: &[String]) -> Result<()> {
        if self.file.is_none() {
            let file = open_lock_file(&self.path)?;
            file.lock()?;
            self.file = Some(file);
        }
        let file = self.file.as_mut().expect("set above");
        let mut text = String::new();
        for p in paths {
            text.push_str(p);
            text.push('\n');
        }
        file.write_all(text.as_bytes())?;
        Ok(())
    }
}

impl Drop for TempRoots {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = fs_err::remove_file(&self.path);
        }
    }
}

/// Reads the roots of live handles and deletes the files of dead ones. The caller holds
/// the GC lock exclusively.
pub(crate) fn live_temp_roots(dir: &Path, own: &Path) -> Result<Vec<String>> {
    let mut roots = Vec::new();
    for entry in fs_err::read_dir(dir)? {
        let path = entry?.path();
        let contents = fs_err::read_to_string(&path)?;
        let live = path == own || {
            let file = fs_err::File::open(&path)?;
            file.file().try_lock().is_err()
        };
        if live {
            roots.extend(contents.lines().map(str::to_owned));
        } else {
            fs_err::remove_file(&path)?;
        }
    }
    Ok(roots)
}

impl TempRoots {
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}
