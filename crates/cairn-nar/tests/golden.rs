//! NAR output is checked byte for byte against golden vectors that `nix-store --dump`
//! produced (committed under `tests/golden/`), and live against Nix when installed.
//!
//! Regenerate the vectors with Nix itself (never with cairn):
//! `CAIRN_REGENERATE_GOLDEN=1 cargo test -p cairn-nar --test golden regenerate`

#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

use std::fmt::Write as _;
use std::io::Read;
use std::path::{Path, PathBuf};

use cairn_nar::{NarHash, NarSink, WriteSink, dump_path, hash_path, parse, restore};
use cairn_test::{fixture_trees, require_tool};

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn dump(path: &Path) -> Vec<u8> {
    let (WriteSink(bytes), size) = dump_path(path, WriteSink(Vec::new())).unwrap();
    assert_eq!(size, bytes.len() as u64);
    bytes
}

/// `(name, SRI hash)` lines recorded from `nix hash path`.
fn golden_hashes() -> Vec<(String, String)> {
    fs_err::read_to_string(golden_dir().join("hashes.txt"))
        .unwrap()
        .lines()
        .map(|line| {
            let (name, hash) = line.split_once(' ').unwrap();
            (name.to_owned(), hash.to_owned())
        })
        .collect()
}

#[test]
fn encoding_matches_golden_vectors() {
    let hashes = golden_hashes();
    assert_eq!(
        hashes.len(),
        fixture_trees().len(),
        "every fixture has a golden vector"
    );
    for tree in fixture_trees() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join(tree.name);
        (tree.build)(&root);
        let golden = fs_err::read(golden_dir().join(format!("{}.nar", tree.name))).unwrap();
        let ours = dump(&root);
        assert!(
            ours == golden,
            "NAR of `{}` differs from nix-store --dump",
            tree.name
        );
        let (hash, size) = hash_path(&root).unwrap();
        let expected = &hashes.iter().find(|(n, _)| n == tree.name).unwrap().1;
        assert_eq!(&hash.to_sri(), expected, "hash of `{}`", tree.name);
        assert_eq!(size, golden.len() as u64);
    }
}

#[test]
fn golden_vectors_decode_and_restore_to_the_same_tree() {
    for tree in fixture_trees() {
        let golden = fs_err::read(golden_dir().join(format!("{}.nar", tree.name))).unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let size = restore(golden.as_slice(), &out).unwrap();
        assert_eq!(size, golden.len() as u64);
        assert!(
            dump(&out) == golden,
            "restore + dump of `{}` round-trips",
            tree.name
        );
    }
}

#[test]
fn parser_reads_nothing_past_the_end() {
    let golden = fs_err::read(golden_dir().join("mixed.nar")).unwrap();
    let mut stream = golden.clone();
    stream.extend_from_slice(b"TRAILER!");
    let mut reader = stream.as_slice();
    let size = parse(&mut reader, |_| Ok::<_, cairn_nar::NarError>(())).unwrap();
    assert_eq!(size, golden.len() as u64);
    let mut rest = Vec::new();
    reader.read_to_end(&mut rest).unwrap();
    assert_eq!(rest, b"TRAILER!");
}

#[test]
fn every_truncation_and_every_flipped_byte_is_refused_or_changes_the_hash() {
    let golden = fs_err::read(golden_dir().join("mixed.nar")).unwrap();
    let good = NarHash::of_bytes(&golden);
    for cut in 0..golden.len() {
        let result = parse(&golden[..cut], |_| Ok::<_, cairn_nar::NarError>(()));
        assert!(result.is_err(), "a NAR cut at {cut} must not parse");
    }
    for at in 0..golden.len() {
        let mut bad = golden.clone();
        bad[at] ^= 0x01;
        // Either the structure breaks, or it parses into a different NAR (a different
        // hash). It must never parse while hashing the same.
        if parse(bad.as_slice(), |_| Ok::<_, cairn_nar::NarError>(())).is_ok() {
            assert_ne!(NarHash::of_bytes(&bad), good);
        }
    }
}

