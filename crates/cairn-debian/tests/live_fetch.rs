//! Live: one full fetch and unpack of `python3`'s closure from the real trixie mirror
//! into an empty store, then the same again (nothing is downloaded the second time), and
//! offline from the lock alone.

#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::SystemTime;

use cairn_debian::{
    DEFAULT_MIRROR, DEFAULT_SECURITY_MIRROR, DebianLock, InstallReporter, LockFile, RepoContext,
    Repository, Request, Trust, debian_sources, fetch_locked, resolve,
};
use cairn_fetch::{FetchOptions, FetchReporter, Fetcher, NoFetchReporter};
use cairn_store::{NoReporter, Store};

#[derive(Default)]
struct Count(AtomicUsize);

impl FetchReporter for Count {
    fn on_download_done(&self, _url: &str, _bytes: u64) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}
impl InstallReporter for Count {}

#[test]
fn python3_closure_from_the_real_mirror() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(&tmp.path().join("store")).unwrap();
    let fetcher = Fetcher::new(FetchOptions::default()).unwrap();
    let context = RepoContext {
        store: &store,
        fetcher: &fetcher,
        trust: Trust::Debian,
        now: SystemTime::now(),
        reporter: &NoFetchReporter,
    };
    let sources = debian_sources(
        DEFAULT_MIRROR,
        "trixie",
        &["main".to_owned()],
        Some(DEFAULT_SECURITY_MIRROR),
    );
    let repo = Repository::open(&context, &sources, "amd64").unwrap();
    let request = Request {
        packages: vec!["python3".into()],
        recommends: false,
    };
    let resolution = resolve(&repo, &request).unwrap();
    let lock = DebianLock::new(&repo, &request, &resolution);
    // The lock survives a round trip through its text.
    let text = LockFile {
        version: cairn_debian::LOCK_VERSION,
        debian: Some(lock.clone()),
    }
    .to_toml();
    assert_eq!(LockFile::parse(&text).unwrap().debian.unwrap(), lock);

    let count = Arc::new(Count::default());
    let reporter: Arc<dyn InstallReporter> = count.clone();
    let installed = fetch_locked(&store, &fetcher, &lock, &reporter).unwrap();
    assert_eq!(installed.len(), lock.packages.len());
    assert_eq!(count.0.load(Ordering::Relaxed), lock.packages.len());

    // The interpreter is there, executable, with the package's metadata kept.
    let minimal = installed
        .iter()
        .find(|(name, _)| name.starts_with("python3.") && name.ends_with("-minimal"))
        .map(|(_, path)| path.clone())
        .unwrap();
    let dir = store.object_dir(&minimal);
    let interpreter = fs_err::read_dir(dir.join("usr/bin"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("python3.")
        })
        .unwrap();
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &fs_err::metadata(&interpreter).unwrap().permissions(),
    );
    assert_eq!(mode & 0o111, 0o111, "{}", interpreter.display());
    let info = store.info(&minimal).unwrap();
    assert!(info.metadata.get("deb.control").is_some());
    assert!(info.metadata.get("deb.md5sums").is_some());

    // python3's closure in the store is the whole resolved set.
    let closure = store.closure(&[installed["python3"].clone()]).unwrap();
    assert_eq!(closure.len(), installed.len());
    assert!(store.verify(None, &NoReporter).unwrap().is_ok());

    // Again: nothing downloaded. Offline from the lock: the same objects.
    let again = fetch_locked(&store, &fetcher, &lock, &reporter).unwrap();
    assert_eq!(again, installed);
    assert_eq!(count.0.load(Ordering::Relaxed), lock.packages.len());
    let offline = Fetcher::new(FetchOptions {
        offline: true,
        ..FetchOptions::default()
    })
    .unwrap();
    assert_eq!(
        fetch_locked(&store, &offline, &lock, &reporter).unwrap(),
        installed
    );
}
