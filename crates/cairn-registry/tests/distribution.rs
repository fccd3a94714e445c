//! Push and pull against a real registry (`docker-registry`, distribution 2.8), checked
//! with the registry's own access log and with `skopeo` (the test command installs
//! `docker-registry`, `htpasswd`, `openssl` and `skopeo`; outside CI a missing tool skips).

#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cairn_oci::{
    BlobSource, Compression, Descriptor, Digest, EntryKind, ImageConfig, LayerEntry, LayerOptions,
    MediaType, manifest_json, write_layer, write_oci_layout,
};
use cairn_registry::{
    AuthEnv, CredentialOptions, CredentialSource, Credentials, NoPullReporter, NoPushReporter,
    PullOptions, PullReporter, PushOptions, PushReport, PushReporter, Reference, RegistryClient,
    RegistryError, RegistryOptions,
};
use cairn_test::registry::{
    DropAt, DroppingProxy, Framing, LoggedRequest, REFRESH_TOKEN, Registry, ScriptedRegistry,
    ScriptedRequest, ScriptedResponse,
};
use cairn_test::require_tool;

/// An image layout as cairn's store keeps one: config and manifest as files, layers as
/// relative links to files beside the layout (`../../../<object>`).
struct Layout {
    _dir: tempfile::TempDir,
    path: PathBuf,
    digest: Digest,
    manifest: Vec<u8>,
    config: Digest,
    layers: Vec<(Digest, Vec<u8>)>,
}

impl Layout {
    fn blob_sizes(&self) -> u64 {
        self.layers.iter().map(|(_, b)| b.len() as u64).sum::<u64>()
            + fs_err::metadata(self.path.join("blobs/sha256").join(self.config.hex()))
                .unwrap()
                .len()
    }
}

/// A layout whose layers hold `layers` (each a list of files).
fn layout(layers: &[Vec<(&str, Vec<u8>)>]) -> Layout {
    layout_with(layers, |manifest| manifest)
}

/// [`layout`], with the manifest's JSON changed by `edit` before it is written.
fn layout_with(
    layers: &[Vec<(&str, Vec<u8>)>],
    edit: impl FnOnce(serde_json::Value) -> serde_json::Value,
) -> Layout {
    layout_for("amd64", layers, edit)
}

fn layout_for(
    architecture: &str,
    layers: &[Vec<(&str, Vec<u8>)>],
    edit: impl FnOnce(serde_json::Value) -> serde_json::Value,
) -> Layout {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    fs_err::create_dir_all(&store).unwrap();
    let mut descriptors = Vec::new();
    let mut diff_ids = Vec::new();
    let mut written_layers = Vec::new();
    for files in layers {
        let entries: Vec<LayerEntry> = files
            .iter()
            .map(|(path, contents)| LayerEntry {
                path: path.as_bytes().to_vec(),
                kind: EntryKind::Bytes(contents.clone()),
                mode: 0o644,
                uid: 0,
                gid: 0,
                xattrs: BTreeMap::new(),
            })
            .collect();
        let mut bytes = Vec::new();
        let written = write_layer(
            &entries,
            &LayerOptions {
                compression: Compression::Gzip,
                mtime: 0,
            },
            &mut bytes,
        )
        .unwrap();
        fs_err::write(
            store.join(format!("{}-layer", written.digest.hex())),
            &bytes,
        )
        .unwrap();
        descriptors.push(Descriptor {
            media_type: written.media_type.to_owned(),
            digest: written.digest,
            size: written.size,
            annotations: BTreeMap::new(),
            platform: None,
        });
        diff_ids.push(written.diff_id);
        written_layers.push((written.digest, bytes));
    }
    let config = ImageConfig {
        architecture: architecture.into(),
        os: "linux".into(),
        cmd: Some(vec!["/hello".into()]),
        ..ImageConfig::default()
    }
    .to_json(&diff_ids, &[], 0);
    let config_descriptor = Descriptor::of(MediaType::Config, &config);
    let manifest = manifest_json(&config_descriptor, &descriptors, &BTreeMap::new());
    let manifest = {
        let value: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
        let edited = edit(value.clone());
        if edited == value {
            manifest
        } else {
            serde_json::to_vec(&edited).unwrap()
        }
    };
    let mut manifest_descriptor = Descriptor::of(MediaType::Manifest, &manifest);
    manifest_descriptor
        .annotations
        .insert("org.opencontainers.image.ref.name".into(), "latest".into());
    let links: Vec<PathBuf> = written_layers
        .iter()
        .map(|(digest, _)| PathBuf::from(format!("../../../{}-layer", digest.hex())))
        .collect();
    let mut blobs = vec![
        (config_descriptor.digest, BlobSource::Bytes(&config)),
        (manifest_descriptor.digest, BlobSource::Bytes(&manifest)),
    ];
    for ((digest, _), link) in written_layers.iter().zip(&links) {
        blobs.push((*digest, BlobSource::Symlink(link)));
    }
    let path = store.join("image-layout");
    write_oci_layout(&path, &blobs, &manifest_descriptor).unwrap();
    // The layer blobs really are links, as in the store.
    let first = path.join("blobs/sha256").join(written_layers[0].0.hex());
    assert!(fs_err::symlink_metadata(&first).unwrap().is_symlink());
    Layout {
        _dir: dir,
        path,
        digest: manifest_descriptor.digest,
        manifest,
        config: config_descriptor.digest,
        layers: written_layers,
    }
}

fn two_layers(app: &str) -> Layout {
    layout(&[
        vec![("etc/os-release", b"ID=cairn-test\n".to_vec())],
        vec![("app/main.txt", app.as_bytes().to_vec())],
    ])
}

fn options(credentials: CredentialOptions) -> RegistryOptions {
    RegistryOptions {
        credentials,
        backoff: Duration::from_millis(20),
        ..RegistryOptions::default()
    }
}

fn anonymous() -> RegistryClient {
    RegistryClient::new(options(CredentialOptions::anonymous())).unwrap()
}

fn with_creds(user: &str, password: &str) -> RegistryClient {
    RegistryClient::new(options(CredentialOptions {
        explicit: Some(Credentials::Basic {
            username: user.into(),
            password: password.into(),
        }),
        ..CredentialOptions::anonymous()
    }))
    .unwrap()
}

fn with_auth_file(file: &Path, path: Option<&Path>) -> RegistryClient {
    RegistryClient::new(options(CredentialOptions {
        explicit: None,
        auth_file: None,
        env: AuthEnv {
            registry_auth_file: Some(file.to_owned()),
            path: path.map(|p| p.as_os_str().to_owned()),
            ..AuthEnv::empty()
        },
    }))
    .unwrap()
}

fn reference(text: &str) -> Reference {
    text.parse().unwrap()
}

fn push(
    client: &RegistryClient,
    layout: &Layout,
    target: &str,
) -> Result<PushReport, RegistryError> {
    push_mounting(client, layout, target, &[])
}

