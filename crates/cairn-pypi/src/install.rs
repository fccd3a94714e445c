//! A locked Python environment as store objects: one object per wheel, downloaded
//! only when the store lacks it, checked against the lock's SHA-256, installed
//! without pip.
//!
//! A wheel's object is input-addressed: its path follows from the wheel's SHA-256,
//! the install scheme and its references (the interpreter's object and the objects
//! of the wheels it requires), so a build finds every object of an unchanged lock
//! without opening a single wheel. Wheels that require each other (a cycle) refer to
//! what the cycle needs outside itself.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use cairn_fetch::{Download, Expected, FetchError, FetchReporter, Fetcher};
use cairn_store::graph::{outside_dependencies, strongly_connected};
use cairn_store::{Addressing, Store, StoreError, StorePath};
use sha2::{Digest, Sha256};

use crate::WheelName;
use crate::lock::{LockedWheel, PypiLock, PypiLockError};
use crate::object::{stage_wheel, wheel_object_name};
use crate::wheel::{InstallScheme, WheelError};

/// The version of what the installer writes for a wheel: part of every wheel
/// object's path, so a change to the installer's output makes new objects.
const WHEEL_OBJECT_VERSION: &str = "cairn-wheel-object-v1";

/// Progress of installing an environment. All methods have empty defaults.
pub trait WheelReporter: FetchReporter {
    /// `wheels` must be installed, `downloads` of them downloaded (`bytes` when known).
    fn on_wheels_start(&self, _wheels: usize, _downloads: usize, _bytes: u64) {}
    /// A wheel's object is in the store; `fresh` when it was made now.
    fn on_wheel_ready(&self, _wheel: &LockedWheel, _object: &StorePath, _fresh: bool) {}
}

/// Why an environment could not be installed.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error(transparent)]
    Lock(#[from] PypiLockError),
    #[error("cannot download the wheel `{wheel}`")]
    Fetch {
        wheel: String,
        #[source]
        source: Box<FetchError>,
    },
    #[error(transparent)]
    Wheel(Box<WheelError>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<WheelError> for InstallError {
    fn from(error: WheelError) -> Self {
        Self::Wheel(Box::new(error))
    }
}

impl InstallError {
    /// A suggestion, when there is one.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::Fetch { source, .. } => source.hint(),
            _ => None,
        }
    }
}

/// The object of every locked wheel, by normalized name.
pub type InstalledWheels = BTreeMap<String, StorePath>;

/// Makes every wheel of `lock` a store object laid out by `scheme`, each referring
/// to `interpreter` (the objects of the Python the wheels are for) and to the objects
/// of the wheels it requires. Downloads only what the store lacks.
pub fn install_locked(
    store: &Store,
    fetcher: &Fetcher,
    lock: &PypiLock,
    scheme: &InstallScheme,
    interpreter: &[StorePath],
    reporter: &Arc<dyn WheelReporter>,
) -> Result<InstalledWheels, InstallError> {
    lock.check()?;
    let wheels = lock.by_name();
    let graph: BTreeMap<&str, Vec<&str>> = wheels
        .iter()
        .map(|(&name, w)| (name, w.requires.iter().map(String::as_str).collect()))
        .collect();
    let components = strongly_connected(&graph);
    let outside = outside_dependencies(&graph, &components);
    let mut paths: InstalledWheels = BTreeMap::new();
    let mut references: BTreeMap<&str, Vec<StorePath>> = BTreeMap::new();
    for component in &components {
        let mut refs: Vec<StorePath> = interpreter.to_vec();
        refs.extend(outside[component[0]].iter().map(|n| paths[*n].clone()));
        refs.sort();
        refs.dedup();
        for &name in component {
            let wheel = wheels[name];
            let hash = input_hash(&wheel.sha256, &wheel.wheel, scheme, &refs);
            let path = Store::input_path(&object_name(wheel)?, &hash)?;
            paths.insert(name.to_owned(), path);
            references.insert(name, refs.clone());
        }
    }
    let wanted: Vec<StorePath> = paths.values().cloned().collect();
    store.add_temp_roots(&wanted)?;
    store.substitute(&wanted)?;
    let mut missing = Vec::new();
    for (name, path) in &paths {
        if store.is_valid(path)? {
            reporter.on_wheel_ready(wheels[name.as_str()], path, false);
        } else {
            missing.push(name.as_str());
        }
    }
    if missing.is_empty() {
        return Ok(paths);
    }
    let files = download_missing(store, fetcher, &wheels, &missing, reporter)?;
    // In dependency order, a level at a time: an object's references must be
    // registered before it is.
    let mut done: BTreeSet<&str> = wheels
        .keys()
        .copied()
        .filter(|n| !missing.contains(n))
        .collect();
    let mut left: Vec<&str> = missing.clone();
    while !left.is_empty() {
        let (ready, rest): (Vec<&str>, Vec<&str>) = left
            .iter()
            .partition(|&&name| outside[name].iter().all(|dep| done.contains(dep)));
        assert!(!ready.is_empty(), "components come dependencies first");
        let batch = store.batch()?;
        // By position, so the error reported is the same whichever thread ends first.
        let staged: Mutex<BTreeMap<usize, Result<(), InstallError>>> = Mutex::new(BTreeMap::new());
        let next = std::sync::atomic::AtomicUsize::new(0);
        let workers = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        std::thread::scope(|scope| {
            for _ in 0..workers.min(ready.len()) {
                scope.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(&name) = ready.get(i) else { break };
                        let result = stage_one(
                            store,
                            &batch,
                            wheels[name],
                            &files[name],
                            scheme,
                            &references[name],
                            &paths[name],
                        );
                        staged
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .insert(i, result);
                    }
                });
            }
        });
        for result in staged
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .into_values()
        {
            result?;
        }
        batch.commit()?;
        for &name in &ready {
            reporter.on_wheel_ready(wheels[name], &paths[name], true);
            done.insert(name);
            // The wheel is unpacked; its download is no longer needed.
            store.remove_blob(&wheels[name].sha256)?;
        }
        left = rest;
    }
    Ok(paths)
}

