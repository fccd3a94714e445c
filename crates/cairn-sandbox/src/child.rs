//! What happens between `fork` and `exec`.
//!
//! `std::process::Command` forks the *outer* process, which runs [`Setup::run`]. It
//! clones the sandbox's init with new namespaces, writes its uid and gid maps from
//! outside (only a process in the parent namespace may map another uid, as a build
//! user needs), lets it go on, and waits for it, passing its exit status on. The init
//! mounts its root, switches to it, sets its limits and returns, and `Command` execs
//! the step's command in it.
//!
//! Both run after a fork of a multi-threaded process, so they may only make system
//! calls: no allocation, no locks. Every path and string is made before the fork, in
//! [`Setup::new`]. A step that fails writes its index and `errno` to the report pipe,
//! which the parent reads ([`Report::failure`]).
//!
//! `unsafe` is allowed in this module only, for the raw calls (`clone`, `mount`,
//! `ioctl`, `prctl`, `waitpid`, `_exit`) that no safe wrapper offers in this context.
#![allow(unsafe_code)]

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsRawFd as _, OwnedFd, RawFd};

use crate::{HOSTNAME, Limits, SandboxError, cstring};

/// The steps, named in errors; a failed step is reported by its index.
const STEPS: &[&str] = &[
    CLONE_STEP,
    "writing the user namespace's uid and gid maps",
    "becoming uid 0 inside",
    "making the mounts private",
    "binding the root file system",
    "binding a mount into the sandbox",
    "making a mount read-only",
    "making /dev",
    "mounting /proc",
    "switching to the new root (pivot_root)",
    "setting the host name",
    "bringing up the loopback interface",
    "setting resource limits",
    "changing to the working directory",
    "starting a new session",
    "dropping privileges",
    OVERLAY_STEP,
];
pub(crate) const CLONE_STEP: &str = "creating namespaces (clone)";
pub(crate) const OVERLAY_STEP: &str = "mounting the root's layers (overlayfs)";
const MAPS: u32 = 1;
const BECOME_ROOT: u32 = 2;
const PRIVATE: u32 = 3;
const ROOT: u32 = 4;
const BIND: u32 = 5;
const READ_ONLY: u32 = 6;
const DEV: u32 = 7;
const PROC: u32 = 8;
const PIVOT: u32 = 9;
const HOST_NAME: u32 = 10;
const LOOPBACK: u32 = 11;
const LIMITS: u32 = 12;
const WORKDIR: u32 = 13;
const SESSION: u32 = 14;
const PRIVILEGES: u32 = 15;
const OVERLAY: u32 = 16;

/// `CAP_SYS_ADMIN`, from `linux/capability.h`.
const CAP_SYS_ADMIN: libc::c_ulong = 21;

