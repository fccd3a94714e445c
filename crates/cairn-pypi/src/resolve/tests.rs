use std::str::FromStr;

use super::*;
use crate::name::parse_package_name;
use crate::simple::{CoreMetadataFile, DistFile, ProjectPage, Yanked};
use crate::tags::CompatibleTags;
use crate::target::Arch;
use crate::version::parse_specifiers;

fn v(text: &str) -> Version {
    Version::from_str(text).unwrap()
}

fn name(text: &str) -> PackageName {
    parse_package_name(text).unwrap()
}

fn requirements(texts: &[&str]) -> Vec<Requirement> {
    texts
        .iter()
        .map(|t| Requirement::parse(t).unwrap())
        .collect()
}

fn target(arch: Arch) -> Target {
    Target::new(&v("3.13.5"), arch, (2, 41).into()).unwrap()
}

fn dist(filename: &str) -> DistFile {
    DistFile {
        filename: filename.to_owned(),
        url: Url::parse(&format!("https://files.example/{filename}")).unwrap(),
        sha256: None,
        size: None,
        requires_python: None,
        yanked: Yanked::No,
        core_metadata: CoreMetadataFile::Present { sha256: None },
    }
}

fn yanked(mut file: DistFile, reason: Option<&str>) -> DistFile {
    file.yanked = Yanked::Yes {
        reason: reason.map(str::to_owned),
    };
    file
}

fn requires_python(mut file: DistFile, specifiers: &str) -> DistFile {
    file.requires_python = RequiresPython::parse(specifiers);
    file
}

/// An index in memory: files by project, `METADATA` text by wheel version.
struct Index {
    target: Target,
    tags: CompatibleTags,
    files: BTreeMap<PackageName, Vec<DistFile>>,
    metadata: BTreeMap<(PackageName, Version), String>,
    /// Projects whose page fails to fetch.
    failing: BTreeSet<PackageName>,
    prefetched: RefCell<Vec<Vec<String>>>,
    asked: RefCell<Vec<String>>,
}

impl Index {
    fn new() -> Self {
        Self::for_target(target(Arch::X86_64))
    }

    fn for_target(target: Target) -> Self {
        Self {
            tags: CompatibleTags::for_target(&target),
            target,
            files: BTreeMap::new(),
            metadata: BTreeMap::new(),
            failing: BTreeSet::new(),
            prefetched: RefCell::default(),
            asked: RefCell::default(),
        }
    }

    /// A `py3-none-any` wheel of `project` `version` requiring `requires`.
    fn wheel(&mut self, project: &str, version: &str, requires: &[&str]) -> &mut Self {
        let headers: Vec<String> = requires
            .iter()
            .map(|r| format!("Requires-Dist: {r}"))
            .collect();
        let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
        self.wheel_metadata(project, version, &headers)
    }

    /// A `py3-none-any` wheel with these extra `METADATA` headers.
    fn wheel_metadata(&mut self, project: &str, version: &str, headers: &[&str]) -> &mut Self {
        let package = name(project);
        let filename = format!("{}-{version}-py3-none-any.whl", package.as_dist_info_name());
        self.file(project, dist(&filename));
        self.metadata_for(project, version, headers)
    }

    fn metadata_for(&mut self, project: &str, version: &str, headers: &[&str]) -> &mut Self {
        let mut text = format!("Metadata-Version: 2.1\nName: {project}\nVersion: {version}\n");
        for header in headers {
            text.push_str(header);
            text.push('\n');
        }
        self.metadata.insert((name(project), v(version)), text);
        self
    }

    fn file(&mut self, project: &str, file: DistFile) -> &mut Self {
        self.files.entry(name(project)).or_default().push(file);
        self
    }

    fn prefetched(&self) -> Vec<Vec<String>> {
        self.prefetched.borrow().clone()
    }
}

impl PackageSource for Index {
    fn prefetch(&self, names: &[PackageName]) {
        self.prefetched
            .borrow_mut()
            .push(names.iter().map(ToString::to_string).collect());
    }

    fn candidates(&self, project: &PackageName) -> Result<Arc<Candidates>, SourceError> {
        self.asked.borrow_mut().push(project.to_string());
        let url = Url::parse(&format!("https://pypi.example/simple/{project}/")).unwrap();
        if self.failing.contains(project) {
            return Err(SourceError::fetch(url, "connection reset"));
        }
        let Some(files) = self.files.get(project) else {
            return Err(SourceError::not_found(url));
        };
        let mut files = files.clone();
        files.sort_by(|a, b| a.filename.cmp(&b.filename));
        let page = ProjectPage {
            url,
            name: Some(project.clone()),
            files,
        };
        Ok(Arc::new(Candidates::from_page(
            project,
            &page,
            &self.target,
            &self.tags,
        )))
    }

