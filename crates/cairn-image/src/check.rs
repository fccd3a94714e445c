//! Checks before anything is written: the image's entrypoint can run.
//!
//! The program (the entrypoint, or the first element of `cmd`) must be in the root file
//! system (through its symlinks), be a regular file with an executable bit, and be
//! something the kernel runs:
//!
//! - an ELF program for the image's architecture, whose program interpreter
//!   (`PT_INTERP`, e.g. `/lib64/ld-linux-x86-64.so.2`) is in the image and whose shared
//!   libraries (`DT_NEEDED`, transitively) are found where glibc's `ld.so` looks for them;
//! - or a `#!` script whose interpreter passes the same checks (at most
//!   [`MAX_INTERPRETER_DEPTH`] levels), and for `#!/usr/bin/env NAME`, `NAME` is on `PATH`.
//!
//! Libraries are looked up as `ld.so` does, breadth first, each name once: a name with a
//! `/` is a path; otherwise `DT_RPATH` of the object and of the objects that loaded it up
//! to the program (each only when that object has no `DT_RUNPATH`, and none at all when
//! the object needing the library has a `DT_RUNPATH`), then the object's own
//! `DT_RUNPATH`, then the directories of `/etc/ld.so.conf` (only when the image has an
//! `/etc/ld.so.cache`, since `ld.so` reads the cache, not the configuration), then
//! Debian's system directories `/lib/<multiarch>`, `/usr/lib/<multiarch>`, `/lib`,
//! `/usr/lib`. `$ORIGIN` is the directory of the object (for the program, after
//! following symlinks, as `/proc/self/exe` gives it); `$LIB` is `lib/<multiarch>`, as on
//! Debian; a path element with another `$` token is skipped. A candidate file of another
//! class or machine is skipped, as `ld.so` does. `LD_LIBRARY_PATH`, `LD_PRELOAD` and
//! `glibc-hwcaps` subdirectories are not considered.
//!
//! Files are only ever read through [`Rootfs::read`]. ELF files are parsed here (program
//! headers and the dynamic section, 32- and 64-bit, either byte order): it is all a check
//! needs, and it keeps a parsing crate out of the dependency tree.

use std::collections::HashSet;
use std::fmt::Write as _;

use cairn_oci::EntryKind;

use crate::rootfs::{Rootfs, RootfsEntry};

/// Docker's default `PATH`, for images that set none.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// `env` (`NAME=value`, in order) with `PATH=`[`DEFAULT_PATH`] first unless it sets
/// `PATH` itself.
pub fn with_default_path(env: Vec<String>) -> Vec<String> {
    if env.iter().any(|e| e.starts_with("PATH=")) {
        return env;
    }
    let mut with_path = vec![format!("PATH={DEFAULT_PATH}")];
    with_path.extend(env);
    with_path
}

/// How many `#!` interpreters may be stacked (a script run by a script…), as the kernel
/// allows.
pub const MAX_INTERPRETER_DEPTH: usize = 4;

/// What the checks need to know about the image.
pub struct CheckOptions<'a> {
    /// The Debian multiarch triplet, e.g. `"x86_64-linux-gnu"` (amd64) or
    /// `"aarch64-linux-gnu"` (arm64); see [`multiarch_triplet`]. An unknown triplet
    /// turns off the architecture check (library directories still use it).
    pub multiarch: &'a str,
    /// Suggests the package providing a missing library by its soname (e.g. from package
    /// names: `libssl.so.3` → `libssl3t64`); may return `None`.
    pub provider_hint: &'a dyn Fn(&str) -> Option<String>,
    /// The image's `PATH` (from its config's `Env`), for a program given without a `/`
    /// and for `#!/usr/bin/env NAME`; `None` means [`DEFAULT_PATH`].
    pub env_path: Option<&'a str>,
}

