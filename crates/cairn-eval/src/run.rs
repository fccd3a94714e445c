//! `run()`: a build step, a command run in a sandbox, whose output is what it writes
//! to `/out`.
//!
//! ```python
//! deb = debian(suite = "trixie")
//! quotes = run(
//!     name = "quotes",
//!     deps = [deb.packages(["golang-go"])],
//!     srcs = {"/src": files("quotes")},
//!     cmd = ["sh", "-c", "cd /src && go build -trimpath -o /out/usr/local/bin/quotes ."],
//!     env = {"GOCACHE": "/tmp/go-cache", "GOTOOLCHAIN": "local"},
//! )
//! image(name = "quotes", contents = [quotes], entrypoint = ["/usr/local/bin/quotes"])
//! ```
//!
//! The step becomes a [`cairn_plan::Run`] node. The value returned stands for its
//! output: content, as what `files()` returns (a `Content` of kind `run`), for
//! `image(contents=)` and for another step's `deps`, `srcs` and `runtime`. Nothing runs
//! when evaluating: this checks what the sandbox would refuse later (reserved or nested
//! mount points, a relative working directory, variable names a shell can't set), so
//! the mistake is shown where it was written.
//!
//! The mount points the sandbox keeps for itself ([`RUN_RESERVED_MOUNTS`]) are those of
//! `cairn-sandbox` (its `RESERVED` and `OUT`), which this crate does not depend on.

use std::collections::{BTreeMap, BTreeSet};

use cairn_plan::{Node, NodeId, Run};
use starlark::environment::GlobalsBuilder;
use starlark::eval::Evaluator;
use starlark::starlark_module;
use starlark::values::dict::UnpackDictEntries;
use starlark::values::list::UnpackList;
use starlark::values::{Value, ValueLike};

use crate::builtins::{Site, each, no_nul};
use crate::paths;
use crate::values::{Content, Debian, PythonEnvValue};

/// `run(timeout=)`'s default, in seconds: an hour.
pub const DEFAULT_RUN_TIMEOUT: u32 = 3600;

/// `run(timeout=)`'s largest value, in seconds: seven days.
pub const MAX_RUN_TIMEOUT: u32 = 7 * 24 * 3600;

/// The longest `run(name=)`: the store allows longer object names, but leaves room
/// for what it may add.
pub const MAX_RUN_NAME: usize = 200;

/// Where `run(srcs=)` may not mount anything (nor under): the step's output, and what
/// the sandbox mounts itself (its scratch `/tmp`, `/proc`, `/dev` and the home
/// directory).
pub const RUN_RESERVED_MOUNTS: &[&str] = &["/out", "/tmp", "/proc", "/dev", "/homeless-shelter"];

/// What `deps` and `runtime` take, as node kinds (besides `python_env()` values).
const LAYER_KINDS: &[&str] = &["debian", "files", "write_file", "symlink", "run"];

/// What `srcs` takes, as node kinds.
const MOUNT_KINDS: &[&str] = &["files", "write_file", "symlink", "run"];

