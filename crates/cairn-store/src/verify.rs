//! Verification: recompute what the database promises about each object and report
//! every difference precisely.
//!
//! For each object: the tree exists; its NAR hash and size match; when they do not,
//! the recorded listing says which files changed; every entry is read-only; the
//! permissions manifest parses and fits the tree; and, for content-addressed objects,
//! the path's hash still follows from the recorded metadata (catching edits to the
//! database itself).

use cairn_nar::walk::{EntryKind, WalkEvent, walk};
use cairn_nar::{HashSink, NarError, dump_path_listed, hash_path};

use crate::Store;
use crate::error::Result;
use crate::path::{Addressing, Identity, StorePath, object_hash};
use crate::reporter::Reporter;

/// One thing wrong with one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub object: StorePath,
    pub what: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.object, self.what)
    }
}

/// The outcome of a verification.
#[derive(Debug, Clone, Default)]
pub struct VerifyReport {
    pub checked: usize,
    pub problems: Vec<Problem>,
}

impl VerifyReport {
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

impl Store {
    /// Verifies `objects` and their closures, or every object when `None`.
    pub fn verify(
        &self,
        objects: Option<&[StorePath]>,
        reporter: &dyn Reporter,
    ) -> Result<VerifyReport> {
        let paths = match objects {
            Some(roots) => self.closure(roots)?,
            None => self.all_objects()?,
        };
        let mut report = VerifyReport::default();
        for (i, path) in paths.iter().enumerate() {
            reporter.on_verify_start(path, i, paths.len());
            let problems = self.verify_one(path);
            for what in problems {
                let problem = Problem {
                    object: path.clone(),
                    what,
                };
                reporter.on_verify_problem(&problem);
                report.problems.push(problem);
            }
            report.checked += 1;
        }
        Ok(report)
    }

    fn verify_one(&self, path: &StorePath) -> Vec<String> {
        let mut problems = Vec::new();
        let info = match self.info(path) {
            Ok(info) => info,
            Err(e) => return vec![format!("its database record is unreadable: {e}")],
        };
        let dir = self.object_dir(path);
        if fs_err::symlink_metadata(&dir).is_err() {
            return vec![format!(
                "its files are missing (`{}` does not exist)",
                dir.display()
            )];
        }
        let recorded = match self.listing(path) {
            Ok(listing) => listing,
            Err(e) => return vec![format!("its recorded listing is unreadable: {e}")],
        };
        // The fast NAR hash first; the per-file listing (a second pass) only to say
        // what changed when the hash does not match.
        let checked = hash_path(&dir).and_then(|(hash, size)| {
            if hash == info.nar_hash && size == info.nar_size {
                return Ok(Vec::new());
            }
            let (_, _, actual) = dump_path_listed(&dir, HashSink::new())?;
            let changes: Vec<String> = recorded.diff(&actual).iter().map(ToString::to_string).collect();
            if changes.is_empty() {
                return Ok(vec![format!(
                    "NAR hash {hash} does not match the recorded {} (the recorded listing matches the files: the database record is corrupt)",
                    info.nar_hash
                )]);
            }
            Ok(changes)
        });
        match checked {
            Ok(changes) => problems.extend(changes),
            Err(NarError::UnsupportedFileType { path: p, what }) => {
                problems.push(format!(
                    "`{}` is {what}, which no object may contain",
                    p.display()
                ));
            }
            Err(e) => problems.push(format!("its files cannot be read: {e}")),
        }
        // Store files must be read-only.
        let _ = walk(&dir, |event| -> Result<(), NarError> {
            if let WalkEvent::Node(entry) = event
                && entry.kind != EntryKind::Symlink
            {
                let mode = entry.meta.mode;
                if mode & 0o222 != 0 {
                    let rel = entry.relative.display().to_string();
                    let rel = if rel.is_empty() {
                        "(root)".to_owned()
                    } else {
                        rel
                    };
                    problems.push(format!(
                        "`{rel}` is writable (mode {:04o}); store objects must be read-only",
                        mode & 0o7777
                    ));
                }
            }
            Ok(())
        });
        if let Err(e) = info.permissions.validate(&recorded) {
            problems.push(format!(
                "its permissions manifest does not fit its files: {e}"
            ));
        }
        if let Addressing::Fixed { sha256 } = &info.addressing {
            if let Some(problem) = crate::add::fixed_output_problem(
                &recorded,
                sha256,
                &info.permissions,
                &info.metadata,
                &info.references,
            ) {
                problems.push(problem);
            }
            if crate::Store::fixed_path(path.name(), sha256).ok().as_ref() != Some(path) {
                problems.push("its path does not follow from its expected SHA-256".into());
            }
        }
        if info.addressing == Addressing::Content {
            let identity = Identity {
                nar_hash: &info.nar_hash,
                permissions: &info.permissions,
                metadata: &info.metadata,
                references: &info.references,
            };
            let expected = object_hash(&info.addressing, path.name(), identity);
            if expected != path.hash() {
                problems.push(format!(
                    "its recorded NAR hash, permissions, metadata and references no longer give its hash: expected {expected}"
                ));
            }
        }
        problems
    }
}
