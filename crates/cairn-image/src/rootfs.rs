//! Composing a root file system from store objects.
//!
//! Each *part* (an unpacked package, later a wheel or a build output) is an object
//! holding an FHS fragment (`usr/bin/…`). Composition reads each object's listing and
//! permissions manifest from the store (no walk of the disk) and:
//!
//! - maps paths onto merged-/usr, as Debian does from trixie on: a top-level `bin`,
//!   `sbin` or `lib*` goes under `usr/` (bookworm packages still ship `/bin/sh`), and
//!   the top-level names become symlinks into `usr` (added by [`Rootfs::finish`]);
//! - drops excluded paths ([`Excludes`]: documentation, manuals, locales by default);
//! - unions directories (the first part, in part order, decides a directory's
//!   metadata) and refuses two different files at one path, naming both parts and the
//!   path, unless they are identical (contents, mode, owner) or one part `Replaces`
//!   the other;
//! - keeps hard links and device nodes recorded in a package's metadata.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt as _;

use std::sync::Arc;

use cairn_nar::{ListedNode, Listing};
use cairn_oci::{EntryKind, LayerEntry};
use cairn_store::{Store, StoreError, StorePath};

/// One object to put in the root file system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// What the part is called in messages and layer history (a package name).
    pub label: String,
    /// The package's version, named in the layer history with the label.
    pub version: Option<String>,
    pub object: StorePath,
    /// Labels of parts whose files this part may overwrite (Debian `Replaces`).
    pub replaces: BTreeSet<String>,
    /// The application's own content (a tree of the project's files, a generated
    /// file): never excluded, may overwrite any package's file, layered last.
    pub application: bool,
}

/// Which paths are left out of the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Excludes {
    /// Subtrees left out (relative paths, without a trailing `/`).
    pub trees: Vec<Vec<u8>>,
    /// Inside an excluded tree, files with these names are kept (`copyright`).
    pub keep_names: Vec<Vec<u8>>,
}

impl Default for Excludes {
    /// Documentation (but its `copyright` files), manual and info pages, translations
    /// and lintian overrides: nothing a running program reads.
    fn default() -> Self {
        Self {
            trees: [
                "usr/share/doc",
                "usr/share/man",
                "usr/share/info",
                "usr/share/locale",
                "usr/share/lintian",
            ]
            .iter()
            .map(|t| t.as_bytes().to_vec())
            .collect(),
            keep_names: vec![b"copyright".to_vec()],
        }
    }
}

impl Excludes {
    /// Nothing excluded.
    pub fn none() -> Self {
        Self {
            trees: Vec::new(),
            keep_names: Vec::new(),
        }
    }

    /// Whether `path` is left out. Directories on the way to a kept file stay.
    fn excludes(&self, path: &[u8], is_dir: bool) -> bool {
        self.trees.iter().any(|tree| {
            let Some(rest) = path.strip_prefix(tree.as_slice()) else {
                return false;
            };
            if rest.is_empty() {
                // The tree itself stays when something in it can be kept.
                return self.keep_names.is_empty();
            }
            let Some(rest) = rest.strip_prefix(b"/") else {
                return false;
            };
            if is_dir {
                // `usr/share/doc/<pkg>` may hold a kept file; deeper directories not.
                return self.keep_names.is_empty() || rest.contains(&b'/');
            }
            // Kept: `<tree>/<pkg>/<kept name>`, one level down.
            match rest.split(|&b| b == b'/').collect::<Vec<_>>().as_slice() {
                [_, name] => !self.keep_names.iter().any(|k| k.as_slice() == *name),
                _ => true,
            }
        })
    }
}

/// An entry of the root file system and the part it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootfsEntry {
    pub entry: LayerEntry,
    /// Index into [`Rootfs::parts`]; `None` for entries composition made itself.
    pub part: Option<usize>,
    /// For regular files, the SHA-256 of the contents (from the object's listing).
    pub sha256: Option<[u8; 32]>,
}

