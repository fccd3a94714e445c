//! The store's behaviour, through its public API, on real files.

#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

use std::io::{BufRead, Write};
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use cairn_store::{
    AddOptions, Addressing, GcOptions, ImportOptions, NoReporter, ObjectMetadata, Permissions,
    PermissionsManifest, PermissionsSource, Store, StoreError, StorePath,
};
use cairn_test::{fixture_trees, write_file};

struct Ctx {
    tmp: tempfile::TempDir,
    store: Store,
}

impl Ctx {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(&tmp.path().join("store")).unwrap();
        Self { tmp, store }
    }

    fn dir(&self, name: &str) -> PathBuf {
        let p = self.tmp.path().join(name);
        fs_err::create_dir_all(&p).unwrap();
        p
    }

    /// A small source tree with the given file contents.
    fn tree(&self, name: &str, contents: &str) -> PathBuf {
        let root = self.tmp.path().join("src").join(name);
        fs_err::create_dir_all(&root).unwrap();
        write_file(&root.join("file"), contents.as_bytes(), 0o644);
        root
    }

    fn add(&self, source: &Path, name: &str, refs: &[&StorePath]) -> StorePath {
        let options = AddOptions {
            name: Some(name.into()),
            references: refs.iter().map(|r| (*r).clone()).collect(),
            ..AddOptions::default()
        };
        self.store.add_path(source, &options, &NoReporter).unwrap()
    }

    /// The export stream of the closure of `paths`.
    fn export(&self, paths: &[StorePath]) -> Vec<u8> {
        let mut stream = Vec::new();
        self.store.export(paths, &mut stream, &NoReporter).unwrap();
        stream
    }

    /// A new, empty store beside this one, and the result of importing `stream` into it.
    fn import_fresh(
        &self,
        dir: &str,
        stream: &[u8],
        options: ImportOptions,
    ) -> (Store, Result<cairn_store::ImportReport, StoreError>) {
        let other = Store::open(&self.tmp.path().join(dir)).unwrap();
        let result = other.import(&mut &stream[..], options, &NoReporter);
        (other, result)
    }

    fn tmp_entries(&self) -> usize {
        fs_err::read_dir(self.store.layout_dir().join("tmp"))
            .unwrap()
            .count()
    }
}

#[test]
fn layout_is_versioned_and_created() {
    let ctx = Ctx::new();
    for sub in ["db.sqlite", "objects", "blobs/sha256", "tmp", "roots"] {
        assert!(ctx.store.layout_dir().join(sub).exists(), "{sub}");
    }
    assert!(ctx.store.layout_dir().ends_with("v1"));
}

#[test]
fn adding_every_fixture_tree_round_trips_through_the_nar() {
    let ctx = Ctx::new();
    for tree in fixture_trees() {
        let src = ctx.tmp.path().join("fixtures").join(tree.name);
        fs_err::create_dir_all(src.parent().unwrap()).unwrap();
        (tree.build)(&src);
        let path = ctx
            .store
            .add_path(&src, &AddOptions::default(), &NoReporter)
            .unwrap();
        let info = ctx.store.info(&path).unwrap();
        let (hash, size) = cairn_nar::hash_path(&src).unwrap();
        assert_eq!(
            (info.nar_hash, info.nar_size),
            (hash, size),
            "{}",
            tree.name
        );
        assert_eq!(
            cairn_nar::hash_path(&ctx.store.object_dir(&path))
                .unwrap()
                .0,
            hash
        );
    }
    assert!(ctx.store.verify(None, &NoReporter).unwrap().is_ok());
    assert_eq!(ctx.tmp_entries(), 0, "staging is cleaned up");
}

#[test]
fn identity_is_content_addressed_and_location_independent() {
    let ctx = Ctx::new();
    let a = ctx.tree("a", "same");
    let b = ctx.tree("b", "same");
    let c = ctx.tree("c", "different");
    let pa = ctx.add(&a, "x", &[]);
    assert_eq!(
        pa,
        ctx.add(&b, "x", &[]),
        "same content and name, same object"
    );
    assert_ne!(pa, ctx.add(&c, "x", &[]));
    assert_ne!(
        pa,
        ctx.add(&a, "y", &[]),
        "the name is part of the identity"
    );
    let other = Store::open(&ctx.tmp.path().join("elsewhere/deeper/store")).unwrap();
    let po = other
        .add_path(
            &a,
            &AddOptions {
                name: Some("x".into()),
                ..Default::default()
            },
            &NoReporter,
        )
        .unwrap();
    assert_eq!(pa, po, "the hash does not depend on where the store lives");
}