#[starlark_module]
pub(crate) fn globals(builder: &mut GlobalsBuilder) {
    /// A build step: `cmd` run in a sandbox whose root file system is `deps`, with
    /// `srcs` mounted read-only; its output is what it writes to `/out`.
    #[allow(clippy::too_many_arguments)] // Starlark keyword parameters, one per field.
    fn run<'v>(
        #[starlark(require = named)] name: &str,
        #[starlark(require = named, default = UnpackList::default())] deps: UnpackList<Value<'v>>,
        #[starlark(require = named, default = UnpackDictEntries::default())]
        srcs: UnpackDictEntries<String, Value<'v>>,
        #[starlark(require = named)] cmd: UnpackList<String>,
        #[starlark(require = named, default = UnpackDictEntries::default())] env: UnpackDictEntries<
            String,
            String,
        >,
        #[starlark(require = named, default = UnpackList::default())] runtime: UnpackList<
            Value<'v>,
        >,
        #[starlark(require = named, default = "/")] workdir: &str,
        #[starlark(require = named, default = i64::from(DEFAULT_RUN_TIMEOUT))] timeout: i64,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<Content> {
        let site = Site::of(eval);
        if !valid_run_name(name) {
            return Err(site.arg_error(
                "name",
                None,
                format!(
                    "a run's `name` must be 1 to {MAX_RUN_NAME} letters, digits and `+-._?=`, \
                     not starting with `.` (it names the output in the store); got {name:?}"
                ),
            ));
        }
        if cmd.items.is_empty() {
            return Err(site.arg_error(
                "cmd",
                None,
                "`cmd` can't be empty: it is the program to run, then its arguments",
            ));
        }
        each(&site, ("cmd", None), &cmd.items, |_, arg| {
            no_nul("an argument in `cmd`", arg)
        })?;
        let deps = parse_layers(&site, "deps", &deps.items)?;
        let runtime = parse_layers(&site, "runtime", &runtime.items)?;
        let srcs = parse_srcs(&site, &srcs.entries)?;
        let env = parse_env(&site, &env.entries)?;
        let workdir = paths::absolute(workdir)
            .map_err(|e| site.arg_error("workdir", None, format!("`workdir`: {e}")))?;
        if !(1..=i64::from(MAX_RUN_TIMEOUT)).contains(&timeout) {
            return Err(site.arg_error(
                "timeout",
                None,
                format!(
                    "`timeout` must be between 1 and {MAX_RUN_TIMEOUT} seconds (7 days), \
                     got {timeout}"
                ),
            ));
        }
        let timeout = u64::try_from(timeout).expect("between 1 and MAX_RUN_TIMEOUT");
        let node = Run {
            name: name.to_owned(),
            deps,
            srcs,
            cmd: cmd.items,
            env,
            runtime,
            workdir,
            timeout,
        };
        Ok(site.add(Node::Run(node), Vec::new()))
    }
}

/// A name the store takes for an object (`cairn_store::validate_name`), and not too
/// long.
fn valid_run_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_RUN_NAME
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-._?=".contains(&b))
}

/// What a value given where a node is expected is, for an error: `what symlink()
/// returns`, or its type.
fn described(item: Value<'_>) -> String {
    if let Some(content) = item.downcast_ref::<Content>() {
        match content.kind {
            "debian" => "what deb.packages() returns".to_owned(),
            kind => format!("what {kind}() returns"),
        }
    } else if item.downcast_ref::<PythonEnvValue>().is_some() {
        "what python_env() returns".to_owned()
    } else {
        format!("a value of type `{}`", item.get_type())
    }
}

/// The node `item` stands for, when it is one of `kinds` (or, when `python_env`, a
/// `python_env()` value).
fn node_of(item: Value<'_>, kinds: &[&str], python_env: bool) -> Option<NodeId> {
    if let Some(content) = item.downcast_ref::<Content>() {
        return kinds.contains(&content.kind).then(|| content.id.clone());
    }
    if python_env && let Some(env) = item.downcast_ref::<PythonEnvValue>() {
        return Some(env.id.clone());
    }
    None
}

