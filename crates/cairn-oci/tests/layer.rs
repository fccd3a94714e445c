//! Tar layers: determinism, every entry kind read back by the `tar` crate after each
//! compression, the limits of ustar (long names, non-UTF-8 names, large ids) carried
//! by pax, refused entries, a pinned golden layer, and GNU tar and Python's `tarfile`
//! as independent readers (outside CI a missing tool skips).

#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::Path;

use cairn_oci::{
    Compression, Digest, EntryKind, LayerEntry, LayerError, LayerOptions, WrittenLayer, write_layer,
};
use cairn_test::require_tool;

/// 2024-01-01T00:00:00Z.
const MTIME: u64 = 1_704_067_200;

const ALL: [Compression; 3] = [Compression::Gzip, Compression::Zstd, Compression::None];

/// A `security.capability` value (VFS_CAP_REVISION_2, cap_net_raw permitted+effective).
const CAP_NET_RAW: &[u8] = &[
    0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00,
];

fn entry(path: impl AsRef<[u8]>, kind: EntryKind, mode: u32) -> LayerEntry {
    LayerEntry {
        path: path.as_ref().to_vec(),
        kind,
        mode,
        uid: 0,
        gid: 0,
        xattrs: BTreeMap::new(),
    }
}

fn dir(path: impl AsRef<[u8]>) -> LayerEntry {
    entry(path, EntryKind::Directory, 0o755)
}

fn bytes(path: impl AsRef<[u8]>, contents: &[u8], mode: u32) -> LayerEntry {
    entry(path, EntryKind::Bytes(contents.to_vec()), mode)
}

fn symlink(path: impl AsRef<[u8]>, target: impl AsRef<[u8]>) -> LayerEntry {
    let target = target.as_ref().to_vec();
    entry(path, EntryKind::Symlink { target }, 0o777)
}

fn hardlink(path: impl AsRef<[u8]>, target: impl AsRef<[u8]>) -> LayerEntry {
    let target = target.as_ref().to_vec();
    entry(path, EntryKind::HardLink { target }, 0o755)
}

fn options(compression: Compression) -> LayerOptions {
    LayerOptions {
        compression,
        mtime: MTIME,
    }
}

/// A 300-byte path that ustar's prefix/name split cannot hold.
fn long_dir() -> Vec<u8> {
    let mut path = b"usr/share/".to_vec();
    for i in 0..5 {
        path.extend_from_slice(format!("segment-{i}-").as_bytes());
        path.extend(std::iter::repeat_n(b'x', 40));
        path.push(b'/');
    }
    path.pop();
    path
}

fn long_file() -> Vec<u8> {
    let mut path = long_dir();
    path.extend_from_slice(b"/file");
    assert!(path.len() > 255);
    path
}

/// Every entry kind and every reason for a pax header. Files read from disk are written
/// under `sources`.
fn sample(sources: &Path) -> Vec<LayerEntry> {
    let python = sources.join("python3");
    let python_contents: Vec<u8> = (0..70_001u32).map(|i| (i % 251) as u8).collect();
    fs_err::write(&python, &python_contents).unwrap();

    let mut ping = bytes("usr/bin/ping", b"\x7fELF ping", 0o755);
    ping.xattrs
        .insert("security.capability".into(), CAP_NET_RAW.to_vec());
    // Record lengths around the 2→3 digit boundary.
    ping.xattrs.insert("user.a".into(), vec![b'v'; 80]);
    let mut home = entry("home/nonroot", EntryKind::Directory, 0o700);
    home.uid = 65532;
    home.gid = 65532;
    let mut big_ids = bytes("srv/big-ids", b"ids", 0o644);
    big_ids.uid = 3_000_000;
    big_ids.gid = 4_000_000;
    // Exactly splittable into ustar prefix (150) and name: no pax header.
    let mut split = b"srv/".to_vec();
    split.extend(std::iter::repeat_n(b's', 145));
    split.extend_from_slice(b"/");
    split.extend(std::iter::repeat_n(b'n', 90));

    vec![
        dir("dev"),
        entry(
            "dev/null",
            EntryKind::CharDevice { major: 1, minor: 3 },
            0o666,
        ),
        entry(
            "dev/sda",
            EntryKind::BlockDevice { major: 8, minor: 0 },
            0o660,
        ),
        dir("etc"),
        bytes("etc/empty", b"", 0o644),
        bytes("etc/hostname", b"cairn\n", 0o644),
        home,
        entry("run/initctl", EntryKind::Fifo, 0o600),
        bytes("srv/café", b"utf-8", 0o644),
        bytes(b"srv/caf\xe9", b"latin-1", 0o644),
        big_ids,
        bytes(&split, b"split", 0o644),
        symlink(
            "srv/long-target",
            [b"../".as_slice(), &[b't'; 147]].concat(),
        ),
        entry("tmp", EntryKind::Directory, 0o1777),
        dir("usr"),
        dir("usr/bin"),
        entry(
            "usr/bin/python3",
            EntryKind::File {
                source: python,
                size: python_contents.len() as u64,
            },
            0o755,
        ),
        hardlink("usr/bin/python3.13", "usr/bin/python3"),
        ping,
        symlink("usr/bin/py", "python3"),
        bytes("usr/bin/sudo", b"\x7fELF sudo", 0o4755),
        bytes("usr/bin/wall", b"\x7fELF wall", 0o2755),
        dir("usr/share"),
        dir(long_dir()),
        bytes(long_file(), b"deep", 0o644),
        hardlink([long_dir().as_slice(), b"/link"].concat(), long_file()),
    ]
}

