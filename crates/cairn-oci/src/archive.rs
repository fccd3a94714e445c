//! Single-file outputs, written with the same deterministic tar writer as layers:
//!
//! - an **OCI archive**: the image layout (`oci-layout`, `index.json`, `blobs/…`) as
//!   one tar, as `skopeo copy oci-archive:` reads it;
//! - a **docker-archive**: the same layout plus Docker's `manifest.json`
//!   (`[{"Config", "RepoTags", "Layers"}]`), the dual form Docker writes since 25, which
//!   `docker load` and `podman load` accept.
//!
//! An archive file is written to a temporary file beside the target and renamed into
//! place; `write_archive_to` writes the same bytes to any writer (a pipe into `podman
//! load`).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::json;

use crate::digest::Digest;
use crate::image::{Descriptor, index_json};
use crate::json::to_canonical;
use crate::layer::{Compression, EntryKind, LayerEntry, LayerError, LayerOptions, write_layer};
use crate::layout::BlobSource;

/// Which archive to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArchiveFormat {
    Oci,
    /// With the `RepoTags` (`name:tag`) `docker load` gives the image.
    Docker {
        repo_tags: Vec<String>,
    },
}

/// Why an archive could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error(transparent)]
    Tar(#[from] LayerError),
    #[error("`{}` exists and is not a tar archive; refusing to replace it", .0.display())]
    NotAnArchive(PathBuf),
    #[error("could not write the archive `{}`", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("could not read blob {digest} of the image")]
    Blob {
        digest: Digest,
        #[source]
        source: std::io::Error,
    },
}

/// Whether `target` may be written: it does not exist, or it is a tar archive (an
/// earlier output), whose header block carries `ustar` at offset 257. Anything else
/// is someone's file (found in review: any file at the path was overwritten).
fn replaceable(target: &Path) -> bool {
    let Ok(mut file) = fs_err::File::open(target) else {
        return !target.exists();
    };
    let mut header = [0u8; 512];
    std::io::Read::read_exact(&mut file, &mut header).is_ok() && &header[257..262] == b"ustar"
}

fn perms(path: &Path) -> std::io::Result<std::fs::Permissions> {
    Ok(fs_err::metadata(path)?.permissions())
}

fn file(path: &str, kind: EntryKind) -> LayerEntry {
    LayerEntry {
        path: path.as_bytes().to_vec(),
        kind,
        mode: 0o644,
        uid: 0,
        gid: 0,
        xattrs: BTreeMap::new(),
    }
}

fn dir(path: &str) -> LayerEntry {
    LayerEntry {
        mode: 0o755,
        ..file(path, EntryKind::Directory)
    }
}

/// The index's descriptor of the image. In a docker-archive it carries the whole name:
/// `podman load` names the image of a dual-format archive by the index's `ref.name`, as
/// Docker 25 writes it (with `io.containerd.image.name`).
fn described(format: &ArchiveFormat, manifest: &Descriptor) -> Descriptor {
    let mut described = manifest.clone();
    if let ArchiveFormat::Docker { repo_tags } = format
        && let Some(name) = repo_tags.first()
    {
        for key in [
            "org.opencontainers.image.ref.name",
            "io.containerd.image.name",
        ] {
            described.annotations.insert(key.to_owned(), name.clone());
        }
    }
    described
}

/// One image, as an archive holds it.
#[derive(Debug, Clone, Copy)]
pub struct ArchiveImage<'a> {
    pub format: &'a ArchiveFormat,
    /// Every blob the image needs.
    pub blobs: &'a [(Digest, BlobSource<'a>)],
    pub manifest: &'a Descriptor,
    /// The config and layers, named for Docker's `manifest.json`.
    pub config: &'a Digest,
    pub layers: &'a [Digest],
    /// Dates the archive's own entries.
    pub mtime: u64,
}

/// Writes an archive of `image` to `target`, through a temporary file and a rename.
pub fn write_archive(target: &Path, image: &ArchiveImage<'_>) -> Result<(), ArchiveError> {
    let io = |source| ArchiveError::Io {
        path: target.to_owned(),
        source,
    };
    if !replaceable(target) {
        return Err(ArchiveError::NotAnArchive(target.to_owned()));
    }
    let parent = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let mut temp = tempfile::Builder::new()
        .prefix(".cairn-archive-")
        .tempfile_in(&parent)
        .map_err(io)?;
    write_archive_to(std::io::BufWriter::new(temp.as_file_mut()), image)?;
    temp.as_file_mut().flush().map_err(io)?;
    // A temporary file is private; an image archive is not.
    let mut permissions = perms(temp.path()).map_err(io)?;
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o644);
    fs_err::set_permissions(temp.path(), permissions).map_err(io)?;
    temp.persist(target).map_err(|e| io(e.error))?;
    Ok(())
}

/// Writes the archive `write_archive` writes, the same bytes, to `out`: a file, or a
/// pipe (`docker load` and `podman load` read a docker-archive on stdin). On an error
/// what was written is incomplete and must be discarded.
pub fn write_archive_to<W: Write>(out: W, image: &ArchiveImage<'_>) -> Result<(), ArchiveError> {
    let ArchiveImage {
        format,
        blobs,
        manifest,
        config,
        layers,
        mtime,
    } = *image;
    let mut entries = vec![
        dir("blobs"),
        dir("blobs/sha256"),
        file(
            "oci-layout",
            EntryKind::Bytes(br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec()),
        ),
        file(
            "index.json",
            EntryKind::Bytes(index_json(std::slice::from_ref(&described(
                format, manifest,
            )))),
        ),
    ];
    let mut seen = std::collections::BTreeSet::new();
    for (digest, source) in blobs {
        if !seen.insert(*digest) {
            continue;
        }
        let blob_error = |source| ArchiveError::Blob {
            digest: *digest,
            source,
        };
        let path = format!("blobs/sha256/{}", digest.hex());
        let kind = match source {
            BlobSource::Bytes(bytes) => EntryKind::Bytes(bytes.to_vec()),
            BlobSource::File(p) => EntryKind::File {
                source: p.to_path_buf(),
                size: fs_err::metadata(p).map_err(blob_error)?.len(),
            },
            // Links are relative to a layout in the store; an archive holds bytes.
            BlobSource::Symlink(_) => {
                return Err(blob_error(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "an archive's blobs are files, not links",
                )));
            }
        };
        entries.push(file(&path, kind));
    }
    if let ArchiveFormat::Docker { repo_tags } = format {
        let blob = |d: &Digest| format!("blobs/sha256/{}", d.hex());
        let docker = json!([{
            "Config": blob(config),
            "RepoTags": repo_tags,
            "Layers": layers.iter().map(blob).collect::<Vec<_>>(),
        }]);
        entries.push(file(
            "manifest.json",
            EntryKind::Bytes(to_canonical(&docker)),
        ));
    }
    let options = LayerOptions {
        compression: Compression::None,
        mtime,
    };
    write_layer(&entries, &options, out)?;
    Ok(())
}
