//! `cairn init`, `cairn plan`, `cairn lock`, `cairn build`: the project commands.

use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::SystemTime;

use anyhow::{Context, Result, bail};
use cairn_build::{
    BuildOptions, BuildPlanError, CheckReport, ImageReport, ProjectLock, StepReporter, Upgrade,
    build_images, check_steps, lock_plan,
};
use cairn_debian::{InstallReporter, LockedRepository, RepoContext};
use cairn_image::{ImageReporter, Output};
use cairn_plan::{Node, Plan, Span};
use cairn_pypi::install::WheelReporter;
use cairn_store::Store;
use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme, NamedSource, SourceSpan};
use serde::Serialize;

use crate::cli::{BuildArgs, GlobalArgs, LockArgs, ProjectArgs, RealiseArgs};
use crate::commands::debian::{offline_or_not, trust};
use crate::commands::image::ProviderHint;
use crate::progress::{Progress, Verbosity};

/// The spec's file name.
pub(crate) const SPEC: &str = "cairn.star";
/// The lock's file name.
pub(crate) const LOCK: &str = "cairn.lock";

/// An error already rendered as a diagnostic (with the spec's source and a span):
/// `main` prints it as it is.
#[derive(Debug)]
pub(crate) struct Rendered(pub(crate) String);

impl std::fmt::Display for Rendered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.trim_end())
    }
}

impl std::error::Error for Rendered {}

/// miette's graphical handler cannot draw very long lines (it panics past 65,535
/// columns): a diagnostic whose source has a line longer than this is shown as its
/// message and position only.
const LONGEST_DRAWN_LINE: usize = 4096;

/// `diagnostic`, drawn with its source (`text`, which `span` is in) when it can be.
fn render(diagnostic: &dyn Diagnostic, source: Option<(&str, &Span)>) -> Rendered {
    if let Some((text, span)) = source
        && text.lines().any(|l| l.len() > LONGEST_DRAWN_LINE)
    {
        let before = text.get(..span.start).unwrap_or(text);
        let line = before.matches('\n').count() + 1;
        let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        return Rendered(format!(
            "error: {diagnostic}\n  --> {}:{line}:{column}",
            span.file
        ));
    }
    let mut out = String::new();
    let handler = GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor())
        .with_width(100)
        // A message is not wrapped: a log's path in it stays whole, to copy.
        .with_wrap_lines(false);
    if handler.render_report(&mut out, diagnostic).is_err() {
        out = diagnostic.to_string();
    }
    Rendered(out)
}

/// A message pointing at `span` in the project's spec files.
#[derive(Debug)]
struct AtSpan {
    message: String,
    help: Option<String>,
    source: NamedSource<String>,
    span: SourceSpan,
}

impl std::fmt::Display for AtSpan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for AtSpan {}

impl Diagnostic for AtSpan {
    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn std::fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.source)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        Some(Box::new(std::iter::once(
            miette::LabeledSpan::new_with_span(Some("here".into()), self.span),
        )))
    }
}

/// `error`, shown at `span` in the spec when there is one (with its causes in the
/// message), else as it is, so its causes and hint are printed as for any error.
fn at_span(
    root: &Path,
    span: Option<&Span>,
    error: anyhow::Error,
    help: Option<String>,
) -> anyhow::Error {
    let Some(span) = span else {
        return error;
    };
    let Ok(text) = fs_err::read_to_string(root.join(&span.file)) else {
        return error;
    };
    // The causes a message does not already repeat.
    let mut message = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !message.contains(&cause) {
            message = format!("{message}: {cause}");
        }
    }
    let diagnostic = AtSpan {
        message,
        help,
        source: NamedSource::new(&span.file, text.clone()),
        span: (span.start, span.end.saturating_sub(span.start)).into(),
    };
    render(&diagnostic, Some((&text, span))).into()
}

