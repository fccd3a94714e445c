//! Signed `InRelease` files: OpenPGP verification against Debian's archive keys.
//!
//! The rules, written down because apt's are spread over gpgv and apt's own code:
//! - Keys come from a [`Keyring`]. By default that is Debian's bookworm and trixie archive
//!   keys (automatic, security automatic, stable), shipped in this crate from the
//!   `debian-archive-keyring` package.
//! - A signature counts only if its issuer is a trusted (sub)key. The subkey must be
//!   bound to its primary by a valid binding signature, and the primary must carry a
//!   valid self-certification. The key must be valid now: not expired (by the expiry
//!   of its latest self-signature or binding) and not revoked. The signature must hash
//!   with SHA-256 or stronger (SHA-256/384/512, SHA3-256/512): SHA-1, MD5, RIPEMD-160
//!   and SHA-224 signatures are not counted. Keys must be allowed to sign (key flags;
//!   signing subkeys must carry a valid back-signature), and the signature itself must
//!   not be dated in the future or past its own expiration time.
//! - A signature by a trusted key that does not verify means the file was tampered
//!   with, and the whole file is refused, even when another signature is good.
//! - Signatures by unknown keys are ignored, as apt ignores them. At least one counted
//!   signature is required.
//!
//! "Now" is a parameter. Verification happens when locking, and a lock pins the
//! `InRelease` by hash, so builds never depend on the clock.

use std::time::{Duration, SystemTime};

use pgp::composed::{CleartextSignedMessage, Deserializable, SignedPublicKey};
use pgp::crypto::hash::HashAlgorithm;
use pgp::packet::{Signature, SignatureType, SubpacketData};
use pgp::types::{KeyDetails, Tag};

/// Debian's archive keys, as shipped by `debian-archive-keyring`.
const DEBIAN_KEYS: &[(&str, &str)] = &[
    (
        "debian-archive-bookworm-automatic",
        include_str!("../keys/debian-archive-bookworm-automatic.asc"),
    ),
    (
        "debian-archive-bookworm-security-automatic",
        include_str!("../keys/debian-archive-bookworm-security-automatic.asc"),
    ),
    (
        "debian-archive-bookworm-stable",
        include_str!("../keys/debian-archive-bookworm-stable.asc"),
    ),
    (
        "debian-archive-trixie-automatic",
        include_str!("../keys/debian-archive-trixie-automatic.asc"),
    ),
    (
        "debian-archive-trixie-security-automatic",
        include_str!("../keys/debian-archive-trixie-security-automatic.asc"),
    ),
    (
        "debian-archive-trixie-stable",
        include_str!("../keys/debian-archive-trixie-stable.asc"),
    ),
];

/// Why a signed release was refused.
#[derive(Debug, thiserror::Error)]
pub enum SignatureError {
    #[error("Invalid key `{name}`: {reason}")]
    InvalidKey { name: String, reason: String },
    #[error("The InRelease file is not a valid OpenPGP cleartext-signed message: {0}")]
    Malformed(String),
    #[error(
        "The signature by trusted key {fingerprint} does not verify: the file was modified or corrupted"
    )]
    BadSignature { fingerprint: String },
    #[error("No trusted signature: {}", reasons.join("; "))]
    NoTrustedSignature { reasons: Vec<String> },
}

/// A trusted (sub)key usable for verification.
struct TrustedKey {
    /// Name of the key file it came from (for messages).
    name: String,
    fingerprint: String,
    key: KeyRef,
    /// `None` when the key is usable; otherwise why not (revoked, expired, unbound).
    unusable: Option<String>,
}

enum KeyRef {
    Primary(pgp::packet::PublicKey),
    Subkey(pgp::packet::PublicSubkey),
}

/// A set of trusted keys.
pub struct Keyring {
    keys: Vec<TrustedKey>,
    /// The time keys and signatures are judged at.
    now: SystemTime,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.keys.iter().map(|k| (&k.name, &k.fingerprint)))
            .finish()
    }
}

fn hex(bytes: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(bytes)
}

fn expired(created: SystemTime, validity: Option<Duration>, now: SystemTime) -> bool {
    validity.is_some_and(|v| !v.is_zero() && created + v <= now)
}

/// Whether a self-signature or binding allows signing data. Without a key-flags
/// subpacket (old keys) any use is allowed, as gpg does.
fn allows_signing(signature: &Signature) -> bool {
    let has_flags = signature.config().is_some_and(|c| {
        c.hashed_subpackets()
            .any(|p| matches!(p.data, SubpacketData::KeyFlags(_)))
    });
    !has_flags || signature.key_flags().sign()
}

