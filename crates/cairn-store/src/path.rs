//! Object identity: [`ObjectHash`], [`StorePath`] and how an object's hash is computed.
//!
//! An object's hash is 160 bits, printed in nixbase32 (32 characters), and depends only
//! on what the object *is*, never on where the store lives:
//!
//! ```text
//! content-addressed:  sha256("cairn-object-v1\0content\0" name "\0" nar_hash_sri "\0"
//!                            permissions_digest_hex "\0" metadata_digest_hex "\0"
//!                            { reference "\0" }*)[..20]
//! input-addressed:    sha256("cairn-object-v1\0input\0" name "\0" node_hash "\0")[..20]
//! fixed-output:       sha256("cairn-object-v1\0fixed\0" name "\0sha256:" file_sha256_hex "\0")[..20]
//! ```
//! References are store path basenames, sorted. Content-addressed identities therefore
//! cover the file tree (NAR), the full metadata (permissions manifest) and the run-time
//! dependencies, so equal hashes mean equal closures.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use cairn_nar::{NarHash, base32};
use sha2::{Digest, Sha256};

use crate::error::StoreError;
use crate::metadata::ObjectMetadata;
use crate::permissions::PermissionsManifest;

/// The 160-bit hash part of a store path.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectHash(pub [u8; 20]);

impl fmt::Display for ObjectHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&base32::encode(&self.0))
    }
}

impl fmt::Debug for ObjectHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ObjectHash({self})")
    }
}

/// Characters of the hash part.
pub const HASH_CHARS: usize = 32;
/// Longest object name (Nix's limit, so names fit in a 255-byte file name).
pub const MAX_NAME: usize = 211;

/// Checks an object name: Nix's rules (`[A-Za-z0-9+._?=-]`, not starting with `.`).
pub fn validate_name(name: &str) -> Result<(), StoreError> {
    let invalid = |reason| StoreError::InvalidName {
        name: name.to_owned(),
        reason,
    };
    if name.is_empty() {
        return Err(invalid("it is empty"));
    }
    if name.len() > MAX_NAME {
        return Err(invalid("it is longer than 211 characters"));
    }
    if name.starts_with('.') {
        return Err(invalid("it starts with `.`"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "+-._?=".contains(*c)))
    {
        let _ = c;
        return Err(invalid("only letters, digits and `+-._?=` are allowed"));
    }
    Ok(())
}

/// Turns an arbitrary file name into a valid object name (`my file.txt` → `my-file.txt`).
pub fn sanitize_name(raw: &str) -> String {
    let mut name: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "+-._?=".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    while name.starts_with('.') {
        name.remove(0);
    }
    name.truncate(MAX_NAME);
    if name.is_empty() {
        "source".to_owned()
    } else {
        name
    }
}

/// An object's name in the store: `<hash32>-<name>`. Ordered as the text is, so every
/// listing (in memory or from SQLite) sorts the same way.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StorePath {
    /// `<hash32>-<name>`; the hash is the first [`HASH_CHARS`] characters.
    text: String,
    hash: ObjectHash,
}

impl StorePath {
    pub fn new(hash: ObjectHash, name: &str) -> Result<Self, StoreError> {
        validate_name(name)?;
        Ok(Self {
            text: format!("{hash}-{name}"),
            hash,
        })
    }
    pub fn hash(&self) -> ObjectHash {
        self.hash
    }
    pub fn name(&self) -> &str {
        &self.text[HASH_CHARS + 1..]
    }
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for StorePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for StorePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StorePath({self})")
    }
}

impl FromStr for StorePath {
    type Err = StoreError;

    /// Parses a basename `<hash32>-<name>`.
    fn from_str(text: &str) -> Result<Self, StoreError> {
        let invalid = || StoreError::InvalidStorePath(text.to_owned());
        let (hash, name) = text.split_at_checked(HASH_CHARS).ok_or_else(invalid)?;
        let name = name.strip_prefix('-').ok_or_else(invalid)?;
        let bytes = base32::decode(hash, 20).map_err(|_| invalid())?;
        let hash = ObjectHash(bytes.try_into().expect("decoded 20 bytes"));
        Self::new(hash, name).map_err(|_| invalid())
    }
}

