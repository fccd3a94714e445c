//! The documents a push reads and a pull writes: an OCI image layout (image-spec
//! `image-layout.md`) and the manifests and indexes in it (`manifest.md`, `image-index.md`,
//! and Docker's v2 schema 2 equivalents, which registries still serve).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use cairn_oci::Digest;
use serde::Deserialize;

use crate::client::io_error;
use crate::error::RegistryError;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// A descriptor as JSON has it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DescriptorDoc {
    #[serde(default)]
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    #[serde(default)]
    pub platform: Option<PlatformDoc>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct PlatformDoc {
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub variant: Option<String>,
}

/// A manifest or an index: which it is shows in `mediaType` and in which fields it has.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ManifestDoc {
    #[serde(default)]
    pub schema_version: u32,
    #[serde(default)]
    pub media_type: Option<String>,
    #[serde(default)]
    pub config: Option<DescriptorDoc>,
    #[serde(default)]
    pub layers: Vec<DescriptorDoc>,
    #[serde(default)]
    pub manifests: Option<Vec<DescriptorDoc>>,
}

impl ManifestDoc {
    /// The media type: its own field, else the one it was served or described with, else
    /// what its fields say.
    pub(crate) fn media_type(&self, outside: Option<&str>) -> String {
        self.media_type
            .clone()
            .filter(|m| !m.is_empty())
            .or_else(|| outside.filter(|m| !m.is_empty()).map(str::to_owned))
            .unwrap_or_else(|| {
                if self.manifests.is_some() {
                    OCI_INDEX
                } else {
                    OCI_MANIFEST
                }
                .to_owned()
            })
    }

    /// Whether it is a list of manifests rather than an image's manifest, by its media
    /// type (as [`Self::media_type`] finds it) or by its fields.
    pub(crate) fn is_index(&self, outside: Option<&str>) -> bool {
        self.manifests.is_some()
            || matches!(
                self.media_type(outside).as_str(),
                OCI_INDEX | DOCKER_MANIFEST_LIST
            )
    }
}

/// A blob of the image being pushed.
#[derive(Debug, Clone)]
pub(crate) struct LocalBlob {
    pub digest: Digest,
    pub size: u64,
    /// The file (a link into the store, for a layout kept there; followed).
    pub path: PathBuf,
}

/// The image of a layout, as a push needs it.
#[derive(Debug, Clone)]
pub(crate) struct LocalImage {
    /// The manifest's bytes, exactly as the layout has them.
    pub manifest: Vec<u8>,
    pub media_type: String,
    pub digest: Digest,
    /// The config first, then the layers, each once.
    pub blobs: Vec<LocalBlob>,
}

#[derive(Debug, Deserialize)]
struct IndexDoc {
    #[serde(default)]
    manifests: Vec<DescriptorDoc>,
}

/// Reads the one image of the layout at `dir`, checking the manifest's digest and that
/// every blob it names is there with its size.
pub(crate) fn read_layout(dir: &Path) -> Result<LocalImage, RegistryError> {
    let bad = |reason: String| RegistryError::Layout {
        path: dir.to_owned(),
        reason,
    };
    let index_path = dir.join("index.json");
    let index = match fs_err::read(&index_path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(bad("it has no `index.json`".to_owned()));
        }
        Err(e) => return Err(io_error(&index_path)(e)),
    };
    let index: IndexDoc = serde_json::from_slice(&index)
        .map_err(|e| bad(format!("its `index.json` is not valid: {e}")))?;
    let descriptor = match index.manifests.as_slice() {
        [one] => one,
        [] => return Err(bad("its `index.json` names no image".to_owned())),
        many => {
            return Err(bad(format!(
                "its `index.json` names {} images; cairn pushes a layout with one",
                many.len()
            )));
        }
    };
    let digest = parse_digest(&descriptor.digest).map_err(bad)?;
    let manifest_path = blob_path(dir, &digest);
    let manifest = match fs_err::read(&manifest_path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(bad(format!("the manifest blob {digest} is missing")));
        }
        Err(e) => return Err(io_error(&manifest_path)(e)),
    };
    if manifest.len() as u64 != descriptor.size || Digest::of(&manifest) != digest {
        return Err(bad(format!(
            "the manifest blob {digest} does not have that digest or its size {}",
            descriptor.size
        )));
    }
    let document: ManifestDoc = serde_json::from_slice(&manifest)
        .map_err(|e| bad(format!("the manifest {digest} is not valid JSON: {e}")))?;
    let media_type = document.media_type(Some(&descriptor.media_type));
    if document.is_index(Some(&descriptor.media_type)) {
        return Err(RegistryError::UnsupportedMediaType {
            what: format!("the image in `{}`", dir.display()),
            media_type,
        });
    }
    if document.schema_version != 2 {
        return Err(bad(format!(
            "the manifest {digest} has schemaVersion {}, not 2",
            document.schema_version
        )));
    }
    let config = document
        .config
        .as_ref()
        .ok_or_else(|| bad(format!("the manifest {digest} has no config")))?;
    let mut blobs = Vec::new();
    let mut seen = BTreeSet::new();
    for (what, blob) in std::iter::once(("the config".to_owned(), config)).chain(
        document
            .layers
            .iter()
            .enumerate()
            .map(|(i, layer)| (format!("layer {}", i + 1), layer)),
    ) {
        let blob_digest = parse_digest(&blob.digest).map_err(bad)?;
        if !seen.insert(blob_digest) {
            continue;
        }
        let path = blob_path(dir, &blob_digest);
        let size = match fs_err::metadata(&path) {
            Ok(metadata) => metadata.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(bad(format!(
                    "{what}, blob {blob_digest}, is missing (or is a link to a missing file)"
                )));
            }
            Err(e) => return Err(io_error(&path)(e)),
        };
        if size != blob.size {
            return Err(bad(format!(
                "{what}, blob {blob_digest}, has {size} bytes, but the manifest says {}",
                blob.size
            )));
        }
        blobs.push(LocalBlob {
            digest: blob_digest,
            size,
            path,
        });
    }
    Ok(LocalImage {
        manifest,
        media_type,
        digest,
        blobs,
    })
}

