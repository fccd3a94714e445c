//! Project pages of the simple repository API, parsed from the bytes an index
//! returned: PEP 691 JSON (`application/vnd.pypi.simple.v1+json`), and the PEP 503
//! HTML it replaced (with PEP 592 yanking, PEP 629 versioning, PEP 658/714 core
//! metadata). Only parsing: the client that fetches pages builds on this.
//!
//! Both forms become the same [`ProjectPage`]: files sorted by name, with absolute
//! URLs (relative links resolved against the page, or its `<base href>`), the
//! SHA-256 where the index gives one (cairn locks nothing without it), the
//! `Requires-Python` constraint, the yanked flag and whether the wheel's
//! `METADATA` can be fetched on its own. The order an index lists files in never
//! matters.

use std::collections::BTreeMap;
use std::str::FromStr;

use html5gum::{DefaultEmitter, StartTag, Token, Tokenizer};
use serde::Deserialize;
use url::Url;

use crate::digest::{DigestError, Sha256Digest};
use crate::name::{PackageName, parse_package_name};
use crate::target::Target;
use crate::version::VersionSpecifiers;
use crate::wheel_name::{WheelName, WheelNameError};

/// PEP 691's JSON media type, version 1.
pub const JSON_V1: &str = "application/vnd.pypi.simple.v1+json";
/// PEP 691's name for the PEP 503 HTML form, version 1.
pub const HTML_V1: &str = "application/vnd.pypi.simple.v1+html";
/// The `Accept` header to send: JSON preferred, HTML as the fallback, as PEP 691
/// recommends.
pub const ACCEPT: &str = "application/vnd.pypi.simple.v1+json, \
                          application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01";

/// The files of one project on one index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectPage {
    /// The page's URL, as fetched.
    pub url: Url,
    /// The project's normalized name, when the page says (JSON pages do).
    pub name: Option<PackageName>,
    /// Sorted by file name; a name appears once (entries an index lists twice for
    /// one file are merged, the same way whatever their order).
    pub files: Vec<DistFile>,
}

/// One file a project page links to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistFile {
    /// The file's name: the JSON `filename`, or the last segment of an HTML link's
    /// path, percent-decoded. Never empty, `.`, `..`, or with `/`, `\` or control
    /// characters.
    pub filename: String,
    /// Absolute, without a fragment.
    pub url: Url,
    /// The SHA-256 the index gives for the file. A file without one cannot be
    /// locked.
    pub sha256: Option<Sha256Digest>,
    /// The file's size, when the index says (PEP 700; JSON pages only).
    pub size: Option<u64>,
    pub requires_python: Option<RequiresPython>,
    pub yanked: Yanked,
    pub core_metadata: CoreMetadataFile,
}

/// PEP 592: a yanked file stays on the index, but is chosen only when a
/// requirement pins its version exactly (`==` or `===`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Yanked {
    No,
    Yes { reason: Option<String> },
}

/// Whether the index serves the file's core metadata on its own, at the file's URL
/// with `.metadata` appended (PEP 658, PEP 714), so the resolver can read a
/// wheel's dependencies without downloading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CoreMetadataFile {
    Absent,
    Present { sha256: Option<Sha256Digest> },
}

/// A file's `Requires-Python`, as the index gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequiresPython {
    Specifiers(VersionSpecifiers),
    /// Text that is not a specifier list (old uploads have `>=2.7.*` and worse).
    /// It constrains nothing, as pip ignores it; the wheel's tags and its own
    /// `METADATA` still do.
    Invalid(String),
}

/// What a file is, by its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileKind {
    Wheel(WheelName),
    /// Ends in `.whl` but the name does not parse: never installed.
    InvalidWheel(WheelNameError),
    /// A source distribution (`.tar.gz`, `.zip`, and older archive forms), which
    /// cairn does not build yet.
    SourceDist,
    /// Anything else (`.egg`, `.exe`, …).
    Other,
}

