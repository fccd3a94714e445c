//! Pushing an image layout (distribution spec, "Pushing blobs" and "Pushing manifests").
//!
//! Each blob (config and layers), at most [`crate::RegistryOptions::connections`] at once:
//! 1. `HEAD /v2/<repo>/blobs/<digest>`: the registry has it → skipped;
//! 2. for each repository to mount from, `POST /v2/<repo>/blobs/uploads/?mount=&from=`:
//!    `201` → mounted; `202` → the mount was refused, and the answer is an upload
//!    session to use;
//! 3. upload: a blob of at most [`crate::RegistryOptions::chunk_size`] bytes in one
//!    `PUT <location>?digest=`, a larger one in `PATCH`es with `Content-Range`, then an
//!    empty `PUT ?digest=`. When a request fails on the way (the connection dropped, a
//!    `5xx`), `GET <location>` asks the registry how much it has (`Range: 0-<last>`) and
//!    the upload goes on from there; when the registry has lost the session, the blob
//!    starts again. Both with backoff, at most [`crate::RegistryOptions::retries`] failures in a
//!    row.
//!
//! The manifest goes last, byte for byte as the layout has it, with its own media type,
//! and the `Docker-Content-Digest` the registry answers must be its digest.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use cairn_oci::Digest;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue, LOCATION, RANGE};
use url::Url;

use crate::client::{RegistryClient, Session, io_error, retryable_status};
use crate::error::RegistryError;
use crate::for_each_limited;
use crate::layout::{LocalBlob, read_layout};
use crate::reference::Reference;

/// What a push may reuse.
#[derive(Debug, Clone, Default)]
pub struct PushOptions {
    /// Repositories of the same registry whose blobs may be mounted rather than uploaded
    /// (an earlier version of the image, its base), tried in order.
    pub mount_from: Vec<String>,
}

/// What a push did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushReport {
    /// Blobs the registry had in the repository already.
    pub skipped: usize,
    /// Blobs mounted from another repository.
    pub mounted: usize,
    /// Blobs uploaded.
    pub uploaded: usize,
    /// Blob bytes (config and layers) the registry acknowledged: a blob restarted after
    /// a dropped connection counts again.
    pub bytes_uploaded: u64,
    /// The manifest's size.
    pub manifest_bytes: u64,
    /// The manifest's digest: the image's, `…@<digest>`.
    pub digest: Digest,
}

/// Progress of a push. All methods have empty defaults; they are called from the
/// worker threads, several blobs at once.
pub trait PushReporter: Send + Sync {
    /// The push starts: this many blobs of this many bytes in all, before any is looked at.
    fn on_push_start(&self, _blobs: usize, _bytes: u64) {}
    /// The registry has this blob already.
    fn on_blob_skipped(&self, _digest: &Digest, _size: u64) {}
    /// The blob was mounted from repository `from`.
    fn on_blob_mounted(&self, _digest: &Digest, _size: u64, _from: &str) {}
    fn on_blob_upload_start(&self, _digest: &Digest, _size: u64) {}
    /// The registry has the first `uploaded` bytes of the blob (after a restart it may
    /// have fewer than before).
    fn on_blob_upload_progress(&self, _digest: &Digest, _uploaded: u64) {}
    /// A request of the upload failed; it resumes or restarts after `wait`.
    fn on_blob_upload_retry(&self, _digest: &Digest, _error: &RegistryError, _wait: Duration) {}
    fn on_blob_upload_done(&self, _digest: &Digest, _size: u64) {}
    /// The manifest is in place: the push is done.
    fn on_manifest_pushed(&self, _digest: &Digest, _size: u64) {}
}

/// A [`PushReporter`] that reports nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoPushReporter;

impl PushReporter for NoPushReporter {}

/// What became of one blob.
enum Outcome {
    Skipped,
    Mounted,
    Uploaded(u64),
}

/// What every blob task shares.
struct Context {
    session: Arc<Session>,
    repository: String,
    mount_from: Vec<String>,
    chunk_size: u64,
    reporter: Arc<dyn PushReporter>,
}

