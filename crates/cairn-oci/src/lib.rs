//! OCI images for cairn: deterministic tar layers, canonical JSON for config, manifest
//! and index, and the outputs (OCI image layout; archives next).
//!
//! This crate never knows where files come from (Debian, PyPI, build steps): it is
//! given entries with their exact metadata and writes bytes that depend on nothing
//! else: no clock, no host user names, no file system order.

pub mod archive;
pub mod digest;
pub use cairn_json as json;
pub mod image;
pub mod layer;
pub mod layout;
mod stream;
mod ustar;

/// The compressors' identity: what, besides the entries, decides a layer's bytes.
/// Change it whenever an update changes their output (the golden tests say when).
pub const COMPRESSOR: &str =
    "cairn-tar-v1; gzip: libdeflate level 4, 32 MiB members; zstd: libzstd level 3";

pub use archive::{ArchiveError, ArchiveFormat, ArchiveImage, write_archive, write_archive_to};
pub use digest::{BadDigest, Digest};
pub use image::{
    Descriptor, History, ImageConfig, MediaType, Platform, index_json, manifest_json, rfc3339,
};
pub use layer::{
    Compression, EntryKind, LayerEntry, LayerError, LayerOptions, WrittenLayer, write_layer,
};
pub use layout::{BlobSource, LayoutError, write_oci_layout};
