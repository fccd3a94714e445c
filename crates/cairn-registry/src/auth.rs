//! Registry credentials and the challenges that ask for them.
//!
//! Where credentials come from, first found wins:
//! 1. explicit ones (`--creds user:password`);
//! 2. an auth file: the one named by the auth-file option or `REGISTRY_AUTH_FILE` (only
//!    that one, as podman does), else the first of `$XDG_RUNTIME_DIR/containers/auth.json`
//!    and `$DOCKER_CONFIG/config.json` (or `~/.docker/config.json`) that has something
//!    for the registry. In a file, `credHelpers` for the registry come first, then an
//!    `auths` entry (`auth`, base64 `user:password`; or `username`/`password`; or
//!    `identitytoken`), then the default `credsStore`. Keys are matched by host,
//!    with or without a scheme and path (`https://index.docker.io/v1/` is Docker Hub);
//!    a key without a scheme may name a namespace (`quay.io/team`), and the longest
//!    matching key wins;
//! 3. none: anonymous.
//!
//! A helper is `docker-credential-<name> get`, with the registry on stdin, answering
//! `{"ServerURL", "Username", "Secret"}`; the user `<token>` means the secret is an
//! identity token (an OAuth2 refresh token).
//!
//! Challenges (`WWW-Authenticate`, RFC 7235 §4.1) are `Basic realm=…` or `Bearer realm=…,
//! service=…, scope=…` (the distribution token spec).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Deserialize;

use crate::error::RegistryError;
use crate::reference::{DOCKER_HUB, DOCKER_HUB_API};

/// A login for a registry.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// A user name and password (or an access token used as one).
    Basic { username: String, password: String },
    /// An OAuth2 refresh token (`identitytoken`, or a helper's user `<token>`), exchanged
    /// at the token realm for access tokens.
    IdentityToken(String),
}

impl fmt::Debug for Credentials {
    /// Never shows a secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("password", &"<redacted>")
                .finish(),
            Self::IdentityToken(_) => f.write_str("IdentityToken(<redacted>)"),
        }
    }
}

impl Credentials {
    /// Parses `--creds user:password` (the password may contain `:`).
    pub fn from_creds_arg(text: &str) -> Result<Self, RegistryError> {
        let (username, password) = text
            .split_once(':')
            .ok_or(RegistryError::BadCredentials("a value without `:`"))?;
        if username.is_empty() {
            return Err(RegistryError::BadCredentials("an empty user name"));
        }
        Ok(Self::Basic {
            username: username.to_owned(),
            password: password.to_owned(),
        })
    }
}

/// Where the credentials in use came from, for error messages (never holds a secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialSource {
    Anonymous,
    /// Given explicitly (`--creds`).
    Explicit,
    /// An entry of an auth file.
    AuthFile {
        path: PathBuf,
        key: String,
    },
    /// A credential helper named in an auth file.
    Helper {
        helper: String,
        path: PathBuf,
    },
}

impl fmt::Display for CredentialSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Anonymous => f.write_str("anonymous access (no credentials were found)"),
            Self::Explicit => f.write_str("the credentials given with `--creds`"),
            Self::AuthFile { path, key } => {
                write!(f, "the credentials for `{key}` in `{}`", path.display())
            }
            Self::Helper { helper, path } => write!(
                f,
                "the credentials from `{helper}` (named in `{}`)",
                path.display()
            ),
        }
    }
}

/// The environment credential lookup reads, captured once so tests (which run in
/// parallel threads) can give their own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthEnv {
    pub registry_auth_file: Option<PathBuf>,
    pub xdg_runtime_dir: Option<PathBuf>,
    pub docker_config: Option<PathBuf>,
    pub home: Option<PathBuf>,
    /// Where credential helpers are looked for.
    pub path: Option<OsString>,
}

