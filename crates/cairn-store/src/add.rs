//! Adding objects: copy into staging, hash, freeze, sync, rename, register.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use cairn_nar::{ListedNode, Listing, NarHash, NarHasher, dump_path_listed};
use rusqlite::{TransactionBehavior, params};

use crate::error::{Result, StoreError};
use crate::lock::{self, Staging};
use crate::metadata::ObjectMetadata;
use crate::path::{Addressing, Identity, StorePath, object_hash, sanitize_name, validate_name};
use crate::permissions::PermissionsManifest;
use crate::reporter::Reporter;
use crate::tree::{copy_tree, freeze, fsync_dir, remove_tree, sync_filesystem};
use crate::{Store, db};

/// Where an added object's permissions manifest comes from.
#[derive(Debug, Clone, Default)]
pub enum PermissionsSource {
    /// Everything default: what `nix-store --add` keeps (contents and executable bits).
    #[default]
    Normalized,
    /// Modes (incl. setuid/setgid/sticky), owners and captured xattrs read from the
    /// source tree.
    Capture,
    /// Given by the caller (e.g. from a package's tar headers).
    Explicit(PermissionsManifest),
}

/// How to add a tree.
#[derive(Debug, Clone, Default)]
pub struct AddOptions {
    /// The object's name; defaults to the source's file name, sanitized.
    pub name: Option<String>,
    /// Objects this one needs at run time. They must be registered already.
    pub references: Vec<StorePath>,
    pub permissions: PermissionsSource,
    /// Data kept with the object outside its tree (covered by its identity).
    pub metadata: ObjectMetadata,
    pub addressing: Option<Addressing>,
}

/// A tree in staging, hashed and frozen, waiting to be registered.
pub(crate) struct Staged {
    pub(crate) tree: PathBuf,
    pub(crate) path: StorePath,
    pub(crate) nar_hash: NarHash,
    pub(crate) nar_size: u64,
    pub(crate) addressing: Addressing,
    pub(crate) permissions: PermissionsManifest,
    pub(crate) metadata: ObjectMetadata,
    pub(crate) listing: Listing,
    pub(crate) references: Vec<StorePath>,
}

impl Store {
    /// Adds the tree at `source` (a directory, file or symlink) and returns its path.
    /// Adding the same content twice returns the same path and stores it once.
    pub fn add_path(
        &self,
        source: &Path,
        options: &AddOptions,
        reporter: &dyn Reporter,
    ) -> Result<StorePath> {
        self.add_path_inner(source, options, reporter)
            .map_err(|e| StoreError::add(source, e))
    }

    fn add_path_inner(
        &self,
        source: &Path,
        options: &AddOptions,
        reporter: &dyn Reporter,
    ) -> Result<StorePath> {
        let name = match &options.name {
            Some(name) => name.clone(),
            None => sanitize_name(
                &source
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            ),
        };
        validate_name(&name)?;
        self.protect_references(&options.references)?;
        let spec = ObjectSpec::new(name, options, source)?;
        let staging = Staging::new(&self.tmp_dir(), &self.gc_lock_path())?;
        let tree = staging.path().join("tree");
        copy_tree(source, &tree)?;
        let staged = stage(tree, spec, true)?;
        let nar_size = staged.nar_size;
        let (mut paths, fresh) = self.register(vec![staged])?;
        let path = paths.pop().expect("one object registered");
        reporter.on_add_complete(&path, nar_size, fresh == 0);
        drop(staging);
        Ok(path)
    }

    /// Temp-roots `references` (so a concurrent GC keeps them for as long as this
    /// handle lives), then checks that each is valid.
    pub(crate) fn protect_references(&self, references: &[StorePath]) -> Result<()> {
        self.add_temp_roots(references)?;
        self.check_references(references)
    }

    fn check_references(&self, references: &[StorePath]) -> Result<()> {
        for r in references {
            if !self.is_valid(r)? {
                return Err(StoreError::InvalidReference(r.to_string()));
            }
        }
        Ok(())
    }

