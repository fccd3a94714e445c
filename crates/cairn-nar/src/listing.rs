//! A NAR listing: every node of a tree with its type, size, executable bit, symlink
//! target and, for files, the SHA-256 of the contents. Nix keeps `.ls` listings beside
//! NARs in binary caches for the same purpose: knowing what is inside without the NAR.
//! cairn stores one per object so that verification can say *which* file changed.
//!
//! [`Listing::to_bytes`] is canonical (NAR-style framed strings, entries in NAR order)
//! and versioned; [`Listing::from_bytes`] is strict.

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::encode::{NarSink, NarWriter};
use crate::walk::{EntryKind, WalkEvent, walk};
use crate::{NarError, base32};

const LISTING_MAGIC: &[u8] = b"cairn-nar-listing-v1";

/// What one node is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListedNode {
    Directory,
    Regular {
        executable: bool,
        size: u64,
        sha256: [u8; 32],
    },
    Symlink {
        target: Vec<u8>,
    },
}

/// Every node of a tree by relative path (`/`-separated bytes, empty for the root).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    pub nodes: BTreeMap<Vec<u8>, ListedNode>,
}

/// One way two listings differ, for a human.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListingChange {
    Missing(Vec<u8>),
    Unexpected(Vec<u8>),
    TypeChanged {
        path: Vec<u8>,
        was: &'static str,
        now: &'static str,
    },
    ContentsChanged(Vec<u8>),
    ExecutableChanged {
        path: Vec<u8>,
        now: bool,
    },
    TargetChanged(Vec<u8>),
}

fn show(path: &[u8]) -> String {
    if path.is_empty() {
        "(root)".to_owned()
    } else {
        String::from_utf8_lossy(path).into_owned()
    }
}

impl std::fmt::Display for ListingChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Missing(p) => write!(f, "`{}` is missing", show(p)),
            Self::Unexpected(p) => write!(f, "`{}` is not part of the object", show(p)),
            Self::TypeChanged { path, was, now } => {
                write!(f, "`{}` was a {was} and is now a {now}", show(path))
            }
            Self::ContentsChanged(p) => write!(f, "the contents of `{}` changed", show(p)),
            Self::ExecutableChanged { path, now: true } => {
                write!(f, "`{}` became executable", show(path))
            }
            Self::ExecutableChanged { path, now: false } => {
                write!(f, "`{}` lost its executable bit", show(path))
            }
            Self::TargetChanged(p) => write!(f, "the target of symlink `{}` changed", show(p)),
        }
    }
}

impl ListedNode {
    fn kind_name(&self) -> &'static str {
        match self {
            Self::Directory => "directory",
            Self::Regular { .. } => "file",
            Self::Symlink { .. } => "symlink",
        }
    }
}

fn put_str(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    out.extend_from_slice(bytes);
    out.resize(out.len() + crate::encode::padding(bytes.len() as u64), 0);
}

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn err(&self, what: &str) -> NarError {
        NarError::Malformed {
            offset: self.at as u64,
            what: format!("listing: {what}"),
        }
    }
    fn u64(&mut self) -> Result<u64, NarError> {
        let end = self.at + 8;
        let bytes = self
            .bytes
            .get(self.at..end)
            .ok_or_else(|| self.err("truncated"))?;
        self.at = end;
        Ok(u64::from_le_bytes(bytes.try_into().expect("8 bytes")))
    }
    fn str(&mut self) -> Result<&[u8], NarError> {
        let len = usize::try_from(self.u64()?).map_err(|_| self.err("length overflows"))?;
        let pad = crate::encode::padding(len as u64);
        let start = self.at;
        let end = start
            .checked_add(len)
            .ok_or_else(|| self.err("length overflows"))?;
        let bytes = self
            .bytes
            .get(start..end)
            .ok_or_else(|| self.err("truncated"))?;
        if self
            .bytes
            .get(end..end + pad)
            .is_none_or(|p| p.iter().any(|&b| b != 0))
        {
            return Err(self.err("bad padding"));
        }
        self.at = end + pad;
        Ok(bytes)
    }
}

