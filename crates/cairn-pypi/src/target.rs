//! The interpreter the wheels are for: CPython from the image's Debian packages,
//! on Linux with glibc, for the image's architecture.
//!
//! Everything comes from Debian facts the lock already has (the `python3`
//! package's version, `libc6`'s version, the architecture), never from the host's
//! Python, so a lock made on any machine is the same. The marker environment
//! (PEP 508) and the compatible wheel tags ([`crate::tags`]) are functions of a
//! [`Target`].

use std::fmt;
use std::str::FromStr;

use pep508_rs::{MarkerEnvironment, MarkerEnvironmentBuilder};

use crate::name::ExtraName;
use crate::requirement::MarkerTree;
use crate::version::Version;

/// An image architecture cairn can install wheels for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Arch {
    /// Debian `amd64`, Python's `x86_64`.
    X86_64,
    /// Debian `arm64`, Python's `aarch64`.
    Aarch64,
}

impl Arch {
    /// The architecture of a Debian architecture name (`dpkg --print-architecture`).
    pub fn from_debian(arch: &str) -> Result<Self, TargetError> {
        match arch {
            "amd64" => Ok(Self::X86_64),
            "arm64" => Ok(Self::Aarch64),
            _ => Err(TargetError::UnsupportedArch {
                arch: arch.to_owned(),
            }),
        }
    }

    pub fn debian(self) -> &'static str {
        match self {
            Self::X86_64 => "amd64",
            Self::Aarch64 => "arm64",
        }
    }

    /// `platform.machine()` on this architecture, and the architecture part of its
    /// `manylinux_*` and `linux_*` platform tags.
    pub fn platform_machine(self) -> &'static str {
        match self {
            Self::X86_64 => "x86_64",
            Self::Aarch64 => "aarch64",
        }
    }

    /// The oldest glibc a `manylinux` tag may name for this architecture, as
    /// `packaging` has it: 2.5 (manylinux1) on x86, 2.17 (manylinux2014, the first
    /// policy with aarch64) elsewhere.
    pub fn oldest_manylinux(self) -> GlibcVersion {
        match self {
            Self::X86_64 => GlibcVersion { major: 2, minor: 5 },
            Self::Aarch64 => GlibcVersion {
                major: 2,
                minor: 17,
            },
        }
    }
}

/// A glibc version, as `manylinux_<major>_<minor>` tags name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GlibcVersion {
    pub major: u32,
    pub minor: u32,
}

impl From<(u32, u32)> for GlibcVersion {
    fn from((major, minor): (u32, u32)) -> Self {
        Self { major, minor }
    }
}

impl fmt::Display for GlibcVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl GlibcVersion {
    /// The largest glibc minor version a target may have. The compatible tags
    /// list one `manylinux_2_<minor>` platform per minor version down to 2.5, so
    /// the bound keeps that list small whatever the input says (glibc is at 2.42).
    pub const MAX_MINOR: u32 = 99;

    /// Why a target cannot have this glibc, if it cannot: only glibc 2.x exists
    /// and has manylinux tags, and the minor version is at most
    /// [`Self::MAX_MINOR`].
    fn unsupported(self) -> Option<String> {
        if self.major != 2 {
            Some("only glibc 2.x has manylinux wheel tags".to_owned())
        } else if self.minor > Self::MAX_MINOR {
            Some(format!(
                "cairn knows glibc 2.0 to 2.{}, not 2.{}",
                Self::MAX_MINOR,
                self.minor
            ))
        } else {
            None
        }
    }

    /// The glibc version of Debian's `libc6` package version: `2.41-12` is 2.41,
    /// `2.36-9+deb12u10` is 2.36. Only glibc 2.x exists, and only 2.x has
    /// manylinux tags, so another major version is refused, as is a minor version
    /// above [`Self::MAX_MINOR`].
    pub fn from_debian(libc6_version: &str) -> Result<Self, TargetError> {
        let error = |reason: &str| TargetError::Glibc {
            version: libc6_version.to_owned(),
            reason: reason.to_owned(),
        };
        let upstream = debian_upstream(libc6_version);
        let release = upstream.split(['+', '~']).next().unwrap_or_default();
        let mut parts = release.split('.');
        let mut number = |what: &str| {
            parts
                .next()
                .filter(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|part| part.parse::<u32>().ok())
                .ok_or_else(|| {
                    error(&format!(
                        "the upstream version `{upstream}` has no {what} number"
                    ))
                })
        };
        let major = number("major")?;
        let minor = number("minor")?;
        let glibc = Self { major, minor };
        match glibc.unsupported() {
            Some(reason) => Err(error(&reason)),
            None => Ok(glibc),
        }
    }
}

