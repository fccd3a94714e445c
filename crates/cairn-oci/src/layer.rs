//! Deterministic tar layers (OCI image-spec `layer.md`: "Image Layer Filesystem
//! Changeset").
//!
//! [`write_layer`] writes the bytes of a layer as a pure function of its entries and
//! [`LayerOptions`]: entries are sorted bytewise by path whatever the input order, every
//! header field is set explicitly (mtime from the options, numeric owners, no user or
//! group names, no atime/ctime), and nothing is read from the host except the contents
//! of [`EntryKind::File`] sources, whose sizes are checked.
//!
//! The format is POSIX ustar with pax extended headers (POSIX.1-2017, `pax`, sections
//! "ustar Interchange Format" and "pax Interchange Format"), written the way Go's
//! `archive/tar` writes them (and so Docker, BuildKit and containerd):
//! - Headers are ustar, not GNU: ustar is the standard format every reader knows, and
//!   its extension mechanism (pax) is also standard, while GNU's (`././@LongLink`
//!   entries, base-256 numbers) is not. GNU tar, bsdtar, Go, Python's `tarfile` and
//!   the `tar` crate all read pax.
//! - A pax extended header (`x`) precedes an entry only when the entry needs one: a path
//!   that is not ASCII or cannot be split into ustar's `prefix` (155 bytes) and `name`
//!   (100 bytes), a link target that is not ASCII or is longer than 100 bytes, a uid,
//!   gid, size or mtime beyond the octal fields, or extended attributes, which are
//!   `SCHILY.xattr.<name>` records (how `security.capability` reaches containers-storage
//!   and containerd). Records are sorted by key. Header fields that a record overrides
//!   hold `0`, or an ASCII rendering of the name for old readers.
//! - Non-UTF-8 names are written as raw bytes in `path`/`linkpath` records, without
//!   `hdrcharset=BINARY`, which GNU tar 1.34 does not know (it warns); readers take the
//!   bytes as they are (Python falls back to `surrogateescape`).
//! - The archive ends with two zero blocks, as POSIX requires, and is not padded to a
//!   10 KiB record as GNU tar pads it: Go and the `tar` crate do the same and no reader
//!   needs the padding.
//!
//! Compressed bytes also depend on the compressor's version (libdeflate for gzip,
//! libzstd), which `Cargo.lock` pins; the `diff_id` depends on nothing but the entries
//! and options.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::PathBuf;

use crate::digest::Digest;
use crate::stream::{Encoder, FixedChunks, HashingWriter};
use crate::ustar::{COPY_BUFFER, write_entry};

/// One entry of a layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerEntry {
    /// Relative, `/`-separated, without a leading `/` or a trailing one for directories
    /// (`b"usr/bin/python3"`).
    pub path: Vec<u8>,
    pub kind: EntryKind,
    /// Permission bits including setuid, setgid and sticky; bits beyond `0o7777` are
    /// ignored.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// Extended attributes by name (`security.capability`), written as pax
    /// `SCHILY.xattr.<name>` records.
    pub xattrs: BTreeMap<String, Vec<u8>>,
}

/// What an entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    Directory,
    /// A regular file read from `source` (e.g. a file in the store) when the layer is
    /// written; `size` is checked.
    File {
        source: PathBuf,
        size: u64,
    },
    /// A regular file given in memory (synthesized files).
    Bytes(Vec<u8>),
    Symlink {
        target: Vec<u8>,
    },
    /// A hard link to a regular-file entry of the same layer that sorts before it
    /// (relative path).
    HardLink {
        target: Vec<u8>,
    },
    CharDevice {
        major: u32,
        minor: u32,
    },
    BlockDevice {
        major: u32,
        minor: u32,
    },
    Fifo,
}

/// How the tar stream is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// gzip by libdeflate, level 4, mtime 0, OS byte 255 (unknown), in members of
    /// 32 MiB of tar.
    #[default]
    Gzip,
    /// zstd, level 3, single-threaded, with a content checksum.
    Zstd,
    /// Plain tar.
    None,
}

impl Compression {
    /// `gzip`, `zstd` or `none`, as a spec or the command line names it.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "gzip" => Some(Self::Gzip),
            "zstd" => Some(Self::Zstd),
            "none" => Some(Self::None),
            _ => None,
        }
    }

    /// The OCI media type of a layer compressed this way.
    pub fn media_type(self) -> &'static str {
        match self {
            Self::Gzip => "application/vnd.oci.image.layer.v1.tar+gzip",
            Self::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
            Self::None => "application/vnd.oci.image.layer.v1.tar",
        }
    }
}

