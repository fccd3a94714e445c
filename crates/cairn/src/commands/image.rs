//! `cairn image …`

use std::cell::OnceCell;
use std::collections::BTreeMap;
use std::io::{BufWriter, Read as _, Write};
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::SystemTime;

use anyhow::{Context, Result, bail};
use cairn_debian::{LockedRepository, RepoContext, Repository, Request, Source, library_providers};
use cairn_fetch::{Fetcher, NoFetchReporter};
use cairn_image::synth::{Account, Group};
use cairn_image::{Contents, Excludes, ImageSpec, Output};
use cairn_oci::{Compression, Digest, ImageConfig};
use cairn_store::Store;

use crate::cli::{GlobalArgs, ImageBuildArgs, ImageCommand};
use crate::commands::debian::{fetcher, locked_and_installed, open_sources, trust};
use crate::progress::{Progress, Verbosity};

/// Every timestamp in an image when `SOURCE_DATE_EPOCH` is not set: the epoch itself.
const DEFAULT_MTIME: u64 = 0;

pub(crate) fn run(global: &GlobalArgs, command: ImageCommand) -> Result<ExitCode> {
    match command {
        ImageCommand::Build(args) => build(global, &args),
        ImageCommand::Inspect { image, json } => inspect(&parse_image(&image)?, json),
    }
}

/// `--entrypoint "/usr/bin/python3 -m http.server"` or one argument per flag.
fn argv(args: &[String]) -> Option<Vec<String>> {
    match args {
        [] => None,
        [one] => Some(one.split_whitespace().map(str::to_owned).collect()),
        many => Some(many.to_vec()),
    }
}

fn key_values(items: &[String], what: &str) -> Result<BTreeMap<String, String>> {
    items
        .iter()
        .map(|item| {
            item.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .with_context(|| format!("{what} `{item}` is not KEY=VALUE"))
        })
        .collect()
}

/// Every timestamp in an image: `SOURCE_DATE_EPOCH`, or [`DEFAULT_MTIME`]. The only
/// outside input an image takes, read here and nowhere deeper.
pub(crate) fn source_date_epoch() -> Result<u64> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(value) => value
            .trim()
            .parse()
            .with_context(|| format!("SOURCE_DATE_EPOCH `{value}` is not a number of seconds")),
        Err(_) => Ok(DEFAULT_MTIME),
    }
}

fn spec(args: &ImageBuildArgs) -> Result<ImageSpec> {
    let compression = Compression::from_name(&args.compression)
        .with_context(|| format!("unknown compression `{}` (gzip or zstd)", args.compression))?;
    let mtime = source_date_epoch()?;
    let env = key_values(&args.env, "--env")?
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>();
    let env = cairn_image::check::with_default_path(env);
    let config = ImageConfig {
        // Set by the build from the packages' architecture.
        architecture: String::new(),
        os: "linux".into(),
        user: Some(args.user.clone()),
        env,
        entrypoint: argv(&args.entrypoint),
        cmd: argv(&args.cmd),
        working_dir: args.workdir.clone(),
        exposed_ports: args
            .ports
            .iter()
            .map(|p| {
                if p.contains('/') {
                    p.clone()
                } else {
                    format!("{p}/tcp")
                }
            })
            .collect(),
        volumes: args.volumes.iter().cloned().collect(),
        labels: key_values(&args.labels, "--label")?,
        stop_signal: args.stop_signal.clone(),
    };
    Ok(ImageSpec {
        name: args.name.clone(),
        config,
        users: args
            .add_users
            .iter()
            .map(|spec| parse_account(spec))
            .collect::<Result<_>>()?,
        groups: args
            .add_groups
            .iter()
            .map(|spec| parse_group(spec))
            .collect::<Result<_>>()?,
        budget: args.layers,
        compression,
        mtime,
        excludes: if args.keep_docs {
            Excludes::none()
        } else {
            Excludes::default()
        },
    })
}

