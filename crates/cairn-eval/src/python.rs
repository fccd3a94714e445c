//! `python_env()`: wheels from a Python package index for the interpreter of a
//! `debian` node.
//!
//! The requirements are read here, when evaluating, from `packages = [...]`,
//! `requirements = "requirements.txt"` (pip's format, with its `-r`/`-c` includes) or
//! `pyproject = "pyproject.toml"` (PEP 621): they are resolution inputs, so they are
//! part of the node, and a changed requirements file makes the lock stale. Only what
//! changes resolution is: comments, order of options and line numbers are not.

use cairn_plan::{Node, PythonEnv, PythonRequirement, Span};
use cairn_pypi::requirements_txt::{
    RequirementsFile, SourcedRequirement, parse_pyproject, parse_requirements_txt,
};
use cairn_pypi::{ExtraName, Requirement};
use starlark::environment::{GlobalsBuilder, MethodsBuilder};
use starlark::eval::Evaluator;
use starlark::starlark_module;
use starlark::values::list::UnpackList;
use starlark::values::none::NoneOr;
use starlark::values::{Value, ValueLike};

use crate::builtins::{Site, each, word};
use crate::paths;
use crate::values::{Content, PythonEnvValue};

/// An error with its causes, and its hint when it has one.
fn explain(error: &dyn std::error::Error, hint: Option<String>) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    if let Some(hint) = hint {
        text.push_str("\nhint: ");
        text.push_str(&hint);
    }
    text
}

/// `python_env(index=)`'s default: PyPI's simple API.
pub const DEFAULT_INDEX: &str = "https://pypi.org/simple";

/// Where console scripts are installed (Debian's `/usr/local` scheme).
const SCRIPTS_DIR: &str = "/usr/local/bin";

#[starlark_module]
pub(crate) fn globals(builder: &mut GlobalsBuilder) {
    /// A Python environment: the wheels `requirements`, `pyproject` or `packages` ask
    /// for, resolved by `cairn lock` for the CPython of `python` (a `deb.packages()`
    /// value that holds `python3`), and the `.whl` files of `wheels` (run() outputs,
    /// files() trees), installed as they are: what they require must be among the
    /// resolved wheels.
    #[allow(clippy::too_many_arguments)] // Starlark keyword parameters, one per field.
    fn python_env<'v>(
        #[starlark(require = named)] python: Value<'v>,
        #[starlark(require = named, default = NoneOr::None)] requirements: NoneOr<&str>,
        #[starlark(require = named, default = NoneOr::None)] pyproject: NoneOr<&str>,
        #[starlark(require = named, default = UnpackList::default())] extras: UnpackList<String>,
        #[starlark(require = named, default = UnpackList::default())] packages: UnpackList<String>,
        #[starlark(require = named, default = NoneOr::None)] index: NoneOr<&str>,
        #[starlark(require = named, default = UnpackList::default())] extra_indexes: UnpackList<
            String,
        >,
        #[starlark(require = named, default = false)] prereleases: bool,
        #[starlark(require = named, default = UnpackList::default())] wheels: UnpackList<Value<'v>>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<PythonEnvValue> {
        let site = Site::of(eval);
        let python = match python.downcast_ref::<Content>() {
            Some(content) if content.kind == "debian" => content.id.clone(),
            _ => {
                return Err(site.arg_error(
                    "python",
                    None,
                    format!(
                        "`python` takes what deb.packages() returns (with `python3` among the \
                         packages), not a value of type `{}`",
                        python.get_type()
                    ),
                ));
            }
        };
        let mut gathered = Gathered::default();
        if let Some(file) = requirements.into_option() {
            gathered.requirements_txt(&site, file)?;
        }
        if let Some(file) = pyproject.into_option() {
            let extras = each(&site, ("extras", None), &extras.items, |_, extra| {
                extra
                    .parse::<ExtraName>()
                    .map_err(|e| format!("`{extra}` is not an extra name: {e}"))
            })?;
            gathered.pyproject(&site, file, &extras)?;
        } else if !extras.items.is_empty() {
            return Err(site.arg_error(
                "extras",
                None,
                "`extras` selects optional dependencies of `pyproject`, which is not given",
            ));
        }
        gathered.packages(&site, &packages.items)?;
        let mut wheels = each(&site, ("wheels", None), &wheels.items, |i, item| match item
            .downcast_ref::<Content>()
        {
            Some(content) if content.kind == "run" || content.kind == "files" => {
                Ok(content.id.clone())
            }
            _ => Err(format!(
                "`wheels` takes what run() and files() return (their `.whl` files are \
                     installed), but item {i} is a value of type `{}`",
                item.get_type()
            )),
        })?;
        let mut seen = std::collections::BTreeSet::new();
        wheels.retain(|id| seen.insert(id.clone()));
        if gathered.requirements.is_empty() && wheels.is_empty() {
            return Err(site.error(
                None,
                "python_env() needs something to install: `requirements = \"requirements.txt\"`, \
                 `pyproject = \"pyproject.toml\"`, `packages = [\"flask==3.1.*\"]` or \
                 `wheels = [run(...)]`",
            ));
        }
        let indexes = gathered.indexes(&site, index.into_option(), &extra_indexes.items)?;
        let node = PythonEnv {
            python,
            requirements: gathered.requirements.into_iter().map(|(r, _)| r).collect(),
            constraints: gathered.constraints,
            indexes,
            prereleases: prereleases || gathered.prereleases,
            wheels,
        };
        // One span per requirement, or none (errors then point at the call).
        let spans = gathered.spans.into_iter().collect::<Option<Vec<Span>>>();
        let content = site.add(Node::PythonEnv(node), spans.unwrap_or_default());
        Ok(PythonEnvValue { id: content.id })
    }
}

