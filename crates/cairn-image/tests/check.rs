//! Entrypoint checks on root file systems built in memory: real ELF programs of this
//! machine (`/usr/bin/true`, its libc and interpreter; programs and libraries built with
//! gcc for `RUNPATH`/`RPATH`/`$ORIGIN`, `ld.so.conf` and static linking), hand-made ELF
//! files of other classes, byte orders and machines (cross-checked with readelf), `#!`
//! scripts, `env`, symlinks and their loops, and corrupted files that must not panic.
//! Outside CI a missing gcc or readelf skips its cases.

#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cairn_image::Rootfs;
use cairn_image::check::{CheckError, CheckOptions, check_entrypoint, multiarch_triplet};
use cairn_oci::{EntryKind, LayerEntry};
use cairn_test::require_tool;

// --- Building root file systems ----------------------------------------------------

fn put(rootfs: &mut Rootfs, path: &str, kind: EntryKind, mode: u32) {
    let path = path.trim_start_matches('/');
    // Every directory on the way, as composition makes them.
    let components: Vec<&str> = path.split('/').collect();
    let mut parent = String::new();
    for component in &components[..components.len() - 1] {
        if !parent.is_empty() {
            parent.push('/');
        }
        parent.push_str(component);
        if !rootfs.entries.contains_key(parent.as_bytes()) {
            rootfs.put(entry(&parent, EntryKind::Directory, 0o755));
        }
    }
    rootfs.put(entry(path, kind, mode));
}

fn entry(path: &str, kind: EntryKind, mode: u32) -> LayerEntry {
    LayerEntry {
        path: path.as_bytes().to_vec(),
        kind,
        mode,
        uid: 0,
        gid: 0,
        xattrs: BTreeMap::new(),
    }
}

fn put_bytes(rootfs: &mut Rootfs, path: &str, bytes: &[u8], mode: u32) {
    put(rootfs, path, EntryKind::Bytes(bytes.to_vec()), mode);
}

/// A file of this machine, read when checked (as store objects are).
fn put_host_file(rootfs: &mut Rootfs, path: &str, source: &Path, mode: u32) {
    let size = fs_err::metadata(source).unwrap().len();
    let source = source.to_path_buf();
    put(rootfs, path, EntryKind::File { source, size }, mode);
}

fn put_symlink(rootfs: &mut Rootfs, path: &str, target: &str) {
    let target = target.as_bytes().to_vec();
    put(rootfs, path, EntryKind::Symlink { target }, 0o777);
}

fn remove(rootfs: &mut Rootfs, path: &str) {
    assert!(rootfs.entries.remove(path.as_bytes()).is_some(), "{path}");
}

// --- This machine ------------------------------------------------------------------

/// What the tests need to know about this machine's glibc.
struct Host {
    multiarch: &'static str,
    /// `PT_INTERP` of its programs.
    interpreter: &'static str,
    /// Another architecture, for the mismatch case.
    other: &'static str,
    /// Its files: `/usr/bin/true`, libc and the interpreter (after symlinks).
    true_bin: PathBuf,
    libc: PathBuf,
    ld_so: PathBuf,
}

fn host() -> Option<Host> {
    let (multiarch, interpreter, other) = match std::env::consts::ARCH {
        "x86_64" => (
            "x86_64-linux-gnu",
            "/lib64/ld-linux-x86-64.so.2",
            "aarch64-linux-gnu",
        ),
        "aarch64" => (
            "aarch64-linux-gnu",
            "/lib/ld-linux-aarch64.so.1",
            "x86_64-linux-gnu",
        ),
        arch => {
            eprintln!("skipping: no fixtures for {arch}");
            return None;
        }
    };
    let found = |candidates: &[String]| {
        candidates
            .iter()
            .map(Path::new)
            .find(|p| p.is_file())
            .map(|p| fs_err::canonicalize(p).unwrap())
    };
    let libc = found(&[
        format!("/usr/lib/{multiarch}/libc.so.6"),
        format!("/lib/{multiarch}/libc.so.6"),
    ]);
    let (Some(libc), Some(ld_so), Some(true_bin)) = (
        libc,
        found(&[interpreter.to_owned()]),
        found(&["/usr/bin/true".to_owned()]),
    ) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI runs on Debian: glibc and /usr/bin/true are there"
        );
        eprintln!("skipping: this machine's glibc is not laid out as Debian's");
        return None;
    };
    Some(Host {
        multiarch,
        interpreter,
        other,
        true_bin,
        libc,
        ld_so,
    })
}

impl Host {
    /// Where the interpreter's name sits in the image, before merged-/usr.
    fn interpreter_name(&self) -> &'static str {
        self.interpreter.rsplit('/').next().unwrap()
    }

    /// The top-level merged-/usr symlink the interpreter's path goes through.
    fn interpreter_top(&self) -> &'static str {
        self.interpreter.split('/').nth(1).unwrap()
    }

    /// A Debian-like root file system: merged-/usr symlinks, libc, the interpreter as
    /// Debian ships it (a symlink into the multiarch directory) and `/usr/bin/true`.
    fn rootfs(&self) -> Rootfs {
        let mut rootfs = Rootfs::default();
        let ma = self.multiarch;
        put_symlink(&mut rootfs, "bin", "usr/bin");
        put_symlink(&mut rootfs, "lib", "usr/lib");
        put(&mut rootfs, "usr/bin", EntryKind::Directory, 0o755);
        let top = self.interpreter_top();
        if top != "lib" {
            put_symlink(&mut rootfs, top, &format!("usr/{top}"));
        }
        let name = self.interpreter_name();
        let real_ld_so = format!("usr/lib/{ma}/{name}");
        put_host_file(&mut rootfs, &real_ld_so, &self.ld_so, 0o755);
        put_symlink(
            &mut rootfs,
            &format!("usr{}", self.interpreter),
            &format!("/{real_ld_so}"),
        );
        put_host_file(
            &mut rootfs,
            &format!("usr/lib/{ma}/libc.so.6"),
            &self.libc,
            0o644,
        );
        put_host_file(&mut rootfs, "usr/bin/true", &self.true_bin, 0o755);
        rootfs
    }

    fn check(&self, rootfs: &Rootfs, program: &str) -> Result<(), CheckError> {
        check_with(rootfs, program, self.multiarch, None)
    }
}

