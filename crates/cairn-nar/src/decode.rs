//! Streaming, strict NAR parsing.
//!
//! The parser reads exactly one NAR and nothing after it, so NARs can be embedded in
//! other streams (the store's export format does). It accepts only the canonical form
//! that [`crate::dump_path`] and `nix-store --dump` produce: known tokens in order,
//! zero padding, directory entries strictly sorted by name, and names that are valid
//! single path components. Anything else is a [`NarError::Malformed`] with the byte
//! offset, so a tampered stream never unpacks into something else.

use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, symlink};
use std::path::{Path, PathBuf};

use crate::NarError;
use crate::encode::{MAGIC, padding};

/// Longest token or name or symlink target accepted (contents are not tokens).
const MAX_TOKEN: u64 = 4096;

/// One node of a NAR being parsed, in order.
pub enum NarEvent<'a> {
    /// A directory at `path` (relative, `/`-separated bytes; empty for the root).
    Directory { path: &'a [u8] },
    /// The end of the directory at `path`.
    DirectoryEnd { path: &'a [u8] },
    /// A regular file. The callback may read `contents` (up to `size` bytes); whatever it
    /// leaves unread is read and discarded by the parser.
    Regular {
        path: &'a [u8],
        executable: bool,
        size: u64,
        contents: &'a mut dyn Read,
    },
    /// A symbolic link.
    Symlink { path: &'a [u8], target: &'a [u8] },
}

struct Parser<R> {
    reader: R,
    offset: u64,
}

impl<R: Read> Parser<R> {
    fn malformed(&self, what: impl Into<String>) -> NarError {
        NarError::Malformed {
            offset: self.offset,
            what: what.into(),
        }
    }

    fn read_exact(&mut self, buf: &mut [u8]) -> Result<(), NarError> {
        match self.reader.read_exact(buf) {
            Ok(()) => {
                self.offset += buf.len() as u64;
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Err(NarError::Truncated {
                offset: self.offset,
            }),
            Err(e) => Err(NarError::Io(e)),
        }
    }

    fn u64(&mut self) -> Result<u64, NarError> {
        let mut buf = [0u8; 8];
        self.read_exact(&mut buf)?;
        Ok(u64::from_le_bytes(buf))
    }

    fn padding(&mut self, len: u64) -> Result<(), NarError> {
        let pad = padding(len);
        let mut buf = [0u8; 8];
        self.read_exact(&mut buf[..pad])?;
        if buf[..pad].iter().any(|&b| b != 0) {
            return Err(self.malformed("non-zero padding"));
        }
        Ok(())
    }

    fn token(&mut self) -> Result<Vec<u8>, NarError> {
        let len = self.u64()?;
        if len > MAX_TOKEN {
            return Err(self.malformed(format!(
                "string of {len} bytes where at most {MAX_TOKEN} are allowed"
            )));
        }
        let mut buf = vec![0u8; usize::try_from(len).expect("bounded by MAX_TOKEN")];
        self.read_exact(&mut buf)?;
        self.padding(len)?;
        Ok(buf)
    }

    fn magic(&mut self) -> Result<(), NarError> {
        let bad = NarError::Malformed {
            offset: 0,
            what: "not a NAR (bad magic)".into(),
        };
        match self.token() {
            Ok(token) if token == MAGIC => Ok(()),
            Ok(_) | Err(NarError::Malformed { .. }) => Err(bad),
            Err(e) => Err(e),
        }
    }

    fn expect(&mut self, want: &[u8]) -> Result<(), NarError> {
        let at = self.offset;
        let got = self.token()?;
        if got == want {
            Ok(())
        } else {
            Err(NarError::Malformed {
                offset: at,
                what: format!(
                    "expected `{}`, found `{}`",
                    String::from_utf8_lossy(want),
                    String::from_utf8_lossy(&got)
                ),
            })
        }
    }
}

/// Reads `size` bytes of file contents for the callback, tracking the parser's offset.
struct Contents<'p, R> {
    parser: &'p mut Parser<R>,
    remaining: u64,
}

impl<R: Read> Read for Contents<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 {
            return Ok(0);
        }
        let want = usize::try_from(self.remaining.min(buf.len() as u64)).expect("bounded by buf");
        let n = self.parser.reader.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        self.parser.offset += n as u64;
        self.remaining -= n as u64;
        Ok(n)
    }
}

fn valid_name(name: &[u8]) -> bool {
    !name.is_empty() && name != b"." && name != b".." && !name.contains(&b'/') && !name.contains(&0)
}

/// The rest of a regular file node, after its type.
fn parse_regular<R, E>(
    p: &mut Parser<R>,
    path: &[u8],
    visit: &mut impl FnMut(NarEvent<'_>) -> Result<(), E>,
) -> Result<(), E>
where
    R: Read,
    E: From<NarError>,
{
    let mut tag = p.token()?;
    let mut executable = false;
    if tag == b"executable" {
        p.expect(b"")?;
        executable = true;
        tag = p.token()?;
    }
    if tag != b"contents" {
        return Err(p.malformed("expected `contents`").into());
    }
    let size = p.u64()?;
    let mut contents = Contents {
        parser: p,
        remaining: size,
    };
    visit(NarEvent::Regular {
        path,
        executable,
        size,
        contents: &mut contents,
    })?;
    // Drain what the callback left.
    io::copy(&mut contents, &mut io::sink()).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => NarError::Truncated {
            offset: contents.parser.offset,
        },
        _ => NarError::Io(e),
    })?;
    p.padding(size)?;
    p.expect(b")")?;
    Ok(())
}

