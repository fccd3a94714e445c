//! Images built end to end: a signed fixture repository of real `.deb`s (built with
//! dpkg-deb, some holding this machine's `/usr/bin/true`, libc and `ld.so` at bookworm's
//! non-merged paths) served over HTTP, resolved, locked, installed into a store and
//! built with [`cairn_image::build`], then read back by `umoci unpack` and
//! `skopeo inspect`. Covers merged-/usr, excludes, synthesized files, reproducibility,
//! layer sharing between images, the layer cache, archives, and bad inputs that must
//! fail with a clear error before anything is written. Outside CI a missing dpkg-deb,
//! umoci or skopeo skips its cases.

#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use cairn_debian::{
    DebianLock, InstallReporter, Installed, RepoContext, Repository, Request, Trust,
    debian_sources, fetch_locked, library_providers, resolve,
};
use cairn_fetch::{FetchOptions, FetchReporter, Fetcher, NoFetchReporter};
use cairn_image::check::CheckError;
use cairn_image::synth::SynthError;
use cairn_image::{
    BuildError, BuiltImage, ComposeError, Contents, DEFAULT_BUDGET, Excludes, ImageReporter,
    ImageSpec, NoImageReporter, Output, PlanError, build,
};
use cairn_oci::{Compression, ImageConfig};
use cairn_store::Store;
use cairn_test::{FixturePackage, FixtureRepo, Oracle, TestServer, require_tool};

const SUITE: &str = "testing";
const TRUE: &str = "/usr/bin/true";
const LIBC: &str = "/lib/x86_64-linux-gnu/libc.so.6";
const LD_SO: &str = "/lib64/ld-linux-x86-64.so.2";

// --- The fixture repository --------------------------------------------------------

/// The packages every test's repository has:
///
/// - `libc6`: this machine's libc and `ld.so`, at bookworm's paths (`lib/…`, `lib64/…`);
/// - `libfix`: `bin/tool`, `lib/x86_64-linux-gnu/libfoo.so.1`, a changelog and a manual;
/// - `app` (depends on `libc6` and `libfix`): `usr/bin/app` (a copy of `/usr/bin/true`)
///   and `usr/bin/app-suid` (the same, setuid);
/// - `extra` (depends on `libfix`): a data file;
/// - `same-a`, `same-b`, `same-c` (`Replaces: same-a`), `same-0` (`Replaces: same-a`,
///   and before it in name order), `same-old` (`Replaces: same-a (<< 1.0)`, which
///   same-a 1.0-1 is not): each a different `usr/bin/same`;
/// - `bare`: a copy of `/usr/bin/true` and nothing it needs;
/// - `nolibc` (depends on `ldso`, which ships `ld.so` alone): a copy of `/usr/bin/true`.
fn packages() -> Vec<FixturePackage> {
    let true_bin = fs_err::read(TRUE).unwrap();
    let libc = fs_err::read(LIBC).unwrap();
    let ld_so = fs_err::read(LD_SO).unwrap();
    let same = |name: &str, contents: &[u8]| {
        FixturePackage::new(name, "1.0-1").file("usr/bin/same", contents, 0o755)
    };
    vec![
        FixturePackage::new("libc6", "2.36-9")
            .file("lib/x86_64-linux-gnu/libc.so.6", &libc, 0o755)
            .file("lib64/ld-linux-x86-64.so.2", &ld_so, 0o755),
        FixturePackage::new("libfix", "1.0-1")
            .file("bin/tool", b"#!/bin/sh\necho tool\n", 0o755)
            .file("lib/x86_64-linux-gnu/libfoo.so.1", b"libfoo\n", 0o644)
            .file("usr/share/doc/libfix/changelog.gz", b"changes\n", 0o644)
            .file("usr/share/man/man1/tool.1.gz", b"manual\n", 0o644),
        FixturePackage::new("app", "2.0-1")
            .field("Depends", "libc6, libfix (>= 1.0)")
            .file("usr/bin/app", &true_bin, 0o755)
            .file("usr/bin/app-suid", &true_bin, 0o4755),
        FixturePackage::new("extra", "1.0-1")
            .field("Depends", "libfix")
            .file("usr/share/extra/data", b"extra\n", 0o644),
        same("same-a", b"#!/bin/sh\necho a\n"),
        same("same-b", b"#!/bin/sh\necho b\n"),
        same("same-c", b"#!/bin/sh\necho c\n").field("Replaces", "same-a"),
        same("same-0", b"#!/bin/sh\necho 0\n").field("Replaces", "same-a (<< 2)"),
        same("same-old", b"#!/bin/sh\necho old\n").field("Replaces", "same-a (<< 1.0)"),
        FixturePackage::new("bare", "1.0-1").file("usr/bin/bare", &true_bin, 0o755),
        FixturePackage::new("ldso", "1.0-1").file("lib64/ld-linux-x86-64.so.2", &ld_so, 0o755),
        FixturePackage::new("nolibc", "1.0-1")
            .field("Depends", "ldso")
            .file("usr/bin/nolibc", &true_bin, 0o755),
    ]
}

/// A signed fixture repository on a test server, and a scratch directory.
struct Env {
    repo: FixtureRepo,
    _server: TestServer,
    url: String,
    tmp: tempfile::TempDir,
}

/// `None` when dpkg-deb is missing outside CI, or this is not an x86-64 Linux machine
/// (the fixture packages hold its programs and libraries).
fn setup() -> Option<Env> {
    require_tool("dpkg-deb")?;
    if !cfg!(all(target_arch = "x86_64", target_os = "linux")) {
        eprintln!("skipping: the fixture packages hold x86-64 Linux programs");
        return None;
    }
    let tmp = tempfile::tempdir().unwrap();
    let repo = FixtureRepo::build(&tmp.path().join("repo"), SUITE, &packages(), 7);
    let server = TestServer::serve_dir(&repo.root);
    Some(Env {
        repo,
        url: server.url(),
        _server: server,
        tmp,
    })
}

/// Reports nothing.
struct Quiet;
impl FetchReporter for Quiet {}
impl InstallReporter for Quiet {}

impl Env {
    fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    /// A new, empty store.
    fn store(&self, name: &str) -> Store {
        Store::open(&self.path(name)).unwrap()
    }