/// Why the entrypoint would not run.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("`{path}` is not in the image (or is a symlink that leads nowhere in it)")]
    MissingEntrypoint { path: String },
    #[error("`{command}` is not in any directory of PATH ({search_path})")]
    MissingCommand {
        command: String,
        search_path: String,
    },
    #[error("`{path}` is not executable (mode {mode:04o})")]
    NotExecutable { path: String, mode: u32 },
    #[error("`{path}` is a {kind}, not a program")]
    NotAFile { path: String, kind: &'static str },
    #[error("`{path}` is neither an ELF program nor a `#!` script, so the kernel cannot run it")]
    NotAProgram { path: String },
    #[error("`{program}` needs the program interpreter `{interpreter}`, which is not in the image")]
    MissingInterpreter {
        program: String,
        interpreter: String,
    },
    #[error(
        "`{program}` needs `{library}`{}, which is not in the image (searched {}){}",
        through(.needed_by.as_deref()),
        .searched.join(", "),
        provided_by(.hint.as_deref())
    )]
    MissingLibrary {
        /// The program being checked (as named: the entrypoint or an interpreter).
        program: String,
        library: String,
        /// The library that needs it, when it is not the program itself.
        needed_by: Option<String>,
        /// The directories searched, in order.
        searched: Vec<String>,
        /// The package that provides it, when known.
        hint: Option<String>,
    },
    #[error("`{path}` is not a valid ELF file: {reason}")]
    BadElf { path: String, reason: String },
    #[error("`{path}` is a program for {found}, but the image is for {expected}")]
    WrongArchitecture {
        path: String,
        found: String,
        expected: String,
    },
    #[error("`{path}` has a bad `#!` line: {reason}")]
    BadScript { path: String, reason: String },
    #[error("`{script}` starts with `{shebang}`, but {cause}")]
    Script {
        script: String,
        /// The `#!` line.
        shebang: String,
        /// What is wrong with its interpreter.
        cause: Box<CheckError>,
    },
    #[error("`{path}`: more than {MAX_INTERPRETER_DEPTH} levels of `#!` interpreters")]
    TooManyInterpreters { path: String },
    #[error("could not read `{path}` from the image: {error}")]
    Read { path: String, error: std::io::Error },
}

fn through(needed_by: Option<&str>) -> String {
    needed_by.map_or_else(String::new, |lib| format!(" (through `{lib}`)"))
}

fn provided_by(hint: Option<&str>) -> String {
    hint.map_or_else(String::new, |package| {
        format!("; the package `{package}` provides it")
    })
}

/// The multiarch triplet of a Debian architecture (`amd64` → `x86_64-linux-gnu`).
pub fn multiarch_triplet(arch: &str) -> Option<&'static str> {
    architecture(arch).map(|a| a.1)
}

/// The OCI name of a Debian architecture (`armhf` → `arm`, as Go's `GOARCH` names it;
/// the `arm` variants matter only to multi-platform indexes).
pub fn oci_architecture(arch: &str) -> Option<&'static str> {
    architecture(arch).map(|a| a.2)
}

/// Debian's architectures cairn knows: `(Debian, multiarch triplet, OCI)`.
const ARCHITECTURES: &[(&str, &str, &str)] = &[
    ("amd64", "x86_64-linux-gnu", "amd64"),
    ("arm64", "aarch64-linux-gnu", "arm64"),
    ("i386", "i386-linux-gnu", "386"),
    ("armhf", "arm-linux-gnueabihf", "arm"),
    ("armel", "arm-linux-gnueabi", "arm"),
    ("ppc64el", "powerpc64le-linux-gnu", "ppc64le"),
    ("s390x", "s390x-linux-gnu", "s390x"),
    ("riscv64", "riscv64-linux-gnu", "riscv64"),
    ("mips64el", "mips64el-linux-gnuabi64", "mips64le"),
];

fn architecture(arch: &str) -> Option<&'static (&'static str, &'static str, &'static str)> {
    ARCHITECTURES.iter().find(|a| a.0 == arch)
}

/// Checks that `program` (an absolute path as in the image config, or a name looked up
/// on the image's `PATH`) would run in `rootfs`.
pub fn check_entrypoint(
    rootfs: &Rootfs,
    program: &str,
    options: &CheckOptions<'_>,
) -> Result<(), CheckError> {
    let checker = Checker {
        rootfs,
        options,
        target: Target::of_multiarch(options.multiarch),
        conf_dirs: ld_so_conf_dirs(rootfs),
    };
    let path = if program.contains('/') {
        program.to_owned()
    } else {
        checker.which(program)?
    };
    checker.check_program(&path, 0)
}

/// What an ELF file is built for: class, byte order and machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Target {
    wide: bool,
    big: bool,
    machine: u16,
}

impl Target {
    fn of_multiarch(multiarch: &str) -> Option<Self> {
        let (wide, big, machine) = match multiarch {
            "x86_64-linux-gnu" => (true, false, 62),
            "aarch64-linux-gnu" => (true, false, 183),
            "i386-linux-gnu" => (false, false, 3),
            "arm-linux-gnueabihf" | "arm-linux-gnueabi" => (false, false, 40),
            "powerpc64le-linux-gnu" => (true, false, 21),
            "s390x-linux-gnu" => (true, true, 22),
            "riscv64-linux-gnu" => (true, false, 243),
            "mips64el-linux-gnuabi64" => (true, false, 8),
            _ => return None,
        };
        Some(Self { wide, big, machine })
    }