/// `deps` or `runtime`: the nodes, each once, where it first appears.
fn parse_layers(
    site: &Site<'_>,
    param: &str,
    items: &[Value<'_>],
) -> starlark::Result<Vec<NodeId>> {
    let mut ids = each(site, (param, None), items, |i, &item| {
        node_of(item, LAYER_KINDS, true).ok_or_else(|| {
            let hint = if item.downcast_ref::<Debian>().is_some() {
                "; a `debian` archive is not content itself, use its packages: \
                 `deb.packages([...])`"
            } else if item
                .downcast_ref::<Content>()
                .is_some_and(|c| c.kind == "accounts")
            {
                "; accounts belong in an image's `contents`"
            } else {
                ""
            };
            format!(
                "`{param}` takes what deb.packages(), python_env(), files(), write_file(), \
                 symlink() and run() return, but item {i} is {}{hint}",
                described(item)
            )
        })
    })?;
    let mut seen = BTreeSet::new();
    ids.retain(|id| seen.insert(id.clone()));
    Ok(ids)
}

/// `path` is `dir` or inside it.
fn is_under(path: &str, dir: &str) -> bool {
    path.strip_prefix(dir)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// `srcs`: each mount point normalised and checked against the sandbox's own and the
/// others, each value a node a step can mount.
fn parse_srcs(
    site: &Site<'_>,
    entries: &[(String, Value<'_>)],
) -> starlark::Result<BTreeMap<String, NodeId>> {
    let len = entries.len();
    let error = |i: usize, message: String| site.element_error(("srcs", None), (i, len), message);
    // (normalised, as written), in the order written.
    let mut points: Vec<(String, &str)> = Vec::with_capacity(len);
    let mut srcs = BTreeMap::new();
    for (i, (written, value)) in entries.iter().enumerate() {
        let point = paths::absolute(written)
            .map_err(|e| error(i, format!("a mount point in `srcs`: {e}")))?;
        if point == "/" {
            return Err(error(
                i,
                "a mount point in `srcs` can't be `/`: the root file system is made of `deps`"
                    .to_owned(),
            ));
        }
        if let Some(reserved) = RUN_RESERVED_MOUNTS.iter().find(|r| is_under(&point, r)) {
            let what = if *reserved == "/out" {
                "where the step writes its output"
            } else {
                "which the sandbox mounts itself"
            };
            return Err(error(
                i,
                format!(
                    "the mount point {written:?} in `srcs` is at or under `{reserved}`, {what}"
                ),
            ));
        }
        if let Some((_, other)) = points.iter().find(|(p, _)| *p == point) {
            return Err(error(
                i,
                format!("{other:?} and {written:?} in `srcs` are the same mount point"),
            ));
        }
        if let Some((_, other)) = points
            .iter()
            .find(|(p, _)| is_under(p, &point) || is_under(&point, p))
        {
            return Err(error(
                i,
                format!(
                    "the mount points {other:?} and {written:?} in `srcs` are nested: \
                     one would hide part of the other"
                ),
            ));
        }
        let id = node_of(*value, MOUNT_KINDS, false).ok_or_else(|| {
            let hint = if value.downcast_ref::<Debian>().is_some()
                || value.downcast_ref::<PythonEnvValue>().is_some()
                || value
                    .downcast_ref::<Content>()
                    .is_some_and(|c| c.kind == "debian")
            {
                "; packages and Python environments go in `deps`"
            } else {
                ""
            };
            error(
                i,
                format!(
                    "`srcs` mounts what files(), write_file(), symlink() and run() return, \
                     but {written:?} is given {}{hint}",
                    described(*value)
                ),
            )
        })?;
        srcs.insert(point.clone(), id);
        points.push((point, written));
    }
    Ok(srcs)
}

/// A name a shell can set: a letter or `_`, then letters, digits and `_`.
fn valid_variable_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// `env`: names a shell can set, values without NUL bytes.
fn parse_env(
    site: &Site<'_>,
    entries: &[(String, String)],
) -> starlark::Result<BTreeMap<String, String>> {
    let len = entries.len();
    let mut env = BTreeMap::new();
    for (i, (key, value)) in entries.iter().enumerate() {
        let problem = if valid_variable_name(key) {
            no_nul(&format!("the value of {key:?} in `env`"), value)
        } else {
            Err(format!(
                "an environment variable's name must be a letter or `_`, then letters, \
                 digits or `_`; got {key:?}"
            ))
        };
        problem.map_err(|e| site.element_error(("env", None), (i, len), e))?;
        env.insert(key.clone(), value.clone());
    }
    Ok(env)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_names_are_store_names() {
        for good in [
            "a",
            "quotes",
            "go-1.24_x+y?z=w",
            "0",
            &"n".repeat(MAX_RUN_NAME),
        ] {
            assert!(valid_run_name(good), "{good:?}");
        }
        for bad in [
            "",
            ".hidden",
            "a/b",
            "a b",
            "a:b",
            "é",
            "a\0",
            &"n".repeat(MAX_RUN_NAME + 1),
        ] {
            assert!(!valid_run_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn variable_names() {
        for good in ["PATH", "_", "a1", "GOCACHE", "out"] {
            assert!(valid_variable_name(good), "{good:?}");
        }
        for bad in ["", "1A", "A-B", "A=B", "A B", "É"] {
            assert!(!valid_variable_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn under_is_by_component() {
        assert!(is_under("/tmp", "/tmp"));
        assert!(is_under("/tmp/x", "/tmp"));
        assert!(!is_under("/tmpfoo", "/tmp"));
        assert!(!is_under("/", "/tmp"));
    }
}
