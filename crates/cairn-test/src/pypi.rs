//! Fixture Python package indexes, generated for tests: wheels built in memory with
//! the metadata an installer reads (binary distribution format, PEP 427 and its
//! successor spec), and a simple-API tree written to disk for
//! [`TestServer::serve_dir`](crate::TestServer::serve_dir) to serve from 127.0.0.1:
//! PEP 503 HTML and PEP 691 JSON pages (API version 1.1: PEP 700 `size` and
//! `versions`), PEP 592 yanked files, PEP 658/714 core metadata files.
//!
//! Everything is deterministic: the same builders give the same bytes, so tests may
//! compare digests across runs. The defect knobs ([`WheelBuilder::corrupt_record_hash`],
//! [`WheelBuilder::unrecorded_file`], [`WheelBuilder::raw_member`],
//! [`FileOptions::wrong_hash`]) each make exactly one thing wrong, for negative tests.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{Cursor, Write as _};
use std::path::Path;

use data_encoding::{BASE64URL_NOPAD, HEXLOWER};
use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

use crate::write_file;

/// The `Generator` a fixture wheel's `WHEEL` file names.
const GENERATOR: &str = "cairn-test";

/// A member of a wheel being built.
#[derive(Debug, Clone)]
struct Member {
    contents: Vec<u8>,
    mode: u32,
    /// Whether RECORD lists it (false only for [`WheelBuilder::unrecorded_file`]).
    recorded: bool,
}

/// Builds the bytes of a wheel: payload files, `.data` files, and a `.dist-info`
/// directory with `METADATA` (Metadata-Version 2.1), `WHEEL`, `entry_points.txt` (when
/// there are entry points) and `RECORD` (sha256 and size of every member).
///
/// Members are stored deflated with the zip epoch (1980-01-01 00:00:00) as their time,
/// payload first in path order, then the `.dist-info` files, `RECORD` last, as the
/// spec recommends. A file added at a generated path (say `<dist-info>/METADATA`)
/// replaces the generated one.
#[derive(Debug, Clone)]
pub struct WheelBuilder {
    name: String,
    version: String,
    tag: String,
    requires_dist: Vec<String>,
    provides_extra: Vec<String>,
    requires_python: Option<String>,
    members: BTreeMap<String, Member>,
    /// Entry points by group, in the order they were added within a group.
    entry_points: BTreeMap<String, Vec<(String, String)>>,
    corrupt_hashes: Vec<String>,
}

impl WheelBuilder {
    /// A pure-Python wheel (`py3-none-any`) for `name` (as written in `Name:`, any case
    /// and separators) and `version`, with no files yet.
    pub fn new(name: &str, version: &str) -> Self {
        Self {
            name: name.into(),
            version: version.into(),
            tag: "py3-none-any".into(),
            requires_dist: Vec::new(),
            provides_extra: Vec::new(),
            requires_python: None,
            members: BTreeMap::new(),
            entry_points: BTreeMap::new(),
            corrupt_hashes: Vec::new(),
        }
    }

    /// Sets the filename's tag triple, e.g. `cp312-cp312-manylinux_2_17_x86_64` or
    /// the compressed `py2.py3-none-any`; `WHEEL` gets one `Tag:` line per expanded
    /// tag, and `Root-Is-Purelib` is true when every platform is `any`.
    #[must_use]
    pub fn tag(mut self, tag: &str) -> Self {
        assert_eq!(
            tag.split('-').count(),
            3,
            "a wheel tag is python-abi-platform, not `{tag}`"
        );
        self.tag = tag.into();
        self
    }

    /// Adds a `Requires-Dist:` line, e.g. `werkzeug>=1; extra == "x"`.
    #[must_use]
    pub fn requires_dist(mut self, requirement: &str) -> Self {
        self.requires_dist.push(requirement.into());
        self
    }

    /// Adds a `Provides-Extra:` line.
    #[must_use]
    pub fn provides_extra(mut self, extra: &str) -> Self {
        self.provides_extra.push(extra.into());
        self
    }

    /// Sets the `Requires-Python:` line.
    #[must_use]
    pub fn requires_python(mut self, specifiers: &str) -> Self {
        self.requires_python = Some(specifiers.into());
        self
    }

    /// Adds a payload file (mode 0644) at a relative path such as `pkg/__init__.py`,
    /// replacing one already at that path.
    #[must_use]
    pub fn file(self, path: &str, contents: &[u8]) -> Self {
        self.checked_member(path, contents, 0o644)
    }

    /// Adds an executable payload file (mode 0755).
    #[must_use]
    pub fn executable_file(self, path: &str, contents: &[u8]) -> Self {
        self.checked_member(path, contents, 0o755)
    }

    /// Adds a file under the wheel's `.data` directory:
    /// `<name>-<version>.data/<category>/<path>`, where `category` is `scripts`,
    /// `data`, `headers`, `purelib` or `platlib`. Scripts get mode 0755, others 0644.
    #[must_use]
    pub fn data(self, category: &str, path: &str, contents: &[u8]) -> Self {
        let mode = if category == "scripts" { 0o755 } else { 0o644 };
        let member = format!("{}/{category}/{path}", self.data_dir());
        self.checked_member(&member, contents, mode)
    }

    /// Adds an entry point (`name = value` under `[group]` in `entry_points.txt`),
    /// e.g. `("console_scripts", "hello", "pkg.cli:main")`.
    #[must_use]
    pub fn entry_point(mut self, group: &str, name: &str, value: &str) -> Self {
        self.entry_points
            .entry(group.into())
            .or_default()
            .push((name.into(), value.into()));
        self
    }

    /// Defect: RECORD lists a wrong sha256 (with the right size) for the member at
    /// `path`, which must be a recorded member when the wheel is built.
    #[must_use]
    pub fn corrupt_record_hash(mut self, path: &str) -> Self {
        self.corrupt_hashes.push(path.into());
        self
    }

