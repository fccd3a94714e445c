//! The project's files as store objects: filtering, modes, links and bad input.

#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

use std::os::unix::fs::{PermissionsExt as _, symlink};
use std::path::{Path, PathBuf};

use cairn_build::{FilesError, stage_files, stage_write_file};
use cairn_plan::Owner;
use cairn_store::{Store, StorePath};

struct Env {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    store: Store,
}

fn env() -> Env {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("project");
    let store = Store::open(&tmp.path().join("store")).unwrap();
    fs_err::create_dir_all(root.join("site/sub")).unwrap();
    fs_err::write(root.join("site/index.html"), "hi").unwrap();
    fs_err::write(root.join("site/sub/run.sh"), "#!/bin/sh").unwrap();
    fs_err::set_permissions(
        root.join("site/sub/run.sh"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    Env {
        _tmp: tmp,
        root,
        store,
    }
}

impl Env {
    fn files(
        &self,
        src: &str,
        dest: &str,
        exclude: &[&str],
        mode: Option<u32>,
        owner: Option<Owner>,
    ) -> Result<StorePath, FilesError> {
        let batch = self.store.batch().unwrap();
        let exclude: Vec<String> = exclude.iter().map(ToString::to_string).collect();
        let object = stage_files(&batch, &self.root, src, dest, &exclude, mode, owner)?;
        batch.commit().unwrap();
        Ok(object)
    }

    /// The object's files, relative, sorted.
    fn listing(&self, object: &StorePath) -> Vec<String> {
        fn walk(dir: &Path, base: &Path, out: &mut Vec<String>) {
            for entry in fs_err::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                out.push(path.strip_prefix(base).unwrap().display().to_string());
                if fs_err::symlink_metadata(&path).unwrap().is_dir() {
                    walk(&path, base, out);
                }
            }
        }
        let dir = self.store.object_dir(object);
        let mut out = Vec::new();
        walk(&dir, &dir, &mut out);
        out.sort();
        out
    }

    fn mode_of(&self, object: &StorePath, path: &str) -> Option<(u32, u32, u32)> {
        let info = self.store.info(object).unwrap();
        info.permissions
            .get(path.as_bytes())
            .map(|p| (p.mode, p.uid, p.gid))
    }
}

#[test]
fn a_tree_lands_under_dest_with_its_executable_bits() {
    let env = env();
    let object = env.files("site", "/srv/site", &[], None, None).unwrap();
    assert_eq!(
        env.listing(&object),
        [
            "srv",
            "srv/site",
            "srv/site/index.html",
            "srv/site/sub",
            "srv/site/sub/run.sh"
        ]
    );
    // Defaults are not recorded; the executable bit is in the NAR.
    assert_eq!(env.mode_of(&object, "srv/site/sub/run.sh"), None);
    // The same tree is the same object; another destination is another.
    assert_eq!(
        env.files("site", "/srv/site", &[], None, None).unwrap(),
        object
    );
    assert_ne!(
        env.files("site", "/srv/other", &[], None, None).unwrap(),
        object
    );
    // `dest = "/"`: the tree's contents at the root.
    let at_root = env.files("site", "/", &[], None, None).unwrap();
    assert_eq!(env.listing(&at_root), ["index.html", "sub", "sub/run.sh"]);
    assert!(
        env.store
            .verify(None, &cairn_store::NoReporter)
            .unwrap()
            .is_ok()
    );
}

#[test]
fn a_mode_and_an_owner_apply_to_every_file_whatever_its_bits() {
    let env = env();
    let object = env
        .files(
            "site",
            "/srv",
            &[],
            Some(0o750),
            Some(Owner { uid: 10, gid: 20 }),
        )
        .unwrap();
    assert_eq!(
        env.mode_of(&object, "srv/index.html"),
        Some((0o750, 10, 20))
    );
    assert_eq!(env.mode_of(&object, "srv/sub"), Some((0o755, 10, 20)));
    let object = env.files("site", "/srv", &[], Some(0o600), None).unwrap();
    assert_eq!(env.mode_of(&object, "srv/sub/run.sh"), Some((0o600, 0, 0)));
    // An odd mode on a generated file (group-executable only) is kept too.
    let batch = env.store.batch().unwrap();
    let file = stage_write_file(&batch, "/etc/odd", "x", 0o655).unwrap();
    batch.commit().unwrap();
    assert_eq!(env.mode_of(&file, "etc/odd"), Some((0o655, 0, 0)));
}

#[test]
fn ignore_files_from_the_root_down_and_excludes_leave_files_out() {
    let env = env();
    fs_err::write(env.root.join(".gitignore"), "secret.env\n").unwrap();
    fs_err::write(env.root.join("site/secret.env"), "TOKEN=1").unwrap();
    fs_err::write(env.root.join("site/.cairnignore"), "*.bak\n").unwrap();
    fs_err::write(env.root.join("site/old.bak"), "old").unwrap();
    fs_err::write(env.root.join("site/draft.md"), "draft").unwrap();
    fs_err::create_dir_all(env.root.join("site/.git")).unwrap();
    fs_err::write(env.root.join("site/.git/config"), "").unwrap();
    let object = env.files("site", "/srv", &["*.md"], None, None).unwrap();
    assert_eq!(
        env.listing(&object),
        [
            "srv",
            "srv/.cairnignore",
            "srv/index.html",
            "srv/sub",
            "srv/sub/run.sh"
        ]
    );
}

#[test]
fn the_whole_project_leaves_out_result_links_and_keeps_other_links() {
    let env = env();
    symlink("/nix/whatever", env.root.join("result")).unwrap();
    symlink("/nix/whatever", env.root.join("result-web")).unwrap();
    symlink("index.html", env.root.join("site/home.html")).unwrap();
    let object = env.files(".", "/app", &[], None, None).unwrap();
    let listing = env.listing(&object);
    assert!(!listing.iter().any(|p| p.contains("result")), "{listing:?}");
    let link = env.store.object_dir(&object).join("app/site/home.html");
    assert_eq!(fs_err::read_link(link).unwrap(), Path::new("index.html"));
}

#[test]
fn bad_sources_are_refused_with_nothing_staged() {
    let env = env();
    let outside = env.root.parent().unwrap().join("outside");
    fs_err::create_dir_all(&outside).unwrap();
    fs_err::write(outside.join("passwd"), "root:x:0:0").unwrap();
    symlink(&outside, env.root.join("lnk")).unwrap();
    for (src, dest, expected) in [
        ("lnk/passwd", "/etc/passwd", "symbolic link `lnk`"),
        ("lnk", "/x", "symbolic link `lnk`"),
        ("../outside", "/x", "not in the project"),
        ("/etc", "/x", "not in the project"),
        ("nothing", "/x", "does not exist"),
        ("site/index.html", "/", "cannot be the image's root"),
        ("site", "relative", "absolute path"),
    ] {
        let error = env.files(src, dest, &[], None, None).unwrap_err();
        assert!(error.to_string().contains(expected), "{src}: {error}");
    }
    let error = env.files("site", "/x", &["[z-a]"], None, None).unwrap_err();
    assert!(matches!(error, FilesError::Glob { .. }), "{error}");
    // A directory an ignore file leaves out (a build's `dist/`, say) would be an empty
    // tree: refused, and `.cairnignore` can let it back in.
    fs_err::create_dir_all(env.root.join("dist/assets")).unwrap();
    fs_err::write(env.root.join("dist/assets/app.js"), "1").unwrap();
    fs_err::write(env.root.join(".gitignore"), "dist/\n").unwrap();
    for src in ["dist", "dist/assets"] {
        let error = env.files(src, "/x", &[], None, None).unwrap_err();
        assert!(
            matches!(error, FilesError::Ignored { .. }),
            "{src}: {error}"
        );
    }
    assert!(
        env.store.all_objects().unwrap().is_empty(),
        "nothing staged"
    );
    fs_err::write(env.root.join(".cairnignore"), "!dist/\n").unwrap();
    let object = env.files("dist", "/srv", &[], None, None).unwrap();
    assert!(
        env.listing(&object)
            .contains(&"srv/assets/app.js".to_owned()),
        "{:?}",
        env.listing(&object)
    );
    let staging = fs_err::read_dir(env.store.layout_dir().join("tmp"))
        .unwrap()
        .count();
    assert_eq!(staging, 0);
}
