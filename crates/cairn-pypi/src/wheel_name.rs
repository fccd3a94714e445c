//! Wheel file names (PEP 427, PEP 491; the binary distribution format
//! specification): `{name}-{version}(-{build})?-{python}-{abi}-{platform}.whl`,
//! where each of the last three may be a `.`-separated set (PEP 425's compressed
//! tag sets, as in `py2.py3-none-any`).
//!
//! Parsing follows `packaging.utils.parse_wheel_filename`: the name must be the
//! escaped form (letters, digits, `.` and `_`, no `__`), the version PEP 440, the
//! build tag a number with an optional suffix, and tags are compared lowercase. A
//! file whose name does not parse is not a wheel cairn will consider.

use std::fmt;
use std::str::FromStr;

use crate::name::{PackageName, parse_package_name};
use crate::tags::Tag;
use crate::version::Version;

/// A parsed wheel file name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WheelName {
    filename: String,
    name: PackageName,
    version: Version,
    build: Option<BuildTag>,
    python_tags: Vec<String>,
    abi_tags: Vec<String>,
    platform_tags: Vec<String>,
}

/// A wheel's build tag (PEP 427): a number and an optional suffix, compared as
/// `(number, suffix)`. It breaks ties between wheels equal in every other respect,
/// the higher build winning.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BuildTag {
    pub number: u64,
    pub suffix: String,
}

impl fmt::Display for BuildTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.number, self.suffix)
    }
}

/// A file name that is not a wheel name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{filename}` is not a valid wheel file name: {reason}")]
pub struct WheelNameError {
    pub filename: String,
    pub reason: WheelNameReason,
}

/// What is wrong with a wheel file name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WheelNameReason {
    #[error("it does not end in `.whl`")]
    Extension,
    #[error(
        "expected 5 or 6 parts separated by `-` (name-version[-build]-python-abi-platform), \
         found {0}"
    )]
    Parts(usize),
    #[error(
        "the project name `{0}` is not an escaped project name (ASCII letters, digits, `.` and \
         `_`, starting and ending with a letter or digit)"
    )]
    Name(String),
    #[error("the version `{0}` is not a PEP 440 version")]
    Version(String),
    #[error("the build tag `{0}` is not a number with an optional suffix")]
    Build(String),
    #[error("the {kind} tags `{tags}` are not `.`-separated tags of letters, digits and `_`")]
    Tags { kind: &'static str, tags: String },
}

impl WheelName {
    /// Parses a wheel file name (the last path component, not a path or URL).
    pub fn parse(filename: &str) -> Result<Self, WheelNameError> {
        let error = |reason| WheelNameError {
            filename: filename.to_owned(),
            reason,
        };
        let stem = filename
            .strip_suffix(".whl")
            .ok_or_else(|| error(WheelNameReason::Extension))?;
        let parts: Vec<&str> = stem.split('-').collect();
        let (name, version, build, python, abi, platform) = match parts[..] {
            [name, version, python, abi, platform] => (name, version, None, python, abi, platform),
            [name, version, build, python, abi, platform] => {
                (name, version, Some(build), python, abi, platform)
            }
            _ => return Err(error(WheelNameReason::Parts(parts.len()))),
        };

        let escaped = !name.contains("__")
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_');
        let package = parse_package_name(name)
            .ok()
            .filter(|_| escaped)
            .ok_or_else(|| error(WheelNameReason::Name(name.to_owned())))?;

        let version = Version::from_str(version)
            .map_err(|_| error(WheelNameReason::Version(version.to_owned())))?;

        let build = build
            .map(|build| {
                parse_build_tag(build)
                    .ok_or_else(|| error(WheelNameReason::Build(build.to_owned())))
            })
            .transpose()?;

        let tags = |kind, set: &str| {
            parse_tag_set(set).ok_or_else(|| {
                error(WheelNameReason::Tags {
                    kind,
                    tags: set.to_owned(),
                })
            })
        };
        Ok(Self {
            filename: filename.to_owned(),
            name: package,
            version,
            build,
            python_tags: tags("python", python)?,
            abi_tags: tags("ABI", abi)?,
            platform_tags: tags("platform", platform)?,
        })
    }

