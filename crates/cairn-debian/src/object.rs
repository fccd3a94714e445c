//! `.deb` files as store objects.
//!
//! The object's tree is the package's data tree. Its permissions manifest records
//! every mode, setuid/setgid/sticky bit and owner from the tar headers that differs
//! from the store's defaults. Its metadata keeps what the image builder needs later and
//! a NAR cannot hold:
//!
//! | key | value |
//! |---|---|
//! | `deb.control` | the control file |
//! | `deb.md5sums`, `deb.conffiles` | as shipped, when present |
//! | `deb.script.<name>` | maintainer scripts and other control members, never run |
//! | `deb.extra-entries` | hard links and device nodes/FIFOs (`cairn-deb-extra-v1`) |
//!
//! Its references are the caller's: the resolved dependencies.

use std::path::Path;

use cairn_nar::framing::{FramedReader, FramingError, put_str, put_u64};
use cairn_store::{
    AddOptions, NoReporter, ObjectMetadata, Permissions, PermissionsManifest, PermissionsSource,
    Store, StoreError, StorePath, sanitize_name,
};
use deb822_fast::borrowed::BorrowedParagraphIter;

use crate::deb::{DebContents, DebEntry, DebEntryKind, DebError, SpecialKind, read_deb};

const EXTRA_MAGIC: &[u8] = b"cairn-deb-extra-v1";

