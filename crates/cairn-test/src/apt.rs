//! apt as a resolution oracle: what `apt-get install -s` would install onto an empty
//! system, so tests can compare cairn's Debian resolver with apt's choices.
//!
//! Each [`AptOracle`] has its own apt configuration under a directory of its own, and
//! nothing of the host's: the generated config file is passed as `APT_CONFIG`, and it
//! points every `Dir::Etc…` at that directory, so `/etc/apt/apt.conf.d`, the host's
//! sources, preferences (pins) and keyrings are never read. The dpkg status is an empty
//! file, so apt resolves as for a fresh system. Nothing under `/etc` or `/var` is
//! written, and no lock is taken, so oracles run in parallel.
//!
//! With an empty status apt adds nothing for `Essential: yes` or `Priority: required`
//! packages: the result is the request and its dependencies (and Pre-Depends), no more.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::{Oracle, require_tool};

/// One `deb` line of the oracle's sources list. Every source is `[trusted=yes]`, so
/// signatures are neither needed nor checked (apt still warns when it cannot verify
/// an `InRelease` it was given).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AptSource {
    /// `http://deb.debian.org/debian`, `file:/path/to/mirror`, `http://127.0.0.1:PORT`…
    pub uri: String,
    /// `trixie`, `trixie-security`, or a flat repository's path ending in `/`.
    pub suite: String,
    /// `main`…; empty for a flat repository.
    pub components: Vec<String>,
}

impl AptSource {
    pub fn new(uri: &str, suite: &str, components: &[&str]) -> Self {
        Self {
            uri: uri.into(),
            suite: suite.into(),
            components: components.iter().map(|&c| c.into()).collect(),
        }
    }
}

/// An isolated apt configuration with its package lists downloaded.
#[derive(Debug)]
pub struct AptOracle {
    dir: PathBuf,
    apt_get: Oracle,
    /// The configuration, as `(key, value)`; written to [`AptOracle::config_file`] and
    /// repeated as `-o` options by [`AptOracle::args`].
    options: Vec<(String, String)>,
}

/// The directories and files of an oracle's configuration, relative to its `dir`.
const DIRS: &[&str] = &[
    "etc/apt.conf.d",
    "etc/sources.list.d",
    "etc/preferences.d",
    "etc/trusted.gpg.d",
    "etc/auth.conf.d",
    "state/lists/partial",
    "cache/archives/partial",
    "log",
];

impl AptOracle {
    /// Sets up an isolated apt configuration under `dir` (created if missing): a sources
    /// list with a `[trusted=yes arch=<arch>]` entry per source, its own lists, cache
    /// and state directories, an empty dpkg status, `APT::Architecture(s)` set to `arch`
    /// alone, no host configuration, no locking, no translations; then runs
    /// `apt-get update` with it.
    ///
    /// Returns `None` when `apt-get` is missing outside CI (see [`require_tool`]).
    /// Panics with apt's output when the update fails, including a transient failure
    /// such as an unreachable mirror (`APT::Update::Error-Mode "any"`).
    pub fn new(dir: &Path, sources: &[AptSource], arch: &str) -> Option<AptOracle> {
        let apt_get = require_tool("apt-get")?;
        let dir = std::path::absolute(dir).unwrap();
        for sub in DIRS {
            fs_err::create_dir_all(dir.join(sub)).unwrap();
        }
        fs_err::write(dir.join("status"), "").unwrap();

        let mut list = String::new();
        for source in sources {
            let _ = writeln!(
                list,
                "deb [trusted=yes arch={arch}] {} {} {}",
                source.uri,
                source.suite,
                source.components.join(" ")
            );
        }
        fs_err::write(dir.join("etc/sources.list"), list).unwrap();

        let root = dir.to_str().expect("the oracle's dir is UTF-8");
        // apt wants directories to end in `/`; each `sub` is written as apt wants it.
        let path = |sub: &str| format!("{}/{sub}", root.trim_end_matches('/'));
        let options: Vec<(String, String)> = [
            // Every file apt reads from /etc, redirected. `parts` matters most: apt reads
            // it before the command line, so `-o` alone cannot keep host settings out.
            ("Dir::Etc", path("etc/")),
            ("Dir::Etc::main", path("etc/apt.conf")),
            ("Dir::Etc::parts", path("etc/apt.conf.d/")),
            ("Dir::Etc::sourcelist", path("etc/sources.list")),
            ("Dir::Etc::sourceparts", path("etc/sources.list.d/")),
            ("Dir::Etc::preferences", path("etc/preferences")),
            ("Dir::Etc::preferencesparts", path("etc/preferences.d/")),
            ("Dir::Etc::trusted", path("etc/trusted.gpg")),
            ("Dir::Etc::trustedparts", path("etc/trusted.gpg.d/")),
            ("Dir::Etc::netrc", path("etc/auth.conf")),
            ("Dir::Etc::netrcparts", path("etc/auth.conf.d/")),
            // And everything it writes under /var.
            ("Dir::State", path("state/")),
            ("Dir::State::lists", path("state/lists/")),
            ("Dir::State::status", path("status")),
            ("Dir::State::extended_states", path("state/extended_states")),
            ("Dir::Cache", path("cache/")),
            ("Dir::Cache::archives", path("cache/archives/")),
            ("Dir::Log", path("log/")),
            ("Debug::NoLocking", "true".into()),
            // Without this, apt hands downloads to `_apt`, which cannot enter a private
            // temporary directory, and warns that it fell back to root.
            ("APT::Sandbox::User", "root".into()),
            ("APT::Architecture", arch.into()),
            ("APT::Architectures", arch.into()),
            ("APT::Install-Recommends", "false".into()),
            ("APT::Install-Suggests", "false".into()),
            ("APT::Update::Error-Mode", "any".into()),
            ("Acquire::Languages", "none".into()),
            ("Acquire::PDiffs", "false".into()),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value))
        .collect();