/// `--add-user NAME:UID[:GID[:HOME[:SHELL]]]` (names and paths are checked when the
/// accounts are written).
fn parse_account(spec: &str) -> Result<Account> {
    let fields: Vec<&str> = spec.split(':').collect();
    let id = |s: &str| {
        s.parse::<u32>()
            .with_context(|| format!("`--add-user {spec}`: `{s}` is not a number"))
    };
    let (name, uid, rest) = match fields.as_slice() {
        [name, uid, rest @ ..] if rest.len() <= 3 => (*name, id(uid)?, rest),
        _ => bail!("`--add-user {spec}`: expected NAME:UID[:GID[:HOME[:SHELL]]]"),
    };
    Ok(Account {
        name: name.to_owned(),
        uid,
        gid: rest.first().map_or(Ok(uid), |g| id(g))?,
        home: rest
            .get(1)
            .map_or_else(|| format!("/home/{name}"), |h| (*h).to_owned()),
        shell: rest.get(2).unwrap_or(&"/sbin/nologin").to_string(),
    })
}

/// `--add-group NAME:GID[:MEMBER,...]`.
fn parse_group(spec: &str) -> Result<Group> {
    let fields: Vec<&str> = spec.split(':').collect();
    let (name, gid, members) = match fields.as_slice() {
        [name, gid] => (*name, *gid, ""),
        [name, gid, members] => (*name, *gid, *members),
        _ => bail!("`--add-group {spec}`: expected NAME:GID[:MEMBER,...]"),
    };
    Ok(Group {
        name: name.to_owned(),
        gid: gid
            .parse()
            .with_context(|| format!("`--add-group {spec}`: `{gid}` is not a number"))?,
        members: members
            .split(',')
            .filter(|m| !m.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}

fn build(global: &GlobalArgs, args: &ImageBuildArgs) -> Result<ExitCode> {
    let output = Output::parse(&args.output).with_context(|| {
        format!(
            "`{}` is not an output: use oci:DIR, oci-archive:FILE or docker-archive:FILE",
            args.output
        )
    })?;
    let spec = spec(args)?;
    let store = crate::commands::store::open_substituting(global, args.repo.offline)?;
    let fetcher = fetcher(&args.repo, 8)?;
    let progress = Arc::new(Progress::new(Verbosity::of(global)));
    let request = Request {
        packages: args.packages.clone(),
        recommends: false,
    };
    let (lock, installed) = locked_and_installed(
        &store,
        &fetcher,
        &args.repo,
        args.lock.as_deref(),
        &request,
        &progress,
    )?;
    let hints = ProviderHint::new(
        &store,
        &fetcher,
        &args.repo.keyrings,
        &lock.repositories,
        &lock.architecture,
    );
    let hint = |soname: &str| hints.hint(soname);
    let contents = Contents {
        lock: &lock,
        installed: &installed,
        application: &[],
        libraries: &[],
    };
    let built = cairn_image::build(&store, &contents, &spec, Some(&output), &hint, &*progress)?;
    // The bars go before the results are printed.
    progress.finish();
    let mut out = BufWriter::new(std::io::stdout().lock());
    writeln!(out, "{}", built.manifest.digest)?;
    out.flush()?;
    if !global.quiet {
        let size: u64 = built.layers.iter().map(|(_, c)| c.layer.size).sum();
        #[allow(clippy::cast_precision_loss)]
        let mib = size as f64 / f64::from(1 << 20);
        eprintln!(
            "{} packages, {} layers ({} written, {} from the store), {mib:.1} MiB, written to {}",
            lock.packages.len(),
            built.layers.len(),
            built.fresh_layers,
            built.layers.len() - built.fresh_layers,
            args.output
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `oci:DIR`, `oci-archive:FILE` or `docker-archive:FILE`, as typed.
pub(crate) fn parse_image(image: &str) -> Result<Output> {
    Output::parse(image).with_context(|| {
        format!("`{image}` is not an image: use oci:DIR, oci-archive:FILE or docker-archive:FILE")
    })
}

/// The documents that describe an image: the manifest the index names first, and the
/// configuration that manifest names. Nothing else is read: no layer, no other blob.
pub(crate) struct ImageDocuments {
    /// The index's descriptor of the manifest.
    pub(crate) described: serde_json::Value,
    pub(crate) manifest: serde_json::Value,
    pub(crate) config: serde_json::Value,
}

/// JSON documents are small; a larger file is not read.
const JSON_LIMIT: u64 = 4 << 20;

/// Reads `index.json`, the manifest blob it names and the config blob the manifest
/// names, each checked against its digest.
pub(crate) fn read_image(image: &Output) -> Result<ImageDocuments> {
    match image {
        Output::OciDir(dir) => {
            let blobs = dir.join("blobs/sha256");
            documents(&read_small(&dir.join("index.json"))?, |digest| {
                read_small(&blobs.join(digest.hex()))
            })
        }
        Output::OciArchive(file) | Output::DockerArchive(file) => {
            let archive = ArchiveFiles::scan(file)?;
            let index = archive
                .read("index.json")?
                .context("the image has no index.json")?;
            documents(&index, |digest| {
                archive
                    .read(&format!("blobs/sha256/{}", digest.hex()))?
                    .with_context(|| format!("the image lacks blob {digest}"))
            })
        }
    }
}

/// The manifest and config `index` leads to, their bytes from `blob`.
fn documents(index: &[u8], blob: impl Fn(&Digest) -> Result<Vec<u8>>) -> Result<ImageDocuments> {
    let index: serde_json::Value =
        serde_json::from_slice(index).context("the image's index.json is not JSON")?;
    let described = index["manifests"][0].clone();
    if described.is_null() {
        bail!("the image's index.json names no manifest");
    }
    let document = |descriptor: &serde_json::Value| -> Result<serde_json::Value> {
        let digest: Digest = descriptor["digest"]
            .as_str()
            .context("a descriptor without a digest")?
            .parse()?;
        let bytes = blob(&digest)?;
        if Digest::of(&bytes) != digest {
            bail!("the image's blob {digest} does not match its digest");
        }
        serde_json::from_slice(&bytes)
            .with_context(|| format!("the image's blob {digest} is not JSON"))
    };
    let manifest = document(&described)?;
    let config = document(&manifest["config"])?;
    Ok(ImageDocuments {
        described,
        manifest,
        config,
    })
}

/// A file of at most [`JSON_LIMIT`] bytes (its target's size, for a link).
fn read_small(path: &Path) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    fs_err::File::open(path)?
        .take(JSON_LIMIT + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read `{}`", path.display()))?;
    if bytes.len() as u64 > JSON_LIMIT {
        bail!(
            "`{}` is larger than {JSON_LIMIT} bytes: not an image's JSON document",
            path.display()
        );
    }
    Ok(bytes)
}

/// Where each file of a tar archive is, found by reading its headers only (the
/// contents are skipped with seeks), so single files can be read afterwards.
struct ArchiveFiles {
    path: PathBuf,
    file: fs_err::File,
    /// Offset and size of each regular file's contents, by path (`./` dropped; the
    /// last of several entries of a path, as extracting the archive would leave).
    entries: BTreeMap<String, (u64, u64)>,
}

impl ArchiveFiles {
    fn scan(path: &Path) -> Result<Self> {
        let mut file = fs_err::File::open(path)?;
        let mut entries = BTreeMap::new();
        let context = || format!("cannot read the archive `{}`", path.display());
        for entry in tar::Archive::new(&mut file)
            .entries_with_seek()
            .with_context(context)?
        {
            let entry = entry.with_context(context)?;
            if !entry.header().entry_type().is_file() {
                continue;
            }
            let name = entry.path().with_context(context)?;
            let name = name.to_string_lossy();
            let name = name.strip_prefix("./").unwrap_or(&name).to_owned();
            entries.insert(name, (entry.raw_file_position(), entry.size()));
        }
        Ok(Self {
            path: path.to_owned(),
            file,
            entries,
        })
    }

    /// The contents of file `name` (of at most [`JSON_LIMIT`] bytes); `None` when
    /// the archive has no such file.
    fn read(&self, name: &str) -> Result<Option<Vec<u8>>> {
        let Some(&(offset, size)) = self.entries.get(name) else {
            return Ok(None);
        };
        if size > JSON_LIMIT {
            bail!(
                "`{name}` in `{}` is larger than {JSON_LIMIT} bytes: not an image's JSON document",
                self.path.display()
            );
        }
        let mut bytes = vec![0; usize::try_from(size)?];
        self.file
            .file()
            .read_exact_at(&mut bytes, offset)
            .with_context(|| format!("cannot read `{name}` in `{}`", self.path.display()))?;
        Ok(Some(bytes))
    }
}

/// `cairn image inspect` (and `cairn inspect`): what `image` is made of.
pub(crate) fn inspect(image: &Output, json: bool) -> Result<ExitCode> {
    let ImageDocuments {
        described: manifest_descriptor,
        manifest,
        config,
    } = read_image(image)?;
    let layers = manifest["layers"].as_array().cloned().unwrap_or_default();
    let history = config["history"].as_array().cloned().unwrap_or_default();
    let total: u64 = layers.iter().filter_map(|l| l["size"].as_u64()).sum();
    let mut out = BufWriter::new(std::io::stdout().lock());
    if json {
        let value = serde_json::json!({
            "manifest": manifest_descriptor["digest"],
            "layers": layers.iter().zip(history.iter().chain(std::iter::repeat(&serde_json::Value::Null))).map(|(l, h)| serde_json::json!({
                "digest": l["digest"],
                "size": l["size"],
                "packages": l["annotations"]["org.cairn.packages"],
                "created_by": h["created_by"],
            })).collect::<Vec<_>>(),
            "config": config["config"],
            "architecture": config["architecture"],
            "size": total,
        });
        serde_json::to_writer_pretty(&mut out, &value)?;
        writeln!(out)?;
    } else {
        writeln!(
            out,
            "manifest {}",
            manifest_descriptor["digest"].as_str().unwrap_or("?")
        )?;
        writeln!(
            out,
            "platform {}/{}",
            config["os"].as_str().unwrap_or("?"),
            config["architecture"].as_str().unwrap_or("?")
        )?;
        writeln!(out, "layers {} ({total} bytes compressed)", layers.len())?;
        for (i, layer) in layers.iter().enumerate() {
            let what = history
                .get(i)
                .and_then(|h| h["created_by"].as_str())
                .unwrap_or("");
            writeln!(
                out,
                "  {:>10}  {}  {what}",
                layer["size"].as_u64().unwrap_or(0),
                layer["digest"].as_str().unwrap_or("?"),
            )?;
        }
        writeln!(out, "config {}", serde_json::to_string(&config["config"])?)?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Names the package that ships a missing library, from the locked suites' signed
/// `Contents` indexes. The suites are opened only when a library is missing, once.
pub(crate) struct ProviderHint<'a> {
    store: &'a Store,
    fetcher: &'a Fetcher,
    keyrings: &'a [PathBuf],
    sources: Vec<Source>,
    arch: String,
    repository: OnceCell<Option<Repository>>,
}

impl<'a> ProviderHint<'a> {
    pub(crate) fn new(
        store: &'a Store,
        fetcher: &'a Fetcher,
        keyrings: &'a [PathBuf],
        repositories: &[LockedRepository],
        arch: &str,
    ) -> Self {
        let mut sources: Vec<Source> = repositories
            .iter()
            .map(|r| Source::new(&r.mirror, &r.suite, &r.components))
            .collect();
        sources.sort();
        sources.dedup();
        Self {
            store,
            fetcher,
            keyrings,
            sources,
            arch: arch.to_owned(),
            repository: OnceCell::new(),
        }
    }

    /// The packages that ship `soname`, as `a` or `` `a` or `b` ``; `None` when none
    /// is known (or the indexes cannot be read: a hint never fails a build).
    pub(crate) fn hint(&self, soname: &str) -> Option<String> {
        let context = RepoContext {
            store: self.store,
            fetcher: self.fetcher,
            trust: trust(self.keyrings).ok()?,
            now: SystemTime::now(),
            reporter: &NoFetchReporter,
        };
        let repository = self
            .repository
            .get_or_init(|| open_sources(&context, &self.sources, &self.arch).ok())
            .as_ref()?;
        let triplet = cairn_image::check::multiarch_triplet(&self.arch)?;
        let providers = library_providers(&context, repository, soname, triplet).ok()?;
        (!providers.is_empty()).then(|| providers.join("` or `"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_from_flags() {
        let account = parse_account("app:1000").unwrap();
        assert_eq!(
            (
                account.uid,
                account.gid,
                account.home.as_str(),
                account.shell.as_str()
            ),
            (1000, 1000, "/home/app", "/sbin/nologin")
        );
        let account = parse_account("svc:999:50:/srv:/bin/sh").unwrap();
        assert_eq!((account.gid, account.home.as_str()), (50, "/srv"));
        for bad in ["app", "app:x", "app:1:y", "a:1:2:/h:/s:extra"] {
            assert!(parse_account(bad).is_err(), "{bad}");
        }
        let group = parse_group("readers:2000:app,svc").unwrap();
        assert_eq!(
            (group.gid, group.members.as_slice()),
            (2000, &["app".to_owned(), "svc".to_owned()][..])
        );
        assert!(parse_group("readers:2000").unwrap().members.is_empty());
        for bad in ["readers", "readers:x", "r:1:a:b"] {
            assert!(parse_group(bad).is_err(), "{bad}");
        }
    }
}
