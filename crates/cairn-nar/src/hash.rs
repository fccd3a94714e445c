//! NAR hashes, and hashing a tree fast.
//!
//! SHA-256 over one stream cannot be split, so a fast NAR hash is about keeping one
//! hashing core fed. [`NarHasher`] is a [`NarSink`] that hashes on a second thread: the
//! walking thread reads files straight into small pooled buffers while the other
//! thread runs SHA-256 (SHA-NI where the CPU has it, through `sha2`'s runtime
//! detection) over the previous ones, so kernel copies and hashing overlap.
//! See `bench/RESULTS.md` for the figures against `nix hash path`, and for the
//! designs measured and rejected (a two-worker "baton" hasher lost to hand-off latency).

use std::fmt;
use std::io::{self, Read};
use std::path::Path;
use std::str::FromStr;
use std::sync::mpsc;
use std::thread;

use data_encoding::{BASE64, HEXLOWER};
use sha2::{Digest, Sha256};

use crate::encode::{ContentsReadError, NarSink, dump_path};
use crate::{NarError, base32};

/// The SHA-256 of a NAR.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NarHash(pub [u8; 32]);

impl NarHash {
    /// Hashes bytes (a NAR already in memory).
    pub fn of_bytes(bytes: &[u8]) -> Self {
        Self(Sha256::digest(bytes).into())
    }

    /// SRI form, as `nix hash path` prints it: `sha256-<base64>`.
    pub fn to_sri(&self) -> String {
        format!("sha256-{}", BASE64.encode(&self.0))
    }

    /// Nix's narinfo form: `sha256:<nixbase32>`.
    pub fn to_nix32(&self) -> String {
        format!("sha256:{}", base32::encode(&self.0))
    }

    /// Lowercase hex of the digest.
    pub fn to_hex(&self) -> String {
        HEXLOWER.encode(&self.0)
    }
}

impl fmt::Display for NarHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_sri())
    }
}

impl fmt::Debug for NarHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NarHash({})", self.to_sri())
    }
}

impl FromStr for NarHash {
    type Err = NarError;

    /// Accepts `sha256-<base64>` (SRI), `sha256:<nixbase32>` and `sha256:<hex>`.
    fn from_str(text: &str) -> Result<Self, NarError> {
        let invalid = || NarError::InvalidHash(text.to_owned());
        let bytes = if let Some(b64) = text.strip_prefix("sha256-") {
            BASE64.decode(b64.as_bytes()).map_err(|_| invalid())?
        } else if let Some(rest) = text.strip_prefix("sha256:") {
            if rest.len() == 64 {
                HEXLOWER.decode(rest.as_bytes()).map_err(|_| invalid())?
            } else {
                base32::decode(rest, 32).map_err(|_| invalid())?
            }
        } else {
            return Err(invalid());
        };
        Ok(Self(bytes.try_into().map_err(|_| invalid())?))
    }
}

/// A plain single-threaded hashing sink, for small NARs and for tee-ing a stream.
#[derive(Debug, Default, Clone)]
pub struct HashSink {
    hasher: Sha256,
    size: u64,
}

impl HashSink {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn update(&mut self, bytes: &[u8]) {
        self.hasher.update(bytes);
        self.size += bytes.len() as u64;
    }
    pub fn size(&self) -> u64 {
        self.size
    }
    pub fn finish(self) -> (NarHash, u64) {
        (NarHash(self.hasher.finalize().into()), self.size)
    }
}

impl NarSink for HashSink {
    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.update(bytes);
        Ok(())
    }
}

/// Bytes per hand-off, and buffers queued to the hashing thread. Measured on the
/// reference machine (bench/RESULTS.md): SHA-NI hashes ~2 GB/s from cache but ~1.2 GB/s
/// streaming from memory, so the working set (buffer x (queued + 2)) must stay well
/// inside L2; 128 KiB x 2 was fastest of 32 KiB..512 KiB x 1..8.
const BUFFER_SIZE: usize = 128 * 1024;
const IN_FLIGHT: usize = 2;

/// A [`NarSink`] that hashes on a second thread (see the module docs).
#[derive(Debug)]
pub struct NarHasher {
    current: Vec<u8>,
    filled: usize,
    size: u64,
    to_worker: Option<mpsc::SyncSender<(Vec<u8>, usize)>>,
    recycled: mpsc::Receiver<Vec<u8>>,
    worker: Option<thread::JoinHandle<Sha256>>,
}