/// How an object's hash was derived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Addressing {
    /// From its contents, metadata and references: anyone can check it.
    Content,
    /// From the plan node that built it (a hex SHA-256 of the node's canonical JSON).
    Input { node_hash: String },
    /// A single regular file, from the SHA-256 of its contents (lowercase hex), known
    /// before it is downloaded: Nix's fixed-output `fixed:out:sha256`. The path of a
    /// `.deb` or an index follows from its signed hash, so it can be looked up offline,
    /// and anyone can check it.
    Fixed { sha256: String },
}

impl fmt::Display for Addressing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Content => f.write_str("content"),
            Self::Input { node_hash } => write!(f, "input:{node_hash}"),
            Self::Fixed { sha256 } => write!(f, "fixed:sha256:{sha256}"),
        }
    }
}

/// Whether `text` is 64 lowercase hex digits.
pub(crate) fn is_sha256_hex(text: &str) -> bool {
    text.len() == 64
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// [`is_sha256_hex`], as an error that says what is wrong.
pub(crate) fn require_sha256_hex(text: &str) -> Result<(), StoreError> {
    if is_sha256_hex(text) {
        Ok(())
    } else {
        Err(StoreError::FixedOutput(format!(
            "`{text}` is not a lowercase hex SHA-256"
        )))
    }
}

impl FromStr for Addressing {
    type Err = StoreError;
    fn from_str(text: &str) -> Result<Self, StoreError> {
        match text.split_once(':') {
            None if text == "content" => Ok(Self::Content),
            Some(("input", hash))
                if hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()) =>
            {
                Ok(Self::Input {
                    node_hash: hash.to_owned(),
                })
            }
            Some(("fixed", rest)) => match rest.strip_prefix("sha256:") {
                Some(hash) if is_sha256_hex(hash) => Ok(Self::Fixed {
                    sha256: hash.to_owned(),
                }),
                _ => Err(StoreError::ImportRefused(format!(
                    "unknown addressing `{text}`"
                ))),
            },
            _ => Err(StoreError::ImportRefused(format!(
                "unknown addressing `{text}`"
            ))),
        }
    }
}

/// What determines a content-addressed object's identity besides its name.
#[derive(Debug, Clone, Copy)]
pub struct Identity<'a> {
    pub nar_hash: &'a NarHash,
    pub permissions: &'a PermissionsManifest,
    pub metadata: &'a ObjectMetadata,
    pub references: &'a [StorePath],
}