fn push_mounting(
    client: &RegistryClient,
    layout: &Layout,
    target: &str,
    mount_from: &[&str],
) -> Result<PushReport, RegistryError> {
    let reporter: Arc<dyn PushReporter> = Arc::new(NoPushReporter);
    client.push(
        &layout.path,
        &reference(target),
        &PushOptions {
            mount_from: mount_from.iter().map(|s| (*s).to_owned()).collect(),
        },
        &reporter,
    )
}

fn pull(
    client: &RegistryClient,
    source: &str,
    dest: &Path,
) -> Result<cairn_registry::PullReport, RegistryError> {
    let reporter: Arc<dyn PullReporter> = Arc::new(NoPullReporter);
    client.pull(&reference(source), dest, &PullOptions::default(), &reporter)
}

/// The access-log lines after the first `from`, up to the `PUT` of the manifest `tag`
/// (the last request of a push).
fn pushed(registry: &Registry, from: usize, repository_tag: &str) -> Vec<LoggedRequest> {
    let (repository, tag) = repository_tag.split_once(':').unwrap();
    let uri = format!("/v2/{repository}/manifests/{tag}");
    let is_put = |r: &LoggedRequest| r.method == "PUT" && r.uri == uri;
    let mut requests = registry.requests_until(|r| is_put(r)).split_off(from);
    let end = requests.iter().rposition(is_put).unwrap();
    requests.truncate(end + 1);
    requests
}

/// The digests of blob uploads completed (`PUT …?digest=`) in `requests`.
fn completed_uploads(requests: &[LoggedRequest]) -> Vec<String> {
    requests
        .iter()
        .filter(|r| r.method == "PUT" && r.is_blob_upload() && r.status == 201)
        .filter_map(|r| r.uri.split("digest=").nth(1))
        .map(|d| d.split('&').next().unwrap().replace("%3A", ":"))
        .collect()
}

