//! The functions a `cairn.star` can call, and the values they return.
//!
//! Each builtin validates its arguments, adds a [`Node`] to the plan being built (the
//! [`Session`] in the evaluator's `extra`) and returns a value that stands for it.
//! Errors point at the argument at fault when its span is known (see
//! [`crate::calls`]), else at the call.

use std::collections::BTreeMap;

use cairn_plan::{DebianRepo, Group, Image, Node, NodeId, NodeSpans, Owner, Span, User};
use starlark::codemap::{FileSpan, Pos};
use starlark::environment::{GlobalsBuilder, MethodsBuilder};
use starlark::eval::Evaluator;
use starlark::starlark_module;
use starlark::values::dict::{DictRef, UnpackDictEntries};
use starlark::values::list::UnpackList;
use starlark::values::none::{NoneOr, NoneType};
use starlark::values::{UnpackValue, Value, ValueLike};

use crate::calls::ByteRange;
use crate::paths;
use crate::values::{Content, Debian, Session};
use crate::{
    DEFAULT_ARCH, DEFAULT_COMPRESSION, DEFAULT_LAYERS, DEFAULT_MIRROR, DEFAULT_MODE,
    DEFAULT_SECURITY_MIRROR, DEFAULT_SHELL, DEFAULT_SUITE,
};

/// A spec error raised by a builtin; its span is set by [`Site::error`].
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct SpecError(String);

/// Where a builtin was called from, and the session it adds nodes to.
struct Site<'s> {
    session: &'s Session,
    location: Option<FileSpan>,
}

impl Site<'_> {
    fn of<'a>(eval: &Evaluator<'_, 'a, '_>) -> Site<'a> {
        let session = eval
            .extra
            .and_then(|extra| extra.downcast_ref::<Session>())
            .expect("cairn's evaluator always carries its session in `extra`");
        Site {
            session,
            location: eval.call_stack_top_location(),
        }
    }

    fn span_of(&self, (start, end): ByteRange) -> Option<Span> {
        self.location.as_ref().map(|loc| Span {
            file: loc.file.filename().to_owned(),
            start: start as usize,
            end: end as usize,
        })
    }

    fn call_range(&self) -> Option<ByteRange> {
        self.location
            .as_ref()
            .map(|loc| (loc.span.begin().get(), loc.span.end().get()))
    }

    fn call_span(&self) -> Option<Span> {
        self.call_range().and_then(|r| self.span_of(r))
    }

    /// Where the argument for parameter `name` (at `position` when positional) is.
    fn arg_range(&self, name: &str, position: Option<usize>) -> Option<ByteRange> {
        let loc = self.location.as_ref()?;
        let calls = self.session.calls.borrow();
        let index = calls.get(loc.file.filename())?;
        index
            .arg(self.call_range()?, name, position)
            .map(crate::calls::Arg::span)
    }

    /// Where the elements are, when the argument for `name` is a list literal of `len`
    /// elements.
    fn element_ranges(
        &self,
        name: &str,
        position: Option<usize>,
        len: usize,
    ) -> Option<Vec<ByteRange>> {
        let loc = self.location.as_ref()?;
        let calls = self.session.calls.borrow();
        let index = calls.get(loc.file.filename())?;
        index
            .arg(self.call_range()?, name, position)?
            .elements(len)
            .map(<[ByteRange]>::to_vec)
    }

    /// An error at `range` (at the call when `None`).
    fn error(&self, range: Option<ByteRange>, message: impl Into<String>) -> starlark::Error {
        let mut error = starlark::Error::new_native(SpecError(message.into()));
        if let (Some(loc), Some((start, end))) = (&self.location, range.or(self.call_range())) {
            error.set_span(
                starlark::codemap::Span::new(Pos::new(start), Pos::new(end)),
                &loc.file,
            );
        }
        error
    }

    /// An error at the argument for parameter `name`.
    fn arg_error(
        &self,
        name: &str,
        position: Option<usize>,
        message: impl Into<String>,
    ) -> starlark::Error {
        self.error(self.arg_range(name, position), message)
    }

    /// An error at element `i` of the list given for `name` (at the argument when the
    /// list is not a literal).
    fn element_error(
        &self,
        (name, position): (&str, Option<usize>),
        (i, len): (usize, usize),
        message: impl Into<String>,
    ) -> starlark::Error {
        let range = self
            .element_ranges(name, position, len)
            .map(|r| r[i])
            .or_else(|| self.arg_range(name, position));
        self.error(range, message)
    }

    fn add(&self, node: Node, items: Vec<Span>) -> Content {
        let kind = node.kind();
        let spans = NodeSpans {
            call: self.call_span(),
            items,
        };
        let id = self.session.plan.borrow_mut().add(node, spans);
        Content { kind, id }
    }
}

