//! Evaluates a project's `cairn.star` into a [`Plan`].
//!
//! A spec is [Starlark](https://github.com/bazelbuild/starlark/blob/master/spec.md),
//! the Python-like language Bazel and Buck use, evaluated with the `starlark` crate.
//! Evaluation is hermetic: the spec sees the standard Starlark library plus the
//! functions below, and nothing else: no environment variables, no clock, no network,
//! no files other than the project's `.star` files it `load()`s. The same files give
//! the same plan, byte for byte ([`Plan::to_json`]), on every machine.
//!
//! Refuses: any I/O beyond reading `.star` files below the project's root. Whether a
//! `files()` source exists, or a package does, is found out later (lock, build).
//!
//! # The language
//!
//! A spec calls the functions below. Each call adds a node to the plan (identical calls
//! are one node) and returns a value standing for it; `image()` gathers those values.
//! Parameters in **bold** are required; the others show their default. Parameters
//! after the first one or two (see each signature) must be given by name.
//!
//! ```python
//! load("//lib/defs.star", "base")            # other .star files of the project
//!
//! deb = debian(suite = "trixie")
//! py = deb.packages(["python3", "ca-certificates"])
//! site = files("site", dest = "/srv/site", exclude = ["*.tmp"])
//! motd = write_file("/etc/motd", "hello\n", mode = 0o644)
//! link = symlink("/usr/local/bin/app", "/app/app.py")
//! acc = accounts(
//!     users = [{"name": "app", "uid": 1000}],
//!     groups = [{"name": "readers", "gid": 2000, "members": ["app"]}],
//! )
//!
//! image(
//!     name = "web",
//!     contents = [py, site, motd, link, acc],
//!     entrypoint = ["/usr/bin/python3", "-m", "http.server", "8000"],
//!     user = "nonroot",
//!     workdir = "/srv/site",
//!     env = {"PYTHONUNBUFFERED": "1"},
//!     ports = [8000],
//!     labels = {"org.opencontainers.image.source": "https://example.org/web"},
//! )
//! ```
//!
//! ## `debian(suite = "trixie", *, mirror, components, security, security_mirror, arch)`
//!
//! A Debian archive to take packages from. Returns a `debian` value; it is not content
//! itself, its `packages()` method makes some.
//!
//! | parameter | default | meaning |
//! |---|---|---|
//! | `suite` | `"trixie"` | the suite (codename or `stable`, …); may be given positionally |
//! | `mirror` | `"http://deb.debian.org/debian"` | `http://` or `https://` URL with a host; a trailing `/` is dropped |
//! | `components` | `["main"]` | non-empty list of component names (non-empty, no spaces) |
//! | `security` | `True` | also use `<suite>-security` from `security_mirror` (stable suites only) |
//! | `security_mirror` | `"http://deb.debian.org/debian-security"` | as `mirror` |
//! | `arch` | `"amd64"` | Debian's architecture name (`amd64`, `arm64`, …) |
//!
//! ## `deb.packages(packages, *, recommends = False)`
//!
//! Packages from the archive `deb`, with everything they depend on (resolved by
//! `cairn lock`). Returns content (a `debian` node).
//!
//! | parameter | default | meaning |
//! |---|---|---|
//! | **`packages`** | | non-empty list of package names (non-empty, no spaces), kept in order |
//! | `recommends` | `False` | also install `Recommends`, as apt does by default |
//!
//! ## `files(src, dest = "/", *, exclude = [], mode = None, owner = None)`
//!
//! A tree of the project's files copied into the image. Returns content (a `files`
//! node). The files are read when the image is built, not when the spec is evaluated.
//!
//! | parameter | default | meaning |
//! |---|---|---|
//! | **`src`** | | a file or directory relative to the project's root (whichever `.star` file calls `files`), `/`-separated; no `..`, not absolute; `"."` is the root |
//! | `dest` | `"/"` | absolute path in the image (or under a `run()` step's mount point); a directory's contents go under it; a single file needs a file name, not `/` (which the build checks) |
//! | `exclude` | `[]` | non-empty globs (gitignore syntax) left out, besides `.gitignore` and `.cairnignore` |
//! | `mode` | `None` | when given, the permission bits of every file, `0` to `0o7777` (e.g. `0o644`); directories keep `0o755` |
//! | `owner` | `None` | when given, the numeric owner of every file: an int uid (the gid is the same) or a string `"uid:gid"`; ids 0 to 4294967294 |
//!
//! ## `write_file(path, content, *, mode = 0o644)`
//!
//! A file with the given text. Returns content (a `write_file` node).
//!
//! | parameter | default | meaning |
//! |---|---|---|
//! | **`path`** | | absolute path in the image (not `/`) |
//! | **`content`** | | the file's text (a string, written as UTF-8) |
//! | `mode` | `0o644` | permission bits, `0` to `0o7777` |
//!
//! ## `symlink(path, target)`
//!
//! A symbolic link. Returns content (a `symlink` node).
//!
//! | parameter | default | meaning |
//! |---|---|---|
//! | **`path`** | | absolute path of the link in the image (not `/`) |
//! | **`target`** | | what the link points to, absolute or relative, as written |
//!
//! ## `accounts(*, users = [], groups = [])`
//!
//! Users and groups, added to `/etc/passwd` and `/etc/group` next to `root` (0),
//! `nobody` (65534) and `nonroot` (65532). Returns content (an `accounts` node).
//!
//! Each user is a dict with the keys:
//!
//! | key | default | meaning |
//! |---|---|---|
//! | **`name`** | | a letter or `_`, then letters, digits, `_`, `-`, `.`; at most 32 |
//! | **`uid`** | | 0 to 4294967294 |
//! | `gid` | the `uid` | primary group id |
//! | `home` | `"/home/<name>"` | absolute path, without `:` or control characters (it is a field of `/etc/passwd`) |
//! | `shell` | `"/sbin/nologin"` | as `home` |
//!
//! Each group is a dict with the keys:
//!
//! | key | default | meaning |
//! |---|---|---|
//! | **`name`** | | as a user's |
//! | **`gid`** | | 0 to 4294967294 |
//! | `members` | `[]` | user names |
//!
//! Other keys are an error, as are two users (or two groups) of the same name, or two
//! users of the same uid (two groups of the same gid), in one call. A group may share
//! its gid with a user's uid.
//!
//! ## `run(*, name, cmd, deps = [], srcs = {}, env = {}, runtime = [], workdir = "/", timeout = 3600)`
//!
//! A build step: `cmd` run in a sandbox (no network, a fresh `/tmp` and home, a
//! wall-clock limit) whose read-only root file system is made of `deps`, with `srcs`
//! mounted read-only. Its output is what it writes to `/out`, and the value returned
//! stands for it: content (a `run` node) for `image(contents=)`, or for another step's
//! `deps`, `srcs` or `runtime`. Nothing runs when the spec is evaluated.
//!
//! ```python
//! quotes = run(
//!     name = "quotes",
//!     deps = [deb.packages(["golang-go"])],
//!     srcs = {"/src": files("quotes")},
//!     cmd = ["sh", "-c", "cd /src && go build -trimpath -o /out/usr/local/bin/quotes ."],
//!     env = {"GOCACHE": "/tmp/go-cache", "GOTOOLCHAIN": "local"},
//! )
//! ```
//!
//! | parameter | default | meaning |
//! |---|---|---|
//! | **`name`** | | the output's name in the store: 1 to 200 ASCII letters, digits and `+-._?=`, not starting with `.` |
//! | **`cmd`** | | non-empty list of strings: the program (looked up in the sandbox's `PATH`) and its arguments |
//! | `deps` | `[]` | what the root file system is made of, in order: values returned by `deb.packages()`, `python_env()`, `files()`, `write_file()`, `symlink()`, `run()`; a value given twice counts once, where it first appears |
//! | `srcs` | `{}` | dict of mount point (absolute path, normalised) to a value returned by `files()`, `write_file()`, `symlink()` or `run()`, mounted read-only; not `/`, not at or under `/out`, `/tmp`, `/proc`, `/dev` or `/homeless-shelter` (the sandbox's own); no two the same or one inside the other |
//! | `env` | `{}` | dict of strings: variables set besides the sandbox's (`HOME`, `PATH`, `TMPDIR`, …), which a declared one overrides; names are a letter or `_`, then letters, digits and `_` |
//! | `runtime` | `[]` | what the output needs when it runs (its references): an image holding the output holds these too; takes the same values as `deps` |
//! | `workdir` | `"/"` | absolute path: the directory `cmd` starts in |
//! | `timeout` | `3600` | seconds the step may take, 1 to 604800 (7 days) |
//!
//! ## `image(*, name, contents = [], …)`
//!
//! An image. Returns `None`. A spec may declare several images; their names must
//! differ.
//!
//! | parameter | default | meaning |
//! |---|---|---|
//! | **`name`** | | the image's name, unique in the project: 1 to 128 ASCII letters, digits, `.`, `_` and `-`, starting with a letter or digit (it names files, such as `result-<name>`) |
//! | `contents` | `[]` | what goes in, in order: values returned by `deb.packages()`, `python_env()`, `files()`, `write_file()`, `symlink()`, `run()`, `accounts()`; a value given twice goes in once, where it first appears |
//! | `entrypoint` | `None` | list of strings: the program and its arguments |
//! | `cmd` | `None` | list of strings: default arguments |
//! | `user` | `None` | a name (`"nonroot"`, `"root"`, a declared account) or `"uid[:gid]"` |
//! | `workdir` | `None` | absolute path |
//! | `env` | `{}` | dict of strings: environment variables (names non-empty, without `=`) |
//! | `ports` | `[]` | ints (`8000` means `"8000/tcp"`) or strings `"<port>/<tcp\|udp\|sctp>"`; ports 1 to 65535; kept sorted by number, each once (`"080"` is `"80/tcp"`) |
//! | `labels` | `{}` | dict of strings: OCI config labels |
//! | `volumes` | `[]` | list of absolute paths; kept normalised and sorted, each once |
//! | `stop_signal` | `None` | e.g. `"SIGTERM"` |
//! | `layers` | `64` | the layer budget: the most layers the image may have, 1 to 127 (overlay-based container storage, as Docker's and Podman's, refuses images of more than 127 layers) |
//! | `compression` | `"gzip"` | layer compression: `"gzip"` or `"zstd"` |
//!
//! ## `load()`
//!
//! `load("//lib/defs.star", "name", alias = "other")` reads another `.star` file of the
//! project: `//path` is from the project's root, `:file.star` or `file.star` (or
//! `sub/file.star`, `../file.star`) from the directory of the file that loads. Only
//! `.star` files below the project's root can be loaded: absolute paths, `..` leaving
//! the root and symlinks pointing outside it are errors, as is a `.star` name that is a
//! symlink to a file not named `.star`, a cycle of loads, and loads nested more than 64
//! files deep (the spec counts). A file is evaluated once however often it is loaded,
//! and under whichever name (a symlink to it is the same file); the nodes it creates
//! (for instance a shared `deb.packages()`) are part of the plan like any other.
//!
//! ## The rest of the language
//!
//! Standard Starlark: `def`, `lambda`, list and dict comprehensions, `if`/`for` (also
//! at the top level of a file), keyword-only parameters (`def f(*, x)`), and the
//! standard functions (`len`, `range`, `sorted`, `fail`, `str`, `dict`, …). There is no
//! `print`, `struct` or type annotations. Numbers can be written in octal (`0o644`).
//!
//! Paths in the image are normalised (`/srv//site/` is `/srv/site`), and may not
//! contain `..`. No string may contain a NUL byte, but for `write_file`'s `content`.
//! Ints beyond a parameter's range are errors (an int too big for 64 bits given as
//! `mode`, `layers` or `timeout` is reported at the call rather than at the argument).
//! Errors name the argument at fault and point at it (or at the list element, or the
//! dict entry of `run()`'s `srcs` and `env`) in the file; they name files by their
//! paths in the project.

