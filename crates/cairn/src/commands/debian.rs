//! `cairn debian …`

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::SystemTime;

use anyhow::{Context, Result};
use cairn_debian::{
    BinaryPackage, DebianLock, InstallReporter, Installed, LockFile, RepoContext, Repository,
    Request, Resolution, Source, Trust, debian_sources, fetch_locked, resolve,
};
use cairn_fetch::{FetchOptions, FetchReporter, Fetcher};
use cairn_store::Store;
use serde::Serialize;

use crate::cli::{DebianCommand, GlobalArgs, RepoArgs};
use crate::progress::{Progress, Verbosity};

pub(crate) fn run(global: &GlobalArgs, command: DebianCommand) -> Result<ExitCode> {
    let mut out = BufWriter::new(std::io::stdout().lock());
    match command {
        DebianCommand::Resolve {
            repo,
            with_recommends,
            json,
            write_lock,
            packages,
        } => {
            let (store, _) = crate::commands::store::open(global)?;
            let fetcher = fetcher(&repo, 8)?;
            let repository = open_repository(&store, &fetcher, &repo, Verbosity::of(global))?;
            let request = Request {
                packages,
                recommends: with_recommends,
            };
            let resolution = resolve(&repository, &request)?;
            if json {
                print_json(&mut out, &repository, &resolution)?;
            } else {
                for r in &resolution.packages {
                    let p = &r.package;
                    writeln!(out, "{} {} {}", p.name, p.version, p.architecture)?;
                }
            }
            if let Some(path) = write_lock {
                let lock = LockFile {
                    version: cairn_debian::LOCK_VERSION,
                    debian: Some(DebianLock::new(&repository, &request, &resolution)),
                };
                crate::commands::project::write_atomically(&path, lock.to_toml().as_bytes())?;
            }
        }
        DebianCommand::Show {
            repo,
            json,
            package,
        } => {
            let (store, _) = crate::commands::store::open(global)?;
            let fetcher = fetcher(&repo, 8)?;
            let repository = open_repository(&store, &fetcher, &repo, Verbosity::of(global))?;
            show(&mut out, &repository, &package, json)?;
        }
        DebianCommand::Fetch {
            repo,
            with_recommends,
            lock,
            connections,
            packages,
        } => {
            let store = crate::commands::store::open_substituting(global, repo.offline)?;
            let fetcher = fetcher(&repo, connections)?;
            let progress = Arc::new(Progress::new(Verbosity::of(global)));
            let request = Request {
                packages,
                recommends: with_recommends,
            };
            let (_, installed) = locked_and_installed(
                &store,
                &fetcher,
                &repo,
                lock.as_deref(),
                &request,
                &progress,
            )?;
            progress.finish();
            for path in installed.values() {
                writeln!(out, "{}", store.object_dir(path).display())?;
            }
            progress.summary(installed.len());
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// The lock at `lock_path`, or `request` resolved against `repo`'s suites; its packages
/// installed into `store`.
pub(crate) fn locked_and_installed(
    store: &Store,
    fetcher: &Fetcher,
    repo: &RepoArgs,
    lock_path: Option<&Path>,
    request: &Request,
    progress: &Arc<Progress>,
) -> Result<(DebianLock, Installed)> {
    let lock = if let Some(path) = lock_path {
        let text = fs_err::read_to_string(path)?;
        LockFile::parse(&text)
            .with_context(|| format!("cannot use the lock `{}`", path.display()))?
            .debian
            .with_context(|| format!("`{}` has no [debian] part", path.display()))?
    } else {
        let repository = open_repository(store, fetcher, repo, progress.verbosity())?;
        let resolution = resolve(&repository, request)?;
        DebianLock::new(&repository, request, &resolution)
    };
    let reporter: Arc<dyn InstallReporter> = progress.clone();
    let installed = fetch_locked(store, fetcher, &lock, &reporter)?;
    Ok((lock, installed))
}

pub(crate) fn fetcher(repo: &RepoArgs, connections: usize) -> Result<Fetcher> {
    offline_or_not(repo.offline, connections)
}

/// A fetcher with `connections` downloads at a time, refusing every one when `offline`.
pub(crate) fn offline_or_not(offline: bool, connections: usize) -> Result<Fetcher> {
    Ok(Fetcher::new(FetchOptions {
        connections,
        offline,
        ..FetchOptions::default()
    })?)
}

pub(crate) fn open_repository(
    store: &Store,
    fetcher: &Fetcher,
    args: &RepoArgs,
    verbosity: Verbosity,
) -> Result<Repository> {
    let sources = debian_sources(
        &args.mirror,
        &args.suite,
        &args.components,
        (!args.no_security).then_some(args.security_mirror.as_str()),
    );
    // Its bars are cleared when it is dropped, before the caller prints.
    let progress = Progress::new(verbosity);
    let context = repo_context(store, fetcher, args, &progress)?;
    open_sources(&context, &sources, &args.arch)
}

/// The suites `sources` for `arch` (those of the command line, or of a lock).
pub(crate) fn open_sources(
    context: &RepoContext<'_>,
    sources: &[Source],
    arch: &str,
) -> Result<Repository> {
    let names: Vec<&str> = sources.iter().map(|s| s.suite.as_str()).collect();
    Repository::open(context, sources, arch)
        .with_context(|| format!("cannot read the package indexes ({})", names.join(", ")))
}

/// Debian's archive keys, or the armored keys in `keyrings` when there are any.
pub(crate) fn trust(keyrings: &[PathBuf]) -> Result<Trust> {
    if keyrings.is_empty() {
        return Ok(Trust::Debian);
    }
    let mut keys = Vec::new();
    for path in keyrings {
        keys.push((path.display().to_string(), fs_err::read_to_string(path)?));
    }
    Ok(Trust::Keys(keys))
}

/// How repositories are read: the trusted keys of `args`, checked as of now.
pub(crate) fn repo_context<'a>(
    store: &'a Store,
    fetcher: &'a Fetcher,
    args: &RepoArgs,
    reporter: &'a dyn FetchReporter,
) -> Result<RepoContext<'a>> {
    Ok(RepoContext {
        store,
        fetcher,
        trust: trust(&args.keyrings)?,
        now: SystemTime::now(),
        reporter,
    })
}

#[derive(Serialize)]
struct PackageJson<'a> {
    name: &'a str,
    version: String,
    architecture: &'a str,
    suite: &'a str,
    filename: &'a str,
    size: u64,
    sha256: &'a str,
    source: &'a str,
    depends: &'a [String],
}