#[test]
fn objects_are_read_only_on_disk() {
    let ctx = Ctx::new();
    let src = ctx.tmp.path().join("mixed");
    (fixture_trees()
        .iter()
        .find(|t| t.name == "mixed")
        .unwrap()
        .build)(&src);
    let path = ctx
        .store
        .add_path(&src, &AddOptions::default(), &NoReporter)
        .unwrap();
    for entry in walk(&ctx.store.object_dir(&path)) {
        let meta = fs_err::symlink_metadata(&entry).unwrap();
        if !meta.is_symlink() {
            assert_eq!(
                meta.permissions().mode() & 0o222,
                0,
                "{} is writable",
                entry.display()
            );
        }
    }
}

fn walk(root: &Path) -> Vec<PathBuf> {
    let mut out = vec![root.to_owned()];
    if fs_err::symlink_metadata(root).unwrap().is_dir() {
        for e in fs_err::read_dir(root).unwrap() {
            out.extend(walk(&e.unwrap().path()));
        }
    }
    out
}

#[test]
fn permissions_manifest_is_part_of_the_identity() {
    let ctx = Ctx::new();
    let src = ctx.tree("perm", "x");
    let plain = ctx.add(&src, "p", &[]);
    let mut manifest = PermissionsManifest::default();
    manifest.insert(
        b"file".to_vec(),
        Permissions {
            mode: 0o600,
            uid: 0,
            gid: 0,
            xattrs: std::collections::BTreeMap::default(),
        },
    );
    let explicit = AddOptions {
        name: Some("p".into()),
        permissions: PermissionsSource::Explicit(manifest.clone()),
        ..Default::default()
    };
    let with = ctx.store.add_path(&src, &explicit, &NoReporter).unwrap();
    assert_ne!(plain, with);
    assert_eq!(ctx.store.info(&with).unwrap().permissions, manifest);

    // A manifest that contradicts the NAR (executable bit) or names a missing path is refused.
    let refused = |path: &[u8], mode: u32| {
        let mut manifest = PermissionsManifest::default();
        manifest.insert(
            path.to_vec(),
            Permissions {
                mode,
                ..Default::default()
            },
        );
        let options = AddOptions {
            permissions: PermissionsSource::Explicit(manifest),
            ..Default::default()
        };
        format!(
            "{:?}",
            ctx.store.add_path(&src, &options, &NoReporter).unwrap_err()
        )
    };
    let err = refused(b"file", 0o755);
    assert!(err.contains("executable bit"), "{err}");
    let err = refused(b"nope", 0o644);
    assert!(err.contains("not in the object"), "{err}");
    assert_eq!(ctx.tmp_entries(), 0);
}

