//! PEP 508 dependency specifiers, as they appear in `Requires-Dist`, in
//! `requirements.txt` lines and in `cairn.star`: a name, extras, version
//! specifiers and an environment marker.
//!
//! Parsing is `pep508_rs`'s; cairn's [`Requirement`] is the subset cairn can lock
//! from an index: direct URL requirements (`name @ https://…`, `name @ file:…`)
//! are refused with an error saying so, because they name an artifact rather than a
//! version the resolver can choose, and because a relative path would make the
//! result depend on where cairn runs.
//!
//! Markers are `pep508_rs`'s `MarkerTree`, a decision diagram that can be
//! combined (`and`/`or`) and simplified, which the lock needs to record why a
//! package is there. They are evaluated against a [`crate::Target`], never the
//! host.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

pub use pep508_rs::MarkerTree;
use pep508_rs::VersionOrUrl;

use crate::name::{ExtraName, PackageName};
use crate::target::Target;
use crate::version::VersionSpecifiers;

/// A requirement cairn can resolve from an index: `name[extras] specifiers ; marker`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Requirement {
    pub name: PackageName,
    /// Sorted and without duplicates, so equal requirements compare equal.
    pub extras: Vec<ExtraName>,
    /// Empty when any version will do.
    pub specifiers: VersionSpecifiers,
    /// `MarkerTree::TRUE` when the requirement applies everywhere.
    pub marker: MarkerTree,
}

/// A string that is not a requirement cairn can resolve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequirementError {
    #[error("invalid requirement `{input}`: {message} (at character {position})")]
    Syntax {
        input: String,
        message: String,
        /// 1-based, counted in characters.
        position: usize,
    },
    #[error(
        "requirement `{input}` is a direct URL requirement (`{name} @ {url}`); cairn resolves \
         packages from an index by version and cannot lock direct URLs yet"
    )]
    DirectUrl {
        input: String,
        name: PackageName,
        url: String,
    },
}

impl RequirementError {
    /// A suggestion for the user, where there is an obvious one.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::DirectUrl { name, .. } => Some(format!(
                "require `{name}` by version (for example `{name}==1.2.3`) from an index"
            )),
            Self::Syntax { .. } => None,
        }
    }
}

/// The URL of a `name @ url` requirement, kept as written. `pep508_rs`'s own URL
/// type would resolve a relative path against the current directory; cairn only
/// needs the text to refuse the requirement clearly.
#[derive(Debug, Clone, PartialEq, Eq)]
struct UrlText(String);

impl fmt::Display for UrlText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl pep508_rs::Pep508Url for UrlText {
    type Err = std::convert::Infallible;

    fn parse_url(url: &str, _working_dir: Option<&Path>) -> Result<Self, Self::Err> {
        Ok(Self(url.to_owned()))
    }
}

impl Requirement {
    /// Parses a PEP 508 requirement, refusing direct URL requirements.
    pub fn parse(input: &str) -> Result<Self, RequirementError> {
        let parsed = pep508_rs::Requirement::<UrlText>::from_str(input).map_err(|error| {
            RequirementError::Syntax {
                input: input.to_owned(),
                message: error.message.to_string(),
                position: input
                    .get(..error.start)
                    .map_or(error.start, |before| before.chars().count())
                    + 1,
            }
        })?;
        let specifiers = match parsed.version_or_url {
            None => VersionSpecifiers::empty(),
            Some(VersionOrUrl::VersionSpecifier(specifiers)) => specifiers,
            Some(VersionOrUrl::Url(url)) => {
                return Err(RequirementError::DirectUrl {
                    input: input.to_owned(),
                    name: parsed.name,
                    url: url.0,
                });
            }
        };
        let mut extras = parsed.extras;
        extras.sort();
        extras.dedup();
        Ok(Self {
            name: parsed.name,
            extras,
            specifiers,
            marker: parsed.marker,
        })
    }