    fn describe(self) -> String {
        let machine = match self.machine {
            3 => "i386".to_owned(),
            8 => "MIPS".to_owned(),
            21 => "PowerPC64".to_owned(),
            22 => "S/390".to_owned(),
            40 => "ARM".to_owned(),
            62 => "x86-64".to_owned(),
            183 => "AArch64".to_owned(),
            243 => "RISC-V".to_owned(),
            other => format!("ELF machine {other}"),
        };
        format!(
            "{machine} ({}-bit, {}-endian)",
            if self.wide { 64 } else { 32 },
            if self.big { "big" } else { "little" }
        )
    }
}

struct Checker<'a> {
    rootfs: &'a Rootfs,
    options: &'a CheckOptions<'a>,
    /// The image's architecture, when its triplet is known.
    target: Option<Target>,
    /// Directories from `/etc/ld.so.conf`, when the image has an `ld.so.cache`.
    conf_dirs: Vec<String>,
}

/// An object in the breadth-first walk of the libraries.
struct Object {
    /// As found (`/usr/lib/x86_64-linux-gnu/libz.so.1`), or the program's real path.
    path: String,
    /// What `$ORIGIN` expands to.
    origin: String,
    rpath: Option<String>,
    runpath: Option<String>,
    /// Index of the object that needed this one.
    loader: Option<usize>,
}

/// A library as found.
struct Found {
    /// Directory searched joined with the name (what `$ORIGIN` is taken from).
    path: String,
    /// After following symlinks: one file is loaded once.
    real: String,
    elf: Elf,
}

fn is_regular(entry: &RootfsEntry) -> bool {
    matches!(
        entry.entry.kind,
        EntryKind::File { .. } | EntryKind::Bytes(_) | EntryKind::HardLink { .. }
    )
}

fn kind_name(kind: &EntryKind) -> &'static str {
    match kind {
        EntryKind::Directory => "directory",
        EntryKind::Symlink { .. } => "symlink",
        EntryKind::CharDevice { .. } => "character device",
        EntryKind::BlockDevice { .. } => "block device",
        EntryKind::Fifo => "FIFO",
        EntryKind::File { .. } | EntryKind::Bytes(_) | EntryKind::HardLink { .. } => "file",
    }
}

/// `/usr/bin` for `/usr/bin/true`, `/` for `/init`.
fn dirname(path: &str) -> String {
    match path.rfind('/') {
        Some(0) | None => "/".to_owned(),
        Some(i) => path[..i].to_owned(),
    }
}

fn join(dir: &str, name: &str) -> String {
    format!("{}/{name}", dir.trim_end_matches('/'))
}

fn absolute(real: &[u8]) -> String {
    format!("/{}", String::from_utf8_lossy(real))
}

