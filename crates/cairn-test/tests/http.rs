//! The test HTTP server, driven by hand over `TcpStream` so the tests see the exact
//! bytes on the wire.

#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use cairn_test::{Fault, TestServer, write_file};

const INRELEASE: &str = "/dists/trixie/InRelease";
const POOL_DEB: &str = "/pool/main/f/foo/foo_1.0+b1~rc1_amd64.deb";

/// A response split into its parts.
#[derive(Debug)]
struct Response {
    status: u16,
    headers: String,
    body: Vec<u8>,
}

impl Response {
    fn content_length(&self) -> usize {
        self.headers
            .lines()
            .find_map(|line| line.strip_prefix("Content-Length: "))
            .expect("a Content-Length header")
            .parse()
            .unwrap()
    }
}

/// A served tree with an `InRelease` and a pool file whose name has `+` and `~`.
fn fixture(dir: &Path) -> TestServer {
    let suite = dir.join("dists/trixie");
    fs_err::create_dir_all(&suite).unwrap();
    write_file(&suite.join("InRelease"), b"signed release\n", 0o644);
    let pool = dir.join("pool/main/f/foo");
    fs_err::create_dir_all(&pool).unwrap();
    write_file(&pool.join("foo_1.0+b1~rc1_amd64.deb"), b"deb bytes", 0o644);
    TestServer::serve_dir(dir)
}