impl RegistryClient {
    /// Pushes the one image of the OCI image layout at `layout` to `target` (by its tag;
    /// by digest when it names only a digest, which must be the image's).
    pub fn push(
        &self,
        layout: &Path,
        target: &Reference,
        options: &PushOptions,
        reporter: &Arc<dyn PushReporter>,
    ) -> Result<PushReport, RegistryError> {
        let image = read_layout(layout)?;
        if let Some(wanted) = target.digest()
            && *wanted != image.digest
        {
            return Err(RegistryError::DigestMismatch {
                what: format!("the image in `{}`", layout.display()),
                expected: wanted.to_string(),
                actual: image.digest.to_string(),
            });
        }
        let repository = target.repository().to_owned();
        let mut mount_from: Vec<String> = Vec::new();
        for from in &options.mount_from {
            // Checked as a reference would be; a mount from itself is no mount.
            target.in_repository(from)?;
            if *from != repository && !mount_from.contains(from) {
                mount_from.push(from.clone());
            }
        }
        let scopes = std::iter::once(format!("repository:{repository}:pull,push"))
            .chain(
                mount_from
                    .iter()
                    .map(|from| format!("repository:{from}:pull")),
            )
            .collect();
        let session = self.session(target, scopes)?;
        let context = Arc::new(Context {
            session: session.clone(),
            repository: repository.clone(),
            mount_from,
            chunk_size: self.options.chunk_size.max(1),
            reporter: reporter.clone(),
        });
        let connections = self.options.connections;
        let blob_bytes = image.blobs.iter().map(|b| b.size).sum();
        let mut report = PushReport {
            skipped: 0,
            mounted: 0,
            uploaded: 0,
            bytes_uploaded: 0,
            manifest_bytes: image.manifest.len() as u64,
            digest: image.digest,
        };
        self.runtime.block_on(async {
            session.ping().await?;
            reporter.on_push_start(image.blobs.len(), blob_bytes);
            for_each_limited(
                image.blobs,
                connections,
                |blob| {
                    let context = context.clone();
                    async move { push_blob(&context, &blob).await }
                },
                |outcome| match outcome {
                    Outcome::Skipped => report.skipped += 1,
                    Outcome::Mounted => report.mounted += 1,
                    Outcome::Uploaded(bytes) => {
                        report.uploaded += 1;
                        report.bytes_uploaded += bytes;
                    }
                },
            )
            .await?;
            put_manifest(
                &session,
                target,
                &image.manifest,
                &image.media_type,
                &image.digest,
            )
            .await?;
            reporter.on_manifest_pushed(&image.digest, report.manifest_bytes);
            Ok(report)
        })
    }
}

/// `PUT /v2/<repo>/manifests/<tag or digest>`, then the digest check.
async fn put_manifest(
    session: &Session,
    target: &Reference,
    manifest: &[u8],
    media_type: &str,
    digest: &Digest,
) -> Result<(), RegistryError> {
    let reference = target
        .tag()
        .map_or_else(|| digest.to_string(), str::to_owned);
    let url = session.url(&format!("v2/{}/manifests/{reference}", target.repository()));
    let body = Bytes::copy_from_slice(manifest);
    let response = session
        .send_retrying(|| {
            session
                .http
                .put(url.clone())
                .header(CONTENT_TYPE, media_type)
                .body(body.clone())
        })
        .await?;
    if !response.status().is_success() {
        return Err(session
            .error(response, format!("the manifest {digest} for `{target}`"))
            .await);
    }
    if let Some(stored) = response
        .headers()
        .get("docker-content-digest")
        .and_then(|v| v.to_str().ok())
        && stored != digest.to_string()
    {
        return Err(RegistryError::DigestMismatch {
            what: format!(
                "the manifest the registry `{}` stored for `{target}`",
                session.registry
            ),
            expected: digest.to_string(),
            actual: stored.to_owned(),
        });
    }
    Ok(())
}

