//! A small HTTP/1.1 file server for tests, on std alone: it serves a directory on a
//! loopback port, records every request, and injects faults (error statuses, dropped
//! connections, truncated or replaced bodies) per path, so fetch code can be tested
//! against the failures a real mirror produces.
//!
//! One request per connection (`Connection: close`), GET and HEAD only, no ranges,
//! no keep-alive, no chunked encoding. Paths are percent-decoded before they are
//! recorded, matched against faults and looked up on disk.
//!
//! A directory that holds an `index.json` or `index.html` is served as a package
//! index serves a simple-API page: a request for `dir/` gets `index.json` as
//! `application/vnd.pypi.simple.v1+json` when its `Accept` header asks for that
//! type (PEP 691 content negotiation), else `index.html` as `text/html`; a request
//! for `dir` without the slash is redirected (301) to `dir/`, as PyPI does. Files are
//! sent as `application/json` (`.json`), `text/html` (`.html`) or
//! `application/octet-stream` (everything else).

use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long a connection may sit idle before its thread gives up on it.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest request head (request line and headers) the server reads.
const MAX_HEAD: usize = 64 * 1024;
/// The PEP 691 media type of a JSON simple-API page.
const SIMPLE_JSON: &str = "application/vnd.pypi.simple.v1+json";
/// The media type of every other file.
const OCTET_STREAM: &str = "application/octet-stream";

/// A fault injected into the response for a path.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer with this status and a short body.
    Status(u16),
    /// Read the request, then close the connection without answering.
    Drop,
    /// Send headers with the full Content-Length but only the first n body bytes, then close.
    Truncate(usize),
    /// Send this body instead of the file's contents (status 200, correct Content-Length for the replacement).
    Replace(Vec<u8>),
    /// Send headers and the first half of the body, then hold the connection open,
    /// sending nothing, until [`TestServer::release_stalls`] or the server is dropped (at
    /// most a minute), then close it: a download the client is in the middle of.
    Stall,
}

/// What the connection threads share with the [`TestServer`] handle.
#[derive(Debug)]
struct Shared {
    root: PathBuf,
    state: Mutex<State>,
    stop: AtomicBool,
    release: AtomicBool,
    /// Whether a directory's `index.json` may be served (see [`TestServer::serve_json`]).
    json: AtomicBool,
}

/// Queued and standing faults per path, and the request log.
#[derive(Debug, Default)]
struct State {
    queued: HashMap<String, VecDeque<Fault>>,
    always: HashMap<String, Fault>,
    requests: Vec<String>,
}

impl Shared {
    /// The state, even if a thread panicked while holding it (the data stays usable).
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Logs a request for `path` and returns the fault to apply: the next queued one,
    /// else the standing one from [`TestServer::fail_always`].
    fn record(&self, path: &str) -> Option<Fault> {
        let mut state = self.state();
        state.requests.push(path.to_owned());
        if let Some(fault) = state.queued.get_mut(path).and_then(VecDeque::pop_front) {
            return Some(fault);
        }
        state.always.get(path).cloned()
    }
}

/// A file server on `127.0.0.1` with per-path fault injection; stops when dropped.
#[derive(Debug)]
pub struct TestServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept_thread: Option<JoinHandle<()>>,
}

