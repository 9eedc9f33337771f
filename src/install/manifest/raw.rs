//! The manifest's JSON shape (v1): every field, its default, and unknown fields rejected.
//! Nothing here is checked yet: `validate` turns a [`RawManifest`] into a `Plan`.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{Filesystem, OnFailure, RestartMode};
use crate::install::modes::DEFAULT_FILE_MODE;

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawManifest {
    #[allow(dead_code)] // checked before this struct is parsed
    pub(super) version: u32,
    #[serde(default = "d_secrets_dir")]
    pub(super) secrets_dir: String,
    #[serde(default = "d_mount_point")]
    pub(super) secrets_mount_point: String,
    #[serde(default = "d_users_dir")]
    pub(super) secrets_dir_for_users: String,
    #[serde(default)]
    pub(super) filesystem: Filesystem,
    #[serde(default = "d_keep")]
    pub(super) keep_generations: u32,
    #[serde(default)]
    pub(super) on_failure: OnFailure,
    #[serde(default = "d_identities")]
    pub(super) identity_paths: Vec<String>,
    #[serde(default)]
    pub(super) user_mode: bool,
    #[serde(default)]
    pub(super) allow_disk_backed: bool,
    #[serde(default)]
    pub(super) restart_mode: RestartMode,
    #[serde(default)]
    pub(super) host_public_keys: Vec<String>,
    #[serde(default)]
    pub(super) plugin_path: Vec<String>,
    #[serde(default)]
    pub(super) secrets: BTreeMap<String, RawSecret>,
    #[serde(default)]
    pub(super) templates: BTreeMap<String, RawTemplate>,
}

fn d_secrets_dir() -> String {
    "/run/agenix".into()
}
fn d_mount_point() -> String {
    "/run/agenix.d".into()
}
fn d_users_dir() -> String {
    "/run/agenix-for-users".into()
}
fn d_keep() -> u32 {
    1
}
fn d_identities() -> Vec<String> {
    vec!["/etc/ssh/ssh_host_ed25519_key".into()]
}
fn d_mode() -> String {
    DEFAULT_FILE_MODE.into()
}
fn d_root() -> String {
    "0".into()
}
fn d_format() -> String {
    "binary".into()
}
fn d_true() -> bool {
    true
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawSecret {
    pub(super) name: Option<String>,
    pub(super) file: String,
    /// What the decrypted file is (`binary`, `json`, `yaml`, `dotenv`, `ini`); absent in
    /// manifests written before structured secrets, which meant the whole file.
    #[serde(default = "d_format")]
    pub(super) format: String,
    /// The value to take out of the document; empty for the whole file.
    #[serde(default)]
    pub(super) key: String,
    pub(super) path: Option<String>,
    #[serde(default = "d_mode")]
    pub(super) mode: String,
    #[serde(default = "d_root")]
    pub(super) owner: String,
    #[serde(default = "d_root")]
    pub(super) group: String,
    #[serde(default = "d_true")]
    pub(super) symlink: bool,
    #[serde(default)]
    pub(super) needed_for_users: bool,
    #[serde(default)]
    pub(super) restart_units: Vec<String>,
    #[serde(default)]
    pub(super) reload_units: Vec<String>,
    /// The module option that declares the item (`age.secrets.db`), for messages only.
    pub(super) option: Option<String>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawTemplate {
    pub(super) name: Option<String>,
    pub(super) content: String,
    pub(super) path: Option<String>,
    #[serde(default = "d_mode")]
    pub(super) mode: String,
    #[serde(default = "d_root")]
    pub(super) owner: String,
    #[serde(default = "d_root")]
    pub(super) group: String,
    #[serde(default = "d_true")]
    pub(super) symlink: bool,
    #[serde(default)]
    pub(super) restart_units: Vec<String>,
    #[serde(default)]
    pub(super) reload_units: Vec<String>,
    /// The module option that declares the item (`age.secrets.db`), for messages only.
    pub(super) option: Option<String>,
}
