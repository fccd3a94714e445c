//! A sorted, depth-first walk of a file tree: the one place that decides what a tree is.
//!
//! Both NAR serialization and the store's copy into staging walk trees through here, so
//! they agree on entry order (bytewise by name, as NAR requires) and on what is refused:
//! sockets, FIFOs and device nodes have no NAR representation and are an error that names
//! the path.

use std::ffi::OsString;
use std::fs::{FileType, Metadata};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::NarError;

/// What kind of node an entry is, as NAR sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    Directory,
    Regular { executable: bool, size: u64 },
    Symlink,
}

/// One event of a walk, in NAR order.
#[derive(Debug)]
pub enum WalkEvent<'a> {
    /// A node: the root (empty `relative`) or an entry of the directory above it.
    Node(&'a Entry),
    /// The end of the directory opened by the most recent unmatched `Node` of kind
    /// [`EntryKind::Directory`].
    DirectoryEnd(&'a Entry),
}

/// A node found by the walk.
#[derive(Debug)]
pub struct Entry {
    /// The path on disk.
    pub path: PathBuf,
    /// The path relative to the walk's root; empty for the root itself.
    pub relative: PathBuf,
    pub kind: EntryKind,
    /// `lstat` metadata.
    pub metadata: Metadata,
}

impl Entry {
    /// The entry's name within its directory (empty for the root).
    pub fn name(&self) -> &[u8] {
        self.relative.file_name().map_or(&[], |n| n.as_bytes())
    }
}

/// Whether a mode counts as executable in a NAR: Nix looks at the owner's execute bit.
pub fn is_executable(mode: u32) -> bool {
    mode & 0o100 != 0
}

fn kind_of(path: &Path, file_type: FileType, metadata: &Metadata) -> Result<EntryKind, NarError> {
    if file_type.is_dir() {
        Ok(EntryKind::Directory)
    } else if file_type.is_file() {
        Ok(EntryKind::Regular {
            executable: is_executable(metadata.permissions().mode()),
            size: metadata.len(),
        })
    } else if file_type.is_symlink() {
        Ok(EntryKind::Symlink)
    } else {
        let what = if file_type.is_socket() {
            "a socket"
        } else if file_type.is_fifo() {
            "a FIFO (named pipe)"
        } else if file_type.is_block_device() {
            "a block device"
        } else if file_type.is_char_device() {
            "a character device"
        } else {
            "of an unknown type"
        };
        Err(NarError::UnsupportedFileType {
            path: path.to_owned(),
            what,
        })
    }
}

fn lstat(path: &Path, relative: PathBuf) -> Result<Entry, NarError> {
    let metadata = fs_err::symlink_metadata(path).map_err(NarError::Io)?;
    let kind = kind_of(path, metadata.file_type(), &metadata)?;
    Ok(Entry {
        path: path.to_owned(),
        relative,
        kind,
        metadata,
    })
}

/// Lists a directory's entry names, sorted bytewise (NAR order).
pub fn sorted_names(dir: &Path) -> Result<Vec<OsString>, NarError> {
    let mut names = Vec::new();
    for entry in fs_err::read_dir(dir).map_err(NarError::Io)? {
        names.push(entry.map_err(NarError::Io)?.file_name());
    }
    names.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    Ok(names)
}

/// Walks `root` depth-first in NAR order, calling `visit` for every event.
///
/// The walk is iterative, so deep trees do not grow the stack. The callback's error
/// type only needs to absorb [`NarError`].
pub fn walk<E>(root: &Path, mut visit: impl FnMut(WalkEvent<'_>) -> Result<(), E>) -> Result<(), E>
where
    E: From<NarError>,
{
    // Each frame: the directory entry and the names of its children still to visit.
    let mut stack: Vec<(Entry, std::vec::IntoIter<OsString>)> = Vec::new();
    let root_entry = lstat(root, PathBuf::new())?;
    visit(WalkEvent::Node(&root_entry))?;
    if root_entry.kind == EntryKind::Directory {
        let names = sorted_names(root)?;
        stack.push((root_entry, names.into_iter()));
    }
    while let Some((dir, names)) = stack.last_mut() {
        if let Some(name) = names.next() {
            let child = lstat(&dir.path.join(&name), dir.relative.join(&name))?;
            visit(WalkEvent::Node(&child))?;
            if child.kind == EntryKind::Directory {
                let names = sorted_names(&child.path)?;
                stack.push((child, names.into_iter()));
            }
        } else {
            let (dir, _) = stack.pop().expect("stack is non-empty in this branch");
            visit(WalkEvent::DirectoryEnd(&dir))?;
        }
    }
    Ok(())
}