/// The Python environment an image provides: CPython `python_full_version` on
/// Linux/glibc for `arch`.
///
/// `platform_release` and `platform_version` describe the kernel the container
/// will run on, which no lock can know; they are the empty string, so a marker
/// that tests them compares against "" the same way on every machine.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    python_full_version: Version,
    arch: Arch,
    glibc: GlibcVersion,
    markers: MarkerEnvironment,
}

/// Debian facts that do not describe a Python environment cairn can target.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error(
        "Debian architecture `{arch}` is not supported for Python environments: cairn knows \
         the wheel tags of amd64 (x86_64) and arm64 (aarch64)"
    )]
    UnsupportedArch { arch: String },
    #[error("cannot read a CPython version from `{version}`: {reason}")]
    Python { version: String, reason: String },
    #[error("cannot read a glibc version from the libc6 version `{version}`: {reason}")]
    Glibc { version: String, reason: String },
    #[error("glibc {glibc} is not supported: {reason}")]
    UnsupportedGlibc { glibc: GlibcVersion, reason: String },
}

impl Target {
    /// The largest Python 3 minor version a target may have. The compatible tags
    /// list a few tags per older minor version, so the bound keeps that list
    /// small whatever the input says.
    pub const MAX_PYTHON_MINOR: u64 = 99;

    /// A target for CPython `python_full_version` (`3.13.5`, or `3.14.0rc1`; a
    /// missing micro version is 0), which must be a Python 3 release or
    /// pre-release up to 3.[`Self::MAX_PYTHON_MINOR`], with no epoch, post, dev or
    /// local part, and a glibc 2.x up to 2.[`GlibcVersion::MAX_MINOR`].
    pub fn new(
        python_full_version: &Version,
        arch: Arch,
        glibc: GlibcVersion,
    ) -> Result<Self, TargetError> {
        let error = |reason: &str| TargetError::Python {
            version: python_full_version.to_string(),
            reason: reason.to_owned(),
        };
        let release = python_full_version.release();
        if release.first() != Some(&3) {
            return Err(error("cairn installs wheels for Python 3 only"));
        }
        if !(2..=3).contains(&release.len()) {
            return Err(error("expected major.minor.micro"));
        }
        if release[1] > Self::MAX_PYTHON_MINOR {
            return Err(error(&format!(
                "cairn knows Python 3.0 to 3.{}, not 3.{}",
                Self::MAX_PYTHON_MINOR,
                release[1]
            )));
        }
        if python_full_version.epoch() != 0
            || python_full_version.is_post()
            || python_full_version.is_dev()
            || python_full_version.is_local()
        {
            return Err(error(
                "an interpreter's version has no epoch, post-release, dev or local part",
            ));
        }
        if let Some(reason) = glibc.unsupported() {
            return Err(TargetError::UnsupportedGlibc { glibc, reason });
        }
        let micro = release.get(2).copied().unwrap_or(0);
        let full =
            Version::new([release[0], release[1], micro]).with_pre(python_full_version.pre());
        let full_text = full.to_string();
        let short = format!("{}.{}", release[0], release[1]);
        let markers = MarkerEnvironment::try_from(MarkerEnvironmentBuilder {
            implementation_name: "cpython",
            implementation_version: &full_text,
            os_name: "posix",
            platform_machine: arch.platform_machine(),
            platform_python_implementation: "CPython",
            platform_release: "",
            platform_system: "Linux",
            platform_version: "",
            python_full_version: &full_text,
            python_version: &short,
            sys_platform: "linux",
        })
        .map_err(|err| error(&err.to_string()))?;
        Ok(Self {
            python_full_version: full,
            arch,
            glibc,
            markers,
        })
    }

