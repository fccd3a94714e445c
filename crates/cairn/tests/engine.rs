//! Live: `cairn load`, `cairn run` and `cairn inspect` of `examples/hello` (locked
//! against the real trixie mirror), loaded into podman (configured through its own
//! files, with its storage in the test's directory) and into a Docker daemon of the
//! test's own; and the errors, some with a fake engine on PATH.

#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

mod support;

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cairn_test::{DockerDaemon, require_tool};
use support::{example, lowercase_tempdir, ok};

/// A copy of an example in a directory of the test's own, with its store there.
struct Project {
    tmp: tempfile::TempDir,
    dir: PathBuf,
    /// `store` in the test's directory, unless a test chooses another path.
    store: PathBuf,
    /// Whether the project has a `cairn.lock`, which must then stay.
    locked: bool,
    env: Vec<(String, OsString)>,
}

impl Project {
    /// `examples/<name>`, not locked.
    fn new(test: &str, name: &str) -> Self {
        let tmp = lowercase_tempdir(test);
        let dir = example(name, tmp.path());
        Project {
            store: tmp.path().join("store"),
            tmp,
            dir,
            locked: false,
            env: Vec::new(),
        }
    }

    /// `examples/<name>`, locked.
    fn locked(test: &str, name: &str) -> Self {
        let mut project = Project::new(test, name);
        project.lock();
        project
    }

    /// Writes the project's `cairn.lock`.
    fn lock(&mut self) {
        ok(&self.cairn(&["lock"]).output().unwrap());
        self.locked = true;
    }

    fn root(&self) -> &Path {
        self.tmp.path()
    }

    fn store(&self) -> &Path {
        &self.store
    }

    /// `cairn --store STORE COMMAND -C DIR ARGS…` with the project's environment (not
    /// quiet: the build's summary is on stderr).
    fn cairn(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_cairn"));
        command
            .arg("--store")
            .arg(self.store())
            .args(&args[..1])
            .arg("-C")
            .arg(&self.dir)
            .args(&args[1..])
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        command
    }

    /// The names in the project's directory.
    fn files(&self) -> BTreeSet<String> {
        names(&self.dir)
    }

    /// The store's objects.
    fn objects(&self) -> BTreeSet<String> {
        names(&self.store().join("v1/objects"))
    }

    /// Asserts that the project has only its spec and, once locked, its lock, and the
    /// store no staging debris.
    fn assert_nothing_left(&self) {
        let expected: BTreeSet<String> = ["cairn.lock", "cairn.star"]
            .into_iter()
            .filter(|name| name == &"cairn.star" || self.locked)
            .map(str::to_owned)
            .collect();
        assert_eq!(self.files(), expected);
        let staging = self.store().join("v1/tmp");
        if staging.exists() {
            assert_eq!(names(&staging), BTreeSet::new(), "staging debris");
        }
    }
}

