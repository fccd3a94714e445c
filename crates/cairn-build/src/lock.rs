//! `cairn.lock`: what `cairn lock` pinned for a plan.
//!
//! ```toml
//! version = 2
//! inputs = "sha256:…"          # Plan::resolution_inputs() of the plan it was made for
//!
//! [[debian]]
//! node = "sha256:…"            # the `debian` node of the plan it locks
//! architecture = "amd64"
//! request = ["python3", "ca-certificates"]
//! recommends = false
//! [[debian.repository]]        # the suites as they were (InRelease hash and date)
//! …
//! [[debian.package]]           # every package: version, sha256, size, pool path, depends
//! …
//!
//! [[pypi]]
//! node = "sha256:…"            # the `python_env` node of the plan it locks
//! python = "3.13.5"            # the target: CPython, glibc and architecture of the image
//! glibc = "2.41"
//! architecture = "amd64"
//! indexes = ["https://pypi.org/simple"]
//! [[pypi.package]]             # every wheel: version, file name, URL, sha256, requires
//! …
//! ```
//!
//! Version 3 added `[[pypi]]`; a version 2 lock (which cannot have it) is read as is.
//!
//! Version 1 is the lock of a single request that `cairn debian resolve --write-lock`
//! writes; this one holds one such lock per `deb.packages()` node. Entries are sorted
//! by node and packages by name, so the file diffs well.

use cairn_debian::{DebianLock, LockError, LockedPackage, LockedRepository};
use cairn_plan::NodeId;
use cairn_pypi::lock::{LockedWheel, PypiLock, PypiLockError};
use serde::{Deserialize, Serialize};

/// The project lock schema this cairn writes and reads.
pub const PROJECT_LOCK_VERSION: u32 = 3;

/// Older versions this cairn still reads.
const READABLE_VERSIONS: [u32; 2] = [2, PROJECT_LOCK_VERSION];

/// A whole `cairn.lock`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectLock {
    pub version: u32,
    /// The resolution inputs of the plan it was made for: when the plan's differ, the
    /// lock is stale.
    pub inputs: String,
    #[serde(default, rename = "debian")]
    pub debian: Vec<LockedDebianNode>,
    #[serde(default, rename = "pypi", skip_serializing_if = "Vec::is_empty")]
    pub pypi: Vec<LockedPythonEnv>,
}

/// The lock of one `python_env` node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LockedPythonEnv {
    pub node: NodeId,
    pub python: String,
    pub glibc: String,
    pub architecture: String,
    pub indexes: Vec<String>,
    #[serde(rename = "package", default)]
    pub packages: Vec<LockedWheel>,
}

impl LockedPythonEnv {
    pub fn new(node: NodeId, lock: PypiLock) -> Self {
        Self {
            node,
            python: lock.python,
            glibc: lock.glibc,
            architecture: lock.architecture,
            indexes: lock.indexes,
            packages: lock.packages,
        }
    }

    /// The lock of this node alone, as `cairn-pypi` reads it.
    pub fn pypi_lock(&self) -> PypiLock {
        PypiLock {
            python: self.python.clone(),
            glibc: self.glibc.clone(),
            architecture: self.architecture.clone(),
            indexes: self.indexes.clone(),
            packages: self.packages.clone(),
        }
    }
}

/// The lock of one `debian` node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LockedDebianNode {
    pub node: NodeId,
    pub architecture: String,
    pub request: Vec<String>,
    pub recommends: bool,
    #[serde(rename = "repository")]
    pub repositories: Vec<LockedRepository>,
    #[serde(rename = "package", default)]
    pub packages: Vec<LockedPackage>,
}

impl LockedDebianNode {
    pub fn new(node: NodeId, lock: DebianLock) -> Self {
        Self {
            node,
            architecture: lock.architecture,
            request: lock.request,
            recommends: lock.recommends,
            repositories: lock.repositories,
            packages: lock.packages,
        }
    }

    /// The lock of this node alone, as `cairn-debian` reads it.
    pub fn debian_lock(&self) -> DebianLock {
        DebianLock {
            architecture: self.architecture.clone(),
            request: self.request.clone(),
            recommends: self.recommends,
            repositories: self.repositories.clone(),
            packages: self.packages.clone(),
        }
    }
}

/// Why a lock could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ProjectLockError {
    #[error("`cairn.lock` is not valid TOML for cairn: {0}")]
    Syntax(String),
    #[error(
        "`cairn.lock` has version {found}; this cairn reads versions 2 and {PROJECT_LOCK_VERSION}"
    )]
    Version { found: u32 },
    #[error("`cairn.lock` is inconsistent: {0}")]
    Inconsistent(String),
}

