use super::*;
use crate::target::Target;

const SHA_A: &str = "0a6d8d6ad3a4c1a4dc8a84fd1acbf1a0e49d0b1e7f35b0c1a7c2ed6a1d4a5b61";
const SHA_B: &str = "b4d3e8e1ba6bbd2d9f9ae2d2cbb4f04d4a3e4f2f6c9b9e2b0f8e5a3c1d2e4f60";

fn page_url() -> Url {
    Url::parse("https://pypi.example/simple/flask/").unwrap()
}

fn json(files: &str) -> Vec<u8> {
    format!(r#"{{"meta": {{"api-version": "1.1"}}, "name": "Flask", "files": [{files}]}}"#)
        .into_bytes()
}

fn only_file(page: &ProjectPage) -> &DistFile {
    assert_eq!(page.files.len(), 1, "{page:?}");
    &page.files[0]
}

fn digest(hex: &str) -> Sha256Digest {
    Sha256Digest::from_hex(hex).unwrap()
}

fn target() -> Target {
    Target::from_debian("3.13.5-1", "2.41-12", "amd64").unwrap()
}

#[test]
fn json_page_as_pypi_serves_it() {
    let body = format!(
        r#"{{
  "files": [
    {{"core-metadata": {{"sha256": "{SHA_B}"}}, "data-dist-info-metadata": {{"sha256": "{SHA_B}"}},
      "filename": "flask-3.1.0-py3-none-any.whl", "hashes": {{"sha256": "{SHA_A}"}},
      "requires-python": ">=3.9", "size": 102979, "upload-time": "2024-11-13T18:24:36.135556Z",
      "url": "https://files.example/packages/af/47/flask-3.1.0-py3-none-any.whl", "yanked": false}},
    {{"core-metadata": false, "filename": "flask-3.1.0.tar.gz", "hashes": {{"sha256": "{SHA_B}"}},
      "requires-python": ">=3.9", "url": "https://files.example/packages/flask-3.1.0.tar.gz",
      "yanked": false}}
  ],
  "meta": {{"_last-serial": 26040283, "api-version": "1.3"}},
  "name": "flask",
  "versions": ["3.1.0"]
}}"#
    );
    let page = parse_project_page(body.as_bytes(), Some(JSON_V1), &page_url()).unwrap();
    assert_eq!(page.name.as_ref().unwrap().as_ref(), "flask");
    assert_eq!(page.url, page_url());
    // Sorted by name: `-` sorts before `.`.
    let [wheel, sdist] = &page.files[..] else {
        panic!("{page:?}");
    };
    assert_eq!(wheel.filename, "flask-3.1.0-py3-none-any.whl");
    assert_eq!(
        wheel.url.as_str(),
        "https://files.example/packages/af/47/flask-3.1.0-py3-none-any.whl"
    );
    assert_eq!(wheel.sha256, Some(digest(SHA_A)));
    assert_eq!(
        wheel.requires_python,
        Some(RequiresPython::Specifiers(">=3.9".parse().unwrap()))
    );
    assert_eq!(wheel.yanked, Yanked::No);
    assert!(!wheel.is_yanked());
    assert_eq!(
        wheel.core_metadata,
        CoreMetadataFile::Present {
            sha256: Some(digest(SHA_B))
        }
    );
    assert_eq!(
        wheel.metadata_url().unwrap().as_str(),
        "https://files.example/packages/af/47/flask-3.1.0-py3-none-any.whl.metadata"
    );
    assert!(matches!(wheel.kind(), FileKind::Wheel(w) if w.name().as_ref() == "flask"));
    assert_eq!(sdist.filename, "flask-3.1.0.tar.gz");
    assert_eq!(sdist.core_metadata, CoreMetadataFile::Absent);
    assert_eq!(sdist.metadata_url(), None);
    assert_eq!(sdist.kind(), FileKind::SourceDist);
}

