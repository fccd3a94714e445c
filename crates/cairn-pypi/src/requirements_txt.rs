//! The user's Python requirements, read hermetically: `requirements.txt` files in
//! pip's format, and the PEP 621 `[project]` table of a `pyproject.toml`.
//!
//! pip's format is specified only by pip's documentation
//! (<https://pip.pypa.io/en/stable/reference/requirements-file-format/>) and its
//! `req_file.py`, which this module follows step by step:
//!
//! 1. A UTF-8 byte order mark at the start is dropped; lines end with LF, CRLF or
//!    CR.
//! 2. A line ending with `\` is joined with the next one ("line continuation"),
//!    except a comment line, which also ends a continuation, as in pip.
//! 3. A comment starts with `#` at the start of a line or after whitespace, and
//!    runs to the end of the (joined) line. A `#` inside a word, as in a URL
//!    fragment, is not a comment.
//! 4. Blank lines are skipped.
//! 5. A line whose first word starts with `-` is an options line (`-r file`,
//!    `--index-url URL`, …); any other line is a requirement, optionally followed
//!    by per-requirement options (`--hash=sha256:…`).
//!
//! Where pip would read the environment or the network, or would silently do
//! something other than what the file seems to say, cairn refuses with an error
//! that names the file and line: environment variables (`${VAR}`), editable
//! installs, paths and URLs as requirements, `--find-links`, `--no-binary`,
//! `--trusted-host`, options that only configure building from source or pip
//! itself, a `--hash` line that a missing `\` cut off from its requirement, and a
//! `\` at the end of a comment (pip would join the next line into the comment
//! and drop it). Nothing here touches the file system: included files are read
//! through a callback, so the caller decides where files come from.
//!
//! Constraints (`-c`) are kept apart from requirements. Everything a constraints
//! file includes, with `-r` or `-c`, is a constraint too; pip would read a `-r`
//! there as requirements, which uv also declines to do.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use url::Url;

use crate::digest::{DigestError, Sha256Digest};
use crate::name::{ExtraName, PackageName};
use crate::requirement::{Requirement, RequirementError};
use crate::version::Operator;

/// What a `requirements.txt` file (and the files it includes) asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequirementsFile {
    /// In file order, includes expanded where they appear.
    pub requirements: Vec<SourcedRequirement>,
    /// From `-c` files and everything they include, in file order.
    pub constraints: Vec<SourcedRequirement>,
    /// `-i`/`--index-url`; the files may name at most one.
    pub index_url: Option<Url>,
    /// `--extra-index-url`, in file order, without duplicates.
    pub extra_index_urls: Vec<Url>,
    /// `--no-index`.
    pub no_index: bool,
    /// `--pre`: pre-releases may be chosen.
    pub allow_prereleases: bool,
    /// pip's hash-checking mode: on when a requirement has a `--hash` or a file says
    /// `--require-hashes`. Every requirement then has hashes and is pinned with
    /// `==` (checked here); as in pip, every package installed, dependencies
    /// included, must then be one of the requirements and match one of its hashes.
    pub require_hashes: bool,
}

/// A requirement and where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourcedRequirement {
    pub requirement: Requirement,
    /// Where the requirement was written: `requirements.txt:3` (the first line of a
    /// continued line), or `pyproject.toml: project.dependencies[2]`.
    pub origin: String,
    /// `--hash=sha256:` digests as lowercase hex, sorted and without duplicates;
    /// empty when none were given.
    pub hashes: Vec<String>,
}

/// What turned on hash-checking mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HashModeTrigger {
    /// `--require-hashes` at `origin`.
    Option { origin: String },
    /// The requirement on `name` at `origin` has a `--hash`.
    Requirement { name: PackageName, origin: String },
}

impl fmt::Display for HashModeTrigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Option { origin } => write!(f, "`--require-hashes` at {origin}"),
            Self::Requirement { name, origin } => {
                write!(f, "the requirement on `{name}` at {origin} has a `--hash`")
            }
        }
    }
}

