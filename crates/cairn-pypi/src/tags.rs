//! Wheel compatibility tags (PEP 425, PEP 600) for a [`Target`], and the order of
//! preference among compatible wheels.
//!
//! [`CompatibleTags::for_target`] lists exactly the tags, in exactly the order,
//! that `packaging.tags.sys_tags()` yields on CPython of the target's version on
//! glibc Linux of its architecture (an oracle test compares them when `packaging`
//! is installed). For CPython 3.13 on x86_64 with glibc 2.41 that is:
//!
//! 1. `cp313-cp313-P`, then `cp313-abi3-P`, then `cp313-none-P`, for every
//!    platform `P` below;
//! 2. `cp312-abi3-P` … `cp32-abi3-P` (the stable ABI of older versions);
//! 3. `py313-none-P`, `py3-none-P`, `py312-none-P` … `py30-none-P`;
//! 4. `cp313-none-any`, then `py313-none-any`, `py3-none-any`, `py312-none-any`
//!    … `py30-none-any`.
//!
//! The platforms `P`, most specific first: `manylinux_2_41_x86_64` down to
//! `manylinux_2_5_x86_64` (down to 2.17 on aarch64, the oldest glibc a manylinux
//! policy names there), each legacy alias right after its glibc version
//! (`manylinux2014` = 2.17, `manylinux2010` = 2.12, `manylinux1` = 2.5), then
//! `linux_x86_64`. Never `musllinux_*` (Debian's Python is linked against glibc),
//! never another architecture or operating system.
//!
//! `linux_<arch>` is accepted, last, as pip and uv accept it on Linux: PyPI
//! refuses such uploads, so they only come from an index the user chose, built
//! for a Linux they know; any manylinux wheel of the same release is preferred.
//!
//! A wheel's priority is the position of its best tag in that list. Among the
//! compatible wheels of one release the best priority wins, then the higher build
//! tag (PEP 427), then the file name (bytewise), so the choice never depends on
//! the order an index lists files in.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::target::{Arch, GlibcVersion, Target};
use crate::wheel_name::{BuildTag, WheelName};

/// One (python, abi, platform) triple, lowercase, as PEP 425 spells it:
/// `cp313-cp313-manylinux_2_17_x86_64`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tag {
    python: String,
    abi: String,
    platform: String,
}

impl Tag {
    pub fn new(python: &str, abi: &str, platform: &str) -> Self {
        Self {
            python: python.to_ascii_lowercase(),
            abi: abi.to_ascii_lowercase(),
            platform: platform.to_ascii_lowercase(),
        }
    }

    pub fn python(&self) -> &str {
        &self.python
    }

    pub fn abi(&self) -> &str {
        &self.abi
    }

    pub fn platform(&self) -> &str {
        &self.platform
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}-{}", self.python, self.abi, self.platform)
    }
}

/// A tag's position in the target's preference list: 0 is the most specific.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TagPriority(u32);

impl TagPriority {
    pub fn index(self) -> u32 {
        self.0
    }
}

/// The sort key of a compatible wheel: smaller is preferred.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct WheelPreference {
    /// The priority of the wheel's best tag.
    pub priority: TagPriority,
    /// Reversed, so the higher build tag (and any build tag over none) sorts first.
    pub build: Reverse<Option<BuildTag>>,
    /// The last tie-breaker, so the choice is deterministic.
    pub filename: String,
}

/// Why no tag of a wheel is compatible with the target, the most telling reason
/// when its tags fail in different ways (a glibc that is too old, then another
/// platform, then another ABI, then another Python).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TagIncompatibility {
    #[error("it is for another Python ({})", .python_tags.join(", "))]
    Python { python_tags: Vec<String> },
    #[error("it is for another ABI of this Python ({})", .abi_tags.join(", "))]
    Abi { abi_tags: Vec<String> },
    #[error("it is for another platform ({})", .platform_tags.join(", "))]
    Platform { platform_tags: Vec<String> },
    #[error("it needs glibc {needed} or newer, and the target has glibc {available}")]
    Glibc {
        needed: GlibcVersion,
        available: GlibcVersion,
    },
}

