//! `run()` steps: a command in a sandbox, its output an input-addressed object.
//!
//! A step's identity (`cairn-run-v1`) is the SHA-256 of the sandbox format, the `run`
//! node (command, environment, working directory, timeout, and the ids of the nodes
//! it names), `SOURCE_DATE_EPOCH`, and the objects its `deps`, `srcs` and `runtime`
//! are realised to: the locked packages, the wheels, the project's files by content,
//! the outputs of the steps it builds on. So the output's path is known before the
//! step runs, and a step whose inputs are unchanged is never run again.
//!
//! Running one: the `deps` are composed into a root file system exactly as an image's
//! contents are (merged-/usr, alternatives, accounts), hard-linked into staging from
//! the store; the sandbox (`cairn-sandbox`) mounts it read-only with the `srcs` and a
//! writable `/out`; what the command leaves in `/out` is the output, owned by root and
//! referring to the `runtime` objects. The log is kept at [`Store::log_path`].

use std::collections::BTreeMap;
use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use cairn_nar::{ListingChange, NarHasher};
use cairn_plan::{Node, NodeId, Plan, Run};
use cairn_sandbox::{Identity, Limits, Mount, Outcome, Output, Sandbox, SandboxError};
use cairn_store::{
    AddOptions, Addressing, BatchTree, ObjectMetadata, PermissionsManifest, PermissionsSource,
    Store, StoreError, StorePath,
};
use sha2::{Digest as _, Sha256};

/// How many lines of a failed step's log an error shows.
const LOG_TAIL: usize = 25;

/// Progress of `run()` steps.
pub trait StepReporter: Send + Sync {
    /// A step starts running (it was not in the store).
    fn on_step_start(&self, _name: &str) {}
    /// A step ran: how long, and whether it succeeded.
    fn on_step_end(&self, _name: &str, _elapsed: Duration, _ok: bool) {}
}

/// Reports nothing.
pub struct NoStepReporter;

impl StepReporter for NoStepReporter {}

/// Why a step failed.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error("composing its root file system")]
    Compose(#[source] Box<cairn_image::BuildError>),
    #[error("writing its root file system or output at {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
    #[error("its command {outcome}; {}", log_tail(log, tail))]
    Failed {
        outcome: Outcome,
        log: PathBuf,
        tail: String,
    },
    #[error("it wrote nothing to /out (its log: {log})")]
    NoOutput { log: PathBuf },
    #[error("storing its output")]
    Store(#[from] StoreError),
    #[error("`srcs` mount point `{mount}`: {reason}")]
    Source { mount: String, reason: String },
}

/// Where a failed step's log is, with its last lines when it has some.
fn log_tail(log: &Path, tail: &str) -> String {
    if tail.is_empty() {
        format!("it wrote nothing to its log ({})", log.display())
    } else {
        format!("the last lines of its log ({}):\n{tail}", log.display())
    }
}

impl StepError {
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::Sandbox(e) => e.hint(),
            Self::Failed {
                outcome: Outcome::TimedOut(_),
                ..
            } => Some("raise the step's `timeout` (seconds) if it needs longer".into()),
            Self::NoOutput { .. } => Some(
                "a step's output is what its command writes under /out (e.g. \
                 /out/usr/local/bin/app)"
                    .into(),
            ),
            _ => None,
        }
    }
}

/// What a step is made of, once its inputs are objects.
pub(crate) struct StepInputs<'a> {
    pub(crate) run: &'a Run,
    pub(crate) contents: cairn_image::Contents<'a>,
    /// Mount point → the object, the directory in it that is mounted (`/` for all of
    /// it), and that directory's host path.
    pub(crate) srcs: BTreeMap<String, (StorePath, String, PathBuf)>,
    /// The output's references.
    pub(crate) runtime: Vec<StorePath>,
    pub(crate) mtime: u64,
}

