//! `cairn load`, `cairn run` and `cairn inspect`: a project's image handed to a container
//! engine, or described.
//!
//! The image is built as `cairn build` builds it (`project::realise`: from the lock,
//! never resolving), without a `result` link. Its layout in the store is streamed as a
//! docker-archive into `podman load` or `docker load` on stdin, the same bytes
//! `cairn build --output docker-archive:FILE` writes, with no temporary file.

use std::io::{BufWriter, IsTerminal as _, Read, Write as _};
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::thread::JoinHandle;

use anyhow::{Context, Result, anyhow, bail};
use cairn_build::{BuildPlanError, ImageReport};
use cairn_image::Output;
use cairn_oci::{
    ArchiveError, ArchiveFormat, ArchiveImage, BlobSource, Descriptor, Digest, write_archive_to,
};
use cairn_plan::Plan;
use cairn_store::Store;

use crate::cli::{Engine, GlobalArgs, InspectArgs, LoadArgs, ProjectArgs, RealiseArgs, RunArgs};
use crate::commands::image::{ImageDocuments, parse_image, read_image};
use crate::commands::project::{Goal, evaluate, realise, summary};
use crate::progress::{Progress, Verbosity};

impl Engine {
    /// The program's name.
    fn program(self) -> &'static str {
        match self {
            Self::Podman => "podman",
            Self::Docker => "docker",
        }
    }
}

