//! Why a wheel is not installed: [`WheelError`], one variant per refusal, each naming
//! the wheel (by its file name, whatever the path it is read from: the store keeps
//! downloads by hash) and the member at fault.

use std::io;

use zip::result::ZipError;

use crate::metadata::MetadataError;

/// A wheel cairn will not install, or could not.
#[derive(Debug, thiserror::Error)]
pub enum WheelError {
    #[error("cannot open the wheel {}", wheel)]
    Open {
        wheel: String,
        #[source]
        source: io::Error,
    },
    #[error("the wheel {} is not a valid zip archive", wheel)]
    Zip {
        wheel: String,
        #[source]
        source: ZipError,
    },
    #[error("cannot extract `{member}` from the wheel {}", wheel)]
    Extract {
        wheel: String,
        member: String,
        #[source]
        source: io::Error,
    },
    #[error("cannot write `{path}` while installing the wheel {}", wheel)]
    Write {
        wheel: String,
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("the wheel {} has a member whose name is not UTF-8: `{member}`", wheel)]
    MemberNotUtf8 { wheel: String, member: String },
    #[error(
        "the wheel {} has a member `{member}` that could escape the install root: {reason}",
        wheel
    )]
    UnsafePath {
        wheel: String,
        member: String,
        reason: &'static str,
    },
    #[error("the wheel {} has a symlink `{member}`; wheels hold only files", wheel)]
    Symlink { wheel: String, member: String },
    #[error("the wheel {} has more than one member named `{member}`", wheel)]
    DuplicateMember { wheel: String, member: String },
    #[error(
        "the wheel {} has more than one member with the same name (a duplicate entry in its \
         zip directory)",
        wheel
    )]
    DuplicateMembers { wheel: String },
    #[error(
        "the wheel {} must have exactly one top-level `.dist-info` directory, but has {}",
        wheel,
        if found.is_empty() { "none".to_owned() } else { format!("`{}`", found.join("`, `")) }
    )]
    DistInfoCount { wheel: String, found: Vec<String> },
    #[error(
        "the wheel {} has `{directory}`, which does not name {expected}",
        wheel
    )]
    DistInfoMismatch {
        wheel: String,
        directory: String,
        expected: String,
    },
    #[error("the wheel {} has no `{member}`", wheel)]
    MissingDistInfoFile { wheel: String, member: String },
    #[error("the wheel {} has an invalid `{member}`: {reason}", wheel)]
    WheelFile {
        wheel: String,
        member: String,
        reason: String,
    },
    #[error(
        "the wheel {} has Wheel-Version {version}; cairn installs wheels of version 1.x",
        wheel
    )]
    UnsupportedWheelVersion { wheel: String, version: String },
    #[error("the wheel {} has invalid metadata", wheel)]
    Metadata {
        wheel: String,
        /// Boxed: it is the largest cause, and keeps the error small.
        #[source]
        source: Box<MetadataError>,
    },
    #[error("the metadata of the wheel {} names {found}, not {expected}", wheel)]
    MetadataMismatch {
        wheel: String,
        found: String,
        expected: String,
    },
    #[error("`{member}` of the wheel {}, line {line}: {reason}", wheel)]
    Record {
        wheel: String,
        member: String,
        line: usize,
        reason: String,
    },
    #[error(
        "the RECORD of the wheel {} hashes `{member}` with `{algorithm}`; cairn accepts \
         sha256, sha384 and sha512 only",
        wheel
    )]
    RecordHashAlgorithm {
        wheel: String,
        member: String,
        algorithm: String,
    },
    #[error("the RECORD of the wheel {} lists `{member}` more than once", wheel)]
    DuplicateRecordEntry { wheel: String, member: String },
    #[error(
        "`{member}` of the wheel {} is not in its RECORD with a hash and a size",
        wheel
    )]
    NotInRecord { wheel: String, member: String },
    #[error(
        "the RECORD of the wheel {} lists `{member}`, which the wheel does not have",
        wheel
    )]
    MissingFromArchive { wheel: String, member: String },
    #[error(
        "`{member}` of the wheel {} does not match its RECORD: {algorithm} {actual}, \
         expected {expected}",
        wheel
    )]
    HashMismatch {
        wheel: String,
        member: String,
        algorithm: &'static str,
        expected: String,
        actual: String,
    },
    #[error(
        "`{member}` of the wheel {} has {actual} bytes, but its RECORD says {expected}",
        wheel
    )]
    SizeMismatch {
        wheel: String,
        member: String,
        expected: u64,
        actual: u64,
    },
    #[error("the wheel {} has `{member}` in an unexpected place: {reason}", wheel)]
    DataDirectory {
        wheel: String,
        member: String,
        reason: String,
    },
    #[error(
        "the wheel {} has `{member}` under the unknown `.data` key `{key}` (known: purelib, \
         platlib, headers, scripts, data)",
        wheel
    )]
    UnknownDataKey {
        wheel: String,
        member: String,
        key: String,
    },
    #[error("`{member}` of the wheel {}, line {line}: {reason}", wheel)]
    EntryPoint {
        wheel: String,
        member: String,
        line: usize,
        reason: String,
    },
    #[error(
        "the wheel {} declares the script `{name}`, which is not a plain file name (letters, \
         digits, `_`, `-`, `.` and `+`)",
        wheel
    )]
    InvalidScriptName { wheel: String, name: String },
    #[error("the wheel {} declares the script `{name}` more than once", wheel)]
    DuplicateScript { wheel: String, name: String },
    #[error(
        "the wheel {} declares the entry point script `{name}` and also has `{member}`",
        wheel
    )]
    ScriptCollision {
        wheel: String,
        name: String,
        member: String,
    },
    #[error("the wheel {} installs both {first} and {second} at `{path}`", wheel)]
    Conflict {
        wheel: String,
        path: String,
        first: String,
        second: String,
    },
    #[error("cannot add the wheel {} to the store", wheel)]
    Store {
        wheel: String,
        #[source]
        source: cairn_store::StoreError,
    },
}
