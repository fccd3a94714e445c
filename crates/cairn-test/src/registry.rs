//! A real OCI registry for tests: Debian's `docker-registry` (distribution 2.8) on a
//! loopback port with its storage, configuration and log in a temporary directory; no
//! auth, htpasswd (Basic) auth, or token (Bearer) auth with a small token server of our
//! own. Also [`DroppingProxy`], a TCP proxy in front of it that cuts one blob upload
//! midway, for the resumable-upload tests.
//!
//! The registry's access log has one line per request, which is what the tests assert
//! on ([`Registry::requests`]):
//! `127.0.0.1 - - [21/Nov/2026:22:00:39 +0000] "PATCH /v2/app/blobs/uploads/<uuid>?_state=… HTTP/1.1" 202 0 "" "cairn/0.1.0"`

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::oracle::{Oracle, require_tool};

/// The token server's `service` (the JWT audience) and issuer.
const SERVICE: &str = "cairn-test-registry";
const ISSUER: &str = "cairn-test-issuer";
/// The identity token (OAuth2 refresh token) the token server accepts.
pub const REFRESH_TOKEN: &str = "cairn-test-refresh-token";

/// A running `docker-registry`, killed when dropped.
#[derive(Debug)]
pub struct Registry {
    child: Child,
    dir: tempfile::TempDir,
    addr: SocketAddr,
    log: PathBuf,
    tokens: Option<TokenServer>,
}

/// One line of the registry's access log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedRequest {
    pub method: String,
    /// Path and query, as sent.
    pub uri: String,
    pub status: u16,
}

impl LoggedRequest {
    /// A request that carries blob data: a `PATCH` or `PUT` to `/blobs/uploads/`.
    pub fn is_blob_upload(&self) -> bool {
        (self.method == "PATCH" || self.method == "PUT") && self.uri.contains("/blobs/uploads/")
    }
}

impl Registry {
    /// Starts a registry, with htpasswd auth for `user:password` when `auth` is given.
    /// `None` when `docker-registry` (or `htpasswd`) is not installed, outside CI.
    pub fn start(auth: Option<(&str, &str)>) -> Option<Registry> {
        let registry = require_tool("docker-registry")?;
        let htpasswd = match auth {
            Some(_) => Some(require_tool("htpasswd")?),
            None => None,
        };
        let dir = tempfile::tempdir().unwrap();
        let auth_config = match (auth, htpasswd) {
            (Some((user, password)), Some(htpasswd)) => {
                let output = htpasswd
                    .command()
                    .args(["-Bbn", user, password])
                    .output()
                    .unwrap();
                assert!(output.status.success(), "htpasswd failed: {output:?}");
                let file = dir.path().join("htpasswd");
                fs_err::write(&file, &output.stdout).unwrap();
                format!(
                    "auth:\n  htpasswd:\n    realm: cairn-test\n    path: {}\n",
                    file.display()
                )
            }
            _ => String::new(),
        };
        Some(Self::launch(&registry, dir, &auth_config, None))
    }

