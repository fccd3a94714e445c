//! Repositories: fetch a suite's signed `InRelease`, verify it, fetch its `Packages`
//! indexes (by hash), verify each against the signed `Release`, and keep what was
//! verified in the store, so that the same indexes can be used again offline.
//!
//! What the store holds for a suite, per (mirror, suite, architecture, components):
//! - each verified, uncompressed `Packages` index, as a fixed-output object named by
//!   its SHA-256 (`Store::fixed_path`);
//! - a *snapshot* object: a directory with the `InRelease` as fetched and an `indexes`
//!   file (`cairn-debian-snapshot-v1`, one `<path> <sha256>` line per index), referring
//!   to the index objects;
//! - a named root `debian:<mirror>:<suite>:<arch>:<components>` pointing at the
//!   latest snapshot, which keeps it and its indexes from the garbage collector.
//!
//! Offline, the snapshot is read back and its signature checked again against the keys
//! as they are now; its `Valid-Until` (checked when it was fetched) is checked at its
//! own `Date`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Read as _;
use std::time::SystemTime;

use cairn_store::{AddOptions, Addressing, NoReporter, RootKind, Store, StoreError, StorePath};
use sha2::{Digest, Sha256};

use crate::index::IndexError;
use crate::packages::Repository;
use crate::release::{Keyring, SignatureError, verify_inrelease};
use crate::release_file::{Release, ReleaseError, parse_release_date};
use cairn_fetch::{Expected, FetchError, FetchReporter, Fetcher};

/// Debian's main archive.
pub const DEFAULT_MIRROR: &str = "http://deb.debian.org/debian";
/// Debian's security archive.
pub const DEFAULT_SECURITY_MIRROR: &str = "http://deb.debian.org/debian-security";
/// The suite used when none is given.
pub const DEFAULT_SUITE: &str = "trixie";

const SNAPSHOT_MAGIC: &str = "cairn-debian-snapshot-v1";
/// `InRelease` files are small (the trixie one is ~150 KiB); anything far larger is not one.
const INRELEASE_LIMIT: u64 = 64 << 20;

/// One suite of one archive.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Source {
    /// Without a trailing slash, e.g. `http://deb.debian.org/debian`.
    pub mirror: String,
    pub suite: String,
    pub components: Vec<String>,
}

impl Source {
    pub fn new(mirror: &str, suite: &str, components: &[String]) -> Self {
        Self {
            mirror: mirror.trim_end_matches('/').to_owned(),
            suite: suite.to_owned(),
            components: components.to_vec(),
        }
    }

    pub(crate) fn dists_url(&self) -> String {
        format!("{}/dists/{}", self.mirror, self.suite)
    }

    fn root_name(&self, arch: &str) -> String {
        // Root names cannot hold `/`: escape it (and `%`, so the escaping is reversible).
        format!(
            "debian:{}:{}:{arch}:{}",
            self.mirror.replace('%', "%25").replace('/', "%2F"),
            self.suite.replace('%', "%25").replace('/', "%2F"),
            self.components.join(",")
        )
    }
}

/// Whether `suite` is a Debian stable release with a security archive.
pub fn has_security_archive(suite: &str) -> bool {
    matches!(
        suite,
        "bullseye" | "bookworm" | "trixie" | "oldoldstable" | "oldstable" | "stable"
    )
}

/// The sources for a Debian suite as cairn uses them by default: the suite from
/// `mirror`, plus `<suite>-security` from `security_mirror` for stable releases.
pub fn debian_sources(
    mirror: &str,
    suite: &str,
    components: &[String],
    security_mirror: Option<&str>,
) -> Vec<Source> {
    let mut sources = vec![Source::new(mirror, suite, components)];
    if let Some(security) = security_mirror.filter(|_| has_security_archive(suite)) {
        sources.push(Source::new(
            security,
            &format!("{suite}-security"),
            components,
        ));
    }
    sources
}

/// Which keys sign the archives.
#[derive(Debug, Clone)]
pub enum Trust {
    /// Debian's archive keys, shipped with cairn.
    Debian,
    /// Armored public keys `(name, text)`, e.g. a private mirror's.
    Keys(Vec<(String, String)>),
}

