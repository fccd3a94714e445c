//! Pulling an image into an OCI image layout (distribution spec, "Pulling manifests" and
//! "Pulling blobs").
//!
//! The manifest is asked for as OCI or Docker v2 (manifest or index/list). An index
//! leads to the manifest of the wanted platform (the host's by default). Every document
//! is checked against the digest that names it: the reference's `@sha256:…` for the
//! first one, the index's descriptor for the image's. The config and layers are
//! downloaded at most [`crate::RegistryOptions::connections`] at once, each checked for
//! size while it streams and for its SHA-256 at the end. Everything is written into a
//! directory beside the destination and renamed into place only when all of it is
//! verified, so a failed pull leaves nothing.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use cairn_fetch::http::Retry;
use cairn_oci::{Descriptor, Digest, Platform};
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use sha2::Digest as _;

use crate::client::{RegistryClient, Session, io_error, with_attempts};
use crate::error::RegistryError;
use crate::for_each_limited;
use crate::layout::{
    DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, DescriptorDoc, ManifestDoc, OCI_INDEX, OCI_MANIFEST,
    blob_path, parse_digest, platform_name, ref_name,
};
use crate::reference::Reference;

/// The largest manifest or index accepted (distribution's own limit is 4 MiB).
const MANIFEST_LIMIT: u64 = 4 << 20;

/// What to pull.
#[derive(Debug, Clone, Default)]
pub struct PullOptions {
    /// The platform to choose from an index; the host's ([`host_platform`]) when `None`.
    /// A `variant` of `None` accepts any variant.
    pub platform: Option<Platform>,
}

/// What a pull did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullReport {
    /// The image manifest's digest (the one in the layout's `index.json`).
    pub digest: Digest,
    pub media_type: String,
    /// The index the image was chosen from, when the reference named one.
    pub index_digest: Option<Digest>,
    pub manifest_bytes: u64,
    /// Config and layers, each once.
    pub blobs: usize,
    /// Their bytes.
    pub bytes_downloaded: u64,
}

/// A manifest (or index) as the registry serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteManifest {
    pub bytes: Vec<u8>,
    /// The `Content-Type` it was served with.
    pub media_type: String,
    /// The SHA-256 of `bytes`.
    pub digest: Digest,
}

/// Progress of a pull. All methods have empty defaults; they are called from the worker
/// threads, several blobs at once.
pub trait PullReporter: Send + Sync {
    /// The image's manifest is known: this many blobs of this many bytes to download.
    fn on_pull_start(&self, _blobs: usize, _bytes: u64) {}
    fn on_blob_download_start(&self, _digest: &Digest, _size: u64) {}
    /// The first `downloaded` bytes of the blob are in (fewer after a restart).
    fn on_blob_download_progress(&self, _digest: &Digest, _downloaded: u64) {}
    /// A download failed on the way; it starts again after `wait`.
    fn on_blob_download_retry(&self, _digest: &Digest, _error: &RegistryError, _wait: Duration) {}
    /// The blob is complete and verified.
    fn on_blob_download_done(&self, _digest: &Digest, _size: u64) {}
}

/// A [`PullReporter`] that reports nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoPullReporter;

impl PullReporter for NoPullReporter {}

/// This machine's platform in OCI (`GOARCH`) names: `linux/amd64`, `linux/arm64`, ….
pub fn host_platform() -> Platform {
    let architecture = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
        "powerpc64" => "ppc64",
        "loongarch64" => "loong64",
        other => other,
    };
    Platform {
        architecture: architecture.to_owned(),
        os: "linux".to_owned(),
        variant: None,
    }
}

/// What the blob downloads share.
struct Context {
    session: Arc<Session>,
    repository: String,
    blobs: PathBuf,
    reporter: Arc<dyn PullReporter>,
}

impl RegistryClient {
    /// The manifest (or index) `reference` names, checked against its digest when it has
    /// one.
    pub fn manifest(&self, reference: &Reference) -> Result<RemoteManifest, RegistryError> {
        let session = self.session(
            reference,
            vec![format!("repository:{}:pull", reference.repository())],
        )?;
        self.runtime.block_on(async {
            session.ping().await?;
            fetch_manifest(
                &session,
                reference,
                &reference.manifest_reference(),
                reference.digest(),
            )
            .await
        })
    }

