use super::*;

/// Files by path; the origin of a file is its path.
fn parse_with(text: &str, files: &[(&str, &str)]) -> Result<RequirementsFile, RequirementsError> {
    let mut read = |path: &str| {
        files
            .iter()
            .find(|(name, _)| *name == path)
            .map(|(name, text)| ((*name).to_owned(), (*text).to_owned()))
            .ok_or_else(|| "no such file".to_owned())
    };
    parse_requirements_txt(text, "requirements.txt", &mut read)
}

fn parse(text: &str) -> Result<RequirementsFile, RequirementsError> {
    parse_with(text, &[])
}

fn names(requirements: &[SourcedRequirement]) -> Vec<String> {
    requirements
        .iter()
        .map(|sourced| sourced.requirement.to_string())
        .collect()
}

fn origins(requirements: &[SourcedRequirement]) -> Vec<&str> {
    requirements
        .iter()
        .map(|sourced| sourced.origin.as_str())
        .collect()
}

/// A SHA-256 digest in hex: `digit` 64 times.
fn digest(digit: char) -> String {
    std::iter::repeat_n(digit, 64).collect()
}

fn url(text: &str) -> Url {
    Url::parse(text).unwrap()
}

#[test]
fn requirements_with_extras_markers_and_origins() {
    let file = parse(
        "# Our requirements\n\
         \n\
         flask>=3.0,<4\n\
         requests[socks, security] ~= 2.31 ; python_version >= \"3.9\"\n\
         \x20  gunicorn   # the server\n\
         tomli; python_version < '3.11'\n\
         zope.interface==6.1\n",
    )
    .unwrap();
    assert_eq!(
        names(&file.requirements),
        [
            "flask>=3.0, <4",
            "requests[security,socks]~=2.31 ; python_full_version >= '3.9'",
            "gunicorn",
            "tomli ; python_full_version < '3.11'",
            "zope-interface==6.1",
        ]
    );
    assert_eq!(
        origins(&file.requirements),
        [
            "requirements.txt:3",
            "requirements.txt:4",
            "requirements.txt:5",
            "requirements.txt:6",
            "requirements.txt:7",
        ]
    );
    assert!(file.requirements.iter().all(|r| r.hashes.is_empty()));
    assert_eq!(
        file,
        RequirementsFile {
            requirements: file.requirements.clone(),
            ..RequirementsFile::default()
        }
    );
}

#[test]
fn index_options_are_recorded() {
    let file = parse(
        "--index-url https://pypi.example.com/simple/\n\
         --extra-index-url=https://extra.example.com/simple/\n\
         --extra-index-url 'https://extra.example.com/simple/'\n\
         --extra-index-url \"https://other.example.com/simple/#frag\"\n\
         -i https://pypi.example.com/simple/\n\
         --no-index --pre\n\
         --prefer-binary\n\
         --only-binary :all:\n\
         --only-binary=numpy,scipy\n\
         --no-binary :none:\n\
         flask\n",
    )
    .unwrap();
    assert_eq!(
        file.index_url,
        Some(url("https://pypi.example.com/simple/"))
    );
    assert_eq!(
        file.extra_index_urls,
        [
            url("https://extra.example.com/simple/"),
            url("https://other.example.com/simple/#frag"),
        ]
    );
    assert!(file.no_index);
    assert!(file.allow_prereleases);
    assert!(!file.require_hashes);
    assert_eq!(names(&file.requirements), ["flask"]);

    // Short options take their value attached too.
    let file = parse("-ihttp://127.0.0.1:8080/simple\n").unwrap();
    assert_eq!(file.index_url, Some(url("http://127.0.0.1:8080/simple")));

    let file = parse("flask\n").unwrap();
    assert_eq!(file.index_url, None);
    assert!(!file.no_index && !file.allow_prereleases);
}

#[test]
fn comments_need_whitespace_before_them() {
    let file = parse(
        "#comment\n\
         \t# indented comment\n\
         flask==3.0.0 # pinned\n\
         --extra-index-url https://example.com/simple#egg # a fragment, then a comment\n",
    )
    .unwrap();
    assert_eq!(names(&file.requirements), ["flask==3.0.0"]);
    assert_eq!(
        file.extra_index_urls,
        [url("https://example.com/simple#egg")]
    );

    // Without whitespace, `#` belongs to the requirement (and makes it invalid).
    let err = parse("flask==3.0#pinned\n").unwrap_err();
    assert!(
        matches!(&err, RequirementsError::Requirement { origin, .. } if origin == "requirements.txt:1"),
        "{err:?}"
    );
}

