//! Permissions manifests: the metadata NAR does not keep.
//!
//! A NAR records only the executable bit, but images need full modes (setuid `sudo`,
//! sticky `/tmp`), owners and sometimes extended attributes (file capabilities such as
//! `ping`'s `cap_net_raw`). Store files themselves stay read-only and owned by the
//! store's user, so this metadata lives beside the tree, as a manifest of the entries
//! whose metadata differs from the default:
//!
//! | entry     | default mode            | uid | gid | xattrs |
//! |-----------|-------------------------|-----|-----|--------|
//! | directory | `0755`                  | 0   | 0   | none   |
//! | file      | `0755` if executable, else `0644` | 0 | 0 | none |
//! | symlink   | `0777` (fixed by Linux) | 0   | 0   | none   |
//!
//! The manifest is part of an object's identity (see [`crate::path`]). Its canonical
//! encoding ([`PermissionsManifest::to_bytes`]) is versioned and strict.

use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use cairn_nar::framing::{FramedReader, FramingError, put_str, put_u64};
use cairn_nar::walk::{Entry, EntryKind, WalkEvent, walk};
use cairn_nar::{ListedNode, Listing};
use data_encoding::{BASE64, HEXLOWER};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::StoreError;

const MAGIC: &[u8] = b"cairn-permissions-v1";

/// Which extended attribute namespaces are captured from a source tree. Others
/// (`security.selinux`, `system.posix_acl_*`, `trusted.*`) describe the host, not the
/// object.
pub const CAPTURED_XATTRS: &[&str] = &["user.", "security.capability"];

/// Full metadata of one entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Permissions {
    /// Permission bits including setuid (`0o4000`), setgid (`0o2000`) and sticky (`0o1000`).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub xattrs: BTreeMap<Vec<u8>, Vec<u8>>,
}

/// The entries of an object whose metadata is not the default, by relative path
/// (`/`-separated bytes, empty for the object's root).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PermissionsManifest {
    entries: BTreeMap<Vec<u8>, Permissions>,
}

/// The default mode for a node.
pub fn default_mode(node: &ListedNode) -> u32 {
    match node {
        ListedNode::Directory
        | ListedNode::Regular {
            executable: true, ..
        } => 0o755,
        ListedNode::Regular {
            executable: false, ..
        } => 0o644,
        ListedNode::Symlink { .. } => 0o777,
    }
}

fn default_mode_of_kind(kind: EntryKind) -> u32 {
    match kind {
        EntryKind::Directory
        | EntryKind::Regular {
            executable: true, ..
        } => 0o755,
        EntryKind::Regular {
            executable: false, ..
        } => 0o644,
        EntryKind::Symlink => 0o777,
    }
}

impl PermissionsManifest {
    /// Records metadata for `path`. A value equal to the default for its node is still
    /// recorded; [`Self::capture`] only inserts non-defaults.
    pub fn insert(&mut self, path: Vec<u8>, permissions: Permissions) {
        self.entries.insert(path, permissions);
    }

    pub fn get(&self, path: &[u8]) -> Option<&Permissions> {
        self.entries.get(path)
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Vec<u8>, &Permissions)> {
        self.entries.iter()
    }

    /// Reads full metadata (mode, owner, captured xattrs) from a tree on disk.
    pub fn capture(root: &Path) -> Result<Self, StoreError> {
        Self::capture_owned(root, None)
    }

    /// As [`PermissionsManifest::capture`], with every entry owned by `owner` (uid,
    /// gid) whoever owns it on disk: what a build step made as root inside its sandbox
    /// is root's, though a build user wrote it.
    pub fn capture_owned(root: &Path, owner: Option<(u32, u32)>) -> Result<Self, StoreError> {
        let mut manifest = Self::default();
        walk(root, |event| -> Result<(), StoreError> {
            let WalkEvent::Node(entry) = event else {
                return Ok(());
            };
            let mut actual = read_permissions(entry)?;
            if let Some((uid, gid)) = owner {
                actual.uid = uid;
                actual.gid = gid;
            }
            let default = Permissions {
                mode: default_mode_of_kind(entry.kind),
                ..Default::default()
            };
            if actual != default {
                manifest.insert(entry.relative.as_os_str().as_bytes().to_vec(), actual);
            }
            Ok(())
        })?;
        Ok(manifest)
    }

