//! The `[debian]` part of `cairn.lock`: the repository state a resolution was made
//! against and every package it chose, pinned by SHA-256.
//!
//! ```toml
//! version = 1
//!
//! [debian]
//! architecture = "amd64"
//! request = ["python3", "ca-certificates"]
//! recommends = false
//!
//! [[debian.repository]]
//! mirror = "http://deb.debian.org/debian"
//! suite = "trixie"
//! components = ["main"]
//! inrelease-sha256 = "…"
//! date = "Sat, 08 Nov 2025 09:43:28 UTC"
//!
//! [[debian.package]]
//! name = "python3"
//! version = "3.13.5-1"
//! architecture = "amd64"
//! repository = "trixie"
//! filename = "pool/main/p/python3-defaults/python3_3.13.5-1_amd64.deb"
//! size = 27896
//! sha256 = "…"
//! source = "python3-defaults"
//! depends = ["libpython3-stdlib", "python3-minimal", "python3.13"]
//! ```
//!
//! Repositories keep their order (it is apt's source order); packages are sorted by
//! name and their `depends` by name, so a lock diffs line by line. A lock is checked
//! when it is read: its version, every hash, that names are unique and that every
//! `depends` and `repository` refers to something in the lock. Building from a lock
//! never re-resolves: [`crate::fetch_locked`] needs nothing but the lock.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::packages::Repository;
use crate::resolve::{Request, Resolution};

/// The lock schema this cairn writes and reads.
pub const LOCK_VERSION: u32 = 1;

/// A whole `cairn.lock` (later issues add their own parts).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockFile {
    pub version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub debian: Option<DebianLock>,
}

/// What was resolved, against what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct DebianLock {
    pub architecture: String,
    /// The requested package names, in the order they were requested (which, as for
    /// apt, can matter).
    pub request: Vec<String>,
    pub recommends: bool,
    #[serde(rename = "repository")]
    pub repositories: Vec<LockedRepository>,
    #[serde(rename = "package", default)]
    pub packages: Vec<LockedPackage>,
}

/// One suite, as it was when the lock was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LockedRepository {
    pub mirror: String,
    pub suite: String,
    pub components: Vec<String>,
    pub inrelease_sha256: String,
    /// The `Date` of its `Release`.
    pub date: String,
}

/// One package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LockedPackage {
    pub name: String,
    pub version: String,
    pub architecture: String,
    /// The suite it comes from (a `repository` of the lock).
    pub repository: String,
    /// Relative to the repository's mirror.
    pub filename: String,
    pub size: u64,
    pub sha256: String,
    /// The source package.
    pub source: String,
    /// The locked packages that satisfy its dependencies.
    pub depends: Vec<String>,
}

/// Why a lock could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("the lock is not valid TOML for cairn: {0}")]
    Syntax(String),
    #[error("the lock has version {found}; this cairn reads version {LOCK_VERSION}")]
    Version { found: u32 },
    #[error("the lock is inconsistent: {0}")]
    Inconsistent(String),
}

impl LockFile {
    /// Parses and checks a lock.
    pub fn parse(text: &str) -> Result<Self, LockError> {
        // The version first, so a lock from a newer cairn says so instead of failing
        // on a field this one does not know.
        #[derive(Deserialize)]
        struct Versioned {
            version: u32,
        }
        let versioned: Versioned =
            toml::from_str(text).map_err(|e| LockError::Syntax(e.to_string()))?;
        if versioned.version != LOCK_VERSION {
            return Err(LockError::Version {
                found: versioned.version,
            });
        }
        let lock: Self = toml::from_str(text).map_err(|e| LockError::Syntax(e.to_string()))?;
        if let Some(debian) = &lock.debian {
            debian.check()?;
        }
        Ok(lock)
    }

    /// The lock as TOML, sorted and stable.
    pub fn to_toml(&self) -> String {
        let mut lock = self.clone();
        if let Some(debian) = &mut lock.debian {
            debian.normalize();
        }
        toml::to_string(&lock).expect("a lock always serializes")
    }
}

