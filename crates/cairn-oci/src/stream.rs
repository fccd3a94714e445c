//! The writers a layer passes through: hashing (for `diff_id` and `digest`), fixed-size
//! chunks (so the compressor's input never depends on how reads split), compression.

use std::io::{self, Write};

use libdeflater::{CompressionLvl, Compressor};
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

/// The gzip level (libdeflate's scale, 1 to 12). Measured on the layers of a python3 +
/// ca-certificates image (bench/RESULTS.md): level 4 compresses them smaller than zlib's
/// level 6 does, in about half the time.
pub(crate) const GZIP_LEVEL: i32 = 4;

/// How much of the tar stream one gzip member holds: libdeflate compresses whole
/// buffers, so this bounds the memory a layer takes while it is written.
pub(crate) const GZIP_MEMBER: usize = 32 << 20;

/// gzip with libdeflate: the stream is cut into members of exactly [`GZIP_MEMBER`]
/// bytes (the last one shorter), each compressed whole. RFC 1952 defines a gzip file as
/// a series of members and every gzip reader (`gzip -d`, Go's `compress/gzip`, which
/// Docker, containerd, podman and skopeo use, zlib's `gzread`) reads them all; most
/// layers fit in one member. libdeflate writes MTIME 0, OS 255 ("unknown"), no name,
/// and `XFL` from the level.
pub(crate) struct Gzip<W> {
    inner: W,
    compressor: Compressor,
    input: Vec<u8>,
    output: Vec<u8>,
    members: usize,
}

impl<W: Write> Gzip<W> {
    fn new(inner: W) -> Self {
        Self {
            inner,
            compressor: Compressor::new(
                CompressionLvl::new(GZIP_LEVEL).expect("the gzip level is in range"),
            ),
            input: Vec::new(),
            output: Vec::new(),
            members: 0,
        }
    }

    /// Compresses what is buffered into one member.
    fn member(&mut self) -> io::Result<()> {
        let bound = self.compressor.gzip_compress_bound(self.input.len());
        self.output.resize(bound, 0);
        let n = self
            .compressor
            .gzip_compress(&self.input, &mut self.output)
            .map_err(|e| io::Error::other(format!("gzip: {e:?}")))?;
        self.inner.write_all(&self.output[..n])?;
        self.input.clear();
        self.members += 1;
        Ok(())
    }

    fn finish(mut self) -> io::Result<W> {
        // An empty stream is still one (empty) member.
        if !self.input.is_empty() || self.members == 0 {
            self.member()?;
        }
        Ok(self.inner)
    }
}

impl<W: Write> Write for Gzip<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.input.capacity() == 0 {
            self.input
                .reserve_exact(GZIP_MEMBER.min(buf.len().max(1 << 20)));
        }
        let n = buf.len().min(GZIP_MEMBER - self.input.len());
        self.input.extend_from_slice(&buf[..n]);
        if self.input.len() == GZIP_MEMBER {
            self.member()?;
        }
        Ok(n)
    }

    /// Members are cut by size only: a flush writes nothing, so the bytes never depend
    /// on when a caller flushes.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The compressor, with every parameter that reaches the output fixed.
pub(crate) enum Encoder<W: Write> {
    Gzip(Gzip<W>),
    Zstd(zstd::stream::write::Encoder<'static, W>),
    Plain(W),
}

impl<W: Write> Encoder<W> {
    pub(crate) fn new(compression: Compression, out: W) -> io::Result<Self> {
        Ok(match compression {
            Compression::Gzip => Self::Gzip(Gzip::new(out)),
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

#[cfg(test)]
mod tests {
    use std::io::Read as _;

    use super::*;

    fn gzip(data: &[u8], splits: usize) -> Vec<u8> {
        let mut encoder = Gzip::new(Vec::new());
        for piece in data.chunks(data.len().div_ceil(splits).max(1)) {
            encoder.write_all(piece).unwrap();
            encoder.flush().unwrap();
        }
        encoder.finish().unwrap()
    }

    #[test]
    fn members_are_cut_by_size_only() {
        // Just over two members, in a pattern that does not compress to nothing.
        let data: Vec<u8> = (0..GZIP_MEMBER * 2 + 1000)
            .map(|i| (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15).to_le_bytes()[7] % 16)
            .collect();
        let one = gzip(&data, 1);
        assert_eq!(
            one,
            gzip(&data, 7),
            "the same bytes however the writes split"
        );
        let mut back = Vec::new();
        flate2::read::MultiGzDecoder::new(one.as_slice())
            .read_to_end(&mut back)
            .unwrap();
        assert!(back == data, "three members decode to the input");
        // The first member is exactly GZIP_MEMBER bytes of the stream.
        let mut first = Vec::new();
        flate2::read::GzDecoder::new(one.as_slice())
            .read_to_end(&mut first)
            .unwrap();
        assert_eq!(first.len(), GZIP_MEMBER);
        // A stream of exactly one member's size has no empty member after it.
        let exact = gzip(&data[..GZIP_MEMBER], 3);
        let mut decoder = flate2::bufread::GzDecoder::new(exact.as_slice());
        std::io::copy(&mut decoder, &mut std::io::sink()).unwrap();
        assert!(decoder.into_inner().is_empty(), "nothing after the member");
    }

    #[test]
    fn the_compressor_identity_names_the_parameters() {
        let identity = crate::COMPRESSOR;
        assert!(
            identity.contains(&format!("libdeflate level {GZIP_LEVEL}")),
            "{identity}"
        );
        assert!(
            identity.contains(&format!("{} MiB members", GZIP_MEMBER >> 20)),
            "{identity}"
        );
    }

    #[test]
    fn an_empty_stream_is_one_empty_member() {
        let empty = gzip(&[], 1);
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(empty.as_slice())
            .read_to_end(&mut back)
            .unwrap();
        assert!(back.is_empty());
    }
}