mod builtins;
mod calls;
mod error;
mod paths;
mod python;
mod run;
mod values;

use std::cell::RefCell;
use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use cairn_plan::Plan;
use starlark::codemap::FileSpan;
use starlark::environment::{FrozenModule, Globals, GlobalsBuilder, Module};
use starlark::eval::{Evaluator, ReturnFileLoader};
use starlark::syntax::{AstModule, Dialect};
use starlark::values::FrozenHeapName;

pub use error::EvalError;
pub use python::DEFAULT_INDEX;
pub use run::{DEFAULT_RUN_TIMEOUT, MAX_RUN_NAME, MAX_RUN_TIMEOUT, RUN_RESERVED_MOUNTS};

use crate::calls::CallIndex;
use crate::values::{Loading, Session};

/// The spec's file name, at the root of a project.
pub const SPEC_FILE: &str = "cairn.star";

/// `debian(mirror=)`'s default (as `cairn_debian::DEFAULT_MIRROR`).
pub const DEFAULT_MIRROR: &str = "http://deb.debian.org/debian";
/// `debian(security_mirror=)`'s default (as `cairn_debian::DEFAULT_SECURITY_MIRROR`).
pub const DEFAULT_SECURITY_MIRROR: &str = "http://deb.debian.org/debian-security";
/// `debian(suite=)`'s default (as `cairn_debian::DEFAULT_SUITE`).
pub const DEFAULT_SUITE: &str = "trixie";
/// `debian(arch=)`'s default.
pub const DEFAULT_ARCH: &str = "amd64";
/// `write_file(mode=)`'s default.
pub const DEFAULT_MODE: i32 = 0o644;
/// A user's default shell in `accounts()`.
pub const DEFAULT_SHELL: &str = "/sbin/nologin";
/// `image(layers=)`'s default (as `cairn_image::DEFAULT_BUDGET`).
pub const DEFAULT_LAYERS: i32 = 64;
/// `image(layers=)`'s largest value: overlay-based container storage (Docker, Podman)
/// refuses images of more layers.
pub const MAX_LAYERS: i32 = 127;
/// `image(compression=)`'s default.
pub const DEFAULT_COMPRESSION: &str = "gzip";
/// How many files a chain of `load()`s may hold, the spec included.
pub const MAX_LOAD_DEPTH: usize = 64;