fn is_sha256(text: &str) -> bool {
    text.len() == 64
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl DebianLock {
    /// The lock for `resolution` of `request` against `repo`.
    pub fn new(repo: &Repository, request: &Request, resolution: &Resolution) -> Self {
        let repositories = repo
            .suites
            .iter()
            .map(|s| LockedRepository {
                mirror: s.source.mirror.clone(),
                suite: s.source.suite.clone(),
                components: s.source.components.clone(),
                inrelease_sha256: s.inrelease_sha256.clone(),
                date: s.release.date.clone(),
            })
            .collect();
        let packages = resolution
            .packages
            .iter()
            .map(|r| {
                let p = &r.package;
                LockedPackage {
                    name: p.name.clone(),
                    version: p.version.to_string(),
                    architecture: p.architecture.clone(),
                    repository: repo
                        .suites
                        .get(r.suite)
                        .map(|s| s.source.suite.clone())
                        .unwrap_or_default(),
                    filename: p.filename.clone(),
                    size: p.size,
                    sha256: p.sha256.clone(),
                    source: p.source.clone(),
                    depends: r.depends.clone(),
                }
            })
            .collect();
        let mut lock = Self {
            architecture: repo.arch.clone(),
            request: request.packages.clone(),
            recommends: request.recommends,
            repositories,
            packages,
        };
        lock.normalize();
        lock
    }

    /// Sorts what has no meaningful order and drops repeated requests.
    pub fn normalize(&mut self) {
        let mut seen = BTreeSet::new();
        self.request.retain(|name| seen.insert(name.clone()));
        self.packages
            .sort_by(|a, b| (&a.name, &a.architecture).cmp(&(&b.name, &b.architecture)));
        for p in &mut self.packages {
            p.depends.sort();
            p.depends.dedup();
        }
    }

    /// The repository a package comes from.
    pub fn repository_of(&self, package: &LockedPackage) -> Option<&LockedRepository> {
        self.repositories
            .iter()
            .find(|r| r.suite == package.repository)
    }

    /// Checks that the lock is consistent (what `LockFile::parse` checks).
    pub fn check(&self) -> Result<(), LockError> {
        let bad = |m: String| Err(LockError::Inconsistent(m));
        let mut suites = BTreeSet::new();
        for r in &self.repositories {
            if !is_sha256(&r.inrelease_sha256) {
                return bad(format!(
                    "repository `{}` has a malformed inrelease-sha256",
                    r.suite
                ));
            }
            if !suites.insert(r.suite.as_str()) {
                return bad(format!("repository `{}` appears twice", r.suite));
            }
        }
        let names: BTreeSet<&str> = self.packages.iter().map(|p| p.name.as_str()).collect();
        if names.len() != self.packages.len() {
            return bad("a package appears twice".into());
        }
        for p in &self.packages {
            if !is_sha256(&p.sha256) {
                return bad(format!("package `{}` has a malformed sha256", p.name));
            }
            if !suites.contains(p.repository.as_str()) {
                return bad(format!(
                    "package `{}` comes from repository `{}`, which the lock does not list",
                    p.name, p.repository
                ));
            }
            // Pool paths are plain relative paths: no `..`, and nothing a URL parser
            // would decode into one (`%2e%2e`) or read as a separator (`\`).
            if p.filename.is_empty()
                || p.filename.starts_with('/')
                || p.filename.contains(['%', '\\', '?', '#'])
                || p.filename
                    .split('/')
                    .any(|c| c == ".." || c == "." || c.is_empty())
            {
                return bad(format!(
                    "package `{}` has filename `{}`",
                    p.name, p.filename
                ));
            }
            if let Some(missing) = p.depends.iter().find(|d| !names.contains(d.as_str())) {
                return bad(format!(
                    "package `{}` depends on `{missing}`, which the lock does not list",
                    p.name
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lock() -> LockFile {
        let sha = "a".repeat(64);
        LockFile {
            version: LOCK_VERSION,
            debian: Some(DebianLock {
                architecture: "amd64".into(),
                request: vec!["zz".into(), "app".into(), "zz".into()],
                recommends: false,
                repositories: vec![LockedRepository {
                    mirror: "http://deb.debian.org/debian".into(),
                    suite: "trixie".into(),
                    components: vec!["main".into()],
                    inrelease_sha256: sha.clone(),
                    date: "Sat, 08 Nov 2025 09:43:28 UTC".into(),
                }],
                packages: ["zz", "app"]
                    .iter()
                    .map(|name| LockedPackage {
                        name: (*name).into(),
                        version: "1.0-1".into(),
                        architecture: "amd64".into(),
                        repository: "trixie".into(),
                        filename: format!("pool/main/{name}/{name}_1.0-1_amd64.deb"),
                        size: 1,
                        sha256: sha.clone(),
                        source: (*name).into(),
                        depends: if *name == "app" {
                            vec!["zz".into()]
                        } else {
                            vec![]
                        },
                    })
                    .collect(),
            }),
        }
    }

    #[test]
    fn round_trips_sorted_and_keeps_the_request_order() {
        let text = lock().to_toml();
        let parsed = LockFile::parse(&text).unwrap();
        let debian = parsed.debian.as_ref().unwrap();
        // apt resolves in request order, so the order is kept (duplicates dropped).
        assert_eq!(debian.request, ["zz", "app"]);
        let names: Vec<&str> = debian.packages.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["app", "zz"]);
        assert_eq!(parsed.to_toml(), text, "byte-stable");
        assert!(text.starts_with("version = 1\n"), "{text}");
    }

    #[test]
    fn refuses_what_it_cannot_trust() {
        let text = lock().to_toml();
        let err = LockFile::parse(&text.replace("version = 1", "version = 2")).unwrap_err();
        assert!(err.to_string().contains("reads version 1"), "{err}");
        let err =
            LockFile::parse(&text.replace("recommends = false", "recommends = false\nextra = 1"))
                .unwrap_err();
        assert!(matches!(err, LockError::Syntax(_)), "{err}");
        // Filenames that a URL parser would turn into a path outside the pool.
        for evil in [
            "pool/%2e%2e/x.deb",
            "pool\\\\..\\\\x.deb",
            "/etc/x.deb",
            "pool/../x.deb",
        ] {
            let edited = text.replace("pool/main/app/app_1.0-1_amd64.deb", evil);
            let err = LockFile::parse(&edited).unwrap_err();
            assert!(err.to_string().contains("filename"), "{evil}: {err}");
        }
        let err = LockFile::parse(&text.replace("depends = [\"zz\"]", "depends = [\"gone\"]"))
            .unwrap_err();
        assert!(err.to_string().contains("`gone`"), "{err}");
    }
}
