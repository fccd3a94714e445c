//! Export and import of closures as one stream, in the spirit of
//! `nix-store --export`/`--import`.
//!
//! Format `cairn-export-v1` (strings are NAR-framed: u64 LE length, bytes, zero padding):
//!
//! ```text
//! str("cairn-export-v1")
//! { str("object") str(store path) str(addressing) str(nar hash, SRI) u64(nar size)
//!   str(permissions manifest) str(metadata) u64(n) { str(reference) }n  NAR }*
//! str("end") sha256(all preceding bytes) (32 raw bytes)
//! ```
//! Objects come in closure order (references first). Import is all-or-nothing: every
//! object is unpacked into staging and checked (its NAR hash and size, its path against
//! its metadata, its references against the store and the stream, the stream's trailing
//! checksum) before any is registered, and then all are registered in one transaction.

use std::collections::BTreeSet;
use std::io::{self, BufReader, Read, Write};
use std::path::Path;

use cairn_nar::{HashSink, HashingReader, NarError, restore};

use crate::Store;
use crate::add::{ObjectSpec, Staged, stage};
use crate::error::{Result, StoreError};
use crate::lock::Staging;
use crate::metadata::ObjectMetadata;
use crate::path::{Addressing, StorePath};
use crate::permissions::PermissionsManifest;
use crate::query::ObjectInfo;
use crate::reporter::Reporter;
use crate::tree::sync_filesystem;

/// The first string of an export stream.
pub const EXPORT_MAGIC: &[u8] = b"cairn-export-v1";
const MAX_FIELD: u64 = 64 << 20;

/// What an import accepts.
#[derive(Debug, Clone, Copy, Default)]
pub struct ImportOptions {
    /// Accept input-addressed objects. Their path says which build produced them, not
    /// what they contain, so nothing in the stream can prove the contents right; only
    /// a signature can (binary caches, later), or trust in where the stream came from.
    pub trust_input_addressed: bool,
}

/// What an import did.
#[derive(Debug, Clone, Default)]
pub struct ImportReport {
    /// Every object in the stream, in stream order.
    pub objects: Vec<StorePath>,
    /// How many of them were not in the store before.
    pub added: usize,
}

/// Writes to the output and hashes what was written.
struct HashingWriter<'a> {
    out: &'a mut dyn Write,
    hash: HashSink,
}

impl Write for HashingWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.put(buf)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

impl HashingWriter<'_> {
    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.hash.update(bytes);
        Ok(())
    }
    fn u64(&mut self, v: u64) -> io::Result<()> {
        self.put(&v.to_le_bytes())
    }
    fn str(&mut self, bytes: &[u8]) -> io::Result<()> {
        let mut framed = Vec::with_capacity(bytes.len() + 16);
        cairn_nar::framing::put_str(&mut framed, bytes);
        self.put(&framed)
    }
}

struct StreamReader<R> {
    inner: HashingReader<R>,
}

impl<R: Read> StreamReader<R> {
    fn truncated(&self) -> StoreError {
        StoreError::ImportTruncated {
            offset: self.inner.size(),
        }
    }
    fn exact(&mut self, buf: &mut [u8]) -> Result<()> {
        self.inner.read_exact(buf).map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof => self.truncated(),
            _ => StoreError::Io(e),
        })
    }
    fn u64(&mut self) -> Result<u64> {
        let mut b = [0u8; 8];
        self.exact(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }
    fn str(&mut self, what: &str) -> Result<Vec<u8>> {
        let len = self.u64()?;
        if len > MAX_FIELD {
            return Err(StoreError::ImportRefused(format!(
                "{what} is {len} bytes long, which is not plausible"
            )));
        }
        let mut buf = vec![0u8; usize::try_from(len).expect("bounded")];
        self.exact(&mut buf)?;
        let mut pad = [0u8; 8];
        let n = (8 - buf.len() % 8) % 8;
        self.exact(&mut pad[..n])?;
        if pad.iter().any(|&b| b != 0) {
            return Err(StoreError::ImportRefused(format!(
                "non-zero padding after {what}"
            )));
        }
        Ok(buf)
    }
    fn text(&mut self, what: &str) -> Result<String> {
        String::from_utf8(self.str(what)?)
            .map_err(|_| StoreError::ImportRefused(format!("{what} is not UTF-8")))
    }
}

