//! The functions a `cairn.star` can call, and the values they return.
//!
//! Each builtin validates its arguments, adds a [`Node`] to the plan being built (the
//! [`Session`] in the evaluator's `extra`) and returns a value that stands for it.
//! Errors point at the argument at fault when its span is known (see
//! [`crate::calls`]), else at the call.

use std::collections::{BTreeMap, BTreeSet};

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
use crate::values::{Content, Debian, PythonEnvValue, Session};
use crate::{
    DEFAULT_ARCH, DEFAULT_COMPRESSION, DEFAULT_LAYERS, DEFAULT_MIRROR, DEFAULT_MODE,
    DEFAULT_SECURITY_MIRROR, DEFAULT_SHELL, DEFAULT_SUITE, MAX_LAYERS,
};

/// A spec error raised by a builtin; its span is set by [`Site::error`].
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct SpecError(String);

/// Where a builtin was called from, and the session it adds nodes to.
pub(crate) struct Site<'s> {
    pub(crate) session: &'s Session,
    location: Option<FileSpan>,
}

impl Site<'_> {
    pub(crate) fn of<'a>(eval: &Evaluator<'_, 'a, '_>) -> Site<'a> {
        let session = eval
            .extra
            .and_then(|extra| extra.downcast_ref::<Session>())
            .expect("cairn's evaluator always carries its session in `extra`");
        Site {
            session,
            location: eval.call_stack_top_location(),
        }
    }

    pub(crate) fn span_of(&self, (start, end): ByteRange) -> Option<Span> {
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

    pub(crate) fn call_span(&self) -> Option<Span> {
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
    pub(crate) fn element_ranges(
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
    pub(crate) fn error(
        &self,
        range: Option<ByteRange>,
        message: impl Into<String>,
    ) -> starlark::Error {
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
    pub(crate) fn arg_error(
        &self,
        name: &str,
        position: Option<usize>,
        message: impl Into<String>,
    ) -> starlark::Error {
        self.error(self.arg_range(name, position), message)
    }

    /// An error at element `i` of the list given for `name` (at the argument when the
    /// list is not a literal).
    pub(crate) fn element_error(
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

    pub(crate) fn add(&self, node: Node, items: Vec<Span>) -> Content {
        let kind = node.kind();
        let spans = NodeSpans {
            call: self.call_span(),
            items,
        };
        let id = self.session.plan.borrow_mut().add(node, spans);
        Content { kind, id }
    }
}

/// Whether `text` is a word: non-empty, without whitespace or control characters (NUL
/// among them).
fn is_word(text: &str) -> bool {
    !text.is_empty() && !text.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// `Ok(())` when `text` is a [word](is_word); else why not, as `{what} must be …`.
pub(crate) fn word(what: &str, text: &str) -> Result<(), String> {
    if !is_word(text) {
        return Err(format!(
            "{what} must be non-empty, without spaces or control characters; got {text:?}"
        ));
    }
    Ok(())
}

/// `Ok(())` when `text` has no NUL byte, which no field of an image's config or file
/// system can hold.
pub(crate) fn no_nul(what: &str, text: &str) -> Result<(), String> {
    if text.contains('\0') {
        return Err(format!("{what} can't contain a NUL byte, got {text:?}"));
    }
    Ok(())
}

/// [`word`] for the argument of parameter `param`.
pub(crate) fn check_word(
    site: &Site<'_>,
    param: (&str, Option<usize>),
    what: &str,
    text: &str,
) -> starlark::Result<()> {
    word(what, text).map_err(|e| site.arg_error(param.0, param.1, e))
}

/// Checks and converts each element of the list given for `param` with `check`
/// (given the index too); an error points at the element.
pub(crate) fn each<T, U>(
    site: &Site<'_>,
    param: (&str, Option<usize>),
    items: &[T],
    mut check: impl FnMut(usize, &T) -> Result<U, String>,
) -> starlark::Result<Vec<U>> {
    let len = items.len();
    items
        .iter()
        .enumerate()
        .map(|(i, item)| check(i, item).map_err(|e| site.element_error(param, (i, len), e)))
        .collect()
}

/// An archive's URL, without its trailing `/`: `http://` or `https://`, then a host.
fn check_mirror(site: &Site<'_>, param: &str, url: &str) -> starlark::Result<String> {
    let trimmed = url.trim_end_matches('/');
    let host = trimmed
        .strip_prefix("http://")
        .or_else(|| trimmed.strip_prefix("https://"))
        .and_then(|rest| rest.split('/').next());
    if host.is_none_or(str::is_empty) || !is_word(trimmed) {
        return Err(site.arg_error(
            param,
            None,
            format!("`{param}` must be an http:// or https:// URL with a host, got {url:?}"),
        ));
    }
    Ok(trimmed.to_owned())
}

fn check_mode(site: &Site<'_>, param: (&str, Option<usize>), mode: i64) -> starlark::Result<u32> {
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

/// The largest uid or gid: `u32::MAX` is `(uid_t) -1`, "no id".
const MAX_ID: u32 = u32::MAX - 1;

fn check_id(value: i64) -> Option<u32> {
    u32::try_from(value).ok().filter(|&id| id <= MAX_ID)
}

/// A value as the spec would write it, shortened when long (an int may have thousands
/// of digits).
fn shown(v: Value<'_>) -> String {
    let repr = v.to_repr();
    match repr.char_indices().nth(24) {
        Some((end, _)) => format!("{}…", &repr[..end]),
        None => repr,
    }
}

/// A user or group name as `/etc/passwd` can hold it.
///
/// Stricter than the build's check (`check_name` in cairn-image's `synth`), which also
/// takes names starting with a digit (but not all digits) or `.`, and a final `$`:
/// every name this accepts, the build accepts.
fn valid_account_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && name.len() <= 32
}

/// An image's name, which names files (`result-<name>`) and is the repository name of
/// the image in archives and engines: the distribution specification's path component
/// (what podman and docker accept), lowercase letters and digits separated by one `.`,
/// one or two `_`, or a run of `-`; at most 128 bytes.
fn valid_image_name(name: &str) -> bool {
    if name.is_empty() || name.len() > 128 {
        return false;
    }
    let mut rest = name.as_bytes();
    loop {
        let alphanumeric = rest
            .iter()
            .take_while(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            .count();
        rest = &rest[alphanumeric..];
        if alphanumeric == 0 {
            return false;
        }
        if rest.is_empty() {
            return true;
        }
        let separator = rest
            .iter()
            .take_while(|b| matches!(b, b'.' | b'_' | b'-'))
            .count();
        let (run, after) = rest.split_at(separator);
        if !(matches!(run, b"." | b"_" | b"__") || run.iter().all(|&b| b == b'-')) {
            return false;
        }
        rest = after;
    }
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
        each(&site, ("components", None), &components.items, |_, c| {
            word("a component", c)
        })?;
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
        #[starlark(default = "/")] dest: &str,
        #[starlark(require = named, default = UnpackList::default())] exclude: UnpackList<String>,
        #[starlark(require = named, default = NoneOr::None)] mode: NoneOr<i64>,
        #[starlark(require = named, default = NoneOr::None)] owner: NoneOr<Value<'v>>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<Content> {
        let site = Site::of(eval);
        let src = paths::project_relative(src)
            .map_err(|e| site.arg_error("src", Some(0), format!("`src`: {e}")))?;
        let dest = absolute(&site, ("dest", Some(1)), dest)?;
        each(&site, ("exclude", None), &exclude.items, |_, glob| {
            if glob.is_empty() {
                return Err("an `exclude` glob can't be empty".to_owned());
            }
            no_nul("an `exclude` glob", glob)
        })?;
        let mode = mode
            .into_option()
            .map(|mode| check_mode(&site, ("mode", None), mode))
            .transpose()?;
        let owner = owner
            .into_option()
            .map(|owner| parse_owner(&site, owner))
            .transpose()?;
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
        #[starlark(require = named, default = i64::from(DEFAULT_MODE))] mode: i64,
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
        if target.is_empty() {
            return Err(site.arg_error("target", Some(1), "`target` can't be empty"));
        }
        no_nul("`target`", target).map_err(|e| site.arg_error("target", Some(1), e))?;
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
        #[starlark(require = named, default = i64::from(DEFAULT_LAYERS))] layers: i64,
        #[starlark(require = named, default = DEFAULT_COMPRESSION)] compression: &str,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<NoneType> {
        let site = Site::of(eval);
        if !valid_image_name(name) {
            return Err(site.arg_error(
                "name",
                None,
                format!(
                    "an image's `name` must be lowercase letters and digits with `.`, `_`, \
                     `__` or dashes between them, at most 128 (it names files and is the \
                     image's repository name, which podman and docker take); got {name:?}"
                ),
            ));
        }
        if site.session.plan.borrow().images.contains_key(name) {
            return Err(site.arg_error(
                "name",
                None,
                format!("there is already an image named {name:?}"),
            ));
        }
        let contents = parse_contents(&site, &contents.items)?;
        let workdir = workdir
            .into_option()
            .map(|dir| absolute(&site, ("workdir", None), dir))
            .transpose()?;
        let user = user
            .into_option()
            .map(|user| check_word(&site, ("user", None), "`user`", user).map(|()| user.to_owned()))
            .transpose()?;
        let stop_signal = stop_signal
            .into_option()
            .map(|signal| {
                check_word(&site, ("stop_signal", None), "`stop_signal`", signal)
                    .map(|()| signal.to_owned())
            })
            .transpose()?;
        let entrypoint = parse_command(&site, "entrypoint", entrypoint)?;
        let cmd = parse_command(&site, "cmd", cmd)?;
        let env = parse_string_dict(&site, "env", env.entries)?;
        let labels = parse_string_dict(&site, "labels", labels.entries)?;
        let ports = parse_ports(&site, &ports.items)?;
        let mut volumes = each(&site, ("volumes", None), &volumes.items, |_, volume| {
            paths::absolute(volume).map_err(|e| format!("a volume: {e}"))
        })?;
        volumes.sort_unstable();
        volumes.dedup();
        if !(1..=i64::from(MAX_LAYERS)).contains(&layers) {
            return Err(site.arg_error(
                "layers",
                None,
                format!(
                    "`layers` (the layer budget) must be between 1 and {MAX_LAYERS} \
                     (the most layers container engines accept), got {layers}"
                ),
            ));
        }
        let layers = usize::try_from(layers).expect("between 1 and MAX_LAYERS");
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
            entrypoint,
            cmd,
            user,
            workdir,
            env,
            ports,
            labels,
            volumes,
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
        each(&site, ("packages", Some(0)), &packages.items, |_, name| {
            word("a package name", name)
        })?;
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
    let bad = |got: String| {
        site.arg_error(
            "owner",
            None,
            format!(
                "`owner` must be a uid (int) or \"uid:gid\" (numbers), each 0 to {MAX_ID}; got {got}"
            ),
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
            _ => Err(bad(format!("{text:?}"))),
        };
    }
    match i64::unpack_value(owner) {
        Ok(Some(uid)) => check_id(uid)
            .map(|uid| Owner { uid, gid: uid })
            .ok_or_else(|| bad(uid.to_string())),
        // An int too big for an i64.
        Err(_) => Err(bad(shown(owner))),
        Ok(None) => Err(bad(format!("a value of type `{}`", owner.get_type()))),
    }
}

/// `entrypoint` or `cmd`: strings without NUL bytes.
fn parse_command(
    site: &Site<'_>,
    param: &str,
    args: NoneOr<UnpackList<String>>,
) -> starlark::Result<Option<Vec<String>>> {
    args.into_option()
        .map(|args| {
            each(site, (param, None), &args.items, |_, arg| {
                no_nul(&format!("an argument in `{param}`"), arg)
            })?;
            Ok(args.items)
        })
        .transpose()
}

/// The nodes in `contents`, each once, where it first appears.
fn parse_contents(site: &Site<'_>, items: &[Value<'_>]) -> starlark::Result<Vec<NodeId>> {
    let mut ids = each(site, ("contents", None), items, |i, item| {
        if let Some(content) = item.downcast_ref::<Content>() {
            return Ok(content.id.clone());
        }
        if let Some(env) = item.downcast_ref::<PythonEnvValue>() {
            return Ok(env.id.clone());
        }
        let hint = if item.downcast_ref::<Debian>().is_some() {
            "; a `debian` archive is not content itself, use its packages: `deb.packages([...])`"
        } else {
            ""
        };
        Err(format!(
            "`contents` takes what deb.packages(), python_env(), files(), write_file(), symlink(), run() \
             and accounts() return, but item {i} is a value of type `{}`{hint}",
            item.get_type()
        ))
    })?;
    let mut seen = BTreeSet::new();
    ids.retain(|id| seen.insert(id.clone()));
    Ok(ids)
}

/// The ports, as `<number>/<protocol>`, each once, by number then protocol.
fn parse_ports(site: &Site<'_>, items: &[Value<'_>]) -> starlark::Result<Vec<String>> {
    let mut ports = each(site, ("ports", None), items, |_, item| {
        let port = if let Some(text) = item.unpack_str() {
            let (number, proto) = text.split_once('/').unwrap_or((text, "tcp"));
            // Leading zeros are fine: `080` is 80.
            let number = number
                .parse::<u16>()
                .ok()
                .filter(|_| number.bytes().all(|b| b.is_ascii_digit()));
            number.zip(["tcp", "udp", "sctp"].into_iter().find(|&p| p == proto))
        } else {
            item.unpack_i32()
                .and_then(|n| u16::try_from(n).ok())
                .map(|n| (n, "tcp"))
        };
        port.filter(|&(n, _)| n != 0).ok_or_else(|| {
            format!(
                "a port must be a number from 1 to 65535 or a string like \"53/udp\" (tcp, udp or sctp), got {}",
                shown(*item)
            )
        })
    })?;
    ports.sort_unstable();
    ports.dedup();
    Ok(ports
        .into_iter()
        .map(|(n, proto)| format!("{n}/{proto}"))
        .collect())
}

/// `env` or `labels`: names (keys) non-empty, and for `env` without `=`; no NUL bytes.
fn parse_string_dict(
    site: &Site<'_>,
    param: &str,
    entries: Vec<(String, String)>,
) -> starlark::Result<BTreeMap<String, String>> {
    let (what, no_equals) = if param == "env" {
        ("an environment variable's name", true)
    } else {
        ("a label's key", false)
    };
    let mut dict = BTreeMap::new();
    for (key, value) in entries {
        let problem = if key.is_empty() || (no_equals && key.contains('=')) {
            Err(if no_equals {
                format!("{what} must be non-empty and without `=`, got {key:?}")
            } else {
                format!("{what} can't be empty")
            })
        } else {
            no_nul(what, &key)
                .and_then(|()| no_nul(&format!("the value of {key:?} in `{param}`"), &value))
        };
        problem.map_err(|e| site.arg_error(param, None, e))?;
        dict.insert(key, value);
    }
    Ok(dict)
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
        let out_of_range =
            |got: String| self.error(format!("`{key}` must be between 0 and {MAX_ID}, got {got}"));
        match i64::unpack_value(v) {
            Ok(Some(n)) => check_id(n)
                .map(Some)
                .ok_or_else(|| out_of_range(n.to_string())),
            // An int too big for an i64.
            Err(_) => Err(out_of_range(shown(v))),
            Ok(None) => Err(self.error(format!(
                "`{key}` in `{}` must be an int, got a value of type `{}`",
                self.param,
                v.get_type()
            ))),
        }
    }

    /// An absolute path that is a field of `/etc/passwd` (`home`, `shell`): no `:`,
    /// which separates the fields, nor control characters (a newline ends the line).
    fn passwd_path(&self, key: &str) -> starlark::Result<Option<String>> {
        let Some(path) = self.string(key)? else {
            return Ok(None);
        };
        let path = paths::absolute(&path).map_err(|e| self.error(format!("`{key}`: {e}")))?;
        if path.contains(':') || path.chars().any(char::is_control) {
            return Err(self.error(format!(
                "`{key}` can't contain `:` or control characters (it is a field of /etc/passwd), got {path:?}"
            )));
        }
        Ok(Some(path))
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
                .passwd_path("home")?
                .unwrap_or_else(|| format!("/home/{name}")),
            shell: entry
                .passwd_path("shell")?
                .unwrap_or_else(|| DEFAULT_SHELL.to_owned()),
            name,
            uid,
        };
        if let Some(other) = users.iter().find(|u| u.name == user.name) {
            return Err(entry.error(format!("user {:?} is declared twice", other.name)));
        }
        if let Some(other) = users.iter().find(|u| u.uid == user.uid) {
            return Err(entry.error(format!(
                "users {:?} and {:?} both have uid {}; each user needs its own",
                other.name, user.name, user.uid
            )));
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
        if let Some(other) = groups.iter().find(|g| g.gid == gid) {
            return Err(entry.error(format!(
                "groups {:?} and {name:?} both have gid {gid}; each group needs its own",
                other.name
            )));
        }
        groups.push(Group { name, gid, members });
    }
    Ok(groups)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// cairn-image's `synth::check_name`, as written there (which this crate can't
    /// depend on): what the build accepts in `/etc/passwd` and `/etc/group`.
    fn build_accepts(name: &str) -> bool {
        let body = name.strip_suffix('$').unwrap_or(name);
        !body.is_empty()
            && name.len() <= 32
            && body
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
            && !body.starts_with('-')
            && !body.bytes().all(|b| b.is_ascii_digit())
    }

    #[test]
    fn every_account_name_eval_accepts_the_build_accepts() {
        // Every name of up to three characters from a set covering each class, and some
        // long ones.
        let alphabet = ["a", "Z", "0", "9", "_", "-", ".", "$", ":", " ", "é", "/"];
        let mut names = vec![String::new(), "a".repeat(32), "a".repeat(33)];
        for a in alphabet {
            names.push(a.to_owned());
            for b in alphabet {
                names.push(format!("{a}{b}"));
                for c in alphabet {
                    names.push(format!("{a}{b}{c}"));
                }
            }
        }
        for name in &names {
            if valid_account_name(name) {
                assert!(build_accepts(name), "{name:?}");
            }
        }
        // Not the other way round: eval is the stricter.
        for name in ["1a", ".a", "a$"] {
            assert!(build_accepts(name) && !valid_account_name(name), "{name:?}");
        }
    }

    #[test]
    fn image_names() {
        for good in [
            "a",
            "0",
            "a.b_c-d",
            "web-2",
            "a__b",
            "a---b",
            &"x".repeat(128),
        ] {
            assert!(valid_image_name(good), "{good:?}");
        }
        for bad in [
            "",
            ".",
            "..",
            "-a",
            "_a",
            ".a",
            "a/b",
            "a b",
            "a\0",
            "Web",
            "a..b",
            "a___b",
            "a.-b",
            "a-",
            "a.",
            "a:b",
            &"x".repeat(129),
        ] {
            assert!(!valid_image_name(bad), "{bad:?}");
        }
    }
}
