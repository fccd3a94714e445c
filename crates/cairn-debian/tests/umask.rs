//! The host's umask never reaches an unpacked package (found in review: under
//! `umask 0177` an executable came out 0644, which changed its layer). A test binary of
//! its own, because the umask belongs to the whole process.

#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

use std::os::unix::fs::PermissionsExt as _;

use cairn_test::{FixturePackage, FixtureRepo, require_tool};

#[test]
fn modes_do_not_depend_on_the_umask() {
    if require_tool("dpkg-deb").is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let package = FixturePackage::new("tool", "1.0-1")
        .file("usr/bin/tool", b"#!/bin/sh\n", 0o755)
        .file("usr/share/tool/data", b"data\n", 0o644);
    let repo = FixtureRepo::build(&tmp.path().join("repo"), "testing", &[package], 1);
    let deb = repo.root.join("pool/main/t/tool/tool_1.0-1_amd64.deb");
    let old = rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o177));
    let out = tmp.path().join("out");
    let result = cairn_debian::read_deb(&deb, &out);
    rustix::process::umask(old);
    result.unwrap();
    let mode = |p: &str| fs_err::metadata(out.join(p)).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode("usr/bin/tool"), 0o755);
    assert_eq!(mode("usr/share/tool/data"), 0o644);
}
