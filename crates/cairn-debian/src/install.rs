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
use std::sync::{Arc, Mutex};

use cairn_store::{Addressing, Store, StoreError, StorePath, sanitize_name};
use sha2::{Digest, Sha256};

use crate::fetch::{Download, Expected, FetchError, FetchReporter, Fetcher};
use crate::lock::{DebianLock, LockedPackage};
use crate::object::{DebObjectError, add_deb_as};

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
    let components = strongly_connected(&packages);
    let mut paths: Installed = BTreeMap::new();
    let mut references: BTreeMap<&str, Vec<StorePath>> = BTreeMap::new();
    // Components come out of Tarjan's algorithm dependencies first.
    for component in &components {
        let mut outside: BTreeSet<&str> = BTreeSet::new();
        for name in component {
            for dep in &packages[name].depends {
                let target = components_of(&components, dep);
                if target.first().is_some_and(|t| !component.contains(t)) {
                    outside.extend(target.iter().copied());
                }
            }
        }
        let refs: Vec<StorePath> = outside.iter().map(|n| paths[*n].clone()).collect();
        for name in component {
            let path = object_path(packages[name], &refs)?;
            paths.insert((*name).to_owned(), path);
            references.insert(name, refs.clone());
        }
    }
    store.add_temp_roots(&paths.values().cloned().collect::<Vec<_>>())?;
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
    let debs = download(store, fetcher, lock, &missing, reporter)?;
    // Dependencies first; independent packages of one wave unpack in parallel.
    let waves = waves(&components, &packages, &missing);
    for wave in waves {
        // The failure reported is the first in wave order, whichever worker met it.
        let failure: Mutex<Option<(usize, InstallError)>> = Mutex::new(None);
        let next = Mutex::new(wave.iter().enumerate());
        std::thread::scope(|scope| {
            for _ in 0..2 {
                scope.spawn(|| {
                    loop {
                        let Some((position, &name)) = next.lock().expect("not poisoned").next()
                        else {
                            return;
                        };
                        let package = packages[name];
                        let result =
                            unpack(store, package, &debs[name], &references[name], &paths[name]);
                        match result {
                            Ok(()) => {
                                // Unpacked: the download has done its job.
                                let _ = store.remove_blob(&package.sha256);
                                reporter.on_package_ready(package, &paths[name], true);
                            }
                            Err(e) => {
                                let mut failure = failure.lock().expect("not poisoned");
                                if failure.as_ref().is_none_or(|(p, _)| position < *p) {
                                    *failure = Some((position, e));
                                }
                                return;
                            }
                        }
                    }
                });
            }
        });
        if let Some((_, e)) = failure.into_inner().expect("not poisoned") {
            return Err(e);
        }
    }
    Ok(paths)
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

