//! The user's configuration file: `$CAIRN_CONFIG`, else
//! `$XDG_CONFIG_HOME/cairn/config.toml`, else `~/.config/cairn/config.toml`. A missing
//! file is an empty configuration.
//!
//! ```toml
//! substituters = ["file:///var/cache/cairn", "https://cache.example.org"]
//! trusted-keys = ["cache.example.org-1:base64…"]
//! ```

use std::path::PathBuf;

use anyhow::{Context, Result};
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct Config {
    /// Binary caches asked, in order, for objects the store lacks.
    #[serde(default)]
    pub(crate) substituters: Vec<String>,
    /// Public keys whose signatures on cached objects are trusted.
    #[serde(default)]
    pub(crate) trusted_keys: Vec<String>,
}

fn path() -> Option<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(path) = var("CAIRN_CONFIG") {
        return Some(PathBuf::from(path));
    }
    if let Some(dir) = var("XDG_CONFIG_HOME") {
        return Some(PathBuf::from(dir).join("cairn/config.toml"));
    }
    var("HOME").map(|home| PathBuf::from(home).join(".config/cairn/config.toml"))
}

impl Config {
    pub(crate) fn load() -> Result<Self> {
        let Some(path) = path() else {
            return Ok(Self::default());
        };
        let text = match fs_err::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(e.into()),
        };
        toml::from_str(&text).with_context(|| format!("cannot read `{}`", path.display()))
    }
}
