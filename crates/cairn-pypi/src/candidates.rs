//! What a project offers a [`Target`]: for each version on a simple page, the
//! wheel cairn would install, or why that version cannot be used.
//!
//! Pure: built from a [`ProjectPage`] (already fetched and parsed), the target and
//! its [`CompatibleTags`]. The resolver ([`crate::resolve`]) chooses among the
//! usable versions and explains the unusable ones with the reasons found here.
//!
//! For one version the choice is:
//!
//! 1. the files whose `Requires-Python` (PEP 503 `data-requires-python`, PEP 691
//!    `requires-python`) excludes the target's Python are set aside;
//! 2. among the remaining wheels whose tags the target accepts, the preferred one
//!    by [`CompatibleTags::preference`] (best tag, then build tag, then file name),
//!    taking a yanked wheel (PEP 592) only when every compatible wheel is yanked;
//! 3. without such a wheel the version is [`Unusable`], with the most useful
//!    reason: Python excluded, no wheel for this platform, or only a source
//!    distribution (cairn installs wheels only; building sdists comes later).
//!
//! A version whose compatible wheels are all yanked may still be installed when a
//! requirement pins exactly that version (`==1.2.3` or `===1.2.3`, not
//! `==1.2.*`): [`CandidateVersion::wheel`] takes that fact, and [`pins_exactly`]
//! tells it from a requirement's specifiers.

use std::collections::BTreeMap;
use std::fmt;

use crate::name::{PackageName, parse_package_name};
use crate::simple::{DistFile, FileKind, ProjectPage, RequiresPython, Yanked};
use crate::tags::{CompatibleTags, TagIncompatibility, WheelPreference};
use crate::target::Target;
use crate::version::{Operator, Version, VersionSpecifiers};
use crate::wheel_name::WheelName;

/// How many wheels a [`Unusable::NoCompatibleWheel`] names before "and N more".
const WHEELS_NAMED: usize = 3;

/// Source distribution extensions, longest first so `.tar.gz` wins over `.tar`
/// (the same set as [`DistFile::kind`]).
const SDIST_EXTENSIONS: [&str; 6] = [".tar.bz2", ".tar.gz", ".tar.xz", ".zip", ".tgz", ".tar"];

/// Every version of one project on an index, as the target sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidates {
    name: PackageName,
    versions: BTreeMap<Version, CandidateVersion>,
}

/// One version of a project: the wheel to install, or why there is none.
#[derive(Debug, Clone, PartialEq, Eq)]
#[expect(
    clippy::large_enum_variant,
    reason = "nearly every version has a wheel: boxing it would only add an allocation each"
)]
pub enum CandidateVersion {
    /// The preferred compatible wheel. It is yanked only when every compatible
    /// wheel of the version is.
    Wheel(WheelCandidate),
    Unusable(Unusable),
}

/// The wheel chosen for one version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WheelCandidate {
    /// The file as the index lists it: name, URL, SHA-256, `Requires-Python`,
    /// yanked flag, core metadata file.
    pub file: DistFile,
    /// The parsed file name; its version is the candidate's version.
    pub wheel: WheelName,
    /// Why this wheel beats the version's other compatible wheels.
    pub preference: WheelPreference,
}

/// Why a version cannot be installed on the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unusable {
    /// No wheel at all, only source distributions.
    SourceOnly,
    /// Wheels exist, but the target accepts none of their tags.
    NoCompatibleWheel {
        /// The target, as [`Target`] displays it.
        target: String,
        /// The most telling reason among the wheels (a glibc that is too old
        /// before another platform, before another ABI, before another Python).
        closest: TagIncompatibility,
        /// The wheels' tags (`cp312-cp312-macosx_11_0_arm64`), the closest first,
        /// at most three.
        wheels: Vec<String>,
        /// How many more wheels there are.
        more: usize,
    },
    /// Every file that could be used excludes the target's Python.
    RequiresPython {
        /// The constraint, as the index gives it (of the preferred such file).
        specifiers: String,
        /// The target's Python, as `Requires-Python` is checked against it.
        python: Version,
    },
    /// Every compatible wheel is yanked, and no requirement pins the version
    /// exactly (PEP 592).
    Yanked { reason: Option<String> },
}

