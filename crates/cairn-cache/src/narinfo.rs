//! The metadata file of a cached object (`<hash>.narinfo`) and of the cache itself
//! (`nix-cache-info`), in Nix's `Key: value` line format with Nix's field names where
//! they mean the same. What cairn adds: `Addressing`, `Permissions` and `Metadata`
//! (the object's permissions manifest and metadata, base64 of their framed encodings),
//! and a fingerprint that covers them. See ARCHITECTURE.md, *Binary caches*.

use std::fmt::Write as _;

use cairn_nar::NarHash;
use cairn_store::{Addressing, ObjectInfo, ObjectMetadata, PermissionsManifest, StorePath};
use data_encoding::BASE64;

use crate::keys::{PublicKey, SecretKey};

/// The first line of `nix-cache-info` and the version of this format.
pub const CACHE_INFO: &str =
    "StoreDir: cairn\nCairnCacheVersion: 1\nWantMassQuery: 1\nPriority: 40\n";

/// The version line a cache must have for cairn to read it.
pub const CACHE_VERSION_LINE: &str = "CairnCacheVersion: 1";

/// The most bytes a `.narinfo` may have (metadata of large packages is tens of KiB).
pub const MAX_NARINFO: usize = 64 << 20;

/// One object in a cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NarInfo {
    pub object: ObjectInfo,
    /// The compressed NAR's key in the cache (`nar/<sha256 hex>.nar.zst`).
    pub url: String,
    /// `zstd` (the only one cairn writes) or `none`.
    pub compression: String,
    /// SHA-256 and size of the compressed file.
    pub file_hash: NarHash,
    pub file_size: u64,
    /// `name:base64` signatures over [`NarInfo::fingerprint`].
    pub sigs: Vec<String>,
}

/// Why a `.narinfo` cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NarInfoError(pub String);

impl NarInfo {
    /// The key of an object's `.narinfo`: its hash part, as in Nix.
    pub fn key(path: &StorePath) -> String {
        format!("{}.narinfo", path.hash())
    }

    /// What a signature covers: the path, the NAR's hash and size, the references,
    /// the addressing, and the SHA-256 of the permissions manifest and of the metadata.
    /// Nix signs `1;<path>;<narHash>;<narSize>;<refs>`; this is the same with cairn's
    /// additions, under its own version tag so neither can pass for the other.
    pub fn fingerprint(&self) -> String {
        let o = &self.object;
        let refs: Vec<String> = o.references.iter().map(ToString::to_string).collect();
        format!(
            "cairn-narinfo-v1;{};{};{};{};{};{};{}",
            o.path,
            o.nar_hash.to_nix32(),
            o.nar_size,
            refs.join(","),
            o.addressing,
            o.permissions.digest_hex(),
            o.metadata.digest_hex(),
        )
    }

    /// Adds `key`'s signature.
    pub fn sign(&mut self, key: &SecretKey) {
        let sig = key.sign(self.fingerprint().as_bytes());
        self.sigs
            .retain(|s| !s.starts_with(&format!("{}:", key.name())));
        self.sigs.push(sig);
        self.sigs.sort();
    }

