//! `cairn build`: the images of a plan, from its lock.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::ffi::OsStrExt as _;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cairn_debian::{DebianLock, InstallError, InstallReporter, LockedPackage, fetch_locked};
use cairn_fetch::{FetchError, FetchReporter, Fetcher};
use cairn_image::synth::{Account, Group};
use cairn_image::{BuildError, Contents, Excludes, ImageReporter, ImageSpec, Library, Output};
use cairn_oci::{Compression, ImageConfig};
use cairn_plan::{Image, Node, NodeId, Plan, Span};
use cairn_pypi::install::{WheelReporter, install_locked};
use cairn_pypi::lock::LockedWheel;
use cairn_pypi::wheel::InstallScheme;
use cairn_store::{Store, StoreError, StorePath};

use crate::files::{FilesError, stage_files, stage_symlink, stage_write_file};
use crate::lock::ProjectLock;
use crate::lock_python::python_of;
use crate::step::{
    CheckReport, StepError, StepInputs, StepReporter, compare, run_step, source_path,
};

/// How to build.
pub struct BuildOptions<'a> {
    pub store: &'a Store,
    pub fetcher: &'a Fetcher,
    /// The project's root (where `files()` sources are).
    pub root: &'a Path,
    /// Every timestamp in the images (`SOURCE_DATE_EPOCH`, or 0).
    pub mtime: u64,
    pub reporter: Arc<dyn InstallReporter>,
    /// Progress of installing wheels.
    pub wheel_reporter: Arc<dyn WheelReporter>,
    /// Progress of layer writing.
    pub image_reporter: &'a dyn ImageReporter,
    /// Names the package that provides a missing library (see `cairn_image::build`).
    pub provider_hint: &'a dyn Fn(&str) -> Option<String>,
    /// Progress of `run()` steps.
    pub step_reporter: &'a dyn StepReporter,
}

/// What building one image did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageReport {
    pub name: String,
    /// `sha256:…` of the manifest.
    pub manifest: String,
    /// The image in the store (an OCI layout).
    pub object: StorePath,
    pub packages: usize,
    pub layers: usize,
    /// Layer blobs written now (the others came from the store).
    pub layers_written: usize,
    /// Packages downloaded or unpacked now.
    pub packages_installed: usize,
    /// Python wheels in the image.
    pub wheels: usize,
    /// Wheels downloaded or installed now.
    pub wheels_installed: usize,
    /// Objects of the project's files made now (the others were in the store).
    pub files_added: usize,
    /// `run()` steps in the image whose output was made now.
    pub steps_run: usize,
}

/// Why an image could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildPlanError {
    #[error("there is no image `{name}` in the plan{}", names_known(.known))]
    UnknownImage { name: String, known: Vec<String> },
    #[error("there is no run() step named `{name}` in the plan{}", names_known(.known))]
    UnknownStep { name: String, known: Vec<String> },
    #[error("`cairn.lock` has no entry for the packages of image `{image}`: run `cairn lock`")]
    NotLocked { image: String, span: Option<Span> },
    #[error(
        "image `{image}` has package `{package}` twice, at versions {first} and {second} \
         (locked at different times): run `cairn lock --upgrade {package}`"
    )]
    VersionClash {
        image: String,
        package: String,
        first: String,
        second: String,
    },
    #[error("image `{image}`: {source}")]
    Files {
        image: String,
        span: Option<Span>,
        #[source]
        source: Box<FilesError>,
    },
    #[error("image `{image}`: {source}")]
    Install {
        image: String,
        #[source]
        source: Box<InstallError>,
    },
    #[error("image `{image}`: {source}")]
    Wheels {
        image: String,
        #[source]
        source: Box<cairn_pypi::install::InstallError>,
    },
    #[error("image `{image}`: local wheels: {source}")]
    LocalWheels {
        image: String,
        #[source]
        source: Box<cairn_pypi::local::LocalWheelError>,
    },
    #[error("image `{image}`: {source}")]
    Image {
        image: String,
        #[source]
        source: Box<BuildError>,
    },
    #[error("image `{image}`: {reason}")]
    Invalid { image: String, reason: String },
    #[error("run(name = \"{step}\"): {source}")]
    Step {
        step: String,
        span: Option<Span>,
        #[source]
        source: Box<StepError>,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn names_known(names: &[String]) -> String {
    if names.is_empty() {
        String::new()
    } else {
        format!(" (it has: {})", names.join(", "))
    }
}

impl BuildPlanError {
    /// Where in the spec the error is, when known.
    pub fn span(&self) -> Option<&Span> {
        match self {
            Self::NotLocked { span, .. } | Self::Files { span, .. } | Self::Step { span, .. } => {
                span.as_ref()
            }
            _ => None,
        }
    }

    /// A suggestion, when there is one.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::Image { source, .. } => source.hint(),
            Self::Install { source, .. } => source.hint(),
            Self::Wheels { source, .. } => source.hint(),
            Self::LocalWheels { source, .. } => source.hint(),
            Self::Step { source, .. } => source.hint(),
            _ => None,
        }
    }
}