fn names(dir: &Path) -> BTreeSet<String> {
    fs_err::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts that `output` is a failure (exit code 1) whose stderr says `expected`.
fn fails_with(output: &Output, expected: &str) {
    let err = stderr(output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(err.contains(expected), "expected `{expected}` in:\n{err}");
}

/// Podman configured through its own files, as a user would: runc with the limits
/// these machines need (`containers.conf`), and storage and state under `dir`
/// (`storage.conf`), so the machine's podman storage is not touched. The variables
/// reach every podman the test starts, and the one cairn starts.
fn podman_env(dir: &Path) -> Vec<(String, OsString)> {
    let conf = dir.join("podman");
    fs_err::create_dir_all(&conf).unwrap();
    fs_err::write(
        conf.join("containers.conf"),
        format!(
            "[containers]\n\
             default_ulimits = [\"nofile=1024:1024\", \"nproc=1024:1024\"]\n\
             [engine]\n\
             runtime = \"runc\"\n\
             tmp_dir = \"{}\"\n",
            conf.join("tmp").display()
        ),
    )
    .unwrap();
    fs_err::write(
        conf.join("storage.conf"),
        format!(
            "[storage]\n\
             driver = \"overlay\"\n\
             graphroot = \"{}\"\n\
             runroot = \"{}\"\n",
            conf.join("root").display(),
            conf.join("run").display()
        ),
    )
    .unwrap();
    vec![
        (
            "CONTAINERS_CONF".into(),
            conf.join("containers.conf").into(),
        ),
        (
            "CONTAINERS_STORAGE_CONF".into(),
            conf.join("storage.conf").into(),
        ),
    ]
}

#[test]
fn load_puts_the_image_into_podman_and_loading_again_builds_nothing() {
    let Some(podman) = require_tool("podman") else {
        return;
    };
    let mut project = Project::locked("engine-load", "hello");
    project.env = podman_env(project.root());

    let first = project.cairn(&["load"]).output().unwrap();
    assert_eq!(ok(&first), "localhost/hello:latest\n", "{}", stderr(&first));
    assert!(
        stderr(&first).contains("(4 written now)"),
        "{}",
        stderr(&first)
    );
    let objects = project.objects();

    let second = project.cairn(&["load", "hello"]).output().unwrap();
    assert_eq!(ok(&second), "localhost/hello:latest\n");
    let said = stderr(&second);
    assert!(
        said.contains("(0 installed now), 4 layers (0 written now), 0 file objects new"),
        "{said}"
    );
    assert_eq!(project.objects(), objects, "the second load adds no object");

    let printed = podman
        .command()
        .envs(project.env.iter().map(|(k, v)| (k, v)))
        .args(["run", "--rm", "--network", "none", "localhost/hello:latest"])
        .output()
        .unwrap();
    assert_eq!(ok(&printed), "hello from cairn\n");
    project.assert_nothing_left();
}

#[test]
fn load_to_docker_puts_the_image_into_docker() {
    let tmp = lowercase_tempdir("engine-dockerd");
    let Some(docker) = DockerDaemon::start(&tmp.path().join("docker")) else {
        return;
    };
    let mut project = Project::locked("engine-docker", "hello");
    project.env = vec![("DOCKER_HOST".into(), docker.host().into())];

    let loaded = project.cairn(&["load", "--to", "docker"]).output().unwrap();
    assert_eq!(ok(&loaded), "hello:latest\n", "{}", docker.logs());
    let printed = docker
        .command()
        .args(["run", "--rm", "--network", "none", "hello:latest"])
        .output()
        .unwrap();
    assert_eq!(ok(&printed), "hello from cairn\n", "{}", docker.logs());
    project.assert_nothing_left();
}

#[test]
fn run_prints_what_the_container_prints_and_exits_as_it_does() {
    if require_tool("podman").is_none() {
        return;
    }
    let mut project = Project::locked("engine-run", "hello");
    project.env = podman_env(project.root());

    let run = project.cairn(&["run", "hello"]).output().unwrap();
    assert_eq!(ok(&run), "hello from cairn\n");

    let failed = project
        .cairn(&["run", "hello", "--", "sh", "-c", "echo exiting; exit 3"])
        .output()
        .unwrap();
    assert_eq!(failed.status.code(), Some(3), "{}", stderr(&failed));
    assert_eq!(String::from_utf8_lossy(&failed.stdout), "exiting\n");
    project.assert_nothing_left();
}

#[test]
fn inspect_shows_the_layers_with_their_packages_and_sizes() {
    let project = Project::locked("engine-inspect", "hello");
    let text = ok(&project.cairn(&["inspect", "hello"]).output().unwrap());
    assert!(text.contains("platform linux/amd64"), "{text}");
    assert!(text.contains("layers 4 ("), "{text}");
    let busybox = text
        .lines()
        .find(|l| l.contains("cairn: busybox-static "))
        .unwrap_or_else(|| panic!("no busybox layer in:\n{text}"));
    let size: u64 = busybox.split_whitespace().next().unwrap().parse().unwrap();
    assert!(size > 100_000, "{busybox}");
    // No `result` link: `cairn inspect` builds as `cairn build --no-link` does.
    project.assert_nothing_left();

    let json: serde_json::Value = serde_json::from_str(&ok(&project
        .cairn(&["inspect", "hello", "--json"])
        .output()
        .unwrap()))
    .unwrap();
    let layers = json["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 4, "{json}");
    assert_eq!(layers[0]["packages"], "busybox-static", "{json}");
    assert!(
        layers.iter().all(|l| l["size"].as_u64().unwrap() > 0),
        "{json}"
    );
    let total: u64 = layers.iter().map(|l| l["size"].as_u64().unwrap()).sum();
    assert_eq!(json["size"], total);

    // What the build's layout in the store (the `result` link of `cairn build`) holds:
    // the manifest `cairn build` names, its layers with the sizes of their blobs, the
    // configuration's history and settings.
    let manifest_digest = json["manifest"].as_str().unwrap().to_owned();
    let built = ok(&project.cairn(&["build"]).output().unwrap());
    assert_eq!(built, format!("hello {manifest_digest}\n"));
    let layout = project.dir.join("result");
    let blob = |digest: &serde_json::Value| {
        let hex = digest.as_str().unwrap().strip_prefix("sha256:").unwrap();
        layout.join("blobs/sha256").join(hex)
    };
    let document = |path: &Path| -> serde_json::Value {
        serde_json::from_slice(&fs_err::read(path).unwrap()).unwrap()
    };
    let index = document(&layout.join("index.json"));
    assert_eq!(index["manifests"][0]["digest"], json["manifest"], "{index}");
    let manifest = document(&blob(&json["manifest"]));
    let config = document(&blob(&manifest["config"]["digest"]));
    assert_eq!(json["config"], config["config"], "{config}");
    assert_eq!(json["architecture"], config["architecture"], "{config}");
    let stored = manifest["layers"].as_array().unwrap();
    assert_eq!(stored.len(), layers.len(), "{manifest}");
    for (i, (shown, stored)) in layers.iter().zip(stored).enumerate() {
        assert_eq!(shown["digest"], stored["digest"], "{json}");
        assert_eq!(
            shown["packages"], stored["annotations"]["org.cairn.packages"],
            "{manifest}"
        );
        assert_eq!(shown["created_by"], config["history"][i]["created_by"]);
        // The blob is a link to the layer object: the size is what it points to.
        let size = fs_err::metadata(blob(&stored["digest"])).unwrap().len();
        assert_eq!(shown["size"], size, "{json}");
    }
    fs_err::remove_file(&layout).unwrap();

    // The image in an archive `cairn build` writes shows as the layout in the store does.
    for kind in ["docker-archive", "oci-archive"] {
        let output = format!("{kind}:{}", project.root().join(kind).display());
        let built = project
            .cairn(&["build", "--no-link", "--output", &output])
            .output()
            .unwrap();
        assert_eq!(ok(&built), format!("hello {manifest_digest}\n"));
        let command = if kind == "oci-archive" {
            vec!["image", "inspect", "--json", output.as_str()]
        } else {
            vec!["inspect", "--json", output.as_str()]
        };
        let mut cairn = Command::new(env!("CARGO_BIN_EXE_cairn"));
        let shown = ok(&cairn.args(&command).output().unwrap());
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&shown).unwrap(),
            json,
            "{command:?}"
        );
    }
    project.assert_nothing_left();
}

/// A store at a path that is not UTF-8 is a path like any other: the image in it is
/// inspected and loaded.
#[test]
fn a_store_whose_path_is_not_utf8_is_read() {
    use std::os::unix::ffi::OsStrExt as _;
    let mut project = Project::new("engine-not-utf8", "hello");
    project.store = project
        .root()
        .join(std::ffi::OsStr::from_bytes(b"store-\xff"));
    project.lock();
    let built = ok(&project.cairn(&["build", "--no-link"]).output().unwrap());
    let manifest = built.strip_prefix("hello ").unwrap().trim_end();
    let text = ok(&project.cairn(&["inspect", "hello"]).output().unwrap());
    assert!(
        text.starts_with(&format!("manifest {manifest}\n")),
        "{text}"
    );

    let fake = fake_podman(&mut project);
    let loaded = project.cairn(&["load"]).output().unwrap();
    assert_eq!(
        ok(&loaded),
        "localhost/hello:latest\n",
        "{}",
        stderr(&loaded)
    );
    let index = Command::new("tar")
        .arg("-xOf")
        .arg(fake.join("archive.tar"))
        .arg("index.json")
        .output()
        .unwrap();
    assert!(ok(&index).contains(manifest), "{}", ok(&index));
    assert!(project.store().join("v1/objects").is_dir());
    project.assert_nothing_left();
}

/// A fake engine: `podman load` keeps its stdin in `$FAKE/archive.tar` and names the
/// image as podman does; `podman run` writes its arguments to `$FAKE/run`, one a line,
/// and exits 7. `podman` is all that is on PATH.
fn fake_podman(project: &mut Project) -> PathBuf {
    let fake = project.root().join("fake");
    fs_err::create_dir_all(fake.join("bin")).unwrap();
    write_script(
        &fake.join("bin/podman"),
        "case \"$1\" in\n\
         load) /bin/cat > \"$FAKE/archive.tar\"; echo 'Loaded image: localhost/hello:latest' ;;\n\
         run) shift; for a in \"$@\"; do printf '%s\\n' \"$a\"; done > \"$FAKE/run\"; exit 7 ;;\n\
         *) exit 99 ;;\n\
         esac\n",
    );
    project.env = vec![
        ("PATH".into(), fake.join("bin").into()),
        ("FAKE".into(), fake.clone().into()),
    ];
    fake
}

fn write_script(path: &Path, body: &str) {
    fs_err::write(path, format!("#!/bin/sh\n{body}")).unwrap();
    fs_err::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn the_engine_gets_the_docker_archive_cairn_build_writes_and_run_its_arguments() {
    let mut project = Project::locked("engine-fake", "hello");
    // The image exposes two ports.
    let spec = fs_err::read_to_string(project.dir.join("cairn.star")).unwrap();
    let spec = spec.replace(
        "user = \"nonroot\",",
        "user = \"nonroot\",\n    ports = [8080, \"53/udp\"],",
    );
    assert!(spec.contains("ports"));
    fs_err::write(project.dir.join("cairn.star"), spec).unwrap();
    project.lock();
    let archive = project.root().join("built.tar");
    ok(&project
        .cairn(&[
            "build",
            "--no-link",
            "--output",
            &format!("docker-archive:{}", archive.display()),
        ])
        .output()
        .unwrap());
    let fake = fake_podman(&mut project);

    let loaded = project.cairn(&["load"]).output().unwrap();
    assert_eq!(ok(&loaded), "localhost/hello:latest\n");
    assert!(
        fs_err::read(fake.join("archive.tar")).unwrap() == fs_err::read(&archive).unwrap(),
        "the stream differs from the archive `cairn build` writes"
    );

    let run_args = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["run"];
        all.extend(args);
        let run = project.cairn(&all).output().unwrap();
        assert_eq!(run.status.code(), Some(7), "{}", stderr(&run));
        fs_err::read_to_string(fake.join("run"))
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    };
    // Each exposed port on 127.0.0.1 at its own number; the arguments after the image.
    assert_eq!(
        run_args(&["hello", "--", "sh", "-c", "exit 3"]),
        [
            "--rm",
            "-i",
            "-p",
            "127.0.0.1:53:53/udp",
            "-p",
            "127.0.0.1:8080:8080/tcp",
            "localhost/hello:latest",
            "sh",
            "-c",
            "exit 3"
        ]
    );
    // `-p` replaces them.
    assert_eq!(
        run_args(&["-p", "9000:8080", "hello"]),
        ["--rm", "-i", "-p", "9000:8080", "localhost/hello:latest"]
    );
    project.assert_nothing_left();
}

#[test]
fn an_unknown_image_is_refused_with_the_names_of_the_known_ones() {
    let project = Project::new("engine-unknown", "hello");
    for args in [
        &["load", "nope"][..],
        &["run", "nope"],
        &["inspect", "nope"],
    ] {
        let output = project.cairn(args).output().unwrap();
        fails_with(
            &output,
            "there is no image `nope` in the plan (it has: hello)",
        );
    }
    project.assert_nothing_left();
    assert!(!project.store().exists(), "the store was not even opened");
}

#[test]
fn load_without_a_name_needs_a_plan_of_one_image() {
    let project = Project::new("engine-several", "two-images");
    let output = project.cairn(&["load"]).output().unwrap();
    fails_with(
        &output,
        "the plan has 2 images (api, worker): name the one to load, as in `cairn load api`",
    );
    project.assert_nothing_left();
}

#[test]
fn a_missing_engine_is_named_with_what_to_do() {
    let mut project = Project::new("engine-missing", "hello");
    let empty = project.root().join("empty");
    fs_err::create_dir_all(&empty).unwrap();
    project.env = vec![("PATH".into(), empty.into())];
    for (args, expected) in [
        (
            &["load", "--to", "docker"][..],
            "`docker` is not on PATH: install it, or load into podman with `--to podman`",
        ),
        (
            &["load"],
            "neither podman nor docker is on PATH: install one of them",
        ),
        (
            &["run", "hello"],
            "`cairn run` runs images with podman, which is not on PATH",
        ),
    ] {
        fails_with(&project.cairn(args).output().unwrap(), expected);
    }
    project.assert_nothing_left();
}

#[test]
fn an_engine_that_fails_to_load_is_reported_with_what_it_said() {
    let mut project = Project::locked("engine-fails", "hello");
    let fake = fake_podman(&mut project);
    let cases = [
        // Reads the whole archive, then refuses it: cairn closed the pipe.
        "/bin/cat > /dev/null; echo 'Error: payload does not match any of the supported image formats' >&2; exit 125",
        // Reads nothing: cairn's write fails, but the engine's error is the one shown.
        "echo 'Error: payload does not match any of the supported image formats' >&2; exit 125",
        // Reads a little, says nothing.
        "/usr/bin/head -c 1000 > /dev/null; exit 2",
    ];
    for (i, script) in cases.into_iter().enumerate() {
        write_script(&fake.join("bin/podman"), script);
        let output = project.cairn(&["load"]).output().unwrap();
        let err = stderr(&output);
        assert_eq!(output.status.code(), Some(1), "case {i}: {err}");
        assert!(output.stdout.is_empty(), "case {i}: {err}");
        assert!(!err.contains("Broken pipe"), "case {i}: {err}");
        if i < 2 {
            assert!(
                err.contains("error: `podman load` failed (exit status: 125)")
                    && err.contains(
                        "caused by: Error: payload does not match any of the supported image formats"
                    ),
                "case {i}: {err}"
            );
        } else {
            assert!(
                err.contains("`podman load` failed (exit status: 2)")
                    && err.contains("it printed nothing on stderr"),
                "case {i}: {err}"
            );
        }
    }
    project.assert_nothing_left();
}

/// What podman prints running `target`, pulled from the registry.
fn pull_and_run(podman: &cairn_test::Oracle, project: &Project, target: &str) -> String {
    let podman = |args: &[&str]| {
        podman
            .command()
            .envs(project.env.iter().map(|(k, v)| (k, v)))
            .args(args)
            .output()
            .unwrap()
    };
    ok(&podman(&["pull", "--tls-verify=false", "--quiet", target]));
    ok(&podman(&["run", "--rm", "--network", "none", target]))
}

/// `cairn pull` into a layout and into the store: skopeo reads the pushed digest in both.
fn pulls_back(
    skopeo: &cairn_test::Oracle,
    project: &Project,
    target: &str,
    digest: &serde_json::Value,
) {
    let digest = digest.as_str().unwrap();
    let layout = project.root().join("pulled");
    let into_layout = support::cairn(
        project.store(),
        &["pull", target, &format!("oci:{}", layout.display())],
    );
    assert_eq!(ok(&into_layout).trim(), format!("{target}@{digest}"));
    let into_store = support::cairn(project.store(), &["pull", target, "store"]);
    let object = ok(&into_store).trim().to_owned();
    assert!(
        object.starts_with(&project.store().display().to_string()),
        "{object}"
    );
    for dir in [layout.display().to_string(), object] {
        let inspected = skopeo
            .command()
            .args(["inspect", "--format", "{{.Digest}}"])
            .arg(format!("oci:{dir}"))
            .output()
            .unwrap();
        assert_eq!(ok(&inspected).trim(), digest, "{dir}");
    }
}

/// A registry with htpasswd: a push is refused without credentials, with the reason
/// and without the password, and goes through with `--creds`.
fn needs_creds_with_htpasswd(project: &Project, digest: &serde_json::Value) {
    let Some(locked) = cairn_test::registry::Registry::start(Some(("alice", "s3cret"))) else {
        return;
    };
    let target = format!("{}/team/hello:1", locked.addr());
    let refused = project.cairn(&["push", "hello", &target]).output().unwrap();
    assert!(!refused.status.success());
    let said = stderr(&refused);
    assert!(said.contains("401") && !said.contains("s3cret"), "{said}");
    let pushed = project
        .cairn(&[
            "push",
            "hello",
            &target,
            "--json",
            "--creds",
            "alice:s3cret",
        ])
        .output()
        .unwrap();
    assert_eq!(&push_report(&pushed)["digest"], digest);
}

/// What `cairn push --json` said.
fn push_report(output: &Output) -> serde_json::Value {
    serde_json::from_str(&ok(output)).unwrap()
}

/// `cairn push` to a real registry (Debian's `docker-registry` on 127.0.0.1): skopeo
/// reads the digest cairn computed, podman pulls and runs the image; a second push sends
/// no blob (the report and the registry's log agree); after the app changes, only its
/// layer and the config are sent.
#[test]
fn push_sends_only_what_the_registry_lacks_and_podman_runs_what_it_pulls() {
    let (Some(podman), Some(skopeo)) = (require_tool("podman"), require_tool("skopeo")) else {
        return;
    };
    let Some(registry) = cairn_test::registry::Registry::start(None) else {
        return;
    };
    let mut project = Project::new("engine-push", "hello");
    let spec = project.dir.join("cairn.star");
    let original = fs_err::read_to_string(&spec).unwrap();
    let with_motd = |text: &str| {
        original.replace(
            "contents = [deb.packages([\"busybox-static\"])",
            &format!(
                "contents = [deb.packages([\"busybox-static\"]), write_file(\"/etc/motd\", \"{text}\")"
            ),
        )
    };
    fs_err::write(&spec, with_motd("one")).unwrap();
    project.lock();
    project.env = podman_env(project.root());
    let target = format!("{}/team/hello:1", registry.addr());

    let first = push_report(
        &project
            .cairn(&["push", "hello", &target, "--json"])
            .output()
            .unwrap(),
    );
    assert_eq!(first["skipped"], 0, "{first}");
    assert_eq!(
        first["uploaded"], 6,
        "busybox, the accounts, the motd, base files, config… {first}"
    );
    let digest = first["digest"].as_str().unwrap().to_owned();
    let inspected = skopeo
        .command()
        .args(["inspect", "--tls-verify=false", "--format", "{{.Digest}}"])
        .arg(format!("docker://{target}"))
        .output()
        .unwrap();
    assert_eq!(ok(&inspected).trim(), digest);
    assert_eq!(
        pull_and_run(&podman, &project, &target),
        "hello from cairn\n"
    );

    // Again: nothing sent but the manifest.
    // The registry logs a request as its answer goes out: wait for the `n`th manifest.
    let blob_uploads_after = |pushes: usize| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let requests = registry.requests();
            let manifests = requests
                .iter()
                .filter(|r| r.method == "PUT" && r.uri.contains("/manifests/"))
                .count();
            if manifests >= pushes || std::time::Instant::now() > deadline {
                return requests
                    .into_iter()
                    .filter(cairn_test::registry::LoggedRequest::is_blob_upload)
                    .collect::<Vec<_>>();
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    };
    let uploads_before = blob_uploads_after(1).len();
    let again = push_report(
        &project
            .cairn(&["push", "hello", &target, "--json"])
            .output()
            .unwrap(),
    );
    assert_eq!(
        (again["uploaded"].as_u64(), again["bytes_uploaded"].as_u64()),
        (Some(0), Some(0)),
        "{again}"
    );
    assert_eq!(again["digest"], first["digest"]);
    assert_eq!(blob_uploads_after(2).len(), uploads_before);

    // The app changes: its layer and the config go up, nothing else.
    fs_err::write(&spec, with_motd("two")).unwrap();
    let changed = push_report(
        &project
            .cairn(&["push", "hello", &target, "--json"])
            .output()
            .unwrap(),
    );
    assert_eq!(changed["uploaded"], 2, "{changed}");
    assert_ne!(changed["digest"], first["digest"]);
    let uploads = blob_uploads_after(3);
    let new_uploads = uploads.len() - uploads_before;
    let finished: Vec<_> = uploads
        .into_iter()
        .skip(uploads_before)
        .filter(|r| r.method == "PUT")
        .collect();
    assert_eq!(
        finished.len(),
        2,
        "{new_uploads} upload requests: {finished:?}"
    );

    pulls_back(&skopeo, &project, &target, &changed["digest"]);
    needs_creds_with_htpasswd(&project, &changed["digest"]);
    fs_err::write(&spec, &original).unwrap();
}
