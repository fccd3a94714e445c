//! Substitution: objects the store lacks, fetched from caches instead of being fetched
//! from mirrors or built.
//!
//! For each wanted object, the caches are asked in order for its `.narinfo`. One is
//! taken only if it names the object, and (unless the cache is the user's own
//! directory) is signed by a trusted key. Its references are wanted in turn. Then the
//! NARs are downloaded in parallel, each checked against its file hash and size,
//! decompressed, unpacked and checked against the signed NAR hash, permissions and path
//! ([`cairn_store::Incoming`]). Any failure of an object from one cache is reported and
//! the next cache is tried; an object no cache can give is left to the caller (to fetch
//! or build), and so is whatever refers to it. Nothing is registered before it is
//! verified, and everything verified is registered in one transaction.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufReader, Read};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use cairn_nar::HashSink;
use cairn_store::{Store, StorePath};

use crate::narinfo::{MAX_NARINFO, NarInfo};
use crate::push::check_cache_info;
use crate::{Backend, CacheError, CacheReporter, PublicKey};

/// Where objects may come from, and whom to trust.
pub struct Substituter {
    caches: Vec<Box<dyn Backend>>,
    trusted_keys: Vec<PublicKey>,
    /// Whether each cache's `nix-cache-info` was read and is a cairn cache's (`None`:
    /// not looked at yet).
    usable: Mutex<Vec<Option<bool>>>,
    jobs: usize,
    /// Progress when the store asks ([`cairn_store::Substitute`]).
    reporter: std::sync::Arc<dyn CacheReporter>,
}

impl std::fmt::Debug for Substituter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let urls: Vec<&str> = self.caches.iter().map(|c| c.url()).collect();
        f.debug_struct("Substituter")
            .field("caches", &urls)
            .field("trusted_keys", &self.trusted_keys)
            .finish_non_exhaustive()
    }
}

/// The store asks for missing objects before it fetches or builds them.
impl cairn_store::Substitute for Substituter {
    fn substitute(&self, store: &Store, paths: &[StorePath]) -> cairn_store::Result<()> {
        match Substituter::substitute(self, store, paths, &*self.reporter) {
            Ok(_) => Ok(()),
            Err(CacheError::Store(e)) => Err(e),
            Err(other) => Err(cairn_store::StoreError::Io(std::io::Error::other(
                other.to_string(),
            ))),
        }
    }
}

/// What a substitution did.
#[derive(Debug, Clone, Default)]
pub struct SubstituteReport {
    /// Objects now in the store that were not, references first.
    pub substituted: Vec<StorePath>,
    /// Compressed bytes downloaded.
    pub file_bytes: u64,
    /// Objects no cache could give (wanted, or needed by a wanted one).
    pub unavailable: Vec<StorePath>,
}

