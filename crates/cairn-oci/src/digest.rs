//! `sha256:<hex>` digests, as OCI writes them.

use std::fmt;

use sha2::{Digest as _, Sha256};

/// A SHA-256 content digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Digest(pub [u8; 32]);

impl Digest {
    pub fn of(bytes: &[u8]) -> Self {
        Self(Sha256::digest(bytes).into())
    }

    /// Lowercase hex, without the algorithm.
    pub fn hex(&self) -> String {
        data_encoding::HEXLOWER.encode(&self.0)
    }
}

/// A string that is not `sha256:` and 64 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a sha256 digest (`sha256:` and 64 lowercase hex digits)")]
pub struct BadDigest(pub String);

impl std::str::FromStr for Digest {
    type Err = BadDigest;

    /// Parses `sha256:<hex>`, as `Display` writes it.
    fn from_str(text: &str) -> Result<Self, BadDigest> {
        let bad = || BadDigest(text.to_owned());
        let hex = text.strip_prefix("sha256:").ok_or_else(bad)?;
        let bytes = data_encoding::HEXLOWER
            .decode(hex.as_bytes())
            .map_err(|_| bad())?;
        Ok(Self(bytes.try_into().map_err(|_| bad())?))
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_it_displays() {
        let digest = Digest::of(b"cairn");
        assert_eq!(digest.to_string().parse::<Digest>(), Ok(digest));
        for bad in [
            "",
            "sha256:",
            "sha512:00",
            "00",
            &digest.hex(),
            &format!("sha256:{}", digest.hex().to_uppercase()),
            &format!("sha256:{}0", digest.hex()),
            &format!("sha256:{}", &digest.hex()[2..]),
        ] {
            assert!(bad.parse::<Digest>().is_err(), "{bad}");
        }
    }
}