impl AuthEnv {
    /// `REGISTRY_AUTH_FILE`, `XDG_RUNTIME_DIR`, `DOCKER_CONFIG`, `HOME` and `PATH` of this
    /// process (empty values count as unset).
    pub fn from_process() -> Self {
        let var = |name| std::env::var_os(name).filter(|v| !v.is_empty());
        Self {
            registry_auth_file: var("REGISTRY_AUTH_FILE").map(PathBuf::from),
            xdg_runtime_dir: var("XDG_RUNTIME_DIR").map(PathBuf::from),
            docker_config: var("DOCKER_CONFIG").map(PathBuf::from),
            home: var("HOME").map(PathBuf::from),
            path: var("PATH"),
        }
    }

    /// Nothing: no auth file, no helpers.
    pub fn empty() -> Self {
        Self {
            registry_auth_file: None,
            xdg_runtime_dir: None,
            docker_config: None,
            home: None,
            path: None,
        }
    }

    /// The auth files to look in, in order.
    pub fn auth_files(&self) -> Vec<PathBuf> {
        if let Some(file) = &self.registry_auth_file {
            return vec![file.clone()];
        }
        let mut files = Vec::new();
        if let Some(dir) = &self.xdg_runtime_dir {
            files.push(dir.join("containers/auth.json"));
        }
        if let Some(dir) = &self.docker_config {
            files.push(dir.join("config.json"));
        } else if let Some(home) = &self.home {
            files.push(home.join(".docker/config.json"));
        }
        files
    }
}

/// How credentials are found.
#[derive(Debug, Clone)]
pub struct CredentialOptions {
    /// Used for every registry when given (`--creds`).
    pub explicit: Option<Credentials>,
    /// The only auth file to read (`--authfile`); before `REGISTRY_AUTH_FILE`.
    pub auth_file: Option<PathBuf>,
    pub env: AuthEnv,
}

impl Default for CredentialOptions {
    /// No explicit credentials; auth files and helpers as this process's environment
    /// says.
    fn default() -> Self {
        Self {
            explicit: None,
            auth_file: None,
            env: AuthEnv::from_process(),
        }
    }
}

impl CredentialOptions {
    /// Anonymous only: reads no file, runs no helper.
    pub fn anonymous() -> Self {
        Self {
            explicit: None,
            auth_file: None,
            env: AuthEnv::empty(),
        }
    }
}

/// The credentials for `registry` (as a reference names it, `docker.io` for Docker Hub)
/// and `repository`, and where they came from.
pub fn find_credentials(
    registry: &str,
    repository: &str,
    options: &CredentialOptions,
) -> Result<(Option<Credentials>, CredentialSource), RegistryError> {
    if let Some(credentials) = &options.explicit {
        return Ok((Some(credentials.clone()), CredentialSource::Explicit));
    }
    let files = match &options.auth_file {
        Some(file) => vec![file.clone()],
        None => options.env.auth_files(),
    };
    let explicit_file = options.auth_file.is_some() || options.env.registry_auth_file.is_some();
    for path in files {
        let bytes = match fs_err::read(&path) {
            Ok(bytes) => bytes,
            // A default location that does not exist is normal; one named explicitly
            // that does not exist means no credentials, as podman reads it.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(RegistryError::AuthFile {
                    path,
                    reason: e.to_string(),
                });
            }
        };
        let file = AuthFile::parse(&bytes).map_err(|reason| RegistryError::AuthFile {
            path: path.clone(),
            reason,
        })?;
        if let Some(found) = file.lookup(registry, repository, &path, options.env.path.as_ref())? {
            return Ok(found);
        }
        if explicit_file {
            break;
        }
    }
    Ok((None, CredentialSource::Anonymous))
}

/// An auth file: podman's `auth.json` or Docker's `config.json`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct AuthFile {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    #[serde(default, rename = "credHelpers")]
    cred_helpers: BTreeMap<String, String>,
    #[serde(default, rename = "credsStore")]
    creds_store: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
}

type Found = (Option<Credentials>, CredentialSource);

impl AuthFile {
    pub(crate) fn parse(bytes: &[u8]) -> Result<Self, String> {
        serde_json::from_slice(bytes).map_err(|e| e.to_string())
    }

