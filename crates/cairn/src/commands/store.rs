//! `cairn store …`

use std::io::{BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use cairn_nar::{WriteSink, dump_path, hash_path};
use cairn_store::{
    AddOptions, GcOptions, ImportOptions, PermissionsSource, RootKind, Store, StorePath,
};
use serde::Serialize;

use crate::EXIT_CORRUPT;
use crate::cli::{AddArgs, GlobalArgs, RootCommand, StoreCommand};
use crate::reporter::StderrReporter;

/// `--store`, then `$CAIRN_STORE` (both via clap), then `$XDG_DATA_HOME/cairn`, then
/// `~/.local/share/cairn`.
pub(crate) fn store_dir(global: &GlobalArgs) -> Result<PathBuf> {
    if let Some(dir) = &global.store {
        return Ok(dir.clone());
    }
    if let Some(data) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(data).join("cairn"));
    }
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty()).context(
        "cannot find the store: none of --store, CAIRN_STORE, XDG_DATA_HOME or HOME is set",
    )?;
    Ok(PathBuf::from(home).join(".local/share/cairn"))
}

/// The store for commands that fetch or build: it asks the binary caches
/// (`--substituter`, or the config file's) for what it lacks first. `offline`, only
/// caches on this machine are asked.
pub(crate) fn open_substituting(global: &GlobalArgs, offline: bool) -> Result<Store> {
    let store = Store::open(&store_dir(global)?)?;
    Ok(
        match crate::commands::cache::substituter(global, offline)? {
            Some(substituter) => store.with_substituter(std::sync::Arc::new(substituter)),
            None => store,
        },
    )
}

pub(crate) fn open(global: &GlobalArgs) -> Result<(Store, StderrReporter)> {
    let store = Store::open(&store_dir(global)?)?;
    let reporter = StderrReporter {
        quiet: global.quiet,
        store_objects: store.objects_dir(),
    };
    Ok((store, reporter))
}