    fn metadata(
        &self,
        project: &PackageName,
        wheel: &WheelCandidate,
    ) -> Result<Arc<Metadata>, SourceError> {
        let url = wheel.file.metadata_url().unwrap();
        let text = self
            .metadata
            .get(&(project.clone(), wheel.version().clone()))
            .ok_or_else(|| SourceError::not_found(url.clone()))?;
        Metadata::parse(text.as_bytes(), wheel.filename())
            .map(Arc::new)
            .map_err(|err| SourceError::invalid(url, err))
    }
}

fn resolve_in(index: &Index, texts: &[&str]) -> Result<Resolution, ResolveError> {
    resolve(
        &ResolveRequest::new(&index.target, requirements(texts)),
        index,
    )
}

fn pins(resolution: &Resolution) -> Vec<String> {
    resolution
        .packages
        .values()
        .map(|package| format!("{}=={}", package.name, package.version))
        .collect()
}

fn explanation(result: Result<Resolution, ResolveError>) -> String {
    match result {
        Err(ResolveError::NoSolution { explanation }) => explanation,
        other => panic!("expected no solution, got {other:?}"),
    }
}

fn package<'a>(resolution: &'a Resolution, project: &str) -> &'a ResolvedPackage {
    &resolution.packages[&name(project)]
}

#[test]
fn simple_chain() {
    let mut index = Index::new();
    index
        .wheel("a", "1.0", &["b>=1"])
        .wheel("b", "1.0", &["c"])
        .wheel("b", "2.0", &["c"])
        .wheel("c", "1.0", &[]);
    let resolution = resolve_in(&index, &["a"]).unwrap();
    assert_eq!(pins(&resolution), ["a==1.0", "b==2.0", "c==1.0"]);
    let a = package(&resolution, "a");
    assert_eq!(a.required_by, ["requirements: `a`"]);
    assert_eq!(a.dependencies, BTreeSet::from([name("b")]));
    assert_eq!(a.wheel.filename(), "a-1.0-py3-none-any.whl");
    assert_eq!(
        package(&resolution, "b").required_by,
        ["a 1.0 requires `b>=1`"]
    );
    assert!(package(&resolution, "c").dependencies.is_empty());
    assert!(resolution.warnings.is_empty());
}

#[test]
fn diamond() {
    let mut index = Index::new();
    index
        .wheel("a", "1.0", &["b", "c"])
        .wheel("b", "1.0", &["d>=1.5"])
        .wheel("c", "1.0", &["d<2"])
        .wheel("d", "1.0", &[])
        .wheel("d", "1.5", &[])
        .wheel("d", "2.0", &[]);
    let resolution = resolve_in(&index, &["a"]).unwrap();
    assert_eq!(pins(&resolution), ["a==1.0", "b==1.0", "c==1.0", "d==1.5"]);
    assert_eq!(
        package(&resolution, "d").required_by,
        ["b 1.0 requires `d>=1.5`", "c 1.0 requires `d<2`"]
    );
}

#[test]
fn backtracking() {
    let mut index = Index::new();
    index
        .wheel("a", "1.0", &["b"])
        .wheel("a", "2.0", &["b<2"])
        .wheel("a", "3.0", &["c>=2"])
        .wheel("b", "1.0", &[])
        .wheel("b", "2.0", &[])
        .wheel("c", "1.0", &[])
        .wheel("c", "2.0", &["b<1"]);
    let resolution = resolve_in(&index, &["a", "b>=2"]).unwrap();
    assert_eq!(pins(&resolution), ["a==1.0", "b==2.0"]);
}

