//! The real tools the tests compare against. In CI (`CI=true`) a missing tool fails the
//! test, because the test command installs it; on a developer machine it is skipped with
//! a note, so `cargo test` works before the system packages are installed.

use std::path::PathBuf;
use std::process::Command;

/// A tool found on `PATH`.
#[derive(Debug, Clone)]
pub struct Oracle {
    pub path: PathBuf,
}

impl Oracle {
    pub fn command(&self) -> Command {
        Command::new(&self.path)
    }
}

fn find(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// Finds `name` on PATH. Returns `None` (and says so on stderr) when it is missing
/// outside CI; panics when it is missing in CI.
pub fn require_tool(name: &str) -> Option<Oracle> {
    if let Some(path) = find(name) {
        return Some(Oracle { path });
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "`{name}` is not installed, but CI must run this oracle test; the test command in README.md installs it"
    );
    eprintln!("skipping: `{name}` is not installed (the test command in README.md installs it)");
    None
}
