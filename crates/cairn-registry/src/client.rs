//! The HTTP side: one `reqwest` client over a small tokio runtime, and a [`Session`] per
//! push or pull that answers the registry's challenges (Basic, or Bearer tokens fetched
//! per scope and cached) and retries what is worth retrying.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use cairn_fetch::http::{Retry, error_chain};
use reqwest::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use reqwest::{RequestBuilder, Response, StatusCode};
use url::Url;

use crate::auth::{
    Challenge, CredentialOptions, CredentialSource, Credentials, TokenAnswer, find_credentials,
    parse_challenge,
};
use crate::error::{RegistryError, boxed_source};
use crate::reference::Reference;

/// How a [`RegistryClient`] behaves.
#[derive(Debug, Clone)]
pub struct RegistryOptions {
    pub credentials: CredentialOptions,
    /// Plain HTTP for every registry (loopback registries get it anyway).
    pub insecure: bool,
    /// At most this many blobs moving at once.
    pub connections: usize,
    /// A blob larger than this goes up in `PATCH`es of this size; smaller ones in one
    /// `PUT`.
    pub chunk_size: u64,
    /// Attempts after the first one for a failure worth retrying (dropped connections,
    /// `408`, `429`, `5xx`).
    pub retries: u32,
    /// The wait before the first retry; doubled for each further one.
    pub backoff: Duration,
    pub connect_timeout: Duration,
    /// The longest silence while waiting for or reading a response.
    pub read_timeout: Duration,
}

/// The default chunk size of uploads: 16 MiB.
pub const DEFAULT_CHUNK_SIZE: u64 = 16 << 20;

impl Default for RegistryOptions {
    fn default() -> Self {
        Self {
            credentials: CredentialOptions::default(),
            insecure: false,
            connections: 4,
            chunk_size: DEFAULT_CHUNK_SIZE,
            retries: 4,
            backoff: Duration::from_millis(250),
            connect_timeout: Duration::from_secs(15),
            // Long: a registry may answer the `PUT` that completes a large blob only
            // after moving it in its storage (a copy, in S3).
            read_timeout: Duration::from_mins(5),
        }
    }
}

/// A blocking client for OCI registries (the OCI distribution spec, v1.1).
pub struct RegistryClient {
    pub(crate) runtime: tokio::runtime::Runtime,
    pub(crate) http: reqwest::Client,
    pub(crate) options: RegistryOptions,
}

impl std::fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryClient")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl RegistryClient {
    pub fn new(options: RegistryOptions) -> Result<Self, RegistryError> {
        let http = cairn_fetch::http::client(options.connect_timeout, options.read_timeout)
            .map_err(RegistryError::Client)?;
        let runtime =
            cairn_fetch::http::runtime("cairn-registry").map_err(RegistryError::Client)?;
        Ok(Self {
            runtime,
            http,
            options,
        })
    }

    pub fn options(&self) -> &RegistryOptions {
        &self.options
    }

    /// A session for `reference`'s registry, with its credentials looked up (which may
    /// run a credential helper; so this is not async).
    pub(crate) fn session(
        &self,
        reference: &Reference,
        scopes: Vec<String>,
    ) -> Result<Arc<Session>, RegistryError> {
        let (credentials, source) = find_credentials(
            reference.registry(),
            reference.repository(),
            &self.options.credentials,
        )?;
        let scheme = if self.options.insecure || reference.is_loopback() {
            "http"
        } else {
            "https"
        };
        let base = Url::parse(&format!("{scheme}://{}/", reference.api_host())).map_err(|e| {
            RegistryError::BadReference(crate::reference::BadReference {
                reference: reference.to_string(),
                reason: if e == url::ParseError::InvalidPort {
                    "the port is not a number below 65536"
                } else {
                    "the registry is not a valid host"
                },
            })
        })?;
        Ok(Arc::new(Session {
            http: self.http.clone(),
            base,
            registry: reference.registry().to_owned(),
            credentials,
            source,
            scopes,
            retries: self.options.retries,
            backoff: self.options.backoff,
            auth: tokio::sync::Mutex::new(AuthState::default()),
        }))
    }
}