fn write(entries: &[LayerEntry], options: &LayerOptions) -> (WrittenLayer, Vec<u8>) {
    let mut out = Vec::new();
    let written = write_layer(entries, options, &mut out).unwrap();
    (written, out)
}

fn decompress(compression: Compression, bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match compression {
        Compression::Gzip => {
            flate2::read::MultiGzDecoder::new(bytes)
                .read_to_end(&mut out)
                .unwrap();
        }
        Compression::Zstd => {
            zstd::stream::read::Decoder::new(bytes)
                .unwrap()
                .read_to_end(&mut out)
                .unwrap();
        }
        Compression::None => out = bytes.to_vec(),
    }
    out
}

/// An entry as a reader sees it.
#[derive(Debug, PartialEq, Eq)]
struct ReadEntry {
    path: Vec<u8>,
    kind: char,
    mode: u32,
    uid: u64,
    gid: u64,
    link: Option<Vec<u8>>,
    device: Option<(u32, u32)>,
    contents: Vec<u8>,
    xattrs: BTreeMap<String, Vec<u8>>,
}

/// What a reader should see for `entries`: sorted, modes masked, file contents read.
fn expected(entries: &[LayerEntry]) -> Vec<ReadEntry> {
    let mut expected: Vec<ReadEntry> = entries
        .iter()
        .map(|entry| {
            let (kind, link, device, contents) = match &entry.kind {
                EntryKind::Directory => ('5', None, None, Vec::new()),
                EntryKind::File { source, .. } => ('0', None, None, fs_err::read(source).unwrap()),
                EntryKind::Bytes(bytes) => ('0', None, None, bytes.clone()),
                EntryKind::Symlink { target } => ('2', Some(target.clone()), None, Vec::new()),
                EntryKind::HardLink { target } => ('1', Some(target.clone()), None, Vec::new()),
                EntryKind::CharDevice { major, minor } => {
                    ('3', None, Some((*major, *minor)), Vec::new())
                }
                EntryKind::BlockDevice { major, minor } => {
                    ('4', None, Some((*major, *minor)), Vec::new())
                }
                EntryKind::Fifo => ('6', None, None, Vec::new()),
            };
            ReadEntry {
                path: entry.path.clone(),
                kind,
                mode: entry.mode & 0o7777,
                uid: entry.uid.into(),
                gid: entry.gid.into(),
                link,
                device,
                contents,
                xattrs: entry.xattrs.clone(),
            }
        })
        .collect();
    expected.sort_by(|a, b| a.path.cmp(&b.path));
    expected
}