    /// Whether the requirement applies to `target` when the requiring package was
    /// installed with `extras` (the `extra` marker variable; PEP 685 names).
    pub fn applies_to(&self, target: &Target, extras: &[ExtraName]) -> bool {
        target.evaluate(&self.marker, extras)
    }
}

impl FromStr for Requirement {
    type Err = RequirementError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// The canonical form: `name[a,b]>=1.0, <2 ; marker`, with normalized names, sorted
/// extras and the marker in `pep508_rs`'s normal form, so equal requirements print
/// the same.
impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name)?;
        if !self.extras.is_empty() {
            f.write_str("[")?;
            for (i, extra) in self.extras.iter().enumerate() {
                if i > 0 {
                    f.write_str(",")?;
                }
                write!(f, "{extra}")?;
            }
            f.write_str("]")?;
        }
        write!(f, "{}", self.specifiers)?;
        if let Some(marker) = self.marker.contents() {
            write!(f, " ; {marker}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::{Arch, Target};
    use crate::version::Version;

    fn target(python: &str, arch: Arch) -> Target {
        Target::new(&Version::from_str(python).unwrap(), arch, (2, 41).into()).unwrap()
    }

    fn extra(name: &str) -> ExtraName {
        ExtraName::from_str(name).unwrap()
    }

    #[test]
    fn parses_name_extras_specifiers_and_marker() {
        let requirement = Requirement::parse(
            "Requests [security,tests, Socks] >= 2.8.1, == 2.8.* ; python_version > \"3.8\"",
        )
        .unwrap();
        assert_eq!(requirement.name.as_ref(), "requests");
        let extras: Vec<&str> = requirement.extras.iter().map(AsRef::as_ref).collect();
        assert_eq!(extras, ["security", "socks", "tests"]);
        // Specifiers come out in a canonical order.
        assert_eq!(requirement.specifiers.to_string(), "==2.8.*, >=2.8.1");
        assert_eq!(
            requirement.to_string(),
            "requests[security,socks,tests]==2.8.*, >=2.8.1 ; python_full_version >= '3.9'"
        );
    }

    #[test]
    fn bare_names_and_parenthesized_specifiers() {
        let bare = Requirement::parse("flask").unwrap();
        assert!(bare.specifiers.is_empty());
        assert!(bare.extras.is_empty());
        assert!(bare.marker.is_true());
        assert_eq!(bare.to_string(), "flask");

        // The old `name (specifiers)` form still appears in `Requires-Dist`.
        let old = Requirement::parse("zope.interface (>=5.0)").unwrap();
        assert_eq!(old.to_string(), "zope-interface>=5.0");
    }

    #[test]
    fn duplicate_extras_collapse() {
        let requirement = Requirement::parse("black[d,D,jupyter]").unwrap();
        assert_eq!(requirement.to_string(), "black[d,jupyter]");
        assert_eq!(requirement, Requirement::parse("Black[jupyter,d]").unwrap());
    }

    #[test]
    fn direct_urls_are_refused_with_a_hint() {
        for (input, url) in [
            (
                "pip @ https://example.com/pip-24.0-py3-none-any.whl",
                "https://example.com/pip-24.0-py3-none-any.whl",
            ),
            (
                "local @ file:///srv/local-1.0.tar.gz",
                "file:///srv/local-1.0.tar.gz",
            ),
            ("rel @ ./vendor/rel", "./vendor/rel"),
        ] {
            let err = Requirement::parse(input).unwrap_err();
            let RequirementError::DirectUrl { url: got, name, .. } = &err else {
                panic!("{input}: {err:?}");
            };
            assert_eq!(got, url);
            assert_eq!(
                err.to_string(),
                format!(
                    "requirement `{input}` is a direct URL requirement (`{name} @ {url}`); cairn \
                     resolves packages from an index by version and cannot lock direct URLs yet"
                )
            );
            assert!(err.hint().unwrap().contains(&format!("`{name}==1.2.3`")));
        }
    }

    #[test]
    fn syntax_errors_name_the_input_and_position() {
        for (input, position) in [
            ("flask >=", 7),
            ("flask[", 6),
            ("flask ; python_version >", 25),
            ("flask ; os_nam == 'posix'", 9),
            ("", 1),
            ("fl!sk", 3),
            ("flask ==1.0.*.*", 7),
            ("é >= 1", 1),
        ] {
            let err = Requirement::parse(input).unwrap_err();
            let RequirementError::Syntax {
                position: got,
                message,
                ..
            } = &err
            else {
                panic!("{input}: {err:?}");
            };
            assert_eq!(*got, position, "{input}: {message}");
            assert!(
                err.to_string()
                    .starts_with(&format!("invalid requirement `{input}`: ")),
                "{err}"
            );
            assert!(
                err.to_string()
                    .ends_with(&format!("(at character {position})"))
            );
            assert!(!err.to_string().contains('\n'), "{err}");
            assert!(err.hint().is_none());
        }
    }

    #[test]
    fn markers_evaluate_against_the_target() {
        let py313 = target("3.13.5", Arch::X86_64);
        let py311_arm = target("3.11.2", Arch::Aarch64);
        for (marker, on_313_amd64, on_311_arm64) in [
            ("python_version >= '3.12'", true, false),
            ("python_version < '3.12'", false, true),
            ("python_full_version >= '3.13.5'", true, false),
            ("python_full_version < '3.11.3'", false, true),
            ("sys_platform == 'linux'", true, true),
            ("sys_platform == 'win32'", false, false),
            ("platform_system == 'Linux'", true, true),
            ("platform_system == 'Darwin'", false, false),
            ("os_name == 'posix'", true, true),
            ("os_name == 'nt'", false, false),
            ("platform_machine == 'x86_64'", true, false),
            ("platform_machine == 'aarch64'", false, true),
            ("platform_machine in 'x86_64 AMD64'", true, false),
            ("implementation_name == 'cpython'", true, true),
            ("implementation_name == 'pypy'", false, false),
            ("platform_python_implementation == 'CPython'", true, true),
            ("platform_python_implementation != 'PyPy'", true, true),
            ("implementation_version >= '3.13'", true, false),
            (
                "python_version >= '3.8' and sys_platform != 'win32'",
                true,
                true,
            ),
            (
                "python_version < '3.8' or platform_machine == 'aarch64'",
                false,
                true,
            ),
            ("'linux' in sys_platform", true, true),
        ] {
            let requirement = Requirement::parse(&format!("x ; {marker}")).unwrap();
            assert_eq!(
                requirement.applies_to(&py313, &[]),
                on_313_amd64,
                "{marker} on 3.13"
            );
            assert_eq!(
                requirement.applies_to(&py311_arm, &[]),
                on_311_arm64,
                "{marker} on 3.11"
            );
        }
    }

    #[test]
    fn extras_select_extra_requirements() {
        let target = target("3.13.5", Arch::X86_64);
        let requirement = Requirement::parse("PySocks ; extra == 'Socks_Proxy'").unwrap();
        assert!(!requirement.applies_to(&target, &[]));
        assert!(!requirement.applies_to(&target, &[extra("security")]));
        // PEP 685: extras compare normalized.
        assert!(requirement.applies_to(&target, &[extra("socks-proxy")]));
        assert!(requirement.applies_to(&target, &[extra("security"), extra("socks.proxy")]));

        let combined =
            Requirement::parse("x ; extra == 'test' and python_version < '3.10'").unwrap();
        assert!(!combined.applies_to(&target, &[extra("test")]));
        let either = Requirement::parse("x ; extra == 'a' or extra == 'b'").unwrap();
        assert!(either.applies_to(&target, &[extra("b")]));
        assert!(!either.applies_to(&target, &[extra("c")]));
    }
}
