//! The project's own files as store objects: `files(src, dest=…)`, `write_file(…)`,
//! `symlink(…)`.
//!
//! A `files` tree is read from the project, filtered the way git would: the
//! `.gitignore` files of `src` and of every directory between the project's root and
//! `src` (also outside a git repository; nothing above the root is read), `.cairnignore`
//! files (same syntax), and the node's `exclude` globs. It is copied under its
//! destination path into a staging tree; the object is content-addressed, so an
//! unchanged tree is the same object and its layer is reused.
//!
//! Nothing outside the project is read: `src` may not go through a symbolic link, and
//! links inside it are copied as links, never followed. The links `cairn build` itself
//! writes at the project's root (`result`, `result-<name>`) are left out, or a tree of
//! the whole project would change with every build and name the store's location.
//!
//! A file is `0o755` when its owner may execute it and `0o644` otherwise, unless the node
//! gives a `mode`; everything is owned by root unless it gives an `owner`.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Component, Path, PathBuf};

use cairn_plan::Owner;
use cairn_store::{
    AddOptions, Batch, Permissions, PermissionsManifest, PermissionsSource, StoreError, StorePath,
};

/// The name of the ignore files cairn reads besides `.gitignore`.
pub const CAIRNIGNORE: &str = ".cairnignore";