/// Reads an uncompressed layer with the `tar` crate, checking the fixed header fields
/// on the way, and returns its entries and which of them had a pax header.
fn read_tar(tar: &[u8]) -> (Vec<ReadEntry>, Vec<Vec<u8>>) {
    let mut archive = tar::Archive::new(tar);
    let mut entries = Vec::new();
    let mut with_pax = Vec::new();
    for e in archive.entries().unwrap() {
        let mut e = e.unwrap();
        let header = e.header();
        assert!(header.as_ustar().is_some(), "ustar headers only");
        assert_eq!(header.mtime().unwrap(), MTIME);
        assert_eq!(header.username_bytes(), Some(&b""[..]));
        assert_eq!(header.groupname_bytes(), Some(&b""[..]));
        let kind = char::from(header.entry_type().as_byte());
        let mode = header.mode().unwrap();
        let device = matches!(kind, '3' | '4').then(|| {
            (
                header.device_major().unwrap().unwrap(),
                header.device_minor().unwrap().unwrap(),
            )
        });
        let (uid, gid) = (header.uid().unwrap(), header.gid().unwrap());
        let mut path = e.path_bytes().into_owned();
        if kind == '5' {
            assert_eq!(path.pop(), Some(b'/'), "directories end with `/`");
        }
        let link = e.link_name_bytes().map(std::borrow::Cow::into_owned);
        let mut xattrs = BTreeMap::new();
        if let Some(pax) = e.pax_extensions().unwrap() {
            with_pax.push(path.clone());
            for record in pax {
                let record = record.unwrap();
                if let Some(name) = record.key().unwrap().strip_prefix("SCHILY.xattr.") {
                    xattrs.insert(name.to_owned(), record.value_bytes().to_vec());
                }
            }
        }
        let mut contents = Vec::new();
        e.read_to_end(&mut contents).unwrap();
        entries.push(ReadEntry {
            path,
            kind,
            mode,
            uid,
            gid,
            link,
            device,
            contents,
            xattrs,
        });
    }
    (entries, with_pax)
}

#[test]
fn input_order_does_not_change_the_bytes() {
    let sources = tempfile::tempdir().unwrap();
    let entries = sample(sources.path());
    let mut reversed = entries.clone();
    reversed.reverse();
    let mut rotated = entries.clone();
    rotated.rotate_left(7);
    for compression in ALL {
        let (written, bytes) = write(&entries, &options(compression));
        for other in [&reversed, &rotated] {
            let (other_written, other_bytes) = write(other, &options(compression));
            assert_eq!(written, other_written, "{compression:?}");
            assert!(bytes == other_bytes, "{compression:?}: bytes differ");
        }
    }
}

#[test]
fn mtime_changes_the_digest() {
    let sources = tempfile::tempdir().unwrap();
    let entries = sample(sources.path());
    for compression in ALL {
        let (a, _) = write(&entries, &options(compression));
        let (b, _) = write(
            &entries,
            &LayerOptions {
                compression,
                mtime: MTIME + 1,
            },
        );
        assert_ne!(a.diff_id, b.diff_id);
        assert_ne!(a.digest, b.digest);
    }
}

#[test]
fn each_compression_round_trips() {
    let sources = tempfile::tempdir().unwrap();
    let entries = sample(sources.path());
    let mut diff_ids = Vec::new();
    for compression in ALL {
        let (written, bytes) = write(&entries, &options(compression));
        assert_eq!(written.digest, Digest::of(&bytes));
        assert_eq!(written.size, bytes.len() as u64);
        assert_eq!(written.media_type, compression.media_type());
        let tar = decompress(compression, &bytes);
        assert_eq!(written.diff_id, Digest::of(&tar));
        assert_eq!(written.uncompressed_size, tar.len() as u64);
        assert_eq!(tar.len() % 512, 0);
        assert!(tar.ends_with(&[0; 1024]));
        diff_ids.push(written.diff_id);

        let (read, _) = read_tar(&tar);
        assert_eq!(read, expected(&entries), "{compression:?}");
    }
    // The tar inside is the same whatever the compression.
    assert!(diff_ids.windows(2).all(|pair| pair[0] == pair[1]));
    assert_eq!(
        [
            Compression::Gzip.media_type(),
            Compression::Zstd.media_type(),
            Compression::None.media_type()
        ],
        [
            "application/vnd.oci.image.layer.v1.tar+gzip",
            "application/vnd.oci.image.layer.v1.tar+zstd",
            "application/vnd.oci.image.layer.v1.tar",
        ]
    );
}

