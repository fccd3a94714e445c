//! The one error evaluation returns: a message, where in which `.star` file it
//! happened, and that file's text, so the CLI can render it with miette.

use std::fmt;
use std::io;

use cairn_plan::Span;
use miette::{LabeledSpan, NamedSource, SourceCode, SourceSpan};

/// Why a spec could not be evaluated.
///
/// [`span`](EvalError::span) says where (a project-relative file and byte offsets);
/// as a [`miette::Diagnostic`] it carries the text of that file and one label at the
/// span.
pub struct EvalError(Box<Inner>);

struct Inner {
    message: String,
    span: Option<Span>,
    source_code: Option<NamedSource<String>>,
    help: Option<String>,
    cause: Option<io::Error>,
}

impl EvalError {
    /// An error with no location (a file that can't be read, an unusable root).
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self(Box::new(Inner {
            message: message.into(),
            span: None,
            source_code: None,
            help: None,
            cause: None,
        }))
    }

    /// An error at `start..end` of `file`, whose text is `text`.
    pub(crate) fn at(
        message: impl Into<String>,
        file: &str,
        text: &str,
        start: usize,
        end: usize,
    ) -> Self {
        let mut this = Self::new(message);
        this.0.span = Some(Span {
            file: file.to_owned(),
            start,
            end,
        });
        this.0.source_code = Some(NamedSource::new(file, text.to_owned()));
        this
    }

    pub(crate) fn with_cause(mut self, cause: io::Error) -> Self {
        self.0.cause = Some(cause);
        self
    }

    /// Converts an error starlark reported (syntax, types, arguments, `fail()`, or one
    /// of cairn's own raised from a builtin) keeping its span and file text.
    pub(crate) fn from_starlark(error: &starlark::Error) -> Self {
        let message = format!("{:#}", error.without_diagnostic());
        let mut this = match error.span() {
            Some(span) => {
                let (start, end) = (span.span.begin().get(), span.span.end().get());
                Self::at(
                    message,
                    span.file.filename(),
                    span.file.source(),
                    start as usize,
                    end as usize,
                )
            }
            None => Self::new(message),
        };
        // A traceback helps when the error is inside a function another line called.
        let stack = error.call_stack();
        if stack.frames.len() > 1 {
            this.0.help = Some(stack.to_string().trim_end().to_owned());
        }
        this
    }

    /// What went wrong, without the location.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// Where it went wrong: the project-relative `.star` file and byte offsets in it.
    pub fn span(&self) -> Option<&Span> {
        self.0.span.as_ref()
    }

    /// The text of the file [`span`](EvalError::span) is in.
    pub fn source_text(&self) -> Option<&str> {
        self.0.source_code.as_ref().map(|s| s.inner().as_str())
    }
}

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.message)
    }
}

impl fmt::Debug for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Without the file's text, which would drown the rest.
        f.debug_struct("EvalError")
            .field("message", &self.0.message)
            .field("span", &self.0.span)
            .field("help", &self.0.help)
            .field("cause", &self.0.cause)
            .finish_non_exhaustive()
    }
}

impl std::error::Error for EvalError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0
            .cause
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl miette::Diagnostic for EvalError {
    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.0.source_code.as_ref().map(|s| s as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let span = self.0.span.as_ref()?;
        let label = LabeledSpan::new_with_span(
            Some("here".to_owned()),
            SourceSpan::from(span.start..span.end),
        );
        Some(Box::new(std::iter::once(label)))
    }

    fn help(&self) -> Option<Box<dyn fmt::Display + '_>> {
        self.0
            .help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }
}
