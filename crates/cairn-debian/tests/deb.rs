//! `.deb` reading against files built by the real `dpkg-deb`, and hostile archives
//! built by hand.

#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};

use cairn_debian::{DebEntryKind, DebError, SpecialKind, read_deb};
use cairn_test::{require_tool, write_file};

fn set_mode(path: &Path, mode: u32) {
    fs_err::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Builds a fixture package with dpkg-deb; `None` when dpkg-deb is missing outside CI.
fn build_fixture(tmp: &Path, compression: &str) -> Option<PathBuf> {
    let dpkg_deb = require_tool("dpkg-deb")?;
    let root = tmp.join(format!("pkg-{compression}"));
    for dir in ["DEBIAN", "usr/bin", "usr/lib", "etc", "var/cache-sticky"] {
        fs_err::create_dir_all(root.join(dir)).unwrap();
    }
    set_mode(&root.join("var/cache-sticky"), 0o1777);
    write_file(
        &root.join("DEBIAN/control"),
        b"Package: cairn-fixture\nVersion: 1.0-1\nArchitecture: all\nMaintainer: cairn <test@cairn.invalid>\nDescription: fixture\n",
        0o644,
    );
    write_file(
        &root.join("DEBIAN/postinst"),
        b"#!/bin/sh\necho never run\n",
        0o755,
    );
    write_file(&root.join("DEBIAN/conffiles"), b"/etc/cairn.conf\n", 0o644);
    // Real packages carry md5sums from dh_md5sums (dpkg-deb does not write it).
    write_file(
        &root.join("DEBIAN/md5sums"),
        b"0123456789abcdef0123456789abcdef  usr/bin/tool\n",
        0o644,
    );
    write_file(&root.join("usr/bin/tool"), b"#!/bin/sh\necho tool\n", 0o755);
    write_file(&root.join("usr/bin/setuid-tool"), b"setuid\n", 0o755);
    set_mode(&root.join("usr/bin/setuid-tool"), 0o4755);
    fs_err::hard_link(root.join("usr/bin/tool"), root.join("usr/bin/tool-again")).unwrap();
    write_file(&root.join("usr/lib/libx.so.1.0"), b"\x7fELF", 0o644);
    symlink("libx.so.1.0", root.join("usr/lib/libx.so.1")).unwrap();
    write_file(&root.join("etc/cairn.conf"), b"setting = 1\n", 0o644);
    let out = tmp.join(format!("fixture-{compression}.deb"));
    let status = dpkg_deb
        .command()
        .args(["--root-owner-group", &format!("-Z{compression}"), "--build"])
        .arg(&root)
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    Some(out)
}

#[test]
fn reads_dpkg_deb_packages_in_every_compression() {
    let tmp = tempfile::tempdir().unwrap();
    for compression in ["xz", "gzip", "zstd", "none"] {
        let Some(deb) = build_fixture(tmp.path(), compression) else {
            return;
        };
        let dest = tmp.path().join(format!("out-{compression}"));
        let contents = read_deb(&deb, &dest).unwrap_or_else(|e| panic!("{compression}: {e}"));
        assert!(contents.control.control.contains("Package: cairn-fixture"));
        assert_eq!(
            contents.control.conffiles.as_deref(),
            Some("/etc/cairn.conf\n")
        );
        assert_eq!(
            contents.control.scripts["postinst"],
            b"#!/bin/sh\necho never run\n"
        );
        assert_eq!(
            contents.control.md5sums.as_deref(),
            Some("0123456789abcdef0123456789abcdef  usr/bin/tool\n")
        );
        let entry = |p: &str| {
            contents
                .entries
                .iter()
                .find(|e| e.path == p.as_bytes())
                .unwrap_or_else(|| panic!("{p}"))
        };
        assert_eq!(entry("usr/bin/setuid-tool").mode, 0o4755);
        assert_eq!(
            (
                entry("usr/bin/setuid-tool").uid,
                entry("usr/bin/setuid-tool").gid
            ),
            (0, 0)
        );
        assert_eq!(entry("var/cache-sticky").mode, 0o1777);
        assert_eq!(entry("var/cache-sticky").kind, DebEntryKind::Directory);
        assert_eq!(
            entry("usr/lib/libx.so.1").kind,
            DebEntryKind::Symlink {
                target: b"libx.so.1.0".to_vec()
            }
        );
        let linked = ["usr/bin/tool", "usr/bin/tool-again"].map(entry);
        assert!(
            linked
                .iter()
                .any(|e| matches!(&e.kind, DebEntryKind::HardLink { .. })),
            "one of the two names is a hard link: {linked:?}"
        );
        // On disk: the tree, with the hard link kept and nothing setuid.
        assert_eq!(
            fs_err::read(dest.join("etc/cairn.conf")).unwrap(),
            b"setting = 1\n"
        );
        let ino = |p: &str| fs_err::metadata(dest.join(p)).unwrap().ino();
        assert_eq!(ino("usr/bin/tool"), ino("usr/bin/tool-again"));
        assert_eq!(
            fs_err::read_link(dest.join("usr/lib/libx.so.1")).unwrap(),
            Path::new("libx.so.1.0")
        );
        assert_eq!(
            fs_err::metadata(dest.join("usr/bin/setuid-tool"))
                .unwrap()
                .mode()
                & 0o7000,
            0
        );
    }
}

/// Builds a .deb from raw members.
fn ar_deb(path: &Path, members: &[(&str, Vec<u8>)]) {
    let file = fs_err::File::create(path).unwrap();
    let mut builder = ar::Builder::new(file);
    for (name, data) in members {
        let header = ar::Header::new(name.as_bytes().to_vec(), data.len() as u64);
        builder.append(&header, data.as_slice()).unwrap();
    }
}

fn control_tar() -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let data = b"Package: evil\nVersion: 1\nArchitecture: all\n";
    let mut header = tar::Header::new_gnu();
    header.set_size(data.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    builder
        .append_data(&mut header, "./control", &data[..])
        .unwrap();
    builder.into_inner().unwrap()
}

/// A tar whose entries have exactly these names (bypassing the tar crate's own checks).
fn raw_tar(entries: &[(&[u8], tar::EntryType, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, kind, link) in entries {
        let mut header = tar::Header::new_old();
        header.as_old_mut().name[..name.len()].copy_from_slice(name);
        header.as_old_mut().linkname[..link.len()].copy_from_slice(link);
        header.set_entry_type(*kind);
        header.set_mode(0o644);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        let body: &[u8] = if kind.is_file() { b"pwned\n" } else { b"" };
        header.set_size(body.len() as u64);
        header.set_cksum();
        builder.append(&header, body).unwrap();
    }
    builder.into_inner().unwrap()
}

fn hostile(tmp: &Path, name: &str, data: Vec<u8>) -> Result<cairn_debian::DebContents, DebError> {
    let deb = tmp.join(format!("{name}.deb"));
    ar_deb(
        &deb,
        &[
            ("debian-binary", b"2.0\n".to_vec()),
            ("control.tar", control_tar()),
            ("data.tar", data),
        ],
    );
    read_deb(&deb, &tmp.join(format!("{name}-out")))
}

#[test]
fn hostile_archives_are_refused_and_write_nothing_outside() {
    let tmp = tempfile::tempdir().unwrap();
    let outside = tmp.path().join("outside");
    fs_err::create_dir(&outside).unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "dotdot",
            raw_tar(&[(b"./../outside/pwned", tar::EntryType::Regular, b"")]),
            "`..` component",
        ),
        (
            "absolute",
            raw_tar(&[(b"/tmp/pwned", tar::EntryType::Regular, b"")]),
            "absolute path",
        ),
        (
            "through-symlink",
            raw_tar(&[
                (
                    b"./link",
                    tar::EntryType::Symlink,
                    outside.as_os_str().as_encoded_bytes(),
                ),
                (b"./link/pwned", tar::EntryType::Regular, b""),
            ]),
            "through a symlink",
        ),
        (
            "duplicate",
            raw_tar(&[
                (b"./a", tar::EntryType::Regular, b""),
                (b"./a", tar::EntryType::Regular, b""),
            ]),
            "appears twice",
        ),
        (
            "hardlink-out",
            raw_tar(&[(b"./h", tar::EntryType::Link, b"../outside/x")]),
            "`..` component",
        ),
        // A FIFO (never created) names a directory, a symlink then takes that name, and a
        // hard link reaches through it: found in review, it once leaked host files.
        (
            "hardlink-through-late-symlink",
            raw_tar(&[
                (b"./a/secret", tar::EntryType::Fifo, b""),
                (
                    b"./a",
                    tar::EntryType::Symlink,
                    outside.as_os_str().as_encoded_bytes(),
                ),
                (b"./stolen", tar::EntryType::Link, b"./a/secret"),
            ]),
            "appears twice",
        ),
        (
            "hardlink-to-special",
            raw_tar(&[
                (b"./fifo", tar::EntryType::Fifo, b""),
                (b"./h", tar::EntryType::Link, b"./fifo"),
            ]),
            "not an earlier file",
        ),
        (
            "child-of-file",
            raw_tar(&[
                (b"./f", tar::EntryType::Regular, b""),
                (b"./f/child", tar::EntryType::Regular, b""),
            ]),
            "goes through",
        ),
        (
            "child-of-special",
            raw_tar(&[
                (b"./p", tar::EntryType::Fifo, b""),
                (b"./p/child", tar::EntryType::Regular, b""),
            ]),
            "goes through",
        ),
    ];
    for (name, data, reason) in cases {
        let err = hostile(tmp.path(), name, data).unwrap_err();
        assert!(
            matches!(err, DebError::UnsafeEntry { .. }),
            "{name}: {err:?}"
        );
        assert!(
            err.to_string().contains(reason) && err.to_string().contains(".deb"),
            "{name}: {err}"
        );
    }
    assert_eq!(
        fs_err::read_dir(&outside).unwrap().count(),
        0,
        "nothing was written outside"
    );
}

