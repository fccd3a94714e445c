//! From a lock to store objects: download the `.deb`s the store lacks (in parallel,
//! each checked against its locked size and SHA-256), unpack each into an object whose
//! references are its locked dependencies, and register them dependencies first.
//!
//! **Resuming.** Each download goes to a blob in the store (`v1/blobs/sha256/`, outside
//! the registry) as soon as it is verified, and the blob is removed once its package is
//! unpacked. A run that fails keeps its verified downloads, so the next one fetches only
//! what is still missing. Objects registered before a failure are complete packages
//! whose dependencies are all present; the package that failed is never registered.
//!
//! **Identity.** A package's object is input-addressed: its path is a hash of
//! (`cairn-deb-object-v1`, the `.deb`'s SHA-256, its references), so it is known before
//! anything is downloaded, and a repeated or resumed fetch skips every package the store
//! has without touching the network.
//!
//! **Cycles.** Debian's dependency graph has cycles (`libc6` ⇄ `libgcc-s1`), and a
//! store's references cannot (an object's identity covers its references' paths). So a
//! package refers to every member of each dependency's cycle (its strongly connected
//! component), and members of one cycle do not refer to each other. So the closure of a
//! package outside a cycle is complete, and whatever refers to one member of a cycle
//! refers to all of them; but the closure of a cycle's member alone (a request of just
//! `libc6`) lacks the other members. The lock, not a store closure, is the set of
//! packages to use.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use cairn_store::graph::{outside_dependencies, strongly_connected};
use cairn_store::{Addressing, Store, StoreError, StorePath, sanitize_name};
use sha2::{Digest, Sha256};

use crate::lock::{DebianLock, LockedPackage};
use crate::object::{DebObjectError, add_deb_as};
use cairn_fetch::{Download, Expected, FetchError, FetchReporter, Fetcher};

/// Why locked packages could not be installed into the store.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("could not download {package}")]
    Fetch {
        package: String,
        #[source]
        source: FetchError,
    },
    #[error("could not unpack {package}")]
    Unpack {
        package: String,
        #[source]
        source: DebObjectError,
    },
    #[error("{package}: the .deb's control file names another package than the lock ({found})")]
    Mismatch { package: String, found: String },
    #[error(transparent)]
    Lock(#[from] crate::lock::LockError),
    #[error("the lock names no repository `{0}`")]
    NoRepository(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl InstallError {
    /// A suggestion for the user, when there is one.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::Fetch { source, .. } => source.hint(),
            Self::Store(e) => e.hint(),
            _ => None,
        }
    }
}

/// Progress of an install. All methods have empty defaults.
pub trait InstallReporter: FetchReporter {
    /// The work ahead, once the store has been looked at: `packages` are not in it and
    /// will be unpacked; `downloads` of their `.deb`s (`bytes` in all) are needed, the
    /// others being verified downloads an interrupted run left.
    fn on_install_start(&self, _packages: usize, _downloads: usize, _bytes: u64) {}
    /// A package became a store object (`fresh`: it was not in the store before).
    fn on_package_ready(&self, _package: &LockedPackage, _object: &StorePath, _fresh: bool) {}
}

/// The store object of every locked package, by package name.
pub type Installed = BTreeMap<String, StorePath>;

