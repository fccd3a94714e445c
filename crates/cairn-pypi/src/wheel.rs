//! Installing a wheel without pip: the binary distribution format (PEP 427, the
//! "Binary distribution format" specification), its `RECORD` ("Recording installed
//! projects") and its script entry points ("Entry points specification").
//!
//! A wheel is installed into a fresh directory as a root-file-system fragment for
//! Debian's Python ([`InstallScheme::debian`]): the library files under
//! `usr/local/lib/python3.X/dist-packages`, scripts under `usr/local/bin`, and so
//! on. Nothing is trusted before it is checked: every member's name must stay
//! inside the install root (also after a `.data/<key>/` directory is mapped), no
//! member may be a symlink or appear twice, the `.dist-info` directory and
//! `METADATA` must name the expected project and version, and every member must be
//! listed in `RECORD` with a SHA-256 (or stronger) hash and a size that match its
//! bytes, hashed while they are extracted. The installed tree is a function of the
//! wheel's bytes and the scheme only: no `.pyc` is compiled, `RECORD` is rewritten
//! sorted, and `INSTALLER` says `cairn`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, BufRead, BufReader, BufWriter, Read, Seek, Write};
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::str::FromStr;

use data_encoding::BASE64URL_NOPAD;
use sha2::{Digest, Sha256, Sha384, Sha512};
use zip::result::ZipError;
use zip::{ZipArchive, ZipReadOptions};

use crate::metadata::Metadata;
use crate::name::{PackageName, parse_package_name};
use crate::target::Target;
use crate::version::Version;
use crate::wheel_name::WheelName;

mod error;

pub use error::WheelError;

/// What `INSTALLER` says.
const INSTALLER: &[u8] = b"cairn\n";
/// The largest `RECORD` read (it is the one member whose size `RECORD` cannot give).
const MAX_RECORD_BYTES: u64 = 64 << 20;
/// `S_IFMT`, `S_IFREG` and `S_IFLNK`: the file type in a member's unix mode.
const S_IFMT: u32 = 0o170_000;
const S_IFREG: u32 = 0o100_000;
const S_IFLNK: u32 = 0o120_000;

/// Where the parts of a wheel go, as paths relative to the install root
/// (`/`-separated, no leading `/`), and the interpreter scripts run with.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InstallScheme {
    purelib: String,
    platlib: String,
    scripts: String,
    include: String,
    data: String,
    interpreter: String,
}

impl InstallScheme {
    /// The layout pip uses for Debian's Python outside a virtual environment
    /// (sysconfig's `posix_local` scheme, which Debian patches in): both library
    /// directories are `usr/local/lib/python3.X/dist-packages`, scripts go to
    /// `usr/local/bin`, headers to `usr/local/include/python3.X/<project>`, data to
    /// `usr/local`, and scripts run `/usr/bin/python3.X`.
    ///
    /// One departure from Debian's pip: its headers go to
    /// `/usr/include/python3.X/<project>` (`posix_local`'s `include` has no
    /// `local`), into a directory `libpython3.X-dev` owns; cairn keeps everything a
    /// wheel installs under `usr/local`. Few wheels have headers.
    pub fn debian(target: &Target) -> Self {
        let (major, minor) = target.python_minor();
        let python = format!("python{major}.{minor}");
        let lib = format!("usr/local/lib/{python}/dist-packages");
        Self {
            purelib: lib.clone(),
            platlib: lib,
            scripts: "usr/local/bin".to_owned(),
            include: format!("usr/local/include/{python}"),
            data: "usr/local".to_owned(),
            interpreter: format!("/usr/bin/{python}"),
        }
    }

    /// Pure-Python modules (`Root-Is-Purelib: true`, `.data/purelib`).
    pub fn purelib(&self) -> &str {
        &self.purelib
    }

    /// Modules with native code (`Root-Is-Purelib: false`, `.data/platlib`).
    pub fn platlib(&self) -> &str {
        &self.platlib
    }

    /// `.data/scripts` and the entry points' launchers.
    pub fn scripts(&self) -> &str {
        &self.scripts
    }

    /// `.data/headers` of project `name`: `<include>/<normalized name>`.
    pub fn headers(&self, name: &PackageName) -> String {
        format!("{}/{name}", self.include)
    }

    /// `.data/data`.
    pub fn data(&self) -> &str {
        &self.data
    }

    /// The absolute path of the interpreter in the image, for `#!` lines.
    pub fn interpreter(&self) -> &str {
        &self.interpreter
    }
}

/// What [`install_wheel`] installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledWheel {
    pub name: PackageName,
    pub version: Version,
    /// `METADATA`, parsed.
    pub metadata: Metadata,
    /// `METADATA`, as the wheel has it.
    pub metadata_bytes: Vec<u8>,
    /// The files installed in the scripts directory (entry point launchers and
    /// `.data/scripts` files), as paths relative to it, sorted.
    pub scripts: Vec<String>,
    /// How many files were written, `RECORD` and `INSTALLER` included.
    pub files: usize,
}

/// Installs `wheel` (whose parsed file name is `expected`) into `dest`, which must
/// not exist yet, laid out as `scheme` says. On error, `dest` is removed again.
pub fn install_wheel(
    wheel: &Path,
    expected: &WheelName,
    scheme: &InstallScheme,
    dest: &Path,
) -> Result<InstalledWheel, WheelError> {
    let mut open = OpenWheel::open(wheel, expected.filename())?;
    let plan = open.plan(expected, scheme)?;
    let dest_error = |source| open.write_error(&dest.display().to_string(), source);
    if let Some(parent) = dest.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs_err::create_dir_all(parent).map_err(dest_error)?;
    }
    fs_err::create_dir(dest).map_err(dest_error)?;
    let result = open.write(&plan, scheme, dest);
    if result.is_err() {
        // Best effort: the error that matters is the one returned.
        let _ = fs_err::remove_dir_all(dest);
    }
    result
}

