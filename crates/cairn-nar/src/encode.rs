//! NAR serialization.
//!
//! The format (Eelco Dolstra, *The Purely Functional Software Deployment Model*, §5.2.1;
//! Nix `src/libutil/archive.cc`): every token is a string framed as a little-endian u64
//! length, the bytes, and zero padding to a multiple of 8.
//!
//! ```text
//! nar       = str("nix-archive-1") node
//! node      = str("(") str("type") body str(")")
//! body      = str("regular") [str("executable") str("")] str("contents") str(CONTENTS)
//!           | str("symlink") str("target") str(TARGET)
//!           | str("directory") { str("entry") str("(") str("name") str(NAME) str("node") node str(")") }
//! ```
//! Directory entries are sorted bytewise by name.

use std::io::{self, Read, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::NarError;
use crate::listing::{ListedNode, Listing};
use crate::walk::{EntryKind, WalkEvent, walk};

pub(crate) const MAGIC: &[u8] = b"nix-archive-1";

/// Where NAR bytes go. Separate from [`Write`] so that a sink can read file contents
/// straight into its own buffers (see [`crate::NarHasher`]).
pub trait NarSink {
    /// Appends bytes.
    fn put(&mut self, bytes: &[u8]) -> io::Result<()>;

    /// Appends exactly `len` bytes read from `source`. Fails with
    /// [`io::ErrorKind::UnexpectedEof`] if `source` ends early (a file shrank while read).
    fn put_from(&mut self, source: &mut dyn Read, len: u64) -> io::Result<()> {
        let mut buf = vec![0u8; usize::try_from(len.min(256 * 1024)).expect("bounded by 256 KiB")];
        let mut remaining = len;
        while remaining > 0 {
            let want = usize::try_from(remaining.min(buf.len() as u64)).expect("bounded by buffer");
            let n = source
                .read(&mut buf[..want])
                .map_err(ContentsReadError::wrap)?;
            if n == 0 {
                return Err(ContentsReadError::wrap(io::ErrorKind::UnexpectedEof.into()));
            }
            self.put(&buf[..n])?;
            remaining -= n as u64;
        }
        Ok(())
    }

    /// Appends the `len` bytes of contents of an open file. The default reads it through
    /// [`Self::put_from`]; a sink may instead keep the file and read it later or on
    /// another thread (see [`crate::NarHasher`]). A file that turns out shorter than
    /// `len` is an [`io::ErrorKind::UnexpectedEof`] error, now or at [`NarWriter::finish`].
    fn put_file(&mut self, file: std::fs::File, len: u64) -> io::Result<()> {
        let mut file = file;
        self.put_from(&mut file, len)
    }
}

/// Marks an I/O error as one from reading a file's contents, so that callers can tell
/// it from a failure of the sink (a full disk, a closed pipe) and name the file.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct ContentsReadError(pub io::Error);

impl ContentsReadError {
    /// Wraps `e`, keeping its kind. A short file is `UnexpectedEof`.
    pub fn wrap(e: io::Error) -> io::Error {
        io::Error::new(e.kind(), ContentsReadError(e))
    }

    /// Whether `e` was made by [`Self::wrap`].
    pub fn is(e: &io::Error) -> bool {
        e.get_ref()
            .is_some_and(<dyn std::error::Error + Send + Sync>::is::<ContentsReadError>)
    }
}

/// A [`NarSink`] over any [`Write`].
#[derive(Debug)]
pub struct WriteSink<W>(pub W);

impl<W: Write> NarSink for WriteSink<W> {
    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.0.write_all(bytes)
    }
}

impl<S: NarSink + ?Sized> NarSink for &mut S {
    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        (**self).put(bytes)
    }
    fn put_from(&mut self, source: &mut dyn Read, len: u64) -> io::Result<()> {
        (**self).put_from(source, len)
    }
    fn put_file(&mut self, file: std::fs::File, len: u64) -> io::Result<()> {
        (**self).put_file(file, len)
    }
}

const ZEROS: [u8; 8] = [0; 8];

/// The padding after `len` bytes of a string.
pub(crate) fn padding(len: u64) -> usize {
    usize::try_from((8 - len % 8) % 8).expect("less than 8")
}

/// Writes a NAR token by token. The caller is responsible for the grammar (the tree
/// walker and the decoder's re-encoder are the callers); sizes are counted.
#[derive(Debug)]
pub struct NarWriter<S> {
    sink: S,
    size: u64,
}

impl<S: NarSink> NarWriter<S> {
    /// Starts a NAR, writing the magic string.
    pub fn new(sink: S) -> io::Result<Self> {
        let mut writer = Self { sink, size: 0 };
        writer.str(MAGIC)?;
        Ok(writer)
    }

    fn str(&mut self, bytes: &[u8]) -> io::Result<()> {
        let len = bytes.len() as u64;
        self.sink.put(&len.to_le_bytes())?;
        self.sink.put(bytes)?;
        let pad = padding(len);
        self.sink.put(&ZEROS[..pad])?;
        self.size += 8 + len + pad as u64;
        Ok(())
    }

    fn regular_start(&mut self, executable: bool, len: u64) -> io::Result<()> {
        self.str(b"(")?;
        self.str(b"type")?;
        self.str(b"regular")?;
        if executable {
            self.str(b"executable")?;
            self.str(b"")?;
        }
        self.str(b"contents")?;
        self.sink.put(&len.to_le_bytes())
    }

