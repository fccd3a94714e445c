//! Queries: validity, info, resolving user input to objects, closures, referrers.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use cairn_nar::{Listing, NarHash};
use rusqlite::{OptionalExtension, params};

use crate::Store;
use crate::error::{Result, StoreError};
use crate::metadata::ObjectMetadata;
use crate::path::{Addressing, StorePath};
use crate::permissions::PermissionsManifest;

/// What the store knows about one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub path: StorePath,
    pub nar_hash: NarHash,
    pub nar_size: u64,
    pub addressing: Addressing,
    pub permissions: PermissionsManifest,
    pub metadata: ObjectMetadata,
    /// Direct references, sorted.
    pub references: Vec<StorePath>,
}

fn corrupt(what: String) -> StoreError {
    StoreError::Database(rusqlite::Error::InvalidColumnType(
        0,
        what,
        rusqlite::types::Type::Text,
    ))
}

/// The path of a fixed-output or input-addressed object: its identity is the
/// addressing and the name alone, so the rest of [`crate::path::Identity`] is empty.
fn addressed_path(addressing: &Addressing, name: &str) -> Result<StorePath> {
    let (permissions, metadata) = (PermissionsManifest::default(), ObjectMetadata::default());
    let identity = crate::path::Identity {
        nar_hash: &NarHash([0; 32]),
        permissions: &permissions,
        metadata: &metadata,
        references: &[],
    };
    StorePath::new(crate::path::object_hash(addressing, name, identity), name)
}

impl Store {
    /// The path a fixed-output object (one file with SHA-256 `sha256`, lowercase hex)
    /// has under `name`, whether or not it is in the store: look it up with
    /// [`Store::is_valid`] before downloading anything.
    pub fn fixed_path(name: &str, sha256: &str) -> Result<StorePath> {
        crate::path::require_sha256_hex(sha256)?;
        addressed_path(
            &Addressing::Fixed {
                sha256: sha256.to_owned(),
            },
            name,
        )
    }

    /// The path an input-addressed object (one whose identity is the hash of what made
    /// it, `node_hash`: 64 hex digits) has under `name`, whether or not it is in the
    /// store. Only trusted code that made the object may add it under this path.
    pub fn input_path(name: &str, node_hash: &str) -> Result<StorePath> {
        crate::path::require_sha256_hex(node_hash)?;
        addressed_path(
            &Addressing::Input {
                node_hash: node_hash.to_owned(),
            },
            name,
        )
    }

    /// Whether `path` is a registered object.
    pub fn is_valid(&self, path: &StorePath) -> Result<bool> {
        Ok(crate::db::object_id(&self.db(), &path.to_string())?.is_some())
    }