/// The newest of `signatures` (by creation time) for which `valid` holds.
fn newest_valid<'s>(
    signatures: impl IntoIterator<Item = &'s Signature>,
    valid: impl Fn(&Signature) -> bool,
) -> Option<&'s Signature> {
    signatures
        .into_iter()
        .filter(|s| valid(s))
        .max_by_key(|s| s.created().map(SystemTime::from))
}

impl Keyring {
    /// Debian's bookworm and trixie archive keys, evaluated at `now`.
    pub fn debian(now: SystemTime) -> Result<Self, SignatureError> {
        Self::from_armored(DEBIAN_KEYS, now)
    }

    /// Keys from armored public key blocks `(name, text)`, evaluated at `now`.
    pub fn from_armored(keys: &[(&str, &str)], now: SystemTime) -> Result<Self, SignatureError> {
        let mut out = Vec::new();
        for (name, text) in keys {
            let invalid = |reason: String| SignatureError::InvalidKey {
                name: (*name).to_owned(),
                reason,
            };
            let (key, _) =
                SignedPublicKey::from_string(text).map_err(|e| invalid(e.to_string()))?;
            out.extend(trusted_keys(name, &key, now));
        }
        Ok(Self { keys: out, now })
    }

    fn find(&self, signature: &Signature) -> Option<&TrustedKey> {
        let fingerprints: Vec<String> = signature
            .issuer_fingerprint()
            .iter()
            .map(|f| hex(f.as_bytes()))
            .collect();
        let key_ids: Vec<String> = signature
            .issuer_key_id()
            .iter()
            .map(|k| hex(k.as_ref()))
            .collect();
        self.keys.iter().find(|k| {
            fingerprints.contains(&k.fingerprint)
                || key_ids
                    .iter()
                    .any(|id| k.fingerprint.ends_with(id.as_str()))
        })
    }
}

/// The primary key and subkeys of `key` as trusted keys, each with why it is unusable.
fn trusted_keys(name: &str, key: &SignedPublicKey, now: SystemTime) -> Vec<TrustedKey> {
    let primary = &key.primary_key;
    let primary_fp = hex(primary.fingerprint().as_bytes());
    let revoked = key
        .details
        .revocation_signatures
        .iter()
        .any(|s| s.verify_key(primary).is_ok());
    let self_cert = newest_valid(
        key.details
            .users
            .iter()
            .flat_map(|u| u.signatures.iter().map(move |s| (u, s)))
            .filter_map(|(u, s)| {
                s.verify_certification(primary, Tag::UserId, &u.id)
                    .is_ok()
                    .then_some(s)
            }),
        |_| true,
    );
    let primary_created: SystemTime = primary.created_at().into();
    let primary_problem = if revoked {
        Some(format!("key {primary_fp} ({name}) is revoked"))
    } else if let Some(cert) = &self_cert {
        expired(
            primary_created,
            cert.key_expiration_time().map(Duration::from),
            now,
        )
        .then(|| format!("key {primary_fp} ({name}) has expired"))
    } else {
        Some(format!(
            "key {primary_fp} ({name}) has no valid self-certification"
        ))
    };
    let primary_unusable = primary_problem.clone().or_else(|| {
        self_cert
            .filter(|cert| !allows_signing(cert))
            .map(|_| format!("key {primary_fp} ({name}) may not sign data (its key flags say so)"))
    });
    let mut out = vec![TrustedKey {
        name: name.to_owned(),
        fingerprint: primary_fp.clone(),
        key: KeyRef::Primary(primary.clone()),
        unusable: primary_unusable,
    }];
    for sub in &key.public_subkeys {
        let fp = hex(sub.key.fingerprint().as_bytes());
        let binding = newest_valid(&sub.signatures, |s| {
            s.typ() == Some(SignatureType::SubkeyBinding)
                && s.verify_subkey_binding(primary, &sub.key).is_ok()
        });
        let sub_revoked = sub.signatures.iter().any(|s| {
            s.typ() == Some(SignatureType::SubkeyRevocation)
                && s.verify_subkey_binding(primary, &sub.key).is_ok()
        });
        let sub_created: SystemTime = sub.key.created_at().into();
        let unusable = primary_problem.clone().or_else(|| {
            if sub_revoked {
                Some(format!("subkey {fp} of {primary_fp} ({name}) is revoked"))
            } else {
                match binding {
                    None => Some(format!(
                        "subkey {fp} of {primary_fp} ({name}) is not bound to its key"
                    )),
                    Some(b)
                        if expired(
                            sub_created,
                            b.key_expiration_time().map(Duration::from),
                            now,
                        ) =>
                    {
                        Some(format!("subkey {fp} of {primary_fp} ({name}) has expired"))
                    }
                    Some(b) if !allows_signing(b) => {
                        Some(format!("subkey {fp} of {primary_fp} ({name}) may not sign data (its key flags say so)"))
                    }
                    // RFC 4880 §11.1: a signing subkey must cross-certify its primary.
                    Some(b)
                        if b.embedded_signature().is_none_or(|back| back.verify_primary_key_binding(&sub.key, primary).is_err()) =>
                    {
                        Some(format!("subkey {fp} of {primary_fp} ({name}) has no valid back-signature"))
                    }
                    Some(_) => None,
                }
            }
        });
        out.push(TrustedKey {
            name: name.to_owned(),
            fingerprint: fp,
            key: KeyRef::Subkey(sub.key.clone()),
            unusable,
        });
    }
    out
}