fn hint(soname: &str) -> Option<String> {
    match soname {
        "libc.so.6" => Some("libc6".to_owned()),
        "libz.so.1" => Some("zlib1g".to_owned()),
        _ => None,
    }
}

fn check_with(
    rootfs: &Rootfs,
    program: &str,
    multiarch: &str,
    env_path: Option<&str>,
) -> Result<(), CheckError> {
    check_entrypoint(
        rootfs,
        program,
        &CheckOptions {
            multiarch,
            provider_hint: &hint,
            env_path,
        },
    )
}

/// The error at the end of a chain of `#!` interpreters.
fn innermost(error: &CheckError) -> &CheckError {
    match error {
        CheckError::Script { cause, .. } => innermost(cause),
        other => other,
    }
}

fn standard_dirs(multiarch: &str) -> Vec<String> {
    vec![
        format!("/lib/{multiarch}"),
        format!("/usr/lib/{multiarch}"),
        "/lib".to_owned(),
        "/usr/lib".to_owned(),
    ]
}

// --- Programs ----------------------------------------------------------------------

#[test]
fn a_dynamically_linked_program_with_its_libraries_passes() {
    let Some(host) = host() else { return };
    let rootfs = host.rootfs();
    host.check(&rootfs, "/usr/bin/true").unwrap();
    // Through the merged-/usr symlink, and found on PATH.
    host.check(&rootfs, "/bin/true").unwrap();
    host.check(&rootfs, "true").unwrap();
}

#[test]
fn libc_needing_the_interpreter_is_satisfied_by_it() {
    let Some(host) = host() else { return };
    let mut rootfs = host.rootfs();
    // The interpreter outside every library directory: libc's DT_NEEDED on it is met
    // because ld.so is already loaded under its soname.
    let name = host.interpreter_name();
    remove(&mut rootfs, &format!("usr/lib/{}/{name}", host.multiarch));
    put_host_file(&mut rootfs, &format!("opt/ld/{name}"), &host.ld_so, 0o755);
    put_symlink(
        &mut rootfs,
        &format!("usr{}", host.interpreter),
        &format!("/opt/ld/{name}"),
    );
    host.check(&rootfs, "/usr/bin/true").unwrap();
}

#[test]
fn hard_links_and_symlinks_to_a_program_pass() {
    let Some(host) = host() else { return };
    let mut rootfs = host.rootfs();
    let target = b"usr/bin/true".to_vec();
    put(
        &mut rootfs,
        "usr/bin/also-true",
        EntryKind::HardLink { target },
        0o755,
    );
    put_symlink(&mut rootfs, "usr/local/bin/t", "../../bin/true");
    host.check(&rootfs, "/usr/bin/also-true").unwrap();
    host.check(&rootfs, "/usr/local/bin/t").unwrap();
}

#[test]
fn a_missing_entrypoint_is_named() {
    let Some(host) = host() else { return };
    let rootfs = host.rootfs();
    let error = host.check(&rootfs, "/usr/bin/nope").unwrap_err();
    assert!(
        matches!(&error, CheckError::MissingEntrypoint { path } if path == "/usr/bin/nope"),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "`/usr/bin/nope` is not in the image (or is a symlink that leads nowhere in it)"
    );
    let error = host.check(&rootfs, "nope").unwrap_err();
    assert!(
        matches!(&error, CheckError::MissingCommand { command, search_path }
            if command == "nope" && search_path.contains("/usr/bin")),
        "{error:?}"
    );
    let error = check_with(&rootfs, "true", host.multiarch, Some("/opt/bin")).unwrap_err();
    assert!(
        matches!(error, CheckError::MissingCommand { .. }),
        "{error:?}"
    );
}

#[test]
fn a_file_without_an_executable_bit_is_refused() {
    let Some(host) = host() else { return };
    let mut rootfs = host.rootfs();
    put_host_file(&mut rootfs, "usr/bin/true", &host.true_bin, 0o644);
    let error = host.check(&rootfs, "/usr/bin/true").unwrap_err();
    assert!(
        matches!(&error, CheckError::NotExecutable { path, mode: 0o644 } if path == "/usr/bin/true"),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "`/usr/bin/true` is not executable (mode 0644)"
    );
    // Any executable bit will do.
    put_host_file(&mut rootfs, "usr/bin/true", &host.true_bin, 0o701);
    host.check(&rootfs, "/usr/bin/true").unwrap();
}

#[test]
fn a_directory_or_device_is_not_a_program() {
    let Some(host) = host() else { return };
    let mut rootfs = host.rootfs();
    let error = host.check(&rootfs, "/usr/bin").unwrap_err();
    assert!(
        matches!(&error, CheckError::NotAFile { path, kind: "directory" } if path == "/usr/bin"),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "`/usr/bin` is a directory, not a program"
    );
    let kind = EntryKind::CharDevice { major: 1, minor: 3 };
    put(&mut rootfs, "dev/null", kind, 0o777);
    let error = host.check(&rootfs, "/dev/null").unwrap_err();
    assert!(
        matches!(
            error,
            CheckError::NotAFile {
                kind: "character device",
                ..
            }
        ),
        "{error:?}"
    );
}