#[test]
fn pax_headers_only_where_ustar_falls_short() {
    let sources = tempfile::tempdir().unwrap();
    let (_, tar) = write(&sample(sources.path()), &options(Compression::None));
    let (read, with_pax) = read_tar(&tar);
    let mut long_link = long_dir();
    long_link.extend_from_slice(b"/link");
    let mut want: Vec<Vec<u8>> = vec![
        b"srv/big-ids".to_vec(),
        "srv/café".as_bytes().to_vec(),
        b"srv/caf\xe9".to_vec(),
        b"srv/long-target".to_vec(),
        b"usr/bin/ping".to_vec(),
        long_dir(),
        long_link,
        long_file(),
    ];
    want.sort();
    assert_eq!(with_pax, want);

    // The pax records win over the header fields.
    let big = read.iter().find(|e| e.path == b"srv/big-ids").unwrap();
    assert_eq!((big.uid, big.gid), (3_000_000, 4_000_000));
    let long_target = read.iter().find(|e| e.path == b"srv/long-target").unwrap();
    assert_eq!(long_target.link.as_ref().unwrap().len(), 150);
    // Special files are typed and numbered, and have no data.
    let null = read.iter().find(|e| e.path == b"dev/null").unwrap();
    assert_eq!(
        (null.kind, null.device, null.mode),
        ('3', Some((1, 3)), 0o666)
    );
    let tmp = read.iter().find(|e| e.path == b"tmp").unwrap();
    assert_eq!((tmp.kind, tmp.mode), ('5', 0o1777));
}

#[test]
fn file_sources_and_bytes_give_the_same_layer() {
    let sources = tempfile::tempdir().unwrap();
    let contents: Vec<u8> = (0..200_003u32)
        .map(|i| u8::try_from(i * 7 % 256).unwrap())
        .collect();
    let source = sources.path().join("big");
    fs_err::write(&source, &contents).unwrap();
    let from_file = [entry(
        "big",
        EntryKind::File {
            source,
            size: contents.len() as u64,
        },
        0o644,
    )];
    let from_bytes = [bytes("big", &contents, 0o644)];
    for compression in ALL {
        assert_eq!(
            write(&from_file, &options(compression)),
            write(&from_bytes, &options(compression))
        );
    }
}

#[test]
fn mode_bits_beyond_07777_are_dropped() {
    let with_type_bits = [bytes("f", b"x", 0o100_644)];
    let plain = [bytes("f", b"x", 0o644)];
    let options = options(Compression::None);
    assert_eq!(write(&with_type_bits, &options), write(&plain, &options));
}

#[test]
fn an_empty_layer_is_two_zero_blocks() {
    let (written, bytes) = write(&[], &options(Compression::None));
    assert_eq!(bytes, vec![0; 1024]);
    // The well-known diff_id of Docker's empty layer.
    assert_eq!(
        written.diff_id.to_string(),
        "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"
    );
}

/// A pinned layer. Changing this digest is a format change: every image cairn builds
/// changes too, so it needs a reason in the commit message.
#[test]
fn golden_layer() {
    let mut ping = bytes("usr/bin/ping", b"ping\n", 0o755);
    ping.xattrs
        .insert("security.capability".into(), CAP_NET_RAW.to_vec());
    let mut home = entry("home/nonroot", EntryKind::Directory, 0o700);
    home.uid = 65532;
    home.gid = 65532;
    let entries = [
        dir("etc"),
        bytes("etc/os-release", b"ID=cairn\n", 0o644),
        home,
        entry("tmp", EntryKind::Directory, 0o1777),
        dir("usr"),
        dir("usr/bin"),
        ping,
        bytes("usr/bin/sudo", b"sudo\n", 0o4755),
        symlink("usr/bin/sh", "dash"),
        hardlink("usr/bin/sudoedit", "usr/bin/sudo"),
        entry(
            "dev/null",
            EntryKind::CharDevice { major: 1, minor: 3 },
            0o666,
        ),
        bytes(long_file(), b"deep\n", 0o644),
    ];
    let (written, bytes) = write(&entries, &options(Compression::None));
    assert_eq!(written.digest, written.diff_id);
    assert_eq!(written.size, bytes.len() as u64);
    assert_eq!(
        written.diff_id.to_string(),
        "sha256:8d5bb12a74a3ccc9172a6ede30c4c2d346c2e595a4264a0c0296f80dc425af19"
    );
    // The compressed bytes are pinned too: an update of a compressor (or a change of
    // the implementation Cargo's feature unification picks) that changes them must
    // change `cairn_oci::COMPRESSOR`, which is part of the layer cache's key (found in
    // review: the gzip backend differed between builds).
    for (compression, digest) in [
        (
            Compression::Gzip,
            "sha256:14bb0ec61779a0645ebb1236fe78bb3e45c2897c67ea2a18891be476b74d0cfb",
        ),
        (
            Compression::Zstd,
            "sha256:2472cf01a494551221f974cda3fd2bc556097f1e7510d383d18c285dc5c14fee",
        ),
    ] {
        let (written, _) = write(&entries, &options(compression));
        assert_eq!(
            written.digest.to_string(),
            digest,
            "{compression:?} bytes changed: update cairn_oci::COMPRESSOR and this digest"
        );
    }
}