impl StepInputs<'_> {
    /// The step's identity: 64 hex digits.
    pub(crate) fn input_hash(&self) -> String {
        let mut hasher = Sha256::new();
        let mut field = |name: &str, value: &[u8]| {
            hasher.update(name.as_bytes());
            hasher.update(b"\0");
            hasher.update(value);
            hasher.update(b"\0");
        };
        field("cairn-run-v1", b"");
        field(
            "sandbox",
            cairn_sandbox::SANDBOX_VERSION.to_string().as_bytes(),
        );
        field("node", &cairn_json::to_canonical(self.run));
        field("mtime", self.mtime.to_string().as_bytes());
        // Every object the root is composed of, in composition order (it decides which
        // file wins where two overlap).
        let c = &self.contents;
        for p in &c.lock.packages {
            if let Some(object) = c.installed.get(&p.name) {
                field("package", object.to_string().as_bytes());
            }
        }
        for l in c.libraries {
            field("library", l.object.to_string().as_bytes());
        }
        for (label, object) in c.application {
            field("application", format!("{label}={object}").as_bytes());
        }
        for (mount, (object, inside, _)) in &self.srcs {
            field("src", format!("{mount}={object}:{inside}").as_bytes());
        }
        for object in &self.runtime {
            field("runtime", object.to_string().as_bytes());
        }
        data_encoding::HEXLOWER.encode(&hasher.finalize())
    }
}

/// The output of a step that ran: staged in `batch`, not yet registered.
pub(crate) struct Ran {
    /// The output tree, for `--check` (in the batch's staging).
    pub(crate) tree: PathBuf,
}

/// Runs the step into `batch` under `path` (its input-addressed path).
pub(crate) fn run_step(
    store: &Store,
    batch: &cairn_store::Batch<'_>,
    inputs: &StepInputs<'_>,
    path: &StorePath,
    stage: bool,
    reporter: &dyn StepReporter,
) -> Result<Ran, StepError> {
    let run = inputs.run;
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| StepError::Io { path, source }
    };
    let log_path = store.log_path(path);
    let log_dir = log_path.parent().expect("a log has a directory");
    fs_err::create_dir_all(log_dir).map_err(io(log_dir))?;
    let partial = log_path.with_extension("log.partial");
    let log = fs_err::File::create(&partial).map_err(io(&partial))?;
    let (scratch, out, sandbox) =
        step_sandbox(batch, inputs, Output::File(log.into()), Identity::Build)?;
    reporter.on_step_start(&run.name);
    let started = Instant::now();
    let outcome = in_root(store, batch, inputs, sandbox, scratch.path());
    reporter.on_step_end(
        &run.name,
        started.elapsed(),
        matches!(outcome, Ok(o) if o.success()),
    );
    fs_err::rename(&partial, &log_path).map_err(io(&log_path))?;
    let outcome = outcome?;
    if !outcome.success() {
        return Err(StepError::Failed {
            outcome,
            tail: tail(&log_path, LOG_TAIL),
            log: log_path,
        });
    }
    let empty = fs_err::read_dir(out.path())
        .map_err(io(out.path()))?
        .next()
        .is_none();
    if empty {
        return Err(StepError::NoOutput { log: log_path });
    }
    let tree = out.path().to_owned();
    if !stage {
        return Ok(Ran { tree });
    }
    let permissions = PermissionsManifest::capture_owned(&tree, Some((0, 0)))?;
    let staged = batch.stage(
        out,
        &AddOptions {
            name: Some(run.name.clone()),
            references: inputs.runtime.clone(),
            permissions: PermissionsSource::Explicit(permissions),
            metadata: ObjectMetadata::default(),
            addressing: Some(Addressing::Input {
                node_hash: inputs.input_hash(),
            }),
        },
    )?;
    debug_assert_eq!(&staged, path);
    Ok(Ran { tree })
}

/// Whether overlayfs failed once in this process: the later steps link their roots.
static NO_OVERLAY: AtomicBool = AtomicBool::new(false);

