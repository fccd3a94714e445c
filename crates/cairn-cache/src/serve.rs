//! `cairn serve`: the local store as a read-only binary cache over HTTP, for a team or
//! a CI fleet, in the spirit of `nix-serve`.
//!
//! `GET`/`HEAD` of `/nix-cache-info`, `/<hash>.narinfo` and `/nar/<hash>-<name>.nar`.
//! NARs are served uncompressed (`Compression: none`), streamed from the object's files
//! as they are read, so nothing is compressed or kept per request; their file hash and
//! size are then the NAR's own. With a key, every `.narinfo` is signed as it is served.

use std::io::Write;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::Frame;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

use cairn_store::{Store, StorePath};

use crate::narinfo::{CACHE_INFO, NarInfo};
use crate::{CacheError, SecretKey};

type Body = BoxBody<Bytes, std::io::Error>;

fn full(status: StatusCode, content_type: &str, bytes: impl Into<Bytes>) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(
            Full::new(bytes.into())
                .map_err(|never| match never {})
                .boxed(),
        )
        .expect("a valid response")
}

fn text(status: StatusCode, message: &str) -> Response<Body> {
    full(status, "text/plain", format!("{message}\n"))
}

/// The object whose hash part is `hash`, if the store has one.
fn object_by_hash(store: &Store, hash: &str) -> Option<StorePath> {
    if hash.len() != 32 {
        return None;
    }
    let path = store.resolve(hash).ok()?;
    (path.hash().to_string() == hash).then_some(path)
}

/// The `.narinfo` the server gives for `path`.
pub fn served_narinfo(
    store: &Store,
    path: &StorePath,
    key: Option<&SecretKey>,
) -> Result<NarInfo, CacheError> {
    let object = store.info(path)?;
    let mut info = NarInfo {
        url: format!("nar/{path}.nar"),
        compression: "none".to_owned(),
        file_hash: object.nar_hash,
        file_size: object.nar_size,
        object,
        sigs: Vec::new(),
    };
    if let Some(key) = key {
        info.sign(key);
    }
    Ok(info)
}

/// Sends what it is given to the response body, a chunk at a time.
struct ChannelWriter(tokio::sync::mpsc::Sender<Result<Frame<Bytes>, std::io::Error>>);

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .blocking_send(Ok(Frame::data(Bytes::copy_from_slice(buf))))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client gone"))?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn nar_response(store: Arc<Store>, path: StorePath, head: bool) -> Response<Body> {
    let Ok(info) = store.info(&path) else {
        return text(StatusCode::NOT_FOUND, "no such object");
    };
    let builder = Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/x-nix-nar")
        .header("content-length", info.nar_size);
    if head {
        return builder
            .body(
                Full::new(Bytes::new())
                    .map_err(|never| match never {})
                    .boxed(),
            )
            .expect("a valid response");
    }
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    tokio::task::spawn_blocking(move || {
        let mut out = std::io::BufWriter::with_capacity(256 << 10, ChannelWriter(tx.clone()));
        let result = store
            .dump_nar(&path, &mut out)
            .map(|_| ())
            .and_then(|()| out.flush().map_err(cairn_store::StoreError::Io));
        if let Err(e) = result {
            tracing::warn!("serving {path}: {e}");
            let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    builder
        .body(BodyExt::boxed(StreamBody::new(stream)))
        .expect("a valid response")
}

fn respond(
    store: &Arc<Store>,
    key: Option<&SecretKey>,
    request: &Request<hyper::body::Incoming>,
) -> Response<Body> {
    let head = request.method() == Method::HEAD;
    if !head && request.method() != Method::GET {
        return text(StatusCode::METHOD_NOT_ALLOWED, "this cache is read-only");
    }
    let path = request.uri().path().trim_start_matches('/');
    if path == "nix-cache-info" {
        return full(StatusCode::OK, "text/x-nix-cache-info", CACHE_INFO);
    }
    if let Some(hash) = path.strip_suffix(".narinfo") {
        let Some(object) = object_by_hash(store, hash) else {
            return text(StatusCode::NOT_FOUND, "no such object");
        };
        return match served_narinfo(store, &object, key) {
            Ok(info) => full(StatusCode::OK, "text/x-nix-narinfo", info.to_text()),
            Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        };
    }
    if let Some(name) = path
        .strip_prefix("nar/")
        .and_then(|p| p.strip_suffix(".nar"))
        && let Ok(object) = name.parse::<StorePath>()
    {
        return nar_response(store.clone(), object, head);
    }
    text(StatusCode::NOT_FOUND, "not found")
}

/// Serves `store` on `listener` until the process ends.
pub fn serve(
    store: &Arc<Store>,
    listener: std::net::TcpListener,
    key: Option<SecretKey>,
) -> Result<(), CacheError> {
    let dir = store.layout_dir().to_owned();
    let io = |source| CacheError::Io {
        path: dir.clone(),
        source,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(&io)?;
    listener.set_nonblocking(true).map_err(&io)?;
    let key = Arc::new(key);
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::from_std(listener).map_err(&io)?;
        loop {
            let (stream, _) = listener.accept().await.map_err(&io)?;
            let (store, key) = (Arc::clone(store), Arc::clone(&key));
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    let response = respond(&store, (*key).as_ref(), &request);
                    async move { Ok::<_, std::convert::Infallible>(response) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    })
}
