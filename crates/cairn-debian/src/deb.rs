//! Reading `.deb` files without dpkg (deb(5)): an `ar` archive holding `debian-binary`
//! (`2.0`), `control.tar[.xz|.gz|.zst]` and `data.tar[.xz|.gz|.zst]`.
//!
//! [`read_deb`] keeps the control archive as data (the control fields, `md5sums`,
//! `conffiles` and maintainer scripts, which are never run) and extracts the data
//! archive into a new directory, under a strict policy:
//! - it refuses absolute paths, `..` components and duplicate entries, and requires
//!   every proper prefix of a path to be a directory the archive itself created (missing
//!   parents are created as plain directories), so no path passes through a symlink,
//!   file or special entry (all errors name the archive and entry);
//! - it creates files with `O_EXCL | O_NOFOLLOW`, so nothing outside the destination is
//!   ever written;
//! - it keeps hard links as links, and only to regular files the archive created;
//! - it records device nodes and FIFOs in the entry list but never creates them on the
//!   host.
//!
//! Every entry comes back with its exact tar metadata (mode including setuid/setgid/
//! sticky, uid, gid), which becomes the store object's permissions manifest.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::io::{self, BufReader, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// What an entry of `data.tar` is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DebEntryKind {
    Directory,
    File {
        size: u64,
    },
    Symlink {
        target: Vec<u8>,
    },
    /// A hard link to an earlier entry (relative path).
    HardLink {
        target: Vec<u8>,
    },
    /// A device node or FIFO: recorded, never created.
    Special {
        kind: SpecialKind,
        major: u32,
        minor: u32,
    },
}

/// The kinds of special file a package may ship.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecialKind {
    CharDevice,
    BlockDevice,
    Fifo,
}

/// One entry of the data archive, with its metadata as the tar header gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebEntry {
    /// Relative path, `/`-separated, without a leading `./` (empty for the root).
    pub path: Vec<u8>,
    pub kind: DebEntryKind,
    /// Permission bits including setuid, setgid and sticky (`0o7777`).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// The control archive, kept as data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DebControl {
    /// The `control` file.
    pub control: String,
    pub md5sums: Option<String>,
    pub conffiles: Option<String>,
    /// Every other member (`preinst`, `postinst`, `prerm`, `postrm`, `config`,
    /// `triggers`, `templates`, `shlibs`, `symbols`…) by name.
    pub scripts: BTreeMap<String, Vec<u8>>,
}

/// A `.deb` read and unpacked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebContents {
    pub control: DebControl,
    /// Data entries in archive order.
    pub entries: Vec<DebEntry>,
}

/// Why a `.deb` was refused.
#[derive(Debug, thiserror::Error)]
pub enum DebError {
    #[error("`{}` is not a .deb: {reason}", deb.display())]
    NotADeb { deb: PathBuf, reason: String },
    #[error("`{}` has no `{member}` member", deb.display())]
    MissingMember { deb: PathBuf, member: &'static str },
    #[error("`{}`: `{member}` uses a compression cairn does not read", deb.display())]
    UnsupportedCompression { deb: PathBuf, member: String },
    #[error("`{}`: `{member}` is corrupt", deb.display())]
    Corrupt {
        deb: PathBuf,
        member: String,
        #[source]
        source: io::Error,
    },
    #[error("`{}`: unsafe entry `{}` in data.tar: {reason}", deb.display(), String::from_utf8_lossy(entry))]
    UnsafeEntry {
        deb: PathBuf,
        entry: Vec<u8>,
        reason: &'static str,
    },
    #[error("Failed to extract `{}` from `{}`", path.display(), deb.display())]
    Extract {
        deb: PathBuf,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Io(#[from] io::Error),
}

fn decompressor<'r>(name: &str, reader: impl Read + 'r) -> Option<Box<dyn Read + 'r>> {
    let (_, ext) = name.split_once(".tar").unwrap_or((name, ""));
    match ext {
        "" => Some(Box::new(reader)),
        ".xz" => Some(Box::new(liblzma::read::XzDecoder::new(reader))),
        ".gz" => Some(Box::new(flate2::read::MultiGzDecoder::new(reader))),
        ".zst" => zstd::stream::read::Decoder::new(reader)
            .ok()
            .map(|d| Box::new(d) as Box<dyn Read>),
        _ => None,
    }
}

/// Normalizes a tar path (`./usr/bin/x`, `usr/bin/x/`) to `usr/bin/x`, refusing absolute
/// paths, `..` and NUL.
fn normalize(raw: &[u8]) -> Result<Vec<u8>, &'static str> {
    if raw.starts_with(b"/") {
        return Err("absolute path");
    }
    let mut out: Vec<u8> = Vec::with_capacity(raw.len());
    for component in raw.split(|&b| b == b'/') {
        match component {
            b"" | b"." => {}
            b".." => return Err("`..` component"),
            c if c.contains(&0) => return Err("NUL byte"),
            c => {
                if !out.is_empty() {
                    out.push(b'/');
                }
                out.extend_from_slice(c);
            }
        }
    }
    Ok(out)
}

