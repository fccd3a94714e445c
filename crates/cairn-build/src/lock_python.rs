//! `cairn lock` for `python_env` nodes: resolve the requirements against the index
//! for the Python the node's `debian` node locked, never the host's.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use cairn_debian::{DebianLock, RepoContext};
use cairn_fetch::NoFetchReporter;
use cairn_plan::{NodeId, PythonEnv, PythonRequirement};
use cairn_pypi::index::IndexClient;
use cairn_pypi::lock::{LockedWheel, PypiLock};
use cairn_pypi::resolve::{ResolveRequest, resolve};
use cairn_pypi::{PackageName, Requirement, Target, Version};

use crate::lock::{LockedPythonEnv, ProjectLock};
use crate::lock_plan::{LockPlanError, LockReport, Upgrade};

/// The CPython of a locked `debian` node: the target its wheels are for, and the
/// packages that make the interpreter (whose objects the wheels' objects refer to).
#[derive(Debug, Clone)]
pub struct PythonOfLock {
    pub target: Target,
    /// `python3.13` (or `python3.13-minimal` alone): what scripts run.
    pub interpreter: Vec<String>,
}

/// Finds CPython in `lock`: exactly one `python3.X-minimal` package, whose version
/// is the interpreter's; `libc6` gives glibc.
pub fn python_of(lock: &DebianLock) -> Result<PythonOfLock, String> {
    let minimal: Vec<_> = lock
        .packages
        .iter()
        .filter(|p| {
            p.name
                .strip_prefix("python3.")
                .and_then(|rest| rest.strip_suffix("-minimal"))
                .is_some_and(|minor| !minor.is_empty() && minor.bytes().all(|b| b.is_ascii_digit()))
        })
        .collect();
    let interpreter = match minimal.as_slice() {
        [one] => *one,
        [] => {
            return Err(format!(
                "its `python` packages ({}) hold no CPython: add `python3` to them",
                lock.request.join(", ")
            ));
        }
        many => {
            return Err(format!(
                "its `python` packages hold several CPythons ({}); keep one",
                many.iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    };
    let libc = lock
        .packages
        .iter()
        .find(|p| p.name == "libc6")
        .ok_or("its `python` packages have no libc6")?;
    let target = Target::from_debian(&interpreter.version, &libc.version, &lock.architecture)
        .map_err(|e| e.to_string())?;
    let full = interpreter.name.trim_end_matches("-minimal").to_owned();
    let mut names = vec![interpreter.name.clone()];
    if lock.packages.iter().any(|p| p.name == full) {
        names.push(full);
    }
    Ok(PythonOfLock {
        target,
        interpreter: names,
    })
}

/// Locks every `python_env` node of the plan, given the `debian` entries just made.
pub(crate) fn lock_python_envs(
    envs: &BTreeMap<NodeId, &PythonEnv>,
    debian: &BTreeMap<NodeId, DebianLock>,
    previous: Option<&ProjectLock>,
    context: &RepoContext<'_>,
    upgrade: &Upgrade,
    report: &mut LockReport,
) -> Result<Vec<LockedPythonEnv>, LockPlanError> {
    let mut entries = Vec::new();
    for (id, env) in envs {
        let invalid = |reason: String| LockPlanError::Python {
            node: id.clone(),
            reason,
        };
        let python_lock = debian
            .get(&env.python)
            .ok_or_else(|| invalid("its `python` packages are not locked".into()))?;
        let python = python_of(python_lock).map_err(invalid)?;
        let upgrading = |entry: &LockedPythonEnv| match upgrade {
            Upgrade::Nothing => false,
            Upgrade::All => true,
            Upgrade::Packages(names) => entry
                .packages
                .iter()
                .any(|p| names.iter().any(|n| same_name(n, &p.name))),
        };
        let kept = previous
            .and_then(|p| p.pypi(id))
            .filter(|entry| !upgrading(entry) && entry.pypi_lock().is_for(&python.target));
        if let Some(entry) = kept {
            entries.push(entry.clone());
            report.kept += 1;
            continue;
        }
        let lock = resolve_env(id, env, &python.target, previous, context, upgrade, report)?;
        report.note_changes(
            previous_pins(previous, id).map(|p| (p.name.as_str(), p.version.as_str())),
            lock.packages
                .iter()
                .map(|p| (p.name.as_str(), p.version.as_str())),
        );
        entries.push(LockedPythonEnv::new(id.clone(), lock));
        report.resolved += 1;
    }
    Ok(entries)
}

/// The wheels the previous lock pinned: the other environments' first, then node
/// `id`'s own, so that where a name comes twice, collecting keeps the own pin.
fn previous_pins<'a>(
    previous: Option<&'a ProjectLock>,
    id: &'a NodeId,
) -> impl Iterator<Item = &'a LockedWheel> {
    let others = previous
        .into_iter()
        .flat_map(|p| &p.pypi)
        .filter(move |e| &e.node != id);
    let own = previous.and_then(|p| p.pypi(id));
    others.chain(own).flat_map(|e| &e.packages)
}

/// Whether `--upgrade NAME` names the locked wheel `locked` (a normalized name):
/// PyPI names compare normalized (`Flask`, `zope.interface`).
pub(crate) fn same_name(name: &str, locked: &str) -> bool {
    name.parse::<PackageName>()
        .is_ok_and(|n| n.as_ref() == locked)
}

fn parse_all(
    id: &NodeId,
    requirements: &[PythonRequirement],
) -> Result<Vec<Requirement>, LockPlanError> {
    requirements
        .iter()
        .map(|r| {
            Requirement::parse(&r.requirement).map_err(|e| LockPlanError::Python {
                node: id.clone(),
                reason: e.to_string(),
            })
        })
        .collect()
}

fn resolve_env(
    id: &NodeId,
    env: &PythonEnv,
    target: &Target,
    previous: Option<&ProjectLock>,
    context: &RepoContext<'_>,
    upgrade: &Upgrade,
    report: &mut LockReport,
) -> Result<PypiLock, LockPlanError> {
    let invalid = |reason: String| LockPlanError::Python {
        node: id.clone(),
        reason,
    };
    let requirements = parse_all(id, &env.requirements)?;
    let constraints = parse_all(id, &env.constraints)?;
    // pip's hash-checking mode: each package may use only the files it lists (in the
    // requirements or the constraints).
    let mut allowed: BTreeMap<PackageName, BTreeSet<String>> = BTreeMap::new();
    let listed = requirements
        .iter()
        .zip(&env.requirements)
        .chain(constraints.iter().zip(&env.constraints));
    for (parsed, written) in listed {
        if !written.hashes.is_empty() {
            allowed
                .entry(parsed.name.clone())
                .or_default()
                .extend(written.hashes.iter().cloned());
        }
    }
    // What the previous lock chose, unless it is to move: this environment's own
    // entry first, then the others' for what it lacks (a new environment of a project
    // starts from the versions its others use).
    let mut preferences = BTreeMap::new();
    if *upgrade != Upgrade::All {
        for p in previous_pins(previous, id) {
            if let Upgrade::Packages(names) = upgrade
                && names.iter().any(|n| same_name(n, &p.name))
            {
                continue;
            }
            if let (Ok(name), Ok(version)) =
                (p.name.parse::<PackageName>(), p.version.parse::<Version>())
            {
                preferences.insert(name, version);
            }
        }
    }
    let client = IndexClient::new(
        context.store,
        context.fetcher,
        &env.indexes,
        target.clone(),
        allowed.clone(),
        Arc::new(NoFetchReporter),
    )
    .map_err(|e| invalid(e.to_string()))?;
    let mut request = ResolveRequest::new(target, requirements);
    request.constraints = constraints;
    request.preferences = preferences;
    request.prereleases = env.prereleases;
    let resolution = resolve(&request, &client).map_err(|source| LockPlanError::PythonResolve {
        node: id.clone(),
        source: Box::new(source),
    })?;
    client.finish()?;
    report
        .warnings
        .extend(resolution.warnings.iter().map(ToString::to_string));
    if !allowed.is_empty()
        && let Some(p) = resolution
            .packages
            .values()
            .find(|p| !allowed.contains_key(&p.name))
    {
        return Err(invalid(format!(
            "the requirements use hashes (pip's hash-checking mode), so every package \
             must be listed with its hashes, but {} {} (needed by {}) is not",
            p.name,
            p.version,
            p.required_by.join("; ")
        )));
    }
    if let Some(p) = resolution
        .packages
        .values()
        .find(|p| p.wheel.file.sha256.is_none())
    {
        return Err(invalid(format!(
            "the index gives no SHA-256 for {}, so it cannot be locked",
            p.wheel.file.filename
        )));
    }
    Ok(PypiLock::new(target, &env.indexes, &resolution))
}
