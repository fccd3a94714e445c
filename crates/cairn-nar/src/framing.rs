//! NAR-style framing for cairn's small canonical formats (NAR listings, permissions
//! manifests): u64 little-endian integers, and byte strings framed as a u64 length, the
//! bytes, and zero padding to a multiple of 8, exactly like NAR tokens. One encoding
//! means one strict parser, used by every format built on it.

/// Appends a u64, little-endian.
pub fn put_u64(out: &mut Vec<u8>, value: u64) {
    out.extend_from_slice(&value.to_le_bytes());
}

/// Appends a framed byte string.
pub fn put_str(out: &mut Vec<u8>, bytes: &[u8]) {
    put_u64(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
    out.resize(out.len() + crate::encode::padding(bytes.len() as u64), 0);
}

/// Why framed bytes were refused, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} at byte {offset}")]
pub struct FramingError {
    pub offset: usize,
    pub what: String,
}

/// A strict reader of framed bytes: no short reads, no non-zero padding, no trailing
/// bytes (see [`FramedReader::finish`]).
#[derive(Debug)]
pub struct FramedReader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> FramedReader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, at: 0 }
    }

    /// An error at the current offset.
    pub fn error(&self, what: impl Into<String>) -> FramingError {
        FramingError {
            offset: self.at,
            what: what.into(),
        }
    }

    /// The next `n` raw bytes.
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], FramingError> {
        let end = self
            .at
            .checked_add(n)
            .ok_or_else(|| self.error("length out of range"))?;
        let out = self
            .bytes
            .get(self.at..end)
            .ok_or_else(|| self.error("truncated"))?;
        self.at = end;
        Ok(out)
    }

    pub fn u64(&mut self) -> Result<u64, FramingError> {
        Ok(u64::from_le_bytes(
            self.bytes(8)?.try_into().expect("8 bytes"),
        ))
    }

    pub fn u32(&mut self) -> Result<u32, FramingError> {
        let value = self.u64()?;
        u32::try_from(value).map_err(|_| self.error("value out of range"))
    }

    /// A framed byte string.
    pub fn str(&mut self) -> Result<&'a [u8], FramingError> {
        let len = usize::try_from(self.u64()?).map_err(|_| self.error("length out of range"))?;
        let out = self.bytes(len)?;
        let pad = crate::encode::padding(len as u64);
        if self.bytes(pad)?.iter().any(|&b| b != 0) {
            return Err(self.error("non-zero padding"));
        }
        Ok(out)
    }

    /// A framed byte string that must sort strictly after `last` (canonical formats
    /// list keys in order, once each); updates `last`.
    pub fn str_ascending(
        &mut self,
        last: &mut Option<&'a [u8]>,
        what: &str,
    ) -> Result<&'a [u8], FramingError> {
        let key = self.str()?;
        if last.is_some_and(|l| l >= key) {
            return Err(self.error(format!("{what} out of order or repeated")));
        }
        *last = Some(key);
        Ok(key)
    }

    /// Checks a format's magic string.
    pub fn magic(&mut self, magic: &[u8]) -> Result<(), FramingError> {
        if self.str()? == magic {
            Ok(())
        } else {
            Err(FramingError {
                offset: 0,
                what: "unknown format or version".into(),
            })
        }
    }

    /// Succeeds only if everything was read.
    pub fn finish(self) -> Result<(), FramingError> {
        if self.at == self.bytes.len() {
            Ok(())
        } else {
            Err(self.error("trailing bytes"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let mut out = Vec::new();
        put_str(&mut out, b"magic-v1");
        put_u64(&mut out, 2);
        put_str(&mut out, b"a");
        put_str(&mut out, b"bb");
        out
    }

    #[test]
    fn reads_back_what_was_written() {
        let bytes = sample();
        let mut r = FramedReader::new(&bytes);
        r.magic(b"magic-v1").unwrap();
        assert_eq!(r.u64().unwrap(), 2);
        let mut last = None;
        assert_eq!(r.str_ascending(&mut last, "keys").unwrap(), b"a");
        assert_eq!(r.str_ascending(&mut last, "keys").unwrap(), b"bb");
        r.finish().unwrap();
    }

    #[test]
    fn refuses_truncation_padding_order_and_trailing_bytes() {
        let bytes = sample();
        for cut in 0..bytes.len() {
            let mut r = FramedReader::new(&bytes[..cut]);
            let ok = r
                .magic(b"magic-v1")
                .and_then(|()| r.u64())
                .and_then(|_| r.str())
                .and_then(|_| r.str());
            assert!(ok.is_err(), "cut at {cut}");
        }
        let mut bad_pad = bytes.clone();
        let pad_at = 8 + 8 + 8 + 8 + 1; // first padding byte after "a"
        bad_pad[pad_at] = 1;
        let mut r = FramedReader::new(&bad_pad);
        r.magic(b"magic-v1").unwrap();
        r.u64().unwrap();
        assert!(r.str().unwrap_err().what.contains("padding"));
        let mut r = FramedReader::new(&bytes);
        r.magic(b"magic-v1").unwrap();
        r.u64().unwrap();
        let mut last = Some(&b"z"[..]);
        assert!(
            r.str_ascending(&mut last, "keys")
                .unwrap_err()
                .what
                .contains("out of order")
        );
        let mut longer = bytes.clone();
        longer.push(0);
        let mut r = FramedReader::new(&longer);
        r.magic(b"magic-v1").unwrap();
        r.u64().unwrap();
        r.str().unwrap();
        r.str().unwrap();
        assert!(r.finish().is_err());
        assert!(FramedReader::new(&bytes).magic(b"other-v2").is_err());
    }
}
