//! `cairn lock`: resolve every `debian` node of a plan against its repository, then
//! every `python_env` node against its index (`lock_python.rs`).

use std::collections::BTreeMap;

use cairn_debian::{
    DebianLock, RepoContext, RepoError, Repository, Request, ResolveError, debian_sources, resolve,
};
use cairn_plan::{DebianRepo, NodeId, Plan, Span};

use crate::lock::{LockedDebianNode, PROJECT_LOCK_VERSION, ProjectLock};
use crate::lock_python::{lock_python_envs, same_name};

/// Which pins `cairn lock` may move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upgrade {
    /// Keep every node that is locked already; resolve only new or changed ones.
    Nothing,
    /// Resolve every node again against the repositories as they are now.
    All,
    /// Resolve again the nodes whose packages include one of these.
    Packages(Vec<String>),
}

/// What `cairn lock` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LockReport {
    /// Nodes resolved now.
    pub resolved: usize,
    /// Nodes whose entry was kept.
    pub kept: usize,
    /// Packages whose version changed, `(name, old, new)`; new packages have old `None`.
    pub changed: Vec<(String, Option<String>, String)>,
    /// What resolution wants said (a yanked version chosen, an extra a package lacks).
    pub warnings: Vec<String>,
}

impl LockReport {
    /// Records every `(name, version)` of `new` that `old` (what the previous lock
    /// pinned; a later pair of one name wins) did not have at that version.
    pub(crate) fn note_changes<'a>(
        &mut self,
        old: impl Iterator<Item = (&'a str, &'a str)>,
        new: impl Iterator<Item = (&'a str, &'a str)>,
    ) {
        let old: BTreeMap<&str, &str> = old.collect();
        for (name, version) in new {
            let before = old.get(name).copied();
            if before != Some(version) {
                self.changed.push((
                    name.to_owned(),
                    before.map(str::to_owned),
                    version.to_owned(),
                ));
            }
        }
    }
}

/// Why a plan could not be locked.
#[derive(Debug, thiserror::Error)]
pub enum LockPlanError {
    #[error("{source}")]
    Resolve {
        #[source]
        source: ResolveError,
        /// Where the package that failed was written, when known.
        span: Option<Span>,
    },
    #[error(
        "`--upgrade {}`: no locked package set holds {}",
        .names.join(" "),
        if .names.len() == 1 { "it" } else { "them" }
    )]
    NothingToUpgrade { names: Vec<String> },
    #[error("cannot read the package indexes ({suites}): {source}")]
    Repository {
        suites: String,
        #[source]
        source: Box<RepoError>,
    },
    #[error("python_env(): {reason}")]
    Python { node: NodeId, reason: String },
    #[error("python_env(): {source}")]
    PythonResolve {
        node: NodeId,
        #[source]
        source: Box<cairn_pypi::resolve::ResolveError>,
    },
    #[error(transparent)]
    Store(#[from] cairn_store::StoreError),
}

impl LockPlanError {
    pub fn span(&self) -> Option<&Span> {
        match self {
            Self::Resolve { span, .. } => span.as_ref(),
            _ => None,
        }
    }

    /// The node the error is about, for errors that point at a call.
    pub fn node(&self) -> Option<&NodeId> {
        match self {
            Self::Python { node, .. } | Self::PythonResolve { node, .. } => Some(node),
            _ => None,
        }
    }

    /// A suggestion, when there is one.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::Resolve {
                source: ResolveError::Unknown { .. },
                ..
            } => Some("check the name with `cairn debian show NAME`".into()),
            Self::Repository { source, .. } => source.hint(),
            _ => None,
        }
    }
}

