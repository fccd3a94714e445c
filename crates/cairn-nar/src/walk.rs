//! A sorted, depth-first walk of a file tree: the one place that decides what a tree is.
//!
//! Both NAR serialization and the store's copy into staging walk trees through here, so
//! they agree on entry order (bytewise by name, as NAR requires) and on what is refused:
//! sockets, FIFOs and device nodes have no NAR representation and are an error that names
//! the path.
//!
//! The walk works on directory file descriptors: every entry is looked up, stat-ed,
//! opened and read as a single name relative to its parent's descriptor (`statat`,
//! `openat`, `readlinkat`, never following symlinks). That is both faster than resolving
//! full paths again and again (the kernel's path walk was ~6% of `hash-path`'s CPU time)
//! and safer: a directory renamed or replaced by a symlink mid-walk cannot redirect it.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustix::fs::{AtFlags, CWD, FileType, Mode, OFlags};

use crate::NarError;

/// What kind of node an entry is, as NAR sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    Directory,
    Regular { executable: bool, size: u64 },
    Symlink,
}

/// The metadata of an entry that cairn uses (from `lstat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryMeta {
    /// Permission bits including setuid, setgid and sticky (`0o7777`).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
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
    /// The path on disk (for messages, and for callers that need a path).
    pub path: PathBuf,
    /// The path relative to the walk's root; empty for the root itself.
    pub relative: PathBuf,
    pub kind: EntryKind,
    pub meta: EntryMeta,
    /// The parent directory's descriptor and this entry's name in it (`None` for the root).
    parent: Option<(Arc<OwnedFd>, OsString)>,
}

fn errno(e: rustix::io::Errno) -> io::Error {
    io::Error::from_raw_os_error(e.raw_os_error())
}

impl Entry {
    /// The entry's name within its directory (empty for the root).
    pub fn name(&self) -> &[u8] {
        self.relative.file_name().map_or(&[], |n| n.as_bytes())
    }

    /// Opens a regular file for reading, relative to its parent, without following
    /// symlinks. Errors name the file.
    pub fn open_file(&self) -> Result<File, NarError> {
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NOCTTY;
        let fd = match &self.parent {
            Some((dir, name)) => {
                rustix::fs::openat(dir.as_fd(), name.as_os_str(), flags, Mode::empty())
            }
            None => rustix::fs::openat(CWD, &self.path, flags, Mode::empty()),
        };
        fd.map(File::from)
            .map_err(|e| NarError::read(&self.path, errno(e)))
    }

    /// Reads a symlink's target.
    pub fn read_link(&self) -> Result<PathBuf, NarError> {
        let target = match &self.parent {
            Some((dir, name)) => rustix::fs::readlinkat(dir.as_fd(), name.as_os_str(), Vec::new()),
            None => rustix::fs::readlinkat(CWD, &self.path, Vec::new()),
        };
        target
            .map(|t| PathBuf::from(OsString::from_vec(t.into_bytes())))
            .map_err(|e| NarError::read(&self.path, errno(e)))
    }
}

/// Whether a mode counts as executable in a NAR: Nix looks at the owner's execute bit.
pub fn is_executable(mode: u32) -> bool {
    mode & 0o100 != 0
}

fn kind_of(path: &Path, stat: &rustix::fs::Stat) -> Result<(EntryKind, EntryMeta), NarError> {
    let file_type = FileType::from_raw_mode(stat.st_mode);
    let meta = EntryMeta {
        mode: stat.st_mode & 0o7777,
        uid: stat.st_uid,
        gid: stat.st_gid,
        size: u64::try_from(stat.st_size).unwrap_or(0),
    };
    let kind = match file_type {
        FileType::Directory => EntryKind::Directory,
        FileType::RegularFile => EntryKind::Regular {
            executable: is_executable(meta.mode),
            size: meta.size,
        },
        FileType::Symlink => EntryKind::Symlink,
        other => {
            let what = match other {
                FileType::Socket => "a socket",
                FileType::Fifo => "a FIFO (named pipe)",
                FileType::BlockDevice => "a block device",
                FileType::CharacterDevice => "a character device",
                _ => "of an unknown type",
            };
            return Err(NarError::UnsupportedFileType {
                path: path.to_owned(),
                what,
            });
        }
    };
    Ok((kind, meta))
}

/// Lists the entries of an open directory, sorted bytewise (NAR order).
fn sorted_names(dir: &OwnedFd, path: &Path) -> Result<Vec<OsString>, NarError> {
    let read = |e| NarError::read(path, errno(e));
    let mut names = Vec::new();
    for entry in rustix::fs::Dir::read_from(dir.as_fd()).map_err(read)? {
        let entry = entry.map_err(read)?;
        let name = entry.file_name().to_bytes();
        if name != b"." && name != b".." {
            names.push(OsString::from_vec(name.to_vec()));
        }
    }
    names.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    Ok(names)
}

fn open_dir(entry: &Entry) -> Result<OwnedFd, NarError> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    match &entry.parent {
        Some((dir, name)) => {
            rustix::fs::openat(dir.as_fd(), name.as_os_str(), flags, Mode::empty())
        }
        None => rustix::fs::openat(CWD, &entry.path, flags, Mode::empty()),
    }
    .map_err(|e| NarError::read(&entry.path, errno(e)))
}

/// Walks `root` depth-first in NAR order, calling `visit` for every event.
///
/// The walk is iterative, so deep trees do not grow the stack, and holds one open
/// descriptor per directory level. The callback's error type only needs to absorb
/// [`NarError`].
pub fn walk<E>(root: &Path, mut visit: impl FnMut(WalkEvent<'_>) -> Result<(), E>) -> Result<(), E>
where
    E: From<NarError>,
{
    let stat = rustix::fs::statat(CWD, root, AtFlags::SYMLINK_NOFOLLOW)
        .map_err(|e| NarError::read(root, errno(e)))?;
    let (kind, meta) = kind_of(root, &stat)?;
    let root_entry = Entry {
        path: root.to_owned(),
        relative: PathBuf::new(),
        kind,
        meta,
        parent: None,
    };
    visit(WalkEvent::Node(&root_entry))?;
    if kind != EntryKind::Directory {
        return Ok(());
    }
    // Each frame: the directory entry, its descriptor, and the names still to visit.
    let fd = Arc::new(open_dir(&root_entry)?);
    let names = sorted_names(&fd, root)?;
    let mut stack: Vec<(Entry, Arc<OwnedFd>, std::vec::IntoIter<OsString>)> =
        vec![(root_entry, fd, names.into_iter())];
    while let Some((dir, fd, names)) = stack.last_mut() {
        if let Some(name) = names.next() {
            let path = dir.path.join(&name);
            let stat = rustix::fs::statat(fd.as_fd(), OsStr::new(&name), AtFlags::SYMLINK_NOFOLLOW)
                .map_err(|e| NarError::read(&path, errno(e)))?;
            let (kind, meta) = kind_of(&path, &stat)?;
            let child = Entry {
                relative: dir.relative.join(&name),
                path,
                kind,
                meta,
                parent: Some((Arc::clone(fd), name)),
            };
            visit(WalkEvent::Node(&child))?;
            if kind == EntryKind::Directory {
                let child_fd = Arc::new(open_dir(&child)?);
                let names = sorted_names(&child_fd, &child.path)?;
                stack.push((child, child_fd, names.into_iter()));
            }
        } else {
            let (dir, _, _) = stack.pop().expect("stack is non-empty in this branch");
            visit(WalkEvent::DirectoryEnd(&dir))?;
        }
    }
    Ok(())
}
