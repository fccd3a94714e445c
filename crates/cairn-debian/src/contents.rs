//! Which package ships a file: the suites' signed `Contents-<arch>.gz` indexes.
//!
//! Used to name the package that provides a shared library an image lacks. A Contents
//! index is large (trixie's `main/Contents-amd64.gz` is 12.7 MB, 170 MB unpacked), so
//! it is fetched only when asked for, checked against the signed `Release` like every
//! other index, and kept in the store compressed, as a fixed-output object named by its
//! SHA-256; offline, a Contents index the store does not have yet gives no answer.
//!
//! The format (Debian Policy does not define it; `dak` writes it and `apt-file` reads
//! it): one line per file, `PATH` then white space then a comma-separated list of
//! `[area/]section/package`, paths relative to `/` and without a header.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};

use cairn_store::Store;
use flate2::bufread::MultiGzDecoder;

use crate::packages::Repository;
use crate::repo::{RepoContext, RepoError, add_file, fetch_signed};

/// The packages of `repository`'s suites that ship a file named `file_name` in a
/// library directory (`usr/lib/<triplet>`, `lib/<triplet>`, `usr/lib`, `lib`,
/// `usr/lib64`, `lib64` and their subdirectories), sorted, without duplicates; packages
/// whose copy is in one of the first four directories come first.
pub fn library_providers(
    context: &RepoContext<'_>,
    repository: &Repository,
    file_name: &str,
    triplet: &str,
) -> Result<Vec<String>, RepoError> {
    // A library name is one path component (an empty one would match every line).
    if file_name.is_empty() || file_name.contains('/') {
        return Ok(Vec::new());
    }
    let arch = repository.arch.clone();
    let standard: Vec<String> = [
        format!("usr/lib/{triplet}"),
        format!("lib/{triplet}"),
        "usr/lib".into(),
        "lib".into(),
    ]
    .into();
    let mut first = BTreeSet::new();
    let mut other = BTreeSet::new();
    for suite in &repository.suites {
        for component in &suite.source.components {
            let path = format!("{component}/Contents-{arch}.gz");
            let Ok(entry) = suite.release.file(&path) else {
                continue;
            };
            let object = Store::fixed_path(&format!("Contents-{arch}.gz"), &entry.sha256)?;
            // Temp-rooted before it is looked for, so a collection in between cannot
            // take it (an object added below is temp-rooted by the add).
            let present = context
                .store
                .add_temp_roots(std::slice::from_ref(&object))?;
            if present.is_empty() {
                if context.fetcher.options().offline {
                    continue;
                }
                let bytes = fetch_signed(context, &suite.source, &suite.release, &path)?;
                add_file(context.store, &format!("Contents-{arch}.gz"), &bytes)?;
            }
            let file = fs_err::File::open(context.store.object_dir(&object))?;
            let reader =
                BufReader::with_capacity(1 << 16, MultiGzDecoder::new(BufReader::new(file)));
            scan(reader, file_name, &mut |dir, packages| {
                let set = if standard.iter().any(|s| s == dir) {
                    &mut first
                } else if is_library_dir(dir) {
                    &mut other
                } else {
                    return;
                };
                set.extend(packages.split(',').filter_map(|p| {
                    let name = p.trim().rsplit('/').next()?;
                    (!name.is_empty()).then(|| name.to_owned())
                }));
            })
            .map_err(|e| RepoError::Decompress {
                url: format!("{}/{path}", suite.source.dists_url()),
                message: e.to_string(),
            })?;
        }
    }
    let mut providers: Vec<String> = first.iter().cloned().collect();
    providers.extend(other.into_iter().filter(|p| !first.contains(p)));
    Ok(providers)
}

fn is_library_dir(dir: &str) -> bool {
    if dir == "usr/lib/debug" || dir.starts_with("usr/lib/debug/") {
        return false;
    }
    ["usr/lib", "lib", "usr/lib64", "lib64"]
        .iter()
        .any(|base| dir == *base || dir.strip_prefix(base).is_some_and(|r| r.starts_with('/')))
}

/// Calls `found(directory, packages)` for each line of a Contents index whose path's
/// last component is `file_name`.
fn scan(
    mut reader: impl BufRead,
    file_name: &str,
    found: &mut dyn FnMut(&str, &str),
) -> std::io::Result<()> {
    let needle = file_name.as_bytes();
    if needle.is_empty() {
        return Ok(());
    }
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        // Cheap test first: almost no line names the file.
        if !line.windows(needle.len()).any(|w| w == needle) {
            continue;
        }
        let Ok(text) = std::str::from_utf8(&line) else {
            continue;
        };
        let text = text.trim_end();
        // Paths may contain spaces; the package list may not.
        let Some((path, packages)) = text.rsplit_once([' ', '\t']) else {
            continue;
        };
        let path = path.trim_end();
        let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
        if name == file_name {
            found(dir, packages);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_finds_the_file_by_its_last_component() {
        let index = "usr/lib/x86_64-linux-gnu/libssl.so.3                     libs/libssl3t64\n\
                     usr/lib/x86_64-linux-gnu/libssl.so.3.0                   libs/other\n\
                     usr/share/doc/a file with spaces/libssl.so.3             doc/odd,non-free/doc/odder\n\
                     usr/lib/debug/.build-id/libssl.so                        debug/libssl3t64-dbgsym\n";
        let mut hits = Vec::new();
        scan(index.as_bytes(), "libssl.so.3", &mut |dir, packages| {
            hits.push((dir.to_owned(), packages.to_owned()));
        })
        .unwrap();
        assert_eq!(
            hits,
            [
                ("usr/lib/x86_64-linux-gnu".into(), "libs/libssl3t64".into()),
                (
                    "usr/share/doc/a file with spaces".into(),
                    "doc/odd,non-free/doc/odder".into()
                ),
            ]
        );
    }

    #[test]
    fn an_empty_name_matches_nothing() {
        let mut hits = 0;
        scan(&b"usr/lib/x libs/x\n"[..], "", &mut |_, _| hits += 1).unwrap();
        assert_eq!(hits, 0);
    }

    #[test]
    fn library_dirs() {
        assert!(is_library_dir("usr/lib/x86_64-linux-gnu/pulseaudio"));
        assert!(is_library_dir("lib64"));
        assert!(!is_library_dir("usr/libexec"));
        assert!(!is_library_dir("usr/share/doc"));
        assert!(!is_library_dir("usr/lib/debug/.build-id/ab"));
    }
}