/// The sandbox of a step, but its root: the `srcs` read-only, a scratch `/out`, its
/// command, environment, working directory and timeout; with the scratch space and
/// `/out` made in `batch`.
fn step_sandbox(
    batch: &cairn_store::Batch<'_>,
    inputs: &StepInputs<'_>,
    output: Output,
    identity: Identity,
) -> Result<(BatchTree, BatchTree, Sandbox), StepError> {
    let run = inputs.run;
    let (scratch, out) = (batch.tree_path()?, batch.tree_path()?);
    for dir in [scratch.path(), out.path()] {
        fs_err::create_dir(dir).map_err(|source| StepError::Io {
            path: dir.to_owned(),
            source,
        })?;
    }
    let mut env = cairn_sandbox::fixed_env(inputs.mtime);
    env.extend(run.env.clone());
    let mut mounts: Vec<Mount> = inputs
        .srcs
        .iter()
        .map(|(target, (_, _, source))| Mount {
            source: source.clone(),
            target: target.clone(),
            writable: false,
        })
        .collect();
    mounts.push(Mount {
        source: out.path().to_owned(),
        target: cairn_sandbox::OUT.into(),
        writable: true,
    });
    let sandbox = Sandbox {
        root: PathBuf::new(),
        lower: Vec::new(),
        scratch: scratch.path().to_owned(),
        mounts,
        cmd: run.cmd.clone(),
        env,
        workdir: run.workdir.clone(),
        limits: Limits {
            timeout: Duration::from_secs(run.timeout),
            ..Limits::default()
        },
        output,
        identity,
    };
    Ok((scratch, out, sandbox))
}

/// Composes the step's root file system, runs `sandbox` in it, and removes the root
/// and `scratch` (what the step wrote there may be read-only).
///
/// The root is the store objects stacked with overlayfs under a top layer of what
/// composition adds ([`cairn_image::Stack`]): a few dozen entries made in staging,
/// whatever the size of the root. When the objects cannot show the composed tree, or
/// the kernel cannot mount the overlay (then for the rest of the process), every entry
/// is linked into staging instead.
fn in_root(
    store: &Store,
    batch: &cairn_store::Batch<'_>,
    inputs: &StepInputs<'_>,
    mut sandbox: Sandbox,
    scratch: &Path,
) -> Result<Outcome, StepError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| StepError::Io { path, source }
    };
    let rootfs = cairn_image::root_filesystem(store, &inputs.contents)
        .map_err(|e| StepError::Compose(Box::new(e)))?;
    let stack = if NO_OVERLAY.load(Ordering::Relaxed) {
        None
    } else {
        rootfs.stack(store, cairn_sandbox::MAX_LOWER)?
    };
    let root = batch.tree_path()?;
    root.path().clone_into(&mut sandbox.root);
    let outcome = match stack {
        Some(stack) => {
            stack.top.link_into(root.path()).map_err(io(root.path()))?;
            let mut stacked = sandbox.try_clone().map_err(io(scratch))?;
            stacked.lower = stack.lower;
            match stacked.run() {
                Err(e) if e.is_overlay_failure() => {
                    NO_OVERLAY.store(true, Ordering::Relaxed);
                    cairn_sandbox::remove_tree(root.path()).map_err(io(root.path()))?;
                    None
                }
                outcome => Some(outcome),
            }
        }
        None => None,
    };
    let outcome = if let Some(outcome) = outcome {
        outcome
    } else {
        rootfs.link_into(root.path()).map_err(io(root.path()))?;
        sandbox.run()
    };
    // The sandbox's own error first: a failed removal is retried when the batch's
    // staging goes.
    let removed = [scratch, root.path()]
        .into_iter()
        .try_for_each(|dir| cairn_sandbox::remove_tree(dir).map_err(io(dir)));
    let outcome = outcome?;
    removed?;
    Ok(outcome)
}