impl TestServer {
    /// Serves files under `root` on 127.0.0.1 (port chosen by the OS), one thread per connection.
    pub fn serve_dir(root: &Path) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let addr = listener
            .local_addr()
            .expect("a bound listener has an address");
        let shared = Arc::new(Shared {
            root: root.to_path_buf(),
            state: Mutex::default(),
            stop: AtomicBool::new(false),
            release: AtomicBool::new(false),
            json: AtomicBool::new(true),
        });
        let accept_shared = Arc::clone(&shared);
        let accept_thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if accept_shared.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let shared = Arc::clone(&accept_shared);
                // A failed spawn drops the connection, which the client sees as a reset.
                let _ = std::thread::Builder::new().spawn(move || {
                    let _ = handle(&shared, stream);
                });
            }
        });
        TestServer {
            addr,
            shared,
            accept_thread: Some(accept_thread),
        }
    }

    /// "http://127.0.0.1:PORT" (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Queues faults for a URL path (e.g. "/dists/trixie/InRelease"): each request for that path consumes one queued fault; when the queue is empty, requests are served normally.
    pub fn fail(&self, path: &str, faults: impl IntoIterator<Item = Fault>) {
        let mut state = self.shared.state();
        state
            .queued
            .entry(path.to_owned())
            .or_default()
            .extend(faults);
    }

    /// Every request for `path` gets `fault` until `clear(path)`. Queued faults from
    /// [`fail`](Self::fail) are consumed first.
    pub fn fail_always(&self, path: &str, fault: Fault) {
        self.shared.state().always.insert(path.to_owned(), fault);
    }

    /// Removes the queued and standing faults for `path`.
    pub fn clear(&self, path: &str) {
        let mut state = self.shared.state();
        state.queued.remove(path);
        state.always.remove(path);
    }

    /// Ends every [`Fault::Stall`] now and from now on (each closes its connection
    /// with the body cut short).
    pub fn release_stalls(&self) {
        self.shared.release.store(true, Ordering::SeqCst);
    }

    /// Whether a directory request that asks for JSON gets the directory's `index.json`
    /// (the default). With `false` every such request gets `index.html` (404 when there
    /// is none), as from an index that only speaks PEP 503 HTML.
    pub fn serve_json(&self, enabled: bool) {
        self.shared.json.store(enabled, Ordering::SeqCst);
    }

    /// Paths of all requests received so far, in arrival order (GET and HEAD).
    pub fn requests(&self) -> Vec<String> {
        self.shared.state().requests.clone()
    }

    /// How many requests were received for `path`.
    pub fn count(&self, path: &str) -> usize {
        let state = self.shared.state();
        state
            .requests
            .iter()
            .filter(|logged| *logged == path)
            .count()
    }
}

impl Drop for TestServer {
    /// Stops the accept loop and joins it. Connections in flight finish on their own
    /// threads (bounded by [`IO_TIMEOUT`]).
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the blocked `accept` so the loop sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(thread) = self.accept_thread.take() {
            let _ = thread.join();
        }
    }
}

/// What a request path finds on disk.
enum Found {
    /// A file's contents and the media type to send them as; `negotiated` when the
    /// file was chosen by the request's `Accept` header (a directory's index).
    File {
        contents: Vec<u8>,
        content_type: &'static str,
        negotiated: bool,
    },
    /// A directory with an index, asked for without its trailing slash: where to go.
    Redirect(String),
    Missing,
}

impl Found {
    /// The media type a replacement body is sent as: the one the file would have had.
    fn content_type(&self) -> &'static str {
        match self {
            Found::File { content_type, .. } => content_type,
            Found::Redirect(_) | Found::Missing => OCTET_STREAM,
        }
    }
}

