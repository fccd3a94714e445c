//! The index client: project pages (PEP 691 JSON, PEP 503 HTML) and wheels' core
//! metadata, fetched for the resolver a level of the dependency graph at a time.
//!
//! The extra indexes are asked first, in order, and the default index last; a project
//! comes from the first index that has it, never a mix (as uv does). So a name on
//! PyPI cannot take the place of a private package on an extra index (the
//! "dependency confusion" attack), and an extra index of special builds (PyTorch's)
//! wins over PyPI for what it has. An index that answers 401, 403, 404 or 410 for a
//! project does not have it.
//!
//! Core metadata (PEP 658/714) is kept in the store as fixed-output objects named by
//! the wheel and addressed by the SHA-256 the page gives, so a second lock reads it
//! from the store; a wheel without a separate metadata file is downloaded whole,
//! kept as a verified blob (the build will install it) and its `METADATA` read from
//! it. Pages are fetched every time: they are what changes.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use cairn_fetch::{Download, Expected, FetchError, FetchReporter, Fetcher, Request, Response};
use cairn_store::{AddOptions, Addressing, Store, StoreError, sanitize_name};
use sha2::{Digest, Sha256};
use url::Url;

use crate::candidates::{CandidateVersion, Candidates, WheelCandidate};
use crate::resolve::{PackageSource, SourceError, SourceErrorKind};
use crate::simple::{CoreMetadataFile, parse_project_page};
use crate::{CompatibleTags, Metadata, PackageName, Target};

/// The `Accept` header for project pages: JSON preferred, HTML accepted.
pub const ACCEPT: &str = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1";

/// The largest project page accepted (PyPI's biggest are a few MB).
const PAGE_LIMIT: u64 = 64 << 20;
/// The largest core metadata file accepted.
const METADATA_LIMIT: u64 = 16 << 20;

/// A page fetched, or why not (kept, so a failure is not retried in one lock).
type PageResult = Result<Arc<Candidates>, (SourceErrorKind, Option<Url>, Option<Shared>)>;

/// An error kept to be reported again (a page that failed is not fetched twice), its
/// causes intact.
#[derive(Debug, Clone)]
struct Shared(Arc<dyn std::error::Error + Send + Sync>);

impl std::fmt::Display for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Shared {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

impl Shared {
    fn new(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self(Arc::new(error))
    }
}

/// A [`PackageSource`] over HTTP(S) indexes, for one target.
pub struct IndexClient<'a> {
    store: &'a Store,
    fetcher: &'a Fetcher,
    indexes: Vec<Url>,
    target: Target,
    tags: CompatibleTags,
    /// In hash-checking mode: the only files a package may use, by SHA-256.
    allowed: BTreeMap<PackageName, BTreeSet<String>>,
    reporter: Arc<dyn FetchReporter>,
    pages: Mutex<BTreeMap<PackageName, PageResult>>,
    metadata: Mutex<BTreeMap<String, Arc<Metadata>>>,
    /// Metadata files fetched now, to keep in the store: (object name, SHA-256, bytes).
    fetched: Mutex<Vec<(String, String, Vec<u8>)>>,
}

/// Why an index URL is not usable.
#[derive(Debug, thiserror::Error)]
#[error("`{url}` is not an index URL: {reason}")]
pub struct IndexUrlError {
    pub url: String,
    pub reason: String,
}