/// Makes every package of `lock` a store object, downloading only what the store lacks.
pub fn fetch_locked(
    store: &Store,
    fetcher: &Fetcher,
    lock: &DebianLock,
    reporter: &Arc<dyn InstallReporter>,
) -> Result<Installed, InstallError> {
    lock.check()?;
    let packages: BTreeMap<&str, &LockedPackage> =
        lock.packages.iter().map(|p| (p.name.as_str(), p)).collect();
    let graph: BTreeMap<&str, Vec<&str>> = packages
        .iter()
        .map(|(&name, p)| (name, p.depends.iter().map(String::as_str).collect()))
        .collect();
    let components = strongly_connected(&graph);
    let outside_of = outside_dependencies(&graph, &components);
    let mut paths: Installed = BTreeMap::new();
    let mut references: BTreeMap<&str, Vec<StorePath>> = BTreeMap::new();
    // The packages whose objects each package's object refers to.
    let mut needs: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    // Components come out of Tarjan's algorithm dependencies first.
    for component in &components {
        let outside = &outside_of[component[0]];
        let refs: Vec<StorePath> = outside.iter().map(|n| paths[*n].clone()).collect();
        for name in component {
            let path = object_path(packages[name], &refs)?;
            paths.insert((*name).to_owned(), path);
            references.insert(name, refs.clone());
            needs.insert(name, outside.clone());
        }
    }
    let wanted: Vec<StorePath> = paths.values().cloned().collect();
    store.add_temp_roots(&wanted)?;
    store.substitute(&wanted)?;
    let mut missing = Vec::new();
    for (name, path) in &paths {
        if store.is_valid(path)? {
            reporter.on_package_ready(packages[name.as_str()], path, false);
        } else {
            missing.push(packages[name.as_str()]);
        }
    }
    if missing.is_empty() {
        return Ok(paths);
    }
    // Dependencies first: the order unpacking prefers, and in which failures count.
    let order: Vec<&str> = components
        .iter()
        .flatten()
        .copied()
        .filter(|n| missing.iter().any(|p| p.name == **n))
        .collect();
    let (ready, downloads) = prepare_downloads(store, lock, &missing)?;
    // What an interrupted run left (verified) is not downloaded again.
    reporter.on_install_start(
        missing.len(),
        downloads.len(),
        downloads
            .iter()
            .fold(0u64, |sum, (p, _)| sum.saturating_add(p.size)),
    );
    let context = Context {
        store,
        fetcher,
        reporter,
        packages: &packages,
        needs: &needs,
        references: &references,
        paths: &paths,
    };
    install_missing(&context, &order, ready, &downloads)?;
    Ok(paths)
}

/// What [`install_missing`] works from.
struct Context<'a> {
    store: &'a Store,
    fetcher: &'a Fetcher,
    reporter: &'a Arc<dyn InstallReporter>,
    packages: &'a BTreeMap<&'a str, &'a LockedPackage>,
    /// The packages each package's object refers to.
    needs: &'a BTreeMap<&'a str, BTreeSet<&'a str>>,
    references: &'a BTreeMap<&'a str, Vec<StorePath>>,
    paths: &'a Installed,
}

/// Downloads what is not `ready` and unpacks every package of `order` (the missing ones,
/// dependencies first) as soon as its `.deb` is there and its references are in the
/// store, on as many threads as there are cores. Downloads overlap unpacking: each
/// `.deb` becomes a blob as soon as it is verified (so an interrupted run keeps it).
/// After a failure no new unpack starts, but downloads go on, so the next run finds
/// them; of the failures met, the one returned is the first in `order`.
fn install_missing<'a>(
    context: &Context<'a>,
    order: &[&'a str],
    ready: BTreeMap<&'a str, PathBuf>,
    downloads: &[(&'a LockedPackage, Download)],
) -> Result<(), InstallError> {
    let work = Mutex::new(Work {
        order: order.to_vec(),
        blobs: ready,
        done: context
            .paths
            .keys()
            .map(String::as_str)
            .filter(|n| !order.contains(n))
            .collect(),
        pending: order.to_vec(),
        downloading: downloads.len(),
        unpacking: 0,
        failure: None,
        aborted: false,
    });
    let changed = Condvar::new();
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get().min(8));
    std::thread::scope(|scope| {
        scope.spawn(|| download_blobs(context, downloads, &work, &changed));
        for _ in 1..workers {
            scope.spawn(|| unpack_ready(context, &work, &changed));
        }
        unpack_ready(context, &work, &changed);
    });
    let work = work.into_inner().unwrap_or_else(PoisonError::into_inner);
    if let Some((_, e)) = work.failure {
        return Err(e);
    }
    if !work.pending.is_empty() {
        return Err(InstallError::Io(std::io::Error::other(format!(
            "internal error: these packages were never unpacked: {}",
            work.pending.join(", ")
        ))));
    }
    Ok(())
}

/// Held by each thread of [`install_missing`]: if the thread unwinds (a panic while
/// unpacking, or in a reporter), the others are told to stop, instead of waiting for a
/// count that will never go down; the scope then passes the panic on.
struct StopOthersOnPanic<'w, 'a> {
    work: &'w Mutex<Work<'a>>,
    changed: &'w Condvar,
}

impl Drop for StopOthersOnPanic<'_, '_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.work
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .aborted = true;
            self.changed.notify_all();
        }
    }
}