#[test]
fn continuation_lines_join_and_keep_the_first_line_number() {
    let text = "# header\n\
                flask\\\n\
                ==3.0.0 \\\n\
                \x20   ; python_version >= '3.8'\n\
                \x20   # via -r requirements.in\n\
                \\\n\
                click\n\
                markupsafe \\\n\
                # a comment line ends a continuation, as in pip\n\
                jinja2==3.1.4 \\\n";
    let file = parse(text).unwrap();
    assert_eq!(
        names(&file.requirements),
        [
            "flask==3.0.0 ; python_full_version >= '3.8'",
            "click",
            "markupsafe",
            "jinja2==3.1.4",
        ]
    );
    assert_eq!(
        origins(&file.requirements),
        [
            "requirements.txt:2",
            "requirements.txt:6",
            "requirements.txt:8",
            "requirements.txt:10",
        ]
    );

    // Hashes on continuation lines belong to the requirement, lowercase and sorted.
    let hash_a = digest('a');
    let hash_b = digest('B');
    let text = format!(
        "flask==3.0.0 \\\n\
         \x20   --hash=sha256:{hash_b} \\\n\
         \x20   # comment lines between continuation lines end them, as in pip\n\
         \x20   --hash sha256:{hash_a}\n"
    );
    assert!(matches!(
        parse(&text),
        Err(RequirementsError::HashWithoutRequirement { .. })
    ));
    let text = format!(
        "flask==3.0.0 \\\n\
         \x20   --hash=sha256:{hash_b} \\\n\
         \x20   --hash sha256:{hash_a}\n\
         \x20   # via -r requirements.in\n"
    );
    let file = parse(&text).unwrap();
    assert_eq!(file.requirements[0].hashes, [hash_a, hash_b.to_lowercase()]);
}

#[test]
fn a_backslash_after_a_comment_is_refused() {
    let err = parse("flask\nrequests  # http \\\nclick\n").unwrap_err();
    assert_eq!(
        err,
        RequirementsError::CommentContinuation {
            origin: "requirements.txt:2".to_owned()
        }
    );
    assert!(err.hint().unwrap().contains("line of its own"));
    // On a comment line, a `\` is part of the comment.
    let file = parse("# see C:\\\nflask\n").unwrap();
    assert_eq!(origins(&file.requirements), ["requirements.txt:2"]);
}

#[test]
fn crlf_cr_and_a_byte_order_mark() {
    let file = parse(
        "\u{feff}flask==3.0.0\r\n# comment\r\nrequests \\\r\n  >=2\r\n\r\nclick\rgunicorn\r\n",
    )
    .unwrap();
    assert_eq!(
        names(&file.requirements),
        ["flask==3.0.0", "requests>=2", "click", "gunicorn"]
    );
    assert_eq!(
        origins(&file.requirements),
        [
            "requirements.txt:1",
            "requirements.txt:3",
            "requirements.txt:6",
            "requirements.txt:7",
        ]
    );
    // A byte order mark is only skipped at the very start.
    let file = parse("\u{feff}-r base.txt\n");
    assert!(matches!(file, Err(RequirementsError::Include { .. })));
}

#[test]
fn includes_are_relative_to_the_including_file() {
    let mut asked = Vec::new();
    let files = [
        ("reqs/base.txt", "flask\n-r ../common/log.txt\n"),
        ("reqs/../common/log.txt", "structlog\n"),
        ("reqs/test.txt", "-r ./base.txt\npytest\n"),
        ("/etc/cairn/pinned.txt", "urllib3<3\n"),
    ];
    let mut read = |path: &str| {
        asked.push(path.to_owned());
        files
            .iter()
            .find(|(name, _)| *name == path)
            .map(|(name, text)| ((*name).to_owned(), (*text).to_owned()))
            .ok_or_else(|| "no such file".to_owned())
    };
    let file = parse_requirements_txt(
        "-r base.txt\n--requirement=test.txt\n-c /etc/cairn/pinned.txt\ngunicorn\n",
        "reqs/prod.txt",
        &mut read,
    )
    .unwrap();
    assert_eq!(
        asked,
        [
            "reqs/base.txt",
            "reqs/../common/log.txt",
            "reqs/test.txt",
            "reqs/base.txt",
            "reqs/../common/log.txt",
            "/etc/cairn/pinned.txt",
        ]
    );
    // A file included twice (not in a cycle) is read twice, as pip does.
    assert_eq!(
        names(&file.requirements),
        [
            "flask",
            "structlog",
            "flask",
            "structlog",
            "pytest",
            "gunicorn"
        ]
    );
    assert_eq!(
        origins(&file.requirements),
        [
            "reqs/base.txt:1",
            "reqs/../common/log.txt:1",
            "reqs/base.txt:1",
            "reqs/../common/log.txt:1",
            "reqs/test.txt:2",
            "reqs/prod.txt:4",
        ]
    );
    assert_eq!(names(&file.constraints), ["urllib3<3"]);
    assert_eq!(origins(&file.constraints), ["/etc/cairn/pinned.txt:1"]);
}

