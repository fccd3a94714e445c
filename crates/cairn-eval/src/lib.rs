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
//! | `mirror` | `"http://deb.debian.org/debian"` | `http://` or `https://` URL; a trailing `/` is dropped |
//! | `components` | `["main"]` | non-empty list of component names |
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
//! ## `files(src, dest, *, exclude = [], mode = None, owner = None)`
//!
//! A tree of the project's files copied into the image. Returns content (a `files`
//! node). The files are read when the image is built, not when the spec is evaluated.
//!
//! | parameter | default | meaning |
//! |---|---|---|
//! | **`src`** | | a file or directory relative to the project's root (whichever `.star` file calls `files`), `/`-separated; no `..`, not absolute; `"."` is the root |
//! | **`dest`** | | absolute path in the image |
//! | `exclude` | `[]` | globs (gitignore syntax) left out, besides `.gitignore` and `.cairnignore` |
//! | `mode` | `None` | when given, the permission bits of every file, `0` to `0o7777` (e.g. `0o644`); directories keep `0o755` |
//! | `owner` | `None` | when given, the numeric owner of every file: an int uid (the gid is the same) or a string `"uid:gid"` |
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
//! | `home` | `"/home/<name>"` | absolute path |
//! | `shell` | `"/sbin/nologin"` | absolute path |
//!
//! Each group is a dict with the keys:
//!
//! | key | default | meaning |
//! |---|---|---|
//! | **`name`** | | as a user's |
//! | **`gid`** | | 0 to 4294967294 |
//! | `members` | `[]` | user names |
//!
//! Other keys are an error, as are two users (or two groups) of the same name in one
//! call.
//!
//! ## `image(*, name, contents = [], …)`
//!
//! An image. Returns `None`. A spec may declare several images; their names must
//! differ.
//!
//! | parameter | default | meaning |
//! |---|---|---|
//! | **`name`** | | the image's name (non-empty, no spaces); unique in the project |
//! | `contents` | `[]` | what goes in, in order: values returned by `deb.packages()`, `files()`, `write_file()`, `symlink()`, `accounts()` |
//! | `entrypoint` | `None` | list of strings: the program and its arguments |
//! | `cmd` | `None` | list of strings: default arguments |
//! | `user` | `None` | a name (`"nonroot"`, `"root"`, a declared account) or `"uid[:gid]"` |
//! | `workdir` | `None` | absolute path |
//! | `env` | `{}` | dict of strings: environment variables (names non-empty, without `=`) |
//! | `ports` | `[]` | ints (`8000` means `"8000/tcp"`) or strings `"<port>/<tcp\|udp\|sctp>"`; ports 1 to 65535 |
//! | `labels` | `{}` | dict of strings: OCI config labels |
//! | `volumes` | `[]` | list of absolute paths |
//! | `stop_signal` | `None` | e.g. `"SIGTERM"` |
//! | `layers` | `64` | the layer budget: the most layers the image may have, at least 1 |
//! | `compression` | `"gzip"` | layer compression: `"gzip"` or `"zstd"` |
//!
//! ## `load()`
//!
//! `load("//lib/defs.star", "name", alias = "other")` reads another `.star` file of the
//! project: `//path` is from the project's root, `:file.star` or `file.star` (or
//! `sub/file.star`, `../file.star`) from the directory of the file that loads. Only
//! `.star` files below the project's root can be loaded: absolute paths, `..` leaving
//! the root and symlinks pointing outside it are errors, and so is a cycle of loads. A
//! file is evaluated once however often it is loaded; the nodes it creates (for
//! instance a shared `deb.packages()`) are part of the plan like any other.
//!
//! ## The rest of the language
//!
//! Standard Starlark: `def`, `lambda`, list and dict comprehensions, `if`/`for` (also
//! at the top level of a file), keyword-only parameters (`def f(*, x)`), and the
//! standard functions (`len`, `range`, `sorted`, `fail`, `str`, `dict`, …). There is no
//! `print`, `struct` or type annotations. Numbers can be written in octal (`0o644`).
//!
//! Paths in the image are normalised (`/srv//site/` is `/srv/site`), and may not
//! contain `..`. Errors name the argument at fault and point at it (or at the list
//! element) in the file.

mod builtins;
mod calls;
mod error;
mod paths;
mod values;

use std::cell::RefCell;
use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use cairn_plan::Plan;
use starlark::codemap::FileSpan;
use starlark::environment::{FrozenModule, Globals, GlobalsBuilder, Module};
use starlark::eval::{Evaluator, FileLoader};
use starlark::syntax::{AstModule, Dialect};
use starlark::values::FrozenHeapName;

