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