/// A hash algorithm `RECORD` may use: SHA-256 or stronger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HashAlgorithm {
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlgorithm {
    fn parse(name: &str) -> Option<Self> {
        match name {
            "sha256" => Some(Self::Sha256),
            "sha384" => Some(Self::Sha384),
            "sha512" => Some(Self::Sha512),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Sha256 => "sha256",
            Self::Sha384 => "sha384",
            Self::Sha512 => "sha512",
        }
    }

    fn digest_len(self) -> usize {
        match self {
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }
}

enum Hasher {
    Sha256(Sha256),
    Sha384(Sha384),
    Sha512(Sha512),
}

impl Hasher {
    fn new(algorithm: HashAlgorithm) -> Self {
        match algorithm {
            HashAlgorithm::Sha256 => Self::Sha256(Sha256::new()),
            HashAlgorithm::Sha384 => Self::Sha384(Sha384::new()),
            HashAlgorithm::Sha512 => Self::Sha512(Sha512::new()),
        }
    }

    fn update(&mut self, bytes: &[u8]) {
        match self {
            Self::Sha256(h) => h.update(bytes),
            Self::Sha384(h) => h.update(bytes),
            Self::Sha512(h) => h.update(bytes),
        }
    }

    fn finalize(self) -> Vec<u8> {
        match self {
            Self::Sha256(h) => h.finalize().to_vec(),
            Self::Sha384(h) => h.finalize().to_vec(),
            Self::Sha512(h) => h.finalize().to_vec(),
        }
    }
}

/// Hashes and counts what is read through it.
struct HashingReader<R> {
    inner: R,
    hasher: Hasher,
    count: u64,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// Hashes (SHA-256, for the installed `RECORD`) and counts what is written through it.
struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    count: u64,
}

impl<W: Write> HashingWriter<W> {
    fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    fn record_hash(&self) -> String {
        format!(
            "sha256={}",
            BASE64URL_NOPAD.encode(&self.hasher.clone().finalize())
        )
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A `RECORD` line's hash and size, as the wheel has them.
#[derive(Debug, Clone)]
struct RecordEntry {
    hash: Option<(HashAlgorithm, Vec<u8>)>,
    size: Option<u64>,
}

/// A file member of the archive (directory entries are checked, then skipped).
#[derive(Debug, Clone)]
struct Member {
    index: usize,
    name: String,
    /// pip's rule: a regular file's unix mode with any execute bit.
    executable: bool,
    /// The uncompressed size the zip directory declares.
    declared_size: u64,
}

/// A `.data/<key>` directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DataKey {
    Purelib,
    Platlib,
    Scripts,
    Headers,
    Data,
}

impl DataKey {
    fn parse(key: &str) -> Option<Self> {
        match key {
            "purelib" => Some(Self::Purelib),
            "platlib" => Some(Self::Platlib),
            "scripts" => Some(Self::Scripts),
            "headers" => Some(Self::Headers),
            "data" => Some(Self::Data),
            _ => None,
        }
    }
}

/// A console or GUI script entry point (`name = module:attr [extras]`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct ScriptEntryPoint {
    name: String,
    module: String,
    attr: String,
}

/// What will be written where, every destination relative to the install root.
#[derive(Debug)]
struct InstallPlan {
    name: PackageName,
    version: Version,
    metadata: Metadata,
    metadata_bytes: Vec<u8>,
    /// The library directory `RECORD` paths are relative to.
    lib: String,
    dist_info: String,
    /// `(index into members, destination, is a `.data/scripts` file)`, archive order.
    extract: Vec<(usize, String, bool)>,
    /// `(destination, launcher)`, sorted by name.
    launchers: Vec<(String, String)>,
    /// Every directory to create, sorted (parents first).
    directories: BTreeSet<String>,
    record: BTreeMap<String, RecordEntry>,
    scripts: Vec<String>,
}

struct OpenWheel<R> {
    /// The wheel's file name, for errors.
    name: String,
    archive: ZipArchive<R>,
    members: Vec<Member>,
    /// Member name → index into `members`.
    by_name: BTreeMap<String, usize>,
    /// Every top-level name (first path component), for finding `.dist-info`.
    top_level: BTreeSet<String>,
}

impl OpenWheel<BufReader<fs_err::File>> {
    fn open(path: &Path, name: &str) -> Result<Self, WheelError> {
        let file = fs_err::File::open(path).map_err(|source| WheelError::Open {
            wheel: name.to_owned(),
            source,
        })?;
        let archive = ZipArchive::new(BufReader::new(file)).map_err(|source| WheelError::Zip {
            wheel: name.to_owned(),
            source,
        })?;
        let mut open = Self {
            name: name.to_owned(),
            archive,
            members: Vec::new(),
            by_name: BTreeMap::new(),
            top_level: BTreeSet::new(),
        };
        if open.archive.has_duplicate_names() {
            return Err(match duplicate_central_name(path, &open.archive) {
                Some(member) => open.error_duplicate(member),
                None => WheelError::DuplicateMembers {
                    wheel: name.to_owned(),
                },
            });
        }
        open.read_members()?;
        Ok(open)
    }
}

impl<R: Read + Seek> OpenWheel<R> {
    fn error_duplicate(&self, member: String) -> WheelError {
        WheelError::DuplicateMember {
            wheel: self.name.clone(),
            member,
        }
    }

    fn write_error(&self, path: &str, source: io::Error) -> WheelError {
        WheelError::Write {
            wheel: self.name.clone(),
            path: path.to_owned(),
            source,
        }
    }

    fn unsafe_path(&self, member: &str, reason: &'static str) -> WheelError {
        WheelError::UnsafePath {
            wheel: self.name.clone(),
            member: member.to_owned(),
            reason,
        }
    }

    /// Checks every member's name and type; keeps the files.
    fn read_members(&mut self) -> Result<(), WheelError> {
        let mut seen = BTreeSet::new();
        for index in 0..self.archive.len() {
            let entry = self
                .archive
                .by_index_data(index)
                .map_err(|source| WheelError::Zip {
                    wheel: self.name.clone(),
                    source,
                })?;
            let raw = entry.name_raw();
            let Ok(name) = std::str::from_utf8(raw) else {
                return Err(WheelError::MemberNotUtf8 {
                    wheel: self.name.clone(),
                    member: String::from_utf8_lossy(raw).into_owned(),
                });
            };
            let name = name.to_owned();
            let mode = entry.external_attributes() >> 16;
            let declared_size = entry.size();
            if let Some(reason) = unsafe_name(&name) {
                return Err(self.unsafe_path(&name, reason));
            }
            if mode & S_IFMT == S_IFLNK {
                return Err(WheelError::Symlink {
                    wheel: self.name.clone(),
                    member: name,
                });
            }
            if !seen.insert(name.clone()) {
                return Err(self.error_duplicate(name));
            }
            let top = name.split('/').next().unwrap_or_default().to_owned();
            self.top_level.insert(top);
            if name.ends_with('/') {
                continue;
            }
            self.by_name.insert(name.clone(), self.members.len());
            self.members.push(Member {
                index,
                name,
                executable: mode & S_IFMT == S_IFREG && mode & 0o111 != 0,
                declared_size,
            });
        }
        Ok(())
    }

    /// Reads and checks everything, and decides where each file goes.
    fn plan(
        &mut self,
        expected: &WheelName,
        scheme: &InstallScheme,
    ) -> Result<InstallPlan, WheelError> {
        let dist_info = self.dist_info(expected)?;
        let record = self.read_record(&dist_info)?;

        let wheel_member = format!("{dist_info}/WHEEL");
        let wheel_bytes = self.read_required(&wheel_member, &record)?;
        let root_is_purelib = self.parse_wheel_file(&wheel_member, &wheel_bytes)?;

        let metadata_member = format!("{dist_info}/METADATA");
        let metadata_bytes = self.read_required(&metadata_member, &record)?;
        let metadata = Metadata::parse(&metadata_bytes, expected.filename()).map_err(|source| {
            WheelError::Metadata {
                wheel: self.name.clone(),
                source: Box::new(source),
            }
        })?;
        if metadata.name != *expected.name() || metadata.version != *expected.version() {
            return Err(WheelError::MetadataMismatch {
                wheel: self.name.clone(),
                found: format!("{} {}", metadata.name, metadata.version),
                expected: format!("{} {}", expected.name(), expected.version()),
            });
        }

        let entry_points_member = format!("{dist_info}/entry_points.txt");
        let entry_points = if self.by_name.contains_key(&entry_points_member) {
            let bytes = self.read_required(&entry_points_member, &record)?;
            parse_entry_points(&bytes).map_err(|(line, reason)| WheelError::EntryPoint {
                wheel: self.name.clone(),
                member: entry_points_member.clone(),
                line,
                reason,
            })?
        } else {
            Vec::new()
        };

        let lib = if root_is_purelib {
            scheme.purelib.clone()
        } else {
            scheme.platlib.clone()
        };
        let mut plan = InstallPlan {
            name: metadata.name.clone(),
            version: metadata.version.clone(),
            metadata,
            metadata_bytes,
            lib,
            dist_info,
            extract: Vec::new(),
            launchers: Vec::new(),
            directories: BTreeSet::new(),
            record,
            scripts: Vec::new(),
        };
        self.place(&mut plan, expected, scheme, &entry_points)?;
        // The wheel's own `INSTALLER` is replaced, but checked like every member.
        if let Some(&position) = self.by_name.get(&format!("{}/INSTALLER", plan.dist_info)) {
            self.copy_verified(position, &plan.record, None, &mut io::sink())?;
        }
        Ok(plan)
    }

    /// The one top-level `.dist-info` directory, which must name `expected`.
    fn dist_info(&self, expected: &WheelName) -> Result<String, WheelError> {
        let found: Vec<String> = self
            .top_level
            .iter()
            .filter(|top| top.ends_with(".dist-info"))
            .cloned()
            .collect();
        let [directory] = &found[..] else {
            return Err(WheelError::DistInfoCount {
                wheel: self.name.clone(),
                found,
            });
        };
        let stem = directory
            .strip_suffix(".dist-info")
            .expect("filtered on the suffix");
        if !names_project(stem, expected) {
            return Err(WheelError::DistInfoMismatch {
                wheel: self.name.clone(),
                directory: directory.clone(),
                expected: format!("{} {}", expected.name(), expected.version()),
            });
        }
        Ok(directory.clone())
    }

    /// Reads and parses `RECORD`, and checks that it covers every member and names
    /// only members.
    fn read_record(
        &mut self,
        dist_info: &str,
    ) -> Result<BTreeMap<String, RecordEntry>, WheelError> {
        let member = format!("{dist_info}/RECORD");
        let Some(&position) = self.by_name.get(&member) else {
            return Err(WheelError::MissingDistInfoFile {
                wheel: self.name.clone(),
                member,
            });
        };
        let wheel = self.name.clone();
        let record_error = |line, reason: String| WheelError::Record {
            wheel: wheel.clone(),
            member: member.clone(),
            line,
            reason,
        };
        let bytes = self.read_unverified(position, MAX_RECORD_BYTES)?;
        let Some(bytes) = bytes else {
            return Err(record_error(
                0,
                format!("it is larger than {MAX_RECORD_BYTES} bytes"),
            ));
        };
        let text =
            String::from_utf8(bytes).map_err(|_| record_error(0, "it is not UTF-8".to_owned()))?;
        let rows =
            parse_csv(&text).map_err(|(line, reason)| record_error(line, reason.to_owned()))?;

        let mut record = BTreeMap::new();
        for (line, fields) in rows {
            let (path, entry) = parse_record_row(&fields).map_err(|problem| match problem {
                RecordProblem::Syntax(reason) => record_error(line, reason),
                RecordProblem::Algorithm { path, algorithm } => WheelError::RecordHashAlgorithm {
                    wheel: wheel.clone(),
                    member: path,
                    algorithm,
                },
            })?;
            if record.contains_key(&path) {
                return Err(WheelError::DuplicateRecordEntry {
                    wheel: wheel.clone(),
                    member: path,
                });
            }
            record.insert(path, entry);
        }

        let unlisted = [
            member.clone(),
            format!("{dist_info}/RECORD.jws"),
            format!("{dist_info}/RECORD.p7s"),
        ];
        for file in &self.members {
            if unlisted.contains(&file.name) {
                continue;
            }
            let listed = record
                .get(&file.name)
                .is_some_and(|entry| entry.hash.is_some() && entry.size.is_some());
            if !listed {
                return Err(WheelError::NotInRecord {
                    wheel: self.name.clone(),
                    member: file.name.clone(),
                });
            }
        }
        // Entries without a hash (`RECORD` itself; pip tolerates others) need not
        // exist; an entry with one names a file that must.
        if let Some((path, _)) = record
            .iter()
            .find(|(path, entry)| entry.hash.is_some() && !self.by_name.contains_key(*path))
        {
            return Err(WheelError::MissingFromArchive {
                wheel: self.name.clone(),
                member: path.clone(),
            });
        }
        Ok(record)
    }

    /// A member's bytes, up to `limit` (`None` when larger), not checked against
    /// `RECORD` (for `RECORD` itself).
    fn read_unverified(
        &mut self,
        position: usize,
        limit: u64,
    ) -> Result<Option<Vec<u8>>, WheelError> {
        let member = &self.members[position];
        let failed = |source| extract_error(&self.name, &member.name, source);
        let file = open_member(&mut self.archive, member.index)
            .map_err(|source| failed(zip_to_io(source)))?;
        let mut bytes = Vec::new();
        file.take(limit + 1)
            .read_to_end(&mut bytes)
            .map_err(failed)?;
        Ok((bytes.len() as u64 <= limit).then_some(bytes))
    }

    /// A member that must exist, read whole and checked against `RECORD`.
    fn read_required(
        &mut self,
        member: &str,
        record: &BTreeMap<String, RecordEntry>,
    ) -> Result<Vec<u8>, WheelError> {
        let Some(&position) = self.by_name.get(member) else {
            return Err(WheelError::MissingDistInfoFile {
                wheel: self.name.clone(),
                member: member.to_owned(),
            });
        };
        let mut bytes = Vec::new();
        self.copy_verified(position, record, None, &mut bytes)?;
        Ok(bytes)
    }

    /// Streams a member into `out`, hashing it, and checks its hash and size
    /// against `RECORD`. With `interpreter`, a first line starting with `#!python`
    /// is replaced by `#!<interpreter>` (PEP 427; the whole line, as pip does).
    fn copy_verified(
        &mut self,
        position: usize,
        record: &BTreeMap<String, RecordEntry>,
        interpreter: Option<&str>,
        out: &mut impl Write,
    ) -> Result<(), WheelError> {
        let member = &self.members[position];
        let entry = record.get(&member.name);
        let (Some((algorithm, digest)), Some(size)) = (
            entry.and_then(|e| e.hash.as_ref()),
            entry.and_then(|e| e.size),
        ) else {
            return Err(WheelError::NotInRecord {
                wheel: self.name.clone(),
                member: member.name.clone(),
            });
        };
        let failed = |source| extract_error(&self.name, &member.name, source);
        let file = open_member(&mut self.archive, member.index)
            .map_err(|source| failed(zip_to_io(source)))?;
        // One byte past the recorded size is enough to know it is wrong.
        let mut reader = BufReader::new(HashingReader {
            inner: file.take(size.saturating_add(1)),
            hasher: Hasher::new(*algorithm),
            count: 0,
        });
        copy_script(&mut reader, interpreter, out).map_err(failed)?;
        let reader = reader.into_inner();
        if reader.count != size {
            let actual = if reader.count > size {
                member.declared_size.max(reader.count)
            } else {
                reader.count
            };
            return Err(WheelError::SizeMismatch {
                wheel: self.name.clone(),
                member: member.name.clone(),
                expected: size,
                actual,
            });
        }
        let actual = reader.hasher.finalize();
        if actual != *digest {
            return Err(WheelError::HashMismatch {
                wheel: self.name.clone(),
                member: member.name.clone(),
                algorithm: algorithm.name(),
                expected: BASE64URL_NOPAD.encode(digest),
                actual: BASE64URL_NOPAD.encode(&actual),
            });
        }
        Ok(())
    }

    /// `WHEEL`: `Wheel-Version` 1.x; returns `Root-Is-Purelib`.
    fn parse_wheel_file(&self, member: &str, bytes: &[u8]) -> Result<bool, WheelError> {
        let error = |reason: String| WheelError::WheelFile {
            wheel: self.name.clone(),
            member: member.to_owned(),
            reason,
        };
        let text = std::str::from_utf8(bytes).map_err(|_| error("it is not UTF-8".to_owned()))?;
        let headers = parse_headers(text);
        let single = |field: &str| -> Result<Option<&str>, WheelError> {
            let mut values = headers
                .iter()
                .filter(|(name, _)| name.eq_ignore_ascii_case(field))
                .map(|(_, value)| value.as_str());
            let first = values.next();
            if values.next().is_some() {
                return Err(error(format!("it has more than one `{field}` field")));
            }
            Ok(first)
        };
        let version = single("Wheel-Version")?
            .ok_or_else(|| error("it has no `Wheel-Version` field".to_owned()))?;
        let parts: Option<Vec<u64>> = version
            .split('.')
            .map(|part| {
                (!part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
                    .then(|| part.parse().ok())
                    .flatten()
            })
            .collect();
        let Some(parts) = parts else {
            return Err(error(format!(
                "`Wheel-Version: {version}` is not a version"
            )));
        };
        if parts.first() != Some(&1) {
            return Err(WheelError::UnsupportedWheelVersion {
                wheel: self.name.clone(),
                version: version.to_owned(),
            });
        }
        // pip's reading: anything but `true` (in any case) means platlib.
        Ok(single("Root-Is-Purelib")?.is_some_and(|value| value.eq_ignore_ascii_case("true")))
    }

    /// Decides every file's destination and checks that none collide.
    fn place(
        &self,
        plan: &mut InstallPlan,
        expected: &WheelName,
        scheme: &InstallScheme,
        entry_points: &[ScriptEntryPoint],
    ) -> Result<(), WheelError> {
        let dist_info = &plan.dist_info;
        let skipped = [
            format!("{dist_info}/RECORD"),
            format!("{dist_info}/RECORD.jws"),
            format!("{dist_info}/RECORD.p7s"),
            format!("{dist_info}/INSTALLER"),
        ];
        // Destination → what puts a file there.
        let mut files: BTreeMap<String, String> = BTreeMap::new();
        let claim = |files: &mut BTreeMap<String, String>, dest: String, origin: String| {
            if let Some(first) = files.get(&dest) {
                return Err(WheelError::Conflict {
                    wheel: self.name.clone(),
                    path: dest,
                    first: first.clone(),
                    second: origin,
                });
            }
            files.insert(dest, origin);
            Ok(())
        };
        for (position, member) in self.members.iter().enumerate() {
            if skipped.contains(&member.name) {
                continue;
            }
            let (dest, is_script) =
                self.destination(&member.name, expected, scheme, &plan.lib, &plan.name)?;
            claim(&mut files, dest.clone(), format!("`{}`", member.name))?;
            plan.extract.push((position, dest, is_script));
        }

        let mut names = BTreeSet::new();
        for entry_point in entry_points {
            if !valid_script_name(&entry_point.name) {
                return Err(WheelError::InvalidScriptName {
                    wheel: self.name.clone(),
                    name: entry_point.name.clone(),
                });
            }
            if !names.insert(entry_point.name.clone()) {
                return Err(WheelError::DuplicateScript {
                    wheel: self.name.clone(),
                    name: entry_point.name.clone(),
                });
            }
            let dest = format!("{}/{}", scheme.scripts, entry_point.name);
            if let Some(member) = files.get(&dest) {
                return Err(WheelError::ScriptCollision {
                    wheel: self.name.clone(),
                    name: entry_point.name.clone(),
                    member: member.trim_matches('`').to_owned(),
                });
            }
            claim(
                &mut files,
                dest.clone(),
                format!("the entry point `{}`", entry_point.name),
            )?;
            plan.launchers
                .push((dest, launcher(&scheme.interpreter, entry_point)));
        }
        plan.launchers.sort();
        let scripts_dir = format!("{}/", scheme.scripts);
        plan.scripts = files
            .keys()
            .filter_map(|dest| dest.strip_prefix(&scripts_dir))
            .map(str::to_owned)
            .collect();

        for generated in ["INSTALLER", "RECORD"] {
            claim(
                &mut files,
                format!("{}/{dist_info}/{generated}", plan.lib),
                format!("the generated `{generated}`"),
            )?;
        }

        // A file where another needs a directory.
        for dest in files.keys() {
            let mut parent = dest.as_str();
            while let Some((up, _)) = parent.rsplit_once('/') {
                parent = up;
                if !plan.directories.insert(parent.to_owned()) {
                    break;
                }
            }
        }
        if let Some(path) = plan.directories.iter().find(|dir| files.contains_key(*dir)) {
            let below = format!("{path}/");
            let second = files
                .range(below.clone()..)
                .next()
                .filter(|(dest, _)| dest.starts_with(&below))
                .map(|(_, origin)| origin.clone())
                .unwrap_or_default();
            return Err(WheelError::Conflict {
                wheel: self.name.clone(),
                path: path.clone(),
                first: files[path].clone(),
                second,
            });
        }
        Ok(())
    }

    /// Where a member goes (relative to the install root), and whether it is a
    /// `.data/scripts` file.
    fn destination(
        &self,
        member: &str,
        expected: &WheelName,
        scheme: &InstallScheme,
        lib: &str,
        name: &PackageName,
    ) -> Result<(String, bool), WheelError> {
        let (top, rest) = member.split_once('/').unwrap_or((member, ""));
        let Some(stem) = top.strip_suffix(".data") else {
            return Ok((format!("{lib}/{member}"), false));
        };
        let data_error = |reason: String| WheelError::DataDirectory {
            wheel: self.name.clone(),
            member: member.to_owned(),
            reason,
        };
        if !names_project(stem, expected) {
            return Err(data_error(format!(
                "`{top}` is not the `.data` directory of {} {}",
                expected.name(),
                expected.version()
            )));
        }
        let Some((key, path)) = rest.split_once('/') else {
            return Err(data_error(format!(
                "files in `{top}` belong in a directory named after a scheme key"
            )));
        };
        let Some(key) = DataKey::parse(key) else {
            return Err(WheelError::UnknownDataKey {
                wheel: self.name.clone(),
                member: member.to_owned(),
                key: key.to_owned(),
            });
        };
        // `path` is made of checked components (see `unsafe_name`), so it stays
        // inside the directory it is joined to.
        let (base, is_script) = match key {
            DataKey::Purelib => (scheme.purelib.clone(), false),
            DataKey::Platlib => (scheme.platlib.clone(), false),
            DataKey::Scripts => (scheme.scripts.clone(), true),
            DataKey::Headers => (scheme.headers(name), false),
            DataKey::Data => (scheme.data.clone(), false),
        };
        Ok((format!("{base}/{path}"), is_script))
    }

    /// Writes the planned tree under `dest` (which exists and is empty).
    fn write(
        &mut self,
        plan: &InstallPlan,
        scheme: &InstallScheme,
        dest: &Path,
    ) -> Result<InstalledWheel, WheelError> {
        set_mode(dest, 0o755)
            .map_err(|source| self.write_error(&dest.display().to_string(), source))?;
        for directory in &plan.directories {
            let path = dest.join(directory);
            fs_err::create_dir(&path)
                .and_then(|()| set_mode(&path, 0o755))
                .map_err(|source| self.write_error(directory, source))?;
        }

        // RECORD paths are relative to the library directory.
        let mut rows: Vec<(String, String, u64)> = Vec::new();
        for (position, target, is_script) in &plan.extract {
            let position = *position;
            let member = self.members[position].name.clone();
            let mode = if *is_script || self.members[position].executable {
                0o755
            } else {
                0o644
            };
            let interpreter = is_script.then_some(scheme.interpreter.as_str());
            let wheel = self.name.clone();
            let (hash, size) = write_file(
                &dest.join(target),
                mode,
                |source| WheelError::Extract {
                    wheel: wheel.clone(),
                    member: member.clone(),
                    source,
                },
                |out| self.copy_verified(position, &plan.record, interpreter, out),
            )?;
            rows.push((relative_to(&plan.lib, target), hash, size));
        }
        for (target, content) in &plan.launchers {
            rows.push(self.write_generated(dest, &plan.lib, target, 0o755, content.as_bytes())?);
        }
        let info = format!("{}/{}", plan.lib, plan.dist_info);
        rows.push(self.write_generated(
            dest,
            &plan.lib,
            &format!("{info}/INSTALLER"),
            0o644,
            INSTALLER,
        )?);

        let record_target = format!("{info}/RECORD");
        let record_path = relative_to(&plan.lib, &record_target);
        let mut record = rows
            .iter()
            .map(|(path, hash, size)| (path.clone(), format!("{hash},{size}")))
            .collect::<Vec<_>>();
        record.push((record_path, ",".to_owned()));
        record.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        let mut text = String::new();
        for (path, rest) in &record {
            text.push_str(&csv_field(path));
            text.push(',');
            text.push_str(rest);
            text.push('\n');
        }
        self.write_generated(dest, &plan.lib, &record_target, 0o644, text.as_bytes())?;

        Ok(InstalledWheel {
            name: plan.name.clone(),
            version: plan.version.clone(),
            metadata: plan.metadata.clone(),
            metadata_bytes: plan.metadata_bytes.clone(),
            scripts: plan.scripts.clone(),
            files: rows.len() + 1,
        })
    }

    /// Writes a file cairn makes (a launcher, `INSTALLER`, `RECORD`); returns its
    /// `RECORD` row.
    fn write_generated(
        &self,
        dest: &Path,
        lib: &str,
        target: &str,
        mode: u32,
        content: &[u8],
    ) -> Result<(String, String, u64), WheelError> {
        let io_error = |source| self.write_error(target, source);
        let (hash, size) = write_file(&dest.join(target), mode, io_error, |out| {
            out.write_all(content).map_err(io_error)
        })?;
        Ok((relative_to(lib, target), hash, size))
    }
}

/// Creates `path` (which must not exist), fills it with `fill`, and gives it
/// `mode`. Returns the `RECORD` hash and size of what was written. File system
/// errors become `io_error`'s.
fn write_file(
    path: &Path,
    mode: u32,
    io_error: impl Fn(io::Error) -> WheelError,
    fill: impl FnOnce(&mut HashingWriter<BufWriter<fs_err::File>>) -> Result<(), WheelError>,
) -> Result<(String, u64), WheelError> {
    let file = fs_err::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(&io_error)?;
    let mut out = HashingWriter::new(BufWriter::new(file));
    fill(&mut out)?;
    out.flush().map_err(&io_error)?;
    let hash = out.record_hash();
    let size = out.count;
    let file = out
        .inner
        .into_inner()
        .map_err(|error| io_error(error.into_error()))?;
    file.set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(&io_error)?;
    Ok((hash, size))
}

/// A `RECORD` line the wheel cannot be installed with.
enum RecordProblem {
    Syntax(String),
    Algorithm { path: String, algorithm: String },
}

/// One `RECORD` line: `path,algorithm=digest,size`, hash and size possibly empty.
fn parse_record_row(fields: &[String]) -> Result<(String, RecordEntry), RecordProblem> {
    let [path, hash, size] = fields else {
        return Err(RecordProblem::Syntax(format!(
            "expected 3 fields (path, hash, size), found {}",
            fields.len()
        )));
    };
    let hash = if hash.is_empty() {
        None
    } else {
        let Some((algorithm, value)) = hash.split_once('=') else {
            return Err(RecordProblem::Syntax(format!(
                "`{hash}` is not `algorithm=digest`"
            )));
        };
        let Some(algorithm) = HashAlgorithm::parse(algorithm) else {
            return Err(RecordProblem::Algorithm {
                path: path.clone(),
                algorithm: algorithm.to_owned(),
            });
        };
        // The specification says no padding; tolerate it, as `installer` does.
        let digest = BASE64URL_NOPAD
            .decode(value.trim_end_matches('=').as_bytes())
            .ok()
            .filter(|digest| digest.len() == algorithm.digest_len())
            .ok_or_else(|| {
                RecordProblem::Syntax(format!(
                    "`{value}` is not a {} digest in URL-safe base64",
                    algorithm.name()
                ))
            })?;
        Some((algorithm, digest))
    };
    let size = if size.is_empty() {
        None
    } else {
        let parsed = size
            .bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| size.parse::<u64>().ok())
            .flatten()
            .ok_or_else(|| RecordProblem::Syntax(format!("`{size}` is not a size in bytes")))?;
        Some(parsed)
    };
    Ok((path.clone(), RecordEntry { hash, size }))
}

fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    fs_err::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

/// Copies `reader` to `out`; with `interpreter`, rewrites a `#!python` first line.
fn copy_script(
    reader: &mut impl BufRead,
    interpreter: Option<&str>,
    out: &mut impl Write,
) -> io::Result<()> {
    if let Some(interpreter) = interpreter {
        let mut head = [0u8; 8];
        let mut filled = 0;
        while filled < head.len() {
            let n = reader.read(&mut head[filled..])?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        if head[..filled] == *b"#!python" {
            reader.skip_until(b'\n')?;
            out.write_all(format!("#!{interpreter}\n").as_bytes())?;
        } else {
            out.write_all(&head[..filled])?;
        }
    }
    io::copy(reader, out)?;
    Ok(())
}

/// Member `index` of `archive`, its local header checked against the central
/// directory's (a name that differs between them could hide a member).
fn open_member<R: Read + Seek>(
    archive: &mut ZipArchive<R>,
    index: usize,
) -> Result<zip::read::ZipFile<'_, R>, ZipError> {
    archive.by_index_with_options(
        index,
        ZipReadOptions::new().enforce_header_consistency(true),
    )
}

fn extract_error(wheel: &str, member: &str, source: io::Error) -> WheelError {
    WheelError::Extract {
        wheel: wheel.to_owned(),
        member: member.to_owned(),
        source,
    }
}

fn zip_to_io(error: ZipError) -> io::Error {
    match error {
        ZipError::Io(error) => error,
        other => io::Error::other(other),
    }
}

/// Why a member name is unsafe, if it is: it must be a relative `/`-separated path
/// of normal components (a directory entry ends with one `/`).
fn unsafe_name(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        return Some("the name is empty");
    }
    if name.contains('\0') {
        return Some("the name contains NUL");
    }
    if name.contains('\\') {
        return Some("the name contains a backslash");
    }
    if name.starts_with('/') {
        return Some("the path is absolute");
    }
    let path = name.strip_suffix('/').unwrap_or(name);
    for component in path.split('/') {
        match component {
            "" => return Some("the path has an empty component"),
            "." => return Some("the path has a `.` component"),
            ".." => return Some("the path has a `..` component"),
            _ => {}
        }
    }
    None
}