    /// A target from the image's Debian packages: the version of `python3`
    /// (`3.13.5-1`; Debian writes a pre-release as `3.14.0~rc1-1`), the version of
    /// `libc6` (`2.41-12`) and the Debian architecture (`amd64`).
    pub fn from_debian(
        python3_version: &str,
        libc6_version: &str,
        debian_arch: &str,
    ) -> Result<Self, TargetError> {
        let arch = Arch::from_debian(debian_arch)?;
        let glibc = GlibcVersion::from_debian(libc6_version)?;
        let python = python_version_from_debian(python3_version)?;
        Self::new(&python, arch, glibc)
    }

    /// `platform.python_version()`, and the `python_full_version` marker.
    pub fn python_full_version(&self) -> &Version {
        &self.python_full_version
    }

    /// `major.minor`, the `python_version` marker.
    pub fn python_version(&self) -> Version {
        let (major, minor) = self.python_minor();
        Version::new([major, minor])
    }

    /// The version `Requires-Python` is checked against: the release without a
    /// pre-release part, as pip compares `sys.version_info[:3]`, so a 3.14 release
    /// candidate satisfies `>=3.14`.
    pub fn python_release(&self) -> Version {
        self.python_full_version.only_release()
    }

    /// `(major, minor)`.
    pub fn python_minor(&self) -> (u64, u64) {
        let release = self.python_full_version.release();
        (release[0], release[1])
    }

    /// The interpreter tag, `cp313`.
    pub fn python_tag(&self) -> String {
        let (major, minor) = self.python_minor();
        format!("cp{major}{minor}")
    }

    pub fn arch(&self) -> Arch {
        self.arch
    }

    pub fn glibc(&self) -> GlibcVersion {
        self.glibc
    }

    /// The PEP 508 marker environment of the target.
    pub fn markers(&self) -> &MarkerEnvironment {
        &self.markers
    }

    /// Evaluates `marker` for this target, with `extras` as the values the `extra`
    /// variable may take (the extras the requiring package was asked for).
    pub fn evaluate(&self, marker: &MarkerTree, extras: &[ExtraName]) -> bool {
        marker.evaluate(&self.markers, extras)
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "CPython {} on Linux {} with glibc {}",
            self.python_full_version,
            self.arch.platform_machine(),
            self.glibc
        )
    }
}

/// The upstream part of a Debian version: without the epoch (`1:`) and the
/// Debian revision (`-1+b1`).
fn debian_upstream(version: &str) -> &str {
    let without_epoch = match version.split_once(':') {
        Some((epoch, rest)) if !epoch.is_empty() && epoch.bytes().all(|b| b.is_ascii_digit()) => {
            rest
        }
        _ => version,
    };
    without_epoch
        .rsplit_once('-')
        .map_or(without_epoch, |(upstream, _revision)| upstream)
}