/// The stack evaluation runs on. Starlark's parser and compiler recurse once per level
/// of nesting of an expression; a thread's usual few MiB overflow (which aborts the
/// process) at a few thousand levels. The memory is reserved, not used, until needed.
const STACK_SIZE: usize = 256 << 20;

/// Evaluates `root/cairn.star` (and the files it loads) into a plan.
pub fn evaluate(root: &Path) -> Result<Plan, EvalError> {
    let path = root.join(SPEC_FILE);
    let text = fs_err::read_to_string(&path).map_err(|e| {
        EvalError::new(format!("cannot read the spec `{}`", path.display())).with_cause(e)
    })?;
    evaluate_source(root, SPEC_FILE, &text)
}

/// Evaluates `text` as the project-relative file `file` of the project at `root`.
/// `load()`s are read from `root`; `file` names the text in spans and is where
/// relative loads start from.
pub fn evaluate_source(root: &Path, file: &str, text: &str) -> Result<Plan, EvalError> {
    let file = paths::project_relative(file)
        .map_err(|e| EvalError::new(format!("the spec's file name: {e}")))?;
    on_a_large_stack(|| {
        let session = Session::new(root);
        // The spec's real path when it is on disk (for cycles back to it), else where
        // it would be.
        let path = root.join(&file);
        let key = std::fs::canonicalize(&path).unwrap_or(path);
        session.evaluate_file(&file, key, text.to_owned(), false)?;
        Ok(session.plan.into_inner())
    })
}

