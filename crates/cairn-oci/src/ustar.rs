//! The bytes of a tar stream: ustar headers, pax extended headers and file data, as
//! [`crate::layer`] describes them.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};

use crate::layer::{BLOCK, EntryKind, LayerEntry, LayerError, octal_max, shown};

/// Writes `value` as zero-padded octal digits and a NUL filling `field`, as GNU tar and
/// Go do; returns `false` (leaving the field alone) when it does not fit.
pub(crate) fn put_octal(field: &mut [u8], value: u64) -> bool {
    if value > octal_max(field.len()) {
        return false;
    }
    let digits = format!("{value:0width$o}", width = field.len() - 1);
    field[..digits.len()].copy_from_slice(digits.as_bytes());
    field[digits.len()] = 0;
    true
}

/// Copies `bytes` into a NUL-padded string field; the caller checks the length.
pub(crate) fn put_bytes(field: &mut [u8], bytes: &[u8]) {
    field[..bytes.len()].copy_from_slice(bytes);
}

/// An ASCII rendering of a name that needs a pax record, for readers that ignore pax:
/// non-ASCII bytes become `_`.
pub(crate) fn ascii_fallback(name: &[u8]) -> Vec<u8> {
    name.iter()
        .map(|&b| if b.is_ascii() { b } else { b'_' })
        .collect()
}

/// Splits `name` into ustar `(prefix, name)`, at the last `/` that leaves a prefix of
/// at most 155 bytes (Go's `splitUSTARPath`), or `None` when no split fits.
pub(crate) fn split_ustar(name: &[u8]) -> Option<(&[u8], &[u8])> {
    const NAME: usize = 100;
    const PREFIX: usize = 155;
    if name.len() <= NAME {
        return Some((&[], name));
    }
    // A directory's trailing `/` is part of the name, never the split point.
    let searched = &name[..name.len().min(PREFIX + 1).min(name.len() - 1)];
    let i = searched.iter().rposition(|&b| b == b'/')?;
    let (prefix, rest) = (&name[..i], &name[i + 1..]);
    (i > 0 && !rest.is_empty() && rest.len() <= NAME).then_some((prefix, rest))
}

/// Sets `prefix` and `name` of `header`; returns `false` when `name` must go in a pax
/// record, after setting an ASCII fallback.
pub(crate) fn set_name(header: &mut tar::UstarHeader, name: &[u8]) -> bool {
    if name.is_ascii()
        && let Some((prefix, rest)) = split_ustar(name)
    {
        put_bytes(&mut header.prefix, prefix);
        put_bytes(&mut header.name, rest);
        return true;
    }
    let fallback = ascii_fallback(name);
    if let Some((prefix, rest)) = split_ustar(&fallback) {
        put_bytes(&mut header.prefix, prefix);
        put_bytes(&mut header.name, rest);
    } else {
        let len = header.name.len();
        put_bytes(&mut header.name, &fallback[..len]);
    }
    false
}

/// Appends the pax record `"<len> <key>=<value>\n"`, where `<len>` counts every byte
/// of the record, its own digits included.
pub(crate) fn put_pax_record(records: &mut Vec<u8>, key: &str, value: &[u8]) {
    let rest = 1 + key.len() + 1 + value.len() + 1;
    let mut len = rest;
    loop {
        let next = rest + len.to_string().len();
        if next == len {
            break;
        }
        len = next;
    }
    records.extend_from_slice(format!("{len} {key}=").as_bytes());
    records.extend_from_slice(value);
    records.push(b'\n');
}

/// Sets the ustar checksum: the sum of the header's bytes with the checksum field read
/// as spaces, written as six octal digits, a NUL and a space (as GNU tar and Go do).
pub(crate) fn set_checksum(header: &mut tar::Header) {
    let ustar = header.as_ustar_mut().expect("the header is ustar");
    ustar.cksum = [b' '; 8];
    let sum: u32 = header.as_bytes().iter().map(|&b| u32::from(b)).sum();
    let ustar = header.as_ustar_mut().expect("the header is ustar");
    let digits = format!("{sum:06o}");
    ustar.cksum[..6].copy_from_slice(digits.as_bytes());
    ustar.cksum[6] = 0;
    ustar.cksum[7] = b' ';
}