/// Why one object could not come from one cache (reported; the next cache is tried).
#[derive(Debug, thiserror::Error)]
pub enum Rejected {
    #[error("its `.narinfo` is malformed: {0}")]
    Malformed(String),
    #[error("its `.narinfo` describes {0}, not this object")]
    WrongPath(StorePath),
    #[error(
        "it is not signed by a trusted key (signed by: {signers}); add the cache's public key to `trusted-keys`"
    )]
    Untrusted { signers: String },
    #[error("its NAR `{key}` is missing")]
    MissingNar { key: String },
    #[error(
        "its NAR is {actual} bytes with SHA-256 {actual_hash}, not the {expected} bytes with {expected_hash} its `.narinfo` gives"
    )]
    FileMismatch {
        expected: u64,
        actual: u64,
        expected_hash: String,
        actual_hash: String,
    },
    #[error(transparent)]
    Cache(#[from] CacheError),
    #[error(transparent)]
    Store(#[from] cairn_store::StoreError),
}

impl Substituter {
    /// Caches in the order they are asked, and the keys whose signatures are trusted.
    pub fn new(caches: Vec<Box<dyn Backend>>, trusted_keys: Vec<PublicKey>) -> Self {
        let usable = Mutex::new(vec![None; caches.len()]);
        Self {
            caches,
            trusted_keys,
            usable,
            jobs: 4,
            reporter: std::sync::Arc::new(crate::NoCacheReporter),
        }
    }

    /// Progress of substitutions the store asks for.
    #[must_use]
    pub fn with_reporter(mut self, reporter: std::sync::Arc<dyn CacheReporter>) -> Self {
        self.reporter = reporter;
        self
    }

    pub fn is_empty(&self) -> bool {
        self.caches.is_empty()
    }

    /// Whether cache `i` is a cairn cache; an unreachable or foreign one is reported
    /// once and then skipped.
    fn usable(&self, i: usize, reporter: &dyn CacheReporter) -> bool {
        if let Some(known) = lock(&self.usable)[i] {
            return known;
        }
        let cache = &*self.caches[i];
        let ok = match cache.get("nix-cache-info") {
            Ok(None) => {
                reporter.on_cache_unusable(
                    cache.url(),
                    &CacheError::NoCacheInfo {
                        url: cache.url().to_owned(),
                    },
                );
                false
            }
            Ok(Some(bytes)) => match check_cache_info(cache, &bytes) {
                Ok(()) => true,
                Err(e) => {
                    reporter.on_cache_unusable(cache.url(), &e);
                    false
                }
            },
            Err(e) => {
                reporter.on_cache_unusable(cache.url(), &e);
                false
            }
        };
        lock(&self.usable)[i] = Some(ok);
        ok
    }

    /// The `.narinfo` of `path` from cache `i`, checked: `Ok(None)` if the cache does
    /// not have it.
    fn narinfo(&self, i: usize, path: &StorePath) -> Result<Option<NarInfo>, Rejected> {
        let cache = &*self.caches[i];
        let Some(bytes) = cache.get(&NarInfo::key(path))? else {
            return Ok(None);
        };
        if bytes.len() > MAX_NARINFO {
            return Err(Rejected::Malformed(format!(
                "it is {} bytes long",
                bytes.len()
            )));
        }
        let text = String::from_utf8(bytes)
            .map_err(|_| Rejected::Malformed("it is not UTF-8".to_owned()))?;
        let info = NarInfo::parse(&text).map_err(|e| Rejected::Malformed(e.0))?;
        if info.object.path != *path {
            return Err(Rejected::WrongPath(info.object.path));
        }
        if !cache.is_local() && info.signed_by(&self.trusted_keys).is_none() {
            let mut signers: Vec<&str> = info
                .sigs
                .iter()
                .filter_map(|s| s.split_once(':').map(|(name, _)| name))
                .collect();
            signers.dedup();
            return Err(Rejected::Untrusted {
                signers: if signers.is_empty() {
                    "nobody".to_owned()
                } else {
                    signers.join(", ")
                },
            });
        }
        Ok(Some(info))
    }

    /// The first cache from `start` on with a good `.narinfo` for `path`.
    fn find(
        &self,
        path: &StorePath,
        start: usize,
        reporter: &dyn CacheReporter,
    ) -> Option<(usize, NarInfo)> {
        for i in start..self.caches.len() {
            if !self.usable(i, reporter) {
                continue;
            }
            match self.narinfo(i, path) {
                Ok(Some(info)) => return Some((i, info)),
                Ok(None) => {}
                Err(e) => reporter.on_substitute_rejected(path, self.caches[i].url(), &e),
            }
        }
        None
    }

    /// Brings `paths` and their closures into `store` from the caches, as far as the
    /// caches can; see the module documentation. Errors of single objects are reported
    /// through `reporter`, not returned: the caller makes those objects another way.
    pub fn substitute(
        &self,
        store: &Store,
        paths: &[StorePath],
        reporter: &dyn CacheReporter,
    ) -> Result<SubstituteReport, CacheError> {
        let mut report = SubstituteReport::default();
        if self.caches.is_empty() {
            return Ok(report);
        }
        // Which cache gives each wanted object, and the objects those refer to.
        let mut chosen: BTreeMap<StorePath, (usize, NarInfo)> = BTreeMap::new();
        let mut unavailable: BTreeSet<StorePath> = BTreeSet::new();
        let mut queue: Vec<StorePath> = paths.to_vec();
        let mut seen: BTreeSet<StorePath> = BTreeSet::new();
        while let Some(path) = queue.pop() {
            if !seen.insert(path.clone()) || store.is_valid(&path)? {
                continue;
            }
            match self.find(&path, 0, reporter) {
                Some((i, info)) => {
                    queue.extend(info.object.references.iter().cloned());
                    chosen.insert(path, (i, info));
                }
                None => {
                    unavailable.insert(path);
                }
            }
        }
        if chosen.is_empty() {
            report.unavailable = unavailable.into_iter().collect();
            return Ok(report);
        }
        let work: Vec<(StorePath, (usize, NarInfo))> = chosen.into_iter().collect();
        let incoming = store.incoming()?;
        let scratch = tempfile::Builder::new()
            .prefix("cairn-substitute-")
            .tempdir()
            .map_err(|source| CacheError::Io {
                path: std::env::temp_dir(),
                source,
            })?;
        let next = AtomicUsize::new(0);
        let bytes = Mutex::new(0u64);
        let failed: Mutex<BTreeSet<StorePath>> = Mutex::new(BTreeSet::new());
        std::thread::scope(|scope| {
            for _ in 0..self.jobs.min(work.len()) {
                scope.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some((path, (first, info))) = work.get(i) else {
                            return;
                        };
                        let mut candidate = Some((*first, info.clone()));
                        let mut got = false;
                        while let Some((cache, info)) = candidate.take() {
                            match self.fetch_one(&incoming, cache, &info, scratch.path()) {
                                Ok(size) => {
                                    *lock(&bytes) += size;
                                    reporter.on_substitute_object(
                                        path,
                                        self.caches[cache].url(),
                                        size,
                                    );
                                    got = true;
                                }
                                Err(e) => {
                                    reporter.on_substitute_rejected(
                                        path,
                                        self.caches[cache].url(),
                                        &e,
                                    );
                                    candidate = self.find(path, cache + 1, reporter);
                                }
                            }
                        }
                        if !got {
                            lock(&failed).insert(path.clone());
                        }
                    }
                });
            }
        });
        let received = incoming.commit()?;
        report.file_bytes = bytes
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        report.substituted = received.registered;
        unavailable.extend(received.left_out);
        unavailable.extend(
            failed
                .into_inner()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        report.unavailable = unavailable.into_iter().collect();
        Ok(report)
    }

    /// Downloads, checks and unpacks one object's NAR; returns the compressed size.
    fn fetch_one(
        &self,
        incoming: &cairn_store::Incoming<'_>,
        cache: usize,
        info: &NarInfo,
        scratch: &std::path::Path,
    ) -> Result<u64, Rejected> {
        let backend = &*self.caches[cache];
        let missing = || Rejected::MissingNar {
            key: info.url.clone(),
        };
        // A directory cache's file is read in place; a remote one's is downloaded first.
        let (file, copied) = match backend.local_file(&info.url)? {
            Some(path) if path.is_file() => (path, false),
            Some(_) => return Err(missing()),
            None => {
                let file = scratch.join(format!("{}-{cache}", info.object.path));
                if !backend.get_file(&info.url, &file)? {
                    return Err(missing());
                }
                (file, true)
            }
        };
        let io = |source| CacheError::Io {
            path: file.clone(),
            source,
        };
        let result = (|| {
            let mut reader =
                BufReader::with_capacity(1 << 20, fs_err::File::open(&file).map_err(io)?);
            let mut hash = HashSink::new();
            let mut buf = vec![0u8; 1 << 20];
            loop {
                let n = reader.read(&mut buf).map_err(io)?;
                if n == 0 {
                    break;
                }
                hash.update(&buf[..n]);
            }
            let (actual_hash, actual) = hash.finish();
            if actual_hash != info.file_hash || actual != info.file_size {
                return Err(Rejected::FileMismatch {
                    expected: info.file_size,
                    actual,
                    expected_hash: info.file_hash.to_nix32(),
                    actual_hash: actual_hash.to_nix32(),
                });
            }
            let reader = BufReader::with_capacity(1 << 20, fs_err::File::open(&file).map_err(io)?);
            let trusted = true; // checked in `narinfo`: signed, or the user's own cache
            // No more than the signed size is unpacked: a NAR that would be longer (a
            // decompression bomb) ends early and fails its checks.
            let size = info.object.nar_size;
            if info.compression == "zstd" {
                let decoder = zstd::Decoder::with_buffer(reader).map_err(io)?;
                incoming.receive(info.object.clone(), &mut decoder.take(size), trusted)?;
            } else {
                incoming.receive(info.object.clone(), &mut reader.take(size), trusted)?;
            }
            Ok(info.file_size)
        })();
        if copied {
            let _ = fs_err::remove_file(&file);
        }
        result
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
