//! Pushing closures to a cache: every object the cache lacks becomes a zstd-compressed
//! NAR and a signed `.narinfo`. NARs go up first and in parallel; the `.narinfo`s
//! follow, references first, so a reader that finds an object's `.narinfo` finds its
//! NAR, and (once the push is done) its references'.

use std::io::{BufWriter, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use cairn_nar::{HashSink, NarHash};
use cairn_store::{Store, StorePath};

use crate::narinfo::{CACHE_INFO, CACHE_VERSION_LINE, NarInfo};
use crate::{Backend, CacheError, CacheReporter, SecretKey};

/// How to push.
#[derive(Debug, Clone, Copy)]
pub struct PushOptions<'a> {
    /// Signs every object pushed now (objects the cache has keep their signatures).
    pub key: Option<&'a SecretKey>,
    /// Objects compressed and uploaded at once.
    pub jobs: usize,
    /// zstd level of the NARs.
    pub level: i32,
}

impl Default for PushOptions<'_> {
    fn default() -> Self {
        Self {
            key: None,
            jobs: 4,
            level: 3,
        }
    }
}

/// What a push did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushReport {
    /// The closure pushed, references first.
    pub objects: Vec<StorePath>,
    /// How many the cache had already.
    pub skipped: usize,
    /// How many were uploaded.
    pub uploaded: usize,
    /// Uncompressed NAR bytes and compressed file bytes uploaded.
    pub nar_bytes: u64,
    pub file_bytes: u64,
}

/// Writes and hashes.
struct Hashing<W> {
    inner: W,
    hash: HashSink,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Makes sure `backend` is a cairn cache: writes `nix-cache-info` into an empty one,
/// and refuses one that is something else (a Nix cache).
pub fn init(backend: &dyn Backend) -> Result<(), CacheError> {
    match backend.get("nix-cache-info")? {
        None => backend.put("nix-cache-info", CACHE_INFO.as_bytes()),
        Some(bytes) => check_cache_info(backend, &bytes),
    }
}

pub(crate) fn check_cache_info(backend: &dyn Backend, bytes: &[u8]) -> Result<(), CacheError> {
    let text = String::from_utf8_lossy(bytes);
    if text.lines().any(|l| l.trim() == CACHE_VERSION_LINE) {
        Ok(())
    } else {
        Err(CacheError::NotCairnCache {
            url: backend.url().to_owned(),
        })
    }
}

/// Pushes the closure of `paths` to `backend`.
pub fn push(
    store: &Store,
    backend: &dyn Backend,
    paths: &[StorePath],
    options: PushOptions<'_>,
    reporter: &dyn CacheReporter,
) -> Result<PushReport, CacheError> {
    init(backend)?;
    let closure = store.closure(paths)?;
    let next = AtomicUsize::new(0);
    // Per object of the closure: `None` while unknown or when the cache has it.
    let done: Mutex<Vec<Option<NarInfo>>> = Mutex::new(vec![None; closure.len()]);
    let failure: Mutex<Option<CacheError>> = Mutex::new(None);
    let scratch = tempfile::Builder::new()
        .prefix("cairn-cache-push-")
        .tempdir()
        .map_err(|source| CacheError::Io {
            path: std::env::temp_dir(),
            source,
        })?;
    std::thread::scope(|scope| {
        // Each worker asks the cache whether it has an object (a request per object on a
        // remote cache, so they overlap too), and uploads it if not.
        for _ in 0..options.jobs.clamp(1, 16).min(closure.len()) {
            scope.spawn(|| {
                loop {
                    if lock(&failure).is_some() {
                        return;
                    }
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(path) = closure.get(i) else { return };
                    let uploaded = backend.exists(&NarInfo::key(path)).and_then(|has| {
                        if has {
                            Ok(None)
                        } else {
                            upload_nar(store, backend, path, scratch.path(), options.level)
                                .map(Some)
                        }
                    });
                    match uploaded {
                        Ok(None) => {}
                        Ok(Some(info)) => {
                            reporter.on_push_object(path, info.file_size);
                            lock(&done)[i] = Some(info);
                        }
                        Err(e) => {
                            lock(&failure).get_or_insert(e);
                            return;
                        }
                    }
                }
            });
        }
    });
    if let Some(e) = failure
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
    {
        return Err(e);
    }
    let uploaded: Vec<NarInfo> = done
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .into_iter()
        .flatten()
        .collect();
    let mut report = PushReport {
        skipped: closure.len() - uploaded.len(),
        uploaded: uploaded.len(),
        objects: closure,
        ..PushReport::default()
    };
    // In the closure's order: references first.
    for mut info in uploaded {
        if let Some(key) = options.key {
            info.sign(key);
        }
        report.nar_bytes += info.object.nar_size;
        report.file_bytes += info.file_size;
        backend.put(&NarInfo::key(&info.object.path), info.to_text().as_bytes())?;
    }
    Ok(report)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Compresses the object's NAR into a file under `scratch`, uploads it by its hash, and
/// returns its (unsigned) `.narinfo`.
fn upload_nar(
    store: &Store,
    backend: &dyn Backend,
    path: &StorePath,
    scratch: &std::path::Path,
    level: i32,
) -> Result<NarInfo, CacheError> {
    let file = scratch.join(path.to_string());
    let io = |source| CacheError::Io {
        path: file.clone(),
        source,
    };
    let out = fs_err::File::create(&file).map_err(io)?;
    let mut hashing = Hashing {
        inner: BufWriter::with_capacity(1 << 20, out),
        hash: HashSink::new(),
    };
    let mut encoder = zstd::Encoder::new(&mut hashing, level).map_err(io)?;
    let object = store.dump_nar(path, &mut encoder)?;
    encoder.finish().map_err(io)?;
    hashing.flush().map_err(io)?;
    let (file_hash, file_size): (NarHash, u64) = hashing.hash.finish();
    let url = format!("nar/{}.nar.zst", file_hash.to_hex());
    backend.put_file(&url, &file)?;
    let _ = fs_err::remove_file(&file);
    Ok(NarInfo {
        object,
        url,
        compression: "zstd".to_owned(),
        file_hash,
        file_size,
        sigs: Vec::new(),
    })
}