#[test]
fn constraints_and_everything_they_include_are_constraints() {
    let file = parse_with(
        "-c constraints.txt\nflask\n",
        &[
            (
                "constraints.txt",
                "werkzeug<4\n-r more-constraints.txt\n--extra-index-url https://e.example/simple\n",
            ),
            ("more-constraints.txt", "-c last.txt\njinja2==3.1.4\n"),
            ("last.txt", "click!=8.1.0\n"),
        ],
    )
    .unwrap();
    assert_eq!(names(&file.requirements), ["flask"]);
    assert_eq!(
        names(&file.constraints),
        ["werkzeug<4", "click!=8.1.0", "jinja2==3.1.4"]
    );
    assert_eq!(
        origins(&file.constraints),
        ["constraints.txt:1", "last.txt:1", "more-constraints.txt:2"]
    );
    // Options in a constraints file apply, as in pip.
    assert_eq!(file.extra_index_urls, [url("https://e.example/simple")]);

    let err = parse_with("-c c.txt\n", &[("c.txt", "\nrequests[socks]<3\n")]).unwrap_err();
    assert_eq!(
        err,
        RequirementsError::ConstraintExtras {
            origin: "c.txt:2".to_owned(),
            requirement: "requests[socks]<3".to_owned(),
        }
    );
    assert!(err.hint().is_some());
}

#[test]
fn include_cycles_are_found() {
    let err = parse_with("-r requirements.txt\n", &[("requirements.txt", "flask\n")]).unwrap_err();
    assert_eq!(
        err,
        RequirementsError::IncludeCycle {
            origin: "requirements.txt:1".to_owned(),
            cycle: vec!["requirements.txt".to_owned(), "requirements.txt".to_owned()],
        }
    );
    assert_eq!(
        err.to_string(),
        "requirements.txt:1: including `requirements.txt` makes a cycle: requirements.txt \
         -> requirements.txt"
    );

    let err = parse_with(
        "flask\n-r a.txt\n",
        &[
            ("a.txt", "requests\n-c b.txt\n"),
            ("b.txt", "\n\n-r a.txt\n"),
        ],
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "b.txt:3: including `a.txt` makes a cycle: a.txt -> b.txt -> a.txt"
    );
    assert!(err.hint().unwrap().contains("cycle"));

    // The callback's origin identifies a file, however the path was spelled.
    let mut read = |path: &str| match path {
        "/src/x/../requirements.txt" => {
            Ok(("/src/requirements.txt".to_owned(), "flask\n".to_owned()))
        }
        _ => Err("no such file".to_owned()),
    };
    let err = parse_requirements_txt(
        "-r ./x/../requirements.txt\n",
        "/src/requirements.txt",
        &mut read,
    )
    .unwrap_err();
    assert!(
        matches!(err, RequirementsError::IncludeCycle { .. }),
        "{err:?}"
    );
}

#[test]
fn unreadable_and_remote_includes() {
    let err = parse("\n-r missing.txt\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "requirements.txt:2: cannot read `missing.txt`: no such file"
    );
    for line in [
        "-r https://example.com/requirements.txt",
        "-c file:///srv/constraints.txt",
    ] {
        let err = parse(line).unwrap_err();
        assert!(
            matches!(err, RequirementsError::IncludeUrl { .. }),
            "{line}: {err:?}"
        );
        assert!(err.hint().unwrap().contains("by path"));
    }
}

