//! The `Release` file (the text inside a verified `InRelease`): which indexes a suite
//! has, with their sizes and SHA-256 hashes, and how long the file may be trusted
//! (https://wiki.debian.org/DebianRepository/Format#A.22Release.22_files).
//!
//! An index is used only after [`Release::verify_index`] checked its size and hash
//! against the signed entry, so a mirror can never feed cairn an index the archive did
//! not sign.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use deb822_fast::borrowed::BorrowedParagraphIter;
use sha2::{Digest, Sha256};

/// A signed index entry: its size and SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexFile {
    pub size: u64,
    /// Lowercase hex.
    pub sha256: String,
}

/// The fields of a `Release` file cairn uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    pub origin: Option<String>,
    pub suite: Option<String>,
    pub codename: Option<String>,
    /// As written (RFC 2822, UTC), e.g. `Sat, 11 Jul 2026 10:16:37 UTC`.
    pub date: String,
    pub valid_until: Option<String>,
    pub acquire_by_hash: bool,
    pub architectures: Vec<String>,
    pub components: Vec<String>,
    /// `SHA256` entries by path relative to the suite's directory.
    pub files: BTreeMap<String, IndexFile>,
}

/// Why a release or an index was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReleaseError {
    #[error("Invalid Release file: {0}")]
    Invalid(String),
    #[error(
        "The Release file expired at {valid_until} (Valid-Until); the mirror serves stale data"
    )]
    Expired { valid_until: String },
    #[error("The Release file does not list `{0}`")]
    NotListed(String),
    #[error("Index `{path}` has {actual} bytes where the signed Release says {expected}")]
    SizeMismatch {
        path: String,
        expected: u64,
        actual: u64,
    },
    #[error("Index `{path}` has SHA-256 {actual} where the signed Release says {expected}")]
    HashMismatch {
        path: String,
        expected: String,
        actual: String,
    },
}

/// Parses `Sat, 11 Jul 2026 10:16:37 UTC` (the only form the archive writes). Strict:
/// years 1970 to 9999, real month lengths, exactly `HH:MM:SS`, nothing after the zone.
pub fn parse_release_date(text: &str) -> Option<SystemTime> {
    let rest = text.split_once(", ").map_or(text, |(_, r)| r);
    let parts: Vec<&str> = rest.split_whitespace().collect();
    let [day, month_name, year, time, zone] = parts.as_slice() else {
        return None;
    };
    if !matches!(*zone, "UTC" | "GMT" | "+0000") {
        return None;
    }
    let day: u64 = day.parse().ok()?;
    let year: u64 = year.parse().ok().filter(|y| (1970..=9999).contains(y))?;
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| m == month_name)?;
    let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ][month];
    if !(1..=month_days).contains(&day) {
        return None;
    }
    let hms: Vec<u64> = time
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let [h, m, sec] = hms.as_slice() else {
        return None;
    };
    if *h > 23 || *m > 59 || *sec > 60 {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm); all terms are small.
    let month = u64::try_from(month).ok()?;
    let (y, mo) = if month < 2 {
        (year - 1, month + 10)
    } else {
        (year, month - 2)
    };
    let era = y / 400;
    let yoe = y - era * 400;
    let doy = (153 * mo + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = (era * 146_097 + doe).checked_sub(719_468)?;
    UNIX_EPOCH.checked_add(Duration::from_secs(days * 86_400 + h * 3600 + m * 60 + sec))
}