    /// Defect: a member that RECORD does not list.
    #[must_use]
    pub fn unrecorded_file(mut self, path: &str, contents: &[u8]) -> Self {
        self.members.insert(
            path.into(),
            Member {
                contents: contents.to_vec(),
                mode: 0o644,
                recorded: false,
            },
        );
        self
    }

    /// Defect: a member with any name at all (`../../etc/evil`, `/abs`, `a\b`), listed
    /// in RECORD with its right hash and size, so that only the name is wrong.
    #[must_use]
    pub fn raw_member(mut self, path: &str, contents: &[u8]) -> Self {
        self.members.insert(
            path.into(),
            Member {
                contents: contents.to_vec(),
                mode: 0o644,
                recorded: true,
            },
        );
        self
    }

    /// The project name as given to [`new`](Self::new).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The version as given to [`new`](Self::new).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// `<name>-<version>-<tag>.whl`, with the name and version escaped as PEP 427 says
    /// (runs of characters other than letters, digits and `.` in the name become `_`;
    /// `-` in the version becomes `_`).
    pub fn filename(&self) -> String {
        format!("{}-{}.whl", self.stem(), self.tag)
    }

    /// `<name>-<version>.dist-info`, escaped as in [`filename`](Self::filename).
    pub fn dist_info_dir(&self) -> String {
        format!("{}.dist-info", self.stem())
    }

    /// `<name>-<version>.data`, escaped as in [`filename`](Self::filename).
    pub fn data_dir(&self) -> String {
        format!("{}.data", self.stem())
    }

    /// The `METADATA` file's bytes, as in the wheel (and as an index serves them for
    /// PEP 658): a file added at `<dist-info>/METADATA` if there is one, else the
    /// generated one.
    pub fn metadata(&self) -> Vec<u8> {
        let path = format!("{}/METADATA", self.dist_info_dir());
        match self.members.get(&path) {
            Some(member) => member.contents.clone(),
            None => self.generated_metadata().into_bytes(),
        }
    }

    /// The wheel's bytes.
    pub fn build(&self) -> Vec<u8> {
        let dist_info = self.dist_info_dir();
        let record_path = format!("{dist_info}/RECORD");
        let mut generated = vec![
            ("METADATA", self.generated_metadata()),
            ("WHEEL", self.generated_wheel()),
        ];
        if !self.entry_points.is_empty() {
            generated.push(("entry_points.txt", self.generated_entry_points()));
        }
        let mut members = self.members.clone();
        for (file, contents) in generated {
            members
                .entry(format!("{dist_info}/{file}"))
                .or_insert_with(|| Member {
                    contents: contents.into_bytes(),
                    mode: 0o644,
                    recorded: true,
                });
        }
        for path in &self.corrupt_hashes {
            assert!(
                members.get(path).is_some_and(|member| member.recorded),
                "corrupt_record_hash({path:?}): no recorded member has that path"
            );
        }
        // Payload first, then `.dist-info`, `RECORD` last (a file added at its path
        // replaces the generated one, and is last all the same).
        let record = members.remove(&record_path);
        let (meta, payload): (Vec<_>, Vec<_>) = members
            .into_iter()
            .partition(|(path, _)| path.starts_with(&format!("{dist_info}/")));
        let mut ordered: Vec<(String, Member)> = payload.into_iter().chain(meta).collect();
        let record = record.unwrap_or_else(|| Member {
            contents: self.record(&ordered, &record_path).into_bytes(),
            mode: 0o644,
            recorded: true,
        });
        ordered.push((record_path, record));

        let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
        for (path, member) in &ordered {
            let options = SimpleFileOptions::default()
                .compression_method(CompressionMethod::Deflated)
                .compression_level(Some(6))
                .last_modified_time(DateTime::default())
                .unix_permissions(member.mode);
            zip.start_file(path.as_str(), options)
                .expect("start a zip member in memory");
            zip.write_all(&member.contents)
                .expect("write a zip member in memory");
        }
        zip.finish().expect("finish a zip in memory").into_inner()
    }

    /// Adds a payload member after checking that its path is a plain relative one
    /// (hostile names go through [`raw_member`](Self::raw_member)).
    fn checked_member(mut self, path: &str, contents: &[u8], mode: u32) -> Self {
        assert!(
            !path.is_empty()
                && !path.starts_with('/')
                && !path.contains('\\')
                && path
                    .split('/')
                    .all(|segment| !matches!(segment, "" | "." | "..")),
            "{path:?} is not a plain relative path; use raw_member for a hostile one"
        );
        self.members.insert(
            path.into(),
            Member {
                contents: contents.to_vec(),
                mode,
                recorded: true,
            },
        );
        self
    }

    /// `<escaped name>-<escaped version>`.
    fn stem(&self) -> String {
        format!(
            "{}-{}",
            escape_wheel_name(&self.name),
            self.version.replace('-', "_")
        )
    }

    fn generated_metadata(&self) -> String {
        let mut metadata = format!(
            "Metadata-Version: 2.1\nName: {}\nVersion: {}\n",
            self.name, self.version
        );
        if let Some(specifiers) = &self.requires_python {
            writeln!(metadata, "Requires-Python: {specifiers}").expect("write to a String");
        }
        for extra in &self.provides_extra {
            writeln!(metadata, "Provides-Extra: {extra}").expect("write to a String");
        }
        for requirement in &self.requires_dist {
            writeln!(metadata, "Requires-Dist: {requirement}").expect("write to a String");
        }
        metadata
    }

    fn generated_wheel(&self) -> String {
        let mut parts = self.tag.split('-');
        let (python, abi, platform) = (
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default(),
        );
        let purelib = platform.split('.').all(|platform| platform == "any");
        let mut wheel =
            format!("Wheel-Version: 1.0\nGenerator: {GENERATOR}\nRoot-Is-Purelib: {purelib}\n");
        for python in python.split('.') {
            for abi in abi.split('.') {
                for platform in platform.split('.') {
                    writeln!(wheel, "Tag: {python}-{abi}-{platform}").expect("write to a String");
                }
            }
        }
        wheel
    }