#[test]
fn parents_missing_from_the_archive_are_created_and_may_be_listed_later() {
    let tmp = tempfile::tempdir().unwrap();
    let data = raw_tar(&[
        (b"./usr/share/doc/x/copyright", tar::EntryType::Regular, b""),
        (b"./usr", tar::EntryType::Directory, b""),
    ]);
    let contents = hostile(tmp.path(), "implicit", data).unwrap();
    assert_eq!(contents.entries.len(), 2);
    assert!(
        tmp.path()
            .join("implicit-out/usr/share/doc/x/copyright")
            .is_file()
    );
    // ...but a directory listed twice is still a duplicate.
    let twice = raw_tar(&[
        (b"./d", tar::EntryType::Directory, b""),
        (b"./d", tar::EntryType::Directory, b""),
    ]);
    assert!(
        hostile(tmp.path(), "twice", twice)
            .unwrap_err()
            .to_string()
            .contains("appears twice")
    );
}

#[test]
fn device_nodes_are_recorded_not_created() {
    let tmp = tempfile::tempdir().unwrap();
    let contents = hostile(
        tmp.path(),
        "devices",
        raw_tar(&[(b"./dev/null", tar::EntryType::Char, b"")]),
    )
    .unwrap();
    let entry = &contents.entries[0];
    assert!(
        matches!(
            entry.kind,
            DebEntryKind::Special {
                kind: SpecialKind::CharDevice,
                ..
            }
        ),
        "{entry:?}"
    );
    assert!(!tmp.path().join("devices-out/dev/null").exists());
}

