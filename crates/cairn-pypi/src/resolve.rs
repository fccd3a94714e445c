//! Resolution of PyPI requirements for one [`Target`], wheels only, with
//! `pubgrub` (PubGrub version solving, as uv and Dart's pub use it).
//!
//! The resolver is a pure function of its input and of what a [`PackageSource`]
//! answers: the caller implements the source (index client, cache, offline mode),
//! the resolver asks it for each project's [`Candidates`] and for the core
//! metadata of the wheels it considers, and tells it which projects it will ask
//! for next ([`PackageSource::prefetch`]) so a network source can fetch a whole
//! level of the graph at once.
//!
//! What it implements:
//!
//! * markers evaluated against the target ([`Target::evaluate`]), never the host;
//! * extras as virtual packages: `foo[x]` at version V depends on `foo==V` and on
//!   the requirements that `extra == "x"` turns on; an extra the chosen version
//!   does not provide is a [`ResolveWarning`], as pip warns;
//! * PEP 440 specifiers as version ranges ([`specifiers_to_ranges`]), local
//!   versions included (`==1.0` matches `1.0+cpu`, `==1.0+cpu` only itself);
//! * pre-releases (and dev releases) only for a project one of whose specifiers
//!   names one, or when no final release satisfies the range (PEP 440, as pip);
//! * yanked versions (PEP 592) only when a requirement pins them with `==`/`===`;
//! * constraints, which narrow a project's versions without adding it;
//! * preferences (the versions of an existing lock), chosen while still allowed,
//!   so re-locking is stable;
//! * errors that read as sentences: the derivation tree of a failure, with the
//!   reasons [`crate::candidates`] found for unusable versions ("foo has only
//!   source distributions (no wheel)", "foo is not on the index").
//!
//! Pre-release and exact-pin facts are gathered from every requirement seen so
//! far (the root, the constraints, the dependencies of the versions tried), so
//! they are the same for the same input: the resolver's order of work is
//! deterministic (sorted maps, no hash iteration into results).
//!
//! `===` (arbitrary equality) is taken as equality of PEP 440 versions, a
//! superset of the string equality PEP 440 asks for (`===1.0` also admits
//! `1.0.0`). Direct URL requirements never reach the resolver: a
//! [`Requirement`] cannot hold one.

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Bound;
use std::sync::Arc;

use pubgrub::{
    DefaultStringReporter, Dependencies, DependencyProvider, DerivationTree, Derived, External,
    Map, PackageResolutionStatistics, PubGrubError, Ranges, ReportFormatter, Reporter,
    SelectedDependencies, Term,
};
use url::Url;

use crate::candidates::{Candidates, Unusable, WheelCandidate, list, pins_exactly};
use crate::metadata::Metadata;
use crate::name::{ExtraName, PackageName};
use crate::requirement::{MarkerTree, Requirement};
use crate::simple::RequiresPython;
use crate::tags::TagIncompatibility;
use crate::target::Target;
use crate::version::{Operator, Version, VersionSpecifier, VersionSpecifiers};

/// How many versions an explanation names before "and N older".
const VERSIONS_NAMED: usize = 3;

/// A project that conflicted this often is decided before the others (as uv
/// does), so the resolver stops re-deciding it late.
const CONFLICTS_TO_PROMOTE: u32 = 5;

/// Where the resolver gets projects' files and wheels' metadata. The caller
/// implements it over the network, a cache or memory; the resolver only asks.
pub trait PackageSource {
    /// Names whose candidates will be asked for soon; an implementation may fetch
    /// them concurrently. Default: nothing.
    fn prefetch(&self, _names: &[PackageName]) {}

    /// Every version of `name` on the index, as the target sees it. A project the
    /// index does not have is a [`SourceError`] of kind
    /// [`SourceErrorKind::NotFound`], which the resolver explains rather than
    /// failing.
    fn candidates(&self, name: &PackageName) -> Result<Arc<Candidates>, SourceError>;

    /// The core metadata of the chosen wheel of `name` `version`.
    fn metadata(
        &self,
        name: &PackageName,
        wheel: &WheelCandidate,
    ) -> Result<Arc<Metadata>, SourceError>;
}

/// A boxed error a [`PackageSource`] wraps: a fetch error, a page or metadata
/// parse error, a cache error.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What went wrong in a [`PackageSource`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceErrorKind {
    /// The index has no such project (HTTP 404 or 410 for its page).
    NotFound,
    /// The request failed (network, server errors, offline mode).
    Fetch,
    /// The answer cannot be used (a page or metadata that does not parse).
    Invalid,
}

/// A [`PackageSource`] failure: its kind, the URL it concerns when there is one,
/// and the underlying error as the cause.
#[derive(Debug)]
pub struct SourceError(Box<SourceErrorInner>);

#[derive(Debug)]
struct SourceErrorInner {
    kind: SourceErrorKind,
    url: Option<Url>,
    source: Option<BoxError>,
}

impl SourceError {
    pub fn new(kind: SourceErrorKind, url: Option<Url>, source: Option<BoxError>) -> Self {
        Self(Box::new(SourceErrorInner { kind, url, source }))
    }

    /// The project page at `url` does not exist.
    pub fn not_found(url: Url) -> Self {
        Self::new(SourceErrorKind::NotFound, Some(url), None)
    }

    /// Fetching `url` failed.
    pub fn fetch(url: Url, source: impl Into<BoxError>) -> Self {
        Self::new(SourceErrorKind::Fetch, Some(url), Some(source.into()))
    }

    /// What `url` served cannot be used.
    pub fn invalid(url: Url, source: impl Into<BoxError>) -> Self {
        Self::new(SourceErrorKind::Invalid, Some(url), Some(source.into()))
    }

    pub fn kind(&self) -> SourceErrorKind {
        self.0.kind
    }

    pub fn url(&self) -> Option<&Url> {
        self.0.url.as_ref()
    }
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.0.kind, &self.0.url) {
            (SourceErrorKind::NotFound, Some(url)) => write!(f, "`{url}` does not exist"),
            (SourceErrorKind::NotFound, None) => f.write_str("the index has no such project"),
            (SourceErrorKind::Fetch, Some(url)) => write!(f, "cannot fetch `{url}`"),
            (SourceErrorKind::Fetch, None) => f.write_str("cannot fetch from the index"),
            (SourceErrorKind::Invalid, Some(url)) => write!(f, "`{url}` cannot be used"),
            (SourceErrorKind::Invalid, None) => {
                f.write_str("the index served something cairn cannot use")
            }
        }
    }
}