#[test]
fn a_file_that_is_neither_elf_nor_script_is_refused() {
    let Some(host) = host() else { return };
    let mut rootfs = host.rootfs();
    put_bytes(&mut rootfs, "usr/bin/text", b"echo hello\n", 0o755);
    put_bytes(&mut rootfs, "usr/bin/empty", b"", 0o755);
    for program in ["/usr/bin/text", "/usr/bin/empty"] {
        let error = host.check(&rootfs, program).unwrap_err();
        assert!(
            matches!(&error, CheckError::NotAProgram { path } if path == program),
            "{error:?}"
        );
    }
}

#[test]
fn a_missing_interpreter_is_named() {
    let Some(host) = host() else { return };
    // The interpreter itself gone…
    let mut rootfs = host.rootfs();
    remove(&mut rootfs, &format!("usr{}", host.interpreter));
    let error = host.check(&rootfs, "/usr/bin/true").unwrap_err();
    assert!(
        matches!(&error, CheckError::MissingInterpreter { program, interpreter }
            if program == "/usr/bin/true" && interpreter == host.interpreter),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        format!(
            "`/usr/bin/true` needs the program interpreter `{}`, which is not in the image",
            host.interpreter
        )
    );
    // …or the merged-/usr symlink on its way.
    let mut rootfs = host.rootfs();
    remove(&mut rootfs, host.interpreter_top());
    let error = host.check(&rootfs, "/usr/bin/true").unwrap_err();
    assert!(
        matches!(error, CheckError::MissingInterpreter { .. }),
        "{error:?}"
    );
}

#[test]
fn a_broken_or_unexecutable_interpreter_is_refused() {
    let Some(host) = host() else { return };
    let mut rootfs = host.rootfs();
    let real = format!("usr/lib/{}/{}", host.multiarch, host.interpreter_name());
    put_bytes(&mut rootfs, &real, b"\x7fELF junk", 0o755);
    let error = host.check(&rootfs, "/usr/bin/true").unwrap_err();
    assert!(
        matches!(&error, CheckError::BadElf { path, .. } if path == host.interpreter),
        "{error:?}"
    );
    put_host_file(&mut rootfs, &real, &host.ld_so, 0o644);
    let error = host.check(&rootfs, "/usr/bin/true").unwrap_err();
    assert!(
        matches!(&error, CheckError::NotExecutable { path, .. } if path == host.interpreter),
        "{error:?}"
    );
}

#[test]
fn a_missing_library_is_named_with_the_package_providing_it() {
    let Some(host) = host() else { return };
    let mut rootfs = host.rootfs();
    remove(
        &mut rootfs,
        &format!("usr/lib/{}/libc.so.6", host.multiarch),
    );
    let error = host.check(&rootfs, "/usr/bin/true").unwrap_err();
    let CheckError::MissingLibrary {
        program,
        library,
        needed_by,
        searched,
        hint,
    } = &error
    else {
        panic!("{error:?}");
    };
    assert_eq!(program, "/usr/bin/true");
    assert_eq!(library, "libc.so.6");
    assert_eq!(needed_by, &None);
    assert_eq!(searched, &standard_dirs(host.multiarch));
    assert_eq!(hint.as_deref(), Some("libc6"));
    let ma = host.multiarch;
    assert_eq!(
        error.to_string(),
        format!(
            "`/usr/bin/true` needs `libc.so.6`, which is not in the image (searched /lib/{ma}, /usr/lib/{ma}, /lib, /usr/lib); the package `libc6` provides it"
        )
    );
}

#[test]
fn libraries_of_another_architecture_are_skipped() {
    let Some(host) = host() else { return };
    let mut rootfs = host.rootfs();
    remove(
        &mut rootfs,
        &format!("usr/lib/{}/libc.so.6", host.multiarch),
    );
    // A 32-bit libc where the search looks: ld.so passes it by.
    let i386 = synthetic_elf(&Synthetic {
        soname: Some("libc.so.6"),
        ..Synthetic::library(false, false, 3)
    });
    put_bytes(&mut rootfs, "usr/lib/libc.so.6", &i386, 0o644);
    let error = host.check(&rootfs, "/usr/bin/true").unwrap_err();
    assert!(
        matches!(&error, CheckError::MissingLibrary { library, .. } if library == "libc.so.6"),
        "{error:?}"
    );
    // The right one after it is found.
    put_host_file(&mut rootfs, "usr/local/lib/libc.so.6", &host.libc, 0o644);
    put_symlink(&mut rootfs, "usr/lib/libc.so.6", "/usr/local/lib/libc.so.6");
    put_bytes(
        &mut rootfs,
        &format!("usr/lib/{}/libc.so.6", host.multiarch),
        &i386,
        0o644,
    );
    host.check(&rootfs, "/usr/bin/true").unwrap();
}

#[test]
fn a_broken_library_is_an_error() {
    let Some(host) = host() else { return };
    let mut rootfs = host.rootfs();
    let ma = host.multiarch;
    let bytes = fs_err::read(&host.libc).unwrap();
    put_bytes(
        &mut rootfs,
        &format!("usr/lib/{ma}/libc.so.6"),
        &bytes[..100],
        0o644,
    );
    let error = host.check(&rootfs, "/usr/bin/true").unwrap_err();
    // Named as found: the first directory searched, through the `lib` symlink.
    assert!(
        matches!(&error, CheckError::BadElf { path, reason }
            if path == &format!("/lib/{ma}/libc.so.6") && reason.contains("truncated")),
        "{error:?}"
    );
}

