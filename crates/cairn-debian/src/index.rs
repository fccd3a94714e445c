//! `Packages` indexes: one deb822 stanza per binary package (Debian Policy §5.3; the
//! archive's `Packages` files add `Filename`, `Size` and `SHA256`).
//!
//! Parsing uses `deb822-fast`'s borrowed parser (no allocation per field) and then
//! builds typed [`BinaryPackage`]s, refusing stanzas that lack what cairn relies on.
//! The real trixie/bookworm main amd64 index (~63,000 stanzas) parses in well under a
//! second (`bench/RESULTS.md`).

use std::borrow::Cow;
use std::fmt;

use deb822_fast::borrowed::{BorrowedParagraph, BorrowedParagraphIter};

use crate::relation::{Clause, RelationError, parse_relations};
use crate::version::{Version, VersionError};

/// `Multi-Arch` (https://wiki.debian.org/Multiarch/Implementation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MultiArch {
    #[default]
    No,
    Same,
    Foreign,
    Allowed,
}

/// One binary package from an index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinaryPackage {
    pub name: String,
    pub version: Version,
    pub architecture: String,
    pub multi_arch: MultiArch,
    pub essential: bool,
    /// `Protected: yes` (or the older `Important: yes`): apt prefers such providers.
    pub protected: bool,
    pub priority: Option<String>,
    /// The source package's name, and its version when it differs from the binary's.
    pub source: String,
    pub source_version: Option<Version>,
    pub depends: Vec<Clause>,
    pub pre_depends: Vec<Clause>,
    pub recommends: Vec<Clause>,
    pub suggests: Vec<Clause>,
    pub conflicts: Vec<Clause>,
    pub breaks: Vec<Clause>,
    pub replaces: Vec<Clause>,
    pub enhances: Vec<Clause>,
    pub provides: Vec<Clause>,
    /// Path of the `.deb` relative to the mirror root (`pool/main/…`).
    pub filename: String,
    pub size: u64,
    /// Lowercase hex SHA-256 of the `.deb`.
    pub sha256: String,
}

/// Why an index was refused.
#[derive(Debug, Clone, thiserror::Error)]
pub enum IndexError {
    #[error("The index is not valid deb822: {0}")]
    Syntax(String),
    #[error("Stanza {stanza} of the index (package `{package}`) has no `{field}` field")]
    MissingField {
        stanza: usize,
        package: String,
        field: &'static str,
    },
    #[error("Stanza {stanza} of the index (package `{package}`): invalid `{field}`: {reason}")]
    InvalidField {
        stanza: usize,
        package: String,
        field: &'static str,
        reason: String,
    },
}

/// Joins the lines of a deb822 field value (continuation lines come without their
/// leading white space), trimmed.
pub(crate) fn joined<'a>(lines: &[&'a str]) -> Option<Cow<'a, str>> {
    match lines {
        [] => None,
        [one] => Some(Cow::Borrowed(one.trim())),
        many => Some(Cow::Owned(
            many.iter()
                .map(|l| l.trim())
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join(" "),
        )),
    }
}

struct Stanza<'p, 'a> {
    paragraph: &'p BorrowedParagraph<'a>,
    index: usize,
    package: &'a str,
}

impl<'a> Stanza<'_, 'a> {
    /// A field's value; folded (multi-line) values are joined with spaces, so a
    /// `Depends` split over lines is read whole, never as absent.
    fn optional(&self, field: &'static str) -> Option<Cow<'a, str>> {
        joined(self.paragraph.get(field)?)
    }

    fn required(&self, field: &'static str) -> Result<Cow<'a, str>, IndexError> {
        self.optional(field)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| IndexError::MissingField {
                stanza: self.index,
                package: self.package.to_owned(),
                field,
            })
    }

    fn invalid(&self, field: &'static str, reason: impl fmt::Display) -> IndexError {
        IndexError::InvalidField {
            stanza: self.index,
            package: self.package.to_owned(),
            field,
            reason: reason.to_string(),
        }
    }

    /// A yes/no field as apt reads it: `yes` (or `true`), in any case.
    fn flag(&self, field: &'static str) -> bool {
        self.optional(field)
            .is_some_and(|v| v.eq_ignore_ascii_case("yes") || v.eq_ignore_ascii_case("true"))
    }

    fn relations(&self, field: &'static str) -> Result<Vec<Clause>, IndexError> {
        match self.optional(field) {
            None => Ok(Vec::new()),
            Some(text) => parse_relations(&text).map_err(|e: RelationError| self.invalid(field, e)),
        }
    }

    fn version(&self, field: &'static str, text: &str) -> Result<Version, IndexError> {
        text.parse()
            .map_err(|e: VersionError| self.invalid(field, e))
    }
}