impl std::error::Error for SourceError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0
            .source
            .as_deref()
            .map(|source| source as &(dyn std::error::Error + 'static))
    }
}

/// What to resolve, and for which target.
#[derive(Debug, Clone)]
pub struct ResolveRequest<'a> {
    /// The root requirements; those whose marker excludes the target are ignored.
    pub requirements: Vec<Requirement>,
    /// Limits on versions that add no package (pip's `-c`); extras are ignored.
    pub constraints: Vec<Requirement>,
    /// Versions to choose while still allowed (from the existing lock).
    pub preferences: BTreeMap<PackageName, Version>,
    /// Pre-releases may be chosen for every package (pip's `--pre`).
    pub prereleases: bool,
    pub target: &'a Target,
}

impl<'a> ResolveRequest<'a> {
    pub fn new(target: &'a Target, requirements: Vec<Requirement>) -> Self {
        Self {
            requirements,
            constraints: Vec::new(),
            preferences: BTreeMap::new(),
            prereleases: false,
            target,
        }
    }
}

/// The result: one version of each project, with the wheel to install.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    pub packages: BTreeMap<PackageName, ResolvedPackage>,
    /// Sorted.
    pub warnings: Vec<ResolveWarning>,
}

/// One project of a [`Resolution`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedPackage {
    pub name: PackageName,
    pub version: Version,
    pub wheel: WheelCandidate,
    /// The extras asked for that this version provides.
    pub extras: BTreeSet<ExtraName>,
    /// The projects its metadata requires on the target, with its extras.
    pub dependencies: BTreeSet<PackageName>,
    /// Why it is there, sorted: "flask 3.1.0 requires `werkzeug>=3.1`",
    /// `flask[async] 3.1.0 requires asgiref>=3.2`, "requirements: `flask==3.1.*`".
    pub required_by: Vec<String>,
}

/// Facts worth telling that do not stop the resolution.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum ResolveWarning {
    /// An extra was asked for that the chosen version does not provide (pip
    /// warns and installs the project without it).
    MissingExtra {
        name: PackageName,
        version: Version,
        extra: ExtraName,
    },
    /// A yanked version was chosen because a requirement pins it exactly.
    Yanked {
        name: PackageName,
        version: Version,
        reason: Option<String>,
    },
}

impl fmt::Display for ResolveWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingExtra {
                name,
                version,
                extra,
            } => write!(
                f,
                "{name} {version} does not provide the extra `{extra}`; it is installed without it"
            ),
            Self::Yanked {
                name,
                version,
                reason,
            } => {
                write!(f, "{name} {version} was yanked")?;
                if let Some(reason) = reason {
                    write!(f, " ({reason})")?;
                }
                f.write_str("; it is used because a requirement pins it exactly")
            }
        }
    }
}

/// Why a resolution failed.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// No set of versions satisfies the requirements; the explanation says why,
    /// one sentence per line.
    #[error("no versions satisfy the Python requirements:\n{explanation}")]
    NoSolution { explanation: String },
    /// The source failed for `name` (its files, or the metadata of `version`).
    #[error("cannot get {} from the index", subject(.name, .version.as_ref()))]
    Source {
        name: PackageName,
        version: Option<Version>,
        #[source]
        source: SourceError,
    },
}

fn subject(name: &PackageName, version: Option<&Version>) -> String {
    match version {
        Some(version) => format!("the metadata of {name} {version}"),
        None => format!("the files of {name}"),
    }
}

/// Resolves `request` with the projects `source` provides.
pub fn resolve<S: PackageSource + ?Sized>(
    request: &ResolveRequest<'_>,
    source: &S,
) -> Result<Resolution, ResolveError> {
    let provider = Provider::new(request, source);
    let names: Vec<&PackageName> = provider.requirements.iter().map(|r| &r.name).collect();
    provider.discover(names);
    match pubgrub::resolve(&provider, Node::Root, root_version()) {
        Ok(solution) => provider.resolution(solution),
        Err(PubGrubError::NoSolution(tree)) => Err(ResolveError::NoSolution {
            explanation: provider.explain(&tree),
        }),
        Err(
            PubGrubError::ErrorChoosingVersion { source, .. }
            | PubGrubError::ErrorRetrievingDependencies { source, .. }
            | PubGrubError::ErrorInShouldCancel(source),
        ) => Err(source),
    }
}

// ---------------------------------------------------------------------------
// PEP 440 specifiers as ranges

/// The versions `specifiers` admit, as a range `pubgrub` resolves over (every
/// specifier's range, intersected). Pre-release exclusion is not part of it: it
/// is the resolver's policy.
pub fn specifiers_to_ranges(specifiers: &VersionSpecifiers) -> Ranges<Version> {
    specifiers.iter().fold(Ranges::full(), |range, specifier| {
        range.intersection(&specifier_to_ranges(specifier))
    })
}

/// The versions one specifier admits (PEP 440 "Version specifiers"), agreeing
/// with [`VersionSpecifier::contains`] and `packaging` except in two corners
/// where those exclude more: `>V` for a pre- or dev-release V admits the
/// post-releases of V's final release, and `<V` admits the dev releases of V's
/// post-releases.
pub fn specifier_to_ranges(specifier: &VersionSpecifier) -> Ranges<Version> {
    let version = specifier.version();
    match specifier.operator() {
        Operator::Equal => equal(version),
        // Best effort: PEP 440 versions equal, not the strings.
        Operator::ExactEqual => Ranges::singleton(version.clone()),
        Operator::NotEqual => equal(version).complement(),
        Operator::EqualStar => prefix(version),
        Operator::NotEqualStar => prefix(version).complement(),
        Operator::TildeEqual => {
            // `~=V.N` is `>=V.N, ==V.*`.
            let release = version.release();
            match release.split_last() {
                Some((_, rest)) if !rest.is_empty() => Ranges::from_range_bounds(
                    version.clone()..bumped(rest, version.epoch()).with_min(Some(0)),
                ),
                _ => Ranges::higher_than(version.clone()),
            }
        }
        Operator::LessThan => {
            let below = Ranges::strictly_lower_than(version.clone());
            if version.any_prerelease() {
                below
            } else {
                // `<V` excludes V's own pre-releases unless V is one.
                let release = release_of(version);
                let pre = Ranges::from_range_bounds(release.clone().with_min(Some(0))..release);
                below.intersection(&pre.complement())
            }
        }
        Operator::LessThanEqual => {
            if version.is_local() {
                Ranges::lower_than(version.clone())
            } else {
                Ranges::strictly_lower_than(local_successor(version))
            }
        }
        Operator::GreaterThan => {
            if version.is_local() {
                Ranges::strictly_higher_than(version.clone())
            } else if version.is_stable() && !version.is_post() {
                // `>V` excludes V's post-releases and local versions.
                Ranges::strictly_higher_than(version.clone().with_max(Some(0)))
            } else {
                Ranges::higher_than(local_successor(version))
            }
        }
        Operator::GreaterThanEqual => Ranges::higher_than(version.clone()),
    }
}