    /// What this file says for `registry`/`repository`: `None` when it has nothing.
    pub(crate) fn lookup(
        &self,
        registry: &str,
        repository: &str,
        path: &Path,
        search_path: Option<&OsString>,
    ) -> Result<Option<Found>, RegistryError> {
        if let Some(helper) = best_match(self.cred_helpers.keys(), registry, repository)
            .map(|key| &self.cred_helpers[key])
        {
            let found = run_helper(helper, registry, path, search_path)?;
            // A helper named for this registry that has nothing means anonymous access.
            return Ok(Some(found.unwrap_or((None, CredentialSource::Anonymous))));
        }
        let usable = self
            .auths
            .iter()
            .filter(|(_, entry)| entry.has_credentials())
            .map(|(key, _)| key);
        if let Some(key) = best_match(usable, registry, repository) {
            let credentials =
                self.auths[key]
                    .credentials()
                    .map_err(|reason| RegistryError::AuthFile {
                        path: path.to_owned(),
                        reason: format!("the entry for `{key}`: {reason}"),
                    })?;
            return Ok(Some((
                Some(credentials),
                CredentialSource::AuthFile {
                    path: path.to_owned(),
                    key: key.clone(),
                },
            )));
        }
        if let Some(store) = &self.creds_store {
            return run_helper(store, registry, path, search_path);
        }
        Ok(None)
    }
}

impl AuthEntry {
    fn has_credentials(&self) -> bool {
        let set = |v: &Option<String>| v.as_deref().is_some_and(|v| !v.is_empty());
        set(&self.auth) || set(&self.identitytoken) || set(&self.username)
    }

    fn credentials(&self) -> Result<Credentials, String> {
        if let Some(token) = self.identitytoken.as_deref().filter(|t| !t.is_empty()) {
            return Ok(Credentials::IdentityToken(token.to_owned()));
        }
        if let Some(auth) = self.auth.as_deref().filter(|a| !a.is_empty()) {
            let decoded = decode_base64(auth.trim()).ok_or("`auth` is not base64")?;
            let text = String::from_utf8(decoded).map_err(|_| "`auth` is not UTF-8")?;
            let (username, password) = text
                .split_once(':')
                .ok_or("`auth` is not base64 of `user:password`")?;
            return Ok(Credentials::Basic {
                username: username.to_owned(),
                password: password.to_owned(),
            });
        }
        match (&self.username, &self.password) {
            (Some(username), Some(password)) => Ok(Credentials::Basic {
                username: username.clone(),
                password: password.clone(),
            }),
            _ => Err("it has a `username` without a `password`".to_owned()),
        }
    }
}

/// Standard base64, with or without padding.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    data_encoding::BASE64
        .decode(text.as_bytes())
        .ok()
        .or_else(|| data_encoding::BASE64_NOPAD.decode(text.as_bytes()).ok())
}

/// Docker Hub's other names.
fn canonical_host(host: &str) -> String {
    let host = host.to_ascii_lowercase();
    match host.as_str() {
        "index.docker.io" | DOCKER_HUB_API => DOCKER_HUB.to_owned(),
        _ => host,
    }
}

/// How well `key` matches: `None` when it does not; otherwise more is more specific.
pub(crate) fn key_match(key: &str, registry: &str, repository: &str) -> Option<usize> {
    let (host, namespace) = if let Some(rest) = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
    {
        // Docker's form: a URL, whose path (`/v1/`) is not a namespace.
        (rest.split('/').next().unwrap_or(rest), "")
    } else {
        let key = key.trim_end_matches('/');
        key.split_once('/').unwrap_or((key, ""))
    };
    if canonical_host(host) != canonical_host(registry) {
        return None;
    }
    if namespace.is_empty() {
        return Some(0);
    }
    let inside = repository == namespace
        || repository
            .strip_prefix(namespace)
            .is_some_and(|rest| rest.starts_with('/'));
    inside.then_some(1 + namespace.len())
}