#[test]
fn captured_permissions_record_special_bits_owners_and_xattrs() {
    let ctx = Ctx::new();
    let src = ctx.dir("special");
    write_file(&src.join("setuid"), b"#!/bin/sh\n", 0o4755);
    write_file(&src.join("private"), b"secret", 0o600);
    let sticky = src.join("tmp");
    fs_err::create_dir(&sticky).unwrap();
    fs_err::set_permissions(&sticky, std::fs::Permissions::from_mode(0o1777)).unwrap();
    fs_err::set_permissions(&src, std::fs::Permissions::from_mode(0o755)).unwrap();
    let xattr_ok = rustix::fs::lsetxattr(
        src.join("private"),
        "user.cairn-test",
        b"v",
        rustix::fs::XattrFlags::empty(),
    )
    .is_ok();
    let options = AddOptions {
        permissions: PermissionsSource::Capture,
        ..Default::default()
    };
    let path = ctx.store.add_path(&src, &options, &NoReporter).unwrap();
    let info = ctx.store.info(&path).unwrap();
    let uid = rustix::process::getuid().as_raw();
    assert_eq!(info.permissions.get(b"setuid").unwrap().mode, 0o4755);
    assert_eq!(info.permissions.get(b"tmp").unwrap().mode, 0o1777);
    let private = info.permissions.get(b"private").unwrap();
    assert_eq!((private.mode, private.uid), (0o600, uid));
    if xattr_ok {
        assert_eq!(
            private
                .xattrs
                .get(b"user.cairn-test".as_slice())
                .map(Vec::as_slice),
            Some(b"v".as_slice())
        );
    }
    // The store's copy is still read-only and not setuid.
    let mode = fs_err::metadata(ctx.store.object_dir(&path).join("setuid"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o7777, 0o555);
    let normalized = ctx
        .store
        .add_path(&src, &AddOptions::default(), &NoReporter)
        .unwrap();
    assert_ne!(path, normalized);
}

#[test]
fn references_must_be_valid_and_closures_are_topological() {
    let ctx = Ctx::new();
    // A diamond: app -> (libx, liby) -> libc.
    let libc = ctx.add(&ctx.tree("libc", "c"), "libc", &[]);
    let libx = ctx.add(&ctx.tree("libx", "x"), "libx", &[&libc]);
    let liby = ctx.add(&ctx.tree("liby", "y"), "liby", &[&libc]);
    let app = ctx.add(&ctx.tree("app", "app"), "app", &[&liby, &libx]);
    let closure = ctx.store.closure(std::slice::from_ref(&app)).unwrap();
    assert_eq!(closure.len(), 4);
    let pos = |p: &StorePath| closure.iter().position(|c| c == p).unwrap();
    assert!(pos(&libc) < pos(&libx) && pos(&libc) < pos(&liby));
    assert!(pos(&libx) < pos(&app) && pos(&liby) < pos(&app));
    assert_eq!(
        closure,
        ctx.store.closure(&[app.clone(), libx.clone()]).unwrap(),
        "deterministic"
    );
    assert_eq!(ctx.store.referrers(&libc).unwrap(), {
        let mut v = vec![libx.clone(), liby.clone()];
        v.sort();
        v
    });
    assert_eq!(ctx.store.info(&app).unwrap().references.len(), 2);

    // An unknown reference is refused and nothing is registered.
    let ghost: StorePath = "0mdqa9w1p6cmli6976v4wi0sw9r4p5pr-ghost".parse().unwrap();
    let before = ctx.store.all_objects().unwrap();
    let err = ctx
        .store
        .add_path(
            &ctx.tree("orphan", "o"),
            &AddOptions {
                references: vec![ghost],
                ..Default::default()
            },
            &NoReporter,
        )
        .unwrap_err();
    assert!(err.to_string().contains("Failed to add"), "{err}");
    assert!(format!("{err:?}").contains("InvalidReference"), "{err:?}");
    assert_eq!(ctx.store.all_objects().unwrap(), before);
}

#[test]
fn special_files_are_refused_with_nothing_left_behind() {
    let ctx = Ctx::new();
    let src = ctx.dir("with-fifo");
    write_file(&src.join("a"), b"a", 0o644);
    assert!(
        Command::new("mkfifo")
            .arg(src.join("pipe"))
            .status()
            .unwrap()
            .success()
    );
    let err = ctx
        .store
        .add_path(&src, &AddOptions::default(), &NoReporter)
        .unwrap_err();
    let chain = format!("{err} / {:?}", std::error::Error::source(&err));
    assert!(chain.contains("pipe") && chain.contains("FIFO"), "{chain}");
    assert!(err.hint().unwrap().contains("special file"));
    assert!(ctx.store.all_objects().unwrap().is_empty());
    assert_eq!(ctx.tmp_entries(), 0);

    let sock_dir = ctx.dir("with-socket");
    let _l = std::os::unix::net::UnixListener::bind(sock_dir.join("sock")).unwrap();
    let err = ctx
        .store
        .add_path(&sock_dir, &AddOptions::default(), &NoReporter)
        .unwrap_err();
    assert!(format!("{err:?}").contains("a socket"), "{err:?}");
}

#[test]
fn unreadable_files_are_a_clear_error() {
    if rustix::process::geteuid().is_root() {
        // Root reads anything; the CLI test covers this by running cairn as `nobody`.
        return;
    }
    let ctx = Ctx::new();
    let src = ctx.tree("locked", "secret");
    fs_err::set_permissions(src.join("file"), std::fs::Permissions::from_mode(0o000)).unwrap();
    let err = ctx
        .store
        .add_path(&src, &AddOptions::default(), &NoReporter)
        .unwrap_err();
    assert!(format!("{err:?}").contains("PermissionDenied"), "{err:?}");
    assert!(err.hint().unwrap().contains("readable"));
    assert!(ctx.store.all_objects().unwrap().is_empty());
}

#[test]
fn crash_debris_is_cleaned_and_live_staging_is_kept() {
    let ctx = Ctx::new();
    let tmp = ctx.store.layout_dir().join("tmp");
    // Debris: an unlocked staging directory with a read-only tree inside.
    let dead = tmp.join("stage-dead");
    fs_err::create_dir_all(dead.join("tree/sub")).unwrap();
    write_file(&dead.join("tree/sub/f"), b"x", 0o444);
    fs_err::set_permissions(
        dead.join("tree/sub"),
        std::fs::Permissions::from_mode(0o555),
    )
    .unwrap();
    // In use: a staging directory whose lock is held (as a running add holds it).
    let live = tmp.join("stage-live");
    fs_err::create_dir(&live).unwrap();
    let lock = fs_err::File::open(&live).unwrap();
    lock.file().lock().unwrap();
    let reopened = Store::open(ctx.store.layout_dir().parent().unwrap()).unwrap();
    assert!(!dead.exists(), "debris removed on open");
    assert!(live.exists(), "a staging directory in use is left alone");
    drop(reopened);
    drop(lock);

    // An unregistered object directory (killed between rename and commit) is replaced.
    let src = ctx.tree("again", "content");
    let path = ctx.add(&src, "again", &[]);
    let dir = ctx.store.object_dir(&path);
    let conn = rusqlite::Connection::open(ctx.store.layout_dir().join("db.sqlite")).unwrap();
    conn.execute("DELETE FROM objects WHERE path = ?1", [path.to_string()])
        .unwrap();
    assert!(dir.exists() && !ctx.store.is_valid(&path).unwrap());
    assert_eq!(ctx.add(&src, "again", &[]), path);
    assert!(ctx.store.verify(None, &NoReporter).unwrap().is_ok());
}

#[test]
fn schema_version_mismatch_is_refused() {
    let ctx = Ctx::new();
    let db = ctx.store.layout_dir().join("db.sqlite");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute(
        "UPDATE meta SET value = '99' WHERE key = 'schema_version'",
        [],
    )
    .unwrap();
    let err = Store::open(ctx.store.layout_dir().parent().unwrap()).unwrap_err();
    assert!(format!("{err:?}").contains("SchemaVersion"), "{err:?}");
    assert!(err.hint().unwrap().contains("--store"));
}

#[test]
fn verify_reports_each_corruption_precisely() {
    let ctx = Ctx::new();
    let src = ctx.dir("victim");
    write_file(&src.join("keep"), b"keep", 0o644);
    write_file(&src.join("change"), b"before", 0o644);
    write_file(&src.join("remove"), b"gone soon", 0o644);
    let path = ctx.add(&src, "victim", &[]);
    let healthy = ctx.add(&ctx.tree("healthy", "fine"), "healthy", &[]);
    assert!(ctx.store.verify(None, &NoReporter).unwrap().is_ok());

    let dir = ctx.store.object_dir(&path);
    fs_err::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    fs_err::set_permissions(dir.join("change"), std::fs::Permissions::from_mode(0o644)).unwrap();
    fs_err::write(dir.join("change"), b"after!").unwrap();
    fs_err::remove_file(dir.join("remove")).unwrap();
    fs_err::write(dir.join("intruder"), b"x").unwrap();
    fs_err::set_permissions(dir.join("intruder"), std::fs::Permissions::from_mode(0o444)).unwrap();

    let report = ctx.store.verify(None, &NoReporter).unwrap();
    let problems: Vec<String> = report.problems.iter().map(|p| p.what.clone()).collect();
    assert!(
        report.problems.iter().all(|p| p.object == path),
        "{problems:?}"
    );
    for expected in [
        "the contents of `change` changed",
        "`remove` is missing",
        "`intruder` is not part of the object",
        "`(root)` is writable",
        "`change` is writable",
    ] {
        assert!(
            problems.iter().any(|p| p.contains(expected)),
            "missing {expected:?} in {problems:?}"
        );
    }
    assert_eq!(report.checked, 2);
    // Verifying only the healthy object's closure passes.
    assert!(
        ctx.store
            .verify(Some(&[healthy]), &NoReporter)
            .unwrap()
            .is_ok()
    );

    // Tampering with the database record is caught by the identity check.
    let other = ctx.add(&ctx.tree("dbvictim", "v"), "dbvictim", &[]);
    let mut manifest = PermissionsManifest::default();
    manifest.insert(
        b"file".to_vec(),
        Permissions {
            mode: 0o4644,
            ..Default::default()
        },
    );
    let conn = rusqlite::Connection::open(ctx.store.layout_dir().join("db.sqlite")).unwrap();
    conn.execute(
        "UPDATE objects SET permissions = ?1 WHERE path = ?2",
        rusqlite::params![manifest.to_bytes(), other.to_string()],
    )
    .unwrap();
    let report = ctx
        .store
        .verify(Some(std::slice::from_ref(&other)), &NoReporter)
        .unwrap();
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.what.contains("no longer give its hash")),
        "{:?}",
        report.problems
    );
}