fn error(entries: &[LayerEntry]) -> LayerError {
    write_layer(entries, &options(Compression::Gzip), Vec::new()).unwrap_err()
}

#[test]
fn bad_paths_are_refused() {
    for (path, reason) in [
        (&b""[..], "empty path"),
        (b"/etc/passwd", "absolute path"),
        (b"etc/../passwd", "`..` segment"),
        (b"..", "`..` segment"),
        (b"./etc", "`.` segment"),
        (b"etc//passwd", "empty segment"),
        (b"etc/", "empty segment"),
        (b"etc/pass\0wd", "NUL byte"),
    ] {
        let err = error(&[bytes(path, b"", 0o644)]);
        assert!(
            matches!(&err, LayerError::BadPath { reason: r, .. } if r.starts_with(reason)),
            "{}: {err:?}",
            String::from_utf8_lossy(path)
        );
    }
    let err = error(&[bytes("/etc/passwd", b"", 0o644)]);
    assert_eq!(
        err.to_string(),
        "Invalid layer path `/etc/passwd`: absolute path"
    );
}

#[test]
fn duplicates_are_refused() {
    let err = error(&[
        bytes("etc/hostname", b"a", 0o644),
        dir("etc"),
        bytes("etc/hostname", b"b", 0o644),
    ]);
    assert!(matches!(&err, LayerError::Duplicate(path) if path == "etc/hostname"));
    assert_eq!(err.to_string(), "Duplicate layer entry `etc/hostname`");
}

#[test]
fn parents_may_be_in_lower_layers_but_not_files_here() {
    // No `usr` or `usr/bin` entry: they come from a lower layer.
    write_layer(
        &[bytes("usr/bin/tool", b"", 0o755)],
        &options(Compression::None),
        Vec::new(),
    )
    .unwrap();
    let err = error(&[symlink("lib", "usr/lib"), bytes("lib/x.so", b"", 0o644)]);
    assert!(
        matches!(&err, LayerError::ParentNotDirectory { path, parent } if path == "lib/x.so" && parent == "lib"),
        "{err:?}"
    );
}

#[test]
fn hard_link_targets_are_checked() {
    let err = error(&[hardlink("usr/bin/b", "usr/bin/missing")]);
    assert!(
        matches!(&err, LayerError::HardLinkTarget { path, target, .. } if path == "usr/bin/b" && target == "usr/bin/missing"),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "Hard link `usr/bin/b` to `usr/bin/missing`: the target is not an entry of the layer"
    );
    // The target must sort before the link, so readers have seen it.
    let err = error(&[
        bytes("usr/bin/z", b"", 0o755),
        hardlink("usr/bin/a", "usr/bin/z"),
    ]);
    assert!(err.to_string().contains("does not sort before"), "{err}");
    // And be a regular file.
    let err = error(&[dir("a"), hardlink("b", "a")]);
    assert!(err.to_string().contains("not a regular file"), "{err}");
    let err = error(&[
        bytes("a", b"", 0o644),
        hardlink("b", "a"),
        hardlink("c", "b"),
    ]);
    assert!(err.to_string().contains("not a regular file"), "{err}");
}