impl Trust {
    fn keyring(&self, now: SystemTime) -> Result<Keyring, SignatureError> {
        match self {
            Self::Debian => Keyring::debian(now),
            Self::Keys(keys) => {
                let keys: Vec<(&str, &str)> =
                    keys.iter().map(|(n, t)| (n.as_str(), t.as_str())).collect();
                Keyring::from_armored(&keys, now)
            }
        }
    }
}

/// Why a suite could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error("`{url}` is not signed by a trusted key: {source}")]
    Signature {
        url: String,
        #[source]
        source: SignatureError,
    },
    #[error("`{url}`: {source}")]
    Release {
        url: String,
        #[source]
        source: ReleaseError,
    },
    #[error("`{url}` is signed for suite `{found}`, not `{expected}`")]
    WrongSuite {
        url: String,
        expected: String,
        found: String,
    },
    #[error(
        "`{url}` is dated {date}, older than the copy the store has: a stale mirror or a replay"
    )]
    Older { url: String, date: String },
    #[error("`{url}` does not have architecture `{arch}` (it has: {available})")]
    NoArchitecture {
        url: String,
        arch: String,
        available: String,
    },
    #[error("`{url}` is not an xz-compressed text index: {message}")]
    Decompress { url: String, message: String },
    #[error("`{url}`: {source}")]
    Index {
        url: String,
        #[source]
        source: IndexError,
    },
    #[error("no indexes for `{suite}` from `{mirror}` are in the store, and cairn is offline")]
    NotCached { mirror: String, suite: String },
    #[error("the cached snapshot `{object}` is damaged: {reason}")]
    BadSnapshot { object: String, reason: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl RepoError {
    /// A suggestion for the user, when there is one.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::Fetch(e) => e.hint(),
            Self::NotCached { .. } => {
                Some("run once without `--offline` to fetch the indexes".into())
            }
            Self::Signature { .. } => Some(
                "a repository whose signature does not verify is never used; check the mirror, \
                 or pass the repository's key with `--keyring`"
                    .into(),
            ),
            Self::Store(e) => e.hint(),
            _ => None,
        }
    }
}

/// One verified suite.
#[derive(Debug, Clone)]
pub struct Suite {
    pub source: Source,
    /// Lowercase hex SHA-256 of the `InRelease` file.
    pub inrelease_sha256: String,
    pub release: Release,
    /// The snapshot object that holds this state in the store.
    pub snapshot: StorePath,
}

/// How to read suites.
pub struct RepoContext<'a> {
    pub store: &'a Store,
    pub fetcher: &'a Fetcher,
    pub trust: Trust,
    /// The time signatures and `Valid-Until` are checked against.
    pub now: SystemTime,
    pub reporter: &'a dyn FetchReporter,
}

