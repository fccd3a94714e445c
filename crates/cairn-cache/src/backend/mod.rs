//! Where a cache's files live: a local directory, an HTTP(S) server, or an
//! S3-compatible bucket. A backend moves whole files by key and knows nothing of what
//! they mean; the format (`nix-cache-info`, `.narinfo`, NARs) is the caller's.
//!
//! Keys are relative, `/`-separated and never contain `..`: `nix-cache-info`,
//! `<hash>.narinfo`, `nar/<sha256>.nar.zst`.

use std::path::Path;

use crate::CacheError;

/// A cache's storage.
pub trait Backend: Send + Sync {
    /// The cache's URL as the user gave it, for messages.
    fn url(&self) -> &str;

    /// Whether this is a directory on this machine (`file://`): the user's own cache,
    /// whose objects are trusted without a signature.
    fn is_local(&self) -> bool;

    /// The file's bytes, or `None` if the cache does not have it. For small files
    /// (`nix-cache-info`, `.narinfo`).
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, CacheError>;

    /// Streams the file into `dest` (created or truncated). `false` if the cache does
    /// not have it (then `dest` may exist but is to be ignored). For NARs.
    fn get_file(&self, key: &str, dest: &Path) -> Result<bool, CacheError>;

    /// Whether the cache has the file (HEAD, `stat`), without reading it.
    fn exists(&self, key: &str) -> Result<bool, CacheError>;

    /// Writes the file, replacing it if it is there. Readers never see part of it.
    fn put(&self, key: &str, bytes: &[u8]) -> Result<(), CacheError>;

    /// Writes the file from `source` on disk, replacing it. For NARs.
    fn put_file(&self, key: &str, source: &Path) -> Result<(), CacheError>;
}