#[test]
fn a_program_for_another_architecture_is_refused() {
    let Some(host) = host() else { return };
    let rootfs = host.rootfs();
    let error = check_with(&rootfs, "/usr/bin/true", host.other, None).unwrap_err();
    assert!(
        matches!(&error, CheckError::WrongArchitecture { path, expected, .. }
            if path == "/usr/bin/true" && expected.contains(host.other)),
        "{error:?}"
    );
    // An unknown triplet turns the architecture check off.
    let error = check_with(&rootfs, "/usr/bin/true", "unknown-linux-gnu", None).unwrap_err();
    assert!(
        matches!(error, CheckError::MissingLibrary { .. }),
        "{error:?}"
    );
}

#[test]
fn symlink_loops_and_dangling_symlinks_are_missing_not_hanging() {
    let Some(host) = host() else { return };
    let mut rootfs = host.rootfs();
    put_symlink(&mut rootfs, "usr/bin/a", "b");
    put_symlink(&mut rootfs, "usr/bin/b", "/bin/a");
    put_symlink(&mut rootfs, "usr/bin/self", "self");
    put_symlink(&mut rootfs, "usr/bin/dangling", "/nowhere");
    for program in ["/usr/bin/a", "/usr/bin/self", "/usr/bin/dangling"] {
        let error = host.check(&rootfs, program).unwrap_err();
        assert!(
            matches!(&error, CheckError::MissingEntrypoint { path } if path == program),
            "{error:?}"
        );
    }
    // A loop on the way to the libraries (and, on arm64, to the interpreter).
    remove(&mut rootfs, "lib");
    put_symlink(&mut rootfs, "lib", "lib");
    remove(
        &mut rootfs,
        &format!("usr/lib/{}/libc.so.6", host.multiarch),
    );
    let error = host.check(&rootfs, "/usr/bin/true").unwrap_err();
    assert!(
        matches!(
            error,
            CheckError::MissingLibrary { .. } | CheckError::MissingInterpreter { .. }
        ),
        "{error:?}"
    );
}

// --- Scripts -----------------------------------------------------------------------

#[test]
fn a_script_needs_its_interpreter() {
    let Some(host) = host() else { return };
    let mut rootfs = host.rootfs();
    put_bytes(&mut rootfs, "usr/bin/run", b"#!/bin/sh\nexec true\n", 0o755);
    let error = host.check(&rootfs, "/usr/bin/run").unwrap_err();
    assert!(
        matches!(innermost(&error), CheckError::MissingEntrypoint { path } if path == "/bin/sh"),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "`/usr/bin/run` starts with `#!/bin/sh`, but `/bin/sh` is not in the image (or is a symlink that leads nowhere in it)"
    );
    // A shell that is a real program (true's bytes stand in for dash).
    put_host_file(&mut rootfs, "usr/bin/dash", &host.true_bin, 0o755);
    put_symlink(&mut rootfs, "usr/bin/sh", "dash");
    host.check(&rootfs, "/usr/bin/run").unwrap();
    // Blanks and an argument.
    put_bytes(&mut rootfs, "usr/bin/run", b"#! /bin/sh -e \n", 0o755);
    host.check(&rootfs, "/usr/bin/run").unwrap();
}

#[test]
fn a_script_interpreter_is_checked_like_a_program() {
    let Some(host) = host() else { return };
    let mut rootfs = host.rootfs();
    put_bytes(&mut rootfs, "usr/bin/run", b"#!/bin/sh\n", 0o755);
    put_host_file(&mut rootfs, "usr/bin/sh", &host.true_bin, 0o644);
    let error = host.check(&rootfs, "/usr/bin/run").unwrap_err();
    assert!(
        matches!(innermost(&error), CheckError::NotExecutable { path, .. } if path == "/bin/sh"),
        "{error:?}"
    );
    // Its libraries too.
    put_host_file(&mut rootfs, "usr/bin/sh", &host.true_bin, 0o755);
    remove(
        &mut rootfs,
        &format!("usr/lib/{}/libc.so.6", host.multiarch),
    );
    let error = host.check(&rootfs, "/usr/bin/run").unwrap_err();
    assert!(
        matches!(innermost(&error), CheckError::MissingLibrary { program, library, .. }
            if program == "/bin/sh" && library == "libc.so.6"),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .starts_with("`/usr/bin/run` starts with `#!/bin/sh`, but `/bin/sh` needs `libc.so.6`"),
        "{error}"
    );
}

#[test]
fn scripts_run_by_scripts_stop_at_the_kernels_limit() {
    let Some(host) = host() else { return };
    let mut rootfs = host.rootfs();
    put_host_file(&mut rootfs, "usr/bin/sh", &host.true_bin, 0o755);
    // Four levels: fine.
    put_bytes(&mut rootfs, "usr/bin/s1", b"#!/bin/sh\n", 0o755);
    put_bytes(&mut rootfs, "usr/bin/s2", b"#!/usr/bin/s1\n", 0o755);
    put_bytes(&mut rootfs, "usr/bin/s3", b"#!/usr/bin/s2\n", 0o755);
    put_bytes(&mut rootfs, "usr/bin/s4", b"#!/usr/bin/s3\n", 0o755);
    host.check(&rootfs, "/usr/bin/s4").unwrap();
    put_bytes(&mut rootfs, "usr/bin/s5", b"#!/usr/bin/s4\n", 0o755);
    let error = host.check(&rootfs, "/usr/bin/s5").unwrap_err();
    assert!(
        matches!(innermost(&error), CheckError::TooManyInterpreters { .. }),
        "{error:?}"
    );
    // A script that runs itself ends the same way.
    put_bytes(&mut rootfs, "usr/bin/loop", b"#!/usr/bin/loop\n", 0o755);
    let error = host.check(&rootfs, "/usr/bin/loop").unwrap_err();
    assert!(
        matches!(innermost(&error), CheckError::TooManyInterpreters { .. }),
        "{error:?}"
    );
}