        let mut config = String::from("// Generated by cairn-test's AptOracle.\n");
        for (key, value) in &options {
            assert!(
                !value.contains(['"', '\n']),
                "apt config value {value:?} cannot be quoted"
            );
            let _ = writeln!(config, "{key} \"{value}\";");
        }
        fs_err::write(dir.join("apt.conf"), config).unwrap();

        let oracle = AptOracle {
            dir,
            apt_get,
            options,
        };
        let output = oracle.run(oracle.command().arg("update"));
        assert!(
            output.status.success(),
            "apt-get update failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        Some(oracle)
    }

    /// Simulates `apt-get install -s PACKAGE…` onto the empty system and returns what
    /// apt would install, as `(name, version, architecture)` from its `Inst` lines
    /// (`architecture` is `all` for architecture-independent packages). `packages` may
    /// use apt's `name=version` and `name/suite` forms. `recommends` sets
    /// `APT::Install-Recommends`.
    ///
    /// Returns apt's stdout and stderr as the error when apt refuses (unsatisfiable
    /// dependencies, unknown package…).
    pub fn install(
        &self,
        packages: &[&str],
        recommends: bool,
    ) -> Result<BTreeSet<(String, String, String)>, String> {
        let output = self.run(
            self.command()
                .args(["install", "--simulate", "-o"])
                .arg(format!("APT::Install-Recommends={recommends}"))
                .arg("--")
                .args(packages),
        );
        let stdout = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() {
            return Err(format!(
                "apt-get install -s {} failed ({}):\n{stdout}{}",
                packages.join(" "),
                output.status,
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        Ok(parse_simulation(&stdout))
    }

    /// The `-o KEY=VALUE` arguments that make up the configuration, for benchmarks that
    /// run apt themselves. They repeat [`AptOracle::config_file`]; apt reads the host's
    /// `/etc/apt/apt.conf.d` before its command line, so for a run isolated from the
    /// host also set `APT_CONFIG` to that file (as [`AptOracle::command`] does).
    pub fn args(&self) -> Vec<String> {
        self.options
            .iter()
            .flat_map(|(key, value)| ["-o".to_owned(), format!("{key}={value}")])
            .collect()
    }

    /// The generated configuration, to be passed as `APT_CONFIG`.
    pub fn config_file(&self) -> PathBuf {
        self.dir.join("apt.conf")
    }

    /// `apt-get` with the isolated configuration (`APT_CONFIG` and [`AptOracle::args`])
    /// and the C locale, so its output is the untranslated one parsed here.
    pub fn command(&self) -> Command {
        let mut command = self.apt_get.command();
        command
            .env("APT_CONFIG", self.config_file())
            .env("LC_ALL", "C")
            .env_remove("LANGUAGE")
            .args(self.args());
        command
    }

    fn run(&self, command: &mut Command) -> Output {
        command
            .current_dir(&self.dir)
            .output()
            .expect("apt-get runs")
    }
}

/// The packages of the `Inst` lines of `apt-get install -s` output. A line is
/// `Inst NAME[:ARCH] [[OLD-VERSION]] (VERSION RELEASE[, RELEASE…] [ARCH])`, optionally
/// followed by `[…]` naming packages still broken at that step; RELEASE is
/// `Origin:Version/Suite` (or the host name for a repository without a `Release`).
pub fn parse_simulation(stdout: &str) -> BTreeSet<(String, String, String)> {
    let mut installs = BTreeSet::new();
    for line in stdout.lines() {
        let Some(rest) = line.strip_prefix("Inst ") else {
            continue;
        };
        let (name, rest) = rest.split_once(' ').expect("an Inst line has a version");
        let name = name.split_once(':').map_or(name, |(name, _)| name);
        let open = rest.find('(').expect("an Inst line has `(VERSION …)`");
        let close = open + rest[open..].find(')').expect("`(VERSION …)` is closed");
        let inside = &rest[open + 1..close];
        let version = inside.split(' ').next().expect("split yields one item");
        let arch = inside
            .rsplit_once('[')
            .and_then(|(_, arch)| arch.strip_suffix(']'))
            .expect("`(VERSION …)` ends in `[ARCH]`");
        installs.insert((name.to_owned(), version.to_owned(), arch.to_owned()));
    }
    installs
}

#[cfg(test)]
mod tests {
    use super::parse_simulation;

    #[test]
    fn parses_inst_lines() {
        let stdout = "\
Reading package lists...
The following NEW packages will be installed:
  a b
Inst gcc-14-base (14.2.0-19 Debian:13.7/stable [amd64])
Inst libc6 (2.41-12+deb13u4 Debian:13.7/stable [amd64]) []
Inst zlib1g (1:1.3.dfsg+really1.3.1-1+deb13u1 Debian-Security:13/stable-security [amd64])
Inst tzdata (2025b-4 Debian:13.1/stable, Debian:13.1/stable-updates [all]) [libc6 ]
Inst libfoo:i386 [1.0] (1.1 Debian:13.1/stable [i386])
Inst b (2.0 localhost [amd64])
Conf b (2.0 localhost [amd64])
";
        let got: Vec<_> = parse_simulation(stdout)
            .into_iter()
            .map(|(n, v, a)| format!("{n} {v} {a}"))
            .collect();
        assert_eq!(
            got,
            [
                "b 2.0 amd64",
                "gcc-14-base 14.2.0-19 amd64",
                "libc6 2.41-12+deb13u4 amd64",
                "libfoo 1.1 i386",
                "tzdata 2025b-4 all",
                "zlib1g 1:1.3.dfsg+really1.3.1-1+deb13u1 amd64",
            ]
        );
    }
}