impl TagIncompatibility {
    /// How close the wheel came: a higher rank names the more useful reason.
    fn rank(&self) -> u8 {
        match self {
            Self::Python { .. } => 0,
            Self::Abi { .. } => 1,
            Self::Platform { .. } => 2,
            Self::Glibc { .. } => 3,
        }
    }
}

/// The tags a target accepts, in preference order.
#[derive(Debug, Clone)]
pub struct CompatibleTags {
    tags: Vec<Tag>,
    priorities: BTreeMap<Tag, TagPriority>,
    /// (python, abi) pairs that some tag accepts, to tell an ABI from a platform
    /// mismatch.
    pairs: BTreeSet<(String, String)>,
    /// Python tags accepted with an ABI other than `abi3` (`cp313`, `py3`, `py39`):
    /// the target's own Pythons, to tell an ABI from a Python mismatch.
    own_pythons: BTreeSet<String>,
    /// The platforms, most specific first.
    platforms: Vec<String>,
    arch: Arch,
    glibc: GlibcVersion,
}

impl CompatibleTags {
    pub fn for_target(target: &Target) -> Self {
        let (major, minor) = target.python_minor();
        let interpreter = target.python_tag();
        let platforms = linux_platforms(target.arch(), target.glibc());
        let mut tags = Vec::new();
        let mut with_platforms = |python: &str, abi: &str| {
            tags.extend(
                platforms
                    .iter()
                    .map(|platform| Tag::new(python, abi, platform)),
            );
        };

        // packaging.tags.cpython_tags
        let abi3 = major == 3 && minor >= 2;
        with_platforms(&interpreter, &interpreter);
        if abi3 {
            with_platforms(&interpreter, "abi3");
        }
        with_platforms(&interpreter, "none");
        if abi3 {
            for older in (2..minor).rev() {
                with_platforms(&format!("cp{major}{older}"), "abi3");
            }
        }

        // packaging.tags.compatible_tags
        let python_range: Vec<String> = std::iter::once(format!("py{major}{minor}"))
            .chain(std::iter::once(format!("py{major}")))
            .chain((0..minor).rev().map(|older| format!("py{major}{older}")))
            .collect();
        for python in &python_range {
            with_platforms(python, "none");
        }
        tags.push(Tag::new(&interpreter, "none", "any"));
        tags.extend(
            python_range
                .iter()
                .map(|python| Tag::new(python, "none", "any")),
        );

        let mut priorities = BTreeMap::new();
        for (index, tag) in tags.iter().enumerate() {
            let index = u32::try_from(index).expect("a few thousand tags at most");
            priorities.entry(tag.clone()).or_insert(TagPriority(index));
        }
        let pairs = tags
            .iter()
            .map(|tag| (tag.python.clone(), tag.abi.clone()))
            .collect();
        let own_pythons = tags
            .iter()
            .filter(|tag| tag.abi != "abi3")
            .map(|tag| tag.python.clone())
            .collect();
        Self {
            tags,
            priorities,
            pairs,
            own_pythons,
            platforms,
            arch: target.arch(),
            glibc: target.glibc(),
        }
    }

    /// Every accepted tag, most preferred first.
    pub fn tags(&self) -> &[Tag] {
        &self.tags
    }

    /// The accepted platform tags, most specific first (without `any`).
    pub fn platforms(&self) -> &[String] {
        &self.platforms
    }

    pub fn priority(&self, tag: &Tag) -> Option<TagPriority> {
        self.priorities.get(tag).copied()
    }