    /// Reads the fixture repository with `context(store, fetcher)`.
    fn context<'a>(&self, store: &'a Store, fetcher: &'a Fetcher) -> RepoContext<'a> {
        RepoContext {
            store,
            fetcher,
            trust: Trust::Keys(vec![("fixture".into(), self.repo.public_key.clone())]),
            now: SystemTime::now(),
            reporter: &NoFetchReporter,
        }
    }

    fn repository(&self, context: &RepoContext<'_>) -> Repository {
        let sources = debian_sources(&self.url, SUITE, &["main".into()], None);
        Repository::open(context, &sources, "amd64").unwrap()
    }

    /// The lock for `request`, its packages installed into `store`.
    fn install(&self, store: &Store, request: &[&str]) -> (DebianLock, Installed) {
        let fetcher = Fetcher::new(FetchOptions::default()).unwrap();
        let context = self.context(store, &fetcher);
        let repo = self.repository(&context);
        let request = Request {
            packages: request.iter().map(ToString::to_string).collect(),
            recommends: false,
        };
        let resolution = resolve(&repo, &request).unwrap();
        let lock = DebianLock::new(&repo, &request, &resolution);
        let reporter: Arc<dyn InstallReporter> = Arc::new(Quiet);
        let installed = fetch_locked(store, &fetcher, &lock, &reporter).unwrap();
        (lock, installed)
    }

    /// Installs `request` into `store` and builds `spec` to `output`.
    fn build(
        &self,
        store: &Store,
        request: &[&str],
        spec: &ImageSpec,
        output: &Output,
    ) -> Result<BuiltImage, BuildError> {
        self.build_reported(store, request, spec, output, &NoImageReporter)
    }

    /// [`Env::build`], reporting to `reporter`.
    fn build_reported(
        &self,
        store: &Store,
        request: &[&str],
        spec: &ImageSpec,
        output: &Output,
        reporter: &dyn ImageReporter,
    ) -> Result<BuiltImage, BuildError> {
        let (lock, installed) = self.install(store, request);
        let contents = Contents {
            lock: &lock,
            installed: &installed,
            application: &[],
            libraries: &[],
        };
        build(store, &contents, spec, Some(output), &no_hint, reporter)
    }
}

fn no_hint(_: &str) -> Option<String> {
    None
}

/// An amd64 image running `entrypoint` as `user`, with the defaults.
fn spec(entrypoint: &str, user: Option<&str>) -> ImageSpec {
    ImageSpec {
        name: "cairn/test:latest".into(),
        config: ImageConfig {
            architecture: "amd64".into(),
            os: "linux".into(),
            entrypoint: Some(vec![entrypoint.into()]),
            user: user.map(Into::into),
            ..ImageConfig::default()
        },
        users: Vec::new(),
        groups: Vec::new(),
        budget: DEFAULT_BUDGET,
        compression: Compression::Gzip,
        mtime: 0,
        excludes: Excludes::default(),
    }
}

// --- Reading images back -----------------------------------------------------------

/// `umoci unpack --rootless` of the layout's `latest` into `bundle`; its root file system.
fn unpack(umoci: &Oracle, layout: &Path, bundle: &Path) -> PathBuf {
    let out = umoci
        .command()
        .args(["unpack", "--rootless", "--image"])
        .arg(format!("{}:latest", layout.display()))
        .arg(bundle)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "umoci unpack: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    bundle.join("rootfs")
}