/// Whether `<name>-<version>` (a `.dist-info` or `.data` directory's stem) names
/// the expected project and version, compared normalized (PEP 503, PEP 440).
fn names_project(stem: &str, expected: &WheelName) -> bool {
    stem.match_indices('-').any(|(at, _)| {
        let (name, version) = (&stem[..at], &stem[at + 1..]);
        parse_package_name(name).is_ok_and(|name| name == *expected.name())
            && Version::from_str(version).is_ok_and(|version| version == *expected.version())
    })
}

/// pip's (distlib's) rule for a script name: `\w`, `-`, `.` and `+`; and a
/// plain file name, so not `.` or `..`.
fn valid_script_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '+'))
}

/// The launcher `installer` and uv write for `module:attr`: import the first part
/// of `attr` from `module`, and exit with what calling `attr` returns.
fn launcher(interpreter: &str, entry_point: &ScriptEntryPoint) -> String {
    let ScriptEntryPoint { module, attr, .. } = entry_point;
    let import_name = attr.split('.').next().unwrap_or(attr);
    format!(
        "#!{interpreter}\n\
         # -*- coding: utf-8 -*-\n\
         import re\n\
         import sys\n\
         from {module} import {import_name}\n\
         if __name__ == \"__main__\":\n    \
         sys.argv[0] = re.sub(r\"(-script\\.pyw|\\.exe)?$\", \"\", sys.argv[0])\n    \
         sys.exit({attr}())\n"
    )
}

