//! Resolution: which packages (and versions) an install of a request needs, chosen as
//! apt chooses them.
//!
//! The function is pure: the same packages and request give the same answer. It
//! follows apt's `pkgDepCache::MarkInstall` for an empty system (the oracle the tests
//! compare with is `apt-get install -s` with an empty status file):
//!
//! - the **candidate** of a package name is its highest version for the architecture
//!   (or `all`) across all suites, since every suite has the same pin;
//! - the requested packages are marked first, then each one's dependencies are
//!   installed depth first: for each `Depends`/`Pre-Depends` clause (and `Recommends`
//!   with the flag) in apt's order, nothing happens if an already marked package
//!   satisfies it; otherwise its alternatives are tried in order, and for each, the
//!   candidates that satisfy it: the package of that name first, then providers
//!   ordered as apt's `CompareProviders` orders them (essential, then priority, then
//!   the order apt's cache first saw the names);
//! - an alternative whose install would conflict with a marked package (`Conflicts`,
//!   `Breaks`, either way round), or whose own dependencies cannot be installed, is
//!   undone and the next one is tried (apt's `FailEarly`);
//! - `Essential` packages are not added unless something depends on them, as apt does
//!   with nothing installed.
//!
//! On a single-architecture system, `Multi-Arch` only decides who satisfies
//! `name:any` (`Multi-Arch: allowed` packages); `:native` and `:<arch>` match the
//! architecture; other architectures are never candidates.

use std::collections::{BTreeMap, BTreeSet};

use rustc_hash::FxHashMap as HashMap;
use std::fmt::Write as _;

use crate::index::BinaryPackage;
use crate::packages::Repository;
use crate::relation::{Clause, Relation};
use crate::universe::Universe;

/// What to resolve.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub packages: Vec<String>,
    /// Install `Recommends` too (apt's `APT::Install-Recommends`).
    pub recommends: bool,
}

/// One package of a resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// Which package of the [`Repository`] (see [`Repository::get`]).
    pub index: usize,
    /// Index into [`Repository::suites`].
    pub suite: usize,
    pub package: BinaryPackage,
    /// Names of the resolved packages that satisfy its dependencies, sorted (its own
    /// name excluded).
    pub depends: Vec<String>,
}

/// The packages an install needs, sorted by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    pub packages: Vec<Resolved>,
}

/// Why a request cannot be installed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error("there is no package `{name}`{}", suggestions(.close))]
    Unknown { name: String, close: Vec<String> },
    #[error(
        "`{name}` is a virtual package provided by {}; choose one of them",
        .providers.join(", ")
    )]
    Virtual {
        name: String,
        providers: Vec<String>,
    },
    #[error("{0}")]
    Unsatisfiable(String),
    #[error("an index the resolution needed is damaged: {0}")]
    Index(#[from] crate::packages::RepositoryIndexError),
}