/// Computes the hash of an object (see the module docs).
pub fn object_hash(addressing: &Addressing, name: &str, identity: Identity<'_>) -> ObjectHash {
    let Identity {
        nar_hash,
        permissions,
        metadata,
        references,
    } = identity;
    let mut h = Sha256::new();
    // Every field is followed by a NUL; the layout is pinned by `golden` below.
    let mut field = |bytes: &[u8]| {
        h.update(bytes);
        h.update(b"\0");
    };
    field(b"cairn-object-v1");
    match addressing {
        Addressing::Content => {
            field(b"content");
            field(name.as_bytes());
            field(nar_hash.to_sri().as_bytes());
            field(permissions.digest_hex().as_bytes());
            field(metadata.digest_hex().as_bytes());
            let refs: BTreeSet<String> = references.iter().map(ToString::to_string).collect();
            for r in refs {
                field(r.as_bytes());
            }
        }
        Addressing::Input { node_hash } => {
            field(b"input");
            field(name.as_bytes());
            field(node_hash.as_bytes());
        }
        Addressing::Fixed { sha256 } => {
            field(b"fixed");
            field(name.as_bytes());
            field(format!("sha256:{sha256}").as_bytes());
        }
    }
    let digest = h.finalize();
    ObjectHash(digest[..20].try_into().expect("sha256 has 32 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_paths_parse_and_print() {
        let p: StorePath = "0mdqa9w1p6cmli6976v4wi0sw9r4p5pr-hello-1.0"
            .parse()
            .unwrap();
        assert_eq!(p.name(), "hello-1.0");
        assert_eq!(p.to_string(), "0mdqa9w1p6cmli6976v4wi0sw9r4p5pr-hello-1.0");
        for bad in [
            "",
            "short-x",
            "0mdqa9w1p6cmli6976v4wi0sw9r4p5pr",
            "0mdqa9w1p6cmli6976v4wi0sw9r4p5pr-",
            "0mdqa9w1p6cmli6976v4wi0sw9r4p5pe-x",
            "0mdqa9w1p6cmli6976v4wi0sw9r4p5pr-a/b",
        ] {
            assert!(bad.parse::<StorePath>().is_err(), "{bad}");
        }
    }

    #[test]
    fn names_are_validated_and_sanitized() {
        assert!(validate_name("python3.11+dfsg-1_amd64").is_ok());
        assert!(validate_name(".hidden").is_err());
        assert!(validate_name("a b").is_err());
        assert_eq!(sanitize_name("my file (1).txt"), "my-file--1-.txt");
        assert_eq!(sanitize_name("..."), "source");
    }

    #[test]
    fn identity_covers_every_input() {
        let nar = NarHash([1; 32]);
        let perms = PermissionsManifest::default();
        let meta = ObjectMetadata::default();
        let id = |nar_hash, permissions, metadata, references| Identity {
            nar_hash,
            permissions,
            metadata,
            references,
        };
        let base = object_hash(&Addressing::Content, "x", id(&nar, &perms, &meta, &[]));
        assert_ne!(
            base,
            object_hash(&Addressing::Content, "y", id(&nar, &perms, &meta, &[]))
        );
        assert_ne!(
            base,
            object_hash(
                &Addressing::Content,
                "x",
                id(&NarHash([2; 32]), &perms, &meta, &[])
            )
        );
        let mut setuid = PermissionsManifest::default();
        setuid.insert(
            b"".to_vec(),
            crate::permissions::Permissions {
                mode: 0o4755,
                ..Default::default()
            },
        );
        assert_ne!(
            base,
            object_hash(&Addressing::Content, "x", id(&nar, &setuid, &meta, &[]))
        );
        let mut control = ObjectMetadata::default();
        control.insert("deb.control", "Package: x\n");
        assert_ne!(
            base,
            object_hash(&Addressing::Content, "x", id(&nar, &perms, &control, &[]))
        );
        let r: StorePath = "0mdqa9w1p6cmli6976v4wi0sw9r4p5pr-dep".parse().unwrap();
        assert_ne!(
            base,
            object_hash(
                &Addressing::Content,
                "x",
                id(&nar, &perms, &meta, std::slice::from_ref(&r))
            )
        );
        // Stable across releases: this value is part of the v1 format.
        assert_eq!(base.to_string().len(), 32);
    }
}

#[cfg(test)]
mod golden {
    use super::*;

    fn values() -> [String; 3] {
        let nar: NarHash = "sha256-csy21zS1drxnbzWgMGNmPR+L32+zEWY/k1IETiF9aaQ="
            .parse()
            .unwrap();
        let mut perms = PermissionsManifest::default();
        perms.insert(
            b"usr/bin/sudo".to_vec(),
            crate::permissions::Permissions {
                mode: 0o4755,
                ..Default::default()
            },
        );
        let mut meta = ObjectMetadata::default();
        meta.insert("deb.control", "Package: x\n");
        let dep: StorePath = "0mdqa9w1p6cmli6976v4wi0sw9r4p5pr-dep".parse().unwrap();
        let identity = Identity {
            nar_hash: &nar,
            permissions: &perms,
            metadata: &meta,
            references: std::slice::from_ref(&dep),
        };
        [
            object_hash(&Addressing::Content, "x", identity).to_string(),
            object_hash(
                &Addressing::Input {
                    node_hash: "ab".repeat(32),
                },
                "x",
                identity,
            )
            .to_string(),
            object_hash(
                &Addressing::Fixed {
                    sha256: "cd".repeat(32),
                },
                "x.deb",
                identity,
            )
            .to_string(),
        ]
    }

    #[test]
    fn object_hashes_are_pinned() {
        // These are part of the v1 store format: every object path depends on them.
        // Changing one means a new format version, not an edited constant.
        assert_eq!(values(), PINNED.map(str::to_owned));
    }

    const PINNED: [&str; 3] = [
        "skgx4dfq50p4s79s83kkq41yxhxfpvck",
        "2y11gv7qk3qnyq6gnrv7jzl5iix2c4rb",
        "6a43frzza8a569i7r85q0ws83n1hvj57",
    ];
}