/// Answers one connection. Any I/O error just ends it; the client sees a closed socket.
fn handle(shared: &Shared, mut stream: TcpStream) -> io::Result<()> {
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let Some(head) = read_head(&mut stream)? else {
        return Ok(());
    };
    let mut request_line = head.lines().next().unwrap_or_default().split_whitespace();
    let (Some(method), Some(target), Some(_version)) = (
        request_line.next(),
        request_line.next(),
        request_line.next(),
    ) else {
        return respond(
            &mut stream,
            &Reply::plain(400),
            b"bad request\n",
            None,
            false,
        );
    };
    let head_only = match method {
        "GET" => false,
        "HEAD" => true,
        _ => {
            let reply = Reply::plain(405);
            return respond(&mut stream, &reply, b"method not allowed\n", None, false);
        }
    };
    let wants_json = shared.json.load(Ordering::SeqCst) && accepts_simple_json(&head);
    let (raw_path, query) = target
        .split_once('?')
        .map_or((target, None), |(path, query)| (path, Some(query)));
    let path = percent_decode(raw_path);
    let fault = shared.record(&path);
    let find = || find(&shared.root, &path, raw_path, query, wants_json);
    let limit = match fault {
        Some(Fault::Drop) => return Ok(()),
        Some(Fault::Status(code)) => {
            let body = format!("injected fault: status {code}\n");
            return respond(
                &mut stream,
                &Reply::plain(code),
                body.as_bytes(),
                None,
                head_only,
            );
        }
        Some(Fault::Replace(body)) => {
            let reply = Reply::new(200, find().content_type());
            return respond(&mut stream, &reply, &body, None, head_only);
        }
        Some(Fault::Truncate(limit)) => Some(limit),
        Some(Fault::Stall) => {
            let found = find();
            let reply = Reply::new(200, found.content_type());
            let contents = match found {
                Found::File { contents, .. } => contents,
                Found::Redirect(_) | Found::Missing => Vec::new(),
            };
            respond(
                &mut stream,
                &reply,
                &contents,
                Some(contents.len() / 2),
                head_only,
            )?;
            for _ in 0..1200 {
                if shared.stop.load(Ordering::SeqCst) || shared.release.load(Ordering::SeqCst) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            return Ok(());
        }
        None => None,
    };
    match find() {
        Found::File {
            contents,
            content_type,
            negotiated,
        } => {
            let mut reply = Reply::new(200, content_type);
            if negotiated {
                reply.headers.push(("Vary", "Accept".to_owned()));
            }
            respond(&mut stream, &reply, &contents, limit, head_only)
        }
        Found::Redirect(location) => {
            let mut reply = Reply::plain(301);
            reply.headers.push(("Location", location));
            respond(&mut stream, &reply, b"moved permanently\n", None, head_only)
        }
        Found::Missing => respond(
            &mut stream,
            &Reply::plain(404),
            b"not found\n",
            None,
            head_only,
        ),
    }
}

/// Looks a decoded request path up under `root`. A path ending in `/` names a
/// directory and finds its index (`index.json` when `wants_json` and it exists, else
/// `index.html`); a directory with an index named without the slash is a redirect to
/// `raw_path/` (with the query kept); a directory without an index is missing.
fn find(root: &Path, path: &str, raw_path: &str, query: Option<&str>, wants_json: bool) -> Found {
    let Some(file) = resolve(root, path) else {
        return Found::Missing;
    };
    if file.is_dir() {
        let json = file.join("index.json");
        let html = file.join("index.html");
        if !path.ends_with('/') {
            if !json.is_file() && !html.is_file() {
                return Found::Missing;
            }
            let location = match query {
                Some(query) => format!("{raw_path}/?{query}"),
                None => format!("{raw_path}/"),
            };
            return Found::Redirect(location);
        }
        let (index, content_type) = if wants_json && json.is_file() {
            (json, SIMPLE_JSON)
        } else {
            (html, "text/html")
        };
        return match fs_err::read(index) {
            Ok(contents) => Found::File {
                contents,
                content_type,
                negotiated: true,
            },
            Err(_) => Found::Missing,
        };
    }
    match fs_err::read(&file) {
        Ok(contents) => Found::File {
            content_type: content_type_of(&file),
            contents,
            negotiated: false,
        },
        Err(_) => Found::Missing,
    }
}

/// The media type a file is sent as, by its extension.
fn content_type_of(file: &Path) -> &'static str {
    match file.extension().and_then(|extension| extension.to_str()) {
        Some("json") => "application/json",
        Some("html") => "text/html",
        _ => OCTET_STREAM,
    }
}

