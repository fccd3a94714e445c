//! Core metadata (the `METADATA` file of a wheel's `.dist-info`, and the PEP 658
//! file an index serves beside it): RFC 822-style headers, as the core metadata
//! specification (PEP 566, PEP 643) defines them, then an optional body (the
//! description), which cairn ignores.
//!
//! Only what resolution needs is read: `Name`, `Version`, `Requires-Dist` (any
//! number), `Requires-Python` and `Provides-Extra`. The reading is as tolerant as
//! the `email` parser pip relies on: header names in any case, folded lines
//! (a line starting with a space or tab continues the previous header), CRLF or LF,
//! and a line that is not a header ends the headers like a blank line. What
//! resolution cannot do without is strict: `Name` and `Version` once each, every
//! `Requires-Dist` a PEP 508 requirement. `Requires-Python` is read as on a
//! simple page ([`RequiresPython::parse`]): text that is not a specifier list is
//! kept as [`RequiresPython::Invalid`] and constrains nothing, as pip ignores it.

use crate::name::{ExtraName, PackageName, parse_package_name};
use crate::requirement::{Requirement, RequirementError};
use crate::simple::RequiresPython;
use crate::version::Version;

/// The fields of a distribution's core metadata that resolution reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    /// `Metadata-Version`, as written, when present.
    pub metadata_version: Option<String>,
    pub name: PackageName,
    pub version: Version,
    /// In file order.
    pub requires_dist: Vec<Requirement>,
    /// `None` when absent or empty.
    pub requires_python: Option<RequiresPython>,
    /// Sorted, without duplicates.
    pub provides_extra: Vec<ExtraName>,
    /// `Provides-Extra` values that are not valid extra names. No requirement can
    /// ask for them, so they are set aside (as uv does) rather than failing the
    /// package; kept here so a caller can say so.
    pub ignored_extras: Vec<String>,
}