fn best_match<'a>(
    keys: impl Iterator<Item = &'a String>,
    registry: &str,
    repository: &str,
) -> Option<&'a String> {
    keys.filter_map(|key| key_match(key, registry, repository).map(|m| (m, key)))
        .max_by_key(|&(m, _)| m)
        .map(|(_, key)| key)
}

/// What a credential helper answers to `get`.
#[derive(Deserialize)]
struct HelperAnswer {
    #[serde(rename = "Username", default)]
    username: String,
    #[serde(rename = "Secret", default)]
    secret: String,
}

/// The server a helper is asked about: Docker's historical URL for Docker Hub.
fn helper_server(registry: &str) -> &str {
    if canonical_host(registry) == DOCKER_HUB {
        "https://index.docker.io/v1/"
    } else {
        registry
    }
}

/// Runs `docker-credential-<name> get`. `None` when it has no credentials.
fn run_helper(
    name: &str,
    registry: &str,
    config: &Path,
    search_path: Option<&OsString>,
) -> Result<Option<Found>, RegistryError> {
    let helper = format!("docker-credential-{name}");
    let fail = |message: String| RegistryError::CredentialHelper {
        helper: helper.clone(),
        message,
    };
    let search = search_path
        .cloned()
        .or_else(|| std::env::var_os("PATH"))
        .unwrap_or_default();
    let program = std::env::split_paths(&search)
        .map(|dir| dir.join(&helper))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| {
            fail(format!(
                "it is not on PATH (named in `{}`)",
                config.display()
            ))
        })?;
    let mut child = Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| fail(format!("could not run `{}`: {e}", program.display())))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A helper that exits without reading is judged by its answer below.
        let _ = stdin.write_all(helper_server(registry).as_bytes());
    }
    let output = child
        .wait_with_output()
        .map_err(|e| fail(format!("could not run `{}`: {e}", program.display())))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        // docker-credential-helpers' `ErrCredentialsNotFound`.
        if stdout.contains("credentials not found") {
            return Ok(None);
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(fail(format!(
            "`{} get` for `{}` exited with {}: {}",
            program.display(),
            helper_server(registry),
            output.status,
            format!("{} {}", stdout.trim(), stderr.trim()).trim()
        )));
    }
    let answer: HelperAnswer = serde_json::from_slice(&output.stdout)
        .map_err(|e| fail(format!("its answer is not the expected JSON: {e}")))?;
    let credentials = if answer.username == "<token>" {
        Credentials::IdentityToken(answer.secret)
    } else {
        Credentials::Basic {
            username: answer.username,
            password: answer.secret,
        }
    };
    Ok(Some((
        Some(credentials),
        CredentialSource::Helper {
            helper,
            path: config.to_owned(),
        },
    )))
}

/// A `WWW-Authenticate` challenge cairn can answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Challenge {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
        /// Space-separated scopes the registry asks for.
        scope: Option<String>,
    },
}

