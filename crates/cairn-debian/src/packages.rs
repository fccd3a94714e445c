//! The packages of verified suites, parsed on demand.
//!
//! A `Packages` index holds ~70,000 stanzas and a resolution reads a few hundred. So a
//! [`Repository`] keeps each index's text, finds its stanzas with a fast scan
//! ([`scan_stanzas`]: place, `Package`, `Architecture`, `Provides`), and parses a
//! stanza into a [`BinaryPackage`] only when it is first asked for. A stanza that does
//! not parse is reported when it is asked for, with its index and number.

use std::sync::OnceLock;

use crate::index::{BinaryPackage, IndexError, StanzaSpan, parse_stanza, scan_stanzas};
use crate::relation::{Clause, parse_relations};
use crate::repo::Suite;

/// A package from a suite: where it came from and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourcedPackage {
    /// Index into [`Repository::suites`].
    pub suite: usize,
    pub package: BinaryPackage,
}

/// One index's text.
struct IndexText {
    url: String,
    text: String,
}

enum Entry {
    /// Stanza `number` (from 1) of index `index`.
    Text {
        index: usize,
        number: usize,
        span: StanzaSpan,
    },
    /// Given parsed ([`Repository::from_packages`]).
    Parsed,
}

/// Verified suites and every package in their indexes for one architecture.
pub struct Repository {
    pub arch: String,
    pub suites: Vec<Suite>,
    texts: Vec<IndexText>,
    /// Per package: its suite and where it is.
    entries: Vec<(usize, Entry)>,
    parsed: Vec<OnceLock<Box<Result<SourcedPackage, IndexError>>>>,
}

impl std::fmt::Debug for Repository {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Repository")
            .field("arch", &self.arch)
            .field("suites", &self.suites)
            .field("packages", &self.entries.len())
            .finish_non_exhaustive()
    }
}

impl Repository {
    /// An empty repository for `arch`, to which indexes are added.
    pub(crate) fn new(arch: &str) -> Self {
        Self {
            arch: arch.to_owned(),
            suites: Vec::new(),
            texts: Vec::new(),
            entries: Vec::new(),
            parsed: Vec::new(),
        }
    }

    /// Adds the stanzas of an index of suite `suite`.
    pub(crate) fn add_index(
        &mut self,
        suite: usize,
        url: String,
        text: String,
    ) -> Result<(), (String, IndexError)> {
        let spans = match scan_stanzas(&text) {
            Ok(spans) => spans,
            Err(e) => return Err((url, e)),
        };
        let index = self.texts.len();
        self.entries.reserve(spans.len());
        for (i, span) in spans.into_iter().enumerate() {
            self.entries.push((
                suite,
                Entry::Text {
                    index,
                    number: i + 1,
                    span,
                },
            ));
            self.parsed.push(OnceLock::new());
        }
        self.texts.push(IndexText { url, text });
        Ok(())
    }

    /// A repository of `Packages` indexes given as text: `(suite, url, text)`, where
    /// `suite` indexes `suites` and `url` names the index in errors.
    pub fn from_indexes(
        arch: &str,
        suites: Vec<Suite>,
        indexes: Vec<(usize, String, String)>,
    ) -> Result<Self, RepositoryIndexError> {
        let mut repo = Self::new(arch);
        repo.suites = suites;
        for (suite, url, text) in indexes {
            repo.add_index(suite, url, text)
                .map_err(|(url, e)| RepositoryIndexError {
                    url,
                    message: e.to_string(),
                })?;
        }
        Ok(repo)
    }

    /// A repository of packages parsed already.
    pub fn from_packages(arch: &str, suites: Vec<Suite>, packages: Vec<SourcedPackage>) -> Self {
        let mut repo = Self::new(arch);
        repo.suites = suites;
        for package in packages {
            repo.entries.push((package.suite, Entry::Parsed));
            repo.parsed.push(OnceLock::from(Box::new(Ok(package))));
        }
        repo
    }

    /// How many packages (stanzas) the indexes hold.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn parsed_ok(&self, i: usize) -> Option<&SourcedPackage> {
        self.parsed[i].get().and_then(|r| r.as_ref().as_ref().ok())
    }

    /// Package `i`'s name, without parsing it.
    pub fn name(&self, i: usize) -> &str {
        match &self.entries[i].1 {
            Entry::Text { index, span, .. } => &self.texts[*index].text[span.name.clone()],
            Entry::Parsed => self.parsed_ok(i).map_or("", |p| p.package.name.as_str()),
        }
    }

    /// Package `i`'s architecture, without parsing it.
    pub fn architecture(&self, i: usize) -> &str {
        match &self.entries[i].1 {
            Entry::Text { index, span, .. } => &self.texts[*index].text[span.architecture.clone()],
            Entry::Parsed => self
                .parsed_ok(i)
                .map_or("", |p| p.package.architecture.as_str()),
        }
    }

    /// The suite package `i` comes from.
    pub fn suite_of(&self, i: usize) -> usize {
        self.entries[i].0
    }

    /// Package `i`'s `Provides`, read without parsing the rest of it (empty when the
    /// field does not parse; [`Repository::get`] reports that).
    pub fn provides(&self, i: usize) -> Vec<Clause> {
        match &self.entries[i].1 {
            Entry::Text { index, span, .. } => span
                .provides
                .as_ref()
                .and_then(|range| {
                    let text = &self.texts[*index].text[range.clone()];
                    parse_relations(&text.replace('\n', " ")).ok()
                })
                .unwrap_or_default(),
            Entry::Parsed => self
                .parsed_ok(i)
                .map(|p| p.package.provides.clone())
                .unwrap_or_default(),
        }
    }

    /// Package `i`, parsed on first use.
    pub fn get(&self, i: usize) -> Result<&SourcedPackage, RepositoryIndexError> {
        let parsed = self.parsed[i].get_or_init(|| {
            Box::new(match &self.entries[i].1 {
                Entry::Text {
                    index,
                    number,
                    span,
                } => parse_stanza(&self.texts[*index].text, span, *number).map(|package| {
                    SourcedPackage {
                        suite: self.entries[i].0,
                        package,
                    }
                }),
                Entry::Parsed => Err(IndexError::Syntax("missing package".into())),
            })
        });
        parsed.as_ref().as_ref().map_err(|e| RepositoryIndexError {
            url: match &self.entries[i].1 {
                Entry::Text { index, .. } => self.texts[*index].url.clone(),
                Entry::Parsed => String::new(),
            },
            message: e.to_string(),
        })
    }

    /// The packages named `name`, in index order.
    pub fn find(&self, name: &str) -> Vec<usize> {
        (0..self.len()).filter(|&i| self.name(i) == name).collect()
    }

    /// The raw text of package `i`'s stanza (empty for packages given parsed).
    pub(crate) fn stanza_text(&self, i: usize) -> &str {
        match &self.entries[i].1 {
            Entry::Text { index, span, .. } => &self.texts[*index].text[span.range.clone()],
            Entry::Parsed => "",
        }
    }
}

/// A stanza of an index that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{url}`: {message}")]
pub struct RepositoryIndexError {
    pub url: String,
    pub message: String,
}