/// `cairn load`.
pub(crate) fn load(global: &GlobalArgs, args: &LoadArgs) -> Result<ExitCode> {
    let plan = evaluate(&args.project)?;
    let name = chosen_image(&plan, args.image.as_deref())?;
    let (engine, program) = choose_engine(args.to)?;
    let (store, report) = realise_one(global, &args.project, &plan, &name, &args.realise)?;
    let image = StoredImage::read(&store.object_dir(&report.object))?;
    let loaded = load_into(global, engine, &program, &image, &name)?;
    drop(store);
    let mut out = std::io::stdout().lock();
    writeln!(out, "{loaded}")?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// `cairn run`: loads the image into podman, then becomes `podman run --rm` of it, so
/// signals, the terminal and the exit code are the container's.
pub(crate) fn run(global: &GlobalArgs, args: &RunArgs) -> Result<ExitCode> {
    let plan = evaluate(&args.project)?;
    let name = chosen_image(&plan, Some(&args.image))?;
    let Some(podman) = find_program(Engine::Podman.program()) else {
        bail!(
            "`cairn run` runs images with podman, which is not on PATH: install podman, or \
             load the image into docker with `cairn load --to docker {name}` and run it there"
        );
    };
    let (store, report) = realise_one(global, &args.project, &plan, &name, &args.realise)?;
    let image = StoredImage::read(&store.object_dir(&report.object))?;
    let loaded = load_into(global, Engine::Podman, &podman, &image, &name)?;
    // Nothing of cairn's outlives the `exec`: the store's temporary roots go now.
    drop(store);

    let mut command = Command::new(&podman);
    command.args(["run", "--rm", "-i"]);
    if std::io::stdin().is_terminal() && std::io::stdout().is_terminal() {
        command.arg("-t");
    }
    let publish = if args.publish.is_empty() {
        image.exposed_ports()
    } else {
        args.publish.clone()
    };
    for ports in publish {
        command.arg("-p").arg(ports);
    }
    command.arg(&loaded).args(&args.args);
    if global.verbose {
        eprintln!("running {}", shown(&command));
    } else if !global.quiet {
        eprintln!("running {loaded}");
    }
    let error = command.exec();
    Err(error).with_context(|| format!("cannot run `{}`", podman.display()))
}

/// `cairn inspect`: an image file or directory as `cairn image inspect` shows it, or an
/// image of the project, built first.
pub(crate) fn inspect(global: &GlobalArgs, args: &InspectArgs) -> Result<ExitCode> {
    // Image names have no `:`, so this is `oci:DIR`, `oci-archive:FILE`,
    // `docker-archive:FILE`, or a mistake the image commands explain.
    if args.image.contains(':') {
        return crate::commands::image::inspect(&parse_image(&args.image)?, args.json);
    }
    let plan = evaluate(&args.project)?;
    let name = chosen_image(&plan, Some(&args.image))?;
    let (store, report) = realise_one(global, &args.project, &plan, &name, &args.realise)?;
    let layout = Output::OciDir(store.object_dir(&report.object));
    let shown = crate::commands::image::inspect(&layout, args.json);
    drop(store);
    shown
}

/// The image of `plan` to work on: `name`, or the plan's only image.
pub(crate) fn chosen_image(plan: &Plan, name: Option<&str>) -> Result<String> {
    let known: Vec<String> = plan.images.keys().cloned().collect();
    match name {
        Some(name) if plan.image(name).is_some() => Ok(name.to_owned()),
        Some(name) => Err(BuildPlanError::UnknownImage {
            name: name.to_owned(),
            known,
        }
        .into()),
        None => match known.as_slice() {
            [only] => Ok(only.clone()),
            [] => bail!("the plan has no images: add one to `cairn.star` with `image(...)`"),
            several => bail!(
                "the plan has {} images ({}): name the one to load, as in `cairn load {}`",
                several.len(),
                several.join(", "),
                several[0]
            ),
        },
    }
}

/// `name`'s executable file in one of PATH's directories. Empty entries (the current
/// directory) are skipped.
fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(name))
        .find(|candidate| {
            fs_err::metadata(candidate)
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// `--to`'s engine, or podman when it is on PATH, else docker.
fn choose_engine(to: Option<Engine>) -> Result<(Engine, PathBuf)> {
    let candidates = match to {
        Some(engine) => vec![engine],
        None => vec![Engine::Podman, Engine::Docker],
    };
    for engine in candidates {
        if let Some(path) = find_program(engine.program()) {
            return Ok((engine, path));
        }
    }
    match to {
        Some(engine) => {
            let other = match engine {
                Engine::Podman => Engine::Docker,
                Engine::Docker => Engine::Podman,
            };
            bail!(
                "`{}` is not on PATH: install it, or load into {} with `--to {}`",
                engine.program(),
                other.program(),
                other.program()
            )
        }
        None => bail!(
            "neither podman nor docker is on PATH: install one of them (or add its directory \
             to PATH); `--to podman` or `--to docker` chooses one"
        ),
    }
}

/// Builds image `name` as `cairn build` would (no `result` link) and says what that did
/// on stderr.
pub(crate) fn realise_one(
    global: &GlobalArgs,
    project: &ProjectArgs,
    plan: &Plan,
    name: &str,
    how: &RealiseArgs,
) -> Result<(Store, ImageReport)> {
    let progress = Arc::new(Progress::new(Verbosity::of(global)));
    let (store, reports) = realise(
        global,
        project,
        plan,
        &[name.to_owned()],
        how,
        &progress,
        Goal::Build(&|_| None),
    )?;
    // The bars go before the summary is printed.
    progress.finish();
    let report = reports
        .into_iter()
        .next()
        .context("the build reported no image")?;
    if !global.quiet {
        eprintln!("{}", summary(&report));
    }
    Ok((store, report))
}

/// An image layout in the store: the documents a docker-archive of it needs. Its layer
/// blobs are links to the layer objects; an archive holds what they point to.
struct StoredImage {
    dir: PathBuf,
    /// The index's descriptor of the manifest (its `ref.name` is the tag).
    manifest: Descriptor,
    config: Digest,
    layers: Vec<Digest>,
    /// The image configuration document.
    config_json: serde_json::Value,
}

impl StoredImage {
    fn read(dir: &Path) -> Result<Self> {
        let context = || format!("the image layout `{}`", dir.display());
        let ImageDocuments {
            described,
            manifest: manifest_json,
            config: config_json,
        } = read_image(&Output::OciDir(dir.to_owned())).with_context(context)?;
        let digest = |value: &serde_json::Value| -> Result<Digest> {
            Ok(value
                .as_str()
                .context("a descriptor without a digest")?
                .parse::<Digest>()?)
        };
        let manifest = Descriptor {
            media_type: described["mediaType"]
                .as_str()
                .context("the manifest's descriptor has no media type")
                .with_context(context)?
                .to_owned(),
            digest: digest(&described["digest"]).with_context(context)?,
            size: described["size"]
                .as_u64()
                .context("the manifest's descriptor has no size")
                .with_context(context)?,
            annotations: described["annotations"]
                .as_object()
                .into_iter()
                .flatten()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect(),
            platform: None,
        };
        let config = digest(&manifest_json["config"]["digest"]).with_context(context)?;
        let layers = manifest_json["layers"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|layer| digest(&layer["digest"]))
            .collect::<Result<Vec<_>>>()
            .with_context(context)?;
        Ok(Self {
            dir: dir.to_owned(),
            manifest,
            config,
            layers,
            config_json,
        })
    }

    /// `name:tag`, the tag being the layout's `ref.name` (`latest`): what a
    /// docker-archive `cairn build` writes calls the image.
    fn reference(&self, name: &str) -> String {
        let tag = self
            .manifest
            .annotations
            .get("org.opencontainers.image.ref.name")
            .map_or("latest", String::as_str);
        format!("{name}:{tag}")
    }

    /// `-p` values publishing each port the image exposes on 127.0.0.1 at the same
    /// number: `127.0.0.1:8000:8000/tcp`.
    fn exposed_ports(&self) -> Vec<String> {
        self.config_json["config"]["ExposedPorts"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(port, _)| {
                let number = port.split_once('/').map_or(port.as_str(), |(n, _)| n);
                format!("127.0.0.1:{number}:{port}")
            })
            .collect()
    }

    /// Writes the image as a docker-archive of `reference` to `out`, its own entries
    /// dated `mtime`.
    fn write_docker_archive(
        &self,
        reference: &str,
        mtime: u64,
        out: impl std::io::Write,
    ) -> Result<(), ArchiveError> {
        let blobs_dir = self.dir.join("blobs/sha256");
        let paths: Vec<(Digest, PathBuf)> = self
            .layers
            .iter()
            .chain([&self.config, &self.manifest.digest])
            .map(|d| (*d, blobs_dir.join(d.hex())))
            .collect();
        let blobs: Vec<(Digest, BlobSource<'_>)> = paths
            .iter()
            .map(|(d, p)| (*d, BlobSource::File(p)))
            .collect();
        write_archive_to(
            out,
            &ArchiveImage {
                format: &ArchiveFormat::Docker {
                    repo_tags: vec![reference.to_owned()],
                },
                blobs: &blobs,
                manifest: &self.manifest,
                config: &self.config,
                layers: &self.layers,
                mtime,
            },
        )
    }
}

/// Reads all of `pipe` on a thread of its own, so the child never blocks on a full pipe.
fn drain(pipe: Option<impl Read + Send + 'static>) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        bytes
    })
}

/// Whether writing failed because the reader of the pipe went away.
fn broken_pipe(error: &ArchiveError) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = cause {
        if e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
        {
            return true;
        }
        cause = e.source();
    }
    false
}