pub(crate) fn parse_digest(text: &str) -> Result<Digest, String> {
    text.parse::<Digest>().map_err(|e| e.to_string())
}

pub(crate) fn blob_path(dir: &Path, digest: &Digest) -> PathBuf {
    dir.join("blobs/sha256").join(digest.hex())
}

/// Platforms as `os/architecture[/variant]`.
pub(crate) fn platform_name(os: &str, architecture: &str, variant: Option<&str>) -> String {
    match variant {
        Some(variant) if !variant.is_empty() => format!("{os}/{architecture}/{variant}"),
        _ => format!("{os}/{architecture}"),
    }
}

/// The annotations of a pulled image in the layout's `index.json`.
pub(crate) fn ref_name(tag: Option<&str>) -> BTreeMap<String, String> {
    tag.map(|tag| {
        (
            "org.opencontainers.image.ref.name".to_owned(),
            tag.to_owned(),
        )
    })
    .into_iter()
    .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn media_types_are_cairn_ocis() {
        assert_eq!(OCI_MANIFEST, cairn_oci::MediaType::Manifest.as_str());
        assert_eq!(OCI_INDEX, cairn_oci::MediaType::Index.as_str());
    }

    type Blobs<'a> = &'a [&'a [u8]];

    /// A layout with `blobs` and an `index.json` of `index`.
    fn write(dir: &Path, index: &[u8], blobs: &[&[u8]]) {
        fs_err::create_dir_all(dir.join("blobs/sha256")).unwrap();
        fs_err::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        fs_err::write(dir.join("index.json"), index).unwrap();
        for blob in blobs {
            fs_err::write(blob_path(dir, &Digest::of(blob)), blob).unwrap();
        }
    }

    fn descriptor(media_type: &str, bytes: &[u8]) -> serde_json::Value {
        serde_json::json!({
            "mediaType": media_type,
            "digest": Digest::of(bytes).to_string(),
            "size": bytes.len(),
        })
    }

    fn index(manifests: &[serde_json::Value]) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "manifests": manifests}))
            .unwrap()
    }

    #[test]
    fn bad_layouts_are_named_not_pushed() {
        let config = br#"{"architecture":"amd64","os":"linux"}"#.as_slice();
        let layer = b"layer".as_slice();
        let manifest = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": descriptor("application/vnd.oci.image.config.v1+json", config),
            "layers": [descriptor("application/vnd.oci.image.layer.v1.tar", layer)],
        }))
        .unwrap();
        let good = index(&[descriptor(OCI_MANIFEST, &manifest)]);
        let mut wrong_size = descriptor(OCI_MANIFEST, &manifest);
        wrong_size["size"] = serde_json::json!(manifest.len() + 1);
        let mut bad_digest = descriptor(OCI_MANIFEST, &manifest);
        bad_digest["digest"] = serde_json::json!("sha256:ABC");
        let an_index = index(&[descriptor(OCI_MANIFEST, &manifest)]);
        let all: &[&[u8]] = &[config, layer, &manifest];
        // What is wrong, `index.json`, the blobs there, what the error says.
        let cases: [(&str, Vec<u8>, Blobs<'_>, &str); 9] = [
            ("not JSON", b"{".to_vec(), all, "not valid"),
            ("no manifests", b"{}".to_vec(), all, "names no image"),
            ("null", b"null".to_vec(), all, "not valid"),
            (
                "two images",
                index(&[
                    descriptor(OCI_MANIFEST, &manifest),
                    descriptor(OCI_MANIFEST, &manifest),
                ]),
                all,
                "names 2 images",
            ),
            (
                "manifest missing",
                good.clone(),
                &[config, layer],
                "missing",
            ),
            (
                "layer missing",
                good.clone(),
                &[config, &manifest],
                "layer 1",
            ),
            ("size", index(&[wrong_size]), all, "its size"),
            ("digest", index(&[bad_digest]), all, "sha256:ABC"),
            (
                "an index",
                index(&[descriptor(OCI_INDEX, &an_index)]),
                &[&an_index],
                "does not support",
            ),
        ];
        for (what, index, blobs, says) in cases {
            let dir = tempfile::tempdir().unwrap();
            write(dir.path(), &index, blobs);
            let error = read_layout(dir.path()).unwrap_err();
            assert!(error.to_string().contains(says), "{what}: {error}");
        }
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), &good, all);
        let image = read_layout(dir.path()).unwrap();
        assert_eq!(image.digest, Digest::of(&manifest));
        assert_eq!(image.blobs.len(), 2);
    }
}
