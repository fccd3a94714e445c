//! An image from locked Debian packages: compose the root file system, add the files
//! no package ships, check the entrypoint, plan the layers, write (or reuse) each layer
//! blob, and write the output. Nothing is written to the output before every check
//! passed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use cairn_debian::{DebianLock, Installed, parse_relations};
use cairn_oci::{
    ArchiveFormat, ArchiveImage, BlobSource, Compression, Descriptor, Digest, EntryKind, History,
    ImageConfig, LayerEntry, LayerOptions, MediaType, manifest_json, write_archive,
    write_oci_layout,
};
use cairn_store::{AddOptions, Store, StorePath};
use sha2::{Digest as _, Sha256};

use crate::cache::{self, CachedLayer};
use crate::check::{CheckOptions, check_entrypoint, multiarch_triplet, oci_architecture};
use crate::layers::{PlannedLayer, plan_layers};
use crate::rootfs::{Excludes, Part, Rootfs};
use crate::synth::{self, Account, Group, StatusPackage};

/// Where the image goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// An OCI image layout directory.
    OciDir(PathBuf),
    OciArchive(PathBuf),
    DockerArchive(PathBuf),
}

impl Output {
    /// The directory or file it writes.
    pub fn path(&self) -> &Path {
        match self {
            Self::OciDir(p) | Self::OciArchive(p) | Self::DockerArchive(p) => p,
        }
    }

    /// Parses `oci:DIR`, `oci-archive:FILE` or `docker-archive:FILE`.
    pub fn parse(text: &str) -> Option<Self> {
        let (kind, path) = text.split_once(':')?;
        if path.is_empty() {
            return None;
        }
        let path = PathBuf::from(path);
        match kind {
            "oci" => Some(Self::OciDir(path)),
            "oci-archive" => Some(Self::OciArchive(path)),
            "docker-archive" => Some(Self::DockerArchive(path)),
            _ => None,
        }
    }
}

/// Everything about the image besides its packages.
#[derive(Debug, Clone)]
pub struct ImageSpec {
    /// `name:tag`: the layout's reference and the docker-archive's tag.
    pub name: String,
    /// Entrypoint, cmd, env, …; `user` may be a name, resolved against the accounts.
    /// `architecture` is set from the lock, whatever is given here.
    pub config: ImageConfig,
    /// Accounts besides root, nobody and nonroot.
    pub users: Vec<Account>,
    pub groups: Vec<Group>,
    pub budget: usize,
    pub compression: Compression,
    /// Every timestamp in the image (`SOURCE_DATE_EPOCH`, or a fixed default).
    pub mtime: u64,
    pub excludes: Excludes,
}

/// What goes into an image.
#[derive(Debug, Clone, Copy)]
pub struct Contents<'a> {
    /// The locked Debian packages.
    pub lock: &'a DebianLock,
    /// Their objects, by package name.
    pub installed: &'a Installed,
    /// The application's own parts, in order: `(label, object)`, each an object whose
    /// tree is laid over the image's root (a tree of the project's files, a generated
    /// file). They may overwrite packages' files, and each gets a layer of its own,
    /// last.
    pub application: &'a [(String, StorePath)],
    /// Parts that are layered like packages (by popularity, the least popular sharing a
    /// layer when the budget is short) but come from elsewhere: installed wheels.
    pub libraries: &'a [Library],
}

/// A part of the image layered like a package (see [`Contents::libraries`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Library {
    /// Unique among the image's parts (`pypi:flask`).
    pub label: String,
    pub version: String,
    pub object: StorePath,
    /// How many of the image's parts depend on it, directly or not.
    pub popularity: usize,
}

/// A built image.
#[derive(Debug, Clone)]
pub struct BuiltImage {
    /// The image in the store: an OCI image layout whose layer blobs are links to the
    /// layer objects (its references).
    pub object: StorePath,
    pub manifest: Descriptor,
    /// Each layer, bottom first: what it holds and its blob.
    pub layers: Vec<(PlannedLayer, CachedLayer)>,
    /// How many layer blobs were written now (the rest came from the store).
    pub fresh_layers: usize,
    /// Whether the image's layout was written now (else the store had it).
    pub fresh_image: bool,
}