impl ProjectLock {
    /// Parses and checks a lock: a lock edited into an inconsistent state is refused.
    pub fn parse(text: &str) -> Result<Self, ProjectLockError> {
        // The version first, so a lock from another cairn says so instead of failing
        // on a field this one does not know.
        #[derive(Deserialize)]
        struct Versioned {
            version: u32,
        }
        let versioned: Versioned =
            toml::from_str(text).map_err(|e| ProjectLockError::Syntax(e.to_string()))?;
        if !READABLE_VERSIONS.contains(&versioned.version) {
            return Err(ProjectLockError::Version {
                found: versioned.version,
            });
        }
        let lock: Self =
            toml::from_str(text).map_err(|e| ProjectLockError::Syntax(e.to_string()))?;
        let mut nodes = std::collections::BTreeSet::new();
        for entry in &lock.debian {
            if !nodes.insert(&entry.node) {
                return Err(ProjectLockError::Inconsistent(format!(
                    "node `{}` is locked twice",
                    entry.node
                )));
            }
            entry.debian_lock().check().map_err(|e| match e {
                LockError::Inconsistent(m) => {
                    ProjectLockError::Inconsistent(format!("node `{}`: {m}", entry.node))
                }
                other => ProjectLockError::Inconsistent(other.to_string()),
            })?;
        }
        if versioned.version < 3 && !lock.pypi.is_empty() {
            return Err(ProjectLockError::Inconsistent(
                "a version 2 lock has no `[[pypi]]` tables".into(),
            ));
        }
        for entry in &lock.pypi {
            if !nodes.insert(&entry.node) {
                return Err(ProjectLockError::Inconsistent(format!(
                    "node `{}` is locked twice",
                    entry.node
                )));
            }
            entry
                .pypi_lock()
                .check()
                .map_err(|PypiLockError::Inconsistent(m)| {
                    ProjectLockError::Inconsistent(format!("node `{}`: {m}", entry.node))
                })?;
        }
        // `inputs` is derived from the entries: a lock whose entries were edited
        // without it would be called up to date by `cairn lock` and incomplete by
        // `cairn build`.
        if lock.inputs != cairn_plan::resolution_inputs(nodes) {
            return Err(ProjectLockError::Inconsistent(
                "`inputs` does not match the locked nodes".into(),
            ));
        }
        Ok(lock)
    }

    /// The lock as TOML, sorted and stable.
    pub fn to_toml(&self) -> String {
        let mut lock = self.clone();
        lock.debian.sort_by(|a, b| a.node.cmp(&b.node));
        for entry in &mut lock.debian {
            let mut debian = entry.debian_lock();
            debian.normalize();
            *entry = LockedDebianNode::new(entry.node.clone(), debian);
        }
        lock.version = PROJECT_LOCK_VERSION;
        lock.pypi.sort_by(|a, b| a.node.cmp(&b.node));
        for entry in &mut lock.pypi {
            let mut pypi = entry.pypi_lock();
            pypi.normalize();
            *entry = LockedPythonEnv::new(entry.node.clone(), pypi);
        }
        toml::to_string(&lock).expect("a lock always serializes")
    }

    /// The entry for `node`.
    pub fn debian(&self, node: &NodeId) -> Option<&LockedDebianNode> {
        self.debian.iter().find(|e| &e.node == node)
    }

    /// The entry for the `python_env` node `node`.
    pub fn pypi(&self, node: &NodeId) -> Option<&LockedPythonEnv> {
        self.pypi.iter().find(|e| &e.node == node)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lock() -> ProjectLock {
        let node = NodeId::parse(&format!("sha256:{}", "b".repeat(64))).unwrap();
        let sha = "a".repeat(64);
        ProjectLock {
            version: PROJECT_LOCK_VERSION,
            inputs: cairn_plan::resolution_inputs([&node]),
            debian: vec![LockedDebianNode {
                node,
                architecture: "amd64".into(),
                request: vec!["app".into()],
                recommends: false,
                repositories: vec![LockedRepository {
                    mirror: "http://deb.debian.org/debian".into(),
                    suite: "trixie".into(),
                    components: vec!["main".into()],
                    inrelease_sha256: sha.clone(),
                    date: "Sat, 08 Nov 2025 09:43:28 UTC".into(),
                }],
                packages: vec![LockedPackage {
                    name: "app".into(),
                    version: "1.0-1".into(),
                    architecture: "amd64".into(),
                    repository: "trixie".into(),
                    filename: "pool/main/a/app/app_1.0-1_amd64.deb".into(),
                    size: 1,
                    sha256: sha,
                    source: "app".into(),
                    depends: Vec::new(),
                }],
            }],
            pypi: Vec::new(),
        }
    }

    #[test]
    fn a_lock_round_trips_and_edits_that_break_it_are_refused() {
        let text = lock().to_toml();
        assert_eq!(ProjectLock::parse(&text).unwrap(), lock());
        for (from, to, expected) in [
            ("version = 3", "version = 1", "version 1"),
            ("node = \"sha256:", "node = \"sha1:", "not a node id"),
            (
                "inputs = \"sha256:",
                "inputs = \"sha256:0",
                "does not match",
            ),
            (
                "name = \"app\"\n",
                "name = \"app\"\nbogus = 1\n",
                "unknown field",
            ),
        ] {
            assert!(text.contains(from), "{from}");
            let error = ProjectLock::parse(&text.replacen(from, to, 1)).unwrap_err();
            assert!(error.to_string().contains(expected), "{from}: {error}");
        }
        // The entries removed, `inputs` kept: `cairn lock` and `cairn build` would
        // disagree about it.
        let mut emptied = lock();
        emptied.debian.clear();
        let error = ProjectLock::parse(&emptied.to_toml()).unwrap_err();
        assert!(error.to_string().contains("does not match"), "{error}");
    }
}