/// Locks `plan`, keeping what `previous` pinned unless `upgrade` says otherwise.
pub fn lock_plan(
    plan: &Plan,
    previous: Option<&ProjectLock>,
    context: &RepoContext<'_>,
    upgrade: &Upgrade,
) -> Result<(ProjectLock, LockReport), LockPlanError> {
    check_upgrade(upgrade, previous)?;
    let mut report = LockReport::default();
    let mut repositories: BTreeMap<&DebianRepo, Repository> = BTreeMap::new();
    let mut entries = Vec::new();
    for (id, (repo, packages, recommends)) in plan.debian_nodes() {
        let kept = previous
            .and_then(|p| p.debian(id))
            .filter(|entry| match upgrade {
                Upgrade::Nothing => true,
                Upgrade::All => false,
                Upgrade::Packages(names) => !entry
                    .packages
                    .iter()
                    .any(|p| names.iter().any(|n| n == &p.name)),
            });
        if let Some(entry) = kept {
            entries.push(entry.clone());
            report.kept += 1;
            continue;
        }
        if !repositories.contains_key(repo) {
            let sources = debian_sources(
                &repo.mirror,
                &repo.suite,
                &repo.components,
                repo.security.then_some(repo.security_mirror.as_str()),
            );
            let opened = Repository::open(context, &sources, &repo.arch).map_err(|source| {
                LockPlanError::Repository {
                    suites: sources
                        .iter()
                        .map(|s| s.suite.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    source: Box::new(source),
                }
            })?;
            repositories.insert(repo, opened);
        }
        let repository = &repositories[repo];
        let request = Request {
            packages: packages.to_vec(),
            recommends,
        };
        let resolution = resolve(repository, &request).map_err(|source| {
            let span = failing_package(&source).and_then(|name| span_of(plan, id, packages, name));
            LockPlanError::Resolve { source, span }
        })?;
        let lock = DebianLock::new(repository, &request, &resolution);
        // What the previous lock pinned, in any node (an edited package set is a new
        // node whose packages are mostly not new).
        report.note_changes(
            previous
                .iter()
                .flat_map(|p| &p.debian)
                .flat_map(|e| &e.packages)
                .map(|p| (p.name.as_str(), p.version.as_str())),
            lock.packages
                .iter()
                .map(|p| (p.name.as_str(), p.version.as_str())),
        );
        entries.push(LockedDebianNode::new(id.clone(), lock));
        report.resolved += 1;
    }
    let debian: BTreeMap<NodeId, DebianLock> = entries
        .iter()
        .map(|e| (e.node.clone(), e.debian_lock()))
        .collect();
    let pypi = lock_python_envs(
        &plan.python_envs(),
        &debian,
        previous,
        context,
        upgrade,
        &mut report,
    )?;
    report.changed.sort();
    report.changed.dedup();
    Ok((
        ProjectLock {
            version: PROJECT_LOCK_VERSION,
            inputs: plan.resolution_inputs(),
            debian: entries,
            pypi,
        },
        report,
    ))
}

/// `--upgrade NAME…`: every name must be a package some locked set holds.
fn check_upgrade(upgrade: &Upgrade, previous: Option<&ProjectLock>) -> Result<(), LockPlanError> {
    if let (Upgrade::Packages(names), Some(previous)) = (upgrade, previous) {
        let unknown: Vec<String> = names
            .iter()
            .filter(|n| {
                !previous
                    .debian
                    .iter()
                    .any(|e| e.packages.iter().any(|p| &&p.name == n))
                    && !previous
                        .pypi
                        .iter()
                        .any(|e| e.packages.iter().any(|p| same_name(n, &p.name)))
            })
            .cloned()
            .collect();
        if !unknown.is_empty() {
            return Err(LockPlanError::NothingToUpgrade { names: unknown });
        }
    }
    Ok(())
}

/// The requested package a resolution error is about.
fn failing_package(error: &ResolveError) -> Option<&str> {
    match error {
        ResolveError::Unknown { name, .. } | ResolveError::Virtual { name, .. } => Some(name),
        _ => None,
    }
}

/// Where `name` was written in node `id`'s package list.
fn span_of(plan: &Plan, id: &NodeId, packages: &[String], name: &str) -> Option<Span> {
    let spans = plan.spans.get(id)?;
    match packages.iter().position(|p| p == name) {
        Some(i) => spans.items.get(i).cloned().or_else(|| spans.call.clone()),
        None => spans.call.clone(),
    }
}
