//! The `cairn` command-line tool. It parses arguments, calls the libraries, prints
//! results on stdout and everything else on stderr. It holds no logic other crates need.
//!
//! Exit codes: 0 success; 1 an error (printed with its causes and a hint);
//! 2 invalid usage; 3 `cairn store verify` found corrupt objects. `cairn run` exits as
//! its container does (it becomes `podman run`).

mod cli;
mod commands;
mod config;
mod progress;
mod reporter;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};

/// Exit code when verification finds problems.
pub(crate) const EXIT_CORRUPT: u8 = 3;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Init { project, force } => commands::project::init(&cli.global, &project, force),
        Command::Plan { project, json } => commands::project::plan(&project, json),
        Command::Lock(args) => commands::project::lock(&cli.global, &args),
        Command::Build(args) => commands::project::build(&cli.global, &args),
        Command::Load(args) => commands::engine::load(&cli.global, &args),
        Command::Run(args) => commands::engine::run(&cli.global, &args),
        Command::Shell(args) => commands::project::shell(&cli.global, &args),
        Command::Inspect(args) => commands::engine::inspect(&cli.global, &args),
        Command::Store(command) => commands::store::run(&cli.global, command),
        Command::Debian(command) => commands::debian::run(&cli.global, command),
        Command::Image(command) => commands::image::run(&cli.global, *command),
        Command::Cache(command) => commands::cache::run(&cli.global, command),
        Command::Serve(args) => commands::cache::serve(&cli.global, &args),
        Command::Push(args) => commands::registry::push(&cli.global, &args),
        Command::Pull(args) => commands::registry::pull(&cli.global, &args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            render_error(&err);
            ExitCode::FAILURE
        }
    }
}

/// The hint a library error offers, if any.
fn hint_of(cause: &(dyn std::error::Error + 'static)) -> Option<String> {
    if let Some(e) = cause.downcast_ref::<cairn_store::StoreError>() {
        return e.hint();
    }
    if let Some(e) = cause.downcast_ref::<cairn_debian::RepoError>() {
        return e.hint();
    }
    if let Some(e) = cause.downcast_ref::<cairn_debian::InstallError>() {
        return e.hint();
    }
    if let Some(e) = cause.downcast_ref::<cairn_fetch::FetchError>() {
        return e.hint();
    }
    if let Some(e) = cause.downcast_ref::<cairn_image::BuildError>() {
        return e.hint();
    }
    if let Some(e) = cause.downcast_ref::<cairn_build::LockPlanError>() {
        return e.hint();
    }
    if let Some(e) = cause.downcast_ref::<cairn_registry::RegistryError>() {
        return e.hint();
    }
    if let Some(e) = cause.downcast_ref::<cairn_cache::CacheError>() {
        return e.hint();
    }
    if let Some(e) = cause.downcast_ref::<cairn_build::BuildPlanError>() {
        return e.hint();
    }
    None
}

/// Prints an error, its causes, and a hint when the libraries offer one.
fn render_error(err: &anyhow::Error) {
    let mut stderr = std::io::stderr().lock();
    if let Some(rendered) = err.downcast_ref::<commands::project::Rendered>() {
        let _ = writeln!(stderr, "{}", rendered.0.trim_end());
        return;
    }
    let _ = writeln!(stderr, "error: {err}");
    let mut hint = None;
    for cause in err.chain() {
        if hint.is_none() {
            hint = hint_of(cause);
        }
    }
    // A cause a message already quotes (`image `web`: {source}`) is not repeated.
    let mut shown = err.to_string();
    for cause in err.chain().skip(1) {
        let text = cause.to_string();
        if !shown.contains(&text) {
            let _ = writeln!(stderr, "  caused by: {text}");
        }
        shown = text;
    }
    if let Some(hint) = hint {
        let _ = writeln!(stderr, "  hint: {hint}");
    }
}