    /// The file name as given.
    pub fn filename(&self) -> &str {
        &self.filename
    }

    pub fn name(&self) -> &PackageName {
        &self.name
    }

    pub fn version(&self) -> &Version {
        &self.version
    }

    pub fn build(&self) -> Option<&BuildTag> {
        self.build.as_ref()
    }

    /// The python tags, lowercase, in file-name order (`py2.py3` gives `py2`, `py3`).
    pub fn python_tags(&self) -> &[String] {
        &self.python_tags
    }

    pub fn abi_tags(&self) -> &[String] {
        &self.abi_tags
    }

    pub fn platform_tags(&self) -> &[String] {
        &self.platform_tags
    }

    /// Every tag the wheel supports: the product of its three sets, sorted and
    /// without duplicates.
    pub fn tags(&self) -> Vec<Tag> {
        let mut tags = Vec::with_capacity(
            self.python_tags.len() * self.abi_tags.len() * self.platform_tags.len(),
        );
        for python in &self.python_tags {
            for abi in &self.abi_tags {
                for platform in &self.platform_tags {
                    tags.push(Tag::new(python, abi, platform));
                }
            }
        }
        tags.sort();
        tags.dedup();
        tags
    }
}

impl FromStr for WheelName {
    type Err = WheelNameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for WheelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.filename)
    }
}

/// `packaging`'s build tag rule: `^(\d+)(.*)$`.
fn parse_build_tag(build: &str) -> Option<BuildTag> {
    let digits = build.bytes().take_while(u8::is_ascii_digit).count();
    let number = build[..digits].parse().ok()?;
    Some(BuildTag {
        number,
        suffix: build[digits..].to_owned(),
    })
}

