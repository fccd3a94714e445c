//! cairn's Debian parsing and ordering against the real archive and real dpkg.
//!
//! `Version`'s order is checked against `dpkg --compare-versions` on real archive
//! versions. The versions come from this machine's apt indexes (`/var/lib/apt/lists`, refreshed by
//! `apt-get update` in the test command). 10,001 distinct versions are sampled, sorted
//! with cairn's order, and dpkg confirms every one of the 10,000 adjacent pairs (`lt`
//! or `eq`). Adjacent pairs are the closest, hardest comparisons, and since dpkg's order
//! is transitive, agreement on all of them means cairn orders the whole sample exactly
//! as dpkg does.

#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Command, Stdio};

use cairn_debian::Version;
use cairn_test::require_tool;

const PAIRS: usize = 10_000;

/// The text of every `Packages` index apt has on this machine.
fn apt_indexes() -> Option<Vec<(String, String)>> {
    let helper = std::path::Path::new("/usr/lib/apt/apt-helper");
    let lists: Vec<_> = fs_err::read_dir("/var/lib/apt/lists")
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .contains("_Packages")
        })
        .collect();
    if lists.is_empty() || !helper.exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs apt indexes: the test command runs apt-get update"
        );
        eprintln!("skipping: no apt indexes on this machine (run apt-get update)");
        return None;
    }
    let mut texts = Vec::new();
    for list in lists {
        let out = Command::new(helper)
            .arg("cat-file")
            .arg(&list)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "apt-helper cat-file {}",
            list.display()
        );
        texts.push((
            list.display().to_string(),
            String::from_utf8(out.stdout).unwrap(),
        ));
    }
    Some(texts)
}

/// Every `Version:` in the apt indexes on this machine.
fn archive_versions() -> Option<BTreeSet<String>> {
    let mut versions = BTreeSet::new();
    for (_, text) in apt_indexes()? {
        for line in text.lines() {
            if let Some(v) = line.strip_prefix("Version: ") {
                versions.insert(v.trim().to_owned());
            }
        }
    }
    Some(versions)
}

#[test]
fn every_real_index_parses_completely() {
    let Some(indexes) = apt_indexes() else { return };
    for (name, text) in indexes {
        let packages =
            cairn_debian::parse_packages(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let stanzas = text.lines().filter(|l| l.starts_with("Package: ")).count();
        assert_eq!(packages.len(), stanzas, "{name}");
        // Spot checks on packages every Debian release has.
        if let Some(p) = packages.iter().find(|p| p.name == "libc6") {
            assert_eq!(p.multi_arch, cairn_debian::MultiArch::Same, "{name}");
            assert!(p.filename.contains("main/g/glibc/libc6_"), "{}", p.filename);
        }
        if let Some(p) = packages.iter().find(|p| p.name == "python3") {
            assert!(
                p.depends
                    .iter()
                    .any(|c| c.0.iter().any(|r| r.name.starts_with("python3."))),
                "{name}"
            );
        }
    }
}

#[test]
fn agrees_with_dpkg_on_real_archive_versions() {
    let Some(dpkg) = require_tool("dpkg") else {
        return;
    };
    let Some(all) = archive_versions() else {
        return;
    };
    assert!(
        all.len() > PAIRS,
        "only {} distinct versions in the indexes",
        all.len()
    );
    // Every real version parses.
    let parsed: Vec<Version> = all.iter().map(|s| s.parse().unwrap()).collect();
    // A deterministic sample of PAIRS + 1 versions, then sorted by cairn's order.
    let mut sample: Vec<&Version> = (0..=PAIRS)
        .map(|i| &parsed[i * parsed.len() / (PAIRS + 1)])
        .collect();
    sample.sort();
    let lines: Vec<String> = sample
        .windows(2)
        .map(|w| {
            let op = if w[0] < w[1] { "lt" } else { "eq" };
            format!("{} {op} {}\n", w[0], w[1])
        })
        .collect();
    assert_eq!(lines.len(), PAIRS);
    // Two shells in parallel, each asking dpkg about half of the pairs and printing
    // the ones it disagrees with.
    let script = format!(
        "while read a op b; do '{}' --compare-versions \"$a\" \"$op\" \"$b\" || echo \"$a $op $b\"; done",
        dpkg.path.display()
    );
    let halves = lines.chunks(PAIRS / 2).map(|half| {
        let mut child = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let input: String = half.concat();
        std::thread::spawn(move || stdin.write_all(input.as_bytes()).unwrap());
        child
    });
    let children: Vec<_> = halves.collect();
    let mut disagreements = String::new();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        disagreements.push_str(&String::from_utf8_lossy(&out.stdout));
    }
    assert!(
        disagreements.is_empty(),
        "dpkg disagrees with cairn on:\n{disagreements}"
    );
}