/// `==V`: V and, when V has no local label, every local version of V.
fn equal(version: &Version) -> Ranges<Version> {
    if version.is_local() {
        Ranges::singleton(version.clone())
    } else {
        Ranges::from_range_bounds(version.clone()..local_successor(version))
    }
}

/// `==P.*`: every version whose release starts with P.
fn prefix(version: &Version) -> Ranges<Version> {
    let low = release_of(version).with_min(Some(0));
    let high = bumped(version.release(), version.epoch()).with_min(Some(0));
    Ranges::from_range_bounds(low..high)
}

/// The smallest version above V and all of V's local versions (`1.0` →
/// `1.0.post0.dev0`, `1.0.dev3` → `1.0.dev4`).
fn local_successor(version: &Version) -> Version {
    let version = version.clone().without_local();
    if let Some(dev) = version.dev() {
        version.with_dev(Some(dev.saturating_add(1)))
    } else {
        let post = version.post().map_or(0, |post| post.saturating_add(1));
        version.with_post(Some(post)).with_dev(Some(0))
    }
}

/// V's epoch and release, nothing else.
fn release_of(version: &Version) -> Version {
    Version::new(version.release()).with_epoch(version.epoch())
}

/// The release with its last number incremented (`1.4` → `1.5`).
fn bumped(release: &[u64], epoch: u64) -> Version {
    let mut release = release.to_vec();
    if let Some(last) = release.last_mut() {
        *last = last.saturating_add(1);
    }
    Version::new(release).with_epoch(epoch)
}

/// A range as PEP 440 specifiers would write it, for explanations: `` for every
/// version, `==1.0`, `>=1.0, <2.0`, `!=1.5.*`, `<1.0 | >=2.0`.
fn format_range(range: &Ranges<Version>) -> String {
    if range.is_empty() {
        return " (no version)".to_owned();
    }
    if *range == Ranges::full() {
        return String::new();
    }
    let segments: Vec<_> = range.iter().collect();
    if let [(low, high)] = segments[..] {
        return segment_text(low, high);
    }
    let complement = range.complement();
    if let [(low, high)] = complement.iter().collect::<Vec<_>>()[..]
        && let Some(equal) = equality_text(low, high)
    {
        return format!("!={equal}");
    }
    segments
        .into_iter()
        .map(|(low, high)| segment_text(low, high))
        .collect::<Vec<_>>()
        .join(" | ")
}

/// `1.0` for `==1.0` (with its local versions), `1.5.*` for a prefix range.
fn equality_text(low: &Bound<Version>, high: &Bound<Version>) -> Option<String> {
    match (low, high) {
        (Bound::Included(a), Bound::Included(b)) if a == b => Some(a.to_string()),
        (Bound::Included(a), Bound::Excluded(b)) => {
            if !a.is_local() && a.min().is_none() && local_successor(a) == *b {
                return Some(a.to_string());
            }
            let prefix = a.min().is_some()
                && b.min().is_some()
                && a.is_stable()
                && !a.is_post()
                && bumped(a.release(), a.epoch()) == b.clone().with_min(None);
            prefix.then(|| format!("{}.*", a.clone().with_min(None)))
        }
        _ => None,
    }
}

fn segment_text(low: &Bound<Version>, high: &Bound<Version>) -> String {
    if let Some(equal) = equality_text(low, high) {
        return format!("=={equal}");
    }
    let low = match low {
        Bound::Unbounded => None,
        Bound::Included(v) if v.min().is_some() => Some(format!(">={}", v.clone().with_min(None))),
        Bound::Included(v) => Some(match predecessor(v) {
            Some(before) => format!(">{before}"),
            None => format!(">={v}"),
        }),
        Bound::Excluded(v) if v.max().is_some() => Some(format!(">{}", v.clone().with_max(None))),
        Bound::Excluded(v) => Some(format!(">{v}")),
    };
    let high = match high {
        Bound::Unbounded => None,
        Bound::Excluded(v) if v.min().is_some() => Some(format!("<{}", v.clone().with_min(None))),
        Bound::Excluded(v) => Some(match predecessor(v) {
            Some(before) => format!("<={before}"),
            None => format!("<{v}"),
        }),
        Bound::Included(v) if v.max().is_some() => Some(format!("<={}", v.clone().with_max(None))),
        Bound::Included(v) => Some(format!("<={v}")),
    };
    [low, high]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ")
}

/// The version whose [`local_successor`] `version` looks like, for a bound that
/// `==`, `!=`, `<=` or `>` produced (`1.0.post0.dev0` → `1.0`).
fn predecessor(version: &Version) -> Option<Version> {
    if version.dev() != Some(0) || version.is_local() || version.min().is_some() {
        return None;
    }
    let post = version.post()?;
    let base = version.clone().with_dev(None);
    Some(match post {
        0 => base.with_post(None),
        post => base.with_post(Some(post - 1)),
    })
}

// ---------------------------------------------------------------------------
// The dependency provider

/// A `pubgrub` package: the root, a project, or a project with one extra.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Node {
    Root,
    Package(PackageName),
    Extra(PackageName, ExtraName),
}

impl Node {
    fn name(&self) -> Option<&PackageName> {
        match self {
            Self::Root => None,
            Self::Package(name) | Self::Extra(name, _) => Some(name),
        }
    }
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Root => f.write_str("your requirements"),
            Self::Package(name) => write!(f, "{name}"),
            Self::Extra(name, extra) => write!(f, "{name}[{extra}]"),
        }
    }
}

fn root_version() -> Version {
    Version::new([0])
}