/// Runs `f` on a thread of [`STACK_SIZE`], and waits for it.
fn on_a_large_stack<T: Send>(
    f: impl FnOnce() -> Result<T, EvalError> + Send,
) -> Result<T, EvalError> {
    std::thread::scope(|scope| {
        let thread = std::thread::Builder::new()
            .name("cairn-eval".to_owned())
            .stack_size(STACK_SIZE)
            .spawn_scoped(scope, f)
            .map_err(|e| EvalError::new("cannot start the evaluator's thread").with_cause(e))?;
        thread
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// Starlark as cairn speaks it: the standard dialect, plus top-level `if`/`for` (to
/// declare images in a loop) and keyword-only parameters.
fn dialect() -> Dialect {
    Dialect {
        enable_top_level_stmt: true,
        enable_keyword_only_arguments: true,
        ..Dialect::Standard
    }
}

/// The standard library and cairn's functions; built once per process.
fn globals() -> &'static Globals {
    static GLOBALS: OnceLock<Globals> = OnceLock::new();
    GLOBALS.get_or_init(|| {
        GlobalsBuilder::standard()
            .with(builtins::globals)
            .with(python::globals)
            .with(run::globals)
            .build()
    })
}

impl Session {
    fn new(root: &Path) -> Self {
        Self {
            root: root.to_owned(),
            canonical_root: OnceLock::new(),
            plan: RefCell::new(Plan::new()),
            calls: RefCell::new(HashMap::new()),
            modules: RefCell::new(HashMap::new()),
            loading: RefCell::new(Vec::new()),
        }
    }

    fn canonical_root(&self) -> Result<&Path, String> {
        self.canonical_root
            .get_or_init(|| {
                fs_err::canonicalize(&self.root).map_err(|e| format!("the project's root: {e}"))
            })
            .as_ref()
            .map(PathBuf::as_path)
            .map_err(Clone::clone)
    }

    /// Evaluates the project-relative file `file`, whose real path is `key`, after the
    /// files it loads. Frozen, to be loaded by others, when `freeze`.
    fn evaluate_file(
        &self,
        file: &str,
        key: PathBuf,
        text: String,
        freeze: bool,
    ) -> Result<Option<FrozenModule>, EvalError> {
        let ast =
            AstModule::parse(file, text, &dialect()).map_err(|e| EvalError::from_starlark(&e))?;
        self.calls
            .borrow_mut()
            .insert(file.to_owned(), CallIndex::new(&ast));

        self.loading.borrow_mut().push(Loading {
            key,
            label: file.to_owned(),
        });
        let loads = self.load_all(file, &ast);
        self.loading.borrow_mut().pop();
        let loads = loads?;
        let modules = loads
            .iter()
            .map(|(id, module)| (id.as_str(), module))
            .collect();
        let loader = ReturnFileLoader { modules: &modules };

        Module::with_temp_heap(|module| {
            {
                let mut eval = Evaluator::new(&module);
                eval.extra = Some(self);
                eval.set_loader(&loader);
                eval.eval_module(ast, globals())
                    .map_err(|e| EvalError::from_starlark(&e))?;
            }
            if !freeze {
                return Ok(None);
            }
            module
                .freeze_named(FrozenHeapName::User(Box::new(file.to_owned())))
                .map(Some)
                .map_err(|e| EvalError::new(format!("cannot freeze `{file}`: {e:?}")))
        })
    }

    /// Evaluates (or finds in the cache) every file `ast`, the file `file`, loads; by
    /// the string each `load()` names it with.
    fn load_all(
        &self,
        file: &str,
        ast: &AstModule,
    ) -> Result<HashMap<String, FrozenModule>, EvalError> {
        let mut loaded = HashMap::new();
        for load in ast.loads() {
            let error = |message: String| error_at(&load.span, message);
            let target = paths::resolve_load(file, load.module_id).map_err(error)?;
            // By the real path: a file reached through a symlink is the same file.
            let key = self.locate(&target, Kind::Star).map_err(error)?;
            if let Some(module) = self.modules.borrow().get(&key) {
                loaded.insert(load.module_id.to_owned(), module.clone());
                continue;
            }
            {
                let loading = self.loading.borrow();
                if let Some(start) = loading.iter().position(|l| l.key == key) {
                    let mut cycle: Vec<&str> =
                        loading[start..].iter().map(|l| l.label.as_str()).collect();
                    cycle.push(&target);
                    let first = &loading[start].label;
                    let alias = if target == *first {
                        String::new()
                    } else {
                        format!(" (`{target}` is `{first}`)")
                    };
                    return Err(error(format!("load cycle: {}{alias}", cycle.join(" -> "))));
                }
                if loading.len() >= MAX_LOAD_DEPTH {
                    return Err(error(format!(
                        "cannot load `{target}`: loads nest deeper than {MAX_LOAD_DEPTH} files"
                    )));
                }
            }
            let text = read(&target, &key, "load").map_err(error)?;
            let module = self
                .evaluate_file(&target, key.clone(), text, true)?
                .expect("a loaded file is frozen");
            self.modules.borrow_mut().insert(key, module.clone());
            loaded.insert(load.module_id.to_owned(), module);
        }
        Ok(loaded)
    }

    /// The text of the project-relative file `file` that a builtin reads (a
    /// `requirements.txt`): inside the project once symlinks are resolved.
    pub(crate) fn read_project_file(&self, file: &str) -> Result<String, String> {
        let real = self.locate(file, Kind::Data)?;
        read(file, &real, "read")
    }

    /// The real path of the project-relative `.star` file `file` (any file, for
    /// [`Kind::Data`]): inside the root once symlinks are resolved, an existing file,
    /// and a `.star` one.
    ///
    /// Errors name files by their project-relative paths, never by host paths.
    fn locate(&self, file: &str, kind: Kind) -> Result<PathBuf, String> {
        let verb = match kind {
            Kind::Star => "load",
            Kind::Data => "read",
        };
        let root = self.canonical_root()?;
        let path = self.root.join(file);
        // `std`'s, not `fs_err`'s: its errors leave the (host) path out.
        let (real, exists) = match std::fs::canonicalize(&path) {
            Ok(real) => (real, true),
            // Where it would be: a missing file behind a symlink out of the project is
            // reported as leaving the project.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let existing = path
                    .ancestors()
                    .skip(1)
                    .find_map(|dir| std::fs::canonicalize(dir).ok());
                (existing.unwrap_or_else(|| path.clone()), false)
            }
            Err(e) => return Err(format!("cannot {verb} `{file}`: {e}")),
        };
        let Ok(inside) = real.strip_prefix(root) else {
            return Err(format!(
                "cannot {verb} `{file}`: a symlink leads it outside the project"
            ));
        };
        if !exists {
            return Err(format!(
                "cannot {verb} `{file}`: there is no such file in the project"
            ));
        }
        if kind == Kind::Star && real.extension().is_none_or(|e| e != "star") {
            return Err(format!(
                "cannot load `{file}`: it is a symlink to `{}`, not a `.star` file",
                inside.display()
            ));
        }
        if !real.is_file() {
            return Err(format!("cannot {verb} `{file}`: not a file"));
        }
        Ok(real)
    }
}

/// What a project file is read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A `.star` file to evaluate.
    Star,
    /// A file a builtin reads (`requirements.txt`, `pyproject.toml`).
    Data,
}