/// Parses one NAR from `reader`, calling `visit` for each node in order. Returns the
/// NAR's size. Reads nothing past the end of the NAR.
pub fn parse<R, E>(
    reader: R,
    mut visit: impl FnMut(NarEvent<'_>) -> Result<(), E>,
) -> Result<u64, E>
where
    R: Read,
    E: From<NarError>,
{
    let mut p = Parser { reader, offset: 0 };
    p.magic()?;
    // Open directories: their path and the last entry name seen in them.
    let mut dirs: Vec<(Vec<u8>, Option<Vec<u8>>)> = Vec::new();
    let mut path: Vec<u8> = Vec::new();
    loop {
        // Parse the node at `path`.
        p.expect(b"(")?;
        p.expect(b"type")?;
        let at = p.offset;
        let kind = p.token()?;
        match kind.as_slice() {
            b"regular" => parse_regular(&mut p, &path, &mut visit)?,
            b"symlink" => {
                p.expect(b"target")?;
                let target = p.token()?;
                if target.is_empty() || target.contains(&0) {
                    return Err(p
                        .malformed("empty symlink target or one with a NUL byte")
                        .into());
                }
                visit(NarEvent::Symlink {
                    path: &path,
                    target: &target,
                })?;
                p.expect(b")")?;
            }
            b"directory" => {
                visit(NarEvent::Directory { path: &path })?;
                dirs.push((path.clone(), None));
            }
            other => {
                return Err(NarError::Malformed {
                    offset: at,
                    what: format!("unknown node type `{}`", String::from_utf8_lossy(other)),
                }
                .into());
            }
        }
        // Find the next node: an entry of an open directory, or the end. A file or
        // symlink that was a directory entry leaves that entry to be closed.
        let mut close_entry = kind != b"directory" && !dirs.is_empty();
        loop {
            if dirs.is_empty() {
                return Ok(p.offset);
            }
            if std::mem::take(&mut close_entry) {
                p.expect(b")")?;
            }
            let at = p.offset;
            let tag = p.token()?;
            if tag == b")" {
                let (dir_path, _) = dirs.pop().expect("checked non-empty above");
                visit(NarEvent::DirectoryEnd { path: &dir_path })?;
                close_entry = !dirs.is_empty();
                continue;
            }
            if tag != b"entry" {
                return Err(NarError::Malformed {
                    offset: at,
                    what: format!(
                        "expected `entry` or `)`, found `{}`",
                        String::from_utf8_lossy(&tag)
                    ),
                }
                .into());
            }
            p.expect(b"(")?;
            p.expect(b"name")?;
            let at = p.offset;
            let name = p.token()?;
            if !valid_name(&name) {
                return Err(NarError::Malformed {
                    offset: at,
                    what: format!("invalid entry name `{}`", String::from_utf8_lossy(&name)),
                }
                .into());
            }
            let (dir_path, last) = dirs.last_mut().expect("checked non-empty");
            if last.as_ref().is_some_and(|l| *l >= name) {
                return Err(NarError::Malformed {
                    offset: at,
                    what: format!(
                        "entry `{}` is out of order or duplicated",
                        String::from_utf8_lossy(&name)
                    ),
                }
                .into());
            }
            path.clone_from(dir_path);
            if !path.is_empty() {
                path.push(b'/');
            }
            path.extend_from_slice(&name);
            *last = Some(name);
            p.expect(b"node")?;
            break;
        }
    }
}

/// Unpacks one NAR from `reader` into a new tree at `dest` (which must not exist).
/// Directories get mode 0755, files 0644 or 0755. Returns the NAR's size.
pub fn restore(reader: impl Read, dest: &Path) -> Result<u64, NarError> {
    let target = |path: &[u8]| -> PathBuf {
        if path.is_empty() {
            dest.to_owned()
        } else {
            dest.join(std::ffi::OsStr::from_bytes(path))
        }
    };
    parse(reader, |event| -> Result<(), NarError> {
        match event {
            NarEvent::Directory { path } => {
                fs_err::create_dir(target(path)).map_err(NarError::Io)?;
            }
            NarEvent::DirectoryEnd { .. } => {}
            NarEvent::Regular {
                path,
                executable,
                contents,
                ..
            } => {
                let out = target(path);
                let file = std::fs::File::options()
                    .write(true)
                    .create_new(true)
                    .mode(if executable { 0o755 } else { 0o644 })
                    .open(&out)
                    .map_err(|e| NarError::write(&out, e))?;
                let mut file = fs_err::File::from_parts(file, &out);
                io::copy(contents, &mut file).map_err(|e| match e.kind() {
                    io::ErrorKind::UnexpectedEof => NarError::Truncated { offset: 0 },
                    _ => NarError::write(&out, e),
                })?;
            }
            NarEvent::Symlink { path, target: link } => {
                let out = target(path);
                symlink(std::ffi::OsStr::from_bytes(link), &out)
                    .map_err(|e| NarError::write(&out, e))?;
            }
        }
        Ok(())
    })
}
