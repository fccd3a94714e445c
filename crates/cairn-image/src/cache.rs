//! Layer blobs cached in the store, so a warm build writes only JSON.
//!
//! A written layer is kept as an input-addressed store object: a single file (the
//! compressed blob) whose path is a hash of what determines its bytes
//! (`cairn-layer-key-v2`, the compression, the mtime, and every entry: path, kind,
//! mode, owner, xattrs, and for files the store path they are read from, relative to the
//! store's objects (it names immutable contents, wherever the store is), or the bytes of
//! a synthesized file). The layer's digests and
//! sizes travel in the object's metadata (`oci.layer`), so a cache hit reads no blob.

use cairn_oci::{
    Compression, Digest, EntryKind, LayerEntry, LayerOptions, WrittenLayer, write_layer,
};
use cairn_store::{AddOptions, Addressing, Batch, ObjectMetadata, Store, StoreError, StorePath};
use sha2::{Digest as _, Sha256};

/// A layer blob in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedLayer {
    pub object: StorePath,
    pub layer: WrittenLayer,
}

/// Why a layer could not be written or read back.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error(transparent)]
    Layer(#[from] cairn_oci::LayerError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the cached layer `{0}` has damaged metadata")]
    Damaged(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

fn key(entries: &[LayerEntry], options: &LayerOptions, objects: &std::path::Path) -> String {
    let mut h = Sha256::new();
    let mut field = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    // v2: a file's source is named relative to the store's objects (v1 hashed its
    // absolute path, so the same layer had another key in every store, and a binary
    // cache could not give it to another store).
    field(b"cairn-layer-key-v2");
    field(options.compression.media_type().as_bytes());
    // The compressor decides the bytes too: its identity is part of the key (and the
    // golden tests in cairn-oci fail when an update changes its output).
    field(cairn_oci::COMPRESSOR.as_bytes());
    field(&options.mtime.to_le_bytes());
    let mut sorted: Vec<&LayerEntry> = entries.iter().collect();
    sorted.sort_by(|a, b| a.path.cmp(&b.path));
    for e in sorted {
        field(&e.path);
        match &e.kind {
            EntryKind::Directory => field(b"dir"),
            EntryKind::File { source, size } => {
                field(b"file");
                let source = source.strip_prefix(objects).unwrap_or(source);
                field(source.as_os_str().as_encoded_bytes());
                field(&size.to_le_bytes());
            }
            EntryKind::Bytes(bytes) => {
                field(b"bytes");
                field(&Sha256::digest(bytes));
            }
            EntryKind::Symlink { target } => {
                field(b"symlink");
                field(target);
            }
            EntryKind::HardLink { target } => {
                field(b"hardlink");
                field(target);
            }
            EntryKind::CharDevice { major, minor } => {
                field(b"char");
                field(&[major.to_le_bytes(), minor.to_le_bytes()].concat());
            }
            EntryKind::BlockDevice { major, minor } => {
                field(b"block");
                field(&[major.to_le_bytes(), minor.to_le_bytes()].concat());
            }
            EntryKind::Fifo => field(b"fifo"),
        }
        field(
            &[
                e.mode.to_le_bytes(),
                e.uid.to_le_bytes(),
                e.gid.to_le_bytes(),
            ]
            .concat(),
        );
        for (name, value) in &e.xattrs {
            field(name.as_bytes());
            field(value);
        }
    }
    data_encoding::HEXLOWER.encode(&h.finalize())
}

fn object_name(compression: Compression) -> &'static str {
    match compression {
        Compression::Gzip => "layer.tar.gz",
        Compression::Zstd => "layer.tar.zst",
        Compression::None => "layer.tar",
    }
}

fn metadata(layer: &WrittenLayer) -> Vec<u8> {
    format!(
        "{}\n{}\n{}\n{}\n{}\n",
        layer.diff_id.hex(),
        layer.digest.hex(),
        layer.size,
        layer.uncompressed_size,
        layer.media_type
    )
    .into_bytes()
}

fn parse_metadata(object: &StorePath, bytes: &[u8]) -> Result<WrittenLayer, CacheError> {
    let damaged = || CacheError::Damaged(object.to_string());
    let text = std::str::from_utf8(bytes).map_err(|_| damaged())?;
    let fields: Vec<&str> = text.lines().collect();
    let [diff_id, digest, size, uncompressed, media_type] = fields.as_slice() else {
        return Err(damaged());
    };
    let hex = |s: &str| -> Result<Digest, CacheError> {
        let bytes = data_encoding::HEXLOWER
            .decode(s.as_bytes())
            .map_err(|_| damaged())?;
        Ok(Digest(bytes.try_into().map_err(|_| damaged())?))
    };
    let media_type = [Compression::Gzip, Compression::Zstd, Compression::None]
        .into_iter()
        .map(Compression::media_type)
        .find(|m| m == media_type)
        .ok_or_else(damaged)?;
    Ok(WrittenLayer {
        diff_id: hex(diff_id)?,
        digest: hex(digest)?,
        size: size.parse().map_err(|_| damaged())?,
        uncompressed_size: uncompressed.parse().map_err(|_| damaged())?,
        media_type,
    })
}

/// Where the layer of some entries is in the store, and whether it is there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// Written before: read back from the store (temp-rooted), nothing to write.
    Hit(CachedLayer),
    /// Not in the store: [`write`] makes it.
    Miss(MissingLayer),
}