/// Whether the request's `Accept` headers list the PEP 691 JSON type (or its
/// `latest` alias) with a quality above zero.
fn accepts_simple_json(head: &str) -> bool {
    head.lines()
        .skip(1)
        .filter_map(|line| line.split_once(':'))
        .filter(|(name, _)| name.trim().eq_ignore_ascii_case("accept"))
        .flat_map(|(_, value)| value.split(','))
        .any(|range| {
            let mut parts = range.split(';').map(str::trim);
            let media_type = parts.next().unwrap_or_default().to_ascii_lowercase();
            let refused = parts.any(|parameter| {
                parameter
                    .strip_prefix("q=")
                    .and_then(|quality| quality.trim().parse::<f64>().ok())
                    .is_some_and(|quality| quality <= 0.0)
            });
            !refused
                && (media_type == SIMPLE_JSON
                    || media_type == "application/vnd.pypi.simple.latest+json")
        })
}

/// Reads up to the blank line that ends the request head, across as many TCP segments
/// as the client uses. `None` when the client closes first or the head is too large.
fn read_head(stream: &mut TcpStream) -> io::Result<Option<String>> {
    let mut head = Vec::new();
    let mut buffer = [0; 4096];
    while !head.windows(4).any(|window| window == b"\r\n\r\n") {
        if head.len() > MAX_HEAD {
            return Ok(None);
        }
        let read = stream.read(&mut buffer)?;
        if read == 0 {
            return Ok(None);
        }
        head.extend_from_slice(&buffer[..read]);
    }
    Ok(Some(String::from_utf8_lossy(&head).into_owned()))
}

/// The status line and headers of a response, besides the ones every response has
/// (`Content-Length`, `Connection: close`).
struct Reply {
    status: u16,
    content_type: &'static str,
    headers: Vec<(&'static str, String)>,
}

impl Reply {
    fn new(status: u16, content_type: &'static str) -> Self {
        Reply {
            status,
            content_type,
            headers: Vec::new(),
        }
    }

    /// A response whose body is a short note, sent as the server always sent them.
    fn plain(status: u16) -> Self {
        Reply::new(status, OCTET_STREAM)
    }
}

/// Writes a response with `body`'s full length as Content-Length, but only its first
/// `limit` bytes (all of them when `None`), and no body at all for HEAD.
fn respond(
    stream: &mut TcpStream,
    reply: &Reply,
    body: &[u8],
    limit: Option<usize>,
    head_only: bool,
) -> io::Result<()> {
    let status = reply.status;
    let reason = match status {
        200 => "OK",
        301 => "Moved Permanently",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Injected",
    };
    let mut head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Length: {}\r\nContent-Type: {}\r\n",
        body.len(),
        reply.content_type,
    );
    for (name, value) in &reply.headers {
        write!(head, "{name}: {value}\r\n").expect("write to a String");
    }
    head.push_str("Connection: close\r\n\r\n");
    stream.write_all(head.as_bytes())?;
    if !head_only {
        let sent = limit.unwrap_or(body.len()).min(body.len());
        stream.write_all(&body[..sent])?;
    }
    stream.flush()
}

/// Decodes every valid `%XX` escape (Debian pool names carry `%2B` for `+`, `%7E` for
/// `~`); a `%` not followed by two hex digits stays as it is.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let hex = |index: usize| bytes.get(index).and_then(|&b| char::from(b).to_digit(16));
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%'
            && let (Some(high), Some(low)) = (hex(index + 1), hex(index + 2))
        {
            decoded.push(u8::try_from(high * 16 + low).expect("two hex digits fit in a byte"));
            index += 3;
        } else {
            decoded.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

/// The file under `root` for a decoded URL path; `None` for a path that is not absolute
/// or has a `..` segment (which could escape `root`).
fn resolve(root: &Path, path: &str) -> Option<PathBuf> {
    let mut file = root.to_path_buf();
    for segment in path.strip_prefix('/')?.split('/') {
        match segment {
            ".." => return None,
            "" | "." => {}
            name => file.push(name),
        }
    }
    Some(file)
}
