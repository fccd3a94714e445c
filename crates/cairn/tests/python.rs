//! Python environments through the `cairn` CLI, hermetic: a signed fixture Debian
//! repository (a CPython whose interpreter is a tiny static ELF) and a fixture PyPI
//! index, each served on 127.0.0.1 by its own `TestServer`. `cairn lock` resolves the
//! `python_env` against the index for that CPython; `cairn build` installs the wheels
//! as store objects.

#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cairn_test::pypi::{FileOptions, FixtureIndex, WheelBuilder};
use cairn_test::{Fault, FixturePackage, FixtureRepo, TestServer, tiny_elf};

/// A project using the fixture Debian repository and a fixture index.
struct Project {
    tmp: tempfile::TempDir,
    dir: PathBuf,
    _mirror: TestServer,
    mirror_url: String,
    /// Serves `<tmp>/pypi`.
    pypi: TestServer,
    index_url: String,
}

const SPEC: &str = r#"deb = debian(suite = "testing", mirror = "MIRROR", security = False)
py = deb.packages(["python3"])
env = python_env(python = py, requirements = "requirements.txt", index = "INDEX")

image(
    name = "app",
    contents = [env],
    entrypoint = ["/usr/bin/python3.13"],
    user = "nonroot",
)
"#;

impl Project {
    /// The Debian fixture (libc6, python3.13-minimal, python3), `index` written and
    /// served, `cairn.star` as [`SPEC`] and `requirements.txt` as `requirements`.
    fn new(index: &FixtureIndex, requirements: &str) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("project");
        fs_err::create_dir_all(&dir).unwrap();
        let packages = [
            FixturePackage::new("libc6", "2.41-12").file(
                "usr/share/doc/libc6/copyright",
                b"libc6\n",
                0o644,
            ),
            FixturePackage::new("python3.13-minimal", "3.13.5-2")
                .field("Depends", "libc6")
                .file("usr/bin/python3.13", &tiny_elf(), 0o755),
            FixturePackage::new("python3", "3.13.5-1").field("Depends", "python3.13-minimal"),
        ];
        let repo = FixtureRepo::build(&tmp.path().join("repo"), "testing", &packages, 7);
        fs_err::write(tmp.path().join("key.asc"), &repo.public_key).unwrap();
        let mirror = TestServer::serve_dir(&repo.root);
        let mirror_url = mirror.url();
        let pypi_root = tmp.path().join("pypi");
        index.write(&pypi_root);
        let pypi = TestServer::serve_dir(&pypi_root);
        let index_url = format!("{}/simple", pypi.url());
        let project = Self {
            tmp,
            dir,
            _mirror: mirror,
            mirror_url,
            pypi,
            index_url,
        };
        fs_err::write(
            project.path("cairn.star"),
            SPEC.replace("MIRROR", &project.mirror_url)
                .replace("INDEX", &project.index_url),
        )
        .unwrap();
        project.requirements(requirements);
        project
    }

    fn requirements(&self, text: &str) {
        fs_err::write(self.path("requirements.txt"), text).unwrap();
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// `cairn ARGS` on the project (`-C` after the subcommand), with the fixture's key
    /// for `lock`.
    fn cairn(&self, args: &[&str]) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_cairn"));
        command
            .arg("--store")
            .arg(self.store())
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

    fn store(&self) -> PathBuf {
        self.tmp.path().join("store")
    }

    /// `cairn store verify` passes.
    fn verify_store(&self) {
        let output = Command::new(env!("CARGO_BIN_EXE_cairn"))
            .arg("--store")
            .arg(self.store())
            .args(["store", "verify"])
            .output()
            .unwrap();
        succeeded(&output);
    }

    fn lock_text(&self) -> String {
        fs_err::read_to_string(self.path("cairn.lock")).unwrap()
    }

    /// The store's objects whose names end with `-<name>`.
    fn objects(&self, name: &str) -> Vec<PathBuf> {
        let suffix = format!("-{name}");
        let Ok(entries) = fs_err::read_dir(self.store().join("v1/objects")) else {
            return Vec::new();
        };
        let mut found: Vec<PathBuf> = entries
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(&suffix))
            .map(|e| e.path())
            .collect();
        found.sort();
        found
    }

    /// The one object of the wheel `name` `version`.
    fn wheel_object(&self, name: &str, version: &str) -> PathBuf {
        let found = self.objects(&format!("pypi-{name}-{version}"));
        assert_eq!(found.len(), 1, "objects of {name} {version}: {found:?}");
        found.into_iter().next().unwrap()
    }

    /// The URL path of a file of the fixture index.
    fn file_path(filename: &str) -> String {
        format!("/files/{filename}")
    }
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn succeeded(output: &Output) {
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        stderr(output)
    );
}

