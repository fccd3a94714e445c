//! `cairn cache keygen|push`, `cairn serve`, and the substituter every command that
//! opens the store gets.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use cairn_cache::backend::{BackendOptions, open as open_backend};
use cairn_cache::{
    CacheError, CacheReporter, PublicKey, PushOptions, Rejected, SecretKey, Substituter,
};
use cairn_store::StorePath;

use crate::cli::{CacheCommand, CachePushArgs, GlobalArgs, ServeArgs};
use crate::config::Config;

/// Progress of caches on stderr: a rejected object or a skipped cache is always said
/// (the next source is tried); each object only with `-v`.
pub(crate) struct CacheProgress {
    pub(crate) quiet: bool,
    pub(crate) verbose: bool,
}

impl CacheReporter for CacheProgress {
    fn on_push_object(&self, path: &StorePath, file_size: u64) {
        if self.verbose {
            eprintln!("pushed {path} ({file_size} bytes)");
        }
    }
    fn on_substitute_object(&self, path: &StorePath, url: &str, file_size: u64) {
        if self.verbose {
            eprintln!("substituted {path} from {url} ({file_size} bytes)");
        }
    }
    fn on_substitute_rejected(&self, path: &StorePath, url: &str, why: &Rejected) {
        if !self.quiet {
            eprintln!("warning: {url} cannot give {path}: {why}");
        }
    }
    fn on_cache_unusable(&self, url: &str, why: &CacheError) {
        if !self.quiet {
            eprintln!("warning: skipping cache {url}: {why}");
        }
    }
}

/// The substituter of `--substituter` (else the config file's `substituters`), trusting
/// `--trusted-key` and the config file's `trusted-keys`; `None` when there are no caches.
/// `offline`, only caches on this machine (directories) are kept.
pub(crate) fn substituter(global: &GlobalArgs, offline: bool) -> Result<Option<Substituter>> {
    let config = Config::load()?;
    let urls = if global.substituters.is_empty() {
        config.substituters
    } else {
        global.substituters.clone()
    };
    if urls.is_empty() {
        return Ok(None);
    }
    let mut keys: Vec<PublicKey> = Vec::new();
    for text in config.trusted_keys.iter().chain(&global.trusted_keys) {
        keys.push(
            text.parse()
                .with_context(|| format!("trusted key `{text}`"))?,
        );
    }
    let mut caches = Vec::new();
    for url in &urls {
        let cache = open_backend(url, &BackendOptions::default())?;
        if offline && !cache.is_local() {
            if global.verbose {
                eprintln!("offline: not asking the cache {url}");
            }
            continue;
        }
        caches.push(cache);
    }
    if caches.is_empty() {
        return Ok(None);
    }
    let progress = CacheProgress {
        quiet: global.quiet,
        verbose: global.verbose,
    };
    Ok(Some(
        Substituter::new(caches, keys).with_reporter(Arc::new(progress)),
    ))
}

fn read_secret_key(path: &Path) -> Result<SecretKey> {
    let text = fs_err::read_to_string(path)?;
    text.parse::<SecretKey>()
        .with_context(|| format!("`{}` is not a secret key", path.display()))
}

pub(crate) fn run(global: &GlobalArgs, command: CacheCommand) -> Result<ExitCode> {
    match command {
        CacheCommand::Keygen { name, dir } => keygen(&name, &dir),
        CacheCommand::Push(args) => push(global, &args),
    }
}

fn keygen(name: &str, dir: &Path) -> Result<ExitCode> {
    let key = SecretKey::generate(name)?;
    let secret = dir.join(format!("{name}.secret"));
    let public = dir.join(format!("{name}.public"));
    for path in [&secret, &public] {
        if path.exists() {
            bail!("`{}` exists; cairn does not overwrite keys", path.display());
        }
    }
    fs_err::create_dir_all(dir)?;
    {
        use fs_err::os::unix::fs::OpenOptionsExt as _;
        use std::io::Write as _;
        let mut file = fs_err::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&secret)?;
        writeln!(file, "{}", key.to_nix_string())?;
    }
    fs_err::write(&public, format!("{}\n", key.public()))?;
    println!("{}", key.public());
    eprintln!(
        "wrote {} (secret: keep it private) and {}",
        secret.display(),
        public.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn push(global: &GlobalArgs, args: &CachePushArgs) -> Result<ExitCode> {
    let key = args.sign_key.as_deref().map(read_secret_key).transpose()?;
    let backend = open_backend(&args.cache, &BackendOptions::default())?;
    let (store, paths) =
        crate::commands::project::objects_to_push(global, &args.project, &args.targets)?;
    let progress = CacheProgress {
        quiet: global.quiet,
        verbose: global.verbose,
    };
    let options = PushOptions {
        key: key.as_ref(),
        ..PushOptions::default()
    };
    let report = cairn_cache::push(&store, &*backend, &paths, options, &progress)?;
    println!(
        "{} objects: {} uploaded ({} bytes compressed, {} bytes of NAR), {} already in {}",
        report.objects.len(),
        report.uploaded,
        report.file_bytes,
        report.nar_bytes,
        report.skipped,
        args.cache
    );
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn serve(global: &GlobalArgs, args: &ServeArgs) -> Result<ExitCode> {
    let key = args.sign_key.as_deref().map(read_secret_key).transpose()?;
    let (store, _) = crate::commands::store::open(global)?;
    let listener = std::net::TcpListener::bind(&args.listen)
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    if !global.quiet {
        eprintln!(
            "serving {} on http://{}{}",
            store.layout_dir().display(),
            listener.local_addr()?,
            key.as_ref()
                .map(|k| format!(", signed by {}", k.public()))
                .unwrap_or_default()
        );
    }
    cairn_cache::serve::serve(&Arc::new(store), listener, key)?;
    Ok(ExitCode::SUCCESS)
}