#[test]
fn malformed_debs_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let garbage = tmp.path().join("garbage.deb");
    fs_err::write(&garbage, b"this is not an ar archive").unwrap();
    let err = read_deb(&garbage, &tmp.path().join("g")).unwrap_err();
    assert!(matches!(err, DebError::NotADeb { .. }), "{err:?}");

    let no_data = tmp.path().join("no-data.deb");
    ar_deb(
        &no_data,
        &[
            ("debian-binary", b"2.0\n".to_vec()),
            ("control.tar", control_tar()),
        ],
    );
    let err = read_deb(&no_data, &tmp.path().join("n")).unwrap_err();
    assert!(err.to_string().contains("no `data.tar` member"), "{err}");

    let wrong_order = tmp.path().join("wrong-order.deb");
    ar_deb(
        &wrong_order,
        &[
            ("control.tar", control_tar()),
            ("debian-binary", b"2.0\n".to_vec()),
        ],
    );
    assert!(matches!(
        read_deb(&wrong_order, &tmp.path().join("w")).unwrap_err(),
        DebError::NotADeb { .. }
    ));

    let unknown = tmp.path().join("unknown.deb");
    ar_deb(
        &unknown,
        &[
            ("debian-binary", b"2.0\n".to_vec()),
            ("control.tar.lzma", vec![1, 2, 3]),
        ],
    );
    assert!(matches!(
        read_deb(&unknown, &tmp.path().join("u")).unwrap_err(),
        DebError::UnsupportedCompression { .. }
    ));

    // A real package cut short anywhere is refused without a panic.
    let Some(deb) = build_fixture(tmp.path(), "xz") else {
        return;
    };
    let mut bytes = Vec::new();
    fs_err::File::open(&deb)
        .unwrap()
        .read_to_end(&mut bytes)
        .unwrap();
    for (i, cut) in [8, 60, 100, bytes.len() / 2, bytes.len() - 10]
        .into_iter()
        .enumerate()
    {
        let short = tmp.path().join(format!("short-{i}.deb"));
        fs_err::write(&short, &bytes[..cut]).unwrap();
        assert!(
            read_deb(&short, &tmp.path().join(format!("s{i}"))).is_err(),
            "cut at {cut}"
        );
    }
}

