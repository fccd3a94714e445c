//! The resolver's rules, one test each, on small hand-written universes, with apt as
//! the oracle.
//!
//! Each test writes a few compact stanzas (`(name, version, architecture, fields)`),
//! which become a `Packages` index in two ways:
//! - parsed with [`parse_packages`] into the [`Repository`] cairn resolves against;
//! - written as a `file:` repository (one suite per index: `main-suite`, then
//!   `sec-suite`) for an isolated `apt-get install -s` onto an empty system
//!   ([`AptOracle`], set up once per test).
//!
//! Every request is checked twice: against the set of `(name, version)` written in the
//! test, and against apt's set of `(name, version, architecture)`. A request cairn
//! refuses must be refused by apt too. The apt half is skipped only when `apt-get` is
//! missing outside CI.
//!
//! The last group holds disagreements with apt found in review (all fixed since).

#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;

use cairn_debian::{Repository, Request, Resolution, ResolveError, resolve};
use cairn_test::AptOracle;
use cairn_test::apt::AptSource;
use sha2::Digest as _;

/// `(Package, Version, Architecture, [(field, value)…])`.
type Stanza<'a> = (&'a str, &'a str, &'a str, &'a [(&'a str, &'a str)]);

/// `(name, version, architecture)`, as apt reports what it installs.
type Set = BTreeSet<(String, String, String)>;

/// The suites of a world, in the order apt's sources list them.
const SUITES: [&str; 2] = ["main-suite", "sec-suite"];