#[derive(Debug, Default)]
struct AuthState {
    challenge: Option<Challenge>,
    /// Bearer tokens by their scopes (space-joined).
    tokens: HashMap<String, String>,
    /// The token realm refused the credentials (with these messages): asking again
    /// would only be refused again.
    refused: Option<Vec<String>>,
}

/// One registry, one set of credentials, the scopes an operation needs.
pub(crate) struct Session {
    pub(crate) http: reqwest::Client,
    base: Url,
    /// As the reference names it, for messages.
    pub(crate) registry: String,
    credentials: Option<Credentials>,
    pub(crate) source: CredentialSource,
    /// What every request of this session asks a token for.
    scopes: Vec<String>,
    pub(crate) retries: u32,
    pub(crate) backoff: Duration,
    auth: tokio::sync::Mutex<AuthState>,
}

/// The largest error body or token answer read.
const SMALL_BODY: u64 = 1 << 20;

impl Session {
    /// `path` (relative, `v2/…`) on the registry.
    pub(crate) fn url(&self, path: &str) -> Url {
        self.base
            .join(path)
            .expect("a path below a valid base URL is a valid URL")
    }

    pub(crate) fn unreachable(&self, url: &Url, error: &reqwest::Error) -> RegistryError {
        RegistryError::Unreachable {
            registry: self.registry.clone(),
            url: url.to_string(),
            attempts: 1,
            message: error_chain(error),
        }
    }