#[test]
fn json_relative_urls_resolve_against_the_page() {
    let body = json(&format!(
        r#"{{"filename": "a-1-py3-none-any.whl", "url": "../../packages/a-1-py3-none-any.whl#sha256={SHA_B}", "hashes": {{}}}},
           {{"filename": "b-1-py3-none-any.whl", "url": "/root/b-1-py3-none-any.whl", "hashes": {{}}}},
           {{"filename": "c-1-py3-none-any.whl", "url": "c-1-py3-none-any.whl", "hashes": {{}}}},
           {{"filename": "d-1-py3-none-any.whl", "url": "//cdn.example/d-1-py3-none-any.whl", "hashes": {{}}}}"#
    ));
    let page = parse_json_page(&body, &page_url()).unwrap();
    let urls: Vec<&str> = page.files.iter().map(|f| f.url.as_str()).collect();
    assert_eq!(
        urls,
        [
            "https://pypi.example/packages/a-1-py3-none-any.whl",
            "https://pypi.example/root/b-1-py3-none-any.whl",
            "https://pypi.example/simple/flask/c-1-py3-none-any.whl",
            "https://cdn.example/d-1-py3-none-any.whl",
        ]
    );
    // JSON pages carry hashes in `hashes`; a URL fragment is not read.
    assert_eq!(page.files[0].sha256, None);
}