/// A `Packages` index holding `stanzas`, with the fields the index parser requires.
fn packages_text(stanzas: &[Stanza<'_>]) -> String {
    let mut text = String::new();
    for &(name, version, arch, fields) in stanzas {
        let _ = writeln!(
            text,
            "Package: {name}\nVersion: {version}\nArchitecture: {arch}"
        );
        for (field, value) in fields {
            let _ = writeln!(text, "{field}: {value}");
        }
        // As in the archive, the file name has no epoch.
        let file_version = version.split_once(':').map_or(version, |(_, v)| v);
        let _ = writeln!(
            text,
            "Filename: pool/main/{name}_{file_version}_{arch}.deb\nSize: 1\nSHA256: {}\n",
            "0".repeat(64)
        );
    }
    text
}

/// The repository cairn resolves against: one index per suite.
fn repository(suites: &[&[Stanza<'_>]]) -> Repository {
    let indexes = suites
        .iter()
        .enumerate()
        .map(|(suite, stanzas)| (suite, format!("suite-{suite}"), packages_text(stanzas)))
        .collect();
    Repository::from_indexes("amd64", vec![], indexes).unwrap()
}

/// The same indexes as a `file:` repository with an unsigned `Release` per suite, and an
/// apt configured with them (`[trusted=yes]`), updated.
fn apt_oracle(dir: &Path, suites: &[&[Stanza<'_>]]) -> Option<AptOracle> {
    assert!(
        suites.len() <= SUITES.len(),
        "at most {} suites",
        SUITES.len()
    );
    let root = dir.join("repo");
    let mut sources = Vec::new();
    for (suite, stanzas) in SUITES.iter().zip(suites) {
        let text = packages_text(stanzas);
        let binary = root.join(format!("dists/{suite}/main/binary-amd64"));
        fs_err::create_dir_all(&binary).unwrap();
        fs_err::write(binary.join("Packages"), &text).unwrap();
        let release = format!(
            "Origin: cairn-test\nLabel: cairn-test\nSuite: {suite}\nCodename: {suite}\n\
             Date: Sat, 01 Nov 2025 00:00:00 UTC\nArchitectures: amd64\nComponents: main\n\
             SHA256:\n {} {} main/binary-amd64/Packages\n",
            data_encoding::HEXLOWER.encode(&sha2::Sha256::digest(&text)),
            text.len()
        );
        fs_err::write(root.join(format!("dists/{suite}/Release")), release).unwrap();
        sources.push(AptSource::new(
            &format!("file:{}", root.display()),
            suite,
            &["main"],
        ));
    }
    AptOracle::new(&dir.join("apt"), &sources, "amd64")
}

/// A universe of packages, as cairn and as apt see it.
struct World {
    repo: Repository,
    apt: Option<AptOracle>,
    _dir: tempfile::TempDir,
}

impl World {
    /// One suite.
    fn new(stanzas: &[Stanza<'_>]) -> Self {
        Self::suites(&[stanzas])
    }

    /// One suite per slice: `main-suite`, then `sec-suite`.
    fn suites(suites: &[&[Stanza<'_>]]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let apt = apt_oracle(dir.path(), suites);
        Self {
            repo: repository(suites),
            apt,
            _dir: dir,
        }
    }

    fn resolve(&self, request: &[&str], recommends: bool) -> Result<Resolution, ResolveError> {
        resolve(
            &self.repo,
            &Request {
                packages: request.iter().map(ToString::to_string).collect(),
                recommends,
            },
        )
    }

    fn set(resolution: &Resolution) -> Set {
        resolution
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
            .collect()
    }

    /// Asserts that installing `request` installs exactly `expected` `(name, version)`,
    /// with cairn and with apt.
    #[track_caller]
    fn installs(&self, request: &[&str], expected: &[(&str, &str)]) -> Resolution {
        self.check(request, false, expected)
    }

    /// [`World::installs`] with `Recommends`.
    #[track_caller]
    fn installs_with_recommends(&self, request: &[&str], expected: &[(&str, &str)]) -> Resolution {
        self.check(request, true, expected)
    }

    #[track_caller]
    fn check(&self, request: &[&str], recommends: bool, expected: &[(&str, &str)]) -> Resolution {
        let resolution = self
            .resolve(request, recommends)
            .unwrap_or_else(|e| panic!("cairn refuses {request:?}: {e}"));
        let got = Self::set(&resolution);
        let names: BTreeSet<(&str, &str)> = got
            .iter()
            .map(|(n, v, _)| (n.as_str(), v.as_str()))
            .collect();
        let expected: BTreeSet<(&str, &str)> = expected.iter().copied().collect();
        assert_eq!(
            names, expected,
            "cairn's resolution of {request:?} (recommends: {recommends})"
        );
        if let Some(apt) = &self.apt {
            let apt_set = apt.install(request, recommends).unwrap_or_else(|e| {
                panic!("apt refuses {request:?}, cairn installs {got:?}:\n{e}")
            });
            assert_eq!(
                got, apt_set,
                "cairn (left) and apt (right) differ on {request:?} (recommends: {recommends})"
            );
        }
        resolution
    }

    /// Asserts that cairn and apt both refuse `request`; returns cairn's error.
    #[track_caller]
    fn refuses(&self, request: &[&str]) -> ResolveError {
        let error = match self.resolve(request, false) {
            Ok(resolution) => panic!(
                "cairn installs {:?} for {request:?}",
                Self::set(&resolution)
            ),
            Err(e) => e,
        };
        if let Some(apt) = &self.apt
            && let Ok(set) = apt.install(request, false)
        {
            panic!("apt installs {set:?} for {request:?}, cairn refuses: {error}");
        }
        error
    }

    /// The `depends` of `name` in `resolution`.
    fn depends<'r>(resolution: &'r Resolution, name: &str) -> &'r [String] {
        resolution
            .packages
            .iter()
            .find(|r| r.package.name == name)
            .map_or_else(
                || panic!("`{name}` is not in the resolution"),
                |r| r.depends.as_slice(),
            )
    }
}

// ---------------------------------------------------------------------------------------
// Dependency fields
// ---------------------------------------------------------------------------------------

#[test]
fn depends_are_installed_transitively() {
    let world = World::new(&[
        (
            "hello",
            "2.10-3",
            "amd64",
            &[("Depends", "libc6 (>= 2.34)")],
        ),
        ("libc6", "2.36-9", "amd64", &[("Depends", "libgcc-s1")]),
        ("libgcc-s1", "12.2.0-14", "amd64", &[]),
        ("cowsay", "3.03+dfsg2-8", "all", &[]),
    ]);
    world.installs(
        &["hello"],
        &[
            ("hello", "2.10-3"),
            ("libc6", "2.36-9"),
            ("libgcc-s1", "12.2.0-14"),
        ],
    );
}

#[test]
fn pre_depends_are_installed() {
    let world = World::new(&[
        (
            "dash",
            "0.5.12-2",
            "amd64",
            &[
                ("Pre-Depends", "libc6 (>= 2.34)"),
                ("Depends", "debianutils (>= 5.6-0.1)"),
            ],
        ),
        ("libc6", "2.36-9", "amd64", &[]),
        (
            "debianutils",
            "5.7-0.4",
            "amd64",
            &[("Pre-Depends", "libc6")],
        ),
    ]);
    world.installs(
        &["dash"],
        &[
            ("dash", "0.5.12-2"),
            ("debianutils", "5.7-0.4"),
            ("libc6", "2.36-9"),
        ],
    );
}

#[test]
fn recommends_only_with_the_flag_and_unsatisfiable_ones_are_skipped() {
    let world = World::new(&[
        (
            "git",
            "1:2.39.2-1.1",
            "amd64",
            &[
                ("Depends", "libc6, git-man (>= 1:2.39.2-1.1)"),
                (
                    "Recommends",
                    // `openssh-client` is too old, `git-missing` does not exist,
                    // `gitk` cannot be installed and `git-svn` conflicts with
                    // `libc6`: all four are skipped.
                    "less, patch, openssh-client (>= 1:9.9), git-missing, gitk, git-svn",
                ),
            ],
        ),
        ("git-man", "1:2.39.2-1.1", "all", &[]),
        ("libc6", "2.36-9", "amd64", &[]),
        ("less", "590-2", "amd64", &[("Depends", "libc6")]),
        ("patch", "2.7.6-7", "amd64", &[("Depends", "libc6")]),
        ("openssh-client", "1:9.2p1-2", "amd64", &[]),
        ("gitk", "1:2.39.2-1.1", "all", &[("Depends", "tk (>= 8.7)")]),
        ("tk", "8.6.13", "amd64", &[]),
        (
            "git-svn",
            "1:2.39.2-1.1",
            "all",
            &[("Conflicts", "libc6 (<< 2.40)")],
        ),
    ]);
    world.installs(
        &["git"],
        &[
            ("git", "1:2.39.2-1.1"),
            ("git-man", "1:2.39.2-1.1"),
            ("libc6", "2.36-9"),
        ],
    );
    world.installs_with_recommends(
        &["git"],
        &[
            ("git", "1:2.39.2-1.1"),
            ("git-man", "1:2.39.2-1.1"),
            ("less", "590-2"),
            ("libc6", "2.36-9"),
            ("patch", "2.7.6-7"),
        ],
    );
}

#[test]
fn recommended_package_whose_dependencies_fail_deeper_is_left_out() {
    // `git-cvs` itself looks installable, and `cvs` is; `cvsps` fails one level down.
    // apt marks `cvs` before it gives up `git-cvs`, then drops it as unneeded.
    let world = World::new(&[
        ("git", "1:2.39.2-1.1", "amd64", &[("Recommends", "git-cvs")]),
        (
            "tig",
            "2.5.8-1",
            "amd64",
            &[("Recommends", "git-cvs | git-email")],
        ),
        ("git-email", "1:2.39.2-1.1", "all", &[]),
        (
            "git-cvs",
            "1:2.39.2-1.1",
            "all",
            &[("Depends", "cvs, cvsps")],
        ),
        ("cvs", "2:1.12.13+real-28", "amd64", &[]),
        (
            "cvsps",
            "2.1-8",
            "amd64",
            &[("Depends", "libcvsps-missing")],
        ),
    ]);
    world.installs_with_recommends(&["git"], &[("git", "1:2.39.2-1.1")]);
    world.installs_with_recommends(
        &["tig"],
        &[("tig", "2.5.8-1"), ("git-email", "1:2.39.2-1.1")],
    );
}

#[test]
fn suggests_are_never_installed() {
    let world = World::new(&[
        (
            "vim",
            "2:9.0.1378-2",
            "amd64",
            &[("Depends", "vim-common"), ("Suggests", "ctags, vim-doc")],
        ),
        ("vim-common", "2:9.0.1378-2", "all", &[]),
        ("ctags", "1:5.9~svn20110310-16", "amd64", &[]),
        ("vim-doc", "2:9.0.1378-2", "all", &[]),
    ]);
    let expected = [("vim", "2:9.0.1378-2"), ("vim-common", "2:9.0.1378-2")];
    world.installs(&["vim"], &expected);
    world.installs_with_recommends(&["vim"], &expected);
}

// ---------------------------------------------------------------------------------------
// Alternatives
// ---------------------------------------------------------------------------------------

#[test]
fn alternatives_first_installable_wins() {
    let world = World::new(&[
        (
            "bsd-mailx",
            "8.1.2-0.2",
            "amd64",
            &[("Depends", "exim4 | postfix")],
        ),
        (
            "mutt",
            "2.2.9-1",
            "amd64",
            &[("Depends", "sendmail | postfix")],
        ),
        (
            "logcheck",
            "1.4.2",
            "all",
            &[("Depends", "mail-broken | postfix")],
        ),
        ("mail-broken", "1.0", "amd64", &[("Depends", "libmissing1")]),
        (
            "logwatch",
            "7.8-1",
            "all",
            &[("Depends", "mail-deep | postfix")],
        ),
        // Installable at first sight; `liblockfile-bin` fails one level down.
        (
            "mail-deep",
            "1.0",
            "amd64",
            &[("Depends", "libc6, liblockfile-bin")],
        ),
        ("libc6", "2.36-9", "amd64", &[]),
        (
            "liblockfile-bin",
            "1.17-1",
            "amd64",
            &[("Depends", "liblockfile-missing")],
        ),
        ("exim4", "4.96-15", "all", &[]),
        ("postfix", "3.7.6-0+deb12u1", "amd64", &[]),
    ]);
    // Both exist: the first.
    world.installs(
        &["bsd-mailx"],
        &[("bsd-mailx", "8.1.2-0.2"), ("exim4", "4.96-15")],
    );
    // No such package: the next one.
    world.installs(
        &["mutt"],
        &[("mutt", "2.2.9-1"), ("postfix", "3.7.6-0+deb12u1")],
    );
    // One whose own dependencies cannot be installed: the next one.
    world.installs(
        &["logcheck"],
        &[("logcheck", "1.4.2"), ("postfix", "3.7.6-0+deb12u1")],
    );
    // Also when they fail deeper down; what the failed one pulled in is dropped.
    world.installs(
        &["logwatch"],
        &[("logwatch", "7.8-1"), ("postfix", "3.7.6-0+deb12u1")],
    );
}

#[test]
fn alternative_whose_version_constraint_fails_is_skipped() {
    let world = World::new(&[
        (
            "app",
            "1.0",
            "amd64",
            &[("Depends", "libssl3 (>= 3.1) | libssl1.1")],
        ),
        ("libssl3", "3.0.11-1~deb12u2", "amd64", &[]),
        ("libssl1.1", "1.1.1n-0+deb11u5", "amd64", &[]),
    ]);
    world.installs(
        &["app"],
        &[("app", "1.0"), ("libssl1.1", "1.1.1n-0+deb11u5")],
    );
}

#[test]
fn alternative_already_marked_wins_depth_first() {
    let world = World::new(&[
        // `xdep` comes first and pulls in `beta`: then `alpha | beta` is satisfied.
        ("late", "1.0", "amd64", &[("Depends", "xdep, alpha | beta")]),
        // The other way round, `alpha` is chosen before `xdep` pulls in `beta`.
        (
            "early",
            "1.0",
            "amd64",
            &[("Depends", "alpha | beta, xdep")],
        ),
        ("xdep", "1.0", "amd64", &[("Depends", "beta")]),
        ("alpha", "1.0", "amd64", &[]),
        ("beta", "1.0", "amd64", &[]),
    ]);
    world.installs(
        &["late"],
        &[("late", "1.0"), ("xdep", "1.0"), ("beta", "1.0")],
    );
    world.installs(
        &["early"],
        &[
            ("early", "1.0"),
            ("alpha", "1.0"),
            ("beta", "1.0"),
            ("xdep", "1.0"),
        ],
    );
    // Requested packages are all marked before any dependency is installed.
    world.installs(
        &["early", "beta"],
        &[("early", "1.0"), ("beta", "1.0"), ("xdep", "1.0")],
    );
}

// ---------------------------------------------------------------------------------------
// Versions
// ---------------------------------------------------------------------------------------

/// `(package, its Depends, whether it is installable)`; `libz`'s candidate is 2.0-1.
const OPERATORS: &[(&str, &str, bool)] = &[
    ("lt-ok", "libz (<< 2.0-2)", true),
    ("lt-fails", "libz (<< 2.0-1)", false),
    ("le-ok", "libz (<= 2.0-1)", true),
    ("le-fails", "libz (<= 1.9)", false),
    ("eq-ok", "libz (= 2.0-1)", true),
    // 1.0-1 is in the index, but only the candidate is ever installed.
    ("eq-fails", "libz (= 1.0-1)", false),
    ("ge-ok", "libz (>= 2.0~rc1)", true),
    // Any epoch is later than none.
    ("ge-fails", "libz (>= 1:1.0)", false),
    ("gt-ok", "libz (>> 1.0-1)", true),
    ("gt-fails", "libz (>> 2.0-1)", false),
];

#[test]
fn version_operators() {
    let fields: Vec<[(&str, &str); 1]> = OPERATORS
        .iter()
        .map(|&(_, depends, _)| [("Depends", depends)])
        .collect();
    let mut stanzas: Vec<Stanza<'_>> = vec![
        ("libz", "1.0-1", "amd64", &[]),
        ("libz", "2.0-1", "amd64", &[]),
    ];
    for (&(name, _, _), fields) in OPERATORS.iter().zip(&fields) {
        stanzas.push((name, "1", "amd64", fields));
    }
    let world = World::new(&stanzas);
    for &(name, depends, ok) in OPERATORS {
        if ok {
            world.installs(&[name], &[(name, "1"), ("libz", "2.0-1")]);
        } else {
            let error = world.refuses(&[name]).to_string();
            assert!(error.contains(depends), "{name}: {error}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// Virtual packages
// ---------------------------------------------------------------------------------------

#[test]
fn virtual_with_one_provider() {
    let world = World::new(&[
        (
            "mutt",
            "2.2.9-1",
            "amd64",
            &[("Depends", "mail-transport-agent")],
        ),
        (
            "postfix",
            "3.7.6-0+deb12u1",
            "amd64",
            &[("Provides", "mail-transport-agent")],
        ),
    ]);
    world.installs(
        &["mutt"],
        &[("mutt", "2.2.9-1"), ("postfix", "3.7.6-0+deb12u1")],
    );
}

#[test]
fn real_package_beats_providers() {
    let world = World::new(&[
        ("script", "1.0", "all", &[("Depends", "awk")]),
        (
            "mawk",
            "1.3.4.20200120-3.1",
            "amd64",
            &[
                ("Provides", "awk"),
                ("Essential", "yes"),
                ("Priority", "required"),
            ],
        ),
        // A real `awk`, seen last and of no priority: still the first choice.
        ("awk", "1.0", "amd64", &[]),
    ]);
    world.installs(&["script"], &[("script", "1.0"), ("awk", "1.0")]);
}

#[test]
fn essential_provider_beats_priority_and_order() {
    let world = World::new(&[
        ("script", "1.0", "all", &[("Depends", "awk")]),
        (
            "mawk",
            "1.3.4.20200120-3.1",
            "amd64",
            &[
                ("Provides", "awk"),
                ("Essential", "yes"),
                ("Priority", "extra"),
            ],
        ),
        (
            "gawk",
            "1:5.2.1-2",
            "amd64",
            &[("Provides", "awk"), ("Priority", "required")],
        ),
    ]);
    world.installs(
        &["script"],
        &[("script", "1.0"), ("mawk", "1.3.4.20200120-3.1")],
    );
}

#[test]
fn protected_provider_beats_priority_and_order() {
    let world = World::new(&[
        ("script", "1.0", "all", &[("Depends", "init-system")]),
        (
            "systemd-sysv",
            "252.22-1",
            "amd64",
            &[
                ("Provides", "init-system"),
                ("Protected", "yes"),
                ("Priority", "extra"),
            ],
        ),
        (
            "sysvinit-core",
            "3.06-4",
            "amd64",
            &[("Provides", "init-system"), ("Priority", "required")],
        ),
    ]);
    world.installs(
        &["script"],
        &[("script", "1.0"), ("systemd-sysv", "252.22-1")],
    );
}

#[test]
fn providers_by_priority() {
    // One virtual name per step of apt's order (none, required, important, standard,
    // optional, extra); the better provider comes first, so the last-seen tie-break
    // alone would pick the other.
    let world = World::new(&[
        ("v1-user", "1.0", "amd64", &[("Depends", "v1")]),
        ("v1-none", "1.0", "amd64", &[("Provides", "v1")]),
        (
            "v1-required",
            "1.0",
            "amd64",
            &[("Provides", "v1"), ("Priority", "required")],
        ),
        ("v2-user", "1.0", "amd64", &[("Depends", "v2")]),
        (
            "v2-required",
            "1.0",
            "amd64",
            &[("Provides", "v2"), ("Priority", "required")],
        ),
        (
            "v2-important",
            "1.0",
            "amd64",
            &[("Provides", "v2"), ("Priority", "important")],
        ),
        ("v3-user", "1.0", "amd64", &[("Depends", "v3")]),
        (
            "v3-important",
            "1.0",
            "amd64",
            &[("Provides", "v3"), ("Priority", "important")],
        ),
        (
            "v3-standard",
            "1.0",
            "amd64",
            &[("Provides", "v3"), ("Priority", "standard")],
        ),
        ("v4-user", "1.0", "amd64", &[("Depends", "v4")]),
        (
            "v4-standard",
            "1.0",
            "amd64",
            &[("Provides", "v4"), ("Priority", "standard")],
        ),
        (
            "v4-optional",
            "1.0",
            "amd64",
            &[("Provides", "v4"), ("Priority", "optional")],
        ),
        ("v5-user", "1.0", "amd64", &[("Depends", "v5")]),
        (
            "v5-optional",
            "1.0",
            "amd64",
            &[("Provides", "v5"), ("Priority", "optional")],
        ),
        (
            "v5-extra",
            "1.0",
            "amd64",
            &[("Provides", "v5"), ("Priority", "extra")],
        ),
    ]);
    for (user, chosen) in [
        ("v1-user", "v1-none"),
        ("v2-user", "v2-required"),
        ("v3-user", "v3-important"),
        ("v4-user", "v4-standard"),
        ("v5-user", "v5-optional"),
    ] {
        world.installs(&[user], &[(user, "1.0"), (chosen, "1.0")]);
    }
}

#[test]
fn provider_tie_goes_to_the_one_apt_saw_last() {
    let world = World::new(&[
        (
            "mutt",
            "2.2.9-1",
            "amd64",
            &[("Depends", "mail-transport-agent")],
        ),
        (
            "exim4",
            "4.96-15",
            "all",
            &[("Provides", "mail-transport-agent")],
        ),
        (
            "postfix",
            "3.7.6-0+deb12u1",
            "amd64",
            &[("Provides", "mail-transport-agent")],
        ),
        // `doc`'s `Suggests` mentions `msmtp` before `opensmtpd` has a stanza, so
        // apt numbers `opensmtpd` after `msmtp`, whatever the stanza order.
        ("esmtp-user", "1.0", "amd64", &[("Depends", "smtp-client")]),
        ("doc", "1.0", "all", &[("Suggests", "msmtp")]),
        (
            "opensmtpd",
            "6.8.0p2-4",
            "amd64",
            &[("Provides", "smtp-client")],
        ),
        ("msmtp", "1.8.23-1", "amd64", &[("Provides", "smtp-client")]),
    ]);
    world.installs(
        &["mutt"],
        &[("mutt", "2.2.9-1"), ("postfix", "3.7.6-0+deb12u1")],
    );
    world.installs(
        &["esmtp-user"],
        &[("esmtp-user", "1.0"), ("opensmtpd", "6.8.0p2-4")],
    );
}

#[test]
fn provider_tie_across_suites_follows_source_order() {
    // apt reads `main-suite` first, then `sec-suite`: the provider there is seen last.
    let user: Stanza<'_> = (
        "mutt",
        "2.2.9-1",
        "amd64",
        &[("Depends", "mail-transport-agent")],
    );
    let exim: Stanza<'_> = (
        "exim4",
        "4.96-15",
        "all",
        &[("Provides", "mail-transport-agent")],
    );
    let postfix: Stanza<'_> = (
        "postfix",
        "3.7.6-0+deb12u1",
        "amd64",
        &[("Provides", "mail-transport-agent")],
    );
    let world = World::suites(&[&[user, exim], &[postfix]]);
    world.installs(
        &["mutt"],
        &[("mutt", "2.2.9-1"), ("postfix", "3.7.6-0+deb12u1")],
    );
    let world = World::suites(&[&[postfix], &[user, exim]]);
    world.installs(&["mutt"], &[("mutt", "2.2.9-1"), ("exim4", "4.96-15")]);
}

#[test]
fn versioned_provides() {
    let world = World::new(&[
        ("app", "1.0", "amd64", &[("Depends", "libfoo-abi (>= 1.5)")]),
        ("plain", "1.0", "amd64", &[("Depends", "libfoo-abi")]),
        (
            "strict",
            "1.0",
            "amd64",
            &[("Depends", "libbar-abi (>= 1)")],
        ),
        (
            "future",
            "1.0",
            "amd64",
            &[("Depends", "libfoo-abi (>= 3)")],
        ),
        (
            "libfoo2",
            "2.0-1",
            "amd64",
            &[("Provides", "libfoo-abi (= 2.0)")],
        ),
        // Unversioned, essential and seen last: it would win if it counted.
        (
            "libfoo-compat",
            "1.0",
            "amd64",
            &[("Provides", "libfoo-abi, libbar-abi"), ("Essential", "yes")],
        ),
    ]);
    world.installs(&["app"], &[("app", "1.0"), ("libfoo2", "2.0-1")]);
    // An unversioned dependency takes both; the essential one wins.
    world.installs(&["plain"], &[("plain", "1.0"), ("libfoo-compat", "1.0")]);
    // An unversioned Provides never satisfies a versioned dependency.
    let error = world.refuses(&["strict"]).to_string();
    assert!(error.contains("libbar-abi (>= 1)"), "{error}");
    assert!(error.contains("libfoo-compat 1.0 (unversioned)"), "{error}");
    // A provided version that is too low.
    let error = world.refuses(&["future"]).to_string();
    assert!(
        error.contains("libfoo2 2.0-1 (provides version 2.0)"),
        "{error}"
    );
}

#[test]
fn versioned_provides_stands_in_for_a_real_package_too_old() {
    // `libjpeg62-turbo` is too old for `viewer`; `libjpeg-ng` provides a newer one.
    let world = World::new(&[
        (
            "viewer",
            "1.0",
            "amd64",
            &[("Depends", "libjpeg62-turbo (>= 1:2.1)")],
        ),
        ("libjpeg62-turbo", "1:2.0.6-4", "amd64", &[]),
        (
            "libjpeg-ng",
            "3.0.0-1",
            "amd64",
            &[("Provides", "libjpeg62-turbo (= 1:2.1.5)")],
        ),
    ]);
    world.installs(&["viewer"], &[("viewer", "1.0"), ("libjpeg-ng", "3.0.0-1")]);
}

#[test]
fn only_the_candidate_provides() {
    // The newer `mailutils` no longer provides `mailx` or `mail-reader`.
    let world = World::new(&[
        ("cron-mail", "1.0", "all", &[("Depends", "mailx")]),
        (
            "mailutils",
            "1:3.15-4",
            "amd64",
            &[("Provides", "mailx, mail-reader")],
        ),
        ("mailutils", "1:3.17-1", "amd64", &[]),
        ("reporter", "1.0", "all", &[("Depends", "mail-reader")]),
        ("mutt", "2.2.9-1", "amd64", &[("Provides", "mail-reader")]),
    ]);
    world.refuses(&["cron-mail"]);
    // `mutt` is the only provider, for a dependency and for a request.
    world.installs(&["reporter"], &[("reporter", "1.0"), ("mutt", "2.2.9-1")]);
    world.installs(&["mail-reader"], &[("mutt", "2.2.9-1")]);
}

#[test]
fn requesting_a_virtual_package() {
    let world = World::new(&[
        (
            "postfix",
            "3.7.6-0+deb12u1",
            "amd64",
            &[("Provides", "mail-transport-agent, default-mta")],
        ),
        (
            "exim4",
            "4.96-15",
            "all",
            &[("Provides", "mail-transport-agent")],
        ),
    ]);
    // One provider: it is installed.
    world.installs(&["default-mta"], &[("postfix", "3.7.6-0+deb12u1")]);
    // Several: the user must choose.
    let error = world.refuses(&["mail-transport-agent"]);
    assert_eq!(
        error,
        ResolveError::Virtual {
            name: "mail-transport-agent".into(),
            providers: vec!["exim4".into(), "postfix".into()],
        }
    );
}

// ---------------------------------------------------------------------------------------
// Architecture qualifiers and Multi-Arch
// ---------------------------------------------------------------------------------------

#[test]
fn any_qualifier_needs_multi_arch_allowed() {
    let world = World::new(&[
        (
            "python3",
            "3.11.2-1+b1",
            "amd64",
            &[("Multi-Arch", "allowed")],
        ),
        ("perl", "5.36.0-7", "amd64", &[]),
        ("make", "4.3-4.1", "amd64", &[("Multi-Arch", "foreign")]),
        (
            "py-tool",
            "1.0",
            "all",
            &[("Depends", "python3:any (>= 3.11)")],
        ),
        ("pl-tool", "1.0", "all", &[("Depends", "perl:any")]),
        ("mk-tool", "1.0", "all", &[("Depends", "make:any")]),
    ]);
    world.installs(
        &["py-tool"],
        &[("py-tool", "1.0"), ("python3", "3.11.2-1+b1")],
    );
    let error = world.refuses(&["pl-tool"]).to_string();
    assert!(error.contains("perl:any"), "{error}");
    let error = world.refuses(&["mk-tool"]).to_string();
    assert!(error.contains("make:any"), "{error}");
}

#[test]
fn native_and_own_architecture_qualifiers() {
    let world = World::new(&[
        ("perl", "5.36.0-7", "amd64", &[]),
        ("tool", "1.0", "amd64", &[("Depends", "perl:native")]),
        // `Architecture: all` packages count as native.
        ("tzdata", "2024a-0+deb12u1", "all", &[]),
        ("clock", "1.0", "amd64", &[("Depends", "tzdata:native")]),
        ("clock64", "1.0", "amd64", &[("Depends", "tzdata:amd64")]),
    ]);
    world.installs(&["tool"], &[("tool", "1.0"), ("perl", "5.36.0-7")]);
    world.installs(
        &["clock"],
        &[("clock", "1.0"), ("tzdata", "2024a-0+deb12u1")],
    );
    world.installs(
        &["clock64"],
        &[("clock64", "1.0"), ("tzdata", "2024a-0+deb12u1")],
    );
}

#[test]
fn multi_arch_foreign_and_same_resolve_normally() {
    let world = World::new(&[
        (
            "libssl3",
            "3.0.11-1~deb12u2",
            "amd64",
            &[("Multi-Arch", "same"), ("Depends", "libc6")],
        ),
        ("libc6", "2.36-9", "amd64", &[("Multi-Arch", "same")]),
        (
            "ca-certificates",
            "20230311",
            "all",
            &[("Multi-Arch", "foreign"), ("Depends", "openssl")],
        ),
        (
            "openssl",
            "3.0.11-1~deb12u2",
            "amd64",
            &[("Multi-Arch", "foreign"), ("Depends", "libssl3")],
        ),
    ]);
    world.installs(
        &["ca-certificates"],
        &[
            ("ca-certificates", "20230311"),
            ("libc6", "2.36-9"),
            ("libssl3", "3.0.11-1~deb12u2"),
            ("openssl", "3.0.11-1~deb12u2"),
        ],
    );
}

// ---------------------------------------------------------------------------------------
// Conflicts and Breaks
// ---------------------------------------------------------------------------------------

#[test]
fn alternative_conflicting_with_a_marked_package_is_skipped() {
    let world = World::new(&[
        (
            "app",
            "1.0",
            "amd64",
            &[("Depends", "libgnutls30, tls-openssl | tls-gnutls")],
        ),
        ("libgnutls30", "3.7.9-2", "amd64", &[]),
        (
            "tls-openssl",
            "1.0",
            "amd64",
            &[("Conflicts", "libgnutls30")],
        ),
        ("tls-gnutls", "1.0", "amd64", &[]),
        (
            "app2",
            "1.0",
            "amd64",
            &[("Depends", "libgnutls30, tls-new | tls-gnutls")],
        ),
        (
            "tls-new",
            "1.0",
            "amd64",
            &[("Breaks", "libgnutls30 (<< 3.8)")],
        ),
        // The other way round: the marked package declares the conflict.
        (
            "app3",
            "1.0",
            "amd64",
            &[("Depends", "libnss3, tls-openssl | tls-gnutls")],
        ),
        (
            "libnss3",
            "2:3.87.1-1",
            "amd64",
            &[("Conflicts", "tls-openssl")],
        ),
        (
            "app4",
            "1.0",
            "amd64",
            &[("Depends", "libnspr4, tls-openssl | tls-gnutls")],
        ),
        (
            "libnspr4",
            "2:4.35-1",
            "amd64",
            &[("Breaks", "tls-openssl")],
        ),
        // A requested package is marked before the dependencies of the others.
        (
            "app5",
            "1.0",
            "amd64",
            &[("Depends", "tls-openssl | tls-gnutls")],
        ),
    ]);
    world.installs(
        &["app"],
        &[
            ("app", "1.0"),
            ("libgnutls30", "3.7.9-2"),
            ("tls-gnutls", "1.0"),
        ],
    );
    world.installs(
        &["app3"],
        &[
            ("app3", "1.0"),
            ("libnss3", "2:3.87.1-1"),
            ("tls-gnutls", "1.0"),
        ],
    );
    world.installs(
        &["app4"],
        &[
            ("app4", "1.0"),
            ("libnspr4", "2:4.35-1"),
            ("tls-gnutls", "1.0"),
        ],
    );
    world.installs(
        &["app5", "libgnutls30"],
        &[
            ("app5", "1.0"),
            ("libgnutls30", "3.7.9-2"),
            ("tls-gnutls", "1.0"),
        ],
    );
    world.installs(
        &["app2"],
        &[
            ("app2", "1.0"),
            ("libgnutls30", "3.7.9-2"),
            ("tls-gnutls", "1.0"),
        ],
    );
}

#[test]
fn versioned_breaks_that_does_not_match_is_no_conflict() {
    let world = World::new(&[
        (
            "app",
            "1.0",
            "amd64",
            &[("Depends", "libgnutls30, tls-new | tls-gnutls")],
        ),
        ("libgnutls30", "3.8.1-4", "amd64", &[]),
        (
            "tls-new",
            "1.0",
            "amd64",
            &[("Breaks", "libgnutls30 (<< 3.8)")],
        ),
        ("tls-gnutls", "1.0", "amd64", &[]),
    ]);
    world.installs(
        &["app"],
        &[
            ("app", "1.0"),
            ("libgnutls30", "3.8.1-4"),
            ("tls-new", "1.0"),
        ],
    );
}

#[test]
fn requesting_conflicting_packages_fails() {
    let world = World::new(&[
        (
            "exim4-daemon-light",
            "4.96-15",
            "amd64",
            &[
                ("Provides", "mail-transport-agent"),
                ("Conflicts", "mail-transport-agent"),
            ],
        ),
        (
            "postfix",
            "3.7.6-0+deb12u1",
            "amd64",
            &[
                ("Provides", "mail-transport-agent"),
                ("Conflicts", "mail-transport-agent"),
            ],
        ),
        ("nano", "7.2-1", "amd64", &[("Breaks", "pico")]),
        ("pico", "1.0", "amd64", &[]),
        ("alpine", "2.26", "amd64", &[("Depends", "pico")]),
    ]);
    let error = world
        .refuses(&["exim4-daemon-light", "postfix"])
        .to_string();
    assert!(
        error.contains("exim4-daemon-light 4.96-15") && error.contains("postfix 3.7.6-0+deb12u1"),
        "{error}"
    );
    let error = world.refuses(&["pico", "nano"]).to_string();
    assert!(
        error.contains("nano 7.2-1") && error.contains("pico 1.0") && error.contains("`pico`"),
        "{error}"
    );
    // A requested package breaks what another one needs.
    let error = world.refuses(&["nano", "alpine"]).to_string();
    assert!(
        error.contains("nano 7.2-1") && error.contains("pico 1.0"),
        "{error}"
    );
}

#[test]
fn conflicting_with_a_virtual_it_provides_itself_is_fine() {
    let world = World::new(&[
        (
            "postfix",
            "3.7.6-0+deb12u1",
            "amd64",
            &[
                ("Provides", "mail-transport-agent"),
                ("Conflicts", "mail-transport-agent"),
                ("Replaces", "mail-transport-agent"),
            ],
        ),
        (
            "mutt",
            "2.2.9-1",
            "amd64",
            &[("Depends", "mail-transport-agent")],
        ),
    ]);
    world.installs(&["postfix"], &[("postfix", "3.7.6-0+deb12u1")]);
    world.installs(
        &["mutt"],
        &[("mutt", "2.2.9-1"), ("postfix", "3.7.6-0+deb12u1")],
    );
}

// ---------------------------------------------------------------------------------------
// Suites, Essential, architectures, cycles
// ---------------------------------------------------------------------------------------

#[test]
fn highest_version_wins_across_suites() {
    let main: &[Stanza<'_>] = &[
        (
            "openssl",
            "3.0.11-1~deb12u2",
            "amd64",
            &[("Depends", "libssl3 (>= 3.0.9)")],
        ),
        ("libssl3", "3.0.11-1~deb12u2", "amd64", &[]),
        // A point release newer than the security upload.
        ("tzdata", "2025b-0+deb12u1", "all", &[]),
    ];
    let security: &[Stanza<'_>] = &[
        (
            "openssl",
            "3.0.15-1~deb12u1",
            "amd64",
            &[("Depends", "libssl3 (>= 3.0.15)")],
        ),
        ("libssl3", "3.0.15-1~deb12u1", "amd64", &[]),
        ("tzdata", "2024b-0+deb12u1", "all", &[]),
    ];
    let world = World::suites(&[main, security]);
    world.installs(
        &["openssl", "tzdata"],
        &[
            ("libssl3", "3.0.15-1~deb12u1"),
            ("openssl", "3.0.15-1~deb12u1"),
            ("tzdata", "2025b-0+deb12u1"),
        ],
    );
}

#[test]
fn equal_versions_in_both_suites_are_one_package() {
    let stanzas: &[Stanza<'_>] = &[("tzdata", "2024a-0+deb12u1", "all", &[])];
    let world = World::suites(&[stanzas, stanzas]);
    let resolution = world.installs(&["tzdata"], &[("tzdata", "2024a-0+deb12u1")]);
    // The earlier suite's copy.
    assert_eq!(resolution.packages[0].suite, 0);
}

#[test]
fn essential_packages_only_when_depended_on() {
    let world = World::new(&[
        (
            "base-files",
            "12.4+deb12u5",
            "amd64",
            &[("Essential", "yes"), ("Priority", "required")],
        ),
        (
            "bash",
            "5.2.15-2+b2",
            "amd64",
            &[
                ("Essential", "yes"),
                ("Priority", "required"),
                ("Depends", "base-files"),
            ],
        ),
        ("hello", "2.10-3", "amd64", &[("Depends", "libc6")]),
        ("libc6", "2.36-9", "amd64", &[("Priority", "required")]),
        ("bash-completion", "1:2.11-6", "all", &[("Depends", "bash")]),
    ]);
    world.installs(&["hello"], &[("hello", "2.10-3"), ("libc6", "2.36-9")]);
    world.installs(
        &["bash-completion"],
        &[
            ("bash-completion", "1:2.11-6"),
            ("bash", "5.2.15-2+b2"),
            ("base-files", "12.4+deb12u5"),
        ],
    );
}

#[test]
fn other_architectures_are_never_chosen() {
    let world = World::new(&[
        ("tool", "1.0", "amd64", &[("Depends", "tool-data")]),
        ("tool", "2.0", "i386", &[]),
        ("tool-data", "1.0", "all", &[]),
        ("wine32", "8.0", "i386", &[]),
        ("wine", "8.0", "amd64", &[("Depends", "wine32")]),
    ]);
    world.installs(&["tool"], &[("tool", "1.0"), ("tool-data", "1.0")]);
    let error = world.refuses(&["wine"]).to_string();
    assert!(error.contains("`wine32`: no such package"), "{error}");
    assert!(matches!(
        world.refuses(&["wine32"]),
        ResolveError::Unknown { .. }
    ));
}

#[test]
fn dependency_cycles_resolve() {
    let world = World::new(&[
        ("aa", "1.0", "amd64", &[("Depends", "bb")]),
        ("bb", "1.0", "amd64", &[("Depends", "aa")]),
        ("x1", "1.0", "amd64", &[("Depends", "x2")]),
        ("x2", "1.0", "amd64", &[("Depends", "x3")]),
        ("x3", "1.0", "amd64", &[("Depends", "x1 (>= 1.0)")]),
    ]);
    world.installs(&["aa"], &[("aa", "1.0"), ("bb", "1.0")]);
    world.installs(&["x2"], &[("x1", "1.0"), ("x2", "1.0"), ("x3", "1.0")]);
}

#[test]
fn resolved_depends_lists_what_satisfies_each_clause() {
    let world = World::new(&[
        (
            "app",
            "1.0",
            "amd64",
            &[
                ("Pre-Depends", "libc6"),
                ("Depends", "missing | mail-transport-agent, libc6 (>= 2.30)"),
                ("Recommends", "less, not-there"),
                ("Suggests", "doc"),
            ],
        ),
        ("libc6", "2.36-9", "amd64", &[]),
        (
            "postfix",
            "3.7.6-0+deb12u1",
            "amd64",
            &[("Provides", "mail-transport-agent"), ("Depends", "libc6")],
        ),
        ("less", "590-2", "amd64", &[]),
        ("doc", "1.0", "all", &[]),
    ]);
    let resolution = world.installs(
        &["app"],
        &[
            ("app", "1.0"),
            ("libc6", "2.36-9"),
            ("postfix", "3.7.6-0+deb12u1"),
        ],
    );
    assert_eq!(World::depends(&resolution, "app"), ["libc6", "postfix"]);
    assert_eq!(World::depends(&resolution, "postfix"), ["libc6"]);
    assert!(World::depends(&resolution, "libc6").is_empty());
    let resolution = world.installs_with_recommends(
        &["app"],
        &[
            ("app", "1.0"),
            ("less", "590-2"),
            ("libc6", "2.36-9"),
            ("postfix", "3.7.6-0+deb12u1"),
        ],
    );
    assert_eq!(
        World::depends(&resolution, "app"),
        ["less", "libc6", "postfix"]
    );
}

// ---------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------

#[test]
fn unsatisfiable_error_names_the_package_clause_and_candidates() {
    let world = World::new(&[
        ("top", "1.0", "amd64", &[("Depends", "mid")]),
        (
            "mid",
            "2.0-1",
            "amd64",
            &[("Depends", "libz (>= 3) | libz-ng")],
        ),
        ("libz", "1.0", "amd64", &[]),
        ("libz", "2.0", "amd64", &[]),
    ]);
    let error = world.refuses(&["top"]);
    let ResolveError::Unsatisfiable(message) = &error else {
        panic!("{error:?}");
    };
    for part in [
        "mid 2.0-1",
        "`libz (>= 3) | libz-ng`",
        "(needed by top)",
        "available versions 2.0 (amd64), 1.0 (amd64)",
        "`libz-ng`: no such package",
    ] {
        assert!(message.contains(part), "`{part}` not in:\n{message}");
    }
}

#[test]
fn conflict_error_names_both_packages() {
    let world = World::new(&[
        ("app", "1.0", "amd64", &[("Depends", "libold, libnew")]),
        ("libold", "1.0", "amd64", &[]),
        ("libnew", "2.0", "amd64", &[("Breaks", "libold (<< 2)")]),
    ]);
    let error = world.refuses(&["app"]).to_string();
    for part in ["libnew 2.0", "libold 1.0", "libold (<< 2)"] {
        assert!(error.contains(part), "`{part}` not in:\n{error}");
    }
}

#[test]
fn unknown_name_suggests_close_ones() {
    let world = World::new(&[
        ("python3", "3.11.2-1+b1", "amd64", &[]),
        ("python3-minimal", "3.11.2-1+b1", "amd64", &[]),
        ("perl", "5.36.0-7", "amd64", &[]),
    ]);
    let error = world.refuses(&["pyhton3"]);
    let ResolveError::Unknown { name, close } = &error else {
        panic!("{error:?}");
    };
    assert_eq!(name, "pyhton3");
    assert_eq!(
        close.first().map(String::as_str),
        Some("python3"),
        "{close:?}"
    );
    assert!(!close.contains(&"perl".to_owned()), "{close:?}");
    assert!(error.to_string().contains("did you mean"), "{error}");
}

// ---------------------------------------------------------------------------------------
// Disagreements with apt found in review, fixed in resolve.rs and index.rs
// ---------------------------------------------------------------------------------------

#[test]
fn pre_depends_clause_also_recommended_is_still_required() {
    let world = World::new(&[
        (
            "app",
            "1.0",
            "amd64",
            &[
                ("Pre-Depends", "libfoo (>= 2)"),
                ("Recommends", "libfoo (>= 2)"),
            ],
        ),
        ("libfoo", "1.0", "amd64", &[]),
    ]);
    let error = world.refuses(&["app"]).to_string();
    assert!(error.contains("libfoo (>= 2)"), "{error}");
}

#[test]
fn any_qualifier_on_a_virtual_package() {
    let world = World::new(&[
        ("tool", "1.0", "all", &[("Depends", "py-abi:any (>= 2)")]),
        (
            "pyimpl",
            "1.0",
            "amd64",
            &[("Provides", "py-abi (= 2.0)"), ("Multi-Arch", "allowed")],
        ),
        ("tool2", "1.0", "all", &[("Depends", "pl-abi:any")]),
        (
            "plimpl",
            "1.0",
            "amd64",
            &[("Provides", "pl-abi"), ("Multi-Arch", "foreign")],
        ),
    ]);
    world.installs(&["tool"], &[("tool", "1.0"), ("pyimpl", "1.0")]);
    world.refuses(&["tool2"]);
}

#[test]
fn provider_priority_is_read_as_apt_reads_it() {
    let world = World::new(&[
        ("user", "1.0", "amd64", &[("Depends", "virt")]),
        (
            "p-opt",
            "1.0",
            "amd64",
            &[("Provides", "virt"), ("Priority", "optional")],
        ),
        (
            "p-req",
            "1.0",
            "amd64",
            &[("Provides", "virt"), ("Priority", "Required")],
        ),
        ("user2", "1.0", "amd64", &[("Depends", "virt2")]),
        (
            "q-extra",
            "1.0",
            "amd64",
            &[("Provides", "virt2"), ("Priority", "extra")],
        ),
        // apt: `extra` too, and seen last.
        (
            "q-odd",
            "1.0",
            "amd64",
            &[("Provides", "virt2"), ("Priority", "custom")],
        ),
    ]);
    world.installs(&["user"], &[("user", "1.0"), ("p-req", "1.0")]);
    world.installs(&["user2"], &[("user2", "1.0"), ("q-odd", "1.0")]);
}

#[test]
fn enhances_counts_in_apts_numbering() {
    let world = World::new(&[
        // apt numbers `p2` here, before `p1`'s stanza: `p1` is seen last and wins.
        ("plugin", "1.0", "amd64", &[("Enhances", "p2")]),
        ("p1", "1.0", "amd64", &[("Provides", "virt")]),
        ("p2", "1.0", "amd64", &[("Provides", "virt")]),
        ("user", "1.0", "amd64", &[("Depends", "virt")]),
    ]);
    world.installs(&["user"], &[("user", "1.0"), ("p1", "1.0")]);
}

#[test]
fn other_architecture_mentions_do_not_number_names() {
    let world = World::new(&[
        ("helper", "1.0", "i386", &[("Depends", "p2")]),
        ("doc", "1.0", "all", &[("Suggests", "q2:i386")]),
        ("p1", "1.0", "amd64", &[("Provides", "virt")]),
        ("p2", "1.0", "amd64", &[("Provides", "virt")]),
        ("user", "1.0", "amd64", &[("Depends", "virt")]),
        ("q1", "1.0", "amd64", &[("Provides", "virt2")]),
        ("q2", "1.0", "amd64", &[("Provides", "virt2")]),
        ("user2", "1.0", "amd64", &[("Depends", "virt2")]),
    ]);
    world.installs(&["user"], &[("user", "1.0"), ("p2", "1.0")]);
    world.installs(&["user2"], &[("user2", "1.0"), ("q2", "1.0")]);
}

#[test]
fn essential_flag_is_read_as_apt_reads_it() {
    let world = World::new(&[
        ("user", "1.0", "amd64", &[("Depends", "virt")]),
        (
            "p-ess",
            "1.0",
            "amd64",
            &[("Provides", "virt"), ("Essential", "Yes")],
        ),
        ("p-other", "1.0", "amd64", &[("Provides", "virt")]),
    ]);
    world.installs(&["user"], &[("user", "1.0"), ("p-ess", "1.0")]);
}

#[test]
fn conflict_error_says_who_needs_the_new_package() {
    let world = World::new(&[
        ("nano", "7.2-1", "amd64", &[("Breaks", "pico")]),
        ("pico", "1.0", "amd64", &[]),
        ("alpine", "2.26", "amd64", &[("Depends", "pico")]),
    ]);
    let error = world.refuses(&["nano", "alpine"]).to_string();
    assert!(error.contains("needed by alpine"), "{error}");
}

#[test]
fn unsatisfiable_message_for_a_virtual_name_reads_well() {
    let world = World::new(&[
        (
            "strict",
            "1.0",
            "amd64",
            &[("Depends", "libbar-abi (>= 1)")],
        ),
        ("libbar", "1.0", "amd64", &[("Provides", "libbar-abi")]),
    ]);
    let error = world.refuses(&["strict"]).to_string();
    assert!(!error.contains(":;"), "{error}");
    assert!(
        error.contains("provided by libbar 1.0 (unversioned)"),
        "{error}"
    );
}