impl Release {
    /// Parses the Release text, checking `Valid-Until` against `now`.
    pub fn parse(text: &str, now: SystemTime) -> Result<Self, ReleaseError> {
        let paragraph = BorrowedParagraphIter::new(text)
            .next()
            .ok_or_else(|| ReleaseError::Invalid("it is empty".into()))?
            .map_err(|e| ReleaseError::Invalid(e.to_string()))?;
        // Folded values are joined, so a multi-line Valid-Until is read, not skipped.
        let single = |field| {
            paragraph
                .get(field)
                .and_then(crate::index::joined)
                .map(std::borrow::Cow::into_owned)
        };
        let words = |field| {
            single(field)
                .map(|v| v.split_whitespace().map(str::to_owned).collect())
                .unwrap_or_default()
        };
        let date = single("Date").ok_or_else(|| ReleaseError::Invalid("no Date field".into()))?;
        let valid_until = single("Valid-Until");
        if let Some(until) = &valid_until {
            let deadline = parse_release_date(until).ok_or_else(|| {
                ReleaseError::Invalid(format!("cannot read Valid-Until `{until}`"))
            })?;
            if deadline <= now {
                return Err(ReleaseError::Expired {
                    valid_until: until.clone(),
                });
            }
        }
        let mut files = BTreeMap::new();
        for line in paragraph
            .get("SHA256")
            .unwrap_or_default()
            .iter()
            .filter(|l| !l.trim().is_empty())
        {
            let mut parts = line.split_whitespace();
            let (Some(hash), Some(size), Some(path), None) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                return Err(ReleaseError::Invalid(format!("bad SHA256 line `{line}`")));
            };
            if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(ReleaseError::Invalid(format!(
                    "bad SHA256 hash in `{line}`"
                )));
            }
            let size = size
                .parse()
                .map_err(|_| ReleaseError::Invalid(format!("bad size in `{line}`")))?;
            files.insert(
                path.to_owned(),
                IndexFile {
                    size,
                    sha256: hash.to_ascii_lowercase(),
                },
            );
        }
        if files.is_empty() {
            return Err(ReleaseError::Invalid("no SHA256 entries".into()));
        }
        Ok(Self {
            origin: single("Origin"),
            suite: single("Suite"),
            codename: single("Codename"),
            date,
            valid_until,
            acquire_by_hash: single("Acquire-By-Hash").as_deref() == Some("yes"),
            architectures: words("Architectures"),
            components: words("Components"),
            files,
        })
    }

    /// The signed entry for `path` (e.g. `main/binary-amd64/Packages.xz`).
    pub fn file(&self, path: &str) -> Result<&IndexFile, ReleaseError> {
        self.files
            .get(path)
            .ok_or_else(|| ReleaseError::NotListed(path.to_owned()))
    }

    /// Where to fetch `path` from, relative to the suite's directory: the by-hash path
    /// when the archive offers it (immune to the index changing mid-download).
    pub fn fetch_path(&self, path: &str) -> Result<String, ReleaseError> {
        let entry = self.file(path)?;
        Ok(match (self.acquire_by_hash, path.rsplit_once('/')) {
            (true, Some((dir, _))) => format!("{dir}/by-hash/SHA256/{}", entry.sha256),
            _ => path.to_owned(),
        })
    }

    /// Checks downloaded `bytes` of `path` against the signed size and hash.
    pub fn verify_index(&self, path: &str, bytes: &[u8]) -> Result<(), ReleaseError> {
        let entry = self.file(path)?;
        if bytes.len() as u64 != entry.size {
            return Err(ReleaseError::SizeMismatch {
                path: path.to_owned(),
                expected: entry.size,
                actual: bytes.len() as u64,
            });
        }
        let actual = data_encoding::HEXLOWER.encode(&Sha256::digest(bytes));
        if actual != entry.sha256 {
            return Err(ReleaseError::HashMismatch {
                path: path.to_owned(),
                expected: entry.sha256.clone(),
                actual,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RELEASE: &str = "\
Origin: Debian
Suite: stable
Codename: trixie
Date: Sat, 08 Nov 2025 09:43:28 UTC
Acquire-By-Hash: yes
Architectures: all amd64 arm64
Components: main contrib
SHA256:
 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855        0 main/binary-amd64/Packages
 ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad        3 main/binary-amd64/Packages.xz
";

    fn at(date: &str) -> SystemTime {
        parse_release_date(date).unwrap()
    }

    #[test]
    fn dates_parse_to_the_right_instant() {
        let t = at("Thu, 01 Jan 1970 00:00:00 UTC");
        assert_eq!(t, UNIX_EPOCH);
        let t = at("Sat, 11 Jul 2026 10:16:37 UTC")
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert_eq!(t, 1_783_764_997); // date -u -d "2026-07-11 10:16:37 UTC" +%s
        assert_eq!(
            at("Tue, 29 Feb 2028 00:00:00 UTC")
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_secs(),
            1_835_395_200
        );
        for bad in [
            "",
            "Sat, 11 Jul 2026",
            "Sat, 11 Foo 2026 10:16:37 UTC",
            "Sat, 11 Jul 2026 25:00:00 UTC",
            "Sat, 11 Jul 2026 10:16:37 CEST",
        ] {
            assert!(parse_release_date(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn parses_fields_and_entries() {
        let r = Release::parse(RELEASE, at("Sun, 09 Nov 2025 00:00:00 UTC")).unwrap();
        assert_eq!(r.codename.as_deref(), Some("trixie"));
        assert!(r.acquire_by_hash);
        assert_eq!(r.components, ["main", "contrib"]);
        assert_eq!(r.file("main/binary-amd64/Packages.xz").unwrap().size, 3);
        assert_eq!(
            r.fetch_path("main/binary-amd64/Packages.xz").unwrap(),
            "main/binary-amd64/by-hash/SHA256/ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(matches!(
            r.file("main/binary-i386/Packages.xz"),
            Err(ReleaseError::NotListed(_))
        ));
    }

    #[test]
    fn indexes_are_checked_against_the_signed_entry() {
        let r = Release::parse(RELEASE, at("Sun, 09 Nov 2025 00:00:00 UTC")).unwrap();
        r.verify_index("main/binary-amd64/Packages.xz", b"abc")
            .unwrap();
        assert!(matches!(
            r.verify_index("main/binary-amd64/Packages.xz", b"abd"),
            Err(ReleaseError::HashMismatch { .. })
        ));
        assert!(matches!(
            r.verify_index("main/binary-amd64/Packages.xz", b"ab"),
            Err(ReleaseError::SizeMismatch { .. })
        ));
        r.verify_index("main/binary-amd64/Packages", b"").unwrap();
    }

    #[test]
    fn valid_until_is_enforced() {
        let text = RELEASE.replace(
            "Acquire-By-Hash",
            "Valid-Until: Sat, 15 Nov 2025 09:43:28 UTC\nAcquire-By-Hash",
        );
        assert!(Release::parse(&text, at("Fri, 14 Nov 2025 00:00:00 UTC")).is_ok());
        let err = Release::parse(&text, at("Sun, 16 Nov 2025 00:00:00 UTC")).unwrap_err();
        assert!(err.to_string().contains("expired"), "{err}");
        // A folded Valid-Until is still read and enforced (found in review).
        let folded = RELEASE.replace(
            "Acquire-By-Hash",
            "Valid-Until:\n Sat, 15 Nov 2025 09:43:28 UTC\nAcquire-By-Hash",
        );
        assert!(Release::parse(&folded, at("Sun, 16 Nov 2025 00:00:00 UTC")).is_err());
    }

    #[test]
    fn malformed_releases_are_refused() {
        let now = at("Sun, 09 Nov 2025 00:00:00 UTC");
        assert!(Release::parse("", now).is_err());
        assert!(
            Release::parse(
                &RELEASE.replace("Date: Sat, 08 Nov 2025 09:43:28 UTC\n", ""),
                now
            )
            .is_err()
        );
        assert!(Release::parse(&RELEASE.replace("        3 main", "      x3 main"), now).is_err());
        assert!(Release::parse(&RELEASE.replace("ba7816bf", "zz7816bf"), now).is_err());
    }
}