/// Requirements cairn cannot read. Every variant names where: `origin` is
/// `file:line` for a requirements file, and the file (with the TOML key, where
/// there is one) for a `pyproject.toml`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequirementsError {
    #[error("{origin}: invalid requirement")]
    Requirement {
        origin: String,
        #[source]
        source: RequirementError,
    },
    #[error(
        "{origin}: `{path}` is a local path; cairn installs packages from an index by name \
         and version, not from files or directories"
    )]
    LocalPath { origin: String, path: String },
    #[error(
        "{origin}: `{url}` is a URL; cairn installs packages from an index by name and \
         version, not from URLs"
    )]
    Url { origin: String, url: String },
    #[error("{origin}: `-e {target}` is an editable install, which cairn does not do")]
    Editable { origin: String, target: String },
    #[error("{origin}: `--find-links {location}`: cairn finds packages on indexes only")]
    FindLinks { origin: String, location: String },
    #[error(
        "{origin}: `--no-binary {packages}` asks for building from source; cairn installs \
         wheels only"
    )]
    NoBinary { origin: String, packages: String },
    #[error(
        "{origin}: `--trusted-host {host}` turns off certificate checks; cairn checks every \
         index's certificate"
    )]
    TrustedHost { origin: String, host: String },
    #[error("{origin}: `{option}` configures building from source; cairn installs wheels only")]
    SourceBuildOption { origin: String, option: String },
    #[error("{origin}: `{option}` configures pip itself; cairn does not read it")]
    PipOption { origin: String, option: String },
    #[error("{origin}: unknown option `{option}`")]
    UnknownOption { origin: String, option: String },
    #[error("{origin}: `{option}` cannot follow a requirement; only `--hash` can")]
    OptionAfterRequirement { origin: String, option: String },
    #[error("{origin}: `{argument}` follows options on an options line")]
    StrayArgument { origin: String, argument: String },
    #[error("{origin}: `{option}` needs a value")]
    MissingValue { origin: String, option: String },
    #[error("{origin}: `{option}` takes no value, but is given `{value}`")]
    UnexpectedValue {
        origin: String,
        option: String,
        value: String,
    },
    #[error("{origin}: a quote is not closed")]
    Quoting { origin: String },
    #[error(
        "{origin}: `${{{variable}}}` refers to an environment variable; cairn reads \
         requirements hermetically and does not expand them"
    )]
    EnvironmentVariable { origin: String, variable: String },
    #[error(
        "{origin}: the line ends with `\\` inside a comment; pip would join the next line \
         into the comment and ignore it"
    )]
    CommentContinuation { origin: String },
    #[error("{origin}: `{url}` is not a valid index URL")]
    InvalidIndexUrl {
        origin: String,
        url: String,
        #[source]
        source: url::ParseError,
    },
    #[error("{origin}: the index URL `{url}` is not http or https")]
    IndexUrlScheme { origin: String, url: String },
    #[error("{origin}: the index URL `{url}` conflicts with `{first}` given at {first_origin}")]
    ConflictingIndexUrl {
        origin: String,
        url: String,
        first_origin: String,
        first: String,
    },
    #[error("{origin}: cannot include `{url}`: cairn reads requirements files, not URLs")]
    IncludeUrl { origin: String, url: String },
    #[error("{origin}: cannot read `{path}`: {reason}")]
    Include {
        origin: String,
        path: String,
        reason: String,
    },
    #[error("{origin}: including `{}` makes a cycle: {}", cycle[0], cycle.join(" -> "))]
    IncludeCycle {
        origin: String,
        /// The files in the cycle, starting and ending with the same one.
        cycle: Vec<String>,
    },
    #[error("{origin}: `--hash={value}` is not `<algorithm>:<hex digest>`")]
    HashFormat { origin: String, value: String },
    #[error("{origin}: `--hash` uses `{algorithm}`; cairn checks SHA-256 digests only")]
    HashAlgorithm { origin: String, algorithm: String },
    #[error("{origin}: invalid `--hash`")]
    InvalidHash {
        origin: String,
        #[source]
        source: DigestError,
    },
    #[error("{origin}: `--hash` is on a line of its own, not after a requirement")]
    HashWithoutRequirement { origin: String },
    #[error("{origin}: `{requirement}` has hashes but is not pinned to one version with `==`")]
    HashNotPinned { origin: String, requirement: String },
    #[error(
        "hash-checking mode is on ({trigger}), but {} without `--hash`: {}",
        if missing.len() == 1 { "a requirement is" } else { "requirements are" },
        missing_list(missing)
    )]
    HashesMissing {
        trigger: HashModeTrigger,
        /// The requirements without hashes, and where each was written.
        missing: Vec<(PackageName, String)>,
    },
    #[error("{origin}: the constraint `{requirement}` has extras, which constraints cannot have")]
    ConstraintExtras { origin: String, requirement: String },
    #[error("{origin} is not valid TOML")]
    Toml {
        origin: String,
        #[source]
        source: toml::de::Error,
    },
    #[error("{origin} has no `[project]` table")]
    NoProject { origin: String },
    #[error("{origin}: `project.{field}` is declared dynamic, so only a build backend knows it")]
    DynamicDependencies { origin: String, field: &'static str },
    #[error(
        "{origin}: `project.optional-dependencies` has no extra `{extra}`; it has {}",
        if available.is_empty() { "none".to_owned() } else { quoted_list(available) }
    )]
    UnknownExtra {
        origin: String,
        extra: ExtraName,
        /// The extras the file declares, as written, sorted.
        available: Vec<String>,
    },
    #[error("{origin}: `{extra}` is not a valid extra name")]
    InvalidExtraName { origin: String, extra: String },
}

