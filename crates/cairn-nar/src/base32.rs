//! Nix's base-32 encoding ("nixbase32").
//!
//! The alphabet omits `e o t u` and digits are read from the *end* of the byte string:
//! the first character encodes the most significant 5 bits of the last byte. This is
//! not RFC 4648 base32; it matches `nix hash to-base32` and store path hashes
//! (see Nix `src/libutil/hash.cc`, `printHash32`).

use crate::NarError;

/// The 32 characters of nixbase32, in digit order.
pub const ALPHABET: &[u8; 32] = b"0123456789abcdfghijklmnpqrsvwxyz";

/// Length of the nixbase32 encoding of `len` bytes.
pub const fn encoded_len(len: usize) -> usize {
    if len == 0 { 0 } else { (len * 8 - 1) / 5 + 1 }
}

/// Encodes bytes as nixbase32.
pub fn encode(bytes: &[u8]) -> String {
    let len = encoded_len(bytes.len());
    let mut out = String::with_capacity(len);
    for n in (0..len).rev() {
        let b = n * 5;
        let i = b / 8;
        let j = b % 8;
        let low = u16::from(bytes[i]) >> j;
        let high = if i + 1 < bytes.len() {
            u16::from(bytes[i + 1]) << (8 - j)
        } else {
            0
        };
        out.push(char::from(ALPHABET[usize::from((low | high) & 0x1f)]));
    }
    out
}

/// Decodes nixbase32 into exactly `out_len` bytes.
///
/// Rejects characters outside the alphabet, a length that does not match `out_len`,
/// and non-zero bits beyond `out_len` bytes (so every byte string has one encoding).
pub fn decode(text: &str, out_len: usize) -> Result<Vec<u8>, NarError> {
    let invalid = |reason: &str| NarError::InvalidBase32 {
        text: text.to_owned(),
        reason: reason.to_owned(),
    };
    if text.len() != encoded_len(out_len) {
        return Err(invalid(&format!(
            "expected {} characters for {out_len} bytes, found {}",
            encoded_len(out_len),
            text.len()
        )));
    }
    let mut out = vec![0u8; out_len];
    for (n, c) in text.bytes().rev().enumerate() {
        let digit = ALPHABET
            .iter()
            .position(|&a| a == c)
            .ok_or_else(|| invalid(&format!("`{}` is not a nixbase32 character", char::from(c))))?;
        let digit = u16::try_from(digit).expect("alphabet has 32 entries");
        let b = n * 5;
        let i = b / 8;
        let j = b % 8;
        let shifted = digit << j;
        out[i] |= (shifted & 0xff) as u8;
        let carry = (shifted >> 8) as u8;
        if i + 1 < out_len {
            out[i + 1] |= carry;
        } else if carry != 0 {
            return Err(invalid("non-zero bits beyond the end of the value"));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        // `nix hash to-base32 sha256:<hex>`; sha256("") and sha256("abc").
        let empty = data_encoding::HEXLOWER
            .decode(b"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
            .unwrap();
        assert_eq!(
            encode(&empty),
            "0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73"
        );
        let abc = data_encoding::HEXLOWER
            .decode(b"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
            .unwrap();
        assert_eq!(
            encode(&abc),
            "1b8m03r63zqhnjf7l5wnldhh7c134ap5vpj0850ymkq1iyzicy5s"
        );
        assert_eq!(encode(&[]), "");
        assert_eq!(encode(&[0xff]), "7z");
    }

    #[test]
    fn round_trips_every_length() {
        for len in 0..64 {
            let bytes: Vec<u8> = (0..len)
                .map(|i| u8::try_from((i * 37 + 11) % 256).unwrap())
                .collect();
            let text = encode(&bytes);
            assert_eq!(decode(&text, len).unwrap(), bytes, "length {len}");
        }
    }

    #[test]
    fn rejects_bad_input() {
        assert!(decode("0e", 1).is_err(), "e is not in the alphabet");
        assert!(decode("000", 1).is_err(), "wrong length");
        // "8z" would need a ninth bit for a single byte.
        assert!(decode("8z", 1).is_err(), "excess bits");
    }
}