async fn push_blob(context: &Context, blob: &LocalBlob) -> Result<Outcome, RegistryError> {
    let session = &context.session;
    let reporter = &context.reporter;
    let url = session.url(&format!("v2/{}/blobs/{}", context.repository, blob.digest));
    let response = session
        .send_retrying(|| session.http.head(url.clone()))
        .await?;
    match response.status() {
        status if status.is_success() => {
            reporter.on_blob_skipped(&blob.digest, blob.size);
            return Ok(Outcome::Skipped);
        }
        StatusCode::NOT_FOUND => {}
        _ => {
            return Err(session
                .error(response, format!("blob {}", blob.digest))
                .await);
        }
    }
    let mut session_url = None;
    for from in &context.mount_from {
        match start_upload(context, blob, Some(from)).await? {
            Started::Mounted => {
                reporter.on_blob_mounted(&blob.digest, blob.size, from);
                return Ok(Outcome::Mounted);
            }
            Started::Session(location) => {
                if let Some(abandoned) = session_url.replace(location) {
                    cancel_upload(session, abandoned).await;
                }
            }
        }
    }
    reporter.on_blob_upload_start(&blob.digest, blob.size);
    let sent = upload(context, blob, session_url).await?;
    reporter.on_blob_upload_done(&blob.digest, blob.size);
    Ok(Outcome::Uploaded(sent))
}

enum Started {
    Mounted,
    Session(Url),
}

/// `POST /v2/<repo>/blobs/uploads/`, with a mount when `from` is given.
async fn start_upload(
    context: &Context,
    blob: &LocalBlob,
    from: Option<&str>,
) -> Result<Started, RegistryError> {
    let session = &context.session;
    let mut url = session.url(&format!("v2/{}/blobs/uploads/", context.repository));
    if let Some(from) = from {
        url.query_pairs_mut()
            .append_pair("mount", &blob.digest.to_string())
            .append_pair("from", from);
    }
    let response = session
        .send_retrying(|| session.http.post(url.clone()).header(CONTENT_LENGTH, 0))
        .await?;
    match response.status() {
        StatusCode::CREATED if from.is_some() => Ok(Started::Mounted),
        StatusCode::ACCEPTED => location(session, &response).map(Started::Session),
        _ => Err(session
            .error(
                response,
                format!(
                    "an upload of blob {} to `{}`",
                    blob.digest, context.repository
                ),
            )
            .await),
    }
}

/// The upload session a response names (`Location`, maybe relative).
fn location(session: &Session, response: &reqwest::Response) -> Result<Url, RegistryError> {
    let text = response
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| RegistryError::BadResponse {
            registry: session.registry.clone(),
            what: format!("a {} answer to `{}`", response.status(), response.url()),
            message: "it has no `Location` header".to_owned(),
        })?;
    let bad = |message: String| RegistryError::BadResponse {
        registry: session.registry.clone(),
        what: format!("the upload location `{text}`"),
        message,
    };
    let url = response.url().join(text).map_err(|e| bad(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("it is not an HTTP or HTTPS URL".to_owned()));
    }
    Ok(url)
}

/// Abandons an upload session (a refused mount's, when another mount is tried).
async fn cancel_upload(session: &Session, location: Url) {
    let _ = session.send(|| session.http.delete(location.clone())).await;
}

/// An upload session and how much of the blob the registry has.
struct Upload {
    location: Url,
    offset: u64,
    /// Continued after a failure (a digest the registry then rejects may be its fault).
    resumed: bool,
}

/// How a request of an upload ended.
enum Step {
    /// The blob is complete; this many bytes went with the last request.
    Done(u64),
    /// A chunk was accepted.
    Chunk(u64),
}

/// How a request of an upload failed.
enum Failure {
    /// The connection dropped or the registry had a passing fault: ask where it is.
    Interrupted(RegistryError),
    /// The registry lost the session or its position: start again.
    Lost(RegistryError),
    /// Nothing to retry (refused, unauthorized, a bad digest).
    Fatal(RegistryError),
}