/// The signed `InRelease` files apt has on this machine, `(name, text)`.
fn inreleases() -> Vec<(String, String)> {
    let Ok(dir) = fs_err::read_dir("/var/lib/apt/lists") else {
        return Vec::new();
    };
    let mut out: Vec<(String, String)> = dir
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.to_string_lossy().ends_with("_InRelease")
                && p.to_string_lossy().contains("debian.org")
        })
        .map(|p| (p.display().to_string(), fs_err::read_to_string(&p).unwrap()))
        .collect();
    out.sort();
    out
}

fn now() -> std::time::SystemTime {
    std::time::SystemTime::now()
}

#[test]
fn real_inrelease_files_verify_against_debian_keys() {
    let files = inreleases();
    if files.is_empty() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs apt's InRelease files: the test command runs apt-get update"
        );
        return;
    }
    let keyring = cairn_debian::Keyring::debian(now()).unwrap();
    for (name, text) in &files {
        let release = cairn_debian::verify_inrelease(text, &keyring)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!release.signers.is_empty());
        assert!(
            release.text.contains("\nSHA256:\n"),
            "{name}: the signed text is the Release file"
        );
        assert!(!release.text.contains("BEGIN PGP"), "{name}");
    }
}

#[test]
fn tampered_untrusted_expired_and_garbled_releases_are_refused() {
    let Some((name, text)) = inreleases().into_iter().next() else {
        return;
    };
    let keyring = cairn_debian::Keyring::debian(now()).unwrap();
    // One changed byte in the signed text (a hash of an index) breaks a trusted signature.
    let at = text.find("\nSHA256:\n").unwrap() + 10;
    let mut tampered = text.clone().into_bytes();
    tampered[at] = if tampered[at] == b'0' { b'1' } else { b'0' };
    let err = cairn_debian::verify_inrelease(std::str::from_utf8(&tampered).unwrap(), &keyring)
        .map(|r| r.signers)
        .unwrap_err();
    assert!(err.to_string().contains("does not verify"), "{name}: {err}");
    // Keys that signed nothing here: no trusted signature.
    let unrelated = [(
        "trixie-security",
        include_str!("../keys/debian-archive-trixie-security-automatic.asc"),
    )];
    let only_security = cairn_debian::Keyring::from_armored(&unrelated, now()).unwrap();
    if !name.contains("security") {
        let err = cairn_debian::verify_inrelease(&text, &only_security)
            .map(|r| r.signers)
            .unwrap_err();
        assert!(err.to_string().contains("unknown key"), "{name}: {err}");
    }
    // Decades from now every archive key has expired.
    let future = now() + std::time::Duration::from_hours(40 * 365 * 24);
    let err =
        cairn_debian::verify_inrelease(&text, &cairn_debian::Keyring::debian(future).unwrap())
            .map(|r| r.signers)
            .unwrap_err();
    assert!(err.to_string().contains("has expired"), "{name}: {err}");
    // Not a signed message at all.
    let err = cairn_debian::verify_inrelease("Origin: Debian\n", &keyring)
        .map(|r| r.signers)
        .unwrap_err();
    assert!(err.to_string().contains("not a valid OpenPGP"), "{err}");
}

#[test]
fn the_shipped_debian_keys_are_valid_now() {
    let keyring = cairn_debian::Keyring::debian(now()).unwrap();
    let text = format!("{keyring:?}");
    for fingerprint in [
        "b8b80b5b623eab6ad8775c45b7c5d7d6350947f8", // bookworm automatic
        "4d64fec119c2029067d6e791f8d2585b8783d481", // bookworm stable
        "04b54c3cdca79751b16bc6b5225629df75b188bd", // trixie automatic
    ] {
        assert!(
            text.contains(fingerprint),
            "{fingerprint} missing from {text}"
        );
    }
}

#[test]
fn real_indexes_match_their_signed_release_entries() {
    let files = inreleases();
    if files.is_empty() {
        return;
    }
    let keyring = cairn_debian::Keyring::debian(now()).unwrap();
    let mut checked = 0;
    for (name, text) in &files {
        let verified = cairn_debian::verify_inrelease(text, &keyring).unwrap();
        let release = cairn_debian::Release::parse(&verified.text, now())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        // apt keeps `<prefix>_InRelease` next to `<prefix>_<component>_binary-<arch>_Packages.lz4`.
        let prefix = name.trim_end_matches("InRelease");
        for (component_path, _) in release
            .files
            .iter()
            .filter(|(p, _)| p.ends_with("binary-amd64/Packages"))
        {
            let list = format!("{prefix}{}.lz4", component_path.replace('/', "_"));
            if !std::path::Path::new(&list).exists() {
                continue;
            }
            let out = Command::new("/usr/lib/apt/apt-helper")
                .arg("cat-file")
                .arg(&list)
                .output()
                .unwrap();
            release
                .verify_index(component_path, &out.stdout)
                .unwrap_or_else(|e| panic!("{list}: {e}"));
            let mut tampered = out.stdout.clone();
            let middle = tampered.len() / 2;
            tampered[middle] ^= 1;
            assert!(release.verify_index(component_path, &tampered).is_err());
            checked += 1;
        }
    }
    assert!(checked > 0, "no index was checked");
}