/// Allowed clock skew for a signature's creation time.
const FUTURE_SLACK: Duration = Duration::from_mins(5);

/// Why a signature's own times make it unusable at `now`: missing or in the future, or
/// past its signature expiration time (which rpgp does not check).
fn signature_time_problem(signature: &Signature, now: SystemTime) -> Option<String> {
    let Some(created) = signature.created().map(SystemTime::from) else {
        return Some("it has no creation time".into());
    };
    if created > now + FUTURE_SLACK {
        return Some("it is dated in the future".into());
    }
    let validity = signature.signature_expiration_time().map(Duration::from);
    if expired(created, validity, now) {
        return Some("the signature has expired".into());
    }
    None
}

/// A release whose signature verified.
#[derive(Debug, Clone)]
pub struct VerifiedRelease {
    /// The signed text (the `Release` fields), with the signature framing removed.
    pub text: String,
    /// Fingerprints of the keys whose signatures counted, sorted.
    pub signers: Vec<String>,
}

/// Verifies an `InRelease` file against `keyring` (see the module docs for the rules).
pub fn verify_inrelease(
    inrelease: &str,
    keyring: &Keyring,
) -> Result<VerifiedRelease, SignatureError> {
    let (message, _) = CleartextSignedMessage::from_string(inrelease)
        .map_err(|e| SignatureError::Malformed(e.to_string()))?;
    let signed = message.signed_text();
    let mut signers = Vec::new();
    let mut reasons = Vec::new();
    for signature in message.signatures() {
        let Some(trusted) = keyring.find(signature) else {
            let issuer: Vec<String> = signature
                .issuer_fingerprint()
                .iter()
                .map(|f| hex(f.as_bytes()))
                .collect();
            reasons.push(format!("signature by unknown key {}", issuer.join(",")));
            continue;
        };
        // The hash first: a weak-hash signature is not counted, whether or not it
        // would verify (and rpgp may refuse to verify it at all).
        let strong = matches!(
            signature.hash_alg(),
            Some(
                HashAlgorithm::Sha256
                    | HashAlgorithm::Sha384
                    | HashAlgorithm::Sha512
                    | HashAlgorithm::Sha3_256
                    | HashAlgorithm::Sha3_512
            )
        );
        if !strong {
            reasons.push(format!(
                "signature by {} uses a weak hash ({:?}; SHA-256 or stronger is required)",
                trusted.fingerprint,
                signature.hash_alg()
            ));
            continue;
        }
        let verified = match &trusted.key {
            KeyRef::Primary(k) => signature.verify(k, signed.as_bytes()),
            KeyRef::Subkey(k) => signature.verify(k, signed.as_bytes()),
        };
        if verified.is_err() {
            return Err(SignatureError::BadSignature {
                fingerprint: trusted.fingerprint.clone(),
            });
        }
        if let Some(problem) = &trusted.unusable {
            reasons.push(format!("signature by {problem}"));
            continue;
        }
        if let Some(problem) = signature_time_problem(signature, keyring.now) {
            reasons.push(format!("signature by {}: {problem}", trusted.fingerprint));
            continue;
        }
        signers.push(trusted.fingerprint.clone());
    }
    if signers.is_empty() {
        if reasons.is_empty() {
            reasons.push("the file has no signatures".into());
        }
        return Err(SignatureError::NoTrustedSignature { reasons });
    }
    signers.sort();
    signers.dedup();
    // The signed text is CRLF-normalized for hashing; give back Unix lines.
    Ok(VerifiedRelease {
        text: signed.replace("\r\n", "\n"),
        signers,
    })
}
