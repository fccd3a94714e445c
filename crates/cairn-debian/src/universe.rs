//! The packages of a repository as the resolver sees them: candidates, who provides
//! what, and apt's ordering of providers. Built from the cheap per-stanza fields
//! (names, architectures, `Provides`); packages are parsed only when the resolver
//! looks at them.

use std::cell::{OnceCell, RefCell};
use std::sync::LazyLock;

use rustc_hash::FxHashMap as HashMap;

use crate::index::{BinaryPackage, MultiArch};
use crate::packages::{Repository, RepositoryIndexError};
use crate::relation::Relation;

/// What a package that does not parse looks like to the resolver: nothing matches it.
/// (Only reachable after [`Universe::package`] recorded the failure.)
static UNUSABLE: LazyLock<BinaryPackage> = LazyLock::new(|| BinaryPackage {
    name: String::new(),
    version: "0".parse().expect("`0` is a version"),
    architecture: String::new(),
    multi_arch: MultiArch::No,
    essential: false,
    protected: false,
    priority: None,
    source: String::new(),
    source_version: None,
    depends: Vec::new(),
    pre_depends: Vec::new(),
    recommends: Vec::new(),
    suggests: Vec::new(),
    conflicts: Vec::new(),
    breaks: Vec::new(),
    replaces: Vec::new(),
    enhances: Vec::new(),
    provides: Vec::new(),
    filename: String::new(),
    size: 0,
    sha256: String::new(),
});

/// The relationship fields in the order apt's cache generator parses them
/// (`debListParser::NewVersion`), Provides last.
const PARSE_ORDER: [&str; 9] = [
    "Pre-Depends",
    "Depends",
    "Conflicts",
    "Breaks",
    "Recommends",
    "Suggests",
    "Replaces",
    "Enhances",
    "Provides",
];

pub(crate) struct Universe<'r> {
    repo: &'r Repository,
    pub(crate) arch: &'r str,
    /// Packages of each name for the architecture (or `all`), in index order.
    by_name: HashMap<&'r str, Vec<usize>>,
    /// Packages that provide each name.
    providers: HashMap<String, Vec<usize>>,
    /// Parsed versions of each name, highest first (filled on demand).
    versions: RefCell<HashMap<&'r str, Vec<usize>>>,
    /// The order in which apt's cache first meets each name (computed on demand).
    first_seen: OnceCell<HashMap<&'r str, usize>>,
    /// Stanzas that did not parse when the resolver needed them.
    pub(crate) failures: RefCell<Vec<RepositoryIndexError>>,
}

impl<'r> Universe<'r> {
    pub(crate) fn new(repo: &'r Repository) -> Self {
        let arch = repo.arch.as_str();
        let mut by_name: HashMap<&str, Vec<usize>> = HashMap::default();
        let mut providers: HashMap<String, Vec<usize>> = HashMap::default();
        for i in 0..repo.len() {
            let a = repo.architecture(i);
            if a != arch && a != "all" {
                continue;
            }
            by_name.entry(repo.name(i)).or_default().push(i);
            for clause in repo.provides(i) {
                for r in clause.0 {
                    let list = providers.entry(r.name).or_default();
                    if list.last() != Some(&i) {
                        list.push(i);
                    }
                }
            }
        }
        Self {
            repo,
            arch,
            by_name,
            providers,
            versions: RefCell::default(),
            first_seen: OnceCell::new(),
            failures: RefCell::default(),
        }
    }

