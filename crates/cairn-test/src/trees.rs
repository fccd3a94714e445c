//! Deterministic fixture trees. Each builder creates its tree at a path that must not
//! exist yet, with explicit modes so the host's umask does not matter.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;

/// A named fixture tree and the function that builds it.
pub struct FixtureTree {
    pub name: &'static str,
    pub build: fn(&Path),
}

/// Writes a file with contents and an explicit mode.
pub fn write_file(path: &Path, contents: &[u8], mode: u32) {
    fs_err::write(path, contents).unwrap();
    fs_err::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn dir(path: &Path) {
    fs_err::create_dir(path).unwrap();
    fs_err::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn file(root: &Path) {
    write_file(root, b"hello, world\n", 0o644);
}

fn executable(root: &Path) {
    write_file(root, b"#!/bin/sh\necho hi\n", 0o755);
}

fn empty_file(root: &Path) {
    write_file(root, b"", 0o644);
}

fn symlink_relative(root: &Path) {
    symlink("some/where", root).unwrap();
}

fn symlink_absolute(root: &Path) {
    symlink("/usr/bin/env", root).unwrap();
}

fn empty_dir(root: &Path) {
    dir(root);
}

/// Every kind of entry, odd names, and file sizes around the 8-byte padding boundary.
fn mixed(root: &Path) {
    dir(root);
    for (len, name) in [
        (0, "size-0"),
        (1, "size-1"),
        (7, "size-7"),
        (8, "size-8"),
        (9, "size-9"),
        (4097, "size-4097"),
    ] {
        let contents: Vec<u8> = (0..len)
            .map(|i: u32| u8::try_from(i % 251).unwrap())
            .collect();
        write_file(&root.join(name), &contents, 0o644);
    }
    write_file(&root.join("run.sh"), b"#!/bin/sh\nexit 0\n", 0o755);
    write_file(&root.join("name with spaces"), b"spaces\n", 0o644);
    write_file(&root.join("ünïcödé-日本語"), b"unicode\n", 0o644);
    write_file(
        &root.join(OsStr::from_bytes(b"not-utf8-\xff\xfe")),
        b"bytes\n",
        0o644,
    );
    // Names whose bytewise order differs from a naive or locale-aware order.
    for name in ["B", "a", "a-b", "a.b", "a0", "ab", "Z_", "_"] {
        write_file(&root.join(name), name.as_bytes(), 0o644);
    }
    dir(&root.join("empty"));
    dir(&root.join("sub"));
    write_file(&root.join("sub/inner"), b"inner\n", 0o644);
    dir(&root.join("sub/deeper"));
    write_file(&root.join("sub/deeper/tool"), b"\x7fELF-not-really", 0o755);
    symlink("inner", root.join("sub/link-relative")).unwrap();
    symlink("../run.sh", root.join("sub/link-up")).unwrap();
    symlink("does/not/exist", root.join("dangling")).unwrap();
    symlink("/etc/hostname", root.join("absolute")).unwrap();
    symlink("sub", root.join("link-to-dir")).unwrap();
}

/// A tree 200 directories deep with a file at the bottom.
fn deep(root: &Path) {
    dir(root);
    let mut path = root.to_owned();
    for i in 0..200 {
        path.push(format!("d{i}"));
        dir(&path);
    }
    write_file(&path.join("bottom"), b"bottom\n", 0o644);
}

/// A wide directory: 1000 files, to exercise sorting and many small entries.
fn wide(root: &Path) {
    dir(root);
    for i in 0..1000 {
        write_file(
            &root.join(format!("f{i}")),
            format!("{i}\n").as_bytes(),
            if i % 7 == 0 { 0o755 } else { 0o644 },
        );
    }
}

/// All fixture trees, in a stable order.
pub fn fixture_trees() -> Vec<FixtureTree> {
    vec![
        FixtureTree {
            name: "file",
            build: file,
        },
        FixtureTree {
            name: "executable",
            build: executable,
        },
        FixtureTree {
            name: "empty-file",
            build: empty_file,
        },
        FixtureTree {
            name: "symlink-relative",
            build: symlink_relative,
        },
        FixtureTree {
            name: "symlink-absolute",
            build: symlink_absolute,
        },
        FixtureTree {
            name: "empty-dir",
            build: empty_dir,
        },
        FixtureTree {
            name: "mixed",
            build: mixed,
        },
        FixtureTree {
            name: "deep",
            build: deep,
        },
        FixtureTree {
            name: "wide",
            build: wide,
        },
    ]
}

/// `len` deterministic bytes that do not compress and differ for every `seed`
/// (xorshift), for blobs and NARs whose size matters.
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[3]
        })
        .collect()
}
