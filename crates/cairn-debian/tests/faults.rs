//! What a bad mirror does to the library, over a signed fixture repository served by
//! `cairn-test`'s HTTP server with injected faults: every bad input gives an error that
//! names what was wrong (the URL, the package, the expected and actual hash), and leaves
//! nothing new registered in the store; transient failures are retried; `offline` uses
//! the store alone; a repeated fetch downloads nothing it already has.

#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use cairn_debian::{
    DebError, DebObjectError, DebianLock, InstallError, InstallReporter, Installed, LockedPackage,
    RepoContext, RepoError, Repository, Request, SignatureError, Trust, debian_sources,
    fetch_locked, resolve,
};
use cairn_fetch::{FetchError, FetchOptions, FetchReporter, Fetcher, NoFetchReporter};
use cairn_store::{NoReporter, Store, StorePath};
use cairn_test::{Fault, FixturePackage, FixtureRepo, TestServer, require_tool};
use sha2::Digest as _;

const SUITE: &str = "testing";
/// Retries after the first attempt, so a failing download is tried this many + 1 times.
const RETRIES: u32 = 2;

/// A signed fixture repository on a test server, and an empty store.
struct Env {
    repo: FixtureRepo,
    /// `None` once a test has stopped it.
    server: Option<TestServer>,
    /// The server's URL (the mirror), which stays the store's name for the suite.
    url: String,
    store: Store,
    tmp: tempfile::TempDir,
}

/// `libfix`, `app` (depends on `libfix`) and `tool`.
fn packages() -> Vec<FixturePackage> {
    vec![
        FixturePackage::new("libfix", "1.0-1").file("usr/lib/libfix.so.1", b"\x7fELF", 0o644),
        FixturePackage::new("app", "2.0-1")
            .field("Depends", "libfix (>= 1.0)")
            .file("usr/bin/app", b"#!/bin/sh\necho app\n", 0o755),
        FixturePackage::new("tool", "3.0-1").file("usr/bin/tool", b"#!/bin/sh\n", 0o755),
    ]
}

fn setup() -> Option<Env> {
    setup_with(&packages())
}

/// `None` when dpkg-deb is missing outside CI.
fn setup_with(packages: &[FixturePackage]) -> Option<Env> {
    require_tool("dpkg-deb")?;
    let tmp = tempfile::tempdir().unwrap();
    let repo = FixtureRepo::build(&tmp.path().join("repo"), SUITE, packages, 42);
    let server = TestServer::serve_dir(&repo.root);
    let store = Store::open(&tmp.path().join("store")).unwrap();
    Some(Env {
        repo,
        url: server.url(),
        server: Some(server),
        store,
        tmp,
    })
}

fn options(offline: bool) -> FetchOptions {
    FetchOptions {
        retries: RETRIES,
        backoff: Duration::from_millis(10),
        connect_timeout: Duration::from_secs(5),
        read_timeout: Duration::from_secs(10),
        offline,
        ..FetchOptions::default()
    }
}

fn online() -> Fetcher {
    Fetcher::new(options(false)).unwrap()
}

fn offline() -> Fetcher {
    Fetcher::new(options(true)).unwrap()
}

/// Reports nothing.
struct Quiet;
impl FetchReporter for Quiet {}
impl InstallReporter for Quiet {}

fn quiet() -> Arc<dyn InstallReporter> {
    Arc::new(Quiet)
}

/// An error and all its causes, `: `-separated.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn sha256_hex(bytes: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(&sha2::Sha256::digest(bytes))
}

impl Env {
    fn server(&self) -> &TestServer {
        self.server.as_ref().unwrap()
    }

    fn trust(&self) -> Trust {
        Trust::Keys(vec![("fixture".into(), self.repo.public_key.clone())])
    }

    /// Opens the suite from `mirror` (the server's URL unless another is given).
    fn open_from(&self, fetcher: &Fetcher, mirror: &str) -> Result<Repository, RepoError> {
        let context = RepoContext {
            store: &self.store,
            fetcher,
            trust: self.trust(),
            now: SystemTime::now(),
            reporter: &NoFetchReporter,
        };
        let sources = debian_sources(mirror, SUITE, &["main".into()], None);
        Repository::open(&context, &sources, "amd64")
    }

    fn open(&self, fetcher: &Fetcher) -> Result<Repository, RepoError> {
        self.open_from(fetcher, &self.url)
    }

    /// The lock for installing `request`, from the repository as `fetcher` reads it.
    fn lock_with(&self, fetcher: &Fetcher, request: &[&str]) -> DebianLock {
        let repo = self.open(fetcher).unwrap();
        let request = Request {
            packages: request.iter().map(ToString::to_string).collect(),
            recommends: false,
        };
        let resolution = resolve(&repo, &request).unwrap();
        DebianLock::new(&repo, &request, &resolution)
    }

    fn lock(&self, request: &[&str]) -> DebianLock {
        self.lock_with(&online(), request)
    }

    fn fetch(&self, fetcher: &Fetcher, lock: &DebianLock) -> Result<Installed, InstallError> {
        fetch_locked(&self.store, fetcher, lock, &quiet())
    }