    /// Checks the manifest against the tree it describes: every path exists, and modes
    /// agree with what the NAR says (executable bit, symlink mode).
    pub fn validate(&self, listing: &Listing) -> Result<(), StoreError> {
        for (path, perms) in &self.entries {
            let shown = String::from_utf8_lossy(path);
            let node = listing.nodes.get(path).ok_or_else(|| {
                StoreError::InvalidPermissions(format!("`{shown}` is not in the object"))
            })?;
            if perms.mode & !0o7777 != 0 {
                return Err(StoreError::InvalidPermissions(format!(
                    "`{shown}` has mode {:o} beyond 07777",
                    perms.mode
                )));
            }
            match node {
                ListedNode::Regular { executable, .. }
                    if (perms.mode & 0o100 != 0) != *executable =>
                {
                    return Err(StoreError::InvalidPermissions(format!(
                        "mode {:04o} of `{shown}` disagrees with its executable bit in the NAR",
                        perms.mode
                    )));
                }
                ListedNode::Symlink { .. } if perms.mode != 0o777 => {
                    return Err(StoreError::InvalidPermissions(format!(
                        "symlink `{shown}` must have mode 0777"
                    )));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Canonical, versioned bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        put_str(&mut out, MAGIC);
        put_u64(&mut out, self.entries.len() as u64);
        for (path, p) in &self.entries {
            put_str(&mut out, path);
            for v in [p.mode, p.uid, p.gid] {
                put_u64(&mut out, u64::from(v));
            }
            put_u64(&mut out, p.xattrs.len() as u64);
            for (name, value) in &p.xattrs {
                put_str(&mut out, name);
                put_str(&mut out, value);
            }
        }
        out
    }

    /// Parses canonical bytes, refusing anything non-canonical.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, StoreError> {
        Self::parse(bytes).map_err(|e| StoreError::InvalidPermissions(e.to_string()))
    }

    fn parse(bytes: &[u8]) -> Result<Self, FramingError> {
        let mut r = FramedReader::new(bytes);
        r.magic(MAGIC)?;
        let count = r.u64()?;
        let mut manifest = Self::default();
        let mut last: Option<&[u8]> = None;
        for _ in 0..count {
            let path = r.str_ascending(&mut last, "entries")?;
            let (mode, uid, gid) = (r.u32()?, r.u32()?, r.u32()?);
            let mut xattrs = BTreeMap::new();
            let mut last_name: Option<&[u8]> = None;
            for _ in 0..r.u64()? {
                let name = r.str_ascending(&mut last_name, "xattrs")?;
                xattrs.insert(name.to_vec(), r.str()?.to_vec());
            }
            manifest.insert(
                path.to_vec(),
                Permissions {
                    mode,
                    uid,
                    gid,
                    xattrs,
                },
            );
        }
        r.finish()?;
        Ok(manifest)
    }

    /// Hex SHA-256 of the canonical bytes.
    pub fn digest_hex(&self) -> String {
        HEXLOWER.encode(&Sha256::digest(self.to_bytes()))
    }

    /// A JSON-friendly view (paths and xattr names lossily as UTF-8, values in base64).
    pub fn to_json(&self) -> Vec<PermissionsJson> {
        self.entries
            .iter()
            .map(|(path, p)| PermissionsJson {
                path: String::from_utf8_lossy(path).into_owned(),
                mode: format!("{:04o}", p.mode),
                uid: p.uid,
                gid: p.gid,
                xattrs: p
                    .xattrs
                    .iter()
                    .map(|(k, v)| (String::from_utf8_lossy(k).into_owned(), BASE64.encode(v)))
                    .collect(),
            })
            .collect()
    }
}

/// One manifest entry as JSON.
#[derive(Debug, Serialize)]
pub struct PermissionsJson {
    pub path: String,
    pub mode: String,
    pub uid: u32,
    pub gid: u32,
    pub xattrs: BTreeMap<String, String>,
}

fn read_permissions(entry: &Entry) -> Result<Permissions, StoreError> {
    let mode = if entry.kind == EntryKind::Symlink {
        0o777
    } else {
        entry.meta.mode
    };
    Ok(Permissions {
        mode,
        uid: entry.meta.uid,
        gid: entry.meta.gid,
        xattrs: read_xattrs(&entry.path)?,
    })
}

/// Linux's limits on the list of names and on one value (`XATTR_LIST_MAX`, `XATTR_SIZE_MAX`).
const XATTR_MAX: usize = 64 * 1024;

fn read_xattrs(path: &Path) -> Result<BTreeMap<Vec<u8>, Vec<u8>>, StoreError> {
    let mut out = BTreeMap::new();
    let io_err = |e: rustix::io::Errno| -> StoreError {
        StoreError::Io(std::io::Error::other(format!(
            "reading extended attributes of `{}`: {e}",
            path.display()
        )))
    };
    let mut names = vec![0u8; XATTR_MAX];
    let n = match rustix::fs::llistxattr(path, &mut names[..]) {
        Ok(n) => n,
        // Filesystems without xattr support have none to capture.
        Err(rustix::io::Errno::NOTSUP) => return Ok(out),
        Err(e) => return Err(io_err(e)),
    };
    let mut value = vec![0u8; XATTR_MAX];
    for name in names[..n].split(|&b| b == 0).filter(|n| !n.is_empty()) {
        let wanted = CAPTURED_XATTRS.iter().any(|prefix| {
            let prefix = prefix.as_bytes();
            if prefix.ends_with(b".") {
                name.starts_with(prefix)
            } else {
                name == prefix
            }
        });
        if !wanted {
            continue;
        }
        let len = rustix::fs::lgetxattr(path, std::ffi::OsStr::from_bytes(name), &mut value[..])
            .map_err(io_err)?;
        out.insert(name.to_vec(), value[..len].to_vec());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> PermissionsManifest {
        let mut m = PermissionsManifest::default();
        m.insert(
            b"".to_vec(),
            Permissions {
                mode: 0o755,
                uid: 0,
                gid: 0,
                xattrs: BTreeMap::new(),
            },
        );
        m.insert(
            b"tmp".to_vec(),
            Permissions {
                mode: 0o1777,
                ..Default::default()
            },
        );
        m.insert(
            b"usr/bin/ping".to_vec(),
            Permissions {
                mode: 0o755,
                xattrs: [(b"security.capability".to_vec(), vec![1, 0, 0, 2])].into(),
                ..Default::default()
            },
        );
        m.insert(
            b"usr/bin/sudo".to_vec(),
            Permissions {
                mode: 0o4755,
                ..Default::default()
            },
        );
        m
    }

    #[test]
    fn canonical_bytes_round_trip() {
        let m = sample();
        assert_eq!(PermissionsManifest::from_bytes(&m.to_bytes()).unwrap(), m);
        assert_ne!(m.digest_hex(), PermissionsManifest::default().digest_hex());
    }

    #[test]
    fn every_truncation_is_refused() {
        let bytes = sample().to_bytes();
        for cut in 0..bytes.len() {
            assert!(
                PermissionsManifest::from_bytes(&bytes[..cut]).is_err(),
                "cut at {cut}"
            );
        }
    }
}