/// `Ok(())` when `text` is a non-empty token without whitespace.
fn check_word(
    site: &Site<'_>,
    param: (&str, Option<usize>),
    what: &str,
    text: &str,
) -> starlark::Result<()> {
    if text.is_empty() || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(site.arg_error(
            param.0,
            param.1,
            format!("{what} must be a non-empty word without spaces, got {text:?}"),
        ));
    }
    Ok(())
}

fn check_mirror(site: &Site<'_>, param: &str, url: &str) -> starlark::Result<String> {
    let valid = (url.starts_with("http://") || url.starts_with("https://"))
        && !url.chars().any(|c| c.is_whitespace() || c.is_control());
    if !valid {
        return Err(site.arg_error(
            param,
            None,
            format!("`{param}` must be an http:// or https:// URL, got {url:?}"),
        ));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

fn check_mode(site: &Site<'_>, param: (&str, Option<usize>), mode: i32) -> starlark::Result<u32> {
    match u32::try_from(mode) {
        Ok(mode) if mode <= 0o7777 => Ok(mode),
        _ => {
            let got = if mode < 0 {
                mode.to_string()
            } else {
                format!("0o{mode:o}")
            };
            Err(site.arg_error(
                param.0,
                param.1,
                format!(
                    "`{}` must be between 0 and 0o7777 (permission bits, e.g. 0o644), got {got}",
                    param.0
                ),
            ))
        }
    }
}

fn check_id(value: i64) -> Option<u32> {
    u32::try_from(value).ok().filter(|&id| id != u32::MAX)
}

/// A user or group name as `/etc/passwd` can hold it.
fn valid_account_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && name.len() <= 32
}

fn absolute(site: &Site<'_>, param: (&str, Option<usize>), path: &str) -> starlark::Result<String> {
    paths::absolute(path)
        .map_err(|e| site.arg_error(param.0, param.1, format!("`{}`: {e}", param.0)))
}

#[starlark_module]
pub(crate) fn globals(builder: &mut GlobalsBuilder) {
    /// A Debian archive (see the crate documentation).
    fn debian<'v>(
        #[starlark(default = DEFAULT_SUITE)] suite: &str,
        #[starlark(require = named, default = DEFAULT_MIRROR)] mirror: &str,
        #[starlark(require = named, default = UnpackList { items: vec!["main".to_owned()] })]
        components: UnpackList<String>,
        #[starlark(require = named, default = true)] security: bool,
        #[starlark(require = named, default = DEFAULT_SECURITY_MIRROR)] security_mirror: &str,
        #[starlark(require = named, default = DEFAULT_ARCH)] arch: &str,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<Debian> {
        let site = Site::of(eval);
        check_word(&site, ("suite", Some(0)), "`suite`", suite)?;
        check_word(&site, ("arch", None), "`arch`", arch)?;
        let mirror = check_mirror(&site, "mirror", mirror)?;
        let security_mirror = check_mirror(&site, "security_mirror", security_mirror)?;
        if components.items.is_empty() {
            return Err(site.arg_error("components", None, "`components` can't be empty"));
        }
        let len = components.items.len();
        for (i, component) in components.items.iter().enumerate() {
            if component.is_empty()
                || component
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control())
            {
                return Err(site.element_error(
                    ("components", None),
                    (i, len),
                    format!(
                        "a component must be a non-empty word without spaces, got {component:?}"
                    ),
                ));
            }
        }
        Ok(Debian {
            repo: DebianRepo {
                mirror,
                suite: suite.to_owned(),
                components: components.items,
                security,
                security_mirror,
                arch: arch.to_owned(),
            },
        })
    }

    /// A tree of the project's files.
    fn files<'v>(
        src: &str,
        dest: &str,
        #[starlark(require = named, default = UnpackList::default())] exclude: UnpackList<String>,
        #[starlark(require = named, default = NoneOr::None)] mode: NoneOr<i32>,
        #[starlark(require = named, default = NoneOr::None)] owner: NoneOr<Value<'v>>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<Content> {
        let site = Site::of(eval);
        let src = paths::project_relative(src)
            .map_err(|e| site.arg_error("src", Some(0), format!("`src`: {e}")))?;
        let dest = absolute(&site, ("dest", Some(1)), dest)?;
        let len = exclude.items.len();
        for (i, glob) in exclude.items.iter().enumerate() {
            if glob.is_empty() || glob.contains('\0') {
                return Err(site.element_error(
                    ("exclude", None),
                    (i, len),
                    "an `exclude` glob can't be empty",
                ));
            }
        }
        let mode = match mode {
            NoneOr::None => None,
            NoneOr::Other(mode) => Some(check_mode(&site, ("mode", None), mode)?),
        };
        let owner = match owner {
            NoneOr::None => None,
            NoneOr::Other(owner) => Some(parse_owner(&site, owner)?),
        };
        Ok(site.add(
            Node::Files {
                src,
                dest,
                exclude: exclude.items,
                mode,
                owner,
            },
            Vec::new(),
        ))
    }

    /// A file with the given content.
    fn write_file<'v>(
        path: &str,
        content: &str,
        #[starlark(require = named, default = DEFAULT_MODE)] mode: i32,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<Content> {
        let site = Site::of(eval);
        let path = absolute(&site, ("path", Some(0)), path)?;
        if path == "/" {
            return Err(site.arg_error("path", Some(0), "`path` must name a file, not `/`"));
        }
        let mode = check_mode(&site, ("mode", None), mode)?;
        Ok(site.add(
            Node::WriteFile {
                path,
                content: content.to_owned(),
                mode,
            },
            Vec::new(),
        ))
    }

    /// A symbolic link at `path` pointing to `target`.
    fn symlink<'v>(
        path: &str,
        target: &str,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<Content> {
        let site = Site::of(eval);
        let path = absolute(&site, ("path", Some(0)), path)?;
        if path == "/" {
            return Err(site.arg_error("path", Some(0), "`path` must name a link, not `/`"));
        }
        if target.is_empty() || target.contains('\0') {
            return Err(site.arg_error(
                "target",
                Some(1),
                "`target` must be a non-empty path without NUL bytes",
            ));
        }
        Ok(site.add(
            Node::Symlink {
                path,
                target: target.to_owned(),
            },
            Vec::new(),
        ))
    }

    /// Users and groups.
    fn accounts<'v>(
        #[starlark(require = named, default = UnpackList::default())] users: UnpackList<Value<'v>>,
        #[starlark(require = named, default = UnpackList::default())] groups: UnpackList<Value<'v>>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<Content> {
        let site = Site::of(eval);
        let users = parse_users(&site, &users.items)?;
        let groups = parse_groups(&site, &groups.items)?;
        Ok(site.add(Node::Accounts { users, groups }, Vec::new()))
    }

    /// An image. Returns `None`.
    #[allow(clippy::too_many_arguments)] // Starlark keyword parameters, one per field.
    fn image<'v>(
        #[starlark(require = named)] name: &str,
        #[starlark(require = named, default = UnpackList::default())] contents: UnpackList<
            Value<'v>,
        >,
        #[starlark(require = named, default = NoneOr::None)] entrypoint: NoneOr<UnpackList<String>>,
        #[starlark(require = named, default = NoneOr::None)] cmd: NoneOr<UnpackList<String>>,
        #[starlark(require = named, default = NoneOr::None)] user: NoneOr<&str>,
        #[starlark(require = named, default = NoneOr::None)] workdir: NoneOr<&str>,
        #[starlark(require = named, default = UnpackDictEntries::default())] env: UnpackDictEntries<
            String,
            String,
        >,
        #[starlark(require = named, default = UnpackList::default())] ports: UnpackList<Value<'v>>,
        #[starlark(require = named, default = UnpackDictEntries::default())]
        labels: UnpackDictEntries<String, String>,
        #[starlark(require = named, default = UnpackList::default())] volumes: UnpackList<String>,
        #[starlark(require = named, default = NoneOr::None)] stop_signal: NoneOr<&str>,
        #[starlark(require = named, default = DEFAULT_LAYERS)] layers: i32,
        #[starlark(require = named, default = DEFAULT_COMPRESSION)] compression: &str,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<NoneType> {
        let site = Site::of(eval);
        check_word(&site, ("name", None), "an image's `name`", name)?;
        if site.session.plan.borrow().images.contains_key(name) {
            return Err(site.arg_error(
                "name",
                None,
                format!("there is already an image named {name:?}"),
            ));
        }
        let contents = parse_contents(&site, &contents.items)?;
        let workdir = match workdir {
            NoneOr::None => None,
            NoneOr::Other(dir) => Some(absolute(&site, ("workdir", None), dir)?),
        };
        let user = match user {
            NoneOr::None => None,
            NoneOr::Other(user) => {
                check_word(&site, ("user", None), "`user`", user)?;
                Some(user.to_owned())
            }
        };
        let stop_signal = match stop_signal {
            NoneOr::None => None,
            NoneOr::Other(signal) => {
                check_word(&site, ("stop_signal", None), "`stop_signal`", signal)?;
                Some(signal.to_owned())
            }
        };
        let env = parse_env(&site, env.entries)?;
        let labels = parse_labels(&site, labels.entries)?;
        let ports = parse_ports(&site, &ports.items)?;
        let len = volumes.items.len();
        let mut volume_paths = Vec::with_capacity(len);
        for (i, volume) in volumes.items.iter().enumerate() {
            let path = paths::absolute(volume).map_err(|e| {
                site.element_error(("volumes", None), (i, len), format!("a volume: {e}"))
            })?;
            volume_paths.push(path);
        }
        let layers = match usize::try_from(layers) {
            Ok(n) if n >= 1 => n,
            _ => {
                return Err(site.arg_error(
                    "layers",
                    None,
                    format!("`layers` (the layer budget) must be at least 1, got {layers}"),
                ));
            }
        };
        if !matches!(compression, "gzip" | "zstd") {
            return Err(site.arg_error(
                "compression",
                None,
                format!("`compression` must be \"gzip\" or \"zstd\", got {compression:?}"),
            ));
        }
        let image = Image {
            name: name.to_owned(),
            contents,
            entrypoint: entrypoint.into_option().map(|l| l.items),
            cmd: cmd.into_option().map(|l| l.items),
            user,
            workdir,
            env,
            ports,
            labels,
            volumes: volume_paths,
            stop_signal,
            layers,
            compression: compression.to_owned(),
        };
        let node = site.add(Node::Image(image), Vec::new());
        site.session
            .plan
            .borrow_mut()
            .images
            .insert(name.to_owned(), node.id);
        Ok(NoneType)
    }
}