    /// Everything known about an object.
    pub fn info(&self, path: &StorePath) -> Result<ObjectInfo> {
        let conn = self.db();
        let row = conn
            .query_row(
                "SELECT id, nar_hash, nar_size, addressing, permissions, metadata FROM objects WHERE path = ?1",
                params![path.to_string()],
                |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, i64>(2)?,
                        row.get::<_, String>(3)?,
                        row.get::<_, Vec<u8>>(4)?,
                        row.get::<_, Vec<u8>>(5)?,
                    ))
                },
            )
            .optional()?
            .ok_or_else(|| StoreError::NotFound(path.to_string()))?;
        let (id, nar_hash, nar_size, addressing, permissions, metadata) = row;
        let references = references_of(&conn, id)?;
        Ok(ObjectInfo {
            path: path.clone(),
            nar_hash: nar_hash
                .parse()
                .map_err(|_| corrupt(format!("nar_hash of {path}")))?,
            nar_size: u64::try_from(nar_size)
                .map_err(|_| corrupt(format!("nar_size of {path}")))?,
            addressing: addressing
                .parse()
                .map_err(|_| corrupt(format!("addressing of {path}")))?,
            permissions: PermissionsManifest::from_bytes(&permissions)?,
            metadata: ObjectMetadata::from_bytes(&metadata)?,
            references,
        })
    }

    /// The listing recorded when the object was added.
    pub fn listing(&self, path: &StorePath) -> Result<Listing> {
        let bytes: Vec<u8> = self
            .db()
            .query_row(
                "SELECT listing FROM objects WHERE path = ?1",
                params![path.to_string()],
                |row| row.get(0),
            )
            .optional()?
            .ok_or_else(|| StoreError::NotFound(path.to_string()))?;
        Ok(Listing::from_bytes(&bytes)?)
    }

    /// Every registered object, sorted.
    pub fn all_objects(&self) -> Result<Vec<StorePath>> {
        let conn = self.db();
        let mut stmt = conn.prepare("SELECT path FROM objects ORDER BY path")?;
        let rows = stmt.query_map([], |row| row.get::<_, String>(0))?;
        let mut out = Vec::new();
        for row in rows {
            out.push(row?.parse()?);
        }
        Ok(out)
    }

    /// Turns what a user typed into an object: a path into the store (or a `result`
    /// symlink to one), a `<hash>-<name>` basename, a unique hash prefix, or a unique name.
    pub fn resolve(&self, query: &str) -> Result<StorePath> {
        let as_path = Path::new(query);
        if query.contains('/') || fs_err::symlink_metadata(as_path).is_ok_and(|m| m.is_symlink()) {
            let real = fs_err::canonicalize(as_path)
                .map_err(|_| StoreError::NotFound(query.to_owned()))?;
            let rel = real.strip_prefix(self.objects_dir()).map_err(|_| {
                StoreError::NotFound(format!(
                    "{query} (it is not inside {})",
                    self.objects_dir().display()
                ))
            })?;
            let first = rel
                .components()
                .next()
                .ok_or_else(|| StoreError::NotFound(query.to_owned()))?;
            let path: StorePath = first.as_os_str().to_string_lossy().parse()?;
            return if self.is_valid(&path)? {
                Ok(path)
            } else {
                Err(StoreError::NotFound(query.to_owned()))
            };
        }
        if let Ok(path) = query.parse::<StorePath>() {
            return if self.is_valid(&path)? {
                Ok(path)
            } else {
                Err(StoreError::NotFound(query.to_owned()))
            };
        }
        let conn = self.db();
        let escaped = query
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        let mut candidates: Vec<String> = Vec::new();
        for pattern in [format!("{escaped}%"), format!("%-{escaped}")] {
            let mut stmt = conn.prepare(
                "SELECT path FROM objects WHERE path LIKE ?1 ESCAPE '\\' ORDER BY path LIMIT 11",
            )?;
            candidates = stmt
                .query_map(params![pattern], |row| row.get(0))?
                .collect::<Result<_, _>>()?;
            // A name must match exactly (the LIKE above matched a suffix).
            if pattern.starts_with('%') {
                candidates.retain(|c: &String| c.get(33..) == Some(query));
            }
            if !candidates.is_empty() {
                break;
            }
        }
        match candidates.len() {
            0 => Err(StoreError::NotFound(query.to_owned())),
            1 => candidates[0].parse(),
            _ => Err(StoreError::Ambiguous {
                query: query.to_owned(),
                candidates,
            }),
        }
    }

    /// Direct references of an object.
    pub fn references(&self, path: &StorePath) -> Result<Vec<StorePath>> {
        Ok(self.info(path)?.references)
    }

    /// Objects that refer to `path` directly, sorted.
    pub fn referrers(&self, path: &StorePath) -> Result<Vec<StorePath>> {
        let conn = self.db();
        let id = crate::db::object_id(&conn, &path.to_string())?
            .ok_or_else(|| StoreError::NotFound(path.to_string()))?;
        paths_by_id(
            &conn,
            "SELECT o.path FROM refs r JOIN objects o ON o.id = r.referrer WHERE r.reference = ?1 ORDER BY o.path",
            id,
        )
    }

    /// The closure of `paths` (them and everything they reference, transitively),
    /// sorted topologically with references before referrers, ties broken by path.
    pub fn closure(&self, paths: &[StorePath]) -> Result<Vec<StorePath>> {
        let graph = self.reference_graph(paths)?;
        Ok(topological_order(&graph))
    }

    /// The reference graph of the closure of `paths`.
    pub(crate) fn reference_graph(
        &self,
        paths: &[StorePath],
    ) -> Result<BTreeMap<StorePath, Vec<StorePath>>> {
        let mut graph: BTreeMap<StorePath, Vec<StorePath>> = BTreeMap::new();
        let mut todo: Vec<StorePath> = paths.to_vec();
        while let Some(p) = todo.pop() {
            if graph.contains_key(&p) {
                continue;
            }
            let refs = self.references(&p)?;
            todo.extend(refs.iter().cloned());
            graph.insert(p, refs);
        }
        Ok(graph)
    }
}

fn references_of(conn: &rusqlite::Connection, id: i64) -> Result<Vec<StorePath>> {
    paths_by_id(
        conn,
        "SELECT o.path FROM refs r JOIN objects o ON o.id = r.reference WHERE r.referrer = ?1 ORDER BY o.path",
        id,
    )
}

/// Runs a query selecting store paths for one object id.
fn paths_by_id(conn: &rusqlite::Connection, sql: &str, id: i64) -> Result<Vec<StorePath>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(params![id], |row| row.get::<_, String>(0))?;
    let mut out = Vec::new();
    for row in rows {
        out.push(row?.parse()?);
    }
    Ok(out)
}

/// Kahn's algorithm over a closed graph, smallest ready path first.
pub(crate) fn topological_order(graph: &BTreeMap<StorePath, Vec<StorePath>>) -> Vec<StorePath> {
    let mut waiting: BTreeMap<&StorePath, usize> = BTreeMap::new();
    let mut referrers: BTreeMap<&StorePath, Vec<&StorePath>> = BTreeMap::new();
    for (node, refs) in graph {
        waiting.insert(node, refs.len());
        for r in refs {
            referrers.entry(r).or_default().push(node);
        }
    }
    let mut ready: BTreeSet<&StorePath> = waiting
        .iter()
        .filter(|(_, n)| **n == 0)
        .map(|(p, _)| *p)
        .collect();
    let mut out = Vec::with_capacity(graph.len());
    while let Some(next) = ready.pop_first() {
        out.push(next.clone());
        for referrer in referrers.get(next).into_iter().flatten() {
            let n = waiting.get_mut(referrer).expect("every node is in waiting");
            *n -= 1;
            if *n == 0 {
                ready.insert(referrer);
            }
        }
    }
    out
}