fn connect(server: &TestServer) -> TcpStream {
    let stream = TcpStream::connect(server.url().trim_start_matches("http://")).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

/// Sends a raw request and returns every byte until the server closes.
fn exchange(server: &TestServer, request: &str) -> Vec<u8> {
    let mut stream = connect(server);
    stream.write_all(request.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    raw
}

fn parse(raw: &[u8]) -> Response {
    let split = raw
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .expect("a complete response head");
    let head = String::from_utf8(raw[..split].to_vec()).unwrap();
    let (status_line, headers) = head.split_once("\r\n").unwrap();
    Response {
        status: status_line.split(' ').nth(1).unwrap().parse().unwrap(),
        headers: headers.to_owned(),
        body: raw[split + 4..].to_vec(),
    }
}

fn request(server: &TestServer, method: &str, target: &str) -> Response {
    parse(&exchange(
        server,
        &format!("{method} {target} HTTP/1.1\r\nHost: test\r\n\r\n"),
    ))
}

fn get(server: &TestServer, target: &str) -> Response {
    request(server, "GET", target)
}

#[test]
fn serves_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let server = fixture(dir.path());
    let response = get(&server, INRELEASE);
    assert_eq!(response.status, 200);
    assert_eq!(response.body, b"signed release\n");
    assert_eq!(response.content_length(), response.body.len());
    assert!(response.headers.contains("Connection: close"));
    assert!(
        response
            .headers
            .contains("Content-Type: application/octet-stream")
    );
}

#[test]
fn head_sends_length_without_body() {
    let dir = tempfile::tempdir().unwrap();
    let server = fixture(dir.path());
    let response = request(&server, "HEAD", INRELEASE);
    assert_eq!(response.status, 200);
    assert_eq!(response.content_length(), b"signed release\n".len());
    assert!(response.body.is_empty());
}

#[test]
fn request_in_several_segments() {
    let dir = tempfile::tempdir().unwrap();
    let server = fixture(dir.path());
    let mut stream = connect(&server);
    stream.set_nodelay(true).unwrap();
    for part in [
        "GET /dists/tri",
        "xie/InRelease HTTP/1.1\r\n",
        "Host: test\r",
        "\n\r\n",
    ] {
        stream.write_all(part.as_bytes()).unwrap();
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    assert_eq!(parse(&raw).body, b"signed release\n");
}

#[test]
fn missing_escaping_and_other_methods() {
    let dir = tempfile::tempdir().unwrap();
    drop(fixture(dir.path()));
    // Rooted at `dists/`, so the pool is one `..` away.
    let server = TestServer::serve_dir(&dir.path().join("dists"));
    assert_eq!(get(&server, "/nothing/here").status, 404);
    assert_eq!(
        get(&server, "/trixie").status,
        404,
        "a directory is not a file"
    );
    assert_eq!(
        get(&server, "/../pool/main/f/foo/foo_1.0+b1~rc1_amd64.deb").status,
        404
    );
    assert_eq!(
        get(
            &server,
            "/trixie/%2E%2E/../pool/main/f/foo/foo_1.0+b1~rc1_amd64.deb"
        )
        .status,
        404
    );
    assert_eq!(
        get(
            &server,
            "/trixie/%2E%2E%2F%2E%2E%2Fpool/main/f/foo/foo_1.0+b1~rc1_amd64.deb"
        )
        .status,
        404
    );
    assert_eq!(request(&server, "POST", "/trixie/InRelease").status, 405);
    assert_eq!(
        get(&server, "/trixie/InRelease?x=1").status,
        200,
        "query ignored"
    );
    assert_eq!(get(&server, "/trixie/./InRelease").status, 200);
}

#[test]
fn queued_status_then_normal() {
    let dir = tempfile::tempdir().unwrap();
    let server = fixture(dir.path());
    server.fail(INRELEASE, [Fault::Status(500)]);
    let failed = get(&server, INRELEASE);
    assert_eq!(failed.status, 500);
    assert_eq!(failed.content_length(), failed.body.len());
    assert_eq!(get(&server, INRELEASE).status, 200);
}

#[test]
fn drop_closes_without_answering() {
    let dir = tempfile::tempdir().unwrap();
    let server = fixture(dir.path());
    server.fail(INRELEASE, [Fault::Drop]);
    let raw = exchange(&server, &format!("GET {INRELEASE} HTTP/1.1\r\n\r\n"));
    assert!(raw.is_empty(), "got {raw:?}");
    assert_eq!(server.count(INRELEASE), 1, "logged before the fault");
}

#[test]
fn truncate_sends_full_length_and_partial_body() {
    let dir = tempfile::tempdir().unwrap();
    let server = fixture(dir.path());
    server.fail(INRELEASE, [Fault::Truncate(3)]);
    let response = get(&server, INRELEASE);
    assert_eq!(response.status, 200);
    assert_eq!(response.content_length(), b"signed release\n".len());
    assert_eq!(response.body, b"sig");
}

#[test]
fn replace_sends_other_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let server = fixture(dir.path());
    server.fail("/not/on/disk", [Fault::Replace(b"forged".to_vec())]);
    let response = get(&server, "/not/on/disk");
    assert_eq!(response.status, 200);
    assert_eq!(response.body, b"forged");
    assert_eq!(response.content_length(), 6);
}

#[test]
fn fail_always_until_clear() {
    let dir = tempfile::tempdir().unwrap();
    let server = fixture(dir.path());
    server.fail_always(INRELEASE, Fault::Status(503));
    for _ in 0..3 {
        assert_eq!(get(&server, INRELEASE).status, 503);
    }
    server.clear(INRELEASE);
    assert_eq!(get(&server, INRELEASE).status, 200);
}

#[test]
fn counts_and_logs_requests() {
    let dir = tempfile::tempdir().unwrap();
    let server = fixture(dir.path());
    get(&server, INRELEASE);
    request(&server, "HEAD", POOL_DEB);
    get(&server, "/missing");
    get(&server, INRELEASE);
    request(&server, "PUT", INRELEASE);
    assert_eq!(
        server.requests(),
        [INRELEASE, POOL_DEB, "/missing", INRELEASE]
    );
    assert_eq!(server.count(INRELEASE), 2);
    assert_eq!(server.count(POOL_DEB), 1);
    assert_eq!(server.count("/never"), 0);
}

#[test]
fn percent_decodes_plus_and_tilde() {
    let dir = tempfile::tempdir().unwrap();
    let server = fixture(dir.path());
    let response = get(&server, "/pool/main/f/foo/foo_1.0%2Bb1%7erc1_amd64.deb");
    assert_eq!(response.status, 200);
    assert_eq!(response.body, b"deb bytes");
    assert_eq!(server.requests(), [POOL_DEB], "logged decoded");
}

#[test]
fn drop_does_not_hang() {
    let dir = tempfile::tempdir().unwrap();
    let server = fixture(dir.path());
    get(&server, INRELEASE);
    // An idle client that never finishes its request must not hold up the drop.
    let idle = connect(&server);
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        drop(server);
        done.send(()).unwrap();
    });
    finished
        .recv_timeout(Duration::from_secs(5))
        .expect("dropping the server returns promptly");
    drop(idle);
}