/// Everything besides the entries that the bytes of a layer depend on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerOptions {
    pub compression: Compression,
    /// Seconds since the epoch, the mtime of every entry (SOURCE_DATE_EPOCH or a fixed
    /// default chosen by the caller).
    pub mtime: u64,
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenLayer {
    /// sha256 of the uncompressed tar (the image config's `diff_id`).
    pub diff_id: Digest,
    /// sha256 of the bytes written (the blob digest).
    pub digest: Digest,
    /// Length of the bytes written.
    pub size: u64,
    /// `application/vnd.oci.image.layer.v1.tar+gzip`, `…+zstd` or `….tar`.
    pub media_type: &'static str,
    /// Length of the uncompressed tar.
    pub uncompressed_size: u64,
}

/// Why a layer could not be written. Paths are shown lossily when they are not UTF-8.
#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    #[error("Invalid layer path `{path}`: {reason}")]
    BadPath { path: String, reason: &'static str },
    #[error("Duplicate layer entry `{0}`")]
    Duplicate(String),
    #[error("Layer entry `{path}` is below `{parent}`, which is not a directory in the layer")]
    ParentNotDirectory { path: String, parent: String },
    #[error("Invalid symlink `{path}`: {reason}")]
    BadSymlinkTarget { path: String, reason: &'static str },
    #[error("Hard link `{path}` to `{target}`: {reason}")]
    HardLinkTarget {
        path: String,
        target: String,
        reason: &'static str,
    },
    #[error("Layer entry `{path}` has an invalid extended attribute name `{name}`: {reason}")]
    BadXattr {
        path: String,
        name: String,
        reason: &'static str,
    },
    #[error(
        "Device `{path}` ({major}, {minor}): device numbers above 2097151 do not fit a tar header"
    )]
    DeviceNumber {
        path: String,
        major: u32,
        minor: u32,
    },
    #[error("Source `{}` of layer entry `{entry}` is not a regular file", source_path.display())]
    NotARegularFile { entry: String, source_path: PathBuf },
    #[error(
        "Source `{}` of layer entry `{entry}` has {actual} bytes, expected {expected}",
        source_path.display()
    )]
    SizeMismatch {
        entry: String,
        source_path: PathBuf,
        expected: u64,
        actual: u64,
    },
    #[error("Failed to read `{}` for layer entry `{entry}`", source_path.display())]
    Read {
        entry: String,
        source_path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("Failed to write the layer")]
    Write(#[source] io::Error),
}

pub(crate) const BLOCK: usize = 512;

/// The largest value of a ustar numeric field of `width` bytes (octal digits and a NUL).
pub(crate) const fn octal_max(width: usize) -> u64 {
    (1 << (3 * (width - 1))) - 1
}

/// Writes `entries` as a tar layer, compressed per `options`, to `out`, hashing the
/// uncompressed stream (`diff_id`) and the bytes written (`digest`) as they pass.
///
/// Entries are checked before anything is written: paths (relative, no empty, `.` or
/// `..` segment, no NUL, no duplicate), parents that are entries of the layer must be
/// directories (parents that are not entries are left to lower layers), hard links
/// point to a regular file that sorts before them, symlink targets are non-empty.
/// A file source that turns out to have another size fails the call midway: on any
/// error the output is incomplete and must be discarded.
pub fn write_layer<W: Write>(
    entries: &[LayerEntry],
    options: &LayerOptions,
    out: W,
) -> Result<WrittenLayer, LayerError> {
    let sorted = check_entries(entries)?;

    let encoder =
        Encoder::new(options.compression, HashingWriter::new(out)).map_err(LayerError::Write)?;
    let mut tar = HashingWriter::new(FixedChunks::new(encoder));
    let mut buffer = vec![0; COPY_BUFFER];
    for entry in sorted {
        write_entry(&mut tar, entry, options.mtime, &mut buffer)?;
    }
    tar.write_all(&[0; 2 * BLOCK]).map_err(LayerError::Write)?;

    let (chunks, diff_id, uncompressed_size) = tar.finish();
    let mut written = chunks
        .finish()
        .and_then(Encoder::finish)
        .map_err(LayerError::Write)?;
    written.flush().map_err(LayerError::Write)?;
    let (_, digest, size) = written.finish();
    Ok(WrittenLayer {
        diff_id,
        digest,
        size,
        media_type: options.compression.media_type(),
        uncompressed_size,
    })
}