#[starlark_module]
pub(crate) fn debian_methods(builder: &mut MethodsBuilder) {
    /// Packages from this archive, with everything they depend on.
    fn packages<'v>(
        this: &Debian,
        packages: UnpackList<String>,
        #[starlark(require = named, default = false)] recommends: bool,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<Content> {
        let site = Site::of(eval);
        let len = packages.items.len();
        if len == 0 {
            return Err(site.arg_error("packages", Some(0), "`packages` can't be empty"));
        }
        for (i, name) in packages.items.iter().enumerate() {
            if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(site.element_error(
                    ("packages", Some(0)),
                    (i, len),
                    format!("a package name must be non-empty and without spaces, got {name:?}"),
                ));
            }
        }
        let items = match site.element_ranges("packages", Some(0), len) {
            Some(ranges) => ranges.into_iter().filter_map(|r| site.span_of(r)).collect(),
            None => site.call_span().map(|s| vec![s; len]).unwrap_or_default(),
        };
        Ok(site.add(
            Node::Debian {
                repo: this.repo.clone(),
                packages: packages.items,
                recommends,
            },
            items,
        ))
    }
}

fn parse_owner(site: &Site<'_>, owner: Value<'_>) -> starlark::Result<Owner> {
    let bad = |detail: String| {
        site.arg_error(
            "owner",
            None,
            format!("`owner` must be a uid (int) or \"uid:gid\" (numbers), {detail}"),
        )
    };
    if let Some(text) = owner.unpack_str() {
        let (uid, gid) = text.split_once(':').unwrap_or((text, text));
        let parse = |s: &str| {
            s.parse::<i64>()
                .ok()
                .filter(|_| s.bytes().all(|b| b.is_ascii_digit()))
                .and_then(check_id)
        };
        return match (parse(uid), parse(gid)) {
            (Some(uid), Some(gid)) => Ok(Owner { uid, gid }),
            _ => Err(bad(format!("got {text:?}"))),
        };
    }
    match i64::unpack_value(owner) {
        Ok(Some(uid)) => match check_id(uid) {
            Some(uid) => Ok(Owner { uid, gid: uid }),
            None => Err(bad(format!("got {uid}, out of range"))),
        },
        _ => Err(bad(format!("got a value of type `{}`", owner.get_type()))),
    }
}