pub use error::EvalError;

use crate::calls::CallIndex;
use crate::values::Session;

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
/// `image(compression=)`'s default.
pub const DEFAULT_COMPRESSION: &str = "gzip";

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
    let session = Session::new(root);
    session.evaluate_file(&file, text.to_owned(), false)?;
    Ok(session.plan.into_inner())
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
    GLOBALS.get_or_init(|| GlobalsBuilder::standard().with(builtins::globals).build())
}

/// Hands starlark the modules a file loads, evaluated beforehand.
struct Loads(HashMap<String, FrozenModule>);

impl FileLoader for Loads {
    fn load(&self, label: &str) -> starlark::Result<FrozenModule> {
        self.0
            .get(label)
            .cloned()
            .ok_or_else(|| starlark::Error::new_other(LoadNotPrepared(label.to_owned())))
    }
}

#[derive(Debug, thiserror::Error)]
#[error("`{0}` was not loaded beforehand (internal error)")]
struct LoadNotPrepared(String);

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

    /// Evaluates the project-relative file `file`, after the files it loads. Frozen,
    /// to be loaded by others, when `freeze`.
    fn evaluate_file(
        &self,
        file: &str,
        text: String,
        freeze: bool,
    ) -> Result<Option<FrozenModule>, EvalError> {
        let ast =
            AstModule::parse(file, text, &dialect()).map_err(|e| EvalError::from_starlark(&e))?;
        self.calls
            .borrow_mut()
            .insert(file.to_owned(), CallIndex::new(&ast));

        self.loading.borrow_mut().push(file.to_owned());
        let loads = self.load_all(file, &ast);
        self.loading.borrow_mut().pop();
        let loads = Loads(loads?);

        Module::with_temp_heap(|module| {
            {
                let mut eval = Evaluator::new(&module);
                eval.extra = Some(self);
                eval.set_loader(&loads);
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

    /// Evaluates (or finds in the cache) every file `ast`, the file `file`, loads.
    fn load_all(
        &self,
        file: &str,
        ast: &AstModule,
    ) -> Result<HashMap<String, FrozenModule>, EvalError> {
        let mut loaded = HashMap::new();
        for load in ast.loads() {
            let error = |message: String| error_at(&load.span, message);
            let target = paths::resolve_load(file, load.module_id).map_err(error)?;
            if let Some(module) = self.modules.borrow().get(&target) {
                loaded.insert(load.module_id.to_owned(), module.clone());
                continue;
            }
            if self.loading.borrow().contains(&target) {
                let loading = self.loading.borrow();
                let start = loading.iter().position(|f| *f == target).unwrap_or(0);
                let mut cycle: Vec<&str> = loading[start..].iter().map(String::as_str).collect();
                cycle.push(&target);
                return Err(error(format!("load cycle: {}", cycle.join(" -> "))));
            }
            let text = self.read(&target).map_err(|(message, cause)| {
                let e = error(message);
                match cause {
                    Some(cause) => e.with_cause(cause),
                    None => e,
                }
            })?;
            let module = self
                .evaluate_file(&target, text, true)?
                .expect("a loaded file is frozen");
            self.modules.borrow_mut().insert(target, module.clone());
            loaded.insert(load.module_id.to_owned(), module);
        }
        Ok(loaded)
    }

    /// Reads the project-relative `.star` file `file`, which must be inside the root
    /// once symlinks are resolved.
    fn read(&self, file: &str) -> Result<String, (String, Option<io::Error>)> {
        let root = self.canonical_root().map_err(|e| (e, None))?;
        let path = self.root.join(file);
        let (real, exists) = match fs_err::canonicalize(&path) {
            Ok(real) => (real, true),
            // Where it would be: a missing file behind a symlink out of the project is
            // reported as leaving the project.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let existing = path
                    .ancestors()
                    .skip(1)
                    .find_map(|dir| fs_err::canonicalize(dir).ok());
                (existing.unwrap_or_else(|| path.clone()), false)
            }
            Err(e) => return Err((format!("cannot load `{file}`"), Some(e))),
        };
        if !real.starts_with(root) {
            return Err((
                format!(
                    "cannot load `{file}`: a symlink leads it outside the project, to `{}`",
                    real.display()
                ),
                None,
            ));
        }
        if !exists {
            return Err((
                format!("cannot load `{file}`: there is no such file in the project"),
                None,
            ));
        }
        if !real.is_file() {
            return Err((format!("cannot load `{file}`: not a file"), None));
        }
        fs_err::read_to_string(&real).map_err(|e| (format!("cannot load `{file}`"), Some(e)))
    }
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
