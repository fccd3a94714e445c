//! Paths as a spec writes them: `load()` labels, project-relative sources and
//! absolute paths in the image. All lexical: nothing here touches the disk.

/// The project-relative path a `load()` in `from` (a project-relative file) names:
/// `//a/b.star` from the project's root, `:b.star` or `b.star` from `from`'s directory.
pub(crate) fn resolve_load(from: &str, label: &str) -> Result<String, String> {
    let (base, rest): (Vec<&str>, &str) = if let Some(rest) = label.strip_prefix("//") {
        (Vec::new(), rest)
    } else if label.starts_with('/') {
        return Err(format!(
            "cannot load `{label}`: absolute paths are not allowed; use `//path` for a path from the project's root"
        ));
    } else {
        let rest = label.strip_prefix(':').unwrap_or(label);
        let mut dir: Vec<&str> = from.split('/').collect();
        dir.pop();
        (dir, rest)
    };
    if rest.contains('\0') || rest.contains('\\') {
        return Err(format!("cannot load `{label}`: not a valid path"));
    }
    let mut parts = base;
    for part in rest.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(format!("cannot load `{label}`: it is outside the project"));
                }
            }
            part => parts.push(part),
        }
    }
    let path = parts.join("/");
    if std::path::Path::new(&path)
        .extension()
        .is_none_or(|e| e != "star")
    {
        return Err(format!(
            "cannot load `{label}`: only `.star` files can be loaded"
        ));
    }
    Ok(path)
}

/// A path relative to the project's root, `/`-separated, without `.` parts (`.` for the
/// root itself). No `..`, not absolute.
pub(crate) fn project_relative(path: &str) -> Result<String, String> {
    if path.contains('\0') {
        return Err("a path can't contain a NUL byte".to_owned());
    }
    if path.starts_with('/') {
        return Err(format!(
            "`{path}` must be relative to the project's root, not absolute"
        ));
    }
    let mut parts = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(format!("`{path}` must stay inside the project: no `..`")),
            part => parts.push(part),
        }
    }
    if parts.is_empty() {
        Ok(".".to_owned())
    } else {
        Ok(parts.join("/"))
    }
}

/// An absolute path in the image, normalised: no `.` or empty parts, no trailing
/// slash (`/` for the root). No `..`.
pub(crate) fn absolute(path: &str) -> Result<String, String> {
    if path.contains('\0') {
        return Err("a path can't contain a NUL byte".to_owned());
    }
    if !path.starts_with('/') {
        return Err(format!(
            "`{path}` must be an absolute path (start with `/`)"
        ));
    }
    let mut out = String::with_capacity(path.len());
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(format!("`{path}` can't contain `..`")),
            part => {
                out.push('/');
                out.push_str(part);
            }
        }
    }
    if out.is_empty() {
        out.push('/');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_labels() {
        assert_eq!(
            resolve_load("cairn.star", "//lib/defs.star").unwrap(),
            "lib/defs.star"
        );
        assert_eq!(resolve_load("lib/a.star", ":b.star").unwrap(), "lib/b.star");
        assert_eq!(resolve_load("lib/a.star", "b.star").unwrap(), "lib/b.star");
        assert_eq!(
            resolve_load("lib/a.star", "./x/../b.star").unwrap(),
            "lib/b.star"
        );
        assert_eq!(
            resolve_load("lib/a.star", "../top.star").unwrap(),
            "top.star"
        );
        assert_eq!(
            resolve_load("lib/a.star", "//top.star").unwrap(),
            "top.star"
        );
        for (from, bad) in [
            ("cairn.star", "../x.star"),
            ("lib/a.star", "../../x.star"),
            ("cairn.star", "//../x.star"),
            ("cairn.star", "/etc/x.star"),
            ("cairn.star", "lib/defs.py"),
            ("cairn.star", "//"),
        ] {
            assert!(resolve_load(from, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn project_relative_paths() {
        assert_eq!(project_relative("site").unwrap(), "site");
        assert_eq!(project_relative("./site//a/").unwrap(), "site/a");
        assert_eq!(project_relative(".").unwrap(), ".");
        assert_eq!(project_relative("").unwrap(), ".");
        assert!(project_relative("../x").is_err());
        assert!(project_relative("a/../b").is_err());
        assert!(project_relative("/srv").is_err());
    }

    #[test]
    fn absolute_paths() {
        assert_eq!(absolute("/srv//site/").unwrap(), "/srv/site");
        assert_eq!(absolute("/./a").unwrap(), "/a");
        assert_eq!(absolute("/").unwrap(), "/");
        assert!(absolute("srv").is_err());
        assert!(absolute("").is_err());
        assert!(absolute("/a/../b").is_err());
    }
}