/// A ustar header with every numeric field zero and the given type.
pub(crate) fn blank_header(typeflag: tar::EntryType) -> tar::Header {
    let mut header = tar::Header::new_ustar();
    let ustar = header.as_ustar_mut().expect("the header is ustar");
    for field in [
        &mut ustar.mode[..],
        &mut ustar.uid,
        &mut ustar.gid,
        &mut ustar.size,
        &mut ustar.mtime,
        &mut ustar.dev_major,
        &mut ustar.dev_minor,
    ] {
        put_octal(field, 0);
    }
    ustar.typeflag = [typeflag.as_byte()];
    header
}

pub(crate) fn write_padding(tar: &mut impl Write, len: u64) -> io::Result<()> {
    let partial = usize::try_from(len % BLOCK as u64).expect("less than a block");
    if partial == 0 {
        Ok(())
    } else {
        tar.write_all(&[0; BLOCK][partial..])
    }
}

/// Writes one entry: its pax header when it needs one, its header, its data.
pub(crate) fn write_entry(
    tar: &mut impl Write,
    entry: &LayerEntry,
    mtime: u64,
    buffer: &mut [u8],
) -> Result<(), LayerError> {
    use tar::EntryType;

    let (typeflag, size, link, device) = match &entry.kind {
        EntryKind::Directory => (EntryType::Directory, 0, None, None),
        EntryKind::File { size, .. } => (EntryType::Regular, *size, None, None),
        EntryKind::Bytes(bytes) => (EntryType::Regular, bytes.len() as u64, None, None),
        EntryKind::Symlink { target } => (EntryType::Symlink, 0, Some(target), None),
        EntryKind::HardLink { target } => (EntryType::Link, 0, Some(target), None),
        EntryKind::CharDevice { major, minor } => {
            (EntryType::Char, 0, None, Some((*major, *minor)))
        }
        EntryKind::BlockDevice { major, minor } => {
            (EntryType::Block, 0, None, Some((*major, *minor)))
        }
        EntryKind::Fifo => (EntryType::Fifo, 0, None, None),
    };
    let mut name = entry.path.clone();
    if typeflag == EntryType::Directory {
        name.push(b'/');
    }

    let mut pax: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut header = blank_header(typeflag);
    let ustar = header.as_ustar_mut().expect("the header is ustar");
    if !set_name(ustar, &name) {
        pax.insert("path".into(), name.clone());
    }
    put_octal(&mut ustar.mode, u64::from(entry.mode & 0o7777));
    for (key, field, value) in [
        ("uid", &mut ustar.uid[..], u64::from(entry.uid)),
        ("gid", &mut ustar.gid[..], u64::from(entry.gid)),
        ("size", &mut ustar.size[..], size),
        ("mtime", &mut ustar.mtime[..], mtime),
    ] {
        if !put_octal(field, value) {
            pax.insert(key.into(), value.to_string().into_bytes());
        }
    }
    if let Some(target) = link {
        if target.is_ascii() && target.len() <= ustar.linkname.len() {
            put_bytes(&mut ustar.linkname, target);
        } else {
            let fallback = ascii_fallback(target);
            let len = fallback.len().min(ustar.linkname.len());
            put_bytes(&mut ustar.linkname, &fallback[..len]);
            pax.insert("linkpath".into(), target.clone());
        }
    }
    if let Some((major, minor)) = device {
        // Checked by `check_entries`.
        let fits = put_octal(&mut ustar.dev_major, major.into())
            && put_octal(&mut ustar.dev_minor, minor.into());
        assert!(fits, "device numbers were checked");
    }
    for (key, value) in &entry.xattrs {
        pax.insert(format!("SCHILY.xattr.{key}"), value.clone());
    }
    set_checksum(&mut header);

    if !pax.is_empty() {
        write_pax_header(tar, &entry.path, &pax, mtime).map_err(LayerError::Write)?;
    }
    tar.write_all(header.as_bytes())
        .map_err(LayerError::Write)?;
    match &entry.kind {
        EntryKind::Bytes(bytes) => tar.write_all(bytes).map_err(LayerError::Write)?,
        EntryKind::File { source, size } => copy_source(tar, entry, source, *size, buffer)?,
        _ => {}
    }
    write_padding(tar, size).map_err(LayerError::Write)
}

