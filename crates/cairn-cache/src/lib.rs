//! Binary caches: store objects as compressed NARs with a signed metadata file each, in
//! the spirit of Nix's binary caches (`nix-cache-info`, `.narinfo`).

pub mod backend;
mod error;

pub use backend::Backend;
pub use error::CacheError;