    /// `GET /v2/`: is the registry there, and what does it want (its challenge)?
    pub(crate) async fn ping(&self) -> Result<(), RegistryError> {
        let url = self.url("v2/");
        let response = self
            .retrying(|| async {
                self.http
                    .get(url.clone())
                    .send()
                    .await
                    .map_err(|e| self.unreachable(&url, &e))
            })
            .await?;
        match response.status() {
            status if status.is_success() => Ok(()),
            StatusCode::UNAUTHORIZED => {
                let challenge = response
                    .headers()
                    .get(WWW_AUTHENTICATE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(parse_challenge);
                self.auth.lock().await.challenge = challenge;
                Ok(())
            }
            StatusCode::NOT_FOUND => Err(RegistryError::BadResponse {
                registry: self.registry.clone(),
                what: format!("404 Not Found for `{url}`"),
                message: "this is not an OCI registry (it has no `/v2/` API)".to_owned(),
            }),
            _ => Err(self.error(response, format!("`{url}`")).await),
        }
    }

    /// Sends `make()`'s request with the credentials the registry asked for; on a `401`,
    /// learns the challenge (and the scopes it names), gets a fresh token and sends it
    /// once more. The response is returned whatever its status.
    pub(crate) async fn send<F>(&self, make: F) -> Result<Response, RegistryError>
    where
        F: Fn() -> RequestBuilder + Send + Sync,
    {
        let mut scopes = self.scopes.clone();
        let mut renewed = false;
        loop {
            let authorization = self.authorization(&scopes).await?;
            let mut request = make()
                .build()
                .map_err(|e| RegistryError::Client(error_chain(&e)))?;
            // Credentials go only to the registry itself: an upload `Location` may
            // name another host (a storage backend), which must not see them.
            if let Some(value) = &authorization
                && request.url().origin() == self.base.origin()
            {
                let value = reqwest::header::HeaderValue::from_str(value)
                    .map_err(|e| RegistryError::Client(e.to_string()))?;
                request.headers_mut().insert(AUTHORIZATION, value);
            }
            let url = request.url().clone();
            let response = self
                .http
                .execute(request)
                .await
                .map_err(|e| self.unreachable(&url, &e))?;
            if response.status() != StatusCode::UNAUTHORIZED || renewed {
                return Ok(response);
            }
            let Some(challenge) = response
                .headers()
                .get(WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .and_then(parse_challenge)
            else {
                return Ok(response);
            };
            let mut state = self.auth.lock().await;
            match &challenge {
                Challenge::Basic => {
                    let known = state.challenge == Some(Challenge::Basic);
                    state.challenge = Some(Challenge::Basic);
                    if known || !matches!(self.credentials, Some(Credentials::Basic { .. })) {
                        // What could be sent was sent.
                        return Ok(response);
                    }
                }
                Challenge::Bearer { scope, .. } => {
                    for wanted in scope.iter().flat_map(|s| s.split_whitespace()) {
                        if !scopes.iter().any(|s| s == wanted) {
                            scopes.push(wanted.to_owned());
                        }
                    }
                    // Expired, or for too little: either way, a new one.
                    state.tokens.remove(&scopes.join(" "));
                    state.challenge = Some(challenge.clone());
                }
            }
            renewed = true;
        }
    }

    /// [`Session::send`] with retries of dropped connections, `408`, `429` and `5xx`.
    pub(crate) async fn send_retrying<F>(&self, make: F) -> Result<Response, RegistryError>
    where
        F: Fn() -> RequestBuilder + Send + Sync,
    {
        self.retrying(|| self.send(&make)).await
    }

    /// Runs `attempt` until it succeeds, fails for good, or the retries are spent.
    pub(crate) async fn retrying<F, Fut>(&self, mut attempt: F) -> Result<Response, RegistryError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Response, RegistryError>>,
    {
        let retry = Retry {
            retries: self.retries,
            backoff: self.backoff,
        };
        let (result, attempts) = retry
            .run(&mut attempt, |result, _| match result {
                Err(RegistryError::Unreachable { .. }) => true,
                Ok(response) => retryable_status(response.status()),
                Err(_) => false,
            })
            .await;
        result.map_err(|e| with_attempts(e, attempts))
    }

    /// The `Authorization` header for a request needing `scopes`, fetching a token
    /// when the registry wants one and none is cached.
    async fn authorization(&self, scopes: &[String]) -> Result<Option<String>, RegistryError> {
        let mut state = self.auth.lock().await;
        match state.challenge.clone() {
            None => Ok(None),
            Some(Challenge::Basic) => Ok(match &self.credentials {
                Some(Credentials::Basic { username, password }) => Some(basic(username, password)),
                _ => None,
            }),
            Some(Challenge::Bearer { realm, service, .. }) => {
                let key = scopes.join(" ");
                if let Some(token) = state.tokens.get(&key) {
                    return Ok(Some(format!("Bearer {token}")));
                }
                if let Some(messages) = &state.refused {
                    return Err(RegistryError::Unauthorized {
                        registry: self.registry.clone(),
                        credentials: boxed_source(&self.source),
                        messages: messages.clone(),
                    });
                }
                let token = match self.fetch_token(&realm, service.as_deref(), scopes).await {
                    Ok(token) => token,
                    Err(error) => {
                        if let RegistryError::Unauthorized { messages, .. } = &error {
                            state.refused = Some(messages.clone());
                        }
                        return Err(error);
                    }
                };
                state.tokens.insert(key, token.clone());
                Ok(Some(format!("Bearer {token}")))
            }
        }
    }

    /// Asks the token realm for a token (distribution's token spec; with an identity
    /// token, the OAuth2 refresh-token grant).
    async fn fetch_token(
        &self,
        realm: &str,
        service: Option<&str>,
        scopes: &[String],
    ) -> Result<String, RegistryError> {
        let token_error = |message: String| RegistryError::Token {
            registry: self.registry.clone(),
            realm: realm.to_owned(),
            credentials: boxed_source(&self.source),
            message,
        };
        let mut url =
            Url::parse(realm).map_err(|e| token_error(format!("the realm is not a URL: {e}")))?;
        let response = self
            .retrying(|| {
                let request = match &self.credentials {
                    Some(Credentials::IdentityToken(refresh)) => {
                        let mut form = url::form_urlencoded::Serializer::new(String::new());
                        form.append_pair("grant_type", "refresh_token")
                            .append_pair("refresh_token", refresh)
                            .append_pair("client_id", "cairn")
                            .append_pair("scope", &scopes.join(" "));
                        if let Some(service) = service {
                            form.append_pair("service", service);
                        }
                        self.http
                            .post(url.clone())
                            .header(
                                reqwest::header::CONTENT_TYPE,
                                "application/x-www-form-urlencoded",
                            )
                            .body(form.finish())
                    }
                    credentials => {
                        {
                            let mut query = url.query_pairs_mut();
                            query.clear();
                            if let Some(service) = service {
                                query.append_pair("service", service);
                            }
                            for scope in scopes {
                                query.append_pair("scope", scope);
                            }
                            if let Some(Credentials::Basic { username, .. }) = credentials {
                                query.append_pair("account", username);
                            }
                        }
                        let mut request = self.http.get(url.clone());
                        if let Some(Credentials::Basic { username, password }) = credentials {
                            request = request.header(AUTHORIZATION, basic(username, password));
                        }
                        request
                    }
                };
                let shown = url.clone();
                async move {
                    request
                        .send()
                        .await
                        .map_err(|e| self.unreachable(&shown, &e))
                }
            })
            .await?;
        let status = response.status();
        let body = read_small(response).await.unwrap_or_default();
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(RegistryError::Unauthorized {
                registry: self.registry.clone(),
                credentials: boxed_source(&self.source),
                messages: error_messages(&body),
            });
        }
        if !status.is_success() {
            let mut message = format!("it answered {status}");
            for detail in error_messages(&body) {
                message.push_str(": ");
                message.push_str(&detail);
            }
            return Err(token_error(message));
        }
        serde_json::from_slice::<TokenAnswer>(&body)
            .ok()
            .and_then(TokenAnswer::into_token)
            .ok_or_else(|| token_error("its answer has no `token` or `access_token`".to_owned()))
    }

    /// The error for a response that is not what was asked for: its status, and the
    /// registry's `errors[].message`s.
    pub(crate) async fn error(&self, response: Response, what: String) -> RegistryError {
        let status = response.status();
        let repository = repository_of(response.url().path());
        let body = read_small(response).await.unwrap_or_default();
        let messages = error_messages(&body);
        match status {
            StatusCode::UNAUTHORIZED => RegistryError::Unauthorized {
                registry: self.registry.clone(),
                credentials: boxed_source(&self.source),
                messages,
            },
            StatusCode::FORBIDDEN => RegistryError::Denied {
                registry: self.registry.clone(),
                repository,
                credentials: boxed_source(&self.source),
                messages,
            },
            StatusCode::NOT_FOUND => RegistryError::NotFound {
                registry: self.registry.clone(),
                what,
                messages,
            },
            _ => RegistryError::Refused {
                registry: self.registry.clone(),
                what,
                status: status.as_u16(),
                messages,
            },
        }
    }
}

fn basic(username: &str, password: &str) -> String {
    format!(
        "Basic {}",
        data_encoding::BASE64.encode(format!("{username}:{password}").as_bytes())
    )
}

/// The repository of a `/v2/<repository>/{blobs,manifests,tags}/…` path.
fn repository_of(path: &str) -> String {
    let inner = path.strip_prefix("/v2/").unwrap_or(path);
    ["/blobs/", "/manifests/", "/tags/"]
        .iter()
        .filter_map(|marker| inner.find(marker))
        .min()
        .map_or_else(|| inner.to_owned(), |end| inner[..end].to_owned())
}

pub(crate) fn retryable_status(status: StatusCode) -> bool {
    cairn_fetch::http::retryable_status(status.as_u16())
}

pub(crate) fn with_attempts(mut error: RegistryError, n: u32) -> RegistryError {
    if let RegistryError::Unreachable { attempts, .. } = &mut error {
        *attempts = n;
    }
    error
}

/// Reads at most [`SMALL_BODY`] bytes of a body.
pub(crate) async fn read_small(mut response: Response) -> Result<Vec<u8>, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        body.extend_from_slice(&chunk);
        if body.len() as u64 >= SMALL_BODY {
            break;
        }
    }
    Ok(body)
}