    /// Starts a registry that wants Bearer tokens (distribution's token auth) from a
    /// token server of its own, which grants what is asked to `user:password` (HTTP
    /// Basic) and to the identity token [`REFRESH_TOKEN`] (OAuth2 refresh-token grant),
    /// nothing to anonymous requests, and refuses other credentials with `401`.
    pub fn start_with_token_auth(user: &str, password: &str) -> Option<Registry> {
        let registry = require_tool("docker-registry")?;
        let openssl = require_tool("openssl")?;
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("token.key");
        let cert = dir.path().join("token.crt");
        let made = openssl
            .command()
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            ])
            .args(["-subj", "/CN=cairn-test-token"])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(made.success(), "openssl could not make the token key");
        let der = openssl
            .command()
            .args(["x509", "-outform", "DER", "-in"])
            .arg(&cert)
            .output()
            .unwrap();
        assert!(
            der.status.success(),
            "openssl could not convert the certificate"
        );
        let tokens = TokenServer::start(TokenConfig {
            user: user.to_owned(),
            password: password.to_owned(),
            key,
            x5c: data_encoding::BASE64.encode(&der.stdout),
            openssl,
        });
        let auth_config = format!(
            "auth:\n  token:\n    realm: http://{}/token\n    service: {SERVICE}\n    issuer: {ISSUER}\n    rootcertbundle: {}\n",
            tokens.addr,
            cert.display()
        );
        Some(Self::launch(&registry, dir, &auth_config, Some(tokens)))
    }

    fn launch(
        registry: &Oracle,
        dir: tempfile::TempDir,
        auth_config: &str,
        tokens: Option<TokenServer>,
    ) -> Registry {
        let log = dir.path().join("registry.log");
        let mut failure = String::new();
        // The port is free when asked for, and may be taken before the registry binds
        // it: try a few.
        for _ in 0..5 {
            let addr = free_port();
            let config = dir.path().join("config.yml");
            fs_err::write(
                &config,
                format!(
                    "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: false\n\
                     storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
                     http:\n  addr: {addr}\n  secret: cairn-test-secret\n{auth_config}",
                    dir.path().join("storage").display()
                ),
            )
            .unwrap();
            let out = fs_err::File::create(&log).unwrap().into_file();
            let err = out.try_clone().unwrap();
            let mut child = registry
                .command()
                .arg("serve")
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(out)
                .stderr(err)
                .spawn()
                .unwrap();
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                if answers(addr) {
                    return Registry {
                        child,
                        dir,
                        addr,
                        log,
                        tokens,
                    };
                }
                if let Ok(Some(status)) = child.try_wait() {
                    failure = format!(
                        "exited ({status}):\n{}",
                        fs_err::read_to_string(&log).unwrap_or_default()
                    );
                    break;
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "docker-registry did not answer within 30 s:\n{}",
                        fs_err::read_to_string(&log).unwrap_or_default()
                    );
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        panic!("docker-registry did not start: {failure}");
    }

    /// `127.0.0.1:<port>`: the registry part of a reference.
    pub fn addr(&self) -> String {
        self.addr.to_string()
    }

    /// Everything the registry logged: its own lines and the access log.
    pub fn log(&self) -> String {
        fs_err::read_to_string(&self.log).unwrap_or_default()
    }

    /// The access log's request lines, in order.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.log().lines().filter_map(parse_access_line).collect()
    }

    /// The access log's request lines once one of them is `last`: a line is written as
    /// its answer goes out, so the client may have it a moment before the log does.
    /// Panics when none is within 10 s.
    pub fn requests_until(&self, last: impl Fn(&LoggedRequest) -> bool) -> Vec<LoggedRequest> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let requests = self.requests();
            if requests.iter().any(&last) {
                return requests;
            }
            assert!(
                Instant::now() < deadline,
                "the registry did not log the request waited for:\n{requests:#?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Where the registry keeps its data (`docker/registry/v2/…`).
    pub fn storage(&self) -> PathBuf {
        self.dir.path().join("storage")
    }

    /// The file the registry serves a blob from, by its hex digest (to tamper with it).
    pub fn blob_file(&self, hex: &str) -> PathBuf {
        self.storage()
            .join("docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    /// What the token server was asked, for a registry with token auth.
    pub fn token_requests(&self) -> Vec<TokenRequest> {
        self.tokens
            .as_ref()
            .map(|t| {
                t.shared
                    .requests
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone()
            })
            .unwrap_or_default()
    }

    /// A directory for the test's own files, removed with the registry.
    pub fn scratch(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// Whether `GET /v2/` gets an HTTP answer (200, or 401 with auth).
fn answers(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    if write!(stream, "GET /v2/ HTTP/1.0\r\nHost: {addr}\r\n\r\n").is_err() {
        return false;
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.") && (answer.contains(" 200 ") || answer.contains(" 401 "))
}

/// `127.0.0.1 - - [date] "METHOD URI HTTP/1.1" STATUS SIZE "referer" "agent"`
fn parse_access_line(line: &str) -> Option<LoggedRequest> {
    if line.starts_with("time=") {
        return None;
    }
    let (_, rest) = line.split_once("] \"")?;
    let (request, rest) = rest.split_once('"')?;
    let mut parts = request.split(' ');
    let method = parts.next()?.to_owned();
    let uri = parts.next()?.to_owned();
    let status = rest.trim_start().split(' ').next()?.parse().ok()?;
    Some(LoggedRequest {
        method,
        uri,
        status,
    })
}

/// Where [`DroppingProxy`] cuts: in the `request`-th (from 0) blob-upload request
/// (`PATCH` or `PUT` to `/blobs/uploads/`) whose body is longer than `after` bytes,
/// after forwarding `after` bytes of its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DropAt {
    pub request: usize,
    pub after: u64,
}

#[derive(Debug)]
struct ProxyShared {
    upstream: SocketAddr,
    drop_at: DropAt,
    matched: AtomicUsize,
    fired: AtomicBool,
    requests: Mutex<Vec<String>>,
}

/// A TCP proxy that forwards HTTP/1.1 connections to a registry unchanged, except that
/// it cuts one blob upload midway ([`DropAt`]), once: both connections are shut down
/// after part of the request body has gone through.
#[derive(Debug)]
pub struct DroppingProxy {
    addr: SocketAddr,
    shared: Arc<ProxyShared>,
    _accept: AcceptLoop,
}

impl DroppingProxy {
    /// Starts a proxy to `upstream` (`host:port`).
    pub fn start(upstream: &str, drop_at: DropAt) -> DroppingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(ProxyShared {
            upstream: upstream.parse().unwrap(),
            drop_at,
            matched: AtomicUsize::new(0),
            fired: AtomicBool::new(false),
            requests: Mutex::new(Vec::new()),
        });
        let accept = {
            let shared = shared.clone();
            AcceptLoop::start(listener, move |client| {
                let _ = proxy_connection(&client, &shared);
            })
        };
        DroppingProxy {
            addr,
            shared,
            _accept: accept,
        }
    }

    /// `127.0.0.1:<port>`: use it as the registry.
    pub fn addr(&self) -> String {
        self.addr.to_string()
    }

    /// Whether the cut happened.
    pub fn fired(&self) -> bool {
        self.shared.fired.load(Ordering::SeqCst)
    }

    /// The request lines that went through (`PATCH /v2/… HTTP/1.1`).
    pub fn requests(&self) -> Vec<String> {
        self.shared
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// A request head: the request line, the headers, and the bytes as read.
struct Head {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    raw: Vec<u8>,
}

impl Head {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn content_length(&self) -> u64 {
        self.header("content-length")
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    }
}

/// Reads a request head; `None` at the end of the connection.
fn read_head(reader: &mut impl BufRead) -> io::Result<Option<Head>> {
    let mut raw = Vec::new();
    let mut lines = Vec::new();
    loop {
        let mut line = Vec::new();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return if raw.is_empty() {
                Ok(None)
            } else {
                Err(io::ErrorKind::UnexpectedEof.into())
            };
        }
        raw.extend_from_slice(&line);
        let text = String::from_utf8_lossy(&line).trim_end().to_owned();
        if text.is_empty() {
            if lines.is_empty() {
                continue;
            }
            break;
        }
        lines.push(text);
        if raw.len() > 64 * 1024 {
            return Err(io::Error::other("request head too long"));
        }
    }
    let mut request_line = lines[0].split(' ');
    let method = request_line.next().unwrap_or_default().to_owned();
    let target = request_line.next().unwrap_or_default().to_owned();
    let headers = lines[1..]
        .iter()
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Ok(Some(Head {
        method,
        target,
        headers,
        raw,
    }))
}

fn proxy_connection(client: &TcpStream, shared: &ProxyShared) -> io::Result<()> {
    let mut upstream = TcpStream::connect(shared.upstream)?;
    let mut from_upstream = upstream.try_clone()?;
    let mut to_client = client.try_clone()?;
    let back = std::thread::spawn(move || {
        let _ = io::copy(&mut from_upstream, &mut to_client);
        let _ = to_client.shutdown(Shutdown::Write);
    });
    let mut reader = BufReader::new(client.try_clone()?);
    while let Some(head) = read_head(&mut reader)? {
        shared
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(format!("{} {}", head.method, head.target));
        assert!(
            head.header("transfer-encoding").is_none(),
            "the proxy only forwards bodies with a Content-Length"
        );
        let length = head.content_length();
        upstream.write_all(&head.raw)?;
        let upload = (head.method == "PATCH" || head.method == "PUT")
            && head.target.contains("/blobs/uploads/")
            && length > shared.drop_at.after;
        let cut = upload
            && !shared.fired.load(Ordering::SeqCst)
            && shared.matched.fetch_add(1, Ordering::SeqCst) == shared.drop_at.request;
        if cut {
            io::copy(&mut (&mut reader).take(shared.drop_at.after), &mut upstream)?;
            upstream.flush()?;
            shared.fired.store(true, Ordering::SeqCst);
            // Let the registry read what was sent before the connection goes.
            std::thread::sleep(Duration::from_millis(100));
            let _ = upstream.shutdown(Shutdown::Both);
            let _ = client.shutdown(Shutdown::Both);
            break;
        }
        io::copy(&mut (&mut reader).take(length), &mut upstream)?;
    }
    let _ = upstream.shutdown(Shutdown::Write);
    let _ = back.join();
    Ok(())
}

/// A request as a [`ScriptedRegistry`] got it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptedRequest {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl ScriptedRequest {
    /// The target without its query.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// How a [`ScriptedResponse`]'s body is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// With its true `Content-Length`.
    Length,
    /// `Transfer-Encoding: chunked`, in 64 KiB chunks: no length up front.
    Chunked,
    /// With this `Content-Length`, whatever the body's length; the connection is closed
    /// after the body.
    Claimed(u64),
    /// No answer at all: the connection is closed.
    Hangup,
}

/// What a [`ScriptedRegistry`] answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptedResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub framing: Framing,
}

impl ScriptedResponse {
    pub fn new(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            framing: Framing::Length,
        }
    }

    #[must_use]
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    #[must_use]
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    #[must_use]
    pub fn framing(mut self, framing: Framing) -> Self {
        self.framing = framing;
        self
    }
}

/// A registry that answers what the test tells it to, for answers no real registry
/// gives: bad JSON, lying lengths, odd `Location` and `Range` headers, connections
/// closed without an answer. Every connection carries one request.
pub struct ScriptedRegistry {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<ScriptedRequest>>>,
    _accept: AcceptLoop,
}

impl std::fmt::Debug for ScriptedRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScriptedRegistry")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl ScriptedRegistry {
    /// Answers each request with `answer(request)`.
    pub fn start(
        answer: impl Fn(&ScriptedRequest) -> ScriptedResponse + Send + Sync + 'static,
    ) -> ScriptedRegistry {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let accept = {
            let requests = requests.clone();
            AcceptLoop::start(listener, move |stream| {
                let _ = answer_scripted(stream, &requests, &answer);
            })
        };
        ScriptedRegistry {
            addr,
            requests,
            _accept: accept,
        }
    }

    /// `127.0.0.1:<port>`: the registry part of a reference.
    pub fn addr(&self) -> String {
        self.addr.to_string()
    }

    /// The requests so far, in order.
    pub fn requests(&self) -> Vec<ScriptedRequest> {
        self.requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

fn answer_scripted(
    mut stream: TcpStream,
    requests: &Mutex<Vec<ScriptedRequest>>,
    answer: &dyn Fn(&ScriptedRequest) -> ScriptedResponse,
) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let Some(head) = read_head(&mut reader)? else {
        return Ok(());
    };
    let mut body = Vec::new();
    (&mut reader)
        .take(head.content_length())
        .read_to_end(&mut body)?;
    let request = ScriptedRequest {
        method: head.method,
        target: head.target,
        headers: head.headers,
        body,
    };
    let response = answer(&request);
    requests
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(request);
    if response.framing == Framing::Hangup {
        return stream.shutdown(Shutdown::Both);
    }
    let mut head = Vec::new();
    write!(
        head,
        "HTTP/1.1 {} Scripted\r\nConnection: close\r\n",
        response.status
    )?;
    for (name, value) in &response.headers {
        write!(head, "{name}: {value}\r\n")?;
    }
    match response.framing {
        Framing::Length => write!(head, "Content-Length: {}\r\n", response.body.len())?,
        Framing::Claimed(length) => write!(head, "Content-Length: {length}\r\n")?,
        Framing::Chunked => write!(head, "Transfer-Encoding: chunked\r\n")?,
        Framing::Hangup => unreachable!("answered above"),
    }
    head.extend_from_slice(b"\r\n");
    stream.write_all(&head)?;
    if response.framing == Framing::Chunked {
        for chunk in response.body.chunks(64 << 10) {
            write!(stream, "{:x}\r\n", chunk.len())?;
            stream.write_all(chunk)?;
            stream.write_all(b"\r\n")?;
        }
        stream.write_all(b"0\r\n\r\n")?;
    } else {
        stream.write_all(&response.body)?;
    }
    stream.flush()?;
    stream.shutdown(Shutdown::Both)
}

/// One request to the token server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    /// `GET` (Basic or anonymous) or `POST` (refresh-token grant).
    pub method: String,
    /// The user, when Basic credentials were sent.
    pub user: Option<String>,
    pub scopes: Vec<String>,
    /// Whether a token with the scopes was given (`false`: refused, or anonymous).
    pub granted: bool,
}

