//! Debian packages as a package source for cairn.
//!
//! Everything Debian, and nothing about images: dpkg versions ([`Version`]) and
//! relationship fields, `Packages` indexes parsed on demand ([`Repository`]), signed
//! suites fetched and kept in the store ([`Repository::open`]), a resolver that agrees
//! with apt ([`resolve`]), the `[debian]` part of `cairn.lock` ([`LockFile`]), `.deb`
//! files unpacked into store objects without running maintainer scripts
//! ([`fetch_locked`]), and which package ships a library ([`library_providers`]).

mod contents;
mod deb;
mod index;
mod install;
mod lock;
mod object;
mod packages;
mod relation;
mod release;
mod release_file;
mod repo;
mod resolve;
mod universe;
mod version;

pub use contents::library_providers;
pub use deb::{DebContents, DebControl, DebEntry, DebEntryKind, DebError, SpecialKind, read_deb};
pub use index::{
    BinaryPackage, IndexError, MultiArch, StanzaSpan, parse_packages, parse_stanza, scan_stanzas,
};
pub use install::{InstallError, InstallReporter, Installed, fetch_locked};
pub use lock::{DebianLock, LOCK_VERSION, LockError, LockFile, LockedPackage, LockedRepository};
pub use object::{
    DebObjectError, ExtraEntry, add_deb, add_deb_as, decode_extra_entries, encode_extra_entries,
    permissions_of,
};
pub use packages::{Repository, RepositoryIndexError, SourcedPackage};
pub use relation::{Clause, Comparison, Relation, RelationError, parse_relations};
pub use release::{Keyring, SignatureError, VerifiedRelease, verify_inrelease};
pub use release_file::{IndexFile, Release, ReleaseError, parse_release_date};
pub use repo::{
    DEFAULT_MIRROR, DEFAULT_SECURITY_MIRROR, DEFAULT_SUITE, RepoContext, RepoError, Source, Suite,
    Trust, debian_sources, has_security_archive,
};
pub use resolve::{Request, Resolution, ResolveError, Resolved, resolve};
pub use version::{Version, VersionError};