    fn objects(&self) -> Vec<StorePath> {
        self.store.all_objects().unwrap()
    }

    /// The store has exactly `before` and verifies.
    fn assert_unchanged(&self, before: &[StorePath]) {
        assert_eq!(self.objects(), before, "nothing new is registered");
        assert!(self.store.verify(None, &NoReporter).unwrap().is_ok());
    }

    /// After a fetch of `lock` failed on `failed`: the store still has `before` and
    /// verifies, and what it gained are complete packages of the lock (unpacked while
    /// other downloads went on), never `failed`.
    fn assert_consistent(&self, before: &[StorePath], lock: &DebianLock, failed: &str) {
        let now = self.objects();
        assert!(before.iter().all(|p| now.contains(p)), "nothing is lost");
        for new in now.iter().filter(|p| !before.contains(p)) {
            let name = new.name();
            assert!(
                lock.packages
                    .iter()
                    .any(|p| p.name != failed && name.starts_with(&format!("{}_", p.name))),
                "{new} is not a package of the lock other than {failed}"
            );
        }
        assert!(self.store.verify(None, &NoReporter).unwrap().is_ok());
    }

    fn inrelease_url(&self) -> String {
        format!("{}{}", self.url, dists_path("InRelease"))
    }

    /// Replaces the served `InRelease`.
    fn write_inrelease(&self, text: impl AsRef<[u8]>) {
        fs_err::write(self.repo.dists().join("InRelease"), text).unwrap();
    }

    fn release_text(&self) -> String {
        fs_err::read_to_string(self.repo.dists().join("Release")).unwrap()
    }

    /// Dates the `Release` now and signs it again, as an archive does when it publishes:
    /// the fixture's `Date` is fixed, while its signature is made when the test runs.
    fn date_release_now(&self) {
        let date = release_date(SystemTime::now());
        let release: String = self
            .release_text()
            .lines()
            .map(|l| {
                if l.starts_with("Date:") {
                    format!("Date: {date}\n")
                } else {
                    format!("{l}\n")
                }
            })
            .collect();
        fs_err::write(self.repo.dists().join("Release"), &release).unwrap();
        self.write_inrelease(self.repo.sign(&release));
    }

    /// The served `Packages.xz` and the URL path of its by-hash copy (what is fetched).
    fn packages_xz(&self) -> (Vec<u8>, String) {
        let xz = fs_err::read(self.repo.dists().join("main/binary-amd64/Packages.xz")).unwrap();
        let path = dists_path(&format!(
            "main/binary-amd64/by-hash/SHA256/{}",
            sha256_hex(&xz)
        ));
        (xz, path)
    }

    /// Requests so far for `.deb`s.
    fn pool_requests(&self) -> usize {
        self.server()
            .requests()
            .iter()
            .filter(|p| p.starts_with("/pool/"))
            .count()
    }
}

/// The URL path of a file under `dists/<suite>/`.
fn dists_path(rel: &str) -> String {
    format!("/dists/{SUITE}/{rel}")
}

/// The URL path of `name`'s `.deb` in `lock`.
fn pool_path(lock: &DebianLock, name: &str) -> String {
    let package = lock.packages.iter().find(|p| p.name == name).unwrap();
    format!("/{}", package.filename)
}

/// `t` as a `Release` date (`Sat, 01 Nov 2025 00:00:00 UTC`).
fn release_date(t: SystemTime) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    let secs = t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
    let (days, time) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's civil_from_days.
    let z = i64::try_from(days).unwrap() + 719_468;
    let (era, doe) = (z.div_euclid(146_097), z.rem_euclid(146_097));
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let text = format!(
        "{}, {day:02} {} {year} {:02}:{:02}:{:02} UTC",
        WEEKDAYS[usize::try_from(days % 7).unwrap()],
        MONTHS[usize::try_from(month - 1).unwrap()],
        time / 3600,
        time / 60 % 60,
        time % 60
    );
    let back = cairn_debian::parse_release_date(&text).unwrap();
    assert_eq!(
        back.duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
        secs,
        "{text}"
    );
    text
}

fn names(installed: &Installed) -> Vec<&str> {
    installed.keys().map(String::as_str).collect()
}

// ---------------------------------------------------------------------------------
// Signatures

/// Opening fails with a signature error for the `InRelease` URL; nothing is registered.
fn assert_signature_refused(env: &Env, expected: &str) -> SignatureError {
    let err = env.open(&online()).unwrap_err();
    let text = chain(&err);
    assert!(text.contains(&env.inrelease_url()), "{text}");
    assert!(text.contains(expected), "{text}");
    assert!(
        err.hint().unwrap().contains("--keyring"),
        "{:?}",
        err.hint()
    );
    env.assert_unchanged(&[]);
    match err {
        RepoError::Signature { source, .. } => source,
        other => panic!("not a signature error: {other:?}"),
    }
}

#[test]
fn inrelease_signed_by_another_key_is_refused() {
    let Some(env) = setup() else { return };
    let other = FixtureRepo::build(
        &env.tmp.path().join("other"),
        SUITE,
        &[FixturePackage::new("x", "1")],
        7,
    );
    env.write_inrelease(other.sign(&env.release_text()));
    let source = assert_signature_refused(&env, "signature by unknown key");
    assert!(matches!(source, SignatureError::NoTrustedSignature { .. }));
}