#[test]
fn extras() {
    let mut index = Index::new();
    index
        .wheel_metadata(
            "foo",
            "1.0",
            &[
                "Provides-Extra: x",
                "Provides-Extra: y",
                "Provides-Extra: all",
                "Requires-Dist: core",
                "Requires-Dist: bar>=1; extra == 'x'",
                "Requires-Dist: baz; extra == 'y'",
                "Requires-Dist: qux; extra == 'x' and python_version < '3.10'",
                "Requires-Dist: foo[x,y]; extra == 'all'",
            ],
        )
        .wheel("core", "1.0", &[])
        .wheel("bar", "1.0", &[])
        .wheel("baz", "1.0", &[]);
    let resolution = resolve_in(&index, &["foo[x]"]).unwrap();
    assert_eq!(pins(&resolution), ["bar==1.0", "core==1.0", "foo==1.0"]);
    let foo = package(&resolution, "foo");
    assert_eq!(
        foo.extras,
        BTreeSet::from([ExtraName::from_str("x").unwrap()])
    );
    assert_eq!(
        foo.dependencies,
        BTreeSet::from([name("bar"), name("core")])
    );
    assert_eq!(foo.required_by, ["requirements: `foo[x]`"]);
    assert_eq!(
        package(&resolution, "bar").required_by,
        ["foo[x] 1.0 requires `bar>=1`"]
    );
    assert!(resolution.warnings.is_empty());

    // An extra that turns on other extras of the same project.
    let resolution = resolve_in(&index, &["foo[all]"]).unwrap();
    assert_eq!(
        pins(&resolution),
        ["bar==1.0", "baz==1.0", "core==1.0", "foo==1.0"]
    );
    let extras: Vec<String> = package(&resolution, "foo")
        .extras
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(extras, ["all", "x", "y"]);
}

#[test]
fn a_missing_extra_is_a_warning() {
    let mut index = Index::new();
    index.wheel("foo", "1.0", &[]);
    let resolution = resolve_in(&index, &["foo[gpu]"]).unwrap();
    assert_eq!(pins(&resolution), ["foo==1.0"]);
    assert!(package(&resolution, "foo").extras.is_empty());
    assert_eq!(
        resolution.warnings,
        [ResolveWarning::MissingExtra {
            name: name("foo"),
            version: v("1.0"),
            extra: ExtraName::from_str("gpu").unwrap(),
        }]
    );
    assert_eq!(
        resolution.warnings[0].to_string(),
        "foo 1.0 does not provide the extra `gpu`; it is installed without it"
    );
}

#[test]
fn markers_are_evaluated_for_the_target() {
    let build = |target| {
        let mut index = Index::for_target(target);
        index
            .wheel(
                "app",
                "1.0",
                &[
                    "pywin32; sys_platform == 'win32'",
                    "uvloop; platform_machine == 'aarch64'",
                    "tomli; python_version < '3.11'",
                    "typing-extensions; python_version >= '3.12'",
                ],
            )
            .wheel("typing-extensions", "4.12.2", &[])
            .wheel("uvloop", "0.21.0", &[]);
        index
    };
    let index = build(target(Arch::X86_64));
    let resolution = resolve_in(&index, &["app", "colorama; os_name == 'nt'"]).unwrap();
    assert_eq!(pins(&resolution), ["app==1.0", "typing-extensions==4.12.2"]);
    // Excluded projects are never even looked up.
    assert_eq!(*index.asked.borrow(), ["app", "typing-extensions"]);

    let index = build(target(Arch::Aarch64));
    let resolution = resolve_in(&index, &["app"]).unwrap();
    assert_eq!(
        pins(&resolution),
        ["app==1.0", "typing-extensions==4.12.2", "uvloop==0.21.0"]
    );
}

#[test]
fn yanked_versions_need_an_exact_pin() {
    let mut index = Index::new();
    index
        .wheel("foo", "1.0", &[])
        .file(
            "foo",
            yanked(dist("foo-2.0-py3-none-any.whl"), Some("broken")),
        )
        .metadata_for("foo", "2.0", &[]);
    let resolution = resolve_in(&index, &["foo"]).unwrap();
    assert_eq!(pins(&resolution), ["foo==1.0"]);

    let resolution = resolve_in(&index, &["foo==2.0"]).unwrap();
    assert_eq!(pins(&resolution), ["foo==2.0"]);
    assert!(package(&resolution, "foo").wheel.is_yanked());
    assert_eq!(
        resolution.warnings,
        [ResolveWarning::Yanked {
            name: name("foo"),
            version: v("2.0"),
            reason: Some("broken".to_owned()),
        }]
    );

    assert_eq!(
        explanation(resolve_in(&index, &["foo>=2.0"])),
        "Because foo==2.0 was yanked (broken) and you require foo>=2.0, no solution exists.\n\
         Note: a yanked version is used only when a requirement pins it exactly, as in \
         `==1.2.3` (PEP 592)."
    );
    // A wildcard is no exact pin.
    assert!(resolve_in(&index, &["foo==2.*"]).is_err());
}

