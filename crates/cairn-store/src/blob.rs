//! Blobs: single files named by their SHA-256 in `v1/blobs/sha256/<hex>`, outside the
//! object registry. They hold what is worth keeping between runs but is not an object:
//! downloads waiting to be unpacked (so an interrupted fetch resumes without
//! downloading them again). Image layers are not blobs: they are input-addressed
//! objects, so roots and GC keep them like everything else.
//!
//! Writers put a blob in place only after checking its hash (the store does not hash it
//! again), by renaming a file written next to it, so a blob is never partial. Readers
//! that depend on the contents check the hash when they use it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::Store;
use crate::error::Result;
use crate::path::require_sha256_hex;
use crate::tree::fsync_dir;

impl Store {
    fn blobs_dir(&self) -> PathBuf {
        self.root.join("blobs/sha256")
    }

    /// Where the blob with this SHA-256 (lowercase hex) lives, whether or not it exists.
    pub fn blob_path(&self, sha256: &str) -> Result<PathBuf> {
        require_sha256_hex(sha256)?;
        Ok(self.blobs_dir().join(sha256))
    }

    /// Whether the blob exists.
    pub fn has_blob(&self, sha256: &str) -> Result<bool> {
        Ok(self.blob_path(sha256)?.is_file())
    }

    /// The blob's path when it exists and really has this SHA-256 (and `size`, when
    /// given): a blob left by an interrupted run is read again before it is trusted.
    /// A damaged one is removed.
    pub fn verified_blob(&self, sha256: &str, size: Option<u64>) -> Result<Option<PathBuf>> {
        use sha2::Digest as _;
        let path = self.blob_path(sha256)?;
        let Ok(mut file) = fs_err::File::open(&path) else {
            return Ok(None);
        };
        let right_size = size.is_none_or(|size| file.metadata().is_ok_and(|m| m.len() == size));
        if right_size {
            let mut hasher = sha2::Sha256::new();
            std::io::copy(&mut file, &mut hasher)?;
            if data_encoding::HEXLOWER.encode(&hasher.finalize()) == sha256 {
                return Ok(Some(path));
            }
        }
        self.remove_blob(sha256)?;
        Ok(None)
    }

    /// A fresh, empty file next to the blobs, created here with `O_EXCL` (so no other
    /// writer, even one with the same PID in another PID namespace, shares it), to
    /// write a blob to before [`Store::commit_blob`].
    pub fn blob_staging_path(&self, sha256: &str) -> Result<PathBuf> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        require_sha256_hex(sha256)?;
        loop {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let path = self
                .blobs_dir()
                .join(format!(".partial-{sha256}-{}-{n}", std::process::id()));
            match fs_err::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(_) => return Ok(path),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Moves `staged` (complete, synced, and checked by the caller to have `sha256`)
    /// into place as that blob, read-only.
    pub fn commit_blob(&self, staged: &Path, sha256: &str) -> Result<PathBuf> {
        let target = self.blob_path(sha256)?;
        let mut permissions = fs_err::metadata(staged)?.permissions();
        permissions.set_readonly(true);
        fs_err::set_permissions(staged, permissions)?;
        fs_err::rename(staged, &target)?;
        fsync_dir(&self.blobs_dir())?;
        Ok(target)
    }

    /// Removes a blob, if it exists.
    pub fn remove_blob(&self, sha256: &str) -> Result<()> {
        match fs_err::remove_file(self.blob_path(sha256)?) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }
}