    fn generated_entry_points(&self) -> String {
        let mut text = String::new();
        for (group, entries) in &self.entry_points {
            if !text.is_empty() {
                text.push('\n');
            }
            writeln!(text, "[{group}]").expect("write to a String");
            for (name, value) in entries {
                writeln!(text, "{name} = {value}").expect("write to a String");
            }
        }
        text
    }

    /// RECORD for `members` (in their order), with `RECORD,,` last.
    fn record(&self, members: &[(String, Member)], record_path: &str) -> String {
        let mut record = String::new();
        for (path, member) in members.iter().filter(|(_, member)| member.recorded) {
            let hashed = if self.corrupt_hashes.contains(path) {
                [member.contents.as_slice(), b"\0corrupted"].concat()
            } else {
                member.contents.clone()
            };
            let digest = BASE64URL_NOPAD.encode(&Sha256::digest(&hashed));
            writeln!(
                record,
                "{},sha256={digest},{}",
                csv_field(path),
                member.contents.len()
            )
            .expect("write to a String");
        }
        writeln!(record, "{},,", csv_field(record_path)).expect("write to a String");
        record
    }
}

/// How an index lists one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileOptions {
    /// Yanked (PEP 592), with this reason; an empty reason is yanked without one
    /// (`"yanked": true`, `data-yanked=""`).
    pub yanked: Option<String>,
    /// The `requires-python` the index advertises (nothing when `None`).
    pub requires_python: Option<String>,
    /// Serve the wheel's METADATA as `<file>.metadata` and advertise it (PEP 658/714
    /// `core-metadata`, and the older `dist-info-metadata`). Never for an sdist.
    pub metadata_file: bool,
    /// Advertise a wrong sha256 for the file (the file itself is right).
    pub wrong_hash: bool,
}

impl Default for FileOptions {
    /// Not yanked, no `requires-python`, with a metadata file, right hash.
    fn default() -> Self {
        Self {
            yanked: None,
            requires_python: None,
            metadata_file: true,
            wrong_hash: false,
        }
    }
}

/// One file of a fixture index.
#[derive(Debug, Clone)]
struct IndexFile {
    filename: String,
    version: String,
    contents: Vec<u8>,
    /// The core metadata to serve as `<filename>.metadata`, when advertised.
    metadata: Option<Vec<u8>>,
    options: FileOptions,
}

impl IndexFile {
    /// The sha256 the index advertises (wrong when asked to be).
    fn advertised_sha256(&self) -> String {
        if self.options.wrong_hash {
            sha256_hex(&[self.contents.as_slice(), b"\0wrong"].concat())
        } else {
            sha256_hex(&self.contents)
        }
    }

    /// `../../files/<filename>`, percent-encoded: the link from a project page.
    fn url(&self) -> String {
        format!("../../files/{}", percent_encode(&self.filename))
    }
}

/// A simple-API package index to write to disk and serve with
/// [`TestServer::serve_dir`](crate::TestServer::serve_dir); its index URL is then
/// `<server url>/simple/`.
///
/// Layout written by [`write`](Self::write):
/// `simple/index.{html,json}` (the project list), `simple/<normalized name>/index.{html,json}`
/// (PEP 503 and PEP 691 project pages), `files/<filename>` and `files/<filename>.metadata`.
/// Files are listed in the order they were added.
#[derive(Debug, Clone, Default)]
pub struct FixtureIndex {
    /// Files by normalized project name.
    projects: BTreeMap<String, Vec<IndexFile>>,
}

impl FixtureIndex {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a wheel as PyPI lists one: advertising its own `Requires-Python` and a
    /// core metadata file, not yanked.
    pub fn wheel(&mut self, wheel: &WheelBuilder) -> &mut Self {
        let options = FileOptions {
            requires_python: wheel.requires_python.clone(),
            ..FileOptions::default()
        };
        self.wheel_with(wheel, options)
    }

    /// Adds a wheel listed with exactly `options` (`requires_python: None` advertises
    /// none, whatever the wheel's METADATA says).
    pub fn wheel_with(&mut self, wheel: &WheelBuilder, options: FileOptions) -> &mut Self {
        let file = IndexFile {
            filename: wheel.filename(),
            version: wheel.version.clone(),
            contents: wheel.build(),
            metadata: options.metadata_file.then(|| wheel.metadata()),
            options,
        };
        self.add(&wheel.name, file)
    }

    /// Adds a small sdist (`<name>-<version>.tar.gz` holding only a `PKG-INFO`).
    pub fn sdist(&mut self, name: &str, version: &str) -> &mut Self {
        self.sdist_with(name, version, FileOptions::default())
    }

    /// Adds a small sdist listed with `options` (`metadata_file` is ignored: an sdist
    /// gets no metadata file).
    pub fn sdist_with(&mut self, name: &str, version: &str, options: FileOptions) -> &mut Self {
        let file = IndexFile {
            filename: sdist_filename(name, version),
            version: version.into(),
            contents: sdist(name, version),
            metadata: None,
            options,
        };
        self.add(name, file)
    }

    /// Writes the index under `dir` (which may exist already).
    pub fn write(&self, dir: &Path) {
        let simple = dir.join("simple");
        let files = dir.join("files");
        fs_err::create_dir_all(&simple).unwrap();
        fs_err::create_dir_all(&files).unwrap();
        write_file(
            &simple.join("index.html"),
            self.root_html().as_bytes(),
            0o644,
        );
        write_file(
            &simple.join("index.json"),
            self.root_json().as_bytes(),
            0o644,
        );
        for (project, project_files) in &self.projects {
            let page_dir = simple.join(project);
            fs_err::create_dir_all(&page_dir).unwrap();
            write_file(
                &page_dir.join("index.html"),
                project_html(project, project_files).as_bytes(),
                0o644,
            );
            write_file(
                &page_dir.join("index.json"),
                project_json(project, project_files).as_bytes(),
                0o644,
            );
            for file in project_files {
                write_file(&files.join(&file.filename), &file.contents, 0o644);
                if let Some(metadata) = &file.metadata {
                    let name = format!("{}.metadata", file.filename);
                    write_file(&files.join(name), metadata, 0o644);
                }
            }
        }
    }