#[test]
fn hashes_are_recorded_and_validated() {
    let upper = digest('C');
    let file = parse(&format!(
        "flask==3.0.0 --hash=sha256:{upper} --hash=sha256:{}\n\
         click===8.1.7 --hash=sha256:{}\n",
        digest('c'),
        digest('1')
    ))
    .unwrap();
    assert!(file.require_hashes);
    assert_eq!(file.requirements[0].hashes, [digest('c')]);
    assert_eq!(file.requirements[1].hashes, [digest('1')]);

    for (hash, expected) in [
        (
            "sha512:abcd".to_owned(),
            RequirementsError::HashAlgorithm {
                origin: "requirements.txt:1".to_owned(),
                algorithm: "sha512".to_owned(),
            },
        ),
        (
            "md5:abcd".to_owned(),
            RequirementsError::HashAlgorithm {
                origin: "requirements.txt:1".to_owned(),
                algorithm: "md5".to_owned(),
            },
        ),
        (
            digest('a'),
            RequirementsError::HashFormat {
                origin: "requirements.txt:1".to_owned(),
                value: digest('a'),
            },
        ),
    ] {
        let err = parse(&format!("flask==3.0.0 --hash={hash}\n")).unwrap_err();
        assert_eq!(err, expected);
        assert!(err.hint().unwrap().contains("sha256:"));
    }
    for hash in ["sha256:abc", &format!("sha256:{}", digest('g'))] {
        let err = parse(&format!("flask==3.0.0 --hash={hash}\n")).unwrap_err();
        assert!(
            matches!(err, RequirementsError::InvalidHash { .. }),
            "{err:?}"
        );
        assert_eq!(err.to_string(), "requirements.txt:1: invalid `--hash`");
    }
    let err = parse("flask==3.0.0 --hash\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "requirements.txt:1: `--hash` needs a value"
    );
}

#[test]
fn hash_checking_mode_needs_every_requirement_hashed_and_pinned() {
    let a = digest('a');
    let err = parse_with(
        &format!("flask==3.0.0 \\\n  --hash=sha256:{a}\nclick\n-r more.txt\n"),
        &[("more.txt", "jinja2>=3\n")],
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "hash-checking mode is on (the requirement on `flask` at requirements.txt:1 has a \
         `--hash`), but requirements are without `--hash`: `click` (requirements.txt:3), \
         `jinja2` (more.txt:1)"
    );
    assert!(err.hint().unwrap().contains("--generate-hashes"));

    let err = parse("--require-hashes\nflask==3.0.0\n").unwrap_err();
    assert_eq!(
        err,
        RequirementsError::HashesMissing {
            trigger: HashModeTrigger::Option {
                origin: "requirements.txt:1".to_owned()
            },
            missing: vec![(
                PackageName::from_str("flask").unwrap(),
                "requirements.txt:2".to_owned()
            )],
        }
    );
    assert_eq!(
        err.to_string(),
        "hash-checking mode is on (`--require-hashes` at requirements.txt:1), but a \
         requirement is without `--hash`: `flask` (requirements.txt:2)"
    );
    let file = parse("--require-hashes\n").unwrap();
    assert!(file.require_hashes);

    // Constraints need no hashes, but hashed ones must be pinned too.
    let file = parse_with(
        &format!("-c c.txt\nflask==3.0.0 --hash=sha256:{a}\n"),
        &[("c.txt", "click<9\n")],
    )
    .unwrap();
    assert!(file.require_hashes);

    for requirement in [
        "flask",
        "flask>=3.0",
        "flask==3.0.*",
        "flask==3.0.0,!=3.0.1",
        "flask~=3.0.0",
    ] {
        let err = parse(&format!("{requirement} --hash=sha256:{a}\n")).unwrap_err();
        assert_eq!(
            err,
            RequirementsError::HashNotPinned {
                origin: "requirements.txt:1".to_owned(),
                requirement: requirement.to_owned(),
            }
        );
        assert!(err.hint().unwrap().contains("name==1.2.3"));
    }
}

#[test]
fn a_hash_cut_off_from_its_requirement_is_refused() {
    // The first line lacks its `\`: pip would ignore the hash.
    let err = parse(&format!(
        "flask==3.0.0\n    --hash=sha256:{}\n",
        digest('a')
    ))
    .unwrap_err();
    assert_eq!(
        err,
        RequirementsError::HashWithoutRequirement {
            origin: "requirements.txt:2".to_owned()
        }
    );
    assert!(err.hint().unwrap().contains('\\'));
}