#[test]
fn pre_releases() {
    let mut index = Index::new();
    index
        .wheel("foo", "1.0", &[])
        .wheel("foo", "2.0b1", &[])
        .wheel("foo", "3.0.dev1", &[])
        .wheel("bar", "1.0a1", &[])
        .wheel("app", "1.0", &["foo>=2.0b1"]);
    let chosen = |texts: &[&str]| pins(&resolve_in(&index, texts).unwrap());
    assert_eq!(chosen(&["foo"]), ["foo==1.0"]);
    assert_eq!(chosen(&["foo<3"]), ["foo==1.0"]);
    // A specifier naming a pre-release allows them, dev releases included.
    assert_eq!(chosen(&["foo>=2.0b1"]), ["foo==3.0.dev1"]);
    assert_eq!(chosen(&["foo>=2.0b1, <3"]), ["foo==2.0b1"]);
    // No final release in the range: the newest pre-release.
    assert_eq!(chosen(&["foo>1.0"]), ["foo==3.0.dev1"]);
    // Only pre-releases at all.
    assert_eq!(chosen(&["bar"]), ["bar==1.0a1"]);
    // Named by a dependency.
    assert_eq!(chosen(&["app"]), ["app==1.0", "foo==3.0.dev1"]);
    // `--pre`: the newest of every package, pre-release or not.
    let mut request = ResolveRequest::new(&index.target, requirements(&["foo"]));
    request.prereleases = true;
    assert_eq!(pins(&resolve(&request, &index).unwrap()), ["foo==3.0.dev1"]);
}

#[test]
fn preferences() {
    let mut index = Index::new();
    index
        .wheel("foo", "1.0", &[])
        .wheel("foo", "2.0", &[])
        .wheel("bar", "1.0", &[])
        .file("bar", yanked(dist("bar-2.0-py3-none-any.whl"), None))
        .metadata_for("bar", "2.0", &[]);
    let mut request = ResolveRequest::new(&index.target, requirements(&["foo", "bar"]));
    request.preferences = BTreeMap::from([(name("foo"), v("1.0")), (name("bar"), v("2.0"))]);
    // The lock's foo; not its bar, yanked since.
    assert_eq!(
        pins(&resolve(&request, &index).unwrap()),
        ["bar==1.0", "foo==1.0"]
    );
    // No longer allowed: the newest.
    request.requirements = requirements(&["foo>=2", "bar"]);
    assert_eq!(
        pins(&resolve(&request, &index).unwrap()),
        ["bar==1.0", "foo==2.0"]
    );
}

#[test]
fn constraints() {
    let mut index = Index::new();
    index
        .wheel("foo", "1.0", &["bar"])
        .wheel("foo", "2.0", &["bar"])
        .wheel("bar", "1.0", &[])
        .wheel("bar", "2.0", &[])
        .wheel("unused", "1.0", &[]);
    let mut request = ResolveRequest::new(&index.target, requirements(&["foo"]));
    request.constraints =
        requirements(&["foo<2", "unused==1.0", "bar<2 ; sys_platform == 'win32'"]);
    let resolution = resolve(&request, &index).unwrap();
    assert_eq!(pins(&resolution), ["bar==2.0", "foo==1.0"]);

    request.requirements = requirements(&["foo>=2"]);
    assert_eq!(
        explanation(resolve(&request, &index)),
        "Because you require foo (no version), no solution exists.\n\
         Note: the constraints allow only foo<2."
    );
}

#[test]
fn conflict_explanation() {
    let mut index = Index::new();
    index
        .wheel("a", "1.0", &["c>=2"])
        .wheel("b", "1.0", &["c<2"])
        .wheel("c", "1.0", &[])
        .wheel("c", "2.0", &[]);
    let text = explanation(resolve_in(&index, &["a", "b"]));
    assert_eq!(
        text,
        "Because a==1.0 depends on c>=2 and b==1.0 depends on c<2, a==1.0 and b==1.0 \
         cannot be used together.\n\
         And because you require a and b, no solution exists."
    );
}

#[test]
fn source_only_explanation() {
    let mut index = Index::new();
    index
        .file("foo", dist("foo-1.0.tar.gz"))
        .file("foo", dist("foo-2.0.tar.gz"));
    assert_eq!(
        explanation(resolve_in(&index, &["foo"])),
        "Because foo has only source distributions (no wheel) and you require foo, no \
         solution exists.\n\
         Note: cairn installs wheels only (building source distributions comes later)."
    );
}

