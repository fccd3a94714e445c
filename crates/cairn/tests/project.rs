//! `cairn init`, `plan`, `lock` and `build` on projects, hermetic: a signed fixture
//! repository served on 127.0.0.1. What the CLI prints is compared with snapshots
//! (`tests/snapshots/`, insta) after temporary paths and ports are filtered out.

#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cairn_test::{FixturePackage, FixtureRepo, TestServer};

struct Project {
    tmp: tempfile::TempDir,
    dir: PathBuf,
    _server: Option<TestServer>,
    url: String,
}

impl Project {
    /// An empty project directory, and a fixture repository (`app` depends on `lib`).
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("project");
        fs_err::create_dir_all(&dir).unwrap();
        let packages = [
            FixturePackage::new("lib", "1.0-1"),
            FixturePackage::new("app", "2.0-1").field("Depends", "lib"),
        ];
        let repo = FixtureRepo::build(&tmp.path().join("repo"), "testing", &packages, 3);
        fs_err::write(tmp.path().join("key.asc"), &repo.public_key).unwrap();
        let server = TestServer::serve_dir(&repo.root);
        let url = server.url();
        Self {
            tmp,
            dir,
            _server: Some(server),
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
        let mut command = Command::new(env!("CARGO_BIN_EXE_cairn"));
        command
            .arg("--store")
            .arg(self.tmp.path().join("store"))
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
        command.output().unwrap()
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
    assert!(lock.starts_with("version = 2\n"), "{lock}");
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

    // A lock edited by hand into an inconsistent state.
    let path = project.path("cairn.lock");
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
    for name in ["hello", "python-http", "two-images"] {
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
