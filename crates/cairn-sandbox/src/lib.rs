//! Linux sandboxes for cairn's build steps.
//!
//! A [`Sandbox`] runs one command in new user, mount, PID, network, UTS and IPC
//! namespaces, as uid 0 inside, with:
//!
//! - a root file system that is a directory the caller prepared, alone or as the top
//!   of an overlay ([`Sandbox::lower`]: cairn stacks store objects under a small
//!   directory of what composition adds), mounted read-only, plus read-only or writable
//!   bind mounts
//!   ([`Mount`]: sources at their mount points, `/out`);
//! - a writable `/tmp` and home ([`HOME`]), made in the caller's scratch directory;
//! - a minimal `/dev` (`null`, `zero`, `full`, `random`, `urandom`, `tty`, `shm`) and a
//!   fresh `/proc`; nothing else of the host;
//! - only a loopback interface, fixed host name ([`HOSTNAME`]), umask 022, and no
//!   environment but what the caller gives ([`fixed_env`] holds the usual variables);
//! - limits on processes and open files, and a wall-clock timeout after which every
//!   process of the sandbox is killed. When the command ends, or cairn dies, the kernel
//!   kills whatever the command left running (it is the PID namespace's init).
//!
//! Run as root, the command runs as a build user ([`BUILD_ID`] on the host, 0 inside),
//! never as the host's root, so the process limit holds (the kernel exempts root
//! from it) and a process that escaped would own nothing. Run as another user, it runs
//! as that user. Either way `CAP_SYS_ADMIN` is dropped before the command starts, so
//! it cannot remount the read-only root writable, and `no_new_privs` is set.
//!
//! The mounts are made with the caller's rights, before the switch to the build user,
//! so the build user needs no right to the directories on the way to them (a store
//! under `/root` works).
//!
//! The work before `exec` happens in a forked child, where only async-signal-safe
//! calls are allowed: every path and string is prepared before (see `child.rs`).

mod child;

use std::collections::BTreeMap;
use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
use std::os::unix::process::{CommandExt as _, ExitStatusExt as _};
use std::path::{Component, Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The sandbox format: what a step's environment is. Part of every step's identity,
/// so changing what the sandbox looks like from inside rebuilds every step.
pub const SANDBOX_VERSION: u32 = 1;

/// The home directory inside (writable, empty at start).
pub const HOME: &str = "/homeless-shelter";

/// Where a step writes its output.
pub const OUT: &str = "/out";

/// The host name inside.
pub const HOSTNAME: &str = "cairn";

/// The host uid and gid a step runs as when cairn runs as root.
pub const BUILD_ID: u32 = 0x6361_0000;

/// At most this many [`Sandbox::lower`] layers (overlayfs stacks 500 in all, the root
/// above them among them).
pub const MAX_LOWER: usize = 499;

/// Paths the sandbox itself mounts: no [`Mount`] may be at or under them (but
/// [`OUT`], which the caller mounts).
pub const RESERVED: &[&str] = &["/dev", "/proc", "/tmp", HOME];

/// The variables every step sees (a step's own variables are added over them).
pub fn fixed_env(source_date_epoch: u64) -> BTreeMap<String, String> {
    [
        ("HOME", HOME.to_owned()),
        ("LANG", "C.UTF-8".to_owned()),
        (
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_owned(),
        ),
        ("SOURCE_DATE_EPOCH", source_date_epoch.to_string()),
        ("TMPDIR", "/tmp".to_owned()),
        ("TZ", "UTC".to_owned()),
        ("out", OUT.to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// A host path mounted into the sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// A directory or file on the host.
    pub source: PathBuf,
    /// Absolute, normalized path inside.
    pub target: String,
    pub writable: bool,
}

/// How much a step may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Processes (threads count) of the sandbox's user, `RLIMIT_NPROC`.
    pub processes: u64,
    /// Open files per process, `RLIMIT_NOFILE` (never above the host's hard limit).
    pub open_files: u64,
    /// Wall-clock time from start to exit.
    pub timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            processes: 4096,
            open_files: 4096,
            timeout: Duration::from_hours(1),
        }
    }
}