impl Listing {
    /// Canonical bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        put_str(&mut out, LISTING_MAGIC);
        out.extend_from_slice(&(self.nodes.len() as u64).to_le_bytes());
        for (path, node) in &self.nodes {
            put_str(&mut out, path);
            match node {
                ListedNode::Directory => put_str(&mut out, b"d"),
                ListedNode::Regular {
                    executable,
                    size,
                    sha256,
                } => {
                    put_str(&mut out, if *executable { b"x" } else { b"f" });
                    out.extend_from_slice(&size.to_le_bytes());
                    out.extend_from_slice(sha256);
                }
                ListedNode::Symlink { target } => {
                    put_str(&mut out, b"l");
                    put_str(&mut out, target);
                }
            }
        }
        out
    }

    /// Parses canonical bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, NarError> {
        let mut c = Cursor { bytes, at: 0 };
        if c.str()? != LISTING_MAGIC {
            return Err(c.err("unknown format version"));
        }
        let count = c.u64()?;
        let mut nodes = BTreeMap::new();
        for _ in 0..count {
            let path = c.str()?.to_vec();
            let node = match c.str()? {
                b"d" => ListedNode::Directory,
                tag @ (b"x" | b"f") => {
                    let executable = tag == b"x";
                    let size = c.u64()?;
                    let end = c.at + 32;
                    let sha256 = c.bytes.get(c.at..end).ok_or_else(|| c.err("truncated"))?;
                    let sha256 = sha256.try_into().expect("32 bytes");
                    c.at = end;
                    ListedNode::Regular {
                        executable,
                        size,
                        sha256,
                    }
                }
                b"l" => ListedNode::Symlink {
                    target: c.str()?.to_vec(),
                },
                _ => return Err(c.err("unknown node type")),
            };
            if nodes.insert(path, node).is_some() {
                return Err(c.err("duplicate path"));
            }
        }
        if c.at != bytes.len() {
            return Err(c.err("trailing bytes"));
        }
        Ok(Self { nodes })
    }

    /// What changed from `self` (expected) to `actual`, in path order.
    pub fn diff(&self, actual: &Listing) -> Vec<ListingChange> {
        let mut changes = Vec::new();
        for (path, want) in &self.nodes {
            let Some(have) = actual.nodes.get(path) else {
                changes.push(ListingChange::Missing(path.clone()));
                continue;
            };
            match (want, have) {
                (ListedNode::Directory, ListedNode::Directory) => {}
                (
                    ListedNode::Regular {
                        executable: e1,
                        size: s1,
                        sha256: h1,
                    },
                    ListedNode::Regular {
                        executable: e2,
                        size: s2,
                        sha256: h2,
                    },
                ) => {
                    if (s1, h1) != (s2, h2) {
                        changes.push(ListingChange::ContentsChanged(path.clone()));
                    }
                    if e1 != e2 {
                        changes.push(ListingChange::ExecutableChanged {
                            path: path.clone(),
                            now: *e2,
                        });
                    }
                }
                (ListedNode::Symlink { target: t1 }, ListedNode::Symlink { target: t2 }) => {
                    if t1 != t2 {
                        changes.push(ListingChange::TargetChanged(path.clone()));
                    }
                }
                _ => changes.push(ListingChange::TypeChanged {
                    path: path.clone(),
                    was: want.kind_name(),
                    now: have.kind_name(),
                }),
            }
        }
        for path in actual.nodes.keys() {
            if !self.nodes.contains_key(path) {
                changes.push(ListingChange::Unexpected(path.clone()));
            }
        }
        changes
    }
}

/// Reads through to the NAR sink while hashing the file on its own.
struct DigestReader<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> Read for DigestReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Like [`crate::dump_path`], and also lists the tree (one read of every file).
pub fn dump_path_listed<S: NarSink>(path: &Path, sink: S) -> Result<(S, u64, Listing), NarError> {
    let mut writer = NarWriter::new(sink).map_err(NarError::Io)?;
    let mut listing = Listing::default();
    walk(path, |event| -> Result<(), NarError> {
        match event {
            WalkEvent::Node(entry) => {
                let is_root = entry.relative.as_os_str().is_empty();
                let rel = entry.relative.as_os_str().as_bytes().to_vec();
                if !is_root {
                    writer.entry_start(entry.name()).map_err(NarError::Io)?;
                }
                let node = match entry.kind {
                    EntryKind::Directory => {
                        writer.directory_start().map_err(NarError::Io)?;
                        ListedNode::Directory
                    }
                    EntryKind::Regular { executable, size } => {
                        let file = entry.open_file()?;
                        let mut reader = DigestReader {
                            inner: file,
                            hasher: Sha256::new(),
                        };
                        writer
                            .regular(executable, size, &mut reader)
                            .map_err(|e| crate::encode::contents_error(e, &entry.path))?;
                        ListedNode::Regular {
                            executable,
                            size,
                            sha256: reader.hasher.finalize().into(),
                        }
                    }
                    EntryKind::Symlink => {
                        let target = entry.read_link()?;
                        let target = target.as_os_str().as_bytes().to_vec();
                        writer.symlink(&target).map_err(NarError::Io)?;
                        ListedNode::Symlink { target }
                    }
                };
                if !is_root && entry.kind != EntryKind::Directory {
                    writer.entry_end().map_err(NarError::Io)?;
                }
                listing.nodes.insert(rel, node);
            }
            WalkEvent::DirectoryEnd(entry) => {
                writer.directory_end().map_err(NarError::Io)?;
                if !entry.relative.as_os_str().is_empty() {
                    writer.entry_end().map_err(NarError::Io)?;
                }
            }
        }
        Ok(())
    })?;
    let size = writer.size();
    Ok((writer.finish(), size, listing))
}

/// Hex-free short form of a file digest for messages.
pub fn short_digest(sha256: &[u8; 32]) -> String {
    base32::encode(&sha256[..10])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_round_trips_and_diffs() {
        let tmp = std::env::temp_dir().join(format!("cairn-listing-{}", std::process::id()));
        let _ = fs_err::remove_dir_all(&tmp);
        fs_err::create_dir_all(tmp.join("d")).unwrap();
        fs_err::write(tmp.join("d/f"), b"one").unwrap();
        std::os::unix::fs::symlink("f", tmp.join("d/l")).unwrap();
        let (_, _, before) = dump_path_listed(&tmp, crate::HashSink::new()).unwrap();
        assert_eq!(Listing::from_bytes(&before.to_bytes()).unwrap(), before);
        fs_err::write(tmp.join("d/f"), b"two").unwrap();
        fs_err::remove_file(tmp.join("d/l")).unwrap();
        fs_err::write(tmp.join("d/new"), b"").unwrap();
        let (_, _, after) = dump_path_listed(&tmp, crate::HashSink::new()).unwrap();
        let changes: Vec<String> = before
            .diff(&after)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            changes,
            [
                "the contents of `d/f` changed",
                "`d/l` is missing",
                "`d/new` is not part of the object"
            ]
        );
        fs_err::remove_dir_all(&tmp).unwrap();
    }
}