#[test]
fn malformed_nars_are_refused_with_a_reason() {
    let golden = fs_err::read(golden_dir().join("mixed.nar")).unwrap();
    let err = parse(&b"not a nar at all"[..], |_| {
        Ok::<_, cairn_nar::NarError>(())
    })
    .unwrap_err();
    assert!(
        err.to_string().contains("bad magic") || err.to_string().contains("truncated"),
        "{err}"
    );
    // Swap two entry names' order by corrupting a name so it sorts before its predecessor.
    let pos = golden.windows(6).position(|w| w == b"size-9").unwrap();
    let mut bad = golden.clone();
    bad[pos..pos + 6].copy_from_slice(b"size-0");
    let err = parse(bad.as_slice(), |_| Ok::<_, cairn_nar::NarError>(())).unwrap_err();
    assert!(err.to_string().contains("out of order"), "{err}");
    // A name with a slash.
    let pos = golden.windows(5).position(|w| w == b"inner").unwrap();
    let mut bad = golden.clone();
    bad[pos + 2] = b'/';
    let err = parse(bad.as_slice(), |_| Ok::<_, cairn_nar::NarError>(())).unwrap_err();
    assert!(err.to_string().contains("invalid entry name"), "{err}");
}

#[test]
fn special_files_and_unreadable_files_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("tree");
    fs_err::create_dir(&root).unwrap();
    let fifo = root.join("pipe");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(status.success());
    let err = dump_path(&root, WriteSink(Vec::new())).unwrap_err();
    assert!(
        err.to_string().contains("pipe") && err.to_string().contains("FIFO"),
        "{err}"
    );

    let socket_dir = tmp.path().join("sock");
    fs_err::create_dir(&socket_dir).unwrap();
    let _listener = std::os::unix::net::UnixListener::bind(socket_dir.join("s")).unwrap();
    let err = hash_path(&socket_dir).unwrap_err();
    assert!(err.to_string().contains("a socket"), "{err}");
}

/// A sink that fails, to check sink errors are not blamed on the file being read.
#[derive(Debug)]
struct FailingSink;
impl NarSink for FailingSink {
    fn put(&mut self, _: &[u8]) -> std::io::Result<()> {
        Err(std::io::ErrorKind::BrokenPipe.into())
    }
}

#[test]
fn sink_errors_are_reported_as_such() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("f");
    cairn_test::write_file(&root, b"x", 0o644);
    let err = dump_path(&root, FailingSink).unwrap_err();
    assert!(matches!(err, cairn_nar::NarError::Io(_)), "{err:?}");
}

fn nix(args: &[&str], path: &Path) -> Option<Vec<u8>> {
    let tool = if args[0] == "nix-store" {
        "nix-store"
    } else {
        "nix"
    };
    let oracle = require_tool(tool)?;
    let out = oracle
        .command()
        .args(&args[1..])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(out.stdout)
}

const NIX_HASH: &[&str] = &[
    "nix",
    "--extra-experimental-features",
    "nix-command",
    "hash",
    "path",
];

#[test]
fn matches_nix_live_on_fixtures_and_a_system_tree() {
    let tmp = tempfile::tempdir().unwrap();
    let mut roots: Vec<PathBuf> = fixture_trees()
        .iter()
        .map(|tree| {
            let root = tmp.path().join(tree.name);
            (tree.build)(&root);
            root
        })
        .collect();
    // A real tree with thousands of entries.
    roots.extend(
        ["/usr/share/zoneinfo", "/usr/lib/python3"]
            .iter()
            .map(PathBuf::from)
            .filter(|p| p.exists()),
    );
    for root in roots {
        let Some(theirs) = nix(&["nix-store", "--dump"], &root) else {
            return;
        };
        assert!(
            dump(&root) == theirs,
            "NAR of {} differs from nix-store --dump",
            root.display()
        );
        let Some(sri) = nix(NIX_HASH, &root) else {
            return;
        };
        let (hash, _) = hash_path(&root).unwrap();
        assert_eq!(
            hash.to_sri(),
            String::from_utf8(sri).unwrap().trim(),
            "{}",
            root.display()
        );
    }
}

#[test]
fn regenerate() {
    if std::env::var_os("CAIRN_REGENERATE_GOLDEN").is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut hashes = String::new();
    for tree in fixture_trees() {
        let root = tmp.path().join(tree.name);
        (tree.build)(&root);
        let nar = nix(&["nix-store", "--dump"], &root).expect("regenerating needs Nix");
        fs_err::write(golden_dir().join(format!("{}.nar", tree.name)), nar).unwrap();
        let sri = nix(NIX_HASH, &root).unwrap();
        writeln!(
            hashes,
            "{} {}",
            tree.name,
            String::from_utf8(sri).unwrap().trim()
        )
        .unwrap();
    }
    fs_err::write(golden_dir().join("hashes.txt"), hashes).unwrap();
}
