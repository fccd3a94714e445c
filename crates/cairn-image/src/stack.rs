//! A composed root file system as overlay layers, for a build step's sandbox.
//!
//! Making a root of links (a directory and a symbolic link per entry, a hard link per
//! file) costs thousands of inode allocations per step; on some file systems that is
//! most of a step's time. But the store objects are FHS fragments already, and from
//! trixie on merged-/usr ones: stacked with overlayfs, they *are* the composed root,
//! nearly. [`Rootfs::stack`] works out what the union would show differently from the
//! composition, and puts only that in a small top layer: composition's own entries
//! (merged-/usr links, alternatives, accounts), files moved under `usr/`, the winner
//! of a `Replaces` that sits lower in the stack. When the union cannot show the same
//! tree (a path that is a directory in one object and a file in another, a path an
//! object holds that the composition left out) it says so, and the caller links the
//! whole root instead.

use std::collections::{BTreeMap, btree_map};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt as _;
use std::path::PathBuf;
use std::sync::Arc;

use cairn_nar::ListedNode;
use cairn_oci::EntryKind;
use cairn_store::{Store, StoreError};

use crate::rootfs::{Rootfs, RootfsEntry};

/// A root file system as the union of store objects under a top layer.
#[derive(Debug, Clone)]
pub struct Stack {
    /// The objects' directories, top first.
    pub lower: Vec<PathBuf>,
    /// What goes in the top layer ([`Rootfs::link_into`] it): the entries the objects
    /// below would not show as the composition has them.
    pub top: Rootfs,
}

fn is_dir(node: &ListedNode) -> bool {
    matches!(node, ListedNode::Directory)
}

/// Every proper ancestor of `path` (`a/b/c`: `a`, `a/b`).
fn ancestors(path: &[u8]) -> impl Iterator<Item = &[u8]> {
    path.iter()
        .enumerate()
        .filter(|&(_, &b)| b == b'/')
        .map(move |(i, _)| &path[..i])
}

impl Rootfs {
    /// This root file system as at most `max_layers` objects under a top layer, or
    /// `None` when their union would not show the same tree.
    ///
    /// Later parts are stacked higher: they win over earlier ones in composition
    /// (`Replaces`, the application's files). A regular file counts as shown when the
    /// top-most object holding its path holds the same contents and executable bit;
    /// its owner and mode are the store's, as they are when it is hard-linked.
    pub fn stack(&self, store: &Store, max_layers: usize) -> Result<Option<Stack>, StoreError> {
        if self.parts.len() > max_layers {
            return Ok(None);
        }
        let listings = if self.listings.len() == self.parts.len() {
            self.listings.clone()
        } else {
            self.parts
                .iter()
                .map(|part| store.listing(&part.object).map(Arc::new))
                .collect::<Result<Vec<_>, _>>()?
        };
        let dirs: Vec<PathBuf> = self
            .parts
            .iter()
            .map(|part| store.object_dir(&part.object))
            .collect();
        // What the union of the objects shows at each path: the top-most node, and
        // the paths where one object has a directory and another something else
        // (overlayfs stops merging a directory at such a layer).
        let mut shown: BTreeMap<&[u8], (usize, &ListedNode)> = BTreeMap::new();
        let mut mixed: Vec<&[u8]> = Vec::new();
        for index in (0..self.parts.len()).rev() {
            for (path, node) in &listings[index].nodes {
                if path.is_empty() {
                    continue;
                }
                match shown.entry(path.as_slice()) {
                    btree_map::Entry::Vacant(slot) => {
                        slot.insert((index, node));
                    }
                    btree_map::Entry::Occupied(seen) => {
                        if is_dir(seen.get().1) != is_dir(node) {
                            mixed.push(path);
                        }
                    }
                }
            }
        }

        let mut top: BTreeMap<Vec<u8>, RootfsEntry> = BTreeMap::new();
        let mut below: Vec<&[u8]> = Vec::new();
        for (path, entry) in &self.entries {
            let node = shown.get(path.as_slice()).map(|&(_, node)| node);
            let supplied = match (&entry.entry.kind, node) {
                (EntryKind::Directory, Some(ListedNode::Directory)) => true,
                (EntryKind::File { source, .. }, Some(node @ ListedNode::Regular { .. })) => {
                    entry.part.is_some_and(|i| {
                        listings[i].nodes.get(path) == Some(node)
                            && *source == dirs[i].join(OsStr::from_bytes(path))
                    })
                }
                (EntryKind::Symlink { target }, Some(ListedNode::Symlink { target: t })) => {
                    target == t
                }
                // The same contents under its own name (an inode of its own).
                (EntryKind::HardLink { target }, Some(ListedNode::Regular { sha256, .. })) => self
                    .entries
                    .get(target)
                    .is_some_and(|t| t.sha256 == Some(*sha256)),
                _ => false,
            };
            if supplied {
                below.push(path);
                continue;
            }
            let mut entry = entry.clone();
            // Linked from the store, as the file it names is.
            if let EntryKind::HardLink { target } = &entry.entry.kind {
                match self.entries.get(target).map(|t| &t.entry.kind) {
                    Some(kind @ EntryKind::File { .. }) => entry.entry.kind = kind.clone(),
                    _ => return Ok(None),
                }
            }
            top.insert(path.clone(), entry);
        }

        // Whether a non-directory of the top layer hides `path` from the objects.
        let hidden = |path: &[u8]| {
            ancestors(path).any(|a| {
                top.get(a)
                    .is_some_and(|e| !matches!(e.entry.kind, EntryKind::Directory))
            })
        };
        let decided_on_top = |path: &[u8]| {
            hidden(path)
                || top
                    .get(path)
                    .is_some_and(|e| !matches!(e.entry.kind, EntryKind::Directory))
        };
        let consistent = below.iter().all(|path| !hidden(path))
            && mixed.iter().all(|path| decided_on_top(path))
            && shown
                .keys()
                .all(|path| self.entries.contains_key(*path) || hidden(path));
        if !consistent {
            return Ok(None);
        }
        Ok(Some(Stack {
            lower: dirs.into_iter().rev().collect(),
            top: Rootfs {
                parts: self.parts.clone(),
                entries: top,
                by_part: Vec::new(),
                groups: BTreeMap::new(),
                listings: Vec::new(),
            },
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::ancestors;

    #[test]
    fn ancestors_are_proper_prefixes() {
        let all: Vec<&[u8]> = ancestors(b"a/b/c").collect();
        assert_eq!(all, [b"a".as_slice(), b"a/b"]);
        assert_eq!(ancestors(b"a").count(), 0);
    }
}