#[test]
fn bad_shebang_lines_are_refused() {
    let Some(host) = host() else { return };
    let mut rootfs = host.rootfs();
    put_host_file(&mut rootfs, "usr/bin/sh", &host.true_bin, 0o755);
    put_bytes(&mut rootfs, "usr/bin/dos", b"#!/bin/sh\r\necho\r\n", 0o755);
    let error = host.check(&rootfs, "/usr/bin/dos").unwrap_err();
    assert!(
        matches!(&error, CheckError::BadScript { path, reason }
            if path == "/usr/bin/dos" && reason.contains("carriage return")),
        "{error:?}"
    );
    put_bytes(&mut rootfs, "usr/bin/none", b"#!  \n", 0o755);
    let error = host.check(&rootfs, "/usr/bin/none").unwrap_err();
    assert!(matches!(error, CheckError::BadScript { .. }), "{error:?}");
}

#[test]
fn env_scripts_need_their_command_on_path() {
    let Some(host) = host() else { return };
    let mut rootfs = host.rootfs();
    put_host_file(&mut rootfs, "usr/bin/env", &host.true_bin, 0o755);
    put_bytes(&mut rootfs, "app/run", b"#!/usr/bin/env python3\n", 0o755);
    let error = host.check(&rootfs, "/app/run").unwrap_err();
    assert!(
        matches!(innermost(&error), CheckError::MissingCommand { command, .. } if command == "python3"),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .starts_with("`/app/run` starts with `#!/usr/bin/env python3`, but `python3` is not in any directory of PATH"),
        "{error}"
    );
    // Found on the image's PATH, and checked in turn.
    put_bytes(&mut rootfs, "opt/venv/bin/python3", b"#!/bin/sh\n", 0o755);
    let path = Some("/opt/venv/bin:/usr/bin");
    let error = check_with(&rootfs, "/app/run", host.multiarch, path).unwrap_err();
    assert!(
        matches!(innermost(&error), CheckError::MissingEntrypoint { path } if path == "/bin/sh"),
        "{error:?}"
    );
    put_host_file(&mut rootfs, "usr/bin/sh", &host.true_bin, 0o755);
    check_with(&rootfs, "/app/run", host.multiarch, path).unwrap();
    // `-S` splits the argument; without it, the whole argument is the command's name.
    put_bytes(
        &mut rootfs,
        "app/split",
        b"#!/usr/bin/env -S python3 -u\n",
        0o755,
    );
    check_with(&rootfs, "/app/split", host.multiarch, path).unwrap();
    put_bytes(
        &mut rootfs,
        "app/unsplit",
        b"#!/usr/bin/env python3 -u\n",
        0o755,
    );
    let error = check_with(&rootfs, "/app/unsplit", host.multiarch, path).unwrap_err();
    assert!(
        matches!(innermost(&error), CheckError::MissingCommand { command, .. } if command == "python3 -u"),
        "{error:?}"
    );
    // `env` itself must be there.
    remove(&mut rootfs, "usr/bin/env");
    let error = check_with(&rootfs, "/app/run", host.multiarch, path).unwrap_err();
    assert!(
        matches!(innermost(&error), CheckError::MissingEntrypoint { path } if path == "/usr/bin/env"),
        "{error:?}"
    );
}

// --- Programs built here: RUNPATH, RPATH, $ORIGIN, ld.so.conf, static --------------

struct Built {
    _dir: tempfile::TempDir,
    /// `main` → `libfoo.so` → `libbar.so`, linked with `RUNPATH=$ORIGIN/../lib`.
    runpath: Vec<u8>,
    /// The same with `RPATH=$ORIGIN/../lib` (old dtags): inherited by `libfoo.so`.
    rpath: Vec<u8>,
    /// The same without a search path.
    plain: Vec<u8>,
    libfoo: Vec<u8>,
    libbar: Vec<u8>,
    /// Statically linked, when this machine has `libc.a`.
    fully_static: Option<Vec<u8>>,
}

