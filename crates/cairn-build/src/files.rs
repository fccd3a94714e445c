//! The project's own files as store objects: `files(src, dest=…)`, `write_file(…)`,
//! `symlink(…)`.
//!
//! A `files` tree is read from the project, filtered the way git would (`.gitignore`
//! files, also outside a git repository, `.git/info/exclude` is not read), by
//! `.cairnignore` files (same syntax) and by the node's `exclude` globs, and copied under
//! its destination path into a staging tree; the object is content-addressed, so an
//! unchanged tree is the same object and its layer is reused. Files keep only their
//! executable bit (0755 or 0644) unless the node gives a `mode`; everything is owned by
//! root unless it gives an `owner`. Symbolic links are kept as links. Nothing outside
//! `src` is read: a link is never followed, and a `src` that leaves the project is
//! refused.

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
    #[error("`{0}` does not exist in the project")]
    Missing(String),
    #[error("`{path}` must be an absolute path in the image")]
    NotAbsolute { path: String },
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
    let outside = || FilesError::OutsideProject {
        src: src.to_owned(),
        root: root.display().to_string(),
    };
    if Path::new(src)
        .components()
        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(outside());
    }
    let source = root.join(src);
    let meta =
        fs_err::symlink_metadata(&source).map_err(|_| FilesError::Missing(src.to_owned()))?;
    let dest_rel = image_path(dest)?;

    let tree = batch.tree_path()?;
    fs_err::create_dir(&tree)?;
    let target = tree.join(&dest_rel);
    let mut manifest = PermissionsManifest::default();
    let mut record = |rel: &Path, is_dir: bool, executable: bool| {
        let file_mode = match (is_dir, mode) {
            (true, _) => 0o755,
            (false, Some(m)) => m,
            (false, None) if executable => 0o755,
            (false, None) => 0o644,
        };
        let default = if is_dir || executable { 0o755 } else { 0o644 };
        let (uid, gid) = owner.map_or((0, 0), |o| (o.uid, o.gid));
        if file_mode != default || uid != 0 || gid != 0 {
            manifest.insert(
                rel.as_os_str().as_encoded_bytes().to_vec(),
                Permissions {
                    mode: file_mode,
                    uid,
                    gid,
                    xattrs: std::collections::BTreeMap::new(),
                },
            );
        }
    };
    // The directories leading to `dest` belong to the image's root, as root's.
    if let Some(parent) = target.parent() {
        fs_err::create_dir_all(parent)?;
    }
    if meta.is_dir() {
        fs_err::create_dir(&target)?;
        record(&dest_rel, true, false);
        let overrides = overrides(&source, exclude)?;
        let walker = ignore::WalkBuilder::new(&source)
            .standard_filters(false)
            .git_ignore(true)
            .require_git(false)
            .parents(false)
            .add_custom_ignore_filename(CAIRNIGNORE)
            .overrides(overrides)
            .follow_links(false)
            .sort_by_file_name(std::cmp::Ord::cmp)
            .filter_entry(|e| e.file_name() != ".git")
            .build();
        for entry in walker {
            let entry = entry.map_err(|e| FilesError::Walk(e.to_string()))?;
            let rel = entry
                .path()
                .strip_prefix(&source)
                .map_err(|_| outside())?
                .to_owned();
            if rel.as_os_str().is_empty() {
                continue;
            }
            copy_entry(
                entry.path(),
                &target.join(&rel),
                &dest_rel.join(&rel),
                &mut record,
            )?;
        }
    } else {
        copy_entry(&source, &target, &dest_rel, &mut record)?;
    }
    let name = cairn_store::sanitize_name(&format!("files{}", dest.replace('/', "-")));
    let options = AddOptions {
        name: Some(name),
        permissions: PermissionsSource::Explicit(manifest),
        ..AddOptions::default()
    };
    Ok(batch.stage(tree, &options)?)
}

fn overrides(source: &Path, exclude: &[String]) -> Result<ignore::overrides::Override, FilesError> {
    let mut builder = ignore::overrides::OverrideBuilder::new(source);
    for glob in exclude {
        // In an override, `!glob` excludes what it matches.
        builder
            .add(&format!("!{glob}"))
            .map_err(|e| FilesError::Glob {
                glob: glob.clone(),
                reason: e.to_string(),
            })?;
    }
    builder.build().map_err(|e| FilesError::Glob {
        glob: exclude.join(" "),
        reason: e.to_string(),
    })
}

/// Copies one entry (never following a link) and records its metadata.
fn copy_entry(
    from: &Path,
    to: &Path,
    rel: &Path,
    record: &mut dyn FnMut(&Path, bool, bool),
) -> Result<(), FilesError> {
    let meta = fs_err::symlink_metadata(from)?;
    let kind = meta.file_type();
    if kind.is_symlink() {
        std::os::unix::fs::symlink(fs_err::read_link(from)?, to)?;
    } else if kind.is_dir() {
        fs_err::create_dir(to)?;
        record(rel, true, false);
    } else if kind.is_file() {
        fs_err::copy(from, to)?;
        let executable = std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o111 != 0;
        // What the store keeps is the executable bit; the mode in the image comes from
        // the manifest.
        let mut permissions = fs_err::metadata(to)?.permissions();
        std::os::unix::fs::PermissionsExt::set_mode(
            &mut permissions,
            if executable { 0o755 } else { 0o644 },
        );
        fs_err::set_permissions(to, permissions)?;
        record(rel, false, executable);
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
    let target = tree.join(&rel);
    fs_err::create_dir_all(target.parent().unwrap_or(&tree))?;
    fs_err::write(&target, content)?;
    let executable = mode & 0o111 != 0;
    let mut permissions = fs_err::metadata(&target)?.permissions();
    std::os::unix::fs::PermissionsExt::set_mode(
        &mut permissions,
        if executable { 0o755 } else { 0o644 },
    );
    fs_err::set_permissions(&target, permissions)?;
    let mut manifest = PermissionsManifest::default();
    if mode != if executable { 0o755 } else { 0o644 } {
        manifest.insert(
            rel.as_os_str().as_encoded_bytes().to_vec(),
            Permissions {
                mode,
                ..Permissions::default()
            },
        );
    }
    let options = AddOptions {
        name: Some(cairn_store::sanitize_name(&format!(
            "file{}",
            path.replace('/', "-")
        ))),
        permissions: PermissionsSource::Explicit(manifest),
        ..AddOptions::default()
    };
    Ok(batch.stage(tree, &options)?)
}

/// Stages a `symlink` node.
pub fn stage_symlink(batch: &Batch<'_>, path: &str, target: &str) -> Result<StorePath, FilesError> {
    let rel = image_path(path)?;
    let tree = batch.tree_path()?;
    let link = tree.join(&rel);
    fs_err::create_dir_all(link.parent().unwrap_or(&tree))?;
    std::os::unix::fs::symlink(target, &link)?;
    let options = AddOptions {
        name: Some(cairn_store::sanitize_name(&format!(
            "link{}",
            path.replace('/', "-")
        ))),
        ..AddOptions::default()
    };
    Ok(batch.stage(tree, &options)?)
}
