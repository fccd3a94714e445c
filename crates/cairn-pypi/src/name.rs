//! Project and extra names, normalized as PEP 503 and PEP 685 say: lowercase, with
//! every run of `-`, `_` and `.` turned into one `-`. `Flask`, `flask` and
//! `FLASK` are one project; `typing_extensions` and `typing-extensions` too.
//! Comparing normalized names is the only correct comparison, so the types hold
//! only the normalized form.
//!
//! The types are `pep508_rs`'s, which the requirement and marker types use.
//! A name must start and end with an ASCII letter or digit and contain only
//! those and `-_.` (PEP 508's `identifier`). Parse names with
//! [`parse_package_name`]: `PackageName::from_str` accepts the empty string.

use std::str::FromStr;

pub use pep508_rs::{ExtraName, PackageName};

/// Text that is not a project name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{name}` is not a valid project name: names are ASCII letters, digits, `-`, `_` and `.`, \
     starting and ending with a letter or digit"
)]
pub struct NameError {
    pub name: String,
}

/// Parses and normalizes a project name.
pub fn parse_package_name(name: &str) -> Result<PackageName, NameError> {
    PackageName::from_str(name)
        .ok()
        .filter(|parsed| !parsed.as_ref().is_empty())
        .ok_or_else(|| NameError {
            name: name.to_owned(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_normalize_as_pep_503_says() {
        for (input, normal) in [
            ("Flask", "flask"),
            ("typing_extensions", "typing-extensions"),
            ("zope.interface", "zope-interface"),
            ("Foo__Bar--baz..Q_-.x", "foo-bar-baz-q-x"),
            ("a", "a"),
            ("PyYAML", "pyyaml"),
            ("ruamel.yaml.clib", "ruamel-yaml-clib"),
            ("3to2", "3to2"),
        ] {
            assert_eq!(parse_package_name(input).unwrap().as_ref(), normal);
        }
    }

    #[test]
    fn normalized_names_compare_equal() {
        assert_eq!(
            PackageName::from_str("Django_REST.framework").unwrap(),
            PackageName::from_str("django-rest-framework").unwrap()
        );
        assert_eq!(
            ExtraName::from_str("Socks_Proxy").unwrap(),
            ExtraName::from_str("socks-proxy").unwrap()
        );
    }

    #[test]
    fn dist_info_names_use_underscores() {
        let name = PackageName::from_str("Typing.Extensions").unwrap();
        assert_eq!(name.as_dist_info_name(), "typing_extensions");
    }

    #[test]
    fn invalid_names_are_refused() {
        for bad in [
            "", "-flask", "flask-", "fl ask", "flask!", "_x", "x.", "café", "a/b",
        ] {
            let err = parse_package_name(bad).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "`{bad}` is not a valid project name: names are ASCII letters, digits, `-`, \
                     `_` and `.`, starting and ending with a letter or digit"
                )
            );
        }
    }
}