#[starlark_module]
pub(crate) fn python_env_methods(builder: &mut MethodsBuilder) {
    /// The path of the console script `name` the environment installs, for
    /// `entrypoint` (`env.bin("gunicorn")` is `/usr/local/bin/gunicorn`). The build
    /// checks that it is there.
    fn bin<'v>(
        #[allow(unused_variables)] this: &PythonEnvValue,
        name: &str,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<String> {
        let site = Site::of(eval);
        if name.is_empty() || name.contains('/') || name == "." || name == ".." {
            return Err(site.arg_error(
                "name",
                Some(0),
                format!("a script's name is a file name, not {name:?}"),
            ));
        }
        word("a script name", name).map_err(|e| site.arg_error("name", Some(0), e))?;
        Ok(format!("{SCRIPTS_DIR}/{name}"))
    }
}

/// What the arguments ask for, in order.
#[derive(Default)]
struct Gathered {
    /// With where each was written.
    requirements: Vec<(PythonRequirement, String)>,
    constraints: Vec<PythonRequirement>,
    /// One per requirement, when known.
    spans: Vec<Option<Span>>,
    file_index: Option<(String, String)>,
    file_extra_indexes: Vec<String>,
    no_index: bool,
    prereleases: bool,
}

impl Gathered {
    fn push(&mut self, requirement: &SourcedRequirement, span: Option<Span>) {
        self.requirements.push((
            PythonRequirement {
                requirement: requirement.requirement.to_string(),
                hashes: requirement.hashes.clone(),
            },
            requirement.origin.clone(),
        ));
        self.spans.push(span);
    }

    fn requirements_txt(&mut self, site: &Site<'_>, file: &str) -> starlark::Result<()> {
        let error = |e: String| site.arg_error("requirements", None, e);
        let path =
            paths::project_relative(file).map_err(|e| error(format!("`requirements`: {e}")))?;
        let text = site.session.read_project_file(&path).map_err(error)?;
        let mut texts = vec![(path.clone(), text.clone())];
        let mut read = |included: &str| -> Result<(String, String), String> {
            let path = paths::project_relative(&without_dot_dots(included)?)?;
            let text = site.session.read_project_file(&path)?;
            texts.push((path.clone(), text.clone()));
            Ok((path, text))
        };
        let parsed: RequirementsFile = parse_requirements_txt(&text, &path, &mut read)
            .map_err(|e| error(explain(&e, e.hint())))?;
        for r in &parsed.requirements {
            let span = line_span(&texts, &r.origin);
            self.push(r, span);
        }
        self.constraints
            .extend(parsed.constraints.iter().map(|c| PythonRequirement {
                requirement: c.requirement.to_string(),
                hashes: c.hashes.clone(),
            }));
        if let Some(url) = parsed.index_url {
            self.file_index = Some((url.to_string(), path.clone()));
        }
        self.file_extra_indexes
            .extend(parsed.extra_index_urls.iter().map(ToString::to_string));
        self.no_index |= parsed.no_index;
        self.prereleases |= parsed.allow_prereleases;
        Ok(())
    }

    fn pyproject(
        &mut self,
        site: &Site<'_>,
        file: &str,
        extras: &[ExtraName],
    ) -> starlark::Result<()> {
        let error = |e: String| site.arg_error("pyproject", None, e);
        let path = paths::project_relative(file).map_err(|e| error(format!("`pyproject`: {e}")))?;
        let text = site.session.read_project_file(&path).map_err(error)?;
        let requirements =
            parse_pyproject(&text, &path, extras).map_err(|e| error(explain(&e, e.hint())))?;
        for r in &requirements {
            self.push(r, site.call_span());
        }
        Ok(())
    }