fn skopeo_digest(image: &str) -> Option<String> {
    let skopeo = require_tool("skopeo")?;
    let output = skopeo
        .command()
        .args(["inspect", "--tls-verify=false"])
        .arg(format!("docker://{image}"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "skopeo inspect failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    Some(json["Digest"].as_str().unwrap().to_owned())
}

#[test]
fn push_is_what_skopeo_sees_and_a_second_push_uploads_nothing() {
    let Some(registry) = Registry::start(None) else {
        return;
    };
    let image = two_layers("v1");
    let client = anonymous();
    let target = format!("{}/app:1", registry.addr());
    let report = push(&client, &image, &target).unwrap();
    assert_eq!(
        (report.skipped, report.mounted, report.uploaded),
        (0, 0, 3),
        "{report:?}"
    );
    assert_eq!(report.bytes_uploaded, image.blob_sizes());
    assert_eq!(report.digest, image.digest);
    assert_eq!(report.manifest_bytes, image.manifest.len() as u64);
    if let Some(digest) = skopeo_digest(&target) {
        assert_eq!(digest, image.digest.to_string());
    }
    // The manifest comes back byte for byte, with its media type.
    let remote = client.manifest(&reference(&target)).unwrap();
    assert_eq!(remote.bytes, image.manifest);
    assert_eq!(remote.media_type, cairn_registry::OCI_MANIFEST);
    assert_eq!(remote.digest, image.digest);
    let uploads = completed_uploads(&registry.requests());
    let mut expected: Vec<String> = image
        .layers
        .iter()
        .map(|(d, _)| d.to_string())
        .chain([image.config.to_string()])
        .collect();
    let mut uploaded = uploads.clone();
    uploaded.sort();
    expected.sort();
    assert_eq!(uploaded, expected);

    let before = registry.requests().len();
    let again = push(&client, &image, &target).unwrap();
    assert_eq!(
        (
            again.skipped,
            again.mounted,
            again.uploaded,
            again.bytes_uploaded
        ),
        (3, 0, 0, 0),
        "{again:?}"
    );
    assert_eq!(again.digest, image.digest);
    let later = pushed(&registry, before, "app:1");
    assert!(
        later.iter().all(|r| !r.uri.contains("/blobs/uploads/")),
        "a second push started uploads: {later:#?}"
    );
    // Three blobs asked about, each found; then the manifest again.
    let heads: Vec<_> = later.iter().filter(|r| r.method == "HEAD").collect();
    assert_eq!(heads.len(), 3, "{later:#?}");
    assert!(heads.iter().all(|r| r.status == 200), "{later:#?}");
    assert_eq!(later.last().unwrap().status, 201, "{later:#?}");
}

#[test]
fn a_changed_layer_is_the_only_layer_uploaded() {
    let Some(registry) = Registry::start(None) else {
        return;
    };
    let client = anonymous();
    let first = two_layers("v1");
    push(&client, &first, &format!("{}/app:1", registry.addr())).unwrap();
    let second = two_layers("v2");
    assert_eq!(first.layers[0].0, second.layers[0].0);
    assert_ne!(first.layers[1].0, second.layers[1].0);
    let before = registry.requests().len();
    let report = push(&client, &second, &format!("{}/app:2", registry.addr())).unwrap();
    assert_eq!(
        (report.skipped, report.mounted, report.uploaded),
        (1, 0, 2),
        "{report:?}"
    );
    let config_size = fs_err::metadata(second.path.join("blobs/sha256").join(second.config.hex()))
        .unwrap()
        .len();
    assert_eq!(
        report.bytes_uploaded,
        second.layers[1].1.len() as u64 + config_size
    );
    let later = pushed(&registry, before, "app:2");
    let mut uploaded = completed_uploads(&later);
    uploaded.sort();
    let mut expected = vec![second.layers[1].0.to_string(), second.config.to_string()];
    expected.sort();
    assert_eq!(uploaded, expected);
    // Two upload sessions and nothing else carrying blob bytes: the unchanged layer was
    // only asked about, and found.
    let sessions = later
        .iter()
        .filter(|r| r.method == "POST" && r.uri.contains("/blobs/uploads/"))
        .count();
    assert_eq!(sessions, 2, "{later:#?}");
    assert_eq!(
        later.iter().filter(|r| r.is_blob_upload()).count(),
        2,
        "{later:#?}"
    );
    let unchanged = format!("/v2/app/blobs/{}", second.layers[0].0);
    let about: Vec<_> = later
        .iter()
        .filter(|r| r.uri.starts_with(&unchanged))
        .collect();
    assert!(
        about.len() == 1 && about[0].method == "HEAD" && about[0].status == 200,
        "{later:#?}"
    );
    // And the manifest, last.
    assert_eq!(later.last().unwrap().status, 201, "{later:#?}");
    if let Some(digest) = skopeo_digest(&format!("{}/app:2", registry.addr())) {
        assert_eq!(digest, second.digest.to_string());
    }
}

#[test]
fn blobs_are_mounted_from_another_repository() {
    let Some(registry) = Registry::start(None) else {
        return;
    };
    let client = anonymous();
    let image = two_layers("mounted");
    push(&client, &image, &format!("{}/team/a:1", registry.addr())).unwrap();
    let before = registry.requests().len();
    let report = push_mounting(
        &client,
        &image,
        &format!("{}/team/b:1", registry.addr()),
        &["elsewhere", "team/a"],
    )
    .unwrap();
    assert_eq!(
        (
            report.skipped,
            report.mounted,
            report.uploaded,
            report.bytes_uploaded
        ),
        (0, 3, 0, 0),
        "{report:?}"
    );
    let later = pushed(&registry, before, "team/b:1");
    let mounts: Vec<_> = later
        .iter()
        .filter(|r| {
            r.method == "POST" && r.uri.contains("mount=") && r.uri.contains("from=team%2Fa")
        })
        .collect();
    assert_eq!(mounts.len(), 3, "{later:#?}");
    assert!(mounts.iter().all(|r| r.status == 201), "{mounts:#?}");
    assert!(later.iter().all(|r| !r.is_blob_upload()), "{later:#?}");
    let remote = client
        .manifest(&reference(&format!("{}/team/b:1", registry.addr())))
        .unwrap();
    assert_eq!(remote.bytes, image.manifest);
}

/// A layout with one layer of `size` incompressible bytes.
fn big_layer(size: usize, seed: u64) -> Layout {
    layout(&[
        vec![("small.txt", b"small".to_vec())],
        vec![("big.bin", cairn_test::noise(seed, size))],
    ])
}

fn chunked(chunk_size: u64) -> RegistryClient {
    RegistryClient::new(RegistryOptions {
        chunk_size,
        ..options(CredentialOptions::anonymous())
    })
    .unwrap()
}

#[test]
fn a_large_blob_goes_up_in_chunks() {
    let Some(registry) = Registry::start(None) else {
        return;
    };
    let image = big_layer(300 << 10, 7);
    let big = &image.layers[1];
    assert!(big.1.len() > 300 << 10);
    let client = chunked(64 << 10);
    let target = format!("{}/chunks:1", registry.addr());
    let report = push(&client, &image, &target).unwrap();
    assert_eq!(report.uploaded, 3);
    assert_eq!(report.bytes_uploaded, image.blob_sizes());
    let requests = registry.requests();
    let patches = requests
        .iter()
        .filter(|r| r.method == "PATCH" && r.is_blob_upload())
        .count();
    // 300 KiB and a little in 64 KiB chunks; the small blobs in one PUT each.
    assert_eq!(patches, big.1.len().div_ceil(64 << 10), "{requests:#?}");
    assert!(
        requests
            .iter()
            .all(|r| r.status < 400 || (r.method == "HEAD" && r.status == 404)),
        "{requests:#?}"
    );
    assert_eq!(completed_uploads(&requests).len(), 3);
    if let Some(digest) = skopeo_digest(&target) {
        assert_eq!(digest, image.digest.to_string());
    }
    // What went up in pieces comes down whole.
    let out = tempfile::tempdir().unwrap();
    let dest = out.path().join("pulled");
    pull(&client, &target, &dest).unwrap();
    assert_eq!(
        fs_err::read(dest.join("blobs/sha256").join(big.0.hex())).unwrap(),
        big.1
    );
}

#[test]
fn an_upload_cut_between_chunks_resumes_where_the_registry_is() {
    let Some(registry) = Registry::start(None) else {
        return;
    };
    // The second PATCH of the big layer is cut before any of its body.
    let proxy = DroppingProxy::start(
        &registry.addr(),
        DropAt {
            request: 1,
            after: 0,
        },
    );
    let image = big_layer(300 << 10, 11);
    let client = chunked(64 << 10);
    let target = format!("{}/resume:1", proxy.addr());
    let report = push(&client, &image, &target).unwrap();
    assert!(proxy.fired());
    assert_eq!(report.digest, image.digest);
    assert_eq!(report.uploaded, 3);
    // Every chunk counted once: nothing was sent again.
    assert_eq!(report.bytes_uploaded, image.blob_sizes());
    let requests = registry.requests();
    let status_checks: Vec<_> = requests
        .iter()
        .filter(|r| r.method == "GET" && r.uri.contains("/blobs/uploads/"))
        .collect();
    assert_eq!(status_checks.len(), 1, "{requests:#?}");
    assert_eq!(status_checks[0].status, 204);
    // One session for the big blob: it was not started again.
    let sessions = requests
        .iter()
        .filter(|r| r.method == "POST" && r.uri.contains("/blobs/uploads/"))
        .count();
    assert_eq!(sessions, 3, "{requests:#?}");
    let remote = client
        .manifest(&reference(&format!("{}/resume:1", registry.addr())))
        .unwrap();
    assert_eq!(remote.digest, image.digest);
    if let Some(digest) = skopeo_digest(&format!("{}/resume:1", registry.addr())) {
        assert_eq!(digest, image.digest.to_string());
    }
}

/// Counts upload retries.
#[derive(Default)]
struct Retries(std::sync::Mutex<usize>);

impl PushReporter for Retries {
    fn on_blob_upload_retry(&self, _: &Digest, _: &RegistryError, _: Duration) {
        *self.0.lock().unwrap() += 1;
    }
}

#[test]
fn an_upload_cut_mid_chunk_resumes_or_restarts_and_succeeds() {
    let Some(registry) = Registry::start(None) else {
        return;
    };
    for (i, drop_at) in [
        // Midway through the second chunk, and midway through the first.
        DropAt {
            request: 1,
            after: 20_000,
        },
        DropAt {
            request: 0,
            after: 30_000,
        },
    ]
    .into_iter()
    .enumerate()
    {
        let proxy = DroppingProxy::start(&registry.addr(), drop_at);
        let image = big_layer(200 << 10, 100 + i as u64);
        let client = chunked(64 << 10);
        let target = format!("{}/cut{i}:1", proxy.addr());
        let retries = Arc::new(Retries::default());
        let reporter: Arc<dyn PushReporter> = retries.clone();
        let report = match client.push(
            &image.path,
            &reference(&target),
            &PushOptions::default(),
            &reporter,
        ) {
            Ok(report) => {
                // It went through a retry: resumed (distribution, when the cut falls
                // between chunks) or started again (when the registry dropped the
                // session with the partial chunk, as distribution does).
                assert!(*retries.0.lock().unwrap() >= 1);
                report
            }
            Err(error) => {
                // Allowed: a clear error naming the blob and the registry, and a push
                // right after succeeds.
                let message = format!("{error}");
                assert!(
                    message.contains(&image.layers[1].0.to_string())
                        && message.contains(&proxy.addr()),
                    "{message}"
                );
                push(&client, &image, &target).unwrap()
            }
        };
        let requests = registry.requests();
        let restarted = requests
            .iter()
            .filter(|r| r.method == "POST" && r.uri.starts_with(&format!("/v2/cut{i}/")))
            .count()
            > 3;
        let resumed = requests.iter().any(|r| {
            r.method == "GET"
                && r.uri.contains(&format!("/v2/cut{i}/blobs/uploads/"))
                && r.status == 204
        });
        assert!(restarted || resumed, "{requests:#?}");
        assert!(proxy.fired(), "{drop_at:?}");
        assert_eq!(report.digest, image.digest);
        assert!(report.bytes_uploaded >= image.blob_sizes());
        let out = tempfile::tempdir().unwrap();
        let dest = out.path().join("pulled");
        let pulled = pull(&client, &format!("{}/cut{i}:1", registry.addr()), &dest).unwrap();
        assert_eq!(pulled.digest, image.digest);
        assert_eq!(
            fs_err::read(dest.join("blobs/sha256").join(image.layers[1].0.hex())).unwrap(),
            image.layers[1].1
        );
    }
}

#[test]
fn basic_auth_with_creds_and_auth_files() {
    let Some(registry) = Registry::start(Some(("alice", "s3cret"))) else {
        return;
    };
    let image = two_layers("private");
    let target = format!("{}/private:1", registry.addr());

    let error = push(&anonymous(), &image, &target).unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(&error, RegistryError::Unauthorized { credentials, .. } if **credentials == CredentialSource::Anonymous),
        "{error:?}"
    );
    assert!(
        message.contains("401") && message.contains(&registry.addr()),
        "{message}"
    );
    assert!(
        error.hint().unwrap().contains("login"),
        "{:?}",
        error.hint()
    );

    let error = push(&with_creds("alice", "wrong-password"), &image, &target).unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("--creds") && message.contains("401"),
        "{message}"
    );
    assert!(
        !message.contains("wrong-password") && !format!("{error:?}").contains("wrong-password")
    );

    let report = push(&with_creds("alice", "s3cret"), &image, &target).unwrap();
    assert_eq!(report.uploaded, 3);

    // An auth file, named as REGISTRY_AUTH_FILE would name it.
    let auth_file = registry.scratch().join("auth.json");
    let encoded = |pair: &str| data_encoding::BASE64.encode(pair.as_bytes());
    fs_err::write(
        &auth_file,
        format!(
            r#"{{"auths":{{"http://{}/v2/":{{"auth":"{}"}}}}}}"#,
            registry.addr(),
            encoded("alice:s3cret")
        ),
    )
    .unwrap();
    let report = push(&with_auth_file(&auth_file, None), &image, &target).unwrap();
    assert_eq!(report.skipped, 3);
    fs_err::write(
        &auth_file,
        format!(
            r#"{{"auths":{{"{}":{{"username":"alice","password":"stale"}}}}}}"#,
            registry.addr()
        ),
    )
    .unwrap();
    let error = push(&with_auth_file(&auth_file, None), &image, &target).unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains(&auth_file.display().to_string()) && message.contains("401"),
        "{message}"
    );
    assert!(!message.contains("stale"), "{message}");
}