fn parse_contents(site: &Site<'_>, items: &[Value<'_>]) -> starlark::Result<Vec<NodeId>> {
    let len = items.len();
    let mut ids = Vec::with_capacity(len);
    for (i, item) in items.iter().enumerate() {
        if let Some(content) = item.downcast_ref::<Content>() {
            ids.push(content.id.clone());
            continue;
        }
        let hint = if item.downcast_ref::<Debian>().is_some() {
            "; a `debian` archive is not content itself, use its packages: `deb.packages([...])`"
        } else {
            ""
        };
        return Err(site.element_error(
            ("contents", None),
            (i, len),
            format!(
                "`contents` takes what deb.packages(), files(), write_file(), symlink() and accounts() return, \
                 but item {i} is a value of type `{}`{hint}",
                item.get_type()
            ),
        ));
    }
    Ok(ids)
}

fn parse_ports(site: &Site<'_>, items: &[Value<'_>]) -> starlark::Result<Vec<String>> {
    let len = items.len();
    let mut ports = Vec::with_capacity(len);
    for (i, item) in items.iter().enumerate() {
        let port = if let Some(text) = item.unpack_str() {
            let (number, proto) = text.split_once('/').unwrap_or((text, "tcp"));
            let number = number
                .parse::<u16>()
                .ok()
                .filter(|&n| n != 0 && number.bytes().all(|b| b.is_ascii_digit()));
            match number {
                Some(n) if matches!(proto, "tcp" | "udp" | "sctp") => Some(format!("{n}/{proto}")),
                _ => None,
            }
        } else {
            item.unpack_i32()
                .and_then(|n| u16::try_from(n).ok())
                .filter(|&n| n != 0)
                .map(|n| format!("{n}/tcp"))
        };
        match port {
            Some(port) => ports.push(port),
            None => {
                return Err(site.element_error(
                    ("ports", None),
                    (i, len),
                    format!(
                        "a port must be a number from 1 to 65535 or a string like \"53/udp\" (tcp, udp or sctp), got {}",
                        item.to_repr()
                    ),
                ));
            }
        }
    }
    Ok(ports)
}