    fn packages(&mut self, site: &Site<'_>, packages: &[String]) -> starlark::Result<()> {
        let parsed = each(site, ("packages", None), packages, |_, text| {
            Requirement::parse(text).map_err(|e| explain(&e, e.hint()))
        })?;
        let spans: Vec<Option<Span>> = match site.element_ranges("packages", None, packages.len()) {
            Some(ranges) => ranges.into_iter().map(|r| site.span_of(r)).collect(),
            None => vec![site.call_span(); packages.len()],
        };
        for (requirement, span) in parsed.into_iter().zip(spans) {
            let sourced = SourcedRequirement {
                requirement,
                origin: "cairn.star: python_env(packages=)".to_owned(),
                hashes: Vec::new(),
            };
            self.push(&sourced, span);
        }
        Ok(())
    }

    /// The default index, then the extra ones, each once.
    fn indexes(
        &self,
        site: &Site<'_>,
        index: Option<&str>,
        extra: &[String],
    ) -> starlark::Result<Vec<String>> {
        if self.no_index {
            return Err(site.arg_error(
                "requirements",
                None,
                "the requirements file says `--no-index`, but cairn resolves from an index \
                 (local wheel directories are not supported)",
            ));
        }
        let index = match (index, &self.file_index) {
            (Some(given), Some((file, from))) if trim(given) != trim(file) => {
                return Err(site.arg_error(
                    "index",
                    None,
                    format!("`index` is {given:?}, but `{from}` says `--index-url {file}`"),
                ));
            }
            (Some(given), _) => given.to_owned(),
            (None, Some((file, _))) => file.clone(),
            (None, None) => DEFAULT_INDEX.to_owned(),
        };
        let mut indexes = Vec::new();
        for url in std::iter::once(&index)
            .chain(extra)
            .chain(&self.file_extra_indexes)
        {
            let url = check_index(url).map_err(|e| site.arg_error("index", None, e))?;
            if !indexes.contains(&url) {
                indexes.push(url);
            }
        }
        Ok(indexes)
    }
}

fn trim(url: &str) -> &str {
    url.trim_end_matches('/')
}

/// An index URL: HTTP(S), without credentials, query or fragment, kept without a
/// trailing slash.
fn check_index(url: &str) -> Result<String, String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("`{url}` is not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("`{url}`: an index URL must be http:// or https://"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(format!(
            "`{url}`: credentials do not belong in cairn.star or the lock (they would be \
             written to both)"
        ));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(format!("`{url}`: an index URL has no query or fragment"));
    }
    Ok(trim(parsed.as_str()).to_owned())
}

/// `a/../b` as `b`: a requirements file may include one beside its directory
/// (`-r ../base.txt`) as long as it stays in the project (symbolic links leading out
/// are refused when it is read).
fn without_dot_dots(path: &str) -> Result<String, String> {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(format!("`{path}` leads outside the project"));
                }
            }
            part => parts.push(part),
        }
    }
    if path.starts_with('/') {
        return Err(format!("`{path}` is absolute; name a file in the project"));
    }
    Ok(if parts.is_empty() {
        ".".to_owned()
    } else {
        parts.join("/")
    })
}

/// The span of the line an origin like `requirements.txt:3` names.
fn line_span(texts: &[(String, String)], origin: &str) -> Option<Span> {
    let (file, line) = origin.rsplit_once(':')?;
    let line: usize = line.trim().parse().ok()?;
    let (_, text) = texts.iter().find(|(f, _)| f == file)?;
    let mut start = 0;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i + 1 == line {
            let end = start + l.trim_end().len();
            return Some(Span {
                file: file.to_owned(),
                start,
                end: end.max(start),
            });
        }
        start += l.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_urls_are_checked() {
        assert_eq!(
            check_index("https://pypi.org/simple/").unwrap(),
            "https://pypi.org/simple"
        );
        assert!(check_index("ftp://x").is_err());
        assert!(
            check_index("https://user:pw@x/simple")
                .unwrap_err()
                .contains("credentials")
        );
        assert!(check_index("https://x/simple?a=1").is_err());
    }

    #[test]
    fn includes_may_climb_inside_the_project() {
        assert_eq!(without_dot_dots("app/../base.txt").unwrap(), "base.txt");
        assert_eq!(without_dot_dots("./req/a.txt").unwrap(), "req/a.txt");
        assert!(
            without_dot_dots("../outside.txt")
                .unwrap_err()
                .contains("outside")
        );
        assert!(without_dot_dots("a/../../x").is_err());
        assert!(
            without_dot_dots("/etc/passwd")
                .unwrap_err()
                .contains("absolute")
        );
    }

    #[test]
    fn origins_become_line_spans() {
        let texts = vec![("req.txt".to_owned(), "# c\nflask==3.1\n".to_owned())];
        let span = line_span(&texts, "req.txt:2").unwrap();
        assert_eq!((span.start, span.end), (4, 14));
        assert!(line_span(&texts, "other.txt:1").is_none());
    }
}