#[test]
fn credential_helpers_on_path() {
    let Some(registry) = Registry::start(Some(("alice", "s3cret"))) else {
        return;
    };
    let image = two_layers("helped");
    let target = format!("{}/private:1", registry.addr());
    push(&with_creds("alice", "s3cret"), &image, &target).unwrap();
    let auth_file = registry.scratch().join("auth.json");
    // A credential helper on PATH, named per registry and as the default store.
    let bin = registry.scratch().join("bin");
    fs_err::create_dir_all(&bin).unwrap();
    let calls = registry.scratch().join("helper-calls");
    let helper = bin.join("docker-credential-cairntest");
    fs_err::write(
        &helper,
        format!(
            "#!/bin/sh\n\
             [ \"$1\" = get ] || exit 2\n\
             read -r server || true\n\
             echo \"$server\" >> '{calls}'\n\
             if [ \"$server\" = '{addr}' ]; then\n\
               echo '{{\"ServerURL\":\"{addr}\",\"Username\":\"alice\",\"Secret\":\"s3cret\"}}'\n\
             else\n\
               echo 'credentials not found in native keychain'; exit 1\n\
             fi\n",
            calls = calls.display(),
            addr = registry.addr()
        ),
    )
    .unwrap();
    let mut permissions = fs_err::metadata(&helper).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    fs_err::set_permissions(&helper, permissions).unwrap();
    for config in [
        format!(r#"{{"credHelpers":{{"{}":"cairntest"}}}}"#, registry.addr()),
        // The default store, with a placeholder entry as Docker writes one.
        format!(
            r#"{{"auths":{{"{}":{{}}}},"credsStore":"cairntest"}}"#,
            registry.addr()
        ),
    ] {
        fs_err::write(&auth_file, &config).unwrap();
        let client = with_auth_file(&auth_file, Some(&bin));
        let out = tempfile::tempdir().unwrap();
        let pulled = pull(&client, &target, &out.path().join("pulled")).unwrap();
        assert_eq!(pulled.digest, image.digest, "{config}");
    }
    let asked = fs_err::read_to_string(&calls).unwrap();
    assert_eq!(asked, format!("{0}\n{0}\n", registry.addr()));
    // A helper that is not there is named.
    fs_err::write(&auth_file, r#"{"credsStore":"missing"}"#).unwrap();
    let error = push(&with_auth_file(&auth_file, Some(&bin)), &image, &target).unwrap_err();
    assert!(
        error.to_string().contains("docker-credential-missing"),
        "{error}"
    );
}

#[test]
fn bearer_tokens_per_scope() {
    let Some(registry) = Registry::start_with_token_auth("alice", "s3cret") else {
        return;
    };
    let image = two_layers("tokens");
    let a = format!("{}/team/a:1", registry.addr());
    let b = format!("{}/team/b:1", registry.addr());

    let error = push(&anonymous(), &image, &a).unwrap_err();
    assert!(
        matches!(&error, RegistryError::Unauthorized { credentials, .. } if **credentials == CredentialSource::Anonymous),
        "{error:?}"
    );

    let error = push(&with_creds("alice", "nope"), &image, &a).unwrap_err();
    assert!(
        matches!(&error, RegistryError::Unauthorized { credentials, .. } if **credentials == CredentialSource::Explicit),
        "{error:?}"
    );
    assert!(error.to_string().contains("UNAUTHORIZED"), "{error}");

    let client = with_creds("alice", "s3cret");
    let asked_before = registry.token_requests().len();
    let report = push(&client, &image, &a).unwrap();
    assert_eq!(report.uploaded, 3);
    let asked = registry.token_requests().split_off(asked_before);
    // One token for the whole push (cached), for pull and push of the repository.
    assert_eq!(asked.len(), 1, "{asked:#?}");
    assert_eq!(asked[0].scopes, ["repository:team/a:pull,push"]);
    assert_eq!(asked[0].user.as_deref(), Some("alice"));
    assert!(asked[0].granted);

    // A mount needs pull on the other repository too: the token asks for both, and the
    // registry (which checks the token's access) mounts.
    let asked_before = registry.token_requests().len();
    let report = push_mounting(&client, &image, &b, &["team/a"]).unwrap();
    assert_eq!((report.mounted, report.uploaded), (3, 0), "{report:?}");
    let asked = registry.token_requests().split_off(asked_before);
    assert_eq!(
        asked[0].scopes,
        ["repository:team/b:pull,push", "repository:team/a:pull"]
    );

    // An identity token from an auth file: the OAuth2 refresh-token grant.
    let auth_file = registry.scratch().join("auth.json");
    fs_err::write(
        &auth_file,
        format!(
            r#"{{"auths":{{"{}":{{"identitytoken":"{REFRESH_TOKEN}"}}}}}}"#,
            registry.addr()
        ),
    )
    .unwrap();
    let asked_before = registry.token_requests().len();
    let out = tempfile::tempdir().unwrap();
    let pulled = pull(&with_auth_file(&auth_file, None), &b, &out.path().join("p")).unwrap();
    assert_eq!(pulled.digest, image.digest);
    let asked = registry.token_requests().split_off(asked_before);
    assert_eq!(asked.len(), 1, "{asked:#?}");
    assert_eq!(asked[0].method, "POST");
    assert_eq!(asked[0].scopes, ["repository:team/b:pull"]);
}

#[test]
fn pull_writes_a_verified_layout_and_a_tampered_blob_leaves_nothing() {
    let Some(registry) = Registry::start(None) else {
        return;
    };
    let client = anonymous();
    let image = two_layers("pull me");
    let target = format!("{}/pull:v1", registry.addr());
    push(&client, &image, &target).unwrap();

    let out = tempfile::tempdir().unwrap();
    let dest = out.path().join("pulled");
    let report = pull(&client, &target, &dest).unwrap();
    assert_eq!(report.digest, image.digest);
    assert_eq!(report.index_digest, None);
    assert_eq!(report.blobs, 3);
    assert_eq!(report.bytes_downloaded, image.blob_sizes());
    assert_eq!(
        fs_err::read(dest.join("blobs/sha256").join(image.digest.hex())).unwrap(),
        image.manifest
    );
    for (digest, bytes) in &image.layers {
        assert_eq!(
            &fs_err::read(dest.join("blobs/sha256").join(digest.hex())).unwrap(),
            bytes
        );
    }
    let index: serde_json::Value =
        serde_json::from_slice(&fs_err::read(dest.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["manifests"][0]["digest"], image.digest.to_string());
    assert_eq!(
        index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"],
        "v1"
    );
    assert_eq!(
        fs_err::read_to_string(dest.join("oci-layout")).unwrap(),
        r#"{"imageLayoutVersion":"1.0.0"}"#
    );
    // skopeo reads the pulled layout as the same image.
    if let Some(skopeo) = require_tool("skopeo") {
        let output = skopeo
            .command()
            .args(["inspect", "--raw"])
            .arg(format!("oci:{}", dest.display()))
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        assert_eq!(output.stdout, image.manifest);
    }

    // By digest, into the same place (an earlier layout is replaced).
    let by_digest = format!("{}/pull@{}", registry.addr(), image.digest);
    let again = pull(&client, &by_digest, &dest).unwrap();
    assert_eq!(again.digest, image.digest);

    // A digest the reference names that is not the manifest's.
    let wrong = Digest::of(b"another manifest");
    let error = pull(
        &client,
        &format!("{}/pull@{wrong}", registry.addr()),
        &out.path().join("never"),
    )
    .unwrap_err();
    assert!(matches!(error, RegistryError::NotFound { .. }), "{error:?}");

    // The registry serves other bytes for a layer.
    let (layer, bytes) = &image.layers[1];
    let mut tampered = bytes.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 0xff;
    fs_err::write(registry.blob_file(&layer.hex()), &tampered).unwrap();
    let dest = out.path().join("tampered");
    let error = pull(&client, &target, &dest).unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(error, RegistryError::DigestMismatch { .. }),
        "{error:?}"
    );
    assert!(message.contains(&layer.to_string()), "{message}");
    assert!(error.hint().is_some());
    assert!(!dest.exists());
    let left: Vec<_> = fs_err::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["pulled"], "staging left behind");

    // The registry serves other bytes for the manifest: by tag (against the digest the
    // registry names) and by digest, refused, and nothing is written.
    let tampered = String::from_utf8(image.manifest.clone()).unwrap().replacen(
        r#""schemaVersion":2"#,
        r#""schemaVersion": 2"#,
        1,
    );
    assert_ne!(tampered.as_bytes(), image.manifest);
    fs_err::write(registry.blob_file(&image.digest.hex()), &tampered).unwrap();
    for source in [target.clone(), by_digest] {
        let error = pull(&client, &source, &dest).unwrap_err();
        assert!(
            matches!(&error, RegistryError::DigestMismatch { expected, .. } if *expected == image.digest.to_string()),
            "{source}: {error:?}"
        );
        assert!(!dest.exists());
    }
}

#[test]
fn errors_users_hit() {
    let client = anonymous();
    let image = two_layers("errors");

    // Nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let error = push(&client, &image, &format!("127.0.0.1:{port}/app:1")).unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(error, RegistryError::Unreachable { .. })
            && message.contains(&format!("127.0.0.1:{port}")),
        "{message}"
    );
    assert!(error.hint().unwrap().contains("running"));

    // A reference by a digest that is not the layout's.
    let other = Digest::of(b"x");
    let error = push(&client, &image, &format!("127.0.0.1:{port}/app@{other}")).unwrap_err();
    assert!(
        matches!(error, RegistryError::DigestMismatch { .. }),
        "{error:?}"
    );

    // Not a layout.
    let empty = tempfile::tempdir().unwrap();
    let reporter: Arc<dyn PushReporter> = Arc::new(NoPushReporter);
    let error = client
        .push(
            empty.path(),
            &reference("localhost:1/app"),
            &PushOptions::default(),
            &reporter,
        )
        .unwrap_err();
    assert!(error.to_string().contains("index.json"), "{error}");

    // A pull into a directory holding something else: refused before anything is asked
    // of the registry (nothing listens there), and the file is kept.
    let dest = tempfile::tempdir().unwrap();
    fs_err::write(dest.path().join("notes.txt"), "mine").unwrap();
    let error = pull(&client, &format!("127.0.0.1:{port}/app:1"), dest.path()).unwrap_err();
    assert!(
        matches!(&error, RegistryError::NotALayout(path) if path == dest.path()),
        "{error:?}"
    );
    assert_eq!(
        fs_err::read_to_string(dest.path().join("notes.txt")).unwrap(),
        "mine"
    );

    let Some(registry) = Registry::start(None) else {
        return;
    };
    // A repository that does not exist.
    let out = tempfile::tempdir().unwrap();
    let error = pull(
        &client,
        &format!("{}/no/such:1", registry.addr()),
        &out.path().join("x"),
    )
    .unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, RegistryError::NotFound { .. }), "{message}");
    assert!(
        message.contains("no/such") && message.contains("404"),
        "{message}"
    );

    // A manifest the registry refuses: a layer with URLs but a distributable type.
    let refused = layout_with(&[vec![("a", b"a".to_vec())]], |mut manifest| {
        manifest["layers"][0]["urls"] = serde_json::json!(["https://example.invalid/a"]);
        manifest
    });
    let error = push(&client, &refused, &format!("{}/refused:1", registry.addr())).unwrap_err();
    let message = error.to_string();
    // distribution answers 500 with `MANIFEST_BLOB_UNKNOWN` (after cairn's retries).
    assert!(matches!(error, RegistryError::Refused { .. }), "{error:?}");
    assert!(message.contains("MANIFEST_BLOB_UNKNOWN"), "{message}");
    assert!(message.contains(&refused.digest.to_string()), "{message}");
}

