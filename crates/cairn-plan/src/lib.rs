//! The plan: what a `cairn.star` asks for, as data.
//!
//! Evaluation (`cairn-eval`) turns a spec into a [`Plan`]: a set of [`Node`]s, each
//! named by its [`NodeId`], the SHA-256 of its canonical JSON (sorted keys, no
//! insignificant whitespace; see `cairn-json`), plus the images by name. A node that
//! refers to another names it by id, so a node's id covers everything below it, and
//! two identical calls in a spec are one node. Nothing here does I/O: what a node
//! *holds* (the packages a `debian` node resolves to, the bytes of a `files` tree) is
//! found when the plan is locked and realised, not when it is written.
//!
//! [`Span`]s say where in a `.star` file something was written, for error messages;
//! they are never part of a node's id, so moving a line changes no hash.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The version of the plan format, part of every node's id.
pub const PLAN_VERSION: u32 = 1;

/// A node's identity: `sha256:<hex>` of its canonical JSON.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct NodeId(String);

impl From<NodeId> for String {
    fn from(id: NodeId) -> Self {
        id.0
    }
}

impl TryFrom<String> for NodeId {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        Self::parse(&text).ok_or_else(|| format!("`{text}` is not a node id (sha256:<64 hex>)"))
    }
}

impl NodeId {
    /// The id of `node`: SHA-256 over the plan version and the node's canonical JSON.
    pub fn of(node: &Node) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(format!("cairn-plan-v{PLAN_VERSION}\n").as_bytes());
        hasher.update(cairn_json::to_canonical(node));
        Self(format!(
            "sha256:{}",
            data_encoding::HEXLOWER.encode(&hasher.finalize())
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Reads an id written by [`NodeId::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        let hex = text.strip_prefix("sha256:")?;
        (hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
            .then(|| Self(text.to_owned()))
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where something was written: a file of the project (relative, `/`-separated) and a
/// byte range in it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Span {
    pub file: String,
    pub start: usize,
    pub end: usize,
}

/// A Debian archive to take packages from (`debian(...)`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DebianRepo {
    /// Without a trailing slash: `http://deb.debian.org/debian`.
    pub mirror: String,
    pub suite: String,
    pub components: Vec<String>,
    /// Whether `<suite>-security` from `security_mirror` is added (stable suites only).
    pub security: bool,
    pub security_mirror: String,
    /// Debian's name: `amd64`, `arm64`.
    pub arch: String,
}

/// Owner of a file: numeric ids, as an image stores them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Owner {
    pub uid: u32,
    pub gid: u32,
}

/// An account declared with `accounts(users = [...])`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: String,
    pub shell: String,
}

/// A group declared with `accounts(groups = [...])`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    pub name: String,
    pub gid: u32,
    pub members: Vec<String>,
}

/// One unit of the plan.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Node {
    /// `deb.packages([...])`: packages and their dependencies, resolved by `cairn lock`.
    Debian {
        repo: DebianRepo,
        /// As written, in order (the order can matter to resolution, as for apt).
        packages: Vec<String>,
        recommends: bool,
    },
    /// `files(src, dest=...)`: a tree of the project's files, filtered.
    Files {
        /// Relative to the project's root, `/`-separated; `.` for the root itself.
        src: String,
        /// Absolute path in the image.
        dest: String,
        /// Globs (gitignore syntax) left out, besides `.gitignore` and `.cairnignore`.
        exclude: Vec<String>,
        /// Permission bits for every file (directories keep 0755), when given.
        mode: Option<u32>,
        owner: Option<Owner>,
    },
    /// `write_file(path, content, mode=)`.
    WriteFile {
        path: String,
        content: String,
        mode: u32,
    },
    /// `symlink(path, target)`.
    Symlink { path: String, target: String },
    /// `accounts(users=[...], groups=[...])`.
    Accounts {
        users: Vec<User>,
        groups: Vec<Group>,
    },
    /// `python_env(...)`: wheels from a Python package index for the interpreter of a
    /// `debian` node, resolved by `cairn lock`.
    PythonEnv(PythonEnv),
    /// `run(...)`: a command run in a sandbox; its output is what it writes to `/out`.
    Run(Run),
    /// `image(...)`.
    Image(Image),
}

impl Node {
    /// What the node is, as `cairn plan` names it.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Debian { .. } => "debian",
            Self::Files { .. } => "files",
            Self::WriteFile { .. } => "write_file",
            Self::Symlink { .. } => "symlink",
            Self::Accounts { .. } => "accounts",
            Self::PythonEnv(_) => "python_env",
            Self::Run(_) => "run",
            Self::Image(_) => "image",
        }
    }
}

