//! Image references as Docker and podman write them: `[registry/]repository[:tag][@digest]`
//! (the grammar of distribution's `reference` package).
//!
//! The first `/`-separated component is a registry when it has a `.` or a `:`, is
//! `localhost`, or has an upper-case letter; otherwise the registry is Docker Hub
//! (`docker.io`, whose API is at `registry-1.docker.io`), where a one-component name is
//! an official image under `library/`. Without a tag or a digest the tag is `latest`.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use cairn_oci::Digest;

/// The registry of references that name none.
pub const DOCKER_HUB: &str = "docker.io";
/// Where Docker Hub's registry API answers.
pub const DOCKER_HUB_API: &str = "registry-1.docker.io";
/// The tag of a reference that names neither a tag nor a digest.
pub const DEFAULT_TAG: &str = "latest";

/// A parsed image reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

/// Text that is not an image reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{reference}` is not an image reference: {reason}")]
pub struct BadReference {
    pub reference: String,
    pub reason: &'static str,
}

impl Reference {
    /// The registry as written (`docker.io` when the reference names none), with its port.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The host (and port) the registry API is at: Docker Hub's is `registry-1.docker.io`.
    pub fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB {
            DOCKER_HUB_API
        } else {
            &self.registry
        }
    }

    /// The repository (`library/debian`, `team/app`).
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// The tag; `None` only for a reference by digest alone.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// What a manifest request names: the digest when there is one, else the tag.
    pub fn manifest_reference(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(digest), _) => digest.to_string(),
            (None, Some(tag)) => tag.clone(),
            (None, None) => DEFAULT_TAG.to_owned(),
        }
    }

    /// The same repository with another tag (and no digest).
    pub fn with_tag(&self, tag: &str) -> Result<Self, BadReference> {
        if !is_tag(tag) {
            return Err(BadReference {
                reference: format!("{}:{tag}", self.name()),
                reason: "a tag is up to 128 letters, digits, `_`, `.` and `-`, not starting with `.` or `-`",
            });
        }
        Ok(Self {
            tag: Some(tag.to_owned()),
            digest: None,
            ..self.clone()
        })
    }

    /// The same repository by digest (the tag is kept for display).
    #[must_use]
    pub fn with_digest(&self, digest: Digest) -> Self {
        Self {
            digest: Some(digest),
            ..self.clone()
        }
    }

    /// Another repository of the same registry (for a cross-repository mount).
    pub fn in_repository(&self, repository: &str) -> Result<Self, BadReference> {
        format!("{}/{repository}", self.registry).parse()
    }

    /// `registry/repository`, without tag or digest.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// Whether the registry is on this machine (`localhost`, `127.0.0.0/8`, `::1`), which
    /// cairn talks to over plain HTTP.
    pub fn is_loopback(&self) -> bool {
        is_loopback(&self.registry)
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

impl FromStr for Reference {
    type Err = BadReference;

    fn from_str(text: &str) -> Result<Self, BadReference> {
        let bad = |reason| BadReference {
            reference: text.to_owned(),
            reason,
        };
        if text.is_empty() {
            return Err(bad("it is empty"));
        }
        let (rest, digest) = match text.rsplit_once('@') {
            Some((rest, digest)) => (
                rest,
                Some(digest.parse::<Digest>().map_err(|_| {
                    bad("the part after `@` is not `sha256:` and 64 lowercase hex digits")
                })?),
            ),
            None => (text, None),
        };
        let last_slash = rest.rfind('/');
        let (name, tag) = match rest.rfind(':') {
            Some(colon) if last_slash.is_none_or(|slash| colon > slash) => {
                (&rest[..colon], Some(&rest[colon + 1..]))
            }
            _ => (rest, None),
        };
        let (registry, repository) = match name.split_once('/') {
            Some((first, remainder))
                if first.contains(['.', ':'])
                    || first == "localhost"
                    || first.bytes().any(|b| b.is_ascii_uppercase()) =>
            {
                (first, remainder.to_owned())
            }
            _ => (DOCKER_HUB, name.to_owned()),
        };
        if !is_registry(registry) {
            return Err(bad(
                "the registry must be a host name or IP address, with an optional `:port`",
            ));
        }
        let registry = if registry == "index.docker.io" {
            DOCKER_HUB
        } else {
            registry
        };
        if repository.is_empty() {
            return Err(bad("it names no repository"));
        }
        if !repository.split('/').all(is_path_component) {
            return Err(bad(
                "a repository is lower-case letters and digits, separated by `/`, `.`, `_`, `__` or `-`",
            ));
        }
        let repository = if registry == DOCKER_HUB && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository
        };
        if registry.len() + 1 + repository.len() > 255 {
            return Err(bad("the name is longer than 255 characters"));
        }
        if let Some(tag) = tag
            && !is_tag(tag)
        {
            return Err(bad(
                "a tag is up to 128 letters, digits, `_`, `.` and `-`, not starting with `.` or `-`",
            ));
        }
        let tag = match (tag, &digest) {
            (Some(tag), _) => Some(tag.to_owned()),
            (None, None) => Some(DEFAULT_TAG.to_owned()),
            (None, Some(_)) => None,
        };
        Ok(Self {
            registry: registry.to_owned(),
            repository,
            tag,
            digest,
        })
    }
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
fn is_path_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let mut i = 0;
    loop {
        let start = i;
        while i < bytes.len() && alnum(bytes[i]) {
            i += 1;
        }
        if i == start {
            return false;
        }
        if i == bytes.len() {
            return true;
        }
        let separator = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        match &component[separator..i] {
            "." | "_" | "__" => {}
            dashes if dashes.bytes().all(|b| b == b'-') => {}
            _ => return false,
        }
    }
}