#[test]
fn no_wheel_for_the_target_explanation() {
    let mut index = Index::new();
    index
        .file("foo", dist("foo-1.0-cp312-cp312-macosx_11_0_arm64.whl"))
        .file("foo", dist("foo-1.0-cp313-cp313-manylinux_2_42_x86_64.whl"))
        .file("bar", dist("bar-1.0-cp313-cp313-win_amd64.whl"))
        .file("bar", dist("bar-1.0-cp313-cp313-macosx_11_0_arm64.whl"));
    assert_eq!(
        explanation(resolve_in(&index, &["foo"])),
        "Because foo==1.0 has no wheel for the image (its manylinux wheels need glibc 2.42 \
         or newer) and you require foo, no solution exists.\n\
         Note: the image has CPython 3.13.5 on Linux x86_64 with glibc 2.41."
    );
    assert_eq!(
        explanation(resolve_in(&index, &["bar"])),
        "Because bar==1.0 has no wheel for the image (its wheels are for \
         cp313-cp313-macosx_11_0_arm64 and cp313-cp313-win_amd64) and you require bar, no \
         solution exists.\n\
         Note: the image has CPython 3.13.5 on Linux x86_64 with glibc 2.41."
    );
}

#[test]
fn requires_python_explanations() {
    let mut index = Index::new();
    index
        .file(
            "foo",
            requires_python(dist("foo-1.0-py3-none-any.whl"), ">=3.14"),
        )
        .file("foo", dist("foo-0.9.tar.gz"))
        .wheel_metadata("bar", "1.0", &["Requires-Python: >=3.14"]);
    assert_eq!(
        explanation(resolve_in(&index, &["foo"])),
        "Because no version of foo can be used (1.0 requires Python >=3.14; 0.9 has only a \
         source distribution (no wheel)) and you require foo, no solution exists.\n\
         Note: cairn installs wheels only (building source distributions comes later).\n\
         Note: the image has CPython 3.13.5 on Linux x86_64 with glibc 2.41."
    );
    assert_eq!(
        explanation(resolve_in(&index, &["bar"])),
        "Because bar==1.0 requires Python >=3.14 (its metadata says so) and you require \
         bar, no solution exists.\n\
         Note: the image has CPython 3.13.5 on Linux x86_64 with glibc 2.41."
    );
}

#[test]
fn projects_not_on_the_index() {
    let mut index = Index::new();
    index.wheel("app", "1.0", &["missing>=1"]);
    assert_eq!(
        explanation(resolve_in(&index, &["nothing"])),
        "Because nothing is not on the index and you require nothing, no solution exists."
    );
    assert_eq!(
        explanation(resolve_in(&index, &["app"])),
        "Because missing is not on the index and app==1.0 depends on missing>=1, app==1.0 \
         cannot be used.\n\
         And because you require app, no solution exists."
    );
}

#[test]
fn source_errors_name_the_project() {
    let mut index = Index::new();
    index.wheel("app", "1.0", &["flaky"]);
    index.failing.insert(name("flaky"));
    let err = resolve_in(&index, &["app"]).unwrap_err();
    let ResolveError::Source {
        name: project,
        version: None,
        source,
    } = &err
    else {
        panic!("{err:?}");
    };
    assert_eq!(project.as_ref(), "flaky");
    assert_eq!(source.kind(), SourceErrorKind::Fetch);
    assert_eq!(
        err.to_string(),
        "cannot get the files of flaky from the index"
    );
    let cause = std::error::Error::source(&err).unwrap();
    assert_eq!(
        cause.to_string(),
        "cannot fetch `https://pypi.example/simple/flaky/`"
    );
    assert_eq!(cause.source().unwrap().to_string(), "connection reset");

    // A wheel whose metadata cannot be had.
    let mut index = Index::new();
    index.file("nometa", dist("nometa-1.0-py3-none-any.whl"));
    let err = resolve_in(&index, &["nometa"]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot get the metadata of nometa 1.0 from the index"
    );
}

#[test]
fn prefetch_announces_each_level() {
    let mut index = Index::new();
    index
        .wheel("b", "1.0", &["d", "c"])
        .wheel("a", "1.0", &["c", "e; sys_platform == 'win32'"])
        .wheel("c", "1.0", &["d"])
        .wheel("d", "1.0", &[]);
    resolve_in(&index, &["b", "a", "a>=1"]).unwrap();
    let prefetched = index.prefetched();
    assert_eq!(prefetched[0], ["a", "b"]);
    let rest: Vec<&str> = prefetched[1..]
        .iter()
        .flatten()
        .map(String::as_str)
        .collect();
    let mut sorted = rest.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, ["c", "d"], "{prefetched:?}");
}