#[derive(Debug)]
struct TokenConfig {
    user: String,
    password: String,
    key: PathBuf,
    /// The certificate, base64 DER, for the JWT's `x5c` header.
    x5c: String,
    openssl: Oracle,
}

#[derive(Debug)]
struct TokenShared {
    config: TokenConfig,
    issued: AtomicUsize,
    requests: Mutex<Vec<TokenRequest>>,
}

/// A token server for distribution's token auth: answers `GET /token?service=&scope=…`
/// and the OAuth2 `POST /token` with RS256 JWTs the registry verifies against the
/// certificate in its `rootcertbundle`.
#[derive(Debug)]
struct TokenServer {
    addr: SocketAddr,
    shared: Arc<TokenShared>,
    _accept: AcceptLoop,
}

impl TokenServer {
    fn start(config: TokenConfig) -> TokenServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(TokenShared {
            config,
            issued: AtomicUsize::new(0),
            requests: Mutex::new(Vec::new()),
        });
        let accept = {
            let shared = shared.clone();
            AcceptLoop::start(listener, move |stream| {
                let _ = answer_token_request(stream, &shared);
            })
        };
        TokenServer {
            addr,
            shared,
            _accept: accept,
        }
    }
}

/// A listener's accept loop on a thread of its own, each connection handled on another;
/// stopped and joined when dropped (connections in flight finish on their threads).
#[derive(Debug)]
struct AcceptLoop {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl AcceptLoop {
    fn start(
        listener: TcpListener,
        handle: impl Fn(TcpStream) + Send + Sync + 'static,
    ) -> AcceptLoop {
        // Non-blocking, so the loop sees `stop` without a connection to wake it.
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let handle = Arc::new(handle);
        let thread = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            let _ = stream.set_nonblocking(false);
                            let handle = handle.clone();
                            std::thread::spawn(move || handle(stream));
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            std::thread::sleep(Duration::from_millis(5));
                        }
                        Err(_) => break,
                    }
                }
            })
        };
        AcceptLoop {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for AcceptLoop {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// `%XX` and `+` decoded.
fn form_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match bytes.get(i + 1..i + 3) {
                Some(hex) if hex.iter().all(u8::is_ascii_hexdigit) => {
                    let hex = std::str::from_utf8(hex).unwrap();
                    out.push(u8::from_str_radix(hex, 16).unwrap());
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn form_pairs(text: &str) -> Vec<(String, String)> {
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (form_decode(k), form_decode(v))
        })
        .collect()
}

fn answer_token_request(stream: TcpStream, shared: &TokenShared) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let Some(head) = read_head(&mut reader)? else {
        return Ok(());
    };
    let mut body = Vec::new();
    (&mut reader)
        .take(head.content_length())
        .read_to_end(&mut body)?;
    let config = &shared.config;
    let query = head.target.split_once('?').map_or("", |(_, q)| q);
    let mut pairs = form_pairs(query);
    if head.method == "POST" {
        pairs.extend(form_pairs(&String::from_utf8_lossy(&body)));
    }
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let scopes: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k == "scope")
        .flat_map(|(_, v)| v.split(' ').map(str::to_owned).collect::<Vec<_>>())
        .filter(|s| !s.is_empty())
        .collect();
    let basic = head
        .header("authorization")
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| data_encoding::BASE64.decode(b.trim().as_bytes()).ok())
        .map(|b| String::from_utf8_lossy(&b).into_owned());
    let (user, verdict) = if head.method == "POST" {
        let ok = get("grant_type").as_deref() == Some("refresh_token")
            && get("refresh_token").as_deref() == Some(REFRESH_TOKEN);
        (None, ok.then(|| config.user.clone()))
    } else {
        match &basic {
            None => (None, Some(String::new())),
            Some(pair) => {
                let (user, password) = pair.split_once(':').unwrap_or((pair, ""));
                let ok = user == config.user && password == config.password;
                (Some(user.to_owned()), ok.then(|| user.to_owned()))
            }
        }
    };
    let granted = verdict.as_ref().is_some_and(|subject| !subject.is_empty());
    shared
        .requests
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(TokenRequest {
            method: head.method.clone(),
            user,
            scopes: scopes.clone(),
            granted,
        });
    let mut stream = stream;
    let Some(subject) = verdict else {
        let body = r#"{"errors":[{"code":"UNAUTHORIZED","message":"the token server does not know these credentials"}]}"#;
        return write!(
            stream,
            "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
    };
    let access: Vec<String> = if granted {
        scopes.iter().filter_map(|s| access_entry(s)).collect()
    } else {
        Vec::new()
    };
    let jwt = sign_jwt(shared, &subject, &access);
    let field = if head.method == "POST" {
        "access_token"
    } else {
        "token"
    };
    let body = format!(r#"{{"{field}":"{jwt}","expires_in":300}}"#);
    write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// `repository:a/b:pull,push` as a JWT access entry.
fn access_entry(scope: &str) -> Option<String> {
    let (kind, rest) = scope.split_once(':')?;
    let (name, actions) = rest.rsplit_once(':')?;
    let actions: Vec<String> = actions.split(',').map(|a| format!("\"{a}\"")).collect();
    Some(format!(
        r#"{{"type":"{kind}","name":"{name}","actions":[{}]}}"#,
        actions.join(",")
    ))
}

fn sign_jwt(shared: &TokenShared, subject: &str, access: &[String]) -> String {
    let b64 = |bytes: &[u8]| data_encoding::BASE64URL_NOPAD.encode(bytes);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let header = format!(
        r#"{{"typ":"JWT","alg":"RS256","x5c":["{}"]}}"#,
        shared.config.x5c
    );
    let jti = shared.issued.fetch_add(1, Ordering::SeqCst);
    let claims = format!(
        r#"{{"iss":"{ISSUER}","sub":"{subject}","aud":"{SERVICE}","exp":{},"nbf":{},"iat":{now},"jti":"cairn-{jti}","access":[{}]}}"#,
        now + 300,
        now - 10,
        access.join(",")
    );
    let input = format!("{}.{}", b64(header.as_bytes()), b64(claims.as_bytes()));
    let mut openssl = shared
        .config
        .openssl
        .command()
        .args(["dgst", "-sha256", "-sign"])
        .arg(&shared.config.key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    openssl
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let signature = openssl.wait_with_output().unwrap();
    assert!(
        signature.status.success(),
        "openssl could not sign the token"
    );
    format!("{input}.{}", b64(&signature.stdout))
}

/// Runs `command`, panicking with its output when it fails; returns stdout.
pub fn run_ok(command: &mut Command) -> String {
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{command:?} failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_lines() {
        let line = r#"127.0.0.1 - - [21/Nov/2026:22:00:39 +0000] "PATCH /v2/a/blobs/uploads/x?_state=y HTTP/1.1" 202 0 "" "cairn/0.1.0""#;
        assert_eq!(
            parse_access_line(line),
            Some(LoggedRequest {
                method: "PATCH".into(),
                uri: "/v2/a/blobs/uploads/x?_state=y".into(),
                status: 202
            })
        );
        assert!(parse_access_line(line).unwrap().is_blob_upload());
        assert_eq!(
            parse_access_line(
                r#"time="2026" level=info msg="response completed" http.request.uri=/v2/"#
            ),
            None
        );
    }

    #[test]
    fn forms() {
        assert_eq!(
            form_pairs("scope=repository%3Aa%2Fb%3Apull%2Cpush+repository%3Ac%3Apull&x=%zz&y"),
            [
                (
                    "scope".to_owned(),
                    "repository:a/b:pull,push repository:c:pull".to_owned()
                ),
                ("x".to_owned(), "%zz".to_owned()),
                ("y".to_owned(), String::new())
            ]
        );
        assert_eq!(
            access_entry("repository:a/b:pull,push").unwrap(),
            r#"{"type":"repository","name":"a/b","actions":["pull","push"]}"#
        );
    }
}
