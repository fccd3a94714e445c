//! Pushing closures to a cache and substituting them into another store: signatures,
//! trust, tampering, and falling back to the next cache.

#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use cairn_cache::backend::FileBackend;
use cairn_cache::{
    Backend, CacheError, CacheReporter, NoCacheReporter, PushOptions, Rejected, SecretKey,
    Substituter, push,
};
use cairn_store::{
    AddOptions, Addressing, NoReporter, ObjectMetadata, Permissions, PermissionsManifest,
    PermissionsSource, Store, StorePath,
};

/// A directory cache that says it is remote, so signatures are required of it.
struct Remote(FileBackend);

impl Backend for Remote {
    fn url(&self) -> &str {
        self.0.url()
    }
    fn is_local(&self) -> bool {
        false
    }
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, CacheError> {
        self.0.get(key)
    }
    fn get_file(&self, key: &str, dest: &Path) -> Result<bool, CacheError> {
        self.0.get_file(key, dest)
    }
    fn exists(&self, key: &str) -> Result<bool, CacheError> {
        self.0.exists(key)
    }
    fn put(&self, key: &str, bytes: &[u8]) -> Result<(), CacheError> {
        self.0.put(key, bytes)
    }
    fn put_file(&self, key: &str, source: &Path) -> Result<(), CacheError> {
        self.0.put_file(key, source)
    }
}

#[derive(Default)]
struct Log(Mutex<Vec<String>>);

impl CacheReporter for Log {
    fn on_substitute_object(&self, path: &StorePath, url: &str, _: u64) {
        self.0
            .lock()
            .unwrap()
            .push(format!("got {} from {url}", path.name()));
    }
    fn on_substitute_rejected(&self, path: &StorePath, url: &str, why: &Rejected) {
        self.0
            .lock()
            .unwrap()
            .push(format!("rejected {} from {url}: {why}", path.name()));
    }
    fn on_cache_unusable(&self, url: &str, why: &CacheError) {
        self.0
            .lock()
            .unwrap()
            .push(format!("unusable {url}: {why}"));
    }
}

impl Log {
    fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

struct Ctx {
    dir: tempfile::TempDir,
    store: Store,
    /// lib (content-addressed, with metadata) ← app (input-addressed, setuid file).
    app: StorePath,
    lib: StorePath,
}

impl Ctx {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("store")).unwrap();
        let src = dir.path().join("src");
        fs_err::create_dir_all(src.join("lib/usr/lib")).unwrap();
        fs_err::write(src.join("lib/usr/lib/libx.so"), vec![7u8; 300_000]).unwrap();
        let mut metadata = ObjectMetadata::default();
        metadata.insert("deb.control", b"Package: libx\n".to_vec());
        let lib = store
            .add_path(
                &src.join("lib"),
                &AddOptions {
                    name: Some("libx".into()),
                    metadata,
                    ..Default::default()
                },
                &NoReporter,
            )
            .unwrap();
        fs_err::create_dir_all(src.join("app/usr/bin")).unwrap();
        fs_err::write(src.join("app/usr/bin/app"), b"#!/bin/sh\necho hi\n").unwrap();
        let mut permissions = PermissionsManifest::default();
        permissions.insert(
            b"usr/bin/app".to_vec(),
            Permissions {
                mode: 0o4755,
                uid: 0,
                gid: 0,
                xattrs: std::collections::BTreeMap::new(),
            },
        );
        let app_tree = src.join("app");
        let exec = fs_err::metadata(app_tree.join("usr/bin/app"))
            .unwrap()
            .permissions();
        let mut exec = exec;
        std::os::unix::fs::PermissionsExt::set_mode(&mut exec, 0o755);
        fs_err::set_permissions(app_tree.join("usr/bin/app"), exec).unwrap();
        let app = store
            .add_path(
                &app_tree,
                &AddOptions {
                    name: Some("app".into()),
                    references: vec![lib.clone()],
                    permissions: PermissionsSource::Explicit(permissions),
                    addressing: Some(Addressing::Input {
                        node_hash: "cd".repeat(32),
                    }),
                    ..Default::default()
                },
                &NoReporter,
            )
            .unwrap();
        Self {
            dir,
            store,
            app,
            lib,
        }
    }

    fn cache(&self, name: &str) -> (PathBuf, FileBackend) {
        let path = self.dir.path().join(name);
        let url = format!("file://{}", path.display());
        (path.clone(), FileBackend::new(&url, &path))
    }

    fn fresh_store(&self, name: &str) -> Store {
        Store::open(&self.dir.path().join(name)).unwrap()
    }
}