    /// The priority of the wheel's best tag, or why none of its tags is accepted.
    pub fn check(&self, wheel: &WheelName) -> Result<TagPriority, TagIncompatibility> {
        let mut best: Option<TagPriority> = None;
        let mut why: Option<TagIncompatibility> = None;
        for tag in wheel.tags() {
            if let Some(priority) = self.priority(&tag) {
                best = Some(best.map_or(priority, |best| best.min(priority)));
            } else if best.is_none() {
                let reason = self.why(&tag, wheel);
                why = Some(match why {
                    Some(previous) => more_telling(previous, reason),
                    None => reason,
                });
            }
        }
        match (best, why) {
            (Some(priority), _) => Ok(priority),
            (None, Some(reason)) => Err(reason),
            // A parsed wheel name has at least one tag in each set.
            (None, None) => Err(TagIncompatibility::Python {
                python_tags: wheel.python_tags().to_vec(),
            }),
        }
    }

    /// The sort key of `wheel` among the compatible wheels of one release.
    pub fn preference(&self, wheel: &WheelName) -> Result<WheelPreference, TagIncompatibility> {
        Ok(WheelPreference {
            priority: self.check(wheel)?,
            build: Reverse(wheel.build().cloned()),
            filename: wheel.filename().to_owned(),
        })
    }

    /// The preferred compatible wheel, if any is compatible.
    pub fn best<'a>(
        &self,
        wheels: impl IntoIterator<Item = &'a WheelName>,
    ) -> Option<&'a WheelName> {
        wheels
            .into_iter()
            .filter_map(|wheel| Some((self.preference(wheel).ok()?, wheel)))
            .min_by(|(a, _), (b, _)| a.cmp(b))
            .map(|(_, wheel)| wheel)
    }

    /// Why one tag is not accepted.
    fn why(&self, tag: &Tag, wheel: &WheelName) -> TagIncompatibility {
        let pair = (tag.python.clone(), tag.abi.clone());
        if self.pairs.contains(&pair) {
            // The (python, abi) pair is accepted with some platform, so the platform
            // is what fails: a newer glibc, or another platform altogether (which
            // includes `any` for a pair that needs a real one, `cp313-cp313-any`).
            if let Some(needed) = manylinux_glibc(&tag.platform, self.arch)
                && needed > self.glibc
            {
                return TagIncompatibility::Glibc {
                    needed,
                    available: self.glibc,
                };
            }
            return TagIncompatibility::Platform {
                platform_tags: wheel.platform_tags().to_vec(),
            };
        }
        if self.own_pythons.contains(&tag.python) {
            TagIncompatibility::Abi {
                abi_tags: wheel.abi_tags().to_vec(),
            }
        } else {
            TagIncompatibility::Python {
                python_tags: wheel.python_tags().to_vec(),
            }
        }
    }
}

fn more_telling(a: TagIncompatibility, b: TagIncompatibility) -> TagIncompatibility {
    match (&a, &b) {
        (
            TagIncompatibility::Glibc { needed: x, .. },
            TagIncompatibility::Glibc { needed: y, .. },
        ) => {
            if y < x {
                b
            } else {
                a
            }
        }
        _ if b.rank() > a.rank() => b,
        _ => a,
    }
}

/// The platform tags of glibc Linux on `arch` with `glibc`, most specific first,
/// as `packaging.tags._linux_platforms` lists them.
fn linux_platforms(arch: Arch, glibc: GlibcVersion) -> Vec<String> {
    let machine = arch.platform_machine();
    let oldest = arch.oldest_manylinux();
    let mut platforms = Vec::new();
    if glibc.major == oldest.major {
        for minor in (oldest.minor..=glibc.minor).rev() {
            platforms.push(format!("manylinux_{}_{minor}_{machine}", glibc.major));
            if let Some(legacy) = legacy_manylinux(GlibcVersion {
                major: glibc.major,
                minor,
            }) {
                platforms.push(format!("{legacy}_{machine}"));
            }
        }
    }
    platforms.push(format!("linux_{machine}"));
    platforms
}

