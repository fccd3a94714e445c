//! SHA-256 digests, the one hash cairn locks a file by.

use std::fmt;
use std::str::FromStr;

/// A SHA-256 digest. Indexes write it in hex (PEP 503 URL fragments, PEP 691
/// `hashes`), in either case; cairn keeps the bytes and always prints lowercase hex,
/// so two spellings of one digest compare equal and lock the same way.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sha256Digest([u8; 32]);

/// A string that is not 64 hexadecimal digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a SHA-256 digest: expected 64 hexadecimal digits")]
pub struct DigestError {
    /// The offending text, cut to 80 characters so a hostile index cannot make
    /// error messages arbitrarily long.
    pub value: String,
}

impl Sha256Digest {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Parses 64 hexadecimal digits, upper or lower case.
    pub fn from_hex(hex: &str) -> Result<Self, DigestError> {
        let error = || DigestError {
            value: hex.chars().take(80).collect(),
        };
        if hex.len() != 64 {
            return Err(error());
        }
        // 64 digits are exactly 32 bytes, so the buffer has the length
        // `decode_mut` requires; only a non-hex digit fails.
        let mut bytes = [0; 32];
        data_encoding::HEXLOWER_PERMISSIVE
            .decode_mut(hex.as_bytes(), &mut bytes)
            .map_err(|_| error())?;
        Ok(Self(bytes))
    }
}

impl FromStr for Sha256Digest {
    type Err = DigestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_hex(s)
    }
}

impl fmt::Display for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&data_encoding::HEXLOWER.encode(&self.0))
    }
}

impl fmt::Debug for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256Digest({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "2cf0f8d6d5ed35e5a5e5fcb8a3ae9fd0b9b8c1b7c0d6b2f3e4a5b6c7d8e9f0a1";

    #[test]
    fn round_trips_and_lowercases() {
        let digest = Sha256Digest::from_hex(HEX).unwrap();
        assert_eq!(digest.to_string(), HEX);
        let upper = Sha256Digest::from_hex(&HEX.to_uppercase()).unwrap();
        assert_eq!(upper, digest);
        assert_eq!(upper.to_string(), HEX);
        assert_eq!(Sha256Digest::from_bytes(*digest.as_bytes()), digest);
        assert_eq!(format!("{digest:?}"), format!("Sha256Digest({HEX})"));
    }

    #[test]
    fn refuses_wrong_length_and_non_hex() {
        for bad in [
            "",
            "abc",
            &HEX[1..],
            &format!("{HEX}0"),
            &HEX.replace('a', "g"),
            // 64 bytes, but 32 characters.
            &"é".repeat(32),
            &format!("{}é", &HEX[..62]),
        ] {
            let err = Sha256Digest::from_hex(bad).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("`{bad}` is not a SHA-256 digest: expected 64 hexadecimal digits")
            );
        }
    }

    #[test]
    fn error_cuts_long_values() {
        let long = "x".repeat(1000);
        let err = Sha256Digest::from_hex(&long).unwrap_err();
        assert_eq!(err.value.len(), 80);
    }
}
