//! Live: every project in `examples/` locked against the real trixie mirror, built by
//! `cairn build` and run by podman with runc. Each test works on a copy of the example,
//! so the repository gets no `cairn.lock` or `result` link.

#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

mod support;

use std::collections::BTreeSet;
use std::io::{Read as _, Write as _};
use std::path::Path;
use std::time::Duration;

use cairn_test::require_tool;
use support::{cairn, copy_tree, example, lowercase_tempdir, ok, podman, podman_run, run};

/// `cairn -C project ARGS` with `store`.
fn project(store: &Path, dir: &Path, args: &[&str]) -> String {
    let mut all = vec!["-C", dir.to_str().unwrap()];
    all.splice(0..0, args.iter().take(1).copied());
    all.extend(args.iter().skip(1).copied());
    ok(&cairn(store, &all))
}

/// `cairn build --json`'s report: `(name, manifest, layers_written, packages_installed,
/// files_added)` per image.
fn build_json(store: &Path, dir: &Path) -> Vec<(String, String, u64, u64, u64)> {
    build_json_with(store, dir, &[])
}

fn build_json_with(
    store: &Path,
    dir: &Path,
    extra: &[&str],
) -> Vec<(String, String, u64, u64, u64)> {
    let mut args = vec!["build", "--json"];
    args.extend(extra);
    let json: serde_json::Value = serde_json::from_str(&project(store, dir, &args)).unwrap();
    json["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["name"].as_str().unwrap().to_owned(),
                i["manifest"].as_str().unwrap().to_owned(),
                i["layers_written"].as_u64().unwrap(),
                i["packages_installed"].as_u64().unwrap(),
                i["files_added"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// Starts the image `dir/result` with podman, its `container_port` published on a
/// free port of 127.0.0.1, and returns the response to `GET /`; the container is
/// removed.
fn serve_and_get(
    tool: &cairn_test::Oracle,
    tmp: &Path,
    dir: &Path,
    name: &str,
    container_port: u16,
) -> String {
    let reference = format!("oci:{}:latest", dir.join("result").display());
    let port = free_port();
    let container = format!("cairn-test-{name}-{}", std::process::id());
    ok(&podman_run(tool, tmp)
        .args([
            "-d",
            "--name",
            &container,
            "-p",
            &format!("127.0.0.1:{port}:{container_port}"),
            &reference,
        ])
        .output()
        .unwrap());
    let response = get(port);
    let _ = podman(tool, tmp).args(["rm", "-f", &container]).output();
    response
}

#[test]
fn hello_prints_a_line_and_builds_the_same_in_two_stores() {
    let Some(tool) = require_tool("podman") else {
        return;
    };
    let tmp = lowercase_tempdir("ex-hello");
    let dir = example("hello", tmp.path());
    let store = tmp.path().join("store");
    project(&store, &dir, &["lock"]);
    let first = build_json(&store, &dir);
    assert_eq!(first.len(), 1);
    assert!(first[0].2 > 0, "the first build writes layers: {first:?}");
    // The second build does no work.
    let second = build_json(&store, &dir);
    assert_eq!(second[0].1, first[0].1);
    assert_eq!(
        (second[0].2, second[0].3, second[0].4),
        (0, 0, 0),
        "{second:?}"
    );
    // Another store, the same lock: the same image (`result` stays with the first).
    let other = build_json_with(&tmp.path().join("store-2"), &dir, &["--no-link"]);
    assert_eq!(other[0].1, first[0].1);

    let result = dir.join("result");
    let printed = run(
        &tool,
        tmp.path(),
        &format!("oci:{}:latest", result.display()),
        &[],
    );
    assert_eq!(printed.trim(), "hello from cairn");
}

/// A free TCP port on 127.0.0.1.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `GET /` from 127.0.0.1:`port`, retried while the server starts.
fn get(port: u16) -> String {
    for _ in 0..100 {
        if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            if stream
                .write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
                .is_ok()
            {
                let mut response = String::new();
                if stream.read_to_string(&mut response).is_ok() && !response.is_empty() {
                    return response;
                }
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("nothing answered on port {port}");
}

#[test]
fn python_http_serves_its_page_as_nonroot() {
    let Some(tool) = require_tool("podman") else {
        return;
    };
    let tmp = lowercase_tempdir("ex-python-http");
    let dir = example("python-http", tmp.path());
    fs_err::write(dir.join("site/draft.swp"), "left out by .cairnignore").unwrap();
    let store = tmp.path().join("store");
    project(&store, &dir, &["lock"]);
    let built = build_json(&store, &dir);
    let image = format!("oci:{}:latest", dir.join("result").display());

    // The user, and what `.cairnignore` left out.
    let id = ok(&podman_run(&tool, tmp.path())
        .args([
            "--network=none",
            "--entrypoint",
            "/usr/bin/python3",
            &image,
            "-c",
            "import os; print(os.getuid(), sorted(os.listdir('/srv/site')))",
        ])
        .output()
        .unwrap());
    assert_eq!(id.trim(), "65532 ['.cairnignore', 'index.html']", "{id}");

    let port = free_port();
    let name = format!("cairn-test-web-{}", std::process::id());
    let started = podman_run(&tool, tmp.path())
        .args([
            "-d",
            "--name",
            &name,
            "-p",
            &format!("127.0.0.1:{port}:8000"),
            &image,
        ])
        .output()
        .unwrap();
    ok(&started);
    let response = get(port);
    let _ = podman(&tool, tmp.path()).args(["rm", "-f", &name]).output();
    assert!(response.starts_with("HTTP/1.0 200"), "{response}");
    assert!(response.contains("Served by a cairn image"), "{response}");

    // Editing one file of the site rebuilds only its object and its layer.
    fs_err::write(dir.join("site/index.html"), "<h1>changed</h1>\n").unwrap();
    let rebuilt = build_json(&store, &dir);
    assert_ne!(rebuilt[0].1, built[0].1);
    assert_eq!(
        (rebuilt[0].2, rebuilt[0].3, rebuilt[0].4),
        (1, 0, 1),
        "{rebuilt:?}"
    );

    // The same project at another path, built into another store under another umask:
    // the same image (its files() tree included).
    let elsewhere = tmp.path().join("elsewhere");
    copy_tree(&dir, &elsewhere);
    fs_err::copy(dir.join("cairn.lock"), elsewhere.join("cairn.lock")).unwrap();
    let umask = rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    let other = build_json_with(&tmp.path().join("store-2"), &elsewhere, &["--no-link"]);
    rustix::process::umask(umask);
    assert_eq!(
        other[0].1, rebuilt[0].1,
        "the same digest from another store and path"
    );
}

/// The layer digests of `layout`'s image.
fn layer_digests(layout: &Path) -> BTreeSet<String> {
    let index: serde_json::Value =
        serde_json::from_slice(&fs_err::read(layout.join("index.json")).unwrap()).unwrap();
    let digest = index["manifests"][0]["digest"].as_str().unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(
        &fs_err::read(layout.join("blobs/sha256").join(&digest[7..])).unwrap(),
    )
    .unwrap();
    manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["digest"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn two_images_share_their_base_layers() {
    let Some(tool) = require_tool("podman") else {
        return;
    };
    let tmp = lowercase_tempdir("ex-two-images");
    let dir = example("two-images", tmp.path());
    let store = tmp.path().join("store");
    project(&store, &dir, &["lock"]);
    let built = build_json(&store, &dir);
    assert_eq!(built.len(), 2);
    // A fresh store, from the same lock: the same two images, bit for bit.
    let again = build_json_with(&tmp.path().join("store-b"), &dir, &["--no-link"]);
    let manifests = |b: &[(String, String, u64, u64, u64)]| {
        b.iter()
            .map(|i| (i.0.clone(), i.1.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(manifests(&again), manifests(&built));
    let api = layer_digests(&dir.join("result-api"));
    let worker = layer_digests(&dir.join("result-worker"));
    let shared = api.intersection(&worker).count();
    // Every layer of `api` is in `worker` too (python3's closure, the accounts, the
    // base directories) but the package list and `api`'s own file.
    assert!(api.len() > 10, "{api:?}");
    assert_eq!(api.len() - shared, 2, "{shared} of {} shared", api.len());
    for (name, expected) in [("api", "api"), ("worker", "worker: ok")] {
        let printed = run(
            &tool,
            tmp.path(),
            &format!(
                "oci:{}:latest",
                dir.join(format!("result-{name}")).display()
            ),
            &[],
        );
        assert_eq!(printed.trim(), expected);
    }
}

/// Builds a Python example twice (the second time in a fresh store, from the same
/// lock: the same digest), runs it with podman and returns what `GET /` answered.
fn python_example(name: &str, container_port: u16) -> Option<String> {
    let tool = require_tool("podman")?;
    let tmp = lowercase_tempdir(&format!("ex-{name}"));
    let dir = example(name, tmp.path());
    let store = tmp.path().join("store");
    project(&store, &dir, &["lock"]);
    let lock = fs_err::read_to_string(dir.join("cairn.lock")).unwrap();
    assert!(lock.contains("[[pypi.package]]"), "{lock}");
    let built = build_json(&store, &dir);
    // Nothing to do the second time: no wheel, package, layer or file is made again.
    let again: serde_json::Value =
        serde_json::from_str(&project(&store, &dir, &["build", "--json"])).unwrap();
    let image = &again["images"][0];
    assert_eq!(image["manifest"].as_str().unwrap(), built[0].1);
    for field in [
        "wheels_installed",
        "packages_installed",
        "layers_written",
        "files_added",
    ] {
        assert_eq!(image[field], 0, "{field}: {image}");
    }
    assert!(image["wheels"].as_u64().unwrap() >= 3, "{image}");
    // A fresh store, from the same lock: the same image, bit for bit.
    let other = build_json_with(&tmp.path().join("store-2"), &dir, &["--no-link"]);
    assert_eq!(other[0].1, built[0].1, "the same digest from a fresh store");
    // Every `run()` step (flask's bytecode) gives the same output when run again.
    let checked = project(&store, &dir, &["build", "--check"]);
    assert!(
        checked.lines().all(|l| l.ends_with(" reproducible")),
        "{checked}"
    );

    let response = serve_and_get(&tool, tmp.path(), &dir, name, container_port);
    assert!(
        response.starts_with("HTTP/1.0 200") || response.starts_with("HTTP/1.1 200"),
        "{response}"
    );
    Some(response)
}

/// The JSON body of an HTTP response.
fn body(response: &str) -> serde_json::Value {
    let (_, body) = response.split_once("\r\n\r\n").unwrap();
    serde_json::from_str(body).unwrap()
}

#[test]
fn flask_serves_json_with_markupsafes_compiled_speedups() {
    let Some(response) = python_example("flask", 5000) else {
        return;
    };
    let json = body(&response);
    assert_eq!(json["message"], "hello from cairn", "{json}");
    assert!(
        json["python"].as_str().unwrap().starts_with("3.13."),
        "{json}"
    );
    // MarkupSafe's C extension (a manylinux wheel) was imported in the container.
    assert_eq!(json["speedups"], true, "{json}");
    // The app ran from the bytecode its run() step compiled.
    assert_eq!(json["bytecode"], true, "{json}");
}

#[test]
fn django_is_served_by_gunicorn_with_sqlite() {
    let Some(response) = python_example("django", 8000) else {
        return;
    };
    let json = body(&response);
    assert_eq!(json["message"], "hello from django on cairn", "{json}");
    assert!(
        json["django"].as_str().unwrap().starts_with("5.2"),
        "{json}"
    );
    assert!(json["sqlite"].as_str().unwrap().starts_with("3."), "{json}");
}

/// The `--json` report of a build, its first image.
fn image_report(store: &Path, dir: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["build", "--json"];
    args.extend(extra);
    let json: serde_json::Value = serde_json::from_str(&project(store, dir, &args)).unwrap();
    json["images"][0].clone()
}

#[test]
fn c_hello_is_built_with_gcc_and_holds_only_libc_and_zlib() {
    let Some(tool) = require_tool("podman") else {
        return;
    };
    let tmp = lowercase_tempdir("ex-c-hello");
    let dir = example("c-hello", tmp.path());
    let store = tmp.path().join("store");
    project(&store, &dir, &["lock"]);
    let first = image_report(&store, &dir, &[]);
    assert_eq!(first["steps_run"], 1, "{first}");
    // gcc built it; libc6 and zlib1g (and what they depend on) run it. The ELF check of
    // the entrypoint passed, so nothing it needs is missing.
    assert!(first["packages"].as_u64().unwrap() <= 6, "{first}");
    // Nothing to do the second time: the step is not run again.
    let again = image_report(&store, &dir, &[]);
    assert_eq!(again["manifest"], first["manifest"]);
    assert_eq!(again["steps_run"], 0, "{again}");
    let checked = project(&store, &dir, &["build", "--check"]);
    assert!(
        checked.starts_with("c-hello ") && checked.trim_end().ends_with(" reproducible"),
        "{checked}"
    );
    // A fresh store runs the step again and gets the same image, bit for bit.
    let other = image_report(&tmp.path().join("store-2"), &dir, &["--no-link"]);
    assert_eq!(other["steps_run"], 1, "{other}");
    assert_eq!(other["manifest"], first["manifest"]);
    let printed = run(
        &tool,
        tmp.path(),
        &format!("oci:{}:latest", dir.join("result").display()),
        &[],
    );
    assert!(
        printed.starts_with("hello from cairn, built in a sandbox (zlib 1."),
        "{printed}"
    );
}

#[test]
fn go_service_is_built_with_debians_go_and_answers_over_http() {
    let Some(tool) = require_tool("podman") else {
        return;
    };
    let tmp = lowercase_tempdir("ex-go-service");
    let dir = example("go-service", tmp.path());
    let store = tmp.path().join("store");
    project(&store, &dir, &["lock"]);
    let first = image_report(&store, &dir, &[]);
    assert_eq!(first["steps_run"], 1, "{first}");
    let other = image_report(&tmp.path().join("store-2"), &dir, &["--no-link"]);
    assert_eq!(
        other["manifest"], first["manifest"],
        "the same digest from a fresh store"
    );

    let response = serve_and_get(&tool, tmp.path(), &dir, "go", 8080);
    let json = body(&response);
    assert!(json["go"].as_str().unwrap().starts_with("go1."), "{json}");
    assert_eq!(json["uid"], 65532, "{json}");
}

#[test]
fn python_wheel_is_built_by_a_step_and_installed_with_its_locked_requirement() {
    let Some(tool) = require_tool("podman") else {
        return;
    };
    let tmp = lowercase_tempdir("ex-python-wheel");
    let dir = example("python-wheel", tmp.path());
    let store = tmp.path().join("store");
    project(&store, &dir, &["lock"]);
    let lock = fs_err::read_to_string(dir.join("cairn.lock")).unwrap();
    assert!(lock.contains("name = \"markupsafe\""), "{lock}");
    assert!(
        !lock.contains("greet"),
        "a local wheel is not locked: {lock}"
    );
    let first = image_report(&store, &dir, &[]);
    assert_eq!(first["steps_run"], 1, "{first}");
    assert_eq!(first["wheels"], 2, "{first}");
    assert_eq!(first["wheels_installed"], 2, "{first}");
    // Every package is new to this store, the step's (setuptools) made first.
    assert_eq!(first["packages_installed"], first["packages"], "{first}");
    let again = image_report(&store, &dir, &[]);
    assert_eq!(again["manifest"], first["manifest"]);
    assert_eq!(
        (
            again["steps_run"].as_u64(),
            again["wheels_installed"].as_u64()
        ),
        (Some(0), Some(0))
    );
    let checked = project(&store, &dir, &["build", "--check"]);
    assert!(
        checked.starts_with("greet-wheel ") && checked.trim_end().ends_with(" reproducible"),
        "{checked}"
    );
    let other = image_report(&tmp.path().join("store-2"), &dir, &["--no-link"]);
    assert_eq!(
        other["manifest"], first["manifest"],
        "the same digest from a fresh store"
    );
    let printed = run(
        &tool,
        tmp.path(),
        &format!("oci:{}:latest", dir.join("result").display()),
        &["<cairn>"],
    );
    assert_eq!(printed, "<p>Hello, &lt;cairn&gt;!</p>\nspeedups: True\n");
}

/// A project of steps written by the test: dash and coreutils from trixie.
fn steps_project(dir: &Path, steps: &str) {
    fs_err::create_dir_all(dir.join("src")).unwrap();
    fs_err::write(dir.join("src/input.txt"), "one\n").unwrap();
    fs_err::write(
        dir.join("cairn.star"),
        format!(
            "deb = debian(suite = \"trixie\")\n\
             tools = deb.packages([\"dash\", \"coreutils\"])\n\
             {steps}\n"
        ),
    )
    .unwrap();
}

/// Four steps, each in an image of its own: one that copies a source, one that fails,
/// one that writes nothing, one that takes too long; and a failing step in an image
/// without a program.
fn steps_spec() -> String {
    [
        (
            "copy",
            "cat /src/input.txt > /out/copy; echo \"$(id -u) $(uname -n)\" > /out/who",
            "srcs = {\"/src\": files(\"src\")}",
        ),
        ("fails", "echo boom-marker >&2; exit 3", ""),
        ("empty", "true", ""),
        ("slow", "sleep 30", "timeout = 1"),
    ]
    .iter()
    .fold(String::new(), |mut spec, (name, cmd, extra)| {
        use std::fmt::Write as _;
        let _ = write!(
            spec,
            "{name} = run(name = \"{name}\", deps = [tools], cmd = [\"sh\", \"-c\", \"{}\"], {extra})\n\
             image(name = \"{name}\", contents = [tools, {name}], entrypoint = [\"/bin/sh\"])\n",
            cmd.replace('"', "\\\"")
        );
        spec
    }) + "never = run(name = \"never\", deps = [tools], cmd = [\"false\"])\n\
         image(name = \"noprog\", contents = [tools, never])\n"
}

#[test]
fn steps_fail_clearly_and_run_again_only_when_an_input_changes() {
    let tmp = lowercase_tempdir("steps");
    let dir = tmp.path().join("project");
    let store = tmp.path().join("store");
    steps_project(&dir, &steps_spec());
    project(&store, &dir, &["lock"]);
    let objects = || -> Vec<String> {
        fs_err::read_dir(store.join("v1/objects"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    };

    // A step's output: what it wrote, as uid 0 on host `cairn`; run once.
    let first = image_report(&store, &dir, &["copy"]);
    assert_eq!(first["steps_run"], 1, "{first}");
    let copy = objects()
        .into_iter()
        .find(|o| o.ends_with("-copy") && !o.ends_with("-image-copy"))
        .unwrap();
    let object = store.join("v1/objects").join(&copy);
    assert_eq!(
        fs_err::read_to_string(object.join("copy")).unwrap(),
        "one\n"
    );
    assert_eq!(
        fs_err::read_to_string(object.join("who")).unwrap(),
        "0 cairn\n"
    );
    assert_eq!(image_report(&store, &dir, &["copy"])["steps_run"], 0);
    // Editing a source runs it again, into another object.
    fs_err::write(dir.join("src/input.txt"), "two\n").unwrap();
    assert_eq!(image_report(&store, &dir, &["copy"])["steps_run"], 1);
    let copies: Vec<String> = objects()
        .into_iter()
        .filter(|o| o.ends_with("-copy") && !o.ends_with("-image-copy"))
        .collect();
    assert_eq!(copies.len(), 2, "{copies:?}");

    // A failing command: the log's last lines and its path; no object.
    let output = cairn(&store, &["build", "-C", dir.to_str().unwrap(), "fails"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("exited with status 3"), "{stderr}");
    assert!(stderr.contains("| boom-marker"), "{stderr}");
    assert!(stderr.contains("-fails.log"), "{stderr}");
    let log = fs_err::read_dir(store.join("v1/logs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with("-fails.log"))
        .unwrap();
    assert!(
        fs_err::read_to_string(&log)
            .unwrap()
            .contains("boom-marker")
    );
    assert!(!objects().iter().any(|o| o.ends_with("-fails")));

    // Nothing written to /out.
    let output = cairn(&store, &["build", "-C", dir.to_str().unwrap(), "empty"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("it wrote nothing to /out"), "{stderr}");

    // A timeout.
    let started = std::time::Instant::now();
    let output = cairn(&store, &["build", "-C", dir.to_str().unwrap(), "slow"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("timed out after 1 s"), "{stderr}");
    assert!(stderr.contains("it wrote nothing to its log"), "{stderr}");
    assert!(stderr.contains("timeout"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(25));

    // What is wrong with an image itself is said before its steps run.
    let output = cairn(&store, &["build", "-C", dir.to_str().unwrap(), "noprog"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no entrypoint and no cmd"), "{stderr}");
    assert!(!stderr.contains("never"), "{stderr}");

    // `cairn shell`: the step's sandbox, the project at /project, exit code passed on.
    let output = cairn(
        &store,
        &[
            "shell",
            "-C",
            dir.to_str().unwrap(),
            "copy",
            "--",
            "sh",
            "-c",
            "ls /src /project; exit 7",
        ],
    );
    assert_eq!(output.status.code(), Some(7), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("input.txt") && stdout.contains("cairn.star"),
        "{stdout}"
    );
}
