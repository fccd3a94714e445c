//! `cairn push` and `cairn pull`: images to and from OCI registries.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use cairn_oci::Digest;
use cairn_registry::{
    CredentialOptions, Credentials, PullOptions, PullReporter, PushOptions, PushReport,
    PushReporter, Reference, RegistryClient, RegistryError, RegistryOptions,
};
use serde::Serialize;

use crate::cli::{GlobalArgs, PullArgs, PushArgs, RegistryArgs};
use crate::commands::engine::{chosen_image, realise_one};
use crate::commands::project::evaluate;

/// Progress of pushes and pulls on stderr: each blob with `-v`.
struct RegistryProgress {
    verbose: bool,
}

impl PushReporter for RegistryProgress {
    fn on_blob_skipped(&self, digest: &Digest, size: u64) {
        if self.verbose {
            eprintln!("{digest}: the registry has it ({size} bytes)");
        }
    }
    fn on_blob_mounted(&self, digest: &Digest, size: u64, from: &str) {
        if self.verbose {
            eprintln!("{digest}: mounted from {from} ({size} bytes)");
        }
    }
    fn on_blob_upload_retry(
        &self,
        digest: &Digest,
        error: &RegistryError,
        wait: std::time::Duration,
    ) {
        eprintln!("{digest}: {error}; resuming in {} ms", wait.as_millis());
    }
    fn on_blob_upload_done(&self, digest: &Digest, size: u64) {
        if self.verbose {
            eprintln!("{digest}: uploaded ({size} bytes)");
        }
    }
}

impl PullReporter for RegistryProgress {}

fn client(args: &RegistryArgs) -> Result<RegistryClient> {
    let mut credentials = CredentialOptions::default();
    if let Some(creds) = &args.creds {
        credentials.explicit = Some(Credentials::from_creds_arg(creds)?);
    }
    credentials.auth_file.clone_from(&args.authfile);
    Ok(RegistryClient::new(RegistryOptions {
        credentials,
        insecure: args.insecure,
        ..RegistryOptions::default()
    })?)
}

#[derive(Serialize)]
struct PushJson<'a> {
    reference: &'a str,
    digest: String,
    skipped: usize,
    mounted: usize,
    uploaded: usize,
    bytes_uploaded: u64,
    manifest_bytes: u64,
}

/// Pushes the layout at `layout` to `reference` and says what was sent.
pub(crate) fn push_layout(
    global: &GlobalArgs,
    registry: &RegistryArgs,
    layout: &Path,
    reference: &str,
    mount_from: &[String],
) -> Result<PushReport> {
    let target: Reference = reference.parse()?;
    let client = client(registry)?;
    let reporter: Arc<dyn PushReporter> = Arc::new(RegistryProgress {
        verbose: global.verbose,
    });
    let options = PushOptions {
        mount_from: mount_from.to_vec(),
    };
    let report = client
        .push(layout, &target, &options, &reporter)
        .with_context(|| format!("cannot push to `{reference}`"))?;
    if !global.quiet {
        eprintln!(
            "pushed {reference}@{}: {} blobs uploaded ({} bytes), {} mounted, {} already there; manifest {} bytes",
            report.digest,
            report.uploaded,
            report.bytes_uploaded,
            report.mounted,
            report.skipped,
            report.manifest_bytes
        );
    }
    Ok(report)
}

pub(crate) fn push(global: &GlobalArgs, args: &PushArgs) -> Result<ExitCode> {
    let (layout, store): (PathBuf, _) = if let Some(dir) = args.image.strip_prefix("oci:") {
        (PathBuf::from(dir), None)
    } else if args.image.contains(':') {
        bail!(
            "`{}` is not an image to push: name an image of the project, or `oci:DIR`",
            args.image
        );
    } else {
        let plan = evaluate(&args.project)?;
        let name = chosen_image(&plan, Some(&args.image))?;
        let (store, report) = realise_one(global, &args.project, &plan, &name, &args.realise)?;
        (store.object_dir(&report.object), Some(store))
    };
    let report = push_layout(
        global,
        &args.registry,
        &layout,
        &args.reference,
        &args.mount_from,
    )?;
    drop(store);
    if args.json {
        let json = PushJson {
            reference: &args.reference,
            digest: report.digest.to_string(),
            skipped: report.skipped,
            mounted: report.mounted,
            uploaded: report.uploaded,
            bytes_uploaded: report.bytes_uploaded,
            manifest_bytes: report.manifest_bytes,
        };
        println!("{}", serde_json::to_string(&json)?);
    } else {
        println!("{}@{}", args.reference, report.digest);
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn pull(global: &GlobalArgs, args: &PullArgs) -> Result<ExitCode> {
    let into_store = args.dest == "store";
    let scratch;
    let dest = if into_store {
        scratch = tempfile::Builder::new().prefix("cairn-pull-").tempdir()?;
        scratch.path().join("image")
    } else if let Some(dir) = args.dest.strip_prefix("oci:") {
        PathBuf::from(dir)
    } else {
        bail!(
            "`{}` is not a destination: pull into `oci:DIR`, or `store`",
            args.dest
        );
    };
    let dest = dest.as_path();
    let source: Reference = args.reference.parse()?;
    let client = client(&args.registry)?;
    let reporter: Arc<dyn PullReporter> = Arc::new(RegistryProgress {
        verbose: global.verbose,
    });
    let report = client
        .pull(&source, dest, &PullOptions::default(), &reporter)
        .with_context(|| format!("cannot pull `{}`", args.reference))?;
    if !global.quiet {
        eprintln!(
            "pulled {} blobs ({} bytes) of {}@{}",
            report.blobs, report.bytes_downloaded, args.reference, report.digest
        );
    }
    if into_store {
        // The layout, every digest checked, as one content-addressed object.
        let (store, reporter) = crate::commands::store::open(global)?;
        let options = cairn_store::AddOptions {
            name: Some(cairn_store::sanitize_name(&format!(
                "pulled-{}",
                source.repository()
            ))),
            ..cairn_store::AddOptions::default()
        };
        let object = store.add_path(dest, &options, &reporter)?;
        println!("{}", store.object_dir(&object).display());
    } else {
        println!("{}@{}", args.reference, report.digest);
    }
    Ok(ExitCode::SUCCESS)
}