#[test]
fn gc_keeps_everything_a_root_reaches() {
    let ctx = Ctx::new();
    let dep = ctx.add(&ctx.tree("dep", "dep"), "dep", &[]);
    let named = ctx.add(&ctx.tree("named", "named"), "named", &[&dep]);
    let linked = ctx.add(&ctx.tree("linked", "linked"), "linked", &[]);
    let garbage = ctx.add(&ctx.tree("garbage", "garbage"), "garbage", &[]);
    let garbage_dep = ctx.add(&ctx.tree("gdep", "gdep"), "gdep", &[]);
    let garbage_top = ctx.add(&ctx.tree("gtop", "gtop"), "gtop", &[&garbage_dep]);
    ctx.store.add_root("my-root", &named).unwrap();
    let link = ctx.tmp.path().join("result");
    ctx.store.add_indirect_root(&link, &linked).unwrap();
    assert_eq!(
        fs_err::read_link(&link).unwrap(),
        ctx.store.object_dir(&linked)
    );

    // Logs (of build steps): a collected object's goes with it, the others stay.
    let logs = [&garbage, &named];
    for p in logs {
        let log = ctx.store.log_path(p);
        fs_err::create_dir_all(log.parent().unwrap()).unwrap();
        fs_err::write(&log, "log\n").unwrap();
    }
    let failed_log = ctx
        .store
        .log_path(&garbage)
        .with_file_name("failed-step.log");
    fs_err::write(&failed_log, "log\n").unwrap();

    // This handle's own temp roots protect what it added; use a fresh handle for GC.
    let gc_store = Store::open(ctx.store.layout_dir().parent().unwrap()).unwrap();
    drop(ctx.store);
    let dry = gc_store
        .gc(GcOptions { dry_run: true }, &NoReporter)
        .unwrap();
    let mut expected = vec![garbage.clone(), garbage_dep.clone(), garbage_top.clone()];
    expected.sort();
    assert_eq!(
        dry.deleted
            .iter()
            .map(|(p, _)| p.clone())
            .collect::<Vec<_>>(),
        expected
    );
    assert!(
        gc_store.is_valid(&garbage).unwrap(),
        "a dry run deletes nothing"
    );

    let report = gc_store.gc(GcOptions::default(), &NoReporter).unwrap();
    assert_eq!(report.deleted.len(), 3);
    for p in [&dep, &named, &linked] {
        assert!(gc_store.is_valid(p).unwrap());
        assert!(gc_store.object_dir(p).exists());
    }
    for p in &expected {
        assert!(!gc_store.is_valid(p).unwrap());
        assert!(!gc_store.object_dir(p).exists());
    }
    assert!(gc_store.verify(None, &NoReporter).unwrap().is_ok());
    assert!(!gc_store.log_path(&garbage).exists());
    assert!(gc_store.log_path(&named).exists());
    assert!(failed_log.exists());

    // Releasing the roots releases the objects.
    fs_err::remove_file(&link).unwrap();
    gc_store.remove_root("my-root").unwrap();
    let report = gc_store.gc(GcOptions::default(), &NoReporter).unwrap();
    assert_eq!(report.deleted.len(), 3);
    assert!(gc_store.all_objects().unwrap().is_empty());
    assert!(matches!(
        gc_store.remove_root("my-root"),
        Err(StoreError::NoSuchRoot(_))
    ));
}