/// The registry's error document (`{"errors":[{"code","message","detail"}]}`) as lines
/// `CODE: message`; a body that is not one, shortened.
pub(crate) fn error_messages(body: &[u8]) -> Vec<String> {
    #[derive(serde::Deserialize)]
    struct Document {
        errors: Vec<Entry>,
    }
    #[derive(serde::Deserialize)]
    struct Entry {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
        #[serde(default)]
        detail: serde_json::Value,
    }
    if let Ok(document) = serde_json::from_slice::<Document>(body) {
        return document
            .errors
            .into_iter()
            .map(|e| {
                let mut line = match (e.code.is_empty(), e.message.is_empty()) {
                    (false, false) => format!("{}: {}", e.code, e.message),
                    (true, _) => e.message,
                    (false, true) => e.code,
                };
                match e.detail {
                    serde_json::Value::String(d) if !d.is_empty() => {
                        let _ = write!(line, " ({d})");
                    }
                    serde_json::Value::Null => {}
                    serde_json::Value::Object(o) if o.is_empty() => {}
                    other => {
                        let text = other.to_string();
                        if text.len() <= 200 {
                            let _ = write!(line, " ({text})");
                        }
                    }
                }
                line
            })
            .collect();
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        Vec::new()
    } else {
        vec![text.chars().take(300).collect()]
    }
}