/// Fails with exit status 1 (an error, not a crash); returns stderr.
fn failed(output: &Output) -> String {
    let text = stderr(output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(!text.contains("panicked"), "{text}");
    text
}

/// The `--json` report of `cairn build`, its one image.
fn report(output: &Output) -> serde_json::Value {
    succeeded(output);
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    json["images"][0].clone()
}

/// A wheel of the fixture: `name/__init__.py` holds its version.
fn wheel(name: &str, version: &str) -> WheelBuilder {
    WheelBuilder::new(name, version).file(
        &format!("{name}/__init__.py"),
        format!("__version__ = {version:?}\n").as_bytes(),
    )
}

fn yanked(reason: &str) -> FileOptions {
    FileOptions {
        yanked: Some(reason.into()),
        ..FileOptions::default()
    }
}

/// One `[[pypi.package]]` of a lock, as its lines.
#[derive(Debug)]
struct LockedEntry {
    name: String,
    text: String,
}

impl LockedEntry {
    fn field(&self, key: &str) -> Option<String> {
        self.text
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{key} = ")))
            .map(str::to_owned)
    }
}

/// The `[[pypi.package]]` tables of a lock, in order.
fn pypi_packages(lock: &str) -> Vec<LockedEntry> {
    lock.split("[[pypi.package]]")
        .skip(1)
        .map(|table| {
            // A table ends where the next one (of any kind) starts.
            let text = table.split("\n[").next().unwrap().to_owned();
            let name = text
                .lines()
                .find_map(|line| line.strip_prefix("name = "))
                .unwrap()
                .trim_matches('"')
                .to_owned();
            LockedEntry { name, text }
        })
        .collect()
}

/// The index of the success test: `app` needs `dep[fast]` (whose `fast` extra pulls
/// `speedy`, a binary wheel), `legacy`, and `winonly` on Windows only.
fn rich_index() -> FixtureIndex {
    let mut index = FixtureIndex::new();
    index
        .wheel(
            &wheel("app", "1.0")
                .file("app/cli.py", b"def main():\n    return 0\n")
                .requires_dist(r#"dep[fast]>=1; python_version >= "3.8""#)
                .requires_dist(r#"winonly; sys_platform == "win32""#)
                .requires_dist("legacy")
                .entry_point("console_scripts", "app-cli", "app.cli:main"),
        )
        .wheel(
            &wheel("dep", "1.0")
                .provides_extra("fast")
                .requires_dist(r#"speedy>=1; extra == "fast""#),
        )
        // Newer, but yanked: only an exact pin takes it.
        .wheel_with(
            &wheel("dep", "2.0")
                .provides_extra("fast")
                .requires_dist(r#"speedy>=1; extra == "fast""#),
            yanked("broken"),
        )
        // Two builds of 1.0: only the cp313 one fits CPython 3.13.
        .wheel(&wheel("speedy", "1.0").tag("cp312-cp312-manylinux_2_17_x86_64"))
        .wheel(&wheel("speedy", "1.0").tag("cp313-cp313-manylinux_2_17_x86_64"))
        // Newer, with no wheel for 3.13.
        .wheel(&wheel("speedy", "1.1").tag("cp312-cp312-manylinux_2_17_x86_64"))
        .wheel(&wheel("winonly", "1.0"))
        .wheel(&wheel("legacy", "1.0"))
        // Newer, but a source distribution only.
        .sdist("legacy", "2.0");
    index
}

const APP_CLI: &str = "usr/local/bin/app-cli";
/// Where Debian's CPython 3.13 finds wheels installed for it.
const SITE: &str = "usr/local/lib/python3.13/dist-packages";

fn mode(path: &Path) -> u32 {
    std::os::unix::fs::PermissionsExt::mode(&fs_err::metadata(path).unwrap().permissions())
}

/// Unpacks the layers of the one image of the OCI layout `layout` into `dest` with
/// `tar` (the test crate has no gzip reader); returns `dest`.
fn unpack_image(layout: &Path, dest: &Path) -> PathBuf {
    let json = |path: PathBuf| -> serde_json::Value {
        serde_json::from_slice(&fs_err::read(path).unwrap()).unwrap()
    };
    let blob = |digest: &serde_json::Value| {
        let digest = digest.as_str().unwrap();
        layout
            .join("blobs/sha256")
            .join(digest.strip_prefix("sha256:").unwrap())
    };
    let index = json(layout.join("index.json"));
    let manifests = index["manifests"].as_array().unwrap();
    assert_eq!(manifests.len(), 1, "{index}");
    let manifest = json(blob(&manifests[0]["digest"]));
    fs_err::create_dir_all(dest).unwrap();
    for layer in manifest["layers"].as_array().unwrap() {
        assert_eq!(
            layer["mediaType"], "application/vnd.oci.image.layer.v1.tar+gzip",
            "{layer}"
        );
        let output = Command::new("tar")
            .arg("-xzpf")
            .arg(blob(&layer["digest"]))
            .arg("-C")
            .arg(dest)
            .output()
            .unwrap();
        succeeded(&output);
    }
    dest.to_path_buf()
}

/// The lock of [`rich_index`] for `app`: exactly app, dep (with its `fast` extra),
/// legacy and speedy (its cp313 wheel), each with its hash and what pulled it in.
fn check_rich_lock(project: &Project) {
    let lock = project.lock_text();
    assert!(lock.contains("[[pypi]]"), "{lock}");
    assert!(lock.contains("python = \"3.13.5\""), "{lock}");
    assert!(lock.contains("glibc = \"2.41\""), "{lock}");
    assert!(
        lock.contains(&format!("indexes = [\"{}\"]", project.index_url)),
        "{lock}"
    );
    let packages = pypi_packages(&lock);
    let versions: Vec<(String, String)> = packages
        .iter()
        .map(|p| (p.name.clone(), p.field("version").unwrap()))
        .collect();
    assert_eq!(
        versions,
        [
            ("app".to_owned(), "\"1.0\"".to_owned()),
            ("dep".to_owned(), "\"1.0\"".to_owned()),
            ("legacy".to_owned(), "\"1.0\"".to_owned()),
            ("speedy".to_owned(), "\"1.0\"".to_owned()),
        ],
        "{lock}"
    );
    for p in &packages {
        let sha256 = p.field("sha256").unwrap();
        assert_eq!(sha256.trim_matches('"').len(), 64, "{}", p.text);
        assert!(p.field("required-by").is_some(), "{}", p.text);
    }
    let by_name = |name: &str| packages.iter().find(|p| p.name == name).unwrap();
    assert_eq!(
        by_name("speedy").field("wheel").unwrap(),
        "\"speedy-1.0-cp313-cp313-manylinux_2_17_x86_64.whl\""
    );
    assert_eq!(
        by_name("dep").field("extras").unwrap(),
        "[\"fast\"]",
        "{lock}"
    );
    // What pulled each in: the requirement, markers left out (they held).
    for (name, required_by) in [
        ("app", "[\"requirements: `app`\"]"),
        ("dep", "[\"app 1.0 requires `dep[fast]>=1`\"]"),
        ("legacy", "[\"app 1.0 requires `legacy`\"]"),
        ("speedy", "[\"dep[fast] 1.0 requires `speedy>=1`\"]"),
    ] {
        assert_eq!(
            by_name(name).field("required-by").unwrap(),
            required_by,
            "{lock}"
        );
    }
    assert_eq!(
        by_name("app").field("requires").unwrap(),
        "[\"dep\", \"legacy\"]"
    );
    assert!(!lock.contains("winonly"), "{lock}");
}

#[test]
fn an_environment_is_locked_built_and_built_again_without_work() {
    let project = Project::new(&rich_index(), "app\n");
    let output = project.cairn(&["lock"]);
    succeeded(&output);
    let text = stderr(&output);
    for line in [
        "  app 1.0\n",
        "  dep 1.0\n",
        "  legacy 1.0\n",
        "  speedy 1.0\n",
        "  python3.13-minimal 3.13.5-2\n",
        "locked 2 package sets (2 resolved, 0 kept) in cairn.lock\n",
    ] {
        assert!(text.contains(line), "{line:?}: {text}");
    }
    assert!(!text.contains("winonly"), "{text}");
    check_rich_lock(&project);

    let first = project.cairn(&["build"]);
    succeeded(&first);
    let text = stderr(&first);
    assert!(
        text.contains("app: 3 packages (3 installed now), 4 wheels (4 installed now)"),
        "{text}"
    );
    let stdout = String::from_utf8(first.stdout).unwrap();
    let manifest = stdout.strip_prefix("app ").unwrap().trim_end();
    assert!(project.path("result").join("index.json").is_file());
    let app = project.wheel_object("app", "1.0");
    let script = fs_err::read_to_string(app.join(APP_CLI)).unwrap();
    assert!(script.starts_with("#!/usr/bin/python3.13\n"), "{script}");
    assert!(script.contains("app.cli"), "{script}");
    assert_ne!(
        mode(&app.join(APP_CLI)) & 0o111,
        0,
        "the script is executable"
    );
    assert!(app.join(format!("{SITE}/app/cli.py")).is_file());
    let speedy = project.wheel_object("speedy", "1.0");
    assert!(speedy.join(format!("{SITE}/speedy/__init__.py")).is_file());
    assert!(project.objects("pypi-winonly-1.0").is_empty());
    assert!(project.objects("pypi-dep-2.0").is_empty());
    assert!(project.objects("pypi-speedy-1.1").is_empty());

    // Again, written out too: nothing is installed or downloaded again.
    let layout = project.tmp.path().join("oci");
    let output = format!("oci:{}", layout.display());
    let second = report(&project.cairn(&["build", "--json", "--output", &output]));
    assert_eq!(second["manifest"], manifest);
    assert_eq!(second["wheels"], 4, "{second}");
    assert_eq!(second["wheels_installed"], 0, "{second}");
    assert_eq!(second["packages_installed"], 0, "{second}");
    assert_eq!(second["layers_written"], 0, "{second}");
    assert_eq!(
        project
            .pypi
            .count(&Project::file_path("app-1.0-py3-none-any.whl")),
        1,
        "nothing downloaded again"
    );

    // The image holds the wheels where Debian's Python finds them.
    let rootfs = unpack_image(&layout, &project.tmp.path().join("rootfs"));
    let script = fs_err::read_to_string(rootfs.join(APP_CLI)).unwrap();
    assert!(script.starts_with("#!/usr/bin/python3.13\n"), "{script}");
    assert_eq!(mode(&rootfs.join(APP_CLI)) & 0o777, 0o755);
    for package in ["app", "dep", "legacy", "speedy"] {
        let init = rootfs.join(format!("{SITE}/{package}/__init__.py"));
        assert!(init.is_file(), "{}", init.display());
    }
    assert!(!rootfs.join(format!("{SITE}/winonly")).exists());
    let record =
        fs_err::read_to_string(rootfs.join(format!("{SITE}/app-1.0.dist-info/RECORD"))).unwrap();
    assert!(record.contains("../../../bin/app-cli,sha256="), "{record}");
    assert!(rootfs.join("usr/bin/python3.13").is_file());
    let passwd = fs_err::read_to_string(rootfs.join("etc/passwd")).unwrap();
    assert!(passwd.contains("nonroot:"), "{passwd}");
    project.verify_store();
}

#[test]
fn conflicting_requirements_and_source_only_packages_are_explained() {
    let mut index = FixtureIndex::new();
    index
        .wheel(&wheel("a", "1.0").requires_dist("c<2"))
        .wheel(&wheel("b", "1.0").requires_dist("c>=2"))
        .wheel(&wheel("c", "1.0"))
        .wheel(&wheel("c", "2.0"))
        .sdist("only", "1.0");
    let project = Project::new(&index, "a\nb\n");
    let text = failed(&project.cairn(&["lock"]));
    assert!(
        text.contains("no versions satisfy the Python requirements"),
        "{text}"
    );
    // Both sides of the conflict, and who asked for them.
    for part in [
        "a==1.0 depends on c<2",
        "b==1.0 depends on c>=2",
        "you require a and b",
    ] {
        assert!(text.contains(part), "{part}: {text}");
    }
    // The error points at the python_env() call.
    assert!(text.contains("cairn.star:3:"), "{text}");
    assert!(!project.path("cairn.lock").exists());

    project.requirements("only\n");
    let text = failed(&project.cairn(&["lock"]));
    assert!(
        text.contains("only==1.0 has only a source distribution (no wheel)"),
        "{text}"
    );
    assert!(text.contains("cairn installs wheels only"), "{text}");
    assert!(!project.path("cairn.lock").exists());
    project.verify_store();
}

#[test]
fn only_an_exact_pin_takes_a_yanked_version() {
    // `>=2.0` is met only by the yanked 2.0: no solution, and the note says why.
    let project = Project::new(&rich_index(), "dep>=2.0\n");
    let text = failed(&project.cairn(&["lock"]));
    assert!(text.contains("dep==2.0 was yanked (broken)"), "{text}");
    assert!(
        text.contains("a yanked version is used only when a requirement pins it exactly"),
        "{text}"
    );

    project.requirements("dep==2.0\n");
    let output = project.cairn(&["lock"]);
    succeeded(&output);
    // The CLI does not tell that it took a yanked version (see the report: the
    // resolver's warnings are dropped), so nothing is asserted about a warning.
    let lock = project.lock_text();
    let packages = pypi_packages(&lock);
    assert_eq!(packages.len(), 1, "{lock}");
    assert_eq!(packages[0].name, "dep");
    assert_eq!(packages[0].field("version").unwrap(), "\"2.0\"");
    assert_eq!(
        packages[0].field("required-by").unwrap(),
        "[\"requirements: `dep==2.0`\"]"
    );
    // No extra asked for: its `fast` dependency is not there.
    assert!(!lock.contains("speedy"), "{lock}");

    let built = report(&project.cairn(&["build", "--json"]));
    assert_eq!(built["wheels"], 1, "{built}");
    project.wheel_object("dep", "2.0");
    project.verify_store();
}

/// The sha256 the lock gives the wheel `filename`.
fn locked_sha256(lock: &str, filename: &str) -> String {
    pypi_packages(lock)
        .into_iter()
        .find(|p| p.field("wheel").as_deref() == Some(&format!("\"{filename}\"")))
        .and_then(|p| p.field("sha256"))
        .unwrap()
        .trim_matches('"')
        .to_owned()
}

#[test]
fn a_download_that_does_not_match_the_lock_is_refused_and_not_kept() {
    let project = Project::new(&rich_index(), "app\n");
    succeeded(&project.cairn(&["lock"]));
    let lock = project.lock_text();
    let filename = "app-1.0-py3-none-any.whl";
    let locked = locked_sha256(&lock, filename);
    let url_path = Project::file_path(filename);
    // The same size, one byte different.
    let mut bytes = fs_err::read(project.tmp.path().join("pypi/files").join(filename)).unwrap();
    *bytes.last_mut().unwrap() ^= 0xff;
    let tampered = project.tmp.path().join("tampered.whl");
    fs_err::write(&tampered, &bytes).unwrap();
    let served = sha256_hex(&tampered);
    project.pypi.fail_always(&url_path, Fault::Replace(bytes));

    let text = failed(&project.cairn(&["build"]));
    assert!(
        text.contains(&format!("cannot download the wheel `{filename}`")),
        "{text}"
    );
    assert!(text.contains(&format!("has SHA-256 {served}")), "{text}");
    assert!(
        text.contains(&format!("but {locked} was expected")),
        "{text}"
    );
    assert_eq!(project.lock_text(), lock, "the lock is left as it was");
    assert!(!project.path("result").exists());
    assert!(project.objects("pypi-app-1.0").is_empty());
    let blobs = project.store().join("v1/blobs/sha256");
    assert!(!blobs.join(&served).exists() && !blobs.join(&locked).exists());
    let partial: Vec<_> = fs_err::read_dir(&blobs)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(".partial-") || name.contains(&locked))
        .collect();
    assert!(partial.is_empty(), "{partial:?}");
    project.verify_store();

    project.pypi.clear(&url_path);
    let built = report(&project.cairn(&["build", "--json"]));
    assert_eq!(built["wheels"], 4, "{built}");
    let script = fs_err::read_to_string(project.wheel_object("app", "1.0").join(APP_CLI)).unwrap();
    assert!(script.starts_with("#!/usr/bin/python3.13\n"), "{script}");
    assert_eq!(project.lock_text(), lock);
    project.verify_store();
}

/// The SHA-256 of `file`, in hex, by `sha256sum` (the test crate has no hasher).
fn sha256_hex(file: &Path) -> String {
    let output = Command::new("sha256sum").arg(file).output().unwrap();
    succeeded(&output);
    String::from_utf8(output.stdout).unwrap()[..64].to_owned()
}

#[test]
fn a_wheel_whose_record_is_wrong_is_locked_but_not_installed() {
    let mut index = FixtureIndex::new();
    index.wheel(&wheel("app", "1.0").corrupt_record_hash("app/__init__.py"));
    let project = Project::new(&index, "app\n");
    // Its metadata is fine: the lock does not open the wheel.
    succeeded(&project.cairn(&["lock"]));
    let lock = project.lock_text();
    let text = failed(&project.cairn(&["build"]));
    assert!(
        text.contains("`app/__init__.py` of the wheel")
            && text.contains("does not match its RECORD"),
        "{text}"
    );
    // The wheel is named by its file name, not by its download's.
    assert!(text.contains("app-1.0-py3-none-any.whl"), "{text}");
    assert!(!text.contains("blobs"), "{text}");
    assert!(project.objects("pypi-app-1.0").is_empty());
    assert!(!project.path("result").exists());
    assert_eq!(project.lock_text(), lock);
    project.verify_store();
}

/// Every path under `dir` (not following symlinks) whose file name is `name`.
fn find_named(dir: &Path, name: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = fs_err::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if entry.file_name() == name {
                found.push(path.clone());
            }
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                pending.push(path);
            }
        }
    }
    found
}

#[test]
fn a_wheel_member_outside_the_install_root_is_refused() {
    for (member, reason) in [
        ("../../etc/cairn-evil", "has a `..` component"),
        (
            "../../../../../../../../../../../../tmp/cairn-evil",
            "has a `..` component",
        ),
        ("/tmp/cairn-evil-absolute", "the path is absolute"),
    ] {
        let mut index = FixtureIndex::new();
        index.wheel(&wheel("app", "1.0").raw_member(member, b"evil\n"));
        let project = Project::new(&index, "app\n");
        succeeded(&project.cairn(&["lock"]));
        let text = failed(&project.cairn(&["build"]));
        assert!(
            text.contains(&format!(
                "has a member `{member}` that could escape the install root"
            )),
            "{member}: {text}"
        );
        assert!(text.contains(reason), "{member}: {text}");
        let name = member.rsplit('/').next().unwrap();
        let written = find_named(project.tmp.path(), name);
        assert!(written.is_empty(), "{member}: {written:?}");
        assert!(!Path::new("/etc/cairn-evil").exists());
        assert!(!Path::new("/tmp/cairn-evil").exists());
        assert!(!Path::new("/tmp/cairn-evil-absolute").exists());
        assert!(project.objects("pypi-app-1.0").is_empty());
        assert!(!project.path("result").exists());
        let debris: Vec<_> = fs_err::read_dir(project.store().join("v1/tmp"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert!(debris.is_empty(), "{member}: {debris:?}");
        project.verify_store();
    }
}

#[test]
fn an_index_without_json_locks_the_same_from_html() {
    let project = Project::new(&rich_index(), "app\n");
    succeeded(&project.cairn(&["lock"]));
    let from_json = project.lock_text();
    assert!(from_json.contains("\nsize = "), "{from_json}");
    fs_err::remove_file(project.path("cairn.lock")).unwrap();
    project.pypi.serve_json(false);
    let output = project.cairn(&["lock"]);
    succeeded(&output);
    let from_html = project.lock_text();
    // PEP 503 pages give no sizes; everything else is the same.
    let (debian_json, pypi_json) = from_json.split_once("[[pypi]]").unwrap();
    let (debian_html, pypi_html) = from_html.split_once("[[pypi]]").unwrap();
    assert_eq!(debian_html, debian_json);
    let without_sizes = |text: &str| {
        text.lines()
            .filter(|line| !line.starts_with("size = "))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(without_sizes(pypi_html), without_sizes(pypi_json));
    let built = report(&project.cairn(&["build", "--json"]));
    assert_eq!(built["wheels"], 4, "{built}");
}

#[test]
fn a_changed_requirements_file_makes_the_lock_stale() {
    let project = Project::new(&rich_index(), "app\n");
    succeeded(&project.cairn(&["lock"]));
    let lock = project.lock_text();
    project.requirements("app\nwinonly\n");
    let text = failed(&project.cairn(&["build", "--locked"]));
    assert!(
        text.contains("cairn.lock is stale") && text.contains("run `cairn lock`"),
        "{text}"
    );
    let text = failed(&project.cairn(&["build"]));
    assert!(text.contains("run `cairn lock`"), "{text}");
    assert!(!project.path("result").exists());
    assert_eq!(project.lock_text(), lock);

    // Comments and blank lines are not resolution inputs: the lock stays fresh.
    project.requirements("# the app\n\napp   # itself\n");
    let output = project.cairn(&["lock"]);
    succeeded(&output);
    assert!(
        stderr(&output).contains("cairn.lock is up to date"),
        "{}",
        stderr(&output)
    );
    assert_eq!(project.lock_text(), lock);

    project.requirements("app\nwinonly\n");
    let output = project.cairn(&["lock"]);
    succeeded(&output);
    assert!(
        stderr(&output).contains("winonly 1.0"),
        "{}",
        stderr(&output)
    );
    let built = report(&project.cairn(&["build", "--json", "--locked"]));
    assert_eq!(built["wheels"], 5, "{built}");
    project.wheel_object("winonly", "1.0");
}

#[test]
fn requirements_file_errors_name_the_file_and_line() {
    let project = Project::new(&rich_index(), "-e .\n");
    for command in ["plan", "lock"] {
        let text = failed(&project.cairn(&[command]));
        assert!(
            text.contains("requirements.txt:1: `-e .` is an editable install"),
            "{command}: {text}"
        );
        assert!(text.contains("hint:"), "{text}");
    }
    assert!(!project.path("cairn.lock").exists());

    project.requirements("app\ndep==\n");
    let text = failed(&project.cairn(&["lock"]));
    assert!(
        text.contains("requirements.txt:2: invalid requirement"),
        "{text}"
    );

    // An included file's line.
    project.requirements("app\n-r more.txt\n");
    fs_err::write(project.path("more.txt"), "# more\n-e ./src\n").unwrap();
    let text = failed(&project.cairn(&["lock"]));
    assert!(text.contains("more.txt:2:"), "{text}");
    assert!(text.contains("editable"), "{text}");
    assert!(!project.path("cairn.lock").exists());
}

#[test]
fn extra_indexes_are_asked_before_the_default_one() {
    // The default index has a higher `private` (someone published the name there) and
    // `common`; the extra index has the real `private` only.
    let mut default = FixtureIndex::new();
    default
        .wheel(&wheel("private", "9.0"))
        .wheel(&wheel("common", "1.0"));
    let project = Project::new(&default, "private\ncommon\n");
    let mut extra = FixtureIndex::new();
    extra.wheel(&wheel("private", "1.0").requires_dist("common"));
    let extra_root = project.tmp.path().join("extra");
    extra.write(&extra_root);
    let extra_server = TestServer::serve_dir(&extra_root);
    let spec = fs_err::read_to_string(project.path("cairn.star")).unwrap();
    fs_err::write(
        project.path("cairn.star"),
        spec.replace(
            "requirements = \"requirements.txt\",",
            &format!(
                "requirements = \"requirements.txt\", extra_indexes = [\"{}/simple\"],",
                extra_server.url()
            ),
        ),
    )
    .unwrap();
    succeeded(&project.cairn(&["lock"]));
    let lock = project.lock_text();
    let packages = pypi_packages(&lock);
    let field = |name: &str, key: &str| {
        let entry = packages.iter().find(|p| p.name == name).unwrap();
        entry.field(key).unwrap().trim_matches('"').to_owned()
    };
    assert_eq!(field("private", "version"), "1.0", "{lock}");
    assert!(
        field("private", "url").starts_with(&extra_server.url()),
        "{lock}"
    );
    // What the extra index does not have comes from the default one.
    assert!(
        field("common", "url").starts_with(&project.pypi.url()),
        "{lock}"
    );
}

#[test]
fn an_environment_of_more_wheels_than_layers_fits_the_budget() {
    // 80 wheels, the default budget of 64 layers: wheels are layered like packages,
    // the least depended-on sharing a layer.
    let mut index = FixtureIndex::new();
    let mut requirements = String::new();
    for i in 0..80 {
        let name = format!("w{i}");
        let mut w = wheel(&name, "1.0");
        if i > 0 {
            // Each needs the first: the most popular, with a layer of its own.
            w = w.requires_dist("w0");
        }
        index.wheel(&w);
        requirements.push_str(&name);
        requirements.push('\n');
    }
    let project = Project::new(&index, &requirements);
    succeeded(&project.cairn(&["lock"]));
    let output = project.cairn(&["build", "--json"]);
    succeeded(&output);
    let image = report(&output);
    assert_eq!(image["wheels"], 80, "{image}");
    assert!(image["layers"].as_u64().unwrap() <= 64, "{image}");
    project.verify_store();
}

/// Writes `wheel` into the project's `wheels/` directory (vendored wheels).
fn vendor(project: &Project, wheel: &WheelBuilder) {
    let dir = project.path("wheels");
    fs_err::create_dir_all(&dir).unwrap();
    fs_err::write(dir.join(wheel.filename()), wheel.build()).unwrap();
}

/// `python_env(wheels = [files("wheels")])`: local wheels are installed as they are,
/// after the locked ones, and what they require must be locked. Adding them does not
/// make the lock stale; a requirement the lock lacks, a wheel for another Python, or
/// one named like a locked wheel are refused with what to do, and nothing is kept.
#[test]
fn local_wheels_are_installed_and_their_requirements_checked() {
    let mut index = FixtureIndex::new();
    index.wheel(&wheel("dep", "1.0"));
    let project = Project::new(&index, "dep==1.0\n");
    succeeded(&project.cairn(&["lock"]));
    let locked = project.lock_text();
    let spec = fs_err::read_to_string(project.path("cairn.star")).unwrap();
    fs_err::write(
        project.path("cairn.star"),
        spec.replace("index = \"", "wheels = [files(\"wheels\")], index = \""),
    )
    .unwrap();
    vendor(
        &project,
        &wheel("mylib", "0.1")
            .requires_dist("dep>=1")
            .requires_dist("winonly; sys_platform == 'win32'")
            .entry_point("console_scripts", "mylib", "mylib:main"),
    );

    // The lock is not stale: `--locked` builds, and the local wheel is installed.
    let built = report(&project.cairn(&["build", "--locked", "--json"]));
    assert_eq!(built["wheels"], 2, "{built}");
    assert_eq!(built["wheels_installed"], 2, "{built}");
    assert_eq!(project.lock_text(), locked);
    let object = project.wheel_object("mylib", "0.1");
    assert!(object.join("usr/local/bin/mylib").is_file());
    assert!(
        object
            .join("usr/local/lib/python3.13/dist-packages/mylib/__init__.py")
            .is_file()
    );
    // Its object refers to the locked wheel it requires.
    let dep = project.wheel_object("dep", "1.0");
    let info = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .arg("--store")
        .arg(project.store())
        .args(["store", "closure"])
        .arg(&object)
        .output()
        .unwrap();
    let references = String::from_utf8_lossy(&info.stdout).into_owned();
    let dep_name = dep.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        references.contains(&dep_name),
        "{references}\n{}",
        stderr(&info)
    );
    let again = report(&project.cairn(&["build", "--json"]));
    assert_eq!(again["wheels_installed"], 0, "{again}");

    // Bad local wheels, each refused with what to do; nothing new is kept.
    fs_err::remove_dir_all(project.path("wheels")).unwrap();
    let before = project.objects("mylib-0.2").len();
    for (bad, expect) in [
        (
            wheel("mylib", "0.2").requires_dist("missing>=2"),
            "requires `missing>=2`, and the environment has no missing",
        ),
        (
            wheel("mylib", "0.2").requires_dist("dep>=2"),
            "requires `dep>=2`, and the environment has dep 1.0",
        ),
        (
            wheel("mylib", "0.2").tag("cp312-cp312-manylinux_2_17_x86_64"),
            "does not fit CPython 3.13",
        ),
        (wheel("dep", "1.0"), "is a local wheel"),
    ] {
        fs_err::remove_dir_all(project.path("wheels")).ok();
        vendor(&project, &bad);
        let error = failed(&project.cairn(&["build"]));
        assert!(error.contains(expect), "{expect}: {error}");
        assert!(error.contains("files(\"wheels\")"), "{error}");
    }
    let error = failed(&project.cairn(&["build"]));
    assert!(error.contains("hint"), "{error}");
    assert_eq!(project.objects("mylib-0.2").len(), before);
    fs_err::remove_dir_all(project.path("wheels")).unwrap();
    fs_err::create_dir_all(project.path("wheels")).unwrap();
    let error = failed(&project.cairn(&["build"]));
    assert!(error.contains("holds no `.whl` file"), "{error}");
}