/// `[\w][\w.-]{0,127}`
fn is_tag(tag: &str) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    tag.len() <= 128
        && tag.as_bytes().first().is_some_and(|&b| word(b))
        && tag.bytes().all(|b| word(b) || b == b'.' || b == b'-')
}

/// A host name, an IPv4 address or a bracketed IPv6 address, with an optional port.
fn is_registry(registry: &str) -> bool {
    let (host, port) = split_port(registry);
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let host_ok = if let Some(inner) = host.strip_prefix('[') {
        inner
            .strip_suffix(']')
            .is_some_and(|ip| ip.parse::<std::net::Ipv6Addr>().is_ok())
    } else {
        !host.is_empty()
            && host.split('.').all(|label| {
                !label.is_empty()
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            })
    };
    port_ok && host_ok
}

/// `host:port` → (`host`, `Some(port)`); `[::1]:5000` → (`[::1]`, `Some("5000")`).
fn split_port(registry: &str) -> (&str, Option<&str>) {
    if registry.starts_with('[') {
        return match registry.find(']') {
            Some(end) => match registry[end + 1..].strip_prefix(':') {
                Some(port) => (&registry[..=end], Some(port)),
                None => (registry, None),
            },
            None => (registry, None),
        };
    }
    match registry.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (registry, None),
    }
}