    fn regular_end(&mut self, len: u64) -> io::Result<()> {
        let pad = padding(len);
        self.sink.put(&ZEROS[..pad])?;
        self.size += 8 + len + pad as u64;
        self.str(b")")
    }

    /// A regular file with `len` bytes of contents read from `contents`.
    pub fn regular(
        &mut self,
        executable: bool,
        len: u64,
        contents: &mut dyn Read,
    ) -> io::Result<()> {
        self.regular_start(executable, len)?;
        self.sink.put_from(contents, len)?;
        self.regular_end(len)
    }

    /// A regular file whose contents are an open file of `len` bytes; the sink decides
    /// when to read it ([`NarSink::put_file`]).
    pub fn regular_file(
        &mut self,
        executable: bool,
        len: u64,
        file: std::fs::File,
    ) -> io::Result<()> {
        self.regular_start(executable, len)?;
        self.sink.put_file(file, len)?;
        self.regular_end(len)
    }

    /// A symbolic link.
    pub fn symlink(&mut self, target: &[u8]) -> io::Result<()> {
        self.str(b"(")?;
        self.str(b"type")?;
        self.str(b"symlink")?;
        self.str(b"target")?;
        self.str(target)?;
        self.str(b")")
    }

    /// Opens a directory node; entries follow, then [`Self::directory_end`].
    pub fn directory_start(&mut self) -> io::Result<()> {
        self.str(b"(")?;
        self.str(b"type")?;
        self.str(b"directory")
    }

    /// Closes a directory node.
    pub fn directory_end(&mut self) -> io::Result<()> {
        self.str(b")")
    }

    /// Opens a directory entry; one node follows, then [`Self::entry_end`].
    pub fn entry_start(&mut self, name: &[u8]) -> io::Result<()> {
        self.str(b"entry")?;
        self.str(b"(")?;
        self.str(b"name")?;
        self.str(name)?;
        self.str(b"node")
    }

    /// Closes a directory entry.
    pub fn entry_end(&mut self) -> io::Result<()> {
        self.str(b")")
    }

    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Ends the NAR and returns the sink.
    pub fn finish(self) -> S {
        self.sink
    }
}

/// Serializes the tree at `path` into `sink`, exactly as `nix-store --dump` does.
/// Returns the sink and the NAR's size in bytes.
pub fn dump_path<S: NarSink>(path: &Path, sink: S) -> Result<(S, u64), NarError> {
    dump_tree(path, sink, None)
}

/// The one walk-to-NAR loop. With a `listing`, every node is recorded and every file is
/// read here through a SHA-256 of its own; without, the sink gets the open file and
/// reads it when and where it likes ([`NarSink::put_file`]).
pub(crate) fn dump_tree<S: NarSink>(
    path: &Path,
    sink: S,
    mut listing: Option<&mut Listing>,
) -> Result<(S, u64), NarError> {
    let mut writer = NarWriter::new(sink).map_err(NarError::Io)?;
    walk(path, |event| -> Result<(), NarError> {
        match event {
            WalkEvent::Node(entry) => {
                let is_root = entry.relative.as_os_str().is_empty();
                if !is_root {
                    writer.entry_start(entry.name()).map_err(NarError::Io)?;
                }
                let node = match entry.kind {
                    EntryKind::Directory => {
                        writer.directory_start().map_err(NarError::Io)?;
                        ListedNode::Directory
                    }
                    EntryKind::Regular { executable, size } => {
                        let file = entry.open_file()?;
                        let sha256 = if listing.is_some() {
                            let mut reader = DigestReader {
                                inner: file,
                                hasher: Sha256::new(),
                            };
                            writer
                                .regular(executable, size, &mut reader)
                                .map_err(|e| contents_error(e, &entry.path))?;
                            reader.hasher.finalize().into()
                        } else {
                            writer
                                .regular_file(executable, size, file)
                                .map_err(|e| contents_error(e, &entry.path))?;
                            [0; 32]
                        };
                        ListedNode::Regular {
                            executable,
                            size,
                            sha256,
                        }
                    }
                    EntryKind::Symlink => {
                        let target = entry.read_link()?.into_os_string().into_vec();
                        writer.symlink(&target).map_err(NarError::Io)?;
                        ListedNode::Symlink { target }
                    }
                };
                if !is_root && entry.kind != EntryKind::Directory {
                    writer.entry_end().map_err(NarError::Io)?;
                }
                if let Some(listing) = listing.as_deref_mut() {
                    listing
                        .nodes
                        .insert(entry.relative.as_os_str().as_bytes().to_vec(), node);
                }
            }
            WalkEvent::DirectoryEnd(entry) => {
                writer.directory_end().map_err(NarError::Io)?;
                if !entry.relative.as_os_str().is_empty() {
                    writer.entry_end().map_err(NarError::Io)?;
                }
            }
        }
        Ok(())
    })?;
    let size = writer.size();
    Ok((writer.finish(), size))
}

/// Reads through to the NAR while hashing the file on its own.
struct DigestReader<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> Read for DigestReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Names the file for errors from reading it; passes sink errors through.
pub(crate) fn contents_error(e: io::Error, path: &Path) -> NarError {
    if ContentsReadError::is(&e) {
        let kind = e.kind();
        let inner = e
            .into_inner()
            .and_then(|b| b.downcast::<ContentsReadError>().ok())
            .map_or_else(|| kind.into(), |b| b.0);
        let inner = if kind == io::ErrorKind::UnexpectedEof {
            io::Error::new(kind, "the file became shorter while it was read")
        } else {
            inner
        };
        NarError::read(path, inner)
    } else {
        NarError::Io(e)
    }
}
