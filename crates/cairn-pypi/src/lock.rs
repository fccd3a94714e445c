//! The `[[pypi]]` part of `cairn.lock`: every wheel of one Python environment, pinned
//! by URL and SHA-256, with what pulled it in.
//!
//! ```toml
//! [[pypi]]
//! node = "sha256:…"             # the `python_env` node it locks (set by cairn-build)
//! python = "3.13.5"             # the target it was resolved for
//! glibc = "2.41"
//! architecture = "amd64"
//! indexes = ["https://pypi.org/simple"]
//! [[pypi.package]]
//! name = "flask"
//! version = "3.1.2"
//! wheel = "flask-3.1.2-py3-none-any.whl"
//! url = "https://files.pythonhosted.org/…/flask-3.1.2-py3-none-any.whl"
//! sha256 = "…"
//! size = 103308
//! requires = ["blinker", "click", "itsdangerous", "jinja2", "markupsafe", "werkzeug"]
//! required-by = ["requirements: `flask==3.1.*`"]
//! ```
//!
//! Nothing that is not in the lock is ever installed: a build downloads exactly these
//! files and checks each against its SHA-256.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::resolve::Resolution;
use crate::{PackageName, Target, Version, WheelName};

/// One Python environment's lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PypiLock {
    /// CPython's version in the image (`3.13.5`).
    pub python: String,
    /// glibc's version in the image (`2.41`).
    pub glibc: String,
    /// The Debian architecture (`amd64`).
    pub architecture: String,
    /// The indexes resolution asked, first the default one.
    pub indexes: Vec<String>,
    #[serde(rename = "package", default)]
    pub packages: Vec<LockedWheel>,
}

/// One pinned wheel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LockedWheel {
    /// The normalized name (PEP 503).
    pub name: String,
    pub version: String,
    /// The wheel's file name.
    pub wheel: String,
    pub url: String,
    /// Lowercase hex.
    pub sha256: String,
    /// When the index said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// The extras of it that were asked for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extras: Vec<String>,
    /// The locked packages it needs on this target (its object refers to theirs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requires: Vec<String>,
    /// What asked for it: the requirement that pulled it in, with its origin.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required_by: Vec<String>,
}

/// Why a lock is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PypiLockError {
    #[error("the PyPI lock is inconsistent: {0}")]
    Inconsistent(String),
}

impl PypiLock {
    /// The lock of `resolution`, made for `target` from `indexes`.
    pub fn new(target: &Target, indexes: &[String], resolution: &Resolution) -> Self {
        let mut lock = Self {
            python: target.python_full_version().to_string(),
            glibc: target.glibc().to_string(),
            architecture: target.arch().debian().to_owned(),
            indexes: indexes.to_vec(),
            packages: resolution
                .packages
                .values()
                .map(|p| LockedWheel {
                    name: p.name.to_string(),
                    version: p.version.to_string(),
                    wheel: p.wheel.file.filename.clone(),
                    url: p.wheel.file.url.to_string(),
                    sha256: p
                        .wheel
                        .file
                        .sha256
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_default(),
                    size: p.wheel.file.size,
                    extras: p.extras.iter().map(ToString::to_string).collect(),
                    requires: p.dependencies.iter().map(ToString::to_string).collect(),
                    required_by: p.required_by.clone(),
                })
                .collect(),
        };
        lock.normalize();
        lock
    }

    /// Whether this lock was made for `target`.
    pub fn is_for(&self, target: &Target) -> bool {
        self.python == target.python_full_version().to_string()
            && self.glibc == target.glibc().to_string()
            && self.architecture == target.arch().debian()
    }

    /// Sorts packages by name and every list in them, so the file diffs well.
    pub fn normalize(&mut self) {
        self.packages.sort_by(|a, b| a.name.cmp(&b.name));
        for p in &mut self.packages {
            for list in [&mut p.extras, &mut p.requires, &mut p.required_by] {
                list.sort();
                list.dedup();
            }
        }
    }

