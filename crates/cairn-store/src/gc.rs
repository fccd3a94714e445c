//! Roots and garbage collection.
//!
//! Three kinds of roots keep objects alive:
//! - **named roots** (`cairn store root add NAME OBJECT`), rows in the database;
//! - **indirect roots**: `result`-style symlinks anywhere on disk, remembered as links in
//!   `v1/roots/` that point at them; deleting the `result` link releases the root;
//! - **temp roots** of live cairn processes (see [`crate::lock`]).
//!
//! GC holds the GC lock exclusively, computes the closure of all roots, unregisters
//! everything else in one transaction and then deletes the directories. Unregistered
//! directories in `objects/` (debris of a crash between rename and commit) and stale
//! object lock files are removed too.

use std::collections::BTreeSet;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use data_encoding::HEXLOWER;
use rusqlite::{TransactionBehavior, params};
use sha2::{Digest, Sha256};

use crate::Store;
use crate::error::{Result, StoreError};
use crate::lock;
use crate::path::StorePath;
use crate::reporter::Reporter;
use crate::tree::{remove_tree, tree_size};

/// How to collect.
#[derive(Debug, Clone, Copy, Default)]
pub struct GcOptions {
    /// Report what would be deleted without deleting anything.
    pub dry_run: bool,
}

/// What a collection did (or would do).
#[derive(Debug, Clone, Default)]
pub struct GcReport {
    /// Deleted objects and the bytes of file contents each held, sorted by path.
    pub deleted: Vec<(StorePath, u64)>,
    pub bytes_freed: u64,
    /// Unregistered directories removed from `objects/`.
    pub debris_removed: usize,
    /// Objects kept because a root reaches them.
    pub kept: usize,
    pub dry_run: bool,
}

/// Where a root comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootKind {
    Named(String),
    /// A symlink (e.g. `./result`) pointing into the store.
    Indirect(PathBuf),
    /// An object in use by a running cairn process.
    Temporary,
}

/// A root and the object it keeps alive.
#[derive(Debug, Clone)]
pub struct Root {
    pub kind: RootKind,
    pub object: StorePath,
}

fn validate_root_name(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > 200 || name.contains(['/', '\0', '\n']) {
        return Err(StoreError::InvalidName {
            name: name.to_owned(),
            reason: "root names are 1-200 characters without `/`",
        });
    }
    Ok(())
}

impl Store {
    /// Makes `name` a root for `object`, replacing a root of that name.
    pub fn add_root(&self, name: &str, object: &StorePath) -> Result<()> {
        validate_root_name(name)?;
        let _gc = lock::lock_shared(&self.gc_lock_path())?;
        let conn = self.db();
        let id = crate::db::object_id(&conn, &object.to_string())?
            .ok_or_else(|| StoreError::NotFound(object.to_string()))?;
        conn.execute(
            "INSERT OR REPLACE INTO roots (name, object) VALUES (?1, ?2)",
            params![name, id],
        )?;
        Ok(())
    }

    /// Removes a named root.
    pub fn remove_root(&self, name: &str) -> Result<()> {
        let n = self
            .db()
            .execute("DELETE FROM roots WHERE name = ?1", params![name])?;
        if n == 0 {
            return Err(StoreError::NoSuchRoot(name.to_owned()));
        }
        Ok(())
    }

    /// Creates (or replaces) the symlink `link` pointing at `object` and registers it as
    /// an indirect root: the object stays alive while the link points at it.
    pub fn add_indirect_root(&self, link: &Path, object: &StorePath) -> Result<()> {
        let target = self.object_dir(object);
        let link = std::path::absolute(link)?;
        match fs_err::symlink_metadata(&link) {
            Ok(meta) if meta.is_symlink() => {
                let current = fs_err::read_link(&link)?;
                if !current.starts_with(self.objects_dir()) {
                    return Err(StoreError::RootLinkOccupied { path: link });
                }
            }
            Ok(_) => return Err(StoreError::RootLinkOccupied { path: link }),
            Err(_) => {}
        }
        let _gc = lock::lock_shared(&self.gc_lock_path())?;
        if !self.is_valid(object)? {
            return Err(StoreError::NotFound(object.to_string()));
        }
        // Register first, then point the link: a crash in between leaves a stale entry
        // (ignored by GC), never an unprotected link.
        let entry = self
            .root
            .join("roots")
            .join(&HEXLOWER.encode(&Sha256::digest(link.as_os_str().as_bytes()))[..32]);
        let _ = fs_err::remove_file(&entry);
        std::os::unix::fs::symlink(&link, &entry)?;
        let tmp_link = link.with_file_name(format!(
            ".{}.cairn-tmp",
            link.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        ));
        let _ = fs_err::remove_file(&tmp_link);
        std::os::unix::fs::symlink(&target, &tmp_link)?;
        fs_err::rename(&tmp_link, &link)?;
        Ok(())
    }

