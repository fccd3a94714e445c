//! Signing keys in Nix's format: `name:base64`, where a secret key is the 32-byte
//! ed25519 seed followed by the 32-byte public key (64 bytes, as `nix key
//! generate-secret` writes it) and a public key is the 32 bytes alone. A signature is
//! `name:base64` of the 64-byte ed25519 signature.

use std::fmt;
use std::str::FromStr;

use data_encoding::BASE64;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};

use crate::CacheError;

/// A key pair that signs objects.
pub struct SecretKey {
    name: String,
    seed: [u8; 32],
    pair: Ed25519KeyPair,
}

/// A key that verifies signatures.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    name: String,
    key: [u8; 32],
}

fn bad_key(what: &str, why: &str) -> CacheError {
    CacheError::BadSigningKey(format!("{what}: {why}"))
}

fn check_name(name: &str, what: &str) -> Result<(), CacheError> {
    if name.is_empty()
        || name
            .chars()
            .any(|c| c.is_whitespace() || c == ':' || c == '/')
    {
        return Err(bad_key(
            what,
            "the name must be non-empty, without spaces, `:` or `/`",
        ));
    }
    Ok(())
}

/// Splits `name:base64` into its name and decoded bytes.
fn split_key(text: &str, what: &str) -> Result<(String, Vec<u8>), CacheError> {
    let text = text.trim();
    let (name, b64) = text
        .split_once(':')
        .ok_or_else(|| bad_key(what, "expected `name:base64`"))?;
    check_name(name, what)?;
    let bytes = BASE64
        .decode(b64.as_bytes())
        .map_err(|_| bad_key(what, "the part after `:` is not base64"))?;
    Ok((name.to_owned(), bytes))
}

impl SecretKey {
    /// A new key pair named `name` (by convention the cache's host name and a number:
    /// `cache.example.org-1`).
    pub fn generate(name: &str) -> Result<Self, CacheError> {
        use ring::rand::SecureRandom as _;
        let mut seed = [0u8; 32];
        ring::rand::SystemRandom::new()
            .fill(&mut seed)
            .map_err(|_| CacheError::BadSigningKey("the system's random source failed".into()))?;
        Self::from_seed(name, seed)
    }

    fn from_seed(name: &str, seed: [u8; 32]) -> Result<Self, CacheError> {
        check_name(name, "key name")?;
        let pair = Ed25519KeyPair::from_seed_unchecked(&seed)
            .map_err(|_| bad_key("secret key", "not an ed25519 seed"))?;
        Ok(Self {
            name: name.to_owned(),
            seed,
            pair,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The public half.
    pub fn public(&self) -> PublicKey {
        let mut key = [0u8; 32];
        key.copy_from_slice(self.pair.public_key().as_ref());
        PublicKey {
            name: self.name.clone(),
            key,
        }
    }

    /// The secret key file's contents: `name:base64(seed ‖ public)`.
    pub fn to_nix_string(&self) -> String {
        let mut bytes = self.seed.to_vec();
        bytes.extend_from_slice(self.pair.public_key().as_ref());
        format!("{}:{}", self.name, BASE64.encode(&bytes))
    }

    /// Signs `message`; the result is a `Sig:` field's value.
    pub fn sign(&self, message: &[u8]) -> String {
        format!(
            "{}:{}",
            self.name,
            BASE64.encode(self.pair.sign(message).as_ref())
        )
    }
}

impl FromStr for SecretKey {
    type Err = CacheError;
    fn from_str(text: &str) -> Result<Self, CacheError> {
        let (name, bytes) = split_key(text, "secret key")?;
        if bytes.len() != 64 {
            return Err(bad_key(
                "secret key",
                "expected 64 bytes (an ed25519 seed and its public key); is this a public key?",
            ));
        }
        let mut seed = [0u8; 32];
        seed.copy_from_slice(&bytes[..32]);
        let key = Self::from_seed(&name, seed)?;
        if key.pair.public_key().as_ref() != &bytes[32..] {
            return Err(bad_key(
                "secret key",
                "its public half does not belong to its seed",
            ));
        }
        Ok(key)
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey({})", self.name)
    }
}

impl PublicKey {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether `signature` (a `Sig:` value) is this key's signature of `message`.
    /// A signature by another key name is not.
    pub fn verifies(&self, message: &[u8], signature: &str) -> bool {
        let Some((name, b64)) = signature.split_once(':') else {
            return false;
        };
        if name != self.name {
            return false;
        }
        let Ok(sig) = BASE64.decode(b64.as_bytes()) else {
            return false;
        };
        UnparsedPublicKey::new(&ED25519, &self.key)
            .verify(message, &sig)
            .is_ok()
    }
}

impl FromStr for PublicKey {
    type Err = CacheError;
    fn from_str(text: &str) -> Result<Self, CacheError> {
        let (name, bytes) = split_key(text, "public key")?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| {
            bad_key(
                "public key",
                "expected 32 bytes (an ed25519 public key); is this a secret key?",
            )
        })?;
        Ok(Self { name, key })
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.name, BASE64.encode(&self.key))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_sign() {
        let key = SecretKey::generate("cache.example-1").unwrap();
        let text = key.to_nix_string();
        assert!(text.starts_with("cache.example-1:"));
        let again: SecretKey = text.parse().unwrap();
        let public: PublicKey = key.public().to_string().parse().unwrap();
        assert_eq!(again.public(), public);
        let sig = again.sign(b"message");
        assert!(public.verifies(b"message", &sig));
        assert!(!public.verifies(b"massage", &sig));
        let other = SecretKey::generate("cache.example-1").unwrap();
        assert!(!other.public().verifies(b"message", &sig));
        let renamed = sig.replacen("cache.example-1", "other-1", 1);
        assert!(!public.verifies(b"message", &renamed));
    }

    #[test]
    fn bad_keys_are_refused_with_reasons() {
        for (text, why) in [
            ("nocolon", "name:base64"),
            (":AAAA", "non-empty"),
            ("a b:AAAA", "non-empty"),
            ("a/b:AAAA", "non-empty"),
            ("k:!!!", "not base64"),
            ("k:AAAA", "expected 64 bytes"),
        ] {
            let e = text.parse::<SecretKey>().unwrap_err().to_string();
            assert!(e.contains(why), "{text}: {e}");
        }
        let public = SecretKey::generate("k").unwrap().public().to_string();
        let e = public.parse::<SecretKey>().unwrap_err().to_string();
        assert!(e.contains("public key?"), "{e}");
        let secret = SecretKey::generate("k").unwrap().to_nix_string();
        let e = secret.parse::<PublicKey>().unwrap_err().to_string();
        assert!(e.contains("secret key?"), "{e}");
    }
}