#[test]
fn a_pushed_closure_substitutes_into_an_empty_store_with_everything_it_had() {
    let ctx = Ctx::new();
    let key = SecretKey::generate("test-cache-1").unwrap();
    let (dir, cache) = ctx.cache("cache");
    let options = PushOptions {
        key: Some(&key),
        ..PushOptions::default()
    };
    let report = push(
        &ctx.store,
        &cache,
        std::slice::from_ref(&ctx.app),
        options,
        &NoCacheReporter,
    )
    .unwrap();
    assert_eq!(report.objects, vec![ctx.lib.clone(), ctx.app.clone()]);
    assert_eq!((report.skipped, report.uploaded), (0, 2));
    assert!(report.file_bytes < report.nar_bytes, "{report:?}");
    let info = fs_err::read_to_string(dir.join("nix-cache-info")).unwrap();
    assert!(info.contains("CairnCacheVersion: 1"), "{info}");
    let narinfo = fs_err::read_to_string(dir.join(format!("{}.narinfo", ctx.app.hash()))).unwrap();
    for field in [
        "StorePath: ",
        "NarHash: sha256:",
        "References: ",
        "Permissions: ",
        "Sig: test-cache-1:",
        "Compression: zstd",
    ] {
        assert!(narinfo.contains(field), "{field} in\n{narinfo}");
    }

    // Again: nothing to upload.
    let again = push(
        &ctx.store,
        &cache,
        std::slice::from_ref(&ctx.app),
        options,
        &NoCacheReporter,
    )
    .unwrap();
    assert_eq!((again.skipped, again.uploaded, again.file_bytes), (2, 0, 0));

    // The user's own directory is trusted without keys.
    let other = ctx.fresh_store("other");
    let substituter = Substituter::new(vec![Box::new(cache)], Vec::new());
    let log = Log::default();
    let got = substituter
        .substitute(&other, std::slice::from_ref(&ctx.app), &log)
        .unwrap();
    assert_eq!(
        got.substituted,
        vec![ctx.lib.clone(), ctx.app.clone()],
        "{:?}",
        log.lines()
    );
    assert!(got.unavailable.is_empty());
    assert_eq!(
        other.info(&ctx.app).unwrap(),
        ctx.store.info(&ctx.app).unwrap()
    );
    assert_eq!(
        other.info(&ctx.lib).unwrap(),
        ctx.store.info(&ctx.lib).unwrap()
    );
    assert!(other.verify(None, &NoReporter).unwrap().is_ok());
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &fs_err::metadata(other.object_dir(&ctx.app).join("usr/bin/app"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o555, "the store keeps files read-only");
    assert_eq!(
        other
            .info(&ctx.app)
            .unwrap()
            .permissions
            .get(b"usr/bin/app")
            .unwrap()
            .mode,
        0o4755
    );
}

#[test]
fn a_remote_cache_needs_a_trusted_signature() {
    let ctx = Ctx::new();
    let key = SecretKey::generate("good-1").unwrap();
    let stranger = SecretKey::generate("stranger-1").unwrap();
    for (signer, trusted, expect) in [
        (None, vec![key.public()], "signed by: nobody"),
        (Some(&stranger), vec![key.public()], "signed by: stranger-1"),
        (Some(&key), vec![stranger.public()], "signed by: good-1"),
        (Some(&key), vec![key.public()], ""),
    ] {
        let (_, cache) = ctx.cache(&format!("cache-{}", signer.map_or("none", |k| k.name())));
        let _ = fs_err::remove_dir_all(cache.root());
        let options = PushOptions {
            key: signer,
            ..PushOptions::default()
        };
        push(
            &ctx.store,
            &cache,
            std::slice::from_ref(&ctx.app),
            options,
            &NoCacheReporter,
        )
        .unwrap();
        let other = ctx.fresh_store(
            &format!("other-{}-{expect}", signer.map_or("none", |k| k.name()))
                .replace([' ', ':', ','], "_"),
        );
        let substituter = Substituter::new(vec![Box::new(Remote(cache))], trusted);
        let log = Log::default();
        let got = substituter
            .substitute(&other, std::slice::from_ref(&ctx.app), &log)
            .unwrap();
        if expect.is_empty() {
            assert_eq!(got.substituted.len(), 2, "{:?}", log.lines());
        } else {
            assert!(got.substituted.is_empty());
            assert_eq!(got.unavailable, vec![ctx.app.clone()]);
            assert!(other.all_objects().unwrap().is_empty());
            let lines = log.lines();
            assert!(
                lines
                    .iter()
                    .any(|l| l.contains("not signed by a trusted key") && l.contains(expect)),
                "{lines:?}"
            );
        }
    }
}

#[test]
fn a_tampered_object_is_rejected_and_the_next_cache_gives_it() {
    let ctx = Ctx::new();
    let key = SecretKey::generate("k-1").unwrap();
    let options = PushOptions {
        key: Some(&key),
        ..PushOptions::default()
    };
    let (bad_dir, bad) = ctx.cache("bad");
    let (_, good) = ctx.cache("good");
    push(
        &ctx.store,
        &bad,
        std::slice::from_ref(&ctx.app),
        options,
        &NoCacheReporter,
    )
    .unwrap();
    push(
        &ctx.store,
        &good,
        std::slice::from_ref(&ctx.app),
        options,
        &NoCacheReporter,
    )
    .unwrap();
    // The library's NAR is replaced by another valid zstd NAR, with its file hash and
    // size updated (unsigned fields), so only the signed NAR hash can catch it.
    let narinfo_path = bad_dir.join(format!("{}.narinfo", ctx.lib.hash()));
    let narinfo =
        cairn_cache::NarInfo::parse(&fs_err::read_to_string(&narinfo_path).unwrap()).unwrap();
    let app_narinfo = cairn_cache::NarInfo::parse(
        &fs_err::read_to_string(bad_dir.join(format!("{}.narinfo", ctx.app.hash()))).unwrap(),
    )
    .unwrap();
    let mut forged = narinfo.clone();
    forged.url = "nar/forged.nar.zst".to_owned();
    fs_err::copy(bad_dir.join(&app_narinfo.url), bad_dir.join(&forged.url)).unwrap();
    forged.file_hash = app_narinfo.file_hash;
    forged.file_size = app_narinfo.file_size;
    fs_err::write(&narinfo_path, forged.to_text()).unwrap();
    // The app's NAR file is cut short: its file hash catches it.
    let app_nar = bad_dir.join(&app_narinfo.url);
    let bytes = fs_err::read(&app_nar).unwrap();
    fs_err::write(&app_nar, &bytes[..bytes.len() / 2]).unwrap();

    let other = ctx.fresh_store("other");
    let substituter = Substituter::new(
        vec![Box::new(Remote(bad)), Box::new(Remote(good))],
        vec![key.public()],
    );
    let log = Log::default();
    let got = substituter
        .substitute(&other, std::slice::from_ref(&ctx.app), &log)
        .unwrap();
    let lines = log.lines();
    assert_eq!(
        got.substituted,
        vec![ctx.lib.clone(), ctx.app.clone()],
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("rejected libx") && l.contains("do not match its NAR hash")),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("rejected app") && l.contains("not the")),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("got libx") && l.contains("/good")),
        "{lines:?}"
    );
    assert!(other.verify(None, &NoReporter).unwrap().is_ok());

    // With only the bad cache, nothing is registered.
    let alone = ctx.fresh_store("alone");
    let (_, bad_again) = ctx.cache("bad");
    let substituter = Substituter::new(vec![Box::new(Remote(bad_again))], vec![key.public()]);
    let got = substituter
        .substitute(&alone, std::slice::from_ref(&ctx.app), &NoCacheReporter)
        .unwrap();
    assert!(got.substituted.is_empty());
    assert!(alone.all_objects().unwrap().is_empty());
}