/// `path` (relative to the install root) as seen from the directory `base`.
fn relative_to(base: &str, path: &str) -> String {
    let base: Vec<&str> = base.split('/').collect();
    let path: Vec<&str> = path.split('/').collect();
    let common = base.iter().zip(&path).take_while(|(a, b)| a == b).count();
    let mut parts = vec![".."; base.len() - common];
    parts.extend(&path[common..]);
    parts.join("/")
}

/// RFC 822-style headers (`WHEEL`): `Name: value` lines until a blank line, a
/// line starting with whitespace continuing the previous one.
fn parse_headers(text: &str) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = headers.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            break;
        };
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    headers
}

/// The console and GUI scripts of `entry_points.txt`, read as
/// `importlib.metadata` reads it: lines stripped, blank lines and `#` (or `;`)
/// comments skipped, `[group]` headers, `name = value` split at the first `=`, and
/// the value `module:attr` with an optional `[extras]` (no spaces around `:`, as
/// pip's distlib and the specification's `partition(':')` have it). Only
/// the `console_scripts` and `gui_scripts` groups are read; on Linux the two are
/// the same. Errors are `(line, reason)`.
fn parse_entry_points(bytes: &[u8]) -> Result<Vec<ScriptEntryPoint>, (usize, String)> {
    let text = std::str::from_utf8(bytes).map_err(|_| (0, "it is not UTF-8".to_owned()))?;
    let mut scripts = Vec::new();
    let mut in_scripts = false;
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with(['#', ';']) {
            continue;
        }
        if line.starts_with('[') && line.ends_with(']') {
            let group = line.trim_matches(['[', ']']);
            in_scripts = matches!(group, "console_scripts" | "gui_scripts");
            continue;
        }
        if !in_scripts {
            continue;
        }
        let line_number = index + 1;
        let error = |reason: String| (line_number, reason);
        let Some((name, value)) = line.split_once('=') else {
            return Err(error(format!("`{line}` is not `name = module:function`")));
        };
        let (name, value) = (name.trim(), value.trim());
        let (reference, extras) = match value.find('[') {
            Some(at) => (value[..at].trim_end(), Some(&value[at..])),
            None => (value, None),
        };
        if extras.is_some_and(|extras| !extras.ends_with(']')) {
            return Err(error(format!("`{value}` has unbalanced extras brackets")));
        }
        let Some((module, attr)) = reference.split_once(':') else {
            return Err(error(format!(
                "the script `{name}` = `{value}` names no function: a script entry point is \
                 `module:function`"
            )));
        };
        if !dotted_identifier(module) || !dotted_identifier(attr) {
            return Err(error(format!(
                "`{value}` is not `module:function` with dotted Python identifiers"
            )));
        }
        scripts.push(ScriptEntryPoint {
            name: name.to_owned(),
            module: module.to_owned(),
            attr: attr.to_owned(),
        });
    }
    Ok(scripts)
}