/// Where the command's output goes.
#[derive(Debug)]
pub enum Output {
    /// Standard output and error both to this file; input from `/dev/null`; no
    /// controlling terminal.
    File(std::fs::File),
    /// The caller's standard streams and terminal (an interactive shell).
    Terminal,
}

impl Output {
    /// The same destination, through a new handle of the file.
    pub fn try_clone(&self) -> io::Result<Self> {
        Ok(match self {
            Self::File(file) => Self::File(file.try_clone()?),
            Self::Terminal => Self::Terminal,
        })
    }
}

/// Whom the command runs as on the host (always uid 0 inside).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Identity {
    /// [`BUILD_ID`] when cairn runs as root, else cairn's own user.
    Build,
    /// cairn's own user (an interactive shell that writes to the project).
    Caller,
}

/// One command to run in a sandbox.
#[derive(Debug)]
pub struct Sandbox {
    /// The root file system: a directory the sandbox may create mount points in; with
    /// `lower`, the top layer of the overlay.
    pub root: PathBuf,
    /// Read-only directories stacked under `root` with overlayfs, top first: the root
    /// the command sees is their union, nothing copied or linked. Empty: `root` alone.
    /// Absolute paths, at most [`MAX_LOWER`].
    pub lower: Vec<PathBuf>,
    /// Where `tmp` and `home` are made for the sandbox's `/tmp` and [`HOME`].
    pub scratch: PathBuf,
    pub mounts: Vec<Mount>,
    /// The command and its arguments; the first is looked up in `env`'s `PATH`.
    pub cmd: Vec<String>,
    /// Every variable the command sees.
    pub env: BTreeMap<String, String>,
    /// Absolute path inside.
    pub workdir: String,
    pub limits: Limits,
    pub output: Output,
    pub identity: Identity,
}

impl Sandbox {
    /// The same sandbox again, to run after this one ([`Sandbox::run`] takes it).
    pub fn try_clone(&self) -> io::Result<Self> {
        Ok(Self {
            root: self.root.clone(),
            lower: self.lower.clone(),
            scratch: self.scratch.clone(),
            mounts: self.mounts.clone(),
            cmd: self.cmd.clone(),
            env: self.env.clone(),
            workdir: self.workdir.clone(),
            limits: self.limits,
            output: self.output.try_clone()?,
            identity: self.identity,
        })
    }
}

/// How a sandboxed command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Exited(i32),
    Signalled(i32),
    /// Killed, with everything it started, after the timeout.
    TimedOut(Duration),
}

impl Outcome {
    pub fn success(self) -> bool {
        self == Self::Exited(0)
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Exited(code) => write!(f, "exited with status {code}"),
            Self::Signalled(signal) => write!(f, "was killed by signal {signal}"),
            Self::TimedOut(limit) => write!(f, "timed out after {} s", limit.as_secs()),
        }
    }
}

/// Why a sandbox could not run its command.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("the sandbox's command is empty")]
    EmptyCommand,
    #[error("`{0}` is not an absolute, normalized path inside the sandbox")]
    BadTarget(String),
    #[error("mount point `{target}`: {reason}")]
    BadMount { target: String, reason: String },
    #[error("a string for the sandbox holds a NUL byte: {0:?}")]
    Nul(String),
    #[error("preparing the sandbox at {path}")]
    Prepare {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("setting up the sandbox failed at: {step}")]
    Setup {
        step: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("starting `{program}` in the sandbox")]
    Spawn {
        program: String,
        #[source]
        source: io::Error,
    },
    #[error("waiting for the sandbox")]
    Wait(#[source] io::Error),
    #[error("{0} layers are more than an overlay stacks ({MAX_LOWER} under the root)")]
    TooManyLayers(usize),
}

impl SandboxError {
    /// Whether the overlay of [`Sandbox::lower`] could not be mounted (a kernel before
    /// 6.8, or a file system overlayfs does not stack): the same root as one
    /// directory works.
    pub fn is_overlay_failure(&self) -> bool {
        matches!(self, Self::Setup { step, .. } if *step == child::OVERLAY_STEP)
            || matches!(self, Self::TooManyLayers(_))
    }