#[test]
fn push_by_digest_only() {
    let Some(registry) = Registry::start(None) else {
        return;
    };
    let client = anonymous();
    let image = two_layers("by digest");
    let target = format!("{}/digests@{}", registry.addr(), image.digest);
    let report = push(&client, &image, &target).unwrap();
    assert_eq!(report.digest, image.digest);
    let requests = registry.requests();
    assert!(
        requests.iter().any(|r| r.method == "PUT"
            && r.uri == format!("/v2/digests/manifests/{}", image.digest)
            && r.status == 201),
        "{requests:#?}"
    );
    assert_eq!(
        client.manifest(&reference(&target)).unwrap().bytes,
        image.manifest
    );
}

/// One layout holding both images and an index of them (amd64, and arm64 `v8`), as
/// skopeo copies it.
fn multi_platform_layout(amd64: &Layout, arm64: &Layout) -> (tempfile::TempDir, PathBuf, Digest) {
    let dir = tempfile::tempdir().unwrap();
    let multi = dir.path().join("multi");
    let blobs = multi.join("blobs/sha256");
    fs_err::create_dir_all(&blobs).unwrap();
    for image in [amd64, arm64] {
        for entry in fs_err::read_dir(image.path.join("blobs/sha256")).unwrap() {
            let entry = entry.unwrap();
            fs_err::copy(entry.path(), blobs.join(entry.file_name())).unwrap();
        }
    }
    let entry = |image: &Layout, architecture: &str, variant: Option<&str>| {
        let mut platform = serde_json::json!({"architecture": architecture, "os": "linux"});
        if let Some(variant) = variant {
            platform["variant"] = variant.into();
        }
        serde_json::json!({
            "mediaType": cairn_registry::OCI_MANIFEST,
            "digest": image.digest.to_string(),
            "size": image.manifest.len(),
            "platform": platform,
        })
    };
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": cairn_registry::OCI_INDEX,
        "manifests": [entry(amd64, "amd64", None), entry(arm64, "arm64", Some("v8"))],
    }))
    .unwrap();
    let index_digest = Digest::of(&index);
    fs_err::write(blobs.join(index_digest.hex()), &index).unwrap();
    fs_err::write(
        multi.join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    fs_err::write(
        multi.join("index.json"),
        serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "manifests": [{
                "mediaType": cairn_registry::OCI_INDEX,
                "digest": index_digest.to_string(),
                "size": index.len(),
                "annotations": {"org.opencontainers.image.ref.name": "multi"},
            }],
        }))
        .unwrap(),
    )
    .unwrap();
    (dir, multi, index_digest)
}

