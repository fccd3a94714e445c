//! `cairn init`, `plan`, `lock` and `build` on projects, hermetic: a signed fixture
//! repository served on 127.0.0.1. What the CLI prints is compared with snapshots
//! (`tests/snapshots/`, insta) after temporary paths and ports are filtered out.

#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cairn_test::{FixturePackage, FixtureRepo, TestServer, tiny_elf};

struct Project {
    tmp: tempfile::TempDir,
    dir: PathBuf,
    server: TestServer,
    url: String,
}

/// Where the fixture repository publishes `lib` and `app`.
const LIB_DEB: &str = "/pool/main/l/lib/lib_1.0-1_amd64.deb";
const APP_DEB: &str = "/pool/main/a/app/app_2.0-1_amd64.deb";

impl Project {
    /// An empty project directory, and a fixture repository (`app` depends on `lib`).
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("project");
        fs_err::create_dir_all(&dir).unwrap();
        let packages = [
            FixturePackage::new("lib", "1.0-1").file("usr/lib/libfixture.txt", b"lib\n", 0o644),
            FixturePackage::new("app", "2.0-1")
                .field("Depends", "lib")
                .file("usr/bin/app", &tiny_elf(), 0o755),
        ];
        let repo = FixtureRepo::build(&tmp.path().join("repo"), "testing", &packages, 3);
        fs_err::write(tmp.path().join("key.asc"), &repo.public_key).unwrap();
        let server = TestServer::serve_dir(&repo.root);
        let url = server.url();
        Self {
            tmp,
            dir,
            server,
            url,
        }
    }

    fn spec(&self, text: &str) {
        fs_err::write(
            self.dir.join("cairn.star"),
            text.replace("MIRROR", &self.url),
        )
        .unwrap();
    }

    fn cairn(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// `cairn ARGS` on the project (`-C` after the subcommand), ready to run.
    fn command(&self, args: &[&str]) -> Command {
        self.command_in(&self.tmp.path().join("store"), args)
    }

    /// [`Project::command`] with another store.
    fn command_in(&self, store: &Path, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_cairn"));
        command
            .arg("--store")
            .arg(store)
            .args(args.iter().take(1))
            .arg("-C")
            .arg(&self.dir)
            .args(args.iter().skip(1))
            .env_remove("CI")
            .env_remove("SOURCE_DATE_EPOCH");
        if args.first() == Some(&"lock") {
            command
                .arg("--keyring")
                .arg(self.tmp.path().join("key.asc"));
        }
        command
    }

    /// `cairn --store STORE ARGS`, not about the project (`cairn store verify`).
    fn cairn_store(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_cairn"))
            .arg("--store")
            .arg(self.tmp.path().join("store"))
            .args(args)
            .output()
            .unwrap()
    }

    fn store_dir(&self, name: &str) -> PathBuf {
        self.tmp.path().join("store/v1").join(name)
    }

    /// What the command printed, with the temporary directory and the port filtered.
    fn filtered(&self, output: &Output) -> String {
        let text = format!(
            "exit: {}\n--- stdout\n{}--- stderr\n{}",
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let text = text
            .replace(&self.tmp.path().display().to_string(), "[TMP]")
            .replace(&self.url, "[MIRROR]");
        filter_hashes(&text)
    }

    /// A spec of `app` and a `site` directory of files, locked.
    fn site_and_app(&self) {
        self.spec(&spec(r#""app""#).replace(
            "contents = [",
            "contents = [files(\"site\", dest = \"/srv/site\"), ",
        ));
        fs_err::create_dir_all(self.path("site")).unwrap();
        fs_err::write(self.path("site/index.html"), "hello").unwrap();
        succeeded(&self.cairn(&["lock"]));
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

/// `sha256:<64 hex>` as `sha256:[HASH]`: node ids cover the fixture's URL, whose port
/// changes from run to run.
fn filter_hashes(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("sha256:") {
        let (before, after) = rest.split_at(at + "sha256:".len());
        out.push_str(before);
        let hex = after.bytes().take_while(u8::is_ascii_hexdigit).count();
        if hex == 64 {
            out.push_str("[HASH]");
            rest = &after[64..];
        } else {
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

fn spec(packages: &str) -> String {
    format!(
        r#"deb = debian(suite = "testing", mirror = "MIRROR", security = False)

image(
    name = "app",
    contents = [deb.packages([{packages}])],
    entrypoint = ["/usr/bin/app"],
)
"#
    )
}

fn succeeded(output: &Output) {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn init_writes_a_starter_spec_once() {
    let project = Project::new();
    let output = project.cairn(&["plan"]);
    insta::assert_snapshot!("plan_without_spec", project.filtered(&output));
    succeeded(&project.cairn(&["init"]));
    let again = project.cairn(&["init"]);
    insta::assert_snapshot!("init_twice", project.filtered(&again));
    let plan = project.cairn(&["plan"]);
    insta::assert_snapshot!("init_plan", project.filtered(&plan));
}

#[test]
fn init_writes_a_python_spec_where_requirements_are() {
    let project = Project::new();
    fs_err::write(project.path("requirements.txt"), "flask==3.1.*\n").unwrap();
    fs_err::write(project.path("main.py"), "print('hi')\n").unwrap();
    succeeded(&project.cairn(&["init"]));
    let spec = fs_err::read_to_string(project.path("cairn.star")).unwrap();
    assert!(
        spec.contains(r#"python_env(python = py, requirements = "requirements.txt")"#),
        "{spec}"
    );
    assert!(spec.contains(r#""/app/main.py""#), "{spec}");
    // It evaluates: the plan has the environment and its requirement.
    let plan = project.cairn(&["plan"]);
    succeeded(&plan);
    let text = String::from_utf8_lossy(&plan.stdout);
    assert!(
        text.contains("python_env https://pypi.org/simple: flask==3.1.*"),
        "{text}"
    );
}

#[test]
fn spec_errors_point_into_the_spec() {
    let project = Project::new();
    for (name, text) in [
        ("syntax_error", "image(name = \"a\",\n"),
        (
            "wrong_type",
            "image(name = \"a\", contents = [\"python3\"])\n",
        ),
        (
            "unknown_argument",
            "image(name = \"a\", colour = \"red\")\n",
        ),
        (
            "duplicate_image",
            "image(name = \"a\")\nimage(name = \"a\")\n",
        ),
    ] {
        project.spec(text);
        let output = project.cairn(&["plan"]);
        assert_eq!(output.status.code(), Some(1), "{name}");
        insta::assert_snapshot!(name, project.filtered(&output));
    }
}

#[test]
fn an_error_near_a_very_long_line_is_still_reported() {
    let project = Project::new();
    project.spec(&format!("x = \"{}\"\ny = undefined\n", "a".repeat(70_000)));
    let output = project.cairn(&["plan"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("undefined") && stderr.contains("cairn.star:2:"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn lock_pins_packages_and_points_at_unknown_ones() {
    let project = Project::new();
    project.spec(&spec(r#""app""#));
    let output = project.cairn(&["lock"]);
    succeeded(&output);
    let lock = fs_err::read_to_string(project.path("cairn.lock")).unwrap();
    assert!(lock.starts_with("version = 3\n"), "{lock}");
    assert!(lock.contains("name = \"lib\""), "{lock}");
    // Nothing changed: nothing to do.
    let again = project.cairn(&["lock"]);
    insta::assert_snapshot!("lock_up_to_date", project.filtered(&again));
    // Upgrading a package no set holds is a mistake, not a quiet success.
    let upgrade = project.cairn(&["lock", "--upgrade", "nosuch"]);
    assert_eq!(upgrade.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&upgrade.stderr);
    assert!(
        stderr.contains("no locked package set holds it"),
        "{stderr}"
    );
    // `--output` onto the result link would leave the image without its GC root.
    let result = format!("oci:{}", project.path("result").display());
    let output = project.cairn(&["build", "--output", &result]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("would overwrite"), "{stderr}");

    // An unknown package: the error points at its string in cairn.star.
    project.spec(&spec(r#""app", "ap""#));
    let output = project.cairn(&["lock"]);
    assert_eq!(output.status.code(), Some(1));
    insta::assert_snapshot!("lock_unknown_package", project.filtered(&output));
    assert_eq!(
        fs_err::read_to_string(project.path("cairn.lock")).unwrap(),
        lock,
        "a failed lock leaves the lock as it was"
    );
}

#[test]
fn build_refuses_a_missing_stale_or_damaged_lock() {
    let project = Project::new();
    project.spec(&spec(r#""app""#));
    let output = project.cairn(&["build"]);
    insta::assert_snapshot!("build_without_lock", project.filtered(&output));

    succeeded(&project.cairn(&["lock"]));
    project.spec(&spec(r#""app", "lib""#));
    let output = project.cairn(&["build"]);
    assert_eq!(output.status.code(), Some(1));
    insta::assert_snapshot!("build_stale_lock", project.filtered(&output));

    // A lock whose entry was edited to say something its node does not.
    project.spec(&spec(r#""app""#));
    let path = project.path("cairn.lock");
    let lock = fs_err::read_to_string(&path).unwrap();
    let edited = lock.replacen("recommends = false", "recommends = true", 1);
    assert_ne!(edited, lock);
    fs_err::write(&path, &edited).unwrap();
    let output = project.cairn(&["build"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("does not match the spec"), "{stderr}");
    fs_err::write(&path, &lock).unwrap();
    project.spec(&spec(r#""app", "lib""#));

    // A lock edited by hand into an inconsistent state.
    let lock = fs_err::read_to_string(&path).unwrap();
    let edited = lock.replacen("sha256 = \"", "sha256 = \"00", 1);
    assert_ne!(edited, lock);
    fs_err::write(&path, edited).unwrap();
    let output = project.cairn(&["build"]);
    assert_eq!(output.status.code(), Some(1));
    insta::assert_snapshot!("build_damaged_lock", project.filtered(&output));
    assert!(!project.path("result").exists());
}

/// The plan of each example, as `cairn plan --json` prints it: evaluation is hermetic,
/// so these never change unless the examples or the plan format do.
#[test]
fn example_plans() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    for name in [
        "hello",
        "python-http",
        "two-images",
        "flask",
        "django",
        "c-hello",
        "go-service",
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_cairn"))
            .args(["plan", "--json", "-C"])
            .arg(examples.join(name))
            .output()
            .unwrap();
        succeeded(&output);
        let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        insta::assert_snapshot!(
            format!("plan_{}", name.replace('-', "_")),
            serde_json::to_string_pretty(&json).unwrap()
        );
    }
}

/// The `--json` report of `cairn build`, its one image.
fn report(output: &Output) -> serde_json::Value {
    succeeded(output);
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    json["images"][0].clone()
}

#[test]
fn build_makes_the_image_and_a_second_build_does_no_work() {
    let project = Project::new();
    project.site_and_app();
    let first = report(&project.cairn(&["build", "--json"]));
    assert_eq!(first["name"], "app");
    assert_eq!(first["packages"], 2);
    assert_eq!(first["packages_installed"], 2);
    assert_eq!(first["files_added"], 1);
    assert!(first["layers_written"].as_u64().unwrap() > 0, "{first}");
    assert_eq!(first["layers_written"], first["layers"]);
    // The result link is a GC root for the image's layout in the store.
    let result = project.path("result");
    assert!(result.join("index.json").is_file());
    assert!(
        fs_err::read_link(&result)
            .unwrap()
            .ends_with(first["object"].as_str().unwrap())
    );

    let second = report(&project.cairn(&["build", "--json"]));
    assert_eq!(second["manifest"], first["manifest"]);
    assert_eq!(second["packages_installed"], 0);
    assert_eq!(second["layers_written"], 0);
    assert_eq!(second["files_added"], 0);
    assert_eq!(project.server.count(APP_DEB), 1, "nothing downloaded again");
}

/// Ctrl-C in the middle of a build. cairn does not catch SIGINT (it dies by it, so
/// shells and CI see an interruption; the store is crash-safe by design), so what this
/// tests is what is left: the store verifies, no staging debris stays, and the next
/// build finishes without fetching again the download the first one had finished.
#[test]
fn an_interrupted_build_stops_and_the_next_one_resumes() {
    use std::os::unix::process::ExitStatusExt as _;

    let project = Project::new();
    project.spec(&spec(r#""app""#));
    succeeded(&project.cairn(&["lock"]));
    // app's download stalls halfway; lib's completes.
    project.server.fail(APP_DEB, [cairn_test::Fault::Stall]);
    let mut child = project
        .command(&["build"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until app's download is under way and lib's is kept (as a blob waiting to be
    // unpacked, or already unpacked into an object).
    let lock = fs_err::read_to_string(project.path("cairn.lock")).unwrap();
    let lib_sha256 = lock
        .split("name = \"lib\"")
        .nth(1)
        .and_then(|entry| entry.split("sha256 = \"").nth(1))
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    let lib_kept = || {
        let objects = fs_err::read_dir(project.store_dir("objects")).is_ok_and(|entries| {
            entries
                .flatten()
                .any(|e| e.file_name().to_string_lossy().contains("-lib"))
        });
        project.store_dir("blobs/sha256").join(&lib_sha256).exists() || objects
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_mins(2);
    while project.server.count(APP_DEB) == 0 || !lib_kept() {
        assert!(
            std::time::Instant::now() < deadline,
            "the build did not get going"
        );
        assert!(child.try_wait().unwrap().is_none(), "the build ended early");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let pid = rustix::process::Pid::from_child(&child);
    rustix::process::kill_process(pid, rustix::process::Signal::INT).unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(
        output.status.signal(),
        Some(rustix::process::Signal::INT.as_raw()),
        "{output:?}"
    );
    assert!(!project.path("result").exists());
    succeeded(&project.cairn_store(&["store", "verify"]));

    let resumed = report(&project.cairn(&["build", "--json"]));
    assert_eq!(resumed["packages"], 2);
    assert_eq!(
        project.server.count(LIB_DEB),
        1,
        "lib was not fetched again"
    );
    assert_eq!(project.server.count(APP_DEB), 2);
    assert!(project.path("result").join("index.json").is_file());
    // Nothing of the interrupted build is left in staging.
    let debris: Vec<_> = fs_err::read_dir(project.store_dir("tmp"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(debris.is_empty(), "{debris:?}");
    succeeded(&project.cairn_store(&["store", "verify"]));
}

/// Removes a store (its objects are read-only).
fn remove_store(dir: &Path) {
    let status = Command::new("chmod")
        .arg("-R")
        .arg("u+w")
        .arg(dir)
        .status()
        .unwrap();
    assert!(status.success());
    fs_err::remove_dir_all(dir).unwrap();
}

/// `cairn serve` on `store`, signing with `secret`: the process and its URL.
fn serve(store: &Path, secret: &Path) -> (std::process::Child, String) {
    let mut serve = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .arg("--store")
        .arg(store)
        .args(["serve", "--listen", "127.0.0.1:0", "--sign-key"])
        .arg(secret)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(serve.stderr.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .trim_end_matches(',')
        .to_owned();
    (serve, url)
}

/// Time travel: an image's build pushed to a `file://` cache is rebuilt from the cache
/// alone, after the store is deleted and with the mirror out of reach, to the same
/// digest. `cairn serve` serves a store as a signed HTTP cache, which a client trusts
/// only with the key; without it, the objects are refused and come from the mirror.
#[test]
fn an_image_is_rebuilt_from_a_binary_cache_alone() {
    let project = Project::new();
    project.site_and_app();
    let keys = project.tmp.path().join("keys");
    let keygen = project.cairn_store(&[
        "cache",
        "keygen",
        "test-cache-1",
        "--dir",
        keys.to_str().unwrap(),
    ]);
    succeeded(&keygen);
    let public = fs_err::read_to_string(keys.join("test-cache-1.public")).unwrap();
    assert_eq!(String::from_utf8_lossy(&keygen.stdout), public);
    let cache = format!("file://{}", project.tmp.path().join("cache").display());
    let secret = keys.join("test-cache-1.secret");
    let push = |extra: &[&str]| {
        let mut args = vec!["cache", "push", &cache, "-C", project.dir.to_str().unwrap()];
        args.extend(extra);
        project.cairn_store(&args)
    };
    let pushed = push(&["--sign-key", secret.to_str().unwrap()]);
    succeeded(&pushed);
    let said = String::from_utf8_lossy(&pushed.stdout);
    assert!(
        said.contains("uploaded") && said.contains("0 already in"),
        "{said}"
    );
    let first = report(&project.cairn(&["build", "--json"]));
    let again = push(&[]);
    succeeded(&again);
    assert!(
        String::from_utf8_lossy(&again.stdout).contains(" 0 uploaded"),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );

    // The store is gone and the mirror is out of reach.
    remove_store(&project.tmp.path().join("store"));
    let downloads = project.server.count(APP_DEB);
    let rebuilt = project.cairn(&["build", "--json", "--offline", "--substituter", &cache]);
    succeeded(&rebuilt);
    let rebuilt = report(&rebuilt);
    assert_eq!(rebuilt["manifest"], first["manifest"]);
    assert_eq!(
        rebuilt["layers_written"], 0,
        "the layers come from the cache too: {rebuilt}"
    );
    assert_eq!(project.server.count(APP_DEB), downloads);
    succeeded(&project.cairn_store(&["store", "verify"]));

    // The rebuilt store, served over HTTP and signed.
    let (mut serve, url) = serve(&project.tmp.path().join("store"), &secret);
    let build_in = |store: &str, extra: &[&str]| {
        let mut args = vec!["build", "--json", "--no-link", "--substituter", &url];
        args.extend(extra);
        project
            .command_in(&project.tmp.path().join(store), &args)
            .output()
            .unwrap()
    };
    // Without the key: every object is refused, with the reason, and the mirror gives it.
    let untrusted = build_in("untrusting-store", &[]);
    succeeded(&untrusted);
    let stderr = String::from_utf8_lossy(&untrusted.stderr);
    assert!(
        stderr.contains("not signed by a trusted key (signed by: test-cache-1)"),
        "{stderr}"
    );
    assert_eq!(report(&untrusted)["manifest"], first["manifest"]);
    assert_eq!(project.server.count(APP_DEB), downloads + 1);
    // With it: nothing from the mirror.
    let trusted = build_in("trusting-store", &["--trusted-key", public.trim()]);
    succeeded(&trusted);
    assert_eq!(report(&trusted)["manifest"], first["manifest"]);
    assert_eq!(project.server.count(APP_DEB), downloads + 1);
    // `--offline` asks no cache over the network either.
    let offline = build_in(
        "offline-store",
        &["--offline", "--trusted-key", public.trim()],
    );
    assert!(!offline.status.success());
    let stderr = String::from_utf8_lossy(&offline.stderr);
    assert!(stderr.contains("offline"), "{stderr}");
    serve.kill().unwrap();
    serve.wait().unwrap();
}

/// The same round trip through the caches a team would run: a directory, an
/// S3-compatible bucket (moto, a real server on 127.0.0.1) and an HTTP server taking
/// `PUT` (nginx). The push is signed; a store elsewhere builds the same digest from each
/// cache, trusting the key, with no download from the mirror and no layer written.
#[test]
fn images_travel_through_s3_and_http_caches() {
    let (Some(s3), Some(web)) = (
        cairn_test::s3::S3Server::start(),
        cairn_test::webdav::WebDavServer::start(),
    ) else {
        return;
    };
    let project = Project::new();
    project.site_and_app();
    let keys = project.tmp.path().join("keys");
    succeeded(&project.cairn_store(&[
        "cache",
        "keygen",
        "team-1",
        "--dir",
        keys.to_str().unwrap(),
    ]));
    let public = fs_err::read_to_string(keys.join("team-1.public")).unwrap();
    let secret = keys.join("team-1.secret");
    let first = report(&project.cairn(&["build", "--json"]));
    let downloads = project.server.count(APP_DEB);
    let local = format!("file://{}", project.tmp.path().join("cache").display());
    for (i, cache) in [local, s3.cache_url("builds"), web.url()]
        .iter()
        .enumerate()
    {
        let with_aws = |mut command: Command| {
            command
                .env("AWS_ACCESS_KEY_ID", "test")
                .env("AWS_SECRET_ACCESS_KEY", "test")
                .output()
                .unwrap()
        };
        let mut push = Command::new(env!("CARGO_BIN_EXE_cairn"));
        push.arg("--store")
            .arg(project.tmp.path().join("store"))
            .args(["cache", "push", cache, "-C"])
            .arg(&project.dir)
            .arg("--sign-key")
            .arg(&secret);
        let pushed = with_aws(push);
        succeeded(&pushed);
        assert!(
            String::from_utf8_lossy(&pushed.stdout).contains("0 already in"),
            "{cache}"
        );
        let store = project.tmp.path().join(format!("fresh-{i}"));
        let built = with_aws(project.command_in(
            &store,
            &[
                "build",
                "--json",
                "--no-link",
                "--substituter",
                cache,
                "--trusted-key",
                public.trim(),
            ],
        ));
        succeeded(&built);
        let built = report(&built);
        assert_eq!(built["manifest"], first["manifest"], "{cache}");
        assert_eq!(built["layers_written"], 0, "{cache}: {built}");
        assert_eq!(project.server.count(APP_DEB), downloads, "{cache}");
    }
}

/// `cairn build --push REF`: the built image is in the registry under cairn's digest.
#[test]
fn build_pushes_what_it_built() {
    let (Some(registry), Some(skopeo)) = (
        cairn_test::registry::Registry::start(None),
        cairn_test::require_tool("skopeo"),
    ) else {
        return;
    };
    let project = Project::new();
    project.site_and_app();
    let target = format!("{}/team/app:1", registry.addr());
    let built = project.cairn(&["build", "--json", "--push", &target]);
    succeeded(&built);
    let manifest = report(&built)["manifest"].as_str().unwrap().to_owned();
    assert!(
        String::from_utf8_lossy(&built.stderr).contains(&format!("pushed {target}@{manifest}")),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let inspected = skopeo
        .command()
        .args(["inspect", "--tls-verify=false", "--format", "{{.Digest}}"])
        .arg(format!("docker://{target}"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&inspected.stdout).trim(), manifest);
}