/// Whether `registry` (a host with an optional port) is this machine: `localhost`,
/// `127.0.0.0/8` or `::1`.
pub fn is_loopback(registry: &str) -> bool {
    let (host, _) = split_port(registry);
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
        || registry.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Reference {
        text.parse().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn docker_style_references() {
        let hex = "a".repeat(64);
        let cases: &[(&str, &str, &str, Option<&str>, bool)] = &[
            (
                "localhost:5000/app:1",
                "localhost:5000",
                "app",
                Some("1"),
                false,
            ),
            ("localhost/app", "localhost", "app", Some("latest"), false),
            (
                "debian",
                "docker.io",
                "library/debian",
                Some("latest"),
                false,
            ),
            (
                "debian:trixie",
                "docker.io",
                "library/debian",
                Some("trixie"),
                false,
            ),
            (
                "team/app:v1.2-rc_3",
                "docker.io",
                "team/app",
                Some("v1.2-rc_3"),
                false,
            ),
            (
                "docker.io/debian",
                "docker.io",
                "library/debian",
                Some("latest"),
                false,
            ),
            (
                "index.docker.io/debian",
                "docker.io",
                "library/debian",
                Some("latest"),
                false,
            ),
            (
                "ghcr.io/o/r/deep/name:t",
                "ghcr.io",
                "o/r/deep/name",
                Some("t"),
                false,
            ),
            ("[::1]:5000/a", "[::1]:5000", "a", Some("latest"), false),
            ("Registry/app", "Registry", "app", Some("latest"), false),
            (
                "a.b/x__y.z-w--v",
                "a.b",
                "x__y.z-w--v",
                Some("latest"),
                false,
            ),
        ];
        for &(text, registry, repository, tag, digest) in cases {
            let r = parse(text);
            assert_eq!(r.registry(), registry, "{text}");
            assert_eq!(r.repository(), repository, "{text}");
            assert_eq!(r.tag(), tag, "{text}");
            assert_eq!(r.digest().is_some(), digest, "{text}");
        }
        let by_digest = parse(&format!("127.0.0.1:5000/a/b@sha256:{hex}"));
        assert_eq!(by_digest.registry(), "127.0.0.1:5000");
        assert_eq!(by_digest.repository(), "a/b");
        assert_eq!(by_digest.tag(), None);
        assert_eq!(by_digest.digest().unwrap().hex(), hex);
        assert_eq!(by_digest.manifest_reference(), format!("sha256:{hex}"));
        let both = parse(&format!("localhost:5000/a:v1@sha256:{hex}"));
        assert_eq!(both.tag(), Some("v1"));
        assert_eq!(both.manifest_reference(), format!("sha256:{hex}"));
        assert_eq!(
            both.to_string(),
            format!("localhost:5000/a:v1@sha256:{hex}")
        );
        assert_eq!(
            parse("debian").to_string(),
            "docker.io/library/debian:latest"
        );
        assert_eq!(parse("debian").api_host(), "registry-1.docker.io");
        assert_eq!(parse("localhost:5000/app").api_host(), "localhost:5000");
        // A port-like tag on a one-component name is a tag, as Docker reads it.
        let tagged = parse("localhost:5000");
        assert_eq!(
            (tagged.registry(), tagged.repository(), tagged.tag()),
            ("docker.io", "library/localhost", Some("5000"))
        );
    }

    #[test]
    fn bad_references() {
        for bad in [
            "",
            "UPPER",
            "team/App",
            "app:",
            "app:.tag",
            "app:-tag",
            &format!("app:{}", "t".repeat(129)),
            "app@sha256:12",
            "app@md5:00",
            "localhost:5000/",
            "localhost:port/app",
            "-bad.host/app",
            "a..b/app",
            "app/",
            "a//b",
            "a/_b",
            "a/b_",
            "a/b___c",
            "[::1/app",
            "host.io/a b",
        ] {
            assert!(bad.parse::<Reference>().is_err(), "{bad:?} parsed");
        }
        let error = "UPPER".parse::<Reference>().unwrap_err();
        assert!(error.to_string().contains("lower-case"), "{error}");
    }

    #[test]
    fn loopback_registries() {
        for yes in [
            "localhost",
            "localhost:5000",
            "LOCALHOST:80",
            "127.0.0.1",
            "127.0.0.1:5000",
            "127.1.2.3:8080",
            "[::1]:5000",
            "[::1]",
            "::1",
        ] {
            assert!(is_loopback(yes), "{yes}");
        }
        for no in [
            "docker.io",
            "128.0.0.1:5000",
            "10.0.0.1",
            "[::2]:5000",
            "localhost.example.com",
            "mylocalhost:5000",
            "0.0.0.0:5000",
        ] {
            assert!(!is_loopback(no), "{no}");
        }
    }

    #[test]
    fn derived_references() {
        let r = parse("localhost:5000/app:1");
        assert_eq!(r.with_tag("2").unwrap().to_string(), "localhost:5000/app:2");
        assert!(r.with_tag("-x").is_err());
        assert_eq!(
            r.in_repository("other").unwrap().to_string(),
            "localhost:5000/other:latest"
        );
        let digest = Digest::of(b"x");
        assert_eq!(
            r.with_digest(digest).manifest_reference(),
            digest.to_string()
        );
    }
}