impl Candidates {
    /// The candidates of project `name` on `page` for `target`. Files of other
    /// projects, invalid wheel names, and files that are neither wheels nor source
    /// distributions are ignored.
    pub fn from_page(
        name: &PackageName,
        page: &ProjectPage,
        target: &Target,
        tags: &CompatibleTags,
    ) -> Self {
        let mut files: BTreeMap<Version, VersionFiles> = BTreeMap::new();
        for file in &page.files {
            match file.kind() {
                FileKind::Wheel(wheel) if wheel.name() == name => {
                    let version = wheel.version().clone();
                    files.entry(version).or_default().wheels.push((file, wheel));
                }
                FileKind::SourceDist => {
                    if let Some(version) = sdist_version(&file.filename, name) {
                        files.entry(version).or_default().sdists.push(file);
                    }
                }
                FileKind::Wheel(_) | FileKind::InvalidWheel(_) | FileKind::Other => {}
            }
        }
        let versions = files
            .into_iter()
            .map(|(version, files)| (version, files.candidate(target, tags)))
            .collect();
        Self {
            name: name.clone(),
            versions,
        }
    }

    /// Candidates from parts, for sources that do not read simple pages (and for
    /// tests).
    pub fn new(name: PackageName, versions: BTreeMap<Version, CandidateVersion>) -> Self {
        Self { name, versions }
    }

    pub fn name(&self) -> &PackageName {
        &self.name
    }

    /// Every version the index has a file for, oldest first.
    pub fn versions(&self) -> &BTreeMap<Version, CandidateVersion> {
        &self.versions
    }

    pub fn get(&self, version: &Version) -> Option<&CandidateVersion> {
        self.versions.get(version)
    }

    /// Whether the index lists no version of the project at all.
    pub fn is_empty(&self) -> bool {
        self.versions.is_empty()
    }
}

impl CandidateVersion {
    /// The wheel to install, or why the version cannot be installed. A yanked
    /// wheel is used only when a requirement pins the version exactly
    /// (`pinned_exactly`, see [`pins_exactly`]).
    pub fn wheel(&self, pinned_exactly: bool) -> Result<&WheelCandidate, Unusable> {
        match self {
            Self::Wheel(wheel) => match &wheel.file.yanked {
                Yanked::Yes { reason } if !pinned_exactly => Err(Unusable::Yanked {
                    reason: reason.clone(),
                }),
                _ => Ok(wheel),
            },
            Self::Unusable(unusable) => Err(unusable.clone()),
        }
    }
}

impl WheelCandidate {
    pub fn filename(&self) -> &str {
        &self.file.filename
    }

    pub fn version(&self) -> &Version {
        self.wheel.version()
    }

    pub fn is_yanked(&self) -> bool {
        self.file.is_yanked()
    }

    /// The reason the index gives for yanking the wheel, if it is yanked with one.
    pub fn yanked_reason(&self) -> Option<&str> {
        match &self.file.yanked {
            Yanked::Yes { reason } => reason.as_deref(),
            Yanked::No => None,
        }
    }
}

impl Unusable {
    /// What the reader needs to know once, whichever versions it applies to.
    pub fn note(&self) -> Option<&'static str> {
        match self {
            Self::SourceOnly => {
                Some("cairn installs wheels only (building source distributions comes later)")
            }
            Self::Yanked { .. } => Some(
                "a yanked version is used only when a requirement pins it exactly, as in \
                 `==1.2.3` (PEP 592)",
            ),
            Self::NoCompatibleWheel { .. } | Self::RequiresPython { .. } => None,
        }
    }
}

/// The reason as a verb phrase with its context: "has only a source
/// distribution; cairn installs wheels only (building sdists comes later)".
impl fmt::Display for Unusable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SourceOnly => f.write_str(
                "has only a source distribution; cairn installs wheels only (building sdists \
                 comes later)",
            ),
            Self::NoCompatibleWheel {
                target,
                closest,
                wheels,
                more,
            } => {
                let detail = match closest {
                    TagIncompatibility::Glibc { needed, .. } => {
                        format!("its manylinux wheels need glibc {needed} or newer")
                    }
                    _ => format!("wheels only for {}", list(wheels, *more, "more")),
                };
                write!(
                    f,
                    "has no compatible wheel: {detail}; the image has {target}"
                )
            }
            Self::RequiresPython { specifiers, python } => write!(
                f,
                "requires Python {specifiers}; the image has Python {python}"
            ),
            Self::Yanked { reason } => {
                f.write_str("was yanked")?;
                if let Some(reason) = reason {
                    write!(f, " ({reason})")?;
                }
                f.write_str("; only a requirement pinning it with `==` may use it")
            }
        }
    }
}