/// A `.`-separated set of tags, lowercased (as `packaging.tags.Tag` does).
fn parse_tag_set(set: &str) -> Option<Vec<String>> {
    set.split('.')
        .map(|tag| {
            let valid =
                !tag.is_empty() && tag.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
            valid.then(|| tag.to_ascii_lowercase())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(wheel: &WheelName) -> Vec<String> {
        wheel.tags().iter().map(ToString::to_string).collect()
    }

    #[test]
    fn parses_a_pure_wheel() {
        let wheel = WheelName::parse("Flask-3.1.0-py3-none-any.whl").unwrap();
        assert_eq!(wheel.name().as_ref(), "flask");
        assert_eq!(wheel.version().to_string(), "3.1.0");
        assert_eq!(wheel.build(), None);
        assert_eq!(tags(&wheel), ["py3-none-any"]);
        assert_eq!(wheel.filename(), "Flask-3.1.0-py3-none-any.whl");
        assert_eq!(wheel.to_string(), "Flask-3.1.0-py3-none-any.whl");
        assert_eq!(wheel, "Flask-3.1.0-py3-none-any.whl".parse().unwrap());
    }

    #[test]
    fn expands_compressed_tag_sets() {
        let wheel = WheelName::parse("six-1.16.0-py2.py3-none-any.whl").unwrap();
        assert_eq!(wheel.python_tags(), ["py2", "py3"]);
        assert_eq!(tags(&wheel), ["py2-none-any", "py3-none-any"]);

        let wheel = WheelName::parse(
            "markupsafe-3.0.2-cp313-cp313-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        )
        .unwrap();
        assert_eq!(wheel.name().as_ref(), "markupsafe");
        assert_eq!(wheel.abi_tags(), ["cp313"]);
        assert_eq!(
            wheel.platform_tags(),
            ["manylinux_2_17_x86_64", "manylinux2014_x86_64"]
        );
        assert_eq!(
            tags(&wheel),
            [
                "cp313-cp313-manylinux2014_x86_64",
                "cp313-cp313-manylinux_2_17_x86_64"
            ]
        );
    }

    #[test]
    fn escaped_names_normalize() {
        let wheel = WheelName::parse("typing_extensions-4.12.2-py3-none-any.whl").unwrap();
        assert_eq!(wheel.name().as_ref(), "typing-extensions");
        let wheel =
            WheelName::parse("zope.interface-7.2-cp313-cp313-manylinux_2_5_x86_64.whl").unwrap();
        assert_eq!(wheel.name().as_ref(), "zope-interface");
    }

    #[test]
    fn build_tags_and_local_versions() {
        let wheel = WheelName::parse("pkg-1.0-2-py3-none-any.whl").unwrap();
        assert_eq!(
            wheel.build(),
            Some(&BuildTag {
                number: 2,
                suffix: String::new()
            })
        );
        let wheel = WheelName::parse("pkg-1.0-10beta-py3-none-any.whl").unwrap();
        let build = wheel.build().unwrap();
        assert_eq!((build.number, build.suffix.as_str()), (10, "beta"));
        assert_eq!(build.to_string(), "10beta");
        assert!(
            BuildTag {
                number: 2,
                suffix: "z".into()
            } < BuildTag {
                number: 10,
                suffix: String::new()
            }
        );

        let wheel = WheelName::parse("torch-2.5.1+cpu-cp313-cp313-linux_x86_64.whl").unwrap();
        assert_eq!(wheel.version().to_string(), "2.5.1+cpu");
    }

    #[test]
    fn tags_compare_lowercase() {
        let wheel = WheelName::parse("pkg-1.0-PY3-NONE-Any.whl").unwrap();
        assert_eq!(tags(&wheel), ["py3-none-any"]);
    }

    #[test]
    fn bad_names_are_refused_with_the_reason() {
        for (filename, reason) in [
            ("pkg-1.0-py3-none-any.zip", "it does not end in `.whl`"),
            ("pkg-1.0-py3-none-any.WHL", "it does not end in `.whl`"),
            ("pkg-1.0.tar.gz", "it does not end in `.whl`"),
            (
                "pkg-1.0-none-any.whl",
                "expected 5 or 6 parts separated by `-` (name-version[-build]-python-abi-platform), found 4",
            ),
            (
                "my-pkg-1.0-1-py3-none-any.whl",
                "expected 5 or 6 parts separated by `-` (name-version[-build]-python-abi-platform), found 7",
            ),
            (
                ".whl",
                "expected 5 or 6 parts separated by `-` (name-version[-build]-python-abi-platform), found 1",
            ),
            (
                "-1.0-py3-none-any.whl",
                "the project name `` is not an escaped project name (ASCII letters, digits, `.` and `_`, starting and ending with a letter or digit)",
            ),
            (
                "my__pkg-1.0-py3-none-any.whl",
                "the project name `my__pkg` is not an escaped project name (ASCII letters, digits, `.` and `_`, starting and ending with a letter or digit)",
            ),
            (
                "pkg_-1.0-py3-none-any.whl",
                "the project name `pkg_` is not an escaped project name (ASCII letters, digits, `.` and `_`, starting and ending with a letter or digit)",
            ),
            (
                "pkg!-1.0-py3-none-any.whl",
                "the project name `pkg!` is not an escaped project name (ASCII letters, digits, `.` and `_`, starting and ending with a letter or digit)",
            ),
            (
                "pkg-one-py3-none-any.whl",
                "the version `one` is not a PEP 440 version",
            ),
            (
                "pkg--py3-none-any.whl",
                "the version `` is not a PEP 440 version",
            ),
            (
                "pkg-1.0-b1-py3-none-any.whl",
                "the build tag `b1` is not a number with an optional suffix",
            ),
            (
                "pkg-1.0--py3-none-any.whl",
                "the build tag `` is not a number with an optional suffix",
            ),
            (
                "pkg-1.0-99999999999999999999999-py3-none-any.whl",
                "the build tag `99999999999999999999999` is not a number with an optional suffix",
            ),
            (
                "pkg-1.0-py2..py3-none-any.whl",
                "the python tags `py2..py3` are not `.`-separated tags of letters, digits and `_`",
            ),
            (
                "pkg-1.0-py3--any.whl",
                "the ABI tags `` are not `.`-separated tags of letters, digits and `_`",
            ),
            (
                "pkg-1.0-py3-none-any .whl",
                "the platform tags `any ` are not `.`-separated tags of letters, digits and `_`",
            ),
        ] {
            let err = WheelName::parse(filename).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("`{filename}` is not a valid wheel file name: {reason}"),
            );
        }
    }
}