/// The layer digests `skopeo inspect` reports for `reference`, bottom first.
fn skopeo_layers(skopeo: &Oracle, reference: &str) -> Vec<String> {
    let out = skopeo
        .command()
        .args([
            "inspect",
            "--format",
            "{{.Architecture}}/{{.Os}}\n{{range .Layers}}{{println .}}{{end}}",
            reference,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "skopeo inspect {reference}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("amd64/linux"), "{reference}");
    lines.filter(|l| !l.is_empty()).map(str::to_owned).collect()
}

/// The layer digests of a built image, bottom first.
fn layer_digests(image: &BuiltImage) -> Vec<String> {
    image
        .layers
        .iter()
        .map(|(_, c)| c.layer.digest.to_string())
        .collect()
}

/// A blob of a layout.
fn blob(layout: &Path, digest: &str) -> Vec<u8> {
    let hex = digest.strip_prefix("sha256:").unwrap();
    fs_err::read(layout.join("blobs/sha256").join(hex)).unwrap()
}

/// The image config of a built image, from its layout (canonical JSON, no blanks).
fn config_json(layout: &Path, image: &BuiltImage) -> String {
    let manifest = String::from_utf8(blob(layout, &image.manifest.digest.to_string())).unwrap();
    let at = manifest.find(r#""config":{"#).unwrap();
    let rest = &manifest[at..];
    let at = rest.find(r#""digest":""#).unwrap() + r#""digest":""#.len();
    let digest = &rest[at..at + "sha256:".len() + 64];
    String::from_utf8(blob(layout, digest)).unwrap()
}

/// One node of an unpacked tree.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    Dir,
    File(Vec<u8>),
    Symlink(PathBuf),
}

/// Every path under `root` (relative), with its mode (`0` for symlinks) and what it is.
fn tree(root: &Path) -> BTreeMap<String, (u32, Node)> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, (u32, Node)>) {
        for entry in fs_err::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = fs_err::symlink_metadata(&path).unwrap();
            let name = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let mode = meta.permissions().mode() & 0o7777;
            if meta.file_type().is_symlink() {
                out.insert(name, (0, Node::Symlink(fs_err::read_link(&path).unwrap())));
            } else if meta.is_dir() {
                out.insert(name, (mode, Node::Dir));
                walk(root, &path, out);
            } else {
                out.insert(name, (mode, Node::File(fs_err::read(&path).unwrap())));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn names(dir: &Path) -> BTreeSet<String> {
    fs_err::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

fn mode(root: &Path, path: &str) -> u32 {
    fs_err::symlink_metadata(root.join(path))
        .unwrap()
        .permissions()
        .mode()
        & 0o7777
}

/// An error and all its causes, `: `-separated.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

// --- A good image ------------------------------------------------------------------

/// Bookworm's `/bin`, `/lib` and `/lib64` land under `usr/`, and the top-level names
/// are symlinks into it.
fn assert_merged_usr(rootfs: &Path) {
    assert_eq!(
        fs_err::read(rootfs.join("usr/bin/tool")).unwrap(),
        b"#!/bin/sh\necho tool\n"
    );
    assert_eq!(mode(rootfs, "usr/bin/tool"), 0o755);
    assert_eq!(
        fs_err::read(rootfs.join("usr/lib/x86_64-linux-gnu/libfoo.so.1")).unwrap(),
        b"libfoo\n"
    );
    assert_eq!(mode(rootfs, "usr/lib/x86_64-linux-gnu/libfoo.so.1"), 0o644);
    assert_eq!(
        fs_err::read(rootfs.join("usr/lib/x86_64-linux-gnu/libc.so.6")).unwrap(),
        fs_err::read(LIBC).unwrap()
    );
    assert_eq!(
        fs_err::read(rootfs.join("usr/lib64/ld-linux-x86-64.so.2")).unwrap(),
        fs_err::read(LD_SO).unwrap()
    );
    for (link, target) in [
        ("bin", "usr/bin"),
        ("lib", "usr/lib"),
        ("lib64", "usr/lib64"),
    ] {
        assert_eq!(
            fs_err::read_link(rootfs.join(link)).unwrap(),
            Path::new(target),
            "/{link}"
        );
    }
    assert_eq!(
        fs_err::read(rootfs.join("bin/tool")).unwrap(),
        b"#!/bin/sh\necho tool\n",
        "reachable through the /bin link"
    );
}

/// Copyright files stay, the rest of the documentation goes.
fn assert_excludes(rootfs: &Path) {
    for package in ["app", "libc6", "libfix"] {
        assert_eq!(
            fs_err::read(rootfs.join(format!("usr/share/doc/{package}/copyright"))).unwrap(),
            b"fixture\n"
        );
    }
    assert!(!rootfs.join("usr/share/doc/libfix/changelog.gz").exists());
    assert!(!rootfs.join("usr/share/man/man1/tool.1.gz").exists());
    assert!(
        !rootfs.join("usr/share/man").exists(),
        "no empty shell is left"
    );
    assert_eq!(
        names(&rootfs.join("usr/share/doc/libfix")),
        BTreeSet::from(["copyright".to_owned()])
    );
}

/// The base directories, accounts and dpkg status of an image of `app`.
fn assert_synthesized(rootfs: &Path) {
    assert_eq!(mode(rootfs, "tmp"), 0o1777);
    assert_eq!(mode(rootfs, "var/tmp"), 0o1777);
    let passwd = fs_err::read_to_string(rootfs.join("etc/passwd")).unwrap();
    assert!(
        passwd
            .lines()
            .any(|l| l == "nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin"),
        "{passwd}"
    );
    assert!(
        passwd.lines().any(|l| l.starts_with("root:x:0:0:")),
        "{passwd}"
    );
    let group = fs_err::read_to_string(rootfs.join("etc/group")).unwrap();
    assert!(group.lines().any(|l| l == "nonroot:x:65532:"), "{group}");
    assert_eq!(mode(rootfs, "home/nonroot"), 0o700);
    assert!(rootfs.join("etc/nsswitch.conf").is_file());
    let status_d = rootfs.join("var/lib/dpkg/status.d");
    assert_eq!(
        names(&status_d),
        BTreeSet::from(["app".to_owned(), "libc6".to_owned(), "libfix".to_owned()])
    );
    for package in ["app", "libc6", "libfix"] {
        let control = fs_err::read_to_string(status_d.join(package)).unwrap();
        assert!(
            control.starts_with(&format!("Package: {package}\n")),
            "{control}"
        );
    }
    let app_status = fs_err::read_to_string(status_d.join("app")).unwrap();
    assert!(app_status.contains("Version: 2.0-1\n"), "{app_status}");
    assert!(
        app_status.contains("Depends: libc6, libfix (>= 1.0)\n"),
        "{app_status}"
    );
}

#[test]
fn excluded_trees_leave_no_empty_directories() {
    let Some(env) = setup() else { return };
    let Some(umoci) = require_tool("umoci") else {
        return;
    };
    let store = env.store("store");
    let layout = env.path("image");
    env.build(
        &store,
        &["app"],
        &spec("/usr/bin/app", None),
        &Output::OciDir(layout.clone()),
    )
    .unwrap();
    let rootfs = unpack(&umoci, &layout, &env.path("bundle"));
    // Only libfix ships a manual (`usr/share/man/man1/tool.1.gz`), which is excluded;
    // nothing under `usr/share/man` can be kept, so nothing of it should be left.
    assert!(
        !rootfs.join("usr/share/man").exists(),
        "{:?}",
        tree(&rootfs.join("usr/share/man"))
    );
}

#[test]
fn oci_layout_has_merged_usr_excludes_accounts_and_status() {
    let Some(env) = setup() else { return };
    let Some(umoci) = require_tool("umoci") else {
        return;
    };
    let store = env.store("store");
    let layout = env.path("image");
    // The architecture comes from the lock, whatever the caller says.
    let mut with_wrong_arch = spec("/usr/bin/app", Some("nonroot"));
    with_wrong_arch.config.architecture = "arm64".into();
    let built = env
        .build(
            &store,
            &["app"],
            &with_wrong_arch,
            &Output::OciDir(layout.clone()),
        )
        .unwrap();
    assert_eq!(built.fresh_layers, built.layers.len(), "a new store");
    let rootfs = unpack(&umoci, &layout, &env.path("bundle"));

    assert_merged_usr(&rootfs);
    assert_excludes(&rootfs);
    assert_synthesized(&rootfs);

    // A package's setuid bit is kept (dpkg-deb --root-owner-group makes every owner
    // root, so only the mode says anything).
    assert_eq!(mode(&rootfs, "usr/bin/app-suid"), 0o4755);
    assert_eq!(mode(&rootfs, "usr/bin/app"), 0o755);

    // The config: the user as numbers, the entrypoint as given.
    let config = config_json(&layout, &built);
    assert!(config.contains(r#""User":"65532:65532""#), "{config}");
    assert!(
        config.contains(r#""Entrypoint":["/usr/bin/app"]"#),
        "{config}"
    );
    assert!(config.contains(r#""architecture":"amd64""#), "{config}");
    assert!(
        config.contains(r#""created":"1970-01-01T00:00:00Z""#),
        "{config}"
    );

    // One layer per package, most depended-on first, then the generated files.
    let descriptions: Vec<&str> = built
        .layers
        .iter()
        .map(|(p, _)| p.description.as_str())
        .collect();
    assert_eq!(
        descriptions,
        [
            "cairn: libc6 2.36-9",
            "cairn: libfix 1.0-1",
            "cairn: app 2.0-1",
            "cairn: accounts",
            "cairn: base",
            "cairn: dpkg-status",
        ]
    );
}

// --- Reproducibility -----------------------------------------------------------------

#[test]
fn same_inputs_give_the_same_digest_in_fresh_stores_whatever_the_request_order() {
    let Some(env) = setup() else { return };
    let spec = spec("/usr/bin/app", Some("nonroot"));
    let first = env
        .build(
            &env.store("store-1"),
            &["app", "extra"],
            &spec,
            &Output::OciDir(env.path("image-1")),
        )
        .unwrap();
    let second = env
        .build(
            &env.store("store-2"),
            &["extra", "libfix", "app"],
            &spec,
            &Output::OciDir(env.path("image-2")),
        )
        .unwrap();
    assert_eq!(second.fresh_layers, second.layers.len(), "a fresh store");
    assert_eq!(first.manifest.digest, second.manifest.digest);
    assert_eq!(layer_digests(&first), layer_digests(&second));
    assert_eq!(
        tree(&env.path("image-1")),
        tree(&env.path("image-2")),
        "byte-identical layouts"
    );
}

#[test]
fn mtime_changes_the_digest_but_not_the_tree() {
    let Some(env) = setup() else { return };
    let Some(umoci) = require_tool("umoci") else {
        return;
    };
    let store = env.store("store");
    let mut later = spec("/usr/bin/app", Some("nonroot"));
    later.mtime = 1_700_000_000;
    let epoch = env
        .build(
            &store,
            &["app"],
            &spec("/usr/bin/app", Some("nonroot")),
            &Output::OciDir(env.path("epoch")),
        )
        .unwrap();
    let dated = env
        .build(&store, &["app"], &later, &Output::OciDir(env.path("dated")))
        .unwrap();
    assert_ne!(epoch.manifest.digest, dated.manifest.digest);
    assert_eq!(epoch.layers.len(), dated.layers.len());
    for ((plan_a, a), (plan_b, b)) in epoch.layers.iter().zip(&dated.layers) {
        assert_eq!(plan_a, plan_b, "the same plan");
        assert_ne!(
            a.layer.digest, b.layer.digest,
            "{}: the tar headers hold the mtime",
            plan_a.description
        );
    }
    assert_eq!(dated.fresh_layers, dated.layers.len(), "nothing reused");
    let config = config_json(&env.path("dated"), &dated);
    assert!(
        config.contains(r#""created":"2023-11-14T22:13:20Z""#),
        "{config}"
    );

    let a = unpack(&umoci, &env.path("epoch"), &env.path("bundle-epoch"));
    let b = unpack(&umoci, &env.path("dated"), &env.path("bundle-dated"));
    let (tree_a, tree_b) = (tree(&a), tree(&b));
    assert!(tree_a.contains_key("usr/bin/app"));
    assert_eq!(tree_a, tree_b, "paths, modes, contents and link targets");
    let mtime = |root: &Path, p: &str| fs_err::symlink_metadata(root.join(p)).unwrap().mtime();
    assert_eq!(mtime(&a, "usr/bin/app"), 0);
    assert_eq!(mtime(&b, "usr/bin/app"), 1_700_000_000);
    assert_eq!(mtime(&b, "etc/passwd"), 1_700_000_000);
}

// --- Layers --------------------------------------------------------------------------

#[test]
fn package_layers_are_shared_between_images() {
    let Some(env) = setup() else { return };
    let spec = spec("/usr/bin/app", None);
    // B in its own store, so that nothing is shared by the cache.
    let a = env
        .build(
            &env.store("store-a"),
            &["app"],
            &spec,
            &Output::OciDir(env.path("a")),
        )
        .unwrap();
    let b = env
        .build(
            &env.store("store-b"),
            &["app", "extra"],
            &spec,
            &Output::OciDir(env.path("b")),
        )
        .unwrap();
    let by_description = |image: &BuiltImage| -> BTreeMap<String, (Vec<String>, String)> {
        image
            .layers
            .iter()
            .map(|(p, c)| {
                (
                    p.description.clone(),
                    (p.parts.clone(), c.layer.digest.to_string()),
                )
            })
            .collect()
    };
    let (layers_a, layers_b) = (by_description(&a), by_description(&b));
    for (package, version) in [("libc6", "2.36-9"), ("libfix", "1.0-1"), ("app", "2.0-1")] {
        let key = format!("cairn: {package} {version}");
        assert_eq!(layers_a[&key].0, [package]);
        assert_eq!(
            layers_a[&key], layers_b[&key],
            "{package}: the same layer in both images"
        );
    }
    assert_eq!(layers_b["cairn: extra 1.0-1"].0, ["extra"]);
    let digests_a: BTreeSet<&String> = layers_a.values().map(|(_, d)| d).collect();
    let digests_b: BTreeSet<&String> = layers_b.values().map(|(_, d)| d).collect();
    let only_b: BTreeSet<&str> = layers_b
        .iter()
        .filter(|(_, (_, d))| !digests_a.contains(d))
        .map(|(k, _)| k.as_str())
        .collect();
    assert_eq!(
        only_b,
        BTreeSet::from(["cairn: extra 1.0-1", "cairn: dpkg-status"]),
        "only the new package and the package list differ"
    );
    let only_a: BTreeSet<&str> = layers_a
        .iter()
        .filter(|(_, (_, d))| !digests_b.contains(d))
        .map(|(k, _)| k.as_str())
        .collect();
    assert_eq!(only_a, BTreeSet::from(["cairn: dpkg-status"]));
}

#[test]
fn a_warm_build_writes_no_layer() {
    let Some(env) = setup() else { return };
    let store = env.store("store");
    let spec = spec("/usr/bin/app", Some("nonroot"));
    let cold = env
        .build(&store, &["app"], &spec, &Output::OciDir(env.path("cold")))
        .unwrap();
    assert_eq!(cold.fresh_layers, cold.layers.len());
    let warm = env
        .build(&store, &["app"], &spec, &Output::OciDir(env.path("warm")))
        .unwrap();
    assert_eq!(warm.fresh_layers, 0, "every layer from the store");
    assert_eq!(warm.manifest.digest, cold.manifest.digest);
    assert_eq!(layer_digests(&warm), layer_digests(&cold));
    assert_eq!(tree(&env.path("cold")), tree(&env.path("warm")));
    // The image in the store is found, not made again: no object is added.
    assert!(cold.fresh_image);
    assert!(!warm.fresh_image, "the layout was written again");
    assert_eq!(warm.object, cold.object);
    let objects = |store: &Store| store.all_objects().unwrap().len();
    let before = objects(&store);
    env.build(&store, &["app"], &spec, &Output::OciDir(env.path("again")))
        .unwrap();
    assert_eq!(objects(&store), before);
    // A new package makes only its own layer and the package list.
    let grown = env
        .build(
            &store,
            &["app", "extra"],
            &spec,
            &Output::OciDir(env.path("grown")),
        )
        .unwrap();
    assert_eq!(grown.fresh_layers, 2, "extra and dpkg-status");
}

/// What an [`ImageReporter`] was told.
#[derive(Default)]
struct Recorded(std::sync::Mutex<Vec<String>>);

impl Recorded {
    fn take(&self) -> Vec<String> {
        let mut events = std::mem::take(&mut *self.0.lock().unwrap());
        // Layers are written on several threads: their events come in any order.
        events.sort();
        events
    }
}

impl ImageReporter for Recorded {
    fn on_layers_start(&self, count: usize, _bytes: u64) {
        self.0.lock().unwrap().push(format!("layers {count}"));
    }
    fn on_layer_written(&self, what: &str, _bytes: u64, size: u64) {
        assert!(size > 0, "{what}: a blob has bytes");
        self.0.lock().unwrap().push(format!("written {what}"));
    }
}

#[test]
fn only_layers_written_are_reported() {
    let Some(env) = setup() else { return };
    let store = env.store("store");
    let spec = spec("/usr/bin/app", Some("nonroot"));
    let recorded = Recorded::default();
    let build = |request: &[&str], dir: &str| {
        env.build_reported(
            &store,
            request,
            &spec,
            &Output::OciDir(env.path(dir)),
            &recorded,
        )
        .unwrap()
    };
    let cold = build(&["app"], "cold");
    let events = recorded.take();
    assert!(
        events.contains(&format!("layers {}", cold.layers.len())),
        "{events:?}"
    );
    for (layer, _) in &cold.layers {
        let what = layer.description.strip_prefix("cairn: ").unwrap();
        assert!(events.contains(&format!("written {what}")), "{events:?}");
    }
    assert_eq!(events.len(), 1 + cold.layers.len(), "{events:?}");
    // Layers found in the store are no work.
    build(&["app"], "warm");
    assert!(recorded.take().is_empty(), "nothing reported");
    let grown = build(&["app", "extra"], "grown");
    assert_eq!(grown.fresh_layers, 2);
    let extra = grown
        .layers
        .iter()
        .map(|(p, _)| p.description.strip_prefix("cairn: ").unwrap())
        .find(|d| d.starts_with("extra "))
        .unwrap();
    assert_eq!(
        recorded.take(),
        [
            "layers 2".to_owned(),
            "written dpkg-status".to_owned(),
            format!("written {extra}"),
        ]
    );
}

#[test]
fn the_budget_bounds_the_layers() {
    let Some(env) = setup() else { return };
    let store = env.store("store");
    // Three packages and three groups of generated files (accounts, base, dpkg-status).
    let mut spec = spec("/usr/bin/app", None);
    spec.budget = 4;
    let built = env
        .build(&store, &["app"], &spec, &Output::OciDir(env.path("four")))
        .unwrap();
    let layers: Vec<(&str, &[String])> = built
        .layers
        .iter()
        .map(|(p, _)| (p.description.as_str(), p.parts.as_slice()))
        .collect();
    assert_eq!(
        layers,
        [
            (
                "cairn: 3 packages: app 2.0-1, libc6 2.36-9, libfix 1.0-1",
                ["app".to_owned(), "libc6".to_owned(), "libfix".to_owned()].as_slice()
            ),
            ("cairn: accounts", [].as_slice()),
            ("cairn: base", [].as_slice()),
            ("cairn: dpkg-status", [].as_slice()),
        ]
    );
    spec.budget = 5;
    let built = env
        .build(&store, &["app"], &spec, &Output::OciDir(env.path("five")))
        .unwrap();
    let descriptions: Vec<&str> = built
        .layers
        .iter()
        .map(|(p, _)| p.description.as_str())
        .collect();
    assert_eq!(
        descriptions,
        [
            "cairn: libc6 2.36-9",
            "cairn: 2 packages: app 2.0-1, libfix 1.0-1",
            "cairn: accounts",
            "cairn: base",
            "cairn: dpkg-status",
        ],
        "the most depended-on package keeps its own layer"
    );
}

// --- Bad inputs ----------------------------------------------------------------------

/// Builds `spec` of `request` (which must fail) to a new path and over a previous
/// layout, and checks that neither is touched; returns the error.
fn refused(env: &Env, store: &Store, request: &[&str], spec: &ImageSpec) -> BuildError {
    let parent = env.path("out");
    if !parent.exists() {
        fs_err::create_dir(&parent).unwrap();
    }
    let previous = parent.join("previous");
    if !previous.exists() {
        env.build(
            store,
            &["app"],
            &self::spec("/usr/bin/app", None),
            &Output::OciDir(previous.clone()),
        )
        .unwrap();
    }
    let before = tree(&previous);
    let listing = names(&parent);
    let mut errors = Vec::new();
    for output in [
        Output::OciDir(parent.join("new")),
        Output::OciDir(previous.clone()),
        Output::OciArchive(parent.join("new.oci.tar")),
        Output::DockerArchive(parent.join("new.docker.tar")),
    ] {
        let error = env.build(store, request, spec, &output).unwrap_err();
        assert_eq!(names(&parent), listing, "{output:?}: nothing new written");
        assert_eq!(tree(&previous), before, "{output:?}: the old layout kept");
        errors.push(chain(&error));
        if errors.len() == 4 {
            assert!(errors.iter().all(|e| *e == errors[0]), "{errors:?}");
            return error;
        }
    }
    unreachable!()
}

#[test]
fn a_file_conflict_is_refused_unless_one_replaces_the_other() {
    let Some(env) = setup() else { return };
    let Some(umoci) = require_tool("umoci") else {
        return;
    };
    let store = env.store("store");
    let spec = spec("/usr/bin/app", None);
    let error = refused(&env, &store, &["app", "same-a", "same-b"], &spec);
    let message = error.to_string();
    assert!(
        matches!(
            &error,
            BuildError::Compose(ComposeError::Conflict { path, first, second })
                if path == b"usr/bin/same" && first == "same-a" && second == "same-b"
        ),
        "{error:?}"
    );
    for word in ["/usr/bin/same", "same-a", "same-b"] {
        assert!(message.contains(word), "{message}");
    }
    assert!(error.hint().is_some());

    // With `Replaces`, the replacing package's file wins, whichever comes first.
    for (replacer, contents) in [
        ("same-c", "#!/bin/sh\necho c\n"),
        ("same-0", "#!/bin/sh\necho 0\n"),
    ] {
        let layout = env.path(replacer);
        let built = env
            .build(
                &store,
                &["app", "same-a", replacer],
                &spec,
                &Output::OciDir(layout.clone()),
            )
            .unwrap();
        let rootfs = unpack(&umoci, &layout, &env.path(&format!("bundle-{replacer}")));
        assert_eq!(
            fs_err::read_to_string(rootfs.join("usr/bin/same")).unwrap(),
            contents,
            "{replacer}"
        );
        // Only the winner's layer holds the file.
        let holders: Vec<&str> = built
            .layers
            .iter()
            .filter(|(p, _)| p.entries.iter().any(|e| e.path == b"usr/bin/same"))
            .map(|(p, _)| p.description.as_str())
            .collect();
        assert_eq!(holders, [format!("cairn: {replacer} 1.0-1")], "{replacer}");
    }

    // `Replaces: same-a (<< 1.0)` does not cover same-a 1.0-1: still a conflict (found
    // in review: versions were ignored).
    let error = refused(&env, &store, &["app", "same-a", "same-old"], &spec);
    assert!(
        matches!(&error, BuildError::Compose(ComposeError::Conflict { .. })),
        "{error:?}"
    );
}

#[test]
fn a_missing_entrypoint_is_refused() {
    let Some(env) = setup() else { return };
    let store = env.store("store");
    let error = refused(&env, &store, &["app"], &spec("/usr/bin/nothing", None));
    assert!(
        matches!(&error, BuildError::Check(CheckError::MissingEntrypoint { path }) if path == "/usr/bin/nothing"),
        "{error:?}"
    );
    assert!(error.to_string().contains("/usr/bin/nothing"), "{error}");
}

#[test]
fn a_missing_interpreter_or_library_is_refused() {
    let Some(env) = setup() else { return };
    let store = env.store("store");
    // No ld.so at all.
    let error = refused(&env, &store, &["bare"], &spec("/usr/bin/bare", None));
    assert!(
        matches!(
            &error,
            BuildError::Check(CheckError::MissingInterpreter { program, interpreter })
                if program == "/usr/bin/bare" && interpreter == LD_SO
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains(LD_SO), "{error}");

    // ld.so, but no libc.
    let error = refused(&env, &store, &["nolibc"], &spec("/usr/bin/nolibc", None));
    let BuildError::Check(CheckError::MissingLibrary {
        program,
        library,
        needed_by,
        searched,
        ..
    }) = &error
    else {
        panic!("{error:?}");
    };
    assert_eq!(program, "/usr/bin/nolibc");
    assert_eq!(library, "libc.so.6");
    assert_eq!(needed_by, &None);
    assert_eq!(
        searched,
        &[
            "/lib/x86_64-linux-gnu",
            "/usr/lib/x86_64-linux-gnu",
            "/lib",
            "/usr/lib"
        ]
    );
    let message = error.to_string();
    assert!(message.contains("libc.so.6"), "{message}");
    assert!(message.contains("/usr/bin/nolibc"), "{message}");

    // The provider hint, from the repository's signed Contents index, is part of the
    // message.
    let (lock, installed) = env.install(&store, &["nolibc"]);
    let fetcher = Fetcher::new(FetchOptions::default()).unwrap();
    let context = env.context(&store, &fetcher);
    let repository = env.repository(&context);
    let providers = |soname: &str| {
        library_providers(&context, &repository, soname, "x86_64-linux-gnu").unwrap()
    };
    assert_eq!(providers("libc.so.6"), ["libc6"]);
    assert_eq!(providers("libnothing.so.1"), Vec::<String>::new());
    // Kept in the store: offline, the same answer.
    let offline = Fetcher::new(FetchOptions {
        offline: true,
        ..FetchOptions::default()
    })
    .unwrap();
    let offline_context = env.context(&store, &offline);
    let offline_repository = env.repository(&offline_context);
    assert_eq!(
        library_providers(
            &offline_context,
            &offline_repository,
            "libc.so.6",
            "x86_64-linux-gnu"
        )
        .unwrap(),
        ["libc6"]
    );
    let hint = |soname: &str| providers(soname).first().cloned();
    let output = env.path("hinted");
    let contents = Contents {
        lock: &lock,
        installed: &installed,
        application: &[],
        libraries: &[],
    };
    let error = build(
        &store,
        &contents,
        &spec("/usr/bin/nolibc", None),
        Some(&Output::OciDir(output.clone())),
        &hint,
        &NoImageReporter,
    )
    .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("the package `libc6` provides it"),
        "{error}"
    );
    assert!(!output.exists());
}

#[test]
fn an_unknown_user_is_refused() {
    let Some(env) = setup() else { return };
    let store = env.store("store");
    let error = refused(&env, &store, &["app"], &spec("/usr/bin/app", Some("ghost")));
    assert!(
        matches!(
            &error,
            BuildError::Synth(SynthError::UnknownUser { user, .. }) if user == "ghost"
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("`ghost`"), "{error}");
    // A known name with an unknown group, and an unknown uid.
    let error = refused(
        &env,
        &store,
        &["app"],
        &spec("/usr/bin/app", Some("nonroot:ghosts")),
    );
    assert!(
        matches!(&error, BuildError::Synth(SynthError::UnknownGroup { group, .. }) if group == "ghosts"),
        "{error:?}"
    );
    let error = refused(&env, &store, &["app"], &spec("/usr/bin/app", Some("4242")));
    assert!(error.to_string().contains("4242"), "{error}");
}

#[test]
fn a_budget_below_the_minimum_is_refused() {
    let Some(env) = setup() else { return };
    let store = env.store("store");
    for budget in [0, 1, 3] {
        let mut spec = spec("/usr/bin/app", None);
        spec.budget = budget;
        let error = refused(&env, &store, &["app"], &spec);
        assert!(
            matches!(
                &error,
                BuildError::Plan(PlanError::BudgetTooSmall { budget: b, minimum: 4 }) if *b == budget
            ),
            "{error:?}"
        );
        let message = error.to_string();
        assert!(
            message.contains(&format!("a budget of {budget} layers is too small")),
            "{message}"
        );
        assert!(message.contains("at least 4"), "{message}");
        assert_eq!(error.hint().as_deref(), Some("raise `--layers`"));
    }
}

// --- Archives ------------------------------------------------------------------------

#[test]
fn archives_hold_the_same_image_as_the_layout() {
    let Some(env) = setup() else { return };
    let Some(skopeo) = require_tool("skopeo") else {
        return;
    };
    let store = env.store("store");
    let spec = spec("/usr/bin/app", Some("nonroot"));
    let layout = env
        .build(&store, &["app"], &spec, &Output::OciDir(env.path("layout")))
        .unwrap();
    let expected = layer_digests(&layout);
    assert_eq!(
        skopeo_layers(
            &skopeo,
            &format!("oci:{}:latest", env.path("layout").display())
        ),
        expected
    );
    // skopeo names a docker-archive's layers by their uncompressed digests (it reads
    // them through the config's `diff_ids`), an OCI archive's by their blobs.
    let diff_ids: Vec<String> = layout
        .layers
        .iter()
        .map(|(_, c)| c.layer.diff_id.to_string())
        .collect();
    for (output, transport, expected) in [
        (
            Output::OciArchive(env.path("image.oci.tar")),
            "oci-archive",
            &expected,
        ),
        (
            Output::DockerArchive(env.path("image.docker.tar")),
            "docker-archive",
            &diff_ids,
        ),
    ] {
        let built = env.build(&store, &["app"], &spec, &output).unwrap();
        assert_eq!(built.manifest.digest, layout.manifest.digest, "{transport}");
        assert_eq!(built.fresh_layers, 0, "{transport}: layers from the store");
        let (Output::OciArchive(file) | Output::DockerArchive(file)) = &output else {
            unreachable!()
        };
        let first = fs_err::read(file).unwrap();
        assert_eq!(
            &skopeo_layers(&skopeo, &format!("{transport}:{}", file.display())),
            expected,
            "{transport}"
        );
        // Written again: byte for byte the same file.
        env.build(&store, &["app"], &spec, &output).unwrap();
        assert_eq!(fs_err::read(file).unwrap(), first, "{transport}");
    }
}

#[test]
fn application_parts_come_last_and_may_overwrite_package_files() {
    let Some(env) = setup() else { return };
    let Some(umoci) = require_tool("umoci") else {
        return;
    };
    let store = env.store("store");
    let (lock, installed) = env.install(&store, &["app"]);
    let site = env.path("site-tree");
    fs_err::create_dir_all(site.join("srv/site")).unwrap();
    fs_err::create_dir_all(site.join("usr/share/doc/app")).unwrap();
    cairn_test::write_file(&site.join("srv/site/index.html"), b"<h1>hi</h1>\n", 0o644);
    cairn_test::write_file(
        &site.join("usr/share/doc/app/copyright"),
        b"overridden\n",
        0o644,
    );
    let object = store
        .add_path(
            &site,
            &cairn_store::AddOptions {
                name: Some("site".into()),
                ..cairn_store::AddOptions::default()
            },
            &cairn_store::NoReporter,
        )
        .unwrap();
    let application = [("files:/srv/site".to_owned(), object)];
    let contents = Contents {
        lock: &lock,
        installed: &installed,
        application: &application,
        libraries: &[],
    };
    let layout = env.path("image");
    let built = build(
        &store,
        &contents,
        &spec("/usr/bin/app", None),
        Some(&Output::OciDir(layout.clone())),
        &no_hint,
        &NoImageReporter,
    )
    .unwrap();
    let (last, _) = built.layers.last().unwrap();
    assert_eq!(last.description, "cairn: files:/srv/site");
    let holders: Vec<&str> = built
        .layers
        .iter()
        .filter(|(p, _)| {
            p.entries
                .iter()
                .any(|e| e.path == b"usr/share/doc/app/copyright")
        })
        .map(|(p, _)| p.description.as_str())
        .collect();
    assert_eq!(
        holders,
        ["cairn: app 2.0-1", "cairn: files:/srv/site"],
        "the package keeps its file; the application's layer, above it, wins"
    );
    // So the package's layer is the one an image without the application has.
    let plain = env
        .build(
            &env.store("plain-store"),
            &["app"],
            &spec("/usr/bin/app", None),
            &Output::OciDir(env.path("plain")),
        )
        .unwrap();
    let digest_of = |image: &BuiltImage, description: &str| {
        image
            .layers
            .iter()
            .find(|(p, _)| p.description == description)
            .map(|(_, c)| c.layer.digest)
    };
    assert_eq!(
        digest_of(&built, "cairn: app 2.0-1"),
        digest_of(&plain, "cairn: app 2.0-1")
    );
    let rootfs = unpack(&umoci, &layout, &env.path("bundle"));
    assert_eq!(
        fs_err::read_to_string(rootfs.join("usr/share/doc/app/copyright")).unwrap(),
        "overridden\n"
    );
    assert_eq!(
        fs_err::read_to_string(rootfs.join("srv/site/index.html")).unwrap(),
        "<h1>hi</h1>\n"
    );

    // The image is in the store too, as a layout whose layers link to their objects:
    // umoci reads it, and it unpacks to the same root file system.
    let in_store = store.object_dir(&built.object);
    let again = unpack(&umoci, &in_store, &env.path("bundle-store"));
    assert_eq!(tree(&again), tree(&rootfs));
    let references = store.info(&built.object).unwrap().references;
    assert_eq!(references.len(), built.layers.len());
    assert!(
        store
            .verify(None, &cairn_store::NoReporter)
            .unwrap()
            .is_ok()
    );
}

#[test]
fn a_file_where_a_package_has_a_directory_is_a_conflict_even_for_the_application() {
    let Some(env) = setup() else { return };
    let store = env.store("store");
    let (lock, installed) = env.install(&store, &["app"]);
    let flat = env.path("flat-tree");
    fs_err::create_dir_all(flat.join("usr/share/doc")).unwrap();
    cairn_test::write_file(&flat.join("usr/share/doc/app"), b"not a dir\n", 0o644);
    let object = store
        .add_path(
            &flat,
            &cairn_store::AddOptions {
                name: Some("flat".into()),
                ..cairn_store::AddOptions::default()
            },
            &cairn_store::NoReporter,
        )
        .unwrap();
    let application = [("file:/usr/share/doc/app".to_owned(), object)];
    let contents = Contents {
        lock: &lock,
        installed: &installed,
        application: &application,
        libraries: &[],
    };
    let refused_output = env.path("refused");
    let error = build(
        &store,
        &contents,
        &spec("/usr/bin/app", None),
        Some(&Output::OciDir(refused_output.clone())),
        &no_hint,
        &NoImageReporter,
    )
    .unwrap_err();
    assert!(
        matches!(&error, BuildError::Compose(ComposeError::Conflict { path, .. }) if path == b"usr/share/doc/app"),
        "{error:?}"
    );
    assert!(!refused_output.exists());
}

#[test]
fn an_application_file_over_a_generated_file_is_a_conflict() {
    let Some(env) = setup() else { return };
    let store = env.store("store");
    let (lock, installed) = env.install(&store, &["app"]);
    let tree = env.path("passwd-tree");
    fs_err::create_dir_all(tree.join("etc")).unwrap();
    cairn_test::write_file(&tree.join("etc/passwd"), b"root:x:0:0::/:/bin/sh\n", 0o644);
    let object = store
        .add_path(
            &tree,
            &cairn_store::AddOptions {
                name: Some("passwd".into()),
                ..cairn_store::AddOptions::default()
            },
            &cairn_store::NoReporter,
        )
        .unwrap();
    let application = [("file:/etc/passwd".to_owned(), object)];
    let contents = Contents {
        lock: &lock,
        installed: &installed,
        application: &application,
        libraries: &[],
    };
    let output = env.path("refused");
    let error = build(
        &store,
        &contents,
        &spec("/usr/bin/app", Some("nonroot")),
        Some(&Output::OciDir(output.clone())),
        &no_hint,
        &NoImageReporter,
    )
    .unwrap_err();
    assert!(
        matches!(&error, BuildError::Compose(ComposeError::Conflict { path, .. }) if path == b"etc/passwd"),
        "{error:?}"
    );
    assert!(error.to_string().contains("generated"), "{error}");
    assert!(!output.exists());
}

// --- A build step's root as overlay layers -----------------------------------------

/// `find`'s view of the tree at `dir`: every path with its type, a symbolic link's
/// target, and a file's mode and SHA-256 (directories' modes differ by design: the
/// store's are read-only). With `mount` (a shell command), in a new user and mount
/// namespace after it.
fn find_view(dir: &Path, mount: Option<&str>) -> String {
    let dir = dir.display();
    let script = format!(
        "{}cd {dir} && find . -mindepth 1 \\( -type d -printf '%P dir\\n' \\) \
         -o \\( -type l -printf '%P link %l\\n' \\) -o -printf '%P %y %m\\n' | sort && \
         find . -type f -exec sha256sum {{}} + | sort",
        mount.map(|m| format!("{m} && ")).unwrap_or_default()
    );
    let mut command = std::process::Command::new("unshare");
    if mount.is_some() {
        command.args(["--user", "--map-root-user", "--mount"]);
    }
    command.args(["sh", "-c", &script]);
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// A build step's root as store objects stacked under a small top layer
/// ([`cairn_image::Rootfs::stack`]) shows, mounted by the kernel's overlayfs, exactly
/// the tree that linking every entry makes: bookworm's `/lib` and `/bin` moved under
/// `usr/`, a `Replaces` winner, the synthesized accounts and dpkg status, documentation.
#[test]
fn a_stacked_root_shows_what_the_linked_root_does() {
    let Some(env) = setup() else { return };
    let store = env.store("store");
    let (lock, installed) = env.install(&store, &["app", "extra", "same-a", "same-c"]);
    let contents = Contents {
        lock: &lock,
        installed: &installed,
        application: &[],
        libraries: &[],
    };
    let rootfs = cairn_image::root_filesystem(&store, &contents).unwrap();
    let stack = rootfs
        .stack(&store, 499)
        .unwrap()
        .expect("the objects can show this root");
    assert_eq!(stack.lower.len(), installed.len());
    // Only what composition moved or made is in the top layer.
    let top = &stack.top.entries;
    for moved in [
        "usr/lib/x86_64-linux-gnu/libc.so.6",
        "usr/bin/tool",
        "etc/passwd",
        "bin",
    ] {
        assert!(top.contains_key(moved.as_bytes()), "{moved} not on top");
    }
    for below in ["usr/bin/app", "usr/share/extra/data", "usr/share/man"] {
        assert!(!top.contains_key(below.as_bytes()), "{below} on top");
    }

    let linked = env.path("linked");
    rootfs.link_into(&linked).unwrap();
    let top_dir = env.path("top");
    stack.top.link_into(&top_dir).unwrap();
    let merged = env.path("merged");
    fs_err::create_dir(&merged).unwrap();
    let layers: Vec<String> = std::iter::once(top_dir)
        .chain(stack.lower.iter().cloned())
        .map(|p| p.display().to_string())
        .collect();
    let mount = format!(
        "mount -t overlay overlay -o lowerdir={} {}",
        layers.join(":"),
        merged.display()
    );
    // same-c `Replaces` same-a, and is stacked above it: its file is not on top.
    assert_eq!(
        fs_err::read(linked.join("usr/bin/same")).unwrap(),
        b"#!/bin/sh\necho c\n"
    );
    assert!(!top.contains_key(b"usr/bin/same".as_slice()));
    let expected = find_view(&linked, None);
    assert_eq!(find_view(&merged, Some(&mount)), expected);

    // With documentation left out, the objects would show it: no stack.
    let parts = installed
        .iter()
        .map(|(name, object)| cairn_image::Part {
            label: name.clone(),
            version: None,
            object: object.clone(),
            replaces: BTreeSet::new(),
            application: false,
        })
        .filter(|p| p.label == "libfix")
        .collect();
    let excluded = cairn_image::Rootfs::compose(&store, parts, &Excludes::default()).unwrap();
    assert!(excluded.stack(&store, 499).unwrap().is_none());
    // Nor when there are more objects than layers.
    assert!(rootfs.stack(&store, 2).unwrap().is_none());
}