#[test]
fn editables_paths_and_urls_are_refused() {
    for (line, expected) in [
        (
            "-e .",
            RequirementsError::Editable {
                origin: "requirements.txt:1".to_owned(),
                target: ".".to_owned(),
            },
        ),
        (
            "--editable=git+https://github.com/pallets/flask#egg=flask",
            RequirementsError::Editable {
                origin: "requirements.txt:1".to_owned(),
                target: "git+https://github.com/pallets/flask#egg=flask".to_owned(),
            },
        ),
        (
            "./vendor/pkg",
            RequirementsError::LocalPath {
                origin: "requirements.txt:1".to_owned(),
                path: "./vendor/pkg".to_owned(),
            },
        ),
        (
            "..",
            RequirementsError::LocalPath {
                origin: "requirements.txt:1".to_owned(),
                path: "..".to_owned(),
            },
        ),
        (
            "/srv/wheels/flask-3.0.0-py3-none-any.whl",
            RequirementsError::LocalPath {
                origin: "requirements.txt:1".to_owned(),
                path: "/srv/wheels/flask-3.0.0-py3-none-any.whl".to_owned(),
            },
        ),
        (
            "flask-3.0.0-py3-none-any.whl",
            RequirementsError::LocalPath {
                origin: "requirements.txt:1".to_owned(),
                path: "flask-3.0.0-py3-none-any.whl".to_owned(),
            },
        ),
        (
            "vendor/pkg[extra] ; python_version > '3'",
            RequirementsError::LocalPath {
                origin: "requirements.txt:1".to_owned(),
                path: "vendor/pkg[extra] ; python_version > '3'".to_owned(),
            },
        ),
        (
            "https://example.com/flask-3.0.0-py3-none-any.whl",
            RequirementsError::Url {
                origin: "requirements.txt:1".to_owned(),
                url: "https://example.com/flask-3.0.0-py3-none-any.whl".to_owned(),
            },
        ),
        (
            "git+https://github.com/pallets/flask@3.0.0#egg=flask",
            RequirementsError::Url {
                origin: "requirements.txt:1".to_owned(),
                url: "git+https://github.com/pallets/flask@3.0.0#egg=flask".to_owned(),
            },
        ),
        (
            "file:vendor/pkg",
            RequirementsError::Url {
                origin: "requirements.txt:1".to_owned(),
                url: "file:vendor/pkg".to_owned(),
            },
        ),
    ] {
        let err = parse(line).unwrap_err();
        assert_eq!(err, expected, "{line}");
        assert!(err.to_string().starts_with("requirements.txt:1: "), "{err}");
        assert!(err.hint().unwrap().contains("name==1.2.3"), "{line}");
    }

    // A PEP 508 direct URL is the requirement parser's refusal, with its hint.
    let err = parse("\nflask @ https://example.com/flask-3.0.0-py3-none-any.whl\n").unwrap_err();
    let RequirementsError::Requirement { origin, source } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(origin, "requirements.txt:2");
    assert!(matches!(source, RequirementError::DirectUrl { .. }));
    assert_eq!(err.hint(), source.hint());
    assert_eq!(err.to_string(), "requirements.txt:2: invalid requirement");
}

/// `line` is refused with `expected`, a message naming the line, and a hint
/// unless the message says it all.
fn check_refusal(line: &str, expected: &RequirementsError) {
    let err = parse(line).unwrap_err();
    assert_eq!(&err, expected, "{line}");
    assert!(err.to_string().starts_with("requirements.txt:1: "), "{err}");
    if !matches!(
        err,
        RequirementsError::MissingValue { .. }
            | RequirementsError::UnexpectedValue { .. }
            | RequirementsError::Quoting { .. }
    ) {
        assert!(err.hint().is_some(), "{line}");
    }
}