fn gcc(dir: &Path, args: &[&str]) -> bool {
    let gcc = require_tool("gcc").unwrap();
    let output = gcc.command().current_dir(dir).args(args).output().unwrap();
    if !output.status.success() {
        eprintln!("gcc {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    }
    output.status.success()
}

fn build() -> Option<Built> {
    require_tool("gcc")?;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs_err::write(d.join("bar.c"), "int bar(void) { return 1; }\n").unwrap();
    fs_err::write(
        d.join("foo.c"),
        "int bar(void);\nint foo(void) { return bar() + 1; }\n",
    )
    .unwrap();
    fs_err::write(
        d.join("main.c"),
        "int foo(void);\nint main(void) { return foo() == 2 ? 0 : 1; }\n",
    )
    .unwrap();
    fs_err::write(d.join("static.c"), "int main(void) { return 0; }\n").unwrap();
    let shared = |name: &str, source: &str, extra: &[&str]| {
        let soname = format!("-Wl,-soname,{name}");
        let mut args = vec!["-shared", "-fPIC", &soname, "-o", name, source];
        args.extend(extra);
        assert!(gcc(d, &args), "building {name}");
    };
    shared("libbar.so", "bar.c", &[]);
    shared("libfoo.so", "foo.c", &["-L.", "-lbar"]);
    let program = |name: &str, extra: &[&str]| {
        let mut args = vec!["-o", name, "main.c", "-L.", "-lfoo", "-Wl,-rpath-link,."];
        args.extend(extra);
        assert!(gcc(d, &args), "building {name}");
        fs_err::read(d.join(name)).unwrap()
    };
    let runpath = program(
        "runpath",
        &["-Wl,--enable-new-dtags", "-Wl,-rpath,$ORIGIN/../lib"],
    );
    let rpath = program(
        "rpath",
        &["-Wl,--disable-new-dtags", "-Wl,-rpath,$ORIGIN/../lib"],
    );
    let plain = program("plain", &[]);
    let fully_static = if gcc(d, &["-static", "-o", "static", "static.c"]) {
        Some(fs_err::read(d.join("static")).unwrap())
    } else {
        eprintln!("skipping the static case: no static libc here");
        None
    };
    Some(Built {
        runpath,
        rpath,
        plain,
        libfoo: fs_err::read(d.join("libfoo.so")).unwrap(),
        libbar: fs_err::read(d.join("libbar.so")).unwrap(),
        fully_static,
        _dir: dir,
    })
}

#[test]
fn runpath_with_origin_is_followed() {
    let (Some(host), Some(built)) = (host(), build()) else {
        return;
    };
    let mut rootfs = host.rootfs();
    put_bytes(&mut rootfs, "opt/app/bin/prog", &built.runpath, 0o755);
    put_bytes(&mut rootfs, "opt/app/lib/libfoo.so", &built.libfoo, 0o644);
    // RUNPATH is the program's own: libfoo's libbar comes from the system directories.
    let libbar = format!("usr/lib/{}/libbar.so", host.multiarch);
    put_bytes(&mut rootfs, &libbar, &built.libbar, 0o644);
    host.check(&rootfs, "/opt/app/bin/prog").unwrap();
    // $ORIGIN is the program's real directory, after symlinks.
    put_symlink(&mut rootfs, "usr/bin/prog", "/opt/app/bin/prog");
    host.check(&rootfs, "/usr/bin/prog").unwrap();
    // Moved elsewhere, `$ORIGIN/../lib` is somewhere else.
    put_bytes(&mut rootfs, "opt/other/bin/prog", &built.runpath, 0o755);
    let error = host.check(&rootfs, "/opt/other/bin/prog").unwrap_err();
    let CheckError::MissingLibrary {
        library, searched, ..
    } = &error
    else {
        panic!("{error:?}");
    };
    assert_eq!(library, "libfoo.so");
    assert_eq!(searched[0], "/opt/other/bin/../lib");
    assert_eq!(&searched[1..], standard_dirs(host.multiarch).as_slice());
}

#[test]
fn a_library_missing_further_down_names_the_library_needing_it() {
    let (Some(host), Some(built)) = (host(), build()) else {
        return;
    };
    let mut rootfs = host.rootfs();
    put_bytes(&mut rootfs, "opt/app/bin/prog", &built.runpath, 0o755);
    put_bytes(&mut rootfs, "opt/app/lib/libfoo.so", &built.libfoo, 0o644);
    // Next to libfoo, but libfoo has no search path and the program's RUNPATH is not
    // inherited: ld.so does not find it.
    put_bytes(&mut rootfs, "opt/app/lib/libbar.so", &built.libbar, 0o644);
    let error = host.check(&rootfs, "/opt/app/bin/prog").unwrap_err();
    let CheckError::MissingLibrary {
        program,
        library,
        needed_by,
        searched,
        hint,
    } = &error
    else {
        panic!("{error:?}");
    };
    assert_eq!(program, "/opt/app/bin/prog");
    assert_eq!(library, "libbar.so");
    assert_eq!(needed_by.as_deref(), Some("/opt/app/bin/../lib/libfoo.so"));
    assert_eq!(searched, &standard_dirs(host.multiarch));
    assert_eq!(hint, &None);
    assert!(
        error.to_string().starts_with(
            "`/opt/app/bin/prog` needs `libbar.so` (through `/opt/app/bin/../lib/libfoo.so`), which is not in the image (searched /lib/"
        ),
        "{error}"
    );
    // With RPATH (old dtags), the program's search path is inherited.
    put_bytes(&mut rootfs, "opt/app/bin/prog", &built.rpath, 0o755);
    host.check(&rootfs, "/opt/app/bin/prog").unwrap();
}

#[test]
fn ld_so_conf_counts_only_with_a_cache() {
    let (Some(host), Some(built)) = (host(), build()) else {
        return;
    };
    let mut rootfs = host.rootfs();
    put_bytes(&mut rootfs, "usr/bin/prog", &built.plain, 0o755);
    put_bytes(&mut rootfs, "usr/local/lib/libfoo.so", &built.libfoo, 0o644);
    put_bytes(&mut rootfs, "usr/local/lib/libbar.so", &built.libbar, 0o644);
    put_bytes(
        &mut rootfs,
        "etc/ld.so.conf",
        b"include /etc/ld.so.conf.d/*.conf\n",
        0o644,
    );
    put_bytes(
        &mut rootfs,
        "etc/ld.so.conf.d/libc.conf",
        b"# libc default configuration\n/usr/local/lib\n",
        0o644,
    );
    // Without /etc/ld.so.cache, ld.so searches only its system directories.
    let error = host.check(&rootfs, "/usr/bin/prog").unwrap_err();
    assert!(
        matches!(&error, CheckError::MissingLibrary { library, searched, .. }
            if library == "libfoo.so" && searched == &standard_dirs(host.multiarch)),
        "{error:?}"
    );
    put_bytes(&mut rootfs, "etc/ld.so.cache", b"", 0o644);
    host.check(&rootfs, "/usr/bin/prog").unwrap();
    // What the configuration lists comes before the system directories.
    remove(&mut rootfs, "usr/local/lib/libbar.so");
    let error = host.check(&rootfs, "/usr/bin/prog").unwrap_err();
    let CheckError::MissingLibrary { searched, .. } = &error else {
        panic!("{error:?}");
    };
    assert_eq!(searched[0], "/usr/local/lib");
    assert_eq!(&searched[1..], standard_dirs(host.multiarch).as_slice());
}

#[test]
fn a_static_program_needs_nothing() {
    let (Some(host), Some(built)) = (host(), build()) else {
        return;
    };
    let Some(fully_static) = built.fully_static else {
        // libc6-dev (installed by the test command) has the static libc: in CI this
        // case must run, not pass by doing nothing.
        assert!(
            std::env::var_os("CI").is_none(),
            "gcc -static failed; the test command installs libc6-dev"
        );
        return;
    };
    let mut rootfs = Rootfs::default();
    put_bytes(&mut rootfs, "app", &fully_static, 0o755);
    host.check(&rootfs, "/app").unwrap();
}

// --- Hand-made ELF files: other classes, byte orders and machines ------------------

/// A minimal ELF file: one `PT_LOAD` mapping the whole file, `PT_INTERP`, `PT_DYNAMIC`.
struct Synthetic<'a> {
    wide: bool,
    big: bool,
    machine: u16,
    /// `ET_EXEC` (2) or `ET_DYN` (3).
    kind: u16,
    interp: Option<&'a str>,
    needed: &'a [&'a str],
    soname: Option<&'a str>,
    runpath: Option<&'a str>,
}