/// A Python environment (`python_env(...)`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PythonEnv {
    /// The `debian` node whose CPython the wheels are for; an image holding the
    /// environment holds its packages too.
    pub python: NodeId,
    /// What to install: PEP 508 requirements, as written, in order (read from
    /// `requirements.txt` or `pyproject.toml` when evaluating).
    pub requirements: Vec<PythonRequirement>,
    /// What limits versions without asking for a package (`-c constraints.txt`).
    pub constraints: Vec<PythonRequirement>,
    /// The simple API indexes, the default one first (`https://pypi.org/simple`).
    pub indexes: Vec<String>,
    /// Whether pre-releases may be chosen for any package (`--pre`).
    pub prereleases: bool,
    /// Nodes whose `.whl` files are installed as they are, after the locked wheels
    /// (`run` outputs, `files` trees): not resolved, so not part of what is locked
    /// ([`PythonEnv::lock_id`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub wheels: Vec<NodeId>,
}

impl PythonEnv {
    /// What the lock knows this environment by: its id without the local `wheels`,
    /// which are not resolved (a step building a wheel changes, the lock does not).
    /// For an environment without them, its id.
    pub fn lock_id(&self) -> NodeId {
        NodeId::of(&Node::PythonEnv(Self {
            wheels: Vec::new(),
            ..self.clone()
        }))
    }
}

/// A sandboxed build step (`run(...)`).
///
/// The step's output is an input-addressed object: its path follows from this node
/// and from the objects its `deps`, `srcs` and `runtime` are realised to (the locked
/// packages, the files' contents), so an unchanged step is never run again.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Run {
    /// The output object's name (`[A-Za-z0-9+._?=-]`, not starting with `.`).
    pub name: String,
    /// The nodes composed into the step's read-only root file system (`debian`,
    /// `python_env`, `files`, `write_file`, `symlink`, `run`), in order.
    pub deps: Vec<NodeId>,
    /// Absolute mount point → node, mounted read-only (`files`, `write_file`,
    /// `symlink` or `run`).
    pub srcs: BTreeMap<String, NodeId>,
    /// The command and its arguments; the first is looked up in the sandbox's `PATH`.
    pub cmd: Vec<String>,
    /// Variables set besides the sandbox's fixed ones (a declared one wins).
    pub env: BTreeMap<String, String>,
    /// What the output needs at run time: an image holding the output holds these
    /// too, and they are the output object's references.
    pub runtime: Vec<NodeId>,
    /// The working directory (absolute), `/` unless given.
    pub workdir: String,
    /// Wall-clock limit in seconds.
    pub timeout: u64,
}

/// One requirement of a [`PythonEnv`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PythonRequirement {
    /// PEP 508 text.
    pub requirement: String,
    /// The SHA-256 (lowercase hex) a file for it must have, when the requirements file
    /// lists some (`--hash`): the lock may only pick one of these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hashes: Vec<String>,
}

/// An image (`image(...)`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Image {
    pub name: String,
    /// `debian`, `python_env`, `files`, `write_file`, `symlink` and `accounts` nodes,
    /// in order.
    pub contents: Vec<NodeId>,
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    /// A name or `uid[:gid]`.
    pub user: Option<String>,
    pub workdir: Option<String>,
    pub env: BTreeMap<String, String>,
    /// `8000/tcp`.
    pub ports: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub volumes: Vec<String>,
    pub stop_signal: Option<String>,
    /// The layer budget.
    pub layers: usize,
    /// `gzip` or `zstd`.
    pub compression: String,
}

/// The resolution inputs of a plan whose `debian` and `python_env` nodes are `ids`: a
/// hash of the set
/// (what [`Plan::resolution_inputs`] gives, and what a lock is checked against).
pub fn resolution_inputs<'a>(ids: impl IntoIterator<Item = &'a NodeId>) -> String {
    let mut inputs: Vec<&NodeId> = ids.into_iter().collect();
    inputs.sort();
    inputs.dedup();
    let mut hasher = Sha256::new();
    hasher.update(format!("cairn-resolution-inputs-v{PLAN_VERSION}\n").as_bytes());
    hasher.update(cairn_json::to_canonical(&inputs));
    format!(
        "sha256:{}",
        data_encoding::HEXLOWER.encode(&hasher.finalize())
    )
}

/// A whole plan.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    pub version: u32,
    pub nodes: BTreeMap<NodeId, Node>,
    /// Image nodes by image name.
    pub images: BTreeMap<String, NodeId>,
    /// Where each node was first written, for `debian` nodes where each package name
    /// was (same order as `packages`), and for `python_env` nodes where each
    /// requirement was (same order as `requirements`). Not part of any id.
    #[serde(skip)]
    pub spans: BTreeMap<NodeId, NodeSpans>,
}