impl Repository {
    /// Reads `sources` for `arch`: from the mirrors, or from the store when the fetcher
    /// is offline.
    pub fn open(
        context: &RepoContext<'_>,
        sources: &[Source],
        arch: &str,
    ) -> Result<Self, RepoError> {
        let mut repo = Self::new(arch);
        for (i, source) in sources.iter().enumerate() {
            let (suite, texts) = if context.fetcher.options().offline {
                read_cached(context, source, arch)?
            } else {
                fetch_suite(context, source, arch)?
            };
            for (url, text) in texts {
                repo.add_index(i, url, text)
                    .map_err(|(url, source)| RepoError::Index { url, source })?;
            }
            repo.suites.push(suite);
        }
        Ok(repo)
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(&Sha256::digest(bytes))
}

/// `(url, text)` of each index of a suite.
type Indexes = Vec<(String, String)>;

fn fetch_suite(
    context: &RepoContext<'_>,
    source: &Source,
    arch: &str,
) -> Result<(Suite, Indexes), RepoError> {
    let url = format!("{}/InRelease", source.dists_url());
    let bytes = context
        .fetcher
        .get(&url, None, INRELEASE_LIMIT, context.reporter)?;
    let inrelease = String::from_utf8(bytes).map_err(|_| RepoError::Signature {
        url: url.clone(),
        source: SignatureError::Malformed("not UTF-8".into()),
    })?;
    let release = verified_release(context, &url, &inrelease, context.now)?;
    check_suite(&url, &release, source)?;
    check_arch(&url, &release, arch)?;
    check_not_older(context, source, arch, &url, &release)?;
    let mut indexes = Vec::new();
    let mut texts = Vec::new();
    for component in &source.components {
        let path = format!("{component}/binary-{arch}/Packages");
        let (text, object) = fetch_index(context, source, &release, &path)?;
        texts.push((format!("{}/{path}", source.dists_url()), text));
        indexes.push((path, object));
    }
    let snapshot = add_snapshot(context.store, source, &inrelease, &indexes)?;
    context.store.add_root(&source.root_name(arch), &snapshot)?;
    Ok((
        Suite {
            source: source.clone(),
            inrelease_sha256: sha256_hex(inrelease.as_bytes()),
            release,
            snapshot,
        },
        texts,
    ))
}

/// Verifies `inrelease` against the keys as they are now, and reads its `Release`,
/// whose `Valid-Until` is checked against `valid_at`.
fn verified_release(
    context: &RepoContext<'_>,
    url: &str,
    inrelease: &str,
    valid_at: SystemTime,
) -> Result<Release, RepoError> {
    let signature = |source| RepoError::Signature {
        url: url.to_owned(),
        source,
    };
    let keyring = context.trust.keyring(context.now).map_err(signature)?;
    let verified = verify_inrelease(inrelease, &keyring).map_err(signature)?;
    Release::parse(&verified.text, valid_at).map_err(|source| RepoError::Release {
        url: url.to_owned(),
        source,
    })
}

/// The signed Release must be the suite that was asked for (by `Suite` or `Codename`,
/// as apt checks): every Debian key signs every suite, so a mirror could otherwise
/// serve another suite's valid signature under this suite's name.
fn check_suite(url: &str, release: &Release, source: &Source) -> Result<(), RepoError> {
    let names = [release.suite.as_deref(), release.codename.as_deref()];
    if names.contains(&Some(source.suite.as_str())) {
        return Ok(());
    }
    Err(RepoError::WrongSuite {
        url: url.to_owned(),
        expected: source.suite.clone(),
        found: names.into_iter().flatten().collect::<Vec<_>>().join(" / "),
    })
}

/// A suite never goes back in time: a Release older than the snapshot the store has
/// for it is a replay (or a stale mirror), and is refused.
fn check_not_older(
    context: &RepoContext<'_>,
    source: &Source,
    arch: &str,
    url: &str,
    release: &Release,
) -> Result<(), RepoError> {
    let Some(snapshot) = rooted_snapshot(context.store, &source.root_name(arch))? else {
        return Ok(());
    };
    let Ok(cached) = fs_err::read_to_string(context.store.object_dir(&snapshot).join("InRelease"))
    else {
        return Ok(());
    };
    let (Some(had), Some(new)) = (unverified_date(&cached), parse_release_date(&release.date))
    else {
        return Ok(());
    };
    if new < had {
        return Err(RepoError::Older {
            url: url.to_owned(),
            date: release.date.clone(),
        });
    }
    Ok(())
}

fn rooted_snapshot(store: &Store, name: &str) -> Result<Option<StorePath>, RepoError> {
    Ok(store
        .roots()?
        .into_iter()
        .find(|r| r.kind == RootKind::Named(name.to_owned()))
        .map(|r| r.object))
}

fn check_arch(url: &str, release: &Release, arch: &str) -> Result<(), RepoError> {
    if release.architectures.is_empty() || release.architectures.iter().any(|a| a == arch) {
        return Ok(());
    }
    Err(RepoError::NoArchitecture {
        url: url.to_owned(),
        arch: arch.to_owned(),
        available: release.architectures.join(" "),
    })
}

/// Fetches `path` (e.g. `main/binary-amd64/Packages`) as `.xz`, verified against the
/// signed Release, unless the store has the uncompressed index already.
fn fetch_index(
    context: &RepoContext<'_>,
    source: &Source,
    release: &Release,
    path: &str,
) -> Result<(String, StorePath), RepoError> {
    let base = source.dists_url();
    let release_error = |source| RepoError::Release {
        url: format!("{base}/{path}"),
        source,
    };
    // The signed hash of the uncompressed index names its object: look there first.
    if let Ok(plain) = release.file(path) {
        let object = Store::fixed_path("Packages", &plain.sha256)?;
        if context.store.is_valid(&object)? {
            context
                .store
                .add_temp_roots(std::slice::from_ref(&object))?;
            let text = fs_err::read_to_string(context.store.object_dir(&object))?;
            return Ok((text, object));
        }
    }
    let xz_path = format!("{path}.xz");
    let url = format!("{base}/{xz_path}");
    let compressed = fetch_signed(context, source, release, &xz_path)?;
    let mut text = String::new();
    liblzma::read::XzDecoder::new(compressed.as_slice())
        .read_to_string(&mut text)
        .map_err(|e| RepoError::Decompress {
            url: url.clone(),
            message: e.to_string(),
        })?;
    if release.file(path).is_ok() {
        release
            .verify_index(path, text.as_bytes())
            .map_err(release_error)?;
    }
    let object = add_file(context.store, "Packages", text.as_bytes())?;
    Ok((text, object))
}

/// Downloads the file at `path` (relative to the suite's directory) and checks it
/// against its size and SHA-256 in the signed `release`: by hash when the Release says
/// `Acquire-By-Hash`, falling back to the plain name for mirrors that lag behind.
pub(crate) fn fetch_signed(
    context: &RepoContext<'_>,
    source: &Source,
    release: &Release,
    path: &str,
) -> Result<Vec<u8>, RepoError> {
    let base = source.dists_url();
    let release_error = |source| RepoError::Release {
        url: format!("{base}/{path}"),
        source,
    };
    let entry = release.file(path).map_err(release_error)?;
    let expected = Expected {
        size: Some(entry.size),
        sha256: entry.sha256.clone(),
    };
    let by_hash = format!(
        "{base}/{}",
        release.fetch_path(path).map_err(release_error)?
    );
    let url = format!("{base}/{path}");
    let fetcher = context.fetcher;
    match fetcher.get(&by_hash, Some(&expected), entry.size, context.reporter) {
        // The plain name is checked against the same signed hash.
        Err(FetchError::Status { status: 404, .. }) if by_hash != url => {
            Ok(fetcher.get(&url, Some(&expected), entry.size, context.reporter)?)
        }
        other => Ok(other?),
    }
}

/// Adds `bytes` as a fixed-output object named `name`.
pub(crate) fn add_file(store: &Store, name: &str, bytes: &[u8]) -> Result<StorePath, RepoError> {
    let sha256 = sha256_hex(bytes);
    let path = Store::fixed_path(name, &sha256)?;
    if store.is_valid(&path)? {
        return Ok(path);
    }
    let scratch = tempfile::tempdir()?;
    let file = scratch.path().join(name);
    fs_err::write(&file, bytes)?;
    let options = AddOptions {
        name: Some(name.to_owned()),
        addressing: Some(Addressing::Fixed { sha256 }),
        ..AddOptions::default()
    };
    Ok(store.add_path(&file, &options, &NoReporter)?)
}

fn add_snapshot(
    store: &Store,
    source: &Source,
    inrelease: &str,
    indexes: &[(String, StorePath)],
) -> Result<StorePath, RepoError> {
    let scratch = tempfile::tempdir()?;
    let dir = scratch.path().join("snapshot");
    fs_err::create_dir(&dir)?;
    fs_err::write(dir.join("InRelease"), inrelease)?;
    let mut listing = format!("{SNAPSHOT_MAGIC}\n");
    for (path, object) in indexes {
        let sha256 = object_sha256(store, object)?;
        let _ = writeln!(listing, "{path} {sha256}");
    }
    fs_err::write(dir.join("indexes"), listing)?;
    let options = AddOptions {
        name: Some(cairn_store::sanitize_name(&format!(
            "debian-snapshot-{}",
            source.suite
        ))),
        references: indexes.iter().map(|(_, o)| o.clone()).collect(),
        ..AddOptions::default()
    };
    Ok(store.add_path(&dir, &options, &NoReporter)?)
}

fn object_sha256(store: &Store, object: &StorePath) -> Result<String, RepoError> {
    match store.info(object)?.addressing {
        Addressing::Fixed { sha256 } => Ok(sha256),
        other => Err(RepoError::BadSnapshot {
            object: object.to_string(),
            reason: format!("index object has addressing {other}"),
        }),
    }
}

fn read_cached(
    context: &RepoContext<'_>,
    source: &Source,
    arch: &str,
) -> Result<(Suite, Indexes), RepoError> {
    let name = source.root_name(arch);
    let snapshot = rooted_snapshot(context.store, &name)?.ok_or_else(|| RepoError::NotCached {
        mirror: source.mirror.clone(),
        suite: source.suite.clone(),
    })?;
    context
        .store
        .add_temp_roots(std::slice::from_ref(&snapshot))?;
    let bad = |reason: String| RepoError::BadSnapshot {
        object: snapshot.to_string(),
        reason,
    };
    let dir = context.store.object_dir(&snapshot);
    let inrelease = fs_err::read_to_string(dir.join("InRelease"))?;
    let url = format!("{}/InRelease", source.dists_url());
    // The signature is checked again, against the keys as they are now. `Valid-Until`
    // was checked when the snapshot was fetched; offline it is checked at the
    // Release's own date, or the security archive's week-long validity would stop
    // offline work after a week.
    let date = unverified_date(&inrelease)
        .ok_or_else(|| bad("the cached InRelease has no valid Date".into()))?;
    let release = verified_release(context, &url, &inrelease, date)?;
    let listing = fs_err::read_to_string(dir.join("indexes"))?;
    let mut lines = listing.lines();
    if lines.next() != Some(SNAPSHOT_MAGIC) {
        return Err(bad("unknown snapshot format".into()));
    }
    let mut recorded = BTreeMap::new();
    for line in lines {
        let (path, sha256) = line
            .split_once(' ')
            .ok_or_else(|| bad(format!("bad line `{line}`")))?;
        recorded.insert(path.to_owned(), sha256.to_owned());
    }
    let mut texts = Vec::new();
    for component in &source.components {
        let path = format!("{component}/binary-{arch}/Packages");
        let sha256 = recorded
            .get(&path)
            .ok_or_else(|| bad(format!("no entry for `{path}`")))?;
        let object = Store::fixed_path("Packages", sha256)?;
        if !context.store.is_valid(&object)? {
            return Err(RepoError::NotCached {
                mirror: source.mirror.clone(),
                suite: source.suite.clone(),
            });
        }
        // The object was checked against the signed hash when it entered the store
        // (and `cairn store verify` checks it still holds); here the snapshot's record
        // must agree with the signed Release.
        if let Ok(signed) = release.file(&path)
            && &signed.sha256 != sha256
        {
            return Err(bad(format!(
                "`{path}` is recorded as {sha256}, but the Release signs {}",
                signed.sha256
            )));
        }
        let text = fs_err::read_to_string(context.store.object_dir(&object))?;
        texts.push((format!("{}/{path}", source.dists_url()), text));
    }
    Ok((
        Suite {
            source: source.clone(),
            inrelease_sha256: sha256_hex(inrelease.as_bytes()),
            release,
            snapshot,
        },
        texts,
    ))
}

/// The `Date` of a cleartext-signed Release, read before verification (only to choose
/// the time the verification is done at).
fn unverified_date(inrelease: &str) -> Option<SystemTime> {
    inrelease
        .lines()
        .find_map(|l| l.strip_prefix("Date:"))
        .and_then(|d| parse_release_date(d.trim()))
}