/// A composed root file system: every entry by path.
#[derive(Debug, Clone, Default)]
pub struct Rootfs {
    pub parts: Vec<Part>,
    pub entries: BTreeMap<Vec<u8>, RootfsEntry>,
    /// What each part contributes, by part index: its entries after excludes,
    /// including the directories and identical files other parts share, so a part's
    /// layer does not depend on which other parts are in the image.
    pub by_part: Vec<BTreeMap<Vec<u8>, LayerEntry>>,
    /// The group (its own layer) of each entry composition or synthesis made.
    pub groups: BTreeMap<Vec<u8>, String>,
    /// Each part's listing as composition read it, by part index ([`Rootfs::stack`]
    /// reads them again only when a root was not composed).
    pub(crate) listings: Vec<Arc<Listing>>,
}

/// Why a root file system could not be composed.
#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    #[error(
        "`/{}` is in both {first} and {second}, with different contents or metadata",
        String::from_utf8_lossy(path)
    )]
    Conflict {
        path: Vec<u8>,
        first: String,
        second: String,
    },
    #[error("{part}: the object `{object}` is not a directory tree")]
    NotATree { part: String, object: String },
    #[error("{part}: invalid package metadata: {reason}")]
    Metadata { part: String, reason: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The top-level names merged-/usr turns into symlinks into `usr`.
fn is_merged(first: &[u8]) -> bool {
    first == b"bin" || first == b"sbin" || first.starts_with(b"lib")
}

/// Where `path` lands under merged-/usr.
pub fn merged_usr(path: &[u8]) -> Vec<u8> {
    let first = path.split(|&b| b == b'/').next().unwrap_or(path);
    if is_merged(first) {
        [b"usr/".as_slice(), path].concat()
    } else {
        path.to_vec()
    }
}

fn default_mode(node: &ListedNode) -> u32 {
    match node {
        ListedNode::Symlink { .. } => 0o777,
        ListedNode::Regular {
            executable: false, ..
        } => 0o644,
        ListedNode::Directory | ListedNode::Regular { .. } => 0o755,
    }
}

impl Rootfs {
    /// Composes `parts` (in this order: earlier parts decide shared directories).
    pub fn compose(
        store: &Store,
        parts: Vec<Part>,
        excludes: &Excludes,
    ) -> Result<Self, ComposeError> {
        let mut rootfs = Self {
            by_part: vec![BTreeMap::new(); parts.len()],
            parts,
            ..Self::default()
        };
        for index in 0..rootfs.parts.len() {
            rootfs.add_part(store, index, excludes)?;
        }
        rootfs.prune_excluded(excludes);
        Ok(rootfs)
    }

    fn add_part(
        &mut self,
        store: &Store,
        index: usize,
        excludes: &Excludes,
    ) -> Result<(), ComposeError> {
        let part = self.parts[index].clone();
        let none = Excludes::none();
        let excludes = if part.application { &none } else { excludes };
        let listing = Arc::new(store.listing(&part.object)?);
        self.listings.push(Arc::clone(&listing));
        if !matches!(
            listing.nodes.get(b"".as_slice()),
            Some(ListedNode::Directory)
        ) {
            return Err(ComposeError::NotATree {
                part: part.label,
                object: part.object.to_string(),
            });
        }
        let info = store.info(&part.object)?;
        let extra = match info.metadata.get("deb.extra-entries") {
            Some(bytes) => {
                cairn_debian::decode_extra_entries(bytes).map_err(|e| ComposeError::Metadata {
                    part: part.label.clone(),
                    reason: e.to_string(),
                })?
            }
            None => Vec::new(),
        };
        let root = store.object_dir(&part.object);
        for (path, node) in &listing.nodes {
            if path.is_empty() {
                continue;
            }
            let first = path.split(|&b| b == b'/').next().unwrap_or(path);
            // A package's own merged-/usr symlink (`lib64 -> usr/lib64`) is replaced by
            // the canonical one composition adds.
            if path.as_slice() == first
                && is_merged(first)
                && matches!(node, ListedNode::Symlink { .. })
            {
                continue;
            }
            let mapped = merged_usr(path);
            if excludes.excludes(&mapped, matches!(node, ListedNode::Directory)) {
                continue;
            }
            let permissions = info.permissions.get(path);
            let (mode, uid, gid) =
                permissions.map_or((default_mode(node), 0, 0), |p| (p.mode, p.uid, p.gid));
            let xattrs = permissions
                .map(|p| {
                    p.xattrs
                        .iter()
                        .map(|(k, v)| (String::from_utf8_lossy(k).into_owned(), v.clone()))
                        .collect()
                })
                .unwrap_or_default();
            let (kind, sha256) = match node {
                ListedNode::Directory => (EntryKind::Directory, None),
                ListedNode::Symlink { target } => (
                    EntryKind::Symlink {
                        target: target.clone(),
                    },
                    None,
                ),
                ListedNode::Regular { size, sha256, .. } => (
                    EntryKind::File {
                        source: root.join(OsStr::from_bytes(path)),
                        size: *size,
                    },
                    Some(*sha256),
                ),
            };
            let entry = RootfsEntry {
                entry: LayerEntry {
                    path: mapped,
                    kind,
                    mode,
                    uid,
                    gid,
                    xattrs,
                },
                part: Some(index),
                sha256,
            };
            self.insert(entry)?;
        }
        self.add_extra(index, &extra, excludes)?;
        Ok(())
    }

    /// Removes the directories of excluded trees that hold nothing kept (the tree
    /// itself too), so `usr/share/man` leaves no empty shell behind.
    fn prune_excluded(&mut self, excludes: &Excludes) {
        for tree in &excludes.trees {
            let under: Vec<Vec<u8>> = self
                .entries
                .range(tree.clone()..)
                .map(|(p, _)| p)
                .take_while(|p| p.starts_with(tree))
                .filter(|p| p.len() == tree.len() || p[tree.len()] == b'/')
                .cloned()
                .collect();
            // Deepest first, so a directory is judged after its subdirectories went.
            for path in under.into_iter().rev() {
                let is_dir = matches!(
                    self.entries.get(&path).map(|e| &e.entry.kind),
                    Some(EntryKind::Directory)
                );
                let prefix = [path.as_slice(), b"/"].concat();
                let has_children = self
                    .entries
                    .range(prefix.clone()..)
                    .next()
                    .is_some_and(|(p, _)| p.starts_with(&prefix));
                if is_dir && !has_children {
                    self.entries.remove(&path);
                    for list in &mut self.by_part {
                        list.remove(&path);
                    }
                }
            }
        }
    }

    /// Hard links (as links within the part) and device nodes.
    fn add_extra(
        &mut self,
        index: usize,
        extra: &[cairn_debian::ExtraEntry],
        excludes: &Excludes,
    ) -> Result<(), ComposeError> {
        // Hard links form groups (a file and every name linked to it, directly or
        // not): the first path of a group in sort order is the file, every other name
        // links to it, so a reader always meets the file first (found in review: links
        // made pair by pair could chain).
        let mut group_of: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        let find = |group_of: &BTreeMap<Vec<u8>, Vec<u8>>, mut p: Vec<u8>| {
            while let Some(next) = group_of.get(&p) {
                if *next == p {
                    break;
                }
                p = next.clone();
            }
            p
        };
        for e in extra {
            if let cairn_debian::DebEntryKind::HardLink { target } = &e.kind {
                let (a, b) = (
                    find(&group_of, merged_usr(&e.path)),
                    find(&group_of, merged_usr(target)),
                );
                let (low, high) = if a < b { (a, b) } else { (b, a) };
                group_of.insert(high, low.clone());
                group_of.entry(low.clone()).or_insert(low);
            }
        }
        let members: Vec<Vec<u8>> = group_of.keys().cloned().collect();
        for member in members {
            let root = find(&group_of, member.clone());
            if member != root && !excludes.excludes(&member, false) {
                self.make_link(index, &root, &member);
            }
        }
        for e in extra {
            let path = merged_usr(&e.path);
            if excludes.excludes(&path, false) {
                continue;
            }
            let kind = match &e.kind {
                cairn_debian::DebEntryKind::Special { kind, major, minor } => match kind {
                    cairn_debian::SpecialKind::CharDevice => EntryKind::CharDevice {
                        major: *major,
                        minor: *minor,
                    },
                    cairn_debian::SpecialKind::BlockDevice => EntryKind::BlockDevice {
                        major: *major,
                        minor: *minor,
                    },
                    cairn_debian::SpecialKind::Fifo => EntryKind::Fifo,
                },
                _ => continue,
            };
            self.insert(RootfsEntry {
                entry: LayerEntry {
                    path,
                    kind,
                    mode: e.mode & 0o7777,
                    uid: e.uid,
                    gid: e.gid,
                    xattrs: BTreeMap::new(),
                },
                part: Some(index),
                sha256: None,
            })?;
        }
        Ok(())
    }

    /// Turns `link` into a hard link to `file`, when both are this part's files.
    fn make_link(&mut self, index: usize, file: &[u8], link: &[u8]) {
        let is_ours = |e: Option<&RootfsEntry>| {
            e.is_some_and(|e| {
                e.part == Some(index) && matches!(e.entry.kind, EntryKind::File { .. })
            })
        };
        if is_ours(self.entries.get(file))
            && is_ours(self.entries.get(link))
            && let Some(e) = self.entries.get_mut(link)
        {
            e.entry.kind = EntryKind::HardLink {
                target: file.to_vec(),
            };
            if let Some(own) = self.by_part.get_mut(index).and_then(|l| l.get_mut(link)) {
                own.kind = EntryKind::HardLink {
                    target: file.to_vec(),
                };
            }
        }
    }

    fn insert(&mut self, new: RootfsEntry) -> Result<(), ComposeError> {
        let path = new.entry.path.clone();
        let Some(old) = self.entries.get(&path) else {
            self.contribute(&new, None);
            self.entries.insert(path, new);
            return Ok(());
        };
        let same = match (&old.entry.kind, &new.entry.kind) {
            (EntryKind::Directory, EntryKind::Directory) => {
                // Shared: in this part's layer too, with the metadata the image has.
                let mut shared = new.clone();
                shared.entry = old.entry.clone();
                self.contribute(&shared, None);
                return Ok(());
            }
            (EntryKind::File { .. }, EntryKind::File { .. }) => {
                old.sha256 == new.sha256
                    && (old.entry.mode, old.entry.uid, old.entry.gid)
                        == (new.entry.mode, new.entry.uid, new.entry.gid)
            }
            (EntryKind::Symlink { target: a }, EntryKind::Symlink { target: b }) => a == b,
            (a, b) => a == b && old.entry.mode == new.entry.mode,
        };
        if same {
            self.contribute(&new, None);
            return Ok(());
        }
        let label = |e: &RootfsEntry| {
            e.part
                .map_or_else(|| "cairn".to_owned(), |i| self.parts[i].label.clone())
        };
        let (first, second) = (label(old), label(&new));
        // The application's files win over a package's (a configuration file, say),
        // never over another application part's.
        let old_is_package = old.part.is_some_and(|i| !self.parts[i].application);
        // A directory is never replaced by something else, nor something else by a
        // directory: what was under it would be left without a parent (found in review:
        // `write_file("/etc", …)` replaced all of `/etc`).
        let kind_changes = matches!(old.entry.kind, EntryKind::Directory)
            != matches!(new.entry.kind, EntryKind::Directory);
        let new_replaces_old = !kind_changes
            && new.part.is_some_and(|i| {
                self.parts[i].replaces.contains(&first)
                    || (self.parts[i].application && old_is_package)
            });
        let old_replaces_new = !kind_changes
            && old
                .part
                .is_some_and(|i| self.parts[i].replaces.contains(&second));
        if new_replaces_old {
            // A package that `Replaces` another takes the path from its layer. An
            // application part does not: its layer lies above every package layer, so it
            // wins when the layers are stacked, and the package's layer stays the one
            // every other image has.
            let loser = if new.part.is_some_and(|i| self.parts[i].application) {
                None
            } else {
                old.part
            };
            self.contribute(&new, loser);
            self.entries.insert(path, new);
            Ok(())
        } else if old_replaces_new {
            Ok(())
        } else {
            Err(ComposeError::Conflict {
                path,
                first,
                second,
            })
        }
    }

    /// Records what `entry`'s part contributes (and takes the path from `loser`).
    fn contribute(&mut self, entry: &RootfsEntry, loser: Option<usize>) {
        if let Some(i) = loser
            && let Some(list) = self.by_part.get_mut(i)
        {
            list.remove(&entry.entry.path);
        }
        if let Some(i) = entry.part
            && let Some(list) = self.by_part.get_mut(i)
        {
            list.insert(entry.entry.path.clone(), entry.entry.clone());
        }
    }

    /// Adds the merged-/usr symlinks (`bin`, `sbin`, `lib` always; `lib64` and other
    /// `lib<qual>` when `usr/` has them), and the directories every image has.
    pub fn finish(&mut self) {
        let mut names: BTreeSet<Vec<u8>> =
            [b"bin".to_vec(), b"sbin".to_vec(), b"lib".to_vec()].into();
        for path in self.entries.keys() {
            // Only the library directories Debian links (`usr/libexec` stays where it is).
            if let Some(rest) = path.strip_prefix(b"usr/")
                && [b"lib32".as_slice(), b"lib64", b"libx32", b"libo32"].contains(&rest)
            {
                names.insert(rest.to_vec());
            }
        }
        for name in names {
            let target = [b"usr/".as_slice(), &name].concat();
            self.entries.entry(name.clone()).or_insert(RootfsEntry {
                entry: LayerEntry {
                    path: name,
                    kind: EntryKind::Symlink { target },
                    mode: 0o777,
                    uid: 0,
                    gid: 0,
                    xattrs: BTreeMap::new(),
                },
                part: None,
                sha256: None,
            });
        }
        for dir in ["usr", "usr/bin", "usr/sbin", "usr/lib", "etc", "var"] {
            self.entries
                .entry(dir.as_bytes().to_vec())
                .or_insert(RootfsEntry {
                    entry: LayerEntry {
                        path: dir.as_bytes().to_vec(),
                        kind: EntryKind::Directory,
                        mode: 0o755,
                        uid: 0,
                        gid: 0,
                        xattrs: BTreeMap::new(),
                    },
                    part: None,
                    sha256: None,
                });
        }
    }

    /// Makes the root file system a directory tree at `dir` (which must not exist):
    /// files hard-linked from the store (copied across file systems), synthesized
    /// files written, directories `0755` so a sandbox can add mount points. Device nodes
    /// and FIFOs are left out. What a build step sees, in milliseconds: nothing is read.
    pub fn link_into(&self, dir: &std::path::Path) -> std::io::Result<()> {
        use std::os::unix::fs::PermissionsExt as _;
        fs_err::create_dir(dir)?;
        for (path, entry) in &self.entries {
            let target = dir.join(OsStr::from_bytes(path));
            // Entries come sorted, so a directory's entry comes before what it holds;
            // a parent without an entry of its own is made when it is first needed.
            if let Some(parent) = target.parent()
                && !parent.exists()
            {
                fs_err::create_dir_all(parent)?;
            }
            match &entry.entry.kind {
                EntryKind::Directory => match fs_err::create_dir(&target) {
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                    other => other?,
                },
                EntryKind::File { source, .. } => {
                    if fs_err::hard_link(source, &target).is_err() {
                        fs_err::copy(source, &target)?;
                    }
                }
                EntryKind::Bytes(bytes) => {
                    fs_err::write(&target, bytes)?;
                    fs_err::set_permissions(
                        &target,
                        std::fs::Permissions::from_mode(entry.entry.mode & 0o777),
                    )?;
                }
                EntryKind::Symlink { target: link } => {
                    fs_err::os::unix::fs::symlink(OsStr::from_bytes(link), &target)?;
                }
                EntryKind::HardLink { target: other } => {
                    fs_err::hard_link(dir.join(OsStr::from_bytes(other)), &target)?;
                }
                EntryKind::CharDevice { .. } | EntryKind::BlockDevice { .. } | EntryKind::Fifo => {}
            }
        }
        Ok(())
    }

    /// The entry at `path` after following symlinks (absolute and relative, within the
    /// root file system), at most 40 of them, as the kernel does.
    pub fn resolve(&self, path: &[u8]) -> Option<(Vec<u8>, &RootfsEntry)> {
        let mut pending: Vec<Vec<u8>> = split(path).into_iter().rev().collect();
        let mut current: Vec<Vec<u8>> = Vec::new();
        let mut hops = 0;
        while let Some(component) = pending.pop() {
            match component.as_slice() {
                b"." => continue,
                b".." => {
                    current.pop();
                    continue;
                }
                _ => {}
            }
            current.push(component);
            let joined = current.join(&b'/');
            let entry = self.entries.get(&joined)?;
            if let EntryKind::Symlink { target } = &entry.entry.kind {
                hops += 1;
                if hops > 40 {
                    return None;
                }
                current.pop();
                if target.starts_with(b"/") {
                    current.clear();
                }
                pending.extend(split(target).into_iter().rev());
            }
        }
        let joined = current.join(&b'/');
        self.entries.get(&joined).map(|e| (joined, e))
    }

    /// The contents of a regular file entry.
    pub fn read(&self, entry: &RootfsEntry) -> std::io::Result<Vec<u8>> {
        match &entry.entry.kind {
            EntryKind::File { source, .. } => fs_err::read(source),
            EntryKind::Bytes(bytes) => Ok(bytes.clone()),
            EntryKind::HardLink { target } => match self.entries.get(target) {
                Some(e) => self.read(e),
                None => Err(std::io::Error::from(std::io::ErrorKind::NotFound)),
            },
            _ => Err(std::io::Error::from(std::io::ErrorKind::InvalidInput)),
        }
    }

    /// Adds (or replaces) an entry composition or synthesis made itself, in layer group
    /// `group`.
    ///
    /// A path an application part holds is refused: its layer comes last, so the image
    /// would ship the application's file while the build checked the generated one
    /// (found in review: an application `/etc/passwd` over the accounts).
    pub fn put_in(&mut self, group: &str, entry: LayerEntry) -> Result<(), ComposeError> {
        let existing = self.entries.get(&entry.path);
        // A directory that is there already keeps its entry and group, so a group's layer
        // does not depend on which other groups exist (found in review).
        if matches!(entry.kind, EntryKind::Directory) && existing.is_some() {
            return Ok(());
        }
        if let Some(i) = existing.and_then(|e| e.part)
            && self.parts[i].application
        {
            return Err(ComposeError::Conflict {
                path: entry.path,
                first: self.parts[i].label.clone(),
                second: format!("cairn's generated files ({group})"),
            });
        }
        self.groups.insert(entry.path.clone(), group.to_owned());
        self.put(entry);
        Ok(())
    }

    /// Adds (or replaces) an entry composition or synthesis made itself.
    pub fn put(&mut self, entry: LayerEntry) {
        self.entries.insert(
            entry.path.clone(),
            RootfsEntry {
                entry,
                part: None,
                sha256: None,
            },
        );
    }
}

fn split(path: &[u8]) -> Vec<Vec<u8>> {
    path.split(|&b| b == b'/')
        .filter(|c| !c.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}
