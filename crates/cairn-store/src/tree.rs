//! Operations on whole trees in the store's directories: copying a source tree into
//! staging, freezing it read-only, syncing it, and removing it again.

use std::io;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt, symlink};
use std::path::Path;

use cairn_nar::NarError;
use cairn_nar::walk::{EntryKind, WalkEvent, walk};

use crate::error::{Result, StoreError};

/// Copies `source` (a file, symlink or directory) to `dest`, which must not exist.
/// Files get mode 0644 or 0755 according to their executable bit, directories 0755;
/// nothing else of the source's metadata is copied (that is the manifest's job).
/// Returns the number of bytes of file contents copied.
pub(crate) fn copy_tree(source: &Path, dest: &Path) -> Result<u64> {
    let mut bytes = 0u64;
    walk(source, |event| -> Result<()> {
        let WalkEvent::Node(entry) = event else {
            return Ok(());
        };
        let out = if entry.relative.as_os_str().is_empty() {
            dest.to_owned()
        } else {
            dest.join(&entry.relative)
        };
        match entry.kind {
            EntryKind::Directory => {
                fs_err::create_dir(&out)?;
            }
            EntryKind::Regular { executable, .. } => {
                let mut src = entry.open_file()?;
                // A std File on both sides lets io::copy use copy_file_range (and
                // reflinks where the filesystem has them).
                let mut dst = std::fs::File::options()
                    .write(true)
                    .create_new(true)
                    .mode(if executable { 0o755 } else { 0o644 })
                    .open(&out)
                    .map_err(|e| {
                        StoreError::Nar(NarError::Write {
                            path: out.clone(),
                            source: e,
                        })
                    })?;
                bytes += io::copy(&mut src, &mut dst).map_err(|e| {
                    // io::copy cannot say which side failed; these kinds are the
                    // destination's, everything else is blamed on the source.
                    if is_destination_error(&e) {
                        StoreError::Nar(NarError::Write {
                            path: out.clone(),
                            source: e,
                        })
                    } else {
                        StoreError::Nar(NarError::Read {
                            path: entry.path.clone(),
                            source: e,
                        })
                    }
                })?;
            }
            EntryKind::Symlink => {
                let target = entry.read_link()?;
                symlink(&target, &out).map_err(|e| {
                    StoreError::Nar(NarError::Write {
                        path: out.clone(),
                        source: e,
                    })
                })?;
            }
        }
        Ok(())
    })?;
    Ok(bytes)
}

/// Errors that come from where data is written, not from where it is read.
pub(crate) fn is_destination_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::StorageFull
            | io::ErrorKind::QuotaExceeded
            | io::ErrorKind::FileTooLarge
            | io::ErrorKind::ReadOnlyFilesystem
    )
}

/// Makes a tree read-only: files 0444 or 0555, directories 0555. Symlinks are left alone.
pub(crate) fn freeze(root: &Path) -> Result<()> {
    walk(root, |event| -> Result<()> {
        let (entry, mode) = match event {
            // Directories are frozen on the way out, after their children.
            WalkEvent::DirectoryEnd(entry) => (entry, 0o555),
            WalkEvent::Node(entry) => match entry.kind {
                EntryKind::Regular { executable, .. } => {
                    (entry, if executable { 0o555 } else { 0o444 })
                }
                _ => return Ok(()),
            },
        };
        fs_err::set_permissions(&entry.path, std::fs::Permissions::from_mode(mode))?;
        Ok(())
    })
}

/// Removes a tree, first making its directories writable again. A missing path is fine.
pub(crate) fn remove_tree(path: &Path) -> Result<()> {
    let meta = match fs_err::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    if !meta.is_dir() {
        fs_err::remove_file(path)?;
        return Ok(());
    }
    walk(path, |event| -> Result<()> {
        if let WalkEvent::Node(entry) = event
            && entry.kind == EntryKind::Directory
        {
            fs_err::set_permissions(&entry.path, std::fs::Permissions::from_mode(0o755))?;
        }
        Ok(())
    })?;
    fs_err::remove_dir_all(path)?;
    Ok(())
}

/// Flushes everything written to the filesystem holding `path` (one `syncfs` instead of
/// an `fsync` per file).
pub(crate) fn sync_filesystem(path: &Path) -> Result<()> {
    let dir = fs_err::File::open(path)?;
    rustix::fs::syncfs(&dir).map_err(|e| io::Error::from_raw_os_error(e.raw_os_error()))?;
    Ok(())
}

/// Makes a rename or unlink in `dir` durable.
pub(crate) fn fsync_dir(dir: &Path) -> Result<()> {
    fs_err::File::open(dir)?.sync_all()?;
    Ok(())
}

/// Disk usage of a tree in bytes (file sizes; what deleting it frees, roughly).
pub(crate) fn tree_size(path: &Path) -> u64 {
    let mut total = 0;
    let _ = walk(path, |event| -> Result<(), NarError> {
        if let WalkEvent::Node(entry) = event
            && let EntryKind::Regular { size, .. } = entry.kind
        {
            total += size;
        }
        Ok(())
    });
    total
}
