//! The storage backends against real servers: a directory, nginx accepting `PUT`
//! (`cairn_test::webdav`), moto's S3 (`cairn_test::s3`), and cairn-test's `TestServer`
//! for injected faults. nginx and moto are oracle tools: skipped when missing outside
//! CI, failing in CI.

#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cairn_cache::CacheError;
use cairn_cache::backend::{self, Backend, BackendOptions, S3Credentials};
use cairn_test::s3::S3Server;
use cairn_test::webdav::WebDavServer;
use cairn_test::{Fault, TestServer};

/// Few, quick retries and short timeouts: a failing test fails in seconds.
fn options() -> BackendOptions {
    BackendOptions {
        retries: 1,
        backoff: Duration::from_millis(10),
        connect_timeout: Duration::from_secs(2),
        read_timeout: Duration::from_secs(2),
        s3_credentials: Some(S3Credentials {
            access_key_id: "testing".to_owned(),
            secret_access_key: "testing".to_owned(),
            session_token: None,
        }),
        ..BackendOptions::default()
    }
}

fn open(url: &str) -> Box<dyn Backend> {
    backend::open(url, &options()).unwrap_or_else(|e| panic!("{url}: {e}"))
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    fs_err::create_dir_all(path.parent().unwrap()).unwrap();
    fs_err::write(&path, bytes).unwrap();
    path
}

const BAD_KEYS: &[&str] = &[
    "",
    "/etc/passwd",
    "../outside",
    "nar/../../outside",
    "a//b",
    "./a",
    "nar/",
    "a b",
    "a?b",
    "a%2Fb",
];

/// Everything every backend must do alike.
fn exercise(cache: &dyn Backend, scratch: &Path) {
    // Missing files are answers, not errors.
    assert_eq!(cache.get("nix-cache-info").unwrap(), None);
    assert!(!cache.exists("nix-cache-info").unwrap());
    assert!(
        !cache
            .get_file("nar/missing.nar.zst", &scratch.join("missing"))
            .unwrap()
    );

    // Round trips, nested keys, an empty file.
    cache
        .put("nix-cache-info", b"StoreDir: /cairn/store\n")
        .unwrap();
    assert_eq!(
        cache.get("nix-cache-info").unwrap().as_deref(),
        Some(&b"StoreDir: /cairn/store\n"[..])
    );
    assert!(cache.exists("nix-cache-info").unwrap());
    cache
        .put("nar/small.nar.zst", &cairn_test::noise(1, 1000))
        .unwrap();
    assert_eq!(
        cache.get("nar/small.nar.zst").unwrap(),
        Some(cairn_test::noise(1, 1000))
    );
    cache.put("empty.narinfo", b"").unwrap();
    assert_eq!(cache.get("empty.narinfo").unwrap(), Some(Vec::new()));
    assert!(cache.exists("empty.narinfo").unwrap());

    // Overwrite.
    cache.put("nix-cache-info", b"Priority: 30\n").unwrap();
    assert_eq!(
        cache.get("nix-cache-info").unwrap().as_deref(),
        Some(&b"Priority: 30\n"[..])
    );

    // 10 MB through files, byte for byte (for S3, a multipart upload).
    let big = cairn_test::noise(2, 10 << 20);
    let source = write(scratch, "big", &big);
    cache.put_file("nar/big.nar.zst", &source).unwrap();
    assert!(cache.exists("nar/big.nar.zst").unwrap());
    let dest = scratch.join("big.out");
    assert!(cache.get_file("nar/big.nar.zst", &dest).unwrap());
    assert!(
        fs_err::read(&dest).unwrap() == big,
        "10 MB round trip differs"
    );

    // Overwrite a large file with a small one; `dest` is truncated.
    let small = write(scratch, "small", &cairn_test::noise(3, 5000));
    cache.put_file("nar/big.nar.zst", &small).unwrap();
    assert!(cache.get_file("nar/big.nar.zst", &dest).unwrap());
    assert_eq!(fs_err::read(&dest).unwrap(), cairn_test::noise(3, 5000));

    // Keys that could leave the cache or need escaping are refused by every method.
    for &key in BAD_KEYS {
        let results = [
            cache.get(key).map(drop),
            cache.get_file(key, &scratch.join("bad")).map(drop),
            cache.exists(key).map(drop),
            cache.put(key, b"x"),
            cache.put_file(key, &small),
        ];
        for result in results {
            assert!(
                matches!(result, Err(CacheError::BadKey { .. })),
                "{key:?}: {result:?}"
            );
        }
    }
}