/// An I/O error naming its path.
pub(crate) fn io_error(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> RegistryError {
    let path = path.into();
    move |source| RegistryError::Io { path, source }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_error_documents() {
        assert_eq!(
            error_messages(
                br#"{"errors":[{"code":"MANIFEST_INVALID","message":"manifest invalid","detail":{}},{"code":"NAME_UNKNOWN","message":"repository name not known to registry","detail":{"name":"x"}}]}"#
            ),
            [
                "MANIFEST_INVALID: manifest invalid",
                r#"NAME_UNKNOWN: repository name not known to registry ({"name":"x"})"#
            ]
        );
        assert_eq!(
            error_messages(br#"{"errors":[{"code":"DENIED","message":"","detail":"no"}]}"#),
            ["DENIED (no)"]
        );
        assert_eq!(error_messages(b"  plain text\n"), ["plain text"]);
        assert!(error_messages(b"").is_empty());
    }

    #[test]
    fn plain_http_only_for_loopback_or_when_insecure() {
        let client = |insecure| {
            RegistryClient::new(RegistryOptions {
                credentials: CredentialOptions::anonymous(),
                insecure,
                ..RegistryOptions::default()
            })
            .unwrap()
        };
        let base = |client: &RegistryClient, reference: &str| {
            client
                .session(&reference.parse().unwrap(), Vec::new())
                .unwrap()
                .base
                .to_string()
        };
        let secure = client(false);
        assert_eq!(base(&secure, "localhost:5000/a"), "http://localhost:5000/");
        assert_eq!(base(&secure, "127.0.0.1:5000/a"), "http://127.0.0.1:5000/");
        assert_eq!(base(&secure, "[::1]:5000/a"), "http://[::1]:5000/");
        assert_eq!(
            base(&secure, "registry.example:5000/a"),
            "https://registry.example:5000/"
        );
        assert_eq!(base(&secure, "debian"), "https://registry-1.docker.io/");
        assert_eq!(
            base(&client(true), "registry.example/a"),
            "http://registry.example/"
        );
        let error = secure
            .session(&"localhost:99999/a".parse().unwrap(), Vec::new())
            .err()
            .unwrap();
        assert!(error.to_string().contains("port"), "{error}");
    }

    #[test]
    fn repositories_of_paths() {
        assert_eq!(repository_of("/v2/a/b/blobs/sha256:00"), "a/b");
        assert_eq!(repository_of("/v2/a/manifests/v1"), "a");
        assert_eq!(repository_of("/v2/a/blobs/uploads/x"), "a");
        assert_eq!(repository_of("/v2/"), "");
    }
}