fn stage_one(
    store: &Store,
    batch: &cairn_store::Batch<'_>,
    wheel: &LockedWheel,
    file: &std::path::Path,
    scheme: &InstallScheme,
    references: &[StorePath],
    path: &StorePath,
) -> Result<(), InstallError> {
    // Another process sharing the store may have made it meanwhile (and removed the
    // download they shared).
    if store.is_valid(path)? {
        return Ok(());
    }
    let name = wheel_name(wheel)?;
    let addressing = Addressing::Input {
        node_hash: input_hash(&wheel.sha256, &wheel.wheel, scheme, references),
    };
    let (staged, _) = stage_wheel(
        batch,
        file,
        &name,
        scheme,
        references.to_vec(),
        Some(addressing),
    )?;
    if &staged != path {
        return Err(InstallError::Lock(PypiLockError::Inconsistent(format!(
            "{}: the wheel was installed as `{staged}`, not as `{path}`",
            wheel.wheel
        ))));
    }
    Ok(())
}

/// Downloads (into the store's blobs) every missing wheel the store has no verified
/// download of; returns the file of each missing wheel.
fn download_missing<'a>(
    store: &Store,
    fetcher: &Fetcher,
    wheels: &BTreeMap<&'a str, &'a LockedWheel>,
    missing: &[&'a str],
    reporter: &Arc<dyn WheelReporter>,
) -> Result<BTreeMap<&'a str, PathBuf>, InstallError> {
    let mut files = BTreeMap::new();
    let mut jobs = Vec::new();
    let mut names = Vec::new();
    for &name in missing {
        let w = wheels[name];
        // A leftover download is checked again; a damaged one is removed.
        if let Some(blob) = store.verified_blob(&w.sha256, w.size)? {
            files.insert(name, blob);
            continue;
        }
        jobs.push(Download {
            url: w.url.clone(),
            expected: Expected {
                size: w.size,
                sha256: w.sha256.clone(),
            },
            dest: store.blob_staging_path(&w.sha256)?,
        });
        names.push(name);
    }
    let bytes = names.iter().filter_map(|n| wheels[n].size).sum();
    reporter.on_wheels_start(missing.len(), jobs.len(), bytes);
    let results: Mutex<BTreeMap<usize, Result<PathBuf, InstallError>>> =
        Mutex::new(BTreeMap::new());
    let fetch_reporter: Arc<dyn FetchReporter> = reporter.clone();
    fetcher.download_each(&jobs, &fetch_reporter, &|i, result| {
        let name = names[i];
        let outcome = result
            .map_err(|source| InstallError::Fetch {
                wheel: wheels[name].wheel.clone(),
                source: Box::new(source),
            })
            .and_then(|()| {
                // Kept the moment it is verified: an interrupted build keeps it.
                Ok(store.commit_blob(&jobs[i].dest, &wheels[name].sha256)?)
            });
        results
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(i, outcome);
    });
    for (i, result) in results
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
    {
        files.insert(names[i], result?);
    }
    Ok(files)
}

fn wheel_name(wheel: &LockedWheel) -> Result<WheelName, InstallError> {
    WheelName::parse(&wheel.wheel)
        .map_err(|e| PypiLockError::Inconsistent(format!("{}: {e}", wheel.name)).into())
}

/// The object's name, from the wheel's file name (as `stage_wheel` names it).
fn object_name(wheel: &LockedWheel) -> Result<String, InstallError> {
    let name = wheel_name(wheel)?;
    Ok(wheel_object_name(name.name(), name.version()))
}

/// What a wheel's object path is computed from: the installer's version, the wheel
/// (its SHA-256, lowercase hex, and file name), where it is installed, and the objects
/// it refers to.
pub(crate) fn input_hash(
    sha256: &str,
    filename: &str,
    scheme: &InstallScheme,
    references: &[StorePath],
) -> String {
    let mut h = Sha256::new();
    let fields = [
        WHEEL_OBJECT_VERSION,
        sha256,
        filename,
        scheme.purelib(),
        scheme.platlib(),
        scheme.scripts(),
        scheme.data(),
        scheme.interpreter(),
    ];
    let headers = WheelName::parse(filename)
        .map(|name| scheme.headers(name.name()))
        .unwrap_or_default();
    for field in fields.into_iter().chain([headers.as_str()]) {
        h.update(field.as_bytes());
        h.update(b"\0");
    }
    let sorted: BTreeSet<&str> = references.iter().map(StorePath::as_str).collect();
    for r in sorted {
        h.update(r.as_bytes());
        h.update(b"\0");
    }
    data_encoding::HEXLOWER.encode(&h.finalize())
}
