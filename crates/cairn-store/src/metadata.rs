//! Per-object metadata: named byte strings that travel with an object but are not part
//! of its file tree, such as a Debian package's control fields, md5sums and maintainer
//! scripts, or what a NAR cannot hold (hard links, device nodes).
//!
//! Keys are sorted. The canonical encoding (`cairn-metadata-v1`, NAR-style framing) is
//! covered by a content-addressed object's identity, so two objects with the same files
//! but different metadata are different objects.

use std::collections::BTreeMap;

use cairn_nar::framing::{FramedReader, FramingError, put_str, put_u64};
use data_encoding::HEXLOWER;
use sha2::{Digest, Sha256};

use crate::error::StoreError;

const MAGIC: &[u8] = b"cairn-metadata-v1";

/// Named byte strings attached to an object, sorted by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectMetadata {
    entries: BTreeMap<String, Vec<u8>>,
}

impl ObjectMetadata {
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<Vec<u8>>) {
        self.entries.insert(key.into(), value.into());
    }

    pub fn get(&self, key: &str) -> Option<&[u8]> {
        self.entries.get(key).map(Vec::as_slice)
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &Vec<u8>)> {
        self.entries.iter()
    }

    /// Canonical, versioned bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        put_str(&mut out, MAGIC);
        put_u64(&mut out, self.entries.len() as u64);
        for (key, value) in &self.entries {
            put_str(&mut out, key.as_bytes());
            put_str(&mut out, value);
        }
        out
    }

    /// Parses canonical bytes, refusing anything non-canonical.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, StoreError> {
        Self::parse(bytes).map_err(|e| StoreError::InvalidMetadata(e.to_string()))
    }

    fn parse(bytes: &[u8]) -> Result<Self, FramingError> {
        let mut r = FramedReader::new(bytes);
        r.magic(MAGIC)?;
        let mut entries = BTreeMap::new();
        let mut last = None;
        for _ in 0..r.u64()? {
            let key = r.str_ascending(&mut last, "keys")?;
            let key = String::from_utf8(key.to_vec()).map_err(|_| r.error("key is not UTF-8"))?;
            entries.insert(key, r.str()?.to_vec());
        }
        r.finish()?;
        Ok(Self { entries })
    }

    /// Hex SHA-256 of the canonical bytes.
    pub fn digest_hex(&self) -> String {
        HEXLOWER.encode(&Sha256::digest(self.to_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_damage() {
        let mut m = ObjectMetadata::default();
        m.insert("deb.control", "Package: x\n");
        m.insert("deb.script.postinst", b"#!/bin/sh\n".to_vec());
        let bytes = m.to_bytes();
        assert_eq!(ObjectMetadata::from_bytes(&bytes).unwrap(), m);
        for cut in 0..bytes.len() {
            assert!(
                ObjectMetadata::from_bytes(&bytes[..cut]).is_err(),
                "cut at {cut}"
            );
        }
        assert_ne!(m.digest_hex(), ObjectMetadata::default().digest_hex());
    }
}