impl Checker<'_> {
    fn search_path(&self) -> &str {
        self.options.env_path.unwrap_or(DEFAULT_PATH)
    }

    /// Finds a command on `PATH` as `execvp` does: the first executable regular file.
    fn which(&self, command: &str) -> Result<String, CheckError> {
        self.search_path()
            .split(':')
            .filter(|dir| !dir.is_empty())
            .map(|dir| join(dir, command))
            .find(|candidate| {
                self.rootfs
                    .resolve(candidate.as_bytes())
                    .is_some_and(|(_, e)| is_regular(e) && e.entry.mode & 0o111 != 0)
            })
            .ok_or_else(|| CheckError::MissingCommand {
                command: command.to_owned(),
                search_path: self.search_path().to_owned(),
            })
    }

    fn read(&self, path: &str, entry: &RootfsEntry) -> Result<Vec<u8>, CheckError> {
        self.rootfs.read(entry).map_err(|error| CheckError::Read {
            path: path.to_owned(),
            error,
        })
    }

    /// The real path and entry of something to execute: a regular file with an
    /// executable bit.
    fn executable(&self, path: &str) -> Result<(String, &RootfsEntry), CheckError> {
        let (real, entry) =
            self.rootfs
                .resolve(path.as_bytes())
                .ok_or_else(|| CheckError::MissingEntrypoint {
                    path: path.to_owned(),
                })?;
        if !is_regular(entry) {
            return Err(CheckError::NotAFile {
                path: path.to_owned(),
                kind: kind_name(&entry.entry.kind),
            });
        }
        if entry.entry.mode & 0o111 == 0 {
            return Err(CheckError::NotExecutable {
                path: path.to_owned(),
                mode: entry.entry.mode & 0o7777,
            });
        }
        Ok((absolute(&real), entry))
    }

    fn check_program(&self, path: &str, depth: usize) -> Result<(), CheckError> {
        if depth > MAX_INTERPRETER_DEPTH {
            return Err(CheckError::TooManyInterpreters {
                path: path.to_owned(),
            });
        }
        let (real, entry) = self.executable(path)?;
        let bytes = self.read(path, entry)?;
        if bytes.starts_with(b"#!") {
            self.check_script(path, &bytes, depth)
        } else if bytes.starts_with(ELF_MAGIC) {
            let elf = Elf::parse(&bytes).map_err(|reason| CheckError::BadElf {
                path: path.to_owned(),
                reason,
            })?;
            drop(bytes);
            self.check_elf(path, &real, &elf)
        } else {
            Err(CheckError::NotAProgram {
                path: path.to_owned(),
            })
        }
    }

    fn check_script(&self, path: &str, bytes: &[u8], depth: usize) -> Result<(), CheckError> {
        let first = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
        let line = String::from_utf8_lossy(&first[2..]);
        let bad = |reason: &str| CheckError::BadScript {
            path: path.to_owned(),
            reason: reason.to_owned(),
        };
        if line.ends_with('\r') {
            return Err(bad(
                "it ends with a carriage return (DOS line endings), which the kernel takes as part of the interpreter's name",
            ));
        }
        // As the kernel splits it: the interpreter up to the first blank, then at most
        // one argument, the rest of the line without surrounding blanks.
        let line = line.trim_matches([' ', '\t']);
        let (interpreter, argument) = match line.find([' ', '\t']) {
            Some(i) => (&line[..i], line[i..].trim_matches([' ', '\t'])),
            None => (line, ""),
        };
        if interpreter.is_empty() {
            return Err(bad("it names no interpreter"));
        }
        let wrap = |cause: CheckError| CheckError::Script {
            script: path.to_owned(),
            shebang: format!("#!{line}"),
            cause: Box::new(cause),
        };
        self.check_program(interpreter, depth + 1).map_err(wrap)?;
        if interpreter.rsplit('/').next() == Some("env")
            && let Some(command) = env_command(argument)
        {
            let found = if command.contains('/') {
                command.to_owned()
            } else {
                self.which(command).map_err(wrap)?
            };
            self.check_program(&found, depth + 1).map_err(wrap)?;
        }
        Ok(())
    }

    fn check_elf(&self, program: &str, real: &str, elf: &Elf) -> Result<(), CheckError> {
        if let Some(expected) = self.target
            && elf.target != expected
        {
            return Err(CheckError::WrongArchitecture {
                path: program.to_owned(),
                found: elf.target.describe(),
                expected: format!("{} ({})", expected.describe(), self.options.multiarch),
            });
        }
        if !matches!(elf.kind, ET_EXEC | ET_DYN) {
            return Err(CheckError::BadElf {
                path: program.to_owned(),
                reason: format!("it is not a program (ELF type {})", elf.kind),
            });
        }
        let mut names = HashSet::new();
        let mut files = HashSet::from([real.to_owned()]);
        match &elf.interp {
            Some(interpreter) => {
                let (interp_real, interp) = self.check_interpreter(program, interpreter, elf)?;
                names.extend(interp.soname);
                files.insert(interp_real);
            }
            None if elf.needed.is_empty() => return Ok(()),
            None => {
                return Err(CheckError::BadElf {
                    path: program.to_owned(),
                    reason: "it needs shared libraries but names no program interpreter (a library, not a program?)".to_owned(),
                });
            }
        }
        self.check_libraries(program, real, elf, names, files)
    }

    /// The interpreter's real path and parsed headers.
    fn check_interpreter(
        &self,
        program: &str,
        interpreter: &str,
        elf: &Elf,
    ) -> Result<(String, Elf), CheckError> {
        if self.rootfs.resolve(interpreter.as_bytes()).is_none() {
            return Err(CheckError::MissingInterpreter {
                program: program.to_owned(),
                interpreter: interpreter.to_owned(),
            });
        }
        let (real, entry) = self.executable(interpreter)?;
        let bytes = self.read(interpreter, entry)?;
        let interp = Elf::parse(&bytes).map_err(|reason| CheckError::BadElf {
            path: interpreter.to_owned(),
            reason,
        })?;
        if interp.target != elf.target {
            return Err(CheckError::WrongArchitecture {
                path: interpreter.to_owned(),
                found: interp.target.describe(),
                expected: elf.target.describe(),
            });
        }
        Ok((real, interp))
    }

    /// Walks the libraries breadth first, as `ld.so` loads them.
    fn check_libraries(
        &self,
        program: &str,
        real: &str,
        elf: &Elf,
        mut names: HashSet<String>,
        mut files: HashSet<String>,
    ) -> Result<(), CheckError> {
        let mut objects = vec![Object {
            path: real.to_owned(),
            origin: dirname(real),
            rpath: elf.rpath.clone(),
            runpath: elf.runpath.clone(),
            loader: None,
        }];
        let mut needs = vec![elf.needed.clone()];
        let mut index = 0;
        while index < objects.len() {
            for name in std::mem::take(&mut needs[index]) {
                if names.contains(&name) {
                    continue;
                }
                let (searched, found) = self.find_library(&objects, index, &name, elf.target)?;
                let Some(Found {
                    path,
                    real: lib_real,
                    elf: lib,
                }) = found
                else {
                    return Err(CheckError::MissingLibrary {
                        program: program.to_owned(),
                        needed_by: (index > 0).then(|| objects[index].path.clone()),
                        hint: (self.options.provider_hint)(&name),
                        library: name,
                        searched,
                    });
                };
                names.insert(name);
                names.extend(lib.soname);
                if files.insert(lib_real) {
                    objects.push(Object {
                        origin: dirname(&path),
                        path,
                        rpath: lib.rpath,
                        runpath: lib.runpath,
                        loader: Some(index),
                    });
                    needs.push(lib.needed);
                }
            }
            index += 1;
        }
        Ok(())
    }

    /// The directories searched for a library `objects[index]` needs, in order.
    fn library_dirs(&self, objects: &[Object], index: usize) -> Vec<String> {
        let object = &objects[index];
        let mut dirs = Vec::new();
        if object.runpath.is_none() {
            let mut next = Some(index);
            while let Some(i) = next {
                let o = &objects[i];
                if o.runpath.is_none()
                    && let Some(rpath) = &o.rpath
                {
                    dirs.extend(self.expand(rpath, &o.origin));
                }
                next = o.loader;
            }
        }
        if let Some(runpath) = &object.runpath {
            dirs.extend(self.expand(runpath, &object.origin));
        }
        dirs.extend(self.conf_dirs.iter().cloned());
        let multiarch = self.options.multiarch;
        if !multiarch.is_empty() {
            dirs.push(format!("/lib/{multiarch}"));
            dirs.push(format!("/usr/lib/{multiarch}"));
        }
        dirs.push("/lib".to_owned());
        dirs.push("/usr/lib".to_owned());
        let mut seen = HashSet::new();
        dirs.retain(|d| seen.insert(d.clone()));
        dirs
    }

    /// The elements of an `RPATH`/`RUNPATH` with `$ORIGIN` and `$LIB` expanded.
    fn expand(&self, search: &str, origin: &str) -> Vec<String> {
        search
            .split(':')
            .filter_map(|element| {
                let expanded = expand_tokens(element, origin, self.options.multiarch)?;
                let trimmed = expanded.trim_end_matches('/');
                match trimmed {
                    "" if expanded.is_empty() => None,
                    "" => Some("/".to_owned()),
                    _ => Some(trimmed.to_owned()),
                }
            })
            .collect()
    }

    /// Where `name` is found, with the directories searched.
    fn find_library(
        &self,
        objects: &[Object],
        index: usize,
        name: &str,
        target: Target,
    ) -> Result<(Vec<String>, Option<Found>), CheckError> {
        let candidates: Vec<(String, String)> = if name.contains('/') {
            let path = expand_tokens(name, &objects[index].origin, self.options.multiarch)
                .unwrap_or_else(|| name.to_owned());
            vec![(dirname(&path), path)]
        } else {
            self.library_dirs(objects, index)
                .into_iter()
                .map(|dir| {
                    let path = join(&dir, name);
                    (dir, path)
                })
                .collect()
        };
        let searched = candidates.iter().map(|(dir, _)| dir.clone()).collect();
        for (_, path) in candidates {
            let Some((real, entry)) = self.rootfs.resolve(path.as_bytes()) else {
                continue;
            };
            if !is_regular(entry) {
                continue;
            }
            let bytes = self.read(&path, entry)?;
            let lib = Elf::parse(&bytes).map_err(|reason| CheckError::BadElf {
                path: path.clone(),
                reason,
            })?;
            if lib.target != target {
                // `ld.so` skips a library of another class or machine.
                continue;
            }
            if lib.kind != ET_DYN {
                return Err(CheckError::BadElf {
                    path,
                    reason: "it is not a shared library".to_owned(),
                });
            }
            return Ok((
                searched,
                Some(Found {
                    path,
                    real: absolute(&real),
                    elf: lib,
                }),
            ));
        }
        Ok((searched, None))
    }
}