    /// Moves staged trees into place and registers them in one transaction, after
    /// their references. Objects already valid are left as they are. Returns the
    /// objects' paths (in input order) and how many were newly registered.
    pub(crate) fn register(&self, staged: Vec<Staged>) -> Result<(Vec<StorePath>, usize)> {
        let order: Vec<StorePath> = staged.iter().map(|s| s.path.clone()).collect();
        let _gc = lock::lock_shared(&self.gc_lock_path())?;
        // Object locks in path order, so concurrent registrations cannot deadlock.
        let lock_names: BTreeSet<String> =
            staged.iter().map(|s| s.path.hash().to_string()).collect();
        let mut held_locks = Vec::new();
        for name in &lock_names {
            held_locks.push(lock::lock_exclusive(
                &self.root.join("locks").join(format!("{name}.lock")),
            )?);
        }
        let mut fresh = Vec::with_capacity(staged.len());
        for s in staged {
            if !self.is_valid(&s.path)? {
                fresh.push(s);
            }
        }
        let staged = fresh;
        // Move into place. A directory at the target that is not registered is debris
        // of a process killed between rename and commit: replace it.
        let mut moved: Vec<PathBuf> = Vec::new();
        let result = (|| -> Result<()> {
            for s in &staged {
                let dest = self.object_dir(&s.path);
                remove_tree(&dest)?;
                fs_err::rename(&s.tree, &dest)?;
                moved.push(dest);
            }
            if !moved.is_empty() {
                fsync_dir(&self.objects_dir())?;
            }
            let mut conn = self.db();
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            for s in &staged {
                tx.execute(
                    "INSERT INTO objects (path, nar_hash, nar_size, addressing, permissions, metadata, listing)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![
                        s.path.to_string(),
                        s.nar_hash.to_sri(),
                        i64::try_from(s.nar_size).expect("NAR sizes fit in i64"),
                        s.addressing.to_string(),
                        s.permissions.to_bytes(),
                        s.metadata.to_bytes(),
                        s.listing.to_bytes(),
                    ],
                )?;
                let id = tx.last_insert_rowid();
                for r in &s.references {
                    let rid = db::object_id(&tx, &r.to_string())?
                        .ok_or_else(|| StoreError::InvalidReference(r.to_string()))?;
                    tx.execute(
                        "INSERT INTO refs (referrer, reference) VALUES (?1, ?2)",
                        params![id, rid],
                    )?;
                }
            }
            tx.commit()?;
            Ok(())
        })();
        if let Err(e) = result {
            for dest in moved {
                let _ = remove_tree(&dest);
            }
            return Err(e);
        }
        drop(held_locks);
        let names: Vec<String> = order.iter().map(ToString::to_string).collect();
        self.temp_roots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .add(&names)?;
        Ok((order, staged.len()))
    }
}

/// Why an object does not satisfy its fixed-output addressing, if it does not: it must
/// be one regular file with the declared SHA-256, and nothing else (no permissions,
/// metadata or references, which the path could not vouch for).
pub(crate) fn fixed_output_problem(
    listing: &Listing,
    sha256: &str,
    permissions: &PermissionsManifest,
    metadata: &ObjectMetadata,
    references: &[StorePath],
) -> Option<String> {
    match listing.nodes.get(&Vec::new()) {
        Some(ListedNode::Regular { sha256: actual, .. }) if listing.nodes.len() == 1 => {
            let actual = data_encoding::HEXLOWER.encode(actual);
            if actual != sha256 {
                return Some(format!(
                    "its SHA-256 is {actual}, not the expected {sha256}"
                ));
            }
        }
        _ => return Some("a fixed-output object must be a single regular file".into()),
    }
    if !permissions.is_empty() || !metadata.is_empty() || !references.is_empty() {
        return Some("a fixed-output object carries no permissions, metadata or references".into());
    }
    None
}

/// Everything about an object to be staged except its files.
pub(crate) struct ObjectSpec {
    pub(crate) name: String,
    pub(crate) permissions: PermissionsManifest,
    pub(crate) metadata: ObjectMetadata,
    pub(crate) references: Vec<StorePath>,
    pub(crate) addressing: Addressing,
}

impl ObjectSpec {
    /// The spec `options` give an object named `name` whose tree is at `source`
    /// (where captured permissions are read).
    pub(crate) fn new(name: String, options: &AddOptions, source: &Path) -> Result<Self> {
        let permissions = match &options.permissions {
            PermissionsSource::Normalized => PermissionsManifest::default(),
            PermissionsSource::Capture => PermissionsManifest::capture(source)?,
            PermissionsSource::Explicit(m) => m.clone(),
        };
        Ok(Self {
            name,
            permissions,
            metadata: options.metadata.clone(),
            references: options.references.clone(),
            addressing: options.addressing.clone().unwrap_or(Addressing::Content),
        })
    }
}

/// Hashes, checks and freezes a tree in staging.
pub(crate) fn stage(tree: PathBuf, spec: ObjectSpec, sync: bool) -> Result<Staged> {
    let ObjectSpec {
        name,
        permissions,
        metadata,
        references,
        addressing,
    } = spec;
    let (hasher, nar_size, listing) = dump_path_listed(&tree, NarHasher::new())?;
    let (nar_hash, _) = hasher.finish()?;
    permissions.validate(&listing)?;
    if let Addressing::Fixed { sha256 } = &addressing
        && let Some(problem) =
            fixed_output_problem(&listing, sha256, &permissions, &metadata, &references)
    {
        return Err(StoreError::FixedOutput(problem));
    }
    let mut references = references;
    references.sort();
    references.dedup();
    let identity = Identity {
        nar_hash: &nar_hash,
        permissions: &permissions,
        metadata: &metadata,
        references: &references,
    };
    let hash = object_hash(&addressing, &name, identity);
    let path = StorePath::new(hash, &name)?;
    freeze(&tree)?;
    if sync {
        // Through the staging directory: the tree itself may be a (dangling) symlink.
        sync_filesystem(
            tree.parent()
                .expect("staged trees live in a staging directory"),
        )?;
    }
    Ok(Staged {
        tree,
        path,
        nar_hash,
        nar_size,
        addressing,
        permissions,
        metadata,
        listing,
        references,
    })
}