/// Streams `image` into `<engine> load` as a docker-archive of `name:tag`, and returns
/// the reference the engine gave it. The engine's stdin is closed and the engine waited
/// for whatever happens; when it fails, its stderr is the error.
fn load_into(
    global: &GlobalArgs,
    engine: Engine,
    program: &Path,
    image: &StoredImage,
    name: &str,
) -> Result<String> {
    let reference = image.reference(name);
    // As `cairn build --output docker-archive:` dates them.
    let mtime = crate::commands::image::source_date_epoch()?;
    let what = format!("{} load", engine.program());
    let mut child = Command::new(program)
        .arg("load")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run `{}`", program.display()))?;
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let stdin = child.stdin.take().expect("stdin is piped");
    // The writer owns stdin: whatever the outcome, the pipe is closed when it returns,
    // so the engine sees the end of the archive and exits.
    let written =
        image.write_docker_archive(&reference, mtime, BufWriter::with_capacity(1 << 16, stdin));
    let status = child
        .wait()
        .with_context(|| format!("cannot wait for `{what}`"))?;
    let stdout = String::from_utf8_lossy(&stdout.join().unwrap_or_default()).into_owned();
    let stderr = String::from_utf8_lossy(&stderr.join().unwrap_or_default()).into_owned();
    match written {
        // The engine stopped reading: its own message says why.
        Err(error) if broken_pipe(&error) && !status.success() => {}
        Err(error) => {
            return Err(error).with_context(|| format!("cannot stream the image into `{what}`"));
        }
        Ok(()) => {}
    }
    if !status.success() {
        let said = stderr.trim();
        let cause = if said.is_empty() {
            anyhow!("it printed nothing on stderr")
        } else {
            // Its lines under the first, indented as a cause is.
            anyhow!("{}", said.lines().collect::<Vec<_>>().join("\n    "))
        };
        return Err(cause.context(format!("`{what}` failed ({status})")));
    }
    if global.verbose {
        eprint!("{stderr}");
    }
    // `Loaded image: localhost/web:latest` (podman), `Loaded image: web:latest` (docker).
    let loaded = stdout
        .lines()
        .find_map(|line| {
            line.strip_prefix("Loaded image: ")
                .or_else(|| line.strip_prefix("Loaded image(s): "))
        })
        .map(|names| names.split(',').next().unwrap_or(names).trim().to_owned())
        .filter(|name| !name.is_empty());
    Ok(loaded.unwrap_or(reference))
}

/// A command line as it would be typed (for `--verbose`).
fn shown(command: &Command) -> String {
    std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}
