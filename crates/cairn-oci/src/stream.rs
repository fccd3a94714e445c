//! The writers a layer passes through: hashing (for `diff_id` and `digest`), fixed-size
//! chunks (so the compressor's input never depends on how reads split), compression.

use std::io::{self, Write};

use flate2::write::GzEncoder;
use sha2::{Digest as _, Sha256};

use crate::digest::Digest;
use crate::layer::Compression;
use crate::ustar::COPY_BUFFER;

/// Counts and hashes the bytes written through it.
pub(crate) struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    count: u64,
}

impl<W: Write> HashingWriter<W> {
    pub(crate) fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    pub(crate) fn finish(self) -> (W, Digest, u64) {
        (
            self.inner,
            Digest(self.hasher.finalize().into()),
            self.count,
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

/// Hands the stream on in chunks of exactly `COPY_BUFFER` bytes (the last one shorter),
/// so what the compressor sees depends only on the stream, not on how reads of the
/// sources happened to be split.
pub(crate) struct FixedChunks<W> {
    inner: W,
    buffer: Vec<u8>,
}

impl<W: Write> FixedChunks<W> {
    pub(crate) fn new(inner: W) -> Self {
        Self {
            inner,
            buffer: Vec::with_capacity(COPY_BUFFER),
        }
    }

    pub(crate) fn finish(mut self) -> io::Result<W> {
        self.inner.write_all(&self.buffer)?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for FixedChunks<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = buf.len().min(COPY_BUFFER - self.buffer.len());
        self.buffer.extend_from_slice(&buf[..n]);
        if self.buffer.len() == COPY_BUFFER {
            self.inner.write_all(&self.buffer)?;
            self.buffer.clear();
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.write_all(&self.buffer)?;
        self.buffer.clear();
        self.inner.flush()
    }
}

/// The compressor, with every parameter that reaches the output fixed.
pub(crate) enum Encoder<W: Write> {
    Gzip(GzEncoder<W>),
    Zstd(zstd::stream::write::Encoder<'static, W>),
    Plain(W),
}

impl<W: Write> Encoder<W> {
    pub(crate) fn new(compression: Compression, out: W) -> io::Result<Self> {
        Ok(match compression {
            // RFC 1952: MTIME 0 ("no time stamp"), OS 255 ("unknown"), no name or comment.
            Compression::Gzip => Self::Gzip(
                flate2::GzBuilder::new()
                    .mtime(0)
                    .operating_system(255)
                    .write(out, flate2::Compression::new(6)),
            ),
            // Single-threaded: the crate is built without `zstdmt`. The frame has no
            // content size (the stream length is not known up front) and a checksum.
            Compression::Zstd => {
                let mut encoder = zstd::stream::write::Encoder::new(out, 3)?;
                encoder.include_checksum(true)?;
                Self::Zstd(encoder)
            }
            Compression::None => Self::Plain(out),
        })
    }

    pub(crate) fn finish(self) -> io::Result<W> {
        match self {
            Self::Gzip(encoder) => encoder.finish(),
            Self::Zstd(encoder) => encoder.finish(),
            Self::Plain(out) => Ok(out),
        }
    }
}

impl<W: Write> Write for Encoder<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Self::Gzip(encoder) => encoder.write(buf),
            Self::Zstd(encoder) => encoder.write(buf),
            Self::Plain(out) => out.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Self::Gzip(encoder) => encoder.flush(),
            Self::Zstd(encoder) => encoder.flush(),
            Self::Plain(out) => out.flush(),
        }
    }
}
