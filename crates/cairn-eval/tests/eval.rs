//! Evaluating specs: the plan a full example gives, determinism, spans, loads, and
//! every kind of error with its message and span.

#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

use fs_err as fs;
use std::collections::BTreeMap;
use std::path::Path;

use cairn_eval::{EvalError, evaluate, evaluate_source};
use cairn_plan::{DebianRepo, Group, Node, NodeId, Owner, Plan, Run, User};

const EXAMPLE: &str = r#"
# The README's example.
deb = debian(suite = "trixie")
py = deb.packages(["python3", "ca-certificates"])
site = files("site", dest = "/srv/site")
motd = write_file("/etc/motd", "hello\n", mode = 0o644)
link = symlink("/usr/local/bin/app", "/app/app.py")
acc = accounts(users = [{"name": "app", "uid": 1000}], groups = [{"name": "readers", "gid": 2000, "members": ["app"]}])
image(
    name = "web",
    contents = [py, site, motd, link, acc],
    entrypoint = ["/usr/bin/python3", "-m", "http.server", "8000"],
    cmd = None, user = "nonroot", workdir = "/srv/site",
    env = {"PYTHONUNBUFFERED": "1"},
    ports = [8000],
    labels = {"org.opencontainers.image.source": "https://example.org/web"},
    volumes = [], stop_signal = None,
    layers = 64,
    compression = "gzip",
)
"#;

fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let path = dir.path().join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }
    dir
}

fn eval(text: &str) -> Result<Plan, EvalError> {
    let dir = tempfile::tempdir().unwrap();
    evaluate_source(dir.path(), "cairn.star", text)
}

fn eval_ok(text: &str) -> Plan {
    eval(text).unwrap_or_else(|e| panic!("{e:?}"))
}

/// The text a span covers, in the file's own text as the error carries it.
fn spanned(error: &EvalError) -> (&str, &str) {
    let span = error.span().unwrap_or_else(|| panic!("no span: {error:?}"));
    let text = error
        .source_text()
        .expect("an error with a span has its file's text");
    (span.file.as_str(), &text[span.start..span.end])
}

fn text_at<'a>(text: &'a str, span: &cairn_plan::Span) -> &'a str {
    &text[span.start..span.end]
}

fn trixie() -> DebianRepo {
    DebianRepo {
        mirror: "http://deb.debian.org/debian".into(),
        suite: "trixie".into(),
        components: vec!["main".into()],
        security: true,
        security_mirror: "http://deb.debian.org/debian-security".into(),
        arch: "amd64".into(),
    }
}