/// Why a chosen version turned out unusable once its metadata was read.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Unavailable {
    /// The wheel's `Requires-Python` excludes the target.
    RequiresPython { specifiers: String },
    /// The metadata names another project or version.
    InconsistentMetadata { found: String },
    /// The candidates say the version cannot be used (not expected: the resolver
    /// chooses usable versions only).
    Unusable(Unusable),
}

impl fmt::Display for Unavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::RequiresPython { specifiers } => {
                write!(f, "requires Python {specifiers} (its metadata says so)")
            }
            Self::InconsistentMetadata { found } => {
                write!(f, "has a wheel whose metadata is for {found}")
            }
            Self::Unusable(unusable) => f.write_str(&phrase(unusable, Grammar::One)),
        }
    }
}

type Priority = (u8, u32, u8, Reverse<usize>, Reverse<usize>);

struct Provider<'a, S: ?Sized> {
    source: &'a S,
    target: &'a Target,
    /// The root requirements that apply to the target.
    requirements: Vec<Requirement>,
    /// The ranges the applicable constraints allow, by project.
    constraints: BTreeMap<PackageName, Ranges<Version>>,
    preferences: &'a BTreeMap<PackageName, Version>,
    /// `--pre`: pre-releases of every package may be chosen.
    all_prereleases: bool,
    state: RefCell<State>,
}

#[derive(Default)]
struct State {
    /// `None`: not on the index.
    candidates: BTreeMap<PackageName, Option<Arc<Candidates>>>,
    metadata: BTreeMap<(PackageName, Version), Arc<Metadata>>,
    /// Every project named so far, with the order it was first named in.
    discovered: BTreeMap<PackageName, usize>,
    /// Projects a specifier of which names a pre-release.
    prereleases: BTreeSet<PackageName>,
    /// Specifiers with an `==` or `===`, by project (PEP 592).
    pins: BTreeMap<PackageName, Vec<VersionSpecifiers>>,
    /// The version last chosen for each project, which its extras prefer.
    chosen: BTreeMap<PackageName, Version>,
}

impl<'a, S: PackageSource + ?Sized> Provider<'a, S> {
    fn new(request: &'a ResolveRequest<'a>, source: &'a S) -> Self {
        let target = request.target;
        let provider = Self {
            source,
            target,
            requirements: request
                .requirements
                .iter()
                .filter(|r| r.applies_to(target, &[]))
                .cloned()
                .collect(),
            constraints: BTreeMap::new(),
            preferences: &request.preferences,
            all_prereleases: request.prereleases,
            state: RefCell::default(),
        };
        let mut constraints: BTreeMap<PackageName, Ranges<Version>> = BTreeMap::new();
        for constraint in &request.constraints {
            if !constraint.applies_to(target, &[]) {
                continue;
            }
            provider.note_specifiers(&constraint.name, &constraint.specifiers);
            let range = specifiers_to_ranges(&constraint.specifiers);
            constraints
                .entry(constraint.name.clone())
                .and_modify(|kept| *kept = kept.intersection(&range))
                .or_insert(range);
        }
        Self {
            constraints,
            ..provider
        }
    }