impl<'a> IndexClient<'a> {
    /// A client for `indexes` (simple API roots, like `https://pypi.org/simple`): the
    /// default index first, then the extra ones, as a `python_env` node lists them
    /// (the client asks the extra ones first). `allowed` limits packages to files of
    /// the given SHA-256s (pip's hash-checking mode).
    pub fn new(
        store: &'a Store,
        fetcher: &'a Fetcher,
        indexes: &[String],
        target: Target,
        allowed: BTreeMap<PackageName, BTreeSet<String>>,
        reporter: Arc<dyn FetchReporter>,
    ) -> Result<Self, IndexUrlError> {
        // The extra indexes first, the default one last.
        let indexes = indexes
            .iter()
            .skip(1)
            .chain(indexes.first())
            .map(|raw| {
                let mut url = Url::parse(raw).map_err(|e| IndexUrlError {
                    url: raw.clone(),
                    reason: e.to_string(),
                })?;
                if !url.path().ends_with('/') {
                    let path = format!("{}/", url.path());
                    url.set_path(&path);
                }
                Ok(url)
            })
            .collect::<Result<Vec<_>, IndexUrlError>>()?;
        if indexes.is_empty() {
            return Err(IndexUrlError {
                url: String::new(),
                reason: "no index is given; the default one is https://pypi.org/simple".into(),
            });
        }
        let tags = CompatibleTags::for_target(&target);
        Ok(Self {
            store,
            fetcher,
            indexes,
            target,
            tags,
            allowed,
            reporter,
            pages: Mutex::new(BTreeMap::new()),
            metadata: Mutex::new(BTreeMap::new()),
            fetched: Mutex::new(Vec::new()),
        })
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Keeps the metadata files fetched so far in the store, in one batch.
    pub fn finish(&self) -> Result<usize, StoreError> {
        let fetched = std::mem::take(
            &mut *self
                .fetched
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        if fetched.is_empty() {
            return Ok(0);
        }
        let batch = self.store.batch()?;
        for (name, sha256, bytes) in &fetched {
            let tree = batch.tree_path()?;
            fs_err::write(tree.path(), bytes)?;
            batch.stage(
                tree,
                &AddOptions {
                    name: Some(name.clone()),
                    addressing: Some(Addressing::Fixed {
                        sha256: sha256.clone(),
                    }),
                    ..AddOptions::default()
                },
            )?;
        }
        batch.commit()
    }

    fn page_url(&self, index: usize, name: &PackageName) -> Url {
        self.indexes[index]
            .join(&format!("{name}/"))
            .expect("a normalized name is a valid path segment")
    }

    /// Fetches the pages of `names` from index `index`, all at once; the names an
    /// index does not have are tried on the next one.
    fn fetch_pages(&self, names: &[PackageName]) {
        let mut pending: Vec<PackageName> = names.to_vec();
        for index in 0..self.indexes.len() {
            if pending.is_empty() {
                return;
            }
            let requests: Vec<Request> = pending
                .iter()
                .map(|name| Request {
                    url: self.page_url(index, name).to_string(),
                    accept: Some(ACCEPT),
                    expected: None,
                    limit: PAGE_LIMIT,
                })
                .collect();
            let results = self.fetcher.get_each(&requests, &self.reporter);
            let mut next = Vec::new();
            let mut pages = self
                .pages
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for ((name, request), result) in pending.into_iter().zip(&requests).zip(results) {
                let url = Url::parse(&request.url).expect("made from a URL");
                match result {
                    Err(FetchError::Status {
                        status: 401 | 403 | 404 | 410,
                        ..
                    }) => {
                        if index + 1 == self.indexes.len() {
                            pages.insert(name, Err((SourceErrorKind::NotFound, Some(url), None)));
                        } else {
                            next.push(name);
                        }
                    }
                    Err(e) => {
                        pages.insert(
                            name,
                            Err((SourceErrorKind::Fetch, Some(url), Some(Shared::new(e)))),
                        );
                    }
                    Ok(response) => {
                        let result = self.candidates_of(&name, &response);
                        pages.insert(name, result);
                    }
                }
            }
            pending = next;
        }
    }

    fn candidates_of(&self, name: &PackageName, response: &Response) -> PageResult {
        // reqwest gives the final URL as a valid URL.
        let url = Url::parse(&response.url).expect("a response's URL parses");
        let mut page = parse_project_page(&response.body, response.content_type.as_deref(), &url)
            .map_err(|e| {
            (
                SourceErrorKind::Invalid,
                Some(url.clone()),
                Some(Shared::new(e)),
            )
        })?;
        if let Some(allowed) = self.allowed.get(name) {
            page.files.retain(|f| {
                f.sha256
                    .as_ref()
                    .is_some_and(|h| allowed.contains(&h.to_string()))
            });
        }
        Ok(Arc::new(Candidates::from_page(
            name,
            &page,
            &self.target,
            &self.tags,
        )))
    }

    /// The metadata of `wheel` from the store, or `None`.
    fn stored_metadata(&self, wheel: &WheelCandidate) -> Option<Vec<u8>> {
        let CoreMetadataFile::Present { sha256: Some(hash) } = &wheel.file.core_metadata else {
            return None;
        };
        let path = Store::fixed_path(&metadata_object_name(wheel), &hash.to_string()).ok()?;
        if !self.store.is_valid(&path).ok()? {
            return None;
        }
        fs_err::read(self.store.object_dir(&path)).ok()
    }

    /// Fetches the metadata of every wheel in `wheels` the store does not have, at once.
    fn fetch_metadata(&self, wheels: &[&WheelCandidate]) -> Vec<Result<Vec<u8>, SourceError>> {
        let mut results: Vec<Option<Result<Vec<u8>, SourceError>>> = Vec::new();
        let mut requests = Vec::new();
        let mut request_slots = Vec::new();
        let mut downloads = Vec::new();
        let mut download_slots = Vec::new();
        for (i, wheel) in wheels.iter().enumerate() {
            if let Some(bytes) = self.stored_metadata(wheel) {
                results.push(Some(Ok(bytes)));
                continue;
            }
            results.push(None);
            if let Some(url) = wheel.file.metadata_url() {
                requests.push(Request {
                    url: url.to_string(),
                    accept: None,
                    expected: None,
                    limit: METADATA_LIMIT,
                });
                request_slots.push(i);
                continue;
            }
            // No separate metadata file: the whole wheel, into the store's downloads
            // (checked against the page's hash, and kept for the build).
            let Some(sha256) = wheel.file.sha256.as_ref().map(ToString::to_string) else {
                results[i] = Some(Err(SourceError::invalid(
                    wheel.file.url.clone(),
                    "the index gives no SHA-256 for this wheel, so cairn cannot lock it",
                )));
                continue;
            };
            match self.store.verified_blob(&sha256, wheel.file.size) {
                Ok(Some(blob)) => {
                    results[i] = Some(metadata_from_file(&blob, wheel));
                }
                Ok(None) => match self.store.blob_staging_path(&sha256) {
                    Ok(dest) => {
                        downloads.push(Download {
                            url: wheel.file.url.to_string(),
                            expected: Expected {
                                size: wheel.file.size,
                                sha256,
                            },
                            dest,
                        });
                        download_slots.push(i);
                    }
                    Err(e) => results[i] = Some(Err(store_error(wheel, e))),
                },
                Err(e) => results[i] = Some(Err(store_error(wheel, e))),
            }
        }
        if !requests.is_empty() {
            let fetched = self.fetcher.get_each(&requests, &self.reporter);
            for ((slot, request), result) in request_slots.into_iter().zip(&requests).zip(fetched) {
                let wheel = wheels[slot];
                results[slot] = Some(self.metadata_bytes(wheel, request, result));
            }
        }
        if !downloads.is_empty() {
            let done: Mutex<BTreeMap<usize, Result<Vec<u8>, SourceError>>> =
                Mutex::new(BTreeMap::new());
            self.fetcher
                .download_each(&downloads, &self.reporter, &|i, result| {
                    let wheel = wheels[download_slots[i]];
                    let job = &downloads[i];
                    let outcome = result
                        .map_err(|e| SourceError::fetch(wheel.file.url.clone(), e))
                        .and_then(|()| {
                            self.store
                                .commit_blob(&job.dest, &job.expected.sha256)
                                .map_err(|e| store_error(wheel, e))
                        })
                        .and_then(|blob| metadata_from_file(&blob, wheel));
                    done.lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .insert(i, outcome);
                });
            for (i, outcome) in done
                .into_inner()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
            {
                results[download_slots[i]] = Some(outcome);
            }
        }
        results
            .into_iter()
            .map(|r| r.expect("every slot is filled"))
            .collect()
    }

    /// The `METADATA` bytes of a fetched `.metadata` file, checked against the hash
    /// the page gives (and kept in the store then).
    fn metadata_bytes(
        &self,
        wheel: &WheelCandidate,
        request: &Request,
        result: Result<Response, FetchError>,
    ) -> Result<Vec<u8>, SourceError> {
        let url = Url::parse(&request.url).expect("made from a URL");
        let response = result.map_err(|e| SourceError::fetch(url.clone(), e))?;
        if let CoreMetadataFile::Present { sha256: Some(hash) } = &wheel.file.core_metadata {
            let actual = data_encoding::HEXLOWER.encode(&Sha256::digest(&response.body));
            let expected = hash.to_string();
            if actual != expected {
                return Err(SourceError::invalid(
                    url,
                    format!("its SHA-256 is {actual}, but the index says {expected}"),
                ));
            }
            self.fetched
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push((metadata_object_name(wheel), actual, response.body.clone()));
        }
        Ok(response.body)
    }

    fn parse_metadata(
        &self,
        wheel: &WheelCandidate,
        bytes: &[u8],
    ) -> Result<Arc<Metadata>, SourceError> {
        let metadata = Metadata::parse(bytes, wheel.file.url.as_ref())
            .map_err(|e| SourceError::invalid(wheel.file.url.clone(), e))?;
        if &metadata.name != wheel.wheel.name() || &metadata.version != wheel.wheel.version() {
            return Err(SourceError::invalid(
                wheel.file.url.clone(),
                format!(
                    "its metadata names {} {}, not the wheel's {} {}",
                    metadata.name,
                    metadata.version,
                    wheel.wheel.name(),
                    wheel.wheel.version()
                ),
            ));
        }
        let metadata = Arc::new(metadata);
        self.metadata
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(wheel.file.filename.clone(), metadata.clone());
        Ok(metadata)
    }
}

impl PackageSource for IndexClient<'_> {
    fn prefetch(&self, names: &[PackageName]) {
        let missing: Vec<PackageName> = {
            let pages = self
                .pages
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let mut seen = BTreeSet::new();
            names
                .iter()
                .filter(|n| !pages.contains_key(*n) && seen.insert((*n).clone()))
                .cloned()
                .collect()
        };
        if missing.is_empty() {
            return;
        }
        self.fetch_pages(&missing);
        // The newest usable wheel of each is what the resolver most likely takes:
        // its metadata now, in the same round trip for all of them.
        let newest: Vec<WheelCandidate> = {
            let pages = self
                .pages
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let known = self
                .metadata
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            missing
                .iter()
                .filter_map(|n| pages.get(n)?.as_ref().ok())
                .filter_map(|c| newest_stable_wheel(c).cloned())
                .filter(|w| !known.contains_key(&w.file.filename))
                .collect()
        };
        let refs: Vec<&WheelCandidate> = newest.iter().collect();
        for (wheel, bytes) in refs.iter().zip(self.fetch_metadata(&refs)) {
            // A failure shows when the resolver asks for it.
            if let Ok(bytes) = bytes {
                let _ = self.parse_metadata(wheel, &bytes);
            }
        }
    }

    fn candidates(&self, name: &PackageName) -> Result<Arc<Candidates>, SourceError> {
        let cached = self
            .pages
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(name)
            .cloned();
        let result = if let Some(result) = cached {
            result
        } else {
            self.fetch_pages(std::slice::from_ref(name));
            self.pages
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .get(name)
                .cloned()
                .expect("fetch_pages records every name")
        };
        result.map_err(|(kind, url, error)| {
            SourceError::new(kind, url, error.map(|e| Box::new(e) as _))
        })
    }

    fn metadata(
        &self,
        _name: &PackageName,
        wheel: &WheelCandidate,
    ) -> Result<Arc<Metadata>, SourceError> {
        if let Some(known) = self
            .metadata
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&wheel.file.filename)
        {
            return Ok(known.clone());
        }
        let bytes = self
            .fetch_metadata(&[wheel])
            .pop()
            .expect("one result per wheel")?;
        self.parse_metadata(wheel, &bytes)
    }
}

/// The newest version's wheel, skipping pre-releases and yanked files.
fn newest_stable_wheel(candidates: &Candidates) -> Option<&WheelCandidate> {
    candidates
        .versions()
        .iter()
        .rev()
        .filter(|(v, _)| !v.any_prerelease())
        .find_map(|(_, c)| match c {
            CandidateVersion::Wheel(w) if !w.is_yanked() => Some(w),
            _ => None,
        })
}

/// The object name of a wheel's core metadata file.
fn metadata_object_name(wheel: &WheelCandidate) -> String {
    sanitize_name(&format!("{}.metadata", wheel.file.filename))
}

fn store_error(wheel: &WheelCandidate, error: StoreError) -> SourceError {
    SourceError::new(
        SourceErrorKind::Fetch,
        Some(wheel.file.url.clone()),
        Some(Box::new(error)),
    )
}

/// `<name>-<version>.dist-info/METADATA` from a downloaded wheel.
fn metadata_from_file(
    path: &std::path::Path,
    wheel: &WheelCandidate,
) -> Result<Vec<u8>, SourceError> {
    crate::metadata::read_from_wheel(path, METADATA_LIMIT)
        .map_err(|reason| SourceError::invalid(wheel.file.url.clone(), reason))
}