impl Synthetic<'_> {
    fn library(wide: bool, big: bool, machine: u16) -> Self {
        Self {
            wide,
            big,
            machine,
            kind: 3,
            interp: None,
            needed: &[],
            soname: None,
            runpath: None,
        }
    }
}

struct Writer {
    bytes: Vec<u8>,
    wide: bool,
    big: bool,
}

impl Writer {
    fn u16(&mut self, v: u16) {
        let b = if self.big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        self.bytes.extend(b);
    }
    fn u32(&mut self, v: u32) {
        let b = if self.big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        self.bytes.extend(b);
    }
    fn word(&mut self, v: u64) {
        if self.wide {
            let b = if self.big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            };
            self.bytes.extend(b);
        } else {
            self.u32(u32::try_from(v).unwrap());
        }
    }
}

fn synthetic_elf(s: &Synthetic<'_>) -> Vec<u8> {
    const BASE: u64 = 0x40_0000;
    let (ehsize, phentsize, dynsize) = if s.wide { (64, 56, 16) } else { (52, 32, 8) };
    let phnum: u64 = if s.interp.is_some() { 3 } else { 2 };
    let interp = s.interp.map(|i| format!("{i}\0")).unwrap_or_default();
    let mut strtab = b"\0".to_vec();
    let mut string = |text: &str| {
        let offset = strtab.len() as u64;
        strtab.extend(text.bytes().chain([0]));
        offset
    };
    let mut dynamic: Vec<(u64, u64)> = s.needed.iter().map(|n| (1, string(n))).collect();
    dynamic.extend(s.soname.map(|n| (14, string(n))));
    dynamic.extend(s.runpath.map(|n| (29, string(n))));
    let interp_offset = ehsize + phnum * phentsize;
    let strtab_offset = interp_offset + interp.len() as u64;
    let dynamic_offset = strtab_offset + strtab.len() as u64;
    dynamic.push((5, BASE + strtab_offset));
    dynamic.push((10, strtab.len() as u64));
    dynamic.push((0, 0));
    let size = dynamic_offset + dynamic.len() as u64 * dynsize;

    let mut w = Writer {
        bytes: Vec::new(),
        wide: s.wide,
        big: s.big,
    };
    w.bytes.extend(b"\x7fELF");
    w.bytes
        .extend([if s.wide { 2 } else { 1 }, if s.big { 2 } else { 1 }, 1]);
    w.bytes.resize(16, 0);
    w.u16(s.kind);
    w.u16(s.machine);
    w.u32(1);
    w.word(BASE); // e_entry
    w.word(ehsize); // e_phoff
    w.word(0); // e_shoff
    w.u32(0); // e_flags
    for v in [ehsize, phentsize, phnum, if s.wide { 64 } else { 40 }, 0, 0] {
        w.u16(u16::try_from(v).unwrap());
    }
    let phdr = |w: &mut Writer, kind: u32, offset: u64, filesz: u64| {
        let flags = 4; // PF_R
        w.u32(kind);
        if s.wide {
            w.u32(flags);
        }
        w.word(offset);
        w.word(BASE + offset); // p_vaddr
        w.word(BASE + offset); // p_paddr
        w.word(filesz);
        w.word(filesz); // p_memsz
        if !s.wide {
            w.u32(flags);
        }
        w.word(if kind == 1 { 0x1000 } else { 1 }); // p_align
    };
    phdr(&mut w, 1, 0, size);
    if s.interp.is_some() {
        phdr(&mut w, 3, interp_offset, interp.len() as u64);
    }
    phdr(&mut w, 2, dynamic_offset, dynamic.len() as u64 * dynsize);
    w.bytes.extend(interp.bytes());
    w.bytes.extend(&strtab);
    for (tag, value) in dynamic {
        w.word(tag);
        w.word(value);
    }
    assert_eq!(w.bytes.len() as u64, size);
    w.bytes
}

/// readelf, when it is here, reads the hand-made file as the checks do.
fn cross_check(bytes: &[u8], interp: &str, needed: &str) {
    let Some(readelf) = require_tool("readelf") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("elf");
    fs_err::write(&path, bytes).unwrap();
    let output = readelf
        .command()
        .args(["-l", "-d", "--wide"])
        .arg(&path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}");
    assert!(
        text.contains(&format!("Requesting program interpreter: {interp}]")),
        "{text}"
    );
    assert!(
        text.contains(&format!("Shared library: [{needed}]")),
        "{text}"
    );
}