    fn add(&mut self, name: &str, file: IndexFile) -> &mut Self {
        let mut all_files = self.projects.values().flatten();
        assert!(
            all_files.all(|other| other.filename != file.filename),
            "{} is in the index already",
            file.filename
        );
        self.projects
            .entry(normalize_name(name))
            .or_default()
            .push(file);
        self
    }

    /// The PEP 503 project list.
    fn root_html(&self) -> String {
        let mut html = String::from(
            "<!DOCTYPE html>\n<html>\n  <head>\n    \
             <meta name=\"pypi:repository-version\" content=\"1.1\">\n    \
             <title>Simple index</title>\n  </head>\n  <body>\n",
        );
        for project in self.projects.keys() {
            let project = html_escape(project);
            writeln!(html, "    <a href=\"{project}/\">{project}</a>").expect("write to a String");
        }
        html.push_str("  </body>\n</html>\n");
        html
    }

    /// The PEP 691 project list.
    fn root_json(&self) -> String {
        let projects: Vec<String> = self
            .projects
            .keys()
            .map(|project| format!("{{\"name\":{}}}", json_string(project)))
            .collect();
        format!(
            "{{\"meta\":{{\"api-version\":\"1.1\"}},\"projects\":[{}]}}\n",
            projects.join(",")
        )
    }
}

/// A project's PEP 503 page: one anchor per file with its sha256 fragment and the
/// `data-` attributes of PEP 503, 592, 658 and 714.
fn project_html(project: &str, files: &[IndexFile]) -> String {
    let project = html_escape(project);
    let mut html = format!(
        "<!DOCTYPE html>\n<html>\n  <head>\n    \
         <meta name=\"pypi:repository-version\" content=\"1.1\">\n    \
         <title>Links for {project}</title>\n  </head>\n  <body>\n    \
         <h1>Links for {project}</h1>\n"
    );
    for file in files {
        let href = format!("{}#sha256={}", file.url(), file.advertised_sha256());
        let mut attributes = format!("href=\"{}\"", html_escape(&href));
        if let Some(specifiers) = &file.options.requires_python {
            write!(
                attributes,
                " data-requires-python=\"{}\"",
                html_escape(specifiers)
            )
            .expect("write to a String");
        }
        if let Some(reason) = &file.options.yanked {
            write!(attributes, " data-yanked=\"{}\"", html_escape(reason))
                .expect("write to a String");
        }
        if let Some(metadata) = &file.metadata {
            let digest = sha256_hex(metadata);
            write!(
                attributes,
                " data-core-metadata=\"sha256={digest}\" data-dist-info-metadata=\"sha256={digest}\""
            )
            .expect("write to a String");
        }
        writeln!(
            html,
            "    <a {attributes}>{}</a><br />",
            html_escape(&file.filename)
        )
        .expect("write to a String");
    }
    html.push_str("  </body>\n</html>\n");
    html
}

/// A project's PEP 691 page (API version 1.1).
fn project_json(project: &str, files: &[IndexFile]) -> String {
    let mut entries = Vec::new();
    let mut versions: Vec<&str> = Vec::new();
    for file in files {
        let mut entry = format!(
            "{{\"filename\":{},\"url\":{},\"hashes\":{{\"sha256\":{}}}",
            json_string(&file.filename),
            json_string(&file.url()),
            json_string(&file.advertised_sha256()),
        );
        if let Some(specifiers) = &file.options.requires_python {
            write!(entry, ",\"requires-python\":{}", json_string(specifiers))
                .expect("write to a String");
        }
        let yanked = match file.options.yanked.as_deref() {
            None => "false".to_owned(),
            Some("") => "true".to_owned(),
            Some(reason) => json_string(reason),
        };
        let metadata = match &file.metadata {
            Some(metadata) => format!("{{\"sha256\":{}}}", json_string(&sha256_hex(metadata))),
            None => "false".to_owned(),
        };
        write!(
            entry,
            ",\"yanked\":{yanked},\"core-metadata\":{metadata},\
             \"data-dist-info-metadata\":{metadata},\"size\":{}}}",
            file.contents.len()
        )
        .expect("write to a String");
        entries.push(entry);
        if !versions.contains(&file.version.as_str()) {
            versions.push(&file.version);
        }
    }
    let versions: Vec<String> = versions.into_iter().map(json_string).collect();
    format!(
        "{{\"meta\":{{\"api-version\":\"1.1\"}},\"name\":{},\"files\":[\n{}\n],\"versions\":[{}]}}\n",
        json_string(project),
        entries.join(",\n"),
        versions.join(",")
    )
}

/// A project name normalized as PEP 503 says: lowercase, each run of `-`, `_` and
/// `.` one `-`.
pub fn normalize_name(name: &str) -> String {
    let mut normalized = String::with_capacity(name.len());
    let mut in_separator = false;
    for character in name.chars() {
        if matches!(character, '-' | '_' | '.') {
            if !in_separator {
                normalized.push('-');
            }
            in_separator = true;
        } else {
            normalized.extend(character.to_lowercase());
            in_separator = false;
        }
    }
    normalized
}

/// A name escaped for a wheel filename (PEP 427): each run of characters other than
/// letters, digits and `.` becomes one `_`.
fn escape_wheel_name(name: &str) -> String {
    let mut escaped = String::with_capacity(name.len());
    let mut in_run = false;
    for character in name.chars() {
        if character.is_alphanumeric() || character == '.' {
            escaped.push(character);
            in_run = false;
        } else {
            if !in_run {
                escaped.push('_');
            }
            in_run = true;
        }
    }
    escaped
}

/// `<name>-<version>.tar.gz` with the name normalized and `_` for `-` (PEP 625).
fn sdist_filename(name: &str, version: &str) -> String {
    format!(
        "{}-{version}.tar.gz",
        normalize_name(name).replace('-', "_")
    )
}