#[test]
fn a_cache_that_is_not_cairns_is_skipped_with_a_reason() {
    let ctx = Ctx::new();
    let (dir, cache) = ctx.cache("nix");
    fs_err::create_dir_all(&dir).unwrap();
    fs_err::write(dir.join("nix-cache-info"), "StoreDir: /nix/store\n").unwrap();
    let err = push(
        &ctx.store,
        &cache,
        std::slice::from_ref(&ctx.lib),
        PushOptions::default(),
        &NoCacheReporter,
    )
    .unwrap_err();
    assert!(err.to_string().contains("is not a cairn cache"), "{err}");
    let substituter = Substituter::new(vec![Box::new(cache)], Vec::new());
    let log = Log::default();
    let other = ctx.fresh_store("other");
    let got = substituter
        .substitute(&other, std::slice::from_ref(&ctx.lib), &log)
        .unwrap();
    assert_eq!(got.unavailable, vec![ctx.lib.clone()]);
    assert!(
        log.lines().iter().any(|l| l.contains("Nix cache?")),
        "{:?}",
        log.lines()
    );
}

#[test]
fn a_mistyped_or_empty_cache_is_said_once_and_skipped() {
    let ctx = Ctx::new();
    let (_, typo) = ctx.cache("no-such-cache");
    let substituter = Substituter::new(vec![Box::new(typo)], Vec::new());
    let log = Log::default();
    let other = ctx.fresh_store("other");
    let got = substituter
        .substitute(&other, &[ctx.app.clone(), ctx.lib.clone()], &log)
        .unwrap();
    assert_eq!(got.unavailable.len(), 2);
    let lines = log.lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("has no `nix-cache-info`"), "{lines:?}");
}