impl Store {
    /// Writes the closure of `paths` to `out`. Each object's files are re-hashed while
    /// they are written; a corrupt object fails the export.
    pub fn export(
        &self,
        paths: &[StorePath],
        out: &mut dyn Write,
        reporter: &dyn Reporter,
    ) -> Result<Vec<StorePath>> {
        let closure = self.closure(paths)?;
        let mut w = HashingWriter {
            out,
            hash: HashSink::new(),
        };
        w.str(EXPORT_MAGIC)?;
        for path in &closure {
            let info = self.info(path)?;
            w.str(b"object")?;
            w.str(path.to_string().as_bytes())?;
            w.str(info.addressing.to_string().as_bytes())?;
            w.str(info.nar_hash.to_sri().as_bytes())?;
            w.u64(info.nar_size)?;
            w.str(&info.permissions.to_bytes())?;
            w.str(&info.metadata.to_bytes())?;
            w.u64(info.references.len() as u64)?;
            for r in &info.references {
                w.str(r.to_string().as_bytes())?;
            }
            // Re-hashed while written: a corrupt object fails the export.
            self.dump_nar(path, &mut w)?;
            reporter.on_export_object(path, info.nar_size);
        }
        w.str(b"end")?;
        let (digest, _) = w.hash.clone().finish();
        w.out.write_all(&digest.0)?;
        w.out.flush()?;
        Ok(closure)
    }

    /// Reads one object record and its NAR into `tree`, and checks it.
    fn read_object<R: Read>(
        &self,
        r: &mut StreamReader<R>,
        tree: &std::path::Path,
        seen: &BTreeSet<StorePath>,
        options: ImportOptions,
    ) -> Result<Staged> {
        let declared: StorePath = r.text("an object path")?.parse()?;
        let refuse = |what: String| StoreError::ImportRefused(format!("object {declared}: {what}"));
        let addressing: Addressing = r.text("the addressing")?.parse()?;
        if matches!(addressing, Addressing::Input { .. }) && !options.trust_input_addressed {
            return Err(refuse(
                "it is input-addressed, so its contents cannot be checked against its path; \
                 import it only from a source you trust (`--trust-input-addressed`)"
                    .into(),
            ));
        }
        let nar_hash: cairn_nar::NarHash = r
            .text("the NAR hash")?
            .parse()
            .map_err(|e: NarError| refuse(e.to_string()))?;
        let nar_size = r.u64()?;
        let permissions = PermissionsManifest::from_bytes(&r.str("the permissions manifest")?)
            .map_err(|e| refuse(e.to_string()))?;
        let metadata = ObjectMetadata::from_bytes(&r.str("the metadata")?)
            .map_err(|e| refuse(e.to_string()))?;
        let count = r.u64()?;
        if count > 1 << 20 {
            return Err(refuse(format!("{count} references is not plausible")));
        }
        let mut references = Vec::new();
        for _ in 0..count {
            let reference: StorePath = r.text("a reference")?.parse()?;
            if !seen.contains(&reference) && !self.is_valid(&reference)? {
                return Err(refuse(format!(
                    "its reference {reference} is neither in the stream before it nor in the store"
                )));
            }
            references.push(reference);
        }
        let info = ObjectInfo {
            path: declared,
            nar_hash,
            nar_size,
            addressing,
            permissions,
            metadata,
            references,
        };
        let object = unpack_checked(info, &mut r.inner, tree).map_err(|e| match e {
            StoreError::ImportTruncated { .. } => StoreError::ImportTruncated { offset: 0 },
            other => other,
        })?;
        Ok(object)
    }