    /// Pulls `source` into a new OCI image layout at `dest` (an empty directory or an
    /// earlier layout is replaced; anything else is refused).
    pub fn pull(
        &self,
        source: &Reference,
        dest: &Path,
        options: &PullOptions,
        reporter: &Arc<dyn PullReporter>,
    ) -> Result<PullReport, RegistryError> {
        if dest.exists() && !is_empty_dir(dest) && !is_only_a_layout(dest) {
            return Err(RegistryError::NotALayout(dest.to_owned()));
        }
        let parent = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
        let name = dest
            .file_name()
            .map_or_else(|| "layout".into(), |n| n.to_string_lossy().into_owned());
        let staging = tempfile::Builder::new()
            .prefix(&format!(".{name}.cairn-pull-"))
            .tempdir_in(&parent)
            .map_err(io_error(&parent))?;
        let blobs = staging.path().join("blobs/sha256");
        fs_err::create_dir_all(&blobs).map_err(io_error(&blobs))?;
        let session = self.session(
            source,
            vec![format!("repository:{}:pull", source.repository())],
        )?;
        let context = Arc::new(Context {
            session: session.clone(),
            repository: source.repository().to_owned(),
            blobs,
            reporter: reporter.clone(),
        });
        let wanted = options.platform.clone().unwrap_or_else(host_platform);
        let connections = self.options.connections.max(1);
        let report = self.runtime.block_on(pull_into(
            &context,
            source,
            &wanted,
            connections,
            staging.path(),
        ))?;
        install(staging, dest, &parent, &name)?;
        Ok(report)
    }
}

async fn pull_into(
    context: &Arc<Context>,
    source: &Reference,
    wanted: &Platform,
    connections: usize,
    root: &Path,
) -> Result<PullReport, RegistryError> {
    let session = &context.session;
    session.ping().await?;
    let (image, document, index_digest) = resolve_image(session, source, wanted).await?;
    let media_type = document.media_type(Some(&image.media_type));
    if media_type != OCI_MANIFEST && media_type != DOCKER_MANIFEST || document.schema_version != 2 {
        return Err(RegistryError::UnsupportedMediaType {
            what: format!("the manifest {} of `{source}`", image.digest),
            media_type: format!("{media_type}, schemaVersion {}", document.schema_version),
        });
    }
    let bad = |message: String| RegistryError::BadResponse {
        registry: session.registry.clone(),
        what: format!("the manifest {} of `{source}`", image.digest),
        message,
    };
    let config = document
        .config
        .as_ref()
        .ok_or_else(|| bad("it has no config".to_owned()))?;
    let mut blobs: Vec<(Digest, u64)> = Vec::new();
    for descriptor in std::iter::once(config).chain(&document.layers) {
        let digest = parse_digest(&descriptor.digest).map_err(bad)?;
        if !blobs.iter().any(|(d, _)| *d == digest) {
            blobs.push((digest, descriptor.size));
        }
    }
    let total = blobs
        .iter()
        .try_fold(0u64, |total, (_, size)| total.checked_add(*size))
        .ok_or_else(|| bad("its blob sizes add up to more than 2^64 bytes".to_owned()))?;
    let manifest_path = blob_path(root, &image.digest);
    fs_err::write(&manifest_path, &image.bytes).map_err(io_error(&manifest_path))?;
    context.reporter.on_pull_start(blobs.len(), total);
    for_each_limited(
        blobs.iter().copied(),
        connections,
        |(digest, size)| {
            let context = context.clone();
            async move { download_blob(&context, digest, size).await }
        },
        |()| {},
    )
    .await?;
    let oci_layout = root.join("oci-layout");
    fs_err::write(&oci_layout, br#"{"imageLayoutVersion":"1.0.0"}"#)
        .map_err(io_error(&oci_layout))?;
    let descriptor = Descriptor {
        media_type: media_type.clone(),
        digest: image.digest,
        size: image.bytes.len() as u64,
        annotations: ref_name(source.tag()),
        platform: None,
    };
    let index = root.join("index.json");
    fs_err::write(&index, cairn_oci::index_json(&[descriptor])).map_err(io_error(&index))?;
    Ok(PullReport {
        digest: image.digest,
        media_type,
        index_digest,
        manifest_bytes: image.bytes.len() as u64,
        blobs: blobs.len(),
        bytes_downloaded: total,
    })
}

/// The image manifest `source` names: itself, or the one for `wanted` from the index it
/// names (with the index's digest).
async fn resolve_image(
    session: &Session,
    source: &Reference,
    wanted: &Platform,
) -> Result<(RemoteManifest, ManifestDoc, Option<Digest>), RegistryError> {
    let top = fetch_manifest(
        session,
        source,
        &source.manifest_reference(),
        source.digest(),
    )
    .await?;
    let document = parse_manifest(session, &top)?;
    if !document.is_index(Some(&top.media_type)) {
        return Ok((top, document, None));
    }
    let chosen = choose(
        source,
        document.manifests.as_deref().unwrap_or_default(),
        wanted,
    )?;
    let digest = parse_digest(&chosen.digest).map_err(|message| RegistryError::BadResponse {
        registry: session.registry.clone(),
        what: format!("the index of `{source}`"),
        message,
    })?;
    let image = fetch_manifest(session, source, &digest.to_string(), Some(&digest)).await?;
    if image.bytes.len() as u64 != chosen.size {
        return Err(RegistryError::SizeMismatch {
            what: format!("the manifest {digest} of `{source}`"),
            expected: chosen.size,
            actual: image.bytes.len() as u64,
        });
    }
    let document = parse_manifest(session, &image)?;
    Ok((image, document, Some(top.digest)))
}

fn parse_manifest(
    session: &Session,
    manifest: &RemoteManifest,
) -> Result<ManifestDoc, RegistryError> {
    serde_json::from_slice(&manifest.bytes).map_err(|e| RegistryError::BadResponse {
        registry: session.registry.clone(),
        what: format!("the manifest {}", manifest.digest),
        message: e.to_string(),
    })
}

/// The entry of an index for `wanted`.
fn choose<'a>(
    source: &Reference,
    manifests: &'a [DescriptorDoc],
    wanted: &Platform,
) -> Result<&'a DescriptorDoc, RegistryError> {
    manifests
        .iter()
        .find(|m| {
            m.platform.as_ref().is_some_and(|p| {
                p.os == wanted.os
                    && p.architecture == wanted.architecture
                    && (wanted.variant.is_none() || p.variant == wanted.variant)
            })
        })
        .ok_or_else(|| RegistryError::NoPlatform {
            reference: source.to_string(),
            wanted: platform_name(&wanted.os, &wanted.architecture, wanted.variant.as_deref()),
            available: {
                let names: Vec<String> = manifests
                    .iter()
                    .filter_map(|m| m.platform.as_ref())
                    .map(|p| platform_name(&p.os, &p.architecture, p.variant.as_deref()))
                    .collect();
                if names.is_empty() {
                    "no platforms".to_owned()
                } else {
                    names.join(", ")
                }
            },
        })
}