#[test]
fn file_backend() {
    let scratch = tempfile::tempdir().unwrap();
    let root = scratch.path().join("cache");
    let cache = open(root.to_str().unwrap());
    assert!(cache.is_local());
    exercise(&*cache, scratch.path());

    // The files are where a directory cache keeps them, readable, and no temporary
    // file is left behind.
    assert_eq!(
        fs_err::read(root.join("nix-cache-info")).unwrap(),
        b"Priority: 30\n"
    );
    let mut names: Vec<_> = fs_err::read_dir(root.join("nar"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["big.nar.zst", "small.nar.zst"]);
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &fs_err::metadata(root.join("nix-cache-info"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o044, 0o044, "{mode:o}");
    assert!(!scratch.path().join("outside").exists());

    // The same directory as a `file://` URL.
    let url = format!("file://{}", root.display());
    let same = open(&url);
    assert_eq!(same.url(), url);
    assert_eq!(
        same.get("nix-cache-info").unwrap().as_deref(),
        Some(&b"Priority: 30\n"[..])
    );
}

#[test]
fn file_backend_reports_io_errors() {
    let scratch = tempfile::tempdir().unwrap();
    // The cache "directory" is a file: writing under it fails and says where.
    let root = write(scratch.path(), "not-a-dir", b"");
    let cache = open(root.to_str().unwrap());
    let error = cache.put("nar/x.nar.zst", b"x").unwrap_err();
    assert!(matches!(error, CacheError::Io { .. }), "{error:?}");
    assert!(error.to_string().contains("not-a-dir"), "{error}");
    // A missing source file for put_file names it.
    let cache = open(scratch.path().join("cache").to_str().unwrap());
    let error = cache
        .put_file("nar/x.nar.zst", &scratch.path().join("absent"))
        .unwrap_err();
    assert!(error.to_string().contains("absent"), "{error}");
}

#[test]
fn http_backend_against_nginx() {
    let Some(server) = WebDavServer::start() else {
        return;
    };
    let scratch = tempfile::tempdir().unwrap();
    let cache = open(&format!("{}/cache", server.url()));
    assert!(!cache.is_local());
    exercise(&*cache, scratch.path());
    // nginx wrote the files where it serves them from.
    assert_eq!(
        fs_err::read(server.root().join("cache/nix-cache-info")).unwrap(),
        b"Priority: 30\n",
        "{}",
        server.logs()
    );
}

#[test]
fn http_backend_basic_auth() {
    let Some(server) = WebDavServer::start_with_basic_auth("cairn", "s3cret") else {
        return;
    };
    let url = format!("{}/cache/", server.url());

    let anonymous = open(&url);
    let error = anonymous.put("nix-cache-info", b"x").unwrap_err();
    let message = error.to_string();
    assert!(message.contains("401"), "{message}");
    assert!(message.contains("credentials"), "{message}");
    assert!(message.contains("nix-cache-info"), "{message}");

    let wrong = BackendOptions {
        http_creds: Some(("cairn".to_owned(), "wrong".to_owned())),
        ..options()
    };
    let error = backend::open(&url, &wrong)
        .unwrap()
        .exists("nix-cache-info")
        .unwrap_err();
    assert!(error.to_string().contains("401"), "{error}");

    let right = BackendOptions {
        http_creds: Some(("cairn".to_owned(), "s3cret".to_owned())),
        ..options()
    };
    let cache = backend::open(&url, &right).unwrap();
    cache
        .put("nix-cache-info", b"StoreDir: /cairn/store\n")
        .unwrap();
    assert!(cache.exists("nix-cache-info").unwrap());
    assert_eq!(
        cache.get("nix-cache-info").unwrap().as_deref(),
        Some(&b"StoreDir: /cairn/store\n"[..])
    );
    // Credentials never show in the options' debug output.
    assert!(!format!("{right:?}").contains("s3cret"));
}

#[test]
fn http_backend_retries_and_gives_up() {
    let root = tempfile::tempdir().unwrap();
    write(root.path(), "nix-cache-info", b"StoreDir: /cairn/store\n");
    let server = TestServer::serve_dir(root.path());
    let cache = open(&server.url());

    // One 503, then the file: the retry succeeds.
    server.fail("/nix-cache-info", [Fault::Status(503)]);
    assert!(cache.get("nix-cache-info").unwrap().is_some());
    assert_eq!(server.count("/nix-cache-info"), 2);

    // Always 500: the error says so, after the configured attempts.
    server.fail_always("/nix-cache-info", Fault::Status(500));
    let message = cache.get("nix-cache-info").unwrap_err().to_string();
    assert!(message.contains("500"), "{message}");
    assert!(message.contains("after 2 attempts"), "{message}");
    server.clear("/nix-cache-info");

    // A connection dropped without an answer is retried too.
    server.fail("/nix-cache-info", [Fault::Drop]);
    assert!(cache.exists("nix-cache-info").unwrap());

    // A 403 is an answer, not "missing", and is not retried.
    server.fail_always("/x.narinfo", Fault::Status(403));
    let message = cache.get("x.narinfo").unwrap_err().to_string();
    assert!(message.contains("403"), "{message}");
    assert_eq!(server.count("/x.narinfo"), 1);

    // A server that does not take uploads says so.
    let message = cache.put("y.narinfo", b"x").unwrap_err().to_string();
    assert!(message.contains("405"), "{message}");
    assert!(message.contains("PUT"), "{message}");
}

#[test]
fn http_backend_stalled_server_times_out() {
    let root = tempfile::tempdir().unwrap();
    write(root.path(), "nar/x.nar.zst", &cairn_test::noise(4, 100_000));
    let server = TestServer::serve_dir(root.path());
    server.fail_always("/nar/x.nar.zst", Fault::Stall);
    let cache = open(&server.url());
    let dest = root.path().join("out");
    let started = Instant::now();
    let error = cache.get_file("nar/x.nar.zst", &dest).unwrap_err();
    // Two attempts, each ending after the 2 s read timeout.
    assert!(started.elapsed() < Duration::from_secs(15), "{error}");
    assert!(error.to_string().contains("after 2 attempts"), "{error}");
    server.release_stalls();
}

#[test]
fn unreachable_servers_fail_quickly() {
    // Nothing listens on a port just freed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let started = Instant::now();
    let http = open(&format!("http://127.0.0.1:{port}/cache"));
    let message = http.get("nix-cache-info").unwrap_err().to_string();
    assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
    assert!(message.contains("nix-cache-info"), "{message}");
    assert!(message.contains("after 2 attempts"), "{message}");
    let message = http.put("nix-cache-info", b"x").unwrap_err().to_string();
    assert!(message.contains("could not write"), "{message}");

    let s3 = open(&format!(
        "s3://bucket/cache?endpoint=http://127.0.0.1:{port}&region=us-east-1"
    ));
    let message = s3.exists("nix-cache-info").unwrap_err().to_string();
    assert!(message.contains("nix-cache-info"), "{message}");
    assert!(message.contains("could not check"), "{message}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn s3_backend_against_moto() {
    let Some(server) = S3Server::start() else {
        return;
    };
    let scratch = tempfile::tempdir().unwrap();
    let cache = open(&server.cache_url("cache"));
    assert!(!cache.is_local());
    exercise(&*cache, scratch.path());
    // The 10 MB file went up in parts, not in one request held in memory.
    let logs = server.logs();
    assert!(
        logs.contains("/cache/nar/big.nar.zst?uploads") && logs.contains("partNumber=2"),
        "{logs}"
    );

    // The prefix separates caches in one bucket.
    let other = open(&server.cache_url("other/cache"));
    assert_eq!(other.get("nix-cache-info").unwrap(), None);
    other.put("nix-cache-info", b"other").unwrap();
    assert_eq!(
        cache.get("nix-cache-info").unwrap().as_deref(),
        Some(&b"Priority: 30\n"[..])
    );
    // A mistyped bucket is an error, not an empty cache, wherever the answer says so.
    let missing = open(&format!(
        "s3://no-such-bucket/cache?endpoint={}",
        server.endpoint()
    ));
    for error in [
        missing.get("nix-cache-info").unwrap_err(),
        missing
            .get_file("nar/x.nar.zst", &scratch.path().join("x"))
            .unwrap_err(),
        missing.put("nix-cache-info", b"x").unwrap_err(),
    ] {
        let message = error.to_string();
        assert!(message.contains("no-such-bucket"), "{message}");
    }
    let message = missing.get("nix-cache-info").unwrap_err().to_string();
    assert!(message.contains("does not exist"), "{message}");

    // A cache at the bucket's root sees the prefixed keys under their full names.
    let root = open(&format!(
        "s3://{}?endpoint={}&region=us-east-1",
        server.bucket(),
        server.endpoint()
    ));
    assert_eq!(
        root.get("other/cache/nix-cache-info").unwrap().as_deref(),
        Some(&b"other"[..])
    );
}

#[test]
fn bad_urls_are_refused_with_reasons() {
    for (url, why) in [
        ("", "empty"),
        ("ftp://host/cache", "not `ftp://`"),
        ("file://host/cache", "not a host"),
        ("file:///cache?x=1", "no `?query`"),
        ("http://", "empty host"),
        ("https://user:pw@host/cache", "credentials"),
        ("https://host/cache?x=1", "no `?query`"),
        ("s3://", "names no bucket"),
        (
            "s3://bucket/cache?profile=dev",
            "unknown parameter `profile`",
        ),
        (
            "s3://bucket/cache?endpoint=localhost:9000",
            "not an `http://`",
        ),
    ] {
        let Err(error) = backend::open(url, &options()) else {
            panic!("{url} was accepted");
        };
        assert!(
            matches!(error, CacheError::BadUrl { .. }),
            "{url}: {error:?}"
        );
        let message = error.to_string();
        assert!(message.contains(why), "{url}: {message}");
        assert!(message.contains(url), "{url}: {message}");
    }
}
