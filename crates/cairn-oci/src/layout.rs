//! The OCI image layout (image-spec `image-layout.md`): `oci-layout`, `index.json` and
//! `blobs/sha256/<hex>`. A layout is written into a fresh directory beside the target
//! and renamed into place, so a failed write leaves nothing, and the target is never a
//! mixture of two builds.

use std::path::{Path, PathBuf};

use crate::digest::Digest;
use crate::image::{Descriptor, index_json};

/// Where a blob's bytes come from.
#[derive(Debug, Clone, Copy)]
pub enum BlobSource<'a> {
    Bytes(&'a [u8]),
    /// A file with exactly the blob's bytes (e.g. a cached layer in the store). It is
    /// copied, never hard-linked: a layout is the user's to change, the store's files
    /// are not.
    File(&'a Path),
    /// A symbolic link with this target, for layouts kept in cairn's store, whose
    /// blobs are other store objects (`../../../<object>`, relative, so the layout
    /// does not depend on where the store is).
    Symlink(&'a Path),
}

/// Why a layout could not be written.
#[derive(Debug, thiserror::Error)]
pub enum LayoutError {
    #[error(
        "`{}` exists and is not an OCI image layout; refusing to replace it",
        .0.display()
    )]
    NotALayout(PathBuf),
    #[error("could not write the image layout at `{}`", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

const OCI_LAYOUT: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;

/// Writes a layout at `dir` holding `blobs` and one image, `manifest` (whose
/// annotations should carry `org.opencontainers.image.ref.name`). An existing layout
/// at `dir` is replaced whole; anything else there is refused.
pub fn write_oci_layout(
    dir: &Path,
    blobs: &[(Digest, BlobSource<'_>)],
    manifest: &Descriptor,
) -> Result<(), LayoutError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| LayoutError::Io { path, source }
    };
    if dir.exists() && !is_empty_dir(dir) && !is_only_a_layout(dir) {
        return Err(LayoutError::NotALayout(dir.to_owned()));
    }
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let name = dir
        .file_name()
        .map_or_else(|| "layout".into(), |n| n.to_string_lossy().into_owned());
    let staging = tempfile::Builder::new()
        .prefix(&format!(".{name}.cairn-"))
        .tempdir_in(&parent)
        .map_err(io(&parent))?;
    let root = staging.path();
    let blob_dir = root.join("blobs/sha256");
    fs_err::create_dir_all(&blob_dir).map_err(io(&blob_dir))?;
    fs_err::write(root.join("oci-layout"), OCI_LAYOUT).map_err(io(root))?;
    for (digest, source) in blobs {
        let target = blob_dir.join(digest.hex());
        // Not `exists()`: a link to a blob elsewhere (a layout kept in the store) may
        // not resolve while it is written, and must still count once.
        if fs_err::symlink_metadata(&target).is_ok() {
            continue;
        }
        match source {
            BlobSource::Bytes(bytes) => fs_err::write(&target, bytes).map_err(io(&target))?,
            BlobSource::Symlink(link) => {
                std::os::unix::fs::symlink(link, &target).map_err(io(&target))?;
            }
            BlobSource::File(path) => {
                fs_err::copy(path, &target).map_err(io(path))?;
                // The copy keeps the source's read-only mode; a layout's files are not.
                let mut permissions = fs_err::metadata(&target)
                    .map_err(io(&target))?
                    .permissions();
                std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o644);
                fs_err::set_permissions(&target, permissions).map_err(io(&target))?;
            }
        }
    }
    fs_err::write(
        root.join("index.json"),
        index_json(std::slice::from_ref(manifest)),
    )
    .map_err(io(root))?;
    // Into place: an old layout is moved aside first and removed after.
    let staged = staging.keep();
    if dir.exists() {
        let old = tempfile::Builder::new()
            .prefix(&format!(".{name}.old-"))
            .tempdir_in(&parent)
            .map_err(io(&parent))?;
        let aside = old.path().join("layout");
        fs_err::rename(dir, &aside).map_err(io(dir))?;
        if let Err(source) = fs_err::rename(&staged, dir) {
            // Put the old one back; nothing is lost.
            let _ = fs_err::rename(&aside, dir);
            let _ = fs_err::remove_dir_all(&staged);
            return Err(LayoutError::Io {
                path: dir.to_owned(),
                source,
            });
        }
    } else if let Err(source) = fs_err::rename(&staged, dir) {
        let _ = fs_err::remove_dir_all(&staged);
        return Err(LayoutError::Io {
            path: dir.to_owned(),
            source,
        });
    }
    Ok(())
}

/// Whether `dir` holds an image layout and nothing else (found in review: a directory
/// with an `oci-layout` file and other files was replaced whole).
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
