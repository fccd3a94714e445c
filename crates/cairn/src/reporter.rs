//! Progress on stderr for store operations.

use cairn_store::{Problem, Reporter, StorePath};

/// Reports to stderr unless quiet.
#[derive(Debug)]
pub(crate) struct StderrReporter {
    pub(crate) quiet: bool,
    pub(crate) store_objects: std::path::PathBuf,
}

impl StderrReporter {
    fn show(&self, path: &StorePath) -> String {
        self.store_objects
            .join(path.to_string())
            .display()
            .to_string()
    }
}

impl Reporter for StderrReporter {
    fn on_verify_problem(&self, problem: &Problem) {
        eprintln!("corrupt: {}: {}", self.show(&problem.object), problem.what);
    }

    fn on_gc_delete(&self, path: &StorePath, _bytes: u64) {
        if !self.quiet {
            eprintln!("deleting {}", self.show(path));
        }
    }

    fn on_import_object(&self, path: &StorePath, nar_size: u64) {
        if !self.quiet {
            eprintln!("importing {} ({nar_size} bytes)", self.show(path));
        }
    }

    fn on_export_object(&self, path: &StorePath, nar_size: u64) {
        if !self.quiet {
            eprintln!("exporting {} ({nar_size} bytes)", self.show(path));
        }
    }
}