/// The policy names that predate PEP 600's `manylinux_x_y` (PEP 513, 571, 599).
fn legacy_manylinux(glibc: GlibcVersion) -> Option<&'static str> {
    match (glibc.major, glibc.minor) {
        (2, 5) => Some("manylinux1"),
        (2, 12) => Some("manylinux2010"),
        (2, 17) => Some("manylinux2014"),
        _ => None,
    }
}

/// The glibc a manylinux platform tag for `arch` asks for, if it is one.
fn manylinux_glibc(platform: &str, arch: Arch) -> Option<GlibcVersion> {
    let rest = platform.strip_prefix("manylinux")?;
    let version = rest
        .strip_suffix(arch.platform_machine())?
        .strip_suffix('_')?;
    match version {
        "1" => Some((2, 5).into()),
        "2010" => Some((2, 12).into()),
        "2014" => Some((2, 17).into()),
        _ => {
            let (major, minor) = version.strip_prefix('_')?.split_once('_')?;
            Some((major.parse().ok()?, minor.parse().ok()?).into())
        }
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;
    use crate::version::Version;

    fn target(python: &str, arch: Arch, glibc: (u32, u32)) -> Target {
        Target::new(&Version::from_str(python).unwrap(), arch, glibc.into()).unwrap()
    }

    fn trixie_amd64() -> CompatibleTags {
        CompatibleTags::for_target(&target("3.13.5", Arch::X86_64, (2, 41)))
    }

    fn wheel(filename: &str) -> WheelName {
        WheelName::parse(filename).unwrap()
    }

    fn strings(tags: &[Tag]) -> Vec<String> {
        tags.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn platforms_x86_64() {
        let tags = trixie_amd64();
        let platforms = tags.platforms();
        // 2.41 down to 2.5, three legacy aliases, linux_x86_64.
        assert_eq!(platforms.len(), 37 + 3 + 1);
        assert_eq!(
            platforms[..3],
            [
                "manylinux_2_41_x86_64",
                "manylinux_2_40_x86_64",
                "manylinux_2_39_x86_64"
            ]
        );
        let position = |p: &str| platforms.iter().position(|x| x == p).unwrap();
        assert_eq!(
            position("manylinux2014_x86_64"),
            position("manylinux_2_17_x86_64") + 1
        );
        assert_eq!(
            position("manylinux2010_x86_64"),
            position("manylinux_2_12_x86_64") + 1
        );
        assert_eq!(
            position("manylinux1_x86_64"),
            position("manylinux_2_5_x86_64") + 1
        );
        assert_eq!(
            platforms[platforms.len() - 3..],
            ["manylinux_2_5_x86_64", "manylinux1_x86_64", "linux_x86_64"]
        );
    }

    #[test]
    fn platforms_aarch64_start_at_manylinux2014() {
        let tags = CompatibleTags::for_target(&target("3.13.5", Arch::Aarch64, (2, 41)));
        let platforms = tags.platforms();
        assert_eq!(platforms.len(), 25 + 1 + 1);
        assert_eq!(platforms[0], "manylinux_2_41_aarch64");
        assert_eq!(
            platforms[platforms.len() - 3..],
            [
                "manylinux_2_17_aarch64",
                "manylinux2014_aarch64",
                "linux_aarch64"
            ]
        );
        assert!(
            !platforms
                .iter()
                .any(|p| p.contains("x86_64") || p.contains("manylinux1"))
        );
    }

    #[test]
    fn the_full_order_for_cpython_313() {
        let tags = trixie_amd64();
        let p = tags.platforms().len();
        // cp313 (abi, abi3, none) + cp312..cp32 abi3 + 15 py tags, on every platform;
        // then cp313-none-any and the 15 py tags on `any`.
        assert_eq!(tags.tags().len(), 3 * p + 11 * p + 15 * p + 1 + 15);
        let all = strings(tags.tags());
        assert_eq!(all[0], "cp313-cp313-manylinux_2_41_x86_64");
        assert_eq!(all[p - 1], "cp313-cp313-linux_x86_64");
        assert_eq!(all[p], "cp313-abi3-manylinux_2_41_x86_64");
        assert_eq!(all[2 * p], "cp313-none-manylinux_2_41_x86_64");
        assert_eq!(all[3 * p], "cp312-abi3-manylinux_2_41_x86_64");
        assert_eq!(all[13 * p], "cp32-abi3-manylinux_2_41_x86_64");
        assert_eq!(all[14 * p], "py313-none-manylinux_2_41_x86_64");
        assert_eq!(all[15 * p], "py3-none-manylinux_2_41_x86_64");
        assert_eq!(all[16 * p], "py312-none-manylinux_2_41_x86_64");
        assert_eq!(all[29 * p - 1], "py30-none-linux_x86_64");
        assert_eq!(
            all[29 * p..29 * p + 4],
            [
                "cp313-none-any",
                "py313-none-any",
                "py3-none-any",
                "py312-none-any"
            ]
        );
        assert_eq!(all.last().unwrap(), "py30-none-any");
        // No duplicates: every tag has its own priority.
        assert_eq!(tags.priorities.len(), tags.tags().len());
        for (index, tag) in tags.tags().iter().enumerate() {
            assert_eq!(tags.priority(tag).unwrap().index() as usize, index);
        }
    }

    #[test]
    fn compatible_wheels() {
        let tags = trixie_amd64();
        for filename in [
            "pkg-1-cp313-cp313-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
            "pkg-1-cp313-cp313-manylinux_2_41_x86_64.whl",
            "pkg-1-cp313-cp313-manylinux1_x86_64.whl",
            "pkg-1-cp313-cp313-manylinux2010_x86_64.whl",
            "pkg-1-cp313-cp313-linux_x86_64.whl",
            "pkg-1-cp38-abi3-manylinux_2_17_x86_64.whl",
            "pkg-1-cp32-abi3-manylinux_2_5_x86_64.whl",
            "pkg-1-cp313-abi3-manylinux_2_28_x86_64.whl",
            "pkg-1-cp313-none-manylinux_2_28_x86_64.whl",
            "pkg-1-cp313-none-any.whl",
            "pkg-1-py3-none-any.whl",
            "pkg-1-py2.py3-none-any.whl",
            "pkg-1-py313-none-any.whl",
            "pkg-1-py38-none-any.whl",
            "pkg-1-py30-none-any.whl",
            "pkg-1-py3-none-manylinux_2_17_x86_64.whl",
            "pkg-1-cp313-cp313-musllinux_1_2_x86_64.manylinux_2_17_x86_64.whl",
        ] {
            assert!(tags.check(&wheel(filename)).is_ok(), "{filename}");
        }
    }

    #[test]
    fn incompatible_wheels_say_why() {
        let tags = trixie_amd64();
        for (filename, reason) in [
            (
                "pkg-1-cp312-cp312-manylinux_2_17_x86_64.whl",
                "it is for another Python (cp312)",
            ),
            (
                "pkg-1-cp314-cp314-manylinux_2_17_x86_64.whl",
                "it is for another Python (cp314)",
            ),
            (
                "pkg-1-cp314-abi3-manylinux_2_17_x86_64.whl",
                "it is for another Python (cp314)",
            ),
            ("pkg-1-py2-none-any.whl", "it is for another Python (py2)"),
            (
                "pkg-1-py314-none-any.whl",
                "it is for another Python (py314)",
            ),
            (
                "pkg-1-cp312-none-any.whl",
                "it is for another Python (cp312)",
            ),
            (
                "pkg-1-pp310-pypy310_pp73-manylinux_2_17_x86_64.whl",
                "it is for another Python (pp310)",
            ),
            (
                "pkg-1-cp313-cp313t-manylinux_2_17_x86_64.whl",
                "it is for another ABI of this Python (cp313t)",
            ),
            (
                "pkg-1-cp313-cp313d-manylinux_2_17_x86_64.whl",
                "it is for another ABI of this Python (cp313d)",
            ),
            // `any` is accepted only with ABI `none`: the platform is what fails.
            (
                "pkg-1-cp313-cp313-any.whl",
                "it is for another platform (any)",
            ),
            (
                "pkg-1-cp313-abi3-any.whl",
                "it is for another platform (any)",
            ),
            (
                "pkg-1-cp38-abi3-any.whl",
                "it is for another platform (any)",
            ),
            (
                "pkg-1-cp313-cp313-musllinux_1_2_x86_64.whl",
                "it is for another platform (musllinux_1_2_x86_64)",
            ),
            (
                "pkg-1-cp313-cp313-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
                "it is for another platform (manylinux_2_17_aarch64, manylinux2014_aarch64)",
            ),
            (
                "pkg-1-cp313-cp313-linux_aarch64.whl",
                "it is for another platform (linux_aarch64)",
            ),
            (
                "pkg-1-cp313-cp313-win_amd64.whl",
                "it is for another platform (win_amd64)",
            ),
            (
                "pkg-1-cp313-cp313-macosx_11_0_arm64.whl",
                "it is for another platform (macosx_11_0_arm64)",
            ),
            (
                "pkg-1-py3-none-win32.whl",
                "it is for another platform (win32)",
            ),
            (
                "pkg-1-cp313-cp313-manylinux_2_4_x86_64.whl",
                "it is for another platform (manylinux_2_4_x86_64)",
            ),
            (
                "pkg-1-cp313-cp313-manylinux_2_42_x86_64.whl",
                "it needs glibc 2.42 or newer, and the target has glibc 2.41",
            ),
            (
                "pkg-1-cp313-abi3-manylinux_3_0_x86_64.whl",
                "it needs glibc 3.0 or newer, and the target has glibc 2.41",
            ),
            // The closest miss is reported: here a newer glibc, not the wrong Python.
            (
                "pkg-1-cp312.cp313-cp312.cp313-manylinux_2_43_x86_64.manylinux_2_42_x86_64.whl",
                "it needs glibc 2.42 or newer, and the target has glibc 2.41",
            ),
            (
                "pkg-1-cp313-cp313-win_amd64.musllinux_1_1_x86_64.manylinux_2_50_x86_64.whl",
                "it needs glibc 2.50 or newer, and the target has glibc 2.41",
            ),
        ] {
            let err = tags.check(&wheel(filename)).unwrap_err();
            assert_eq!(err.to_string(), reason, "{filename}");
        }
    }

    #[test]
    fn legacy_aliases_need_their_glibc() {
        let old = CompatibleTags::for_target(&target("3.11.2", Arch::X86_64, (2, 12)));
        assert!(
            old.check(&wheel("pkg-1-cp311-cp311-manylinux2010_x86_64.whl"))
                .is_ok()
        );
        let err = old
            .check(&wheel("pkg-1-cp311-cp311-manylinux2014_x86_64.whl"))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "it needs glibc 2.17 or newer, and the target has glibc 2.12"
        );
        let arm = CompatibleTags::for_target(&target("3.11.2", Arch::Aarch64, (2, 36)));
        let err = arm
            .check(&wheel("pkg-1-cp311-cp311-manylinux1_aarch64.whl"))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "it is for another platform (manylinux1_aarch64)"
        );
    }

    #[test]
    fn the_most_specific_wheel_wins() {
        let tags = trixie_amd64();
        let wheels: Vec<WheelName> = [
            "pkg-1-py3-none-any.whl",
            "pkg-1-cp313-cp313-musllinux_1_2_x86_64.whl",
            "pkg-1-cp38-abi3-manylinux_2_17_x86_64.whl",
            "pkg-1-cp313-cp313-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
            "pkg-1-cp313-cp313-manylinux_2_28_x86_64.whl",
            "pkg-1-cp313-cp313-linux_x86_64.whl",
            "pkg-1-cp313-cp313-win_amd64.whl",
        ]
        .into_iter()
        .map(wheel)
        .collect();
        let mut ranked: Vec<(WheelPreference, &str)> = wheels
            .iter()
            .filter_map(|w| Some((tags.preference(w).ok()?, w.filename())))
            .collect();
        ranked.sort();
        let order: Vec<&str> = ranked.iter().map(|(_, name)| *name).collect();
        assert_eq!(
            order,
            [
                "pkg-1-cp313-cp313-manylinux_2_28_x86_64.whl",
                "pkg-1-cp313-cp313-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
                "pkg-1-cp313-cp313-linux_x86_64.whl",
                "pkg-1-cp38-abi3-manylinux_2_17_x86_64.whl",
                "pkg-1-py3-none-any.whl",
            ]
        );
        assert_eq!(
            tags.best(&wheels).unwrap().filename(),
            "pkg-1-cp313-cp313-manylinux_2_28_x86_64.whl"
        );
        // The order the index lists files in does not matter.
        assert_eq!(
            tags.best(wheels.iter().rev()).unwrap().filename(),
            "pkg-1-cp313-cp313-manylinux_2_28_x86_64.whl"
        );
    }

    #[test]
    fn ties_go_to_the_higher_build_then_the_file_name() {
        let tags = trixie_amd64();
        let wheels: Vec<WheelName> = [
            "pkg-1-py3-none-any.whl",
            "pkg-1-2-py3-none-any.whl",
            "pkg-1-10-py3-none-any.whl",
            "pkg-1-10a-py3-none-any.whl",
        ]
        .into_iter()
        .map(wheel)
        .collect();
        assert_eq!(
            tags.best(&wheels).unwrap().filename(),
            "pkg-1-10a-py3-none-any.whl"
        );
        assert_eq!(
            tags.best(&wheels[..3]).unwrap().filename(),
            "pkg-1-10-py3-none-any.whl"
        );

        // Same tags, no build: the file name decides (here, the spelling of the name).
        let a = wheel("Pkg-1-py3-none-any.whl");
        let b = wheel("pkg-1-py3-none-any.whl");
        assert_eq!(
            tags.best([&b, &a]).unwrap().filename(),
            "Pkg-1-py3-none-any.whl"
        );
        assert_eq!(
            tags.best([&a, &b]).unwrap().filename(),
            "Pkg-1-py3-none-any.whl"
        );
        assert!(
            tags.best(&[wheel("pkg-1-cp312-cp312-win_amd64.whl")])
                .is_none()
        );
    }

    #[test]
    fn old_glibc_keeps_only_linux() {
        let tags = CompatibleTags::for_target(&target("3.13.5", Arch::Aarch64, (2, 16)));
        assert_eq!(tags.platforms(), ["linux_aarch64"]);
    }

    #[test]
    fn manylinux_glibc_parsing() {
        assert_eq!(
            manylinux_glibc("manylinux_2_28_x86_64", Arch::X86_64),
            Some((2, 28).into())
        );
        assert_eq!(
            manylinux_glibc("manylinux2014_aarch64", Arch::Aarch64),
            Some((2, 17).into())
        );
        assert_eq!(
            manylinux_glibc("manylinux1_x86_64", Arch::X86_64),
            Some((2, 5).into())
        );
        assert_eq!(
            manylinux_glibc("manylinux_2_28_aarch64", Arch::X86_64),
            None
        );
        assert_eq!(manylinux_glibc("musllinux_1_2_x86_64", Arch::X86_64), None);
        assert_eq!(manylinux_glibc("manylinux_x_y_x86_64", Arch::X86_64), None);
        assert_eq!(manylinux_glibc("manylinux_2_x86_64", Arch::X86_64), None);
    }
}
