//! A NAR listing: every node of a tree with its type, size, executable bit, symlink
//! target and, for files, the SHA-256 of the contents. Nix keeps `.ls` listings beside
//! NARs in binary caches for the same purpose: knowing what is inside without the NAR.
//! cairn stores one per object so that verification can say *which* file changed.
//!
//! [`Listing::to_bytes`] is canonical (NAR-style framed strings, entries in NAR order)
//! and versioned; [`Listing::from_bytes`] is strict.

use std::collections::BTreeMap;
use std::path::Path;

use crate::encode::NarSink;
use crate::framing::{FramedReader, FramingError, put_str, put_u64};
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

impl Listing {
    /// Canonical bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        put_str(&mut out, LISTING_MAGIC);
        put_u64(&mut out, self.nodes.len() as u64);
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
                    put_u64(&mut out, *size);
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

    /// Parses canonical bytes (entries strictly in path order).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, NarError> {
        Self::parse(bytes).map_err(|e| NarError::Malformed {
            offset: e.offset as u64,
            what: format!("listing: {}", e.what),
        })
    }

    fn parse(bytes: &[u8]) -> Result<Self, FramingError> {
        let mut r = FramedReader::new(bytes);
        r.magic(LISTING_MAGIC)?;
        let count = r.u64()?;
        let mut nodes = BTreeMap::new();
        let mut last: Option<&[u8]> = None;
        for _ in 0..count {
            let path = r.str_ascending(&mut last, "entries")?;
            let node = match r.str()? {
                b"d" => ListedNode::Directory,
                tag @ (b"x" | b"f") => ListedNode::Regular {
                    executable: tag == b"x",
                    size: r.u64()?,
                    sha256: r.bytes(32)?.try_into().expect("32 bytes"),
                },
                b"l" => ListedNode::Symlink {
                    target: r.str()?.to_vec(),
                },
                _ => return Err(r.error("unknown node type")),
            };
            nodes.insert(path.to_vec(), node);
        }
        r.finish()?;
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

/// Like [`crate::dump_path`], and also lists the tree (one read of every file).
pub fn dump_path_listed<S: NarSink>(path: &Path, sink: S) -> Result<(S, u64, Listing), NarError> {
    let mut listing = Listing::default();
    let (sink, size) = crate::encode::dump_tree(path, sink, Some(&mut listing))?;
    Ok((sink, size, listing))
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