/// Reads `deb` and extracts its data archive into `dest`, which must not exist.
pub fn read_deb(deb: &Path, dest: &Path) -> Result<DebContents, DebError> {
    let file = fs_err::File::open(deb)?;
    let mut archive = ar::Archive::new(BufReader::new(file));
    let not_a_deb = |reason: String| DebError::NotADeb {
        deb: deb.to_owned(),
        reason,
    };
    let mut seen_version = false;
    let mut control = None;
    let mut entries = None;
    while let Some(member) = archive.next_entry() {
        let mut member = member.map_err(|e| not_a_deb(format!("bad ar archive: {e}")))?;
        let name = String::from_utf8_lossy(member.header().identifier())
            .trim_end_matches('/')
            .to_owned();
        let corrupt = |source| DebError::Corrupt {
            deb: deb.to_owned(),
            member: name.clone(),
            source,
        };
        if !seen_version {
            // deb(5): the first member is debian-binary, "2.x\n".
            let mut version = String::new();
            member.read_to_string(&mut version).map_err(corrupt)?;
            if name != "debian-binary" || !version.starts_with("2.") {
                return Err(not_a_deb(
                    "the first member is not a debian-binary of format 2.x".into(),
                ));
            }
            seen_version = true;
        } else if name.starts_with("control.tar") {
            let reader = decompressor(&name, &mut member).ok_or_else(|| {
                DebError::UnsupportedCompression {
                    deb: deb.to_owned(),
                    member: name.clone(),
                }
            })?;
            control = Some(read_control(reader).map_err(corrupt)?);
        } else if name.starts_with("data.tar") {
            let reader = decompressor(&name, &mut member).ok_or_else(|| {
                DebError::UnsupportedCompression {
                    deb: deb.to_owned(),
                    member: name.clone(),
                }
            })?;
            entries = Some(extract_data(deb, &name, reader, dest)?);
        }
    }
    if !seen_version {
        return Err(not_a_deb("it is empty".into()));
    }
    let control = control.ok_or(DebError::MissingMember {
        deb: deb.to_owned(),
        member: "control.tar",
    })?;
    let entries = entries.ok_or(DebError::MissingMember {
        deb: deb.to_owned(),
        member: "data.tar",
    })?;
    Ok(DebContents { control, entries })
}

fn read_control(reader: impl Read) -> io::Result<DebControl> {
    let mut out = DebControl::default();
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries()? {
        let mut entry = entry?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = normalize(&entry.path_bytes()).map_err(io::Error::other)?;
        let mut data = Vec::new();
        entry.read_to_end(&mut data)?;
        let text = || String::from_utf8(data.clone()).map_err(io::Error::other);
        match name.as_slice() {
            b"control" => out.control = text()?,
            b"md5sums" => out.md5sums = Some(text()?),
            b"conffiles" => out.conffiles = Some(text()?),
            other => {
                out.scripts
                    .insert(String::from_utf8_lossy(other).into_owned(), data);
            }
        }
    }
    io::copy(&mut archive.into_inner(), &mut io::sink())?;
    if out.control.is_empty() {
        return Err(io::Error::other("control.tar has no control file"));
    }
    Ok(out)
}