#[test]
fn indirect_roots_never_replace_a_real_file() {
    let ctx = Ctx::new();
    let p = ctx.add(&ctx.tree("r", "r"), "r", &[]);
    let occupied = ctx.tmp.path().join("occupied");
    fs_err::write(&occupied, b"mine").unwrap();
    assert!(matches!(
        ctx.store.add_indirect_root(&occupied, &p),
        Err(StoreError::RootLinkOccupied { .. })
    ));
    assert_eq!(fs_err::read(&occupied).unwrap(), b"mine");
    let elsewhere = ctx.tmp.path().join("elsewhere-link");
    symlink("/etc", &elsewhere).unwrap();
    assert!(ctx.store.add_indirect_root(&elsewhere, &p).is_err());
}

/// Child mode for the test below: opens the store, protects one object with a temp
/// root, says so, and waits until its stdin closes.
#[test]
fn holder_child() {
    let (Some(store_dir), Some(object)) = (
        std::env::var_os("CAIRN_TEST_HOLD_STORE"),
        std::env::var_os("CAIRN_TEST_HOLD_OBJECT"),
    ) else {
        return;
    };
    let store = Store::open(Path::new(&store_dir)).unwrap();
    let path: StorePath = object.to_str().unwrap().parse().unwrap();
    assert_eq!(
        store.add_temp_roots(std::slice::from_ref(&path)).unwrap(),
        vec![path]
    );
    println!("holding");
    std::io::stdout().flush().unwrap();
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
}

#[test]
fn gc_never_deletes_what_a_running_process_uses() {
    let ctx = Ctx::new();
    let used = ctx.add(&ctx.tree("used", "used"), "used", &[]);
    let unused = ctx.add(&ctx.tree("unused", "unused"), "unused", &[]);
    let store_dir = ctx.store.layout_dir().parent().unwrap().to_owned();
    drop(ctx.store);
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "holder_child", "--nocapture", "--test-threads=1"])
        .env("CAIRN_TEST_HOLD_STORE", &store_dir)
        .env("CAIRN_TEST_HOLD_OBJECT", used.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("holding") {
        line.clear();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "child exited before holding"
        );
    }
    let store = Store::open(&store_dir).unwrap();
    let report = store.gc(GcOptions::default(), &NoReporter).unwrap();
    assert_eq!(
        report
            .deleted
            .iter()
            .map(|(p, _)| p.clone())
            .collect::<Vec<_>>(),
        vec![unused]
    );
    assert!(store.is_valid(&used).unwrap(), "in use by a live process");
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());
    // The holder is gone: now the object is garbage.
    let report = store.gc(GcOptions::default(), &NoReporter).unwrap();
    assert_eq!(report.deleted.len(), 1);
    assert!(!store.is_valid(&used).unwrap());
}