#[test]
fn inrelease_edited_after_signing_is_refused() {
    let Some(env) = setup() else { return };
    let signed = fs_err::read_to_string(env.repo.dists().join("InRelease")).unwrap();
    let edited = signed.replace("Suite: testing", "Suite: testinh");
    assert_ne!(signed, edited);
    env.write_inrelease(edited);
    let source = assert_signature_refused(&env, "does not verify");
    assert!(matches!(source, SignatureError::BadSignature { .. }));
}

#[test]
fn unsigned_inrelease_is_refused() {
    let Some(env) = setup() else { return };
    env.write_inrelease(env.release_text());
    let source = assert_signature_refused(&env, "not a valid OpenPGP cleartext-signed message");
    assert!(matches!(source, SignatureError::Malformed(_)));
}

#[test]
fn garbage_inrelease_is_refused() {
    let Some(env) = setup() else { return };
    env.write_inrelease(b"\xff\xfe garbage \x00\x01");
    let source = assert_signature_refused(&env, "not UTF-8");
    assert!(matches!(source, SignatureError::Malformed(_)));
}

/// A key made two days ago whose self-certification says it expired after one day.
fn expired_key() -> (pgp::composed::SignedSecretKey, String) {
    use pgp::composed::{ArmorOptions, KeyType, SecretKeyParamsBuilder};
    use pgp::crypto::hash::HashAlgorithm;
    use pgp::packet::{SignatureConfig, SignatureType, Subpacket, SubpacketData};
    use pgp::types::{KeyDetails, Password, Tag, Timestamp};
    use rand::SeedableRng;

    let day = 86_400;
    let now = u32::try_from(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap();
    let created = Timestamp::from_secs(now - 2 * day);
    let mut rng = rand::rngs::StdRng::seed_from_u64(9);
    let mut params = SecretKeyParamsBuilder::default();
    params
        .key_type(KeyType::Ed25519Legacy)
        .can_sign(true)
        .can_certify(true)
        .created_at(created)
        .primary_user_id("cairn expired archive <expired@cairn.invalid>".into());
    let secret = params.build().unwrap().generate(&mut rng).unwrap();
    let mut public = secret.to_public_key();
    // Replace the self-certification by one that gives the key a lifetime of one day.
    let mut config = SignatureConfig::v4(
        SignatureType::CertPositive,
        secret.primary_key.algorithm(),
        HashAlgorithm::Sha256,
    );
    config.hashed_subpackets = vec![
        Subpacket::regular(SubpacketData::SignatureCreationTime(created)).unwrap(),
        Subpacket::regular(SubpacketData::IssuerFingerprint(
            secret.primary_key.fingerprint(),
        ))
        .unwrap(),
        Subpacket::regular(SubpacketData::KeyExpirationTime(
            pgp::types::Duration::from_secs(day),
        ))
        .unwrap(),
    ];
    let user = &mut public.details.users[0];
    let certification = config
        .sign_certification(
            &secret.primary_key,
            &public.primary_key,
            &Password::empty(),
            Tag::UserId,
            &user.id,
        )
        .unwrap();
    user.signatures = vec![certification];
    let armored = public.to_armored_string(ArmorOptions::default()).unwrap();
    (secret, armored)
}

#[test]
fn inrelease_signed_by_an_expired_key_is_refused() {
    use pgp::composed::{ArmorOptions, CleartextSignedMessage};
    use pgp::crypto::hash::HashAlgorithm;
    use pgp::packet::{SignatureConfig, SignatureType, Subpacket, SubpacketData};
    use pgp::types::{KeyDetails, Password, Timestamp};

    let Some(env) = setup() else { return };
    let (secret, public) = expired_key();
    let mut config = SignatureConfig::v4(
        SignatureType::Text,
        secret.primary_key.algorithm(),
        HashAlgorithm::Sha256,
    );
    config.hashed_subpackets = vec![
        Subpacket::regular(SubpacketData::SignatureCreationTime(Timestamp::now())).unwrap(),
        Subpacket::regular(SubpacketData::IssuerFingerprint(
            secret.primary_key.fingerprint(),
        ))
        .unwrap(),
    ];
    let signed = CleartextSignedMessage::new(
        &env.release_text(),
        config,
        &secret.primary_key,
        &Password::empty(),
    )
    .unwrap();
    env.write_inrelease(signed.to_armored_string(ArmorOptions::default()).unwrap());
    let context = RepoContext {
        store: &env.store,
        fetcher: &online(),
        trust: Trust::Keys(vec![("expired".into(), public)]),
        now: SystemTime::now(),
        reporter: &NoFetchReporter,
    };
    let sources = debian_sources(&env.url, SUITE, &["main".into()], None);
    let err = Repository::open(&context, &sources, "amd64").unwrap_err();
    let text = chain(&err);
    assert!(
        matches!(
            err,
            RepoError::Signature {
                source: SignatureError::NoTrustedSignature { .. },
                ..
            }
        ),
        "{err:?}"
    );
    assert!(text.contains(&env.inrelease_url()), "{text}");
    assert!(text.contains("(expired) has expired"), "{text}");
    env.assert_unchanged(&[]);
}

// ---------------------------------------------------------------------------------
// Indexes

#[test]
fn an_index_with_other_bytes_is_refused() {
    let Some(env) = setup() else { return };
    let (xz, path) = env.packages_xz();
    let mut other = liblzma::write::XzEncoder::new(Vec::new(), 6);
    other
        .write_all(b"Package: evil\nVersion: 1\nArchitecture: amd64\n")
        .unwrap();
    let other = other.finish().unwrap();
    assert_ne!(other.len(), xz.len());
    env.server().fail(&path, [Fault::Replace(other.clone())]);
    let err = env.open(&online()).unwrap_err();
    let url = format!("{}{path}", env.url);
    match &err {
        RepoError::Fetch(FetchError::SizeMismatch {
            url: u,
            expected,
            actual,
        }) => {
            assert_eq!(u, &url);
            assert_eq!(*expected, xz.len() as u64);
            assert_eq!(*actual, other.len() as u64);
        }
        other => panic!("{other:?}"),
    }
    let text = err.to_string();
    assert!(
        text.contains(&url) && text.contains(&xz.len().to_string()),
        "{text}"
    );
    assert!(err.hint().unwrap().contains("nothing was kept"));
    assert_eq!(env.server().count(&path), 1, "a wrong body is not retried");
    env.assert_unchanged(&[]);
}

/// Every key signs every suite: another suite's valid signature under this suite's name
/// is refused (found in review).
#[test]
fn a_release_signed_for_another_suite_is_refused() {
    let Some(env) = setup() else { return };
    let other = env.release_text().replace(
        &format!("Suite: {SUITE}\nCodename: {SUITE}"),
        "Suite: unstable\nCodename: sid",
    );
    env.write_inrelease(env.repo.sign(&other));
    let before = env.objects();
    let err = env.open(&online()).unwrap_err();
    assert!(matches!(err, RepoError::WrongSuite { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("unstable / sid") && text.contains(&format!("not `{SUITE}`")),
        "{text}"
    );
    env.assert_unchanged(&before);
}

/// A mirror cannot take a suite back in time (found in review).
#[test]
fn a_release_older_than_the_stored_one_is_refused() {
    let Some(env) = setup() else { return };
    env.date_release_now();
    env.open(&online()).unwrap();
    let before = env.objects();
    // The original fixture Release, dated 2025, validly signed: a replay.
    let old = env
        .release_text()
        .lines()
        .map(|l| {
            if l.starts_with("Date:") {
                "Date: Sat, 01 Nov 2025 00:00:00 UTC\n".to_owned()
            } else {
                format!("{l}\n")
            }
        })
        .collect::<String>();
    env.write_inrelease(env.repo.sign(&old));
    let err = env.open(&online()).unwrap_err();
    assert!(matches!(err, RepoError::Older { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("older than the copy the store has"),
        "{err}"
    );
    env.assert_unchanged(&before);
}

#[test]
fn a_corrupt_index_of_the_right_size_is_a_hash_mismatch() {
    let Some(env) = setup() else { return };
    let (xz, path) = env.packages_xz();
    let garbage = vec![0x5a; xz.len()];
    env.server().fail(&path, [Fault::Replace(garbage.clone())]);
    let err = env.open(&online()).unwrap_err();
    let url = format!("{}{path}", env.url);
    let text = err.to_string();
    let (expected, actual) = (sha256_hex(&xz), sha256_hex(&garbage));
    assert!(
        matches!(&err, RepoError::Fetch(FetchError::HashMismatch { .. })),
        "{err:?}"
    );
    assert!(
        text.contains(&url) && text.contains(&expected) && text.contains(&actual),
        "{text}"
    );
    assert_eq!(env.server().count(&path), 1, "a wrong body is not retried");
    assert_eq!(
        env.server()
            .count(&dists_path("main/binary-amd64/Packages.xz")),
        0,
        "only a 404 falls back from by-hash to the plain name"
    );
    env.assert_unchanged(&[]);
}

#[test]
fn a_truncated_index_is_retried_then_refused() {
    let Some(env) = setup() else { return };
    let (xz, path) = env.packages_xz();
    env.server()
        .fail_always(&path, Fault::Truncate(xz.len() / 2));
    let err = env.open(&online()).unwrap_err();
    let url = format!("{}{path}", env.url);
    let attempts = RETRIES + 1;
    match &err {
        RepoError::Fetch(FetchError::Transport {
            url: u,
            attempts: a,
            ..
        }) => {
            assert_eq!(u, &url);
            assert_eq!(*a, attempts);
        }
        other => panic!("{other:?}"),
    }
    let text = err.to_string();
    assert!(
        text.contains(&url) && text.contains(&format!("after {attempts} attempts")),
        "{text}"
    );
    assert_eq!(env.server().count(&path), attempts as usize);
    env.assert_unchanged(&[]);
    // Cut short once: the retry gets it.
    env.server().clear(&path);
    env.server().fail(&path, [Fault::Truncate(10)]);
    let repo = env.open(&online()).unwrap();
    assert_eq!(repo.len(), 3);
    assert_eq!(env.server().count(&path), attempts as usize + 2);
}

// ---------------------------------------------------------------------------------
// .debs with wrong bytes

/// Fetching `lock` fails for `name` with the error `check` accepts; nothing new is
/// registered; the `.deb` was requested once.
fn assert_deb_refused(env: &Env, lock: &DebianLock, name: &str, check: impl Fn(&FetchError)) {
    let before = env.objects();
    let err = env.fetch(&online(), lock).unwrap_err();
    match &err {
        InstallError::Fetch { package, source } => {
            assert!(package.starts_with(&format!("{name} ")), "{package}");
            check(source);
        }
        other => panic!("{other:?}"),
    }
    assert!(
        err.hint().unwrap().contains("nothing was kept"),
        "{:?}",
        err.hint()
    );
    assert_eq!(env.server().count(&pool_path(lock, name)), 1, "not retried");
    env.assert_consistent(&before, lock, name);
}

#[test]
fn a_deb_with_another_hash_is_refused() {
    let Some(env) = setup() else { return };
    let lock = env.lock(&["app"]);
    let app = lock.packages.iter().find(|p| p.name == "app").unwrap();
    let garbage = vec![b'!'; usize::try_from(app.size).unwrap()];
    let path = pool_path(&lock, "app");
    env.server().fail(&path, [Fault::Replace(garbage.clone())]);
    let url = format!("{}{path}", env.url);
    let actual = sha256_hex(&garbage);
    assert_deb_refused(&env, &lock, "app", |e| {
        assert!(matches!(e, FetchError::HashMismatch { .. }), "{e:?}");
        let text = e.to_string();
        assert!(
            text.contains(&url) && text.contains(&app.sha256) && text.contains(&actual),
            "{text}"
        );
    });
}

#[test]
fn a_deb_with_another_size_is_refused() {
    let Some(env) = setup() else { return };
    let lock = env.lock(&["app"]);
    let app = lock.packages.iter().find(|p| p.name == "app").unwrap();
    let path = pool_path(&lock, "app");
    env.server()
        .fail(&path, [Fault::Replace(b"short".to_vec())]);
    let url = format!("{}{path}", env.url);
    assert_deb_refused(&env, &lock, "app", |e| {
        assert!(
            matches!(e, FetchError::SizeMismatch { actual: 5, .. }),
            "{e:?}"
        );
        let text = e.to_string();
        assert!(
            text.contains(&url) && text.contains(&app.size.to_string()),
            "{text}"
        );
    });
}

// ---------------------------------------------------------------------------------
// Malformed and hostile .debs, listed with their right size and hash

fn ar(members: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut builder = ar::Builder::new(Vec::new());
    for (name, data) in members {
        let header = ar::Header::new(name.as_bytes().to_vec(), data.len() as u64);
        builder.append(&header, data.as_slice()).unwrap();
    }
    builder.into_inner().unwrap()
}

fn control_tar(name: &str, version: &str) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let data = format!("Package: {name}\nVersion: {version}\nArchitecture: amd64\n");
    let mut header = tar::Header::new_gnu();
    header.set_size(data.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    builder
        .append_data(&mut header, "./control", data.as_bytes())
        .unwrap();
    builder.into_inner().unwrap()
}

/// A tar with one regular file under exactly this name (the tar crate's checks bypassed).
fn tar_with_entry(name: &[u8]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_old();
    header.as_old_mut().name[..name.len()].copy_from_slice(name);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_size(6);
    header.set_cksum();
    builder.append(&header, &b"pwned\n"[..]).unwrap();
    builder.into_inner().unwrap()
}

/// A repository where `libfix` is published as `deb`, and `app` depends on it.
fn setup_with_libfix(deb: Vec<u8>) -> Option<Env> {
    let mut packages = packages();
    packages[0] = FixturePackage::new("libfix", "1.0-1").raw_deb(deb);
    setup_with(&packages)
}

/// Fetching `app` fails while unpacking `libfix`, with `check`'s error; nothing is
/// registered.
fn assert_unpack_refused(env: &Env, check: impl Fn(&DebError)) {
    let lock = env.lock(&["app"]);
    let before = env.objects();
    let err = env.fetch(&online(), &lock).unwrap_err();
    match &err {
        InstallError::Unpack {
            package,
            source: DebObjectError::Deb(e),
        } => {
            assert_eq!(package, "libfix 1.0-1 (amd64)");
            check(e);
        }
        other => panic!("{other:?}"),
    }
    assert!(chain(&err).contains("libfix"), "{}", chain(&err));
    env.assert_unchanged(&before);
}

#[test]
fn a_deb_that_is_not_an_ar_archive_is_refused() {
    let Some(env) = setup_with_libfix(b"this is not an ar archive\n".to_vec()) else {
        return;
    };
    assert_unpack_refused(&env, |e| {
        assert!(matches!(e, DebError::NotADeb { .. }), "{e:?}");
        assert!(e.to_string().contains("is not a .deb"), "{e}");
    });
}

#[test]
fn a_deb_without_data_tar_is_refused() {
    let deb = ar(&[
        ("debian-binary", b"2.0\n".to_vec()),
        ("control.tar", control_tar("libfix", "1.0-1")),
    ]);
    let Some(env) = setup_with_libfix(deb) else {
        return;
    };
    assert_unpack_refused(&env, |e| {
        assert!(matches!(e, DebError::MissingMember { .. }), "{e:?}");
        assert!(e.to_string().contains("data.tar"), "{e}");
    });
}

#[test]
fn a_deb_with_unsafe_paths_is_refused_and_writes_nothing_outside() {
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("pwned");
    let absolute = target.as_os_str().as_encoded_bytes().to_vec();
    // Enough `..` to reach `/` from wherever it is unpacked, then down to `outside`.
    let mut dotdot = b"./".to_vec();
    dotdot.extend(b"../".repeat(10));
    dotdot.extend(&absolute[1..]);
    assert!(
        dotdot.len() <= 100,
        "a tar name holds 100 bytes; TMPDIR is too long"
    );
    for (entry, reason) in [(absolute, "absolute path"), (dotdot, "`..` component")] {
        let deb = ar(&[
            ("debian-binary", b"2.0\n".to_vec()),
            ("control.tar", control_tar("libfix", "1.0-1")),
            ("data.tar", tar_with_entry(&entry)),
        ]);
        let Some(env) = setup_with_libfix(deb) else {
            return;
        };
        assert_unpack_refused(&env, |e| {
            assert!(matches!(e, DebError::UnsafeEntry { .. }), "{e:?}");
            let text = e.to_string();
            assert!(
                text.contains(reason) && text.contains(&*String::from_utf8_lossy(&entry)),
                "{text}"
            );
        });
        assert!(!target.exists(), "nothing is written outside");
        assert_eq!(fs_err::read_dir(outside.path()).unwrap().count(), 0);
    }
}

/// A package whose dependency unpacked fine before it failed: the failing package is
/// not registered, its dependency (a good, complete object) is.
#[test]
fn a_malformed_dependent_leaves_only_its_good_dependency() {
    let mut packages = packages();
    packages[1] = FixturePackage::new("app", "2.0-1")
        .field("Depends", "libfix (>= 1.0)")
        .raw_deb(b"not a deb".to_vec());
    let Some(env) = setup_with(&packages) else {
        return;
    };
    let lock = env.lock(&["app"]);
    let before = env.objects();
    let err = env.fetch(&online(), &lock).unwrap_err();
    assert!(
        matches!(&err, InstallError::Unpack { package, .. } if package == "app 2.0-1 (amd64)"),
        "{err:?}"
    );
    let added: Vec<String> = env
        .objects()
        .into_iter()
        .filter(|o| !before.contains(o))
        .map(|o| o.name().to_owned())
        .collect();
    assert_eq!(added, ["libfix_1.0-1_amd64"]);
    assert!(env.store.verify(None, &NoReporter).unwrap().is_ok());
}

// ---------------------------------------------------------------------------------
// HTTP failures

#[test]
fn a_missing_deb_is_a_404_naming_the_url_and_not_retried() {
    let Some(env) = setup() else { return };
    let lock = env.lock(&["app"]);
    let path = pool_path(&lock, "libfix");
    fs_err::remove_file(env.repo.root.join(&path[1..])).unwrap();
    let before = env.objects();
    let err = env.fetch(&online(), &lock).unwrap_err();
    let url = format!("{}{path}", env.url);
    match &err {
        InstallError::Fetch {
            package,
            source:
                FetchError::Status {
                    url: u,
                    status: 404,
                    attempts: 1,
                },
        } => {
            assert_eq!(package, "libfix 1.0-1 (amd64)");
            assert_eq!(u, &url);
        }
        other => panic!("{other:?}"),
    }
    let text = chain(&err);
    assert!(text.contains(&format!("`{url}` answered 404")), "{text}");
    assert!(
        err.hint().unwrap().contains("mirror or index URL"),
        "{:?}",
        err.hint()
    );
    assert_eq!(env.server().count(&path), 1);
    env.assert_unchanged(&before);
}

#[test]
fn server_errors_are_retried() {
    let Some(env) = setup() else { return };
    let lock = env.lock(&["app"]);
    let path = pool_path(&lock, "app");
    env.server()
        .fail(&path, [Fault::Status(500), Fault::Status(500)]);
    let installed = env.fetch(&online(), &lock).unwrap();
    assert_eq!(names(&installed), ["app", "libfix"]);
    assert_eq!(env.server().count(&path), 3);
    assert!(env.store.verify(None, &NoReporter).unwrap().is_ok());
}

#[test]
fn a_dropped_connection_is_retried() {
    let Some(env) = setup() else { return };
    let lock = env.lock(&["app"]);
    let path = pool_path(&lock, "libfix");
    env.server().fail(&path, [Fault::Drop]);
    let installed = env.fetch(&online(), &lock).unwrap();
    assert_eq!(names(&installed), ["app", "libfix"]);
    assert_eq!(env.server().count(&path), 2);
}

#[test]
fn a_server_error_that_persists_fails_after_every_attempt() {
    let Some(env) = setup() else { return };
    let lock = env.lock(&["app"]);
    let path = pool_path(&lock, "app");
    env.server().fail_always(&path, Fault::Status(503));
    let before = env.objects();
    let err = env.fetch(&online(), &lock).unwrap_err();
    let attempts = RETRIES + 1;
    assert!(
        matches!(
            &err,
            InstallError::Fetch { source: FetchError::Status { status: 503, attempts: a, .. }, .. }
                if *a == attempts
        ),
        "{err:?}"
    );
    let text = chain(&err);
    let url = format!("{}{path}", env.url);
    assert!(
        text.contains("app 2.0-1 (amd64)")
            && text.contains(&format!("`{url}` answered 503 (after {attempts} attempts)")),
        "{text}"
    );
    assert_eq!(env.server().count(&path), attempts as usize);
    env.assert_consistent(&before, &lock, "app");
}

#[test]
fn an_unreachable_mirror_is_a_clear_error() {
    let Some(env) = setup() else { return };
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mirror = format!("http://127.0.0.1:{port}");
    let err = env.open_from(&online(), &mirror).unwrap_err();
    let url = format!("{mirror}/dists/{SUITE}/InRelease");
    let attempts = RETRIES + 1;
    assert!(
        matches!(&err, RepoError::Fetch(FetchError::Transport { attempts: a, .. }) if *a == attempts),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains(&format!(
            "could not download `{url}` (after {attempts} attempts)"
        )),
        "{text}"
    );
    assert!(
        err.hint().unwrap().contains("the URL and the network"),
        "{:?}",
        err.hint()
    );
    env.assert_unchanged(&[]);
}

// ---------------------------------------------------------------------------------
// Offline, repeated and resumed fetches

#[test]
fn offline_uses_the_store_alone() {
    let Some(mut env) = setup() else { return };
    env.date_release_now();
    let lock = env.lock(&["app"]);
    let installed = env.fetch(&online(), &lock).unwrap();
    let objects = env.objects();
    let requests = env.server().requests().len();

    // Offline with the server still up: the same lock and objects, and no request.
    let offline_lock = env.lock_with(&offline(), &["app"]);
    assert_eq!(offline_lock, lock);
    assert_eq!(env.fetch(&offline(), &offline_lock).unwrap(), installed);
    assert_eq!(
        env.server().requests().len(),
        requests,
        "offline never asks"
    );

    // And with no server at all.
    env.server = None;
    let offline_lock = env.lock_with(&offline(), &["app"]);
    assert_eq!(offline_lock, lock);
    assert_eq!(env.fetch(&offline(), &offline_lock).unwrap(), installed);
    assert_eq!(env.objects(), objects);
    assert!(env.store.verify(None, &NoReporter).unwrap().is_ok());
}

/// Online, a signature is judged at the current time; offline, the cached `InRelease`
/// is judged again at its own `Date`, where a signature made more than five minutes
/// after that `Date` counts as "dated in the future". The fixture's `Date` is fixed and
/// its signature is made when the test runs, like an archive signed (or re-signed)
/// well after its `Release` was generated.
#[test]
// Found in review: offline mode verified the signature at the Release's Date, so a
// signature made later was refused as dated in the future.
fn offline_accepts_a_release_signed_after_its_date() {
    let Some(env) = setup() else { return };
    let online_repo = env.open(&online()).unwrap();
    let offline_repo = env.open(&offline()).unwrap();
    assert_eq!(offline_repo.len(), online_repo.len());
}

#[test]
fn offline_with_an_empty_store_says_what_is_missing() {
    let Some(env) = setup() else { return };
    let err = env.open(&offline()).unwrap_err();
    assert!(
        matches!(&err, RepoError::NotCached { mirror, suite } if *mirror == env.url && suite == SUITE),
        "{err:?}"
    );
    assert!(err.to_string().contains(&env.url), "{err}");
    assert!(
        err.hint().unwrap().contains("without `--offline`"),
        "{:?}",
        err.hint()
    );
    // A lock made online, fetched offline into a store without its packages.
    let lock = env.lock(&["app"]);
    let before = env.objects();
    let err = env.fetch(&offline(), &lock).unwrap_err();
    assert!(
        matches!(
            &err,
            InstallError::Fetch {
                source: FetchError::Offline { .. },
                ..
            }
        ),
        "{err:?}"
    );
    let text = chain(&err);
    // The first package missing in dependency order: `app` depends on `libfix`.
    assert!(
        text.contains(&pool_path(&lock, "libfix")) && text.contains("cairn is offline"),
        "{text}"
    );
    assert!(err.hint().unwrap().contains("without `--offline`"));
    assert_eq!(env.server().count(&pool_path(&lock, "libfix")), 0);
    env.assert_unchanged(&before);
}

#[test]
fn a_repeated_fetch_downloads_nothing() {
    let Some(env) = setup() else { return };
    let lock = env.lock(&["app", "tool"]);
    let first = env.fetch(&online(), &lock).unwrap();
    assert_eq!(names(&first), ["app", "libfix", "tool"]);
    assert_eq!(env.pool_requests(), 3);
    let objects = env.objects();
    let again = env.lock(&["app", "tool"]);
    assert_eq!(again, lock);
    assert_eq!(env.fetch(&online(), &again).unwrap(), first);
    assert_eq!(env.pool_requests(), 3, "nothing downloaded again");
    assert_eq!(env.objects(), objects);
}

#[test]
fn a_resumed_fetch_downloads_only_what_the_store_lacks() {
    let Some(env) = setup() else { return };
    // An earlier run put `libfix` in the store.
    env.fetch(&online(), &env.lock(&["libfix"])).unwrap();
    let lock = env.lock(&["app", "tool"]);
    let tool = pool_path(&lock, "tool");
    env.server().fail_always(&tool, Fault::Status(500));
    let before = env.objects();
    let err = env.fetch(&online(), &lock).unwrap_err();
    assert!(
        chain(&err).contains("tool 3.0-1 (amd64)"),
        "{}",
        chain(&err)
    );
    env.assert_consistent(&before, &lock, "tool");
    let app = pool_path(&lock, "app");
    let libfix = pool_path(&lock, "libfix");
    assert_eq!(env.server().count(&libfix), 1, "not fetched again");
    env.server().clear(&tool);
    let installed = env.fetch(&online(), &lock).unwrap();
    assert_eq!(names(&installed), ["app", "libfix", "tool"]);
    assert_eq!(
        env.server().count(&libfix),
        1,
        "in the store: not fetched again"
    );
    assert_eq!(env.server().count(&tool), RETRIES as usize + 2);
    // `app` downloaded fine in the failed run; that run kept it (unpacked, or as a
    // blob if the failure came first), so the rerun did not download it again.
    assert_eq!(env.server().count(&app), 1);
    assert!(env.store.verify(None, &NoReporter).unwrap().is_ok());
}

/// The brief's stronger resume: what a failed run downloaded is not downloaded again.
#[test]
fn a_rerun_after_a_failed_fetch_downloads_only_the_failed_deb() {
    let Some(env) = setup() else { return };
    let lock = env.lock(&["app", "tool"]);
    let tool = pool_path(&lock, "tool");
    env.server().fail_always(&tool, Fault::Status(500));
    env.fetch(&online(), &lock).unwrap_err();
    let pool = env.pool_requests();
    env.server().clear(&tool);
    let installed = env.fetch(&online(), &lock).unwrap();
    assert_eq!(names(&installed), ["app", "libfix", "tool"]);
    assert_eq!(
        env.pool_requests(),
        pool + 1,
        "only `tool` is downloaded again"
    );
}

/// Downloads overlap unpacking: while `app`'s download is stalled halfway, `libfix`
/// (downloaded) is already unpacked into the store; released, `app`'s download is retried
/// and the fetch completes.
#[test]
fn a_package_is_unpacked_while_other_downloads_go_on() {
    let Some(env) = setup() else { return };
    let lock = env.lock(&["app"]);
    let app = pool_path(&lock, "app");
    env.server().fail(&app, [Fault::Stall]);
    let libfix = lock.packages.iter().find(|p| p.name == "libfix").unwrap();
    std::thread::scope(|scope| {
        let fetch = scope.spawn(|| env.fetch(&online(), &lock));
        let deadline = std::time::Instant::now() + std::time::Duration::from_mins(1);
        while !env
            .objects()
            .iter()
            .any(|p| p.name().starts_with("libfix_"))
        {
            assert!(
                std::time::Instant::now() < deadline,
                "libfix was not unpacked while app's download was stalled"
            );
            assert!(
                !fetch.is_finished(),
                "the fetch ended while app's download was stalled"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert_eq!(
            env.server().count(&app),
            1,
            "app's download is still the first one"
        );
        env.server().release_stalls();
        let installed = fetch.join().unwrap().unwrap();
        assert_eq!(names(&installed), ["app", "libfix"]);
    });
    assert_eq!(
        env.server().count(&app),
        2,
        "the cut-short download was retried"
    );
    assert!(
        !env.store.has_blob(&libfix.sha256).unwrap(),
        "unpacked: the blob is gone"
    );
    assert!(env.store.verify(None, &NoReporter).unwrap().is_ok());
}

/// A reporter that panics when a package is ready (a bug in the caller's UI code).
struct PanickingReporter;

impl FetchReporter for PanickingReporter {}

impl InstallReporter for PanickingReporter {
    fn on_package_ready(&self, _package: &LockedPackage, _object: &StorePath, fresh: bool) {
        assert!(!fresh, "the reporter's own bug");
    }
}

/// A panic on one of the install's threads reaches the caller: the other threads stop
/// instead of waiting for an unpack that will never end.
#[test]
fn a_panic_while_installing_is_passed_on_not_a_hang() {
    let Some(env) = setup() else { return };
    // Detached, so that a hang fails the test instead of hanging it.
    let env: &'static Env = Box::leak(Box::new(env));
    let lock = env.lock(&["app"]);
    let (sent, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let reporter: Arc<dyn InstallReporter> = Arc::new(PanickingReporter);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            fetch_locked(&env.store, &online(), &lock, &reporter)
        }));
        sent.send(result.is_err()).unwrap();
    });
    let panicked = received
        .recv_timeout(Duration::from_mins(1))
        .expect("the install hung after a panic");
    assert!(panicked, "the panic reached the caller");
    assert!(env.store.verify(None, &NoReporter).unwrap().is_ok());
}