/// The command `#!/usr/bin/env ARGUMENT` runs, when it can be told: the kernel passes
/// the argument as one word, which `env` splits only after `-S`.
fn env_command(argument: &str) -> Option<&str> {
    if let Some(rest) = argument.strip_prefix("-S") {
        return rest
            .split_whitespace()
            .find(|word| !word.starts_with('-') && !word.contains('='));
    }
    if argument.is_empty() || argument.starts_with('-') || argument.contains('=') {
        return None;
    }
    Some(argument)
}

/// Expands `$ORIGIN` and `$LIB` (bare or in braces); `None` for another `$` token,
/// which makes `ld.so` drop the element.
fn expand_tokens(element: &str, origin: &str, multiarch: &str) -> Option<String> {
    let mut out = String::new();
    let mut rest = element;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        rest = &rest[i + 1..];
        let (token, after) = if let Some(braced) = rest.strip_prefix('{') {
            let end = braced.find('}')?;
            (&braced[..end], &braced[end + 1..])
        } else {
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            (&rest[..end], &rest[end..])
        };
        match token {
            "ORIGIN" => out.push_str(origin),
            "LIB" if !multiarch.is_empty() => {
                let _ = write!(out, "lib/{multiarch}");
            }
            _ => return None,
        }
        rest = after;
    }
    out.push_str(rest);
    while out.contains("//") {
        out = out.replace("//", "/");
    }
    Some(out)
}

