//! A cache in a local directory (`file:///abs/dir` or a plain path).
//!
//! Writes go to a temporary file in the destination's directory, are flushed to disk
//! and renamed over the key, so a reader sees the old file or the whole new one, never
//! part of it, and a crash leaves no truncated file under a key's name.

use std::io;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use super::{Backend, check_key};
use crate::CacheError;

/// A cache in a directory on this machine.
#[derive(Debug)]
pub struct FileBackend {
    url: String,
    root: PathBuf,
}

impl FileBackend {
    /// The cache in `root`, which need not exist yet; `url` is what the user wrote.
    pub fn new(url: &str, root: &Path) -> Self {
        Self {
            url: url.to_owned(),
            root: root.to_path_buf(),
        }
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, key: &str) -> Result<PathBuf, CacheError> {
        check_key(key)?;
        Ok(self.root.join(key))
    }

    /// Writes `key` with `write` filling a temporary file, then renames it into place.
    fn write_with(
        &self,
        key: &str,
        write: impl FnOnce(&mut fs_err::File) -> io::Result<()>,
    ) -> Result<(), CacheError> {
        let path = self.path(key)?;
        let dir = path.parent().expect("a joined key has a parent");
        fs_err::create_dir_all(dir).map_err(|source| io_error(dir, source))?;
        // Readable by a web server that serves the directory (the umask still applies);
        // tempfile's default is 0600.
        let temp = tempfile::Builder::new()
            .prefix(".tmp-")
            .permissions(std::fs::Permissions::from_mode(0o644))
            .tempfile_in(dir)
            .map_err(|source| io_error(dir, source))?;
        let (file, temp_path) = temp.into_parts();
        let mut file = fs_err::File::from_parts(file, &*temp_path);
        write(&mut file)
            .and_then(|()| file.sync_all())
            .map_err(|source| io_error(&temp_path, source))?;
        drop(file);
        temp_path
            .persist(&path)
            .map_err(|e| io_error(&path, e.error))?;
        tracing::debug!(key, cache = self.url, "written");
        Ok(())
    }
}

fn io_error(path: &Path, source: io::Error) -> CacheError {
    CacheError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl Backend for FileBackend {
    fn url(&self) -> &str {
        &self.url
    }

    fn is_local(&self) -> bool {
        true
    }

    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, CacheError> {
        let path = self.path(key)?;
        match fs_err::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(io_error(&path, source)),
        }
    }

    fn local_file(&self, key: &str) -> Result<Option<PathBuf>, CacheError> {
        self.path(key).map(Some)
    }

    fn get_file(&self, key: &str, dest: &Path) -> Result<bool, CacheError> {
        let path = self.path(key)?;
        let mut source = match fs_err::File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(source) => return Err(io_error(&path, source)),
        };
        let mut out = fs_err::File::create(dest).map_err(|source| io_error(dest, source))?;
        io::copy(&mut source, &mut out).map_err(|source| io_error(dest, source))?;
        Ok(true)
    }

    fn exists(&self, key: &str) -> Result<bool, CacheError> {
        let path = self.path(key)?;
        match fs_err::metadata(&path) {
            Ok(metadata) => Ok(metadata.is_file()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(source) => Err(io_error(&path, source)),
        }
    }

    fn put(&self, key: &str, bytes: &[u8]) -> Result<(), CacheError> {
        self.write_with(key, |file| io::Write::write_all(file, bytes))
    }

    fn put_file(&self, key: &str, source: &Path) -> Result<(), CacheError> {
        let mut input = fs_err::File::open(source).map_err(|e| io_error(source, e))?;
        self.write_with(key, |file| io::copy(&mut input, file).map(drop))
    }
}