/// Why the project's files could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    #[error("`{src}` is not in the project (it must be a relative path inside `{root}`)")]
    OutsideProject { src: String, root: String },
    #[error(
        "`{src}` goes through the symbolic link `{link}`; files() reads only the project's \
         own files: name the directory it points to, if it is in the project"
    )]
    ThroughLink { src: String, link: String },
    #[error("`{0}` does not exist in the project")]
    Missing(String),
    #[error(
        "`{src}` is ignored (by a `.gitignore` or `.cairnignore` on the way to it, or as \
         `.git`), so files() would copy nothing of it: add `!{src}/` to the project's \
         `.cairnignore`, which takes precedence, or name another directory"
    )]
    Ignored { src: String },
    #[error("`{path}` must be an absolute path in the image")]
    NotAbsolute { path: String },
    #[error("`{src}` is a file: it cannot be the image's root directory; give `dest` a file name")]
    FileAtRoot { src: String },
    #[error("bad `exclude` glob `{glob}`: {reason}")]
    Glob { glob: String, reason: String },
    #[error("cannot read the project's files: {0}")]
    Walk(String),
    #[error("`{0}` is neither a file, a directory nor a symbolic link")]
    Special(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// The components of an absolute image path, checked (`/srv/site` → `srv/site`).
fn image_path(path: &str) -> Result<PathBuf, FilesError> {
    let not_absolute = || FilesError::NotAbsolute {
        path: path.to_owned(),
    };
    if !path.starts_with('/') {
        return Err(not_absolute());
    }
    let mut out = PathBuf::new();
    for c in Path::new(path).components() {
        match c {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(n) => out.push(n),
            Component::ParentDir | Component::Prefix(_) => return Err(not_absolute()),
        }
    }
    Ok(out)
}

/// The metadata of what is staged: modes and owners into the permissions manifest, the
/// executable bit onto the files (the store keeps only that bit and checks it agrees).
struct Metadata {
    mode: Option<u32>,
    owner: Option<Owner>,
    manifest: PermissionsManifest,
}

impl Metadata {
    fn new(mode: Option<u32>, owner: Option<Owner>) -> Self {
        Self {
            mode,
            owner,
            manifest: PermissionsManifest::default(),
        }
    }

    fn record(&mut self, rel: &Path, mode: u32, default: u32) {
        let (uid, gid) = self.owner.map_or((0, 0), |o| (o.uid, o.gid));
        if mode != default || uid != 0 || gid != 0 {
            self.manifest.insert(
                rel.as_os_str().as_encoded_bytes().to_vec(),
                Permissions {
                    mode,
                    uid,
                    gid,
                    xattrs: std::collections::BTreeMap::new(),
                },
            );
        }
    }

    fn directory(&mut self, rel: &Path) {
        self.record(rel, 0o755, 0o755);
    }

    /// A regular file staged at `disk`; `source_executable` when no mode is given.
    fn file(&mut self, disk: &Path, rel: &Path, source_executable: bool) -> Result<(), FilesError> {
        let executable = self.mode.map_or(source_executable, |m| m & 0o100 != 0);
        let default = if executable { 0o755 } else { 0o644 };
        fs_err::set_permissions(disk, std::fs::Permissions::from_mode(default))?;
        self.record(rel, self.mode.unwrap_or(default), default);
        Ok(())
    }

    fn options(self, name: &str) -> AddOptions {
        AddOptions {
            name: Some(cairn_store::sanitize_name(name)),
            permissions: PermissionsSource::Explicit(self.manifest),
            ..AddOptions::default()
        }
    }
}

/// `src` (relative to `root`) checked: inside the project, through no symbolic link.
fn project_path(root: &Path, src: &str) -> Result<PathBuf, FilesError> {
    let outside = || FilesError::OutsideProject {
        src: src.to_owned(),
        root: root.display().to_string(),
    };
    let mut path = root.to_owned();
    for c in Path::new(src).components() {
        match c {
            Component::CurDir => {}
            Component::Normal(name) => {
                path.push(name);
                match fs_err::symlink_metadata(&path) {
                    Ok(meta) if meta.file_type().is_symlink() => {
                        return Err(FilesError::ThroughLink {
                            src: src.to_owned(),
                            link: path
                                .strip_prefix(root)
                                .unwrap_or(&path)
                                .display()
                                .to_string(),
                        });
                    }
                    Ok(_) => {}
                    Err(_) => return Err(FilesError::Missing(src.to_owned())),
                }
            }
            _ => return Err(outside()),
        }
    }
    Ok(path)
}

/// The matcher of the node's `exclude` globs (gitignore syntax, relative to `source`).
fn excludes(source: &Path, exclude: &[String]) -> Result<ignore::gitignore::Gitignore, FilesError> {
    let mut builder = ignore::gitignore::GitignoreBuilder::new(source);
    for glob in exclude {
        builder.add_line(None, glob).map_err(|e| FilesError::Glob {
            glob: glob.clone(),
            reason: e.to_string(),
        })?;
    }
    builder.build().map_err(|e| FilesError::Glob {
        glob: exclude.join(" "),
        reason: e.to_string(),
    })
}

/// Whether `path` is a link `cairn build` made at the project's root.
fn is_result_link(root: &Path, path: &Path, file_type: Option<std::fs::FileType>) -> bool {
    path.parent() == Some(root)
        && file_type.is_some_and(|t| t.is_symlink())
        && path.file_name().is_some_and(|n| {
            let n = n.to_string_lossy();
            n == "result" || n.starts_with("result-")
        })
}

/// Stages the `files` node's tree: `src` (relative to `root`) under `dest`.
pub fn stage_files(
    batch: &Batch<'_>,
    root: &Path,
    src: &str,
    dest: &str,
    exclude: &[String],
    mode: Option<u32>,
    owner: Option<Owner>,
) -> Result<StorePath, FilesError> {
    let source = project_path(root, src)?;
    let meta = fs_err::symlink_metadata(&source)?;
    let dest_rel = image_path(dest)?;
    let tree = batch.tree_path()?;
    let target = tree.path().join(&dest_rel);
    let mut metadata = Metadata::new(mode, owner);
    if !meta.is_dir() {
        if dest_rel.as_os_str().is_empty() {
            return Err(FilesError::FileAtRoot {
                src: src.to_owned(),
            });
        }
        // The directories leading to `dest` belong to the image's root, as root's.
        fs_err::create_dir_all(target.parent().unwrap_or(tree.path()))?;
        copy_entry(&source, &target, &dest_rel, &mut metadata)?;
        return Ok(batch.stage(
            tree,
            &metadata.options(&format!("files{dest}").replace('/', "-")),
        )?);
    }
    fs_err::create_dir_all(&target)?;
    metadata.directory(&dest_rel);
    let excluded = excludes(&source, exclude)?;
    // From the root, so the ignore files between it and `src` apply; only the
    // directories leading to `src`, and `src`'s own tree, are entered.
    let walk_root = root.to_owned();
    let filter_source = source.clone();
    let walker = ignore::WalkBuilder::new(root)
        .standard_filters(false)
        .git_ignore(true)
        .require_git(false)
        .parents(false)
        .add_custom_ignore_filename(CAIRNIGNORE)
        .follow_links(false)
        .sort_by_file_name(std::cmp::Ord::cmp)
        .filter_entry(move |e| {
            let path = e.path();
            if e.file_name() == ".git" || is_result_link(&walk_root, path, e.file_type()) {
                return false;
            }
            if filter_source.starts_with(path) {
                return true;
            }
            if !path.starts_with(&filter_source) {
                return false;
            }
            let is_dir = e.file_type().is_some_and(|t| t.is_dir());
            !excluded
                .matched_path_or_any_parents(path, is_dir)
                .is_ignore()
        })
        .build();
    // The walker skips an ignored directory before `filter_entry` sees it: if `src`
    // itself (or a directory on the way) is ignored, it never comes by.
    let mut seen_source = false;
    for entry in walker {
        let entry = entry.map_err(|e| FilesError::Walk(e.to_string()))?;
        let Ok(rel) = entry.path().strip_prefix(&source) else {
            continue;
        };
        if rel.as_os_str().is_empty() {
            seen_source = true;
            continue;
        }
        copy_entry(
            entry.path(),
            &target.join(rel),
            &dest_rel.join(rel),
            &mut metadata,
        )?;
    }
    if !seen_source {
        return Err(FilesError::Ignored {
            src: src.to_owned(),
        });
    }
    Ok(batch.stage(
        tree,
        &metadata.options(&format!("files{dest}").replace('/', "-")),
    )?)
}

/// Copies one entry (never following a link) and records its metadata.
fn copy_entry(
    from: &Path,
    to: &Path,
    rel: &Path,
    metadata: &mut Metadata,
) -> Result<(), FilesError> {
    let meta = fs_err::symlink_metadata(from)?;
    let kind = meta.file_type();
    if kind.is_symlink() {
        std::os::unix::fs::symlink(fs_err::read_link(from)?, to)?;
    } else if kind.is_dir() {
        fs_err::create_dir(to)?;
        metadata.directory(rel);
    } else if kind.is_file() {
        fs_err::copy(from, to)?;
        metadata.file(to, rel, meta.permissions().mode() & 0o100 != 0)?;
    } else {
        return Err(FilesError::Special(from.display().to_string()));
    }
    Ok(())
}

/// Stages a `write_file` node: `content` at `path` with `mode`.
pub fn stage_write_file(
    batch: &Batch<'_>,
    path: &str,
    content: &str,
    mode: u32,
) -> Result<StorePath, FilesError> {
    let rel = image_path(path)?;
    let tree = batch.tree_path()?;
    let target = tree.path().join(&rel);
    fs_err::create_dir_all(target.parent().unwrap_or(tree.path()))?;
    fs_err::write(&target, content)?;
    let mut metadata = Metadata::new(Some(mode), None);
    metadata.file(&target, &rel, false)?;
    Ok(batch.stage(
        tree,
        &metadata.options(&format!("file{path}").replace('/', "-")),
    )?)
}

/// Stages a `symlink` node.
pub fn stage_symlink(batch: &Batch<'_>, path: &str, target: &str) -> Result<StorePath, FilesError> {
    let rel = image_path(path)?;
    let tree = batch.tree_path()?;
    let link = tree.path().join(&rel);
    fs_err::create_dir_all(link.parent().unwrap_or(tree.path()))?;
    std::os::unix::fs::symlink(target, &link)?;
    let metadata = Metadata::new(None, None);
    Ok(batch.stage(
        tree,
        &metadata.options(&format!("link{path}").replace('/', "-")),
    )?)
}
