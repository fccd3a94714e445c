//! Debian package versions (Debian Policy §5.6.12), compared as dpkg compares them.
//!
//! A version is `[epoch:]upstream_version[-debian_revision]`. Comparison goes by epoch
//! (numerically), then upstream version, then revision. The last two use dpkg's
//! `verrevcmp`: alternate runs of non-digits (compared character by character, with `~`
//! before everything, even the end of the string, and letters before other characters)
//! and runs of digits (compared numerically). A missing revision compares like `0`.
//! Checked against `dpkg --compare-versions` on real archive versions
//! (`tests/version_oracle.rs`).

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// A Debian package version.
///
/// Equality follows dpkg's order, not the text: `1.0`, `0:1.0` and `1.0-0` are equal.
/// [`Version::as_str`] keeps the text as written.
#[derive(Clone)]
pub struct Version {
    text: String,
    epoch: u32,
    /// Byte range of the upstream version in `text`.
    upstream: (usize, usize),
    /// Byte range of the revision in `text` (empty when there is none).
    revision: (usize, usize),
}

/// Why a version string is not a valid Debian version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid Debian version `{text}`: {reason}")]
pub struct VersionError {
    pub text: String,
    pub reason: &'static str,
}

impl Version {
    /// The version as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    pub fn upstream(&self) -> &str {
        &self.text[self.upstream.0..self.upstream.1]
    }

    /// The Debian revision, empty for native packages.
    pub fn revision(&self) -> &str {
        &self.text[self.revision.0..self.revision.1]
    }
}

impl FromStr for Version {
    type Err = VersionError;

    fn from_str(text: &str) -> Result<Self, VersionError> {
        let invalid = |reason| VersionError {
            text: text.to_owned(),
            reason,
        };
        if text.is_empty() {
            return Err(invalid("it is empty"));
        }
        if text.bytes().any(|b| b.is_ascii_whitespace()) {
            return Err(invalid("it contains white space"));
        }
        let (epoch, start) = match text.find(':') {
            Some(colon) => {
                let digits = &text[..colon];
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(invalid("the epoch is not a number"));
                }
                // dpkg keeps epochs in an int: at most 2^31 - 1.
                let epoch = digits
                    .parse::<u32>()
                    .ok()
                    .filter(|e| i32::try_from(*e).is_ok())
                    .ok_or_else(|| invalid("the epoch is too large"))?;
                (epoch, colon + 1)
            }
            None => (0, 0),
        };
        let (upstream, revision) = match text.rfind('-') {
            Some(hyphen) if hyphen >= start => {
                if hyphen + 1 == text.len() {
                    return Err(invalid("the revision after `-` is empty"));
                }
                ((start, hyphen), (hyphen + 1, text.len()))
            }
            _ => ((start, text.len()), (text.len(), text.len())),
        };
        let up = &text[upstream.0..upstream.1];
        if up.is_empty() {
            return Err(invalid("the upstream version is empty"));
        }
        if !up.as_bytes()[0].is_ascii_digit() {
            return Err(invalid("the upstream version does not start with a digit"));
        }
        // A colon in the upstream part is only allowed with an epoch; a hyphen only with
        // a revision (the last hyphen separates them).
        if !up
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".+~-:".contains(&b))
        {
            return Err(invalid(
                "the upstream version has a character outside `A-Za-z0-9.+~-:`",
            ));
        }
        if !text[revision.0..revision.1]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".+~".contains(&b))
        {
            return Err(invalid(
                "the revision has a character outside `A-Za-z0-9.+~`",
            ));
        }
        Ok(Self {
            text: text.to_owned(),
            epoch,
            upstream,
            revision,
        })
    }
}

/// dpkg's character weight in non-digit runs: `~` first, then the end of the part (and
/// digits, which end a run), then letters, then everything else.
fn weight(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(b'~') => -1,
        Some(c) => i32::from(c) + 256,
    }
}