#[test]
fn json_yanked_forms() {
    for (value, expected) in [
        ("false", Yanked::No),
        ("null", Yanked::No),
        ("true", Yanked::Yes { reason: None }),
        // Falsy, so not yanked (PEP 691 reads truthiness; pip agrees).
        ("\"\"", Yanked::No),
        (
            "\"broken on 3.13\"",
            Yanked::Yes {
                reason: Some("broken on 3.13".into()),
            },
        ),
    ] {
        let body = json(&format!(
            r#"{{"filename": "a-1-py3-none-any.whl", "url": "a", "hashes": {{}}, "yanked": {value}}}"#
        ));
        let page = parse_json_page(&body, &page_url()).unwrap();
        assert_eq!(only_file(&page).yanked, expected, "{value}");
    }
    let body = json(r#"{"filename": "a-1-py3-none-any.whl", "url": "a", "hashes": {}}"#);
    assert_eq!(
        only_file(&parse_json_page(&body, &page_url()).unwrap()).yanked,
        Yanked::No
    );
}

#[test]
fn json_core_metadata_forms_and_precedence() {
    let present = |sha256: Option<&str>| CoreMetadataFile::Present {
        sha256: sha256.map(digest),
    };
    for (fields, expected) in [
        (String::new(), CoreMetadataFile::Absent),
        (
            r#", "core-metadata": false"#.to_owned(),
            CoreMetadataFile::Absent,
        ),
        (r#", "core-metadata": true"#.to_owned(), present(None)),
        (
            format!(r#", "core-metadata": {{"sha256": "{SHA_A}"}}"#),
            present(Some(SHA_A)),
        ),
        (
            r#", "core-metadata": {"md5": "abc"}"#.to_owned(),
            present(None),
        ),
        (r#", "dist-info-metadata": true"#.to_owned(), present(None)),
        (
            format!(r#", "data-dist-info-metadata": {{"sha256": "{SHA_B}"}}"#),
            present(Some(SHA_B)),
        ),
        // PEP 714: `core-metadata` wins over the older keys.
        (
            format!(
                r#", "dist-info-metadata": {{"sha256": "{SHA_B}"}}, "core-metadata": {{"sha256": "{SHA_A}"}}"#
            ),
            present(Some(SHA_A)),
        ),
        (
            r#", "core-metadata": false, "dist-info-metadata": true"#.to_owned(),
            CoreMetadataFile::Absent,
        ),
        (
            r#", "core-metadata": null, "dist-info-metadata": true"#.to_owned(),
            present(None),
        ),
    ] {
        let body = json(&format!(
            r#"{{"filename": "a-1-py3-none-any.whl", "url": "a", "hashes": {{}}{fields}}}"#
        ));
        let page = parse_json_page(&body, &page_url()).unwrap();
        assert_eq!(only_file(&page).core_metadata, expected, "{fields}");
    }
}

#[test]
fn json_hashes() {
    let body = json(&format!(
        r#"{{"filename": "a-1-py3-none-any.whl", "url": "a", "hashes": {{"md5": "x", "sha256": "{}"}}}}"#,
        SHA_A.to_uppercase()
    ));
    let page = parse_json_page(&body, &page_url()).unwrap();
    assert_eq!(only_file(&page).sha256, Some(digest(SHA_A)));

    let body = json(r#"{"filename": "a-1-py3-none-any.whl", "url": "a", "hashes": {"md5": "x"}}"#);
    assert_eq!(
        only_file(&parse_json_page(&body, &page_url()).unwrap()).sha256,
        None
    );
    // `hashes` is required by PEP 691, but an index that leaves it out is read.
    let body = json(r#"{"filename": "a-1-py3-none-any.whl", "url": "a"}"#);
    assert_eq!(
        only_file(&parse_json_page(&body, &page_url()).unwrap()).sha256,
        None
    );
}

#[test]
fn requires_python_forms() {
    for (value, expected) in [
        ("null", None),
        ("\"\"", None),
        ("\"  \"", None),
        (
            "\">=3.8, !=3.9.*\"",
            Some(RequiresPython::Specifiers(
                ">=3.8, !=3.9.*".parse().unwrap(),
            )),
        ),
        (
            "\">=2.7.*\"",
            Some(RequiresPython::Invalid(">=2.7.*".into())),
        ),
    ] {
        let body = json(&format!(
            r#"{{"filename": "a-1.tar.gz", "url": "a", "hashes": {{}}, "requires-python": {value}}}"#
        ));
        let page = parse_json_page(&body, &page_url()).unwrap();
        assert_eq!(only_file(&page).requires_python, expected, "{value}");
    }
}

#[test]
fn requires_python_against_the_target() {
    let target = target();
    let allows = |text: &str| RequiresPython::parse(text).unwrap().allows(&target);
    assert!(allows(">=3.9"));
    assert!(allows(">=3.13.5"));
    assert!(!allows(">=3.14"));
    assert!(!allows("<3.13"));
    assert!(allows("~=3.8"));
    // An invalid constraint constrains nothing, as in pip.
    assert!(allows(">=2.7.*"));
    // A release candidate satisfies its release.
    let rc = Target::from_debian("3.14.0~rc1-1", "2.41-12", "amd64").unwrap();
    assert!(RequiresPython::parse(">=3.14").unwrap().allows(&rc));
    assert_eq!(RequiresPython::parse(""), None);
}

#[test]
fn api_versions() {
    for version in ["1.0", "1.1", "1.4", "1"] {
        let body = format!(r#"{{"meta": {{"api-version": "{version}"}}, "files": []}}"#);
        assert!(
            parse_json_page(body.as_bytes(), &page_url()).is_ok(),
            "{version}"
        );
    }
    for version in ["2.0", "0.9", "one", "", "1.x", "1..0"] {
        let body = format!(r#"{{"meta": {{"api-version": "{version}"}}, "files": []}}"#);
        let err = parse_json_page(body.as_bytes(), &page_url()).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "the simple page `https://pypi.example/simple/flask/` has API version `{version}`; \
                 cairn reads version 1.x"
            )
        );
    }
    // PEP 691 requires `meta`, but a page without one is read as 1.0.
    assert!(parse_json_page(br#"{"files": []}"#, &page_url()).is_ok());
}

#[test]
fn json_errors_name_the_page() {
    let url = "https://pypi.example/simple/flask/";
    for (body, message) in [
        (
            "not json",
            format!("the simple page `{url}` is not valid PEP 691 JSON"),
        ),
        (
            r#"{"meta": {}}"#,
            format!("the simple page `{url}` is not valid PEP 691 JSON"),
        ),
        (
            r#"{"files": [{"url": "a", "hashes": {}}]}"#,
            format!("the simple page `{url}` is not valid PEP 691 JSON"),
        ),
        (
            r#"{"files": [{"filename": "a.whl", "url": "a", "hashes": {}, "yanked": 3}]}"#,
            format!("the simple page `{url}` is not valid PEP 691 JSON"),
        ),
        (
            r#"{"name": "-bad-", "files": []}"#,
            format!("the simple page `{url}` is for `-bad-`, which is not a valid project name"),
        ),
        (
            r#"{"files": [{"filename": "a-1.tar.gz", "url": "http://[::1", "hashes": {}}]}"#,
            format!("the simple page `{url}` links to `http://[::1`, which is not a valid URL"),
        ),
        (
            r#"{"files": [{"filename": "a-1.tar.gz", "url": "file:///etc/passwd", "hashes": {}}]}"#,
            format!(
                "the simple page `{url}` links to `file:///etc/passwd`; files are fetched over \
                 http or https, or the page's own scheme"
            ),
        ),
        (
            r#"{"files": [{"filename": "../a-1.tar.gz", "url": "a", "hashes": {}}]}"#,
            format!("the simple page `{url}` lists `../a-1.tar.gz`, which cannot be a file name"),
        ),
        (
            r#"{"files": [{"filename": "..", "url": "a", "hashes": {}}]}"#,
            format!("the simple page `{url}` lists `..`, which cannot be a file name"),
        ),
        (
            r#"{"files": [{"filename": "", "url": "a", "hashes": {}}]}"#,
            format!("the simple page `{url}` lists ``, which cannot be a file name"),
        ),
        (
            r#"{"files": [{"filename": "a\nb", "url": "a", "hashes": {}}]}"#,
            format!("the simple page `{url}` lists `a\nb`, which cannot be a file name"),
        ),
        (
            r#"{"files": [{"filename": "a-1.tar.gz", "url": "a", "hashes": {"sha256": "abc"}}]}"#,
            format!("the simple page `{url}` gives `a-1.tar.gz` a malformed SHA-256"),
        ),
        (
            r#"{"files": [{"filename": "a-1.tar.gz", "url": "a", "hashes": {}, "core-metadata": {"sha256": "xyz"}}]}"#,
            format!("the simple page `{url}` gives `a-1.tar.gz` a malformed SHA-256"),
        ),
    ] {
        let err = parse_json_page(body.as_bytes(), &page_url()).unwrap_err();
        assert_eq!(err.to_string(), message, "{body}");
    }
}

#[test]
fn errors_expose_the_url_the_kind_and_the_cause() {
    let err = parse_json_page(b"{", &page_url()).unwrap_err();
    assert_eq!(err.url(), &page_url());
    assert!(matches!(err.kind(), SimpleErrorKind::Json(_)));
    let cause = std::error::Error::source(&err).unwrap();
    assert!(cause.to_string().contains("EOF"), "{cause}");

    let body =
        br#"{"files": [{"filename": "a-1.tar.gz", "url": "a", "hashes": {"sha256": "abc"}}]}"#;
    let err = parse_json_page(body, &page_url()).unwrap_err();
    let cause = std::error::Error::source(&err).unwrap();
    assert_eq!(
        cause.to_string(),
        "`abc` is not a SHA-256 digest: expected 64 hexadecimal digits"
    );
}

#[test]
fn files_are_sorted_and_duplicates_collapse_only_when_they_agree() {
    let body = json(&format!(
        r#"{{"filename": "b-1.tar.gz", "url": "b", "hashes": {{"sha256": "{SHA_A}"}}}},
           {{"filename": "a-1.tar.gz", "url": "a", "hashes": {{}}}},
           {{"filename": "b-1.tar.gz", "url": "https://mirror.example/b", "hashes": {{"sha256": "{SHA_A}"}}}},
           {{"filename": "a-1.tar.gz", "url": "a", "hashes": {{}}}}"#
    ));
    let page = parse_json_page(&body, &page_url()).unwrap();
    let names: Vec<&str> = page.files.iter().map(|f| f.filename.as_str()).collect();
    assert_eq!(names, ["a-1.tar.gz", "b-1.tar.gz"]);
    // The smallest URL is kept, whatever the page order.
    assert_eq!(page.files[1].url.as_str(), "https://mirror.example/b");

    for files in [
        format!(
            r#"{{"filename": "a-1.tar.gz", "url": "a", "hashes": {{"sha256": "{SHA_A}"}}}},
               {{"filename": "a-1.tar.gz", "url": "a", "hashes": {{"sha256": "{SHA_B}"}}}}"#
        ),
        format!(
            r#"{{"filename": "a-1.tar.gz", "url": "a", "hashes": {{"sha256": "{SHA_A}"}}}},
               {{"filename": "a-1.tar.gz", "url": "a", "hashes": {{}}}}"#
        ),
        r#"{"filename": "a-1.tar.gz", "url": "a", "hashes": {}},
           {"filename": "a-1.tar.gz", "url": "b", "hashes": {}}"#
            .to_owned(),
    ] {
        let err = parse_json_page(&json(&files), &page_url()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the simple page `https://pypi.example/simple/flask/` lists `a-1.tar.gz` twice, with \
             different hashes or URLs"
        );
    }
}

const HTML: &str = r#"<!DOCTYPE html>
<html>
  <head>
    <meta name="pypi:repository-version" content="1.1">
    <title>Links for <a href="nope-1.0.tar.gz">flask</a></title>
    <script>var s = '<a href="script-1.0.tar.gz">';</script>
  </head>
  <body>
    <h1>Links for flask</h1>
    <A HREF="../../packages/flask-3.1.0-py3-none-any.whl#sha256=SHA_A" data-requires-python="&gt;=3.9" data-core-metadata="sha256=SHA_B">flask-3.1.0-py3-none-any.whl</A><br />
    <a href="https://files.example/flask-0.1.tar.gz#md5=0123" data-yanked="">flask-0.1.tar.gz</a>
    <a href="flask-2.0.0-py3-none-any.whl" data-yanked="bad &amp; broken" data-dist-info-metadata="true" data-requires-python="&gt;=3.6,&lt;4">x</a>
    <a href="flask%2B%2B-1.0.zip">flask++</a>
    <a name="no-href">anchor</a>
    <a href="../">up</a>
    <!-- <a href="commented-1.0.tar.gz">c</a> -->
  </body>
</html>
"#;

fn html_page() -> Vec<u8> {
    HTML.replace("SHA_A", SHA_A)
        .replace("SHA_B", SHA_B)
        .into_bytes()
}

#[test]
fn html_page_as_pep_503_writes_it() {
    let page =
        parse_project_page(&html_page(), Some("text/html; charset=utf-8"), &page_url()).unwrap();
    assert_eq!(page.name, None);
    let names: Vec<&str> = page.files.iter().map(|f| f.filename.as_str()).collect();
    assert_eq!(
        names,
        [
            "flask++-1.0.zip",
            "flask-0.1.tar.gz",
            "flask-2.0.0-py3-none-any.whl",
            "flask-3.1.0-py3-none-any.whl",
        ]
    );
    let [plusplus, old, yanked, current] = &page.files[..] else {
        panic!()
    };
    assert_eq!(
        current.url.as_str(),
        "https://pypi.example/packages/flask-3.1.0-py3-none-any.whl"
    );
    assert_eq!(current.sha256, Some(digest(SHA_A)));
    assert_eq!(
        current.requires_python,
        Some(RequiresPython::Specifiers(">=3.9".parse().unwrap()))
    );
    assert_eq!(current.yanked, Yanked::No);
    assert_eq!(
        current.core_metadata,
        CoreMetadataFile::Present {
            sha256: Some(digest(SHA_B))
        }
    );

    assert_eq!(old.url.as_str(), "https://files.example/flask-0.1.tar.gz");
    assert_eq!(old.sha256, None);
    assert_eq!(old.yanked, Yanked::Yes { reason: None });
    assert_eq!(old.core_metadata, CoreMetadataFile::Absent);

    assert_eq!(
        yanked.yanked,
        Yanked::Yes {
            reason: Some("bad & broken".into())
        }
    );
    assert_eq!(
        yanked.core_metadata,
        CoreMetadataFile::Present { sha256: None }
    );
    assert_eq!(
        yanked.requires_python,
        Some(RequiresPython::Specifiers(">=3.6, <4".parse().unwrap()))
    );

    assert_eq!(
        plusplus.url.as_str(),
        "https://pypi.example/simple/flask/flask%2B%2B-1.0.zip"
    );
    assert_eq!(plusplus.kind(), FileKind::SourceDist);
}

#[test]
fn html_base_href() {
    let body = br#"<html><head><base href="https://cdn.example/files/"><base href="https://ignored.example/"></head>
        <body><a href="a-1.tar.gz">a</a><a href="/b-1.tar.gz">b</a></body></html>"#;
    let page = parse_html_page(body, &page_url()).unwrap();
    let urls: Vec<&str> = page.files.iter().map(|f| f.url.as_str()).collect();
    assert_eq!(
        urls,
        [
            "https://cdn.example/files/a-1.tar.gz",
            "https://cdn.example/b-1.tar.gz"
        ]
    );
}

#[test]
fn html_core_metadata_forms() {
    for (attribute, expected) in [
        ("", CoreMetadataFile::Absent),
        (
            r#"data-core-metadata="true""#,
            CoreMetadataFile::Present { sha256: None },
        ),
        (r#"data-core-metadata="false""#, CoreMetadataFile::Absent),
        (
            r#"data-core-metadata="md5=abc""#,
            CoreMetadataFile::Present { sha256: None },
        ),
        (
            r#"data-core-metadata="yes please""#,
            CoreMetadataFile::Absent,
        ),
        (
            r#"data-dist-info-metadata="true""#,
            CoreMetadataFile::Present { sha256: None },
        ),
        (
            &format!(r#"data-dist-info-metadata="true" data-core-metadata="sha256={SHA_A}""#),
            CoreMetadataFile::Present {
                sha256: Some(digest(SHA_A)),
            },
        ),
    ] {
        let body = format!(r#"<a href="a-1-py3-none-any.whl" {attribute}>a</a>"#);
        let page = parse_html_page(body.as_bytes(), &page_url()).unwrap();
        assert_eq!(only_file(&page).core_metadata, expected, "{attribute}");
    }
}

#[test]
fn html_errors_name_the_page() {
    let url = "https://pypi.example/simple/flask/";
    for (body, message) in [
        (
            &b"<a href=\"a-1.tar.gz#sha256=123\">a</a>"[..],
            format!("the simple page `{url}` gives `a-1.tar.gz` a malformed SHA-256"),
        ),
        (
            b"<a href=\"a-1.tar.gz\" data-core-metadata=\"sha256=zz\">a</a>",
            format!("the simple page `{url}` gives `a-1.tar.gz` a malformed SHA-256"),
        ),
        (
            b"<a href=\"a%2Fb-1.tar.gz\">a</a>",
            format!("the simple page `{url}` lists `a/b-1.tar.gz`, which cannot be a file name"),
        ),
        (
            b"<a href=\"a%FF-1.tar.gz\">a</a>",
            format!("the simple page `{url}` lists `a%FF-1.tar.gz`, which cannot be a file name"),
        ),
        (
            b"<a href=\"ftp://files.example/a-1.tar.gz\">a</a>",
            format!(
                "the simple page `{url}` links to `ftp://files.example/a-1.tar.gz`; files are \
                 fetched over http or https, or the page's own scheme"
            ),
        ),
        (
            b"<a href=\"http://[oops/a-1.tar.gz\">a</a>",
            format!(
                "the simple page `{url}` links to `http://[oops/a-1.tar.gz`, which is not a valid URL"
            ),
        ),
        (
            b"<meta name=\"pypi:repository-version\" content=\"2.0\">",
            format!("the simple page `{url}` has API version `2.0`; cairn reads version 1.x"),
        ),
        (
            b"<a href=\"caf\xe9.tar.gz\">",
            format!("the simple page `{url}` is not UTF-8"),
        ),
    ] {
        let err = parse_html_page(body, &page_url()).unwrap_err();
        assert_eq!(
            err.to_string(),
            message,
            "{}",
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn file_indexes_may_link_files() {
    let url = Url::parse("file:///srv/index/simple/a/").unwrap();
    let page = parse_html_page(b"<a href=\"../../files/a-1.tar.gz\">a</a>", &url).unwrap();
    assert_eq!(
        only_file(&page).url.as_str(),
        "file:///srv/index/files/a-1.tar.gz"
    );
}

#[test]
fn content_types() {
    let url = page_url();
    let json_body = json(r#"{"filename": "a-1.tar.gz", "url": "a", "hashes": {}}"#);
    for content_type in [
        JSON_V1,
        "application/vnd.pypi.simple.v1+json; charset=utf-8",
        "Application/Vnd.Pypi.Simple.Latest+JSON",
    ] {
        let page = parse_project_page(&json_body, Some(content_type), &url).unwrap();
        assert_eq!(page.files.len(), 1, "{content_type}");
    }
    let html_body = b"<a href=\"a-1.tar.gz\">a</a>";
    for content_type in [
        HTML_V1,
        "text/html",
        "text/html;charset=UTF-8",
        "application/vnd.pypi.simple.latest+html",
    ] {
        let page = parse_project_page(html_body, Some(content_type), &url).unwrap();
        assert_eq!(page.files.len(), 1, "{content_type}");
    }
    // Without a content type, the body decides.
    assert_eq!(
        parse_project_page(&json_body, None, &url)
            .unwrap()
            .files
            .len(),
        1
    );
    assert_eq!(
        parse_project_page(html_body, None, &url)
            .unwrap()
            .files
            .len(),
        1
    );

    for content_type in [
        "application/json",
        "text/plain",
        "application/vnd.pypi.simple.v2+json",
        "",
    ] {
        let err = parse_project_page(&json_body, Some(content_type), &url).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "the simple page `https://pypi.example/simple/flask/` has the content type `{content_type}`, which \
                 is not a simple API page (PEP 691 JSON or PEP 503 HTML)"
            )
        );
    }
}

#[test]
fn file_kinds() {
    let file = |filename: &str| DistFile {
        filename: filename.to_owned(),
        url: page_url(),
        sha256: None,
        size: None,
        requires_python: None,
        yanked: Yanked::No,
        core_metadata: CoreMetadataFile::Absent,
    };
    assert!(matches!(
        file("a-1-py3-none-any.whl").kind(),
        FileKind::Wheel(_)
    ));
    let FileKind::InvalidWheel(err) = file("a-py3-none-any.whl").kind() else {
        panic!()
    };
    assert!(
        err.to_string()
            .starts_with("`a-py3-none-any.whl` is not a valid wheel file name")
    );
    for sdist in [
        "a-1.tar.gz",
        "a-1.zip",
        "A-1.TAR.GZ",
        "a-1.tar.bz2",
        "a-1.tgz",
        "a-1.tar.xz",
        "a-1.tar",
    ] {
        assert_eq!(file(sdist).kind(), FileKind::SourceDist, "{sdist}");
    }
    for other in [
        "a-1-py2.7.egg",
        "a-1.win32.exe",
        "a-1.msi",
        "a-1.tar.gz.asc",
    ] {
        assert_eq!(file(other).kind(), FileKind::Other, "{other}");
    }
}

/// Every ordering of `items`.
fn permutations<T: Clone>(items: &[T]) -> Vec<Vec<T>> {
    if items.len() <= 1 {
        return vec![items.to_vec()];
    }
    let mut all = Vec::new();
    for (index, first) in items.iter().enumerate() {
        let mut rest = items.to_vec();
        rest.remove(index);
        for mut tail in permutations(&rest) {
            tail.insert(0, first.clone());
            all.push(tail);
        }
    }
    all
}

#[test]
fn duplicates_merge_the_same_in_every_order() {
    let entries = [
        format!(
            r#"{{"filename": "a-1-py3-none-any.whl", "url": "https://z.example/a-1-py3-none-any.whl",
                "hashes": {{"sha256": "{SHA_A}"}}, "requires-python": ">=3.8",
                "core-metadata": {{"sha256": "{SHA_B}"}}}}"#
        ),
        format!(
            r#"{{"filename": "a-1-py3-none-any.whl", "url": "https://m.example/a-1-py3-none-any.whl",
                "hashes": {{"sha256": "{SHA_A}"}}, "requires-python": "<4, >=3.8",
                "yanked": "broken", "core-metadata": true}}"#
        ),
        format!(
            r#"{{"filename": "a-1-py3-none-any.whl", "url": "https://a.example/a-1-py3-none-any.whl",
                "hashes": {{"sha256": "{SHA_A}"}}, "requires-python": ">=2.7.*",
                "yanked": "also broken", "core-metadata": true}}"#
        ),
        format!(
            r#"{{"filename": "a-1-py3-none-any.whl", "url": "https://a.example/a-1-py3-none-any.whl",
                "hashes": {{"sha256": "{SHA_A}"}}, "yanked": true, "core-metadata": {{"sha256": "{SHA_B}"}}}}"#
        ),
    ];
    let mut pages = permutations(&entries).into_iter().map(|order| {
        let page = parse_json_page(&json(&order.join(",")), &page_url()).unwrap();
        (order, page)
    });
    let (_, first) = pages.next().unwrap();
    let file = only_file(&first);
    assert_eq!(file.url.as_str(), "https://a.example/a-1-py3-none-any.whl");
    assert_eq!(file.sha256, Some(digest(SHA_A)));
    // Yanked if any entry is, with the least reason given.
    assert_eq!(
        file.yanked,
        Yanked::Yes {
            reason: Some("also broken".into())
        }
    );
    // Every valid constraint applies; the invalid one constrains nothing.
    assert_eq!(
        file.requires_python,
        Some(RequiresPython::Specifiers(">=3.8, <4".parse().unwrap()))
    );
    assert_eq!(
        file.requires_python.as_ref().map(|r| match r {
            RequiresPython::Specifiers(s) => s.to_string(),
            RequiresPython::Invalid(text) => text.clone(),
        }),
        Some(">=3.8, <4".to_owned())
    );
    // Every entry offers the metadata file; the one hash given is kept.
    assert_eq!(
        file.core_metadata,
        CoreMetadataFile::Present {
            sha256: Some(digest(SHA_B))
        }
    );
    for (order, page) in pages {
        assert_eq!(page, first, "{order:#?}");
    }
}

#[test]
fn duplicate_fields_merge_conservatively() {
    let merged = |a: &str, b: &str| {
        let entry = |url: &str, fields: &str| {
            format!(
                r#"{{"filename": "a-1.tar.gz", "url": "{url}", "hashes": {{"sha256": "{SHA_A}"}}{fields}}}"#
            )
        };
        let forward = json(&format!("{},{}", entry("x", a), entry("y", b)));
        let backward = json(&format!("{},{}", entry("y", b), entry("x", a)));
        let page = parse_json_page(&forward, &page_url()).unwrap();
        assert_eq!(page, parse_json_page(&backward, &page_url()).unwrap());
        only_file(&page).clone()
    };

    // Yanked wins over not yanked, a reason over none.
    let file = merged("", r#", "yanked": true"#);
    assert_eq!(file.yanked, Yanked::Yes { reason: None });
    let file = merged(r#", "yanked": "why""#, r#", "yanked": true"#);
    assert_eq!(
        file.yanked,
        Yanked::Yes {
            reason: Some("why".into())
        }
    );
    assert_eq!(merged("", r#", "yanked": false"#).yanked, Yanked::No);

    // A constraint wins over none, and over an invalid one; two invalid ones keep
    // the least.
    let file = merged("", r#", "requires-python": ">=3.9""#);
    assert_eq!(
        file.requires_python,
        Some(RequiresPython::Specifiers(">=3.9".parse().unwrap()))
    );
    let file = merged(
        r#", "requires-python": ">=3.*""#,
        r#", "requires-python": ">=2.7.*""#,
    );
    assert_eq!(
        file.requires_python,
        Some(RequiresPython::Invalid(">=2.7.*".into()))
    );
    let file = merged(
        r#", "requires-python": ">=3.10""#,
        r#", "requires-python": ">=3.9""#,
    );
    assert_eq!(
        file.requires_python,
        Some(RequiresPython::Specifiers(">=3.9, >=3.10".parse().unwrap()))
    );
    assert!(
        !file
            .requires_python
            .unwrap()
            .allows(&Target::from_debian("3.9.2-1", "2.31-13", "amd64").unwrap())
    );

    // The metadata file only when both offer it, and never with two hashes.
    assert_eq!(
        merged("", r#", "core-metadata": true"#).core_metadata,
        CoreMetadataFile::Absent
    );
    assert_eq!(
        merged(r#", "core-metadata": true"#, r#", "core-metadata": true"#).core_metadata,
        CoreMetadataFile::Present { sha256: None }
    );
    assert_eq!(
        merged(
            &format!(r#", "core-metadata": {{"sha256": "{SHA_A}"}}"#),
            &format!(r#", "core-metadata": {{"sha256": "{SHA_B}"}}"#)
        )
        .core_metadata,
        CoreMetadataFile::Absent
    );
}

#[test]
fn html_duplicates_merge_the_same_in_every_order() {
    let links = [
        format!(r#"<a href="https://b.example/a-1.tar.gz#sha256={SHA_A}">a</a>"#),
        format!(r#"<a href="https://a.example/a-1.tar.gz#sha256={SHA_A}" data-yanked="">a</a>"#),
    ];
    let forward = parse_html_page(links.concat().as_bytes(), &page_url()).unwrap();
    let backward = parse_html_page(
        [links[1].clone(), links[0].clone()].concat().as_bytes(),
        &page_url(),
    )
    .unwrap();
    assert_eq!(forward, backward);
    let file = only_file(&forward);
    assert_eq!(file.url.as_str(), "https://a.example/a-1.tar.gz");
    assert_eq!(file.yanked, Yanked::Yes { reason: None });
}
