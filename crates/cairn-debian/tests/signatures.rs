//! Signature rules that need keys made for the purpose: SHA-1 signatures and revoked
//! keys are refused, and unknown signers are ignored when a trusted one is good. Keys
//! are generated with a fixed seed, so the tests are deterministic.

#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

use std::time::SystemTime;

use cairn_debian::{Keyring, verify_inrelease};
use pgp::composed::{
    ArmorOptions, CleartextSignedMessage, KeyType, SecretKeyParamsBuilder, SignedPublicKey,
    SignedSecretKey,
};
use pgp::crypto::hash::HashAlgorithm;
use pgp::packet::{SignatureConfig, SignatureType, Subpacket, SubpacketData};
use pgp::types::{KeyDetails, Password, Timestamp};
use rand::SeedableRng;

const RELEASE: &str = "Origin: cairn-test\nSuite: testing\nSHA256:\n 0000000000000000000000000000000000000000000000000000000000000000 0 main/binary-amd64/Packages\n";

fn key(seed: u64) -> SignedSecretKey {
    key_of_type(seed, KeyType::Ed25519Legacy)
}

fn key_of_type(seed: u64, key_type: KeyType) -> SignedSecretKey {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut params = SecretKeyParamsBuilder::default();
    params
        .key_type(key_type)
        .can_sign(true)
        .can_certify(true)
        .primary_user_id("cairn test archive <test@cairn.invalid>".into());
    params.build().unwrap().generate(&mut rng).unwrap()
}

fn sign(key: &SignedSecretKey, hash: HashAlgorithm) -> CleartextSignedMessage {
    sign_at(key, hash, Timestamp::now(), None)
}

/// Signs with an explicit creation time and, optionally, a signature lifetime.
fn sign_at(
    key: &SignedSecretKey,
    hash: HashAlgorithm,
    created: Timestamp,
    lifetime: Option<u32>,
) -> CleartextSignedMessage {
    let mut config = SignatureConfig::v4(SignatureType::Text, key.primary_key.algorithm(), hash);
    config.hashed_subpackets = vec![
        Subpacket::regular(SubpacketData::SignatureCreationTime(created)).unwrap(),
        Subpacket::regular(SubpacketData::IssuerFingerprint(
            key.primary_key.fingerprint(),
        ))
        .unwrap(),
    ];
    if let Some(secs) = lifetime {
        let expiry = SubpacketData::SignatureExpirationTime(pgp::types::Duration::from_secs(secs));
        config
            .hashed_subpackets
            .push(Subpacket::regular(expiry).unwrap());
    }
    CleartextSignedMessage::new(RELEASE, config, &key.primary_key, &Password::empty()).unwrap()
}