/// Whether `specifiers` pin `version` exactly, so a yanked `version` may be used
/// (PEP 592): an `==` without a wildcard, or an `===`, that `version` matches.
pub fn pins_exactly(specifiers: &VersionSpecifiers, version: &Version) -> bool {
    specifiers.iter().any(|specifier| {
        matches!(specifier.operator(), Operator::Equal | Operator::ExactEqual)
            && specifier.contains(version)
    })
}

/// The files of one version.
#[derive(Default)]
struct VersionFiles<'a> {
    wheels: Vec<(&'a DistFile, WheelName)>,
    sdists: Vec<&'a DistFile>,
}

impl VersionFiles<'_> {
    fn candidate(self, target: &Target, tags: &CompatibleTags) -> CandidateVersion {
        let allows = |file: &DistFile| {
            file.requires_python
                .as_ref()
                .is_none_or(|requires| requires.allows(target))
        };
        // (yanked, preference) orders the compatible wheels: any unyanked one first.
        let mut best: Option<(bool, WheelPreference, &DistFile, &WheelName)> = None;
        let mut python_excluded: Option<(WheelPreference, &DistFile)> = None;
        let mut incompatible: Vec<(TagIncompatibility, &WheelName)> = Vec::new();
        for (file, wheel) in &self.wheels {
            match tags.preference(wheel) {
                Ok(preference) if allows(file) => {
                    let key = (file.is_yanked(), preference);
                    if best
                        .as_ref()
                        .is_none_or(|(yanked, kept, ..)| key < (*yanked, kept.clone()))
                    {
                        best = Some((key.0, key.1, file, wheel));
                    }
                }
                Ok(preference) => {
                    if python_excluded
                        .as_ref()
                        .is_none_or(|(kept, _)| preference < *kept)
                    {
                        python_excluded = Some((preference, file));
                    }
                }
                Err(why) => incompatible.push((why, wheel)),
            }
        }
        if let Some((_, preference, file, wheel)) = best {
            return CandidateVersion::Wheel(WheelCandidate {
                file: file.clone(),
                wheel: wheel.clone(),
                preference,
            });
        }
        let unusable = if let Some((_, file)) = python_excluded {
            requires_python(file, target)
        } else if !incompatible.is_empty() {
            no_compatible_wheel(incompatible, target)
        } else if !self.sdists.is_empty() && self.sdists.iter().all(|sdist| !allows(sdist)) {
            // The smallest file name, so the reason does not depend on page order.
            let sdist = self
                .sdists
                .iter()
                .min_by(|a, b| a.filename.cmp(&b.filename))
                .expect("not empty");
            requires_python(sdist, target)
        } else {
            Unusable::SourceOnly
        };
        CandidateVersion::Unusable(unusable)
    }
}

fn requires_python(file: &DistFile, target: &Target) -> Unusable {
    let specifiers = match &file.requires_python {
        Some(RequiresPython::Specifiers(specifiers)) => specifiers.to_string(),
        Some(RequiresPython::Invalid(text)) => text.clone(),
        None => String::new(),
    };
    Unusable::RequiresPython {
        specifiers,
        python: target.python_release(),
    }
}

fn no_compatible_wheel(
    mut incompatible: Vec<(TagIncompatibility, &WheelName)>,
    target: &Target,
) -> Unusable {
    // The closest first (a glibc just too old before another operating system),
    // then by file name, so the summary does not depend on page order.
    incompatible.sort_by(|(a, x), (b, y)| {
        closeness(b)
            .cmp(&closeness(a))
            .then_with(|| x.filename().cmp(y.filename()))
    });
    let closest = incompatible[0].0.clone();
    let mut wheels: Vec<String> = Vec::new();
    for (_, wheel) in &incompatible {
        let tags = tag_sets(wheel);
        if !wheels.contains(&tags) {
            wheels.push(tags);
        }
    }
    let more = wheels.len().saturating_sub(WHEELS_NAMED);
    wheels.truncate(WHEELS_NAMED);
    Unusable::NoCompatibleWheel {
        target: target.to_string(),
        closest,
        wheels,
        more,
    }
}