/// `a.b.c`, every part a Python identifier.
fn dotted_identifier(text: &str) -> bool {
    text.split('.').all(|part| {
        let mut chars = part.chars();
        chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
            && chars.all(|c| c.is_alphanumeric() || c == '_')
    })
}

/// A CSV record: the line it starts on, and its fields.
type CsvRecord = (usize, Vec<String>);

/// Reads CSV as Python's `csv.reader` does with the default dialect: `,`
/// separates, `"` quotes (`""` is a quote inside quotes), a record ends at LF,
/// CRLF or CR outside quotes, blank lines are skipped. A quote inside an unquoted
/// field is kept as text. Returns `(line, fields)` per record; errors are
/// `(line, reason)`.
fn parse_csv(text: &str) -> Result<Vec<CsvRecord>, (usize, &'static str)> {
    let mut records = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1;
    while chars.peek().is_some() {
        let start = line;
        let mut fields = Vec::new();
        let mut field = String::new();
        let mut quoted = false;
        let mut any = false;
        loop {
            let Some(c) = chars.next() else {
                if quoted {
                    return Err((start, "a quoted field is not closed"));
                }
                break;
            };
            if quoted {
                match c {
                    '"' if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    '"' => {
                        quoted = false;
                        match chars.peek() {
                            None | Some(',' | '\n' | '\r') => {}
                            Some(_) => {
                                return Err((line, "text follows a closing quote"));
                            }
                        }
                    }
                    '\n' => {
                        line += 1;
                        field.push(c);
                    }
                    _ => field.push(c),
                }
                continue;
            }
            match c {
                '"' if field.is_empty() => {
                    quoted = true;
                    any = true;
                }
                ',' => {
                    fields.push(std::mem::take(&mut field));
                    any = true;
                }
                '\r' | '\n' => {
                    if c == '\r' && chars.peek() == Some(&'\n') {
                        chars.next();
                    }
                    line += 1;
                    break;
                }
                _ => {
                    field.push(c);
                    any = true;
                }
            }
        }
        if any || !field.is_empty() {
            fields.push(field);
            records.push((start, fields));
        }
    }
    Ok(records)
}