fn binary_package(stanza: &Stanza<'_, '_>) -> Result<BinaryPackage, IndexError> {
    let version = stanza.version("Version", &stanza.required("Version")?)?;
    let multi_arch = match stanza.optional("Multi-Arch").as_deref() {
        None | Some("no") => MultiArch::No,
        Some("same") => MultiArch::Same,
        Some("foreign") => MultiArch::Foreign,
        Some("allowed") => MultiArch::Allowed,
        Some(other) => return Err(stanza.invalid("Multi-Arch", format!("unknown value `{other}`"))),
    };
    // `Source: name` or `Source: name (version)`; absent means the same as the package.
    let (source, source_version) = match stanza.optional("Source").as_deref() {
        None => (stanza.package.to_owned(), None),
        Some(text) => match text.split_once('(') {
            Some((name, rest)) => {
                let v = rest
                    .strip_suffix(')')
                    .ok_or_else(|| stanza.invalid("Source", "unclosed `(`"))?;
                (
                    name.trim().to_owned(),
                    Some(stanza.version("Source", v.trim())?),
                )
            }
            None => (text.to_owned(), None),
        },
    };
    let size = stanza.required("Size")?;
    let sha256 = stanza.required("SHA256")?;
    if sha256.len() != 64
        || !sha256
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(stanza.invalid("SHA256", "not 64 lowercase hex digits"));
    }
    Ok(BinaryPackage {
        name: stanza.package.to_owned(),
        version,
        architecture: stanza.required("Architecture")?.into_owned(),
        multi_arch,
        essential: stanza.flag("Essential"),
        protected: stanza.flag("Protected") || stanza.flag("Important"),
        priority: stanza.optional("Priority").map(Cow::into_owned),
        source,
        source_version,
        depends: stanza.relations("Depends")?,
        pre_depends: stanza.relations("Pre-Depends")?,
        recommends: stanza.relations("Recommends")?,
        suggests: stanza.relations("Suggests")?,
        conflicts: stanza.relations("Conflicts")?,
        breaks: stanza.relations("Breaks")?,
        replaces: stanza.relations("Replaces")?,
        enhances: stanza.relations("Enhances")?,
        provides: stanza.relations("Provides")?,
        filename: stanza.required("Filename")?.into_owned(),
        size: size.parse().map_err(|e| stanza.invalid("Size", e))?,
        sha256: sha256.into_owned(),
    })
}

/// Parses a whole `Packages` index. Large indexes are split at stanza boundaries and
/// parsed on all cores; the result (and any error) is the same as a sequential parse.
pub fn parse_packages(text: &str) -> Result<Vec<BinaryPackage>, IndexError> {
    const MIN_CHUNK: usize = 4 << 20;
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let chunks = threads.min(text.len() / MIN_CHUNK).max(1);
    if chunks == 1 {
        return parse_sequential(text);
    }
    let mut parts = Vec::with_capacity(chunks);
    let mut start = 0;
    for k in 1..chunks {
        let target = (text.len() * k / chunks).max(start);
        // Cut after a blank line, so every part holds whole stanzas. Searched in bytes:
        // `target` need not be a character boundary, the cut (after a `\n`) always is.
        match text.as_bytes()[target..]
            .windows(2)
            .position(|w| w == b"\n\n")
        {
            Some(at) => {
                parts.push(&text[start..target + at + 2]);
                start = target + at + 2;
            }
            None => break,
        }
    }
    parts.push(&text[start..]);
    let results: Vec<Result<Vec<BinaryPackage>, IndexError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = parts
            .iter()
            .map(|part| scope.spawn(|| parse_sequential(part)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("parsing does not panic"))
            .collect()
    });
    let mut packages = Vec::new();
    for result in results {
        match result {
            Ok(mut part) => packages.append(&mut part),
            // Errors name the stanza by its number in the whole index: parse again
            // sequentially to report it exactly.
            Err(_) => return parse_sequential(text),
        }
    }
    Ok(packages)
}