#[test]
fn options_cairn_does_not_support_are_refused() {
    let origin = || "requirements.txt:1".to_owned();
    for (line, expected) in [
        (
            "-f https://example.com/wheels/",
            RequirementsError::FindLinks {
                origin: origin(),
                location: "https://example.com/wheels/".to_owned(),
            },
        ),
        (
            "--find-links=./wheels",
            RequirementsError::FindLinks {
                origin: origin(),
                location: "./wheels".to_owned(),
            },
        ),
        (
            "--no-binary :all:",
            RequirementsError::NoBinary {
                origin: origin(),
                packages: ":all:".to_owned(),
            },
        ),
        (
            "--no-binary=psycopg2",
            RequirementsError::NoBinary {
                origin: origin(),
                packages: "psycopg2".to_owned(),
            },
        ),
        (
            "--trusted-host pypi.example.com",
            RequirementsError::TrustedHost {
                origin: origin(),
                host: "pypi.example.com".to_owned(),
            },
        ),
        (
            "--use-feature=truststore",
            RequirementsError::PipOption {
                origin: origin(),
                option: "--use-feature".to_owned(),
            },
        ),
        (
            "--global-option=--no-user-cfg",
            RequirementsError::SourceBuildOption {
                origin: origin(),
                option: "--global-option".to_owned(),
            },
        ),
        (
            "psycopg2 -C build-ext=x",
            RequirementsError::SourceBuildOption {
                origin: origin(),
                option: "-C".to_owned(),
            },
        ),
        (
            "--frobnicate",
            RequirementsError::UnknownOption {
                origin: origin(),
                option: "--frobnicate".to_owned(),
            },
        ),
        (
            // optparse would take an abbreviation; cairn wants the full name.
            "--extra https://example.com/simple",
            RequirementsError::UnknownOption {
                origin: origin(),
                option: "--extra".to_owned(),
            },
        ),
        (
            "-x",
            RequirementsError::UnknownOption {
                origin: origin(),
                option: "-x".to_owned(),
            },
        ),
    ] {
        check_refusal(line, &expected);
    }
    let err = parse("--frobnicate").unwrap_err();
    assert!(err.hint().unwrap().contains("`--extra-index-url`"));
    assert_eq!(
        parse("-r ${X}").unwrap_err().to_string(),
        "requirements.txt:1: `${X}` refers to an environment variable; cairn reads \
         requirements hermetically and does not expand them"
    );
}

#[test]
fn malformed_lines_and_environment_variables_are_refused() {
    let origin = || "requirements.txt:1".to_owned();
    for (line, expected) in [
        (
            "flask --pre",
            RequirementsError::OptionAfterRequirement {
                origin: origin(),
                option: "--pre".to_owned(),
            },
        ),
        (
            "flask -r other.txt",
            RequirementsError::OptionAfterRequirement {
                origin: origin(),
                option: "-r".to_owned(),
            },
        ),
        (
            "--pre flask",
            RequirementsError::StrayArgument {
                origin: origin(),
                argument: "flask".to_owned(),
            },
        ),
        (
            "--index-url",
            RequirementsError::MissingValue {
                origin: origin(),
                option: "--index-url".to_owned(),
            },
        ),
        (
            "--no-index=yes",
            RequirementsError::UnexpectedValue {
                origin: origin(),
                option: "--no-index".to_owned(),
                value: "yes".to_owned(),
            },
        ),
        (
            "-r 'requirements dev.txt",
            RequirementsError::Quoting { origin: origin() },
        ),
        (
            "--index-url https://${PYPI_TOKEN}@pypi.example.com/simple",
            RequirementsError::EnvironmentVariable {
                origin: origin(),
                variable: "PYPI_TOKEN".to_owned(),
            },
        ),
        (
            "flask==${FLASK_VERSION}",
            RequirementsError::EnvironmentVariable {
                origin: origin(),
                variable: "FLASK_VERSION".to_owned(),
            },
        ),
    ] {
        check_refusal(line, &expected);
    }
}

#[test]
fn quoted_include_paths() {
    let file = parse_with(
        "-r 'dev requirements.txt'\n-r \"a\\\"b.txt\"\n-r c\\ d.txt\n",
        &[
            ("dev requirements.txt", "flask\n"),
            ("a\"b.txt", "click\n"),
            ("c d.txt", "jinja2\n"),
        ],
    )
    .unwrap();
    assert_eq!(names(&file.requirements), ["flask", "click", "jinja2"]);
}

#[test]
fn index_urls_are_checked() {
    let err = parse("--index-url pypi.example.com/simple").unwrap_err();
    assert!(
        matches!(&err, RequirementsError::InvalidIndexUrl { url, .. } if url == "pypi.example.com/simple"),
        "{err:?}"
    );
    assert!(std::error::Error::source(&err).is_some());

    let err = parse("\n--extra-index-url file:///srv/simple").unwrap_err();
    assert_eq!(
        err,
        RequirementsError::IndexUrlScheme {
            origin: "requirements.txt:2".to_owned(),
            url: "file:///srv/simple".to_owned(),
        }
    );

    let err = parse_with(
        "-i https://a.example/simple\n-r b.txt\n",
        &[("b.txt", "flask\n--index-url https://b.example/simple\n")],
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "b.txt:2: the index URL `https://b.example/simple` conflicts with \
         `https://a.example/simple` given at requirements.txt:1"
    );
    assert!(err.hint().unwrap().contains("--extra-index-url"));
}

