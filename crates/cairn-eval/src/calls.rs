//! Where each call's arguments were written.
//!
//! Starlark tells a builtin where its call is (the call expression's span), not where
//! its arguments are. Before a file is evaluated its syntax tree is walked once and
//! every call with arguments is indexed by its span, with the span of each argument and,
//! for list literals, of each element: so an error can point at the bad argument, and
//! a `debian` node can say where each package name was written.

use std::collections::HashMap;

use starlark::syntax::AstModule;
use starlark::syntax::ast::{ArgumentP, AstExpr, AstStmt, ExprP};

/// A byte range in one file.
pub(crate) type ByteRange = (u32, u32);

/// The calls of one file, by the span of the call expression.
#[derive(Debug, Default)]
pub(crate) struct CallIndex {
    calls: HashMap<ByteRange, Vec<Arg>>,
}

#[derive(Debug)]
pub(crate) struct Arg {
    kind: ArgKind,
    /// The argument's value expression.
    span: ByteRange,
    /// One per element when the value is a list literal; one per entry (from its key
    /// to its value) when it is a dict literal.
    elements: Option<Vec<ByteRange>>,
}

#[derive(Debug, PartialEq, Eq)]
enum ArgKind {
    Positional,
    Named(String),
    /// `*args` or `**kwargs`: positions after it are unknown.
    Star,
}

fn range(span: starlark::codemap::Span) -> ByteRange {
    (span.begin().get(), span.end().get())
}

impl CallIndex {
    pub(crate) fn new(module: &AstModule) -> Self {
        let mut index = Self::default();
        index.stmt(module.statement());
        index
    }

    fn stmt(&mut self, stmt: &AstStmt) {
        // Visits the expressions of nested statements (`def`, `if`, `for`) too.
        stmt.node.visit_expr(|e| self.expr(e));
    }

    fn expr(&mut self, expr: &AstExpr) {
        if let ExprP::Call(_, args) = &expr.node
            && !args.args.is_empty()
        {
            let args = args
                .args
                .iter()
                .map(|arg| {
                    let (kind, value) = match &arg.node {
                        ArgumentP::Positional(e) => (ArgKind::Positional, e),
                        ArgumentP::Named(name, e) => (ArgKind::Named(name.node.clone()), e),
                        ArgumentP::Args(e) | ArgumentP::KwArgs(e) => (ArgKind::Star, e),
                    };
                    let elements = match &value.node {
                        ExprP::List(items) => Some(items.iter().map(|i| range(i.span)).collect()),
                        ExprP::Dict(entries) => Some(
                            entries
                                .iter()
                                .map(|(k, v)| (range(k.span).0, range(v.span).1))
                                .collect(),
                        ),
                        _ => None,
                    };
                    Arg {
                        kind,
                        span: range(value.span),
                        elements,
                    }
                })
                .collect();
            self.calls.insert(range(expr.span), args);
        }
        expr.node.visit_expr(|e| self.expr(e));
    }

    /// The argument of the call at `call` that binds parameter `name`, which is at
    /// `position` when given positionally (`None`: keyword-only).
    pub(crate) fn arg(&self, call: ByteRange, name: &str, position: Option<usize>) -> Option<&Arg> {
        let args = self.calls.get(&call)?;
        if let Some(arg) = args
            .iter()
            .find(|a| matches!(&a.kind, ArgKind::Named(n) if n == name))
        {
            return Some(arg);
        }
        let position = position?;
        let mut positional = 0;
        for arg in args {
            match arg.kind {
                ArgKind::Positional if positional == position => return Some(arg),
                ArgKind::Positional => positional += 1,
                ArgKind::Star => return None,
                ArgKind::Named(_) => {}
            }
        }
        None
    }
}

impl Arg {
    pub(crate) fn span(&self) -> ByteRange {
        self.span
    }

    /// The element spans, when the argument is a list literal of `len` elements (the
    /// entry spans, when it is a dict literal of `len` entries).
    pub(crate) fn elements(&self, len: usize) -> Option<&[ByteRange]> {
        self.elements.as_deref().filter(|e| e.len() == len)
    }
}

#[cfg(test)]
mod tests {
    use starlark::syntax::Dialect;

    use super::*;

    #[test]
    fn arguments_by_name_and_position_and_list_elements() {
        let text = "def f():\n    g('a', [1, 22], z = [3], d = {'k': 1, 'l' : [2]})\nh('b', *xs)\n";
        let ast = AstModule::parse("x.star", text.to_owned(), &Dialect::Standard).unwrap();
        let index = CallIndex::new(&ast);
        let at = |(start, end): ByteRange| &text[start as usize..end as usize];
        let call = |needle: &str| {
            let start = text.find(needle).unwrap();
            let end = start + text[start..].find(')').unwrap() + 1;
            (u32::try_from(start).unwrap(), u32::try_from(end).unwrap())
        };

        // Inside a `def` too.
        let g = call("g(");
        assert_eq!(at(index.arg(g, "first", Some(0)).unwrap().span()), "'a'");
        let list = index.arg(g, "second", Some(1)).unwrap();
        assert_eq!(at(list.span()), "[1, 22]");
        let elements: Vec<&str> = list.elements(2).unwrap().iter().map(|&r| at(r)).collect();
        assert_eq!(elements, ["1", "22"]);
        assert!(list.elements(3).is_none(), "a length that does not match");
        assert_eq!(at(index.arg(g, "z", None).unwrap().span()), "[3]");
        let dict = index.arg(g, "d", None).unwrap();
        let entries: Vec<&str> = dict.elements(2).unwrap().iter().map(|&r| at(r)).collect();
        assert_eq!(entries, ["'k': 1", "'l' : [2]"]);
        assert!(index.arg(g, "z", Some(5)).is_some(), "by name first");
        assert!(index.arg(g, "third", Some(2)).is_none());
        assert!(index.arg(g, "nope", None).is_none());

        // After `*args`, positions are unknown.
        let h = call("h(");
        assert_eq!(at(index.arg(h, "first", Some(0)).unwrap().span()), "'b'");
        assert!(index.arg(h, "second", Some(1)).is_none());
        assert!(index.arg((0, 1), "x", Some(0)).is_none(), "not a call");
    }
}