/// A gzipped tar holding `<name>-<version>/PKG-INFO`, with fixed times and owners.
fn sdist(name: &str, version: &str) -> Vec<u8> {
    let base = sdist_filename(name, version);
    let base = base.trim_end_matches(".tar.gz");
    let path = format!("{base}/PKG-INFO");
    let contents = format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n");
    assert!(
        path.len() < 100,
        "{path} is too long for a plain tar header"
    );

    let mut header = [0u8; 512];
    let mut field = |offset: usize, value: &[u8]| {
        header[offset..offset + value.len()].copy_from_slice(value);
    };
    field(0, path.as_bytes());
    field(100, b"0000644\0");
    field(108, b"0000000\0");
    field(116, b"0000000\0");
    field(124, format!("{:011o}\0", contents.len()).as_bytes());
    field(136, b"00000000000\0");
    field(156, b"0");
    field(257, b"ustar\0");
    field(263, b"00");
    // The checksum is taken with its own field as eight spaces.
    header[148..156].copy_from_slice(b"        ");
    let checksum: u32 = header.iter().map(|&byte| u32::from(byte)).sum();
    header[148..156].copy_from_slice(format!("{checksum:06o}\0 ").as_bytes());

    let mut tar = header.to_vec();
    tar.extend_from_slice(contents.as_bytes());
    tar.resize(tar.len().next_multiple_of(512) + 1024, 0);

    let mut encoder = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::default());
    encoder.write_all(&tar).expect("gzip in memory");
    encoder.finish().expect("gzip in memory")
}

fn sha256_hex(bytes: &[u8]) -> String {
    HEXLOWER.encode(&Sha256::digest(bytes))
}

/// A RECORD field, quoted as CSV when it has to be.
fn csv_field(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_owned()
    }
}

/// A JSON string literal.
fn json_string(text: &str) -> String {
    let mut literal = String::with_capacity(text.len() + 2);
    literal.push('"');
    for character in text.chars() {
        match character {
            '"' => literal.push_str("\\\""),
            '\\' => literal.push_str("\\\\"),
            '\n' => literal.push_str("\\n"),
            '\r' => literal.push_str("\\r"),
            '\t' => literal.push_str("\\t"),
            control if u32::from(control) < 0x20 => {
                write!(literal, "\\u{:04x}", u32::from(control)).expect("write to a String");
            }
            other => literal.push(other),
        }
    }
    literal.push('"');
    literal
}

/// Text escaped for HTML content and double-quoted attribute values.
fn html_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