/// Parses a `WWW-Authenticate` header value: the Bearer challenge if it has one, else
/// Basic; `None` for other schemes or a Bearer challenge without a realm.
pub(crate) fn parse_challenge(header: &str) -> Option<Challenge> {
    let mut challenges: Vec<(String, BTreeMap<String, String>)> = Vec::new();
    let mut rest = header.trim();
    while !rest.is_empty() {
        rest = rest.trim_start_matches([',', ' ', '\t']);
        if rest.is_empty() {
            break;
        }
        let token_end = rest
            .find(|c: char| c == '=' || c == ',' || c.is_whitespace())
            .unwrap_or(rest.len());
        let token = &rest[..token_end];
        if token.is_empty() {
            // A token68 (`abc==`) or stray `=`: nothing cairn reads, up to the next comma.
            rest = rest.find(',').map_or("", |comma| &rest[comma..]);
            continue;
        }
        let after = rest[token_end..].trim_start_matches([' ', '\t']);
        if let Some(value_text) = after.strip_prefix('=')
            && !value_text.starts_with('=')
        {
            // An auth-param of the current challenge.
            let value_text = value_text.trim_start_matches([' ', '\t']);
            let (value, remainder) = if let Some(quoted) = value_text.strip_prefix('"') {
                let mut value = String::new();
                let mut chars = quoted.char_indices();
                let mut end = quoted.len();
                while let Some((i, c)) = chars.next() {
                    match c {
                        '\\' => {
                            if let Some((_, escaped)) = chars.next() {
                                value.push(escaped);
                            }
                        }
                        '"' => {
                            end = i + 1;
                            break;
                        }
                        c => value.push(c),
                    }
                }
                (value, &quoted[end.min(quoted.len())..])
            } else {
                let end = value_text.find(',').unwrap_or(value_text.len());
                (value_text[..end].trim().to_owned(), &value_text[end..])
            };
            if let Some((_, params)) = challenges.last_mut() {
                params.insert(token.to_ascii_lowercase(), value);
            }
            rest = remainder;
        } else {
            // A new scheme (token68 forms are not used by registries).
            challenges.push((token.to_ascii_lowercase(), BTreeMap::new()));
            rest = after;
        }
    }
    let bearer = challenges.iter().find(|(scheme, _)| scheme == "bearer");
    if let Some((_, params)) = bearer
        && let Some(realm) = params.get("realm")
    {
        return Some(Challenge::Bearer {
            realm: realm.clone(),
            service: params.get("service").cloned(),
            scope: params.get("scope").cloned(),
        });
    }
    challenges
        .iter()
        .any(|(scheme, _)| scheme == "basic")
        .then_some(Challenge::Basic)
}

/// A token endpoint's answer (distribution's token spec: `token`, or OAuth2's
/// `access_token`).
#[derive(Debug, Deserialize)]
pub(crate) struct TokenAnswer {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
}