fn missing_list(missing: &[(PackageName, String)]) -> String {
    missing
        .iter()
        .map(|(name, origin)| format!("`{name}` ({origin})"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn quoted_list(items: &[String]) -> String {
    items
        .iter()
        .map(|item| format!("`{item}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The options cairn reads in a requirements file, for the unknown-option hint.
const SUPPORTED_OPTIONS: &str = "`-r`/`--requirement`, `-c`/`--constraint`, \
     `-i`/`--index-url`, `--extra-index-url`, `--no-index`, `--pre`, `--require-hashes`, \
     `--only-binary`, `--prefer-binary`, and `--hash` after a requirement";

impl RequirementsError {
    /// A suggestion for the user, where there is an obvious one.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::Requirement { source, .. } => source.hint(),
            Self::LocalPath { .. } | Self::Url { .. } | Self::Editable { .. } => Some(
                "require the package by name and version (for example `name==1.2.3`), and \
                 publish the wheel to an index named with `--index-url` or `--extra-index-url`"
                    .to_owned(),
            ),
            Self::FindLinks { .. } => Some(
                "serve the files from a PEP 503 index and name it with `--extra-index-url`"
                    .to_owned(),
            ),
            Self::NoBinary { .. } | Self::SourceBuildOption { .. } => Some(
                "remove the option; the packages must be available as wheels for the image's \
                 platform"
                    .to_owned(),
            ),
            Self::TrustedHost { .. } => Some(
                "remove the option, and serve the index over https with a certificate the \
                 image build trusts"
                    .to_owned(),
            ),
            Self::PipOption { .. } => Some("remove the option".to_owned()),
            Self::UnknownOption { .. } => Some(format!("cairn reads {SUPPORTED_OPTIONS}")),
            Self::OptionAfterRequirement { option, .. } => {
                Some(format!("put `{option}` on a line of its own"))
            }
            Self::StrayArgument { .. } => {
                Some("put each requirement on a line of its own, before any options".to_owned())
            }
            Self::EnvironmentVariable { .. } => Some(
                "write the value into the file, or generate the file before running cairn"
                    .to_owned(),
            ),
            Self::CommentContinuation { .. } => Some(
                "remove the `\\`, or put the comment on a line of its own (a comment line \
                 does not continue)"
                    .to_owned(),
            ),
            Self::IndexUrlScheme { .. } => {
                Some("give the URL of a PEP 503 simple index over http or https".to_owned())
            }
            Self::ConflictingIndexUrl { .. } => Some(
                "name one `--index-url`; add other indexes with `--extra-index-url`".to_owned(),
            ),
            Self::IncludeUrl { .. } => {
                Some("download the file, review it, and include it by path".to_owned())
            }
            Self::IncludeCycle { .. } => {
                Some("remove one of the `-r`/`-c` lines that make the cycle".to_owned())
            }
            Self::HashFormat { .. } | Self::HashAlgorithm { .. } | Self::InvalidHash { .. } => {
                Some("write `--hash=sha256:<64 hexadecimal digits>`".to_owned())
            }
            Self::HashWithoutRequirement { .. } => Some(
                "end the requirement's line, and each `--hash` line but the last, with `\\` so \
                 the hashes continue it"
                    .to_owned(),
            ),
            Self::HashNotPinned { .. } => Some(
                "pin the requirement to the version the hashes are of, for example \
                 `name==1.2.3`"
                    .to_owned(),
            ),
            Self::HashesMissing { .. } => Some(
                "give every requirement its hashes (`pip-compile --generate-hashes` or \
                 `uv pip compile --generate-hashes` writes them), or remove all of them"
                    .to_owned(),
            ),
            Self::ConstraintExtras { .. } => Some(
                "drop the extras; constraints apply to a package whatever its extras".to_owned(),
            ),
            Self::NoProject { .. } => Some(
                "cairn reads PEP 621 `[project]` metadata; list the dependencies in \
                 `[project].dependencies`, or use a requirements file"
                    .to_owned(),
            ),
            Self::DynamicDependencies { .. } => Some(
                "list the dependencies in `pyproject.toml` statically, or lock them to a \
                 requirements file and use that"
                    .to_owned(),
            ),
            Self::Quoting { .. }
            | Self::MissingValue { .. }
            | Self::UnexpectedValue { .. }
            | Self::InvalidIndexUrl { .. }
            | Self::Include { .. }
            | Self::Toml { .. }
            | Self::UnknownExtra { .. }
            | Self::InvalidExtraName { .. } => None,
        }
    }
}

/// Reads a file a requirements file includes: given the path, returns the file's
/// origin (which identifies it) and its text, or why it cannot.
pub type ReadIncluded<'a> = dyn FnMut(&str) -> Result<(String, String), String> + 'a;

/// Reads a requirements file in pip's format, and the files it includes.
///
/// `origin` names the file in errors and in each requirement's origin. `read` is
/// given the path of an included file (`-r`/`-c`), relative to the including
/// file's directory when the path in the file is relative, and returns the
/// included file's origin (which identifies it, for finding include cycles) and its
/// text, or why it could not.
pub fn parse_requirements_txt(
    text: &str,
    origin: &str,
    read: &mut ReadIncluded<'_>,
) -> Result<RequirementsFile, RequirementsError> {
    let mut parser = Parser {
        read,
        stack: vec![origin.to_owned()],
        file: RequirementsFile::default(),
        index_url_origin: String::new(),
        trigger: None,
    };
    parser.parse_file(text, origin, false)?;
    let Parser {
        file: mut result,
        trigger,
        ..
    } = parser;
    if let Some(trigger) = trigger {
        let missing: Vec<_> = result
            .requirements
            .iter()
            .filter(|sourced| sourced.hashes.is_empty())
            .map(|sourced| (sourced.requirement.name.clone(), sourced.origin.clone()))
            .collect();
        if !missing.is_empty() {
            return Err(RequirementsError::HashesMissing { trigger, missing });
        }
        result.require_hashes = true;
    }
    Ok(result)
}

struct Parser<'r> {
    read: &'r mut ReadIncluded<'r>,
    /// The files being read, outermost first.
    stack: Vec<String>,
    file: RequirementsFile,
    /// Where `file.index_url` was given.
    index_url_origin: String,
    /// The first thing that turned on hash-checking mode.
    trigger: Option<HashModeTrigger>,
}

/// The options pip reads in a requirements file (`SUPPORTED_OPTIONS` and
/// `SUPPORTED_OPTIONS_REQ` in pip's `req_file.py`), and a few it no longer does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PipOption {
    Requirement,
    Constraint,
    IndexUrl,
    ExtraIndexUrl,
    NoIndex,
    Pre,
    PreferBinary,
    OnlyBinary,
    NoBinary,
    RequireHashes,
    Editable,
    FindLinks,
    TrustedHost,
    UseFeature,
    Hash,
    SourceBuild,
}

/// Short form, long form, whether it takes a value, and what it is.
const OPTIONS: &[(Option<&str>, &str, bool, PipOption)] = &[
    (Some("-r"), "--requirement", true, PipOption::Requirement),
    (Some("-c"), "--constraint", true, PipOption::Constraint),
    (Some("-i"), "--index-url", true, PipOption::IndexUrl),
    (None, "--extra-index-url", true, PipOption::ExtraIndexUrl),
    (None, "--no-index", false, PipOption::NoIndex),
    (None, "--pre", false, PipOption::Pre),
    (None, "--prefer-binary", false, PipOption::PreferBinary),
    (None, "--only-binary", true, PipOption::OnlyBinary),
    (None, "--no-binary", true, PipOption::NoBinary),
    (None, "--require-hashes", false, PipOption::RequireHashes),
    (Some("-e"), "--editable", true, PipOption::Editable),
    (Some("-f"), "--find-links", true, PipOption::FindLinks),
    (None, "--trusted-host", true, PipOption::TrustedHost),
    (None, "--use-feature", true, PipOption::UseFeature),
    (None, "--hash", true, PipOption::Hash),
    (None, "--global-option", true, PipOption::SourceBuild),
    (
        Some("-C"),
        "--config-settings",
        true,
        PipOption::SourceBuild,
    ),
    (None, "--install-option", true, PipOption::SourceBuild),
];

/// One option as written, with its value.
struct GivenOption {
    /// As written, without a value: `-r`, `--index-url`.
    written: String,
    kind: PipOption,
    value: Option<String>,
}

impl Parser<'_> {
    fn parse_file(
        &mut self,
        text: &str,
        file: &str,
        constraint: bool,
    ) -> Result<(), RequirementsError> {
        for (line, content) in logical_lines(text, file)? {
            let origin = format!("{file}:{line}");
            if let Some(variable) = environment_variable(&content) {
                return Err(RequirementsError::EnvironmentVariable {
                    origin,
                    variable: variable.to_owned(),
                });
            }
            let (requirement, options) = split_requirement_and_options(&content);
            let options = parse_options(options, &origin)?;
            if requirement.is_empty() {
                self.options_line(options, file, &origin, constraint)?;
            } else {
                let sourced = requirement_line(requirement, options, &origin, constraint)?;
                if constraint {
                    self.file.constraints.push(sourced);
                } else {
                    if self.trigger.is_none() && !sourced.hashes.is_empty() {
                        self.trigger = Some(HashModeTrigger::Requirement {
                            name: sourced.requirement.name.clone(),
                            origin: sourced.origin.clone(),
                        });
                    }
                    self.file.requirements.push(sourced);
                }
            }
        }
        Ok(())
    }

    fn options_line(
        &mut self,
        options: Vec<GivenOption>,
        file: &str,
        origin: &str,
        constraint: bool,
    ) -> Result<(), RequirementsError> {
        for GivenOption {
            written,
            kind,
            value,
        } in options
        {
            let value = value.unwrap_or_default();
            match kind {
                PipOption::Requirement => self.include(&value, file, origin, constraint)?,
                PipOption::Constraint => self.include(&value, file, origin, true)?,
                PipOption::IndexUrl => {
                    let url = index_url(&value, origin)?;
                    match &self.file.index_url {
                        Some(first) if *first != url => {
                            return Err(RequirementsError::ConflictingIndexUrl {
                                origin: origin.to_owned(),
                                url: url.into(),
                                first_origin: self.index_url_origin.clone(),
                                first: first.to_string(),
                            });
                        }
                        Some(_) => {}
                        None => {
                            self.file.index_url = Some(url);
                            origin.clone_into(&mut self.index_url_origin);
                        }
                    }
                }
                PipOption::ExtraIndexUrl => {
                    let url = index_url(&value, origin)?;
                    if !self.file.extra_index_urls.contains(&url) {
                        self.file.extra_index_urls.push(url);
                    }
                }
                PipOption::NoIndex => self.file.no_index = true,
                PipOption::Pre => self.file.allow_prereleases = true,
                // cairn installs wheels only: preferring or requiring them changes
                // nothing, and `:none:` only clears an earlier `--only-binary`.
                PipOption::PreferBinary | PipOption::OnlyBinary => {}
                PipOption::NoBinary if value == ":none:" => {}
                PipOption::NoBinary => {
                    return Err(RequirementsError::NoBinary {
                        origin: origin.to_owned(),
                        packages: value,
                    });
                }
                PipOption::RequireHashes => {
                    if self.trigger.is_none() {
                        self.trigger = Some(HashModeTrigger::Option {
                            origin: origin.to_owned(),
                        });
                    }
                }
                PipOption::Editable => {
                    return Err(RequirementsError::Editable {
                        origin: origin.to_owned(),
                        target: value,
                    });
                }
                PipOption::FindLinks => {
                    return Err(RequirementsError::FindLinks {
                        origin: origin.to_owned(),
                        location: value,
                    });
                }
                PipOption::TrustedHost => {
                    return Err(RequirementsError::TrustedHost {
                        origin: origin.to_owned(),
                        host: value,
                    });
                }
                PipOption::UseFeature => {
                    return Err(RequirementsError::PipOption {
                        origin: origin.to_owned(),
                        option: written,
                    });
                }
                PipOption::Hash => {
                    return Err(RequirementsError::HashWithoutRequirement {
                        origin: origin.to_owned(),
                    });
                }
                PipOption::SourceBuild => {
                    return Err(RequirementsError::SourceBuildOption {
                        origin: origin.to_owned(),
                        option: written,
                    });
                }
            }
        }
        Ok(())
    }

    /// Reads the file `-r path` or `-c path` names, as constraints when
    /// `constraint`.
    fn include(
        &mut self,
        path: &str,
        from: &str,
        origin: &str,
        constraint: bool,
    ) -> Result<(), RequirementsError> {
        if looks_like_url(path) {
            return Err(RequirementsError::IncludeUrl {
                origin: origin.to_owned(),
                url: path.to_owned(),
            });
        }
        let path = relative_to(from, path);
        let (included, text) = (self.read)(&path).map_err(|reason| RequirementsError::Include {
            origin: origin.to_owned(),
            path: path.clone(),
            reason,
        })?;
        if let Some(start) = self.stack.iter().position(|file| *file == included) {
            let mut cycle = self.stack[start..].to_vec();
            cycle.push(included);
            return Err(RequirementsError::IncludeCycle {
                origin: origin.to_owned(),
                cycle,
            });
        }
        self.stack.push(included.clone());
        self.parse_file(&text, &included, constraint)?;
        self.stack.pop();
        Ok(())
    }
}

/// The requirement on a line, and the hashes after it.
fn requirement_line(
    text: &str,
    options: Vec<GivenOption>,
    origin: &str,
    constraint: bool,
) -> Result<SourcedRequirement, RequirementsError> {
    let mut hashes = Vec::new();
    for option in options {
        match option.kind {
            PipOption::Hash => hashes.push(hash(option.value.as_deref().unwrap_or(""), origin)?),
            PipOption::SourceBuild => {
                return Err(RequirementsError::SourceBuildOption {
                    origin: origin.to_owned(),
                    option: option.written,
                });
            }
            _ => {
                return Err(RequirementsError::OptionAfterRequirement {
                    origin: origin.to_owned(),
                    option: option.written,
                });
            }
        }
    }
    hashes.sort();
    hashes.dedup();
    if looks_like_url(text) {
        return Err(RequirementsError::Url {
            origin: origin.to_owned(),
            url: text.to_owned(),
        });
    }
    if looks_like_path(text) {
        return Err(RequirementsError::LocalPath {
            origin: origin.to_owned(),
            path: text.to_owned(),
        });
    }
    let requirement =
        Requirement::parse(text).map_err(|source| RequirementsError::Requirement {
            origin: origin.to_owned(),
            source,
        })?;
    if constraint && !requirement.extras.is_empty() {
        return Err(RequirementsError::ConstraintExtras {
            origin: origin.to_owned(),
            requirement: text.to_owned(),
        });
    }
    // pip's hash-checking mode installs exactly the files hashed, so the
    // requirement must name one version (`==1.2.3`, not `==1.2.*`).
    let pinned = requirement.specifiers.len() == 1
        && requirement.specifiers.iter().all(|specifier| {
            matches!(specifier.operator(), Operator::Equal | Operator::ExactEqual)
        });
    if !hashes.is_empty() && !pinned {
        return Err(RequirementsError::HashNotPinned {
            origin: origin.to_owned(),
            requirement: text.to_owned(),
        });
    }
    Ok(SourcedRequirement {
        requirement,
        origin: origin.to_owned(),
        hashes,
    })
}

/// The value of `--hash`, as lowercase hex.
fn hash(value: &str, origin: &str) -> Result<String, RequirementsError> {
    let Some((algorithm, digest)) = value.split_once(':') else {
        return Err(RequirementsError::HashFormat {
            origin: origin.to_owned(),
            value: value.to_owned(),
        });
    };
    if algorithm != "sha256" {
        return Err(RequirementsError::HashAlgorithm {
            origin: origin.to_owned(),
            algorithm: algorithm.to_owned(),
        });
    }
    let digest =
        Sha256Digest::from_hex(digest).map_err(|source| RequirementsError::InvalidHash {
            origin: origin.to_owned(),
            source,
        })?;
    Ok(digest.to_string())
}

fn index_url(value: &str, origin: &str) -> Result<Url, RequirementsError> {
    let url = Url::parse(value).map_err(|source| RequirementsError::InvalidIndexUrl {
        origin: origin.to_owned(),
        url: value.to_owned(),
        source,
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(RequirementsError::IndexUrlScheme {
            origin: origin.to_owned(),
            url: url.into(),
        });
    }
    Ok(url)
}

/// The path of an included file: `path` as written when absolute, else in the
/// directory of the including file `from`.
fn relative_to(from: &str, path: &str) -> String {
    if path.starts_with('/') {
        return path.to_owned();
    }
    let mut path = path;
    while let Some(rest) = path.strip_prefix("./") {
        path = rest.trim_start_matches('/');
    }
    match from.rsplit_once('/') {
        Some((directory, _)) => format!("{directory}/{path}"),
        None => path.to_owned(),
    }
}

/// Whether a requirement or include starts with a URL scheme: `https://…`,
/// `git+https://…`, `file:…`. A PEP 508 name cannot contain `:`, so a name never
/// looks like one.
fn looks_like_url(text: &str) -> bool {
    let Some((scheme, rest)) = text.split_once(':') else {
        return false;
    };
    scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && (rest.starts_with("//") || scheme.eq_ignore_ascii_case("file"))
}

/// Whether a requirement is a path, as pip would take it: a directory (`.`,
/// `./pkg`, `../pkg`, `~/pkg`, `/srv/pkg`) or an archive (`pkg-1.0-py3-none-any.whl`).
/// A name's first word (before extras, a marker or ` @ url`) has no `/`.
fn looks_like_path(text: &str) -> bool {
    let first = text
        .split(|c: char| c.is_whitespace() || matches!(c, ';' | '@' | '['))
        .next()
        .unwrap_or(text);
    let lower = first.to_ascii_lowercase();
    first.contains(['/', '\\'])
        || first.starts_with(['.', '~'])
        || [".whl", ".tar.gz", ".zip"]
            .iter()
            .any(|extension| lower.ends_with(extension))
}

/// The lines of a file as pip reads them: joined where a line ends with `\`,
/// without comments, trimmed, and without blank lines; each with its first line's
/// number.
fn logical_lines(text: &str, file: &str) -> Result<Vec<(usize, String)>, RequirementsError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let physical = text
        .split('\n')
        .flat_map(|line| line.strip_suffix('\r').unwrap_or(line).split('\r'));
    let mut joined = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (index, line) in physical.enumerate() {
        let number = index + 1;
        let comment_line = line.trim_start().starts_with('#');
        if line.ends_with('\\') && !comment_line {
            if comment_start(line).is_some() {
                return Err(RequirementsError::CommentContinuation {
                    origin: format!("{file}:{number}"),
                });
            }
            let part = line.trim_end_matches('\\');
            match &mut pending {
                Some((_, text)) => text.push_str(part),
                None => pending = Some((number, part.to_owned())),
            }
            continue;
        }
        match pending.take() {
            Some((first, mut text)) => {
                // As pip does, so the comment is one after the joined text.
                if comment_line {
                    text.push(' ');
                }
                text.push_str(line);
                joined.push((first, text));
            }
            None => joined.push((number, line.to_owned())),
        }
    }
    joined.extend(pending);
    Ok(joined
        .into_iter()
        .filter_map(|(number, line)| {
            let content = match comment_start(&line) {
                Some(start) => &line[..start],
                None => &line,
            };
            let content = content.trim();
            (!content.is_empty()).then(|| (number, content.to_owned()))
        })
        .collect())
}

/// Where a comment starts: a `#` at the start of the line or after whitespace.
fn comment_start(line: &str) -> Option<usize> {
    let mut after_space = true;
    for (index, c) in line.char_indices() {
        if c == '#' && after_space {
            return Some(index);
        }
        after_space = c.is_whitespace();
    }
    None
}

/// The name in the first `${NAME}` of a line, which pip would replace with an
/// environment variable.
fn environment_variable(line: &str) -> Option<&str> {
    let mut rest = line;
    while let Some(start) = rest.find("${") {
        rest = &rest[start + 2..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if end > 0 && rest[end..].starts_with('}') {
            return Some(&rest[..end]);
        }
    }
    None
}

/// A line's requirement and its options: the options start at the first word
/// that starts with `-` (pip's `break_args_options`).
fn split_requirement_and_options(line: &str) -> (&str, &str) {
    let mut after_space = true;
    for (index, c) in line.char_indices() {
        if c == '-' && after_space {
            return (line[..index].trim_end(), &line[index..]);
        }
        after_space = c.is_whitespace();
    }
    (line, "")
}

/// Options, split into words as a POSIX shell would (pip uses `shlex.split`), and
/// matched with their values: `--opt value`, `--opt=value`, `-o value`, `-ovalue`.
fn parse_options(text: &str, origin: &str) -> Result<Vec<GivenOption>, RequirementsError> {
    let words = shell_words(text).ok_or_else(|| RequirementsError::Quoting {
        origin: origin.to_owned(),
    })?;
    let mut words = words.into_iter();
    let mut options = Vec::new();
    while let Some(word) = words.next() {
        let (written, attached) = if word.starts_with("--") {
            match word.split_once('=') {
                Some((name, value)) => (name.to_owned(), Some(value.to_owned())),
                None => (word.clone(), None),
            }
        } else if word.starts_with('-') && word.len() > 1 {
            let split = word
                .char_indices()
                .nth(2)
                .map_or(word.len(), |(index, _)| index);
            let (name, value) = word.split_at(split);
            (
                name.to_owned(),
                (!value.is_empty()).then(|| value.to_owned()),
            )
        } else {
            return Err(RequirementsError::StrayArgument {
                origin: origin.to_owned(),
                argument: word,
            });
        };
        let Some(&(_, _, takes_value, kind)) = OPTIONS
            .iter()
            .find(|(short, long, _, _)| *short == Some(written.as_str()) || *long == written)
        else {
            return Err(RequirementsError::UnknownOption {
                origin: origin.to_owned(),
                option: written,
            });
        };
        let value = match (takes_value, attached) {
            (true, Some(value)) => Some(value),
            (true, None) => Some(
                words
                    .next()
                    .ok_or_else(|| RequirementsError::MissingValue {
                        origin: origin.to_owned(),
                        option: written.clone(),
                    })?,
            ),
            (false, Some(value)) => {
                return Err(RequirementsError::UnexpectedValue {
                    origin: origin.to_owned(),
                    option: written,
                    value,
                });
            }
            (false, None) => None,
        };
        options.push(GivenOption {
            written,
            kind,
            value,
        });
    }
    Ok(options)
}

/// Splits text into words as Python's `shlex.split` does: whitespace separates,
/// single quotes keep everything, double quotes keep everything but `\"` and
/// `\\`, and a backslash outside quotes keeps the next character. `None` when a
/// quote is not closed or the text ends in a backslash.
fn shell_words(text: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => words.extend(word.take()),
            '\'' => {
                let word = word.get_or_insert_with(String::new);
                loop {
                    match chars.next()? {
                        '\'' => break,
                        c => word.push(c),
                    }
                }
            }
            '"' => {
                let word = word.get_or_insert_with(String::new);
                loop {
                    match chars.next()? {
                        '"' => break,
                        '\\' => match chars.next()? {
                            c @ ('"' | '\\') => word.push(c),
                            c => {
                                word.push('\\');
                                word.push(c);
                            }
                        },
                        c => word.push(c),
                    }
                }
            }
            '\\' => word.get_or_insert_with(String::new).push(chars.next()?),
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    Some(words)
}

/// The fields of `pyproject.toml` that name dependencies (PEP 621).
#[derive(serde::Deserialize)]
struct Pyproject {
    project: Option<Project>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
struct Project {
    #[serde(default)]
    dependencies: Vec<String>,
    #[serde(default)]
    optional_dependencies: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    dynamic: Vec<String>,
}

/// Reads the requirements of a `pyproject.toml`: `[project].dependencies` (PEP
/// 621), then the `[project.optional-dependencies]` of each of `extras` in the
/// order given. `origin` names the file; each requirement's origin adds its key,
/// as `pyproject.toml: project.dependencies[2]` (counting from 0).
pub fn parse_pyproject(
    text: &str,
    origin: &str,
    extras: &[ExtraName],
) -> Result<Vec<SourcedRequirement>, RequirementsError> {
    let pyproject: Pyproject = toml::from_str(text).map_err(|source| RequirementsError::Toml {
        origin: origin.to_owned(),
        source,
    })?;
    let Some(project) = pyproject.project else {
        return Err(RequirementsError::NoProject {
            origin: origin.to_owned(),
        });
    };
    let dynamic = |field: &'static str| -> Result<(), RequirementsError> {
        if project.dynamic.iter().any(|name| name == field) {
            return Err(RequirementsError::DynamicDependencies {
                origin: origin.to_owned(),
                field,
            });
        }
        Ok(())
    };
    dynamic("dependencies")?;
    if !extras.is_empty() {
        dynamic("optional-dependencies")?;
    }
    let mut declared = BTreeMap::new();
    for (written, requirements) in &project.optional_dependencies {
        let name =
            ExtraName::from_str(written).map_err(|_| RequirementsError::InvalidExtraName {
                origin: format!("{origin}: project.optional-dependencies"),
                extra: written.clone(),
            })?;
        declared.insert(name, (written, requirements));
    }
    let parse = |text: &str, key: String| -> Result<SourcedRequirement, RequirementsError> {
        let origin = format!("{origin}: {key}");
        let requirement =
            Requirement::parse(text).map_err(|source| RequirementsError::Requirement {
                origin: origin.clone(),
                source,
            })?;
        Ok(SourcedRequirement {
            requirement,
            origin,
            hashes: Vec::new(),
        })
    };
    let mut result = project
        .dependencies
        .iter()
        .enumerate()
        .map(|(index, text)| parse(text, format!("project.dependencies[{index}]")))
        .collect::<Result<Vec<_>, _>>()?;
    let mut seen = Vec::new();
    for extra in extras {
        if seen.contains(&extra) {
            continue;
        }
        seen.push(extra);
        let Some((written, requirements)) = declared.get(extra) else {
            return Err(RequirementsError::UnknownExtra {
                origin: origin.to_owned(),
                extra: extra.clone(),
                available: project.optional_dependencies.keys().cloned().collect(),
            });
        };
        for (index, text) in requirements.iter().enumerate() {
            result.push(parse(
                text,
                format!("project.optional-dependencies.{written}[{index}]"),
            )?);
        }
    }
    Ok(result)
}

#[cfg(test)]
mod tests;
