//! The apt oracle against a tiny hand-written repository served from `file:`.

#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;

use cairn_test::apt::AptSource;
use cairn_test::{AptOracle, write_file};
use sha2::Digest;

const PACKAGES: &str = "\
Package: a
Version: 1.0-1
Architecture: amd64
Depends: b | c
Recommends: r
Filename: pool/a.deb
Size: 1
Description: wants b or c

Package: b
Version: 1.0
Architecture: amd64
Filename: pool/b1.deb
Size: 1
Description: old b

Package: b
Version: 2.0
Architecture: amd64
Filename: pool/b2.deb
Size: 1
Description: new b

Package: c
Version: 3.0
Architecture: amd64
Filename: pool/c.deb
Size: 1
Description: the other alternative

Package: r
Version: 1
Architecture: all
Filename: pool/r.deb
Size: 1
Description: recommended by a

Package: e
Version: 1
Architecture: amd64
Essential: yes
Priority: required
Filename: pool/e.deb
Size: 1
Description: essential, so apt must not add it on its own

Package: d
Version: 1
Architecture: amd64
Depends: missing
Filename: pool/d.deb
Size: 1
Description: unsatisfiable
";

/// `dists/test/main/binary-amd64/Packages` and an unsigned `Release` listing it.
fn build_repo(root: &Path) {
    let binary = root.join("dists/test/main/binary-amd64");
    fs_err::create_dir_all(&binary).unwrap();
    write_file(&binary.join("Packages"), PACKAGES.as_bytes(), 0o644);
    let mut release = String::from(
        "Origin: cairn-test\nSuite: test\nCodename: test\nDate: Sat, 01 Nov 2025 00:00:00 UTC\n\
         Architectures: amd64\nComponents: main\nSHA256:\n",
    );
    let _ = writeln!(
        release,
        " {} {} main/binary-amd64/Packages",
        data_encoding::HEXLOWER.encode(&sha2::Sha256::digest(PACKAGES)),
        PACKAGES.len()
    );
    write_file(&root.join("dists/test/Release"), release.as_bytes(), 0o644);
}

fn set(items: &[(&str, &str, &str)]) -> BTreeSet<(String, String, String)> {
    items
        .iter()
        .map(|&(n, v, a)| (n.into(), v.into(), a.into()))
        .collect()
}

#[test]
fn resolves_like_apt() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    build_repo(&repo);
    let source = AptSource::new(&format!("file:{}", repo.display()), "test", &["main"]);
    let Some(oracle) = AptOracle::new(&tmp.path().join("apt"), &[source], "amd64") else {
        return;
    };

    // The first alternative, at its newest version; nothing Essential added.
    assert_eq!(
        oracle.install(&["a"], false).unwrap(),
        set(&[("a", "1.0-1", "amd64"), ("b", "2.0", "amd64")])
    );
    assert_eq!(
        oracle.install(&["a"], true).unwrap(),
        set(&[
            ("a", "1.0-1", "amd64"),
            ("b", "2.0", "amd64"),
            ("r", "1", "all")
        ])
    );
    assert_eq!(
        oracle.install(&["a", "b=1.0"], false).unwrap(),
        set(&[("a", "1.0-1", "amd64"), ("b", "1.0", "amd64")])
    );

    let err = oracle.install(&["d"], false).unwrap_err();
    assert!(err.contains("missing"), "{err}");
    let err = oracle.install(&["no-such-package"], false).unwrap_err();
    assert!(err.contains("no-such-package"), "{err}");

    assert!(
        oracle
            .args()
            .windows(2)
            .any(|w| w == ["-o", "APT::Architectures=amd64"])
    );
}

/// Nothing of the host's apt configuration reaches the oracle: every path apt would use
/// under /etc/apt, /var/lib/apt or /var/cache/apt is redirected.
#[test]
fn isolated_from_the_host() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    build_repo(&repo);
    let source = AptSource::new(&format!("file:{}", repo.display()), "test", &["main"]);
    let Some(oracle) = AptOracle::new(&tmp.path().join("apt"), &[source], "amd64") else {
        return;
    };
    let output = std::process::Command::new("apt-config")
        .arg("dump")
        .env("APT_CONFIG", oracle.config_file())
        .output()
        .unwrap();
    assert!(output.status.success());
    let dump = String::from_utf8(output.stdout).unwrap();
    for host in [
        "/etc/apt",
        "/var/lib/apt",
        "/var/cache/apt",
        "/var/lib/dpkg",
    ] {
        // Values are quoted; the oracle's own paths contain `/apt/etc/apt.conf`.
        let value = format!("\"{host}");
        assert!(
            !dump.lines().any(|line| line.contains(&value)),
            "{host} in:\n{dump}"
        );
    }
}
