//! `packaging` (the library pip vendors) as the oracle for wheel tags and wheel file
//! names: for several targets, cairn's tag list must equal what
//! `packaging.tags.sys_tags()` yields on CPython of that version on glibc Linux of
//! that architecture, tag for tag and in order; and cairn must accept and refuse the
//! same wheel file names, reading the same name, version, build tag and tags.
//!
//! The host's Python only runs `packaging`; its own version, platform and glibc are
//! patched out, so the answer depends on the target alone. Skipped when neither
//! `packaging` nor pip's vendored copy is importable (failing in CI, where
//! `python3-packaging` is installed).

use std::process::Command;
use std::str::FromStr;

use cairn_pypi::{Arch, CompatibleTags, Target, Version, WheelName};

/// Prints what `sys_tags()` would on CPython `major.minor` with glibc
/// `glibc_major.glibc_minor` on `arch`: `cpython_tags()` then `compatible_tags()`,
/// as `sys_tags()` calls them, with `_linux_platforms()` for the platforms.
const SYS_TAGS: &str = r#"
import sys
try:
    from packaging import tags, _manylinux
except ImportError:
    from pip._vendor.packaging import tags, _manylinux
major, minor, glibc_major, glibc_minor = map(int, sys.argv[1:5])
arch = sys.argv[5]
sys.modules["_manylinux"] = None  # no distributor override module
# Signatures differ between packaging versions: accept any arguments.
_manylinux._get_glibc_version = lambda *args: (glibc_major, glibc_minor)
_manylinux._have_compatible_abi = lambda *args: True
if hasattr(tags, "_musllinux"):
    tags._musllinux.platform_tags = lambda *args: iter(())
tags.sysconfig.get_platform = lambda: "linux-" + arch
platforms = list(tags._linux_platforms(is_32bit=False))
interpreter = "cp%d%d" % (major, minor)
for tag in tags.cpython_tags((major, minor), abis=[interpreter], platforms=platforms):
    print(tag)
for tag in tags.compatible_tags((major, minor), interpreter, platforms):
    print(tag)
"#;

/// For each file name on stdin: `ok <name> <version> <build> <tags…>` or `error`.
const PARSE_WHEEL: &str = r#"
import sys
try:
    from packaging.utils import parse_wheel_filename
except ImportError:
    from pip._vendor.packaging.utils import parse_wheel_filename
for line in sys.stdin.read().splitlines():
    try:
        name, version, build, tags = parse_wheel_filename(line)
    except Exception:
        print("error")
        continue
    build = "%d%s" % build if build else "-"
    print("ok", name, version, build, *sorted(str(t) for t in tags))
"#;

fn python() -> Option<cairn_test::Oracle> {
    let python = cairn_test::require_tool("python3")?;
    let probe = python
        .command()
        .args([
            "-c",
            "try:\n import packaging.tags\nexcept ImportError:\n import pip._vendor.packaging.tags",
        ])
        .output()
        .expect("run python3");
    if probe.status.success() {
        return Some(python);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "python3 cannot import `packaging`, but CI must run this oracle test (install python3-packaging)"
    );
    eprintln!("skipping: python3 cannot import `packaging` (install python3-packaging)");
    None
}

fn run(python: &cairn_test::Oracle, script: &str, args: &[String], stdin: Option<&str>) -> String {
    use std::io::Write;
    let mut command: Command = python.command();
    command
        .args(["-I", "-c", script])
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped());
    let mut child = command.spawn().expect("run python3");
    let mut input = child.stdin.take().expect("piped stdin");
    input
        .write_all(stdin.unwrap_or_default().as_bytes())
        .expect("write to python3");
    drop(input);
    let output = child.wait_with_output().expect("wait for python3");
    assert!(output.status.success(), "python3 failed");
    String::from_utf8(output.stdout).expect("python3 prints UTF-8")
}

#[test]
fn tags_match_packaging_sys_tags() {
    let Some(python) = python() else { return };
    for (version, arch, glibc) in [
        ("3.13.5", Arch::X86_64, (2, 41)),
        ("3.13.5", Arch::Aarch64, (2, 41)),
        ("3.11.2", Arch::X86_64, (2, 36)),
        ("3.11.2", Arch::Aarch64, (2, 36)),
        ("3.14.0", Arch::Aarch64, (2, 42)),
        ("3.12.1", Arch::X86_64, (2, 17)),
        ("3.9.2", Arch::X86_64, (2, 12)),
        ("3.10.0", Arch::X86_64, (2, 5)),
        ("3.8.0", Arch::X86_64, (2, 4)),
        ("3.13.0", Arch::Aarch64, (2, 16)),
        ("3.2.0", Arch::X86_64, (2, 17)),
    ] {
        let target = Target::new(&Version::from_str(version).unwrap(), arch, glibc.into()).unwrap();
        let (major, minor) = target.python_minor();
        let args = [
            major.to_string(),
            minor.to_string(),
            glibc.0.to_string(),
            glibc.1.to_string(),
            arch.platform_machine().to_owned(),
        ];
        let expected = run(&python, SYS_TAGS, &args, None);
        let expected: Vec<&str> = expected.lines().collect();
        let ours: Vec<String> = CompatibleTags::for_target(&target)
            .tags()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert!(!expected.is_empty());
        assert_eq!(ours, expected, "{target}");
    }
}

#[test]
fn wheel_names_match_packaging() {
    let Some(python) = python() else { return };
    let names = [
        "flask-3.1.0-py3-none-any.whl",
        "Flask-3.1.0-py3-none-any.whl",
        "six-1.16.0-py2.py3-none-any.whl",
        "markupsafe-3.0.2-cp313-cp313-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "typing_extensions-4.12.2-py3-none-any.whl",
        "zope.interface-7.2-cp313-cp313-manylinux_2_5_x86_64.whl",
        "pkg-1.0-2-py3-none-any.whl",
        "pkg-1.0-10beta-py3-none-any.whl",
        "torch-2.5.1+cpu-cp313-cp313-linux_x86_64.whl",
        "pkg-1.0-PY3-NONE-Any.whl",
        "pkg-1.0.post1.dev2-py3-none-any.whl",
        "pkg-1!2.0-py3-none-any.whl",
        "pkg-v1.0-py3-none-any.whl",
        "pkg-1.0-py3-none-any.zip",
        "pkg-1.0-py3-none-any.WHL",
        "pkg-1.0-none-any.whl",
        "my-pkg-1.0-1-py3-none-any.whl",
        "my__pkg-1.0-py3-none-any.whl",
        "pkg!-1.0-py3-none-any.whl",
        "pkg-one-py3-none-any.whl",
        "pkg-1.0-b1-py3-none-any.whl",
        "pkg-1.0-1-2-py3-none-any.whl",
        // Not compared: `packaging` accepts an empty project name
        // (`-1.0-py3-none-any.whl`), which cairn refuses.
    ];
    let expected = run(&python, PARSE_WHEEL, &[], Some(&names.join("\n")));
    let expected: Vec<&str> = expected.lines().collect();
    assert_eq!(expected.len(), names.len());
    for (name, expected) in names.iter().zip(expected) {
        let ours = match WheelName::parse(name) {
            Err(_) => "error".to_owned(),
            Ok(wheel) => {
                let mut line = format!(
                    "ok {} {} {}",
                    wheel.name(),
                    wheel.version(),
                    wheel.build().map_or("-".to_owned(), ToString::to_string)
                );
                for tag in wheel.tags() {
                    line.push(' ');
                    line.push_str(&tag.to_string());
                }
                line
            }
        };
        assert_eq!(ours, expected, "{name}");
    }
}