    /// All current roots, sorted by kind then name.
    pub fn roots(&self) -> Result<Vec<Root>> {
        let mut out = Vec::new();
        {
            let conn = self.db();
            let mut stmt =
                conn.prepare("SELECT r.name, o.path FROM roots r JOIN objects o ON o.id = r.object ORDER BY r.name")?;
            let rows = stmt.query_map([], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
            })?;
            for row in rows {
                let (name, path) = row?;
                out.push(Root {
                    kind: RootKind::Named(name),
                    object: path.parse()?,
                });
            }
        }
        for (link, object) in self.indirect_roots(false)? {
            out.push(Root {
                kind: RootKind::Indirect(link),
                object,
            });
        }
        Ok(out)
    }

    /// Indirect roots whose link still points at a valid object; with `prune`, entries
    /// whose link is gone or points elsewhere are deleted.
    fn indirect_roots(&self, prune: bool) -> Result<Vec<(PathBuf, StorePath)>> {
        let mut out = Vec::new();
        let objects = self.objects_dir();
        let mut entries: Vec<PathBuf> = fs_err::read_dir(self.root.join("roots"))?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()?;
        entries.sort();
        for entry in entries {
            let found = fs_err::read_link(&entry).ok().and_then(|link| {
                let target = fs_err::read_link(&link).ok()?;
                let rel = target.strip_prefix(&objects).ok()?;
                let first = rel.components().next()?;
                let path: StorePath = first.as_os_str().to_str()?.parse().ok()?;
                Some((link, path))
            });
            match found {
                Some((link, path)) if self.is_valid(&path)? => out.push((link, path)),
                _ if prune => fs_err::remove_file(&entry)?,
                _ => {}
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// Deletes every object no root reaches.
    pub fn gc(&self, options: GcOptions, reporter: &dyn Reporter) -> Result<GcReport> {
        let _gc = lock::lock_exclusive(&self.gc_lock_path())?;
        let mut root_paths: Vec<StorePath> = self.roots()?.into_iter().map(|r| r.object).collect();
        if !options.dry_run {
            self.indirect_roots(true)?;
        }
        let own = self
            .temp_roots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .path()
            .map(Path::to_owned);
        for line in lock::live_temp_roots(&self.root.join("temproots"), own.as_deref())? {
            if let Ok(path) = line.parse::<StorePath>()
                && self.is_valid(&path)?
            {
                root_paths.push(path);
            }
        }
        let live: BTreeSet<StorePath> = self.closure(&root_paths)?.into_iter().collect();
        let all = self.all_objects()?;
        let dead: Vec<StorePath> = all.iter().filter(|p| !live.contains(*p)).cloned().collect();
        let mut report = GcReport {
            kept: live.len(),
            dry_run: options.dry_run,
            ..GcReport::default()
        };
        for path in &dead {
            let bytes = tree_size(&self.object_dir(path));
            reporter.on_gc_delete(path, bytes);
            report.bytes_freed += bytes;
            report.deleted.push((path.clone(), bytes));
        }
        if options.dry_run {
            return Ok(report);
        }
        // Unregister first, in one transaction; then delete the trees. A crash in between
        // leaves unregistered directories, which the next GC removes as debris.
        {
            let mut conn = self.db();
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            for path in &dead {
                tx.execute(
                    "DELETE FROM refs WHERE referrer = (SELECT id FROM objects WHERE path = ?1)",
                    params![path.to_string()],
                )?;
            }
            for path in &dead {
                tx.execute(
                    "DELETE FROM objects WHERE path = ?1",
                    params![path.to_string()],
                )?;
            }
            tx.commit()?;
        }
        for path in &dead {
            remove_tree(&self.object_dir(path))?;
            // A step output's log goes with it; a failed step's (no object) stays.
            match fs_err::remove_file(self.log_path(path)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
                _ => {}
            }
        }
        // Debris: directories nobody registered (a concurrent add holds the GC lock
        // shared until it has registered, so none is in flight now).
        let registered: BTreeSet<String> = self
            .all_objects()?
            .iter()
            .map(ToString::to_string)
            .collect();
        for entry in fs_err::read_dir(self.objects_dir())? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !registered.contains(&name) {
                remove_tree(&entry.path())?;
                report.debris_removed += 1;
            }
        }
        lock::clean_staging_debris(&self.tmp_dir())?;
        let live_hashes: BTreeSet<String> = registered
            .iter()
            .map(|p| p[..crate::HASH_CHARS].to_owned())
            .collect();
        for entry in fs_err::read_dir(self.root.join("locks"))? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !live_hashes.contains(name.trim_end_matches(".lock")) {
                fs_err::remove_file(entry.path())?;
            }
        }
        Ok(report)
    }
}