    /// Records projects named for the first time, and asks the source to fetch
    /// them.
    fn discover<'n>(&self, names: impl IntoIterator<Item = &'n PackageName>) {
        let mut new = Vec::new();
        {
            let mut state = self.state.borrow_mut();
            for name in names {
                let next = state.discovered.len();
                if !state.discovered.contains_key(name) {
                    state.discovered.insert(name.clone(), next);
                    new.push(name.clone());
                }
            }
        }
        new.sort();
        new.dedup();
        if !new.is_empty() {
            self.source.prefetch(&new);
        }
    }

    fn note_specifiers(&self, name: &PackageName, specifiers: &VersionSpecifiers) {
        let mut state = self.state.borrow_mut();
        if specifiers.iter().any(VersionSpecifier::any_prerelease) {
            state.prereleases.insert(name.clone());
        }
        let pins = specifiers.iter().any(|specifier| {
            matches!(specifier.operator(), Operator::Equal | Operator::ExactEqual)
        });
        if pins {
            let kept = state.pins.entry(name.clone()).or_default();
            if !kept.contains(specifiers) {
                kept.push(specifiers.clone());
            }
        }
    }

    fn pinned(&self, name: &PackageName, version: &Version) -> bool {
        self.state.borrow().pins.get(name).is_some_and(|pins| {
            pins.iter()
                .any(|specifiers| pins_exactly(specifiers, version))
        })
    }

    fn candidates(&self, name: &PackageName) -> Result<Option<Arc<Candidates>>, ResolveError> {
        if let Some(known) = self.state.borrow().candidates.get(name) {
            return Ok(known.clone());
        }
        let found = match self.source.candidates(name) {
            Ok(candidates) => Some(candidates),
            Err(err) if err.kind() == SourceErrorKind::NotFound => None,
            Err(source) => {
                return Err(ResolveError::Source {
                    name: name.clone(),
                    version: None,
                    source,
                });
            }
        };
        self.state
            .borrow_mut()
            .candidates
            .insert(name.clone(), found.clone());
        Ok(found)
    }

    /// The wheel of a version [`Self::choose`] returned. (The fallbacks for a
    /// project or version the candidates lack cannot happen: `pubgrub` only asks
    /// about versions `choose` found there.)
    fn wheel(
        &self,
        name: &PackageName,
        version: &Version,
    ) -> Result<Result<WheelCandidate, Unusable>, ResolveError> {
        let Some(candidates) = self.candidates(name)? else {
            return Ok(Err(Unusable::SourceOnly));
        };
        let pinned = self.pinned(name, version);
        Ok(match candidates.get(version) {
            Some(candidate) => candidate.wheel(pinned).cloned(),
            None => Err(Unusable::SourceOnly),
        })
    }

    fn metadata(
        &self,
        name: &PackageName,
        wheel: &WheelCandidate,
    ) -> Result<Arc<Metadata>, ResolveError> {
        let key = (name.clone(), wheel.version().clone());
        if let Some(metadata) = self.state.borrow().metadata.get(&key) {
            return Ok(Arc::clone(metadata));
        }
        let metadata =
            self.source
                .metadata(name, wheel)
                .map_err(|source| ResolveError::Source {
                    name: name.clone(),
                    version: Some(wheel.version().clone()),
                    source,
                })?;
        self.state
            .borrow_mut()
            .metadata
            .insert(key, Arc::clone(&metadata));
        Ok(metadata)
    }

    /// The range a requirement allows, within the constraints.
    fn range_of(&self, requirement: &Requirement) -> Ranges<Version> {
        let range = specifiers_to_ranges(&requirement.specifiers);
        match self.constraints.get(&requirement.name) {
            Some(constraint) => range.intersection(constraint),
            None => range,
        }
    }

    /// Adds `requirement` of `parent` to `dependencies`: the project, and one
    /// virtual package per extra.
    fn add_requirement(
        &self,
        parent: &Node,
        requirement: &Requirement,
        dependencies: &mut BTreeMap<Node, Ranges<Version>>,
    ) {
        self.note_specifiers(&requirement.name, &requirement.specifiers);
        let range = self.range_of(requirement);
        let mut nodes = Vec::new();
        // A project requiring itself needs nothing more (an extra of itself
        // still adds that extra's requirements).
        if parent.name() != Some(&requirement.name) {
            nodes.push(Node::Package(requirement.name.clone()));
        }
        nodes.extend(
            requirement
                .extras
                .iter()
                .map(|extra| Node::Extra(requirement.name.clone(), extra.clone())),
        );
        for node in nodes {
            if node == *parent {
                continue;
            }
            dependencies
                .entry(node)
                .and_modify(|kept| *kept = kept.intersection(&range))
                .or_insert_with(|| range.clone());
        }
    }

    fn dependencies_of(
        &self,
        node: &Node,
        version: &Version,
    ) -> Result<Dependencies<Node, Ranges<Version>, Unavailable>, ResolveError> {
        let mut dependencies = BTreeMap::new();
        let (name, extra) = match node {
            Node::Root => {
                for requirement in &self.requirements {
                    self.add_requirement(node, requirement, &mut dependencies);
                }
                return Ok(self.available(dependencies));
            }
            Node::Package(name) => (name, None),
            Node::Extra(name, extra) => (name, Some(extra)),
        };
        let wheel = match self.wheel(name, version)? {
            Ok(wheel) => wheel,
            Err(unusable) => return Ok(Dependencies::Unavailable(Unavailable::Unusable(unusable))),
        };
        let metadata = self.metadata(name, &wheel)?;
        if metadata.name != *name || metadata.version != *version {
            return Ok(Dependencies::Unavailable(
                Unavailable::InconsistentMetadata {
                    found: format!("{} {}", metadata.name, metadata.version),
                },
            ));
        }
        if let Some(requires_python) = &metadata.requires_python
            && !requires_python.allows(self.target)
        {
            let specifiers = match requires_python {
                RequiresPython::Specifiers(specifiers) => specifiers.to_string(),
                RequiresPython::Invalid(text) => text.clone(),
            };
            return Ok(Dependencies::Unavailable(Unavailable::RequiresPython {
                specifiers,
            }));
        }
        match extra {
            None => {
                for requirement in &metadata.requires_dist {
                    if requirement.applies_to(self.target, &[]) {
                        self.add_requirement(node, requirement, &mut dependencies);
                    }
                }
            }
            Some(extra) => {
                dependencies.insert(
                    Node::Package(name.clone()),
                    Ranges::singleton(version.clone()),
                );
                for requirement in &metadata.requires_dist {
                    if requirement.applies_to(self.target, std::slice::from_ref(extra))
                        && !requirement.applies_to(self.target, &[])
                    {
                        self.add_requirement(node, requirement, &mut dependencies);
                    }
                }
            }
        }
        Ok(self.available(dependencies))
    }

    fn available(
        &self,
        dependencies: BTreeMap<Node, Ranges<Version>>,
    ) -> Dependencies<Node, Ranges<Version>, Unavailable> {
        self.discover(dependencies.keys().filter_map(Node::name));
        Dependencies::Available(dependencies.into_iter().collect())
    }

    fn choose(
        &self,
        node: &Node,
        range: &Ranges<Version>,
    ) -> Result<Option<Version>, ResolveError> {
        let Some(name) = node.name() else {
            return Ok(Some(root_version()));
        };
        let Some(candidates) = self.candidates(name)? else {
            return Ok(None);
        };
        let usable = |version: &Version| {
            range.contains(version)
                && candidates
                    .get(version)
                    .is_some_and(|candidate| candidate.wheel(self.pinned(name, version)).is_ok())
        };
        // An extra prefers the version its project has; then the lock's version.
        let sibling = match node {
            Node::Extra(..) => self.state.borrow().chosen.get(name).cloned(),
            _ => None,
        };
        let preferred = [sibling, self.preferences.get(name).cloned()]
            .into_iter()
            .flatten()
            .find(|version| usable(version));
        let choice = preferred.or_else(|| {
            let prereleases =
                self.all_prereleases || self.state.borrow().prereleases.contains(name);
            let mut prerelease = None;
            for version in candidates.versions().keys().rev() {
                if !usable(version) {
                    continue;
                }
                if !version.any_prerelease() || prereleases {
                    return Some(version.clone());
                }
                // PEP 440: a pre-release only if no final release will do.
                prerelease.get_or_insert_with(|| version.clone());
            }
            prerelease
        });
        if let (Node::Package(name), Some(version)) = (node, &choice) {
            self.state
                .borrow_mut()
                .chosen
                .insert(name.clone(), version.clone());
        }
        Ok(choice)
    }

    fn priority(
        &self,
        node: &Node,
        range: &Ranges<Version>,
        statistics: &PackageResolutionStatistics,
    ) -> Priority {
        let Some(name) = node.name() else {
            return (1, 0, 0, Reverse(0), Reverse(0));
        };
        // The source was asked to prefetch the project when it was discovered.
        // An error here shows again when a version is chosen.
        let candidates = self.candidates(name).ok();
        let conflicts = statistics.conflict_count();
        let conflicts = if conflicts >= CONFLICTS_TO_PROMOTE {
            conflicts
        } else {
            0
        };
        let pinned = u8::from(range.as_singleton().is_some());
        // Fewer versions to choose from first (none at all: fail fast).
        let count = match candidates {
            Some(Some(candidates)) => candidates
                .versions()
                .keys()
                .filter(|version| range.contains(version))
                .count(),
            Some(None) => 0,
            None => usize::MAX,
        };
        let state = self.state.borrow();
        let order = state.discovered.get(name).copied().unwrap_or(usize::MAX);
        (0, conflicts, pinned, Reverse(count), Reverse(order))
    }

    /// The [`Resolution`] of `pubgrub`'s solution.
    fn resolution(
        &self,
        solution: SelectedDependencies<Node, Version>,
    ) -> Result<Resolution, ResolveError> {
        let mut versions: BTreeMap<PackageName, Version> = BTreeMap::new();
        let mut requested: BTreeMap<PackageName, BTreeSet<ExtraName>> = BTreeMap::new();
        for (node, version) in solution {
            match node {
                Node::Root => {}
                Node::Package(name) => {
                    versions.insert(name, version);
                }
                Node::Extra(name, extra) => {
                    requested.entry(name).or_default().insert(extra);
                }
            }
        }
        let mut warnings = Vec::new();
        let mut required_by: BTreeMap<PackageName, BTreeSet<String>> = BTreeMap::new();
        for requirement in &self.requirements {
            required_by
                .entry(requirement.name.clone())
                .or_default()
                .insert(format!("requirements: `{}`", without_marker(requirement)));
        }
        let mut packages = BTreeMap::new();
        for (name, version) in &versions {
            let wheel = self
                .wheel(name, version)?
                .expect("pubgrub chooses usable versions only");
            let metadata = self.metadata(name, &wheel)?;
            let mut extras = BTreeSet::new();
            for extra in requested.remove(name).unwrap_or_default() {
                let turns_on = metadata.requires_dist.iter().any(|requirement| {
                    requirement.applies_to(self.target, std::slice::from_ref(&extra))
                        && !requirement.applies_to(self.target, &[])
                });
                if turns_on || metadata.provides_extra.contains(&extra) {
                    extras.insert(extra);
                } else {
                    warnings.push(ResolveWarning::MissingExtra {
                        name: name.clone(),
                        version: version.clone(),
                        extra,
                    });
                }
            }
            let mut dependencies = BTreeSet::new();
            for requirement in &metadata.requires_dist {
                if requirement.name == *name {
                    continue;
                }
                let who = if requirement.applies_to(self.target, &[]) {
                    format!("{name} {version}")
                } else if let Some(extra) = extras
                    .iter()
                    .find(|extra| requirement.applies_to(self.target, std::slice::from_ref(*extra)))
                {
                    format!("{name}[{extra}] {version}")
                } else {
                    continue;
                };
                dependencies.insert(requirement.name.clone());
                required_by
                    .entry(requirement.name.clone())
                    .or_default()
                    .insert(format!("{who} requires `{}`", without_marker(requirement)));
            }
            if wheel.is_yanked() {
                warnings.push(ResolveWarning::Yanked {
                    name: name.clone(),
                    version: version.clone(),
                    reason: wheel.yanked_reason().map(str::to_owned),
                });
            }
            packages.insert(
                name.clone(),
                ResolvedPackage {
                    name: name.clone(),
                    version: version.clone(),
                    wheel,
                    extras,
                    dependencies,
                    required_by: Vec::new(),
                },
            );
        }
        for (name, package) in &mut packages {
            package.required_by = required_by
                .remove(name)
                .unwrap_or_default()
                .into_iter()
                .collect();
        }
        warnings.sort();
        Ok(Resolution { packages, warnings })
    }

    fn explain(&self, tree: &DerivationTree<Node, Ranges<Version>, Unavailable>) -> String {
        let explainer = Explainer {
            provider: self,
            notes: RefCell::default(),
        };
        let mut tree = tree.clone();
        explainer.collapse(&mut tree);
        let mut text = match &tree {
            // A failure with a single cause (a requirement no version can meet).
            DerivationTree::External(external) => {
                format!(
                    "Because {}, no solution exists.",
                    explainer.external(external)
                )
            }
            DerivationTree::Derived(_) => {
                DefaultStringReporter::report_with_formatter(&tree, &explainer)
            }
        };
        let mut notes = explainer.notes.into_inner();
        for node in tree.packages() {
            if let Some(name) = node.name()
                && let Some(range) = self.constraints.get(name)
            {
                notes.insert(format!(
                    "the constraints allow only {name}{}",
                    format_range(range)
                ));
            }
        }
        for note in notes {
            text.push_str("\nNote: ");
            text.push_str(&note);
            text.push('.');
        }
        text
    }
}