fn resolve_all(store: &Store, objects: &[String]) -> Result<Vec<StorePath>> {
    objects.iter().map(|o| Ok(store.resolve(o)?)).collect()
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InfoJson {
    path: String,
    name: String,
    hash: String,
    nar_hash: String,
    nar_size: u64,
    addressing: String,
    references: Vec<String>,
    permissions: Vec<cairn_store::PermissionsJson>,
    /// Metadata entry names and their sizes in bytes.
    metadata: std::collections::BTreeMap<String, usize>,
}

pub(crate) fn run(global: &GlobalArgs, command: StoreCommand) -> Result<ExitCode> {
    let mut out = BufWriter::new(std::io::stdout().lock());
    let code = match command {
        StoreCommand::HashPath { path, base32 } => {
            let (hash, _) = hash_path(&path)?;
            writeln!(
                out,
                "{}",
                if base32 {
                    hash.to_nix32()
                } else {
                    hash.to_sri()
                }
            )?;
            ExitCode::SUCCESS
        }
        StoreCommand::DumpNar { path } => {
            if std::io::stdout().is_terminal() {
                bail!(
                    "refusing to write a binary NAR to a terminal; redirect stdout to a file or pipe"
                );
            }
            let (WriteSink(inner), _) = dump_path(&path, WriteSink(&mut out))?;
            inner.flush()?;
            ExitCode::SUCCESS
        }
        StoreCommand::Add(args) => add(global, args, &mut out)?,
        StoreCommand::Info { object, json } => info(global, &object, json, &mut out)?,
        StoreCommand::Closure { objects } => {
            let (store, _) = open(global)?;
            for path in store.closure(&resolve_all(&store, &objects)?)? {
                writeln!(out, "{}", store.object_dir(&path).display())?;
            }
            ExitCode::SUCCESS
        }
        StoreCommand::Referrers { object } => {
            let (store, _) = open(global)?;
            for path in store.referrers(&store.resolve(&object)?)? {
                writeln!(out, "{}", store.object_dir(&path).display())?;
            }
            ExitCode::SUCCESS
        }
        StoreCommand::Verify { objects } => verify(global, &objects)?,
        StoreCommand::Gc { dry_run } => gc(global, dry_run, &mut out)?,
        StoreCommand::Export { objects } => {
            if std::io::stdout().is_terminal() {
                bail!(
                    "refusing to write an export stream to a terminal; redirect stdout to a file (`> closure.cairn`)"
                );
            }
            let (store, reporter) = open(global)?;
            let paths = resolve_all(&store, &objects)?;
            store.export(&paths, &mut out, &reporter)?;
            ExitCode::SUCCESS
        }
        StoreCommand::Import {
            trust_input_addressed,
        } => {
            let (store, reporter) = open(global)?;
            let options = ImportOptions {
                trust_input_addressed,
            };
            let report = store.import(&mut std::io::stdin().lock(), options, &reporter)?;
            for path in &report.objects {
                writeln!(out, "{}", store.object_dir(path).display())?;
            }
            if !global.quiet {
                eprintln!(
                    "imported {} objects ({} new)",
                    report.objects.len(),
                    report.added
                );
            }
            ExitCode::SUCCESS
        }
        StoreCommand::Root(command) => root(global, command, &mut out)?,
    };
    out.flush()?;
    Ok(code)
}

fn add(global: &GlobalArgs, args: AddArgs, out: &mut impl Write) -> Result<ExitCode> {
    let (store, reporter) = open(global)?;
    let references = resolve_all(&store, &args.references)?;
    let options = AddOptions {
        name: args.name,
        references,
        permissions: if args.preserve_permissions {
            PermissionsSource::Capture
        } else {
            PermissionsSource::Normalized
        },
        metadata: cairn_store::ObjectMetadata::default(),
        addressing: None,
    };
    let path = store.add_path(&args.path, &options, &reporter)?;
    if let Some(link) = &args.root {
        store.add_indirect_root(link, &path)?;
    }
    writeln!(out, "{}", store.object_dir(&path).display())?;
    Ok(ExitCode::SUCCESS)
}

fn info(global: &GlobalArgs, object: &str, json: bool, out: &mut impl Write) -> Result<ExitCode> {
    let (store, _) = open(global)?;
    let info = store.info(&store.resolve(object)?)?;
    let show = |p: &StorePath| store.object_dir(p).display().to_string();
    if json {
        let value = InfoJson {
            path: show(&info.path),
            name: info.path.name().to_owned(),
            hash: info.path.hash().to_string(),
            nar_hash: info.nar_hash.to_sri(),
            nar_size: info.nar_size,
            addressing: info.addressing.to_string(),
            references: info.references.iter().map(show).collect(),
            permissions: info.permissions.to_json(),
            metadata: info
                .metadata
                .iter()
                .map(|(k, v)| (k.clone(), v.len()))
                .collect(),
        };
        serde_json::to_writer_pretty(&mut *out, &value)?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(out, "path:        {}", show(&info.path))?;
    writeln!(out, "nar-hash:    {}", info.nar_hash)?;
    writeln!(out, "nar-size:    {}", info.nar_size)?;
    writeln!(out, "addressing:  {}", info.addressing)?;
    writeln!(out, "references:  {}", info.references.len())?;
    for r in &info.references {
        writeln!(out, "  {}", show(r))?;
    }
    writeln!(
        out,
        "permissions: {} non-default entries",
        info.permissions.len()
    )?;
    for p in info.permissions.to_json() {
        let path = if p.path.is_empty() { "." } else { &p.path };
        let xattrs: Vec<&str> = p.xattrs.keys().map(String::as_str).collect();
        let xattrs = if xattrs.is_empty() {
            String::new()
        } else {
            format!("  xattrs: {}", xattrs.join(","))
        };
        writeln!(out, "  {} {}:{} {path}{xattrs}", p.mode, p.uid, p.gid)?;
    }
    writeln!(out, "metadata:    {} entries", info.metadata.iter().count())?;
    for (key, value) in info.metadata.iter() {
        writeln!(out, "  {key} ({} bytes)", value.len())?;
    }
    Ok(ExitCode::SUCCESS)
}

fn verify(global: &GlobalArgs, objects: &[String]) -> Result<ExitCode> {
    let (store, reporter) = open(global)?;
    let which = if objects.is_empty() {
        None
    } else {
        Some(resolve_all(&store, objects)?)
    };
    let report = store.verify(which.as_deref(), &reporter)?;
    if report.is_ok() {
        if !global.quiet {
            eprintln!("verified {} objects: no problems", report.checked);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let objects: std::collections::BTreeSet<_> =
        report.problems.iter().map(|p| &p.object).collect();
    eprintln!(
        "verified {} objects: {} problems in {} objects",
        report.checked,
        report.problems.len(),
        objects.len()
    );
    Ok(ExitCode::from(EXIT_CORRUPT))
}

fn gc(global: &GlobalArgs, dry_run: bool, out: &mut impl Write) -> Result<ExitCode> {
    let (store, reporter) = open(global)?;
    let silent = StderrReporter {
        quiet: true,
        store_objects: reporter.store_objects.clone(),
    };
    let report = store.gc(
        GcOptions { dry_run },
        if dry_run { &silent } else { &reporter },
    )?;
    if dry_run {
        for (path, _) in &report.deleted {
            writeln!(out, "{}", store.object_dir(path).display())?;
        }
    }
    if !global.quiet {
        let debris = if report.debris_removed > 0 {
            format!(
                ", removed {} unregistered directories",
                report.debris_removed
            )
        } else {
            String::new()
        };
        eprintln!(
            "{} {} objects ({} bytes), kept {}{debris}",
            if dry_run { "would delete" } else { "deleted" },
            report.deleted.len(),
            report.bytes_freed,
            report.kept,
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn root(global: &GlobalArgs, command: RootCommand, out: &mut impl Write) -> Result<ExitCode> {
    let (store, _) = open(global)?;
    match command {
        RootCommand::Add { name, object } => store.add_root(&name, &store.resolve(&object)?)?,
        RootCommand::Remove { name } => store.remove_root(&name)?,
        RootCommand::List => {
            for root in store.roots()? {
                let what = match root.kind {
                    RootKind::Named(name) => format!("name {name}"),
                    RootKind::Indirect(link) => format!("link {}", link.display()),
                    RootKind::Temporary => "temporary".to_owned(),
                };
                writeln!(
                    out,
                    "{what} -> {}",
                    store.object_dir(&root.object).display()
                )?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
