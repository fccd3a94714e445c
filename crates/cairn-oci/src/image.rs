//! The image's JSON documents (OCI image spec v1.1): config, manifest and index, each
//! written as canonical JSON so equal inputs give equal digests.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::{Value, json};

use crate::digest::Digest;
use crate::json::to_canonical;

/// The media types cairn writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaType {
    Index,
    Manifest,
    Config,
}

impl MediaType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Index => "application/vnd.oci.image.index.v1+json",
            Self::Manifest => "application/vnd.oci.image.manifest.v1+json",
            Self::Config => "application/vnd.oci.image.config.v1+json",
        }
    }
}

/// An OS and architecture (`GOARCH` names: `amd64`, `arm64`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Platform {
    pub architecture: String,
    pub os: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

/// A content descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    #[serde(serialize_with = "as_display")]
    pub digest: Digest,
    pub size: u64,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
}

fn as_display<S: serde::Serializer>(digest: &Digest, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(digest)
}

impl Descriptor {
    /// A descriptor of `bytes` (a JSON document cairn wrote).
    pub fn of(media_type: MediaType, bytes: &[u8]) -> Self {
        Self {
            media_type: media_type.as_str().to_owned(),
            digest: Digest::of(bytes),
            size: bytes.len() as u64,
            annotations: BTreeMap::new(),
            platform: None,
        }
    }
}

/// What the image runs and how (the config's `config` object).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImageConfig {
    pub architecture: String,
    pub os: String,
    /// A name or `uid[:gid]`.
    pub user: Option<String>,
    /// `NAME=value`, in order.
    pub env: Vec<String>,
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub working_dir: Option<String>,
    /// `8000/tcp`, `53/udp`.
    pub exposed_ports: BTreeSet<String>,
    pub volumes: BTreeSet<String>,
    pub labels: BTreeMap<String, String>,
    pub stop_signal: Option<String>,
}

/// One history entry: what a layer holds (or a step that made none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct History {
    pub created_by: String,
    pub comment: Option<String>,
    pub empty_layer: bool,
}

/// `seconds` since the epoch as RFC 3339 UTC (`2025-11-01T00:00:00Z`).
pub fn rfc3339(seconds: u64) -> String {
    let (days, time) = (seconds / 86_400, seconds % 86_400);
    // Howard Hinnant's `civil_from_days`, for days since 1970-01-01.
    let z = days + 719_468;
    let (era, doe) = (z / 146_097, z % 146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        time / 3600,
        time / 60 % 60,
        time % 60
    )
}

fn set(items: &BTreeSet<String>) -> Value {
    Value::Object(items.iter().map(|k| (k.clone(), json!({}))).collect())
}

impl ImageConfig {
    /// The config document for layers `diff_ids`, described by `history`, dated
    /// `created` (seconds since the epoch: `SOURCE_DATE_EPOCH` or a fixed default).
    pub fn to_json(&self, diff_ids: &[Digest], history: &[History], created: u64) -> Vec<u8> {
        let created = rfc3339(created);
        let mut config = serde_json::Map::new();
        let mut put = |key: &str, value: Value| {
            config.insert(key.to_owned(), value);
        };
        if let Some(user) = &self.user {
            put("User", json!(user));
        }
        if !self.env.is_empty() {
            put("Env", json!(self.env));
        }
        if let Some(entrypoint) = &self.entrypoint {
            put("Entrypoint", json!(entrypoint));
        }
        if let Some(cmd) = &self.cmd {
            put("Cmd", json!(cmd));
        }
        if let Some(dir) = &self.working_dir {
            put("WorkingDir", json!(dir));
        }
        if !self.exposed_ports.is_empty() {
            put("ExposedPorts", set(&self.exposed_ports));
        }
        if !self.volumes.is_empty() {
            put("Volumes", set(&self.volumes));
        }
        if !self.labels.is_empty() {
            put("Labels", json!(self.labels));
        }
        if let Some(signal) = &self.stop_signal {
            put("StopSignal", json!(signal));
        }
        let history: Vec<Value> = history
            .iter()
            .map(|h| {
                let mut entry = json!({ "created": created, "created_by": h.created_by });
                if let Some(comment) = &h.comment {
                    entry["comment"] = json!(comment);
                }
                if h.empty_layer {
                    entry["empty_layer"] = json!(true);
                }
                entry
            })
            .collect();
        to_canonical(&json!({
            "architecture": self.architecture,
            "os": self.os,
            "created": created,
            "config": Value::Object(config),
            "rootfs": {
                "type": "layers",
                "diff_ids": diff_ids.iter().map(ToString::to_string).collect::<Vec<_>>(),
            },
            "history": history,
        }))
    }
}

/// The manifest document.
pub fn manifest_json(
    config: &Descriptor,
    layers: &[Descriptor],
    annotations: &BTreeMap<String, String>,
) -> Vec<u8> {
    let mut manifest = json!({
        "schemaVersion": 2,
        "mediaType": MediaType::Manifest.as_str(),
        "config": config,
        "layers": layers,
    });
    if !annotations.is_empty() {
        manifest["annotations"] = json!(annotations);
    }
    to_canonical(&manifest)
}

/// The index document of an image layout.
pub fn index_json(manifests: &[Descriptor]) -> Vec<u8> {
    to_canonical(&json!({
        "schemaVersion": 2,
        "mediaType": MediaType::Index.as_str(),
        "manifests": manifests,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_761_955_200), "2025-11-01T00:00:00Z");
        assert_eq!(rfc3339(4_102_444_799), "2099-12-31T23:59:59Z");
    }

    #[test]
    fn config_is_canonical_and_complete() {
        let config = ImageConfig {
            architecture: "amd64".into(),
            os: "linux".into(),
            user: Some("65532:65532".into()),
            env: vec!["PATH=/usr/bin".into()],
            entrypoint: Some(vec!["/usr/bin/python3".into()]),
            exposed_ports: ["8000/tcp".to_owned()].into(),
            ..ImageConfig::default()
        };
        let diff = Digest([7; 32]);
        let history = [History {
            created_by: "cairn: python3 3.13.5-1".into(),
            comment: None,
            empty_layer: false,
        }];
        let bytes = config.to_json(&[diff], &history, 0);
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.starts_with(r#"{"architecture":"amd64","config":{"Entrypoint":["/usr/bin/python3"],"Env":["PATH=/usr/bin"],"ExposedPorts":{"8000/tcp":{}},"User":"65532:65532"},"created":"1970-01-01T00:00:00Z""#), "{text}");
        assert!(
            text.contains(&format!(r#""diff_ids":["{diff}"]"#)),
            "{text}"
        );
        assert_eq!(config.to_json(&[diff], &history, 0), bytes);
    }
}