/// Metadata cairn cannot use. `origin` names where it came from (a wheel's file
/// name, or the URL of a `.metadata` file).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    #[error("the metadata of {origin} is not UTF-8 at line {line}")]
    NotUtf8 { origin: String, line: usize },
    #[error("the metadata of {origin} has no `{field}` field")]
    Missing { origin: String, field: &'static str },
    #[error("the metadata of {origin} has more than one `{field}` field")]
    Repeated { origin: String, field: &'static str },
    #[error("the metadata of {origin} names the project `{name}`, which is not a valid name")]
    Name { origin: String, name: String },
    #[error("the metadata of {origin} has the version `{version}`, which is not a PEP 440 version")]
    Version { origin: String, version: String },
    #[error("the metadata of {origin} has an invalid `Requires-Dist`")]
    RequiresDist {
        origin: String,
        #[source]
        source: RequirementError,
    },
}

/// `<name>-<version>.dist-info/METADATA` of the wheel at `path`, at most `limit`
/// bytes of it; the reason in words when it cannot be read.
pub fn read_from_wheel(path: &std::path::Path, limit: u64) -> Result<Vec<u8>, String> {
    use std::io::Read as _;
    let file = fs_err::File::open(path).map_err(|e| e.to_string())?;
    let mut archive = zip::ZipArchive::new(std::io::BufReader::new(file))
        .map_err(|e| format!("not a valid wheel (zip): {e}"))?;
    let names: Vec<String> = archive
        .file_names()
        .filter_map(|n| n.ok().map(std::borrow::Cow::into_owned))
        .filter(|n| n.ends_with(".dist-info/METADATA") && n.matches('/').count() == 1)
        .collect();
    let [name] = names.as_slice() else {
        return Err(format!(
            "the wheel {} has {} `.dist-info/METADATA` files, not one",
            path.file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
            names.len()
        ));
    };
    let mut member = archive
        .by_name(name)
        .map_err(|e| format!("cannot read `{name}`: {e}"))?;
    let mut out = Vec::new();
    member
        .by_ref()
        .take(limit)
        .read_to_end(&mut out)
        .map_err(|e| format!("cannot read `{name}`: {e}"))?;
    Ok(out)
}

impl Metadata {
    /// Parses core metadata; `origin` is used in errors.
    pub fn parse(bytes: &[u8], origin: &str) -> Result<Self, MetadataError> {
        let headers = parse_headers(bytes, origin)?;
        let all = |field: &'static str| {
            headers
                .iter()
                .filter(move |(name, _)| name.eq_ignore_ascii_case(field))
                .map(|(_, value)| value.as_str())
        };
        let single = |field: &'static str| -> Result<Option<&str>, MetadataError> {
            let mut values = all(field);
            let first = values.next();
            if values.next().is_some() {
                return Err(MetadataError::Repeated {
                    origin: origin.to_owned(),
                    field,
                });
            }
            Ok(first)
        };
        let required = |field: &'static str| -> Result<&str, MetadataError> {
            single(field)?.ok_or_else(|| MetadataError::Missing {
                origin: origin.to_owned(),
                field,
            })
        };

        let metadata_version = single("Metadata-Version")?.map(str::to_owned);
        let name = required("Name")?;
        let name = parse_package_name(name).map_err(|_| MetadataError::Name {
            origin: origin.to_owned(),
            name: name.to_owned(),
        })?;
        let version = required("Version")?;
        let version = version
            .parse::<Version>()
            .map_err(|_| MetadataError::Version {
                origin: origin.to_owned(),
                version: version.to_owned(),
            })?;
        let requires_dist = all("Requires-Dist")
            .map(|text| {
                Requirement::parse(text).map_err(|source| MetadataError::RequiresDist {
                    origin: origin.to_owned(),
                    source,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let requires_python = single("Requires-Python")?.and_then(RequiresPython::parse);
        let mut provides_extra = Vec::new();
        let mut ignored_extras = Vec::new();
        for text in all("Provides-Extra") {
            match text.parse::<ExtraName>() {
                Ok(extra) if !text.is_empty() => provides_extra.push(extra),
                _ => ignored_extras.push(text.to_owned()),
            }
        }
        provides_extra.sort();
        provides_extra.dedup();
        Ok(Self {
            metadata_version,
            name,
            version,
            requires_dist,
            requires_python,
            provides_extra,
            ignored_extras,
        })
    }
}

/// The header block as (name, unfolded value) pairs, in order. Lines end at LF,
/// CRLF or CR, as Python's `email` splits them.
fn parse_headers(bytes: &[u8], origin: &str) -> Result<Vec<(String, String)>, MetadataError> {
    let mut headers: Vec<(String, String)> = Vec::new();
    for (index, line) in lines(bytes).enumerate() {
        if line.is_empty() {
            break;
        }
        let line = std::str::from_utf8(line).map_err(|_| MetadataError::NotUtf8 {
            origin: origin.to_owned(),
            line: index + 1,
        })?;
        if line.starts_with([' ', '\t']) {
            // A continuation: RFC 5322 unfolding removes the line break only.
            if let Some((_, value)) = headers.last_mut() {
                value.push_str(line);
                continue;
            }
            break;
        }
        let Some((name, value)) = line.split_once(':') else {
            break;
        };
        let is_name = !name.is_empty() && name.bytes().all(|b| (0x21..=0x7e).contains(&b));
        if !is_name {
            break;
        }
        headers.push((name.to_owned(), value.to_owned()));
    }
    for (_, value) in &mut headers {
        *value = value.trim().to_owned();
    }
    Ok(headers)
}

fn lines(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = bytes;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let end = rest
            .iter()
            .position(|&b| b == b'\n' || b == b'\r')
            .unwrap_or(rest.len());
        let line = &rest[..end];
        let skip = match rest.get(end..end + 2) {
            Some(b"\r\n") => 2,
            _ if end < rest.len() => 1,
            _ => 0,
        };
        rest = &rest[end + skip..];
        Some(line)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLASK: &str = "Metadata-Version: 2.3
Name: Flask
Version: 3.1.0
Summary: A simple framework for building complex web applications.
Maintainer-email: Pallets <contact@palletsprojects.com>
Requires-Python: >=3.9
Classifier: Development Status :: 5 - Production/Stable
Requires-Dist: Werkzeug>=3.1
Requires-Dist: Jinja2>=3.1.2
Requires-Dist: itsdangerous>=2.2
Requires-Dist: click>=8.1.3
Requires-Dist: blinker>=1.9
Requires-Dist: importlib-metadata>=3.6; python_version < '3.10'
Requires-Dist: asgiref>=3.2 ; extra == \"async\"
Requires-Dist: python-dotenv ; extra == \"dotenv\"
Project-URL: Source, https://github.com/pallets/flask/
Provides-Extra: async
Provides-Extra: dotenv

# Flask

Flask is a lightweight [WSGI] web application framework.
Name: not-a-header
";

    #[test]
    fn parses_flask() {
        let metadata = Metadata::parse(FLASK.as_bytes(), "Flask-3.1.0-py3-none-any.whl").unwrap();
        assert_eq!(metadata.metadata_version.as_deref(), Some("2.3"));
        assert_eq!(metadata.name.as_ref(), "flask");
        assert_eq!(metadata.version.to_string(), "3.1.0");
        assert_eq!(
            metadata.requires_python,
            Some(RequiresPython::Specifiers(">=3.9".parse().unwrap()))
        );
        let requires: Vec<String> = metadata
            .requires_dist
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            requires,
            [
                "werkzeug>=3.1",
                "jinja2>=3.1.2",
                "itsdangerous>=2.2",
                "click>=8.1.3",
                "blinker>=1.9",
                "importlib-metadata>=3.6 ; python_full_version < '3.10'",
                "asgiref>=3.2 ; extra == 'async'",
                "python-dotenv ; extra == 'dotenv'",
            ]
        );
        let extras: Vec<&str> = metadata.provides_extra.iter().map(AsRef::as_ref).collect();
        assert_eq!(extras, ["async", "dotenv"]);
        assert!(metadata.ignored_extras.is_empty());
    }

    #[test]
    fn crlf_folding_and_case() {
        let text = "metadata-version: 2.1\r\nNAME: Zope.Interface\r\nversion:   7.2  \r\nRequires-Dist: setuptools\r\nrequires-dist: foo\r\n  >=1.0,\r\n\t<2 ; python_version >= '3.8'\r\nDescription: line one\r\n        |line two\r\n\r\nbody";
        let metadata = Metadata::parse(text.as_bytes(), "x").unwrap();
        assert_eq!(metadata.name.as_ref(), "zope-interface");
        assert_eq!(metadata.version.to_string(), "7.2");
        let requires: Vec<String> = metadata
            .requires_dist
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            requires,
            ["setuptools", "foo>=1.0, <2 ; python_full_version >= '3.8'"]
        );
    }

    #[test]
    fn bare_cr_line_endings() {
        let metadata =
            Metadata::parse(b"Name: a\rVersion: 1\rRequires-Dist: b\r\rbody", "x").unwrap();
        assert_eq!(metadata.requires_dist.len(), 1);
    }

    #[test]
    fn minimal_metadata() {
        let metadata = Metadata::parse(b"Name: a\nVersion: 1.0", "x").unwrap();
        assert_eq!(metadata.metadata_version, None);
        assert!(metadata.requires_dist.is_empty());
        assert_eq!(metadata.requires_python, None);
        assert!(metadata.provides_extra.is_empty());
        // An empty Requires-Python constrains nothing.
        let metadata = Metadata::parse(b"Name: a\nVersion: 1.0\nRequires-Python: \n", "x").unwrap();
        assert_eq!(metadata.requires_python, None);
    }

    #[test]
    fn invalid_requires_python_constrains_nothing() {
        // As on a simple page, and as pip reads it: kept, but ignored.
        let metadata =
            Metadata::parse(b"Name: a\nVersion: 1\nRequires-Python: >=3.8.*\n", "x").unwrap();
        let requires_python = metadata.requires_python.unwrap();
        assert_eq!(requires_python, RequiresPython::Invalid(">=3.8.*".into()));
        let target = crate::target::Target::from_debian("3.13.5-1", "2.41-12", "amd64").unwrap();
        assert!(requires_python.allows(&target));
        // The same text gives the same value on a simple page and in metadata.
        for text in ["", "  ", ">=3.9", " >=3.9 , <4 ", ">=2.7.*", "nonsense"] {
            let bytes = format!("Name: a\nVersion: 1\nRequires-Python: {text}\n");
            let metadata = Metadata::parse(bytes.as_bytes(), "x").unwrap();
            assert_eq!(
                metadata.requires_python,
                RequiresPython::parse(text),
                "{text:?}"
            );
        }
    }

    #[test]
    fn a_non_header_line_ends_the_headers() {
        let metadata = Metadata::parse(
            b"Name: a\nVersion: 1\nthis is the body\nRequires-Dist: b\n",
            "x",
        )
        .unwrap();
        assert!(metadata.requires_dist.is_empty());
        // Invalid UTF-8 in the body does not matter.
        let mut bytes = b"Name: a\nVersion: 1\n\n".to_vec();
        bytes.extend_from_slice(&[0xff, 0xfe, b'\n']);
        assert!(Metadata::parse(&bytes, "x").is_ok());
    }

    #[test]
    fn extras_are_normalized_and_invalid_ones_set_aside() {
        let metadata = Metadata::parse(
            b"Name: a\nVersion: 1\nProvides-Extra: Socks_Proxy\nProvides-Extra: socks-proxy\nProvides-Extra: tests\nProvides-Extra: c++\nProvides-Extra:\n",
            "x",
        )
        .unwrap();
        let extras: Vec<&str> = metadata.provides_extra.iter().map(AsRef::as_ref).collect();
        assert_eq!(extras, ["socks-proxy", "tests"]);
        assert_eq!(metadata.ignored_extras, ["c++", ""]);
    }

    #[test]
    fn errors_say_what_and_where() {
        let origin = "pkg-1.0-py3-none-any.whl";
        for (text, message) in [
            (&b"Version: 1.0\n"[..], "has no `Name` field"),
            (b"Name: a\n", "has no `Version` field"),
            (b"\nName: a\nVersion: 1\n", "has no `Name` field"),
            (
                b"Name: a\nName: b\nVersion: 1\n",
                "has more than one `Name` field",
            ),
            (
                b"Name: a\nVersion: 1\nVersion: 2\n",
                "has more than one `Version` field",
            ),
            (
                b"Name: a\nVersion: 1\nRequires-Python: >=3\nRequires-Python: >=3.8\n",
                "has more than one `Requires-Python` field",
            ),
            (
                b"Name: -a-\nVersion: 1\n",
                "names the project `-a-`, which is not a valid name",
            ),
            (
                b"Name: \nVersion: 1\n",
                "names the project ``, which is not a valid name",
            ),
            (
                b"Name: a\nVersion: one\n",
                "has the version `one`, which is not a PEP 440 version",
            ),
            (
                b"Name: a\nVersion: 1\nRequires-Dist: b >=\n",
                "has an invalid `Requires-Dist`",
            ),
            (
                b"Name: a\nVersion: 1\nRequires-Dist: b @ https://example.com/b.whl\n",
                "has an invalid `Requires-Dist`",
            ),
            (
                b"Name: a\nVersion: 1\nSummary: caf\xe9\n",
                "is not UTF-8 at line 3",
            ),
        ] {
            let err = Metadata::parse(text, origin).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("the metadata of {origin} {message}")
            );
        }
    }

    #[test]
    fn requirement_errors_keep_their_cause() {
        let err = Metadata::parse(b"Name: a\nVersion: 1\nRequires-Dist: b >=\n", "x").unwrap_err();
        let source = std::error::Error::source(&err).unwrap();
        assert!(
            source.to_string().starts_with("invalid requirement `b >=`"),
            "{source}"
        );
    }
}