/// The directories `ldconfig` would put in `/etc/ld.so.cache`, when the image has one.
fn ld_so_conf_dirs(rootfs: &Rootfs) -> Vec<String> {
    let mut dirs = Vec::new();
    if rootfs
        .resolve(b"etc/ld.so.cache")
        .is_some_and(|(_, e)| is_regular(e))
    {
        read_ld_so_conf(rootfs, "/etc/ld.so.conf", &mut dirs, 0);
    }
    dirs
}

/// Reads one configuration file (best effort, as it only approximates the cache).
fn read_ld_so_conf(rootfs: &Rootfs, file: &str, dirs: &mut Vec<String>, depth: usize) {
    if depth > 8 {
        return;
    }
    let Some((_, entry)) = rootfs.resolve(file.as_bytes()) else {
        return;
    };
    let Ok(bytes) = rootfs.read(entry) else {
        return;
    };
    for line in String::from_utf8_lossy(&bytes).lines() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if let Some(patterns) = line
            .strip_prefix("include")
            .filter(|rest| rest.starts_with([' ', '\t']))
        {
            for pattern in patterns.split_whitespace() {
                let pattern = if pattern.starts_with('/') {
                    pattern.to_owned()
                } else {
                    join(&dirname(file), pattern)
                };
                for included in glob(rootfs, &pattern) {
                    read_ld_so_conf(rootfs, &included, dirs, depth + 1);
                }
            }
        } else if !line.starts_with("hwcap") {
            dirs.extend(
                line.split([' ', '\t', ':', ','])
                    .filter(|d| d.starts_with('/'))
                    .map(|d| match d.trim_end_matches('/') {
                        "" => "/".to_owned(),
                        d => d.to_owned(),
                    }),
            );
        }
    }
}

/// The files matching `pattern`, whose last component may hold `*` and `?`, in order.
fn glob(rootfs: &Rootfs, pattern: &str) -> Vec<String> {
    let (dir, name_pattern) = (dirname(pattern), pattern.rsplit('/').next().unwrap_or(""));
    if !name_pattern.contains(['*', '?']) {
        return vec![pattern.to_owned()];
    }
    let Some((real, _)) = rootfs.resolve(dir.as_bytes()) else {
        return Vec::new();
    };
    let prefix = if real.is_empty() {
        Vec::new()
    } else {
        [real.as_slice(), b"/"].concat()
    };
    rootfs
        .entries
        .range(prefix.clone()..)
        .take_while(|(path, _)| path.starts_with(&prefix))
        .filter_map(|(path, _)| {
            let name = &path[prefix.len()..];
            let hidden = name.starts_with(b".") && !name_pattern.starts_with('.');
            (!name.contains(&b'/') && !hidden && wildcard(name_pattern.as_bytes(), name))
                .then(|| join(&dir, &String::from_utf8_lossy(name)))
        })
        .collect()
}