/// Device nodes bound from the host.
const DEVICES: &[&str] = &["full", "null", "random", "tty", "urandom", "zero"];
/// Links in `/dev`.
const DEV_LINKS: &[(&str, &str)] = &[
    ("fd", "/proc/self/fd"),
    ("stderr", "/proc/self/fd/2"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
];

/// A host path to be bound at `target`.
pub(crate) struct Bind {
    pub(crate) source: CString,
    pub(crate) target: String,
    pub(crate) writable: bool,
}

/// What the parent keeps open while the child sets up.
pub(crate) struct Prepared {
    pub(crate) root: CString,
    /// The overlay's layers, top first (empty: `root` is a directory bound on itself).
    pub(crate) layers: Vec<CString>,
    pub(crate) binds: Vec<Bind>,
    pub(crate) workdir: CString,
    pub(crate) report: Report,
}

/// The pipe a failed step is reported through: `(step, errno)` as two `u32`s.
pub(crate) struct Report {
    read: OwnedFd,
    write: OwnedFd,
}

impl Report {
    pub(crate) fn new() -> Result<Self, SandboxError> {
        let (read, write) = rustix::pipe::pipe_with(
            rustix::pipe::PipeFlags::CLOEXEC | rustix::pipe::PipeFlags::NONBLOCK,
        )
        .map_err(|e| SandboxError::Setup {
            step: "making a pipe",
            source: e.into(),
        })?;
        Ok(Self { read, write })
    }

    /// The step that failed, if one did.
    pub(crate) fn failure(&self) -> Option<SandboxError> {
        let mut buf = [0u8; 8];
        let n = rustix::io::read(&self.read, &mut buf).ok()?;
        if n != 8 {
            return None;
        }
        let step = u32::from_ne_bytes(buf[..4].try_into().expect("4 bytes"));
        let errno = i32::from_ne_bytes(buf[4..].try_into().expect("4 bytes"));
        Some(SandboxError::Setup {
            step: STEPS.get(step as usize).copied().unwrap_or("setting up"),
            source: io::Error::from_raw_os_error(errno),
        })
    }
}

/// A mount the child makes, every string ready.
struct Planned {
    source: CString,
    target: CString,
    writable: bool,
}

/// Everything the two processes after the fork need, made before it.
pub(crate) struct Setup {
    is_root: bool,
    uid_map: Vec<u8>,
    gid_map: Vec<u8>,
    deny_setgroups: bool,
    sync_read: OwnedFd,
    sync_write: OwnedFd,
    report: RawFd,
    binds: Vec<Planned>,
    devices: Vec<Planned>,
    dev_links: Vec<(CString, CString)>,
    new_root: CString,
    layers: Vec<CString>,
    dev: CString,
    shm: CString,
    proc: CString,
    workdir: CString,
    processes: u64,
    open_files: u64,
    terminal: bool,
}

fn c(text: &str) -> CString {
    CString::new(text).expect("a constant without NUL")
}

impl Setup {
    pub(crate) fn new(
        prepared: &Prepared,
        (uid, gid): (u32, u32),
        limits: Limits,
        terminal: bool,
    ) -> Result<Self, SandboxError> {
        let is_root = rustix::process::geteuid().is_root();
        let (sync_read, sync_write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
            .map_err(|e| SandboxError::Setup {
                step: "making a pipe",
                source: e.into(),
            })?;
        let root = prepared
            .root
            .to_str()
            .expect("the root's path is UTF-8 (checked)");
        let inside = |target: &str| cstring(format!("{root}{target}"));
        let mut binds = Vec::new();
        for bind in &prepared.binds {
            binds.push(Planned {
                source: bind.source.clone(),
                target: inside(&bind.target)?,
                writable: bind.writable,
            });
        }
        // What is made after the switch to the build user is named relative to the
        // root (the working directory then): that user may not reach it from `/`.
        let devices = DEVICES
            .iter()
            .map(|name| Planned {
                source: c(&format!("/dev/{name}")),
                target: c(&format!("dev/{name}")),
                writable: true,
            })
            .collect();
        let dev_links = DEV_LINKS
            .iter()
            .map(|(name, target)| (c(target), c(&format!("dev/{name}"))))
            .collect();
        let hard = rustix::process::getrlimit(rustix::process::Resource::Nofile)
            .maximum
            .unwrap_or(u64::MAX);
        Ok(Self {
            is_root,
            uid_map: format!("0 {uid} 1\n").into_bytes(),
            gid_map: format!("0 {gid} 1\n").into_bytes(),
            deny_setgroups: !is_root,
            sync_read,
            sync_write,
            report: prepared.report.write.as_raw_fd(),
            new_root: prepared.root.clone(),
            layers: prepared.layers.clone(),
            binds,
            devices,
            dev_links,
            dev: c("dev"),
            shm: c("dev/shm"),
            proc: c("proc"),
            workdir: prepared.workdir.clone(),
            processes: limits.processes,
            open_files: limits.open_files.min(hard),
            terminal,
        })
    }

    /// Runs in the forked outer process; returns only in the sandbox's init, ready
    /// for `exec`.
    pub(crate) fn run(&self) -> io::Result<()> {
        // SAFETY: each call below is a plain system call on memory made before the
        // fork; see the module's documentation.
        unsafe {
            // If cairn (the thread that forked us) dies, so do we, and then the init.
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
            if self.is_root {
                // The build user gets no supplementary group of root's.
                libc::setgroups(0, std::ptr::null());
            }
            let flags = libc::CLONE_NEWUSER
                | libc::CLONE_NEWNS
                | libc::CLONE_NEWPID
                | libc::CLONE_NEWNET
                | libc::CLONE_NEWUTS
                | libc::CLONE_NEWIPC
                | libc::CLONE_NEWCGROUP;
            // `clone` without a new stack behaves as `fork`: the child goes on here.
            let pid = libc::syscall(
                libc::SYS_clone,
                libc::c_ulong::from(flags.cast_unsigned()) | libc::SIGCHLD as libc::c_ulong,
                0usize,
                0usize,
                0usize,
                0usize,
            );
            if pid < 0 {
                return Err(self.fail(0));
            }
            if pid > 0 {
                #[allow(clippy::cast_possible_truncation)] // a pid fits pid_t
                self.outer(pid as libc::pid_t);
            }
        }
        self.init()
    }

    /// Reports `step` as failed with the current `errno`, and returns that error.
    fn fail(&self, step: u32) -> io::Error {
        let error = io::Error::last_os_error();
        self.fail_with(step, error.raw_os_error().unwrap_or(libc::EINVAL))
    }

    /// Reports `step` as failed with `errno`, and returns that error.
    fn fail_with(&self, step: u32, errno: i32) -> io::Error {
        let error = io::Error::from_raw_os_error(errno);
        let mut buf = [0u8; 8];
        buf[..4].copy_from_slice(&step.to_ne_bytes());
        buf[4..].copy_from_slice(&errno.to_ne_bytes());
        // SAFETY: a write of a stack buffer to a descriptor we own.
        unsafe {
            libc::write(self.report, buf.as_ptr().cast(), buf.len());
        }
        error
    }

    /// The outer process: maps the init's ids, lets it go on, waits for it and exits
    /// as it did. Never returns.
    unsafe fn outer(&self, pid: libc::pid_t) -> ! {
        unsafe {
            let mut ok = true;
            if self.deny_setgroups {
                ok &= write_proc(pid, b"setgroups\0", b"deny");
            }
            ok = ok
                && write_proc(pid, b"uid_map\0", &self.uid_map)
                && write_proc(pid, b"gid_map\0", &self.gid_map);
            if ok {
                libc::write(self.sync_write.as_raw_fd(), b"x".as_ptr().cast(), 1);
            } else {
                self.fail(MAPS);
                libc::kill(pid, libc::SIGKILL);
            }
            // Nothing of the parent's stays open here (std's error pipe among it: the
            // parent's `spawn` returns when the init execs, not when it ends).
            libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
            let mut status = 0;
            loop {
                let r = libc::waitpid(pid, &raw mut status, 0);
                if r == pid {
                    break;
                }
                if r < 0 && *libc::__errno_location() != libc::EINTR {
                    libc::_exit(127);
                }
            }
            if libc::WIFSIGNALED(status) {
                let signal = libc::WTERMSIG(status);
                libc::signal(signal, libc::SIG_DFL);
                libc::kill(libc::getpid(), signal);
                libc::_exit(128 + signal);
            }
            libc::_exit(libc::WEXITSTATUS(status));
        }
    }

    /// The sandbox's init, before `exec`.
    fn init(&self) -> io::Result<()> {
        // SAFETY: system calls on strings made before the fork.
        unsafe {
            libc::close(self.sync_write.as_raw_fd());
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
            // Wait for the outer process to write the maps (EOF: it failed).
            let mut byte = 0u8;
            if libc::read(self.sync_read.as_raw_fd(), (&raw mut byte).cast(), 1) != 1 {
                libc::_exit(127);
            }
            libc::close(self.sync_read.as_raw_fd());
            // Still the host's uid here: the mounts' sources are reached with its
            // rights (a build user could not enter a store under `/root`).
            self.binds()?;
            // Files the sandbox makes itself (in /dev) need an owner mapped inside.
            check(self, BECOME_ROOT, libc::setresgid(0, 0, 0))?;
            check(self, BECOME_ROOT, libc::setresuid(0, 0, 0))?;
            // A change of uid clears the parent-death signal: set it again.
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
            self.switch_root()?;
            check(
                self,
                HOST_NAME,
                libc::sethostname(HOSTNAME.as_ptr().cast(), HOSTNAME.len()),
            )?;
            self.loopback()?;
            self.limits()?;
            libc::umask(0o022);
            check(self, WORKDIR, libc::chdir(self.workdir.as_ptr()))?;
            if !self.terminal {
                // No controlling terminal: a step cannot read or write the user's.
                check(self, SESSION, libc::setsid())?;
            }
            check(
                self,
                PRIVILEGES,
                libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0),
            )?;
            // Without CAP_SYS_ADMIN, nothing can be remounted writable or unmounted to
            // show what is below.
            check(
                self,
                PRIVILEGES,
                libc::prctl(libc::PR_CAPBSET_DROP, CAP_SYS_ADMIN, 0, 0, 0),
            )?;
        }
        Ok(())
    }

    unsafe fn binds(&self) -> io::Result<()> {
        unsafe {
            let none = std::ptr::null::<libc::c_char>();
            check(
                self,
                PRIVATE,
                libc::mount(
                    none,
                    c"/".as_ptr(),
                    none,
                    libc::MS_REC | libc::MS_PRIVATE,
                    std::ptr::null(),
                ),
            )?;
            if self.layers.is_empty() {
                // The root bound on itself: a mount of its own, to switch to.
                self.bind(ROOT, &self.new_root, &self.new_root, true)?;
            } else {
                self.overlay()?;
            }
            for bind in &self.binds {
                self.bind(BIND, &bind.source, &bind.target, bind.writable)?;
            }
            check(self, PIVOT, libc::chdir(self.new_root.as_ptr()))?;
        }
        Ok(())
    }

    /// Mounts the union of the layers at the new root, with the new mount API:
    /// `lowerdir+` takes one layer at a time (Linux 6.8), so there is no limit of one
    /// page of options and no escaping of `:` in paths. Only lower layers: the overlay
    /// is read-only.
    fn overlay(&self) -> io::Result<()> {
        use rustix::mount::{
            FsMountFlags, FsOpenFlags, MountAttrFlags, MoveMountFlags, fsconfig_create,
            fsconfig_set_string, fsmount, fsopen, move_mount,
        };
        let fail = |e: rustix::io::Errno| self.fail_with(OVERLAY, e.raw_os_error());
        let fs = fsopen(c"overlay", FsOpenFlags::FSOPEN_CLOEXEC).map_err(fail)?;
        for layer in &self.layers {
            fsconfig_set_string(&fs, c"lowerdir+", layer.as_c_str()).map_err(fail)?;
        }
        fsconfig_create(&fs).map_err(fail)?;
        let mount =
            fsmount(&fs, FsMountFlags::FSMOUNT_CLOEXEC, MountAttrFlags::empty()).map_err(fail)?;
        move_mount(
            &mount,
            c"",
            rustix::fs::CWD,
            self.new_root.as_c_str(),
            MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
        )
        .map_err(fail)
    }

    unsafe fn switch_root(&self) -> io::Result<()> {
        unsafe {
            self.dev()?;
            check(
                self,
                PROC,
                libc::mount(
                    c"proc".as_ptr(),
                    self.proc.as_ptr(),
                    c"proc".as_ptr(),
                    libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                    std::ptr::null(),
                ),
            )?;
            self.read_only(c".")?;
            check(
                self,
                PIVOT,
                -i32::from(libc::syscall(libc::SYS_pivot_root, c".".as_ptr(), c".".as_ptr()) != 0),
            )?;
            // The old root is stacked on the new one: detach it, and the host is gone.
            check(self, PIVOT, libc::umount2(c".".as_ptr(), libc::MNT_DETACH))?;
            check(self, PIVOT, libc::chdir(c"/".as_ptr()))?;
        }
        Ok(())
    }

    unsafe fn bind(
        &self,
        step: u32,
        source: &CStr,
        target: &CStr,
        writable: bool,
    ) -> io::Result<()> {
        unsafe {
            check(
                self,
                step,
                libc::mount(
                    source.as_ptr(),
                    target.as_ptr(),
                    std::ptr::null(),
                    libc::MS_BIND | libc::MS_REC,
                    std::ptr::null(),
                ),
            )?;
            // The root is made read-only last, once its mount points are used.
            if !writable && step != ROOT {
                self.read_only(target)?;
            }
        }
        Ok(())
    }

    /// Remounts a bind mount read-only, keeping the flags the kernel locks on it
    /// (`nosuid`, `nodev`, … of the host's mount: dropping one would be refused).
    unsafe fn read_only(&self, target: &CStr) -> io::Result<()> {
        unsafe {
            let mut stat: libc::statvfs = std::mem::zeroed();
            check(
                self,
                READ_ONLY,
                libc::statvfs(target.as_ptr(), &raw mut stat),
            )?;
            let mut flags = libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY;
            for (st, ms) in [
                (libc::ST_NOSUID, libc::MS_NOSUID),
                (libc::ST_NODEV, libc::MS_NODEV),
                (libc::ST_NOEXEC, libc::MS_NOEXEC),
                (libc::ST_NOATIME, libc::MS_NOATIME),
                (libc::ST_NODIRATIME, libc::MS_NODIRATIME),
                (libc::ST_RELATIME, libc::MS_RELATIME),
            ] {
                if stat.f_flag & st != 0 {
                    flags |= ms;
                }
            }
            check(
                self,
                READ_ONLY,
                libc::mount(
                    std::ptr::null(),
                    target.as_ptr(),
                    std::ptr::null(),
                    flags,
                    std::ptr::null(),
                ),
            )?;
        }
        Ok(())
    }

    unsafe fn dev(&self) -> io::Result<()> {
        unsafe {
            check(
                self,
                DEV,
                libc::mount(
                    c"tmpfs".as_ptr(),
                    self.dev.as_ptr(),
                    c"tmpfs".as_ptr(),
                    libc::MS_NOSUID | libc::MS_NOEXEC,
                    c"mode=0755,size=64k".as_ptr().cast(),
                ),
            )?;
            for device in &self.devices {
                let fd = libc::open(
                    device.target.as_ptr(),
                    libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC,
                    0o666,
                );
                check(self, DEV, fd)?;
                libc::close(fd);
                check(
                    self,
                    DEV,
                    libc::mount(
                        device.source.as_ptr(),
                        device.target.as_ptr(),
                        std::ptr::null(),
                        libc::MS_BIND,
                        std::ptr::null(),
                    ),
                )?;
            }
            for (target, link) in &self.dev_links {
                check(self, DEV, libc::symlink(target.as_ptr(), link.as_ptr()))?;
            }
            check(self, DEV, libc::mkdir(self.shm.as_ptr(), 0o1777))?;
            check(
                self,
                DEV,
                libc::mount(
                    c"tmpfs".as_ptr(),
                    self.shm.as_ptr(),
                    c"tmpfs".as_ptr(),
                    libc::MS_NOSUID | libc::MS_NODEV,
                    c"mode=1777".as_ptr().cast(),
                ),
            )?;
            // Nothing new can be made in /dev itself.
            self.read_only(&self.dev)?;
        }
        Ok(())
    }

    /// `ip link set lo up`: the only interface of the new network namespace.
    unsafe fn loopback(&self) -> io::Result<()> {
        unsafe {
            let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
            check(self, LOOPBACK, fd)?;
            let mut request: libc::ifreq = std::mem::zeroed();
            for (i, b) in b"lo".iter().enumerate() {
                request.ifr_name[i] = (*b).cast_signed();
            }
            check(
                self,
                LOOPBACK,
                libc::ioctl(fd, libc::SIOCGIFFLAGS, &raw mut request),
            )?;
            #[allow(clippy::cast_possible_truncation)] // the flags are the low 16 bits
            let up = (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
            request.ifr_ifru.ifru_flags |= up;
            check(
                self,
                LOOPBACK,
                libc::ioctl(fd, libc::SIOCSIFFLAGS, &raw const request),
            )?;
            libc::close(fd);
        }
        Ok(())
    }

    unsafe fn limits(&self) -> io::Result<()> {
        unsafe {
            for (resource, value) in [
                (libc::RLIMIT_NPROC, self.processes),
                (libc::RLIMIT_NOFILE, self.open_files),
                (libc::RLIMIT_CORE, 0),
            ] {
                let limit = libc::rlimit {
                    rlim_cur: value,
                    rlim_max: value,
                };
                check(self, LIMITS, libc::setrlimit(resource, &raw const limit))?;
            }
        }
        Ok(())
    }
}

/// `Err` (reported as `step`) when a system call returned a negative value.
fn check(setup: &Setup, step: u32, result: i32) -> io::Result<()> {
    if result < 0 {
        Err(setup.fail(step))
    } else {
        Ok(())
    }
}

/// Writes `content` to `/proc/<pid>/<file>` (`file` ends in NUL), without allocating.
unsafe fn write_proc(pid: libc::pid_t, file: &[u8], content: &[u8]) -> bool {
    let mut path = [0u8; 64];
    let mut len = 0;
    let mut push = |bytes: &[u8]| {
        path[len..len + bytes.len()].copy_from_slice(bytes);
        len += bytes.len();
    };
    push(b"/proc/");
    let mut digits = [0u8; 12];
    let mut n = pid.cast_unsigned();
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    push(&digits[i..]);
    push(b"/");
    push(file);
    unsafe {
        let fd = libc::open(path.as_ptr().cast(), libc::O_WRONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return false;
        }
        let written = libc::write(fd, content.as_ptr().cast(), content.len());
        libc::close(fd);
        written == content.len().cast_signed()
    }
}