#[test]
fn file_sizes_are_checked() {
    let sources = tempfile::tempdir().unwrap();
    let source = sources.path().join("f");
    fs_err::write(&source, b"12345").unwrap();
    for size in [4, 6] {
        let err = error(&[entry(
            "usr/f",
            EntryKind::File {
                source: source.clone(),
                size,
            },
            0o644,
        )]);
        assert!(
            matches!(&err, LayerError::SizeMismatch { entry, expected, actual: 5, .. } if entry == "usr/f" && *expected == size),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!(
                "Source `{}` of layer entry `usr/f` has 5 bytes, expected {size}",
                source.display()
            )
        );
    }
    let missing = sources.path().join("missing");
    let err = error(&[entry(
        "usr/g",
        EntryKind::File {
            source: missing,
            size: 1,
        },
        0o644,
    )]);
    assert!(
        matches!(&err, LayerError::Read { entry, .. } if entry == "usr/g"),
        "{err:?}"
    );
    let err = error(&[entry(
        "usr/h",
        EntryKind::File {
            source: sources.path().to_owned(),
            size: 0,
        },
        0o644,
    )]);
    assert!(
        matches!(&err, LayerError::NotARegularFile { .. }),
        "{err:?}"
    );
}

#[test]
fn other_bad_entries_are_refused() {
    let err = error(&[symlink("a", "")]);
    assert!(
        matches!(&err, LayerError::BadSymlinkTarget { .. }),
        "{err:?}"
    );
    let mut bad_xattr = bytes("a", b"", 0o644);
    bad_xattr.xattrs.insert("user.a=b".into(), Vec::new());
    let err = error(&[bad_xattr]);
    assert!(matches!(&err, LayerError::BadXattr { .. }), "{err:?}");
    let err = error(&[entry(
        "dev/big",
        EntryKind::CharDevice {
            major: 1 << 22,
            minor: 0,
        },
        0o600,
    )]);
    assert!(matches!(&err, LayerError::DeviceNumber { .. }), "{err:?}");
}

#[test]
fn gnu_tar_lists_the_layer() {
    let Some(tar) = require_tool("tar") else {
        return;
    };
    let sources = tempfile::tempdir().unwrap();
    let entries = sample(sources.path());
    let dir = tempfile::tempdir().unwrap();
    for compression in ALL {
        let path = dir.path().join(format!("layer-{compression:?}"));
        write_layer(
            &entries,
            &options(compression),
            fs_err::File::create(&path).unwrap(),
        )
        .unwrap();
        let output = tar
            .command()
            .env("TZ", "UTC")
            .env("LC_ALL", "C")
            .args(["--full-time", "-tvf"])
            .arg(&path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success() && stderr.is_empty(), "{stderr}");
        let listing = String::from_utf8(output.stdout).unwrap();
        let lines: Vec<&str> = listing.lines().collect();
        assert_eq!(lines.len(), entries.len(), "{listing}");
        for line in &lines {
            assert!(line.contains(" 2024-01-01 00:00:00 "), "{line}");
        }
        let has = |want: &str| {
            assert!(
                lines
                    .iter()
                    .any(|line| line.split_whitespace().collect::<Vec<_>>().join(" ") == want),
                "no `{want}` in\n{listing}"
            );
        };
        has("crw-rw-rw- 0/0 1,3 2024-01-01 00:00:00 dev/null");
        has("brw-rw---- 0/0 8,0 2024-01-01 00:00:00 dev/sda");
        has("drwx------ 65532/65532 0 2024-01-01 00:00:00 home/nonroot/");
        has("prw------- 0/0 0 2024-01-01 00:00:00 run/initctl");
        has("-rw-r--r-- 3000000/4000000 3 2024-01-01 00:00:00 srv/big-ids");
        has("-rw-r--r-- 0/0 7 2024-01-01 00:00:00 srv/caf\\351");
        has("drwxrwxrwt 0/0 0 2024-01-01 00:00:00 tmp/");
        has("-rwxr-xr-x 0/0 70001 2024-01-01 00:00:00 usr/bin/python3");
        has("hrwxr-xr-x 0/0 0 2024-01-01 00:00:00 usr/bin/python3.13 link to usr/bin/python3");
        has("lrwxrwxrwx 0/0 0 2024-01-01 00:00:00 usr/bin/py -> python3");
        has("-rwsr-xr-x 0/0 9 2024-01-01 00:00:00 usr/bin/sudo");
        has("-rwxr-sr-x 0/0 9 2024-01-01 00:00:00 usr/bin/wall");
        let long = String::from_utf8(long_file()).unwrap();
        has(&format!("-rw-r--r-- 0/0 4 2024-01-01 00:00:00 {long}"));
    }
}

