//! Each command's behaviour and output.

use std::path::Path;

use cairn_test::require_tool;

use crate::{Ctx, stderr};

#[test]
fn add_prints_the_object_path_and_info_describes_it() {
    let ctx = Ctx::new();
    let src = ctx.tree("hello", "hello\n");
    let path = ctx.ok(&["store", "add", src.to_str().unwrap()]);
    let path = path.trim();
    assert!(
        path.starts_with(ctx.store.join("v1/objects").to_str().unwrap()),
        "{path}"
    );
    assert!(path.ends_with("-hello"), "{path}");
    assert_eq!(
        fs_err::read_to_string(Path::new(path).join("file")).unwrap(),
        "hello\n"
    );
    // Adding again gives the same path.
    assert_eq!(
        ctx.ok(&["store", "add", src.to_str().unwrap()]).trim(),
        path
    );

    let json: serde_json::Value =
        serde_json::from_str(&ctx.ok(&["store", "info", path, "--json"])).unwrap();
    let hash = ctx.ok(&["store", "hash-path", src.to_str().unwrap()]);
    assert_eq!(json["narHash"], hash.trim());
    assert_eq!(json["name"], "hello");
    assert_eq!(json["addressing"], "content");
    assert_eq!(json["references"], serde_json::json!([]));
    let text = ctx.ok(&["store", "info", "hello"]);
    assert!(text.contains("nar-hash:    sha256-"), "{text}");
}

#[test]
fn hash_path_and_dump_nar_agree_with_nix() {
    let ctx = Ctx::new();
    let src = ctx.path("tree");
    crate::big_tree(&src, 40, 3000);
    std::os::unix::fs::symlink("d1/f1", src.join("link")).unwrap();
    let ours = ctx.ok(&["store", "hash-path", src.to_str().unwrap()]);
    assert!(
        ours.starts_with("sha256-") && ours.ends_with("=\n"),
        "SRI form: {ours}"
    );
    let base32 = ctx.ok(&["store", "hash-path", "--base32", src.to_str().unwrap()]);
    assert!(
        base32.starts_with("sha256:") && base32.trim().len() == 7 + 52,
        "{base32}"
    );
    let nar = ctx.run(&["store", "dump-nar", src.to_str().unwrap()]);
    assert!(nar.status.success());
    let Some(nix) = require_tool("nix") else {
        return;
    };
    let theirs = nix
        .command()
        .args([
            "--extra-experimental-features",
            "nix-command",
            "hash",
            "path",
        ])
        .arg(&src)
        .output()
        .unwrap();
    assert_eq!(ours, String::from_utf8(theirs.stdout).unwrap());
    let theirs = nix
        .command()
        .args([
            "--extra-experimental-features",
            "nix-command",
            "hash",
            "path",
            "--base32",
        ])
        .arg(&src)
        .output()
        .unwrap();
    assert_eq!(
        base32.trim(),
        format!(
            "sha256:{}",
            String::from_utf8(theirs.stdout).unwrap().trim()
        )
    );
    let Some(nix_store) = require_tool("nix-store") else {
        return;
    };
    let dump = nix_store
        .command()
        .arg("--dump")
        .arg(&src)
        .output()
        .unwrap();
    assert!(
        nar.stdout == dump.stdout,
        "dump-nar differs from nix-store --dump"
    );
}

