//! Debian packages as a package source for cairn.
//!
//! This crate will own everything Debian: deb822 and `Packages` indexes, signed
//! repositories, the resolver, the `[debian]` part of the lock and `.deb` files as store
//! objects. It never knows about images. So far it holds the foundation all of that
//! compares with: [`Version`], Debian package versions ordered exactly as dpkg orders
//! them.

mod version;

pub use version::{Version, VersionError};