/// A field as Python's `csv.writer` writes it (minimal quoting).
fn csv_field(field: &str) -> String {
    if field.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_owned()
    }
}

/// The first name the zip directory has twice, read from the raw central
/// directory (the archive reader keeps one entry per name).
fn duplicate_central_name<R: Read + Seek>(path: &Path, archive: &ZipArchive<R>) -> Option<String> {
    let mut file = fs_err::File::open(path).ok()?;
    file.seek(io::SeekFrom::Start(archive.central_directory_start()))
        .ok()?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).ok()?;
    let mut at = 0;
    let mut seen = BTreeSet::new();
    while bytes.get(at..at + 4)? == b"PK\x01\x02" {
        let field = |offset: usize| -> Option<usize> {
            let b = bytes.get(at + offset..at + offset + 2)?;
            Some(usize::from(u16::from_le_bytes([b[0], b[1]])))
        };
        let (name_len, extra_len, comment_len) = (field(28)?, field(30)?, field(32)?);
        let name = bytes.get(at + 46..at + 46 + name_len)?;
        let name = String::from_utf8_lossy(name).into_owned();
        if !seen.insert(name.clone()) {
            return Some(name);
        }
        at += 46 + name_len + extra_len + comment_len;
    }
    None
}

/// Wheels built in memory, for this module's tests and [`crate::object`]'s.
#[cfg(test)]
pub(crate) mod testing {
    use std::fmt::Write as _;
    use std::io::{Cursor, Write as _};
    use std::path::{Path, PathBuf};