    /// A likely fix, when there is one.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::Setup { step, source }
                if *step == child::CLONE_STEP
                    && matches!(source.raw_os_error(), Some(libc::EPERM | libc::ENOSPC)) =>
            {
                Some(
                    "this kernel refuses new user namespaces: allow them with \
                     `sysctl kernel.unprivileged_userns_clone=1` (Debian) or raise \
                     `user.max_user_namespaces`; inside a container, run it with \
                     `--security-opt seccomp=unconfined` or privileged"
                        .into(),
                )
            }
            Self::Spawn { source, program } if source.kind() == io::ErrorKind::NotFound => {
                Some(format!(
                    "`{program}` is not in the sandbox's root file system or `PATH`: add the \
                     package that provides it to the step's `deps`"
                ))
            }
            _ => None,
        }
    }
}

fn prepare_error(path: &Path) -> impl FnOnce(io::Error) -> SandboxError + '_ {
    move |source| SandboxError::Prepare {
        path: path.to_owned(),
        source,
    }
}

/// Whether `target` is absolute and normalized (no `.`, `..`, `//` or trailing `/`).
pub fn is_normal_target(target: &str) -> bool {
    target.starts_with('/')
        && (target == "/"
            || target[1..]
                .split('/')
                .all(|c| !c.is_empty() && c != "." && c != ".."))
}

fn is_under(path: &str, dir: &str) -> bool {
    path == dir || dir == "/" || path.strip_prefix(dir).is_some_and(|r| r.starts_with('/'))
}

fn cstring(text: impl Into<Vec<u8>>) -> Result<CString, SandboxError> {
    let bytes = text.into();
    CString::new(bytes)
        .map_err(|e| SandboxError::Nul(String::from_utf8_lossy(&e.into_vec()).into_owned()))
}

/// What is at `rel` in the first of `layers` that has something there (overlay
/// semantics: the top one decides).
fn lower_entry(layers: &[PathBuf], rel: &Path) -> Option<std::fs::Metadata> {
    layers
        .iter()
        .find_map(|layer| fs_err::symlink_metadata(layer.join(rel)).ok())
}

/// Creates the mount point `target` in `root` (a directory, or an empty file when
/// `file`), refusing a symbolic link on the way: a mount must land where it says.
/// With `lower` layers under `root`, what is not in `root` is looked for in them, top
/// first, and a directory the mount point needs is made in `root`.
fn mount_point(
    root: &Path,
    lower: &[PathBuf],
    target: &str,
    file: bool,
) -> Result<(), SandboxError> {
    let mut path = root.to_owned();
    let mut rel = PathBuf::new();
    // Once a name is in no lower layer, nothing under it is.
    let mut in_lower = !lower.is_empty();
    let parts: Vec<&str> = target.split('/').filter(|c| !c.is_empty()).collect();
    for (i, part) in parts.iter().enumerate() {
        path.push(part);
        rel.push(part);
        let last = i + 1 == parts.len();
        let found = match fs_err::symlink_metadata(&path) {
            Ok(meta) => Some((meta, true)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let below = if in_lower {
                    lower_entry(lower, &rel)
                } else {
                    None
                };
                in_lower &= below.is_some();
                below.map(|meta| (meta, false))
            }
            Err(e) => return Err(prepare_error(&path)(e)),
        };
        let bad = |what: &str| SandboxError::BadMount {
            target: target.to_owned(),
            reason: format!(
                "`/{}` is {what} in the root file system",
                parts[..=i].join("/")
            ),
        };
        match found {
            Some((meta, _)) if meta.file_type().is_symlink() => {
                return Err(bad("a symbolic link"));
            }
            Some((meta, _)) if (!last || !file) && !meta.is_dir() => return Err(bad("a file")),
            // In `root`, or a file in a lower layer to mount on.
            Some((_, true)) => {}
            Some((_, false)) if last && file => {}
            // A directory below: made in `root` too, for what goes in it.
            Some((_, false)) | None => {
                if last && file {
                    fs_err::File::create(&path).map_err(prepare_error(&path))?;
                } else {
                    std::fs::DirBuilder::new()
                        .mode(0o755)
                        .create(&path)
                        .map_err(prepare_error(&path))?;
                }
            }
        }
    }
    Ok(())
}