/// One lock for several `debian` nodes of an image: the union of their packages. The
/// same package at two versions (nodes locked at different times) is refused.
fn merge_locks(image: &str, locks: &[DebianLock]) -> Result<DebianLock, BuildPlanError> {
    let mut merged = locks.first().cloned().unwrap_or_else(|| DebianLock {
        architecture: String::new(),
        request: Vec::new(),
        recommends: false,
        repositories: Vec::new(),
        packages: Vec::new(),
    });
    for lock in locks.iter().skip(1) {
        if lock.architecture != merged.architecture {
            return Err(BuildPlanError::Invalid {
                image: image.to_owned(),
                reason: format!(
                    "its packages are for two architectures, {} and {}",
                    merged.architecture, lock.architecture
                ),
            });
        }
        merged.request.extend(lock.request.iter().cloned());
        for r in &lock.repositories {
            match merged.repositories.iter().find(|m| m.suite == r.suite) {
                Some(m) if m.mirror != r.mirror => {
                    return Err(BuildPlanError::Invalid {
                        image: image.to_owned(),
                        reason: format!(
                            "suite `{}` comes from two mirrors, {} and {}",
                            r.suite, m.mirror, r.mirror
                        ),
                    });
                }
                Some(_) => {}
                None => merged.repositories.push(r.clone()),
            }
        }
        for p in &lock.packages {
            match merged.packages.iter().find(|m| m.name == p.name) {
                Some(m) if m.version != p.version || m.sha256 != p.sha256 => {
                    return Err(BuildPlanError::VersionClash {
                        image: image.to_owned(),
                        package: p.name.clone(),
                        first: m.version.clone(),
                        second: if m.version == p.version {
                            format!("{} (another build of it: a different sha256)", p.version)
                        } else {
                            p.version.clone()
                        },
                    });
                }
                Some(_) => {}
                None => merged.packages.push(p.clone()),
            }
        }
    }
    merged.normalize();
    Ok(merged)
}

/// The images named (every image when `names` is empty), each once; every name is
/// checked before anything is built.
fn select_images<'p>(plan: &'p Plan, names: &[String]) -> Result<Vec<&'p Image>, BuildPlanError> {
    let names: Vec<String> = if names.is_empty() {
        plan.images.keys().cloned().collect()
    } else {
        let mut unique = Vec::new();
        for name in names {
            if !unique.contains(name) {
                unique.push(name.clone());
            }
        }
        unique
    };
    // Every name is checked before anything is built.
    let mut images = Vec::new();
    for name in &names {
        let Some((_, image)) = plan.image(name) else {
            return Err(BuildPlanError::UnknownImage {
                name: name.clone(),
                known: plan.images.keys().cloned().collect(),
            });
        };
        images.push(image);
    }
    Ok(images)
}

/// Builds `names` (every image when empty), each also written to `output(name)` when
/// that gives one.
pub fn build_images(
    plan: &Plan,
    lock: &ProjectLock,
    names: &[String],
    options: &BuildOptions<'_>,
    output: &dyn Fn(&str) -> Option<Output>,
) -> Result<Vec<ImageReport>, BuildPlanError> {
    let images = select_images(plan, names)?;
    for image in &images {
        check_before_steps(plan, image)?;
    }
    let reached = reachable(plan, &images);
    let mut application = stage_application(plan, &reached, options)?;
    realise_steps(plan, lock, &reached, &mut application, options, None)?;
    let mut reports = Vec::new();
    for image in images {
        reports.push(build_image(
            plan,
            lock,
            image,
            &application,
            options,
            output(&image.name).as_ref(),
        )?);
    }
    Ok(reports)
}

/// What can be said wrong with an image from the plan alone, said before any step
/// runs for it: no Debian packages, no program to run.
fn check_before_steps(plan: &Plan, image: &Image) -> Result<(), BuildPlanError> {
    let invalid = |reason: &str| BuildPlanError::Invalid {
        image: image.name.clone(),
        reason: reason.to_owned(),
    };
    // An environment brings its interpreter's packages.
    let packages = held(plan, image).into_iter().any(|id| {
        matches!(
            plan.nodes.get(id),
            Some(Node::Debian { .. } | Node::PythonEnv(_))
        )
    });
    if !packages {
        return Err(invalid(
            "it has no Debian packages; cairn images start from `deb.packages([...])`",
        ));
    }
    let given = |v: &Option<Vec<String>>| v.as_ref().is_some_and(|v| !v.is_empty());
    if !given(&image.entrypoint) && !given(&image.cmd) {
        return Err(BuildPlanError::Image {
            image: image.name.clone(),
            source: Box::new(cairn_image::BuildError::NoProgram),
        });
    }
    Ok(())
}

/// The application's parts of every image, each node once: `(label, object)` by node,
/// and which objects are new to the store.
struct Application {
    parts: BTreeMap<NodeId, (String, StorePath)>,
    fresh: BTreeSet<StorePath>,
    /// The packages and wheels made objects in this build (for a step or an image).
    made: Mutex<BTreeSet<StorePath>>,
}

