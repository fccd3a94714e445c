//! The Rust types starlark sees: the values builtins return, and the [`Session`] an
//! evaluator carries in `extra`.
//!
//! Starlark finds a value's type through `ProvidesStaticType`, an `unsafe` trait its
//! derive implements (the impl is sound for types without lifetimes, as all here
//! are). That generated `unsafe impl` is the only unsafe code in the crate, and the
//! reason this module allows it; nothing here is written `unsafe` by hand.
#![allow(unsafe_code)]

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::OnceLock;

use allocative::Allocative;
use cairn_plan::{DebianRepo, NodeId, Plan};
use starlark::environment::{FrozenModule, Methods, MethodsStatic};
use starlark::starlark_simple_value;
use starlark::values::{
    NoSerialize, ProvidesStaticType, StarlarkValue, Value, ValueLike, starlark_value,
};

use crate::calls::CallIndex;

/// A value that stands for a node of the plan: what `deb.packages()`, `files()`,
/// `write_file()`, `symlink()`, `accounts()` and `run()` return, and what
/// `image(contents=)` takes (`run()`'s `deps`, `srcs` and `runtime` take some kinds).
#[derive(Debug, ProvidesStaticType, NoSerialize, Allocative)]
pub(crate) struct Content {
    pub(crate) kind: &'static str,
    #[allocative(skip)]
    pub(crate) id: NodeId,
}
starlark_simple_value!(Content);

impl fmt::Display for Content {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} {}>", self.kind, self.id)
    }
}

#[starlark_value(type = "content")]
impl<'v> StarlarkValue<'v> for Content {
    /// Two calls that make the same node give equal values.
    fn equals(&self, other: Value<'v>) -> starlark::Result<bool> {
        Ok(other
            .downcast_ref::<Self>()
            .is_some_and(|other| other.id == self.id))
    }
}

/// What `debian()` returns: a Debian archive, whose `.packages()` makes content.
#[derive(Debug, ProvidesStaticType, NoSerialize, Allocative)]
pub(crate) struct Debian {
    #[allocative(skip)]
    pub(crate) repo: DebianRepo,
}
starlark_simple_value!(Debian);

impl fmt::Display for Debian {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "debian(suite = {:?}, mirror = {:?}, arch = {:?})",
            self.repo.suite, self.repo.mirror, self.repo.arch
        )
    }
}

static DEBIAN_METHODS: MethodsStatic = MethodsStatic::new(
    "cairn_eval::DEBIAN_METHODS",
    crate::builtins::debian_methods,
);

// The macro needs the lifetime named.
#[allow(clippy::elidable_lifetime_names)]
#[starlark_value(type = "debian")]
impl<'v> StarlarkValue<'v> for Debian {
    fn get_methods() -> Option<&'static Methods> {
        Some(DEBIAN_METHODS.methods())
    }
}

/// What `python_env()` returns: content for `image(contents=)`, whose `.bin(name)`
/// names a script the environment installs.
#[derive(Debug, ProvidesStaticType, NoSerialize, Allocative)]
pub(crate) struct PythonEnvValue {
    #[allocative(skip)]
    pub(crate) id: NodeId,
}
starlark_simple_value!(PythonEnvValue);

impl fmt::Display for PythonEnvValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<python_env {}>", self.id)
    }
}

static PYTHON_ENV_METHODS: MethodsStatic = MethodsStatic::new(
    "cairn_eval::PYTHON_ENV_METHODS",
    crate::python::python_env_methods,
);

#[allow(clippy::elidable_lifetime_names)]
#[starlark_value(type = "python_env")]
impl<'v> StarlarkValue<'v> for PythonEnvValue {
    fn get_methods() -> Option<&'static Methods> {
        Some(PYTHON_ENV_METHODS.methods())
    }

    fn equals(&self, other: Value<'v>) -> starlark::Result<bool> {
        Ok(other
            .downcast_ref::<Self>()
            .is_some_and(|other| other.id == self.id))
    }
}

/// One evaluation: the plan being built, and the files loaded so far. Builtins find
/// it in the evaluator's `extra`.
#[derive(ProvidesStaticType)]
pub(crate) struct Session {
    pub(crate) root: PathBuf,
    pub(crate) canonical_root: OnceLock<Result<PathBuf, String>>,
    pub(crate) plan: RefCell<Plan>,
    /// Where each call's arguments are, per project-relative file.
    pub(crate) calls: RefCell<HashMap<String, CallIndex>>,
    /// Files evaluated, by real path (a file reached through two names is one file).
    pub(crate) modules: RefCell<HashMap<PathBuf, FrozenModule>>,
    /// Files being evaluated, outermost first (to find cycles, and bound the depth).
    pub(crate) loading: RefCell<Vec<Loading>>,
}

/// A file being evaluated.
pub(crate) struct Loading {
    /// Its real path, which identifies it.
    pub(crate) key: PathBuf,
    /// Its project-relative path, as first loaded: what spans and errors name it by.
    pub(crate) label: String,
}