/// Progress of a build's layer writing. Only layers written now are reported: those
/// found in the store are no work. Called from the threads that write layers. All
/// methods have empty defaults.
pub trait ImageReporter: Send + Sync {
    /// `count` layers are not in the store and are written now; `bytes`, the size of
    /// the file contents they hold (before compression).
    fn on_layers_start(&self, _count: usize, _bytes: u64) {}
    /// A layer was written: what it holds (as the image history says, `libc6
    /// 2.41-12`, `dpkg-status`, `files:/srv`), the size of its file contents (`bytes`)
    /// and its blob's (compressed) `size`.
    fn on_layer_written(&self, _what: &str, _bytes: u64, _size: u64) {}
}

/// An [`ImageReporter`] that reports nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoImageReporter;

impl ImageReporter for NoImageReporter {}

/// Why an image could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Compose(#[from] crate::rootfs::ComposeError),
    #[error(transparent)]
    Synth(#[from] crate::synth::SynthError),
    #[error(transparent)]
    Check(#[from] crate::check::CheckError),
    #[error(transparent)]
    Plan(#[from] crate::layers::PlanError),
    #[error(transparent)]
    Cache(#[from] crate::cache::CacheError),
    #[error(transparent)]
    Layout(#[from] cairn_oci::LayoutError),
    #[error(transparent)]
    Archive(#[from] cairn_oci::ArchiveError),
    #[error(transparent)]
    Store(#[from] cairn_store::StoreError),
    #[error("the lock has package `{0}`, but it is not in the store")]
    NotInstalled(String),
    #[error("{package}: its `Replaces` field does not parse: {reason}")]
    Replaces { package: String, reason: String },
    #[error("the image has no entrypoint and no cmd: give one")]
    NoProgram,
    #[error("unknown architecture `{0}`")]
    Architecture(String),
}

impl BuildError {
    /// A suggestion for the user, when there is one.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::Plan(_) => Some("raise `--layers`".into()),
            Self::Compose(crate::rootfs::ComposeError::Conflict { .. }) => {
                Some("two packages ship different files at one path; leave one of them out".into())
            }
            Self::Check(_) => Some(
                "add the package that provides it, or point the entrypoint at a program the \
                 image has"
                    .into(),
            ),
            _ => None,
        }
    }
}

/// How many packages depend on each one, directly or not.
fn popularity(lock: &DebianLock) -> BTreeMap<&str, usize> {
    let depends: BTreeMap<&str, &[String]> = lock
        .packages
        .iter()
        .map(|p| (p.name.as_str(), p.depends.as_slice()))
        .collect();
    let mut count: BTreeMap<&str, usize> = depends.keys().map(|&n| (n, 0)).collect();
    for &start in depends.keys() {
        let mut seen = BTreeSet::new();
        let mut stack = vec![start];
        while let Some(name) = stack.pop() {
            for dep in depends.get(name).copied().unwrap_or_default() {
                if dep != start && seen.insert(dep.as_str()) {
                    stack.push(dep);
                }
            }
        }
        for dep in seen {
            if let Some(c) = count.get_mut(dep) {
                *c += 1;
            }
        }
    }
    count
}

/// What the build reads from each package's metadata, once.
struct Packages {
    parts: Vec<Part>,
    status: Vec<StatusPackage>,
    /// `(package, postinst)`, for alternatives.
    postinst: Vec<(String, Vec<u8>)>,
}

fn packages(
    store: &Store,
    lock: &DebianLock,
    installed: &Installed,
) -> Result<Packages, BuildError> {
    let versions: BTreeMap<&str, &str> = lock
        .packages
        .iter()
        .map(|p| (p.name.as_str(), p.version.as_str()))
        .collect();
    let mut out = Packages {
        parts: Vec::new(),
        status: Vec::new(),
        postinst: Vec::new(),
    };
    for p in &lock.packages {
        let object = installed
            .get(&p.name)
            .ok_or_else(|| BuildError::NotInstalled(p.name.clone()))?;
        let info = store.info(object)?;
        let control = info
            .metadata
            .get("deb.control")
            .map(|c| String::from_utf8_lossy(c).into_owned());
        if let Some(postinst) = info.metadata.get("deb.script.postinst") {
            out.postinst.push((p.name.clone(), postinst.to_vec()));
        }
        let control = match control {
            Some(control) => {
                out.status.push(StatusPackage {
                    name: p.name.clone(),
                    control: control.clone(),
                    md5sums: info.metadata.get("deb.md5sums").map(<[u8]>::to_vec),
                });
                control
            }
            None => String::new(),
        };
        // `Replaces: foo (<< 2)` lets this package overwrite foo's files only when the
        // locked foo matches the version (found in review: versions were ignored). Only
        // real package names count, as in dpkg's `does_replace`: a virtual name another
        // package Provides does not let anything overwrite that package's files.
        let replaces = match control.lines().find_map(|l| l.strip_prefix("Replaces:")) {
            None => BTreeSet::new(),
            Some(field) => parse_relations(field.trim())
                .map_err(|e| BuildError::Replaces {
                    package: p.name.clone(),
                    reason: e.to_string(),
                })?
                .into_iter()
                .flat_map(|c| c.0)
                .filter(|r| {
                    versions
                        .get(r.name.as_str())
                        .is_none_or(|v| v.parse().is_ok_and(|v| r.accepts(&v)))
                })
                .map(|r| r.name)
                .collect(),
        };
        out.parts.push(Part {
            label: p.name.clone(),
            version: Some(p.version.clone()),
            object: object.clone(),
            replaces,
            application: false,
        });
    }
    Ok(out)
}

impl ImageSpec {
    /// root, nobody and nonroot, then the declared accounts; likewise the groups.
    fn accounts(&self) -> (Vec<Account>, Vec<Group>) {
        let mut users = synth::builtin_accounts();
        users.extend(self.users.iter().cloned());
        let mut groups = synth::builtin_groups();
        groups.extend(self.groups.iter().cloned());
        (users, groups)
    }
}

/// Adds what no package ships: the base directories, accounts, the CA bundle,
/// alternatives and the dpkg status, each in its own layer group.
fn synthesize(
    rootfs: &mut Rootfs,
    users: &[Account],
    groups: &[Group],
    packages: &Packages,
) -> Result<(), BuildError> {
    rootfs.finish();
    for e in synth::base_dirs() {
        rootfs.put_in("base", e)?;
    }
    for e in synth::accounts(users, groups)? {
        rootfs.put_in("accounts", e)?;
    }
    if let Some(bundle) = synth::ca_bundle(rootfs)? {
        for e in bundle {
            rootfs.put_in("ca-certificates", e)?;
        }
    }
    for e in synth::alternatives(&packages.postinst, rootfs) {
        rootfs.put_in("alternatives", e)?;
    }
    for e in synth::dpkg_status(&packages.status)? {
        rootfs.put_in("dpkg-status", e)?;
    }
    Ok(())
}

/// The packages, libraries and application of `contents` composed in that order.
fn compose(
    store: &Store,
    contents: &Contents<'_>,
    excludes: &Excludes,
) -> Result<(Rootfs, Packages), BuildError> {
    let mut packages = packages(store, contents.lock, contents.installed)?;
    let mut parts = std::mem::take(&mut packages.parts);
    parts.extend(contents.libraries.iter().map(|l| Part {
        label: l.label.clone(),
        version: Some(l.version.clone()),
        object: l.object.clone(),
        replaces: BTreeSet::new(),
        application: false,
    }));
    parts.extend(contents.application.iter().map(|(label, object)| Part {
        label: label.clone(),
        version: None,
        object: object.clone(),
        replaces: BTreeSet::new(),
        application: true,
    }));
    let rootfs = Rootfs::compose(store, parts, excludes)?;
    Ok((rootfs, packages))
}

/// The root file system of `contents` as a build step sees it: nothing excluded, the
/// files no package ships (accounts root, nobody and nonroot, alternatives, the CA
/// bundle, the dpkg status) added, as in an image.
pub fn root_filesystem(store: &Store, contents: &Contents<'_>) -> Result<Rootfs, BuildError> {
    let (mut rootfs, packages) = compose(store, contents, &Excludes::none())?;
    synthesize(
        &mut rootfs,
        &synth::builtin_accounts(),
        &synth::builtin_groups(),
        &packages,
    )?;
    Ok(rootfs)
}

/// Builds the image of the locked packages (already in the store) and writes it.
pub fn build(
    store: &Store,
    contents: &Contents<'_>,
    spec: &ImageSpec,
    output: Option<&Output>,
    provider_hint: &dyn Fn(&str) -> Option<String>,
    reporter: &dyn ImageReporter,
) -> Result<BuiltImage, BuildError> {
    let Contents {
        lock, libraries, ..
    } = *contents;
    // The lock's architecture is Debian's name (`armhf`); the config's is OCI's (`arm`).
    let multiarch = multiarch_triplet(&lock.architecture)
        .ok_or_else(|| BuildError::Architecture(lock.architecture.clone()))?;
    let (mut rootfs, packages) = compose(store, contents, &spec.excludes)?;
    let (users, groups) = spec.accounts();
    synthesize(&mut rootfs, &users, &groups, &packages)?;

    // Checks, before anything is written.
    let mut config = spec.config.clone();
    // The packages decide the architecture (the lock's, in Debian's name), not the
    // caller (found in review: `cairn image build --lock` took it from `--arch`).
    oci_architecture(&lock.architecture)
        .ok_or_else(|| BuildError::Architecture(lock.architecture.clone()))?
        .clone_into(&mut config.architecture);
    // The config names the user by number, as distroless does: Kubernetes'
    // `runAsNonRoot` can only verify a numeric user, and the runtime need not read
    // /etc/passwd. (So runtimes add no supplementary groups from /etc/group; programs
    // that call initgroups() still find them.)
    if let Some(user) = &config.user {
        let (users, groups) = spec.accounts();
        let (uid, gid) = synth::resolve_user(user, &users, &groups)?;
        config.user = Some(format!("{uid}:{gid}"));
    }
    let program = config
        .entrypoint
        .as_ref()
        .and_then(|e| e.first())
        .or_else(|| config.cmd.as_ref().and_then(|c| c.first()))
        .ok_or(BuildError::NoProgram)?;
    // `./app` runs from the working directory (a bare name is looked up on PATH).
    let program = match (
        &config.working_dir,
        program.contains('/') && !program.starts_with('/'),
    ) {
        (Some(dir), true) => format!("{}/{program}", dir.trim_end_matches('/')),
        (None, true) => format!("/{program}"),
        _ => program.clone(),
    };
    let path_env = config
        .env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .map(str::to_owned);
    check_entrypoint(
        &rootfs,
        &program,
        &CheckOptions {
            multiarch,
            provider_hint,
            env_path: path_env.as_deref(),
        },
    )?;
    let mut popular = popularity(lock);
    for l in libraries {
        popular.insert(l.label.as_str(), l.popularity);
    }
    let popularity: Vec<usize> = rootfs
        .parts
        .iter()
        .map(|p| popular.get(p.label.as_str()).copied().unwrap_or(0))
        .collect();
    let planned = plan_layers(&rootfs, &popularity, spec.budget)?;

    // Layer blobs: from the store, or written now and kept there.
    let options = LayerOptions {
        compression: spec.compression,
        mtime: spec.mtime,
    };
    let written = write_layers(store, &planned, &options, reporter)?;
    let fresh_layers = written.iter().filter(|(_, fresh)| *fresh).count();
    let layers: Vec<(PlannedLayer, CachedLayer)> = planned
        .into_iter()
        .zip(written)
        .map(|(p, (c, _))| (p, c))
        .collect();
    let (object, fresh_image, manifest) = write_output(store, &config, spec, &layers, output)?;
    Ok(BuiltImage {
        object,
        manifest,
        layers,
        fresh_layers,
        fresh_image,
    })
}

/// Each layer's blob, from the store or written now (`true`): on every core, since
/// compressing is most of a cold build. Every layer is looked up first, so the work is
/// known (and reported) before it starts. The result keeps the layers' order; the error
/// reported is the first layer's, whichever thread met it.
fn write_layers(
    store: &Store,
    planned: &[PlannedLayer],
    options: &LayerOptions,
    reporter: &dyn ImageReporter,
) -> Result<Vec<(CachedLayer, bool)>, BuildError> {
    let sizes: Vec<u64> = planned.iter().map(|l| content_size(&l.entries)).collect();
    // Largest first, so that no big layer starts last and leaves the other cores idle
    // (longest-processing-time scheduling). Looking up hashes every entry, so it runs
    // on every core too.
    let mut order: Vec<usize> = (0..planned.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(sizes[i]));
    let mut found = on_threads(planned.len(), &order, |i| {
        cache::find(store, &planned[i].entries, options)
    })?;
    // Layers the store lacks may come from a binary cache rather than be written.
    let missing: Vec<StorePath> = found
        .iter()
        .filter_map(|lookup| match lookup {
            Some(cache::Lookup::Miss(missing)) => Some(missing.object().clone()),
            _ => None,
        })
        .collect();
    if !missing.is_empty() {
        store.substitute(&missing)?;
        for &i in &order {
            if let Some(cache::Lookup::Miss(miss)) = &found[i]
                && store.is_valid(miss.object())?
            {
                found[i] = Some(cache::find(store, &planned[i].entries, options)?);
            }
        }
    }
    order.retain(|&i| matches!(found[i], Some(cache::Lookup::Miss(_))));
    if order.is_empty() {
        // Nothing to write: no batch (a staging directory, the GC lock) either.
        return Ok(found
            .into_iter()
            .map(|lookup| match lookup {
                Some(cache::Lookup::Hit(cached)) => (cached, false),
                _ => unreachable!("every layer was found"),
            })
            .collect());
    }
    reporter.on_layers_start(order.len(), order.iter().map(|&i| sizes[i]).sum());
    let batch = store.batch()?;
    let written = on_threads(planned.len(), &order, |i| {
        let Some(cache::Lookup::Miss(missing)) = &found[i] else {
            unreachable!("only missing layers are written");
        };
        let what = what_it_holds(&planned[i]);
        let cached = cache::write(&batch, &planned[i].entries, options, missing)?;
        reporter.on_layer_written(what, sizes[i], cached.layer.size);
        Ok(cached)
    })?;
    let layers = found
        .into_iter()
        .zip(written)
        .map(|(lookup, written)| match lookup {
            Some(cache::Lookup::Hit(cached)) => (cached, false),
            _ => (written.expect("every missing layer was written"), true),
        })
        .collect();
    // One sync and one transaction for every new layer.
    batch.commit()?;
    Ok(layers)
}

/// `work` for each index of `order`, taken in that order by up to 8 threads (each gzip
/// writer holds up to two 32 MiB buffers). The results by index (`None` where `order`
/// does not name it); the error reported is the first index's, whichever thread met it.
fn on_threads<T: Send>(
    len: usize,
    order: &[usize],
    work: impl Fn(usize) -> Result<T, cache::CacheError> + Sync,
) -> Result<Vec<Option<T>>, BuildError> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let slots: Vec<std::sync::Mutex<Option<Result<T, cache::CacheError>>>> =
        (0..len).map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..threads.min(order.len()) {
            scope.spawn(|| {
                loop {
                    let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(&i) = order.get(n) else {
                        return;
                    };
                    let result = work(i);
                    *slots[i].lock().expect("not poisoned") = Some(result);
                }
            });
        }
    });
    slots
        .into_iter()
        .map(|slot| {
            slot.into_inner()
                .expect("not poisoned")
                .transpose()
                .map_err(BuildError::from)
        })
        .collect()
}

/// What a layer holds, as its history entry says, for a reporter.
fn what_it_holds(layer: &PlannedLayer) -> &str {
    layer
        .description
        .strip_prefix("cairn: ")
        .unwrap_or(&layer.description)
}

/// The bytes of file contents in `entries`.
fn content_size(entries: &[LayerEntry]) -> u64 {
    entries
        .iter()
        .map(|e| match &e.kind {
            EntryKind::File { size, .. } => *size,
            EntryKind::Bytes(bytes) => bytes.len() as u64,
            _ => 0,
        })
        .sum()
}

/// The tag of `name:tag`: a `:` after the last `/` (`localhost:5000/app` has none).
fn tag_of(name: &str) -> Option<&str> {
    let last = name.rsplit('/').next().unwrap_or(name);
    last.rsplit_once(':').map(|(_, tag)| tag)
}

fn write_output(
    store: &Store,
    config: &ImageConfig,
    spec: &ImageSpec,
    layers: &[(PlannedLayer, CachedLayer)],
    output: Option<&Output>,
) -> Result<(StorePath, bool, Descriptor), BuildError> {
    let diff_ids: Vec<Digest> = layers.iter().map(|(_, c)| c.layer.diff_id).collect();
    let history: Vec<History> = layers
        .iter()
        .map(|(p, _)| History {
            created_by: p.description.clone(),
            comment: None,
            empty_layer: false,
        })
        .collect();
    let config_json = config.to_json(&diff_ids, &history, spec.mtime);
    let config_descriptor = Descriptor::of(MediaType::Config, &config_json);
    let layer_descriptors: Vec<Descriptor> = layers
        .iter()
        .map(|(p, c)| Descriptor {
            media_type: c.layer.media_type.to_owned(),
            digest: c.layer.digest,
            size: c.layer.size,
            annotations: if p.parts.is_empty() {
                BTreeMap::new()
            } else {
                [("org.cairn.packages".to_owned(), p.parts.join(","))].into()
            },
            platform: None,
        })
        .collect();
    let annotations: BTreeMap<String, String> = [(
        "org.opencontainers.image.created".to_owned(),
        crate::rfc3339(spec.mtime),
    )]
    .into();
    let manifest_bytes = manifest_json(&config_descriptor, &layer_descriptors, &annotations);
    let mut manifest = Descriptor::of(MediaType::Manifest, &manifest_bytes);
    let tag = tag_of(&spec.name).unwrap_or("latest");
    manifest.annotations.insert(
        "org.opencontainers.image.ref.name".to_owned(),
        tag.to_owned(),
    );
    let files: Vec<(Digest, PathBuf)> = layers
        .iter()
        .map(|(_, c)| (c.layer.digest, store.object_dir(&c.object)))
        .collect();
    let mut blobs: Vec<(Digest, BlobSource<'_>)> = files
        .iter()
        .map(|(d, p)| (*d, BlobSource::File(p)))
        .collect();
    blobs.push((config_descriptor.digest, BlobSource::Bytes(&config_json)));
    blobs.push((manifest.digest, BlobSource::Bytes(&manifest_bytes)));

    let json = [
        (config_descriptor.digest, BlobSource::Bytes(&config_json)),
        (manifest.digest, BlobSource::Bytes(&manifest_bytes)),
    ];
    let (object, fresh_image) = store_image(store, spec, layers, &json, &manifest)?;

    match output {
        None => {}
        Some(Output::OciDir(dir)) => write_oci_layout(dir, &blobs, &manifest)?,
        Some(Output::OciArchive(file) | Output::DockerArchive(file)) => {
            let format = if matches!(output, Some(Output::OciArchive(_))) {
                ArchiveFormat::Oci
            } else {
                let name = if tag_of(&spec.name).is_some() {
                    spec.name.clone()
                } else {
                    format!("{}:latest", spec.name)
                };
                ArchiveFormat::Docker {
                    repo_tags: vec![name],
                }
            };
            let layer_digests: Vec<Digest> = layers.iter().map(|(_, c)| c.layer.digest).collect();
            write_archive(
                file,
                &ArchiveImage {
                    format: &format,
                    blobs: &blobs,
                    manifest: &manifest,
                    config: &config_descriptor.digest,
                    layers: &layer_digests,
                    mtime: spec.mtime,
                },
            )?;
        }
    }
    Ok((object, fresh_image, manifest))
}

/// Keeps the image in the store: a layout like the one written out, but whose layer
/// blobs are links to the layer objects (its references), and `json` the config and
/// manifest.
fn store_image(
    store: &Store,
    spec: &ImageSpec,
    layers: &[(PlannedLayer, CachedLayer)],
    json: &[(Digest, BlobSource<'_>)],
    manifest: &Descriptor,
) -> Result<(StorePath, bool), BuildError> {
    let links: Vec<(Digest, PathBuf)> = layers
        .iter()
        .map(|(_, c)| {
            (
                c.layer.digest,
                PathBuf::from(format!("../../../{}", c.object)),
            )
        })
        .collect();
    let mut linked: Vec<(Digest, BlobSource<'_>)> = links
        .iter()
        .map(|(d, p)| (*d, BlobSource::Symlink(p)))
        .collect();
    linked.extend_from_slice(json);
    // Input-addressed by everything the layout holds, so a build that changed nothing
    // finds it and writes nothing (found in review: every no-op build wrote, hashed
    // and froze it again).
    let name = cairn_store::sanitize_name(&format!("image-{}", spec.name));
    let mut hasher = Sha256::new();
    let mut field = |bytes: &[u8]| {
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(bytes);
    };
    field(b"cairn-image-layout-v2");
    field(name.as_bytes());
    field(&cairn_oci::image::index_json(std::slice::from_ref(
        manifest,
    )));
    // A blob's digest names its bytes; a link also names the object it points at.
    for (digest, source) in &linked {
        field(&digest.0);
        if let BlobSource::Symlink(target) = source {
            field(target.as_os_str().as_encoded_bytes());
        }
    }
    let node_hash = data_encoding::HEXLOWER.encode(&hasher.finalize());
    let object = Store::input_path(&name, &node_hash)?;
    if !store
        .add_temp_roots(std::slice::from_ref(&object))?
        .is_empty()
    {
        return Ok((object, false));
    }
    let batch = store.batch()?;
    let tree = batch.tree_path()?;
    write_oci_layout(tree.path(), &linked, manifest)?;
    let staged = batch.stage(
        tree,
        &AddOptions {
            name: Some(name),
            references: layers.iter().map(|(_, c)| c.object.clone()).collect(),
            addressing: Some(cairn_store::Addressing::Input { node_hash }),
            ..AddOptions::default()
        },
    )?;
    batch.commit()?;
    debug_assert_eq!(staged, object);
    Ok((staged, true))
}