#[test]
fn gnu_tar_reads_xattrs() {
    let Some(tar) = require_tool("tar") else {
        return;
    };
    let sources = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("layer.tar");
    write_layer(
        &sample(sources.path()),
        &options(Compression::None),
        fs_err::File::create(&path).unwrap(),
    )
    .unwrap();
    let output = tar
        .command()
        .env("LC_ALL", "C")
        .args(["--xattrs", "--xattrs-include=*", "-tvvf"])
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success() && stderr.is_empty(), "{stderr}");
    let listing = String::from_utf8_lossy(&output.stdout);
    assert!(listing.contains("x: 20 security.capability"), "{listing}");
    assert!(listing.contains("x: 80 user.a"), "{listing}");
}

/// Python's `tarfile`, a reader written apart from both Rust's `tar` crate and GNU tar.
#[test]
fn python_tarfile_reads_the_layer() {
    let Some(python) = require_tool("python3") else {
        return;
    };
    let sources = tempfile::tempdir().unwrap();
    let entries = sample(sources.path());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("layer.tar.gz");
    write_layer(
        &entries,
        &options(Compression::Gzip),
        fs_err::File::create(&path).unwrap(),
    )
    .unwrap();
    let script = r#"
import os, sys, tarfile
with tarfile.open(sys.argv[1], "r:gz") as archive:
    for m in archive.getmembers():
        name = os.fsencode(m.name).hex()
        link = os.fsencode(m.linkname).hex()
        xattrs = sorted(k for k in m.pax_headers if k.startswith("SCHILY.xattr."))
        print(name, m.type.decode(), oct(m.mode), m.uid, m.gid, m.mtime, repr(m.uname),
              repr(m.gname), m.size, link or "-", m.devmajor, m.devminor, ",".join(xattrs) or "-")
"#;
    let output = python
        .command()
        .args(["-c", script])
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success() && stderr.is_empty(), "{stderr}");
    let listing = String::from_utf8(output.stdout).unwrap();
    let want: Vec<String> = expected(&entries)
        .iter()
        .map(|e| {
            let xattrs: Vec<String> = e
                .xattrs
                .keys()
                .map(|k| format!("SCHILY.xattr.{k}"))
                .collect();
            let (major, minor) = e.device.unwrap_or((0, 0));
            format!(
                "{} {} {:#o} {} {} {MTIME} '' '' {} {} {major} {minor} {}",
                data_encoding::HEXLOWER.encode(&e.path),
                e.kind,
                e.mode,
                e.uid,
                e.gid,
                e.contents.len(),
                e.link
                    .as_ref()
                    .map_or("-".to_owned(), |l| data_encoding::HEXLOWER.encode(l)),
                if xattrs.is_empty() {
                    "-".to_owned()
                } else {
                    xattrs.join(",")
                },
            )
        })
        .collect();
    assert_eq!(listing.lines().collect::<Vec<_>>(), want);
}

#[test]
fn an_mtime_beyond_the_octal_field_goes_in_a_pax_record() {
    // 2514-05-30: one past the 11 octal digits of the header's mtime field.
    let mtime = 0o100_000_000_000;
    let options = LayerOptions {
        compression: Compression::None,
        mtime,
    };
    let (_, tar) = write(&[dir("etc"), bytes("etc/a", b"a", 0o644)], &options);
    let mut archive = tar::Archive::new(tar.as_slice());
    for e in archive.entries().unwrap() {
        let mut e = e.unwrap();
        assert_eq!(e.header().mtime().unwrap(), 0);
        let records: Vec<(String, Vec<u8>)> = e
            .pax_extensions()
            .unwrap()
            .unwrap()
            .map(|r| {
                let r = r.unwrap();
                (r.key().unwrap().to_owned(), r.value_bytes().to_vec())
            })
            .collect();
        assert_eq!(
            records,
            [("mtime".to_owned(), mtime.to_string().into_bytes())]
        );
    }
}