#[test]
fn other_classes_byte_orders_and_machines_are_read() {
    // (multiarch, 64-bit, big-endian, e_machine, interpreter)
    let cases = [
        ("s390x-linux-gnu", true, true, 22, "/lib/ld64.so.1"),
        ("i386-linux-gnu", false, false, 3, "/lib/ld-linux.so.2"),
        (
            "arm-linux-gnueabihf",
            false,
            false,
            40,
            "/lib/ld-linux-armhf.so.3",
        ),
        // Not a Debian architecture: no architecture check, 32-bit big-endian parsing.
        ("powerpc-linux-gnu", false, true, 20, "/lib/ld.so.1"),
    ];
    for (multiarch, wide, big, machine, interp) in cases {
        let ld_name = interp.rsplit('/').next().unwrap();
        let program = synthetic_elf(&Synthetic {
            kind: 2,
            interp: Some(interp),
            needed: &["libx.so.1"],
            runpath: Some("$ORIGIN/../lib:/opt/$PLATFORM"),
            ..Synthetic::library(wide, big, machine)
        });
        cross_check(&program, interp, "libx.so.1");
        let libx = synthetic_elf(&Synthetic {
            needed: &[ld_name],
            soname: Some("libx.so.1"),
            ..Synthetic::library(wide, big, machine)
        });
        let ld_so = synthetic_elf(&Synthetic {
            soname: Some(ld_name),
            ..Synthetic::library(wide, big, machine)
        });
        let mut rootfs = Rootfs::default();
        put_symlink(&mut rootfs, "lib", "usr/lib");
        put_bytes(&mut rootfs, &format!("usr{interp}"), &ld_so, 0o755);
        put_bytes(&mut rootfs, "usr/bin/prog", &program, 0o755);
        let error = check_with(&rootfs, "/usr/bin/prog", multiarch, None).unwrap_err();
        let CheckError::MissingLibrary {
            library, searched, ..
        } = &error
        else {
            panic!("{multiarch}: {error:?}");
        };
        assert_eq!(library, "libx.so.1");
        // $ORIGIN expanded, the $PLATFORM element dropped.
        let mut expected = vec!["/usr/bin/../lib".to_owned()];
        expected.extend(standard_dirs(multiarch));
        assert_eq!(searched, &expected, "{multiarch}");
        // Found in the multiarch directory; its need of ld.so is the interpreter.
        put_bytes(
            &mut rootfs,
            &format!("usr/lib/{multiarch}/libx.so.1"),
            &libx,
            0o644,
        );
        check_with(&rootfs, "/usr/bin/prog", multiarch, None).unwrap();
        // The other class of the same family does not pass for it.
        let error = check_with(&rootfs, "/usr/bin/prog", "x86_64-linux-gnu", None).unwrap_err();
        assert!(
            matches!(error, CheckError::WrongArchitecture { .. }),
            "{multiarch}: {error:?}"
        );
    }
}

#[test]
fn a_library_is_not_a_program() {
    let mut rootfs = Rootfs::default();
    // Needs libraries but has no interpreter: the kernel would not load them.
    let library = synthetic_elf(&Synthetic {
        needed: &["libc.so.6"],
        ..Synthetic::library(true, false, 62)
    });
    put_bytes(&mut rootfs, "usr/lib/libx.so", &library, 0o755);
    let error = check_with(&rootfs, "/usr/lib/libx.so", "x86_64-linux-gnu", None).unwrap_err();
    assert!(
        matches!(&error, CheckError::BadElf { reason, .. } if reason.contains("no program interpreter")),
        "{error:?}"
    );
    // An object file is not a program either.
    let object = synthetic_elf(&Synthetic {
        kind: 1,
        ..Synthetic::library(true, false, 62)
    });
    put_bytes(&mut rootfs, "usr/bin/obj", &object, 0o755);
    let error = check_with(&rootfs, "/usr/bin/obj", "x86_64-linux-gnu", None).unwrap_err();
    assert!(matches!(error, CheckError::BadElf { .. }), "{error:?}");
}

#[test]
fn truncated_and_corrupted_programs_do_not_panic() {
    let Some(host) = host() else { return };
    let bytes = fs_err::read(&host.true_bin).unwrap();
    let synthetic = synthetic_elf(&Synthetic {
        kind: 2,
        interp: Some("/lib/ld.so.1"),
        needed: &["libx.so.1"],
        runpath: Some("$ORIGIN"),
        ..Synthetic::library(false, true, 20)
    });
    for original in [bytes.as_slice(), synthetic.as_slice()] {
        let mut rootfs = Rootfs::default();
        let mut run = |program: &[u8]| {
            put_bytes(&mut rootfs, "p", program, 0o755);
            let _ = check_with(&rootfs, "/p", host.multiarch, None);
        };
        let lengths = (0..original.len().min(1024)).chain((1024..original.len()).step_by(997));
        for len in lengths {
            run(&original[..len]);
        }
        // Every byte of the headers flipped, one at a time.
        for i in 0..original.len().min(1024) {
            let mut corrupted = original.to_vec();
            corrupted[i] ^= 0xff;
            run(&corrupted);
            corrupted[i] = 0x80;
            run(&corrupted);
        }
    }
}

#[test]
fn multiarch_triplets_of_debian_architectures() {
    for (arch, triplet) in [
        ("amd64", "x86_64-linux-gnu"),
        ("arm64", "aarch64-linux-gnu"),
        ("i386", "i386-linux-gnu"),
        ("armhf", "arm-linux-gnueabihf"),
        ("ppc64el", "powerpc64le-linux-gnu"),
        ("s390x", "s390x-linux-gnu"),
        ("riscv64", "riscv64-linux-gnu"),
    ] {
        assert_eq!(multiarch_triplet(arch), Some(triplet), "{arch}");
    }
    assert_eq!(multiarch_triplet("hurd-amd64"), None);
}