#[test]
fn invalid_requirements_name_the_line() {
    let err = parse("flask\n\n# comment\nrequests >=\n").unwrap_err();
    let RequirementsError::Requirement { origin, source } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(origin, "requirements.txt:4");
    assert!(matches!(
        source,
        RequirementError::Syntax { input, .. } if input == "requests >="
    ));
    assert!(err.hint().is_none());
}

#[test]
fn a_flask_application() {
    let file = parse_with(
        "# Production requirements for the web app.\n\
         -r requirements/base.txt\n\
         gunicorn==22.0.0\n\
         sentry-sdk[flask]>=2.0,<3\n\
         uvloop>=0.19 ; sys_platform != 'win32' and platform_python_implementation == 'CPython'\n",
        &[(
            "requirements/base.txt",
            "--index-url https://pypi.org/simple\n\
             Flask>=3.0,<3.1\n\
             Flask-SQLAlchemy==3.1.1\n\
             Flask_WTF~=1.2\n\
             psycopg[binary]==3.1.19\n\
             python-dotenv==1.0.1   # configuration\n\
             importlib-metadata ; python_version < \"3.10\"\n",
        )],
    )
    .unwrap();
    assert_eq!(
        names(&file.requirements),
        [
            "flask>=3.0, <3.1",
            "flask-sqlalchemy==3.1.1",
            "flask-wtf~=1.2",
            "psycopg[binary]==3.1.19",
            "python-dotenv==1.0.1",
            "importlib-metadata ; python_full_version < '3.10'",
            "gunicorn==22.0.0",
            "sentry-sdk[flask]>=2.0, <3",
            "uvloop>=0.19 ; platform_python_implementation == 'CPython' and sys_platform != 'win32'",
        ]
    );
    assert_eq!(file.requirements[6].origin, "requirements.txt:3");
    assert_eq!(file.requirements[0].origin, "requirements/base.txt:2");
    assert_eq!(file.index_url, Some(url("https://pypi.org/simple")));
}

#[test]
fn a_django_application_compiled_with_hashes() {
    // As `pip-compile --generate-hashes` writes it.
    let text = format!(
        "#\n\
         # This file is autogenerated by pip-compile with Python 3.12\n\
         # by the following command:\n\
         #\n\
         #    pip-compile --generate-hashes requirements.in\n\
         #\n\
         --index-url https://pypi.org/simple\n\
         \n\
         asgiref==3.8.1 \\\n\
         \x20   --hash=sha256:{a} \\\n\
         \x20   --hash=sha256:{b}\n\
         \x20   # via django\n\
         django==5.0.6 \\\n\
         \x20   --hash=sha256:{c} \\\n\
         \x20   --hash=sha256:{d}\n\
         \x20   # via -r requirements.in\n\
         sqlparse==0.5.0 \\\n\
         \x20   --hash=sha256:{e}\n\
         \x20   # via django\n\
         tzdata==2024.1 ; sys_platform == \"win32\" \\\n\
         \x20   --hash=sha256:{f}\n\
         \x20   # via django\n",
        a = digest('a'),
        b = digest('b'),
        c = digest('c'),
        d = digest('d'),
        e = digest('e'),
        f = digest('f'),
    );
    let file = parse(&text).unwrap();
    assert!(file.require_hashes);
    assert_eq!(
        names(&file.requirements),
        [
            "asgiref==3.8.1",
            "django==5.0.6",
            "sqlparse==0.5.0",
            "tzdata==2024.1 ; sys_platform == 'win32'",
        ]
    );
    assert_eq!(
        origins(&file.requirements),
        [
            "requirements.txt:9",
            "requirements.txt:13",
            "requirements.txt:17",
            "requirements.txt:20",
        ]
    );
    assert_eq!(file.requirements[0].hashes, [digest('a'), digest('b')]);
    assert_eq!(file.requirements[3].hashes, [digest('f')]);
}

fn extra(name: &str) -> ExtraName {
    ExtraName::from_str(name).unwrap()
}

const PYPROJECT: &str = r#"
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "webapp"
version = "1.0"
requires-python = ">=3.11"
dependencies = [
"flask>=3.0",
"SQLAlchemy[asyncio]~=2.0",
"tomli; python_version < '3.11'",
]

[project.optional-dependencies]
Postgres = ["psycopg[binary]>=3.1"]
test = ["pytest>=8", "pytest-cov"]
"#;