#[test]
fn pull_chooses_the_platform_from_an_index() {
    let Some(registry) = Registry::start(None) else {
        return;
    };
    let Some(skopeo) = require_tool("skopeo") else {
        return;
    };
    let amd64 = layout_for("amd64", &[vec![("arch", b"amd64".to_vec())]], |m| m);
    let arm64 = layout_for("arm64", &[vec![("arch", b"arm64".to_vec())]], |m| m);
    let (_dir, multi, index_digest) = multi_platform_layout(&amd64, &arm64);
    let target = format!("{}/multi:1", registry.addr());
    cairn_test::registry::run_ok(
        skopeo
            .command()
            .args([
                "copy",
                "--all",
                "--insecure-policy",
                "--dest-tls-verify=false",
            ])
            .arg(format!("oci:{}:multi", multi.display()))
            .arg(format!("docker://{target}")),
    );

    let client = anonymous();
    let remote = client.manifest(&reference(&target)).unwrap();
    assert_eq!(remote.media_type, cairn_registry::OCI_INDEX);
    assert_eq!(remote.digest, index_digest);

    let out = tempfile::tempdir().unwrap();
    let reporter: Arc<dyn PullReporter> = Arc::new(NoPullReporter);
    let pull_for = |platform: Option<cairn_oci::Platform>, dest: &str| {
        client.pull(
            &reference(&target),
            &out.path().join(dest),
            &PullOptions { platform },
            &reporter,
        )
    };
    let arm = pull_for(
        Some(cairn_oci::Platform {
            architecture: "arm64".into(),
            os: "linux".into(),
            variant: None,
        }),
        "arm",
    )
    .unwrap();
    assert_eq!(arm.digest, arm64.digest);
    assert_eq!(arm.index_digest, Some(index_digest));
    assert_eq!(
        fs_err::read(
            out.path()
                .join("arm/blobs/sha256")
                .join(arm64.layers[0].0.hex())
        )
        .unwrap(),
        arm64.layers[0].1
    );
    if cairn_registry::host_platform().architecture == "amd64" {
        assert_eq!(pull_for(None, "host").unwrap().digest, amd64.digest);
    }
    let error = pull_for(
        Some(cairn_oci::Platform {
            architecture: "s390x".into(),
            os: "linux".into(),
            variant: None,
        }),
        "none",
    )
    .unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("linux/s390x") && message.contains("linux/amd64, linux/arm64/v8"),
        "{message}"
    );
    assert!(!out.path().join("none").exists());
}

/// Every blob of `image` by its hex digest, read through the layout's links.
fn blob_bytes(image: &Layout) -> HashMap<String, Vec<u8>> {
    fs_err::read_dir(image.path.join("blobs/sha256"))
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            (
                entry.file_name().to_string_lossy().into_owned(),
                fs_err::read(entry.path()).unwrap(),
            )
        })
        .collect()
}

/// A registry serving `image` as `app:1` (and by its digest) as distribution would,
/// except where `twist` answers first.
fn serving(
    image: &Layout,
    twist: impl Fn(&ScriptedRequest) -> Option<ScriptedResponse> + Send + Sync + 'static,
) -> ScriptedRegistry {
    let blobs = blob_bytes(image);
    let (digest, manifest) = (image.digest, image.manifest.clone());
    ScriptedRegistry::start(move |request| {
        if let Some(answer) = twist(request) {
            return answer;
        }
        let path = request.path();
        if path == "/v2/" {
            return ScriptedResponse::new(200);
        }
        if path == "/v2/app/manifests/1" || path == format!("/v2/app/manifests/{digest}") {
            return ScriptedResponse::new(200)
                .header("Content-Type", cairn_registry::OCI_MANIFEST)
                .header("Docker-Content-Digest", digest.to_string())
                .body(manifest.clone());
        }
        match path
            .strip_prefix("/v2/app/blobs/sha256:")
            .and_then(|hex| blobs.get(hex))
        {
            Some(bytes) => ScriptedResponse::new(200).body(bytes.clone()),
            None => ScriptedResponse::new(404),
        }
    })
}

