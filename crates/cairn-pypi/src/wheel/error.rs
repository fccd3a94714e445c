//! Why a wheel is not installed: [`WheelError`], one variant per refusal, each naming
//! the wheel (by its file name) and the member at fault.

use std::io;
use std::path::{Path, PathBuf};

use zip::result::ZipError;

use crate::metadata::MetadataError;

/// A wheel cairn will not install, or could not.
#[derive(Debug, thiserror::Error)]
pub enum WheelError {
    #[error("cannot open the wheel {}", file_name(wheel))]
    Open {
        wheel: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("the wheel {} is not a valid zip archive", file_name(wheel))]
    Zip {
        wheel: PathBuf,
        #[source]
        source: ZipError,
    },
    #[error("cannot extract `{member}` from the wheel {}", file_name(wheel))]
    Extract {
        wheel: PathBuf,
        member: String,
        #[source]
        source: io::Error,
    },
    #[error(
        "cannot write `{path}` while installing the wheel {}",
        file_name(wheel)
    )]
    Write {
        wheel: PathBuf,
        path: String,
        #[source]
        source: io::Error,
    },
    #[error(
        "the wheel {} has a member whose name is not UTF-8: `{member}`",
        file_name(wheel)
    )]
    MemberNotUtf8 { wheel: PathBuf, member: String },
    #[error(
        "the wheel {} has a member `{member}` that could escape the install root: {reason}",
        file_name(wheel)
    )]
    UnsafePath {
        wheel: PathBuf,
        member: String,
        reason: &'static str,
    },
    #[error(
        "the wheel {} has a symlink `{member}`; wheels hold only files",
        file_name(wheel)
    )]
    Symlink { wheel: PathBuf, member: String },
    #[error(
        "the wheel {} has more than one member named `{member}`",
        file_name(wheel)
    )]
    DuplicateMember { wheel: PathBuf, member: String },
    #[error(
        "the wheel {} has more than one member with the same name (a duplicate entry in its \
         zip directory)",
        file_name(wheel)
    )]
    DuplicateMembers { wheel: PathBuf },
    #[error(
        "the wheel {} must have exactly one top-level `.dist-info` directory, but has {}",
        file_name(wheel),
        if found.is_empty() { "none".to_owned() } else { format!("`{}`", found.join("`, `")) }
    )]
    DistInfoCount { wheel: PathBuf, found: Vec<String> },
    #[error(
        "the wheel {} has `{directory}`, which does not name {expected}",
        file_name(wheel)
    )]
    DistInfoMismatch {
        wheel: PathBuf,
        directory: String,
        expected: String,
    },
    #[error("the wheel {} has no `{member}`", file_name(wheel))]
    MissingDistInfoFile { wheel: PathBuf, member: String },
    #[error("the wheel {} has an invalid `{member}`: {reason}", file_name(wheel))]
    WheelFile {
        wheel: PathBuf,
        member: String,
        reason: String,
    },
    #[error(
        "the wheel {} has Wheel-Version {version}; cairn installs wheels of version 1.x",
        file_name(wheel)
    )]
    UnsupportedWheelVersion { wheel: PathBuf, version: String },
    #[error("the wheel {} has invalid metadata", file_name(wheel))]
    Metadata {
        wheel: PathBuf,
        /// Boxed: it is the largest cause, and keeps the error small.
        #[source]
        source: Box<MetadataError>,
    },
    #[error(
        "the metadata of the wheel {} names {found}, not {expected}",
        file_name(wheel)
    )]
    MetadataMismatch {
        wheel: PathBuf,
        found: String,
        expected: String,
    },
    #[error("`{member}` of the wheel {}, line {line}: {reason}", file_name(wheel))]
    Record {
        wheel: PathBuf,
        member: String,
        line: usize,
        reason: String,
    },
    #[error(
        "the RECORD of the wheel {} hashes `{member}` with `{algorithm}`; cairn accepts \
         sha256, sha384 and sha512 only",
        file_name(wheel)
    )]
    RecordHashAlgorithm {
        wheel: PathBuf,
        member: String,
        algorithm: String,
    },
    #[error(
        "the RECORD of the wheel {} lists `{member}` more than once",
        file_name(wheel)
    )]
    DuplicateRecordEntry { wheel: PathBuf, member: String },
    #[error(
        "`{member}` of the wheel {} is not in its RECORD with a hash and a size",
        file_name(wheel)
    )]
    NotInRecord { wheel: PathBuf, member: String },
    #[error(
        "the RECORD of the wheel {} lists `{member}`, which the wheel does not have",
        file_name(wheel)
    )]
    MissingFromArchive { wheel: PathBuf, member: String },
    #[error(
        "`{member}` of the wheel {} does not match its RECORD: {algorithm} {actual}, \
         expected {expected}",
        file_name(wheel)
    )]
    HashMismatch {
        wheel: PathBuf,
        member: String,
        algorithm: &'static str,
        expected: String,
        actual: String,
    },
    #[error(
        "`{member}` of the wheel {} has {actual} bytes, but its RECORD says {expected}",
        file_name(wheel)
    )]
    SizeMismatch {
        wheel: PathBuf,
        member: String,
        expected: u64,
        actual: u64,
    },
    #[error(
        "the wheel {} has `{member}` in an unexpected place: {reason}",
        file_name(wheel)
    )]
    DataDirectory {
        wheel: PathBuf,
        member: String,
        reason: String,
    },
    #[error(
        "the wheel {} has `{member}` under the unknown `.data` key `{key}` (known: purelib, \
         platlib, headers, scripts, data)",
        file_name(wheel)
    )]
    UnknownDataKey {
        wheel: PathBuf,
        member: String,
        key: String,
    },
    #[error("`{member}` of the wheel {}, line {line}: {reason}", file_name(wheel))]
    EntryPoint {
        wheel: PathBuf,
        member: String,
        line: usize,
        reason: String,
    },
    #[error(
        "the wheel {} declares the script `{name}`, which is not a plain file name (letters, \
         digits, `_`, `-`, `.` and `+`)",
        file_name(wheel)
    )]
    InvalidScriptName { wheel: PathBuf, name: String },
    #[error(
        "the wheel {} declares the script `{name}` more than once",
        file_name(wheel)
    )]
    DuplicateScript { wheel: PathBuf, name: String },
    #[error(
        "the wheel {} declares the entry point script `{name}` and also has `{member}`",
        file_name(wheel)
    )]
    ScriptCollision {
        wheel: PathBuf,
        name: String,
        member: String,
    },
    #[error(
        "the wheel {} installs both {first} and {second} at `{path}`",
        file_name(wheel)
    )]
    Conflict {
        wheel: PathBuf,
        path: String,
        first: String,
        second: String,
    },
    #[error("cannot add the wheel {} to the store", file_name(wheel))]
    Store {
        wheel: PathBuf,
        #[source]
        source: cairn_store::StoreError,
    },
}

/// How errors name a wheel: by its file name (a wheel in the store's downloads is
/// installed through a link named after it).
pub(super) fn file_name(path: &Path) -> std::path::Display<'_> {
    Path::new(path.file_name().unwrap_or(path.as_os_str())).display()
}
