//! Objects received one at a time, each from its own NAR and record (a binary cache),
//! and registered together.
//!
//! Receiving may run on several threads at once. Each object is unpacked into the same
//! staging directory and checked as an imported one is ([`unpack_checked`]); nothing is
//! registered until [`Incoming::commit`], which registers, in one transaction, every
//! received object whose references are in the store or were received too. An object
//! that failed, or whose reference failed, is left out, so the caller can make it
//! another way.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use cairn_nar::{HashSink, NarSink};

use crate::Store;
use crate::add::Staged;
use crate::error::{Result, StoreError};
use crate::lock::Staging;
use crate::path::{Addressing, StorePath};
use crate::query::ObjectInfo;
use crate::transfer::unpack_checked;
use crate::tree::sync_filesystem;

/// Objects being received; see the module documentation.
pub struct Incoming<'a> {
    store: &'a Store,
    staging: Staging,
    next: AtomicUsize,
    staged: Mutex<Vec<Staged>>,
}

/// What [`Incoming::commit`] did.
#[derive(Debug, Clone, Default)]
pub struct Received {
    /// Every received object now in the store, references first.
    pub registered: Vec<StorePath>,
    /// Received objects left out because a reference is neither in the store nor
    /// registered with them.
    pub left_out: Vec<StorePath>,
}

impl Store {
    /// Starts receiving objects.
    pub fn incoming(&self) -> Result<Incoming<'_>> {
        Ok(Incoming {
            store: self,
            staging: Staging::new(&self.tmp_dir(), &self.gc_lock_path())?,
            next: AtomicUsize::new(0),
            staged: Mutex::new(Vec::new()),
        })
    }

    /// Writes the NAR of `path` to `out` and returns what the store knows of it. The
    /// files are hashed while they are written; an object corrupt on disk is an error.
    pub fn dump_nar(&self, path: &StorePath, out: &mut dyn Write) -> Result<ObjectInfo> {
        struct Tee<'a> {
            out: &'a mut dyn Write,
            hash: HashSink,
        }
        impl NarSink for Tee<'_> {
            fn put(&mut self, bytes: &[u8]) -> std::io::Result<()> {
                self.hash.update(bytes);
                self.out.write_all(bytes)
            }
        }
        let info = self.info(path)?;
        let sink = Tee {
            out,
            hash: HashSink::new(),
        };
        let (sink, _) = cairn_nar::dump_path(&self.object_dir(path), sink)?;
        let (hash, size) = sink.hash.finish();
        if hash != info.nar_hash || size != info.nar_size {
            return Err(StoreError::ImportRefused(format!(
                "object {path} is corrupt on disk (its NAR hash is {hash}, not {}); run `cairn store verify`",
                info.nar_hash
            )));
        }
        Ok(info)
    }
}

impl Incoming<'_> {
    /// Unpacks the object `info` describes from `nar` and checks it. An input-addressed
    /// object's path names the build that made it, not its contents, so it is received
    /// only when `trusted` (its record was signed by a trusted key, or comes from the
    /// user's own cache).
    pub fn receive(&self, info: ObjectInfo, nar: &mut dyn Read, trusted: bool) -> Result<()> {
        if matches!(info.addressing, Addressing::Input { .. }) && !trusted {
            return Err(StoreError::ImportRefused(format!(
                "object {}: it is input-addressed, so only a trusted signature can vouch for it",
                info.path
            )));
        }
        let tree = self
            .staging
            .path()
            .join(self.next.fetch_add(1, Ordering::Relaxed).to_string());
        let staged = unpack_checked(info, nar, &tree)?;
        self.staged
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(staged);
        Ok(())
    }

    /// Registers every received object whose references are available.
    pub fn commit(self) -> Result<Received> {
        let mut staged = self
            .staged
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        staged.sort_by(|a, b| a.path.cmp(&b.path));
        staged.dedup_by(|a, b| a.path == b.path);
        // References first; an object whose references are not all available is left
        // out, and so is whatever refers to it.
        let mut available: BTreeSet<StorePath> = BTreeSet::new();
        let mut ordered = Vec::with_capacity(staged.len());
        let mut pending = staged;
        loop {
            let before = pending.len();
            let mut still = Vec::new();
            for s in pending {
                let mut ready = true;
                for r in &s.references {
                    if !available.contains(r) && !self.store.is_valid(r)? {
                        ready = false;
                        break;
                    }
                }
                if ready {
                    available.insert(s.path.clone());
                    ordered.push(s);
                } else {
                    still.push(s);
                }
            }
            pending = still;
            if pending.is_empty() || pending.len() == before {
                break;
            }
        }
        let left_out = pending.into_iter().map(|s| s.path).collect();
        if ordered.is_empty() {
            return Ok(Received {
                registered: Vec::new(),
                left_out,
            });
        }
        sync_filesystem(self.staging.path())?;
        let (registered, _) = self.store.register(ordered)?;
        drop(self.staging);
        Ok(Received {
            registered,
            left_out,
        })
    }
}