fn print_json(out: &mut impl Write, repo: &Repository, resolution: &Resolution) -> Result<()> {
    let packages: Vec<PackageJson<'_>> = resolution
        .packages
        .iter()
        .map(|r| {
            let p = &r.package;
            PackageJson {
                name: &p.name,
                version: p.version.to_string(),
                architecture: &p.architecture,
                suite: repo
                    .suites
                    .get(r.suite)
                    .map_or("", |s| s.source.suite.as_str()),
                filename: &p.filename,
                size: p.size,
                sha256: &p.sha256,
                source: &p.source,
                depends: &r.depends,
            }
        })
        .collect();
    serde_json::to_writer_pretty(&mut *out, &packages)?;
    writeln!(out)?;
    Ok(())
}

/// `cairn debian show`: the candidate (what `resolve` would pick) and every version.
fn show(out: &mut impl Write, repo: &Repository, name: &str, json: bool) -> Result<()> {
    let request = Request {
        packages: vec![name.to_owned()],
        recommends: false,
    };
    // The candidate is what resolving the name alone picks for it, even when its
    // dependencies cannot be installed; a name that is no package explains itself.
    let candidate = resolve(repo, &request)
        .ok()
        .and_then(|r| r.packages.into_iter().find(|p| p.package.name == name))
        .map(|r| r.index);
    let mut versions = Vec::new();
    for i in repo.find(name) {
        versions.push((i, repo.get(i)?));
    }
    let Some(chosen) = candidate.or_else(|| versions.first().map(|(i, _)| *i)) else {
        // Not a package of its own: the resolver explains (unknown, several providers),
        // or picks the one provider.
        let resolution = resolve(repo, &request)?;
        let providers: Vec<&str> = resolution
            .packages
            .iter()
            .filter(|r| {
                r.package
                    .provides
                    .iter()
                    .flat_map(|c| &c.0)
                    .any(|p| p.name == name)
            })
            .map(|r| r.package.name.as_str())
            .collect();
        anyhow::bail!(
            "`{name}` is a virtual package; installing it installs {}",
            providers.join(", ")
        );
    };
    let sourced = repo.get(chosen)?;
    let from = |suite: usize| {
        let s = &repo.suites[suite].source;
        (s.mirror.as_str(), s.suite.as_str())
    };
    let p = &sourced.package;
    let (mirror, suite) = from(sourced.suite);
    if json {
        let value = serde_json::json!({
            "name": p.name,
            "version": p.version.to_string(),
            "architecture": p.architecture,
            "mirror": mirror,
            "suite": suite,
            "fields": fields(p).into_iter().collect::<std::collections::BTreeMap<_, _>>(),
            "versions": versions.iter().map(|(_, v)| {
                let (mirror, suite) = from(v.suite);
                serde_json::json!({
                    "version": v.package.version.to_string(),
                    "architecture": v.package.architecture,
                    "mirror": mirror,
                    "suite": suite,
                })
            }).collect::<Vec<_>>(),
        });
        serde_json::to_writer_pretty(&mut *out, &value)?;
        writeln!(out)?;
        return Ok(());
    }
    for (field, value) in fields(p) {
        writeln!(out, "{field}: {value}")?;
    }
    writeln!(out, "From: {mirror} {suite}")?;
    writeln!(out, "Versions:")?;
    for (i, v) in &versions {
        let (mirror, suite) = from(v.suite);
        let mark = if *i == chosen { "*" } else { " " };
        writeln!(
            out,
            " {mark} {} {} ({mirror} {suite})",
            v.package.version, v.package.architecture
        )?;
    }
    Ok(())
}

fn fields(p: &BinaryPackage) -> Vec<(&'static str, String)> {
    let join = |clauses: &[cairn_debian::Clause]| {
        clauses
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut out = vec![
        ("Package", p.name.clone()),
        ("Version", p.version.to_string()),
        ("Architecture", p.architecture.clone()),
        ("Source", p.source.clone()),
    ];
    if let Some(priority) = &p.priority {
        out.push(("Priority", priority.clone()));
    }
    if p.essential {
        out.push(("Essential", "yes".into()));
    }
    for (name, clauses) in [
        ("Pre-Depends", &p.pre_depends),
        ("Depends", &p.depends),
        ("Recommends", &p.recommends),
        ("Suggests", &p.suggests),
        ("Conflicts", &p.conflicts),
        ("Breaks", &p.breaks),
        ("Replaces", &p.replaces),
        ("Provides", &p.provides),
    ] {
        if !clauses.is_empty() {
            out.push((name, join(clauses)));
        }
    }
    out.push(("Filename", p.filename.clone()));
    out.push(("Size", p.size.to_string()));
    out.push(("SHA256", p.sha256.clone()));
    out
}
