//! `cairn store …` end to end: the real binary, real files, real processes.

#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

mod commands;
mod faults;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A temporary directory with a store in it, and a way to run cairn against it.
pub(crate) struct Ctx {
    pub(crate) tmp: tempfile::TempDir,
    pub(crate) store: PathBuf,
}

impl Ctx {
    pub(crate) fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let store = tmp.path().join("store");
        Self { tmp, store }
    }

    pub(crate) fn path(&self, rel: &str) -> PathBuf {
        self.tmp.path().join(rel)
    }

    /// `cairn --store <store> <args>`, with a clean environment for the store location.
    pub(crate) fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_cairn"));
        cmd.arg("--store")
            .arg(&self.store)
            .args(args)
            .env_remove("CAIRN_STORE");
        cmd
    }

    pub(crate) fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    /// Runs and expects success; returns stdout.
    pub(crate) fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "cairn {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// `cairn store add` of a new one-file tree `name`, referring to `references`;
    /// returns the object path (with its newline).
    pub(crate) fn add(&self, name: &str, contents: &str, references: &[&str]) -> String {
        let tree = self.tree(name, contents);
        let mut args = vec!["store", "add", tree.to_str().unwrap()];
        for r in references {
            args.extend(["--reference", r]);
        }
        self.ok(&args)
    }

    /// A directory with one file.
    pub(crate) fn tree(&self, name: &str, contents: &str) -> PathBuf {
        let dir = self.path(name);
        fs_err::create_dir_all(&dir).unwrap();
        cairn_test::write_file(&dir.join("file"), contents.as_bytes(), 0o644);
        dir
    }
}

pub(crate) fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub(crate) fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// Builds a tree of `files` files of `size` bytes each, spread over a few directories.
pub(crate) fn big_tree(root: &Path, files: usize, size: usize) {
    for i in 0..files {
        let dir = root.join(format!("d{}", i % 10));
        fs_err::create_dir_all(&dir).unwrap();
        let byte = u8::try_from(i % 251).unwrap();
        cairn_test::write_file(
            &dir.join(format!("f{i}")),
            &vec![byte; size],
            if i % 5 == 0 { 0o755 } else { 0o644 },
        );
    }
}