fn parse_env(
    site: &Site<'_>,
    entries: Vec<(String, String)>,
) -> starlark::Result<BTreeMap<String, String>> {
    let mut env = BTreeMap::new();
    for (key, value) in entries {
        if key.is_empty() || key.contains('=') || key.contains('\0') || value.contains('\0') {
            return Err(site.arg_error(
                "env",
                None,
                format!(
                    "an environment variable's name must be non-empty and without `=`, got {key:?}"
                ),
            ));
        }
        env.insert(key, value);
    }
    Ok(env)
}

fn parse_labels(
    site: &Site<'_>,
    entries: Vec<(String, String)>,
) -> starlark::Result<BTreeMap<String, String>> {
    let mut labels = BTreeMap::new();
    for (key, value) in entries {
        if key.is_empty() {
            return Err(site.arg_error("labels", None, "a label's key can't be empty"));
        }
        labels.insert(key, value);
    }
    Ok(labels)
}

/// The entries of one `users`/`groups` dict, checked against the keys it may have.
struct Entry<'v, 'a> {
    site: &'a Site<'a>,
    param: &'static str,
    at: (usize, usize),
    dict: DictRef<'v>,
}

impl<'v> Entry<'v, '_> {
    fn new<'a>(
        site: &'a Site<'a>,
        param: &'static str,
        at: (usize, usize),
        value: Value<'v>,
        keys: &[&str],
    ) -> starlark::Result<Entry<'v, 'a>> {
        let Some(dict) = DictRef::from_value(value) else {
            return Err(site.element_error(
                (param, None),
                at,
                format!(
                    "each of `{param}` must be a dict (keys: {}), got a value of type `{}`",
                    keys.join(", "),
                    value.get_type()
                ),
            ));
        };
        for (key, _) in dict.iter() {
            if !key.unpack_str().is_some_and(|k| keys.contains(&k)) {
                return Err(site.element_error(
                    (param, None),
                    at,
                    format!(
                        "unknown key {} in `{param}`; the keys are: {}",
                        key.to_repr(),
                        keys.join(", ")
                    ),
                ));
            }
        }
        Ok(Entry {
            site,
            param,
            at,
            dict,
        })
    }

    fn error(&self, message: String) -> starlark::Error {
        self.site
            .element_error((self.param, None), self.at, message)
    }

    fn get(&self, key: &str) -> Option<Value<'v>> {
        self.dict.get_str(key)
    }

    fn string(&self, key: &str) -> starlark::Result<Option<String>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => match v.unpack_str() {
                Some(s) => Ok(Some(s.to_owned())),
                None => Err(self.error(format!(
                    "`{key}` in `{}` must be a string, got a value of type `{}`",
                    self.param,
                    v.get_type()
                ))),
            },
        }
    }

    fn name(&self) -> starlark::Result<String> {
        let name = self
            .string("name")?
            .ok_or_else(|| self.error(format!("each of `{}` needs a `name`", self.param)))?;
        if !valid_account_name(&name) {
            return Err(self.error(format!(
                "{name:?} is not a valid account name (a letter or `_`, then letters, digits, `_`, `-` or `.`; at most 32)"
            )));
        }
        Ok(name)
    }

    fn id(&self, key: &str) -> starlark::Result<Option<u32>> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        match i64::unpack_value(v) {
            Ok(Some(n)) => check_id(n).map(Some).ok_or_else(|| {
                self.error(format!("`{key}` must be between 0 and 4294967294, got {n}"))
            }),
            _ => Err(self.error(format!(
                "`{key}` in `{}` must be an int, got a value of type `{}`",
                self.param,
                v.get_type()
            ))),
        }
    }

    fn path(&self, key: &str) -> starlark::Result<Option<String>> {
        match self.string(key)? {
            None => Ok(None),
            Some(path) => paths::absolute(&path)
                .map(Some)
                .map_err(|e| self.error(format!("`{key}`: {e}"))),
        }
    }
}