#[test]
fn export_import_round_trips_a_closure() {
    let ctx = Ctx::new();
    let dep = ctx.add(&ctx.tree("dep", "dep"), "dep", &[]);
    let mut manifest = PermissionsManifest::default();
    manifest.insert(
        b"file".to_vec(),
        Permissions {
            mode: 0o4644,
            uid: 0,
            gid: 42,
            xattrs: std::collections::BTreeMap::default(),
        },
    );
    let src = ctx.tree("top", "top");
    let mut metadata = ObjectMetadata::default();
    metadata.insert("deb.control", "Package: top\nVersion: 1\n");
    metadata.insert("deb.script.postinst", b"#!/bin/sh\n".to_vec());
    let options = AddOptions {
        name: Some("top".into()),
        references: vec![dep.clone()],
        permissions: PermissionsSource::Explicit(manifest.clone()),
        metadata: metadata.clone(),
        addressing: None,
    };
    let top = ctx.store.add_path(&src, &options, &NoReporter).unwrap();
    let exported = ctx.store.closure(std::slice::from_ref(&top)).unwrap();
    let stream = ctx.export(std::slice::from_ref(&top));
    assert_eq!(exported, vec![dep.clone(), top.clone()]);

    let other = Store::open(&ctx.tmp.path().join("other")).unwrap();
    let report = other
        .import(
            &mut stream.as_slice(),
            ImportOptions::default(),
            &NoReporter,
        )
        .unwrap();
    assert_eq!(
        (report.objects.clone(), report.added),
        (vec![dep.clone(), top.clone()], 2)
    );
    assert_eq!(other.info(&top).unwrap().permissions, manifest);
    assert_eq!(other.info(&top).unwrap().references, vec![dep.clone()]);
    assert_eq!(other.info(&top).unwrap().metadata, metadata);
    assert!(other.verify(None, &NoReporter).unwrap().is_ok());
    // Importing again adds nothing new.
    assert_eq!(
        other
            .import(
                &mut stream.as_slice(),
                ImportOptions::default(),
                &NoReporter
            )
            .unwrap()
            .added,
        0
    );
}

#[test]
fn tampered_or_truncated_imports_register_nothing() {
    let ctx = Ctx::new();
    let dep = ctx.add(&ctx.tree("dep", "dependency contents"), "dep", &[]);
    let top = ctx.add(&ctx.tree("top", "top contents"), "top", &[&dep]);
    let stream = ctx.export(&[top]);

    let other = Store::open(&ctx.tmp.path().join("other")).unwrap();
    for cut in (0..stream.len()).step_by(7).chain([stream.len() - 1]) {
        let err = other
            .import(&mut &stream[..cut], ImportOptions::default(), &NoReporter)
            .unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::ImportTruncated { .. } | StoreError::ImportRefused(_)
            ),
            "cut at {cut}: {err:?}"
        );
        assert!(
            other.all_objects().unwrap().is_empty(),
            "cut at {cut} registered something"
        );
    }
    for at in 0..stream.len() {
        let mut bad = stream.clone();
        bad[at] ^= 0x20;
        assert!(
            other
                .import(&mut bad.as_slice(), ImportOptions::default(), &NoReporter)
                .is_err(),
            "flip at {at} was accepted"
        );
        assert!(
            other.all_objects().unwrap().is_empty(),
            "flip at {at} registered something"
        );
    }
    let mut longer = stream.clone();
    longer.push(0);
    assert!(
        other
            .import(
                &mut longer.as_slice(),
                ImportOptions::default(),
                &NoReporter
            )
            .is_err()
    );
    assert_eq!(
        fs_err::read_dir(other.layout_dir().join("tmp"))
            .unwrap()
            .count(),
        0
    );
    assert_eq!(fs_err::read_dir(other.objects_dir()).unwrap().count(), 0);
}

