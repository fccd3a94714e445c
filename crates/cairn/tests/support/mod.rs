//! What the CLI's live tests share: running `cairn`, and podman with its storage in
//! the test's directory.

#![allow(dead_code)] // each test file uses some of these

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cairn_test::Oracle;

/// A temporary directory whose path podman accepts in an image name (lowercase).
pub(crate) fn lowercase_tempdir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("cairn-{name}-{}", std::process::id()))
        .rand_bytes(0)
        .tempdir()
        .unwrap()
}

pub(crate) fn cairn(store: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cairn"))
        .arg("--store")
        .arg(store)
        .arg("--quiet")
        .args(args)
        .output()
        .unwrap()
}

pub(crate) fn ok(output: &Output) -> String {
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// `podman run` of an image with storage under `dir`.
pub(crate) fn podman(podman: &Oracle, dir: &Path) -> Command {
    let mut command = podman.command();
    command
        .arg("--root")
        .arg(dir.join("root"))
        .arg("--runroot")
        .arg(dir.join("run"))
        .args(["--runtime", "/usr/sbin/runc"]);
    command
}

/// `podman run --rm` with the limits these machines need (runc fails without them),
/// ready for more flags, the image and its arguments.
pub(crate) fn podman_run(tool: &Oracle, dir: &Path) -> Command {
    let mut command = podman(tool, dir);
    command.args([
        "run",
        "--rm",
        "--ulimit",
        "nofile=1024:1024",
        "--ulimit",
        "nproc=1024:1024",
    ]);
    command
}

/// What `image` prints when run with `args`, without a network.
pub(crate) fn run(tool: &Oracle, dir: &Path, image: &str, args: &[&str]) -> String {
    let output = podman_run(tool, dir)
        .args(["--network=none", image])
        .args(args)
        .output()
        .unwrap();
    ok(&output)
}

/// A copy of `examples/<name>` under `dir`.
pub(crate) fn example(name: &str, dir: &Path) -> PathBuf {
    let from = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name);
    let to = dir.join(name);
    copy_tree(&from, &to);
    to
}

pub(crate) fn copy_tree(from: &Path, to: &Path) {
    fs_err::create_dir_all(to).unwrap();
    for entry in fs_err::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        // A developer's own lock or result link stays behind.
        if name == "cairn.lock" || name.to_string_lossy().starts_with("result") {
            continue;
        }
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &to.join(&name));
        } else {
            fs_err::copy(entry.path(), to.join(&name)).unwrap();
        }
    }
}