    use data_encoding::BASE64URL_NOPAD;
    use sha2::{Digest as _, Sha256};
    use zip::write::SimpleFileOptions;
    use zip::{CompressionMethod, System, ZipWriter};

    use super::{InstallScheme, csv_field};
    use crate::target::Target;

    /// A zip member: a file with a unix mode (type bits included), a directory or
    /// a symlink (`data` is its target).
    #[derive(Debug, Clone)]
    pub(crate) struct Entry {
        pub(crate) name: String,
        pub(crate) data: Vec<u8>,
        pub(crate) mode: u32,
    }

    pub(crate) fn file(name: &str, data: &[u8]) -> Entry {
        Entry {
            name: name.to_owned(),
            data: data.to_vec(),
            mode: 0o100_644,
        }
    }

    pub(crate) fn executable(name: &str, data: &[u8]) -> Entry {
        Entry {
            mode: 0o100_755,
            ..file(name, data)
        }
    }

    pub(crate) fn directory(name: &str) -> Entry {
        Entry {
            mode: 0o040_755,
            ..file(name, b"")
        }
    }

    pub(crate) fn symlink(name: &str, target: &str) -> Entry {
        Entry {
            mode: 0o120_777,
            ..file(name, target.as_bytes())
        }
    }

    pub(crate) fn record_hash(data: &[u8]) -> String {
        format!("sha256={}", BASE64URL_NOPAD.encode(&Sha256::digest(data)))
    }