    /// Package `i`. A package that does not parse is recorded as a failure and looks
    /// like nothing.
    pub(crate) fn package(&self, i: usize) -> &'r BinaryPackage {
        match self.repo.get(i) {
            Ok(p) => &p.package,
            Err(e) => {
                let mut failures = self.failures.borrow_mut();
                if !failures.contains(&e) {
                    failures.push(e);
                }
                &UNUSABLE
            }
        }
    }

    pub(crate) fn suite_of(&self, i: usize) -> usize {
        self.repo.suite_of(i)
    }

    /// The usable versions of `name`, highest first; among equal versions, the
    /// earlier suite.
    pub(crate) fn versions(&self, name: &str) -> Vec<usize> {
        self.sort_versions(name);
        self.versions
            .borrow()
            .get(name)
            .cloned()
            .unwrap_or_default()
    }

    /// Parses and sorts the versions of `name` once; later calls find them ready.
    fn sort_versions(&self, name: &str) {
        if self.versions.borrow().contains_key(name) {
            return;
        }
        let Some((&key, all)) = self.by_name.get_key_value(name) else {
            return;
        };
        let mut list = Vec::with_capacity(all.len());
        for &i in all {
            if self.repo.get(i).is_ok() {
                list.push(i);
            } else {
                // Records the failure.
                self.package(i);
            }
        }
        list.sort_by(|&a, &b| {
            self.package(b)
                .version
                .cmp(&self.package(a).version)
                .then(a.cmp(&b))
        });
        self.versions.borrow_mut().insert(key, list);
    }

    /// The highest version of `name` (without copying its list: the resolver asks this
    /// for every target it considers).
    pub(crate) fn candidate(&self, name: &str) -> Option<usize> {
        self.sort_versions(name);
        self.versions
            .borrow()
            .get(name)
            .and_then(|v| v.first().copied())
    }

    /// Packages whose `Provides` names `name` (not checked for version or parse).
    pub(crate) fn providers_of(&self, name: &str) -> &[usize] {
        self.providers.get(name).map_or(&[], Vec::as_slice)
    }

    /// Every known package or provided name (for suggestions).
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name
            .keys()
            .copied()
            .chain(self.providers.keys().map(String::as_str))
    }

    /// Whether package `i` satisfies `relation` by its own name.
    pub(crate) fn is_named(&self, i: usize, relation: &Relation) -> bool {
        let p = self.package(i);
        if p.name != relation.name || !relation.accepts(&p.version) {
            return false;
        }
        match relation.arch.as_deref() {
            None | Some("native") => true,
            Some("any") => p.multi_arch == MultiArch::Allowed,
            Some(arch) => arch == self.arch,
        }
    }

    /// Whether package `i` satisfies `relation` through its `Provides`.
    pub(crate) fn provides(&self, i: usize, relation: &Relation) -> bool {
        let p = self.package(i);
        match relation.arch.as_deref() {
            None | Some("native") => {}
            // `name:any` through Provides: only from packages that allow it.
            Some("any") if p.multi_arch == MultiArch::Allowed => {}
            Some(arch) if arch == self.arch => {}
            Some(_) => return false,
        }
        p.provides.iter().any(|clause| {
            clause.0.iter().any(|provided| {
                provided.name == relation.name
                    && match (&relation.constraint, &provided.constraint) {
                        (None, _) => true,
                        // An unversioned Provides never satisfies a versioned dependency.
                        (Some(_), None) => false,
                        (Some(_), Some((_, version))) => relation.accepts(version),
                    }
            })
        })
    }

    pub(crate) fn satisfies(&self, i: usize, relation: &Relation) -> bool {
        self.is_named(i, relation) || self.provides(i, relation)
    }

    /// The candidates that could satisfy `relation`, in the order apt tries them: the
    /// package of that name, then its providers as apt's `CompareProviders` orders them.
    pub(crate) fn targets(&self, relation: &Relation) -> Vec<usize> {
        let mut out = Vec::new();
        if let Some(c) = self.candidate(&relation.name)
            && self.is_named(c, relation)
        {
            out.push(c);
        }
        let mut provided: Vec<usize> = self
            .providers_of(&relation.name)
            .iter()
            .copied()
            .filter(|&i| self.candidate(self.repo.name(i)) == Some(i))
            .filter(|&i| self.provides(i, relation) && !out.contains(&i))
            .collect();
        provided.sort_by_key(|&i| self.rank(i));
        let tied = provided
            .windows(2)
            .any(|w| self.rank(w[0]) == self.rank(w[1]));
        if tied {
            // Only now is apt's numbering of names needed: it costs a pass over
            // every stanza.
            provided.sort_by_key(|&i| (self.rank(i), std::cmp::Reverse(self.seen(i))));
        }
        provided.dedup();
        out.extend(provided);
        out
    }

    /// apt's `CompareProviders` for an empty system, before its last rule: essential
    /// first, then protected, then by `Priority` (none before `required` before …
    /// `extra`; apt reads it case-insensitively, and anything unknown as `extra`).
    fn rank(&self, i: usize) -> (bool, bool, u8) {
        let p = self.package(i);
        let priority = match p
            .priority
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None => 0,
            Some("required") => 1,
            Some("important") => 2,
            Some("standard") => 3,
            Some("optional") => 4,
            Some(_) => 5,
        };
        (!p.essential, !p.protected, priority)
    }

    /// apt's last rule: the package its cache numbered last wins. apt numbers a package
    /// when its cache first mentions it: its own stanza, then its relations in the
    /// order apt parses them, then its Provides; suites in source order. `name:any` and
    /// other architectures' names are other packages there.
    fn seen(&self, i: usize) -> usize {
        let first_seen = self.first_seen.get_or_init(|| {
            let mut first_seen: HashMap<&str, usize> = HashMap::default();
            for j in 0..self.repo.len() {
                let a = self.repo.architecture(j);
                if a != self.arch && a != "all" {
                    continue;
                }
                let mut see = |name: &'r str| {
                    let next = first_seen.len();
                    first_seen.entry(name).or_insert(next);
                };
                see(self.repo.name(j));
                let stanza = self.repo.stanza_text(j);
                if stanza.is_empty() {
                    // Given parsed: read the relations from the package.
                    if let Ok(p) = self.repo.get(j) {
                        for clause in parsed_order(&p.package).into_iter().flatten() {
                            for r in &clause.0 {
                                if self.counts(r.arch.as_deref()) {
                                    see(&r.name);
                                }
                            }
                        }
                    }
                    continue;
                }
                for field in PARSE_ORDER {
                    for (name, arch) in relation_names(stanza, field) {
                        if self.counts(arch) {
                            see(name);
                        }
                    }
                }
            }
            first_seen
        });
        first_seen.get(self.repo.name(i)).copied().unwrap_or(0)
    }

    /// Whether a relation with this qualifier names a package of this architecture.
    fn counts(&self, arch: Option<&str>) -> bool {
        matches!(arch, None | Some("native")) || arch == Some(self.arch)
    }
}