pub(crate) fn shown(path: &[u8]) -> String {
    String::from_utf8_lossy(path).into_owned()
}

fn is_regular(kind: &EntryKind) -> bool {
    matches!(kind, EntryKind::File { .. } | EntryKind::Bytes(_))
}

/// Checks a relative layer path.
fn check_path(path: &[u8]) -> Result<(), &'static str> {
    if path.is_empty() {
        return Err("empty path");
    }
    if path.starts_with(b"/") {
        return Err("absolute path");
    }
    if path.contains(&0) {
        return Err("NUL byte");
    }
    for segment in path.split(|&b| b == b'/') {
        match segment {
            b"" => return Err("empty segment (`//` or a trailing `/`)"),
            b"." => return Err("`.` segment"),
            b".." => return Err("`..` segment"),
            _ => {}
        }
    }
    Ok(())
}

/// Validates `entries` and returns them sorted bytewise by path.
fn check_entries(entries: &[LayerEntry]) -> Result<Vec<&LayerEntry>, LayerError> {
    let mut sorted: Vec<&LayerEntry> = entries.iter().collect();
    sorted.sort_by(|a, b| a.path.cmp(&b.path));
    for entry in &sorted {
        check_path(&entry.path).map_err(|reason| LayerError::BadPath {
            path: shown(&entry.path),
            reason,
        })?;
    }
    if let Some(pair) = sorted.windows(2).find(|pair| pair[0].path == pair[1].path) {
        return Err(LayerError::Duplicate(shown(&pair[0].path)));
    }
    let kinds: BTreeMap<&[u8], &EntryKind> = sorted
        .iter()
        .map(|entry| (entry.path.as_slice(), &entry.kind))
        .collect();

    for entry in &sorted {
        let path = entry.path.as_slice();
        for (i, _) in path.iter().enumerate().filter(|(_, b)| **b == b'/') {
            let parent = &path[..i];
            if kinds
                .get(parent)
                .is_some_and(|kind| !matches!(kind, EntryKind::Directory))
            {
                return Err(LayerError::ParentNotDirectory {
                    path: shown(path),
                    parent: shown(parent),
                });
            }
        }
        match &entry.kind {
            EntryKind::Symlink { target } => {
                let reason = if target.is_empty() {
                    Some("empty target")
                } else if target.contains(&0) {
                    Some("NUL byte in target")
                } else {
                    None
                };
                if let Some(reason) = reason {
                    return Err(LayerError::BadSymlinkTarget {
                        path: shown(path),
                        reason,
                    });
                }
            }
            EntryKind::HardLink { target } => {
                let reason = match kinds.get(target.as_slice()) {
                    None => Some("the target is not an entry of the layer"),
                    Some(kind) if !is_regular(kind) => Some("the target is not a regular file"),
                    Some(_) if target.as_slice() >= path => {
                        Some("the target does not sort before the link")
                    }
                    Some(_) => None,
                };
                if let Some(reason) = reason {
                    return Err(LayerError::HardLinkTarget {
                        path: shown(path),
                        target: shown(target),
                        reason,
                    });
                }
            }
            EntryKind::CharDevice { major, minor } | EntryKind::BlockDevice { major, minor } => {
                let max = octal_max(8);
                if u64::from(*major) > max || u64::from(*minor) > max {
                    return Err(LayerError::DeviceNumber {
                        path: shown(path),
                        major: *major,
                        minor: *minor,
                    });
                }
            }
            EntryKind::Directory
            | EntryKind::File { .. }
            | EntryKind::Bytes(_)
            | EntryKind::Fifo => {}
        }
        for name in entry.xattrs.keys() {
            // A pax record's key ends at the first `=`.
            let reason = if name.is_empty() {
                Some("empty name")
            } else if name.contains('=') {
                Some("`=` cannot be written in a pax record key")
            } else if name.contains('\0') || name.contains('\n') {
                Some("NUL or newline")
            } else {
                None
            };
            if let Some(reason) = reason {
                return Err(LayerError::BadXattr {
                    path: shown(path),
                    name: name.clone(),
                    reason,
                });
            }
        }
    }
    Ok(sorted)
}
