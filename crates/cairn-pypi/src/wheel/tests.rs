use std::fmt::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::Command;

use super::testing::{
    Entry, directory, executable, file, minimal_entries, record_for, record_hash, scheme, symlink,
    wheel_with_record, write_wheel, zip_bytes,
};
use super::*;

const LIB: &str = "usr/local/lib/python3.13/dist-packages";
const INFO: &str = "demo-1.0.dist-info";
const FILENAME: &str = "demo-1.0-py3-none-any.whl";

const ENTRY_POINTS: &str = "\
[console_scripts]
demo = demo.cli:main
# a comment
demo-app = demo.cli:App.run [extra]

[gui_scripts]
demo-gui=demo:main
";

/// Every feature a wheel may use, without RECORD.
fn demo_entries() -> Vec<Entry> {
    vec![
        directory("demo/"),
        file("demo/__init__.py", b"from .cli import main\n"),
        file(
            "demo/cli.py",
            b"def main():\n    return 0\n\nclass App:\n    @staticmethod\n    def run():\n        return 0\n",
        ),
        executable("demo/helper.sh", b"#!/bin/sh\necho helper\n"),
        file("demo/__pycache__/cli.cpython-313.pyc", b"\xf3\r\r\nnot really"),
        file("demo/a,b \"c\".txt", b"quoted\n"),
        file("demo-1.0.data/scripts/run-demo", b"#!python -u\nimport demo\n"),
        file("demo-1.0.data/scripts/gui-demo", b"#!pythonw\nimport demo\n"),
        executable("demo-1.0.data/scripts/plain", b"#!/bin/sh\necho plain\n"),
        file("demo-1.0.data/scripts/short", b"#!pyth"),
        file("demo-1.0.data/headers/demo.h", b"int demo;\n"),
        file("demo-1.0.data/data/share/demo/data.txt", b"data\n"),
        file("demo-1.0.data/purelib/demo_extra.py", b"EXTRA = 1\n"),
        file("demo-1.0.data/platlib/demo_native.py", b"NATIVE = 1\n"),
        file(
            &format!("{INFO}/METADATA"),
            b"Metadata-Version: 2.1\nName: Demo\nVersion: 1.0\nRequires-Dist: dep>=1\n\nA demo.\n",
        ),
        file(
            &format!("{INFO}/WHEEL"),
            b"Wheel-Version: 1.0\nGenerator: cairn-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        ),
        file(&format!("{INFO}/entry_points.txt"), ENTRY_POINTS.as_bytes()),
        file(&format!("{INFO}/LICENSE"), b"MIT\n"),
    ]
}

fn demo_record(entries: &[Entry]) -> String {
    record_for(entries, &format!("{INFO}/RECORD"))
}

fn with_record(mut entries: Vec<Entry>, record: &str) -> Vec<Entry> {
    entries.push(file(&format!("{INFO}/RECORD"), record.as_bytes()));
    entries
}

fn expected() -> WheelName {
    WheelName::parse(FILENAME).unwrap()
}

fn install(bytes: &[u8]) -> (tempfile::TempDir, Result<InstalledWheel, WheelError>) {
    let dir = tempfile::tempdir().unwrap();
    let wheel = write_wheel(dir.path(), FILENAME, bytes);
    let dest = dir.path().join("root");
    let result = install_wheel(&wheel, &expected(), &scheme(), &dest);
    if result.is_err() {
        assert!(!dest.exists(), "a failed install leaves nothing behind");
    }
    (dir, result)
}

fn install_err(entries: &[Entry]) -> WheelError {
    let (_dir, result) = install(&zip_bytes(entries));
    result.unwrap_err()
}

/// `entries` with a RECORD edited by `edit`.
fn install_err_record(entries: Vec<Entry>, edit: impl FnOnce(String) -> String) -> WheelError {
    let record = edit(demo_record(&entries));
    install_err(&with_record(entries, &record))
}

/// Every file and directory under `root`: relative path, mode, contents.
fn listing(root: &Path) -> Vec<(String, u32, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, u32, Vec<u8>)>) {
        let mut children: Vec<_> = fs_err::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .collect();
        children.sort();
        for path in children {
            let meta = fs_err::symlink_metadata(&path).unwrap();
            let relative = path
                .strip_prefix(root)
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned();
            let mode = meta.permissions().mode() & 0o7777;
            if meta.is_dir() {
                out.push((format!("{relative}/"), mode, Vec::new()));
                walk(root, &path, out);
            } else {
                assert!(meta.is_file(), "{relative} is a regular file");
                out.push((relative, mode, fs_err::read(&path).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out
}

fn read(root: &Path, path: &str) -> String {
    fs_err::read_to_string(root.join(path)).unwrap()
}

fn mode(root: &Path, path: &str) -> u32 {
    fs_err::metadata(root.join(path))
        .unwrap()
        .permissions()
        .mode()
        & 0o7777
}

#[test]
fn installs_the_debian_layout() {
    let entries = demo_entries();
    let record = demo_record(&entries);
    let (dir, result) = install(&zip_bytes(&with_record(entries, &record)));
    let installed = result.unwrap();
    let root = dir.path().join("root");

    assert_eq!(installed.name.as_ref(), "demo");
    assert_eq!(installed.version.to_string(), "1.0");
    assert_eq!(installed.metadata.name.as_ref(), "demo");
    assert!(
        installed
            .metadata_bytes
            .starts_with(b"Metadata-Version: 2.1\nName: Demo")
    );
    assert_eq!(
        installed.scripts,
        [
            "demo", "demo-app", "demo-gui", "gui-demo", "plain", "run-demo", "short"
        ]
    );

    let files: Vec<(String, u32)> = listing(&root)
        .into_iter()
        .filter(|(path, _, _)| !path.ends_with('/'))
        .map(|(path, mode, _)| (path, mode))
        .collect();
    let lib = |path: &str| format!("{LIB}/{path}");
    let mut want = vec![
        (lib("demo/__init__.py"), 0o644),
        (lib("demo/__pycache__/cli.cpython-313.pyc"), 0o644),
        (lib("demo/a,b \"c\".txt"), 0o644),
        (lib("demo/cli.py"), 0o644),
        (lib("demo/helper.sh"), 0o755),
        (lib("demo_extra.py"), 0o644),
        (lib("demo_native.py"), 0o644),
        (lib(&format!("{INFO}/INSTALLER")), 0o644),
        (lib(&format!("{INFO}/LICENSE")), 0o644),
        (lib(&format!("{INFO}/METADATA")), 0o644),
        (lib(&format!("{INFO}/RECORD")), 0o644),
        (lib(&format!("{INFO}/WHEEL")), 0o644),
        (lib(&format!("{INFO}/entry_points.txt")), 0o644),
        ("usr/local/bin/demo".to_owned(), 0o755),
        ("usr/local/bin/demo-app".to_owned(), 0o755),
        ("usr/local/bin/demo-gui".to_owned(), 0o755),
        ("usr/local/bin/gui-demo".to_owned(), 0o755),
        ("usr/local/bin/plain".to_owned(), 0o755),
        ("usr/local/bin/run-demo".to_owned(), 0o755),
        ("usr/local/bin/short".to_owned(), 0o755),
        ("usr/local/include/python3.13/demo/demo.h".to_owned(), 0o644),
        ("usr/local/share/demo/data.txt".to_owned(), 0o644),
    ];
    want.sort();
    let mut files = files;
    files.sort();
    assert_eq!(files, want);
    assert_eq!(installed.files, want.len());
    // Directories are 0755, the root too.
    for (path, mode, _) in listing(&root) {
        if path.ends_with('/') {
            assert_eq!(mode, 0o755, "{path}");
        }
    }
    assert_eq!(mode(&root, "."), 0o755);

    // `#!python` lines are rewritten whole, as pip does; others are kept.
    assert_eq!(
        read(&root, "usr/local/bin/run-demo"),
        "#!/usr/bin/python3.13\nimport demo\n"
    );
    assert_eq!(
        read(&root, "usr/local/bin/gui-demo"),
        "#!/usr/bin/python3.13\nimport demo\n"
    );
    assert_eq!(
        read(&root, "usr/local/bin/plain"),
        "#!/bin/sh\necho plain\n"
    );
    assert_eq!(read(&root, "usr/local/bin/short"), "#!pyth");
    assert_eq!(
        read(&root, "usr/local/bin/demo"),
        "#!/usr/bin/python3.13\n\
         # -*- coding: utf-8 -*-\n\
         import re\n\
         import sys\n\
         from demo.cli import main\n\
         if __name__ == \"__main__\":\n    \
         sys.argv[0] = re.sub(r\"(-script\\.pyw|\\.exe)?$\", \"\", sys.argv[0])\n    \
         sys.exit(main())\n"
    );
    let app = read(&root, "usr/local/bin/demo-app");
    assert!(app.contains("\nfrom demo.cli import App\n"), "{app}");
    assert!(app.contains("\n    sys.exit(App.run())\n"), "{app}");
    let gui = read(&root, "usr/local/bin/demo-gui");
    assert!(gui.contains("\nfrom demo import main\n"), "{gui}");

    assert_eq!(read(&root, &lib(&format!("{INFO}/INSTALLER"))), "cairn\n");
}

#[test]
fn the_installed_record_lists_every_file_sorted() {
    let entries = demo_entries();
    let record = demo_record(&entries);
    let (dir, result) = install(&zip_bytes(&with_record(entries, &record)));
    result.unwrap();
    let root = dir.path().join("root");
    let lib_dir = root.join(LIB);
    let text = read(&lib_dir, &format!("{INFO}/RECORD"));
    let rows = parse_csv(&text).unwrap();
    let paths: Vec<&str> = rows.iter().map(|(_, f)| f[0].as_str()).collect();
    let mut sorted = paths.clone();
    sorted.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    assert_eq!(paths, sorted);
    assert!(
        text.contains("\n\"demo/a,b \"\"c\"\".txt\",sha256="),
        "{text}"
    );
    assert!(text.contains(&format!("\n{INFO}/RECORD,,\n")), "{text}");
    assert!(text.contains(&format!(
        "\n{INFO}/INSTALLER,{},6\n",
        record_hash(b"cairn\n")
    )));
    assert!(text.starts_with("../../../bin/demo,sha256="), "{text}");
    assert!(text.contains("\n../../../include/python3.13/demo/demo.h,"));
    assert!(text.contains("\n../../../share/demo/data.txt,"));

    // Every file is listed, with its installed hash and size.
    let mut listed = BTreeSet::new();
    for (_, fields) in &rows {
        let path = lib_dir.join(&fields[0]);
        listed.insert(path.canonicalize().unwrap());
        if fields[0].ends_with("/RECORD") {
            assert_eq!(fields[1..], ["", ""]);
            continue;
        }
        let bytes = fs_err::read(&path).unwrap();
        assert_eq!(fields[1], record_hash(&bytes), "{}", fields[0]);
        assert_eq!(fields[2], bytes.len().to_string());
    }
    let on_disk: BTreeSet<_> = listing(&root)
        .into_iter()
        .filter(|(path, _, _)| !path.ends_with('/'))
        .map(|(path, _, _)| root.join(path).canonicalize().unwrap())
        .collect();
    assert_eq!(listed, on_disk);
}

#[test]
fn installing_twice_gives_identical_trees() {
    let entries = demo_entries();
    let record = demo_record(&entries);
    let bytes = zip_bytes(&with_record(entries, &record));
    let (first, a) = install(&bytes);
    let (second, b) = install(&bytes);
    assert_eq!(a.unwrap(), b.unwrap());
    let a = listing(&first.path().join("root"));
    let b = listing(&second.path().join("root"));
    assert!(a.len() > 20);
    assert_eq!(a, b);
}

#[test]
fn platlib_wheels_and_stronger_hashes_install() {
    let mut entries = minimal_entries("native", "2.0");
    entries[2] = file(
        "native-2.0.dist-info/WHEEL",
        b"Wheel-Version: 1.9\nRoot-Is-Purelib: false\n",
    );
    let mut record = String::new();
    for entry in &entries {
        let digest = BASE64URL_NOPAD.encode(&Sha512::digest(&entry.data));
        write!(
            record,
            "{},sha512={digest},{}\r\n",
            entry.name,
            entry.data.len()
        )
        .unwrap();
    }
    entries.push(file("native-2.0.dist-info/RECORD", record.as_bytes()));
    let dir = tempfile::tempdir().unwrap();
    let wheel = write_wheel(
        dir.path(),
        "native-2.0-cp313-cp313-manylinux_2_17_x86_64.whl",
        &zip_bytes(&entries),
    );
    let expected = WheelName::parse("native-2.0-cp313-cp313-manylinux_2_17_x86_64.whl").unwrap();
    let dest = dir.path().join("nested/root");
    let installed = install_wheel(&wheel, &expected, &scheme(), &dest).unwrap();
    assert_eq!(installed.files, 5);
    assert!(installed.scripts.is_empty());
    assert_eq!(
        read(&dest, &format!("{LIB}/native/__init__.py")),
        "VALUE = 1\n"
    );
}

#[test]
fn the_wheels_installer_is_checked_then_replaced() {
    let mut entries = demo_entries();
    entries.push(file(&format!("{INFO}/INSTALLER"), b"pip\n"));
    let record = demo_record(&entries);
    let (dir, result) = install(&zip_bytes(&with_record(entries.clone(), &record)));
    result.unwrap();
    let installer = read(&dir.path().join("root"), &format!("{LIB}/{INFO}/INSTALLER"));
    assert_eq!(installer, "cairn\n");

    entries.last_mut().unwrap().data = b"pop\n".to_vec();
    let err = install_err(&with_record(entries, &record));
    assert!(
        matches!(&err, WheelError::HashMismatch { member, .. } if member.ends_with("/INSTALLER")),
        "{err:?}"
    );
}

#[test]
fn refuses_an_existing_destination() {
    let dir = tempfile::tempdir().unwrap();
    let entries = demo_entries();
    let record = demo_record(&entries);
    let wheel = write_wheel(
        dir.path(),
        FILENAME,
        &zip_bytes(&with_record(entries, &record)),
    );
    let dest = dir.path().join("root");
    fs_err::create_dir(&dest).unwrap();
    fs_err::write(dest.join("keep"), b"").unwrap();
    let err = install_wheel(&wheel, &expected(), &scheme(), &dest).unwrap_err();
    assert!(matches!(err, WheelError::Write { .. }), "{err:?}");
    assert!(
        dest.join("keep").exists(),
        "an existing directory is left alone"
    );
}

#[test]
fn refuses_a_hash_mismatch() {
    let mut entries = demo_entries();
    let record = demo_record(&entries);
    entries[2].data = entries[2].data.replace_bytes(b"return 0", b"return 1");
    let err = install_err(&with_record(entries, &record));
    assert!(
        matches!(&err, WheelError::HashMismatch { member, algorithm: "sha256", .. } if member == "demo/cli.py"),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("does not match its RECORD"),
        "{err}"
    );
}

#[test]
fn refuses_a_size_mismatch() {
    let entries = demo_entries();
    let size = entries[2].data.len();
    let err = install_err_record(entries, |record| {
        record.replace(&format!(",{size}\n"), &format!(",{}\n", size - 1))
    });
    assert!(
        matches!(&err, WheelError::SizeMismatch { member, expected, actual, .. }
            if member == "demo/cli.py" && *expected + 1 == *actual),
        "{err:?}"
    );
    let entries = demo_entries();
    let err = install_err_record(entries, |record| {
        record.replace(&format!(",{size}\n"), &format!(",{}\n", size + 5))
    });
    assert!(matches!(err, WheelError::SizeMismatch { .. }), "{err:?}");
}

#[test]
fn refuses_a_member_missing_from_record() {
    let err = install_err_record(demo_entries(), |record| {
        record
            .split_inclusive('\n')
            .filter(|line| !line.starts_with("demo/helper.sh,"))
            .collect()
    });
    assert!(
        matches!(&err, WheelError::NotInRecord { member, .. } if member == "demo/helper.sh"),
        "{err:?}"
    );
    // Listed without a hash is not listed.
    let err = install_err_record(demo_entries(), |record| {
        record.replace(
            &format!(
                "demo/helper.sh,{}",
                record_hash(b"#!/bin/sh\necho helper\n")
            ),
            "demo/helper.sh,",
        )
    });
    assert!(matches!(err, WheelError::NotInRecord { .. }), "{err:?}");
}

#[test]
fn refuses_a_record_entry_missing_from_the_archive() {
    let err = install_err_record(demo_entries(), |record| {
        format!("{record}demo/ghost.py,{},3\n", record_hash(b"abc"))
    });
    assert!(
        matches!(&err, WheelError::MissingFromArchive { member, .. } if member == "demo/ghost.py"),
        "{err:?}"
    );
}

#[test]
fn refuses_weak_hashes() {
    for (algorithm, digest) in [
        ("md5", "1B2M2Y8AsgTpgAmY7PhCfg"),
        ("sha1", "2jmj7l5rSw0yVb_vlWAYkK_YBwk"),
        ("sha224", "0UoCjCo6K8lHYQK7KII0xBWisB-CjqYqxbPkLw"),
    ] {
        let err = install_err_record(demo_entries(), |record| {
            let hash = record_hash(b"#!/bin/sh\necho helper\n");
            record.replace(&hash, &format!("{algorithm}={digest}"))
        });
        assert!(
            matches!(&err, WheelError::RecordHashAlgorithm { member, algorithm: a, .. }
                if member == "demo/helper.sh" && a == algorithm),
            "{err:?}"
        );
    }
}

#[test]
fn refuses_malformed_records() {
    for (edit, reason) in [
        ("demo/x.py,sha256=abc\n", "expected 3 fields"),
        ("demo/x.py,sha256,3\n", "is not `algorithm=digest`"),
        ("demo/x.py,sha256=abc,3\n", "is not a sha256 digest"),
        ("demo/x.py,,three\n", "is not a size"),
        ("\"demo/x.py,,\n", "not closed"),
        ("\"demo/x\".py,,\n", "follows a closing quote"),
    ] {
        let err = install_err_record(demo_entries(), |record| format!("{record}{edit}"));
        assert!(
            matches!(&err, WheelError::Record { reason: r, .. } if r.contains(reason)),
            "{edit}: {err:?}"
        );
    }
    let err = install_err_record(demo_entries(), |record| {
        let line = record.lines().nth(1).unwrap().to_owned();
        format!("{record}{line}\n")
    });
    assert!(
        matches!(err, WheelError::DuplicateRecordEntry { .. }),
        "{err:?}"
    );
    let err = install_err(&demo_entries());
    assert!(
        matches!(&err, WheelError::MissingDistInfoFile { member, .. } if member == "demo-1.0.dist-info/RECORD"),
        "{err:?}"
    );
}

fn install_err_with(extra: Entry) -> WheelError {
    let mut entries = demo_entries();
    entries.push(extra);
    let record = demo_record(&entries);
    install_err(&with_record(entries, &record))
}

#[test]
fn refuses_paths_that_escape() {
    for (name, reason) in [
        ("../evil.py", "`..`"),
        ("demo/../../evil.py", "`..`"),
        ("/etc/evil", "absolute"),
        ("demo-1.0.data/purelib/../../x", "`..`"),
        ("demo-1.0.data/scripts/../../../../x", "`..`"),
        ("demo\\..\\..\\evil.py", "backslash"),
        ("demo//evil.py", "empty component"),
        ("demo/./evil.py", "`.` component"),
        ("demo/evil\0.py", "NUL"),
    ] {
        let err = install_err_with(file(name, b"evil\n"));
        assert!(
            matches!(&err, WheelError::UnsafePath { member, reason: r, .. }
                if member == name && r.contains(reason)),
            "{name}: {err:?}"
        );
        assert!(err.to_string().contains(FILENAME), "{err}");
    }
}

#[test]
fn refuses_unknown_data_keys_and_strays() {
    let err = install_err_with(file("demo-1.0.data/lib/x.py", b""));
    assert!(
        matches!(&err, WheelError::UnknownDataKey { key, .. } if key == "lib"),
        "{err:?}"
    );
    let err = install_err_with(file("demo-1.0.data/x.py", b""));
    assert!(matches!(err, WheelError::DataDirectory { .. }), "{err:?}");
    let err = install_err_with(file("other-1.0.data/purelib/x.py", b""));
    assert!(matches!(err, WheelError::DataDirectory { .. }), "{err:?}");
}

#[test]
fn refuses_duplicate_members() {
    let mut entries = demo_entries();
    entries.push(file("demo/aaaa.py", b"a\n"));
    entries.push(file("demo/bbbb.py", b"b\n"));
    let record = demo_record(&entries);
    let mut bytes = zip_bytes(&with_record(entries, &record));
    // Rename `bbbb` to `aaaa` in the zip headers (names are never compressed).
    let mut at = 0;
    while let Some(found) = bytes[at..]
        .windows(12)
        .position(|window| window == b"demo/bbbb.py")
    {
        bytes[at + found..at + found + 12].copy_from_slice(b"demo/aaaa.py");
        at += found + 12;
    }
    let (_dir, result) = install(&bytes);
    let err = result.unwrap_err();
    assert!(
        matches!(&err, WheelError::DuplicateMember { member, .. } if member == "demo/aaaa.py"),
        "{err:?}"
    );
}

#[test]
fn refuses_symlinks() {
    let err = install_err_with(symlink("demo/link.py", "cli.py"));
    assert!(
        matches!(&err, WheelError::Symlink { member, .. } if member == "demo/link.py"),
        "{err:?}"
    );
}

#[test]
fn refuses_other_wheel_versions() {
    for (wheel, version) in [
        ("Wheel-Version: 2.0\nRoot-Is-Purelib: true\n", Some("2.0")),
        ("Wheel-Version: 0.9\n", Some("0.9")),
        ("Wheel-Version: one\n", None),
        ("Root-Is-Purelib: true\n", None),
    ] {
        let mut entries = demo_entries();
        let at = entries
            .iter()
            .position(|e| e.name.ends_with("/WHEEL"))
            .unwrap();
        entries[at].data = wheel.as_bytes().to_vec();
        let record = demo_record(&entries);
        let err = install_err(&with_record(entries, &record));
        match version {
            Some(version) => assert!(
                matches!(&err, WheelError::UnsupportedWheelVersion { version: v, .. } if v == version),
                "{err:?}"
            ),
            None => assert!(matches!(err, WheelError::WheelFile { .. }), "{err:?}"),
        }
    }
}

fn renamed(entries: Vec<Entry>, from: &str, to: &str) -> Vec<Entry> {
    entries
        .into_iter()
        .map(|mut entry| {
            if let Some(rest) = entry.name.strip_prefix(from) {
                entry.name = format!("{to}{rest}");
            }
            entry
        })
        .collect()
}

#[test]
fn refuses_a_dist_info_of_another_project() {
    for other in ["other-1.0.dist-info/", "demo-2.0.dist-info/"] {
        let entries = renamed(demo_entries(), "demo-1.0.dist-info/", other);
        let bytes = wheel_with_record(&entries, other.trim_end_matches('/'));
        let (_dir, result) = install(&bytes);
        let err = result.unwrap_err();
        assert!(
            matches!(&err, WheelError::DistInfoMismatch { directory, .. }
                if format!("{directory}/") == other),
            "{err:?}"
        );
    }
    // Spelled differently, the same project and version.
    let entries = renamed(
        demo_entries(),
        "demo-1.0.dist-info/",
        "Demo-1.0.0.dist-info/",
    );
    let bytes = wheel_with_record(&entries, "Demo-1.0.0.dist-info");
    let (_dir, result) = install(&bytes);
    result.unwrap();
    // Two of them.
    let mut entries = demo_entries();
    entries.push(file("extra-1.0.dist-info/METADATA", b""));
    let record = demo_record(&entries);
    let err = install_err(&with_record(entries, &record));
    assert!(
        matches!(&err, WheelError::DistInfoCount { found, .. } if found.len() == 2),
        "{err:?}"
    );
}

#[test]
fn refuses_metadata_of_another_project() {
    for metadata in [
        "Metadata-Version: 2.1\nName: demo\nVersion: 1.1\n",
        "Metadata-Version: 2.1\nName: other\nVersion: 1.0\n",
    ] {
        let mut entries = demo_entries();
        let at = entries
            .iter()
            .position(|e| e.name.ends_with("/METADATA"))
            .unwrap();
        entries[at].data = metadata.as_bytes().to_vec();
        let record = demo_record(&entries);
        let err = install_err(&with_record(entries, &record));
        assert!(
            matches!(err, WheelError::MetadataMismatch { .. }),
            "{err:?}"
        );
    }
    let mut entries = demo_entries();
    let at = entries
        .iter()
        .position(|e| e.name.ends_with("/METADATA"))
        .unwrap();
    entries[at].data = b"Name: demo\n".to_vec();
    let record = demo_record(&entries);
    let err = install_err(&with_record(entries, &record));
    assert!(matches!(err, WheelError::Metadata { .. }), "{err:?}");
}

fn with_entry_points(text: &str) -> WheelError {
    let mut entries = demo_entries();
    let at = entries
        .iter()
        .position(|e| e.name.ends_with("/entry_points.txt"))
        .unwrap();
    entries[at].data = text.as_bytes().to_vec();
    let record = demo_record(&entries);
    install_err(&with_record(entries, &record))
}

#[test]
fn refuses_invalid_entry_points() {
    for (text, line) in [
        ("[console_scripts]\ndemo = demo.cli\n", 2),
        ("[console_scripts]\ndemo\n", 2),
        ("[gui_scripts]\n\ndemo = demo-cli:main\n", 3),
        ("[console_scripts]\ndemo = demo:main [x\n", 2),
        ("[console_scripts]\ndemo = :main\n", 2),
        ("[console_scripts]\ndemo = demo:1main\n", 2),
        ("[console_scripts]\ndemo = demo.cli : main\n", 2),
    ] {
        let err = with_entry_points(text);
        assert!(
            matches!(&err, WheelError::EntryPoint { line: l, .. } if *l == line),
            "{text}: {err:?}"
        );
    }
    for name in ["bad/name", "..", "a b", "x\\y"] {
        let err = with_entry_points(&format!("[console_scripts]\n{name} = demo:main\n"));
        assert!(
            matches!(&err, WheelError::InvalidScriptName { name: n, .. } if n == name),
            "{name}: {err:?}"
        );
    }
    let err = with_entry_points("[console_scripts]\nx = demo:main\n[gui_scripts]\nx = demo:main\n");
    assert!(matches!(err, WheelError::DuplicateScript { .. }), "{err:?}");
    let err = with_entry_points("[console_scripts]\nplain = demo:main\n");
    assert!(
        matches!(&err, WheelError::ScriptCollision { name, member, .. }
            if name == "plain" && member == "demo-1.0.data/scripts/plain"),
        "{err:?}"
    );
}

#[test]
fn refuses_files_that_collide() {
    let err = install_err_with(file("demo-1.0.data/purelib/demo/__init__.py", b""));
    assert!(
        matches!(&err, WheelError::Conflict { path, .. } if path == &format!("{LIB}/demo/__init__.py")),
        "{err:?}"
    );
    let err = install_err_with(file("demo/cli.py/inner.py", b""));
    assert!(
        matches!(&err, WheelError::Conflict { path, .. } if path == &format!("{LIB}/demo/cli.py")),
        "{err:?}"
    );
    let err = install_err_with(file(&format!("demo-1.0.data/purelib/{INFO}/RECORD"), b""));
    assert!(matches!(err, WheelError::Conflict { .. }), "{err:?}");
}

#[test]
fn other_entry_point_groups_are_not_read() {
    let text = "[demo.plugins]\nnot a pair\n[console_scripts]\nok = demo:main\n";
    let scripts = parse_entry_points(text.as_bytes()).unwrap();
    assert_eq!(
        scripts,
        [ScriptEntryPoint {
            name: "ok".to_owned(),
            module: "demo".to_owned(),
            attr: "main".to_owned()
        }]
    );
}

#[test]
fn csv_reads_as_python_does() {
    let text = "a,b,c\r\n\n\"x,y\",\"say \"\"hi\"\"\",\r\"multi\nline\",2,\nq\"uote,,";
    let rows = parse_csv(text).unwrap();
    assert_eq!(
        rows,
        [
            (1, vec!["a".into(), "b".into(), "c".into()]),
            (3, vec!["x,y".into(), "say \"hi\"".into(), String::new()]),
            (4, vec!["multi\nline".into(), "2".into(), String::new()]),
            (6, vec!["q\"uote".into(), String::new(), String::new()]),
        ]
    );
    for field in ["plain", "a,b", "say \"hi\"", "multi\nline", ""] {
        let written = format!("{},x\n", csv_field(field));
        assert_eq!(parse_csv(&written).unwrap()[0].1[0], field);
    }
}

#[test]
fn the_error_stays_small() {
    // Callers embed it in their own errors; clippy's `result_large_err` starts
    // at 128 bytes.
    assert!(std::mem::size_of::<WheelError>() <= 112);
}

#[test]
fn relative_paths() {
    assert_eq!(relative_to(LIB, &format!("{LIB}/a/b")), "a/b");
    assert_eq!(relative_to(LIB, "usr/local/bin/x"), "../../../bin/x");
    assert_eq!(relative_to("a/b", "c"), "../../c");
}

#[test]
fn script_rewriting() {
    let rewrite = |input: &[u8]| {
        let mut out = Vec::new();
        copy_script(&mut &input[..], Some("/usr/bin/python3.13"), &mut out).unwrap();
        String::from_utf8(out).unwrap()
    };
    assert_eq!(rewrite(b"#!python"), "#!/usr/bin/python3.13\n");
    assert_eq!(
        rewrite(b"#!python3 -E\r\nx\n"),
        "#!/usr/bin/python3.13\nx\n"
    );
    assert_eq!(rewrite(b"#! python\n"), "#! python\n");
    assert_eq!(rewrite(b""), "");
    assert_eq!(
        rewrite(b"#!/usr/bin/env python\n"),
        "#!/usr/bin/env python\n"
    );
}

trait ReplaceBytes {
    fn replace_bytes(&self, from: &[u8], to: &[u8]) -> Vec<u8>;
}

impl ReplaceBytes for Vec<u8> {
    fn replace_bytes(&self, from: &[u8], to: &[u8]) -> Vec<u8> {
        let at = self.windows(from.len()).position(|w| w == from).unwrap();
        [&self[..at], to, &self[at + from.len()..]].concat()
    }
}

/// pip, when it is installed: the same files, relative to the library
/// directory, as `pip install --no-deps --no-compile --prefix`.
#[test]
fn same_files_as_pip() {
    let python = Path::new("/usr/bin/python3");
    let has_pip = Command::new(python)
        .args(["-m", "pip", "--version"])
        .output()
        .is_ok_and(|output| output.status.success());
    if !has_pip {
        assert!(
            std::env::var_os("CI").is_none(),
            "`/usr/bin/python3 -m pip` is missing, but CI must run this oracle test"
        );
        eprintln!("skipping: `/usr/bin/python3 -m pip` is not available");
        return;
    }
    let version = Command::new(python)
        .args(["-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"])
        .output()
        .unwrap();
    let version = String::from_utf8(version.stdout).unwrap();
    let target =
        Target::from_debian(version.trim(), "2.41-12", "amd64").expect("the host's Python");

    let entries = demo_entries();
    let record = demo_record(&entries);
    let dir = tempfile::tempdir().unwrap();
    let wheel = write_wheel(
        dir.path(),
        FILENAME,
        &zip_bytes(&with_record(entries, &record)),
    );
    let ours = dir.path().join("ours");
    let scheme = InstallScheme::debian(&target);
    install_wheel(&wheel, &expected(), &scheme, &ours).unwrap();

    let prefix = dir.path().join("pip");
    let output = Command::new(python)
        .args([
            "-m",
            "pip",
            "install",
            "--isolated",
            "--no-index",
            "--no-deps",
        ])
        .args([
            "--no-compile",
            "--no-cache-dir",
            "--disable-pip-version-check",
        ])
        .args(["--no-warn-script-location", "--prefix"])
        .arg(&prefix)
        .arg(&wheel)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "pip failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );

    let record_paths = |record: &Path| -> BTreeSet<String> {
        let text = fs_err::read_to_string(record).unwrap();
        parse_csv(&text)
            .unwrap()
            .into_iter()
            .map(|(_, fields)| fields[0].clone())
            .filter(|path| {
                let base = path.rsplit('/').next().unwrap();
                // Headers differ on purpose (see `InstallScheme::debian`).
                !path.contains("__pycache__")
                    && !path.contains("/include/")
                    && !matches!(
                        base,
                        "RECORD" | "INSTALLER" | "REQUESTED" | "direct_url.json"
                    )
            })
            .collect()
    };
    let find_record = |root: &Path| {
        listing(root)
            .into_iter()
            .map(|(path, _, _)| root.join(path))
            .find(|path| path.ends_with(format!("{INFO}/RECORD")))
            .unwrap()
    };
    let pip_record = find_record(&prefix);
    let ours_record = find_record(&ours);
    assert_eq!(record_paths(&ours_record), record_paths(&pip_record));
    // And the files pip wrote under its library directory are ours.
    let pip_lib = pip_record.parent().unwrap().parent().unwrap();
    let ours_lib = ours_record.parent().unwrap().parent().unwrap();
    let files = |lib: &Path| -> BTreeSet<String> {
        listing(lib)
            .into_iter()
            .map(|(path, _, _)| path)
            .filter(|path| {
                !path.ends_with('/')
                    && !path.contains("__pycache__")
                    && !path.ends_with("/REQUESTED")
                    && !path.ends_with("/direct_url.json")
            })
            .collect()
    };
    assert_eq!(files(ours_lib), files(pip_lib));
}
