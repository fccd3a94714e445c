//! Live: cairn's resolver against apt on the real Debian mirror. For each request the
//! issue names, the resolved set (names, versions, architectures) must equal what
//! `apt-get install -s` with an empty status file installs, on the same suites (the
//! suite plus its security archive) fetched at the same moment.
//!
//! Where cairn and apt could differ by design (see `resolve.rs`): apt keeps packages
//! marked by a failed alternative and its autoremove drops them later, and its problem
//! resolver can revisit a choice after a conflict; cairn undoes a failed alternative at
//! once. None of the requests here reaches either case, so the sets must be equal.

#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

use std::collections::BTreeSet;
use std::time::SystemTime;

use cairn_debian::{
    DEFAULT_MIRROR, DEFAULT_SECURITY_MIRROR, RepoContext, Repository, Request, Trust,
    debian_sources, resolve,
};
use cairn_fetch::{FetchOptions, Fetcher, NoFetchReporter};
use cairn_store::Store;
use cairn_test::AptOracle;
use cairn_test::apt::AptSource;

type Set = BTreeSet<(String, String, String)>;

fn compare(suite: &str, requests: &[&[&str]]) {
    compare_on(suite, "amd64", requests);
}

fn compare_on(suite: &str, arch: &str, requests: &[&[&str]]) {
    let tmp = tempfile::tempdir().unwrap();
    let Some(apt) = AptOracle::new(
        &tmp.path().join("apt"),
        &[
            AptSource::new(DEFAULT_MIRROR, suite, &["main"]),
            AptSource::new(
                DEFAULT_SECURITY_MIRROR,
                &format!("{suite}-security"),
                &["main"],
            ),
        ],
        arch,
    ) else {
        return;
    };
    let store = Store::open(&tmp.path().join("store")).unwrap();
    let fetcher = Fetcher::new(FetchOptions::default()).unwrap();
    let context = RepoContext {
        store: &store,
        fetcher: &fetcher,
        trust: Trust::Debian,
        now: SystemTime::now(),
        reporter: &NoFetchReporter,
    };
    let sources = debian_sources(
        DEFAULT_MIRROR,
        suite,
        &["main".to_owned()],
        Some(DEFAULT_SECURITY_MIRROR),
    );
    let repo = Repository::open(&context, &sources, arch).unwrap();
    let mut failures = Vec::new();
    for request in requests {
        let expected = apt.install(request, false).unwrap();
        let resolution = resolve(
            &repo,
            &Request {
                packages: request.iter().map(ToString::to_string).collect(),
                recommends: false,
            },
        )
        .unwrap();
        let actual: Set = resolution
            .packages
            .iter()
            .map(|r| {
                let p = &r.package;
                (
                    p.name.clone(),
                    p.version.to_string(),
                    p.architecture.clone(),
                )
            })
            .collect();
        if actual == expected {
            eprintln!(
                "{suite} {arch} {request:?}: {} packages, equal to apt",
                actual.len()
            );
        } else {
            failures.push(format!(
                "{suite} {request:?}:\n  only apt: {:?}\n  only cairn: {:?}",
                expected.difference(&actual).collect::<Vec<_>>(),
                actual.difference(&expected).collect::<Vec<_>>()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

const COMMON: &[&[&str]] = &[
    &["python3"],
    &["python3", "ca-certificates"],
    &["curl"],
    &["openssl"],
    &["libpq5"],
    &["tzdata"],
    &["busybox-static"],
    &["gcc", "libc6-dev"],
    &["golang-go"],
    &["nodejs"],
];

#[test]
fn trixie_resolution_equals_apt() {
    let mut requests = COMMON.to_vec();
    requests.push(&["nginx"]);
    requests.push(&["openjdk-21-jre-headless"]);
    compare("trixie", &requests);
}

#[test]
fn bookworm_resolution_equals_apt() {
    let mut requests = COMMON.to_vec();
    requests.push(&["nginx-light"]);
    requests.push(&["openjdk-17-jre-headless"]);
    compare("bookworm", &requests);
}

#[test]
fn trixie_arm64_resolution_equals_apt() {
    compare_on(
        "trixie",
        "arm64",
        &[&["python3", "ca-certificates"], &["curl"], &["nodejs"]],
    );
}