/// A page cairn cannot read: the page's URL and what is wrong with it.
#[derive(Debug)]
pub struct SimpleError {
    url: Url,
    kind: Box<SimpleErrorKind>,
}

/// What is wrong with a simple page.
#[derive(Debug, thiserror::Error)]
pub enum SimpleErrorKind {
    #[error(
        "has the content type `{content_type}`, which is not a simple API page (PEP 691 JSON \
         or PEP 503 HTML)"
    )]
    ContentType { content_type: String },
    #[error("is not valid PEP 691 JSON")]
    Json(#[source] serde_json::Error),
    #[error("is not UTF-8")]
    NotUtf8,
    #[error("has API version `{version}`; cairn reads version 1.x")]
    ApiVersion { version: String },
    #[error("is for `{name}`, which is not a valid project name")]
    ProjectName { name: String },
    #[error("links to `{href}`, which is not a valid URL")]
    Link {
        href: String,
        #[source]
        source: url::ParseError,
    },
    #[error("links to `{link}`; files are fetched over http or https, or the page's own scheme")]
    LinkScheme { link: Url },
    #[error("lists `{filename}`, which cannot be a file name")]
    Filename { filename: String },
    #[error("gives `{filename}` a malformed SHA-256")]
    Hash {
        filename: String,
        #[source]
        source: DigestError,
    },
    #[error("lists `{filename}` twice, with different hashes or URLs")]
    Duplicate { filename: String },
}

impl SimpleError {
    fn new(url: &Url, kind: SimpleErrorKind) -> Self {
        Self {
            url: url.clone(),
            kind: Box::new(kind),
        }
    }

    /// The page's URL.
    pub fn url(&self) -> &Url {
        &self.url
    }

    pub fn kind(&self) -> &SimpleErrorKind {
        &self.kind
    }
}

impl std::fmt::Display for SimpleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the simple page `{}` {}", self.url, self.kind)
    }
}

/// The kind's cause is the error's cause; the kind itself is part of the message.
impl std::error::Error for SimpleError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&*self.kind)
    }
}

impl DistFile {
    /// What the file is, by its name.
    #[expect(
        clippy::case_sensitive_file_extension_comparisons,
        reason = "`packaging` requires the lowercase `.whl` too"
    )]
    pub fn kind(&self) -> FileKind {
        if self.filename.ends_with(".whl") {
            return match WheelName::parse(&self.filename) {
                Ok(wheel) => FileKind::Wheel(wheel),
                Err(err) => FileKind::InvalidWheel(err),
            };
        }
        let lower = self.filename.to_ascii_lowercase();
        let sdist = [".tar.gz", ".zip", ".tar.bz2", ".tgz", ".tar.xz", ".tar"]
            .iter()
            .any(|extension| lower.ends_with(extension));
        if sdist {
            FileKind::SourceDist
        } else {
            FileKind::Other
        }
    }

    pub fn is_yanked(&self) -> bool {
        matches!(self.yanked, Yanked::Yes { .. })
    }

    /// Where the file's core metadata is served, when it is (PEP 658: the file's
    /// URL with `.metadata` appended to the path).
    pub fn metadata_url(&self) -> Option<Url> {
        match self.core_metadata {
            CoreMetadataFile::Absent => None,
            CoreMetadataFile::Present { .. } => {
                let mut url = self.url.clone();
                let path = format!("{}.metadata", url.path());
                url.set_path(&path);
                Some(url)
            }
        }
    }
}

impl RequiresPython {
    /// `None` for an empty constraint.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        if text.is_empty() {
            return None;
        }
        Some(match VersionSpecifiers::from_str(text) {
            Ok(specifiers) => Self::Specifiers(specifiers),
            Err(_) => Self::Invalid(text.to_owned()),
        })
    }

    /// Whether the target's Python satisfies the constraint, compared as pip
    /// compares it: the release, without a pre-release part.
    pub fn allows(&self, target: &Target) -> bool {
        match self {
            Self::Specifiers(specifiers) => specifiers.contains(&target.python_release()),
            Self::Invalid(_) => true,
        }
    }
}