/// How close a wheel came: a higher value is the more telling reason, and among
/// glibc reasons the smaller glibc is closer.
fn closeness(why: &TagIncompatibility) -> (u8, u32, u32) {
    match why {
        TagIncompatibility::Python { .. } => (0, 0, 0),
        TagIncompatibility::Abi { .. } => (1, 0, 0),
        TagIncompatibility::Platform { .. } => (2, 0, 0),
        TagIncompatibility::Glibc { needed, .. } => {
            (3, u32::MAX - needed.major, u32::MAX - needed.minor)
        }
    }
}

/// A wheel's tags as its file name writes them: `cp312-cp312-macosx_11_0_arm64`.
fn tag_sets(wheel: &WheelName) -> String {
    format!(
        "{}-{}-{}",
        wheel.python_tags().join("."),
        wheel.abi_tags().join("."),
        wheel.platform_tags().join(".")
    )
}

/// `a`, `a and b`, `a, b and c`, `a, b, c and 4 <what>` (what `more` counts).
pub(crate) fn list(items: &[String], more: usize, what: &str) -> String {
    match (items, more) {
        ([], _) => String::new(),
        ([only], 0) => only.clone(),
        (items, 0) => {
            let (last, rest) = items.split_last().expect("at least two");
            format!("{} and {last}", rest.join(", "))
        }
        (items, more) => format!("{} and {more} {what}", items.join(", ")),
    }
}

