//! Nix archives (NAR) and nixbase32.
//!
//! NAR is the canonical serialization of a file tree that Nix hashes and ships: it keeps
//! only what a build may depend on (file contents, the executable bit, symlink targets,
//! directory structure with sorted names) and nothing of the host (no times, owners or
//! other mode bits). cairn uses it for the same reasons: object identity and transport.
//! Everything here is byte-identical to `nix-store --dump` and `nix hash path`, which the
//! tests check against committed golden vectors and, when installed, Nix itself.
//!
//! This crate owns: the encoding ([`NarWriter`], [`dump_path`]), strict streaming
//! decoding ([`parse`], [`restore`]), hashing ([`hash_path`], [`NarHash`]), nixbase32
//! ([`base32`]) and the tree walk both the encoder and the store use ([`walk`]).
//! It does not know about the store, its database, or permissions beyond the
//! executable bit.

pub mod base32;
mod decode;
mod encode;
mod error;
pub mod framing;
mod hash;
mod listing;
pub mod walk;

pub use decode::{NarEvent, parse, restore};
pub use encode::{ContentsReadError, NarSink, NarWriter, WriteSink, dump_path};
pub use error::NarError;
pub use hash::{HashSink, HashingReader, NarHash, NarHasher, hash_path};
pub use listing::{ListedNode, Listing, ListingChange, dump_path_listed, short_digest};