#[test]
fn concurrent_handles_add_the_same_and_different_objects() {
    let ctx = Ctx::new();
    let store_dir = ctx.store.layout_dir().parent().unwrap().to_owned();
    let shared = ctx.tree("shared", &"s".repeat(100_000));
    let uniques: Vec<PathBuf> = (0..8)
        .map(|i| ctx.tree(&format!("u{i}"), &format!("unique {i}")))
        .collect();
    let results: Vec<(StorePath, StorePath)> = std::thread::scope(|s| {
        let handles: Vec<_> = uniques
            .iter()
            .map(|unique| {
                let store_dir = store_dir.clone();
                let shared = shared.clone();
                s.spawn(move || {
                    let store = Store::open(&store_dir).unwrap();
                    let a = store
                        .add_path(&shared, &AddOptions::default(), &NoReporter)
                        .unwrap();
                    let b = store
                        .add_path(unique, &AddOptions::default(), &NoReporter)
                        .unwrap();
                    (a, b)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(results.iter().all(|(a, _)| *a == results[0].0));
    assert_eq!(ctx.store.all_objects().unwrap().len(), 9);
    assert!(ctx.store.verify(None, &NoReporter).unwrap().is_ok());
}

#[test]
fn resolve_accepts_paths_basenames_prefixes_names_and_links() {
    let ctx = Ctx::new();
    let p = ctx.add(&ctx.tree("hello", "hi"), "hello", &[]);
    let full = ctx.store.object_dir(&p);
    assert_eq!(ctx.store.resolve(full.to_str().unwrap()).unwrap(), p);
    assert_eq!(
        ctx.store
            .resolve(&format!("{}/file", full.display()))
            .unwrap(),
        p
    );
    assert_eq!(ctx.store.resolve(&p.to_string()).unwrap(), p);
    assert_eq!(ctx.store.resolve(&p.hash().to_string()[..6]).unwrap(), p);
    assert_eq!(ctx.store.resolve("hello").unwrap(), p);
    let link = ctx.tmp.path().join("result");
    ctx.store.add_indirect_root(&link, &p).unwrap();
    assert_eq!(ctx.store.resolve(link.to_str().unwrap()).unwrap(), p);
    assert!(matches!(
        ctx.store.resolve("nothing-like-it"),
        Err(StoreError::NotFound(_))
    ));
    assert!(ctx.store.resolve("/etc/hostname").is_err());
}

#[test]
fn input_addressed_imports_need_explicit_trust() {
    let ctx = Ctx::new();
    let node_hash = "ab".repeat(32);
    let options = AddOptions {
        name: Some("built".into()),
        addressing: Some(Addressing::Input {
            node_hash: node_hash.clone(),
        }),
        ..Default::default()
    };
    let built = ctx
        .store
        .add_path(&ctx.tree("built", "output"), &options, &NoReporter)
        .unwrap();
    let stream = ctx.export(std::slice::from_ref(&built));
    let (other, result) = ctx.import_fresh("other", &stream, ImportOptions::default());
    let err = result.unwrap_err();
    assert!(err.to_string().contains("input-addressed"), "{err}");
    assert!(other.all_objects().unwrap().is_empty());
    let trusted = ImportOptions {
        trust_input_addressed: true,
    };
    assert_eq!(
        other
            .import(&mut stream.as_slice(), trusted, &NoReporter)
            .unwrap()
            .objects,
        vec![built.clone()]
    );
    assert!(other.verify(None, &NoReporter).unwrap().is_ok());
}

#[test]
fn opening_the_store_never_removes_a_live_staging_directory() {
    // Every open cleans staging debris; it must never take a directory that an add has
    // just created and not yet locked.
    let ctx = Ctx::new();
    let store_dir = ctx.store.layout_dir().parent().unwrap().to_owned();
    let stop = std::sync::atomic::AtomicBool::new(false);
    let sources: Vec<PathBuf> = (0..400)
        .map(|i| ctx.tree(&format!("s{i}"), &format!("{i}")))
        .collect();
    std::thread::scope(|s| {
        s.spawn(|| {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                drop(Store::open(&store_dir).unwrap());
            }
        });
        for src in &sources {
            ctx.store
                .add_path(src, &AddOptions::default(), &NoReporter)
                .unwrap();
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    assert_eq!(ctx.store.all_objects().unwrap().len(), 400);
}

#[test]
fn fixed_output_objects_are_found_by_their_expected_hash() {
    use sha2::Digest;
    let ctx = Ctx::new();
    let file = ctx.tmp.path().join("pkg.deb");
    fs_err::write(&file, b"a debian package, say").unwrap();
    let sha256 = data_encoding::HEXLOWER.encode(&sha2::Sha256::digest(b"a debian package, say"));
    // The path is known before the file is in the store.
    let expected = Store::fixed_path("pkg.deb", &sha256).unwrap();
    assert!(!ctx.store.is_valid(&expected).unwrap());
    let fixed = |sha256: &str| AddOptions {
        name: Some("pkg.deb".into()),
        addressing: Some(Addressing::Fixed {
            sha256: sha256.to_owned(),
        }),
        ..Default::default()
    };
    let path = ctx
        .store
        .add_path(&file, &fixed(&sha256), &NoReporter)
        .unwrap();
    assert_eq!(path, expected);
    assert!(ctx.store.verify(None, &NoReporter).unwrap().is_ok());

    // A file that does not match its expected hash, or a directory, is refused.
    let wrong = "0".repeat(64);
    let err = ctx
        .store
        .add_path(&file, &fixed(&wrong), &NoReporter)
        .unwrap_err();
    assert!(format!("{err:?}").contains("not the expected"), "{err:?}");
    let err = ctx
        .store
        .add_path(&ctx.tree("dir", "x"), &fixed(&sha256), &NoReporter)
        .unwrap_err();
    assert!(
        format!("{err:?}").contains("single regular file"),
        "{err:?}"
    );
    assert_eq!(ctx.store.all_objects().unwrap(), vec![path.clone()]);
    assert!(Store::fixed_path("pkg.deb", "not-hex").is_err());

    // Anyone can check a fixed-output object: import needs no trust.
    let stream = ctx.export(std::slice::from_ref(&path));
    let report = ctx
        .import_fresh("other", &stream, ImportOptions::default())
        .1
        .unwrap();
    assert_eq!(report.objects, vec![path.clone()]);
    // ...and a stream whose file was swapped is refused.
    let at = stream.windows(6).position(|w| w == b"a debi").unwrap();
    let mut swapped = stream.clone();
    swapped[at] = b'A';
    let third = Store::open(&ctx.tmp.path().join("third")).unwrap();
    assert!(
        third
            .import(
                &mut swapped.as_slice(),
                ImportOptions::default(),
                &NoReporter
            )
            .is_err()
    );
    assert!(third.all_objects().unwrap().is_empty());
}

#[test]
fn a_batch_registers_what_was_written_in_place_at_commit() {
    let ctx = Ctx::new();
    let src = ctx.tree("same", "layer bytes");
    let expected = ctx.store.add_path(
        &src.join("file"),
        &AddOptions {
            name: Some("blob".into()),
            ..AddOptions::default()
        },
        &NoReporter,
    );
    let expected = expected.unwrap();
    let fresh_store = Store::open(&ctx.tmp.path().join("fresh")).unwrap();
    let named = |name: &str| AddOptions {
        name: Some(name.into()),
        ..AddOptions::default()
    };

    let batch = fresh_store.batch().unwrap();
    let mut staged = Vec::new();
    for (name, contents) in [
        ("blob", "layer bytes"),
        ("other", "more"),
        ("blob", "layer bytes"),
    ] {
        let tree = batch.tree_path().unwrap();
        fs_err::write(tree.path(), contents).unwrap();
        staged.push(batch.stage(tree, &named(name)).unwrap());
    }
    // The same identity as an add of the same file, and nothing registered yet.
    assert_eq!(staged[0], expected);
    assert_eq!(staged[0], staged[2]);
    assert!(!fresh_store.is_valid(&staged[0]).unwrap());
    // Only trees `tree_path` made can be staged (a type, so a path cannot wander out
    // of staging); a tree of another batch, or one without a name, is refused.
    let other = fresh_store.batch().unwrap();
    let foreign = other.tree_path().unwrap();
    fs_err::write(foreign.path(), "x").unwrap();
    assert!(batch.stage(foreign, &named("x")).is_err());
    drop(other);
    let tree = batch.tree_path().unwrap();
    fs_err::write(tree.path(), "x").unwrap();
    assert!(batch.stage(tree, &AddOptions::default()).is_err());

    assert_eq!(
        batch.commit().unwrap(),
        2,
        "two objects, one of them staged twice"
    );
    for path in &staged {
        assert!(fresh_store.is_valid(path).unwrap());
    }
    assert_eq!(
        fs_err::read_to_string(fresh_store.object_dir(&staged[1])).unwrap(),
        "more"
    );
    assert!(fresh_store.verify(None, &NoReporter).unwrap().is_ok());
    let staging = fs_err::read_dir(ctx.tmp.path().join("fresh/v1/tmp"))
        .unwrap()
        .count();
    assert_eq!(staging, 0, "staging is cleaned up");

    // A batch dropped without a commit registers nothing and leaves nothing behind.
    let batch = fresh_store.batch().unwrap();
    let tree = batch.tree_path().unwrap();
    fs_err::write(tree.path(), "dropped").unwrap();
    let dropped = batch.stage(tree, &named("dropped")).unwrap();
    drop(batch);
    assert!(!fresh_store.is_valid(&dropped).unwrap());
    let staging = fs_err::read_dir(ctx.tmp.path().join("fresh/v1/tmp"))
        .unwrap()
        .count();
    assert_eq!(staging, 0);
}