/// Writes `bytes` to `path` whole or not at all: a temporary file beside it, synced,
/// then renamed over it.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut temp = tempfile::Builder::new()
        .prefix(".cairn-")
        .tempfile_in(parent)
        .with_context(|| format!("cannot write in `{}`", parent.display()))?;
    temp.write_all(bytes)?;
    temp.as_file().sync_all()?;
    temp.persist(path)
        .with_context(|| format!("cannot write `{}`", path.display()))?;
    Ok(())
}

pub(crate) fn evaluate(project: &ProjectArgs) -> Result<Plan> {
    let root = &project.project;
    if !root.join(SPEC).is_file() {
        bail!(
            "there is no `{SPEC}` in `{}`: run `cairn init` to write one",
            root.display()
        );
    }
    cairn_eval::evaluate(root).map_err(|e| {
        let source = e.source_text().zip(e.span());
        render(&e, source).into()
    })
}

/// `cairn init`.
pub(crate) fn init(global: &GlobalArgs, project: &ProjectArgs, force: bool) -> Result<ExitCode> {
    let path = project.project.join(SPEC);
    if path.exists() && !force {
        bail!("`{}` exists; pass `--force` to replace it", path.display());
    }
    let root = &project.project;
    // A Python project (it has its requirements): a spec for it.
    let starter = if let Some(requirements) = ["requirements.txt", "pyproject.toml"]
        .into_iter()
        .find(|f| root.join(f).is_file())
    {
        let kind = if requirements == "pyproject.toml" {
            "pyproject"
        } else {
            "requirements"
        };
        let main = ["app.py", "main.py"]
            .into_iter()
            .find(|f| root.join(f).is_file())
            .unwrap_or("app.py");
        PYTHON_STARTER
            .replace("KIND", kind)
            .replace("REQUIREMENTS", requirements)
            .replace("MAIN", main)
    } else {
        STARTER.to_owned()
    };
    fs_err::write(&path, starter)?;
    if !global.quiet {
        eprintln!(
            "wrote {}: run `cairn lock`, then `cairn build`",
            path.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The starter spec of a Python project (`cairn init` where a `requirements.txt` or
/// `pyproject.toml` is).
const PYTHON_STARTER: &str = r#"# cairn.star: the images of this project. `cairn lock` pins the Debian packages
# and every wheel REQUIREMENTS asks for in cairn.lock; `cairn build` builds
# the images from it.

deb = debian(suite = "trixie")
py = deb.packages(["python3", "ca-certificates"])

env = python_env(python = py, KIND = "REQUIREMENTS")

image(
    name = "app",
    contents = [env, files(".", dest = "/app", exclude = ["cairn.star", "cairn.lock"])],
    entrypoint = ["/usr/bin/python3", "/app/MAIN"],
    user = "nonroot",
    env = {"PYTHONUNBUFFERED": "1"},
)
"#;

/// The starter spec: a Debian example.
const STARTER: &str = r#"# cairn.star: the images of this project. `cairn lock` pins the packages in
# cairn.lock; `cairn build` builds the images from it.

deb = debian(suite = "trixie")

image(
    name = "hello",
    contents = [deb.packages(["busybox-static"])],
    entrypoint = ["/usr/bin/busybox"],
    cmd = ["echo", "hello from cairn"],
    user = "nonroot",
)
"#;

/// `cairn plan`.
pub(crate) fn plan(project: &ProjectArgs, json: bool) -> Result<ExitCode> {
    let plan = evaluate(project)?;
    let mut out = BufWriter::new(std::io::stdout().lock());
    if json {
        out.write_all(&plan.to_json())?;
        writeln!(out)?;
    } else {
        for (name, id) in &plan.images {
            writeln!(out, "image {name} {id}")?;
            if let Some(Node::Image(image)) = plan.nodes.get(id) {
                for content in &image.contents {
                    if let Some(node) = plan.nodes.get(content) {
                        writeln!(out, "  {} {}", node.kind(), describe(node))?;
                    }
                }
            }
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn describe(node: &Node) -> String {
    match node {
        Node::Debian { repo, packages, .. } => {
            format!("{} {}: {}", repo.suite, repo.arch, packages.join(" "))
        }
        Node::Files { src, dest, .. } => format!("{src} -> {dest}"),
        Node::WriteFile { path, .. } => path.clone(),
        Node::Symlink { path, target } => format!("{path} -> {target}"),
        Node::Accounts { users, groups } => {
            format!("{} users, {} groups", users.len(), groups.len())
        }
        Node::PythonEnv(env) => {
            let requirements: Vec<&str> = env
                .requirements
                .iter()
                .map(|r| r.requirement.as_str())
                .collect();
            format!("{}: {}", env.indexes.join(" "), requirements.join(", "))
        }
        Node::Run(run) => run.name.clone(),
        Node::Image(image) => image.name.clone(),
    }
}

fn read_lock(root: &Path) -> Result<Option<ProjectLock>> {
    let path = root.join(LOCK);
    match fs_err::read_to_string(&path) {
        Ok(text) => Ok(Some(ProjectLock::parse(&text).with_context(|| {
            format!(
                "cannot use `{}`; fix it or delete it and run `cairn lock`",
                path.display()
            )
        })?)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// `cairn lock`.
pub(crate) fn lock(global: &GlobalArgs, args: &LockArgs) -> Result<ExitCode> {
    let root = &args.project.project;
    let plan = evaluate(&args.project)?;
    let previous = read_lock(root)?;
    let upgrade = match &args.upgrade {
        None => Upgrade::Nothing,
        Some(names) if names.is_empty() => Upgrade::All,
        Some(names) => Upgrade::Packages(names.clone()),
    };
    if upgrade == Upgrade::Nothing
        && previous
            .as_ref()
            .is_some_and(|p| p.inputs == plan.resolution_inputs())
    {
        if !global.quiet {
            eprintln!("{LOCK} is up to date");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let (store, _) = crate::commands::store::open(global)?;
    let fetcher = offline_or_not(args.offline, 8)?;
    let progress = Progress::new(Verbosity::of(global));
    let context = RepoContext {
        store: &store,
        fetcher: &fetcher,
        trust: trust(&args.keyrings)?,
        now: SystemTime::now(),
        reporter: &progress,
    };
    let (lock, report) = lock_plan(&plan, previous.as_ref(), &context, &upgrade).map_err(|e| {
        let call = e
            .node()
            .and_then(|node| plan.spans.get(node))
            .and_then(|s| s.call.clone());
        let (span, hint) = (e.span().cloned().or(call), e.hint());
        at_span(root, span.as_ref(), e.into(), hint)
    })?;
    write_atomically(&root.join(LOCK), lock.to_toml().as_bytes())?;
    progress.finish();
    if !global.quiet {
        for warning in &report.warnings {
            eprintln!("warning: {warning}");
        }
        for (name, old, new) in &report.changed {
            match old {
                Some(old) => eprintln!("  {name} {old} -> {new}"),
                None => eprintln!("  {name} {new}"),
            }
        }
        eprintln!(
            "locked {} package sets ({} resolved, {} kept) in {LOCK}",
            report.resolved + report.kept,
            report.resolved,
            report.kept
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The report `cairn build --json` prints.
#[derive(Serialize)]
struct BuildJson<'a> {
    images: Vec<ImageJson<'a>>,
}

#[derive(Serialize)]
struct ImageJson<'a> {
    name: &'a str,
    manifest: &'a str,
    object: String,
    packages: usize,
    layers: usize,
    layers_written: usize,
    packages_installed: usize,
    wheels: usize,
    wheels_installed: usize,
    files_added: usize,
    steps_run: usize,
}

impl<'a> From<&'a ImageReport> for ImageJson<'a> {
    fn from(r: &'a ImageReport) -> Self {
        Self {
            name: &r.name,
            manifest: &r.manifest,
            object: r.object.to_string(),
            packages: r.packages,
            layers: r.layers,
            layers_written: r.layers_written,
            packages_installed: r.packages_installed,
            wheels: r.wheels,
            wheels_installed: r.wheels_installed,
            files_added: r.files_added,
            steps_run: r.steps_run,
        }
    }
}

/// Whether `CI` is set to something true.
fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

/// What [`realise`] is for.
pub(crate) enum Goal<'a> {
    /// The images, each also written to `output(name)` when that gives one.
    Build(&'a dyn Fn(&str) -> Option<Output>),
    /// Their `run()` steps built, run again and compared (`cairn build --check`).
    Check(&'a mut Vec<CheckReport>),
    /// A shell in a step's sandbox (`cairn shell`): the step's name, the command, and
    /// how it ended.
    Shell(&'a str, Vec<String>, &'a mut Option<cairn_sandbox::Outcome>),
}

/// Builds `names` of `plan` (every image when empty) from the project's lock, as
/// `cairn build`, `cairn load`, `cairn run` and `cairn inspect` do: never resolving. A
/// stale lock is refused with `--locked`, in CI, or when it lacks a node the plan
/// has, else used with a warning. Each image is also written to `output(name)` when
/// that gives one. `progress` hears of downloads, unpacking and layers. The store is
/// returned with the reports: while it is open, it keeps the images' objects from
/// garbage collection.
pub(crate) fn realise<
    P: InstallReporter + WheelReporter + ImageReporter + StepReporter + 'static,
>(
    global: &GlobalArgs,
    project: &ProjectArgs,
    plan: &Plan,
    names: &[String],
    how: &RealiseArgs,
    progress: &Arc<P>,
    goal: Goal<'_>,
) -> Result<(Store, Vec<ImageReport>)> {
    let root = &project.project;
    let Some(lock) = read_lock(root)? else {
        bail!("there is no {LOCK}: run `cairn lock` first");
    };
    if lock.inputs != plan.resolution_inputs() {
        // A stale lock may still hold every node the images need (a node was removed);
        // `--locked` (CI) refuses it anyway.
        let complete = plan
            .debian_nodes()
            .keys()
            .all(|id| lock.debian(id).is_some())
            && plan.python_envs().keys().all(|id| lock.pypi(id).is_some());
        if how.locked || in_ci() || !complete {
            bail!(
                "{LOCK} is stale: `{SPEC}` (or a requirements file it reads) changed since it \
                 was locked; run `cairn lock`"
            );
        }
        if !global.quiet {
            eprintln!("warning: {LOCK} is stale, but holds everything these images need");
        }
    }
    let store = crate::commands::store::open_substituting(global, how.offline)?;
    let fetcher = offline_or_not(how.offline, 8)?;
    let repositories: Vec<LockedRepository> = lock
        .debian
        .iter()
        .flat_map(|e| e.repositories.iter().cloned())
        .collect();
    let arch = lock
        .debian
        .first()
        .map_or("amd64", |e| e.architecture.as_str());
    let hints = ProviderHint::new(&store, &fetcher, &[], &repositories, arch);
    let options = BuildOptions {
        store: &store,
        fetcher: &fetcher,
        root,
        mtime: crate::commands::image::source_date_epoch()?,
        reporter: progress.clone(),
        wheel_reporter: progress.clone(),
        image_reporter: &**progress,
        provider_hint: &|soname| hints.hint(soname),
        step_reporter: &**progress,
    };
    let at = |e: BuildPlanError| {
        let (span, hint) = (e.span().cloned(), e.hint());
        at_span(root, span.as_ref(), e.into(), hint)
    };
    let reports = match goal {
        Goal::Check(checks) => {
            *checks = check_steps(plan, &lock, names, &options).map_err(at)?;
            Vec::new()
        }
        Goal::Build(output) => build_images(plan, &lock, names, &options, output).map_err(at)?,
        Goal::Shell(step, command, outcome) => {
            *outcome = Some(cairn_build::shell(plan, &lock, step, command, &options).map_err(at)?);
            Vec::new()
        }
    };
    Ok((store, reports))
}

/// `cairn build`.
pub(crate) fn build(global: &GlobalArgs, args: &BuildArgs) -> Result<ExitCode> {
    let root = &args.project.project;
    let plan = evaluate(&args.project)?;
    // With `--json` too: bars are drawn on stderr only, and only on a terminal.
    let progress = Arc::new(Progress::new(Verbosity::of(global)));
    // Several images are being built: `--output` needs `{name}`. The plan has several:
    // each result link is named after its image, whichever are built now.
    let several = args.images.len() != 1 && plan.images.len() > 1;
    let link_of = |name: &str| {
        if plan.images.len() > 1 {
            root.join(format!("result-{name}"))
        } else {
            root.join("result")
        }
    };
    let output = |name: &str| -> Option<Output> {
        let dest = args.output.as_ref()?;
        Output::parse(&dest.replace("{name}", name))
    };
    if let Some(dest) = &args.output {
        if Output::parse(dest).is_none() {
            bail!(
                "`{dest}` is not an output: use oci:DIR, oci-archive:FILE or docker-archive:FILE"
            );
        }
        if several && !dest.contains("{name}") {
            bail!("`--output {dest}` for several images: put `{{name}}` in the path");
        }
        for name in plan.images.keys() {
            let written = output(name).map(|o| std::path::absolute(o.path()));
            if !args.no_link
                && let Some(Ok(written)) = written
                && std::path::absolute(link_of(name)).is_ok_and(|link| link == written)
            {
                bail!(
                    "`--output {dest}` would overwrite the `{}` link cairn build writes; \
                     choose another path",
                    written.display()
                );
            }
        }
    }
    if let Some(target) = &args.push
        && several
        && !target.contains("{name}")
    {
        bail!("`--push {target}` for several images: put `{{name}}` in the reference");
    }
    let how = RealiseArgs {
        locked: args.locked,
        offline: args.offline,
    };
    let mut checks = Vec::new();
    let (store, reports) = realise(
        global,
        &args.project,
        &plan,
        &args.images,
        &how,
        &progress,
        if args.check {
            Goal::Check(&mut checks)
        } else {
            Goal::Build(&output)
        },
    )?;
    // The bars go before the results are printed.
    progress.finish();
    if args.check {
        return print_checks(global, &checks);
    }
    if !args.no_link {
        for report in &reports {
            store.add_indirect_root(&link_of(&report.name), &report.object)?;
        }
    }
    if let Some(target) = &args.push {
        for report in &reports {
            crate::commands::registry::push_layout(
                global,
                &args.registry,
                &store.object_dir(&report.object),
                &target.replace("{name}", &report.name),
                &args.mount_from,
            )?;
        }
    }
    print_reports(global, args, &reports)?;
    Ok(ExitCode::SUCCESS)
}

/// What `cairn build` built: digests on stdout (or the JSON report), a summary on stderr.
fn print_reports(global: &GlobalArgs, args: &BuildArgs, reports: &[ImageReport]) -> Result<()> {
    let mut out = BufWriter::new(std::io::stdout().lock());
    if args.json {
        let json = BuildJson {
            images: reports.iter().map(ImageJson::from).collect(),
        };
        serde_json::to_writer(&mut out, &json)?;
        writeln!(out)?;
    } else {
        for r in reports {
            writeln!(out, "{} {}", r.name, r.manifest)?;
        }
    }
    out.flush()?;
    if !global.quiet && !args.json {
        for r in reports {
            eprintln!("{}", summary(r));
        }
    }
    Ok(())
}

/// `cairn shell`: exits as the shell did.
pub(crate) fn shell(global: &GlobalArgs, args: &crate::cli::ShellArgs) -> Result<ExitCode> {
    let plan = evaluate(&args.project)?;
    let progress = Arc::new(Progress::new(Verbosity::of(global)));
    let mut outcome = None;
    realise(
        global,
        &args.project,
        &plan,
        &[],
        &args.realise,
        &progress,
        Goal::Shell(&args.step, args.command.clone(), &mut outcome),
    )?;
    progress.finish();
    Ok(match outcome {
        Some(cairn_sandbox::Outcome::Exited(code)) => {
            ExitCode::from(u8::try_from(code).unwrap_or(1))
        }
        Some(other) => {
            eprintln!("the shell {other}");
            ExitCode::FAILURE
        }
        None => ExitCode::FAILURE,
    })
}

/// What `cairn build --check` found: a line per step, and what differs.
fn print_checks(global: &GlobalArgs, checks: &[CheckReport]) -> Result<ExitCode> {
    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut differ = 0;
    for check in checks {
        if check.identical() {
            writeln!(out, "{} {} reproducible", check.step, check.actual)?;
            continue;
        }
        differ += 1;
        writeln!(
            out,
            "{} differs: {} in the store, {} rebuilt",
            check.step, check.expected, check.actual
        )?;
        for difference in &check.differences {
            writeln!(out, "  {difference}")?;
        }
        if let Some(diffoscope) = &check.diffoscope {
            writeln!(out, "{diffoscope}")?;
        }
    }
    out.flush()?;
    if !global.quiet {
        eprintln!(
            "{} checked, {} reproducible, {differ} differ",
            steps(checks.len()),
            checks.len() - differ
        );
    }
    Ok(if differ == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `1 step`, `2 steps`.
fn steps(n: usize) -> String {
    format!("{n} step{}", if n == 1 { "" } else { "s" })
}

/// One line on what building an image did, for stderr.
pub(crate) fn summary(r: &ImageReport) -> String {
    let wheels = if r.wheels > 0 {
        format!(
            "{} wheels ({} installed now), ",
            r.wheels, r.wheels_installed
        )
    } else {
        String::new()
    };
    let steps = if r.steps_run > 0 {
        format!(", {} run", steps(r.steps_run))
    } else {
        String::new()
    };
    format!(
        "{}: {} packages ({} installed now), {wheels}{} layers ({} written now), {} file objects new{steps}",
        r.name, r.packages, r.packages_installed, r.layers, r.layers_written, r.files_added
    )
}

/// What `cairn cache push` pushes: for each target that is an image of the project,
/// everything building it used (its packages, wheels, files and steps' outputs, their
/// build inputs, its layers and the image), so it can be rebuilt from the cache alone;
/// for any other target, the store object it names. No targets: every image.
pub(crate) fn objects_to_push(
    global: &GlobalArgs,
    project: &ProjectArgs,
    targets: &[String],
) -> Result<(Store, Vec<cairn_store::StorePath>)> {
    let plan = if project.project.join(SPEC).exists() {
        Some(evaluate(project)?)
    } else {
        None
    };
    let is_image = |t: &String| plan.as_ref().is_some_and(|p| p.images.contains_key(t));
    let (mut images, objects): (Vec<String>, Vec<String>) =
        targets.iter().cloned().partition(|t| is_image(t));
    if targets.is_empty() {
        let Some(plan) = &plan else {
            bail!(
                "there is no `{SPEC}` in `{}`: name the store objects to push",
                project.project.display()
            );
        };
        images = plan.images.keys().cloned().collect();
    }
    let (store, mut paths) = match (&plan, images.is_empty()) {
        (Some(plan), false) => {
            let progress = Arc::new(Progress::new(Verbosity::of(global)));
            let how = RealiseArgs {
                locked: false,
                offline: false,
            };
            let (store, _) = realise(
                global,
                project,
                plan,
                &images,
                &how,
                &progress,
                Goal::Build(&|_| None),
            )?;
            progress.finish();
            let used = store.used_objects()?;
            (store, used)
        }
        _ => (crate::commands::store::open(global)?.0, Vec::new()),
    };
    for object in &objects {
        paths.push(store.resolve(object).with_context(|| {
            format!("`{object}` is neither an image of the project nor a store object")
        })?);
    }
    Ok((store, paths))
}