    /// The first of `keys` whose signature this object carries.
    pub fn signed_by<'k>(&self, keys: &'k [PublicKey]) -> Option<&'k PublicKey> {
        let fingerprint = self.fingerprint();
        keys.iter().find(|k| {
            self.sigs
                .iter()
                .any(|s| k.verifies(fingerprint.as_bytes(), s))
        })
    }

    /// The file's text. Fields in a fixed order; empty permissions and metadata are left
    /// out.
    pub fn to_text(&self) -> String {
        let o = &self.object;
        let mut out = String::new();
        let refs: Vec<String> = o.references.iter().map(ToString::to_string).collect();
        let _ = writeln!(out, "StorePath: {}", o.path);
        let _ = writeln!(out, "URL: {}", self.url);
        let _ = writeln!(out, "Compression: {}", self.compression);
        let _ = writeln!(out, "FileHash: {}", self.file_hash.to_nix32());
        let _ = writeln!(out, "FileSize: {}", self.file_size);
        let _ = writeln!(out, "NarHash: {}", o.nar_hash.to_nix32());
        let _ = writeln!(out, "NarSize: {}", o.nar_size);
        let _ = writeln!(out, "References: {}", refs.join(" "));
        let _ = writeln!(out, "Addressing: {}", o.addressing);
        if !o.permissions.is_empty() {
            let _ = writeln!(
                out,
                "Permissions: {}",
                BASE64.encode(&o.permissions.to_bytes())
            );
        }
        if !o.metadata.is_empty() {
            let _ = writeln!(out, "Metadata: {}", BASE64.encode(&o.metadata.to_bytes()));
        }
        for sig in &self.sigs {
            let _ = writeln!(out, "Sig: {sig}");
        }
        out
    }

    /// Reads a `.narinfo`. Every field cairn needs must be there once; unknown fields
    /// are ignored, as Nix ignores them (none of them is signed).
    pub fn parse(text: &str) -> Result<Self, NarInfoError> {
        let bad = |what: String| NarInfoError(what);
        let mut fields: std::collections::BTreeMap<&str, &str> = std::collections::BTreeMap::new();
        let mut sigs = Vec::new();
        for (n, line) in text.lines().enumerate() {
            if line.is_empty() {
                continue;
            }
            let (key, value) = line
                .split_once(": ")
                .or_else(|| line.split_once(':').map(|(k, v)| (k, v.trim_start())))
                .ok_or_else(|| bad(format!("line {} is not `Key: value`", n + 1)))?;
            if key == "Sig" {
                sigs.push(value.to_owned());
            } else if fields.insert(key, value).is_some() {
                return Err(bad(format!("`{key}` appears twice")));
            }
        }
        let get = |key: &str| {
            fields
                .get(key)
                .copied()
                .ok_or_else(|| bad(format!("`{key}` is missing")))
        };
        let number = |key: &str| -> Result<u64, NarInfoError> {
            get(key)?
                .parse()
                .map_err(|_| bad(format!("`{key}` is not a number")))
        };
        let hash = |key: &str| -> Result<NarHash, NarInfoError> {
            get(key)?
                .parse()
                .map_err(|_| bad(format!("`{key}` is not a SHA-256 hash")))
        };
        let path: StorePath = get("StorePath")?
            .parse()
            .map_err(|e| bad(format!("`StorePath`: {e}")))?;
        let mut references = Vec::new();
        for r in get("References")?.split_whitespace() {
            references.push(
                r.parse::<StorePath>()
                    .map_err(|e| bad(format!("`References`: {e}")))?,
            );
        }
        references.sort();
        references.dedup();
        let addressing: Addressing = get("Addressing")?
            .parse()
            .map_err(|e| bad(format!("`Addressing`: {e}")))?;
        let decode = |key: &str| -> Result<Vec<u8>, NarInfoError> {
            match fields.get(key) {
                None => Ok(Vec::new()),
                Some(v) => BASE64
                    .decode(v.as_bytes())
                    .map_err(|_| bad(format!("`{key}` is not base64"))),
            }
        };
        let permissions = match decode("Permissions")? {
            b if b.is_empty() => PermissionsManifest::default(),
            b => PermissionsManifest::from_bytes(&b)
                .map_err(|e| bad(format!("`Permissions`: {e}")))?,
        };
        let metadata = match decode("Metadata")? {
            b if b.is_empty() => ObjectMetadata::default(),
            b => ObjectMetadata::from_bytes(&b).map_err(|e| bad(format!("`Metadata`: {e}")))?,
        };
        let url = get("URL")?;
        if url.starts_with('/') || url.split('/').any(|c| c == ".." || c.is_empty()) {
            return Err(bad(format!("`URL` `{url}` is not a key inside the cache")));
        }
        let compression = fields.get("Compression").copied().unwrap_or("bzip2");
        if !matches!(compression, "zstd" | "none") {
            return Err(bad(format!(
                "`Compression: {compression}` is not one cairn reads (zstd, none)"
            )));
        }
        Ok(Self {
            object: ObjectInfo {
                path,
                nar_hash: hash("NarHash")?,
                nar_size: number("NarSize")?,
                addressing,
                permissions,
                metadata,
                references,
            },
            url: url.to_owned(),
            compression: compression.to_owned(),
            file_hash: hash("FileHash")?,
            file_size: number("FileSize")?,
            sigs,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> NarInfo {
        let mut metadata = ObjectMetadata::default();
        metadata.insert("deb.control", b"Package: x\n".to_vec());
        NarInfo {
            object: ObjectInfo {
                path: "0123456789abcdfghijklmnpqrsvwxyz-hello".parse().unwrap(),
                nar_hash: NarHash::of_bytes(b"nar"),
                nar_size: 3,
                addressing: Addressing::Content,
                permissions: PermissionsManifest::default(),
                metadata,
                references: vec!["11111111111111111111111111111111-libc".parse().unwrap()],
            },
            url: format!("nar/{}.nar.zst", NarHash::of_bytes(b"file").to_hex()),
            compression: "zstd".into(),
            file_hash: NarHash::of_bytes(b"file"),
            file_size: 4,
            sigs: Vec::new(),
        }
    }

    #[test]
    fn a_narinfo_round_trips_and_its_signature_covers_what_it_says() {
        let key = SecretKey::generate("test-1").unwrap();
        let mut info = sample();
        info.sign(&key);
        let text = info.to_text();
        assert!(text.contains("NarHash: sha256:"), "{text}");
        let back = NarInfo::parse(&text).unwrap();
        assert_eq!(back, info);
        let keys = [key.public()];
        assert!(back.signed_by(&keys).is_some());
        // Changing any signed field breaks the signature.
        for (from, to) in [
            ("NarSize: 3", "NarSize: 4"),
            ("-libc", "-libd"),
            (
                "Addressing: content",
                "Addressing: input:0000000000000000000000000000000000000000000000000000000000000000",
            ),
        ] {
            let changed = NarInfo::parse(&text.replace(from, to)).unwrap();
            assert!(changed.signed_by(&keys).is_none(), "{from} -> {to}");
        }
        let mut other = back.clone();
        other
            .object
            .metadata
            .insert("deb.control", b"Package: y\n".to_vec());
        assert!(other.signed_by(&keys).is_none());
        let unsigned = NarInfo::parse(&text.replace("Sig:", "X-Sig:")).unwrap();
        assert!(unsigned.signed_by(&keys).is_none());
    }

    #[test]
    fn bad_narinfos_are_refused_with_the_field() {
        let text = sample().to_text();
        for (from, to, why) in [
            ("NarSize: 3", "NarSize: x", "`NarSize` is not a number"),
            ("NarSize: 3\n", "", "`NarSize` is missing"),
            ("URL: nar/", "URL: ../", "not a key inside"),
            (
                "Compression: zstd",
                "Compression: xz",
                "not one cairn reads",
            ),
            ("StorePath: ", "StorePath: /nix/store/", "`StorePath`"),
            ("NarSize: 3", "NarSize: 3\nNarSize: 3", "appears twice"),
        ] {
            let e = NarInfo::parse(&text.replacen(from, to, 1))
                .unwrap_err()
                .to_string();
            assert!(e.contains(why), "{from}: {e}");
        }
    }
}