/// Pulls `source` into a fresh directory: the error, after checking that nothing was
/// left behind.
fn failed_pull(client: &RegistryClient, source: &str) -> RegistryError {
    let out = tempfile::tempdir().unwrap();
    let error = pull(client, source, &out.path().join("pulled")).unwrap_err();
    let left: Vec<_> = fs_err::read_dir(out.path()).unwrap().collect();
    assert!(
        left.is_empty(),
        "{source}: {left:?} left behind after {error}"
    );
    error
}

#[test]
fn pull_refuses_what_a_broken_registry_sends() {
    let image = two_layers("garbage");
    let layer = image.layers[1].0;
    let layer_path = format!("/v2/app/blobs/{layer}");
    let client = RegistryClient::new(RegistryOptions {
        retries: 1,
        ..options(CredentialOptions::anonymous())
    })
    .unwrap();

    // A manifest that is not JSON.
    let registry = serving(&image, |r| {
        (r.path() == "/v2/app/manifests/1").then(|| ScriptedResponse::new(200).body("{not json"))
    });
    let error = failed_pull(&client, &format!("{}/app:1", registry.addr()));
    assert!(
        matches!(error, RegistryError::BadResponse { .. }),
        "{error:?}"
    );

    // A manifest larger than any registry keeps, sent without a length.
    let registry = serving(&image, |r| {
        (r.path() == "/v2/app/manifests/1").then(|| {
            ScriptedResponse::new(200)
                .body(vec![b' '; 5 << 20])
                .framing(Framing::Chunked)
        })
    });
    let error = failed_pull(&client, &format!("{}/app:1", registry.addr()));
    assert!(error.to_string().contains("larger than"), "{error}");

    // A manifest of 2 MiB is under the limit and read whole, with or without a length.
    let big = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": cairn_registry::OCI_MANIFEST,
        "annotations": {"padding": "x".repeat(2 << 20)},
    }))
    .unwrap();
    for framing in [Framing::Length, Framing::Chunked] {
        let served = big.clone();
        let registry = serving(&image, move |r| {
            (r.path() == "/v2/app/manifests/big").then(|| {
                ScriptedResponse::new(200)
                    .header("Docker-Content-Digest", Digest::of(&served).to_string())
                    .body(served.clone())
                    .framing(framing)
            })
        });
        let remote = client
            .manifest(&reference(&format!("{}/app:big", registry.addr())))
            .unwrap();
        assert_eq!(remote.bytes.len(), big.len(), "{framing:?}");
    }

    // Other bytes for a digest the reference names.
    let other = Digest::of(b"another manifest");
    let (manifest, other_path) = (image.manifest.clone(), format!("/v2/app/manifests/{other}"));
    let registry = serving(&image, move |r| {
        (r.path() == other_path).then(|| ScriptedResponse::new(200).body(manifest.clone()))
    });
    let error = failed_pull(&client, &format!("{}/app@{other}", registry.addr()));
    assert!(
        matches!(&error, RegistryError::DigestMismatch { expected, .. } if *expected == other.to_string()),
        "{error:?}"
    );

    // A layer cut short: its `Content-Length` is right, but the body ends halfway
    // (each attempt, so the retries end too).
    let bytes = image.layers[1].1.clone();
    let path = layer_path.clone();
    let registry = serving(&image, move |r| {
        (r.path() == path).then(|| {
            ScriptedResponse::new(200)
                .body(bytes[..bytes.len() / 2].to_vec())
                .framing(Framing::Claimed(bytes.len() as u64))
        })
    });
    let error = failed_pull(&client, &format!("{}/app:1", registry.addr()));
    assert!(
        matches!(error, RegistryError::Unreachable { attempts: 2, .. })
            && error.to_string().contains(&layer.to_string()),
        "{error:?}"
    );

    // A layer of another size than the manifest says: refused by its `Content-Length`.
    let mut longer = image.layers[1].1.clone();
    longer.extend_from_slice(b"more");
    let path = layer_path.clone();
    let registry = serving(&image, move |r| {
        (r.path() == path).then(|| ScriptedResponse::new(200).body(longer.clone()))
    });
    let error = failed_pull(&client, &format!("{}/app:1", registry.addr()));
    assert!(
        matches!(error, RegistryError::SizeMismatch { .. }),
        "{error:?}"
    );

    // Sizes that add up to more than a u64 holds.
    let huge = layout_with(&[vec![("a", b"a".to_vec())]], |mut manifest| {
        manifest["config"]["size"] = serde_json::json!(u64::MAX);
        manifest
    });
    let registry = serving(&huge, |_| None);
    let error = failed_pull(&client, &format!("{}/app:1", registry.addr()));
    assert!(
        matches!(error, RegistryError::BadResponse { .. }),
        "{error:?}"
    );
}

/// A registry that takes uploads to `app` as distribution does (blobs are missing,
/// sessions at relative `Location`s, `Range` in answers, the digest checked at the
/// end); `twist` sees each request, the bytes its session had before it, and the answer
/// (the registry's state already changed), and answers instead.
fn accepting(
    twist: impl Fn(&ScriptedRequest, u64, ScriptedResponse) -> ScriptedResponse + Send + Sync + 'static,
) -> ScriptedRegistry {
    let sessions: Mutex<HashMap<String, Vec<u8>>> = Mutex::default();
    let next = std::sync::atomic::AtomicUsize::new(0);
    ScriptedRegistry::start(move |request| {
        let path = request.path().to_owned();
        let mut sessions = sessions.lock().unwrap();
        let had = sessions.get(&path).map_or(0, |b| b.len() as u64);
        let range = |n: u64| format!("0-{}", n.saturating_sub(1));
        let answer = match (request.method.as_str(), path.as_str()) {
            ("GET", "/v2/") => ScriptedResponse::new(200),
            ("POST", "/v2/app/blobs/uploads/") => {
                let id = next.fetch_add(1, Ordering::SeqCst);
                let location = format!("/v2/app/blobs/uploads/{id}");
                sessions.insert(location.clone(), Vec::new());
                ScriptedResponse::new(202)
                    .header("Location", location)
                    .header("Range", "0-0")
            }
            ("PATCH", _) if sessions.contains_key(&path) => {
                let bytes = sessions.get_mut(&path).unwrap();
                bytes.extend_from_slice(&request.body);
                let n = bytes.len() as u64;
                ScriptedResponse::new(202)
                    .header("Location", path)
                    .header("Range", range(n))
            }
            ("GET", _) if sessions.contains_key(&path) => ScriptedResponse::new(204)
                .header("Location", path)
                .header("Range", range(had)),
            ("PUT", _) if sessions.contains_key(&path) => {
                let mut bytes = sessions.remove(&path).unwrap();
                bytes.extend_from_slice(&request.body);
                let wanted = request.target.split("digest=").nth(1).unwrap_or_default();
                if Digest::of(&bytes).to_string() == wanted.replace("%3A", ":") {
                    ScriptedResponse::new(201)
                } else {
                    ScriptedResponse::new(400)
                        .body(r#"{"errors":[{"code":"DIGEST_INVALID","message":"digest"}]}"#)
                }
            }
            ("PUT", manifest) if manifest.starts_with("/v2/app/manifests/") => {
                ScriptedResponse::new(201).header(
                    "Docker-Content-Digest",
                    Digest::of(&request.body).to_string(),
                )
            }
            _ => ScriptedResponse::new(404)
                .body(r#"{"errors":[{"code":"BLOB_UPLOAD_UNKNOWN","message":"unknown"}]}"#),
        };
        twist(request, had, answer)
    })
}

/// `answer` with its `Range` header replaced by `range`.
fn with_range(answer: ScriptedResponse, range: &str) -> ScriptedResponse {
    let mut answer = answer;
    answer.headers.retain(|(name, _)| name != "Range");
    answer.header("Range", range)
}

/// Pushes on a thread of its own: a push that has not ended in a minute fails the test
/// rather than hanging it.
fn push_within_a_minute(
    client: RegistryClient,
    image: &Layout,
    target: String,
) -> Result<PushReport, RegistryError> {
    let path = image.path.clone();
    let (send, receive) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let reporter: Arc<dyn PushReporter> = Arc::new(NoPushReporter);
        let _ = send.send(client.push(
            &path,
            &reference(&target),
            &PushOptions::default(),
            &reporter,
        ));
    });
    receive
        .recv_timeout(Duration::from_mins(1))
        .expect("the push did not end within a minute")
}