#[test]
fn references_closure_and_referrers() {
    let ctx = Ctx::new();
    let base = ctx.add("base", "b", &[]);
    let lib = ctx.add("lib", "l", &[base.trim()]);
    let app = ctx.add("app", "a", &[lib.trim(), "base"]);
    let closure = ctx.ok(&["store", "closure", app.trim()]);
    assert_eq!(closure, format!("{base}{lib}{app}"), "dependencies first");
    assert_eq!(
        ctx.ok(&["store", "referrers", base.trim()]).lines().count(),
        2
    );
    // An unknown reference is an error, and nothing is added.
    let out = ctx.run(&[
        "store",
        "add",
        ctx.tree("x", "x").to_str().unwrap(),
        "--reference",
        "nonexistent",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("No object `nonexistent`"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        ctx.ok(&["store", "gc", "--dry-run"]).lines().count(),
        3,
        "only the three objects exist"
    );
}

#[test]
fn verify_exits_3_and_names_the_corrupt_file() {
    let ctx = Ctx::new();
    let obj = ctx.add("v", "original", &[]);
    let out = ctx.run(&["store", "verify"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("verified 1 objects: no problems"));
    let file = Path::new(obj.trim()).join("file");
    std::process::Command::new("chmod")
        .arg("u+w")
        .arg(&file)
        .status()
        .unwrap();
    fs_err::write(&file, "tampered").unwrap();
    let out = ctx.run(&["store", "verify"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("the contents of `file` changed"), "{err}");
    assert!(err.contains("`file` is writable"), "{err}");
    assert!(err.contains(obj.trim()), "names the object: {err}");
}

#[test]
fn gc_respects_result_links_and_named_roots() {
    let ctx = Ctx::new();
    let link = ctx.path("result");
    let kept = ctx.ok(&[
        "store",
        "add",
        ctx.tree("kept", "k").to_str().unwrap(),
        "--root",
        link.to_str().unwrap(),
    ]);
    let named = ctx.add("named", "n", &[]);
    ctx.ok(&["store", "root", "add", "release", named.trim()]);
    let garbage = ctx.add("garbage", "g", &[]);
    assert_eq!(
        fs_err::read_link(&link).unwrap().to_str().unwrap(),
        kept.trim()
    );
    let roots = ctx.ok(&["store", "root", "list"]);
    assert!(
        roots.contains("name release") && roots.contains("link "),
        "{roots}"
    );
    assert_eq!(ctx.ok(&["store", "gc", "--dry-run"]), garbage);
    assert!(
        Path::new(garbage.trim()).exists(),
        "dry run deletes nothing"
    );
    let out = ctx.run(&["store", "gc"]);
    assert!(
        stderr(&out).contains("deleted 1 objects"),
        "{}",
        stderr(&out)
    );
    assert!(!Path::new(garbage.trim()).exists());
    assert!(Path::new(kept.trim()).exists() && Path::new(named.trim()).exists());
    fs_err::remove_file(&link).unwrap();
    ctx.ok(&["store", "root", "remove", "release"]);
    ctx.ok(&["store", "gc"]);
    assert!(!Path::new(kept.trim()).exists() && !Path::new(named.trim()).exists());
}

#[test]
fn export_and_import_between_stores() {
    let ctx = Ctx::new();
    let dep = ctx.add("dep", "d", &[]);
    let top = ctx.add("top", "t", &[dep.trim()]);
    let file = ctx.path("closure.cairn");
    let out = ctx
        .cmd(&["store", "export", top.trim()])
        .stdout(fs_err::File::create(&file).unwrap().into_parts().0)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));

    let other = Ctx::new();
    let bytes = fs_err::read(&file).unwrap();
    // A truncated stream is refused and registers nothing.
    let cut = ctx.path("cut.cairn");
    fs_err::write(&cut, &bytes[..bytes.len() - 40]).unwrap();
    let out = other
        .cmd(&["store", "import"])
        .stdin(fs_err::File::open(&cut).unwrap().into_parts().0)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("truncated") && stderr(&out).contains("nothing was registered"),
        "{}",
        stderr(&out)
    );
    assert!(other.ok(&["store", "gc", "--dry-run"]).is_empty());
    // A flipped byte is refused.
    let mut flipped = bytes.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0xff;
    let bad = ctx.path("bad.cairn");
    fs_err::write(&bad, &flipped).unwrap();
    let out = other
        .cmd(&["store", "import"])
        .stdin(fs_err::File::open(&bad).unwrap().into_parts().0)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(other.ok(&["store", "gc", "--dry-run"]).is_empty());
    // The intact stream imports the whole closure under the same names.
    let out = other
        .cmd(&["store", "import"])
        .stdin(fs_err::File::open(&file).unwrap().into_parts().0)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let imported = String::from_utf8(out.stdout).unwrap();
    let names = |s: &str| {
        s.lines()
            .map(|l| Path::new(l).file_name().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&imported), names(&format!("{dep}{top}")));
    other.ok(&["store", "verify"]);
}

#[test]
fn store_location_comes_from_flag_env_or_xdg() {
    let ctx = Ctx::new();
    let src = ctx.tree("loc", "x");
    let via_env = ctx.path("env-store");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(["store", "add", src.to_str().unwrap()])
        .env("CAIRN_STORE", &via_env)
        .output()
        .unwrap();
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .starts_with(via_env.to_str().unwrap())
    );
    let xdg = ctx.path("xdg");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(["store", "add", src.to_str().unwrap()])
        .env_remove("CAIRN_STORE")
        .env("XDG_DATA_HOME", &xdg)
        .output()
        .unwrap();
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .starts_with(xdg.join("cairn/v1/objects").to_str().unwrap())
    );
}

#[test]
fn errors_name_the_path_and_suggest_a_fix() {
    let ctx = Ctx::new();
    let out = ctx.run(&["store", "add", "/nonexistent/dir"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("error: Failed to add `/nonexistent/dir` to the store"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("caused by:"), "{}", stderr(&out));

    let src = ctx.tree("fifo", "x");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(src.join("pipe"))
            .status()
            .unwrap()
            .success()
    );
    let out = ctx.run(&["store", "add", src.to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        err.contains("is a FIFO (named pipe)") && err.contains("pipe`"),
        "{err}"
    );
    assert!(err.contains("hint: remove the special file"), "{err}");

    let out = ctx.run(&["store", "info", "no-such-object"]);
    assert!(
        stderr(&out).contains("No object `no-such-object`") && stderr(&out).contains("hint:"),
        "{}",
        stderr(&out)
    );

    let out = ctx.run(&["store", "frobnicate"]);
    assert_eq!(out.status.code(), Some(2), "usage errors exit 2");
}

#[test]
fn the_readme_example_gives_the_same_object_everywhere() {
    // README.md shows this output; the hash part must not depend on the machine.
    let ctx = Ctx::new();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/hello-site");
    let path = ctx.ok(&["store", "add", example.to_str().unwrap(), "--name", "site"]);
    assert!(
        path.trim_end()
            .ends_with("/v1/objects/235pbrbgw618lx1c63nbfcz9mcpa4j6h-site"),
        "{path}"
    );
    let hash = ctx.ok(&["store", "hash-path", example.to_str().unwrap()]);
    assert_eq!(
        hash.trim_end(),
        "sha256-DUoOU7mAk7gNXSPdUKCHIn9syyVLWHEQV4sFloGWGFQ="
    );
}