#[test]
fn pyproject_dependencies_and_extras() {
    let requirements = parse_pyproject(PYPROJECT, "pyproject.toml", &[]).unwrap();
    assert_eq!(
        names(&requirements),
        [
            "flask>=3.0",
            "sqlalchemy[asyncio]~=2.0",
            "tomli ; python_full_version < '3.11'",
        ]
    );
    assert_eq!(
        origins(&requirements),
        [
            "pyproject.toml: project.dependencies[0]",
            "pyproject.toml: project.dependencies[1]",
            "pyproject.toml: project.dependencies[2]",
        ]
    );

    // Extras compare normalized, and come in the order asked.
    let requirements = parse_pyproject(
        PYPROJECT,
        "pyproject.toml",
        &[extra("test"), extra("postgres"), extra("TEST")],
    )
    .unwrap();
    assert_eq!(
        names(&requirements)[3..],
        ["pytest>=8", "pytest-cov", "psycopg[binary]>=3.1"]
    );
    assert_eq!(
        origins(&requirements)[3..],
        [
            "pyproject.toml: project.optional-dependencies.test[0]",
            "pyproject.toml: project.optional-dependencies.test[1]",
            "pyproject.toml: project.optional-dependencies.Postgres[0]",
        ]
    );
    assert!(requirements.iter().all(|r| r.hashes.is_empty()));

    let err = parse_pyproject(PYPROJECT, "pyproject.toml", &[extra("docs")]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "pyproject.toml: `project.optional-dependencies` has no extra `docs`; it has \
         `Postgres`, `test`"
    );
    let err = parse_pyproject(
        "[project]\nname = \"x\"\n",
        "pyproject.toml",
        &[extra("docs")],
    )
    .unwrap_err();
    assert!(err.to_string().ends_with("; it has none"), "{err}");

    // No dependencies at all is an empty list.
    assert!(
        parse_pyproject("[project]\nname = \"x\"\n", "pyproject.toml", &[])
            .unwrap()
            .is_empty()
    );
}

#[test]
fn pyproject_refusals() {
    let err = parse_pyproject(
        "[project]\nname = \"x\"\ndynamic = [\"version\", \"dependencies\"]\n",
        "app/pyproject.toml",
        &[],
    )
    .unwrap_err();
    assert_eq!(
        err,
        RequirementsError::DynamicDependencies {
            origin: "app/pyproject.toml".to_owned(),
            field: "dependencies",
        }
    );
    assert!(err.hint().is_some());

    let dynamic_extras = "[project]\nname = \"x\"\ndependencies = [\"flask\"]\n\
                          dynamic = [\"optional-dependencies\"]\n";
    assert_eq!(
        names(&parse_pyproject(dynamic_extras, "pyproject.toml", &[]).unwrap()),
        ["flask"]
    );
    let err = parse_pyproject(dynamic_extras, "pyproject.toml", &[extra("a")]).unwrap_err();
    assert!(matches!(
        err,
        RequirementsError::DynamicDependencies {
            field: "optional-dependencies",
            ..
        }
    ));

    let err = parse_pyproject("[tool.poetry]\nname = \"x\"\n", "pyproject.toml", &[]).unwrap_err();
    assert_eq!(err.to_string(), "pyproject.toml has no `[project]` table");
    assert!(err.hint().unwrap().contains("PEP 621"));

    for text in ["[project\n", "[project]\ndependencies = \"flask\"\n"] {
        let err = parse_pyproject(text, "pyproject.toml", &[]).unwrap_err();
        assert!(matches!(err, RequirementsError::Toml { .. }), "{err:?}");
        assert_eq!(err.to_string(), "pyproject.toml is not valid TOML");
    }

    let err = parse_pyproject(
        "[project]\ndependencies = [\"flask\", \"requests >=\"]\n",
        "pyproject.toml",
        &[],
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "pyproject.toml: project.dependencies[1]: invalid requirement"
    );

    let err = parse_pyproject(
        "[project]\ndependencies = [\"pip @ https://example.com/pip.whl\"]\n",
        "pyproject.toml",
        &[],
    )
    .unwrap_err();
    assert!(err.hint().unwrap().contains("`pip==1.2.3`"));

    let err = parse_pyproject(
        "[project.optional-dependencies]\n\"-bad\" = []\n",
        "pyproject.toml",
        &[],
    )
    .unwrap_err();
    assert!(
        matches!(&err, RequirementsError::InvalidExtraName { extra, .. } if extra == "-bad"),
        "{err:?}"
    );
}