#[test]
fn an_object_whose_reference_no_cache_has_is_left_out() {
    let ctx = Ctx::new();
    let (dir, cache) = ctx.cache("cache");
    push(
        &ctx.store,
        &cache,
        std::slice::from_ref(&ctx.app),
        PushOptions::default(),
        &NoCacheReporter,
    )
    .unwrap();
    fs_err::remove_file(dir.join(format!("{}.narinfo", ctx.lib.hash()))).unwrap();
    let other = ctx.fresh_store("other");
    let substituter = Substituter::new(vec![Box::new(cache)], Vec::new());
    let got = substituter
        .substitute(&other, std::slice::from_ref(&ctx.app), &NoCacheReporter)
        .unwrap();
    assert!(got.substituted.is_empty());
    let mut expected = vec![ctx.lib.clone(), ctx.app.clone()];
    expected.sort();
    assert_eq!(got.unavailable, expected);
    assert!(other.all_objects().unwrap().is_empty());
}

/// Keys are in Nix's format: a secret key `nix key generate-secret` wrote is read, and
/// the public key cairn derives from it is the one `nix key convert-secret-to-public`
/// prints; and `nix` reads the secret key cairn writes.
#[test]
fn keys_are_in_nixs_format() {
    let Some(nix) = cairn_test::oracle::require_tool("nix") else {
        return;
    };
    let run = |args: &[&str], stdin: Option<&str>| -> String {
        use std::io::Write as _;
        let mut child = nix
            .command()
            .args(["--extra-experimental-features", "nix-command", "key"])
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.unwrap_or("").as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "nix key {args:?}");
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let secret = run(&["generate-secret", "--key-name", "nix-made-1"], None);
    let key: SecretKey = secret.parse().unwrap();
    assert_eq!(key.to_nix_string(), secret);
    let public = run(&["convert-secret-to-public"], Some(&secret));
    assert_eq!(key.public().to_string(), public);
    let ours = SecretKey::generate("cairn-made-1").unwrap();
    let public = run(&["convert-secret-to-public"], Some(&ours.to_nix_string()));
    assert_eq!(ours.public().to_string(), public);
}