    /// Checks what a hand edit could break: names are normalized and unique, each
    /// wheel's file name is a wheel of that name and version, hashes are SHA-256, URLs
    /// are HTTP(S), and every required package is locked.
    pub fn check(&self) -> Result<(), PypiLockError> {
        let bad = |m: String| Err(PypiLockError::Inconsistent(m));
        let names: BTreeSet<&str> = self.packages.iter().map(|p| p.name.as_str()).collect();
        if names.len() != self.packages.len() {
            return bad("a package is locked twice".into());
        }
        for p in &self.packages {
            let Ok(name) = p.name.parse::<PackageName>() else {
                return bad(format!("`{}` is not a package name", p.name));
            };
            if name.as_ref() != p.name {
                return bad(format!("`{}` is not normalized (`{name}`)", p.name));
            }
            let Ok(version) = p.version.parse::<Version>() else {
                return bad(format!("{}: `{}` is not a version", p.name, p.version));
            };
            match WheelName::parse(&p.wheel) {
                Ok(wheel) if wheel.name() == &name && wheel.version() == &version => {}
                Ok(_) => {
                    return bad(format!(
                        "{} {}: `{}` is a wheel of another package or version",
                        p.name, p.version, p.wheel
                    ));
                }
                Err(e) => return bad(format!("{}: {e}", p.name)),
            }
            if p.sha256.len() != 64
                || !p
                    .sha256
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            {
                return bad(format!(
                    "{}: `{}` is not a lowercase hex SHA-256",
                    p.name, p.sha256
                ));
            }
            match url::Url::parse(&p.url) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => {}
                _ => return bad(format!("{}: `{}` is not an HTTP(S) URL", p.name, p.url)),
            }
            if let Some(missing) = p.requires.iter().find(|r| !names.contains(r.as_str())) {
                return bad(format!(
                    "{} requires `{missing}`, which is not locked",
                    p.name
                ));
            }
        }
        Ok(())
    }

    /// The packages by name.
    pub fn by_name(&self) -> BTreeMap<&str, &LockedWheel> {
        self.packages.iter().map(|p| (p.name.as_str(), p)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wheel(name: &str, requires: &[&str]) -> LockedWheel {
        LockedWheel {
            name: name.into(),
            version: "1.0".into(),
            wheel: format!("{}-1.0-py3-none-any.whl", name.replace('-', "_")),
            url: format!("https://files.example/{name}.whl"),
            sha256: "a".repeat(64),
            size: Some(10),
            extras: Vec::new(),
            requires: requires.iter().map(ToString::to_string).collect(),
            required_by: vec!["requirements.txt:1: a".into()],
        }
    }

    fn lock(packages: Vec<LockedWheel>) -> PypiLock {
        PypiLock {
            python: "3.13.5".into(),
            glibc: "2.41".into(),
            architecture: "amd64".into(),
            indexes: vec!["https://pypi.org/simple".into()],
            packages,
        }
    }

    #[test]
    fn a_consistent_lock_passes_and_normalizes() {
        let mut l = lock(vec![
            wheel("zope-interface", &[]),
            wheel("flask", &["zope-interface"]),
        ]);
        l.check().unwrap();
        l.normalize();
        assert_eq!(l.packages[0].name, "flask");
    }

    #[test]
    fn hand_edits_are_refused() {
        type Edit = Box<dyn Fn(&mut LockedWheel)>;
        let cases: Vec<(Edit, &str)> = vec![
            (Box::new(|w| w.name = "Flask".into()), "not normalized"),
            (
                Box::new(|w| w.version = "2.0".into()),
                "another package or version",
            ),
            (Box::new(|w| w.sha256 = "A".repeat(64)), "SHA-256"),
            (Box::new(|w| w.url = "ftp://x/y.whl".into()), "HTTP(S)"),
            (
                Box::new(|w| w.requires = vec!["nothere".into()]),
                "not locked",
            ),
            (Box::new(|w| w.wheel = "flask-1.0.tar.gz".into()), "flask"),
        ];
        for (edit, expected) in cases {
            let mut w = wheel("flask", &[]);
            edit(&mut w);
            let err = lock(vec![w]).check().unwrap_err().to_string();
            assert!(err.contains(expected), "{err} should say {expected}");
        }
        let twice = lock(vec![wheel("flask", &[]), wheel("flask", &[])]);
        assert!(twice.check().unwrap_err().to_string().contains("twice"));
    }

    #[test]
    fn the_target_is_compared_exactly() {
        let l = lock(Vec::new());
        let t = Target::from_debian("3.13.5-2", "2.41-12", "amd64").unwrap();
        assert!(l.is_for(&t));
        let other = Target::from_debian("3.13.6-1", "2.41-12", "amd64").unwrap();
        assert!(!l.is_for(&other));
        let arm = Target::from_debian("3.13.5-2", "2.41-12", "arm64").unwrap();
        assert!(!l.is_for(&arm));
    }
}