/// Writes a pax extended header (`x`) carrying `records` for the entry at `path`.
pub(crate) fn write_pax_header(
    tar: &mut impl Write,
    path: &[u8],
    records: &BTreeMap<String, Vec<u8>>,
    mtime: u64,
) -> io::Result<()> {
    let mut data = Vec::new();
    for (key, value) in records {
        put_pax_record(&mut data, key, value);
    }
    let mut header = blank_header(tar::EntryType::XHeader);
    let ustar = header.as_ustar_mut().expect("the header is ustar");
    // The name is for readers without pax, which extract the records as a file.
    let basename = path.rsplit(|&b| b == b'/').next().unwrap_or(path);
    let mut name = b"PaxHeaders/".to_vec();
    name.extend(ascii_fallback(basename));
    name.truncate(ustar.name.len());
    put_bytes(&mut ustar.name, &name);
    put_octal(&mut ustar.mode, 0o644);
    let size_fits = put_octal(&mut ustar.size, data.len() as u64);
    assert!(size_fits, "pax records of an entry fit in 8 GiB");
    // An mtime beyond the field is in the records; this header keeps 0.
    put_octal(&mut ustar.mtime, mtime);
    set_checksum(&mut header);
    tar.write_all(header.as_bytes())?;
    tar.write_all(&data)?;
    write_padding(tar, data.len() as u64)
}

pub(crate) const COPY_BUFFER: usize = 64 * 1024;

/// Copies a file source into the tar stream, checking it has exactly `size` bytes,
/// before and while it is read.
pub(crate) fn copy_source(
    tar: &mut impl Write,
    entry: &LayerEntry,
    source: &std::path::Path,
    size: u64,
    buffer: &mut [u8],
) -> Result<(), LayerError> {
    let read_error = |source_err| LayerError::Read {
        entry: shown(&entry.path),
        source_path: source.to_owned(),
        source: source_err,
    };
    let mismatch = |actual| LayerError::SizeMismatch {
        entry: shown(&entry.path),
        source_path: source.to_owned(),
        expected: size,
        actual,
    };
    let mut file = fs_err::File::open(source).map_err(read_error)?;
    let metadata = file.metadata().map_err(read_error)?;
    if !metadata.is_file() {
        return Err(LayerError::NotARegularFile {
            entry: shown(&entry.path),
            source_path: source.to_owned(),
        });
    }
    if metadata.len() != size {
        return Err(mismatch(metadata.len()));
    }
    let mut copied = 0u64;
    while copied < size {
        let want =
            usize::try_from(size - copied).map_or(buffer.len(), |left| left.min(buffer.len()));
        let n = match file.read(&mut buffer[..want]) {
            Ok(0) => return Err(mismatch(copied)),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(read_error(e)),
        };
        tar.write_all(&buffer[..n]).map_err(LayerError::Write)?;
        copied += n as u64;
    }
    // The file grew while it was read.
    let extra = io::copy(&mut file, &mut io::sink()).map_err(read_error)?;
    if extra > 0 {
        return Err(mismatch(size + extra));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_record_length_counts_its_own_digits() {
        // Record lengths around the 1→2 and 2→3 digit boundaries.
        for value_len in 0..120 {
            let mut records = Vec::new();
            put_pax_record(&mut records, "k", &vec![b'v'; value_len]);
            let (len, _) = std::str::from_utf8(&records)
                .unwrap()
                .split_once(' ')
                .unwrap();
            assert_eq!(len.parse::<usize>().unwrap(), records.len(), "{value_len}");
        }
    }

    #[test]
    fn ustar_split() {
        let long = [vec![b'a'; 150], b"/".to_vec(), vec![b'b'; 99]].concat();
        assert_eq!(split_ustar(&long), Some((&long[..150], &long[151..])));
        // No room for the prefix.
        let too_long = [vec![b'a'; 160], b"/b".to_vec()].concat();
        assert_eq!(split_ustar(&too_long), None);
        // A directory's trailing slash is never the split point.
        let dir = [vec![b'a'; 120], b"/".to_vec()].concat();
        assert_eq!(split_ustar(&dir), None);
        // Nor is a name longer than 100 bytes after the split.
        let name = [b"a/".to_vec(), vec![b'b'; 101]].concat();
        assert_eq!(split_ustar(&name), None);
    }

    #[test]
    fn octal_fields() {
        let mut field = [0xffu8; 8];
        assert!(put_octal(&mut field, 0o755));
        assert_eq!(&field, b"0000755\0");
        assert!(put_octal(&mut field, 2_097_151));
        assert!(!put_octal(&mut field, 2_097_152));
    }
}