fn posts(registry: &ScriptedRegistry) -> usize {
    registry
        .requests()
        .iter()
        .filter(|r| r.method == "POST")
        .count()
}

#[test]
fn push_copes_with_odd_upload_answers() {
    let image = big_layer(200 << 10, 21);
    let chunk = 64 << 10;
    let push_to = |registry: &ScriptedRegistry| {
        push_within_a_minute(chunked(chunk), &image, format!("{}/app:1", registry.addr()))
    };

    // Relative `Location`s: the push succeeds, each blob in one session.
    let registry = accepting(|_, _, answer| answer);
    let report = push_to(&registry).unwrap();
    assert_eq!(report.bytes_uploaded, image.blob_sizes());
    assert_eq!(posts(&registry), 3);

    // Chunk answers whose `Range` is nonsense, or past what a u64 holds: cairn goes by
    // its own count, and the registry checks the digest at the end.
    for nonsense in ["bytes=0-18446744073709551615", "0-", "all of it", "7-9"] {
        let registry = accepting(move |r, _, answer| {
            if r.method == "PATCH" {
                with_range(answer, nonsense)
            } else {
                answer
            }
        });
        let report = push_to(&registry).unwrap_or_else(|e| panic!("{nonsense}: {e:?}"));
        assert_eq!(report.bytes_uploaded, image.blob_sizes(), "{nonsense}");
        assert_eq!(posts(&registry), 3, "{nonsense}");
    }

    // A session without a `Location`: a clear error.
    let registry = accepting(|r, _, answer| {
        if r.method == "POST" {
            ScriptedResponse::new(202)
        } else {
            answer
        }
    });
    let error = push_to(&registry).unwrap_err();
    let source = std::error::Error::source(&error).map(ToString::to_string);
    assert!(
        source.as_deref().is_some_and(|s| s.contains("`Location`")),
        "{error}: {source:?}"
    );

    // The second chunk is refused every time: cairn starts the blob again a few times,
    // then gives up, naming it.
    let registry = accepting(move |r, had, answer| {
        if r.method == "PATCH" && had >= chunk {
            ScriptedResponse::new(416)
        } else {
            answer
        }
    });
    let error = push_to(&registry).unwrap_err();
    assert!(
        matches!(&error, RegistryError::BlobUpload { digest, .. } if *digest == image.layers[1].0.to_string()),
        "{error:?}"
    );
    let retries = options(CredentialOptions::anonymous()).retries as usize;
    // The two small blobs, and the big one once per attempt.
    assert_eq!(posts(&registry), 2 + 1 + retries);

    // The connection drops after the second chunk arrived, and the registry's status
    // answer is nonsense: the blob starts again, and the push succeeds.
    let dropped = AtomicBool::new(false);
    let registry = accepting(move |r, had, answer| {
        if r.method == "PATCH" && had >= chunk && !dropped.swap(true, Ordering::SeqCst) {
            answer.framing(Framing::Hangup)
        } else if r.method == "GET" && r.path().contains("/uploads/") {
            with_range(answer, "0-x")
        } else {
            answer
        }
    });
    let report = push_to(&registry).unwrap();
    assert_eq!(report.digest, image.digest);
    assert_eq!(posts(&registry), 4, "the big blob started again, once");
    assert!(report.bytes_uploaded > image.blob_sizes());
}

/// An upload `Location` on another host (here the same server by another name, as a
/// registry hands uploads to its storage) gets no credentials: only the registry does.
#[test]
fn credentials_go_only_to_the_registry() {
    let image = big_layer(10 << 10, 5);
    let port: Arc<std::sync::OnceLock<String>> = Arc::default();
    let elsewhere = Arc::clone(&port);
    let registry = accepting(move |r, _, answer| {
        let authorized = r.header("Authorization").is_some();
        let to_storage = r.method == "PATCH" || r.method == "PUT" && r.path().contains("/uploads/");
        if !authorized && !to_storage {
            return ScriptedResponse::new(401).header("WWW-Authenticate", r#"Basic realm="test""#);
        }
        if r.method == "POST" {
            // Hand the upload to "another host": localhost, where the base is 127.0.0.1.
            let mut answer = answer;
            let location = answer
                .headers
                .iter()
                .find(|(name, _)| name == "Location")
                .map(|(_, v)| v.clone())
                .unwrap();
            answer.headers.retain(|(name, _)| name != "Location");
            return answer.header(
                "Location",
                format!("http://localhost:{}{location}", elsewhere.get().unwrap()),
            );
        }
        answer
    });
    port.set(registry.addr().rsplit(':').next().unwrap().to_owned())
        .unwrap();
    let target = format!("{}/app:1", registry.addr());
    let report = push_within_a_minute(with_creds("alice", "s3cret"), &image, target).unwrap();
    assert_eq!(report.digest, image.digest);
    let requests = registry.requests();
    let uploads: Vec<_> = requests
        .iter()
        .filter(|r| r.method == "PATCH" || r.method == "PUT" && r.path().contains("/uploads/"))
        .collect();
    assert!(!uploads.is_empty());
    for upload in uploads {
        assert!(
            upload.header("Authorization").is_none(),
            "{} {} carried the credentials",
            upload.method,
            upload.target
        );
    }
    assert!(requests.iter().any(|r| r.method == "PUT"
        && r.path().contains("/manifests/")
        && r.header("Authorization").is_some()));
}