/// Downloads each `.deb` and makes it a blob as soon as it is verified.
fn download_blobs<'a>(
    context: &Context<'a>,
    downloads: &[(&'a LockedPackage, Download)],
    work: &Mutex<Work<'a>>,
    changed: &Condvar,
) {
    let _stop = StopOthersOnPanic { work, changed };
    let reporter: Arc<dyn FetchReporter> = context.reporter.clone();
    let jobs: Vec<Download> = downloads.iter().map(|(_, job)| job.clone()).collect();
    context
        .fetcher
        .download_each(&jobs, &reporter, &|i, result| {
            let (package, job) = &downloads[i];
            let blob = match result {
                Ok(()) => context
                    .store
                    .commit_blob(&job.dest, &package.sha256)
                    .map_err(InstallError::from),
                Err(source) => Err(InstallError::Fetch {
                    package: label(package),
                    source,
                }),
            };
            let mut guard = work.lock().unwrap_or_else(PoisonError::into_inner);
            guard.downloading -= 1;
            match blob {
                Ok(blob) => {
                    guard.blobs.insert(package.name.as_str(), blob);
                }
                Err(e) => guard.fail(&package.name, e),
            }
            changed.notify_all();
        });
}

/// A worker: unpacks packages whose `.deb` is there and whose references are in the
/// store, until none is left, or a failure stops the work.
fn unpack_ready<'a>(context: &Context<'a>, work: &Mutex<Work<'a>>, changed: &Condvar) {
    let _stop = StopOthersOnPanic { work, changed };
    let mut guard = work.lock().unwrap_or_else(PoisonError::into_inner);
    loop {
        if guard.failure.is_some() || guard.aborted || guard.pending.is_empty() {
            return;
        }
        let next = guard.pending.iter().position(|n| {
            guard.blobs.contains_key(n) && context.needs[n].iter().all(|d| guard.done.contains(d))
        });
        let Some(at) = next else {
            if guard.downloading == 0 && guard.unpacking == 0 {
                // Nothing left that could make a package ready.
                return;
            }
            guard = changed.wait(guard).unwrap_or_else(PoisonError::into_inner);
            continue;
        };
        let name = guard.pending.remove(at);
        let deb = guard.blobs[name].clone();
        guard.unpacking += 1;
        drop(guard);
        let package = context.packages[name];
        let path = &context.paths[name];
        let result = unpack(
            context.store,
            package,
            &deb,
            &context.references[name],
            path,
        );
        if result.is_ok() {
            // Unpacked: the download has done its job.
            let _ = context.store.remove_blob(&package.sha256);
            context.reporter.on_package_ready(package, path, true);
        }
        guard = work.lock().unwrap_or_else(PoisonError::into_inner);
        guard.unpacking -= 1;
        match result {
            Ok(()) => {
                guard.done.insert(name);
            }
            Err(e) => guard.fail(name, e),
        }
        changed.notify_all();
    }
}

/// What the download thread and the unpacking workers share.
struct Work<'a> {
    /// The missing packages, dependencies first.
    order: Vec<&'a str>,
    /// Verified `.deb`s, by package: left by an earlier run, or downloaded now.
    blobs: BTreeMap<&'a str, PathBuf>,
    /// Packages whose objects are in the store: before this run, or unpacked now.
    done: BTreeSet<&'a str>,
    /// Missing packages no worker has taken yet, dependencies first.
    pending: Vec<&'a str>,
    /// Downloads not yet ended.
    downloading: usize,
    /// Unpacks under way.
    unpacking: usize,
    /// The first failure in dependency order, whichever thread met it.
    failure: Option<(usize, InstallError)>,
    /// A thread panicked: the others stop.
    aborted: bool,
}