#[test]
fn packages_become_store_objects_with_exact_permissions_and_metadata() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(deb) = build_fixture(tmp.path(), "xz") else {
        return;
    };
    let store = cairn_store::Store::open(&tmp.path().join("store")).unwrap();
    let path = cairn_debian::add_deb(&store, &deb, &[]).unwrap();
    assert_eq!(path.name(), "cairn-fixture_1.0-1_all");
    let info = store.info(&path).unwrap();
    assert_eq!(
        info.permissions.get(b"usr/bin/setuid-tool").unwrap().mode,
        0o4755
    );
    assert_eq!(
        info.permissions.get(b"var/cache-sticky").unwrap().mode,
        0o1777
    );
    assert!(
        info.permissions.get(b"usr/bin/tool").is_none(),
        "defaults are not recorded"
    );
    let control = String::from_utf8(info.metadata.get("deb.control").unwrap().to_vec()).unwrap();
    assert!(control.contains("Package: cairn-fixture"));
    assert_eq!(
        info.metadata.get("deb.script.postinst").unwrap(),
        b"#!/bin/sh\necho never run\n"
    );
    assert_eq!(
        info.metadata.get("deb.conffiles").unwrap(),
        b"/etc/cairn.conf\n"
    );
    let extra = cairn_debian::decode_extra_entries(info.metadata.get("deb.extra-entries").unwrap())
        .unwrap();
    assert_eq!(extra.len(), 1, "the hard link: {extra:?}");
    assert!(matches!(extra[0].kind, DebEntryKind::HardLink { .. }));
    assert!(
        store
            .verify(None, &cairn_store::NoReporter)
            .unwrap()
            .is_ok()
    );
    // The same package again is the same object.
    assert_eq!(cairn_debian::add_deb(&store, &deb, &[]).unwrap(), path);
    // Maintainer scripts are data, never run: the store holds no trace of them running.
    assert!(!store.object_dir(&path).join("DEBIAN").exists());
}