/// The version in a source distribution's file name: the part after the `-` that
/// ends a spelling of the project's name (`Foo_Bar-1.0.tar.gz`, `foo-bar-1.0.zip`).
fn sdist_version(filename: &str, name: &PackageName) -> Option<Version> {
    let lower = filename.to_ascii_lowercase();
    let extension = SDIST_EXTENSIONS
        .iter()
        .find(|extension| lower.ends_with(*extension))?;
    let stem = filename.get(..filename.len() - extension.len())?;
    stem.match_indices('-').find_map(|(at, _)| {
        let prefix = parse_package_name(&stem[..at]).ok()?;
        if prefix == *name {
            stem[at + 1..].parse().ok()
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use url::Url;

    use super::*;
    use crate::simple::CoreMetadataFile;
    use crate::target::Arch;
    use crate::version::parse_specifiers;

    fn target() -> Target {
        Target::new(
            &Version::from_str("3.13.5").unwrap(),
            Arch::X86_64,
            (2, 41).into(),
        )
        .unwrap()
    }

    fn v(text: &str) -> Version {
        Version::from_str(text).unwrap()
    }

    fn name(text: &str) -> PackageName {
        parse_package_name(text).unwrap()
    }

    fn file(filename: &str) -> DistFile {
        DistFile {
            filename: filename.to_owned(),
            url: Url::parse(&format!("https://files.example/{filename}")).unwrap(),
            sha256: None,
            size: None,
            requires_python: None,
            yanked: Yanked::No,
            core_metadata: CoreMetadataFile::Absent,
        }
    }

    fn python(mut file: DistFile, specifiers: &str) -> DistFile {
        file.requires_python = RequiresPython::parse(specifiers);
        file
    }

    fn yanked(mut file: DistFile, reason: Option<&str>) -> DistFile {
        file.yanked = Yanked::Yes {
            reason: reason.map(str::to_owned),
        };
        file
    }

    fn candidates(files: Vec<DistFile>) -> Candidates {
        let page = ProjectPage {
            url: Url::parse("https://pypi.example/simple/foo/").unwrap(),
            name: None,
            files,
        };
        let target = target();
        Candidates::from_page(
            &name("foo"),
            &page,
            &target,
            &CompatibleTags::for_target(&target),
        )
    }

    fn chosen<'a>(candidates: &'a Candidates, version: &str) -> &'a str {
        candidates
            .get(&v(version))
            .unwrap()
            .wheel(false)
            .unwrap()
            .filename()
    }

    fn unusable(candidates: &Candidates, version: &str) -> Unusable {
        candidates
            .get(&v(version))
            .unwrap()
            .wheel(false)
            .unwrap_err()
    }

    #[test]
    fn best_wheel_per_version() {
        let candidates = candidates(vec![
            file("foo-1.0-py3-none-any.whl"),
            file("foo-1.0-cp313-cp313-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"),
            file("foo-1.0-cp313-cp313-macosx_11_0_arm64.whl"),
            file("foo-1.0.tar.gz"),
            file("foo-2.0-py3-none-any.whl"),
            file("foo-2.0-1-py3-none-any.whl"),
        ]);
        let versions: Vec<String> = candidates
            .versions()
            .keys()
            .map(ToString::to_string)
            .collect();
        assert_eq!(versions, ["1.0", "2.0"]);
        assert_eq!(
            chosen(&candidates, "1.0"),
            "foo-1.0-cp313-cp313-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
        );
        // The build tag breaks the tie.
        assert_eq!(chosen(&candidates, "2.0"), "foo-2.0-1-py3-none-any.whl");
    }

    #[test]
    fn files_of_other_projects_and_odd_files_are_ignored() {
        let candidates = candidates(vec![
            file("bar-1.0-py3-none-any.whl"),
            file("foo-1.0.exe"),
            file("foo-1.0-py3-none-any-extra.whl"),
            file("foobar-2.0.tar.gz"),
            file("Foo_Thing-3.0.tar.gz"),
        ]);
        assert!(candidates.is_empty(), "{candidates:?}");
    }

    #[test]
    fn sdist_versions_follow_the_project_name() {
        let foo = name("foo");
        assert_eq!(sdist_version("foo-1.0.tar.gz", &foo), Some(v("1.0")));
        assert_eq!(
            sdist_version("Foo-1.0.post1.ZIP", &foo),
            Some(v("1.0.post1"))
        );
        assert_eq!(sdist_version("foo-2.0.tar.bz2", &foo), Some(v("2.0")));
        let foo_bar = name("foo-bar");
        assert_eq!(sdist_version("foo_bar-1.2.tgz", &foo_bar), Some(v("1.2")));
        assert_eq!(
            sdist_version("Foo.Bar-1.2rc1.tar", &foo_bar),
            Some(v("1.2rc1"))
        );
        assert_eq!(sdist_version("foo-bar-x.tar.gz", &foo_bar), None);
        assert_eq!(sdist_version("foo.tar.gz", &foo), None);
    }

    #[test]
    fn source_only_versions() {
        let candidates = candidates(vec![file("foo-1.0.tar.gz"), file("foo-1.0.zip")]);
        let reason = unusable(&candidates, "1.0");
        assert_eq!(reason, Unusable::SourceOnly);
        assert_eq!(
            reason.to_string(),
            "has only a source distribution; cairn installs wheels only (building sdists comes \
             later)"
        );
    }

    #[test]
    fn incompatible_wheels_are_summarised() {
        let candidates = candidates(vec![
            file("foo-1.0-cp312-cp312-macosx_11_0_arm64.whl"),
            file("foo-1.0-cp312-cp312-win_amd64.whl"),
            file("foo-1.0-cp312-cp312-manylinux_2_17_x86_64.whl"),
            file("foo-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"),
            file("foo-1.0-cp310-cp310-manylinux_2_17_x86_64.whl"),
            file("foo-1.0.tar.gz"),
        ]);
        let reason = unusable(&candidates, "1.0");
        let Unusable::NoCompatibleWheel { wheels, more, .. } = &reason else {
            panic!("{reason:?}");
        };
        assert_eq!(*more, 2);
        assert_eq!(wheels.len(), 3);
        assert_eq!(
            reason.to_string(),
            "has no compatible wheel: wheels only for cp310-cp310-manylinux_2_17_x86_64, \
             cp311-cp311-manylinux_2_17_x86_64, cp312-cp312-macosx_11_0_arm64 and 2 more; the \
             image has CPython 3.13.5 on Linux x86_64 with glibc 2.41"
        );
    }

    #[test]
    fn a_glibc_too_old_is_the_reason_given() {
        let candidates = candidates(vec![
            file("foo-1.0-cp313-cp313-macosx_11_0_arm64.whl"),
            file("foo-1.0-cp313-cp313-manylinux_2_43_x86_64.whl"),
            file("foo-1.0-cp313-cp313-manylinux_2_42_x86_64.whl"),
        ]);
        let reason = unusable(&candidates, "1.0");
        assert_eq!(
            reason.to_string(),
            "has no compatible wheel: its manylinux wheels need glibc 2.42 or newer; the image \
             has CPython 3.13.5 on Linux x86_64 with glibc 2.41"
        );
    }

    #[test]
    fn requires_python_sets_files_aside() {
        let candidates = candidates(vec![
            python(file("foo-1.0-py3-none-any.whl"), ">=3.14"),
            python(file("foo-1.0.tar.gz"), ">=3.14"),
            python(file("foo-0.9-py3-none-any.whl"), ">=3.8"),
            python(file("foo-0.8.tar.gz"), "<3"),
            // A wheel for another platform with a matching Requires-Python still
            // does not make a compatible one.
            python(file("foo-1.1-cp313-cp313-win_amd64.whl"), ">=3.9"),
            python(file("foo-1.1-py3-none-any.whl"), ">=3.14"),
        ]);
        assert_eq!(chosen(&candidates, "0.9"), "foo-0.9-py3-none-any.whl");
        for version in ["1.0", "1.1"] {
            assert_eq!(
                unusable(&candidates, version),
                Unusable::RequiresPython {
                    specifiers: ">=3.14".to_owned(),
                    python: v("3.13.5"),
                }
            );
        }
        assert_eq!(
            unusable(&candidates, "1.0").to_string(),
            "requires Python >=3.14; the image has Python 3.13.5"
        );
        assert!(matches!(
            unusable(&candidates, "0.8"),
            Unusable::RequiresPython { .. }
        ));
    }

    #[test]
    fn yanked_wheels_need_an_exact_pin() {
        let candidates = candidates(vec![
            yanked(file("foo-1.0-py3-none-any.whl"), Some("broken")),
            yanked(file("foo-1.1-cp313-cp313-manylinux_2_17_x86_64.whl"), None),
            file("foo-1.1-py3-none-any.whl"),
        ]);
        let one = candidates.get(&v("1.0")).unwrap();
        assert_eq!(
            one.wheel(false).unwrap_err(),
            Unusable::Yanked {
                reason: Some("broken".to_owned())
            }
        );
        let pinned = one.wheel(true).unwrap();
        assert!(pinned.is_yanked());
        assert_eq!(pinned.yanked_reason(), Some("broken"));
        // An unyanked compatible wheel beats a better-tagged yanked one.
        assert_eq!(chosen(&candidates, "1.1"), "foo-1.1-py3-none-any.whl");
    }

    #[test]
    fn exact_pins() {
        let pins = |specifiers: &str, version: &str| {
            pins_exactly(&parse_specifiers(specifiers).unwrap(), &v(version))
        };
        assert!(pins("==1.0", "1.0"));
        assert!(pins("==1.0", "1.0+cpu"));
        assert!(pins("===1.0", "1.0"));
        assert!(pins(">=0.5, ==1.0", "1.0"));
        assert!(!pins("==1.0.*", "1.0"));
        assert!(!pins(">=1.0, <=1.0", "1.0"));
        assert!(!pins("==1.0", "1.1"));
        assert!(!pins("~=1.0", "1.0"));
    }

    #[test]
    fn independent_of_file_order() {
        let mut files = vec![
            file("foo-1.0-cp312-cp312-macosx_11_0_arm64.whl"),
            file("foo-1.0-cp312-cp312-win_amd64.whl"),
            file("foo-1.0-cp311-cp311-win32.whl"),
            file("foo-1.0-cp310-cp310-win32.whl"),
            file("foo-2.0-py3-none-any.whl"),
            file("foo-2.0-py2.py3-none-any.whl"),
        ];
        let forward = candidates(files.clone());
        files.reverse();
        assert_eq!(candidates(files), forward);
    }
}