/// Creates `path` (never following a symlink, never replacing anything) with the
/// contents of `data`; returns the bytes written.
fn write_new_file(path: &Path, mode: u32, data: &mut impl Read) -> io::Result<u64> {
    let wanted = if mode & 0o100 != 0 { 0o755 } else { 0o644 };
    let file = std::fs::File::options()
        .write(true)
        .create_new(true)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits().cast_signed())
        .mode(wanted)
        .open(path)?;
    // `open`'s mode passes through the umask; the executable bit must not (found in
    // review: under `umask 0177` an executable came out 0644).
    file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(wanted))?;
    let mut file = fs_err::File::from_parts(file, path);
    io::copy(data, &mut file)
}

/// What [`Admitted::admit`] decided about an entry.
struct Admission {
    /// The normalized path.
    path: Vec<u8>,
    /// Parent directories the archive did not list, to create first.
    implicit_parents: Vec<Vec<u8>>,
    /// The entry is a directory that already exists (the root, or an implicit parent
    /// listed late).
    exists: bool,
}

/// The paths extracted so far, by kind. The rules that keep extraction inside the
/// destination live here: every proper prefix of a path must be a directory this
/// archive created (so no path ever passes through a symlink, file or special entry),
/// and a hard link may only point at a regular file this archive created.
struct Admitted {
    seen: BTreeSet<Vec<u8>>,
    dirs: BTreeSet<Vec<u8>>,
    implicit: BTreeSet<Vec<u8>>,
    files: BTreeSet<Vec<u8>>,
}

impl Default for Admitted {
    fn default() -> Self {
        let root = BTreeSet::from([Vec::new()]);
        Self {
            seen: root.clone(),
            dirs: root,
            implicit: BTreeSet::new(),
            files: BTreeSet::new(),
        }
    }
}

impl Admitted {
    fn admit(&mut self, raw: &[u8], is_dir: bool) -> Result<Admission, &'static str> {
        let path = normalize(raw)?;
        if path.is_empty() {
            return if is_dir {
                Ok(Admission {
                    path,
                    implicit_parents: Vec::new(),
                    exists: true,
                })
            } else {
                Err("the archive root is not a directory")
            };
        }
        let mut implicit_parents = Vec::new();
        let mut prefix: Vec<u8> = Vec::new();
        let components: Vec<&[u8]> = path.split(|&b| b == b'/').collect();
        for component in &components[..components.len() - 1] {
            if !prefix.is_empty() {
                prefix.push(b'/');
            }
            prefix.extend_from_slice(component);
            if self.dirs.contains(&prefix) {
                continue;
            }
            if self.seen.contains(&prefix) {
                return Err("its path goes through a symlink, file or special entry");
            }
            self.seen.insert(prefix.clone());
            self.dirs.insert(prefix.clone());
            self.implicit.insert(prefix.clone());
            implicit_parents.push(prefix.clone());
        }
        if self.seen.contains(&path) {
            // A directory listed after its own children is fine, once.
            if is_dir && self.implicit.remove(&path) {
                return Ok(Admission {
                    path,
                    implicit_parents,
                    exists: true,
                });
            }
            return Err("it appears twice");
        }
        self.seen.insert(path.clone());
        if is_dir {
            self.dirs.insert(path.clone());
        }
        Ok(Admission {
            path,
            implicit_parents,
            exists: false,
        })
    }
}

/// Extraction of one data archive into `dest`.
struct Extractor<'a> {
    deb: &'a Path,
    member: &'a str,
    dest: &'a Path,
    admitted: Admitted,
}