/// Every node the images reach: their contents and, through `run` nodes, the nodes
/// those name (`deps`, `srcs`, `runtime`), through `python_env` nodes their local
/// `wheels`; each once, after the nodes it names, with
/// the first image that reaches it (for messages).
fn reachable(plan: &Plan, images: &[&Image]) -> Vec<(NodeId, String)> {
    fn visit(
        plan: &Plan,
        id: &NodeId,
        image: &str,
        seen: &mut BTreeSet<NodeId>,
        out: &mut Vec<(NodeId, String)>,
    ) {
        if !seen.insert(id.clone()) {
            return;
        }
        match plan.nodes.get(id) {
            Some(Node::Run(run)) => {
                for child in run.deps.iter().chain(run.srcs.values()).chain(&run.runtime) {
                    visit(plan, child, image, seen, out);
                }
            }
            Some(Node::PythonEnv(env)) => {
                for child in &env.wheels {
                    visit(plan, child, image, seen, out);
                }
            }
            _ => {}
        }
        out.push((id.clone(), image.to_owned()));
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for image in images {
        for content in &image.contents {
            visit(plan, content, &image.name, &mut seen, &mut out);
        }
    }
    out
}

/// Makes the `files`, `write_file` and `symlink` nodes of `reached` objects, in one
/// batch: a tree several images share is read once.
fn stage_application(
    plan: &Plan,
    reached: &[(NodeId, String)],
    options: &BuildOptions<'_>,
) -> Result<Application, BuildPlanError> {
    let batch = options.store.batch()?;
    let mut parts = BTreeMap::new();
    for (content, image) in reached {
        let files_error = |source| BuildPlanError::Files {
            image: image.clone(),
            span: plan.spans.get(content).and_then(|s| s.call.clone()),
            source: Box::new(source),
        };
        let part = match plan.nodes.get(content) {
            Some(Node::Files {
                src,
                dest,
                exclude,
                mode,
                owner,
            }) => (
                format!("files:{dest}"),
                stage_files(&batch, options.root, src, dest, exclude, *mode, *owner)
                    .map_err(files_error)?,
            ),
            Some(Node::WriteFile {
                path,
                content,
                mode,
            }) => (
                format!("file:{path}"),
                stage_write_file(&batch, path, content, *mode).map_err(files_error)?,
            ),
            Some(Node::Symlink { path, target }) => (
                format!("link:{path}"),
                stage_symlink(&batch, path, target).map_err(files_error)?,
            ),
            _ => continue,
        };
        parts.insert(content.clone(), part);
    }
    let mut fresh = BTreeSet::new();
    for (_, object) in parts.values() {
        if !options.store.is_valid(object)? {
            fresh.insert(object.clone());
        }
    }
    batch.commit()?;
    Ok(Application {
        parts,
        fresh,
        made: Mutex::new(BTreeSet::new()),
    })
}

fn build_image(
    plan: &Plan,
    lock: &ProjectLock,
    image: &Image,
    staged: &Application,
    options: &BuildOptions<'_>,
    output: Option<&Output>,
) -> Result<ImageReport, BuildPlanError> {
    let name = &image.name;
    let invalid = |reason: String| BuildPlanError::Invalid {
        image: name.clone(),
        reason,
    };
    let realised = realise_contents(plan, lock, image, staged, options)?;
    let Realised {
        merged,
        installed,
        wheels,
        gathered:
            Gathered {
                users,
                groups,
                application,
                files_added,
                ..
            },
    } = realised;
    // What this build made of the image's closure, whether for the image or for a step
    // on the way to it.
    let (packages_installed, wheels_installed) = {
        let made = lock_set(&staged.made);
        (
            installed.values().filter(|o| made.contains(*o)).count(),
            wheels.iter().filter(|w| made.contains(&w.object)).count(),
        )
    };
    let steps_run = reachable(plan, &[image])
        .iter()
        .filter(|(id, _)| matches!(plan.nodes.get(id), Some(Node::Run(_))))
        .filter(|(id, _)| {
            staged
                .parts
                .get(id)
                .is_some_and(|(_, object)| staged.fresh.contains(object))
        })
        .count();
    let spec = image_spec(image, options.mtime, users, groups).map_err(invalid)?;
    let contents = Contents {
        lock: &merged,
        installed: &installed,
        application: &application,
        libraries: &wheels,
    };
    let built = cairn_image::build(
        options.store,
        &contents,
        &spec,
        output,
        options.provider_hint,
        options.image_reporter,
    )
    .map_err(|source| BuildPlanError::Image {
        image: name.clone(),
        source: Box::new(source),
    })?;
    Ok(ImageReport {
        name: name.clone(),
        manifest: built.manifest.digest.to_string(),
        object: built.object,
        packages: merged.packages.len(),
        layers: built.layers.len(),
        layers_written: built.fresh_layers,
        packages_installed,
        wheels: wheels.len(),
        wheels_installed,
        files_added,
        steps_run,
    })
}

/// An image's (or a step's) contents, realised: packages fetched and unpacked, wheels
/// installed.
struct Realised {
    merged: DebianLock,
    installed: cairn_debian::Installed,
    wheels: Vec<Library>,
    gathered: Gathered,
}

fn realise_contents(
    plan: &Plan,
    lock: &ProjectLock,
    image: &Image,
    staged: &Application,
    options: &BuildOptions<'_>,
) -> Result<Realised, BuildPlanError> {
    let name = &image.name;
    let gathered = gather(plan, lock, image, staged)?;
    let merged = merge_locks(name, &gathered.locks)?;
    let counting = Arc::new(Counting::new(options.reporter.clone()));
    let reporter: Arc<dyn InstallReporter> = counting.clone();
    let installed = if merged.packages.is_empty() {
        cairn_debian::Installed::new()
    } else {
        fetch_locked(options.store, options.fetcher, &merged, &reporter).map_err(|source| {
            BuildPlanError::Install {
                image: name.clone(),
                source: Box::new(source),
            }
        })?
    };
    lock_set(&staged.made).extend(counting.take());
    let wheels = install_python_envs(
        plan,
        lock,
        image,
        &gathered.python_envs,
        &installed,
        staged,
        options,
    )?;
    Ok(Realised {
        merged,
        installed,
        wheels,
        gathered,
    })
}

/// An image-shaped view of a step's `deps` or `runtime`, to realise them as an
/// image's contents are.
fn step_contents(run: &cairn_plan::Run, contents: Vec<NodeId>) -> Image {
    Image {
        name: format!("run({})", run.name),
        contents,
        entrypoint: None,
        cmd: None,
        user: None,
        workdir: None,
        env: BTreeMap::new(),
        ports: Vec::new(),
        labels: BTreeMap::new(),
        volumes: Vec::new(),
        stop_signal: None,
        layers: 0,
        compression: String::new(),
    }
}

/// Realises the `run` nodes of `reached` (in order: a step after what it builds on),
/// adding each output to `staged` as an application part. A step whose output is in
/// the store is not run, unless `check` is given: then it is run again and compared.
fn realise_steps(
    plan: &Plan,
    lock: &ProjectLock,
    reached: &[(NodeId, String)],
    staged: &mut Application,
    options: &BuildOptions<'_>,
    mut check: Option<&mut Vec<CheckReport>>,
) -> Result<(), BuildPlanError> {
    for (id, _) in reached {
        let Some(Node::Run(run)) = plan.nodes.get(id) else {
            continue;
        };
        let step_error = |source: StepError| BuildPlanError::Step {
            step: run.name.clone(),
            span: plan.spans.get(id).and_then(|s| s.call.clone()),
            source: Box::new(source),
        };
        let prepared = prepare_step(plan, lock, id, run, staged, options)?;
        let inputs = prepared.inputs(run, options.mtime);
        let path = Store::input_path(&run.name, &inputs.input_hash())?;
        let _ = options.store.add_temp_roots(std::slice::from_ref(&path))?;
        options.store.substitute(std::slice::from_ref(&path))?;
        let present = options.store.is_valid(&path)?;
        if !present || check.is_some() {
            let batch = options.store.batch()?;
            let ran = run_step(
                options.store,
                &batch,
                &inputs,
                &path,
                !present,
                options.step_reporter,
            )
            .map_err(step_error)?;
            if present && let Some(reports) = check.as_deref_mut() {
                reports
                    .push(compare(options.store, &run.name, &path, &ran.tree).map_err(step_error)?);
            }
            if present {
                // Only compared: removed now, as what the step wrote may be read-only.
                cairn_sandbox::remove_tree(&ran.tree).ok();
            } else {
                batch.commit()?;
                staged.fresh.insert(path.clone());
            }
        }
        staged
            .parts
            .insert(id.clone(), (format!("run:{}", run.name), path));
    }
    Ok(())
}

/// A step's inputs, realised.
struct PreparedStep {
    deps: Realised,
    srcs: BTreeMap<String, (StorePath, String, std::path::PathBuf)>,
    runtime: Vec<StorePath>,
}

impl PreparedStep {
    fn inputs<'a>(&'a self, run: &'a cairn_plan::Run, mtime: u64) -> StepInputs<'a> {
        StepInputs {
            run,
            contents: Contents {
                lock: &self.deps.merged,
                installed: &self.deps.installed,
                application: &self.deps.gathered.application,
                libraries: &self.deps.wheels,
            },
            srcs: self.srcs.clone(),
            runtime: self.runtime.clone(),
            mtime,
        }
    }
}

/// Realises what step `id` needs (its `deps`, `runtime` and `srcs`; the steps among
/// them are in `staged` already).
fn prepare_step(
    plan: &Plan,
    lock: &ProjectLock,
    id: &NodeId,
    run: &cairn_plan::Run,
    staged: &Application,
    options: &BuildOptions<'_>,
) -> Result<PreparedStep, BuildPlanError> {
    let deps = realise_contents(
        plan,
        lock,
        &step_contents(run, run.deps.clone()),
        staged,
        options,
    )?;
    let runtime = realise_contents(
        plan,
        lock,
        &step_contents(run, run.runtime.clone()),
        staged,
        options,
    )?;
    let mut references: BTreeSet<StorePath> = runtime.installed.values().cloned().collect();
    references.extend(runtime.wheels.iter().map(|w| w.object.clone()));
    references.extend(runtime.gathered.application.iter().map(|(_, o)| o.clone()));
    let mut srcs = BTreeMap::new();
    for (mount, node) in &run.srcs {
        let (_, object) = staged
            .parts
            .get(node)
            .ok_or_else(|| BuildPlanError::Invalid {
                image: format!("run({})", run.name),
                reason: format!(
                    "`srcs` `{mount}` names a node that is not a tree of files or a run()"
                ),
            })?;
        let (inside, path) =
            source_path(options.store, plan, mount, node, object).map_err(|source| {
                BuildPlanError::Step {
                    step: run.name.clone(),
                    span: plan.spans.get(id).and_then(|s| s.call.clone()),
                    source: Box::new(source),
                }
            })?;
        srcs.insert(mount.clone(), (object.clone(), inside, path));
    }
    Ok(PreparedStep {
        deps,
        srcs,
        runtime: references.into_iter().collect(),
    })
}

/// Opens an interactive shell (or runs `command`) in the sandbox step `name` runs in,
/// with the project mounted writable at `/project`: what the step's command would
/// see, for debugging it, or as a development environment. The step itself is not
/// run; the steps it builds on are.
pub fn shell(
    plan: &Plan,
    lock: &ProjectLock,
    name: &str,
    command: Vec<String>,
    options: &BuildOptions<'_>,
) -> Result<cairn_sandbox::Outcome, BuildPlanError> {
    let runs = plan.runs();
    let Some((id, run)) = runs.iter().find(|(_, r)| r.name == name) else {
        return Err(BuildPlanError::UnknownStep {
            name: name.to_owned(),
            known: runs.values().map(|r| r.name.clone()).collect(),
        });
    };
    let pseudo = step_contents(run, vec![(*id).clone()]);
    let mut reached = reachable(plan, &[&pseudo]);
    reached.retain(|(node, _)| node != *id);
    let mut application = stage_application(plan, &reached, options)?;
    realise_steps(plan, lock, &reached, &mut application, options, None)?;
    let prepared = prepare_step(plan, lock, id, run, &application, options)?;
    let inputs = prepared.inputs(run, options.mtime);
    let batch = options.store.batch()?;
    crate::step::shell(options.store, &batch, &inputs, options.root, command).map_err(|source| {
        BuildPlanError::Step {
            step: run.name.clone(),
            span: plan.spans.get(*id).and_then(|s| s.call.clone()),
            source: Box::new(source),
        }
    })
}

/// Builds the `run` steps that `names` (every image when empty) reach, then runs each
/// again and compares the two outputs by NAR hash (`cairn build --check`).
pub fn check_steps(
    plan: &Plan,
    lock: &ProjectLock,
    names: &[String],
    options: &BuildOptions<'_>,
) -> Result<Vec<CheckReport>, BuildPlanError> {
    let images = select_images(plan, names)?;
    let reached = reachable(plan, &images);
    let mut application = stage_application(plan, &reached, options)?;
    realise_steps(plan, lock, &reached, &mut application, options, None)?;
    let mut reports = Vec::new();
    realise_steps(
        plan,
        lock,
        &reached,
        &mut application,
        options,
        Some(&mut reports),
    )?;
    Ok(reports)
}

/// Installs the wheels of the image's `python_env` nodes (their interpreters' packages
/// are in `installed`), locked and local; returns each wheel's object as a part
/// layered like a package (by how many wheels need it). The objects made now are
/// noted in `staged`.
fn install_python_envs(
    plan: &Plan,
    lock: &ProjectLock,
    image: &Image,
    envs: &[NodeId],
    installed: &cairn_debian::Installed,
    staged: &Application,
    options: &BuildOptions<'_>,
) -> Result<Vec<Library>, BuildPlanError> {
    let name = &image.name;
    let invalid = |reason: String| BuildPlanError::Invalid {
        image: name.clone(),
        reason,
    };
    let counting = Arc::new(Counting::new(options.wheel_reporter.clone()));
    let reporter: Arc<dyn WheelReporter> = counting.clone();
    let mut wheels: BTreeMap<String, Library> = BTreeMap::new();
    for id in envs {
        let Some(Node::PythonEnv(env)) = plan.nodes.get(id) else {
            return Err(invalid(format!("node {id} is not a python_env")));
        };
        let not_locked = || BuildPlanError::NotLocked {
            image: name.clone(),
            span: plan.spans.get(id).and_then(|s| s.call.clone()),
        };
        let entry = lock.pypi(&env.lock_id()).ok_or_else(not_locked)?;
        let python_lock = lock.debian(&env.python).ok_or_else(not_locked)?;
        let python = python_of(&python_lock.debian_lock())
            .map_err(|e| invalid(format!("python_env(): {e}")))?;
        let pypi = entry.pypi_lock();
        if !pypi.is_for(&python.target) {
            return Err(invalid(format!(
                "`cairn.lock`'s wheels are for CPython {} (glibc {}, {}), but its python_env() \
                 now has {}: run `cairn lock`",
                pypi.python,
                pypi.glibc,
                pypi.architecture,
                python.target.python_full_version()
            )));
        }
        let interpreter: Vec<StorePath> = python
            .interpreter
            .iter()
            .filter_map(|n| installed.get(n).cloned())
            .collect();
        let scheme = InstallScheme::debian(&python.target);
        let objects = install_locked(
            options.store,
            options.fetcher,
            &pypi,
            &scheme,
            &interpreter,
            &reporter,
        )
        .map_err(|source| BuildPlanError::Wheels {
            image: name.clone(),
            source: Box::new(source),
        })?;
        let popularity = dependents(&pypi);
        let locked_wheels = pypi.by_name();
        for (wheel, object) in &objects {
            add_wheel(
                &mut wheels,
                Library {
                    label: format!("pypi:{wheel}"),
                    version: locked_wheels[wheel.as_str()].version.clone(),
                    object: object.clone(),
                    popularity: popularity.get(wheel.as_str()).copied().unwrap_or(0),
                },
            )
            .map_err(invalid)?;
        }
        if env.wheels.is_empty() {
            continue;
        }
        let locals = local_wheels(options.store, plan, env, staged, name)?;
        let made = cairn_pypi::local::install_local(
            options.store,
            &locals,
            &python.target,
            &scheme,
            &interpreter,
            &pypi,
            &objects,
        )
        .map_err(|source| BuildPlanError::LocalWheels {
            image: name.clone(),
            source: Box::new(source),
        })?;
        for local in made {
            if local.fresh {
                lock_set(&staged.made).insert(local.object.clone());
            }
            add_wheel(
                &mut wheels,
                Library {
                    label: format!("pypi:{}", local.name.name()),
                    version: local.name.version().to_string(),
                    object: local.object,
                    popularity: 0,
                },
            )
            .map_err(invalid)?;
        }
    }
    lock_set(&staged.made).extend(counting.take());
    Ok(wheels.into_values().collect())
}

/// Adds a wheel's object to an image's, refusing another object for the same name:
/// two environments of one image install into the same directory.
fn add_wheel(wheels: &mut BTreeMap<String, Library>, wheel: Library) -> Result<(), String> {
    match wheels.get(&wheel.label) {
        Some(other) if other.object != wheel.object => Err(format!(
            "two of its python_env()s install {} ({} and {}, or the same version with other \
             dependencies) into the same site-packages; use one python_env()",
            wheel.label.trim_start_matches("pypi:"),
            other.version,
            wheel.version
        )),
        Some(_) => Ok(()),
        None => {
            wheels.insert(wheel.label.clone(), wheel);
            Ok(())
        }
    }
}

/// The `.whl` files of an environment's `wheels` nodes (realised in `staged`), from
/// their objects' listings (sorted, with each file's SHA-256: nothing is read); a node
/// without one is an error.
fn local_wheels(
    store: &Store,
    plan: &Plan,
    env: &cairn_plan::PythonEnv,
    staged: &Application,
    image: &str,
) -> Result<Vec<cairn_pypi::local::LocalWheel>, BuildPlanError> {
    let mut out = Vec::new();
    for id in &env.wheels {
        let origin = match plan.nodes.get(id) {
            Some(Node::Run(run)) => format!("step `{}`", run.name),
            Some(Node::Files { src, .. }) => format!("files(\"{src}\")"),
            _ => format!("node {id}"),
        };
        let missing = |what: &str| BuildPlanError::Invalid {
            image: image.to_owned(),
            reason: format!("python_env(): {origin}, in its `wheels`, {what}"),
        };
        let (_, object) = staged
            .parts
            .get(id)
            .ok_or_else(|| missing("was not made"))?;
        let dir = store.object_dir(object);
        let before = out.len();
        for (path, node) in &store.listing(object)?.nodes {
            if let cairn_nar::ListedNode::Regular { sha256, .. } = node
                && path.ends_with(b".whl")
            {
                out.push(cairn_pypi::local::LocalWheel {
                    file: dir.join(std::ffi::OsStr::from_bytes(path)),
                    sha256: data_encoding::HEXLOWER.encode(sha256),
                    origin: origin.clone(),
                });
            }
        }
        if out.len() == before {
            return Err(missing("holds no `.whl` file"));
        }
    }
    Ok(out)
}

/// How many wheels of `lock` need each one, directly or not.
fn dependents(lock: &cairn_pypi::lock::PypiLock) -> BTreeMap<&str, usize> {
    let wheels = lock.by_name();
    let mut count: BTreeMap<&str, usize> = BTreeMap::new();
    for &start in wheels.keys() {
        // Everything `start` needs, once.
        let mut seen: BTreeSet<&str> = BTreeSet::new();
        let mut stack: Vec<&str> = wheels[start].requires.iter().map(String::as_str).collect();
        while let Some(name) = stack.pop() {
            if name == start || !seen.insert(name) {
                continue;
            }
            if let Some(w) = wheels.get(name) {
                stack.extend(w.requires.iter().map(String::as_str));
            }
        }
        for name in seen {
            *count.entry(name).or_default() += 1;
        }
    }
    count
}

/// What an image's contents are, once its files are objects.
struct Gathered {
    locks: Vec<DebianLock>,
    users: Vec<Account>,
    groups: Vec<Group>,
    application: Vec<(String, StorePath)>,
    /// Objects of the application made now.
    files_added: usize,
    /// The `python_env` nodes, in order.
    python_envs: Vec<NodeId>,
}

/// The locks of an image's `debian` nodes, its accounts, and its application parts as
/// objects (staged for every image at once by `stage_application`).
fn gather(
    plan: &Plan,
    lock: &ProjectLock,
    image: &Image,
    staged: &Application,
) -> Result<Gathered, BuildPlanError> {
    let name = &image.name;
    let invalid = |reason: String| BuildPlanError::Invalid {
        image: name.clone(),
        reason,
    };
    let mut gathered = Gathered {
        locks: Vec::new(),
        users: Vec::new(),
        groups: Vec::new(),
        application: Vec::new(),
        files_added: 0,
        python_envs: Vec::new(),
    };
    // The lock of a `debian` node, checked against the node.
    let debian_entry = |id: &NodeId| -> Result<DebianLock, BuildPlanError> {
        let Some(Node::Debian {
            repo, recommends, ..
        }) = plan.nodes.get(id)
        else {
            return Err(invalid(format!("node {id} is not a debian() node")));
        };
        let entry = lock.debian(id).ok_or_else(|| BuildPlanError::NotLocked {
            image: name.clone(),
            span: plan.spans.get(id).and_then(|s| s.call.clone()),
        })?;
        // The entry is found by the node's id; what it says must be that node too (a
        // lock edited by hand could say another architecture or mirror).
        let from_node = entry
            .repositories
            .iter()
            .any(|r| r.mirror == repo.mirror && r.suite == repo.suite);
        if entry.architecture != repo.arch || entry.recommends != *recommends || !from_node {
            return Err(invalid(format!(
                "`cairn.lock`'s entry for its debian() packages does not match the spec \
                 (architecture {}, suite {} from {}): run `cairn lock`",
                repo.arch, repo.suite, repo.mirror
            )));
        }
        Ok(entry.debian_lock())
    };
    for content in held(plan, image) {
        let node = plan
            .nodes
            .get(content)
            .ok_or_else(|| invalid(format!("the plan has no node {content}")))?;
        match node {
            Node::Run(run) => {
                let (label, object) = staged
                    .parts
                    .get(content)
                    .ok_or_else(|| invalid(format!("step {} was not built", run.name)))?;
                gathered.application.push((label.clone(), object.clone()));
            }
            Node::Debian { .. } => {
                let entry = debian_entry(content)?;
                gathered.locks.push(entry);
            }
            Node::Files { .. } | Node::WriteFile { .. } | Node::Symlink { .. } => {
                let (label, object) = staged
                    .parts
                    .get(content)
                    .ok_or_else(|| invalid(format!("node {content} was not staged")))?;
                if staged.fresh.contains(object) {
                    gathered.files_added += 1;
                }
                gathered.application.push((label.clone(), object.clone()));
            }
            Node::Accounts { users, groups } => {
                gathered.users.extend(users.iter().map(|u| Account {
                    name: u.name.clone(),
                    uid: u.uid,
                    gid: u.gid,
                    home: u.home.clone(),
                    shell: u.shell.clone(),
                }));
                gathered.groups.extend(groups.iter().map(|g| Group {
                    name: g.name.clone(),
                    gid: g.gid,
                    members: g.members.clone(),
                }));
            }
            Node::PythonEnv(env) => {
                // The interpreter's packages come with the environment.
                let entry = debian_entry(&env.python)?;
                gathered.locks.push(entry);
                gathered.python_envs.push(content.clone());
            }
            Node::Image(_) => return Err(invalid("an image cannot contain an image".into())),
        }
    }
    Ok(gathered)
}

/// What an image holds: its contents, then what their `run` steps need at run time,
/// each once, in that order.
fn held<'p>(plan: &'p Plan, image: &'p Image) -> Vec<&'p NodeId> {
    let mut queue: std::collections::VecDeque<&NodeId> = image.contents.iter().collect();
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    while let Some(id) = queue.pop_front() {
        if !seen.insert(id) {
            continue;
        }
        if let Some(Node::Run(run)) = plan.nodes.get(id) {
            queue.extend(&run.runtime);
        }
        out.push(id);
    }
    out
}

/// The image's configuration and options.
fn image_spec(
    image: &Image,
    mtime: u64,
    users: Vec<Account>,
    groups: Vec<Group>,
) -> Result<ImageSpec, String> {
    let compression = Compression::from_name(&image.compression)
        .ok_or_else(|| format!("unknown compression `{}`", image.compression))?;
    let env = image.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let config = ImageConfig {
        // Set by the build from the packages' architecture.
        architecture: String::new(),
        os: "linux".into(),
        user: Some(image.user.clone().unwrap_or_else(|| "root".into())),
        env: cairn_image::check::with_default_path(env),
        entrypoint: image.entrypoint.clone(),
        cmd: image.cmd.clone(),
        working_dir: image.workdir.clone(),
        exposed_ports: image.ports.iter().cloned().collect(),
        volumes: image.volumes.iter().cloned().collect(),
        labels: image.labels.clone().into_iter().collect::<BTreeMap<_, _>>(),
        stop_signal: image.stop_signal.clone(),
    };
    Ok(ImageSpec {
        name: image.name.clone(),
        config,
        users,
        groups,
        budget: image.layers,
        compression,
        mtime,
        excludes: Excludes::default(),
    })
}

/// Notes the packages or wheels made objects now, and passes everything on to
/// `inner` (a `dyn InstallReporter` or a `dyn WheelReporter`).
struct Counting<R: ?Sized> {
    inner: Arc<R>,
    made: Mutex<BTreeSet<StorePath>>,
}

impl<R: ?Sized> Counting<R> {
    fn new(inner: Arc<R>) -> Self {
        Self {
            inner,
            made: Mutex::new(BTreeSet::new()),
        }
    }

    fn made(&self, object: &StorePath, fresh: bool) {
        if fresh {
            lock_set(&self.made).insert(object.clone());
        }
    }

    /// The objects made now.
    fn take(&self) -> BTreeSet<StorePath> {
        std::mem::take(&mut *lock_set(&self.made))
    }
}

fn lock_set<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl<R: FetchReporter + ?Sized> FetchReporter for Counting<R> {
    fn on_download_start(&self, url: &str, size: Option<u64>) {
        self.inner.on_download_start(url, size);
    }
    fn on_download_progress(&self, url: &str, bytes: u64) {
        self.inner.on_download_progress(url, bytes);
    }
    fn on_download_done(&self, url: &str, bytes: u64) {
        self.inner.on_download_done(url, bytes);
    }
    fn on_retry(&self, url: &str, error: &FetchError, wait: Duration) {
        self.inner.on_retry(url, error, wait);
    }
}

impl InstallReporter for Counting<dyn InstallReporter> {
    fn on_install_start(&self, packages: usize, downloads: usize, bytes: u64) {
        self.inner.on_install_start(packages, downloads, bytes);
    }
    fn on_package_ready(&self, package: &LockedPackage, object: &StorePath, fresh: bool) {
        self.made(object, fresh);
        self.inner.on_package_ready(package, object, fresh);
    }
}

impl WheelReporter for Counting<dyn WheelReporter> {
    fn on_wheels_start(&self, wheels: usize, downloads: usize, bytes: u64) {
        self.inner.on_wheels_start(wheels, downloads, bytes);
    }
    fn on_wheel_ready(&self, wheel: &LockedWheel, object: &StorePath, fresh: bool) {
        self.made(object, fresh);
        self.inner.on_wheel_ready(wheel, object, fresh);
    }
}

#[cfg(test)]
mod tests {
    use cairn_debian::LockedRepository;

    use super::*;

    fn package(name: &str, version: &str, sha: char) -> LockedPackage {
        LockedPackage {
            name: name.into(),
            version: version.into(),
            architecture: "amd64".into(),
            repository: "trixie".into(),
            filename: format!("pool/main/{name}.deb"),
            size: 1,
            sha256: sha.to_string().repeat(64),
            source: name.into(),
            depends: Vec::new(),
        }
    }

    fn lock(mirror: &str, packages: Vec<LockedPackage>) -> DebianLock {
        DebianLock {
            architecture: "amd64".into(),
            request: packages.iter().map(|p| p.name.clone()).collect(),
            recommends: false,
            repositories: vec![LockedRepository {
                mirror: mirror.into(),
                suite: "trixie".into(),
                components: vec!["main".into()],
                inrelease_sha256: "0".repeat(64),
                date: "Sat, 01 Nov 2026 00:00:00 UTC".into(),
            }],
            packages,
        }
    }

    const MIRROR: &str = "http://deb.debian.org/debian";

    #[test]
    fn the_union_of_two_locks_has_each_package_once() {
        let a = lock(
            MIRROR,
            vec![
                package("libc6", "2.41-12", 'a'),
                package("python3", "3.13.5-1", 'b'),
            ],
        );
        let b = lock(
            MIRROR,
            vec![
                package("libc6", "2.41-12", 'a'),
                package("curl", "8.14.1-2", 'c'),
            ],
        );
        let merged = merge_locks("web", &[a, b]).unwrap();
        let names: Vec<&str> = merged.packages.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["curl", "libc6", "python3"]);
        assert_eq!(merged.repositories.len(), 1);
    }

    #[test]
    fn conflicting_locks_are_refused_with_what_differs() {
        let base = || lock(MIRROR, vec![package("libc6", "2.41-12", 'a')]);
        let cases = [
            (
                lock(MIRROR, vec![package("libc6", "2.41-13", 'b')]),
                "2.41-13",
            ),
            (
                lock(MIRROR, vec![package("libc6", "2.41-12", 'b')]),
                "another build of it",
            ),
            (lock("http://other.example/debian", vec![]), "two mirrors"),
            (
                DebianLock {
                    architecture: "arm64".into(),
                    ..base()
                },
                "two architectures",
            ),
        ];
        for (other, expected) in cases {
            let error = merge_locks("web", &[base(), other]).unwrap_err();
            assert!(error.to_string().contains(expected), "{expected}: {error}");
            assert!(error.to_string().contains("web"), "{error}");
        }
    }
}
