//! Test support for cairn: fixture trees with every shape a store must handle, and
//! access to the real tools the tests use as oracles (Nix, dpkg, podman…).
//!
//! Never a dependency of a shipped crate; only `[dev-dependencies]`.

#![allow(clippy::missing_panics_doc, clippy::unwrap_used)]

pub mod apt;
pub mod debian_repo;
pub mod docker;
pub mod http;
pub mod oracle;
pub mod pypi;
pub mod registry;
pub mod s3;
pub mod trees;
pub mod webdav;

pub use apt::AptOracle;
pub use debian_repo::{FixturePackage, FixtureRepo, test_key, tiny_elf};
pub use docker::DockerDaemon;
pub use http::{Fault, TestServer};
pub use oracle::{Oracle, require_tool};
pub use trees::{FixtureTree, fixture_trees, noise, write_file};
