//! OCI image layouts written by cairn, read back by independent tools: `skopeo inspect`
//! and `umoci unpack` (the test command installs both; outside CI a missing tool skips).

#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use cairn_oci::{
    ArchiveFormat, ArchiveImage, BlobSource, Compression, Descriptor, Digest, EntryKind, History,
    ImageConfig, LayerEntry, LayerOptions, LayoutError, MediaType, manifest_json, write_archive,
    write_layer, write_oci_layout,
};
use cairn_test::require_tool;

fn entry(path: &str, kind: EntryKind, mode: u32) -> LayerEntry {
    LayerEntry {
        path: path.as_bytes().to_vec(),
        kind,
        mode,
        uid: 0,
        gid: 0,
        xattrs: BTreeMap::new(),
    }
}

/// A small two-layer image, in memory.
struct Image {
    blobs: Vec<(Digest, Vec<u8>)>,
    manifest: Descriptor,
    config: Digest,
    layers: Vec<Digest>,
}

/// Writes a small two-layer image to `dir` and returns its manifest digest.
fn build(dir: &Path, compression: Compression) -> Digest {
    let image = image(compression);
    let sources: Vec<(Digest, BlobSource<'_>)> = image
        .blobs
        .iter()
        .map(|(d, b)| (*d, BlobSource::Bytes(b)))
        .collect();
    write_oci_layout(dir, &sources, &image.manifest).unwrap();
    image.manifest.digest
}

fn image(compression: Compression) -> Image {
    let options = LayerOptions {
        compression,
        mtime: 1_761_955_200,
    };
    let base = vec![
        entry("usr", EntryKind::Directory, 0o755),
        entry("usr/bin", EntryKind::Directory, 0o755),
        entry(
            "bin",
            EntryKind::Symlink {
                target: b"usr/bin".to_vec(),
            },
            0o777,
        ),
        entry("tmp", EntryKind::Directory, 0o1777),
    ];
    let mut home = entry("home/nonroot", EntryKind::Directory, 0o700);
    (home.uid, home.gid) = (65532, 65532);
    let app = vec![
        entry("home", EntryKind::Directory, 0o755),
        home,
        entry(
            "usr/bin/hello",
            EntryKind::Bytes(b"#!/bin/sh\necho hello\n".to_vec()),
            0o755,
        ),
    ];
    let mut blobs = Vec::new();
    let mut layers = Vec::new();
    let mut diff_ids = Vec::new();
    for entries in [base, app] {
        let mut bytes = Vec::new();
        let written = write_layer(&entries, &options, &mut bytes).unwrap();
        diff_ids.push(written.diff_id);
        layers.push(Descriptor {
            media_type: written.media_type.to_owned(),
            digest: written.digest,
            size: written.size,
            annotations: BTreeMap::new(),
            platform: None,
        });
        blobs.push((written.digest, bytes));
    }
    let config = ImageConfig {
        architecture: "amd64".into(),
        os: "linux".into(),
        user: Some("65532:65532".into()),
        entrypoint: Some(vec!["/usr/bin/hello".into()]),
        ..ImageConfig::default()
    };
    let history = [
        History {
            created_by: "cairn: base".into(),
            comment: None,
            empty_layer: false,
        },
        History {
            created_by: "cairn: hello".into(),
            comment: None,
            empty_layer: false,
        },
    ];
    let config_json = config.to_json(&diff_ids, &history, options.mtime);
    let config_descriptor = Descriptor::of(MediaType::Config, &config_json);
    let manifest = manifest_json(&config_descriptor, &layers, &BTreeMap::new());
    let mut manifest_descriptor = Descriptor::of(MediaType::Manifest, &manifest);
    manifest_descriptor
        .annotations
        .insert("org.opencontainers.image.ref.name".into(), "latest".into());
    let layer_digests = blobs.iter().map(|(d, _)| *d).collect();
    blobs.push((config_descriptor.digest, config_json));
    blobs.push((manifest_descriptor.digest, manifest));
    Image {
        blobs,
        manifest: manifest_descriptor,
        config: config_descriptor.digest,
        layers: layer_digests,
    }
}

#[test]
fn layouts_are_deterministic_and_replace_only_layouts() {
    let tmp = tempfile::tempdir().unwrap();
    let a = build(&tmp.path().join("a"), Compression::Gzip);
    let b = build(&tmp.path().join("b"), Compression::Gzip);
    assert_eq!(a, b, "the same image twice has the same manifest digest");
    assert_ne!(build(&tmp.path().join("c"), Compression::Zstd), a);
    // Rebuilding over a layout replaces it whole.
    assert_eq!(build(&tmp.path().join("a"), Compression::Gzip), a);
    let blobs = fs_err::read_dir(tmp.path().join("a/blobs/sha256"))
        .unwrap()
        .count();
    assert_eq!(blobs, 4, "two layers, a config and a manifest");
    // Anything else is not replaced.
    let other = tmp.path().join("notes");
    fs_err::create_dir(&other).unwrap();
    fs_err::write(other.join("todo.txt"), "keep me").unwrap();
    let err =
        write_oci_layout(&other, &[], &Descriptor::of(MediaType::Manifest, b"{}")).unwrap_err();
    assert!(matches!(err, LayoutError::NotALayout(_)), "{err}");
    assert_eq!(
        fs_err::read_to_string(other.join("todo.txt")).unwrap(),
        "keep me"
    );
}

#[test]
fn skopeo_reads_the_layout() {
    let Some(skopeo) = require_tool("skopeo") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("image");
    for compression in [Compression::Gzip, Compression::Zstd] {
        let digest = build(&dir, compression);
        let out = skopeo
            .command()
            .args(["inspect", &format!("oci:{}:latest", dir.display())])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let inspect: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(inspect["Digest"], digest.to_string());
        assert_eq!(inspect["Architecture"], "amd64");
        assert_eq!(inspect["Layers"].as_array().unwrap().len(), 2);
        assert_eq!(inspect["Created"], "2025-11-01T00:00:00Z");
    }
}

#[test]
fn umoci_unpacks_the_layout() {
    let Some(umoci) = require_tool("umoci") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("image");
    build(&dir, Compression::Gzip);
    let bundle = tmp.path().join("bundle");
    let out = umoci
        .command()
        .args(["unpack", "--rootless", "--image"])
        .arg(format!("{}:latest", dir.display()))
        .arg(&bundle)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rootfs = bundle.join("rootfs");
    assert_eq!(
        fs_err::read_to_string(rootfs.join("usr/bin/hello")).unwrap(),
        "#!/bin/sh\necho hello\n"
    );
    let mode = |p: &str| {
        fs_err::symlink_metadata(rootfs.join(p))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    };
    assert_eq!(mode("usr/bin/hello"), 0o755);
    assert_eq!(mode("tmp"), 0o1777);
    assert_eq!(
        fs_err::read_link(rootfs.join("bin")).unwrap(),
        Path::new("usr/bin")
    );
    let config: serde_json::Value =
        serde_json::from_slice(&fs_err::read(bundle.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["process"]["args"][0], "/usr/bin/hello");
    assert_eq!(config["process"]["user"]["uid"], 65532);
}

#[test]
fn skopeo_reads_both_archives() {
    let Some(skopeo) = require_tool("skopeo") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let image = image(Compression::Gzip);
    let sources: Vec<(Digest, BlobSource<'_>)> = image
        .blobs
        .iter()
        .map(|(d, b)| (*d, BlobSource::Bytes(b)))
        .collect();
    for (format, transport, name) in [
        (ArchiveFormat::Oci, "oci-archive", "image.oci.tar"),
        (
            ArchiveFormat::Docker {
                repo_tags: vec!["cairn/hello:latest".into()],
            },
            "docker-archive",
            "image.docker.tar",
        ),
    ] {
        let path = tmp.path().join(name);
        let write = || {
            write_archive(
                &path,
                &ArchiveImage {
                    format: &format,
                    blobs: &sources,
                    manifest: &image.manifest,
                    config: &image.config,
                    layers: &image.layers,
                    mtime: 0,
                },
            )
            .unwrap();
            fs_err::read(&path).unwrap()
        };
        let first = write();
        // A docker-archive's index names the whole image, so `podman load` tags it.
        let index = tar::Archive::new(first.as_slice())
            .entries()
            .unwrap()
            .map(Result::unwrap)
            .find(|e| e.path().unwrap().to_str() == Some("index.json"))
            .map(|mut e| {
                let mut text = String::new();
                std::io::Read::read_to_string(&mut e, &mut text).unwrap();
                text
            })
            .unwrap();
        let named = index.contains(r#""org.opencontainers.image.ref.name":"cairn/hello:latest""#);
        assert_eq!(named, transport == "docker-archive", "{transport}: {index}");
        assert_eq!(
            write(),
            first,
            "{transport}: byte-identical when written again"
        );
        let out = skopeo
            .command()
            .args(["inspect", &format!("{transport}:{}", path.display())])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{transport}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let inspect: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            inspect["Layers"].as_array().unwrap().len(),
            2,
            "{transport}"
        );
        assert_eq!(inspect["Architecture"], "amd64", "{transport}");
    }
}

#[test]
fn an_archive_never_replaces_a_file_that_is_not_one() {
    let tmp = tempfile::tempdir().unwrap();
    let image = image(Compression::Gzip);
    let sources: Vec<(Digest, BlobSource<'_>)> = image
        .blobs
        .iter()
        .map(|(d, b)| (*d, BlobSource::Bytes(b)))
        .collect();
    let path = tmp.path().join("notes.txt");
    fs_err::write(&path, "keep me").unwrap();
    let write = || {
        write_archive(
            &path,
            &ArchiveImage {
                format: &ArchiveFormat::Oci,
                blobs: &sources,
                manifest: &image.manifest,
                config: &image.config,
                layers: &image.layers,
                mtime: 0,
            },
        )
    };
    let err = write().unwrap_err();
    assert!(err.to_string().contains("not a tar archive"), "{err}");
    assert_eq!(fs_err::read_to_string(&path).unwrap(), "keep me");
    // An earlier archive is replaced.
    fs_err::remove_file(&path).unwrap();
    write().unwrap();
    write().unwrap();
}

#[test]
fn a_blob_given_twice_as_a_link_is_written_once_even_if_it_does_not_resolve_yet() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("layout");
    let digest = Digest([7; 32]);
    let link = Path::new("../../../not-there-yet");
    let blobs = [
        (digest, BlobSource::Symlink(link)),
        (digest, BlobSource::Symlink(link)),
    ];
    let manifest = Descriptor::of(MediaType::Manifest, b"{}");
    write_oci_layout(&dir, &blobs, &manifest).unwrap();
    let written = dir.join("blobs/sha256").join(digest.hex());
    assert_eq!(fs_err::read_link(written).unwrap(), link);
}