#[test]
fn owners_and_device_nodes_from_tar_headers_are_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let mut builder = tar::Builder::new(Vec::new());
    let mut add = |path: &str, kind: tar::EntryType, mode: u32, uid: u64, gid: u64, body: &[u8]| {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(kind);
        header.set_mode(mode);
        header.set_uid(uid);
        header.set_gid(gid);
        header.set_mtime(0);
        header.set_size(body.len() as u64);
        if kind == tar::EntryType::Char {
            header.set_device_major(5).unwrap();
            header.set_device_minor(1).unwrap();
        }
        header.set_cksum();
        builder.append_data(&mut header, path, body).unwrap();
    };
    add("./srv", tar::EntryType::Directory, 0o750, 42, 43, b"");
    add(
        "./srv/data",
        tar::EntryType::Regular,
        0o640,
        42,
        43,
        b"secret\n",
    );
    add("./dev", tar::EntryType::Directory, 0o755, 0, 0, b"");
    add("./dev/console", tar::EntryType::Char, 0o600, 0, 5, b"");
    let data = builder.into_inner().unwrap();
    let deb = tmp.path().join("owned.deb");
    let control = {
        let mut b = tar::Builder::new(Vec::new());
        let text = b"Package: owned\nVersion: 2:1.0~rc1-1\nArchitecture: amd64\n";
        let mut h = tar::Header::new_gnu();
        h.set_size(text.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_cksum();
        b.append_data(&mut h, "./control", &text[..]).unwrap();
        b.into_inner().unwrap()
    };
    ar_deb(
        &deb,
        &[
            ("debian-binary", b"2.0\n".to_vec()),
            ("control.tar", control),
            ("data.tar", data),
        ],
    );
    let store = cairn_store::Store::open(&tmp.path().join("store")).unwrap();
    let path = cairn_debian::add_deb(&store, &deb, &[]).unwrap();
    assert_eq!(
        path.name(),
        "owned_2-1.0-rc1-1_amd64",
        "epoch colon and tilde are sanitized"
    );
    let info = store.info(&path).unwrap();
    let srv = info.permissions.get(b"srv").unwrap();
    assert_eq!((srv.mode, srv.uid, srv.gid), (0o750, 42, 43));
    let data = info.permissions.get(b"srv/data").unwrap();
    assert_eq!((data.mode, data.uid, data.gid), (0o640, 42, 43));
    assert!(
        !store.object_dir(&path).join("dev/console").exists(),
        "no device node on the host"
    );
    let extra = cairn_debian::decode_extra_entries(info.metadata.get("deb.extra-entries").unwrap())
        .unwrap();
    assert_eq!(extra.len(), 1);
    assert_eq!(extra[0].path, b"dev/console");
    assert_eq!(
        extra[0].kind,
        DebEntryKind::Special {
            kind: SpecialKind::CharDevice,
            major: 5,
            minor: 1
        }
    );
    assert_eq!((extra[0].mode, extra[0].gid), (0o600, 5));
}

#[test]
fn bad_packages_register_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let store = cairn_store::Store::open(&tmp.path().join("store")).unwrap();
    let evil = tmp.path().join("evil.deb");
    let data = raw_tar(&[(b"./../escape", tar::EntryType::Regular, b"")]);
    ar_deb(
        &evil,
        &[
            ("debian-binary", b"2.0\n".to_vec()),
            ("control.tar", control_tar()),
            ("data.tar", data),
        ],
    );
    let err = cairn_debian::add_deb(&store, &evil, &[]).unwrap_err();
    assert!(err.to_string().contains("unsafe entry"), "{err}");
    let garbage = tmp.path().join("garbage.deb");
    fs_err::write(&garbage, b"!<arch>\nnot really").unwrap();
    assert!(cairn_debian::add_deb(&store, &garbage, &[]).is_err());
    assert!(store.all_objects().unwrap().is_empty());
}