/// The last `lines` lines of the file at `path` (at most 64 KiB of it).
fn tail(path: &Path, lines: usize) -> String {
    let Ok(mut file) = fs_err::File::open(path) else {
        return String::new();
    };
    let len = file.metadata().map_or(0, |m| m.len());
    let _ = file.seek(SeekFrom::Start(len.saturating_sub(64 * 1024)));
    let mut bytes = Vec::new();
    let _ = file.read_to_end(&mut bytes);
    let text = String::from_utf8_lossy(&bytes);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..]
        .iter()
        .map(|l| format!("  | {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// How a rebuilt step's output compares with the one in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    pub step: String,
    pub object: StorePath,
    /// The NAR hashes, stored and rebuilt.
    pub expected: String,
    pub actual: String,
    /// The files that differ (empty when the outputs are identical).
    pub differences: Vec<String>,
    /// `diffoscope`'s report, when it is installed and the outputs differ.
    pub diffoscope: Option<String>,
}

impl CheckReport {
    pub fn identical(&self) -> bool {
        self.expected == self.actual
    }
}

/// Compares `rebuilt` (a tree) with the object `object`.
pub(crate) fn compare(
    store: &Store,
    step: &str,
    object: &StorePath,
    rebuilt: &Path,
) -> Result<CheckReport, StepError> {
    let info = store.info(object)?;
    let (hasher, _, listing) = cairn_nar::dump_path_listed(rebuilt, NarHasher::new())
        .map_err(|e| StepError::Store(StoreError::from(e)))?;
    let (hash, _) = hasher.finish().map_err(|source| StepError::Io {
        path: rebuilt.to_owned(),
        source,
    })?;
    let expected = info.nar_hash.to_string();
    let actual = hash.to_string();
    let mut differences = Vec::new();
    let mut diffoscope = None;
    if expected != actual {
        let stored = store.listing(object)?;
        differences = stored
            .diff(&listing)
            .iter()
            .map(ListingChange::to_string)
            .collect();
        diffoscope = std::process::Command::new("diffoscope")
            .arg("--text-color=never")
            .arg(store.object_dir(object))
            .arg(rebuilt)
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
    }
    Ok(CheckReport {
        step: step.to_owned(),
        object: object.clone(),
        expected,
        actual,
        differences,
        diffoscope,
    })
}

/// What a `srcs` node mounts: a `files()` tree's directory at its `dest` inside the
/// object, any other object whole; as that directory and its host path.
pub(crate) fn source_path(
    store: &Store,
    plan: &Plan,
    mount: &str,
    id: &NodeId,
    object: &StorePath,
) -> Result<(String, PathBuf), StepError> {
    let dir = store.object_dir(object);
    let inside = match plan.nodes.get(id) {
        Some(Node::Files { dest, .. }) => dest.clone(),
        _ => "/".to_owned(),
    };
    let path = cairn_sandbox::host_path(&dir, &inside);
    if fs_err::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(StepError::Source {
            mount: mount.to_owned(),
            reason: "a symbolic link cannot be mounted".into(),
        });
    }
    Ok((inside, path))
}

/// Runs `command` (a shell when empty) interactively in the step's sandbox, with the
/// project at `/project` (writable) and a scratch `/out`, as the caller's user.
pub(crate) fn shell(
    store: &Store,
    batch: &cairn_store::Batch<'_>,
    inputs: &StepInputs<'_>,
    project: &Path,
    command: Vec<String>,
) -> Result<Outcome, StepError> {
    let (scratch, out, mut sandbox) =
        step_sandbox(batch, inputs, Output::Terminal, Identity::Caller)?;
    if let Ok(term) = std::env::var("TERM") {
        sandbox.env.insert("TERM".into(), term);
    }
    if !inputs.srcs.contains_key("/project") {
        sandbox.mounts.push(Mount {
            source: project.to_owned(),
            target: "/project".into(),
            writable: true,
        });
    }
    sandbox.cmd = if command.is_empty() {
        vec!["sh".to_owned()]
    } else {
        command
    };
    if sandbox.workdir == "/" {
        "/project".clone_into(&mut sandbox.workdir);
    }
    sandbox.limits.timeout = Duration::from_hours(24);
    let outcome = in_root(store, batch, inputs, sandbox, scratch.path());
    cairn_sandbox::remove_tree(out.path()).map_err(|source| StepError::Io {
        path: out.path().to_owned(),
        source,
    })?;
    outcome
}
