//! `cairn debian …` end to end: the real binary against a signed fixture repository
//! served on loopback by `cairn-test`.

#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

use std::path::PathBuf;
use std::process::{Command, Output};

use cairn_test::{FixturePackage, FixtureRepo, TestServer, require_tool};

const SUITE: &str = "testing";

/// A fixture repository on a test server, its key in a file, and a store directory.
struct Ctx {
    repo: FixtureRepo,
    /// `None` once a test has stopped it.
    server: Option<TestServer>,
    url: String,
    keyring: PathBuf,
    store: PathBuf,
    tmp: tempfile::TempDir,
}

/// `None` when dpkg-deb is missing outside CI.
fn setup() -> Option<Ctx> {
    require_tool("dpkg-deb")?;
    let tmp = tempfile::tempdir().unwrap();
    let packages = [
        FixturePackage::new("libfix", "1.0-1").file("usr/lib/libfix.so.1", b"\x7fELF", 0o644),
        FixturePackage::new("app", "2.0-1")
            .field("Depends", "libfix (>= 1.0)")
            .file("usr/bin/app", b"#!/bin/sh\necho app\n", 0o755),
        FixturePackage::new("tool", "3.0-1").file("usr/bin/tool", b"#!/bin/sh\n", 0o755),
    ];
    let repo = FixtureRepo::build(&tmp.path().join("repo"), SUITE, &packages, 42);
    let keyring = tmp.path().join("fixture.asc");
    fs_err::write(&keyring, &repo.public_key).unwrap();
    let server = TestServer::serve_dir(&repo.root);
    Some(Ctx {
        repo,
        url: server.url(),
        server: Some(server),
        keyring,
        store: tmp.path().join("store"),
        tmp,
    })
}

impl Ctx {
    /// `cairn --store <store> debian <command> <repository flags> <args>`.
    fn debian(&self, command: &str, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_cairn"))
            .arg("--store")
            .arg(&self.store)
            .args(["debian", command, "--mirror", &self.url, "--suite", SUITE])
            .arg("--no-security")
            .arg("--keyring")
            .arg(&self.keyring)
            .args(args)
            .env_remove("CAIRN_STORE")
            .output()
            .unwrap()
    }

    /// Runs and expects success; returns stdout.
    fn ok(&self, command: &str, args: &[&str]) -> String {
        let out = self.debian(command, args);
        assert!(
            out.status.success(),
            "cairn debian {command} {args:?} failed: {}",
            stderr(&out)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs and expects exit code 1; returns stderr.
    fn fails(&self, command: &str, args: &[&str]) -> String {
        let out = self.debian(command, args);
        assert_eq!(
            out.status.code(),
            Some(1),
            "cairn debian {command} {args:?}: {}",
            stderr(&out)
        );
        stderr(&out)
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn resolve_prints_sorted_lines_and_json() {
    let Some(ctx) = setup() else { return };
    assert_eq!(
        ctx.ok("resolve", &["tool", "app"]),
        "app 2.0-1 amd64\nlibfix 1.0-1 amd64\ntool 3.0-1 amd64\n"
    );
    let json: serde_json::Value =
        serde_json::from_str(&ctx.ok("resolve", &["--json", "app"])).unwrap();
    let packages = json.as_array().unwrap();
    let names: Vec<&str> = packages
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["app", "libfix"]);
    assert_eq!(packages[0]["depends"], serde_json::json!(["libfix"]));
    assert_eq!(packages[0]["suite"], SUITE);
    assert_eq!(packages[0]["sha256"].as_str().unwrap().len(), 64);
}

#[test]
fn fetch_prints_objects_and_a_lock_fetches_them_offline() {
    let Some(mut ctx) = setup() else { return };
    let lock = ctx.tmp.path().join("cairn.lock");
    let lock_arg = lock.to_str().unwrap();
    ctx.ok("resolve", &["--write-lock", lock_arg, "app"]);
    assert!(
        fs_err::read_to_string(&lock)
            .unwrap()
            .contains("name = \"libfix\"")
    );

    // Offline into a store without the packages: refused, with a hint.
    let err = ctx.fails("fetch", &["--offline", "--lock", lock_arg]);
    assert!(err.contains("cairn is offline"), "{err}");
    assert!(
        err.contains("hint:") && err.contains("without `--offline`"),
        "{err}"
    );

    let printed = ctx.ok("fetch", &["app"]);
    let objects: Vec<&str> = printed.lines().collect();
    assert_eq!(objects.len(), 2, "{printed}");
    for object in &objects {
        assert!(PathBuf::from(object).is_dir(), "{object}");
    }
    assert!(objects.iter().any(|o| o.ends_with("-app_2.0-1_amd64")));
    assert!(PathBuf::from(objects[0]).join("usr").is_dir());

    // With no server at all, the lock gives the same objects from the store.
    ctx.server = None;
    assert_eq!(ctx.ok("fetch", &["--offline", "--lock", lock_arg]), printed);
}

#[test]
fn errors_exit_1_with_a_hint() {
    let Some(ctx) = setup() else { return };
    let err = ctx.fails("resolve", &["ap"]);
    assert!(err.contains("there is no package `ap`"), "{err}");
    assert!(err.contains("did you mean `app`"), "{err}");

    // An InRelease edited after signing.
    let inrelease = ctx.repo.dists().join("InRelease");
    let signed = fs_err::read_to_string(&inrelease).unwrap();
    fs_err::write(
        &inrelease,
        signed.replace("Suite: testing", "Suite: testinh"),
    )
    .unwrap();
    let err = ctx.fails("resolve", &["app"]);
    assert!(
        err.contains(&format!(
            "`{}/dists/{SUITE}/InRelease` is not signed by a trusted key",
            ctx.url
        )),
        "{err}"
    );
    assert!(err.contains("does not verify"), "{err}");
    assert!(err.contains("hint:") && err.contains("--keyring"), "{err}");
}