fn suggestions(close: &[String]) -> String {
    match close {
        [] => String::new(),
        [one] => format!("; did you mean `{one}`?"),
        many => format!(
            "; did you mean one of {}?",
            many.iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// A marking in progress: apt's depcache for an empty system.
struct Marks<'u, 'r> {
    universe: &'u Universe<'r>,
    recommends: bool,
    /// Marked packages in marking order (so a failed alternative can be undone).
    order: Vec<usize>,
    by_name: HashMap<&'r str, usize>,
    /// Why each package was marked: the package whose dependency pulled it in.
    parent: HashMap<usize, usize>,
}

impl<'r> Marks<'_, 'r> {
    fn is_marked(&self, i: usize) -> bool {
        self.by_name.get(self.universe.package(i).name.as_str()) == Some(&i)
    }

    /// A marked package satisfying `clause`, the first alternative first.
    fn satisfied_by(&self, clause: &Clause) -> Option<usize> {
        clause.0.iter().find_map(|r| {
            if let Some(&i) = self.by_name.get(r.name.as_str())
                && self.universe.is_named(i, r)
            {
                return Some(i);
            }
            self.universe
                .providers_of(&r.name)
                .iter()
                .copied()
                .find(|&i| self.is_marked(i) && self.universe.provides(i, r))
        })
    }

    /// The first conflict between `i` and the marked packages, as `(who, whom, relation)`.
    fn conflict(&self, i: usize) -> Option<(usize, usize, String)> {
        let u = self.universe;
        let clashes = |a: usize, b: usize| -> Option<String> {
            let pa = u.package(a);
            [&pa.conflicts, &pa.breaks]
                .into_iter()
                .flatten()
                .flat_map(|c| &c.0)
                // A package may conflict with what it provides (the usual way to be the
                // only provider); that never conflicts with itself.
                .find(|r| a != b && u.satisfies(b, r))
                .map(ToString::to_string)
        };
        self.order.iter().find_map(|&m| {
            clashes(i, m)
                .map(|r| (i, m, r))
                .or_else(|| clashes(m, i).map(|r| (m, i, r)))
        })
    }

    fn mark(&mut self, i: usize, parent: Option<usize>) -> Result<(), String> {
        let name = self.universe.package(i).name.as_str();
        if let Some(&other) = self.by_name.get(name) {
            return if other == i {
                Ok(())
            } else {
                Err(format!(
                    "{} needs {} {}, but {} is to be installed",
                    self.describe(parent),
                    name,
                    self.universe.package(i).version,
                    self.label(other)
                ))
            };
        }
        if let Some((a, b, relation)) = self.conflict(i) {
            let other = if a == i { b } else { a };
            // The new package is not marked yet: its chain starts at its parent.
            let new_chain = match parent {
                Some(p) => {
                    let mut chain = vec![self.universe.package(p).name.clone()];
                    chain.extend(self.chain(p));
                    format!("needed by {}", chain.join(" ← "))
                }
                None => "requested".to_owned(),
            };
            let other_chain = match self.chain(other) {
                chain if chain.is_empty() => "requested".to_owned(),
                chain => format!("needed by {}", chain.join(" ← ")),
            };
            return Err(format!(
                "{} conflicts with {} (`{relation}`); {} is {new_chain}, {} is {other_chain}",
                self.label(a),
                self.label(b),
                self.label(i),
                self.label(other),
            ));
        }
        self.order.push(i);
        self.by_name.insert(name, i);
        if let Some(p) = parent {
            self.parent.insert(i, p);
        }
        Ok(())
    }

    fn undo_to(&mut self, len: usize) {
        for i in self.order.drain(len..) {
            self.by_name.remove(self.universe.package(i).name.as_str());
            self.parent.remove(&i);
        }
    }

    fn label(&self, i: usize) -> String {
        let p = self.universe.package(i);
        format!("{} {}", p.name, p.version)
    }

    fn describe(&self, i: Option<usize>) -> String {
        i.map_or_else(|| "the request".to_owned(), |i| self.label(i))
    }

    /// `, needed by a ← b ← request` for a marked package.
    fn why(&self, i: usize) -> String {
        let chain = self.chain(i);
        if chain.is_empty() {
            String::new()
        } else {
            format!(" (needed by {})", chain.join(" ← "))
        }
    }

    /// The names of the packages that pulled in marked package `i`, nearest first.
    fn chain(&self, mut i: usize) -> Vec<String> {
        let mut chain = Vec::new();
        while let Some(&p) = self.parent.get(&i) {
            chain.push(self.universe.package(p).name.clone());
            i = p;
        }
        chain
    }

    /// The clauses to install for `i`, each with whether it is critical (a dependency,
    /// not a recommendation). Pre-Depends first: apt's cache stores them first.
    fn clauses(&self, i: usize) -> Vec<(&'r Clause, bool)> {
        let p = self.universe.package(i);
        let mut out: Vec<(&Clause, bool)> = p
            .pre_depends
            .iter()
            .chain(&p.depends)
            .map(|c| (c, true))
            .collect();
        if self.recommends {
            out.extend(p.recommends.iter().map(|c| (c, false)));
        }
        out
    }

    /// Marks `i` and, depth first, what it depends on.
    fn install(&mut self, i: usize, parent: Option<usize>) -> Result<(), String> {
        let fresh = !self.is_marked(i);
        self.mark(i, parent)?;
        if !fresh && parent.is_some() {
            return Ok(());
        }
        for (clause, critical) in self.clauses(i) {
            if self.satisfied_by(clause).is_some() {
                continue;
            }
            match self.install_clause(i, clause) {
                Ok(()) => {}
                // apt installs what it can of Recommends and goes on.
                Err(_) if !critical => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn install_clause(&mut self, i: usize, clause: &Clause) -> Result<(), String> {
        let mut first_error = None;
        for relation in &clause.0 {
            for target in self.universe.targets(relation) {
                let saved = self.order.len();
                match self.install(target, Some(i)) {
                    Ok(()) => return Ok(()),
                    Err(e) => {
                        self.undo_to(saved);
                        first_error.get_or_insert(e);
                    }
                }
            }
        }
        Err(first_error.unwrap_or_else(|| self.unsatisfiable(i, clause)))
    }

    /// Explains why nothing satisfies `clause` of package `i`.
    fn unsatisfiable(&self, i: usize, clause: &Clause) -> String {
        let u = self.universe;
        let mut text = format!(
            "{} depends on `{clause}`{}, which cannot be satisfied:",
            self.label(i),
            self.why(i)
        );
        for relation in &clause.0 {
            let versions: Vec<String> = u
                .versions(&relation.name)
                .into_iter()
                .map(|v| {
                    let p = u.package(v);
                    format!("{} ({})", p.version, p.architecture)
                })
                .collect();
            let providers: BTreeSet<String> = u
                .providers_of(&relation.name)
                .iter()
                .map(|&v| {
                    let p = u.package(v);
                    let provided = p
                        .provides
                        .iter()
                        .flat_map(|c| &c.0)
                        .find(|r| r.name == relation.name)
                        .and_then(|r| r.constraint.as_ref());
                    match provided {
                        Some((_, pv)) => {
                            format!("{} {} (provides version {pv})", p.name, p.version)
                        }
                        None => format!("{} {} (unversioned)", p.name, p.version),
                    }
                })
                .collect();
            if versions.is_empty() && providers.is_empty() {
                let _ = write!(text, "\n  - `{}`: no such package", relation.name);
            } else {
                let mut parts = Vec::new();
                if !versions.is_empty() {
                    parts.push(format!("available versions {}", versions.join(", ")));
                }
                if !providers.is_empty() {
                    let list: Vec<String> = providers.into_iter().collect();
                    parts.push(format!("provided by {}", list.join(", ")));
                }
                let _ = write!(text, "\n  - `{relation}`: {}", parts.join("; "));
            }
        }
        text
    }
}

/// Resolves `request` against `repo`.
pub fn resolve(repo: &Repository, request: &Request) -> Result<Resolution, ResolveError> {
    let universe = Universe::new(repo);
    let mut marks = Marks {
        universe: &universe,
        recommends: request.recommends,
        order: Vec::new(),
        by_name: HashMap::default(),
        parent: HashMap::default(),
    };
    let mut requested = Vec::with_capacity(request.packages.len());
    for name in &request.packages {
        requested.push(requested_package(&universe, name)?);
    }
    // As apt-get does: mark every requested package, then install their dependencies.
    for &i in &requested {
        marks.mark(i, None).map_err(ResolveError::Unsatisfiable)?;
    }
    for &i in &requested {
        let installed = marks.install(i, None);
        // A stanza the resolution touched did not parse: that is the error, whatever
        // the marking made of it.
        if let Some(e) = universe.failures.borrow().first() {
            return Err(e.clone().into());
        }
        installed.map_err(ResolveError::Unsatisfiable)?;
    }
    let mut packages: BTreeMap<&str, Resolved> = BTreeMap::new();
    for &i in &marks.order {
        let p = universe.package(i);
        let depends: BTreeSet<String> = marks
            .clauses(i)
            .into_iter()
            .filter_map(|(c, _)| marks.satisfied_by(c))
            .map(|d| universe.package(d).name.clone())
            .filter(|n| *n != p.name)
            .collect();
        packages.insert(
            &p.name,
            Resolved {
                index: i,
                suite: universe.suite_of(i),
                package: p.clone(),
                depends: depends.into_iter().collect(),
            },
        );
    }
    Ok(Resolution {
        packages: packages.into_values().collect(),
    })
}

/// The candidate for a requested name: the package of that name, or the only provider
/// of a virtual name.
fn requested_package(universe: &Universe<'_>, name: &str) -> Result<usize, ResolveError> {
    if let Some(i) = universe.candidate(name) {
        return Ok(i);
    }
    let relation = Relation {
        name: name.to_owned(),
        arch: None,
        constraint: None,
    };
    let providers = universe.targets(&relation);
    match providers.as_slice() {
        [one] => Ok(*one),
        [] => Err(ResolveError::Unknown {
            name: name.to_owned(),
            close: close_names(universe, name),
        }),
        many => Err(ResolveError::Virtual {
            name: name.to_owned(),
            providers: many
                .iter()
                .map(|&i| universe.package(i).name.clone())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect(),
        }),
    }
}

/// Up to five known names close to `name`: the fewest edits (a swap of two letters is
/// one) first, then by name.
fn close_names(universe: &Universe<'_>, name: &str) -> Vec<String> {
    let limit = (name.chars().count() / 4).max(2);
    let mut scored: Vec<(usize, &str)> = universe
        .names()
        .filter(|candidate| candidate.len().abs_diff(name.len()) <= limit)
        .map(|candidate| (strsim::damerau_levenshtein(name, candidate), candidate))
        .filter(|&(distance, _)| distance <= limit)
        .collect();
    scored.sort_unstable();
    scored.dedup();
    scored
        .into_iter()
        .take(5)
        .map(|(_, n)| n.to_owned())
        .collect()
}