/// Parses a project page by its `Content-Type`. Without one (a `file:` index, a
/// bare static server) a body starting with `{` is JSON, anything else HTML.
pub fn parse_project_page(
    body: &[u8],
    content_type: Option<&str>,
    url: &Url,
) -> Result<ProjectPage, SimpleError> {
    let Some(content_type) = content_type else {
        return if body.trim_ascii_start().starts_with(b"{") {
            parse_json_page(body, url)
        } else {
            parse_html_page(body, url)
        };
    };
    let media_type = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match media_type.as_str() {
        JSON_V1 | "application/vnd.pypi.simple.latest+json" => parse_json_page(body, url),
        HTML_V1 | "application/vnd.pypi.simple.latest+html" | "text/html" => {
            parse_html_page(body, url)
        }
        _ => Err(SimpleError::new(
            url,
            SimpleErrorKind::ContentType {
                content_type: content_type.to_owned(),
            },
        )),
    }
}

#[derive(Deserialize)]
struct JsonPage {
    #[serde(default)]
    meta: JsonMeta,
    name: Option<String>,
    files: Vec<JsonFile>,
}

#[derive(Deserialize, Default)]
struct JsonMeta {
    #[serde(rename = "api-version")]
    api_version: Option<String>,
}

#[derive(Deserialize)]
struct JsonFile {
    filename: String,
    url: String,
    #[serde(default)]
    hashes: BTreeMap<String, String>,
    #[serde(rename = "requires-python", default)]
    requires_python: Option<String>,
    #[serde(default)]
    yanked: Option<JsonYanked>,
    #[serde(default)]
    size: Option<u64>,
    #[serde(rename = "core-metadata", default)]
    core_metadata: Option<JsonMetadataFile>,
    #[serde(rename = "dist-info-metadata", default)]
    dist_info_metadata: Option<JsonMetadataFile>,
    /// The key PyPI wrote by mistake before PEP 714; pip and uv read it too.
    #[serde(rename = "data-dist-info-metadata", default)]
    data_dist_info_metadata: Option<JsonMetadataFile>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum JsonYanked {
    Flag(bool),
    Reason(String),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum JsonMetadataFile {
    Flag(bool),
    Hashes(BTreeMap<String, String>),
}

/// Parses a PEP 691 JSON project page. Unknown keys are ignored, as the PEP asks
/// of clients, so later 1.x versions (`size`, `upload-time`, `versions`) read.
pub fn parse_json_page(body: &[u8], url: &Url) -> Result<ProjectPage, SimpleError> {
    let page: JsonPage = serde_json::from_slice(body)
        .map_err(|source| SimpleError::new(url, SimpleErrorKind::Json(source)))?;
    if let Some(version) = &page.meta.api_version {
        check_api_version(version, url)?;
    }
    let name = page
        .name
        .map(|name| {
            parse_package_name(&name)
                .map_err(|_| SimpleError::new(url, SimpleErrorKind::ProjectName { name }))
        })
        .transpose()?;
    let mut files = Vec::with_capacity(page.files.len());
    for file in page.files {
        let mut link = resolve_link(url, url, &file.url)?;
        link.set_fragment(None);
        let filename = checked_filename(url, file.filename)?;
        let sha256 = file
            .hashes
            .get("sha256")
            .map(|hex| parse_sha256(url, &filename, hex))
            .transpose()?;
        // PEP 691: a truthy `yanked` means yanked, so the empty string (falsy, and
        // not the non-empty reason the PEP asks for) is not yanked, as pip reads it.
        // In HTML a `data-yanked` attribute yanks even when empty (PEP 592).
        let yanked = match file.yanked {
            None | Some(JsonYanked::Flag(false)) => Yanked::No,
            Some(JsonYanked::Reason(reason)) if reason.is_empty() => Yanked::No,
            Some(JsonYanked::Flag(true)) => Yanked::Yes { reason: None },
            Some(JsonYanked::Reason(reason)) => Yanked::Yes {
                reason: Some(reason),
            },
        };
        let core_metadata = match file
            .core_metadata
            .or(file.dist_info_metadata)
            .or(file.data_dist_info_metadata)
        {
            None | Some(JsonMetadataFile::Flag(false)) => CoreMetadataFile::Absent,
            Some(JsonMetadataFile::Flag(true)) => CoreMetadataFile::Present { sha256: None },
            Some(JsonMetadataFile::Hashes(hashes)) => CoreMetadataFile::Present {
                sha256: hashes
                    .get("sha256")
                    .map(|hex| parse_sha256(url, &filename, hex))
                    .transpose()?,
            },
        };
        files.push(DistFile {
            requires_python: file
                .requires_python
                .as_deref()
                .and_then(RequiresPython::parse),
            filename,
            url: link,
            sha256,
            size: file.size,
            yanked,
            core_metadata,
        });
    }
    Ok(ProjectPage {
        url: url.clone(),
        name,
        files: sorted_files(url, files)?,
    })
}

/// Parses a PEP 503 HTML project page: every `<a href>` whose URL path ends in a
/// file name is a file. Attribute values are HTML-unescaped by the tokenizer
/// (`data-requires-python="&gt;=3.8"` is `>=3.8`).
pub fn parse_html_page(body: &[u8], url: &Url) -> Result<ProjectPage, SimpleError> {
    let text =
        std::str::from_utf8(body).map_err(|_| SimpleError::new(url, SimpleErrorKind::NotUtf8))?;
    let mut emitter = DefaultEmitter::default();
    // Leave `<script>`, `<style>` and `<title>` text alone instead of reading tags in it.
    emitter.naively_switch_states(true);
    let mut base: Option<Url> = None;
    let mut files = Vec::new();
    for token in Tokenizer::new_with_emitter(text, emitter) {
        let Ok(token) = token;
        let Token::StartTag(tag) = token else {
            continue;
        };
        match tag.name.as_slice() {
            // Only the first `<base href>` counts (HTML's "frozen base URL").
            b"base" if base.is_none() => {
                if let Some(href) = attribute(&tag, "href") {
                    base = Some(resolve_link(url, url, &href)?);
                }
            }
            b"meta" if attribute(&tag, "name").as_deref() == Some("pypi:repository-version") => {
                if let Some(version) = attribute(&tag, "content") {
                    check_api_version(&version, url)?;
                }
            }
            b"a" => {
                if let Some(file) = html_file(&tag, url, base.as_ref().unwrap_or(url))? {
                    files.push(file);
                }
            }
            _ => {}
        }
    }
    Ok(ProjectPage {
        url: url.clone(),
        name: None,
        files: sorted_files(url, files)?,
    })
}

fn attribute(tag: &StartTag<()>, name: &str) -> Option<String> {
    tag.attributes
        .get(name.as_bytes())
        .map(|value| String::from_utf8_lossy(value.as_slice()).into_owned())
}

/// One anchor of an HTML page, or `None` for a link that names no file.
fn html_file(tag: &StartTag<()>, url: &Url, base: &Url) -> Result<Option<DistFile>, SimpleError> {
    let Some(href) = attribute(tag, "href") else {
        return Ok(None);
    };
    let mut link = resolve_link(url, base, &href)?;
    let fragment = link.fragment().map(str::to_owned);
    link.set_fragment(None);
    let Some(last) = link.path_segments().and_then(Iterator::last) else {
        return Ok(None);
    };
    if last.is_empty() {
        return Ok(None);
    }
    let filename = percent_encoding::percent_decode_str(last)
        .decode_utf8()
        .map_err(|_| {
            SimpleError::new(
                url,
                SimpleErrorKind::Filename {
                    filename: last.to_owned(),
                },
            )
        })?
        .into_owned();
    let filename = checked_filename(url, filename)?;
    let sha256 = match fragment.as_deref().and_then(|f| f.split_once('=')) {
        Some(("sha256", hex)) => Some(parse_sha256(url, &filename, hex)?),
        _ => None,
    };
    let yanked = match attribute(tag, "data-yanked") {
        None => Yanked::No,
        Some(reason) => Yanked::Yes {
            reason: Some(reason).filter(|reason| !reason.is_empty()),
        },
    };
    let metadata =
        attribute(tag, "data-core-metadata").or_else(|| attribute(tag, "data-dist-info-metadata"));
    let core_metadata = match metadata.as_deref() {
        None | Some("false") => CoreMetadataFile::Absent,
        Some("true") => CoreMetadataFile::Present { sha256: None },
        Some(value) => match value.split_once('=') {
            Some(("sha256", hex)) => CoreMetadataFile::Present {
                sha256: Some(parse_sha256(url, &filename, hex)?),
            },
            // Another hash algorithm: the file exists, but cairn cannot check it.
            Some(_) => CoreMetadataFile::Present { sha256: None },
            None => CoreMetadataFile::Absent,
        },
    };
    Ok(Some(DistFile {
        requires_python: attribute(tag, "data-requires-python")
            .as_deref()
            .and_then(RequiresPython::parse),
        filename,
        url: link,
        sha256,
        size: None,
        yanked,
        core_metadata,
    }))
}

/// PEP 629: a major version other than 1 means the client must not guess.
fn check_api_version(version: &str, url: &Url) -> Result<(), SimpleError> {
    let major = version.trim().split('.').next().unwrap_or_default();
    let minor_ok = version
        .trim()
        .split('.')
        .skip(1)
        .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()));
    if major == "1" && minor_ok {
        Ok(())
    } else {
        Err(SimpleError::new(
            url,
            SimpleErrorKind::ApiVersion {
                version: version.to_owned(),
            },
        ))
    }
}