/// Uploads the blob, in the session `initial` if a refused mount opened one; returns
/// the bytes the registry acknowledged.
async fn upload(
    context: &Context,
    blob: &LocalBlob,
    initial: Option<Url>,
) -> Result<u64, RegistryError> {
    let session = &context.session;
    let gave_up = |attempts: u32, source: RegistryError| RegistryError::BlobUpload {
        digest: blob.digest.to_string(),
        registry: session.registry.clone(),
        attempts,
        source: Box::new(source),
    };
    let mut current = initial.map(|location| Upload {
        location,
        offset: 0,
        resumed: false,
    });
    let mut sent = 0;
    // Failures since the upload last got further than ever before: a blob started
    // again re-sends chunks the registry had, which is no progress (found in review: a
    // registry refusing the same chunk each time had the blob started again forever).
    let mut furthest = 0;
    let mut failures = 0;
    let mut wait = session.backoff;
    loop {
        let mut upload = match current.take() {
            Some(upload) => upload,
            None => match start_upload(context, blob, None).await {
                Ok(Started::Session(location)) => Upload {
                    location,
                    offset: 0,
                    resumed: false,
                },
                Ok(Started::Mounted) => unreachable!("an upload without `mount` is not a mount"),
                Err(e) => return Err(gave_up(failures + 1, e)),
            },
        };
        let failure = match advance(context, blob, &mut upload).await {
            Ok(Step::Done(bytes)) => return Ok(sent + bytes),
            Ok(Step::Chunk(bytes)) => {
                sent += bytes;
                if upload.offset > furthest {
                    furthest = upload.offset;
                    failures = 0;
                    wait = session.backoff;
                }
                context
                    .reporter
                    .on_blob_upload_progress(&blob.digest, upload.offset);
                current = Some(upload);
                continue;
            }
            Err(failure) => failure,
        };
        let (error, resume) = match failure {
            Failure::Fatal(error) => return Err(gave_up(failures + 1, error)),
            Failure::Interrupted(error) => (error, true),
            Failure::Lost(error) => (error, false),
        };
        failures += 1;
        if failures > session.retries {
            return Err(gave_up(failures, error));
        }
        context
            .reporter
            .on_blob_upload_retry(&blob.digest, &error, wait);
        tokio::time::sleep(wait).await;
        wait = wait.saturating_mul(2);
        if resume && let Some(resumed) = upload_status(session, &upload.location, blob.size).await {
            context
                .reporter
                .on_blob_upload_progress(&blob.digest, resumed.offset);
            current = Some(resumed);
        }
        // Otherwise the session is gone: `current` stays empty and the blob starts again.
    }
}

/// `GET <location>`: how much of the blob the registry has, and where to go on. `None`
/// when the session cannot be continued.
async fn upload_status(session: &Session, location: &Url, size: u64) -> Option<Upload> {
    let response = session
        .send(|| session.http.get(location.clone()))
        .await
        .ok()?;
    if !response.status().is_success() {
        return None;
    }
    // Distribution says `0-0` for an empty upload too, and a registry with one byte is
    // corrected by its `416` to the next `PATCH`.
    let offset = match response.headers().get(RANGE) {
        None => 0,
        Some(range) => match received(range)? {
            1 => 0,
            n => n,
        },
    };
    if offset > size {
        return None;
    }
    let location = match response.headers().get(LOCATION) {
        Some(_) => self::location(session, &response).ok()?,
        None => location.clone(),
    };
    Some(Upload {
        location,
        offset,
        resumed: true,
    })
}

/// The bytes a registry says it has: `Range: 0-<last byte>` (or `bytes=0-…`); `None`
/// for anything else, `Range` answers being the registry's to get right.
fn received(range: &HeaderValue) -> Option<u64> {
    let range = range.to_str().ok()?.trim();
    let (start, end) = range
        .strip_prefix("bytes=")
        .unwrap_or(range)
        .split_once('-')?;
    if start != "0" {
        return None;
    }
    end.parse::<u64>().ok()?.checked_add(1)
}