/// `GET /v2/<repo>/manifests/<name>`, checked against `expected` and against the
/// `Docker-Content-Digest` the registry sends.
async fn fetch_manifest(
    session: &Session,
    source: &Reference,
    name: &str,
    expected: Option<&Digest>,
) -> Result<RemoteManifest, RegistryError> {
    let url = session.url(&format!("v2/{}/manifests/{name}", source.repository()));
    let accept = [
        OCI_MANIFEST,
        OCI_INDEX,
        DOCKER_MANIFEST,
        DOCKER_MANIFEST_LIST,
    ]
    .join(", ");
    let mut response = session
        .send_retrying(|| session.http.get(url.clone()).header(ACCEPT, &accept))
        .await?;
    if !response.status().is_success() {
        let what = if response.status() == StatusCode::NOT_FOUND {
            format!(
                "manifest `{name}` in the repository `{}` (the repository or the tag does not exist)",
                source.repository()
            )
        } else {
            format!("the manifest `{name}` of `{}`", source.repository())
        };
        return Err(session.error(response, what).await);
    }
    let media_type = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or(v).trim().to_owned())
        .unwrap_or_default();
    let claimed = response
        .headers()
        .get("docker-content-digest")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<Digest>().ok());
    let too_large = || RegistryError::BadResponse {
        registry: session.registry.clone(),
        what: format!("the manifest `{name}`"),
        message: format!("it is larger than {MANIFEST_LIMIT} bytes"),
    };
    if response
        .content_length()
        .is_some_and(|length| length > MANIFEST_LIMIT)
    {
        return Err(too_large());
    }
    // Not `read_small`, which stops at 1 MiB without a word (found in review: a larger
    // manifest was cut short and failed as bad JSON or a wrong digest).
    let mut bytes = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| session.unreachable(&url, &e))?
    {
        if (bytes.len() + chunk.len()) as u64 > MANIFEST_LIMIT {
            return Err(too_large());
        }
        bytes.extend_from_slice(&chunk);
    }
    let digest = Digest::of(&bytes);
    let what = || format!("the manifest `{name}` of `{source}`");
    for wanted in [expected, claimed.as_ref()].into_iter().flatten() {
        if *wanted != digest {
            return Err(RegistryError::DigestMismatch {
                what: what(),
                expected: wanted.to_string(),
                actual: digest.to_string(),
            });
        }
    }
    Ok(RemoteManifest {
        bytes,
        media_type,
        digest,
    })
}