fn without_marker(requirement: &Requirement) -> String {
    Requirement {
        marker: MarkerTree::TRUE,
        ..requirement.clone()
    }
    .to_string()
}

impl<S: PackageSource + ?Sized> DependencyProvider for Provider<'_, S> {
    type P = Node;
    type V = Version;
    type VS = Ranges<Version>;
    type M = Unavailable;
    type Priority = Priority;
    type Err = ResolveError;

    fn prioritize(
        &self,
        package: &Node,
        range: &Ranges<Version>,
        statistics: &PackageResolutionStatistics,
    ) -> Priority {
        self.priority(package, range, statistics)
    }

    fn choose_version(
        &self,
        package: &Node,
        range: &Ranges<Version>,
    ) -> Result<Option<Version>, ResolveError> {
        self.choose(package, range)
    }

    fn get_dependencies(
        &self,
        package: &Node,
        version: &Version,
    ) -> Result<Dependencies<Node, Ranges<Version>, Unavailable>, ResolveError> {
        self.dependencies_of(package, version)
    }
}

// ---------------------------------------------------------------------------
// Explanations

/// How an unusable reason is phrased: after one version (`foo==1.0 has …`), after
/// a range (`foo>=1.0 has …`), or after a list (`foo 2.0 and 1.0 have …`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Grammar {
    One,
    Range,
    List,
}

fn phrase(unusable: &Unusable, grammar: Grammar) -> String {
    let (has, wheel, its) = match grammar {
        Grammar::One => ("has", "wheel", "its"),
        Grammar::Range => ("has", "wheels", "its"),
        Grammar::List => ("have", "wheels", "their"),
    };
    match unusable {
        Unusable::SourceOnly if grammar == Grammar::One => {
            "has only a source distribution (no wheel)".to_owned()
        }
        Unusable::SourceOnly => format!("{has} only source distributions (no wheel)"),
        Unusable::NoCompatibleWheel {
            closest,
            wheels,
            more,
            ..
        } => {
            let detail = match closest {
                TagIncompatibility::Glibc { needed, .. } => {
                    format!("{its} manylinux wheels need glibc {needed} or newer")
                }
                _ => format!("{its} wheels are for {}", list(wheels, *more, "more")),
            };
            format!("{has} no {wheel} for the image ({detail})")
        }
        Unusable::RequiresPython { specifiers, .. } if grammar == Grammar::List => {
            format!("require Python {specifiers}")
        }
        Unusable::RequiresPython { specifiers, .. } => format!("requires Python {specifiers}"),
        Unusable::Yanked { reason } => {
            let was = if grammar == Grammar::List {
                "were"
            } else {
                "was"
            };
            match reason {
                Some(reason) => format!("{was} yanked ({reason})"),
                None => format!("{was} yanked"),
            }
        }
    }
}