/// A layer the store lacks: where [`write`] puts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingLayer {
    object: StorePath,
    node_hash: String,
}

impl MissingLayer {
    /// The object the layer will be.
    pub fn object(&self) -> &StorePath {
        &self.object
    }
}

/// The layer of `entries`, when it was written before. It reads no blob: the digests
/// and sizes are the object's metadata.
pub fn find(
    store: &Store,
    entries: &[LayerEntry],
    options: &LayerOptions,
) -> Result<Lookup, CacheError> {
    let node_hash = key(entries, options, &store.objects_dir());
    let object = Store::input_path(object_name(options.compression), &node_hash)?;
    // Temp-root first, then look: a collection between the two cannot take a hit away
    // (found in review).
    if store
        .add_temp_roots(std::slice::from_ref(&object))?
        .is_empty()
    {
        return Ok(Lookup::Miss(MissingLayer { object, node_hash }));
    }
    let info = store.info(&object)?;
    let bytes = info
        .metadata
        .get("oci.layer")
        .ok_or_else(|| CacheError::Damaged(object.to_string()))?;
    let layer = parse_metadata(&object, bytes)?;
    Ok(Lookup::Hit(CachedLayer { object, layer }))
}

/// Writes the layer of `entries` that [`find`] found `missing` into `batch`
/// (registered when the batch is committed).
pub fn write(
    batch: &Batch<'_>,
    entries: &[LayerEntry],
    options: &LayerOptions,
    missing: &MissingLayer,
) -> Result<CachedLayer, CacheError> {
    let name = object_name(options.compression);
    // Written where the store stages it: no copy.
    let file = batch.tree_path()?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, fs_err::File::create(file.path())?);
    let written = write_layer(entries, options, &mut out)?;
    out.into_inner()
        .map_err(std::io::IntoInnerError::into_error)?;
    let mut meta = ObjectMetadata::default();
    meta.insert("oci.layer", metadata(&written));
    let options = AddOptions {
        name: Some(name.to_owned()),
        metadata: meta,
        addressing: Some(Addressing::Input {
            node_hash: missing.node_hash.clone(),
        }),
        ..AddOptions::default()
    };
    let added = batch.stage(file, &options)?;
    debug_assert_eq!(added, missing.object);
    Ok(CachedLayer {
        object: added,
        layer: written,
    })
}