/// Why a package could not become a store object.
#[derive(Debug, thiserror::Error)]
pub enum DebObjectError {
    #[error(transparent)]
    Deb(#[from] DebError),
    #[error("`{}`: the control file has no `{field}`", deb.display())]
    Control {
        deb: std::path::PathBuf,
        field: &'static str,
    },
    #[error("`{}` is `{found}` by its control file, not what was expected", deb.display())]
    NameMismatch {
        deb: std::path::PathBuf,
        found: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// An entry the object's tree cannot hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraEntry {
    pub path: Vec<u8>,
    pub kind: DebEntryKind,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

fn default_mode(kind: &DebEntryKind, mode: u32) -> u32 {
    match kind {
        DebEntryKind::Directory => 0o755,
        DebEntryKind::Symlink { .. } => 0o777,
        _ if mode & 0o100 != 0 => 0o755,
        _ => 0o644,
    }
}

/// The permissions manifest of a package's data tree.
pub fn permissions_of(entries: &[DebEntry]) -> PermissionsManifest {
    let mut manifest = PermissionsManifest::default();
    for e in entries {
        if matches!(e.kind, DebEntryKind::Special { .. }) {
            continue;
        }
        // Symlink modes are not real on Linux; only their owners matter.
        let mode = if matches!(e.kind, DebEntryKind::Symlink { .. }) {
            0o777
        } else {
            e.mode
        };
        if (mode, e.uid, e.gid) != (default_mode(&e.kind, e.mode), 0, 0) {
            manifest.insert(
                e.path.clone(),
                Permissions {
                    mode,
                    uid: e.uid,
                    gid: e.gid,
                    xattrs: std::collections::BTreeMap::default(),
                },
            );
        }
    }
    manifest
}

/// Encodes the entries the tree cannot hold (hard links, device nodes, FIFOs).
pub fn encode_extra_entries(entries: &[DebEntry]) -> Vec<u8> {
    let extra: Vec<&DebEntry> = entries
        .iter()
        .filter(|e| {
            matches!(
                e.kind,
                DebEntryKind::HardLink { .. } | DebEntryKind::Special { .. }
            )
        })
        .collect();
    let mut out = Vec::new();
    put_str(&mut out, EXTRA_MAGIC);
    put_u64(&mut out, extra.len() as u64);
    for e in extra {
        put_str(&mut out, &e.path);
        match &e.kind {
            DebEntryKind::HardLink { target } => {
                put_str(&mut out, b"hardlink");
                put_str(&mut out, target);
                put_u64(&mut out, 0);
                put_u64(&mut out, 0);
            }
            DebEntryKind::Special { kind, major, minor } => {
                let name: &[u8] = match kind {
                    SpecialKind::CharDevice => b"char",
                    SpecialKind::BlockDevice => b"block",
                    SpecialKind::Fifo => b"fifo",
                };
                put_str(&mut out, name);
                put_str(&mut out, b"");
                put_u64(&mut out, u64::from(*major));
                put_u64(&mut out, u64::from(*minor));
            }
            _ => unreachable!("filtered above"),
        }
        for v in [e.mode, e.uid, e.gid] {
            put_u64(&mut out, u64::from(v));
        }
    }
    out
}

/// Decodes [`encode_extra_entries`].
pub fn decode_extra_entries(bytes: &[u8]) -> Result<Vec<ExtraEntry>, FramingError> {
    let mut r = FramedReader::new(bytes);
    r.magic(EXTRA_MAGIC)?;
    let mut out = Vec::new();
    for _ in 0..r.u64()? {
        let path = r.str()?.to_vec();
        let kind_name = r.str()?;
        let target = r.str()?.to_vec();
        let (major, minor) = (r.u32()?, r.u32()?);
        let kind = match kind_name {
            b"hardlink" => DebEntryKind::HardLink { target },
            b"char" => DebEntryKind::Special {
                kind: SpecialKind::CharDevice,
                major,
                minor,
            },
            b"block" => DebEntryKind::Special {
                kind: SpecialKind::BlockDevice,
                major,
                minor,
            },
            b"fifo" => DebEntryKind::Special {
                kind: SpecialKind::Fifo,
                major,
                minor,
            },
            _ => return Err(r.error("unknown entry kind")),
        };
        let (mode, uid, gid) = (r.u32()?, r.u32()?, r.u32()?);
        out.push(ExtraEntry {
            path,
            kind,
            mode,
            uid,
            gid,
        });
    }
    r.finish()?;
    Ok(out)
}

fn metadata_of(contents: &DebContents) -> ObjectMetadata {
    let mut metadata = ObjectMetadata::default();
    metadata.insert("deb.control", contents.control.control.as_bytes());
    if let Some(md5sums) = &contents.control.md5sums {
        metadata.insert("deb.md5sums", md5sums.as_bytes());
    }
    if let Some(conffiles) = &contents.control.conffiles {
        metadata.insert("deb.conffiles", conffiles.as_bytes());
    }
    for (name, data) in &contents.control.scripts {
        metadata.insert(format!("deb.script.{name}"), data.clone());
    }
    metadata.insert("deb.extra-entries", encode_extra_entries(&contents.entries));
    metadata
}

/// Unpacks `deb` and adds it to `store` as `<package>_<version>_<arch>`, referring to
/// `references` (its resolved dependencies, already in the store).
pub fn add_deb(
    store: &Store,
    deb: &Path,
    references: &[StorePath],
) -> Result<StorePath, DebObjectError> {
    add_deb_as(store, deb, references, None, None)
}

/// [`add_deb`] with an explicit addressing (content addressing when `None`) and,
/// optionally, the object name the package must have (checked against its control file
/// before anything is registered).
pub fn add_deb_as(
    store: &Store,
    deb: &Path,
    references: &[StorePath],
    addressing: Option<cairn_store::Addressing>,
    expected_name: Option<&str>,
) -> Result<StorePath, DebObjectError> {
    let scratch = tempfile::tempdir()?;
    let tree = scratch.path().join("data");
    let contents = read_deb(deb, &tree)?;
    let control = BorrowedParagraphIter::new(&contents.control.control)
        .next()
        .and_then(Result::ok);
    let field = |name: &'static str| {
        control
            .as_ref()
            .and_then(|p| p.get_single(name))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| DebObjectError::Control {
                deb: deb.to_owned(),
                field: name,
            })
    };
    let name = sanitize_name(&format!(
        "{}_{}_{}",
        field("Package")?,
        field("Version")?,
        field("Architecture")?
    ));
    if let Some(expected) = expected_name
        && expected != name
    {
        return Err(DebObjectError::NameMismatch {
            deb: deb.to_owned(),
            found: name,
        });
    }
    let options = AddOptions {
        name: Some(name),
        references: references.to_vec(),
        permissions: PermissionsSource::Explicit(permissions_of(&contents.entries)),
        metadata: metadata_of(&contents),
        addressing,
    };
    Ok(store.add_path(&tree, &options, &NoReporter)?)
}
