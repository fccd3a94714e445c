//! PEP 440 versions and version specifiers.
//!
//! The types are `pep440_rs`'s (by the uv authors): a complete, well-tested
//! implementation of the specification's normalization, ordering and specifier
//! semantics, whose `VersionSpecifiers` convert into the `version-ranges` type
//! that `pubgrub` resolves over. The tests below pin the behaviours cairn relies
//! on, so an upgrade that changed one would fail here.
//!
//! Containment is mathematical: `>=1.0` contains `2.0a1`. PEP 440's rule that
//! pre-releases are excluded unless a specifier names one (or nothing else
//! matches) is resolution policy, and belongs to the resolver; see
//! [`VersionSpecifier::any_prerelease`].

use std::str::FromStr;

pub use pep440_rs::{
    Operator, Version, VersionParseError, VersionSpecifier, VersionSpecifiers,
    VersionSpecifiersParseError,
};

/// Text that is not a PEP 440 specifier list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid version specifiers `{input}`")]
pub struct SpecifiersError {
    pub input: String,
    #[source]
    pub source: VersionSpecifiersParseError,
}

/// Parses a comma-separated specifier list such as `>=3.9, !=3.10.*`. The empty
/// string is the empty list, which every version satisfies.
pub fn parse_specifiers(input: &str) -> Result<VersionSpecifiers, SpecifiersError> {
    VersionSpecifiers::from_str(input).map_err(|source| SpecifiersError {
        input: input.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::from_str(s).unwrap()
    }

    fn contains(specifiers: &str, version: &str) -> bool {
        parse_specifiers(specifiers).unwrap().contains(&v(version))
    }

    #[test]
    fn versions_normalize() {
        for (input, normal) in [
            ("1.0", "1.0"),
            ("v1.0", "1.0"),
            ("1.0-1", "1.0.post1"),
            ("1.0.POST1", "1.0.post1"),
            ("1.0alpha1", "1.0a1"),
            ("1.0-rc.2", "1.0rc2"),
            ("1.0c3", "1.0rc3"),
            ("1!2.0.dev4", "1!2.0.dev4"),
            ("1.0+Local.7", "1.0+local.7"),
            ("  2.1  ", "2.1"),
        ] {
            assert_eq!(v(input).to_string(), normal, "{input}");
        }
    }

    #[test]
    fn versions_order_as_pep_440_says() {
        let ordered = [
            "1.0.dev1",
            "1.0a1.dev1",
            "1.0a1",
            "1.0a2",
            "1.0b1",
            "1.0rc1",
            "1.0",
            "1.0+local",
            "1.0.post1.dev1",
            "1.0.post1",
            "1.1",
            "1.10",
            "1!0.1",
        ];
        for pair in ordered.windows(2) {
            assert!(v(pair[0]) < v(pair[1]), "{} < {}", pair[0], pair[1]);
        }
        // Trailing zeros do not matter.
        assert_eq!(v("1.0"), v("1.0.0"));
    }

    #[test]
    fn invalid_versions_are_refused() {
        for bad in ["", "1.0.", "a.b", "1.0.*", "1..0", "1.0-"] {
            assert!(Version::from_str(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn specifier_semantics() {
        // (specifiers, version, contained)
        for (specifiers, version, expected) in [
            (">=3.9", "3.13.5", true),
            (">=3.9", "3.8.20", false),
            ("<3.10", "3.9.1", true),
            ("<3.10", "3.10.0", false),
            // `<V` excludes V's pre-releases, `>V` its post-releases.
            ("<3.10", "3.10.0rc1", false),
            (">1.0", "1.0.post1", false),
            (">1.0", "1.1", true),
            ("==3.1.*", "3.1.4", true),
            ("==3.1.*", "3.2", false),
            ("!=3.10.*", "3.10.2", false),
            ("!=3.10.*", "3.11.0", true),
            ("~=2.2", "2.9", true),
            ("~=2.2", "3.0", false),
            ("~=1.4.5", "1.4.9", true),
            ("~=1.4.5", "1.5.0", false),
            // `==` without a local label matches any local label.
            ("==1.0", "1.0+cpu", true),
            ("==1.0+cpu", "1.0", false),
            ("===1.0", "1.0", true),
            (">=2.0, <3", "2.5", true),
            (">=2.0, <3", "3.0", false),
            ("", "0.1", true),
            // Containment is mathematical; the resolver applies the pre-release rule.
            (">=1.0", "2.0a1", true),
        ] {
            assert_eq!(
                contains(specifiers, version),
                expected,
                "{version} in {specifiers}"
            );
        }
    }

    #[test]
    fn prerelease_specifiers_are_recognised() {
        let specifiers = parse_specifiers(">=1.0b1").unwrap();
        assert!(specifiers.iter().any(VersionSpecifier::any_prerelease));
        let specifiers = parse_specifiers(">=1.0").unwrap();
        assert!(!specifiers.iter().any(VersionSpecifier::any_prerelease));
    }

    #[test]
    fn invalid_specifiers_say_which() {
        for bad in [">=", "=>1.0", "~=1", "<1.0.*", ">=1.0,", "1.0"] {
            let err = parse_specifiers(bad).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("invalid version specifiers `{bad}`")
            );
            assert!(std::error::Error::source(&err).is_some());
        }
    }
}