struct Explainer<'p, 'a, S: ?Sized> {
    provider: &'p Provider<'a, S>,
    /// Context said once, after the explanation.
    notes: RefCell<BTreeSet<String>>,
}

type Tree = Derived<Node, Ranges<Version>, Unavailable>;
type Ext = External<Node, Ranges<Version>, Unavailable>;
type Terms = Map<Node, Term<Ranges<Version>>>;

impl<S: PackageSource + ?Sized> Explainer<'_, '_, S> {
    fn note(&self, note: impl Into<String>) {
        self.notes.borrow_mut().insert(note.into());
    }

    fn note_unusable(&self, unusable: &Unusable) {
        if let Some(note) = unusable.note() {
            self.note(note);
        }
        if matches!(
            unusable,
            Unusable::NoCompatibleWheel { .. } | Unusable::RequiresPython { .. }
        ) {
            self.note_target();
        }
    }

    fn note_target(&self) {
        self.note(format!("the image has {}", self.provider.target));
    }

    /// `foo>=1.0`, `foo[x]==2.0`, `your requirements`.
    fn subject(node: &Node, range: &Ranges<Version>) -> String {
        match node {
            Node::Root => node.to_string(),
            _ => format!("{node}{}", format_range(range)),
        }
    }

    /// A subject for versions the index has: `a==1.0` when the range holds only
    /// the index's 1.0, `a` when it holds all the index has, else as
    /// [`Self::subject`].
    fn versions_subject(&self, node: &Node, range: &Ranges<Version>) -> String {
        let candidates = node
            .name()
            .and_then(|name| self.provider.state.borrow().candidates.get(name).cloned())
            .flatten();
        if let Some(candidates) = candidates {
            let mut inside = candidates
                .versions()
                .keys()
                .filter(|version| range.contains(version));
            if let (Some(only), None) = (inside.next(), inside.next()) {
                return format!("{node}=={only}");
            }
            if candidates
                .versions()
                .keys()
                .all(|version| range.contains(version))
            {
                return node.to_string();
            }
        }
        Self::subject(node, range)
    }

    fn no_versions(&self, node: &Node, range: &Ranges<Version>) -> String {
        let Some(name) = node.name() else {
            return "your requirements cannot be resolved".to_owned();
        };
        let candidates = self.provider.state.borrow().candidates.get(name).cloned();
        match candidates {
            Some(None) => format!("{name} is not on the index"),
            Some(Some(candidates)) => self.unusable_versions(node, name, range, &candidates),
            None => format!("there is no version of {}", Self::subject(node, range)),
        }
    }

    fn unusable_versions(
        &self,
        node: &Node,
        name: &PackageName,
        range: &Ranges<Version>,
        candidates: &Candidates,
    ) -> String {
        // Newest first, grouped by reason in the order they first appear.
        let mut groups: Vec<(Unusable, Vec<&Version>)> = Vec::new();
        for (version, candidate) in candidates.versions().iter().rev() {
            if !range.contains(version) {
                continue;
            }
            let Err(unusable) = candidate.wheel(self.provider.pinned(name, version)) else {
                continue;
            };
            match groups.iter_mut().find(|(kept, _)| *kept == unusable) {
                Some((_, versions)) => versions.push(version),
                None => groups.push((unusable, vec![version])),
            }
        }
        if groups.is_empty() {
            if candidates.is_empty() {
                return format!("the index lists no wheel or source distribution of {name}");
            }
            return format!("there is no version of {}", Self::subject(node, range));
        }
        for (unusable, _) in &groups {
            self.note_unusable(unusable);
        }
        let every = candidates.versions().keys().all(|v| range.contains(v));
        let whole = if every {
            node.to_string()
        } else {
            Self::subject(node, range)
        };
        if let [(unusable, versions)] = &groups[..] {
            return match versions[..] {
                [version] => format!("{node}=={version} {}", phrase(unusable, Grammar::One)),
                _ => format!("{whole} {}", phrase(unusable, Grammar::Range)),
            };
        }
        let reasons: Vec<String> = groups
            .iter()
            .map(|(unusable, versions)| {
                let named: Vec<String> = versions
                    .iter()
                    .take(VERSIONS_NAMED)
                    .map(ToString::to_string)
                    .collect();
                let more = versions.len() - named.len();
                let grammar = if versions.len() == 1 {
                    Grammar::One
                } else {
                    Grammar::List
                };
                format!(
                    "{} {}",
                    list(&named, more, "older"),
                    phrase(unusable, grammar)
                )
            })
            .collect();
        format!("no version of {whole} can be used ({})", reasons.join("; "))
    }

    /// Whether "there is no version of `node` in `range`" says anything: it does
    /// when the project is not on the index or some of its versions in the range
    /// are unusable, and not when the index simply has no version there (which
    /// `pubgrub` states for the versions it has not tried).
    fn informative(&self, node: &Node, range: &Ranges<Version>) -> bool {
        let Some(name) = node.name() else {
            return true;
        };
        match self.provider.state.borrow().candidates.get(name) {
            Some(None) => true,
            Some(Some(candidates)) => candidates
                .versions()
                .keys()
                .any(|version| range.contains(version)),
            None => false,
        }
    }

    /// Drops the uninformative "no version of `p` in `r`" facts, merging `r` into
    /// the fact beside them about `p` (as `pubgrub`'s `collapse_no_versions`
    /// does, but keeping the facts that carry a reason).
    fn collapse(&self, tree: &mut DerivationTree<Node, Ranges<Version>, Unavailable>) {
        let DerivationTree::Derived(derived) = tree else {
            return;
        };
        self.collapse(Arc::make_mut(&mut derived.cause1));
        self.collapse(Arc::make_mut(&mut derived.cause2));
        let merged = match (&*derived.cause1, &*derived.cause2) {
            (DerivationTree::External(External::NoVersions(node, range)), other)
            | (other, DerivationTree::External(External::NoVersions(node, range)))
                if !self.informative(node, range) =>
            {
                merge_no_versions(other, node, range)
            }
            _ => None,
        };
        if let Some(merged) = merged {
            *tree = merged;
        }
    }