/// The text of the project-relative file `file`, at the real path `real`.
#[expect(
    clippy::disallowed_methods,
    reason = "fs_err's errors name the host path, which errors about a spec must not show"
)]
fn read(file: &str, real: &Path, verb: &str) -> Result<String, String> {
    std::fs::read_to_string(real).map_err(|e| format!("cannot {verb} `{file}`: {e}"))
}

fn error_at(span: &FileSpan, message: String) -> EvalError {
    EvalError::at(
        message,
        span.file.filename(),
        span.file.source(),
        span.span.begin().get() as usize,
        span.span.end().get() as usize,
    )
}

#[cfg(test)]
mod tests {
    /// Hermetic: the spec sees standard Starlark and cairn's functions, and nothing
    /// else. A new global must be added here on purpose.
    #[test]
    fn the_globals_are_exactly_these() {
        let mut names: Vec<String> = super::globals()
            .names()
            .map(|name| name.as_str().to_owned())
            .collect();
        names.sort();
        let expected = [
            // Starlark's standard library (the spec's "built-in constants and functions").
            "False",
            "None",
            "True",
            "abs",
            "all",
            "any",
            "bool",
            "bytes",
            "chr",
            "dict",
            "dir",
            "enumerate",
            "fail",
            "float",
            "getattr",
            "hasattr",
            "hash",
            "int",
            "len",
            "list",
            "max",
            "min",
            "ord",
            "range",
            "repr",
            "reversed",
            "sorted",
            "str",
            "tuple",
            "type",
            "zip", // cairn's
            "accounts",
            "debian",
            "files",
            "image",
            "python_env",
            "run",
            "symlink",
            "write_file",
        ];
        let mut expected: Vec<&str> = expected.to_vec();
        expected.sort_unstable();
        assert_eq!(names, expected);
    }
}