impl TokenAnswer {
    pub(crate) fn into_token(self) -> Option<String> {
        self.token
            .filter(|t| !t.is_empty())
            .or(self.access_token.filter(|t| !t.is_empty()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(username: &str, password: &str) -> Credentials {
        Credentials::Basic {
            username: username.to_owned(),
            password: password.to_owned(),
        }
    }

    #[test]
    fn challenges() {
        assert_eq!(
            parse_challenge(
                r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/debian:pull""#
            ),
            Some(Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
                scope: Some("repository:library/debian:pull".into()),
            })
        );
        // Spaces, unquoted values, escapes, case, several scopes.
        assert_eq!(
            parse_challenge(
                r#"bearer  realm = "http://127.0.0.1:1/t\"x" , service=reg, scope="repository:a:pull,push repository:b:pull""#
            ),
            Some(Challenge::Bearer {
                realm: "http://127.0.0.1:1/t\"x".into(),
                service: Some("reg".into()),
                scope: Some("repository:a:pull,push repository:b:pull".into()),
            })
        );
        assert_eq!(
            parse_challenge(r#"Bearer realm="https://ghcr.io/token""#),
            Some(Challenge::Bearer {
                realm: "https://ghcr.io/token".into(),
                service: None,
                scope: None,
            })
        );
        assert_eq!(
            parse_challenge(r#"Basic realm="Registry Realm""#),
            Some(Challenge::Basic)
        );
        assert_eq!(parse_challenge("Basic"), Some(Challenge::Basic));
        // Two challenges in one header: Bearer is preferred.
        assert_eq!(
            parse_challenge(r#"Basic realm="x", Bearer realm="https://r/t",service="s""#),
            Some(Challenge::Bearer {
                realm: "https://r/t".into(),
                service: Some("s".into()),
                scope: None,
            })
        );
        assert_eq!(parse_challenge(r#"Bearer service="s""#), None);
        assert_eq!(parse_challenge(r"Negotiate abc=="), None);
        assert_eq!(parse_challenge(""), None);
    }

    #[test]
    fn token_answers() {
        let parse = |json: &str| {
            serde_json::from_str::<TokenAnswer>(json)
                .unwrap()
                .into_token()
        };
        assert_eq!(parse(r#"{"token":"a","expires_in":300}"#), Some("a".into()));
        assert_eq!(parse(r#"{"access_token":"b"}"#), Some("b".into()));
        assert_eq!(
            parse(r#"{"token":"","access_token":"c"}"#),
            Some("c".into())
        );
        assert_eq!(parse(r"{}"), None);
    }

    #[test]
    fn creds_argument() {
        assert_eq!(
            Credentials::from_creds_arg("me:pa:ss").unwrap(),
            basic("me", "pa:ss")
        );
        assert_eq!(Credentials::from_creds_arg("me:").unwrap(), basic("me", ""));
        assert!(Credentials::from_creds_arg("me").is_err());
        assert!(Credentials::from_creds_arg(":pw").is_err());
        let shown = format!("{:?}", basic("me", "hunter2"));
        assert!(
            !shown.contains("hunter2") && shown.contains("me"),
            "{shown}"
        );
        let shown = format!("{:?}", Credentials::IdentityToken("tok".into()));
        assert!(!shown.contains("tok\""), "{shown}");
    }

    #[test]
    fn auth_file_forms() {
        let auth = data_encoding::BASE64.encode(b"alice:s3:cret");
        let nopad = data_encoding::BASE64_NOPAD.encode(b"bob:pw1");
        let json = format!(
            r#"{{"auths": {{
                "https://index.docker.io/v1/": {{"auth": "{auth}"}},
                "localhost:5000": {{"auth": "{nopad}"}},
                "http://127.0.0.1:5001/v2/": {{"username": "carol", "password": "pw2"}},
                "quay.io": {{"auth": "{auth}"}},
                "quay.io/team": {{"identitytoken": "refresh"}},
                "empty.io": {{}},
                "bad.io": {{"auth": "!!!"}}
            }}}}"#
        );
        let file = AuthFile::parse(json.as_bytes()).unwrap();
        let path = Path::new("/x/auth.json");
        let find = |registry: &str, repository: &str| {
            file.lookup(registry, repository, path, None)
                .unwrap()
                .map(|(c, _)| c.unwrap())
        };
        assert_eq!(
            find("docker.io", "library/debian"),
            Some(basic("alice", "s3:cret"))
        );
        assert_eq!(find("localhost:5000", "a"), Some(basic("bob", "pw1")));
        assert_eq!(find("127.0.0.1:5001", "a"), Some(basic("carol", "pw2")));
        assert_eq!(
            find("quay.io", "other/app"),
            Some(basic("alice", "s3:cret"))
        );
        assert_eq!(
            find("quay.io", "team/app"),
            Some(Credentials::IdentityToken("refresh".into()))
        );
        assert_eq!(
            find("quay.io", "teamster/app"),
            Some(basic("alice", "s3:cret"))
        );
        assert_eq!(find("localhost:5001", "a"), None);
        assert_eq!(find("empty.io", "a"), None);
        assert!(matches!(
            file.lookup("bad.io", "a", path, None),
            Err(RegistryError::AuthFile { .. })
        ));
        let (_, source) = file
            .lookup("localhost:5000", "a", path, None)
            .unwrap()
            .unwrap();
        assert_eq!(
            source,
            CredentialSource::AuthFile {
                path: path.to_owned(),
                key: "localhost:5000".into()
            }
        );
        assert!(!source.to_string().contains("pw1"));
        assert!(AuthFile::parse(b"{not json").is_err());
        assert!(AuthFile::parse(b"{}").is_ok());
    }

    #[test]
    fn keys() {
        assert_eq!(key_match("docker.io", "docker.io", "library/x"), Some(0));
        assert_eq!(
            key_match("index.docker.io", "docker.io", "library/x"),
            Some(0)
        );
        assert_eq!(
            key_match("registry-1.docker.io", "docker.io", "a/b"),
            Some(0)
        );
        assert_eq!(
            key_match("https://index.docker.io/v1/", "docker.io", "a/b"),
            Some(0)
        );
        assert_eq!(key_match("HTTPS://", "docker.io", "a"), None);
        assert_eq!(key_match("Localhost:5000", "localhost:5000", "a"), Some(0));
        assert_eq!(key_match("localhost:5000", "localhost:5001", "a"), None);
        assert_eq!(key_match("localhost", "localhost:5000", "a"), None);
        assert!(key_match("ghcr.io/o/r", "ghcr.io", "o/r/x").unwrap() > 1);
        assert_eq!(key_match("ghcr.io/o/r", "ghcr.io", "o/rx"), None);
    }

    #[test]
    fn auth_file_locations() {
        let env = AuthEnv {
            registry_auth_file: None,
            xdg_runtime_dir: Some("/run/user/1".into()),
            docker_config: None,
            home: Some("/home/u".into()),
            path: None,
        };
        assert_eq!(
            env.auth_files(),
            [
                PathBuf::from("/run/user/1/containers/auth.json"),
                PathBuf::from("/home/u/.docker/config.json")
            ]
        );
        let env = AuthEnv {
            docker_config: Some("/cfg".into()),
            ..env
        };
        assert_eq!(env.auth_files()[1], PathBuf::from("/cfg/config.json"));
        let env = AuthEnv {
            registry_auth_file: Some("/a.json".into()),
            ..env
        };
        assert_eq!(env.auth_files(), [PathBuf::from("/a.json")]);
        assert!(AuthEnv::empty().auth_files().is_empty());
    }

    #[test]
    fn lookup_order() {
        let dir = tempfile::tempdir().unwrap();
        let xdg = dir.path().join("xdg");
        let docker = dir.path().join("docker");
        fs_err::create_dir_all(xdg.join("containers")).unwrap();
        fs_err::create_dir_all(&docker).unwrap();
        let entry = |user: &str| {
            format!(
                r#"{{"auths":{{"r.io":{{"auth":"{}"}}}}}}"#,
                data_encoding::BASE64.encode(format!("{user}:pw").as_bytes())
            )
        };
        fs_err::write(xdg.join("containers/auth.json"), r#"{"auths":{}}"#).unwrap();
        fs_err::write(docker.join("config.json"), entry("docker")).unwrap();
        let mut options = CredentialOptions {
            explicit: None,
            auth_file: None,
            env: AuthEnv {
                registry_auth_file: None,
                xdg_runtime_dir: Some(xdg.clone()),
                docker_config: Some(docker.clone()),
                home: None,
                path: None,
            },
        };
        // The podman file has nothing for r.io: Docker's is next.
        let (found, source) = find_credentials("r.io", "a", &options).unwrap();
        assert_eq!(found, Some(basic("docker", "pw")));
        assert!(
            matches!(source, CredentialSource::AuthFile { path, .. } if path == docker.join("config.json"))
        );
        fs_err::write(xdg.join("containers/auth.json"), entry("podman")).unwrap();
        assert_eq!(
            find_credentials("r.io", "a", &options).unwrap().0,
            Some(basic("podman", "pw"))
        );
        // An auth file named explicitly is the only one read.
        let only = dir.path().join("only.json");
        fs_err::write(&only, r#"{"auths":{}}"#).unwrap();
        options.env.registry_auth_file = Some(only.clone());
        assert_eq!(
            find_credentials("r.io", "a", &options).unwrap(),
            (None, CredentialSource::Anonymous)
        );
        fs_err::write(&only, entry("only")).unwrap();
        assert_eq!(
            find_credentials("r.io", "a", &options).unwrap().0,
            Some(basic("only", "pw"))
        );
        // Explicit credentials win over everything.
        options.explicit = Some(basic("x", "y"));
        assert_eq!(
            find_credentials("r.io", "a", &options).unwrap(),
            (Some(basic("x", "y")), CredentialSource::Explicit)
        );
        // A broken file is an error naming it.
        options.explicit = None;
        fs_err::write(&only, "{").unwrap();
        let error = find_credentials("r.io", "a", &options).unwrap_err();
        assert!(error.to_string().contains("only.json"), "{error}");
    }
}
