//! `cairn image …`

use std::cell::OnceCell;
use std::collections::BTreeMap;
use std::io::{BufWriter, Read as _, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::SystemTime;

use anyhow::{Context, Result, bail};
use cairn_debian::{
    Fetcher, LockedRepository, NoFetchReporter, RepoContext, Repository, Request, Source,
    library_providers,
};
use cairn_image::synth::{Account, Group};
use cairn_image::{Contents, Excludes, ImageSpec, Output};
use cairn_oci::{Compression, ImageConfig};
use cairn_store::Store;

use crate::cli::{GlobalArgs, ImageBuildArgs, ImageCommand};
use crate::commands::debian::{fetcher, locked_and_installed, open_sources, trust};
use crate::progress::{Progress, Verbosity};

/// Every timestamp in an image when `SOURCE_DATE_EPOCH` is not set: the epoch itself.
const DEFAULT_MTIME: u64 = 0;

pub(crate) fn run(global: &GlobalArgs, command: ImageCommand) -> Result<ExitCode> {
    match command {
        ImageCommand::Build(args) => build(global, &args),
        ImageCommand::Inspect { image, json } => inspect(&image, json),
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
    let (store, _) = crate::commands::store::open(global)?;
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

/// The small JSON documents and the layer sizes of an image, wherever it is.
pub(crate) struct ImageFiles {
    /// The blobs of at most `JSON_LIMIT` bytes, by hex digest.
    pub(crate) blobs: BTreeMap<String, Vec<u8>>,
    pub(crate) index: Vec<u8>,
}

/// JSON documents are small; layers are not read.
const JSON_LIMIT: u64 = 4 << 20;

pub(crate) fn read_image(image: &str) -> Result<ImageFiles> {
    let Some(output) = Output::parse(image) else {
        bail!("`{image}` is not an image: use oci:DIR, oci-archive:FILE or docker-archive:FILE");
    };
    let mut blobs = BTreeMap::new();
    let mut index = None;
    match output {
        Output::OciDir(dir) => {
            index = Some(fs_err::read(dir.join("index.json"))?);
            for entry in fs_err::read_dir(dir.join("blobs/sha256"))? {
                let entry = entry?;
                // The size of what a blob is (the image layouts in the store link their
                // layers), so a layer is never read.
                if fs_err::metadata(entry.path())?.len() <= JSON_LIMIT {
                    let name = entry.file_name().to_string_lossy().into_owned();
                    blobs.insert(name, fs_err::read(entry.path())?);
                }
            }
        }
        Output::OciArchive(file) | Output::DockerArchive(file) => {
            let mut archive = tar::Archive::new(fs_err::File::open(&file)?);
            for entry in archive.entries()? {
                let mut entry = entry?;
                let path = entry.path()?.to_string_lossy().into_owned();
                if entry.size() > JSON_LIMIT {
                    continue;
                }
                let mut bytes = Vec::new();
                entry.read_to_end(&mut bytes)?;
                if path == "index.json" {
                    index = Some(bytes);
                } else if let Some(name) = path.strip_prefix("blobs/sha256/") {
                    blobs.insert(name.to_owned(), bytes);
                }
            }
        }
    }
    Ok(ImageFiles {
        blobs,
        index: index.context("the image has no index.json")?,
    })
}

pub(crate) fn inspect(image: &str, json: bool) -> Result<ExitCode> {
    let files = read_image(image)?;
    let blob = |digest: &serde_json::Value| -> Result<serde_json::Value> {
        let digest = digest.as_str().context("a descriptor without a digest")?;
        let hex = digest
            .strip_prefix("sha256:")
            .context("not a sha256 digest")?;
        let bytes = files
            .blobs
            .get(hex)
            .with_context(|| format!("the image lacks blob {digest}"))?;
        Ok(serde_json::from_slice(bytes)?)
    };
    let index: serde_json::Value = serde_json::from_slice(&files.index)?;
    let manifest_descriptor = &index["manifests"][0];
    let manifest = blob(&manifest_descriptor["digest"])?;
    let config = blob(&manifest["config"]["digest"])?;
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