/// dpkg's `verrevcmp` over one part (upstream version or revision).
fn compare_part(a: &[u8], b: &[u8]) -> Ordering {
    let (mut i, mut j) = (0, 0);
    let non_digit = |s: &[u8], k: usize| s.get(k).is_some_and(|c| !c.is_ascii_digit());
    let digit = |s: &[u8], k: usize| s.get(k).is_some_and(u8::is_ascii_digit);
    while i < a.len() || j < b.len() {
        while non_digit(a, i) || non_digit(b, j) {
            let (wa, wb) = (weight(a.get(i).copied()), weight(b.get(j).copied()));
            if wa != wb {
                return wa.cmp(&wb);
            }
            i += 1;
            j += 1;
        }
        while a.get(i) == Some(&b'0') {
            i += 1;
        }
        while b.get(j) == Some(&b'0') {
            j += 1;
        }
        let mut first_diff = Ordering::Equal;
        while digit(a, i) && digit(b, j) {
            if first_diff == Ordering::Equal {
                first_diff = a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
        if digit(a, i) {
            return Ordering::Greater;
        }
        if digit(b, j) {
            return Ordering::Less;
        }
        if first_diff != Ordering::Equal {
            return first_diff;
        }
    }
    Ordering::Equal
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| compare_part(self.upstream().as_bytes(), other.upstream().as_bytes()))
            .then_with(|| compare_part(self.revision().as_bytes(), other.revision().as_bytes()))
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version {}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Version({})", self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        s.parse().unwrap()
    }

    #[test]
    fn orders_like_dpkg() {
        // Each row: a < b (from dpkg's own test suite and Policy's examples).
        for (a, b) in [
            ("1.0~rc1", "1.0"),
            ("1.0", "1.0+b1"),
            ("1.0", "1.0.1"),
            ("1.0-1", "1.0-2"),
            ("1.0-1", "1.0-1.1"),
            ("1.0-1~bpo1", "1.0-1"),
            ("1:0.9", "2:0.1"),
            ("9.9", "1:0.1"),
            ("1.2.3", "1.2.10"),
            ("1.0a", "1.0b"),
            ("1.0", "1.0a"),
            ("1.0a", "1.0+"),
            ("1.0~~", "1.0~"),
            ("1.0~", "1.0"),
            ("2.30", "2.30-1"),
            ("0.0.0", "0.0.1"),
            ("1.001", "1.2"),
            ("3.0-1+deb12u1", "3.0-1+deb12u2"),
            ("5.10.0-10", "5.10.0-9+b1").swap(),
        ] {
            assert!(v(a) < v(b), "{a} < {b}");
            assert!(v(b) > v(a), "{b} > {a}");
        }
    }

    trait Swap {
        fn swap(self) -> Self;
    }
    impl<'a> Swap for (&'a str, &'a str) {
        fn swap(self) -> Self {
            (self.1, self.0)
        }
    }

    #[test]
    fn equal_versions_written_differently() {
        assert_eq!(v("1.0"), v("0:1.0"));
        assert_eq!(v("1.0"), v("1.0-0"));
        assert_eq!(v("1.01"), v("1.1"));
        assert_ne!(v("1.0"), v("1.0-1"));
        assert_eq!(v("0:1.0").as_str(), "0:1.0", "the text is kept");
    }

    #[test]
    fn parts_are_split_at_the_first_colon_and_last_hyphen() {
        let x = v("2:1.2-3-4");
        assert_eq!((x.epoch(), x.upstream(), x.revision()), (2, "1.2-3", "4"));
        let y = v("1:2.0:beta");
        assert_eq!((y.epoch(), y.upstream(), y.revision()), (1, "2.0:beta", ""));
    }

    #[test]
    fn invalid_versions_are_refused_with_a_reason() {
        for (text, reason) in [
            ("", "empty"),
            ("a1.0", "start with a digit"),
            ("1.0-", "revision after"),
            (":1.0", "epoch"),
            ("x:1.0", "epoch"),
            ("99999999999:1", "too large"),
            ("2147483648:1", "too large"),
            ("1:", "upstream version is empty"),
            ("1.0 1", "white space"),
            ("1.0_1", "outside"),
            ("1.0-1:2", "epoch"),
            ("1.0-1_2", "revision has a character"),
        ] {
            let err = text.parse::<Version>().unwrap_err();
            assert!(err.to_string().contains(reason), "{text:?}: {err}");
        }
    }
}
