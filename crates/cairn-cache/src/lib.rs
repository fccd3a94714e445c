//! Binary caches: store objects as compressed NARs with a signed metadata file each, in
//! the spirit of Nix's binary caches (`nix-cache-info`, `.narinfo`).

pub mod backend;
mod error;
pub mod keys;
pub mod narinfo;

pub use backend::Backend;
pub use error::CacheError;
pub use keys::{PublicKey, SecretKey};
pub use narinfo::NarInfo;

pub mod push;
pub mod serve;
pub mod substitute;

pub use push::{PushOptions, PushReport, push};
pub use substitute::{Rejected, SubstituteReport, Substituter};

use cairn_store::StorePath;

/// Progress of pushes and substitutions. All methods have empty defaults.
pub trait CacheReporter: Send + Sync {
    /// An object's NAR was uploaded (`file_size` compressed bytes).
    fn on_push_object(&self, _path: &StorePath, _file_size: u64) {}
    /// An object came from the cache at `url`, verified.
    fn on_substitute_object(&self, _path: &StorePath, _url: &str, _file_size: u64) {}
    /// The cache at `url` could not give `path`; the next cache is tried.
    fn on_substitute_rejected(&self, _path: &StorePath, _url: &str, _why: &Rejected) {}
    /// The cache at `url` is skipped (unreachable, or not a cairn cache).
    fn on_cache_unusable(&self, _url: &str, _why: &CacheError) {}
}

/// Reports nothing.
pub struct NoCacheReporter;
impl CacheReporter for NoCacheReporter {}