/// Where a node and its parts were written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeSpans {
    pub call: Option<Span>,
    /// For `debian` nodes: one per package name; for `python_env` nodes: one per
    /// requirement.
    pub items: Vec<Span>,
}

impl Plan {
    pub fn new() -> Self {
        Self {
            version: PLAN_VERSION,
            ..Self::default()
        }
    }

    /// Adds `node` (once, whatever how often it is added) and returns its id. The
    /// spans of its first addition are kept.
    pub fn add(&mut self, node: Node, spans: NodeSpans) -> NodeId {
        let id = NodeId::of(&node);
        self.spans.entry(id.clone()).or_insert(spans);
        self.nodes.entry(id.clone()).or_insert(node);
        id
    }

    /// The plan as canonical JSON (what `cairn plan --json` prints).
    pub fn to_json(&self) -> Vec<u8> {
        cairn_json::to_canonical(self)
    }

    /// Every `debian` node, by id.
    pub fn debian_nodes(&self) -> BTreeMap<&NodeId, (&DebianRepo, &[String], bool)> {
        self.nodes
            .iter()
            .filter_map(|(id, node)| match node {
                Node::Debian {
                    repo,
                    packages,
                    recommends,
                } => Some((id, (repo, packages.as_slice(), *recommends))),
                _ => None,
            })
            .collect()
    }

    /// Every `python_env` node, by the id the lock knows it by ([`PythonEnv::lock_id`]).
    pub fn python_envs(&self) -> BTreeMap<NodeId, &PythonEnv> {
        self.nodes
            .values()
            .filter_map(|node| match node {
                Node::PythonEnv(env) => Some((env.lock_id(), env)),
                _ => None,
            })
            .collect()
    }

    /// The hash of everything resolution depends on: every `debian` node (its
    /// repository and request) and every `python_env` node (which names its
    /// interpreter's `debian` node). A lock made for other inputs is stale.
    pub fn resolution_inputs(&self) -> String {
        let envs = self.python_envs();
        resolution_inputs(self.debian_nodes().into_keys().chain(envs.keys()))
    }

    /// Every `run` node, by id.
    pub fn runs(&self) -> BTreeMap<&NodeId, &Run> {
        self.nodes
            .iter()
            .filter_map(|(id, node)| match node {
                Node::Run(run) => Some((id, run)),
                _ => None,
            })
            .collect()
    }

    /// The image node named `name`.
    pub fn image(&self, name: &str) -> Option<(&NodeId, &Image)> {
        let id = self.images.get(name)?;
        match self.nodes.get(id)? {
            Node::Image(image) => Some((id, image)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deb(packages: &[&str]) -> Node {
        Node::Debian {
            repo: DebianRepo {
                mirror: "http://deb.debian.org/debian".into(),
                suite: "trixie".into(),
                components: vec!["main".into()],
                security: true,
                security_mirror: "http://deb.debian.org/debian-security".into(),
                arch: "amd64".into(),
            },
            packages: packages.iter().map(ToString::to_string).collect(),
            recommends: false,
        }
    }

    #[test]
    fn ids_are_canonical_and_spans_are_not_part_of_them() {
        let mut plan = Plan::new();
        let span = |start| NodeSpans {
            call: Some(Span {
                file: "cairn.star".into(),
                start,
                end: start + 1,
            }),
            items: Vec::new(),
        };
        let a = plan.add(deb(&["python3"]), span(1));
        let b = plan.add(deb(&["python3"]), span(99));
        assert_eq!(a, b, "the same call twice is one node");
        assert_eq!(plan.nodes.len(), 1);
        assert_eq!(
            plan.spans[&a].call.as_ref().unwrap().start,
            1,
            "first span kept"
        );
        assert_ne!(a, NodeId::of(&deb(&["python3", "curl"])));
        assert_eq!(NodeId::parse(a.as_str()), Some(a.clone()));
        assert_eq!(NodeId::parse("sha256:xyz"), None);
        // The id is the hash of the version line and the canonical JSON.
        let json = String::from_utf8(cairn_json::to_canonical(&deb(&["python3"]))).unwrap();
        assert!(
            json.starts_with(
                r#"{"kind":"debian","packages":["python3"],"recommends":false,"repo":{"#
            ),
            "{json}"
        );
    }

    #[test]
    fn resolution_inputs_follow_the_debian_nodes_only() {
        let mut plan = Plan::new();
        plan.add(deb(&["python3"]), NodeSpans::default());
        let before = plan.resolution_inputs();
        plan.add(
            Node::WriteFile {
                path: "/etc/motd".into(),
                content: "hi".into(),
                mode: 0o644,
            },
            NodeSpans::default(),
        );
        assert_eq!(before, plan.resolution_inputs());
        plan.add(deb(&["curl"]), NodeSpans::default());
        assert_ne!(before, plan.resolution_inputs());
    }
}