/// Downloads one blob into the staging directory, again from the start after a dropped
/// connection.
async fn download_blob(context: &Context, digest: Digest, size: u64) -> Result<(), RegistryError> {
    let session = &context.session;
    let partial = context.blobs.join(format!(".{}.partial", digest.hex()));
    let retry = Retry {
        retries: session.retries,
        backoff: session.backoff,
    };
    let (result, attempts) = retry
        .run(
            || download_once(context, &digest, size, &partial),
            |result, wait| match result {
                Err(error @ RegistryError::Unreachable { .. }) => {
                    context
                        .reporter
                        .on_blob_download_retry(&digest, error, wait);
                    true
                }
                _ => false,
            },
        )
        .await;
    if let Err(error) = result {
        let _ = fs_err::remove_file(&partial);
        return Err(with_attempts(error, attempts));
    }
    let target = context.blobs.join(digest.hex());
    fs_err::rename(&partial, &target).map_err(io_error(&target))?;
    context.reporter.on_blob_download_done(&digest, size);
    Ok(())
}

async fn download_once(
    context: &Context,
    digest: &Digest,
    size: u64,
    partial: &Path,
) -> Result<(), RegistryError> {
    let session = &context.session;
    let url = session.url(&format!("v2/{}/blobs/{digest}", context.repository));
    let mut response = session
        .send_retrying(|| session.http.get(url.clone()))
        .await?;
    if !response.status().is_success() {
        return Err(session
            .error(
                response,
                format!("blob {digest} in the repository `{}`", context.repository),
            )
            .await);
    }
    let what = || {
        format!(
            "blob {digest} from `{}/{}`",
            session.registry, context.repository
        )
    };
    if let Some(length) = response.content_length()
        && length != size
    {
        return Err(RegistryError::SizeMismatch {
            what: what(),
            expected: size,
            actual: length,
        });
    }
    context.reporter.on_blob_download_start(digest, size);
    let mut file =
        std::io::BufWriter::new(fs_err::File::create(partial).map_err(io_error(partial))?);
    let mut hasher = sha2::Sha256::new();
    let mut received = 0u64;
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| session.unreachable(&url, &e))?
    {
        received += chunk.len() as u64;
        if received > size {
            return Err(RegistryError::SizeMismatch {
                what: what(),
                expected: size,
                actual: received,
            });
        }
        hasher.update(&chunk);
        file.write_all(&chunk).map_err(io_error(partial))?;
        context.reporter.on_blob_download_progress(digest, received);
    }
    file.flush().map_err(io_error(partial))?;
    if received != size {
        return Err(RegistryError::SizeMismatch {
            what: what(),
            expected: size,
            actual: received,
        });
    }
    let actual = Digest(hasher.finalize().into());
    if actual != *digest {
        return Err(RegistryError::DigestMismatch {
            what: what(),
            expected: digest.to_string(),
            actual: actual.to_string(),
        });
    }
    Ok(())
}

/// Renames the finished layout into place; an earlier layout there is moved aside first
/// and removed after.
fn install(
    staging: tempfile::TempDir,
    dest: &Path,
    parent: &Path,
    name: &str,
) -> Result<(), RegistryError> {
    let staged = staging.keep();
    let result = (|| {
        // Again: the destination may have changed during the download.
        if dest.exists() && !is_empty_dir(dest) {
            if !is_only_a_layout(dest) {
                return Err(RegistryError::NotALayout(dest.to_owned()));
            }
            let old = tempfile::Builder::new()
                .prefix(&format!(".{name}.old-"))
                .tempdir_in(parent)
                .map_err(io_error(parent))?;
            let aside = old.path().join("layout");
            fs_err::rename(dest, &aside).map_err(io_error(dest))?;
            if let Err(source) = fs_err::rename(&staged, dest) {
                // Put the old one back; nothing is lost.
                let _ = fs_err::rename(&aside, dest);
                return Err(RegistryError::Io {
                    path: dest.to_owned(),
                    source,
                });
            }
            Ok(())
        } else {
            // An empty directory is replaced by `rename(2)` itself.
            fs_err::rename(&staged, dest).map_err(io_error(dest))
        }
    })();
    if result.is_err() {
        let _ = fs_err::remove_dir_all(&staged);
    }
    result
}

/// Whether `dir` holds an image layout and nothing else.
fn is_only_a_layout(dir: &Path) -> bool {
    dir.join("oci-layout").is_file()
        && fs_err::read_dir(dir).is_ok_and(|entries| {
            entries.filter_map(Result::ok).all(|e| {
                matches!(
                    e.file_name().to_str(),
                    Some("oci-layout" | "index.json" | "blobs")
                )
            })
        })
}

fn is_empty_dir(dir: &Path) -> bool {
    fs_err::read_dir(dir).is_ok_and(|mut entries| entries.next().is_none())
}