impl Extractor<'_> {
    fn corrupt(&self, source: io::Error) -> DebError {
        DebError::Corrupt {
            deb: self.deb.to_owned(),
            member: self.member.to_owned(),
            source,
        }
    }

    fn unsafe_entry(&self, entry: &[u8], reason: &'static str) -> DebError {
        DebError::UnsafeEntry {
            deb: self.deb.to_owned(),
            entry: entry.to_vec(),
            reason,
        }
    }

    fn on_disk(&self, path: &[u8]) -> PathBuf {
        if path.is_empty() {
            self.dest.to_owned()
        } else {
            self.dest.join(OsStr::from_bytes(path))
        }
    }

    /// Admits one entry, creates it (or records it) and returns it.
    fn extract(&mut self, entry: &mut tar::Entry<'_, impl Read>) -> Result<DebEntry, DebError> {
        let raw = entry.path_bytes().into_owned();
        let header = entry.header().clone();
        let entry_type = header.entry_type();
        let Admission {
            path,
            implicit_parents,
            exists,
        } = self
            .admitted
            .admit(&raw, entry_type == tar::EntryType::Directory)
            .map_err(|reason| self.unsafe_entry(&raw, reason))?;
        let deb = self.deb;
        let extract = move |path: PathBuf| {
            move |source| DebError::Extract {
                deb: deb.to_owned(),
                path,
                source,
            }
        };
        for parent in implicit_parents {
            let dir = self.on_disk(&parent);
            fs_err::create_dir(&dir).map_err(extract(dir.clone()))?;
        }
        let mode = header.mode().map_err(|e| self.corrupt(e))? & 0o7777;
        let uid = header.uid().map_err(|e| self.corrupt(e))?;
        let gid = header.gid().map_err(|e| self.corrupt(e))?;
        let uid = u32::try_from(uid).map_err(|_| self.unsafe_entry(&raw, "uid out of range"))?;
        let gid = u32::try_from(gid).map_err(|_| self.unsafe_entry(&raw, "gid out of range"))?;
        let on_disk = self.on_disk(&path);
        let kind = match entry_type {
            tar::EntryType::Directory => {
                if !exists {
                    fs_err::create_dir(&on_disk).map_err(extract(on_disk.clone()))?;
                }
                DebEntryKind::Directory
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let size = header.size().map_err(|e| self.corrupt(e))?;
                let copied =
                    write_new_file(&on_disk, mode, entry).map_err(extract(on_disk.clone()))?;
                if copied != size {
                    return Err(self.corrupt(io::ErrorKind::UnexpectedEof.into()));
                }
                self.admitted.files.insert(path.clone());
                DebEntryKind::File { size }
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| self.unsafe_entry(&raw, "symlink without a target"))?;
                let target = target.into_owned();
                std::os::unix::fs::symlink(OsStr::from_bytes(&target), &on_disk)
                    .map_err(extract(on_disk.clone()))?;
                DebEntryKind::Symlink { target }
            }
            tar::EntryType::Link => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| self.unsafe_entry(&raw, "hard link without a target"))?;
                let target =
                    normalize(&target).map_err(|reason| self.unsafe_entry(&raw, reason))?;
                // Only regular files this archive created: never a special entry, a
                // symlink, a directory, or anything reached through one.
                if !self.admitted.files.contains(&target) {
                    return Err(self
                        .unsafe_entry(&raw, "hard link to an entry that is not an earlier file"));
                }
                fs_err::hard_link(self.on_disk(&target), &on_disk)
                    .map_err(extract(on_disk.clone()))?;
                self.admitted.files.insert(path.clone());
                DebEntryKind::HardLink { target }
            }
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                let kind = match entry_type {
                    tar::EntryType::Char => SpecialKind::CharDevice,
                    tar::EntryType::Block => SpecialKind::BlockDevice,
                    _ => SpecialKind::Fifo,
                };
                let major = header.device_major().ok().flatten().unwrap_or(0);
                let minor = header.device_minor().ok().flatten().unwrap_or(0);
                DebEntryKind::Special { kind, major, minor }
            }
            // PAX and GNU extension headers are consumed by the tar crate itself.
            _ => return Err(self.unsafe_entry(&raw, "unsupported tar entry type")),
        };
        Ok(DebEntry {
            path,
            kind,
            mode,
            uid,
            gid,
        })
    }
}

fn extract_data(
    deb: &Path,
    member: &str,
    reader: impl Read,
    dest: &Path,
) -> Result<Vec<DebEntry>, DebError> {
    fs_err::create_dir(dest)?;
    let mut extractor = Extractor {
        deb,
        member,
        dest,
        admitted: Admitted::default(),
    };
    let mut out = Vec::new();
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries().map_err(|e| extractor.corrupt(e))? {
        let mut entry = entry.map_err(|e| extractor.corrupt(e))?;
        out.push(extractor.extract(&mut entry)?);
    }
    // Read the compressed stream to its end, so its integrity check runs and a cut or
    // damaged tail is caught even after the tar's end-of-archive blocks.
    io::copy(&mut archive.into_inner(), &mut io::sink()).map_err(|e| extractor.corrupt(e))?;
    Ok(out)
}