    /// A correct RECORD for `entries` (files only), listing itself as `record`.
    pub(crate) fn record_for(entries: &[Entry], record: &str) -> String {
        let mut text = String::new();
        for entry in entries.iter().filter(|e| e.mode & 0o170_000 == 0o100_000) {
            let name = csv_field(&entry.name);
            let hash = record_hash(&entry.data);
            writeln!(text, "{name},{hash},{}", entry.data.len()).unwrap();
        }
        writeln!(text, "{record},,").unwrap();
        text
    }

    /// The zip archive of `entries`, in order, deflated.
    pub(crate) fn zip_bytes(entries: &[Entry]) -> Vec<u8> {
        let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
        for entry in entries {
            let options = SimpleFileOptions::default()
                .compression_method(CompressionMethod::Deflated)
                .system(System::Unix);
            match entry.mode & 0o170_000 {
                0o040_000 => zip.add_directory(entry.name.trim_end_matches('/'), options),
                0o120_000 => zip.add_symlink(
                    &entry.name,
                    String::from_utf8(entry.data.clone()).unwrap(),
                    options,
                ),
                _ => zip
                    .start_file(&entry.name, options.external_attributes(entry.mode << 16))
                    .and_then(|()| Ok(zip.write_all(&entry.data)?)),
            }
            .unwrap();
        }
        zip.finish().unwrap().into_inner()
    }

    /// The files of a small wheel of `name` (escaped) `version`, without RECORD.
    pub(crate) fn minimal_entries(name: &str, version: &str) -> Vec<Entry> {
        let info = format!("{name}-{version}.dist-info");
        vec![
            file(&format!("{name}/__init__.py"), b"VALUE = 1\n"),
            file(
                &format!("{info}/METADATA"),
                format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n").as_bytes(),
            ),
            file(
                &format!("{info}/WHEEL"),
                b"Wheel-Version: 1.0\nGenerator: cairn-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
            ),
        ]
    }

    /// `entries` and a correct RECORD, as a zip.
    pub(crate) fn wheel_with_record(entries: &[Entry], dist_info: &str) -> Vec<u8> {
        let record = format!("{dist_info}/RECORD");
        let mut entries = entries.to_vec();
        entries.push(file(&record, record_for(&entries, &record).as_bytes()));
        zip_bytes(&entries)
    }

    pub(crate) fn write_wheel(dir: &Path, filename: &str, bytes: &[u8]) -> PathBuf {
        let path = dir.join(filename);
        fs_err::write(&path, bytes).unwrap();
        path
    }

    pub(crate) fn target() -> Target {
        Target::from_debian("3.13.5-1", "2.41-12", "amd64").unwrap()
    }

    pub(crate) fn scheme() -> InstallScheme {
        InstallScheme::debian(&target())
    }
}

#[cfg(test)]
mod tests;