/// The host uid and gid the command runs as.
fn host_ids(identity: Identity) -> (u32, u32) {
    let uid = rustix::process::geteuid().as_raw();
    let gid = rustix::process::getegid().as_raw();
    if uid == 0 && identity == Identity::Build {
        (BUILD_ID, BUILD_ID)
    } else {
        (uid, gid)
    }
}

fn chown(path: &Path, (uid, gid): (u32, u32)) -> Result<(), SandboxError> {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid)).map_err(prepare_error(path))
}

impl Sandbox {
    /// Runs the command and waits for it (at most the timeout). The thread that calls
    /// this must live until it returns: the sandbox dies with it.
    pub fn run(self) -> Result<Outcome, SandboxError> {
        let program = self.cmd.first().ok_or(SandboxError::EmptyCommand)?.clone();
        let ids = host_ids(self.identity);
        let prepared = self.prepare(ids)?;
        let mut command = Command::new(&program);
        command.args(&self.cmd[1..]).env_clear().envs(&self.env);
        // The directory is changed inside, after the root is switched.
        let terminal = match self.output {
            Output::File(file) => {
                command
                    .stdin(std::process::Stdio::null())
                    .stdout(file.try_clone().map_err(prepare_error(&self.scratch))?)
                    .stderr(file);
                false
            }
            Output::Terminal => true,
        };
        let setup = child::Setup::new(&prepared, ids, self.limits, terminal)?;
        // SAFETY: `pre_exec` runs between fork and exec: `child::run` only makes system
        // calls on memory prepared before the fork, and never allocates.
        #[allow(unsafe_code)]
        unsafe {
            command.pre_exec(move || setup.run());
        }
        let started = Instant::now();
        let mut process = match command.spawn() {
            Ok(process) => process,
            Err(source) => {
                return Err(prepared.report.failure().unwrap_or(SandboxError::Spawn {
                    program: program.clone(),
                    source,
                }));
            }
        };
        // A pidfd names this process even after it is reaped: a late kill cannot hit
        // another process that got its number.
        let pid = rustix::process::Pid::from_raw(process.id().cast_signed())
            .expect("a child's pid is positive");
        let pidfd = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty())
            .map_err(|e| SandboxError::Wait(e.into()))?;
        let deadline = started + self.limits.timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                // The outer process dies; the sandbox's init has it as its parent-death
                // signal, and the kernel kills every process of a PID namespace whose
                // init is gone.
                let _ = rustix::process::pidfd_send_signal(&pidfd, rustix::process::Signal::KILL);
                process.wait().map_err(SandboxError::Wait)?;
                return Ok(Outcome::TimedOut(self.limits.timeout));
            }
            let mut fds = [rustix::event::PollFd::new(
                &pidfd,
                rustix::event::PollFlags::IN,
            )];
            let timeout = rustix::event::Timespec::try_from(left.min(Duration::from_hours(1)))
                .expect("an hour fits a timespec");
            match rustix::event::poll(&mut fds, Some(&timeout)) {
                Ok(0) | Err(rustix::io::Errno::INTR) => {}
                Ok(_) => break,
                Err(e) => return Err(SandboxError::Wait(e.into())),
            }
        }
        let status = process.wait().map_err(SandboxError::Wait)?;
        if let Some(failure) = prepared.report.failure() {
            return Err(failure);
        }
        Ok(match (status.code(), status.signal()) {
            (Some(code), _) => Outcome::Exited(code),
            (None, Some(signal)) => Outcome::Signalled(signal),
            (None, None) => Outcome::Exited(-1),
        })
    }

    /// Checks the mounts, makes the mount points, `/tmp` and home, and opens every host
    /// path the child will mount.
    fn prepare(&self, ids: (u32, u32)) -> Result<child::Prepared, SandboxError> {
        if !is_normal_target(&self.workdir) {
            return Err(SandboxError::BadTarget(self.workdir.clone()));
        }
        if self.lower.len() > MAX_LOWER {
            return Err(SandboxError::TooManyLayers(self.lower.len()));
        }
        let mut mounts = self.mounts.clone();
        mounts.sort_by(|a, b| a.target.cmp(&b.target));
        for (i, mount) in mounts.iter().enumerate() {
            if !is_normal_target(&mount.target) || mount.target == "/" {
                return Err(SandboxError::BadTarget(mount.target.clone()));
            }
            if let Some(reserved) = RESERVED.iter().find(|r| is_under(&mount.target, r)) {
                return Err(SandboxError::BadMount {
                    target: mount.target.clone(),
                    reason: format!("`{reserved}` is the sandbox's own"),
                });
            }
            // Every later one: `/a-b` sorts between `/a` and `/a/c`.
            if let Some(inner) = mounts[i + 1..]
                .iter()
                .find(|m| is_under(&m.target, &mount.target))
            {
                return Err(SandboxError::BadMount {
                    target: inner.target.clone(),
                    reason: format!("it is inside the mount point `{}`", mount.target),
                });
            }
        }
        let tmp = self.scratch.join("tmp");
        let home = self.scratch.join("home");
        for (dir, mode) in [(&tmp, 0o1777), (&home, 0o755)] {
            std::fs::DirBuilder::new()
                .recursive(true)
                .create(dir)
                .map_err(prepare_error(dir))?;
            fs_err::set_permissions(dir, std::fs::Permissions::from_mode(mode))
                .map_err(prepare_error(dir))?;
            chown(dir, ids)?;
        }
        let mut binds = Vec::new();
        for (target, source, writable) in [("/tmp", tmp.clone(), true), (HOME, home.clone(), true)]
            .into_iter()
            .chain(
                mounts
                    .iter()
                    .map(|m| (m.target.as_str(), m.source.clone(), m.writable)),
            )
        {
            let meta = fs_err::metadata(&source).map_err(prepare_error(&source))?;
            mount_point(&self.root, &self.lower, target, !meta.is_dir())?;
            if writable && target != "/tmp" && target != HOME {
                chown(&source, ids)?;
            }
            binds.push(child::Bind {
                source: cstring(source.as_os_str().as_bytes())?,
                target: target.to_owned(),
                writable,
            });
        }
        for dir in ["/dev", "/proc"] {
            mount_point(&self.root, &self.lower, dir, false)?;
        }
        let top = fs_err::canonicalize(&self.root).map_err(prepare_error(&self.root))?;
        let (root, layers) = if self.lower.is_empty() {
            (top, Vec::new())
        } else {
            // The union is mounted on an empty directory of the scratch space.
            let merged = self.scratch.join("root");
            std::fs::DirBuilder::new()
                .recursive(true)
                .create(&merged)
                .map_err(prepare_error(&merged))?;
            let merged = fs_err::canonicalize(&merged).map_err(prepare_error(&merged))?;
            let mut layers = vec![cstring(top.as_os_str().as_bytes())?];
            for layer in &self.lower {
                if !layer.is_absolute() {
                    return Err(SandboxError::Prepare {
                        path: layer.clone(),
                        source: io::Error::new(
                            io::ErrorKind::InvalidInput,
                            "an overlay layer's path must be absolute",
                        ),
                    });
                }
                layers.push(cstring(layer.as_os_str().as_bytes())?);
            }
            (merged, layers)
        };
        if root.to_str().is_none() {
            return Err(SandboxError::Nul(root.display().to_string()));
        }
        Ok(child::Prepared {
            root: cstring(root.as_os_str().as_bytes())?,
            layers,
            binds,
            workdir: cstring(self.workdir.as_bytes())?,
            report: child::Report::new()?,
        })
    }
}

/// Removes a tree a sandbox wrote, whatever modes it left on its directories.
pub fn remove_tree(path: &Path) -> io::Result<()> {
    match fs_err::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(_) => {
            make_writable(path)?;
            fs_err::remove_dir_all(path)
        }
    }
}

fn make_writable(path: &Path) -> io::Result<()> {
    let meta = fs_err::symlink_metadata(path)?;
    if meta.is_dir() {
        fs_err::set_permissions(path, std::fs::Permissions::from_mode(0o755))?;
        for entry in fs_err::read_dir(path)? {
            make_writable(&entry?.path())?;
        }
    }
    Ok(())
}

/// Joins `target` (absolute inside) onto `root`.
pub fn host_path(root: &Path, target: &str) -> PathBuf {
    let mut path = root.to_owned();
    for component in Path::new(target).components() {
        if let Component::Normal(part) = component {
            path.push(part);
        }
    }
    path
}

#[cfg(test)]
mod tests;
