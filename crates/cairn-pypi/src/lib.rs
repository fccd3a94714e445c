//! PyPI as a package source for cairn: Python requirements locked to exact wheels
//! for the image's Debian CPython, and wheels installed as store objects without pip.
//!
//! The pure foundations: PEP 440 versions and specifiers ([`version`], from
//! `pep440_rs`), PEP 503 names ([`name`]), PEP 508 requirements and markers
//! ([`requirement`], from `pep508_rs`), pip's requirements files and `pyproject.toml`
//! dependencies ([`requirements_txt`]), the image's interpreter as a [`Target`] built
//! from Debian facts ([`target`]), wheel file names (PEP 427/491, [`wheel_name`]) and
//! their compatibility tags for a target (PEP 425/600, [`tags`]), simple API pages
//! (PEP 503/691, [`simple`]), core metadata ([`metadata`]), the usable versions of a
//! project ([`candidates`]) and the resolver ([`resolve`], over any
//! [`resolve::PackageSource`]).
//!
//! With I/O: the index client ([`index`]), the `[[pypi]]` lock ([`lock`]), the wheel
//! installer ([`wheel`]) and wheels as store objects ([`object`], [`install`]).
//!
//! It refuses what cairn cannot lock reproducibly: direct URL requirements, files
//! without a SHA-256, and any notion of the host's Python.

pub mod candidates;
pub mod digest;
pub mod index;
pub mod install;
pub mod local;
pub mod lock;
pub mod metadata;
pub mod name;
pub mod object;
pub mod requirement;
pub mod requirements_txt;
pub mod resolve;
pub mod simple;
pub mod tags;
pub mod target;
pub mod version;
pub mod wheel;
pub mod wheel_name;

pub use candidates::{CandidateVersion, Candidates, Unusable, WheelCandidate};
pub use digest::{DigestError, Sha256Digest};
pub use metadata::{Metadata, MetadataError};
pub use name::{ExtraName, NameError, PackageName, parse_package_name};
pub use object::{stage_wheel, wheel_object_name};
pub use requirement::{MarkerTree, Requirement, RequirementError};
pub use requirements_txt::{
    HashModeTrigger, ReadIncluded, RequirementsError, RequirementsFile, SourcedRequirement,
    parse_pyproject, parse_requirements_txt,
};
pub use resolve::{
    PackageSource, Resolution, ResolveError, ResolveRequest, ResolveWarning, ResolvedPackage,
    SourceError, SourceErrorKind,
};
pub use simple::{
    CoreMetadataFile, DistFile, FileKind, ProjectPage, RequiresPython, SimpleError,
    SimpleErrorKind, Yanked,
};
pub use tags::{CompatibleTags, Tag, TagIncompatibility, TagPriority, WheelPreference};
pub use target::{Arch, GlibcVersion, Target, TargetError};
pub use version::{Operator, SpecifiersError, Version, VersionSpecifier, VersionSpecifiers};
pub use wheel::{InstallScheme, InstalledWheel, WheelError, install_wheel};
pub use wheel_name::{BuildTag, WheelName, WheelNameError};