    fn terms(&self, terms: &Terms) -> String {
        let mut terms: Vec<_> = terms.iter().collect();
        terms.sort_by(|a, b| a.0.cmp(b.0));
        match terms[..] {
            [] | [(Node::Root, Term::Positive(_))] => "no solution exists".to_owned(),
            [(node, Term::Positive(range))]
            | [
                (Node::Root, Term::Positive(_)),
                (node, Term::Positive(range)),
            ] => {
                format!("{} cannot be used", self.versions_subject(node, range))
            }
            [(node, Term::Negative(range))] => {
                format!("{} is required", Self::subject(node, range))
            }
            [
                (Node::Root, Term::Positive(_)),
                (node, Term::Negative(range)),
            ] => {
                format!("you require {}", Self::subject(node, range))
            }
            [
                (node, Term::Positive(range)),
                (dependency, Term::Negative(needed)),
            ]
            | [
                (dependency, Term::Negative(needed)),
                (node, Term::Positive(range)),
            ] => format!(
                "{} depends on {}",
                self.versions_subject(node, range),
                Self::subject(dependency, needed)
            ),
            _ => {
                let parts: Vec<String> = terms
                    .iter()
                    .map(|(node, term)| match term {
                        Term::Positive(range) => self.versions_subject(node, range),
                        Term::Negative(range) => format!("not {}", Self::subject(node, range)),
                    })
                    .collect();
                format!("{} cannot be used together", list(&parts, 0, ""))
            }
        }
    }

    /// Two facts joined by "and": facts about versions before requirements, and
    /// two root requirements as one ("you require a and b").
    fn both(&self, first: &Ext, second: &Ext) -> String {
        if let (
            External::FromDependencyOf(Node::Root, _, a, a_range),
            External::FromDependencyOf(Node::Root, _, b, b_range),
        ) = (first, second)
        {
            return format!(
                "you require {} and {}",
                Self::subject(a, a_range),
                Self::subject(b, b_range)
            );
        }
        let (first, second) = if is_fact(second) && !is_fact(first) {
            (second, first)
        } else {
            (first, second)
        };
        format!("{} and {}", self.external(first), self.external(second))
    }

    fn external(&self, external: &Ext) -> String {
        match external {
            External::NotRoot(..) => "you are resolving your requirements".to_owned(),
            External::NoVersions(node, range) => self.no_versions(node, range),
            External::FromDependencyOf(Node::Root, _, dependency, range) => {
                format!("you require {}", Self::subject(dependency, range))
            }
            External::FromDependencyOf(node, range, dependency, needed) => format!(
                "{} depends on {}",
                self.versions_subject(node, range),
                Self::subject(dependency, needed)
            ),
            External::Custom(node, range, reason) => {
                match reason {
                    Unavailable::RequiresPython { .. } => self.note_target(),
                    Unavailable::Unusable(unusable) => self.note_unusable(unusable),
                    Unavailable::InconsistentMetadata { .. } => {}
                }
                format!("{} {reason}", self.versions_subject(node, range))
            }
        }
    }
}

/// `other` with `range` of `node` added, when it is a fact about `node` the range
/// can join; a derived `other` stands in for the whole (as in `pubgrub`).
fn merge_no_versions(
    other: &DerivationTree<Node, Ranges<Version>, Unavailable>,
    node: &Node,
    range: &Ranges<Version>,
) -> Option<DerivationTree<Node, Ranges<Version>, Unavailable>> {
    let external = match other {
        DerivationTree::Derived(_) => return Some(other.clone()),
        DerivationTree::External(external) => external,
    };
    let merged = match external {
        External::FromDependencyOf(p, p_range, d, d_range) if p == node => {
            External::FromDependencyOf(p.clone(), p_range.union(range), d.clone(), d_range.clone())
        }
        External::FromDependencyOf(p, p_range, d, d_range) if d == node => {
            External::FromDependencyOf(p.clone(), p_range.clone(), d.clone(), d_range.union(range))
        }
        External::Custom(p, p_range, reason) if p == node => {
            External::Custom(p.clone(), p_range.union(range), reason.clone())
        }
        _ => return None,
    };
    Some(DerivationTree::External(merged))
}

/// Facts (a project's versions being unusable) read best before the
/// requirements that run into them.
fn is_fact(external: &Ext) -> bool {
    matches!(external, External::NoVersions(..) | External::Custom(..))
}

impl<S: PackageSource + ?Sized> ReportFormatter<Node, Ranges<Version>, Unavailable>
    for Explainer<'_, '_, S>
{
    type Output = String;

    fn format_external(&self, external: &Ext) -> String {
        self.external(external)
    }

    fn format_terms(&self, terms: &Terms) -> String {
        self.terms(terms)
    }

    fn explain_both_external(&self, first: &Ext, second: &Ext, terms: &Terms) -> String {
        format!(
            "Because {}, {}.",
            self.both(first, second),
            self.terms(terms)
        )
    }

    fn explain_both_ref(
        &self,
        first_id: usize,
        first: &Tree,
        second_id: usize,
        second: &Tree,
        terms: &Terms,
    ) -> String {
        format!(
            "Because {} ({first_id}) and {} ({second_id}), {}.",
            self.terms(&first.terms),
            self.terms(&second.terms),
            self.terms(terms)
        )
    }

    fn explain_ref_and_external(
        &self,
        id: usize,
        derived: &Tree,
        external: &Ext,
        terms: &Terms,
    ) -> String {
        format!(
            "Because {} ({id}) and {}, {}.",
            self.terms(&derived.terms),
            self.external(external),
            self.terms(terms)
        )
    }

    fn and_explain_external(&self, external: &Ext, terms: &Terms) -> String {
        format!(
            "And because {}, {}.",
            self.external(external),
            self.terms(terms)
        )
    }

    fn and_explain_ref(&self, id: usize, derived: &Tree, terms: &Terms) -> String {
        format!(
            "And because {} ({id}), {}.",
            self.terms(&derived.terms),
            self.terms(terms)
        )
    }

    fn and_explain_prior_and_external(&self, prior: &Ext, external: &Ext, terms: &Terms) -> String {
        format!(
            "And because {}, {}.",
            self.both(prior, external),
            self.terms(terms)
        )
    }
}

#[cfg(test)]
mod tests;