/// A link resolved against `base`. Only http(s) links, or links with the page's
/// own scheme (a `file:` index), are files cairn may fetch.
fn resolve_link(page: &Url, base: &Url, href: &str) -> Result<Url, SimpleError> {
    let link = base.join(href.trim()).map_err(|source| {
        SimpleError::new(
            page,
            SimpleErrorKind::Link {
                href: href.to_owned(),
                source,
            },
        )
    })?;
    if matches!(link.scheme(), "http" | "https") || link.scheme() == page.scheme() {
        Ok(link)
    } else {
        Err(SimpleError::new(page, SimpleErrorKind::LinkScheme { link }))
    }
}

fn checked_filename(url: &Url, filename: String) -> Result<String, SimpleError> {
    let bad = filename.is_empty()
        || filename == "."
        || filename == ".."
        || filename
            .chars()
            .any(|c| c == '/' || c == '\\' || c.is_control());
    if bad {
        Err(SimpleError::new(
            url,
            SimpleErrorKind::Filename { filename },
        ))
    } else {
        Ok(filename)
    }
}

fn parse_sha256(url: &Url, filename: &str, hex: &str) -> Result<Sha256Digest, SimpleError> {
    Sha256Digest::from_hex(hex).map_err(|source| {
        SimpleError::new(
            url,
            SimpleErrorKind::Hash {
                filename: filename.to_owned(),
                source,
            },
        )
    })
}