/// Makes sure the `.deb` of every `missing` package is a verified blob in the store:
/// blobs left by an earlier, interrupted run are used again, the rest is downloaded in
/// parallel. Every download that succeeds is kept, even when another fails, so a rerun
/// fetches only what is still missing.
fn download(
    store: &Store,
    fetcher: &Fetcher,
    lock: &DebianLock,
    missing: &[&LockedPackage],
    reporter: &Arc<dyn InstallReporter>,
) -> Result<BTreeMap<String, PathBuf>, InstallError> {
    let mut out = BTreeMap::new();
    let mut jobs = Vec::new();
    let mut wanted = Vec::new();
    for p in missing {
        let blob = store.blob_path(&p.sha256)?;
        if blob_holds(&blob, p)? {
            out.insert(p.name.clone(), blob);
            continue;
        }
        // A damaged leftover is replaced.
        store.remove_blob(&p.sha256)?;
        let repository = lock
            .repository_of(p)
            .ok_or_else(|| InstallError::NoRepository(p.repository.clone()))?;
        jobs.push(Download {
            url: format!("{}/{}", repository.mirror, p.filename),
            expected: Expected {
                size: p.size,
                sha256: p.sha256.clone(),
            },
            dest: store.blob_staging_path(&p.sha256)?,
        });
        wanted.push(*p);
    }
    // An install reporter is a fetch reporter (trait upcasting).
    let fetch_reporter: Arc<dyn FetchReporter> = reporter.clone();
    let results = fetcher.download_all(&jobs, &fetch_reporter);
    let mut first_error = None;
    for ((p, job), result) in wanted.iter().zip(jobs).zip(results) {
        match result {
            Ok(()) => {
                let blob = store.commit_blob(&job.dest, &p.sha256)?;
                out.insert(p.name.clone(), blob);
            }
            Err(source) => {
                first_error.get_or_insert(InstallError::Fetch {
                    package: label(p),
                    source,
                });
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// Whether the blob at `path` exists and is exactly the locked `.deb`.
fn blob_holds(path: &std::path::Path, package: &LockedPackage) -> Result<bool, InstallError> {
    let Ok(mut file) = fs_err::File::open(path) else {
        return Ok(false);
    };
    if file.metadata()?.len() != package.size {
        return Ok(false);
    }
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher)?;
    Ok(data_encoding::HEXLOWER.encode(&hasher.finalize()) == package.sha256)
}

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

/// The component (sorted names) holding `name`.
fn components_of<'a, 'c>(components: &'c [Vec<&'a str>], name: &str) -> &'c [&'a str] {
    components
        .iter()
        .find(|c| c.contains(&name))
        .map_or(&[], Vec::as_slice)
}

/// Tarjan's strongly connected components, each sorted, dependencies before
/// dependents; deterministic because nodes and edges are visited in name order.
fn strongly_connected<'a>(packages: &BTreeMap<&'a str, &'a LockedPackage>) -> Vec<Vec<&'a str>> {
    struct State<'a> {
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        out: Vec<Vec<&'a str>>,
    }
    fn visit<'a>(
        node: &'a str,
        packages: &BTreeMap<&'a str, &'a LockedPackage>,
        s: &mut State<'a>,
    ) {
        let i = s.index.len();
        s.index.insert(node, i);
        s.low.insert(node, i);
        s.stack.push(node);
        s.on_stack.insert(node);
        let mut deps: Vec<&str> = packages[node].depends.iter().map(String::as_str).collect();
        deps.sort_unstable();
        for dep in deps {
            let Some((&dep, _)) = packages.get_key_value(dep) else {
                continue;
            };
            if !s.index.contains_key(dep) {
                visit(dep, packages, s);
                let low = s.low[dep].min(s.low[node]);
                s.low.insert(node, low);
            } else if s.on_stack.contains(dep) {
                let low = s.index[dep].min(s.low[node]);
                s.low.insert(node, low);
            }
        }
        if s.low[node] == s.index[node] {
            let mut component = Vec::new();
            while let Some(top) = s.stack.pop() {
                s.on_stack.remove(top);
                component.push(top);
                if top == node {
                    break;
                }
            }
            component.sort_unstable();
            s.out.push(component);
        }
    }
    let mut state = State {
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for &name in packages.keys() {
        if !state.index.contains_key(name) {
            visit(name, packages, &mut state);
        }
    }
    state.out
}

/// The `missing` packages grouped into waves: each wave's references are all in earlier
/// waves or already in the store.
fn waves<'a>(
    components: &[Vec<&'a str>],
    packages: &BTreeMap<&'a str, &'a LockedPackage>,
    missing: &[&LockedPackage],
) -> Vec<Vec<&'a str>> {
    let missing: BTreeSet<&str> = missing.iter().map(|p| p.name.as_str()).collect();
    let mut level: BTreeMap<&str, usize> = BTreeMap::new();
    let mut out: Vec<Vec<&str>> = Vec::new();
    for component in components {
        let depth = component
            .iter()
            .flat_map(|n| &packages[n].depends)
            .filter(|d| !component.contains(&d.as_str()))
            .filter_map(|d| level.get(d.as_str()).map(|l| l + 1))
            .max()
            .unwrap_or(0);
        for &name in component {
            level.insert(name, depth);
            if missing.contains(name) {
                if out.len() <= depth {
                    out.resize(depth + 1, Vec::new());
                }
                out[depth].push(name);
            }
        }
    }
    out
}
