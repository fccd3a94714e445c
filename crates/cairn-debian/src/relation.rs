//! Package relationships (Debian Policy §7.1): `Depends: a (>= 1.0) | b:any, c`.
//!
//! A field is a comma-separated list of clauses; a clause is `|`-separated alternatives;
//! each alternative is a package name with an optional architecture qualifier and an
//! optional version constraint. Binary package indexes carry no architecture
//! restrictions (`[amd64]`) or build profiles (`<!nocheck>`); those are refused here.

use std::fmt;

use crate::version::{Version, VersionError};

/// A version comparison in a relation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Comparison {
    /// `<<`
    Earlier,
    /// `<=` (and the obsolete `<`, which dpkg reads the same way)
    EarlierOrEqual,
    /// `=`
    Exactly,
    /// `>=` (and the obsolete `>`)
    LaterOrEqual,
    /// `>>`
    Later,
}

impl Comparison {
    fn parse(op: &str) -> Option<Self> {
        Some(match op {
            "<<" => Self::Earlier,
            "<=" | "<" => Self::EarlierOrEqual,
            "=" => Self::Exactly,
            ">=" | ">" => Self::LaterOrEqual,
            ">>" => Self::Later,
            _ => return None,
        })
    }

    /// Whether `version` satisfies `self constraint`.
    pub fn matches(self, version: &Version, constraint: &Version) -> bool {
        let ord = version.cmp(constraint);
        match self {
            Self::Earlier => ord.is_lt(),
            Self::EarlierOrEqual => ord.is_le(),
            Self::Exactly => ord.is_eq(),
            Self::LaterOrEqual => ord.is_ge(),
            Self::Later => ord.is_gt(),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Earlier => "<<",
            Self::EarlierOrEqual => "<=",
            Self::Exactly => "=",
            Self::LaterOrEqual => ">=",
            Self::Later => ">>",
        }
    }
}

/// One alternative: `name[:arch] [(op version)]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    pub name: String,
    /// `any`, `native` or an architecture name, from `name:qualifier`.
    pub arch: Option<String>,
    pub constraint: Option<(Comparison, Version)>,
}

impl Relation {
    /// Whether a package version satisfies the constraint (always, without one).
    pub fn accepts(&self, version: &Version) -> bool {
        self.constraint
            .as_ref()
            .is_none_or(|(op, v)| op.matches(version, v))
    }
}

impl fmt::Display for Relation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if let Some(arch) = &self.arch {
            write!(f, ":{arch}")?;
        }
        if let Some((op, v)) = &self.constraint {
            write!(f, " ({} {v})", op.as_str())?;
        }
        Ok(())
    }
}

/// A clause: one of these alternatives must hold (`a | b`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clause(pub Vec<Relation>);

impl fmt::Display for Clause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

/// Why a relationship field could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RelationError {
    #[error("Invalid relation `{text}`: {reason}")]
    Invalid { text: String, reason: &'static str },
    #[error(transparent)]
    Version(#[from] VersionError),
}

fn valid_package_name(name: &str) -> bool {
    // Policy §5.6.1: lower case letters, digits, + - . ; at least two characters,
    // starting with an alphanumeric.
    name.len() >= 2
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+-.".contains(&b))
}

fn parse_relation(text: &str) -> Result<Relation, RelationError> {
    let invalid = |reason| RelationError::Invalid {
        text: text.to_owned(),
        reason,
    };
    let text = text.trim();
    if text.contains('[') || text.contains('<') && !text.contains('(') {
        return Err(invalid(
            "architecture restrictions and build profiles do not belong in binary relations",
        ));
    }
    let (head, constraint) = match text.find('(') {
        Some(open) => {
            let inner = text[open + 1..]
                .strip_suffix(')')
                .ok_or_else(|| invalid("unclosed `(`"))?
                .trim();
            let split = inner
                .find(|c: char| !"<=>".contains(c))
                .ok_or_else(|| invalid("no version after the operator"))?;
            let op =
                Comparison::parse(&inner[..split]).ok_or_else(|| invalid("unknown operator"))?;
            let version: Version = inner[split..].trim().parse()?;
            (text[..open].trim_end(), Some((op, version)))
        }
        None => (text, None),
    };
    let (name, arch) = match head.split_once(':') {
        Some((name, arch))
            if !arch.is_empty() && arch.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') =>
        {
            (name, Some(arch.to_owned()))
        }
        Some(_) => return Err(invalid("bad architecture qualifier")),
        None => (head, None),
    };
    if !valid_package_name(name) {
        return Err(invalid("not a valid package name"));
    }
    Ok(Relation {
        name: name.to_owned(),
        arch,
        constraint,
    })
}

/// Parses a relationship field (`Depends`, `Pre-Depends`, `Recommends`, `Conflicts`…).
/// Empty clauses from a trailing comma are ignored, as dpkg does.
pub fn parse_relations(field: &str) -> Result<Vec<Clause>, RelationError> {
    field
        .split(',')
        .filter(|clause| !clause.trim().is_empty())
        .map(|clause| {
            Ok(Clause(
                clause
                    .split('|')
                    .map(parse_relation)
                    .collect::<Result<_, _>>()?,
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_real_fields() {
        let clauses =
            parse_relations("libc6 (>= 2.34), python3.11 (>= 3.11.2-1~), default-mta | mail-transport-agent, perl:any").unwrap();
        let shown: Vec<String> = clauses.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "libc6 (>= 2.34)",
                "python3.11 (>= 3.11.2-1~)",
                "default-mta | mail-transport-agent",
                "perl:any"
            ]
        );
        assert_eq!(clauses[3].0[0].arch.as_deref(), Some("any"));
        let obsolete = parse_relations("foo (< 2), bar (>1)").unwrap();
        assert_eq!(
            obsolete[0].0[0].constraint.as_ref().unwrap().0,
            Comparison::EarlierOrEqual
        );
        assert_eq!(
            obsolete[1].0[0].constraint.as_ref().unwrap().0,
            Comparison::LaterOrEqual
        );
        assert!(parse_relations("").unwrap().is_empty());
        assert_eq!(parse_relations("a0, ").unwrap().len(), 1);
    }

    #[test]
    fn constraints_accept_versions_as_dpkg_would() {
        let v = |s: &str| s.parse::<Version>().unwrap();
        let r = &parse_relations("x0 (>= 1.0-1)").unwrap()[0].0[0];
        assert!(r.accepts(&v("1.0-1")) && r.accepts(&v("1:0.1")) && !r.accepts(&v("1.0-1~bpo1")));
        let r = &parse_relations("x0 (<< 2)").unwrap()[0].0[0];
        assert!(r.accepts(&v("2~rc1")) && !r.accepts(&v("2")));
        let r = &parse_relations("x0 (= 1.0)").unwrap()[0].0[0];
        assert!(r.accepts(&v("1.0-0")) && !r.accepts(&v("1.0-1")));
        assert!(parse_relations("x0").unwrap()[0].0[0].accepts(&v("0")));
    }

    #[test]
    fn refuses_malformed_relations() {
        for (text, reason) in [
            ("Foo", "package name"),
            ("a", "package name"),
            ("foo (>= 1.0", "unclosed"),
            ("foo (~= 1.0)", "unknown operator"),
            ("foo (>=)", "no version"),
            ("foo (>= a1)", "start with a digit"),
            ("foo [amd64]", "architecture restrictions"),
            ("foo:", "qualifier"),
        ] {
            let err = parse_relations(text).unwrap_err();
            assert!(err.to_string().contains(reason), "{text}: {err}");
        }
    }
}
