//! Progress reporting. Libraries never print; the CLI implements [`Reporter`].

use crate::path::StorePath;

/// Callbacks for long store operations. All have empty defaults.
pub trait Reporter: Send + Sync {
    /// An object was added (or found already present).
    fn on_add_complete(&self, _path: &StorePath, _nar_size: u64, _already_valid: bool) {}
    /// Verification of one object is starting.
    fn on_verify_start(&self, _path: &StorePath, _index: usize, _total: usize) {}
    /// Verification found a problem.
    fn on_verify_problem(&self, _problem: &crate::Problem) {}
    /// GC deleted (or, in a dry run, would delete) an object.
    fn on_gc_delete(&self, _path: &StorePath, _bytes: u64) {}
    /// An object was read from an import stream.
    fn on_import_object(&self, _path: &StorePath, _nar_size: u64) {}
    /// An object was written to an export stream.
    fn on_export_object(&self, _path: &StorePath, _nar_size: u64) {}
}

/// A reporter that reports nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoReporter;

impl Reporter for NoReporter {}