fn parse_users(site: &Site<'_>, items: &[Value<'_>]) -> starlark::Result<Vec<User>> {
    const KEYS: &[&str] = &["name", "uid", "gid", "home", "shell"];
    let len = items.len();
    let mut users: Vec<User> = Vec::with_capacity(len);
    for (i, &item) in items.iter().enumerate() {
        let entry = Entry::new(site, "users", (i, len), item, KEYS)?;
        let name = entry.name()?;
        let uid = entry
            .id("uid")?
            .ok_or_else(|| entry.error(format!("user {name:?} needs a `uid`")))?;
        let user = User {
            gid: entry.id("gid")?.unwrap_or(uid),
            home: entry
                .path("home")?
                .unwrap_or_else(|| format!("/home/{name}")),
            shell: entry
                .path("shell")?
                .unwrap_or_else(|| DEFAULT_SHELL.to_owned()),
            name,
            uid,
        };
        if let Some(other) = users.iter().find(|u| u.name == user.name) {
            return Err(entry.error(format!("user {:?} is declared twice", other.name)));
        }
        users.push(user);
    }
    Ok(users)
}

fn parse_groups(site: &Site<'_>, items: &[Value<'_>]) -> starlark::Result<Vec<Group>> {
    const KEYS: &[&str] = &["name", "gid", "members"];
    let len = items.len();
    let mut groups: Vec<Group> = Vec::with_capacity(len);
    for (i, &item) in items.iter().enumerate() {
        let entry = Entry::new(site, "groups", (i, len), item, KEYS)?;
        let name = entry.name()?;
        let gid = entry
            .id("gid")?
            .ok_or_else(|| entry.error(format!("group {name:?} needs a `gid`")))?;
        let members = match entry.get("members") {
            None => Vec::new(),
            Some(v) => match UnpackList::<String>::unpack_value(v) {
                Ok(Some(list)) => list.items,
                _ => {
                    return Err(entry.error(format!(
                        "`members` of group {name:?} must be a list of user names"
                    )));
                }
            },
        };
        if let Some(bad) = members.iter().find(|m| !valid_account_name(m)) {
            return Err(entry.error(format!("{bad:?} is not a valid user name")));
        }
        if groups.iter().any(|g| g.name == name) {
            return Err(entry.error(format!("group {name:?} is declared twice")));
        }
        groups.push(Group { name, gid, members });
    }
    Ok(groups)
}