/// `fnmatch` for `*` and `?` only, in linear time: on a mismatch, the last `*` takes
/// one more byte (a recursive matcher is exponential in the number of `*`s).
fn wildcard(pattern: &[u8], name: &[u8]) -> bool {
    let (mut p, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, n));
                p += 1;
            }
            Some(&c) if c == b'?' || c == name[n] => {
                p += 1;
                n += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    star = Some((sp, sn + 1));
                    p = sp + 1;
                    n = sn + 1;
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

// --- ELF ---------------------------------------------------------------------------

const ELF_MAGIC: &[u8] = b"\x7fELF";
const ET_EXEC: u16 = 2;
const ET_DYN: u16 = 3;
const PT_LOAD: u32 = 1;
const PT_DYNAMIC: u32 = 2;
const PT_INTERP: u32 = 3;
const DT_NULL: u64 = 0;
const DT_NEEDED: u64 = 1;
const DT_STRTAB: u64 = 5;
const DT_STRSZ: u64 = 10;
const DT_SONAME: u64 = 14;
const DT_RPATH: u64 = 15;
const DT_RUNPATH: u64 = 29;
/// `e_phnum` when the real count is in the first section header's `sh_info`.
const PN_XNUM: u16 = 0xffff;

/// What the checks need from an ELF file.
#[derive(Debug)]
struct Elf {
    target: Target,
    /// `e_type`.
    kind: u16,
    interp: Option<String>,
    needed: Vec<String>,
    soname: Option<String>,
    rpath: Option<String>,
    runpath: Option<String>,
}

/// Bounds-checked reads of an ELF file's fields.
struct Reader<'a> {
    bytes: &'a [u8],
    wide: bool,
    big: bool,
}

fn at(base: u64, offset: u64) -> Result<u64, String> {
    base.checked_add(offset)
        .ok_or_else(|| "an offset overflows".to_owned())
}