/// One request of an upload: the whole blob in one `PUT` when it is small and nothing
/// is uploaded yet, the next chunk in a `PATCH`, or the closing `PUT` once the registry
/// has it all.
async fn advance(
    context: &Context,
    blob: &LocalBlob,
    upload: &mut Upload,
) -> Result<Step, Failure> {
    let session = &context.session;
    let remaining = blob.size - upload.offset;
    let digest = blob.digest.to_string();
    if remaining == 0 || (upload.offset == 0 && blob.size <= context.chunk_size) {
        let body = read_range(&blob.path, upload.offset, remaining)
            .await
            .map_err(Failure::Fatal)?;
        let mut url = upload.location.clone();
        url.query_pairs_mut().append_pair("digest", &digest);
        let response = session
            .send(|| {
                session
                    .http
                    .put(url.clone())
                    .header(CONTENT_TYPE, "application/octet-stream")
                    .header(CONTENT_LENGTH, body.len())
                    .body(body.clone())
            })
            .await
            .map_err(interrupted)?;
        if response.status().is_success() {
            return Ok(Step::Done(remaining));
        }
        return Err(classify(session, response, blob, upload.resumed).await);
    }
    let length = remaining.min(context.chunk_size);
    let body = read_range(&blob.path, upload.offset, length)
        .await
        .map_err(Failure::Fatal)?;
    let range = format!("{}-{}", upload.offset, upload.offset + length - 1);
    let url = upload.location.clone();
    let response = session
        .send(|| {
            session
                .http
                .patch(url.clone())
                .header(CONTENT_TYPE, "application/octet-stream")
                .header("content-range", &range)
                .header(CONTENT_LENGTH, length)
                .body(body.clone())
        })
        .await
        .map_err(interrupted)?;
    if response.status() != StatusCode::ACCEPTED {
        return Err(classify(session, response, blob, upload.resumed).await);
    }
    let next = location(session, &response).map_err(Failure::Fatal)?;
    // The registry's word on what it has, when it gives one cairn can read; the digest
    // it checks at the end has the last word.
    let offset = response
        .headers()
        .get(RANGE)
        .and_then(received)
        .unwrap_or(upload.offset + length);
    if offset != upload.offset + length {
        return Err(Failure::Lost(RegistryError::BadResponse {
            registry: session.registry.clone(),
            what: format!("the answer to the chunk {range} of blob {digest}"),
            message: format!("it says it has {offset} bytes"),
        }));
    }
    upload.location = next;
    upload.offset = offset;
    Ok(Step::Chunk(length))
}

fn interrupted(error: RegistryError) -> Failure {
    match error {
        RegistryError::Unreachable { .. } => Failure::Interrupted(error),
        other => Failure::Fatal(other),
    }
}

/// What a failed upload request means.
async fn classify(
    session: &Session,
    response: reqwest::Response,
    blob: &LocalBlob,
    resumed: bool,
) -> Failure {
    let status = response.status();
    let error = session
        .error(response, format!("the upload of blob {}", blob.digest))
        .await;
    let said = |code: &str| match &error {
        RegistryError::Refused { messages, .. } | RegistryError::NotFound { messages, .. } => {
            messages.iter().any(|m| m.starts_with(code))
        }
        _ => false,
    };
    if retryable_status(status) {
        Failure::Interrupted(error)
    } else if status == StatusCode::NOT_FOUND
        || status == StatusCode::RANGE_NOT_SATISFIABLE
        || said("BLOB_UPLOAD_INVALID")
        || said("BLOB_UPLOAD_UNKNOWN")
        || said("RANGE_INVALID")
        || (resumed && said("DIGEST_INVALID"))
    {
        Failure::Lost(error)
    } else {
        Failure::Fatal(error)
    }
}

/// `length` bytes of `path` from `offset`, read off the runtime's threads.
async fn read_range(path: &Path, offset: u64, length: u64) -> Result<Bytes, RegistryError> {
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || {
        use std::io::{Read as _, Seek as _, SeekFrom};
        let mut file = fs_err::File::open(&path).map_err(io_error(&path))?;
        file.seek(SeekFrom::Start(offset))
            .map_err(io_error(&path))?;
        let mut buffer =
            vec![0; usize::try_from(length).expect("a chunk is smaller than the address space")];
        file.read_exact(&mut buffer).map_err(io_error(&path))?;
        Ok(Bytes::from(buffer))
    })
    .await
    .map_err(|e| RegistryError::Client(format!("a file read failed: {e}")))?
}