    /// Reads an export stream and registers its objects, all or none.
    pub fn import(
        &self,
        input: &mut dyn Read,
        options: ImportOptions,
        reporter: &dyn Reporter,
    ) -> Result<ImportReport> {
        let mut r = StreamReader {
            inner: HashingReader::new(BufReader::with_capacity(1 << 20, input)),
        };
        if r.str("the header").map_err(|e| match e {
            StoreError::ImportTruncated { .. } => e,
            _ => StoreError::ImportRefused("this is not a cairn export stream".into()),
        })? != EXPORT_MAGIC
        {
            return Err(StoreError::ImportRefused(
                "this is not a cairn export stream (or not version 1)".into(),
            ));
        }
        let staging = Staging::new(&self.tmp_dir(), &self.gc_lock_path())?;
        let mut staged: Vec<Staged> = Vec::new();
        let mut seen: BTreeSet<StorePath> = BTreeSet::new();
        loop {
            let tag = r.str("a record tag")?;
            if tag == b"end" {
                break;
            }
            if tag != b"object" {
                return Err(StoreError::ImportRefused(format!(
                    "unknown record `{}`",
                    String::from_utf8_lossy(&tag)
                )));
            }
            let object = self.read_object(
                &mut r,
                &staging.path().join(staged.len().to_string()),
                &seen,
                options,
            )?;
            reporter.on_import_object(&object.path, object.nar_size);
            seen.insert(object.path.clone());
            staged.push(object);
        }
        let (expected, _) = r.inner.current();
        let mut trailer = [0u8; 32];
        r.exact(&mut trailer)?;
        if trailer != expected.0 {
            return Err(StoreError::ImportRefused(
                "the stream's checksum does not match its contents".into(),
            ));
        }
        let mut extra = [0u8; 1];
        if r.inner.read(&mut extra)? != 0 {
            return Err(StoreError::ImportRefused(
                "unexpected data after the end of the stream".into(),
            ));
        }
        sync_filesystem(staging.path())?;
        let (objects, added) = self.register(staged)?;
        drop(staging);
        Ok(ImportReport { objects, added })
    }
}

/// Unpacks the NAR of the object `info` describes into `tree` and checks it: the NAR's
/// hash and size, the permissions against the tree, and the path recomputed from what
/// the object is (for content-addressed and fixed-output objects; an input-addressed
/// path names a build, so it cannot be recomputed).
pub(crate) fn unpack_checked(info: ObjectInfo, nar: &mut dyn Read, tree: &Path) -> Result<Staged> {
    let declared = info.path;
    let refuse = |what: String| StoreError::ImportRefused(format!("object {declared}: {what}"));
    let mut nar = HashingReader::new(nar);
    restore(&mut nar, tree).map_err(|e| match e {
        NarError::Truncated { offset } => StoreError::ImportTruncated { offset },
        NarError::Malformed { offset, what } => {
            refuse(format!("malformed NAR at byte {offset}: {what}"))
        }
        other => StoreError::Nar(other),
    })?;
    let (_, got_hash, got_size) = nar.into_parts();
    let (nar_hash, nar_size) = (info.nar_hash, info.nar_size);
    if got_hash != nar_hash || got_size != nar_size {
        return Err(refuse(format!(
            "its contents do not match its NAR hash (expected {nar_hash}, {nar_size} bytes; got {got_hash}, {got_size} bytes)"
        )));
    }
    let spec = ObjectSpec {
        name: declared.name().to_owned(),
        permissions: info.permissions,
        metadata: info.metadata,
        references: info.references,
        addressing: info.addressing,
    };
    let object = stage(tree.to_owned(), spec, false).map_err(|e| refuse(e.to_string()))?;
    if object.nar_hash != nar_hash {
        return Err(refuse(
            "its unpacked files do not hash to its NAR hash".into(),
        ));
    }
    if object.path != declared {
        return Err(refuse(format!(
            "its metadata gives the path {}, not the declared one",
            object.path
        )));
    }
    Ok(object)
}