#[test]
fn deterministic() {
    let mut index = Index::new();
    for (project, version, requires) in [
        ("web", "1.0", vec!["http>=1", "json", "log"]),
        ("web", "2.0", vec!["http>=2", "json", "log", "tmpl[fast]"]),
        ("http", "1.0", vec!["log"]),
        ("http", "2.0", vec!["log>=2", "idna"]),
        ("http", "2.1", vec!["log>=2", "idna<3"]),
        ("json", "1.0", vec![]),
        ("log", "1.0", vec![]),
        ("log", "2.0", vec![]),
        ("idna", "2.0", vec![]),
        ("idna", "3.0", vec![]),
        ("tmpl", "1.0", vec!["speedups; extra == 'fast'"]),
        ("speedups", "1.0", vec!["log<2"]),
    ] {
        index.wheel(project, version, &requires);
    }
    let first = resolve_in(&index, &["web", "idna"]).unwrap();
    let second = resolve_in(&index, &["web", "idna"]).unwrap();
    assert_eq!(first, second);
    assert_eq!(
        pins(&first),
        [
            "http==2.1",
            "idna==2.0",
            "json==1.0",
            "log==2.0",
            "web==1.0"
        ],
    );
    let required_by = &package(&first, "log").required_by;
    let mut sorted = required_by.clone();
    sorted.sort();
    assert_eq!(*required_by, sorted);
    let failing = |index: &Index| explanation(resolve_in(index, &["web>=2", "idna>=3", "log>=2"]));
    assert_eq!(failing(&index), failing(&index));
}

#[test]
fn specifier_ranges_agree_with_pep_440() {
    let specifiers = [
        "==1.0",
        "==1.0+cpu",
        "!=1.0",
        "<1.0",
        "<=1.0",
        ">1.0",
        ">=1.0",
        "~=1.0",
        "~=1.0.1",
        "==1.*",
        "==1.0.*",
        "!=1.0.*",
        ">=1.0rc1",
        ">1.0.post1",
        "<=1.0.post1",
        "==1.0.post1",
        "<2.0",
        ">0.9",
        "==1.0rc1",
        "<=1.0rc1",
        "<1!1.0",
        ">=1!0.5",
        "<1.0.post1",
        "~=0.9.0",
    ];
    let versions = [
        "0.9",
        "0.9.post1",
        "0.9+x",
        "1.0.dev1",
        "1.0a1",
        "1.0rc1",
        "1.0rc1+x",
        "1.0",
        "1.0+cpu",
        "1.0+cpu.2",
        "1.0.0",
        "1.0.post1",
        "1.0.post1+x",
        "1.0.post2",
        "1.0.1",
        "1.0.1rc1",
        "1.1",
        "1.1.dev1",
        "1.5",
        "2.0.dev1",
        "2.0a1",
        "2.0",
        "2.0+x",
        "1!0.1",
        "1!1.0",
    ];
    for text in specifiers {
        let specifiers = parse_specifiers(text).unwrap();
        let range = specifiers_to_ranges(&specifiers);
        for version in versions {
            let version = v(version);
            // `pep440_rs` compares releases without their epochs here:
            // `1.0rc1` is below `1!1.0` whatever its release says.
            if text == "<1!1.0" && version.any_prerelease() {
                continue;
            }
            assert_eq!(
                range.contains(&version),
                specifiers.contains(&version),
                "{version} in {text} (range {range})"
            );
        }
    }
}

#[test]
fn ranges_read_as_specifiers() {
    for (specifiers, text) in [
        ("", ""),
        ("==1.0", "==1.0"),
        ("!=1.0", "!=1.0"),
        (">=1.0, <2", ">=1.0, <2"),
        ("<=1.0", "<=1.0"),
        (">1.0", ">1.0"),
        ("==1.5.*", "==1.5.*"),
        ("!=1.5.*", "!=1.5.*"),
        ("~=1.4", ">=1.4, <2"),
        (">=1.0, !=1.5", ">=1.0, <1.5 | >1.5"),
        ("==1.0+cpu", "==1.0+cpu"),
        (">=2, <1", " (no version)"),
    ] {
        let range = specifiers_to_ranges(&parse_specifiers(specifiers).unwrap());
        assert_eq!(format_range(&range), text, "{specifiers}");
    }
}