fn unix_now() -> u32 {
    u32::try_from(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

#[test]
fn expired_and_future_signatures_are_refused() {
    let secret = key(6);
    let ring = keyring(&secret.to_public_key());
    let now = unix_now();
    // Made an hour ago, valid for ten seconds.
    let stale = sign_at(
        &secret,
        HashAlgorithm::Sha256,
        Timestamp::from_secs(now - 3600),
        Some(10),
    );
    let err = verify_inrelease(&armored(&stale), &ring)
        .map(|r| r.signers)
        .unwrap_err();
    assert!(err.to_string().contains("signature has expired"), "{err}");
    // Made an hour ago, valid for a day: fine.
    let fresh = sign_at(
        &secret,
        HashAlgorithm::Sha256,
        Timestamp::from_secs(now - 3600),
        Some(86_400),
    );
    assert!(verify_inrelease(&armored(&fresh), &ring).is_ok());
    // Dated a day ahead.
    let future = sign_at(
        &secret,
        HashAlgorithm::Sha256,
        Timestamp::from_secs(now + 86_400),
        None,
    );
    let err = verify_inrelease(&armored(&future), &ring)
        .map(|r| r.signers)
        .unwrap_err();
    assert!(err.to_string().contains("dated in the future"), "{err}");
}

fn keyring(public: &SignedPublicKey) -> Keyring {
    let armored = public.to_armored_string(ArmorOptions::default()).unwrap();
    Keyring::from_armored(&[("test", &armored)], SystemTime::now()).unwrap()
}

fn armored(message: &CleartextSignedMessage) -> String {
    message.to_armored_string(ArmorOptions::default()).unwrap()
}

#[test]
fn sha256_signatures_by_a_trusted_key_verify() {
    let secret = key(1);
    let ring = keyring(&secret.to_public_key());
    let release = verify_inrelease(&armored(&sign(&secret, HashAlgorithm::Sha256)), &ring).unwrap();
    assert_eq!(release.text, RELEASE);
    assert_eq!(release.signers.len(), 1);
}

#[test]
fn sha1_signatures_are_refused() {
    // RSA, like Debian's archive keys (rpgp will not make SHA-1 EdDSA signatures).
    let secret = key_of_type(2, KeyType::Rsa(2048));
    let ring = keyring(&secret.to_public_key());
    let err = verify_inrelease(&armored(&sign(&secret, HashAlgorithm::Sha1)), &ring)
        .map(|r| r.signers)
        .unwrap_err();
    assert!(err.to_string().contains("weak hash"), "{err}");
    // RIPEMD-160 and SHA-224 are not strong enough either (an allow-list, not a deny-list).
    for weak in [HashAlgorithm::Ripemd160, HashAlgorithm::Sha224] {
        let err = verify_inrelease(&armored(&sign(&secret, weak)), &ring)
            .map(|r| r.signers)
            .unwrap_err();
        assert!(err.to_string().contains("weak hash"), "{weak:?}: {err}");
    }
    // The same key with SHA-256 is fine: it is the hash that is refused.
    assert!(verify_inrelease(&armored(&sign(&secret, HashAlgorithm::Sha256)), &ring).is_ok());
}

#[test]
fn revoked_keys_are_refused() {
    let secret = key(3);
    let mut public = secret.to_public_key();
    let config = SignatureConfig::v4(
        SignatureType::KeyRevocation,
        secret.primary_key.algorithm(),
        HashAlgorithm::Sha256,
    );
    let mut config = config;
    config.hashed_subpackets = vec![
        Subpacket::regular(SubpacketData::SignatureCreationTime(Timestamp::now())).unwrap(),
        Subpacket::regular(SubpacketData::IssuerFingerprint(
            secret.primary_key.fingerprint(),
        ))
        .unwrap(),
    ];
    let revocation = config
        .sign_key(&secret.primary_key, &Password::empty(), &public.primary_key)
        .unwrap();
    public.details.revocation_signatures.push(revocation);
    let ring = keyring(&public);
    let err = verify_inrelease(&armored(&sign(&secret, HashAlgorithm::Sha256)), &ring)
        .map(|r| r.signers)
        .unwrap_err();
    assert!(err.to_string().contains("is revoked"), "{err}");
}

#[test]
fn unknown_signers_are_ignored_when_a_trusted_one_is_good() {
    let trusted = key(4);
    let stranger = key(5);
    let ring = keyring(&trusted.to_public_key());
    // A message signed by both: verify each signature over the same text.
    let by_trusted = sign(&trusted, HashAlgorithm::Sha256);
    let by_stranger = sign(&stranger, HashAlgorithm::Sha256);
    let both = CleartextSignedMessage::new_many(RELEASE, |_| {
        Ok(vec![
            by_stranger.signatures()[0].clone(),
            by_trusted.signatures()[0].clone(),
        ])
    })
    .unwrap();
    let release = verify_inrelease(&armored(&both), &ring).unwrap();
    assert_eq!(release.signers, vec![format!("{}", hex(&trusted))]);
    // Only the stranger: refused, and the message says so.
    let err = verify_inrelease(&armored(&by_stranger), &ring)
        .map(|r| r.signers)
        .unwrap_err();
    assert!(err.to_string().contains("unknown key"), "{err}");
}

fn hex(key: &SignedSecretKey) -> String {
    data_encoding::HEXLOWER.encode(key.primary_key.fingerprint().as_bytes())
}