/// A filename percent-encoded for a URL path segment: every byte but letters,
/// digits, `-._~` and `+` (kept as PyPI keeps it in local versions).
fn percent_encode(segment: &str) -> String {
    let mut encoded = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'+') {
            encoded.push(char::from(byte));
        } else {
            write!(encoded, "%{byte:02X}").expect("write to a String");
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::path::{Path, PathBuf};
    use std::time::Duration;

    use super::*;
    use crate::{Fault, TestServer, require_tool};

    /// A wheel with every kind of member and metadata.
    fn full_wheel() -> WheelBuilder {
        WheelBuilder::new("My-Pkg", "1.0")
            .requires_dist("werkzeug>=1; extra == \"x\"")
            .requires_dist("click")
            .provides_extra("x")
            .requires_python("<4,>=3.9")
            .file("my_pkg/__init__.py", b"VERSION = '1.0'\n")
            .executable_file("my_pkg/run.sh", b"#!/bin/sh\necho hi\n")
            .data("scripts", "tool", b"#!python\nprint('tool')\n")
            .data("data", "share/my-pkg/readme.txt", b"readme\n")
            .entry_point("console_scripts", "hello", "my_pkg.cli:main")
            .entry_point("console_scripts", "bye", "my_pkg.cli:bye")
            .entry_point("gui_scripts", "window", "my_pkg.gui:main")
    }

    /// The python3 that checks fixtures: the system one when there is one.
    fn python() -> Option<PathBuf> {
        let system = Path::new("/usr/bin/python3");
        if system.is_file() {
            return Some(system.to_path_buf());
        }
        require_tool("python3").map(|oracle| oracle.path)
    }

    /// Runs a python3 script with arguments and returns its stdout.
    fn run_python(python: &Path, script: &str, args: &[&Path]) -> String {
        let output = std::process::Command::new(python)
            .arg("-c")
            .arg(script)
            .args(args)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "python3 failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    fn zip_members(wheel: &[u8]) -> Vec<(String, Vec<u8>, u32)> {
        let mut archive = zip::ZipArchive::new(Cursor::new(wheel)).unwrap();
        (0..archive.len())
            .map(|index| {
                let mut member = archive.by_index(index).unwrap();
                let mut contents = Vec::new();
                member.read_to_end(&mut contents).unwrap();
                let mode = member.unix_mode().unwrap() & 0o7777;
                (member.name().unwrap().into_owned(), contents, mode)
            })
            .collect()
    }

    fn member(wheel: &[u8], path: &str) -> String {
        let members = zip_members(wheel);
        let (_, contents, _) = members.iter().find(|(name, ..)| name == path).unwrap();
        String::from_utf8(contents.clone()).unwrap()
    }

    #[test]
    fn wheel_bytes_are_deterministic() {
        let first = full_wheel().build();
        std::thread::sleep(Duration::from_millis(1100));
        assert_eq!(first, full_wheel().build());
        assert_eq!(first, full_wheel().clone().build());
    }

    #[test]
    fn names_are_escaped_and_normalized() {
        let wheel = WheelBuilder::new("My-Pkg", "1.0");
        assert_eq!(wheel.filename(), "My_Pkg-1.0-py3-none-any.whl");
        assert_eq!(wheel.dist_info_dir(), "My_Pkg-1.0.dist-info");
        assert_eq!(wheel.data_dir(), "My_Pkg-1.0.data");
        assert_eq!(
            WheelBuilder::new("zope.interface", "6.0+local")
                .tag("cp312-cp312-manylinux_2_17_x86_64")
                .filename(),
            "zope.interface-6.0+local-cp312-cp312-manylinux_2_17_x86_64.whl"
        );
        assert_eq!(normalize_name("Zope__Interface.-x"), "zope-interface-x");
        assert_eq!(normalize_name("requests"), "requests");
        assert_eq!(sdist_filename("My.Pkg", "2.0"), "my_pkg-2.0.tar.gz");
    }

    #[test]
    fn dist_info_files() {
        let wheel = full_wheel().build();
        let members = zip_members(&wheel);
        let names: Vec<&str> = members.iter().map(|(name, ..)| name.as_str()).collect();
        assert_eq!(
            names,
            [
                "My_Pkg-1.0.data/data/share/my-pkg/readme.txt",
                "My_Pkg-1.0.data/scripts/tool",
                "my_pkg/__init__.py",
                "my_pkg/run.sh",
                "My_Pkg-1.0.dist-info/METADATA",
                "My_Pkg-1.0.dist-info/WHEEL",
                "My_Pkg-1.0.dist-info/entry_points.txt",
                "My_Pkg-1.0.dist-info/RECORD",
            ]
        );
        let modes: Vec<u32> = members.iter().map(|(_, _, mode)| *mode).collect();
        assert_eq!(
            modes,
            [0o644, 0o755, 0o644, 0o755, 0o644, 0o644, 0o644, 0o644]
        );
        let metadata = member(&wheel, "My_Pkg-1.0.dist-info/METADATA");
        assert_eq!(
            metadata,
            "Metadata-Version: 2.1\nName: My-Pkg\nVersion: 1.0\nRequires-Python: <4,>=3.9\n\
             Provides-Extra: x\nRequires-Dist: werkzeug>=1; extra == \"x\"\nRequires-Dist: click\n"
        );
        assert_eq!(metadata.as_bytes(), full_wheel().metadata());
        assert_eq!(
            member(&wheel, "My_Pkg-1.0.dist-info/WHEEL"),
            "Wheel-Version: 1.0\nGenerator: cairn-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        );
        assert_eq!(
            member(&wheel, "My_Pkg-1.0.dist-info/entry_points.txt"),
            "[console_scripts]\nhello = my_pkg.cli:main\nbye = my_pkg.cli:bye\n\n\
             [gui_scripts]\nwindow = my_pkg.gui:main\n"
        );
        let record = member(&wheel, "My_Pkg-1.0.dist-info/RECORD");
        let init_digest = BASE64URL_NOPAD.encode(&Sha256::digest(b"VERSION = '1.0'\n"));
        assert!(record.contains(&format!("my_pkg/__init__.py,sha256={init_digest},16\n")));
        assert!(record.ends_with("My_Pkg-1.0.dist-info/RECORD,,\n"));

        let platform = WheelBuilder::new("fast", "2")
            .tag("py2.py3-none-manylinux1_x86_64.manylinux_2_5_x86_64")
            .build();
        assert_eq!(
            member(&platform, "fast-2.dist-info/WHEEL"),
            "Wheel-Version: 1.0\nGenerator: cairn-test\nRoot-Is-Purelib: false\n\
             Tag: py2-none-manylinux1_x86_64\nTag: py2-none-manylinux_2_5_x86_64\n\
             Tag: py3-none-manylinux1_x86_64\nTag: py3-none-manylinux_2_5_x86_64\n"
        );
        assert!(
            !zip_members(&platform)
                .iter()
                .any(|(name, ..)| name.ends_with("entry_points.txt"))
        );
    }

    #[test]
    fn a_file_at_a_generated_path_replaces_it() {
        let wheel = WheelBuilder::new("odd", "1").file("odd-1.dist-info/METADATA", b"Name: odd\n");
        assert_eq!(wheel.metadata(), b"Name: odd\n");
        let built = wheel.build();
        assert_eq!(member(&built, "odd-1.dist-info/METADATA"), "Name: odd\n");
        assert_eq!(
            zip_members(&built)
                .iter()
                .filter(|(name, ..)| name.ends_with("/METADATA"))
                .count(),
            1
        );
    }

    #[test]
    #[should_panic(expected = "not a plain relative path")]
    fn file_refuses_a_hostile_path() {
        let _ = WheelBuilder::new("evil", "1").file("../x", b"");
    }

    #[test]
    #[should_panic(expected = "no recorded member")]
    fn corrupting_a_missing_member_is_a_test_bug() {
        let _ = WheelBuilder::new("a", "1")
            .corrupt_record_hash("nope.py")
            .build();
    }

    /// Prints, per RECORD row, whether python's zipfile and hashlib agree with it, then
    /// the members RECORD does not list, and the CRC check.
    const CHECK_RECORD: &str = r#"
import base64, csv, hashlib, io, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
assert z.testzip() is None, "bad CRC"
for info in z.infolist():
    assert info.date_time == (1980, 1, 1, 0, 0, 0), info.date_time
record = [n for n in z.namelist() if n.endswith(".dist-info/RECORD")]
assert len(record) == 1, record
listed = set()
for path, digest, size in csv.reader(io.StringIO(z.read(record[0]).decode())):
    listed.add(path)
    if path == record[0]:
        assert (digest, size) == ("", ""), (digest, size)
        continue
    data = z.read(path)
    algorithm, value = digest.split("=", 1)
    want = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    ok = algorithm == "sha256" and value == want and int(size) == len(data)
    print(("ok " if ok else "bad ") + path)
for name in z.namelist():
    if name not in listed:
        print("unlisted " + name)
"#;

    #[test]
    fn record_hashes_checked_by_python() {
        let Some(python) = python() else { return };
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.whl");
        fs_err::write(&good, full_wheel().build()).unwrap();
        let report = run_python(&python, CHECK_RECORD, &[&good]);
        assert_eq!(report.lines().count(), 7, "{report}");
        assert!(
            report.lines().all(|line| line.starts_with("ok ")),
            "{report}"
        );

        let defective = full_wheel()
            .corrupt_record_hash("my_pkg/__init__.py")
            .unrecorded_file("my_pkg/sneaky.py", b"import os\n")
            .raw_member("../../etc/evil", b"evil\n")
            .raw_member("/abs", b"abs\n")
            .raw_member("comma,\"quoted\".py", b"csv\n");
        let bad = dir.path().join("bad.whl");
        fs_err::write(&bad, defective.build()).unwrap();
        let report = run_python(&python, CHECK_RECORD, &[&bad]);
        let mut lines: Vec<&str> = report.lines().collect();
        lines.sort_unstable();
        assert_eq!(
            lines,
            [
                "bad my_pkg/__init__.py",
                "ok ../../etc/evil",
                "ok /abs",
                "ok My_Pkg-1.0.data/data/share/my-pkg/readme.txt",
                "ok My_Pkg-1.0.data/scripts/tool",
                "ok My_Pkg-1.0.dist-info/METADATA",
                "ok My_Pkg-1.0.dist-info/WHEEL",
                "ok My_Pkg-1.0.dist-info/entry_points.txt",
                "ok comma,\"quoted\".py",
                "ok my_pkg/run.sh",
                "unlisted my_pkg/sneaky.py",
            ],
            "{report}"
        );
    }

    /// An index with a plain wheel, a yanked one with a wrong hash and no metadata
    /// file, and an sdist.
    fn fixture_index() -> (FixtureIndex, WheelBuilder, WheelBuilder) {
        let current = full_wheel();
        let old = WheelBuilder::new("my_pkg", "0.9").file("my_pkg/__init__.py", b"");
        let mut index = FixtureIndex::new();
        index
            .wheel(&current)
            .wheel_with(
                &old,
                FileOptions {
                    yanked: Some("broken \"badly\" <here>".into()),
                    requires_python: Some(">=3.8".into()),
                    metadata_file: false,
                    wrong_hash: true,
                },
            )
            .sdist("My.Pkg", "1.0")
            .wheel(&WheelBuilder::new("other", "3").tag("py2.py3-none-any"));
        (index, current, old)
    }

    /// Loads a project page with python's json and prints its fields, one file per
    /// line, and whether each advertised hash is the file's on disk.
    const CHECK_JSON: &str = r#"
import hashlib, json, os, sys
root, page = sys.argv[1], sys.argv[2]
data = json.load(open(page))
print("meta", data["meta"]["api-version"], data["name"], ",".join(data["versions"]))
for f in data["files"]:
    path = os.path.normpath(os.path.join(os.path.dirname(page), f["url"]))
    body = open(path, "rb").read()
    right = hashlib.sha256(body).hexdigest() == f["hashes"]["sha256"]
    meta = f["core-metadata"]
    assert meta == f["data-dist-info-metadata"]
    if meta:
        m = open(path + ".metadata", "rb").read()
        assert hashlib.sha256(m).hexdigest() == meta["sha256"]
    assert f["size"] == len(body)
    print(f["filename"], f["url"], "hash-ok" if right else "hash-wrong",
          repr(f.get("requires-python")), repr(f["yanked"]), "metadata" if meta else "no-metadata")
"#;

    #[test]
    fn json_page_checked_by_python() {
        let (index, current, old) = fixture_index();
        let dir = tempfile::tempdir().unwrap();
        index.write(dir.path());
        assert_eq!(
            fs_err::read(dir.path().join("files").join(current.filename())).unwrap(),
            current.build()
        );
        assert!(
            !dir.path()
                .join("files")
                .join(format!("{}.metadata", old.filename()))
                .exists()
        );
        let Some(python) = python() else { return };
        let page = dir.path().join("simple/my-pkg/index.json");
        let report = run_python(&python, CHECK_JSON, &[dir.path(), &page]);
        assert_eq!(
            report,
            "meta 1.1 my-pkg 1.0,0.9\n\
             My_Pkg-1.0-py3-none-any.whl ../../files/My_Pkg-1.0-py3-none-any.whl hash-ok '<4,>=3.9' False metadata\n\
             my_pkg-0.9-py3-none-any.whl ../../files/my_pkg-0.9-py3-none-any.whl hash-wrong '>=3.8' 'broken \"badly\" <here>' no-metadata\n\
             my_pkg-1.0.tar.gz ../../files/my_pkg-1.0.tar.gz hash-ok None False no-metadata\n"
        );
        let root = run_python(
            &python,
            "import json,sys; print([p['name'] for p in json.load(open(sys.argv[1]))['projects']])",
            &[&dir.path().join("simple/index.json")],
        );
        assert_eq!(root, "['my-pkg', 'other']\n");
        let sdist = dir.path().join("files/my_pkg-1.0.tar.gz");
        let listing = run_python(
            &python,
            "import sys, tarfile; t = tarfile.open(sys.argv[1]); \
             print(t.getnames(), t.extractfile(t.getnames()[0]).read().decode())",
            &[&sdist],
        );
        assert_eq!(
            listing,
            "['my_pkg-1.0/PKG-INFO'] Metadata-Version: 2.1\nName: My.Pkg\nVersion: 1.0\n\n"
        );
    }

    #[test]
    fn html_page_escapes_and_advertises() {
        let (index, current, old) = fixture_index();
        let dir = tempfile::tempdir().unwrap();
        index.write(dir.path());
        let html = fs_err::read_to_string(dir.path().join("simple/my-pkg/index.html")).unwrap();
        let sha = sha256_hex(&current.build());
        let metadata_sha = sha256_hex(&current.metadata());
        assert!(
            html.contains(&format!(
                "<a href=\"../../files/My_Pkg-1.0-py3-none-any.whl#sha256={sha}\" \
             data-requires-python=\"&lt;4,&gt;=3.9\" data-core-metadata=\"sha256={metadata_sha}\" \
             data-dist-info-metadata=\"sha256={metadata_sha}\">My_Pkg-1.0-py3-none-any.whl</a>"
            )),
            "{html}"
        );
        let wrong = sha256_hex(&old.build());
        assert!(
            !html.contains(&wrong),
            "the old wheel's hash is advertised wrong"
        );
        assert!(html.contains(
            "data-requires-python=\"&gt;=3.8\" data-yanked=\"broken &quot;badly&quot; &lt;here&gt;\">my_pkg-0.9"
        ), "{html}");
        assert!(html.contains("<a href=\"../../files/my_pkg-1.0.tar.gz#sha256="));
        let root = fs_err::read_to_string(dir.path().join("simple/index.html")).unwrap();
        assert!(root.contains("<a href=\"my-pkg/\">my-pkg</a>"));
        assert!(root.contains("<a href=\"other/\">other</a>"));
    }

    #[test]
    fn json_strings_and_urls_are_escaped() {
        assert_eq!(json_string("a\"b\\c\n\u{1}é"), "\"a\\\"b\\\\c\\n\\u0001é\"");
        assert_eq!(percent_encode("a b#c+d%.whl"), "a%20b%23c+d%25.whl");
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,\"b\""), "\"a,\"\"b\"\"\"");
    }

    /// A raw HTTP exchange: status, head, body.
    fn get(server: &TestServer, target: &str, accept: Option<&str>) -> (u16, String, Vec<u8>) {
        let mut stream = TcpStream::connect(server.url().trim_start_matches("http://")).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let accept = accept.map_or(String::new(), |accept| format!("Accept: {accept}\r\n"));
        write!(
            stream,
            "GET {target} HTTP/1.1\r\nHost: test\r\n{accept}\r\n"
        )
        .unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).unwrap();
        let split = raw
            .windows(4)
            .position(|window| window == b"\r\n\r\n")
            .unwrap();
        let head = String::from_utf8(raw[..split].to_vec()).unwrap();
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        (status, head, raw[split + 4..].to_vec())
    }

    const PIP_ACCEPT: &str = "application/vnd.pypi.simple.v1+json, \
                              application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01";

    #[test]
    fn served_with_accept_negotiation() {
        let (index, current, _) = fixture_index();
        let dir = tempfile::tempdir().unwrap();
        index.write(dir.path());
        let server = TestServer::serve_dir(dir.path());
        let json = fs_err::read(dir.path().join("simple/my-pkg/index.json")).unwrap();
        let html = fs_err::read(dir.path().join("simple/my-pkg/index.html")).unwrap();

        let (status, head, body) = get(&server, "/simple/my-pkg/", Some(PIP_ACCEPT));
        assert_eq!(status, 200);
        assert!(
            head.contains("Content-Type: application/vnd.pypi.simple.v1+json\r\n"),
            "{head}"
        );
        assert!(head.contains("Vary: Accept\r\n"), "{head}");
        assert_eq!(body, json);

        for accept in [
            None,
            Some("text/html"),
            Some("application/vnd.pypi.simple.v1+json;q=0, text/html"),
        ] {
            let (status, head, body) = get(&server, "/simple/my-pkg/", accept);
            assert_eq!(status, 200, "{accept:?}");
            assert!(head.contains("Content-Type: text/html\r\n"), "{head}");
            assert_eq!(body, html, "{accept:?}");
        }

        let (status, head, _) = get(&server, "/simple/my-pkg", Some(PIP_ACCEPT));
        assert_eq!(status, 301);
        assert!(head.contains("Location: /simple/my-pkg/\r\n"), "{head}");
        let (status, head, _) = get(&server, "/simple?x=1", None);
        assert_eq!(status, 301);
        assert!(head.contains("Location: /simple/?x=1\r\n"), "{head}");

        let (status, head, body) = get(&server, "/simple/", Some(PIP_ACCEPT));
        assert_eq!(status, 200);
        assert!(head.contains("application/vnd.pypi.simple.v1+json"));
        assert!(String::from_utf8(body).unwrap().contains("\"projects\""));

        let file = format!("/files/{}", current.filename());
        let (status, head, body) = get(&server, &file, Some(PIP_ACCEPT));
        assert_eq!(status, 200);
        assert!(head.contains("Content-Type: application/octet-stream\r\n"));
        assert_eq!(body, current.build());
        let (status, _, body) = get(&server, &format!("{file}.metadata"), None);
        assert_eq!(status, 200);
        assert_eq!(body, current.metadata());
        assert_eq!(get(&server, "/simple/nothing/", None).0, 404);
        assert_eq!(get(&server, "/files", None).0, 404, "no index, no redirect");

        // Faults apply to index pages as to files.
        server.fail("/simple/my-pkg/", [Fault::Status(503)]);
        assert_eq!(get(&server, "/simple/my-pkg/", Some(PIP_ACCEPT)).0, 503);
        server.fail("/simple/my-pkg/", [Fault::Replace(b"{not json".to_vec())]);
        let (status, head, body) = get(&server, "/simple/my-pkg/", Some(PIP_ACCEPT));
        assert_eq!((status, body.as_slice()), (200, b"{not json".as_slice()));
        assert!(head.contains("Content-Type: application/vnd.pypi.simple.v1+json\r\n"));
        server.fail("/simple/my-pkg/", [Fault::Truncate(5)]);
        let (_, _, body) = get(&server, "/simple/my-pkg/", Some(PIP_ACCEPT));
        assert_eq!(body, json[..5]);

        // An index that speaks only PEP 503 HTML.
        server.serve_json(false);
        let (status, head, body) = get(&server, "/simple/my-pkg/", Some(PIP_ACCEPT));
        assert_eq!(status, 200);
        assert!(head.contains("Content-Type: text/html\r\n"), "{head}");
        assert_eq!(body, html);
        server.serve_json(true);
        assert_eq!(get(&server, "/simple/my-pkg/", Some(PIP_ACCEPT)).2, json);
        assert_eq!(server.count("/simple/my-pkg/"), 9);
    }
}