impl Default for NarHasher {
    fn default() -> Self {
        Self::new()
    }
}

impl NarHasher {
    pub fn new() -> Self {
        let (to_worker, from_main) = mpsc::sync_channel::<(Vec<u8>, usize)>(IN_FLIGHT);
        let (give_back, recycled) = mpsc::sync_channel::<Vec<u8>>(IN_FLIGHT + 2);
        let worker = thread::Builder::new()
            .name("cairn-nar-hash".into())
            .spawn(move || {
                let mut hasher = Sha256::new();
                for (buf, filled) in from_main {
                    hasher.update(&buf[..filled]);
                    // The main side may be gone or have enough buffers; either is fine.
                    let _ = give_back.try_send(buf);
                }
                hasher
            })
            .expect("spawning a thread only fails when the process is out of resources");
        Self {
            current: vec![0; BUFFER_SIZE],
            filled: 0,
            size: 0,
            to_worker: Some(to_worker),
            recycled,
            worker: Some(worker),
        }
    }

    fn flush_full(&mut self) -> io::Result<()> {
        if self.filled < self.current.len() {
            return Ok(());
        }
        let next = self
            .recycled
            .try_recv()
            .unwrap_or_else(|_| vec![0; BUFFER_SIZE]);
        let full = std::mem::replace(&mut self.current, next);
        self.send(full, BUFFER_SIZE)
    }

    fn send(&mut self, buf: Vec<u8>, filled: usize) -> io::Result<()> {
        self.filled = 0;
        self.to_worker
            .as_ref()
            .expect("sender lives until finish")
            .send((buf, filled))
            .map_err(|_| io::Error::other("the hashing thread stopped"))
    }

    /// Hashes what is left and returns the digest and the number of bytes hashed.
    pub fn finish(mut self) -> io::Result<(NarHash, u64)> {
        let rest = std::mem::take(&mut self.current);
        let filled = self.filled;
        self.send(rest, filled)?;
        drop(self.to_worker.take());
        let hasher = self
            .worker
            .take()
            .expect("worker lives until finish")
            .join()
            .map_err(|_| io::Error::other("the hashing thread panicked"))?;
        Ok((NarHash(hasher.finalize().into()), self.size))
    }
}

impl NarSink for NarHasher {
    fn put(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        self.size += bytes.len() as u64;
        while !bytes.is_empty() {
            let n = bytes.len().min(self.current.len() - self.filled);
            self.current[self.filled..self.filled + n].copy_from_slice(&bytes[..n]);
            self.filled += n;
            bytes = &bytes[n..];
            self.flush_full()?;
        }
        Ok(())
    }

    fn put_from(&mut self, source: &mut dyn Read, len: u64) -> io::Result<()> {
        let mut remaining = len;
        while remaining > 0 {
            let space = self.current.len() - self.filled;
            let want = usize::try_from(remaining.min(space as u64)).expect("bounded by buffer");
            let n = source
                .read(&mut self.current[self.filled..self.filled + want])
                .map_err(ContentsReadError::wrap)?;
            if n == 0 {
                return Err(ContentsReadError::wrap(io::ErrorKind::UnexpectedEof.into()));
            }
            self.filled += n;
            self.size += n as u64;
            remaining -= n as u64;
            self.flush_full()?;
        }
        Ok(())
    }
}

/// The NAR hash and NAR size of the tree at `path`, as `nix hash path` computes it.
pub fn hash_path(path: &Path) -> Result<(NarHash, u64), NarError> {
    let (hasher, _) = dump_path(path, NarHasher::new())?;
    hasher.finish().map_err(NarError::Io)
}

/// A reader that hashes and counts what passes through it.
#[derive(Debug)]
pub struct HashingReader<R> {
    inner: R,
    sink: HashSink,
}

impl<R: Read> HashingReader<R> {
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            sink: HashSink::new(),
        }
    }
    /// Bytes read so far.
    pub fn size(&self) -> u64 {
        self.sink.size()
    }
    /// The hash of what was read so far, without consuming the reader.
    pub fn current(&self) -> (NarHash, u64) {
        self.sink.clone().finish()
    }
    pub fn into_parts(self) -> (R, NarHash, u64) {
        let (hash, size) = self.sink.finish();
        (self.inner, hash, size)
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.sink.update(&buf[..n]);
        Ok(n)
    }
}