/// Sorts files by name, then URL. A name listed more than once is kept once when
/// its entries agree on the file (the same SHA-256, or no hash and the same URL);
/// entries that disagree are an error, since either could be the file that gets
/// locked. Agreeing entries merge into one, the same whatever order the page lists
/// them in: the smallest URL is kept, and the rest is merged conservatively (see
/// [`DistFile::merge`]).
fn sorted_files(url: &Url, mut files: Vec<DistFile>) -> Result<Vec<DistFile>, SimpleError> {
    files.sort_by(|a, b| (&a.filename, &a.url).cmp(&(&b.filename, &b.url)));
    let mut unique: Vec<DistFile> = Vec::with_capacity(files.len());
    for file in files {
        match unique.last_mut() {
            Some(kept) if kept.filename == file.filename => {
                let agree =
                    kept.sha256 == file.sha256 && (file.sha256.is_some() || kept.url == file.url);
                if !agree {
                    return Err(SimpleError::new(
                        url,
                        SimpleErrorKind::Duplicate {
                            filename: file.filename,
                        },
                    ));
                }
                kept.merge(file);
            }
            _ => unique.push(file),
        }
    }
    Ok(unique)
}

impl DistFile {
    /// Merges another entry for the same file into this one, which has the smaller
    /// (or the same) URL and keeps it. Each field merges commutatively and
    /// associatively, so the result does not depend on the order of the entries,
    /// and conservatively: yanked if either is (with the least reason either
    /// gives), both `Requires-Python` constraints, and a separate core metadata
    /// file only when every entry offers one, with no two different hashes.
    fn merge(&mut self, other: Self) {
        debug_assert!(self.filename == other.filename && self.url <= other.url);
        self.yanked = merge_yanked(
            std::mem::replace(&mut self.yanked, Yanked::No),
            other.yanked,
        );
        self.requires_python =
            merge_requires_python(self.requires_python.take(), other.requires_python);
        // Sizes only bound the download; the hash decides.
        self.size = match (self.size, other.size) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.core_metadata = merge_core_metadata(
            std::mem::replace(&mut self.core_metadata, CoreMetadataFile::Absent),
            other.core_metadata,
        );
    }
}