fn parse_sequential(text: &str) -> Result<Vec<BinaryPackage>, IndexError> {
    // Stream the paragraphs: each is converted and dropped before the next is parsed,
    // so memory holds the typed packages, not also every raw paragraph.
    let mut packages = Vec::new();
    for (index, paragraph) in BorrowedParagraphIter::new(text).enumerate() {
        let paragraph = paragraph.map_err(|e| IndexError::Syntax(e.to_string()))?;
        let package = paragraph
            .get_single("Package")
            .map(str::trim)
            .unwrap_or_default();
        let stanza = Stanza {
            paragraph: &paragraph,
            index: index + 1,
            package,
        };
        if package.is_empty() {
            return Err(IndexError::MissingField {
                stanza: index + 1,
                package: "?".into(),
                field: "Package",
            });
        }
        packages.push(binary_package(&stanza)?);
    }
    Ok(packages)
}

/// Where one stanza of an index is, with the few fields that are read without parsing
/// it (byte ranges into the index text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StanzaSpan {
    pub range: std::ops::Range<usize>,
    pub name: std::ops::Range<usize>,
    pub architecture: std::ops::Range<usize>,
    /// The `Provides` value; it may continue over several lines.
    pub provides: Option<std::ops::Range<usize>>,
}

/// Finds the stanzas of an index without parsing them: a fast pass that keeps only
/// each stanza's place, `Package`, `Architecture` and `Provides`. The rest is parsed on
/// demand with [`parse_stanza`]. Refuses stanzas without `Package` or `Architecture`.
pub fn scan_stanzas(text: &str) -> Result<Vec<StanzaSpan>, IndexError> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        // Skip blank lines between stanzas.
        if bytes[pos] == b'\n' {
            pos += 1;
            continue;
        }
        let start = pos;
        let (mut name, mut architecture, mut provides) = (None, None, None);
        let mut field: Option<usize> = None;
        loop {
            let end = memchr_newline(bytes, pos);
            let line = &text[pos..end];
            // A line of only spaces and tabs ends a stanza, as for apt.
            if line.trim_matches([' ', '\t', '\r']).is_empty() {
                break;
            }
            if line.starts_with([' ', '\t']) {
                // A continuation line extends the field it follows.
                if field == Some(2)
                    && let Some(range) = &mut provides
                {
                    let range: &mut std::ops::Range<usize> = range;
                    range.end = end;
                }
            } else if let Some((key, _)) = line.split_once(':') {
                let value_start = pos + key.len() + 1;
                let trimmed = trim_range(text, value_start..end);
                // A repeated field keeps its first value, as the full parser does.
                field = match key {
                    "Package" if name.is_none() => {
                        name = Some(trimmed);
                        Some(0)
                    }
                    "Architecture" if architecture.is_none() => {
                        architecture = Some(trimmed);
                        Some(1)
                    }
                    "Provides" if provides.is_none() => {
                        provides = Some(trimmed);
                        Some(2)
                    }
                    _ => None,
                };
            }
            pos = (end + 1).min(bytes.len());
            if end >= bytes.len() {
                break;
            }
        }
        let stanza = out.len() + 1;
        let missing = |field| IndexError::MissingField {
            stanza,
            package: name
                .clone()
                .map_or_else(|| "?".to_owned(), |r| text[r].to_owned()),
            field,
        };
        let name_range = name
            .clone()
            .filter(|r| !r.is_empty())
            .ok_or_else(|| missing("Package"))?;
        let architecture = architecture
            .filter(|r| !r.is_empty())
            .ok_or_else(|| missing("Architecture"))?;
        out.push(StanzaSpan {
            range: start..pos,
            name: name_range,
            architecture,
            provides,
        });
    }
    Ok(out)
}