/// The CPython version of a Debian `python3` (or `python3.X`) package version.
/// Debian writes `3.13.5`, `3.14.0~rc1` (a pre-release sorts before the release
/// with `~`), and a repack may append `+dfsg`.
fn python_version_from_debian(debian: &str) -> Result<Version, TargetError> {
    let error = |reason: String| TargetError::Python {
        version: debian.to_owned(),
        reason,
    };
    let upstream = debian_upstream(debian);
    let upstream = upstream.split('+').next().unwrap_or_default();
    let (release, pre) = match upstream.split_once('~') {
        Some((release, pre)) => (release, Some(pre)),
        None => (upstream, None),
    };
    let valid_release = !release.is_empty()
        && release
            .split('.')
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()));
    if !valid_release {
        return Err(error(format!(
            "the upstream version `{upstream}` does not start with a release number like 3.13.5"
        )));
    }
    let mut text = release.to_owned();
    if let Some(pre) = pre {
        let kind_end = pre.find(|c: char| c.is_ascii_digit()).unwrap_or(pre.len());
        let (kind, number) = pre.split_at(kind_end);
        let valid = matches!(kind, "a" | "b" | "rc")
            && !number.is_empty()
            && number.bytes().all(|b| b.is_ascii_digit());
        if !valid {
            return Err(error(format!(
                "`~{pre}` is not a CPython pre-release (a, b or rc and a number)"
            )));
        }
        text.push_str(pre);
    }
    Version::from_str(&text).map_err(|err| error(err.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_debian_trixie_and_bookworm() {
        let trixie = Target::from_debian("3.13.5-1", "2.41-12", "amd64").unwrap();
        assert_eq!(trixie.python_full_version().to_string(), "3.13.5");
        assert_eq!(trixie.python_version().to_string(), "3.13");
        assert_eq!(trixie.python_minor(), (3, 13));
        assert_eq!(trixie.python_tag(), "cp313");
        assert_eq!(trixie.arch(), Arch::X86_64);
        assert_eq!(
            trixie.glibc(),
            GlibcVersion {
                major: 2,
                minor: 41
            }
        );
        assert_eq!(
            trixie.to_string(),
            "CPython 3.13.5 on Linux x86_64 with glibc 2.41"
        );

        let bookworm = Target::from_debian("3.11.2-1+b1", "2.36-9+deb12u10", "arm64").unwrap();
        assert_eq!(bookworm.python_full_version().to_string(), "3.11.2");
        assert_eq!(bookworm.arch(), Arch::Aarch64);
        assert_eq!(bookworm.glibc().to_string(), "2.36");
    }

    #[test]
    fn marker_environment() {
        let target = Target::from_debian("3.13.5-1", "2.41-12", "arm64").unwrap();
        let env = target.markers();
        assert_eq!(env.implementation_name(), "cpython");
        assert_eq!(env.implementation_version().to_string(), "3.13.5");
        assert_eq!(env.os_name(), "posix");
        assert_eq!(env.platform_machine(), "aarch64");
        assert_eq!(env.platform_python_implementation(), "CPython");
        assert_eq!(env.platform_release(), "");
        assert_eq!(env.platform_system(), "Linux");
        assert_eq!(env.platform_version(), "");
        assert_eq!(env.python_full_version().to_string(), "3.13.5");
        assert_eq!(env.python_version().to_string(), "3.13");
        assert_eq!(env.sys_platform(), "linux");
    }

    #[test]
    fn debian_version_forms() {
        for (debian, python) in [
            ("3.13.5-1", "3.13.5"),
            ("3.13.5-2~bpo12+1", "3.13.5"),
            ("1:3.12.8-3", "3.12.8"),
            ("3.14.0~rc1-1", "3.14.0rc1"),
            ("3.14.0~b2-1", "3.14.0b2"),
            ("3.12.0~a7-1", "3.12.0a7"),
            ("3.11.4+dfsg-1", "3.11.4"),
            ("3.13", "3.13.0"),
            ("3.13.5", "3.13.5"),
        ] {
            let target = Target::from_debian(debian, "2.41-12", "amd64").unwrap();
            assert_eq!(target.python_full_version().to_string(), python, "{debian}");
        }
    }

    #[test]
    fn pre_release_interpreters_satisfy_their_release() {
        let target = Target::from_debian("3.14.0~rc1-1", "2.41-12", "amd64").unwrap();
        assert_eq!(target.python_release().to_string(), "3.14.0");
        assert_eq!(target.python_version().to_string(), "3.14");
        assert_eq!(
            target.markers().python_full_version().to_string(),
            "3.14.0rc1"
        );
        assert_eq!(target.python_tag(), "cp314");
    }

    #[test]
    fn glibc_forms() {
        for (debian, glibc) in [
            ("2.41-12", (2, 41)),
            ("2.36-9+deb12u10", (2, 36)),
            ("2.31-13+deb11u11", (2, 31)),
            ("2.42-0experimental1", (2, 42)),
            ("2.41.9000-1", (2, 41)),
            ("2.41", (2, 41)),
            ("2.42~rc1-1", (2, 42)),
        ] {
            assert_eq!(
                GlibcVersion::from_debian(debian).unwrap(),
                glibc.into(),
                "{debian}"
            );
        }
    }

    #[test]
    fn bad_glibc_versions_say_why() {
        for (debian, reason) in [
            ("", "the upstream version `` has no major number"),
            ("2-1", "the upstream version `2` has no minor number"),
            (
                "two.41-1",
                "the upstream version `two.41` has no major number",
            ),
            ("3.0-1", "only glibc 2.x has manylinux wheel tags"),
            ("1.99-1", "only glibc 2.x has manylinux wheel tags"),
            ("2.100-1", "cairn knows glibc 2.0 to 2.99, not 2.100"),
            (
                "2.4294967295-1",
                "cairn knows glibc 2.0 to 2.99, not 2.4294967295",
            ),
        ] {
            let err = GlibcVersion::from_debian(debian).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("cannot read a glibc version from the libc6 version `{debian}`: {reason}")
            );
        }
    }

    #[test]
    fn bad_python_versions_say_why() {
        for (debian, reason) in [
            (
                "",
                "the upstream version `` does not start with a release number like 3.13.5",
            ),
            (
                "python-3.13-1",
                "the upstream version `python-3.13` does not start with a release number like 3.13.5",
            ),
            (
                "3..1-1",
                "the upstream version `3..1` does not start with a release number like 3.13.5",
            ),
            (
                "3.14.0~git20250101-1",
                "`~git20250101` is not a CPython pre-release (a, b or rc and a number)",
            ),
            (
                "3.14.0~rc-1",
                "`~rc` is not a CPython pre-release (a, b or rc and a number)",
            ),
            ("2.7.18-8", "cairn installs wheels for Python 3 only"),
            ("3-1", "expected major.minor.micro"),
            ("3.13.5.1-1", "expected major.minor.micro"),
            ("3.100.0-1", "cairn knows Python 3.0 to 3.99, not 3.100"),
            (
                "3.18446744073709551615.0-1",
                "cairn knows Python 3.0 to 3.99, not 3.18446744073709551615",
            ),
        ] {
            let err = Target::from_debian(debian, "2.41-12", "amd64").unwrap_err();
            let TargetError::Python { reason: got, .. } = &err else {
                panic!("{debian}: {err:?}");
            };
            assert_eq!(got, reason, "{debian}");
            assert!(
                err.to_string()
                    .starts_with("cannot read a CPython version from `")
            );
        }
    }

    #[test]
    fn versions_with_extra_parts_are_not_interpreters() {
        for version in ["1!3.13.5", "3.13.5.post1", "3.13.5.dev0", "3.13.5+local"] {
            let err = Target::new(
                &Version::from_str(version).unwrap(),
                Arch::X86_64,
                (2, 41).into(),
            )
            .unwrap_err();
            assert!(
                err.to_string().ends_with(
                    "an interpreter's version has no epoch, post-release, dev or local part"
                ),
                "{err}"
            );
        }
    }

    #[test]
    fn inputs_are_bounded() {
        let python = |text: &str| Version::from_str(text).unwrap();
        // The largest accepted versions.
        let target = Target::new(&python("3.99.0"), Arch::X86_64, (2, 99).into()).unwrap();
        assert_eq!(target.python_tag(), "cp399");
        for glibc in [(2, 100), (2, u32::MAX), (3, 0), (1, 0), (u32::MAX, 0)] {
            let glibc: GlibcVersion = glibc.into();
            let err = Target::new(&python("3.13.5"), Arch::X86_64, glibc).unwrap_err();
            let reason = if glibc.major == 2 {
                format!("cairn knows glibc 2.0 to 2.99, not 2.{}", glibc.minor)
            } else {
                "only glibc 2.x has manylinux wheel tags".to_owned()
            };
            assert_eq!(
                err,
                TargetError::UnsupportedGlibc {
                    glibc,
                    reason: reason.clone()
                }
            );
            assert_eq!(
                err.to_string(),
                format!("glibc {glibc} is not supported: {reason}")
            );
        }
        let err = Target::new(&python("3.100"), Arch::X86_64, (2, 41).into()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot read a CPython version from `3.100`: cairn knows Python 3.0 to 3.99, not 3.100"
        );
    }

    #[test]
    fn unsupported_architectures_are_named() {
        for arch in ["i386", "armhf", "ppc64el", "x86_64", ""] {
            let err = Target::from_debian("3.13.5-1", "2.41-12", arch).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "Debian architecture `{arch}` is not supported for Python environments: \
                     cairn knows the wheel tags of amd64 (x86_64) and arm64 (aarch64)"
                )
            );
        }
        assert_eq!(Arch::from_debian("arm64").unwrap().debian(), "arm64");
        assert_eq!(Arch::from_debian("amd64").unwrap().debian(), "amd64");
    }
}