fn parsed_order(p: &BinaryPackage) -> [&Vec<crate::relation::Clause>; 9] {
    [
        &p.pre_depends,
        &p.depends,
        &p.conflicts,
        &p.breaks,
        &p.recommends,
        &p.suggests,
        &p.replaces,
        &p.enhances,
        &p.provides,
    ]
}

/// The package names (and arch qualifiers) in field `field` of a raw stanza, in order,
/// without parsing versions: enough to number names as apt does.
fn relation_names<'s>(stanza: &'s str, field: &str) -> Vec<(&'s str, Option<&'s str>)> {
    let mut out = Vec::new();
    let mut lines = stanza.split('\n');
    let mut value: Option<Vec<&str>> = None;
    for line in lines.by_ref() {
        if let Some(parts) = &mut value {
            if line.starts_with([' ', '\t']) {
                parts.push(line);
                continue;
            }
            break;
        }
        if let Some(rest) = line.strip_prefix(field)
            && let Some(v) = rest.strip_prefix(':')
        {
            value = Some(vec![v]);
        }
    }
    for part in value.into_iter().flatten() {
        for alternative in part.split([',', '|']) {
            let alternative = alternative.trim();
            let end = alternative
                .find([' ', '(', '\t', '['])
                .unwrap_or(alternative.len());
            let token = &alternative[..end];
            if token.is_empty() {
                continue;
            }
            match token.split_once(':') {
                Some((name, arch)) => out.push((name, Some(arch))),
                None => out.push((token, None)),
            }
        }
    }
    out
}