fn memchr_newline(bytes: &[u8], from: usize) -> usize {
    bytes[from..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |at| from + at)
}

fn trim_range(text: &str, range: std::ops::Range<usize>) -> std::ops::Range<usize> {
    let value = &text[range.clone()];
    let start = range.start + (value.len() - value.trim_start().len());
    let end = range.end - (value.len() - value.trim_end().len());
    start..end.max(start)
}

/// Parses the stanza at `span` of `text` (`number` counts from 1, for errors).
pub fn parse_stanza(
    text: &str,
    span: &StanzaSpan,
    number: usize,
) -> Result<BinaryPackage, IndexError> {
    let slice = &text[span.range.clone()];
    let paragraph = BorrowedParagraphIter::new(slice)
        .next()
        .ok_or_else(|| IndexError::Syntax(format!("stanza {number} is empty")))?
        .map_err(|e| IndexError::Syntax(e.to_string()))?;
    let stanza = Stanza {
        paragraph: &paragraph,
        index: number,
        package: &text[span.name.clone()],
    };
    binary_package(&stanza)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
Package: python3
Source: python3-defaults (3.11.2-1)
Version: 3.11.2-1+b1
Installed-Size: 90
Maintainer: Matthias Klose <doko@debian.org>
Architecture: amd64
Multi-Arch: allowed
Replaces: python3-minimal (<< 3.1.2-2)
Provides: python3-profiler
Depends: python3.11 (>= 3.11.2-1~), libpython3-stdlib (= 3.11.2-1+b1)
Pre-Depends: python3-minimal (= 3.11.2-1+b1)
Suggests: python3-doc (>= 3.11.2-1+b1), python3-tk (>= 3.11.2-0~), python3-venv (>= 3.11.2-1+b1)
Description: interactive high-level object-oriented language (default python3 version)
 This package is a dependency package.
Priority: optional
Section: python
Filename: pool/main/p/python3-defaults/python3_3.11.2-1+b1_amd64.deb
Size: 26196
SHA256: 1e0bc2f6e3b5ad6e3b0e8f8f3c8b1f2c3d4e5f60718293a4b5c6d7e8f9012345

Package: base-files
Version: 12.4+deb12u5
Architecture: amd64
Essential: yes
Filename: pool/main/b/base-files/base-files_12.4+deb12u5_amd64.deb
Size: 70968
SHA256: 0000000000000000000000000000000000000000000000000000000000000000
";

    #[test]
    fn large_indexes_split_anywhere_in_utf8() {
        // Found in review: the split point was a byte offset that could fall inside a
        // multi-byte character. Every stanza here is full of them.
        let stanza = SAMPLE.replace(
            "Description: interactive high-level object-oriented language (default python3 version)",
            &format!("Description: {}", "é".repeat(3000)),
        );
        let mut text = String::new();
        while text.len() < 9 << 20 {
            text.push_str(&stanza);
            text.push('\n');
        }
        let packages = parse_packages(&text).unwrap();
        assert_eq!(packages.len(), scan_stanzas(&text).unwrap().len());
        // A 9 MiB index is cut in two at its middle byte: prefix blank lines until that
        // byte is inside a character, then parse.
        let shift = (0..20_000)
            .find(|shift| !text.is_char_boundary((text.len() + shift) / 2 - shift))
            .unwrap();
        let shifted = format!("{}{text}", "\n".repeat(shift));
        assert!(!shifted.is_char_boundary(shifted.len() / 2));
        assert_eq!(parse_packages(&shifted).unwrap().len(), packages.len());
    }

    #[test]
    fn scanning_finds_what_parsing_finds() {
        let text = SAMPLE.replace(
            "Provides: python3-profiler",
            "Provides: python3-profiler,\n python3-supported-min (= 3.11)",
        );
        let spans = scan_stanzas(&text).unwrap();
        let parsed = parse_packages(&text).unwrap();
        assert_eq!(spans.len(), parsed.len());
        for (i, (span, package)) in spans.iter().zip(&parsed).enumerate() {
            assert_eq!(&text[span.name.clone()], package.name);
            assert_eq!(&text[span.architecture.clone()], package.architecture);
            assert_eq!(&parse_stanza(&text, span, i + 1).unwrap(), package);
        }
        let provides = &text[spans[0].provides.clone().unwrap()];
        assert_eq!(
            parse_relations(provides).unwrap(),
            parsed[0].provides,
            "a folded Provides is read whole"
        );
        assert!(spans[1].provides.is_none());
        let err = scan_stanzas("Package: a\nArchitecture: all\n\nVersion: 2\n").unwrap_err();
        assert!(err.to_string().contains("Stanza 2"), "{err}");
    }

    #[test]
    fn parses_typed_stanzas() {
        let packages = parse_packages(SAMPLE).unwrap();
        assert_eq!(packages.len(), 2);
        let p = &packages[0];
        assert_eq!(
            (p.name.as_str(), p.version.as_str(), p.architecture.as_str()),
            ("python3", "3.11.2-1+b1", "amd64")
        );
        assert_eq!(p.multi_arch, MultiArch::Allowed);
        assert_eq!(p.source, "python3-defaults");
        assert_eq!(p.source_version.as_ref().unwrap().as_str(), "3.11.2-1");
        assert_eq!(p.depends.len(), 2);
        assert_eq!(
            p.pre_depends[0].to_string(),
            "python3-minimal (= 3.11.2-1+b1)"
        );
        assert_eq!(p.size, 26196);
        assert!(!p.essential && packages[1].essential);
        assert_eq!(packages[1].source, "base-files");
    }

    #[test]
    fn folded_fields_are_read_whole() {
        // Found in review: a Depends split over lines was read as absent.
        let folded = SAMPLE.replace(
            "Depends: python3.11 (>= 3.11.2-1~), libpython3-stdlib (= 3.11.2-1+b1)",
            "Depends: python3.11 (>= 3.11.2-1~),\n libpython3-stdlib (= 3.11.2-1+b1)",
        );
        let packages = parse_packages(&folded).unwrap();
        let names: Vec<&str> = packages[0]
            .depends
            .iter()
            .map(|c| c.0[0].name.as_str())
            .collect();
        assert_eq!(names, ["python3.11", "libpython3-stdlib"]);
    }

    #[test]
    fn refuses_stanzas_missing_what_cairn_needs() {
        let missing = SAMPLE.replace(
            "SHA256: 0000000000000000000000000000000000000000000000000000000000000000\n",
            "",
        );
        let err = parse_packages(&missing).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Stanza 2 of the index (package `base-files`) has no `SHA256` field"
        );
        let bad_version = SAMPLE.replace("Version: 12.4+deb12u5", "Version: twelve");
        let err = parse_packages(&bad_version).unwrap_err();
        assert!(err.to_string().contains("invalid `Version`"), "{err}");
        let bad_dep = SAMPLE.replace("python3.11 (>= 3.11.2-1~)", "python3.11 (>= 3.11.2-1~");
        let err = parse_packages(&bad_dep).unwrap_err();
        assert!(
            err.to_string()
                .contains("package `python3`): invalid `Depends`"),
            "{err}"
        );
        let bad_hash = SAMPLE.replace("1e0bc2f6", "1E0BC2F6");
        assert!(
            parse_packages(&bad_hash)
                .unwrap_err()
                .to_string()
                .contains("SHA256")
        );
    }
}