#[test]
fn the_full_example_gives_its_nodes_and_image() {
    let dir = project(&[("cairn.star", EXAMPLE)]);
    let plan = evaluate(dir.path()).unwrap();

    let expected = [
        Node::Debian {
            repo: trixie(),
            packages: vec!["python3".into(), "ca-certificates".into()],
            recommends: false,
        },
        Node::Files {
            src: "site".into(),
            dest: "/srv/site".into(),
            exclude: vec![],
            mode: None,
            owner: None,
        },
        Node::WriteFile {
            path: "/etc/motd".into(),
            content: "hello\n".into(),
            mode: 0o644,
        },
        Node::Symlink {
            path: "/usr/local/bin/app".into(),
            target: "/app/app.py".into(),
        },
        Node::Accounts {
            users: vec![User {
                name: "app".into(),
                uid: 1000,
                gid: 1000,
                home: "/home/app".into(),
                shell: "/sbin/nologin".into(),
            }],
            groups: vec![Group {
                name: "readers".into(),
                gid: 2000,
                members: vec!["app".into()],
            }],
        },
    ];
    let ids: Vec<NodeId> = expected.iter().map(NodeId::of).collect();
    for (id, node) in ids.iter().zip(&expected) {
        assert_eq!(plan.nodes.get(id), Some(node));
    }
    assert_eq!(plan.nodes.len(), 6, "five contents and the image");

    let (image_id, image) = plan.image("web").unwrap();
    assert_eq!(plan.images.keys().collect::<Vec<_>>(), ["web"]);
    assert_eq!(image.contents, ids, "contents in order");
    assert_eq!(
        image.entrypoint.as_deref().unwrap(),
        ["/usr/bin/python3", "-m", "http.server", "8000"]
    );
    assert_eq!(image.cmd, None);
    assert_eq!(image.user.as_deref(), Some("nonroot"));
    assert_eq!(image.workdir.as_deref(), Some("/srv/site"));
    assert_eq!(
        image.env,
        BTreeMap::from([("PYTHONUNBUFFERED".to_owned(), "1".to_owned())])
    );
    assert_eq!(image.ports, ["8000/tcp"]);
    assert_eq!(
        image.labels,
        BTreeMap::from([(
            "org.opencontainers.image.source".to_owned(),
            "https://example.org/web".to_owned()
        )])
    );
    assert!(image.volumes.is_empty());
    assert_eq!(image.stop_signal, None);
    assert_eq!(image.layers, 64);
    assert_eq!(image.compression, "gzip");
    assert_eq!(image_id, &NodeId::of(&Node::Image(image.clone())));

    // Every node knows its call; the debian node where each package was written.
    let call = |id: &NodeId| {
        let span = plan.spans[id].call.as_ref().unwrap();
        assert_eq!(span.file, "cairn.star");
        text_at(EXAMPLE, span)
    };
    assert_eq!(
        call(&ids[0]),
        r#"deb.packages(["python3", "ca-certificates"])"#
    );
    assert_eq!(call(&ids[1]), r#"files("site", dest = "/srv/site")"#);
    assert_eq!(
        call(&ids[2]),
        r#"write_file("/etc/motd", "hello\n", mode = 0o644)"#
    );
    assert_eq!(
        call(&ids[3]),
        r#"symlink("/usr/local/bin/app", "/app/app.py")"#
    );
    assert!(call(&ids[4]).starts_with("accounts(users = "));
    assert!(call(image_id).starts_with("image(\n    name = \"web\""));
    let items: Vec<&str> = plan.spans[&ids[0]]
        .items
        .iter()
        .map(|s| text_at(EXAMPLE, s))
        .collect();
    assert_eq!(items, [r#""python3""#, r#""ca-certificates""#]);
    for id in &ids[1..] {
        assert!(plan.spans[id].items.is_empty());
    }
}

#[test]
fn defaults_and_normalisation() {
    let plan = eval_ok(
        r#"
deb = debian("bookworm", mirror = "https://mirror.example/debian/", components = ["main", "contrib"],
             security = False, arch = "arm64")
p = deb.packages(["curl"], recommends = True)
f = files("./app//src/", dest = "/app/", exclude = ["*.pyc"], mode = 0o755, owner = "1000:2000")
g = files(".", "/srv", owner = 33)
a = accounts(users = [{"name": "svc", "uid": 10, "gid": 20, "home": "/var/lib/svc", "shell": "/bin/sh"}],
             groups = [{"name": "g", "gid": 30}])
image(name = "x", contents = [p, f, g, a], ports = [80, "53/udp", "8080"], volumes = ["/data/"],
      entrypoint = [], cmd = ["serve"], stop_signal = "SIGINT", layers = 1, compression = "zstd")
"#,
    );
    let has = |node: Node| {
        assert!(
            plan.nodes.contains_key(&NodeId::of(&node)),
            "{node:?} missing from {:#?}",
            plan.nodes
        );
    };
    has(Node::Debian {
        repo: DebianRepo {
            mirror: "https://mirror.example/debian".into(),
            suite: "bookworm".into(),
            components: vec!["main".into(), "contrib".into()],
            security: false,
            security_mirror: "http://deb.debian.org/debian-security".into(),
            arch: "arm64".into(),
        },
        packages: vec!["curl".into()],
        recommends: true,
    });
    has(Node::Files {
        src: "app/src".into(),
        dest: "/app".into(),
        exclude: vec!["*.pyc".into()],
        mode: Some(0o755),
        owner: Some(Owner {
            uid: 1000,
            gid: 2000,
        }),
    });
    has(Node::Files {
        src: ".".into(),
        dest: "/srv".into(),
        exclude: vec![],
        mode: None,
        owner: Some(Owner { uid: 33, gid: 33 }),
    });
    has(Node::Accounts {
        users: vec![User {
            name: "svc".into(),
            uid: 10,
            gid: 20,
            home: "/var/lib/svc".into(),
            shell: "/bin/sh".into(),
        }],
        groups: vec![Group {
            name: "g".into(),
            gid: 30,
            members: vec![],
        }],
    });
    let (_, image) = plan.image("x").unwrap();
    assert_eq!(
        image.ports,
        ["53/udp", "80/tcp", "8080/tcp"],
        "sorted by number"
    );
    assert_eq!(image.volumes, ["/data"]);
    assert_eq!(image.entrypoint, Some(vec![]));
    assert_eq!(image.cmd, Some(vec!["serve".to_owned()]));
    assert_eq!(image.stop_signal.as_deref(), Some("SIGINT"));
    assert_eq!((image.layers, image.compression.as_str()), (1, "zstd"));
    assert_eq!(image.user, None);
    assert_eq!(image.workdir, None);
}

#[test]
fn evaluating_twice_gives_the_same_plan() {
    let spec = format!(
        "load('//lib/defs.star', 'x')\n{}",
        EXAMPLE.replace("[py, site,", "[py, x, site,")
    );
    let dir = project(&[
        ("cairn.star", &spec),
        ("lib/defs.star", "x = write_file('/x', 'x')\n"),
    ]);
    let a = evaluate(dir.path()).unwrap();
    let b = evaluate(dir.path()).unwrap();
    assert_eq!(a.to_json(), b.to_json());
    assert_eq!(a, b);
    let c = evaluate_source(dir.path(), "cairn.star", &spec).unwrap();
    assert_eq!(a.to_json(), c.to_json());

    // The loaded file's node is part of the plan, and of the image.
    let x = NodeId::of(&Node::WriteFile {
        path: "/x".into(),
        content: "x".into(),
        mode: 0o644,
    });
    assert_eq!(a.spans[&x].call.as_ref().unwrap().file, "lib/defs.star");
    assert_eq!(a.image("web").unwrap().1.contents[1], x);
    assert_eq!(a.nodes.len(), 7, "six contents and the image");
}

/// `starlark` turns on `serde_json`'s `arbitrary_precision` for every crate built with
/// it; the plan's JSON (numbers inside internally tagged nodes) must still read back.
#[test]
fn the_plan_json_reads_back() {
    let plan = eval_ok(EXAMPLE);
    let back: Plan = serde_json::from_slice(&plan.to_json()).unwrap();
    assert_eq!(back.nodes, plan.nodes);
    assert_eq!(back.images, plan.images);
    assert_eq!(back.to_json(), plan.to_json());
}

#[test]
fn moving_whitespace_and_comments_moves_spans_not_ids() {
    let a = eval_ok(EXAMPLE);
    let moved = format!(
        "# a new comment\n\n{}",
        EXAMPLE
            .replace(", dest = ", ",\n      dest  =  ")
            .replace("[py, site", "[  # the contents\n   py,site")
    );
    let b = eval_ok(&moved);
    assert_eq!(a.to_json(), b.to_json());
    assert_eq!(
        a.nodes.keys().collect::<Vec<_>>(),
        b.nodes.keys().collect::<Vec<_>>()
    );
    for (id, spans) in &a.spans {
        let moved_spans = &b.spans[id];
        assert_ne!(spans.call, moved_spans.call, "the span moved");
        assert_eq!(
            text_at(EXAMPLE, spans.call.as_ref().unwrap()).replace(char::is_whitespace, ""),
            text_at(&moved, moved_spans.call.as_ref().unwrap())
                .replace(char::is_whitespace, "")
                .replace("#thecontents", ""),
        );
    }
}

#[test]
fn the_same_call_twice_is_one_node_with_the_first_span() {
    let text = "a = write_file('/a', 'x')\nb = write_file('/a', 'x')\nok = a == b\nif not ok:\n    fail('not equal')\n";
    let plan = eval_ok(text);
    assert_eq!(plan.nodes.len(), 1);
    let span = plan.spans.values().next().unwrap().call.as_ref().unwrap();
    assert_eq!(span.start, 4);
}

#[test]
fn package_spans_fall_back_to_the_call_when_the_list_is_not_a_literal() {
    let text = "names = ['a', 'b']\ndebian().packages(names + ['c'])\n";
    let plan = eval_ok(text);
    let spans = plan.spans.values().next().unwrap();
    let call = spans.call.as_ref().unwrap();
    assert_eq!(text_at(text, call), "debian().packages(names + ['c'])");
    assert_eq!(spans.items, vec![call.clone(); 3]);

    // By name too.
    let text = "debian().packages(recommends = True, packages = ['a', 'b'])\n";
    let plan = eval_ok(text);
    let items: Vec<&str> = plan
        .spans
        .values()
        .next()
        .unwrap()
        .items
        .iter()
        .map(|s| text_at(text, s))
        .collect();
    assert_eq!(items, ["'a'", "'b'"]);
}

#[test]
fn many_images_in_a_loop_and_in_functions() {
    let text = r#"
deb = debian()
base = deb.packages(["libc6"])
def app(name, port):
    return image(
        name = name,
        contents = [base, write_file("/etc/" + name, name)],
        ports = [port],
    )
for i in range(50):
    app("app-%d" % i, 8000 + i)
"#;
    let plan = eval_ok(text);
    assert_eq!(plan.images.len(), 50);
    assert_eq!(plan.nodes.len(), 1 + 50 + 50);
    let (_, image) = plan.image("app-49").unwrap();
    assert_eq!(image.ports, ["8049/tcp"]);
    // Spans of nodes made in a function point into the function.
    let (id, _) = plan.image("app-0").unwrap();
    assert!(
        text_at(text, plan.spans[id].call.as_ref().unwrap())
            .starts_with("image(\n        name = name")
    );
}

#[test]
fn loads_from_the_root_and_relative_ones_from_subdirectories() {
    let dir = project(&[
        (
            "cairn.star",
            "load('//lib/defs.star', 'app', 'base')\nload('lib/common.star', 'motd')\napp('web', [motd])\n",
        ),
        (
            "lib/defs.star",
            "load(':common.star', 'deb', 'motd')\nload('sub/more.star', 'extra')\nbase = deb.packages(['python3'])\ndef app(name, more):\n    image(name = name, contents = [base, extra] + more)\n",
        ),
        (
            "lib/common.star",
            "deb = debian()\nmotd = write_file('/etc/motd', 'hi')\n# Evaluated once however often it is loaded: else this is a duplicate.\nimage(name = 'common')\n",
        ),
        (
            "lib/sub/more.star",
            "load('../common.star', 'motd')\nload('//lib/common.star', m2 = 'motd')\nextra = symlink('/x', 'y')\n",
        ),
    ]);
    let plan = evaluate(dir.path()).unwrap();
    assert_eq!(plan.images.keys().collect::<Vec<_>>(), ["common", "web"]);
    let (_, web) = plan.image("web").unwrap();
    let kinds: Vec<&str> = web
        .contents
        .iter()
        .map(|id| plan.nodes[id].kind())
        .collect();
    assert_eq!(kinds, ["debian", "symlink", "write_file"]);
    let file_of = |id: &NodeId| plan.spans[id].call.as_ref().unwrap().file.as_str();
    assert_eq!(file_of(&web.contents[0]), "lib/defs.star");
    assert_eq!(file_of(&web.contents[1]), "lib/sub/more.star");
    assert_eq!(file_of(&web.contents[2]), "lib/common.star");
    let items = &plan.spans[&web.contents[0]].items;
    assert_eq!(items.len(), 1);
    let defs = fs::read_to_string(dir.path().join("lib/defs.star")).unwrap();
    assert_eq!(text_at(&defs, &items[0]), "'python3'");
    assert_eq!(items[0].file, "lib/defs.star");
}

#[test]
fn evaluate_source_names_the_file_and_loads_relative_to_it() {
    let dir = project(&[("sub/lib.star", "x = write_file('/x', 'x')\n")]);
    let plan = evaluate_source(
        dir.path(),
        "sub/spec.star",
        "load(':lib.star', 'x')\nimage(name = 'a', contents = [x])\n",
    )
    .unwrap();
    let (id, _) = plan.image("a").unwrap();
    assert_eq!(plan.spans[id].call.as_ref().unwrap().file, "sub/spec.star");
}

/// Evaluates `files` (the first is the spec) and returns the error.
fn error_in(files: &[(&str, &str)]) -> EvalError {
    let dir = project(files);
    match evaluate(dir.path()) {
        Ok(plan) => panic!("expected an error, got {:?}", plan.images),
        Err(e) => e,
    }
}

fn error(text: &str) -> EvalError {
    error_in(&[("cairn.star", text)])
}

#[track_caller]
fn assert_error(error: &EvalError, message: &str, file: &str, at: &str) {
    assert!(
        error.message().contains(message),
        "{:?} does not contain {message:?}",
        error.message()
    );
    assert_eq!(spanned(error), (file, at), "{error:?}");
}

#[test]
fn syntax_errors() {
    let text = "deb = debian(\nimage(name = 'a'))\nx = = 1\n";
    let e = error(text);
    assert!(e.message().starts_with("Parse error"), "{e:?}");
    assert!(e.message().contains("unexpected symbol '='"), "{e:?}");
    let span = e.span().unwrap();
    assert_eq!(span.file, "cairn.star");
    assert_eq!(span.start, text.find("= 1").unwrap(), "{e:?}");

    let e = error("x = (\n");
    assert!(e.message().starts_with("Parse error"), "{e:?}");
}

#[test]
fn wrong_argument_types_and_unknown_arguments() {
    let e = error("image(name = 1)\n");
    assert_error(
        &e,
        "Type of parameter `name` doesn't match",
        "cairn.star",
        "image(name = 1)",
    );
    assert!(e.message().contains("expected `str`"), "{e:?}");

    let e = error("write_file('/a', 'x', mode = '644')\n");
    assert_error(
        &e,
        "Type of parameter `mode` doesn't match",
        "cairn.star",
        "write_file('/a', 'x', mode = '644')",
    );

    let e = error("debian().packages('python3')\n");
    assert_error(
        &e,
        "Type of parameter `packages` doesn't match",
        "cairn.star",
        "debian().packages('python3')",
    );

    let e = error("x = 1\nimage(name = 'a', bogus = 1)\n");
    assert_error(
        &e,
        "extra named parameter",
        "cairn.star",
        "image(name = 'a', bogus = 1)",
    );
    assert!(e.message().contains("bogus"), "{e:?}");

    let e = error("run(name = 'a')\n");
    assert_error(
        &e,
        "Missing named-only parameter `cmd`",
        "cairn.star",
        "run(name = 'a')",
    );

    let e = error("run('a', cmd = ['true'])\n");
    assert_error(
        &e,
        "Missing named-only parameter `name`",
        "cairn.star",
        "run('a', cmd = ['true'])",
    );

    let e = error("image('a')\n");
    assert_error(
        &e,
        "Missing named-only parameter `name`",
        "cairn.star",
        "image('a')",
    );
}

#[test]
fn duplicate_image_names() {
    let text = "image(name = 'web')\nimage(name = 'api')\nimage(\n    name = 'web',\n)\n";
    let e = error(text);
    assert_error(
        &e,
        "there is already an image named \"web\"",
        "cairn.star",
        "'web'",
    );
    assert_eq!(
        e.span().unwrap().start,
        text.rfind("'web'").unwrap(),
        "the second"
    );

    // From a function in another file: the span is where the call is, with a traceback.
    let e = error_in(&[
        (
            "cairn.star",
            "load('//defs.star', 'mk')\nmk('a')\nmk('a')\n",
        ),
        ("defs.star", "def mk(name):\n    image(name = name)\n"),
    ]);
    assert_error(&e, "already an image named \"a\"", "defs.star", "name");
    let help = miette::Diagnostic::help(&e).unwrap().to_string();
    assert!(help.contains("cairn.star:3"), "{help}");
}

#[test]
fn bad_paths() {
    for (text, message, at) in [
        (
            "files('../up', dest = '/a')",
            "must stay inside the project",
            "'../up'",
        ),
        ("files('a/../../b', dest = '/a')", "no `..`", "'a/../../b'"),
        ("files('/etc', dest = '/a')", "not absolute", "'/etc'"),
        (
            "files('site', dest = 'srv')",
            "must be an absolute path",
            "'srv'",
        ),
        ("files('site', 'srv')", "must be an absolute path", "'srv'"),
        (
            "files('site', dest = '/srv/../etc')",
            "can't contain `..`",
            "'/srv/../etc'",
        ),
        (
            "write_file('etc/motd', 'x')",
            "must be an absolute path",
            "'etc/motd'",
        ),
        ("write_file('/', 'x')", "must name a file", "'/'"),
        (
            "symlink('bin/app', '/app')",
            "must be an absolute path",
            "'bin/app'",
        ),
        ("symlink('/bin/app', '')", "`target` can't be empty", "''"),
        ("image(name = 'a', workdir = 'srv')", "`workdir`", "'srv'"),
        (
            "image(name = 'a', volumes = ['/ok', 'data'])",
            "a volume",
            "'data'",
        ),
        (
            "accounts(users = [{'name': 'a', 'uid': 1, 'home': 'home/a'}])",
            "`home`",
            "{'name': 'a', 'uid': 1, 'home': 'home/a'}",
        ),
    ] {
        let e = error(&format!("x = 1\n{text}\n"));
        assert_error(&e, message, "cairn.star", at);
    }
}

#[test]
fn bad_modes_and_other_values() {
    for (text, message, at) in [
        (
            "write_file('/a', 'x', mode = 0o10000)",
            "between 0 and 0o7777",
            "0o10000",
        ),
        ("write_file('/a', 'x', mode = -1)", "got -1", "-1"),
        (
            "files('a', dest = '/a', mode = 0o20000)",
            "got 0o20000",
            "0o20000",
        ),
        (
            "files('a', dest = '/a', owner = 'app')",
            "`owner` must be",
            "'app'",
        ),
        (
            "files('a', dest = '/a', owner = -5)",
            "`owner` must be",
            "-5",
        ),
        ("image(name = 'a', layers = 0)", "between 1 and 127", "0"),
        (
            "image(name = 'a', compression = 'xz')",
            "\"gzip\" or \"zstd\"",
            "'xz'",
        ),
        (
            "image(name = 'a', ports = [80, 70000])",
            "a port must be",
            "70000",
        ),
        (
            "image(name = 'a', ports = ['53/icmp'])",
            "a port must be",
            "'53/icmp'",
        ),
        (
            "image(name = 'a', env = {'A=B': 'x'})",
            "without `=`",
            "{'A=B': 'x'}",
        ),
        ("image(name = '')", "lowercase letters and digits", "''"),
        ("debian().packages([])", "can't be empty", "[]"),
        (
            "debian().packages(['python3', ''])",
            "package name must be non-empty",
            "''",
        ),
        (
            "debian().packages(['python3 curl'])",
            "without spaces",
            "'python3 curl'",
        ),
        (
            "debian(mirror = 'ftp://x')",
            "http:// or https://",
            "'ftp://x'",
        ),
        ("debian(components = [])", "can't be empty", "[]"),
        (
            "accounts(users = [{'name': 'a'}])",
            "needs a `uid`",
            "{'name': 'a'}",
        ),
        (
            "accounts(users = [{'name': 'a', 'uid': 1, 'id': 2}])",
            "unknown key \"id\"",
            "{'name': 'a', 'uid': 1, 'id': 2}",
        ),
        ("accounts(users = ['a'])", "must be a dict", "'a'"),
        (
            "accounts(users = [{'name': 'a:b', 'uid': 1}])",
            "not a valid account name",
            "{'name': 'a:b', 'uid': 1}",
        ),
        (
            "accounts(groups = [{'name': 'g', 'gid': 1}, {'name': 'g', 'gid': 2}])",
            "declared twice",
            "{'name': 'g', 'gid': 2}",
        ),
        (
            "accounts(groups = [{'name': 'g', 'gid': 1, 'members': 'a'}])",
            "must be a list",
            "{'name': 'g', 'gid': 1, 'members': 'a'}",
        ),
    ] {
        let e = error(&format!("x = 1\n{text}\n"));
        assert_error(&e, message, "cairn.star", at);
    }
}

#[test]
fn contents_of_the_wrong_type() {
    let e = error("deb = debian()\nimage(name = 'a', contents = [deb.packages(['a']), 'site'])\n");
    assert_error(
        &e,
        "item 1 is a value of type `string`",
        "cairn.star",
        "'site'",
    );

    assert!(e.message().contains("run()"), "{e:?}");

    let e = error("deb = debian()\nimage(name = 'a', contents = [deb])\n");
    assert_error(&e, "of type `debian`", "cairn.star", "deb");
    assert!(e.message().contains("deb.packages("), "{e:?}");

    // Not a list literal: the span is the argument.
    let e = error("c = [None]\nimage(name = 'a', contents = c + [])\n");
    assert_error(&e, "of type `NoneType`", "cairn.star", "c + []");

    let e = error("image(name = 'a', contents = [image(name = 'b')])\n");
    assert_error(&e, "of type `NoneType`", "cairn.star", "image(name = 'b')");
}

#[test]
fn loads_escaping_the_project() {
    let e = error("load('../outside.star', 'x')\n");
    assert_error(&e, "outside the project", "cairn.star", "'../outside.star'");

    let e = error("load('//../outside.star', 'x')\n");
    assert_error(
        &e,
        "outside the project",
        "cairn.star",
        "'//../outside.star'",
    );

    let e = error("load('/etc/defs.star', 'x')\n");
    assert_error(
        &e,
        "absolute paths are not allowed",
        "cairn.star",
        "'/etc/defs.star'",
    );

    let e = error("load('//lib/defs.py', 'x')\n");
    assert_error(&e, "only `.star` files", "cairn.star", "'//lib/defs.py'");

    let e = error_in(&[
        ("cairn.star", "load('//lib/a.star', 'x')\n"),
        ("lib/a.star", "load('../../b.star', 'y')\nx = 1\n"),
    ]);
    assert_error(&e, "outside the project", "lib/a.star", "'../../b.star'");

    let e = error("load('//lib/missing.star', 'x')\n");
    assert_error(&e, "no such file", "cairn.star", "'//lib/missing.star'");
}

#[test]
fn loads_through_symlinks_leaving_the_project() {
    let outside = project(&[("defs.star", "x = 1\n")]);
    let dir = project(&[
        ("cairn.star", "load('//lib/defs.star', 'x')\n"),
        ("inside.star", "x = 1\n"),
    ]);
    fs::create_dir(dir.path().join("lib")).unwrap();
    fs::os::unix::fs::symlink(
        outside.path().join("defs.star"),
        dir.path().join("lib/defs.star"),
    )
    .unwrap();
    let e = evaluate(dir.path()).unwrap_err();
    assert_error(
        &e,
        "a symlink leads it outside the project",
        "cairn.star",
        "'//lib/defs.star'",
    );

    // Through a symlinked directory, to a file that does not even exist.
    fs::os::unix::fs::symlink(outside.path(), dir.path().join("out")).unwrap();
    let e =
        evaluate_source(dir.path(), "cairn.star", "load('//out/nope.star', 'x')\n").unwrap_err();
    assert_error(&e, "outside the project", "cairn.star", "'//out/nope.star'");

    // A symlink that stays inside is fine.
    fs::os::unix::fs::symlink(
        dir.path().join("inside.star"),
        dir.path().join("lib/link.star"),
    )
    .unwrap();
    evaluate_source(dir.path(), "cairn.star", "load('//lib/link.star', 'x')\n").unwrap();
}

#[test]
fn load_cycles() {
    let e = error_in(&[
        ("cairn.star", "load('//lib/a.star', 'x')\n"),
        ("lib/a.star", "load(':b.star', 'y')\nx = 1\n"),
        ("lib/b.star", "load('//lib/a.star', 'x')\ny = 1\n"),
    ]);
    assert_error(
        &e,
        "load cycle: lib/a.star -> lib/b.star -> lib/a.star",
        "lib/b.star",
        "'//lib/a.star'",
    );

    let e = error_in(&[
        ("cairn.star", "load('//lib/a.star', 'x')\n"),
        ("lib/a.star", "load('//cairn.star', 'y')\nx = 1\n"),
    ]);
    assert_error(
        &e,
        "load cycle: cairn.star -> lib/a.star -> cairn.star",
        "lib/a.star",
        "'//cairn.star'",
    );

    let e = error("load('cairn.star', 'x')\n");
    assert_error(
        &e,
        "load cycle: cairn.star -> cairn.star",
        "cairn.star",
        "'cairn.star'",
    );
}

#[test]
fn errors_in_loaded_files_point_into_them() {
    let e = error_in(&[
        ("cairn.star", "load('//lib/a.star', 'x')\n"),
        (
            "lib/a.star",
            "x = 1\nwrite_file('/a', 'b', mode = 0o77777)\n",
        ),
    ]);
    assert_error(&e, "0o7777", "lib/a.star", "0o77777");
    assert_eq!(
        e.source_text().unwrap(),
        "x = 1\nwrite_file('/a', 'b', mode = 0o77777)\n"
    );

    let e = error_in(&[
        ("cairn.star", "load('//lib/a.star', 'x')\n"),
        ("lib/a.star", "x = = 1\n"),
    ]);
    assert!(e.message().starts_with("Parse error"), "{e:?}");
    assert_eq!(e.span().unwrap().file, "lib/a.star");

    let e = error("load('//cairn.star', 'nope')\n");
    assert!(e.message().contains("load cycle"), "{e:?}");
}

#[test]
fn the_spec_is_hermetic() {
    // Only standard Starlark and cairn's functions (the full list is checked in the
    // crate's unit tests): not starlark's extensions.
    for name in [
        "print", "struct", "json", "map", "filter", "debug", "partial",
    ] {
        let e = error(&format!("x = {name}\n"));
        assert!(e.message().contains("not found"), "{name}: {e:?}");
        assert_eq!(spanned(&e), ("cairn.star", name));
    }
}

#[test]
fn a_missing_spec() {
    let dir = tempfile::tempdir().unwrap();
    let e = evaluate(dir.path()).unwrap_err();
    assert!(e.message().contains("cairn.star"), "{e:?}");
    assert!(e.span().is_none());
    assert!(std::error::Error::source(&e).is_some());
}

#[test]
fn errors_are_miette_diagnostics() {
    use miette::Diagnostic;

    let text = "image(name = 'a')\nimage(name = 'a')\n";
    let e = eval(text).unwrap_err();
    let labels: Vec<_> = e.labels().unwrap().collect();
    assert_eq!(labels.len(), 1);
    assert_eq!((labels[0].offset(), labels[0].len()), (31, 3));
    let source = e.source_code().unwrap();
    let contents = source.read_span(labels[0].inner(), 0, 0).unwrap();
    assert_eq!(contents.data(), b"'a'");
    assert_eq!(contents.name(), Some("cairn.star"));
    assert_eq!(contents.line(), 1);

    let mut rendered = String::new();
    miette::NarratableReportHandler::new()
        .render_report(&mut rendered, &e)
        .unwrap();
    assert!(
        rendered.contains("there is already an image named \"a\""),
        "{rendered}"
    );
    assert!(rendered.contains("cairn.star"), "{rendered}");

    // Errors starlark raised itself carry the same.
    let e = eval("image(name = 'a', bogus = 1)\n").unwrap_err();
    assert_eq!(e.labels().unwrap().count(), 1);
    assert!(e.source_code().is_some());
}

#[test]
fn fail_is_an_error_with_a_span() {
    let e = error("def check():\n    fail('no good')\ncheck()\n");
    assert_error(&e, "no good", "cairn.star", "fail('no good')");
}

#[test]
fn a_root_given_relatively_works() {
    let dir = project(&[
        (
            "p/cairn.star",
            "load('//lib.star', 'x')\nimage(name = 'a', contents = [x])\n",
        ),
        ("p/lib.star", "x = symlink('/a', 'b')\n"),
    ]);
    let cwd = std::env::current_dir().unwrap();
    // Not changing the process's directory (tests run in parallel): a path with `..`.
    let relative = pathdiff(dir.path(), &cwd);
    let plan = evaluate(&relative.join("p")).unwrap();
    assert_eq!(plan.images.len(), 1);
}

/// `target` relative to `base` (both absolute).
fn pathdiff(target: &Path, base: &Path) -> std::path::PathBuf {
    let mut up = std::path::PathBuf::new();
    for _ in base.components().skip(1) {
        up.push("..");
    }
    up.join(target.strip_prefix("/").unwrap())
}

#[test]
fn defaults_when_nothing_is_given() {
    let plan = eval_ok(
        "deb = debian()\n\
         image(name = 'a', contents = [deb.packages(['curl']), write_file('/a', 'x'), files('s', '/s'),\n\
         accounts(users = [{'name': 'u', 'uid': 7}])])\n",
    );
    let (_, image) = plan.image("a").unwrap();
    let nodes: Vec<&Node> = image.contents.iter().map(|id| &plan.nodes[id]).collect();
    assert_eq!(
        nodes[0],
        &Node::Debian {
            repo: trixie(),
            packages: vec!["curl".into()],
            recommends: false,
        }
    );
    assert_eq!(
        nodes[1],
        &Node::WriteFile {
            path: "/a".into(),
            content: "x".into(),
            mode: 0o644,
        }
    );
    assert_eq!(
        nodes[2],
        &Node::Files {
            src: "s".into(),
            dest: "/s".into(),
            exclude: vec![],
            mode: None,
            owner: None,
        }
    );
    assert_eq!(
        nodes[3],
        &Node::Accounts {
            users: vec![User {
                name: "u".into(),
                uid: 7,
                gid: 7,
                home: "/home/u".into(),
                shell: "/sbin/nologin".into(),
            }],
            groups: vec![],
        }
    );
    assert_eq!(image.layers, 64);
    assert_eq!(image.compression, "gzip");
    assert_eq!(
        (&image.entrypoint, &image.cmd, &image.user, &image.workdir),
        (&None, &None, &None, &None)
    );
    assert!(image.env.is_empty() && image.labels.is_empty());
    assert!(image.ports.is_empty() && image.volumes.is_empty());
    assert_eq!(image.stop_signal, None);
    // The documented constants are those defaults.
    assert_eq!(i64::from(cairn_eval::DEFAULT_MODE), 0o644);
    assert_eq!(i64::from(cairn_eval::DEFAULT_LAYERS), 64);
    assert_eq!(cairn_eval::DEFAULT_COMPRESSION, "gzip");
    assert_eq!(cairn_eval::DEFAULT_SHELL, "/sbin/nologin");
    assert_eq!(cairn_eval::DEFAULT_MIRROR, trixie().mirror);
    assert_eq!(
        cairn_eval::DEFAULT_SECURITY_MIRROR,
        trixie().security_mirror
    );
    assert_eq!(cairn_eval::DEFAULT_SUITE, trixie().suite);
    assert_eq!(cairn_eval::DEFAULT_ARCH, trixie().arch);
}

/// A chain of `n` files: `cairn.star` loads `m2.star`, which loads `m3.star`, … `mn.star`.
fn load_chain(n: usize) -> Vec<(String, String)> {
    let mut files = vec![(
        "cairn.star".to_owned(),
        "load('//m2.star', 'x')\nimage(name = 'a', contents = [x])\n".to_owned(),
    )];
    for i in 2..n {
        files.push((
            format!("m{i}.star"),
            format!("load('//m{}.star', 'x')\n", i + 1),
        ));
    }
    files.push((format!("m{n}.star"), "x = symlink('/x', 'y')\n".to_owned()));
    files
}

#[test]
fn loads_nest_at_most_64_files_deep() {
    let chain = load_chain(64);
    let files: Vec<(&str, &str)> = chain
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    let dir = project(&files);
    assert_eq!(evaluate(dir.path()).unwrap().images.len(), 1);

    let chain = load_chain(65);
    let files: Vec<(&str, &str)> = chain
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    let e = error_in(&files);
    assert_error(
        &e,
        "loads nest deeper than 64 files",
        "m64.star",
        "'//m65.star'",
    );

    // Far deeper: an error, not a stack overflow.
    let chain = load_chain(3000);
    let files: Vec<(&str, &str)> = chain
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    let e = error_in(&files);
    assert_error(
        &e,
        "loads nest deeper than 64 files",
        "m64.star",
        "'//m65.star'",
    );
}

#[test]
fn deeply_nested_expressions_do_not_crash() {
    // Whether starlark accepts them or not, the process must survive.
    for depth in [1000, 5000] {
        let list = format!("x = {}{}\n", "[".repeat(depth), "]".repeat(depth));
        let call = format!("x = {}1{}\n", "str(".repeat(depth), ")".repeat(depth));
        let sum = format!("x = 1{}\n", " + 1".repeat(depth));
        for text in [list, call, sum] {
            match eval(&text) {
                Ok(_) => {}
                Err(e) => assert!(!e.message().is_empty()),
            }
        }
    }
    // Through `evaluate` too.
    let dir = project(&[(
        "cairn.star",
        &format!("x = {}{}\n", "[".repeat(5000), "]".repeat(5000)),
    )]);
    if let Err(e) = evaluate(dir.path()) {
        assert!(!e.message().is_empty());
    }
}

#[test]
fn image_names_are_safe_file_names_and_repository_names() {
    for name in ["a", "web-1.2_x", "9lives", "a.b-c__d", &"n".repeat(128)] {
        let plan = eval_ok(&format!("image(name = '{name}')\n"));
        assert!(plan.image(name).is_some(), "{name}");
    }
    for name in [
        "a/../../b",
        "../x",
        "a/b",
        ".hidden",
        "-x",
        "_x",
        "a b",
        "a:b",
        "é",
        "a\\\\b",
        "Web",
        "a..b",
        "a-",
        &"n".repeat(129),
    ] {
        let text = format!("x = 1\nimage(\n    name = '{name}',\n)\n");
        let e = error(&text);
        assert_error(
            &e,
            "an image's `name` must be lowercase letters and digits",
            "cairn.star",
            &format!("'{name}'"),
        );
    }
}

#[test]
fn mirrors_need_a_host() {
    for mirror in [
        "http://",
        "https:///",
        "http:///debian",
        "http://x y",
        "http:/x",
        "",
    ] {
        let e = error(&format!("x = 1\ndebian(mirror = '{mirror}')\n"));
        assert_error(
            &e,
            "must be an http:// or https:// URL with a host",
            "cairn.star",
            &format!("'{mirror}'"),
        );
    }
    let e = error("x = 1\ndebian(security_mirror = 'https://')\n");
    assert_error(&e, "`security_mirror` must be", "cairn.star", "'https://'");

    let plan = eval_ok(
        "image(name = 'a', contents = [debian(mirror = 'http://x//', security_mirror = 'https://y/s/').packages(['p'])])\n",
    );
    let (_, image) = plan.image("a").unwrap();
    match &plan.nodes[&image.contents[0]] {
        Node::Debian { repo, .. } => {
            assert_eq!(repo.mirror, "http://x");
            assert_eq!(repo.security_mirror, "https://y/s");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_file_reached_through_two_names_is_evaluated_once() {
    let dir = project(&[
        (
            "cairn.star",
            "load('//lib/a.star', 'x')\nload('//lib/b.star', y = 'x')\nimage(name = 'web', contents = [x, y])\n",
        ),
        // Evaluated twice, this declares the image `a` twice.
        ("lib/a.star", "x = symlink('/x', 'y')\nimage(name = 'a')\n"),
    ]);
    fs::os::unix::fs::symlink("a.star", dir.path().join("lib/b.star")).unwrap();
    let plan = evaluate(dir.path()).unwrap();
    assert_eq!(plan.images.keys().collect::<Vec<_>>(), ["a", "web"]);
    let (_, web) = plan.image("web").unwrap();
    assert_eq!(web.contents.len(), 1, "the same node, once");
    // Spans name the file by the label it was first loaded as.
    assert_eq!(
        plan.spans[&web.contents[0]].call.as_ref().unwrap().file,
        "lib/a.star"
    );

    // A cycle through an alias is a cycle.
    fs::os::unix::fs::symlink("../cairn.star", dir.path().join("lib/spec.star")).unwrap();
    fs::write(dir.path().join("cairn.star"), "load('//lib/c.star', 'x')\n").unwrap();
    fs::write(dir.path().join("lib/c.star"), "load(':spec.star', 'x')\n").unwrap();
    let e = evaluate(dir.path()).unwrap_err();
    assert_error(&e, "load cycle", "lib/c.star", "':spec.star'");
    assert!(
        e.message()
            .contains("cairn.star -> lib/c.star -> lib/spec.star"),
        "{e:?}"
    );
}

#[test]
fn a_star_label_must_be_a_star_file() {
    let dir = project(&[
        ("cairn.star", "load('//x.star', 'x')\n"),
        (".env", "SECRET = 'hunter2'\nx = 1 +\n"),
    ]);
    fs::os::unix::fs::symlink(".env", dir.path().join("x.star")).unwrap();
    let e = evaluate(dir.path()).unwrap_err();
    assert_error(&e, "not a `.star` file", "cairn.star", "'//x.star'");
    assert!(e.message().contains("`.env`"), "{e:?}");
    assert!(!format!("{e:?}").contains("hunter2"), "{e:?}");
    assert!(!e.message().contains(dir.path().to_str().unwrap()), "{e:?}");
}

#[test]
fn load_errors_do_not_show_host_paths() {
    let outside = project(&[("defs.star", "x = 1\n")]);
    let dir = project(&[("cairn.star", "load('//lib/defs.star', 'x')\n")]);
    fs::create_dir(dir.path().join("lib")).unwrap();
    fs::os::unix::fs::symlink(
        outside.path().join("defs.star"),
        dir.path().join("lib/defs.star"),
    )
    .unwrap();
    let e = evaluate(dir.path()).unwrap_err();
    assert_error(&e, "outside the project", "cairn.star", "'//lib/defs.star'");
    let shown = format!("{e} {e:?}");
    assert!(!shown.contains(outside.path().to_str().unwrap()), "{shown}");
    assert!(!shown.contains(dir.path().to_str().unwrap()), "{shown}");

    // A file that can't be read as text.
    fs::write(dir.path().join("bin.star"), b"x = '\xff'\n").unwrap();
    let e = evaluate_source(dir.path(), "cairn.star", "load('//bin.star', 'x')\n").unwrap_err();
    assert_error(&e, "cannot load `bin.star`", "cairn.star", "'//bin.star'");
    let mut shown = format!("{e} {e:?}");
    let mut cause = std::error::Error::source(&e);
    while let Some(c) = cause {
        shown.push_str(&c.to_string());
        cause = c.source();
    }
    assert!(!shown.contains(dir.path().to_str().unwrap()), "{shown}");
}

#[test]
fn numbers_out_of_range() {
    for (text, message, at) in [
        (
            "accounts(users = [{'name': 'a', 'uid': 1 << 40}])",
            "`uid` must be between 0 and 4294967294",
            "{'name': 'a', 'uid': 1 << 40}",
        ),
        (
            "accounts(users = [{'name': 'a', 'uid': 1 << 100}])",
            "`uid` must be between 0 and 4294967294",
            "{'name': 'a', 'uid': 1 << 100}",
        ),
        (
            "accounts(users = [{'name': 'a', 'uid': 1, 'gid': -(1 << 100)}])",
            "`gid` must be between 0 and 4294967294",
            "{'name': 'a', 'uid': 1, 'gid': -(1 << 100)}",
        ),
        (
            "accounts(groups = [{'name': 'g', 'gid': 1 << 100}])",
            "`gid` must be between 0 and 4294967294",
            "{'name': 'g', 'gid': 1 << 100}",
        ),
        (
            "files('a', '/a', owner = 1 << 100)",
            "0 to 4294967294",
            "1 << 100",
        ),
        (
            "files('a', '/a', owner = 1 << 32)",
            "0 to 4294967294",
            "1 << 32",
        ),
        (
            "write_file('/a', 'x', mode = 1 << 40)",
            "between 0 and 0o7777",
            "1 << 40",
        ),
        (
            "files('a', '/a', mode = 1 << 40)",
            "between 0 and 0o7777",
            "1 << 40",
        ),
        (
            "image(name = 'a', layers = 1 << 40)",
            "between 1 and 127",
            "1 << 40",
        ),
        (
            "image(name = 'a', layers = 128)",
            "between 1 and 127",
            "128",
        ),
        ("image(name = 'a', layers = -1)", "between 1 and 127", "-1"),
        (
            "image(name = 'a', ports = [1 << 40])",
            "a port must be",
            "1 << 40",
        ),
    ] {
        let e = error(&format!("x = 1\n{text}\n"));
        assert_error(&e, message, "cairn.star", at);
        assert!(!e.message().contains("type `int`"), "{e:?}");
    }
    // The limits themselves are fine.
    let plan = eval_ok(
        "image(name = 'a', layers = 127, contents = [write_file('/a', 'x', mode = 0o7777),\n\
         accounts(users = [{'name': 'u', 'uid': 4294967294}])])\n",
    );
    assert_eq!(plan.image("a").unwrap().1.layers, 127);
}

#[test]
fn values_the_build_would_reject() {
    for (text, message, at) in [
        (
            "accounts(users = [{'name': 'a', 'uid': 1, 'home': '/x:0:0'}])",
            "`home` can't contain `:`",
            "{'name': 'a', 'uid': 1, 'home': '/x:0:0'}",
        ),
        (
            "accounts(users = [{'name': 'a', 'uid': 1, 'home': '/x\\nroot'}])",
            "`home` can't contain",
            "{'name': 'a', 'uid': 1, 'home': '/x\\nroot'}",
        ),
        (
            "accounts(users = [{'name': 'a', 'uid': 1, 'shell': '/bin/sh:'}])",
            "`shell` can't contain `:`",
            "{'name': 'a', 'uid': 1, 'shell': '/bin/sh:'}",
        ),
        (
            "accounts(users = [{'name': 'a', 'uid': 7}, {'name': 'b', 'uid': 7}])",
            "uid 7",
            "{'name': 'b', 'uid': 7}",
        ),
        (
            "accounts(groups = [{'name': 'a', 'gid': 7}, {'name': 'b', 'gid': 7}])",
            "gid 7",
            "{'name': 'b', 'gid': 7}",
        ),
        (
            "image(name = 'a', labels = {'k': 'v\\0'})",
            "NUL",
            "{'k': 'v\\0'}",
        ),
        (
            "image(name = 'a', labels = {'k\\0': 'v'})",
            "NUL",
            "{'k\\0': 'v'}",
        ),
        (
            "image(name = 'a', entrypoint = ['/bin/a', 'b\\0'])",
            "NUL",
            "'b\\0'",
        ),
        ("image(name = 'a', cmd = ['b\\0'])", "NUL", "'b\\0'"),
        ("image(name = 'a', volumes = ['/v\\0'])", "NUL", "'/v\\0'"),
        ("write_file('/a\\0', 'x')", "NUL", "'/a\\0'"),
        ("symlink('/a', 'b\\0')", "NUL", "'b\\0'"),
        ("files('a', '/a', exclude = ['a\\0'])", "NUL", "'a\\0'"),
        (
            "image(name = 'a', env = {'A': '\\0'})",
            "NUL",
            "{'A': '\\0'}",
        ),
    ] {
        let e = error(&format!("x = 1\n{text}\n"));
        assert_error(&e, message, "cairn.star", at);
        assert!(!e.message().contains("can't be empty"), "{e:?}");
        assert!(!e.message().contains("name must be"), "{e:?}");
    }
    // A group's gid may be a user's uid, and `:` is fine outside /etc/passwd.
    eval_ok(
        "accounts(users = [{'name': 'a', 'uid': 7}], groups = [{'name': 'a', 'gid': 7}])\n\
         write_file('/a:b', 'x:y')\n",
    );
}

#[test]
fn equivalent_images_are_one_image() {
    let a = eval_ok(
        "w = write_file('/w', 'x')\ns = symlink('/s', 't')\n\
         image(name = 'a', contents = [w, s, w], ports = [8080, '80', '080/tcp', 80, '53/udp', 443],\n\
         volumes = ['/b/', '/a', '/b', '//a'])\n",
    );
    let b = eval_ok(
        "w = write_file('/w', 'x')\ns = symlink('/s', 't')\n\
         image(name = 'a', contents = [w, s], ports = ['53/udp', 80, 443, 8080], volumes = ['/a', '/b'])\n",
    );
    let (a_id, image) = a.image("a").unwrap();
    assert_eq!(image.ports, ["53/udp", "80/tcp", "443/tcp", "8080/tcp"]);
    assert_eq!(image.volumes, ["/a", "/b"]);
    assert_eq!(image.contents.len(), 2);
    assert_eq!(a_id, b.image("a").unwrap().0);
    // The first occurrence keeps its place.
    let c = eval_ok(
        "w = write_file('/w', 'x')\ns = symlink('/s', 't')\nimage(name = 'a', contents = [s, w, s])\n",
    );
    let kinds: Vec<&str> = c
        .image("a")
        .unwrap()
        .1
        .contents
        .iter()
        .map(|id| c.nodes[id].kind())
        .collect();
    assert_eq!(kinds, ["symlink", "write_file"]);
}

/// The issue's example: a Go program built in a step, and the image holding it.
const RUN_EXAMPLE: &str = r#"
deb = debian(suite = "trixie")
quotes = run(
    name = "quotes",
    deps = [deb.packages(["golang-go"])],
    srcs = {"/src": files("quotes")},
    cmd = ["sh", "-c", "cd /src && CGO_ENABLED=0 go build -trimpath -o /out/usr/local/bin/quotes ."],
    env = {"GOCACHE": "/tmp/go-cache", "GOTOOLCHAIN": "local"},
    runtime = [],
    workdir = "/src",
    timeout = 3600,
)
image(name = "quotes", contents = [quotes], entrypoint = ["/usr/local/bin/quotes"], user = "nonroot")
"#;

fn string_map(entries: &[(&str, &str)]) -> BTreeMap<String, String> {
    entries
        .iter()
        .map(|&(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

#[test]
fn a_run_step_gives_its_node_and_its_output_goes_in_the_image() {
    let plan = eval_ok(RUN_EXAMPLE);
    let go = NodeId::of(&Node::Debian {
        repo: trixie(),
        packages: vec!["golang-go".into()],
        recommends: false,
    });
    let src = NodeId::of(&Node::Files {
        src: "quotes".into(),
        dest: "/".into(),
        exclude: vec![],
        mode: None,
        owner: None,
    });
    let run = Node::Run(Run {
        name: "quotes".into(),
        deps: vec![go.clone()],
        srcs: BTreeMap::from([("/src".to_owned(), src.clone())]),
        cmd: vec![
            "sh".into(),
            "-c".into(),
            "cd /src && CGO_ENABLED=0 go build -trimpath -o /out/usr/local/bin/quotes .".into(),
        ],
        env: string_map(&[("GOCACHE", "/tmp/go-cache"), ("GOTOOLCHAIN", "local")]),
        runtime: vec![],
        workdir: "/src".into(),
        timeout: 3600,
    });
    let id = NodeId::of(&run);
    assert_eq!(plan.nodes.get(&id), Some(&run));
    assert!(plan.nodes.contains_key(&go) && plan.nodes.contains_key(&src));
    assert_eq!(plan.nodes.len(), 4, "packages, files, run and image");
    assert_eq!(plan.runs().into_keys().collect::<Vec<_>>(), [&id]);
    assert_eq!(plan.nodes[&id].kind(), "run");

    let (_, image) = plan.image("quotes").unwrap();
    assert_eq!(image.contents, std::slice::from_ref(&id));
    let call = plan.spans[&id].call.as_ref().unwrap();
    assert!(text_at(RUN_EXAMPLE, call).starts_with("run(\n    name = \"quotes\""));
    assert!(plan.spans[&id].items.is_empty());

    // The plan reads back, and the defaults are the values written above.
    let back: Plan = serde_json::from_slice(&plan.to_json()).unwrap();
    assert_eq!(back.nodes, plan.nodes);
    let defaults = eval_ok(
        &RUN_EXAMPLE
            .replace("    runtime = [],\n", "")
            .replace("    timeout = 3600,\n", ""),
    );
    assert_eq!(defaults.to_json(), plan.to_json());
}

#[test]
fn run_defaults() {
    let plan = eval_ok("run(name = 'x', cmd = ['true'])\n");
    let expected = Node::Run(Run {
        name: "x".into(),
        deps: vec![],
        srcs: BTreeMap::new(),
        cmd: vec!["true".into()],
        env: BTreeMap::new(),
        runtime: vec![],
        workdir: "/".into(),
        timeout: 3600,
    });
    assert_eq!(plan.nodes.values().collect::<Vec<_>>(), [&expected]);
    assert_eq!(cairn_eval::DEFAULT_RUN_TIMEOUT, 3600);
    assert_eq!(cairn_eval::MAX_RUN_TIMEOUT, 7 * 24 * 3600);
}

#[test]
fn run_values_feed_other_runs_and_images() {
    let text = r#"
deb = debian()
cc = deb.packages(["gcc", "libc6-dev"])
libc = deb.packages(["libc6"])
py = python_env(python = deb.packages(["python3"]), packages = ["flask"])
cfg = write_file("/etc/app.conf", "x")
lib = run(name = "lib", deps = [cc], srcs = {"/src": files("lib")}, cmd = ["make"], workdir = "/src")
app = run(
    name = "app",
    deps = [cc, lib, cc, py, symlink("/bin/cc", "gcc")],
    srcs = {"/lib//": lib, "/etc/app.conf": cfg, "/srcs/app": files("app", "/")},
    cmd = ["make", "LIB=/lib"],
    env = {"PATH": "/usr/bin:/bin", "HOME": "/root", "_x1": ""},
    runtime = [libc, lib, libc],
    workdir = "/srcs/app/./",
    timeout = 604800,
)
image(name = "app", contents = [libc, app, lib, app])
"#;
    let plan = eval_ok(text);
    let runs = plan.runs();
    let by_name = |name: &str| {
        runs.iter()
            .find(|(_, r)| r.name == name)
            .map(|(id, r)| ((*id).clone(), *r))
            .unwrap()
    };
    let (lib_id, lib) = by_name("lib");
    let (app_id, app) = by_name("app");
    assert_eq!(lib.workdir, "/src");

    let kinds =
        |ids: &[NodeId]| -> Vec<&str> { ids.iter().map(|id| plan.nodes[id].kind()).collect() };
    assert_eq!(
        kinds(&app.deps),
        ["debian", "run", "python_env", "symlink"],
        "each once, where it first appears"
    );
    assert_eq!(app.deps[0], lib.deps[0], "the same packages");
    assert_eq!(app.deps[1], lib_id);
    assert_eq!(kinds(&app.runtime), ["debian", "run"]);
    assert_eq!(app.runtime[1], lib_id);
    assert_eq!(
        app.srcs.keys().collect::<Vec<_>>(),
        ["/etc/app.conf", "/lib", "/srcs/app"],
        "normalised"
    );
    assert_eq!(app.srcs["/lib"], lib_id);
    assert_eq!(plan.nodes[&app.srcs["/etc/app.conf"]].kind(), "write_file");
    assert_eq!(plan.nodes[&app.srcs["/srcs/app"]].kind(), "files");
    assert_eq!(
        app.env,
        string_map(&[("HOME", "/root"), ("PATH", "/usr/bin:/bin"), ("_x1", "")])
    );
    assert_eq!((app.workdir.as_str(), app.timeout), ("/srcs/app", 604_800));

    let (_, image) = plan.image("app").unwrap();
    assert_eq!(kinds(&image.contents), ["debian", "run", "run"]);
    assert_eq!(image.contents[1..], [app_id, lib_id]);

    // The same step twice is one node, and its values are equal.
    let plan = eval_ok(
        "a = run(name = 'a', cmd = ['true'])\nb = run(name = 'a', cmd = ['true'])\n\
         if a != b:\n    fail('not equal')\n",
    );
    assert_eq!(plan.runs().len(), 1);
}

/// `run(name = 'r', cmd = ['true'], <args>)`, after a line (so spans don't start at
/// 0) and `deb = debian()`.
fn run_with(args: &str) -> String {
    format!("x = 1\ndeb = debian()\nrun(name = 'r', cmd = ['true'], {args})\n")
}

/// Each spec fails with an error containing the message, at the text given.
#[track_caller]
fn assert_errors(cases: &[(String, &str, &str)]) {
    for (text, message, at) in cases {
        let e = error(text);
        assert_error(&e, message, "cairn.star", at);
    }
}

#[test]
fn bad_run_names_and_commands() {
    let spec = |call: &str| format!("x = 1\n{call}\n");
    let long_name = "n".repeat(201);
    let long_call = format!("run(name = '{long_name}', cmd = ['true'])");
    let long_at = format!("'{long_name}'");
    assert_errors(&[
        (
            spec("run(name = '', cmd = ['true'])"),
            "a run's `name` must be 1 to 200",
            "''",
        ),
        (
            spec("run(name = '.hidden', cmd = ['true'])"),
            "not starting with `.`",
            "'.hidden'",
        ),
        (
            spec("run(name = 'a/b', cmd = ['true'])"),
            "letters, digits and `+-._?=`",
            "'a/b'",
        ),
        (
            spec("run(name = 'a b', cmd = ['true'])"),
            "got \"a b\"",
            "'a b'",
        ),
        (spec(&long_call), "1 to 200", &long_at),
        (
            spec("run(name = 'r', cmd = [])"),
            "`cmd` can't be empty",
            "[]",
        ),
        (
            spec("run(name = 'r', cmd = ['sh', 'a\\0'])"),
            "an argument in `cmd` can't contain a NUL byte",
            "'a\\0'",
        ),
    ]);
    // 200 is fine.
    eval_ok(&format!(
        "run(name = '{}', cmd = ['true'])\n",
        "n".repeat(200)
    ));

    // Wrong types are starlark's errors, at the call.
    for (args, param) in [
        ("cmd = 'true'", "cmd"),
        ("cmd = ['true'], srcs = ['/src']", "srcs"),
        ("cmd = ['true'], env = {'A': 1}", "env"),
        ("cmd = ['true'], timeout = '1h'", "timeout"),
        ("cmd = ['true'], deps = deb", "deps"),
    ] {
        let call = format!("run(name = 'r', {args})");
        let e = error(&format!("deb = debian()\n{call}\n"));
        assert_error(
            &e,
            &format!("Type of parameter `{param}` doesn't match"),
            "cairn.star",
            &call,
        );
    }
}

#[test]
fn bad_run_deps_and_runtime() {
    assert_errors(&[
        (
            run_with("deps = [deb]"),
            "`deps` takes what deb.packages()",
            "deb",
        ),
        (
            run_with("deps = [deb.packages(['a']), deb]"),
            "item 1 is a value of type `debian`; a `debian` archive is not content itself, \
             use its packages: `deb.packages([...])`",
            "deb",
        ),
        (
            run_with("deps = [accounts(users = [{'name': 'a', 'uid': 1}])]"),
            "item 0 is what accounts() returns; accounts belong in an image's `contents`",
            "accounts(users = [{'name': 'a', 'uid': 1}])",
        ),
        (
            run_with("deps = ['/usr']"),
            "item 0 is a value of type `string`",
            "'/usr'",
        ),
        (
            run_with("runtime = [None]"),
            "`runtime` takes what deb.packages()",
            "None",
        ),
        (run_with("runtime = [deb]"), "`runtime` takes", "deb"),
    ]);
}

#[test]
fn bad_run_srcs() {
    assert_errors(&[
        (
            run_with("srcs = {'src': files('a')}"),
            "a mount point in `srcs`: `src` must be an absolute path",
            "'src': files('a')",
        ),
        (
            run_with("srcs = {'/a/../b': files('a')}"),
            "can't contain `..`",
            "'/a/../b': files('a')",
        ),
        (
            run_with("srcs = {'/a\\0': files('a')}"),
            "NUL",
            "'/a\\0': files('a')",
        ),
        (
            run_with("srcs = {'/': files('a')}"),
            "can't be `/`",
            "'/': files('a')",
        ),
        (
            run_with("srcs = {'//./': files('a')}"),
            "can't be `/`",
            "'//./': files('a')",
        ),
        (
            run_with("srcs = {'/ok': files('b'), '/out': files('a')}"),
            "\"/out\" in `srcs` is at or under `/out`, where the step writes its output",
            "'/out': files('a')",
        ),
        (
            run_with("srcs = {'/out/x': files('a')}"),
            "under `/out`",
            "'/out/x': files('a')",
        ),
        (
            run_with("srcs = {'/tmp/': files('a')}"),
            "at or under `/tmp`, which the sandbox mounts itself",
            "'/tmp/': files('a')",
        ),
        (
            run_with("srcs = {'/proc/self': files('a')}"),
            "`/proc`",
            "'/proc/self': files('a')",
        ),
        (
            run_with("srcs = {'/dev': files('a')}"),
            "`/dev`",
            "'/dev': files('a')",
        ),
        (
            run_with("srcs = {'/homeless-shelter/.cache': files('a')}"),
            "`/homeless-shelter`",
            "'/homeless-shelter/.cache': files('a')",
        ),
        (
            run_with("srcs = {'/src': files('a'), '/src/': files('b')}"),
            "\"/src\" and \"/src/\" in `srcs` are the same mount point",
            "'/src/': files('b')",
        ),
        (
            // Not only neighbours once sorted: `/a-b` sorts between the other two.
            run_with("srcs = {'/a/b/c': files('a'), '/a-b': files('b'), '/a': files('c')}"),
            "the mount points \"/a/b/c\" and \"/a\" in `srcs` are nested",
            "'/a': files('c')",
        ),
        (
            run_with("srcs = {'/a': files('a'), '/a/b': files('b')}"),
            "\"/a\" and \"/a/b\" in `srcs` are nested",
            "'/a/b': files('b')",
        ),
        (
            run_with("srcs = {'/src': deb.packages(['a'])}"),
            "but \"/src\" is given what deb.packages() returns; packages and Python \
             environments go in `deps`",
            "'/src': deb.packages(['a'])",
        ),
        (
            run_with("srcs = {'/src': deb}"),
            "`srcs` mounts what files(), write_file(), symlink() and run() return",
            "'/src': deb",
        ),
        (
            run_with("srcs = {'/src': 'src'}"),
            "is given a value of type `string`",
            "'/src': 'src'",
        ),
        (
            run_with("srcs = {'/etc/passwd': accounts()}"),
            "is given what accounts() returns",
            "'/etc/passwd': accounts()",
        ),
    ]);
    // `/output`, `/tmpfs` and `/device` are not reserved.
    eval_ok(&run_with(
        "srcs = {'/output': files('a'), '/tmpfs': files('b'), '/device': files('c')}",
    ));

    // Not a dict literal: the error points at the argument.
    let e =
        error("x = 1\nm = {'/out': files('a')}\nrun(name = 'r', cmd = ['true'], srcs = m | {})\n");
    assert_error(&e, "under `/out`", "cairn.star", "m | {}");
}

#[test]
fn bad_run_env_workdir_and_timeout() {
    assert_errors(&[
        (
            run_with("env = {'A': 'x', 'A-B': 'x'}"),
            "an environment variable's name must be a letter or `_`, then letters, digits \
             or `_`; got \"A-B\"",
            "'A-B': 'x'",
        ),
        (run_with("env = {'1A': 'x'}"), "got \"1A\"", "'1A': 'x'"),
        (run_with("env = {'': 'x'}"), "got \"\"", "'': 'x'"),
        (run_with("env = {'A=B': 'x'}"), "got \"A=B\"", "'A=B': 'x'"),
        (
            run_with("env = {'A': 'x\\0'}"),
            "the value of \"A\" in `env` can't contain a NUL byte",
            "'A': 'x\\0'",
        ),
        (
            run_with("workdir = 'src'"),
            "`workdir`: `src` must be an absolute path",
            "'src'",
        ),
        (run_with("workdir = '/a/../b'"), "`workdir`", "'/a/../b'"),
        (run_with("workdir = '/a\\0'"), "NUL", "'/a\\0'"),
        (
            run_with("timeout = 0"),
            "`timeout` must be between 1 and 604800 seconds (7 days), got 0",
            "0",
        ),
        (run_with("timeout = -5"), "got -5", "-5"),
        (run_with("timeout = 604801"), "got 604801", "604801"),
        (
            run_with("timeout = 1 << 40"),
            "`timeout` must be between",
            "1 << 40",
        ),
    ]);
}

#[test]
fn files_dest_defaults_to_the_root() {
    let plan = eval_ok(
        "a = files('quotes')\nb = files('quotes', '/')\nif a != b:\n    fail('not equal')\n",
    );
    assert_eq!(
        plan.nodes.values().collect::<Vec<_>>(),
        [&Node::Files {
            src: "quotes".into(),
            dest: "/".into(),
            exclude: vec![],
            mode: None,
            owner: None,
        }]
    );
}

#[test]
fn python_env_wheels_are_not_what_the_lock_knows_it_by() {
    let base = r#"
deb = debian()
py = deb.packages(["python3"])
"#;
    let plain = eval_ok(&format!(
        "{base}env = python_env(python = py, packages = [\"flask\"])\n"
    ));
    let with_wheels = eval_ok(&format!(
        "{base}w = run(name = \"w\", deps = [py], cmd = [\"true\"])\n\
         env = python_env(python = py, packages = [\"flask\"], wheels = [w, w])\n\
         only = python_env(python = py, wheels = [w])\n"
    ));
    let envs = |plan: &Plan| -> Vec<cairn_plan::PythonEnv> {
        plan.nodes
            .values()
            .filter_map(|n| match n {
                Node::PythonEnv(env) => Some(env.clone()),
                _ => None,
            })
            .collect()
    };
    let [plain_env] = envs(&plain).try_into().unwrap();
    let with: Vec<_> = envs(&with_wheels);
    let env = with.iter().find(|e| !e.requirements.is_empty()).unwrap();
    assert_eq!(env.wheels.len(), 1, "each once");
    assert_eq!(with_wheels.nodes[&env.wheels[0]].kind(), "run");
    // The lock knows both by the same id, so adding wheels does not make it stale.
    assert_eq!(env.lock_id(), plain_env.lock_id());
    assert_eq!(
        plain_env.lock_id(),
        NodeId::of(&Node::PythonEnv(plain_env.clone()))
    );
    assert!(
        with.iter()
            .any(|e| e.requirements.is_empty() && e.wheels.len() == 1)
    );

    let error = eval(&format!(
        "{base}python_env(python = py, wheels = [write_file(\"/x.whl\", \"\")])\n"
    ))
    .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("`wheels` takes what run() and files() return"),
        "{error}"
    );
    let error = eval(&format!("{base}python_env(python = py)\n")).unwrap_err();
    assert!(error.to_string().contains("wheels = [run(...)]"), "{error}");
}