fn merge_yanked(a: Yanked, b: Yanked) -> Yanked {
    match (a, b) {
        (Yanked::No, other) | (other, Yanked::No) => other,
        (Yanked::Yes { reason: a }, Yanked::Yes { reason: b }) => Yanked::Yes {
            reason: match (a, b) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            },
        },
    }
}

/// Both constraints: a file must satisfy each entry's. An invalid constraint
/// constrains nothing, so a valid one wins over it.
fn merge_requires_python(
    a: Option<RequiresPython>,
    b: Option<RequiresPython>,
) -> Option<RequiresPython> {
    use RequiresPython::{Invalid, Specifiers};
    match (a, b) {
        (None, other) | (other, None) => other,
        (Some(Invalid(a)), Some(Invalid(b))) => Some(Invalid(a.min(b))),
        (Some(Specifiers(s)), Some(Invalid(_))) | (Some(Invalid(_)), Some(Specifiers(s))) => {
            Some(Specifiers(s))
        }
        (Some(Specifiers(a)), Some(Specifiers(b))) => {
            // Equal text stays as written; otherwise the union of the specifiers,
            // sorted and without repeats, so the merge is order-independent.
            if a.to_string() == b.to_string() {
                return Some(Specifiers(a));
            }
            let mut all: Vec<_> = a
                .iter()
                .chain(b.iter())
                .map(|specifier| (specifier.clone(), specifier.to_string()))
                .collect();
            all.sort();
            all.dedup_by(|x, y| x.1 == y.1);
            Some(Specifiers(
                all.into_iter().map(|(specifier, _)| specifier).collect(),
            ))
        }
    }
}

/// `Present` only when both entries say so; a hash one gives is kept, and two
/// different hashes trust neither (the resolver then reads the wheel itself).
fn merge_core_metadata(a: CoreMetadataFile, b: CoreMetadataFile) -> CoreMetadataFile {
    use CoreMetadataFile::{Absent, Present};
    match (a, b) {
        (Absent, _) | (_, Absent) => Absent,
        (Present { sha256: Some(a) }, Present { sha256: Some(b) }) if a != b => Absent,
        (Present { sha256: a }, Present { sha256: b }) => Present { sha256: a.or(b) },
    }
}

#[cfg(test)]
mod tests;