impl Reader<'_> {
    fn slice(&self, offset: u64, len: u64) -> Result<&[u8], String> {
        usize::try_from(offset)
            .ok()
            .zip(usize::try_from(len).ok())
            .and_then(|(start, len)| self.bytes.get(start..start.checked_add(len)?))
            .ok_or_else(|| {
                format!(
                    "it is truncated ({len} bytes at offset {offset}, past its end at {})",
                    self.bytes.len()
                )
            })
    }

    fn array<const N: usize>(&self, base: u64, offset: u64) -> Result<[u8; N], String> {
        let slice = self.slice(at(base, offset)?, N as u64)?;
        <[u8; N]>::try_from(slice).map_err(|_| "a field has the wrong size".to_owned())
    }

    fn u16(&self, base: u64, offset: u64) -> Result<u16, String> {
        let b = self.array(base, offset)?;
        Ok(if self.big {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    }

    fn u32(&self, base: u64, offset: u64) -> Result<u32, String> {
        let b = self.array(base, offset)?;
        Ok(if self.big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    }

    fn u64(&self, base: u64, offset: u64) -> Result<u64, String> {
        let b = self.array(base, offset)?;
        Ok(if self.big {
            u64::from_be_bytes(b)
        } else {
            u64::from_le_bytes(b)
        })
    }

    /// An address or offset: 8 bytes in ELF64, 4 in ELF32.
    fn word(&self, base: u64, offset64: u64, offset32: u64) -> Result<u64, String> {
        if self.wide {
            self.u64(base, offset64)
        } else {
            self.u32(base, offset32).map(u64::from)
        }
    }

    /// A NUL-terminated string starting at `offset`, not past `end`.
    fn string(&self, offset: u64, end: u64) -> Result<String, String> {
        let len = end
            .checked_sub(offset)
            .ok_or_else(|| format!("a string at {offset} is outside its table"))?;
        let bytes = self.slice(offset, len)?;
        let nul = bytes
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| format!("a string at {offset} is not terminated"))?;
        Ok(String::from_utf8_lossy(&bytes[..nul]).into_owned())
    }
}

/// A `PT_LOAD` segment: where its file bytes are mapped.
struct Load {
    vaddr: u64,
    offset: u64,
    filesz: u64,
}

impl Elf {
    fn parse(bytes: &[u8]) -> Result<Self, String> {
        if !bytes.starts_with(ELF_MAGIC) || bytes.len() < 16 {
            return Err("it does not start with an ELF header".to_owned());
        }
        let wide = match bytes[4] {
            1 => false,
            2 => true,
            class => return Err(format!("unknown ELF class {class}")),
        };
        let big = match bytes[5] {
            1 => false,
            2 => true,
            data => return Err(format!("unknown ELF byte order {data}")),
        };
        let r = Reader { bytes, wide, big };
        let kind = r.u16(0, 16)?;
        let machine = r.u16(0, 18)?;
        let phoff = r.word(0, 32, 28)?;
        let (phentsize, phnum) = if wide {
            (r.u16(0, 54)?, r.u16(0, 56)?)
        } else {
            (r.u16(0, 42)?, r.u16(0, 44)?)
        };
        let phnum = if phnum == PN_XNUM {
            let shoff = r.word(0, 40, 32)?;
            u64::from(r.u32(shoff, if wide { 44 } else { 28 })?)
        } else {
            u64::from(phnum)
        };
        if phnum > 0 && u64::from(phentsize) < if wide { 56 } else { 32 } {
            return Err(format!(
                "program headers of {phentsize} bytes are too small"
            ));
        }
        let mut loads = Vec::new();
        let (mut interp, mut dynamic) = (None, None);
        for i in 0..phnum {
            let base = i
                .checked_mul(u64::from(phentsize))
                .and_then(|o| o.checked_add(phoff))
                .ok_or_else(|| "a program header is out of range".to_owned())?;
            let kind = r.u32(base, 0)?;
            let offset = r.word(base, 8, 4)?;
            let vaddr = r.word(base, 16, 8)?;
            let filesz = r.word(base, 32, 16)?;
            match kind {
                PT_LOAD => loads.push(Load {
                    vaddr,
                    offset,
                    filesz,
                }),
                PT_INTERP => interp = Some((offset, filesz)),
                PT_DYNAMIC => dynamic = Some((offset, filesz)),
                _ => {}
            }
        }
        let interp = match interp {
            Some((offset, size)) => {
                let path = r.string(offset, at(offset, size)?)?;
                if path.is_empty() {
                    return Err("its program interpreter is empty".to_owned());
                }
                Some(path)
            }
            None => None,
        };
        let mut elf = Self {
            target: Target { wide, big, machine },
            kind,
            interp,
            needed: Vec::new(),
            soname: None,
            rpath: None,
            runpath: None,
        };
        if let Some((offset, size)) = dynamic {
            elf.read_dynamic(&r, &loads, offset, size)?;
        }
        Ok(elf)
    }

    fn read_dynamic(
        &mut self,
        r: &Reader<'_>,
        loads: &[Load],
        offset: u64,
        size: u64,
    ) -> Result<(), String> {
        let entsize = if r.wide { 16 } else { 8 };
        let (mut strtab, mut strsz) = (None, None);
        let mut strings = Vec::new();
        for i in 0..size / entsize {
            let base = at(offset, i * entsize)?;
            let tag = r.word(base, 0, 0)?;
            let value = r.word(base, 8, 4)?;
            match tag {
                DT_NULL => break,
                DT_STRTAB => strtab = Some(value),
                DT_STRSZ => strsz = Some(value),
                DT_NEEDED | DT_SONAME | DT_RPATH | DT_RUNPATH => strings.push((tag, value)),
                _ => {}
            }
        }
        if strings.is_empty() {
            return Ok(());
        }
        let address = strtab.ok_or("its dynamic section has no string table")?;
        let load = loads
            .iter()
            .find(|l| address >= l.vaddr && address - l.vaddr < l.filesz)
            .ok_or("its dynamic string table is not in a loaded segment")?;
        let table = at(load.offset, address - load.vaddr)?;
        let segment_end = at(load.offset, load.filesz)?;
        let end = match strsz {
            Some(size) => at(table, size)?.min(segment_end),
            None => segment_end,
        };
        for (tag, index) in strings {
            let value = r.string(at(table, index)?, end)?;
            match tag {
                DT_NEEDED => self.needed.push(value),
                DT_SONAME => self.soname = Some(value),
                DT_RPATH => self.rpath = Some(value),
                _ => self.runpath = Some(value),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::wildcard;

    #[test]
    fn wildcards_match_as_fnmatch_does() {
        for (pattern, name, expected) in [
            ("*.conf", "libc.conf", true),
            ("*.conf", "libc.conf.bak", false),
            ("*", "", true),
            ("", "", true),
            ("", "a", false),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("*a*b", "xaxxb", true),
            ("*a*b", "xaxxbc", false),
            ("x86_64-*.conf", "x86_64-linux-gnu.conf", true),
            ("**", "anything", true),
        ] {
            assert_eq!(
                wildcard(pattern.as_bytes(), name.as_bytes()),
                expected,
                "{pattern} {name}"
            );
        }
    }

    #[test]
    fn many_stars_take_linear_time() {
        // A recursive matcher takes ~2^30 steps here.
        let pattern = "*a".repeat(30) + "b";
        let name = "a".repeat(100);
        assert!(!wildcard(pattern.as_bytes(), name.as_bytes()));
    }
}
