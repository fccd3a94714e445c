//! Live: images built by `cairn image build` from the real trixie mirror, run by
//! podman with runc (the test command installs both; in CI a missing tool fails).
//! Podman keeps its storage in the test's temporary directory.

#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

mod support;

use cairn_test::{DockerDaemon, require_tool};
use support::{cairn, lowercase_tempdir, ok, podman, run};

#[test]
fn busybox_static_prints_a_line() {
    let Some(tool) = require_tool("podman") else {
        return;
    };
    let tmp = lowercase_tempdir("busybox");
    let layout = tmp.path().join("busybox");
    let out = cairn(
        &tmp.path().join("store"),
        &[
            "image",
            "build",
            "--package",
            "busybox-static",
            "--entrypoint",
            "/usr/bin/busybox",
            "--cmd",
            "echo hello from cairn",
            "--add-user",
            "app:1000",
            "--add-group",
            "readers:2000:app",
            "--user",
            "app",
            "--output",
            &format!("oci:{}", layout.display()),
        ],
    );
    ok(&out);
    let image = format!("oci:{}:latest", layout.display());
    let printed = run(&tool, tmp.path(), &image, &[]);
    assert_eq!(printed.trim(), "hello from cairn");
    // The declared account with its own primary group, and the group that lists it.
    // (The config names the user by number, so the runtime does not add supplementary
    // groups; a program that calls initgroups() finds `readers` in /etc/group.)
    let id = run(&tool, tmp.path(), &image, &["id"]);
    assert!(id.starts_with("uid=1000(app) gid=1000(app)"), "{id}");
    let group = run(&tool, tmp.path(), &image, &["cat", "/etc/group"]);
    assert!(group.lines().any(|l| l == "readers:x:2000:app"), "{group}");
}

#[test]
fn python3_runs_as_nonroot_with_the_ca_bundle_and_builds_reproducibly() {
    let Some(tool) = require_tool("podman") else {
        return;
    };
    let tmp = lowercase_tempdir("python3");
    let build = |store: &str, packages: &[&str], output: &str| {
        let mut args = vec!["image", "build"];
        for p in packages {
            args.extend(["--package", p]);
        }
        args.extend([
            "--entrypoint",
            "/usr/bin/python3",
            "--user",
            "nonroot",
            "--name",
            "cairn/python3:latest",
            "--output",
            output,
        ]);
        ok(&cairn(&tmp.path().join(store), &args)).trim().to_owned()
    };
    let layout = tmp.path().join("python3");
    let digest = build(
        "store-a",
        &["python3", "ca-certificates"],
        &format!("oci:{}", layout.display()),
    );
    let script = "import ssl, sqlite3, ctypes, json, os; \
                  ctx = ssl.create_default_context(); \
                  print('ok', os.getuid(), len(ctx.get_ca_certs()) > 100)";
    let printed = run(
        &tool,
        tmp.path(),
        &format!("oci:{}:latest", layout.display()),
        &["-c", script],
    );
    assert_eq!(printed.trim(), "ok 65532 True");

    // A fresh store, the request in another order: the same image, bit for bit.
    let again = build(
        "store-b",
        &["ca-certificates", "python3"],
        &format!("oci:{}", tmp.path().join("python3-again").display()),
    );
    assert_eq!(again, digest);

    // The docker-archive loads into podman and runs the same way.
    let archive = tmp.path().join("python3.tar");
    build(
        "store-a",
        &["python3", "ca-certificates"],
        &format!("docker-archive:{}", archive.display()),
    );
    let loaded = podman(&tool, tmp.path())
        .arg("load")
        .arg("-i")
        .arg(&archive)
        .output()
        .unwrap();
    let loaded = ok(&loaded);
    assert!(loaded.contains("cairn/python3:latest"), "{loaded}");
    let printed = run(
        &tool,
        tmp.path(),
        "localhost/cairn/python3:latest",
        &["-c", "print('loaded')"],
    );
    assert_eq!(printed.trim(), "loaded");
}

/// The docker-archive loads into a real Docker daemon (the test's own, on a Unix socket
/// in its directory), which names the image as asked, gives it as its ID the digest of
/// the config that cairn's manifest names, and runs it.
#[test]
fn docker_load_reads_the_docker_archive() {
    let tmp = lowercase_tempdir("docker");
    let Some(docker) = DockerDaemon::start(&tmp.path().join("docker")) else {
        return;
    };
    let archive = tmp.path().join("busybox.tar");
    let printed = ok(&cairn(
        &tmp.path().join("store"),
        &[
            "image",
            "build",
            "--package",
            "busybox-static",
            "--entrypoint",
            "/usr/bin/busybox",
            "--cmd",
            "echo hello from docker",
            "--name",
            "cairn/busybox:latest",
            "--output",
            &format!("docker-archive:{}", archive.display()),
        ],
    ));
    // cairn prints the manifest's digest.
    let manifest_digest = printed.trim();
    let docker_ok = |args: &[&str]| {
        let output = docker.command().args(args).output().unwrap();
        assert!(
            output.status.success(),
            "docker {args:?}: {}\n{}",
            String::from_utf8_lossy(&output.stderr),
            docker.logs()
        );
        String::from_utf8(output.stdout).unwrap()
    };
    let loaded = docker_ok(&["load", "--input", archive.to_str().unwrap()]);
    assert!(
        loaded.contains("Loaded image: cairn/busybox:latest"),
        "{loaded}"
    );

    // The archive's two indexes agree with what cairn printed: `index.json` names
    // cairn's manifest, a blob whose digest it is; the config that manifest names is
    // the one `manifest.json` (Docker's index) names, with the same layers.
    let member = |name: &str| -> Vec<u8> {
        let output = std::process::Command::new("tar")
            .arg("-xOf")
            .arg(&archive)
            .arg(name)
            .output()
            .unwrap();
        ok(&output);
        output.stdout
    };
    let json = |bytes: &[u8]| -> serde_json::Value { serde_json::from_slice(bytes).unwrap() };
    let blob = |digest: &serde_json::Value| {
        let hex = digest.as_str().unwrap().strip_prefix("sha256:").unwrap();
        member(&format!("blobs/sha256/{hex}"))
    };
    let index = json(&member("index.json"));
    let described = &index["manifests"][0]["digest"];
    assert_eq!(described, manifest_digest, "{index}");
    let manifest_bytes = blob(described);
    assert_eq!(
        cairn_oci::Digest::of(&manifest_bytes).to_string(),
        manifest_digest
    );
    let manifest = json(&manifest_bytes);
    let config = manifest["config"]["digest"].as_str().unwrap();
    let path = |digest: &str| format!("blobs/sha256/{}", digest.strip_prefix("sha256:").unwrap());
    let docker_index = json(&member("manifest.json"));
    assert_eq!(docker_index[0]["Config"], path(config), "{docker_index}");
    let layers: Vec<String> = manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|layer| path(layer["digest"].as_str().unwrap()))
        .collect();
    assert_eq!(docker_index[0]["Layers"], serde_json::json!(layers));
    // Docker computes the ID from the config's bytes.
    let id = docker_ok(&[
        "image",
        "inspect",
        "--format",
        "{{.Id}}",
        "cairn/busybox:latest",
    ]);
    assert_eq!(id.trim(), config);

    let printed = docker_ok(&["run", "--rm", "--network", "none", "cairn/busybox:latest"]);
    assert_eq!(printed.trim(), "hello from docker");
}