impl Work<'_> {
    /// Records `e` (for package `name`) unless a failure earlier in the order is known.
    fn fail(&mut self, name: &str, e: InstallError) {
        let at = self
            .order
            .iter()
            .position(|n| *n == name)
            .unwrap_or(usize::MAX);
        if self.failure.as_ref().is_none_or(|(p, _)| at < *p) {
            self.failure = Some((at, e));
        }
    }
}

fn label(p: &LockedPackage) -> String {
    format!("{} {} ({})", p.name, p.version, p.architecture)
}

/// The input-addressed path of a package's object.
fn object_path(package: &LockedPackage, references: &[StorePath]) -> Result<StorePath, StoreError> {
    Store::input_path(&object_name(package), &input_hash(package, references))
}

fn object_name(p: &LockedPackage) -> String {
    sanitize_name(&format!("{}_{}_{}", p.name, p.version, p.architecture))
}

/// Which `missing` packages have a verified `.deb` in the store already (left by an
/// earlier, interrupted run), and a download for each of the others.
#[allow(clippy::type_complexity)]
fn prepare_downloads<'a>(
    store: &Store,
    lock: &DebianLock,
    missing: &[&'a LockedPackage],
) -> Result<
    (
        BTreeMap<&'a str, PathBuf>,
        Vec<(&'a LockedPackage, Download)>,
    ),
    InstallError,
> {
    let mut ready = BTreeMap::new();
    let mut downloads = Vec::new();
    for &p in missing {
        // A damaged leftover is removed, and downloaded again.
        if let Some(blob) = store.verified_blob(&p.sha256, Some(p.size))? {
            ready.insert(p.name.as_str(), blob);
            continue;
        }
        let repository = lock
            .repository_of(p)
            .ok_or_else(|| InstallError::NoRepository(p.repository.clone()))?;
        downloads.push((
            p,
            Download {
                url: format!("{}/{}", repository.mirror, p.filename),
                expected: Expected {
                    size: Some(p.size),
                    sha256: p.sha256.clone(),
                },
                dest: store.blob_staging_path(&p.sha256)?,
            },
        ));
    }
    Ok((ready, downloads))
}

/// Whether the blob at `path` exists and is exactly the locked `.deb`.
fn unpack(
    store: &Store,
    package: &LockedPackage,
    deb: &std::path::Path,
    references: &[StorePath],
    expected: &StorePath,
) -> Result<(), InstallError> {
    // Another process sharing the store may have made it meanwhile (and removed the
    // blob it shared with this one).
    if store.is_valid(expected)? {
        return Ok(());
    }
    let node_hash = input_hash(package, references);
    let added = add_deb_as(
        store,
        deb,
        references,
        Some(Addressing::Input { node_hash }),
        Some(expected.name()),
    );
    match added {
        Ok(_) => Ok(()),
        Err(_) if store.is_valid(expected)? => Ok(()),
        Err(DebObjectError::NameMismatch { found, .. }) => Err(InstallError::Mismatch {
            package: label(package),
            found,
        }),
        Err(source) => Err(InstallError::Unpack {
            package: label(package),
            source,
        }),
    }
}

/// `sha256("cairn-deb-object-v1\0" <deb sha256> "\0" (<reference> "\0")*)`, references
/// sorted.
fn input_hash(package: &LockedPackage, references: &[StorePath]) -> String {
    let mut h = Sha256::new();
    for field in [b"cairn-deb-object-v1".as_slice(), package.sha256.as_bytes()] {
        h.update(field);
        h.update(b"\0");
    }
    let sorted: BTreeSet<&str> = references.iter().map(StorePath::as_str).collect();
    for r in sorted {
        h.update(r.as_bytes());
        h.update(b"\0");
    }
    data_encoding::HEXLOWER.encode(&h.finalize())
}
