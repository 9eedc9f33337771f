//! The manifest (v1, see README): parsed strictly (unknown fields rejected) and validated as a
//! whole into a [`Plan`] before anything on the system is touched.
//!
//! Here: what a validated manifest is (`Plan`, its items, their kind and phase) and
//! `load`/`parse`. The JSON shape is in `raw`, one field's syntax in `fields`, and the checks
//! that need the whole manifest in `validate`.

mod fields;
mod raw;
mod validate;

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::keys::Recipient;
use crate::structured::{Format, KeyPath};

pub use super::own::Principal;
use super::template::Segment;
use raw::{RawManifest, RawSecret, RawTemplate};

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Filesystem {
    #[default]
    Tmpfs,
    Ramfs,
    /// Mount nothing; use the existing directory (nix-darwin's RAM disk).
    None,
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum OnFailure {
    #[default]
    KeepPrevious,
    Abort,
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum RestartMode {
    #[default]
    Systemctl,
    ActivationList,
    None,
}

/// Which installation phase an item belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PhaseKind {
    Users,
    Main,
}

impl PhaseKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PhaseKind::Users => "users",
            PhaseKind::Main => "main",
        }
    }
}

/// What an item is: a secret (one encrypted file) or a template (text with secrets put in).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ItemKind {
    Secret,
    Template,
}

/// The directory inside a generation that holds rendered templates.
const RENDERED_DIR: &str = "rendered";

impl ItemKind {
    /// As in messages, the `--json` summary and the state file.
    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::Secret => "secret",
            ItemKind::Template => "template",
        }
    }

    /// The kind a state file records; anything but "template" (other tools, older versions)
    /// is taken for a secret.
    pub fn from_recorded(kind: &str) -> ItemKind {
        if kind == "template" {
            ItemKind::Template
        } else {
            ItemKind::Secret
        }
    }

    /// Where an item of this kind named `name` goes inside a generation.
    pub fn rel(self, name: &str) -> String {
        match self {
            ItemKind::Secret => name.to_string(),
            ItemKind::Template => format!("{RENDERED_DIR}/{name}"),
        }
    }

    /// A template's name back from the relative path recorded for it: None when `rel` is not
    /// below `rendered/`.
    pub fn template_name(rel: &str) -> Option<&str> {
        rel.strip_prefix(RENDERED_DIR)?.strip_prefix('/')
    }
}

/// What secrets and templates have in common: where, how and for whom an item is installed.
#[derive(Clone, Debug)]
pub struct ItemSpec {
    pub kind: ItemKind,
    /// Manifest attribute name (for messages).
    pub attr: String,
    /// The item's name (`name`, defaulting to the attribute name).
    pub name: String,
    /// Relative path inside the generation (`rendered/<name>` for templates).
    pub rel: String,
    /// Extra destination (symlink or copy) when it differs from the stable path.
    pub custom_path: Option<PathBuf>,
    pub mode: u32,
    pub owner: Principal,
    pub group: Principal,
    pub symlink: bool,
    pub phase: PhaseKind,
    pub restart_units: Vec<String>,
    pub reload_units: Vec<String>,
    /// The module option that declares it (`age.secrets.db`), when the manifest says so.
    pub option: Option<String>,
}

impl ItemSpec {
    /// How messages name this item (see [`Who`]).
    pub fn who(&self) -> Who<'_> {
        Who {
            kind: self.kind,
            attr: &self.attr,
            option: self.option.as_deref(),
        }
    }

    /// For log lines: a template says so; a secret is phase-qualified only for the users phase.
    pub fn label(&self) -> String {
        match (self.kind, self.phase) {
            (ItemKind::Template, _) => format!("template {}", self.name),
            (ItemKind::Secret, PhaseKind::Main) => self.name.clone(),
            (ItemKind::Secret, PhaseKind::Users) => format!("{} (for users)", self.name),
        }
    }
}

/// How a message names an item: by the module option that declared it (`age.secrets.db`,
/// from the manifest's `option`), which is what a user can find in their configuration; else
/// by the manifest item (`secret "db"`), as for a hand-written or older manifest.
#[derive(Clone, Copy, Debug)]
pub struct Who<'a> {
    pub kind: ItemKind,
    pub attr: &'a str,
    pub option: Option<&'a str>,
}

impl Who<'_> {
    /// The item: `age.secrets.db` or `secret "db"`.
    pub fn item(&self) -> String {
        match self.option {
            Some(o) => o.to_string(),
            None => format!("{} {:?}", self.kind.as_str(), self.attr),
        }
    }

    /// Before a message that says which field it is about (`{at}: mode "9" is …`): the
    /// field's option (`age.secrets.db.mode`), else the item (`secret "db"`).
    pub fn at(&self, field: &str) -> String {
        match self.option {
            Some(o) => format!("{o}.{field}"),
            None => self.item(),
        }
    }

    /// A field by itself (`{field}: "x" must be an absolute path`): `age.secrets.db.path`,
    /// else `secret "db" path`.
    pub fn field(&self, field: &str) -> String {
        match self.option {
            Some(o) => format!("{o}.{field}"),
            None => format!("{} {field}", self.item()),
        }
    }
}

#[derive(Clone, Debug)]
pub struct SecretSpec {
    pub item: ItemSpec,
    pub file: PathBuf,
    /// What the decrypted file is, and `key` the value taken out of it (whole: the file).
    pub format: Format,
    pub key: KeyPath,
}

impl SecretSpec {
    /// Does this secret take its value out of a document (rather than being the whole file)?
    /// Such files are decrypted once per install, however many secrets read them.
    pub fn is_structured(&self) -> bool {
        self.format != Format::Binary
    }
}

#[derive(Clone, Debug)]
pub struct TemplateSpec {
    pub item: ItemSpec,
    pub segments: Vec<Segment>,
}

/// A validated manifest with paths expanded and everything parsed.
#[derive(Clone, Debug)]
pub struct Plan {
    pub secrets_dir: PathBuf,
    pub mount_point: PathBuf,
    pub users_dir: PathBuf,
    pub filesystem: Filesystem,
    pub keep_generations: u32,
    pub on_failure: OnFailure,
    pub identity_paths: Vec<PathBuf>,
    pub user_mode: bool,
    /// userMode: accept a secretsMountPoint on a disk-backed filesystem (plaintext on disk).
    pub allow_disk_backed: bool,
    pub restart_mode: RestartMode,
    pub host_keys: Vec<Recipient>,
    /// Directories searched first for `age-plugin-*` programs (plugin identities).
    pub plugin_path: Vec<PathBuf>,
    pub secrets: Vec<SecretSpec>,
    pub templates: Vec<TemplateSpec>,
}

impl Plan {
    /// The install lock: a root-only file next to the mount point (`<parent>/.<name>.lock`),
    /// which exists before anything is mounted there.
    pub fn lock_path(&self) -> PathBuf {
        let mut n = std::ffi::OsString::from(".");
        n.push(self.mount_point.file_name().unwrap_or_default());
        n.push(".lock");
        crate::fs::parent_dir(&self.mount_point).join(n)
    }

    /// The restarts a `--defer-owners` install leaves for `--phase owners`: root's, next to
    /// the install lock (`<parent>/.<name>.restarts`).
    pub fn restarts_path(&self) -> PathBuf {
        let mut n = std::ffi::OsString::from(".");
        n.push(self.mount_point.file_name().unwrap_or_default());
        n.push(".restarts");
        crate::fs::parent_dir(&self.mount_point).join(n)
    }

    pub fn stable_dir(&self, phase: PhaseKind) -> &Path {
        match phase {
            PhaseKind::Users => &self.users_dir,
            PhaseKind::Main => &self.secrets_dir,
        }
    }
}

/// Name of the per-generation state file (non-secret: names, units, destinations).
pub const STATE_FILE: &str = ".secrets-install.json";

/// A manifest checked as a whole (`check`, `check_file`): every error, and the plan of what
/// validated. `plan` is None when the top level failed, else it holds only the items that
/// passed (for `install --check` to check their files): install it only when `errors` is
/// empty, which is what [`Checked::into_plan`] does.
pub struct Checked {
    pub plan: Option<Plan>,
    pub errors: Vec<Error>,
    /// Each secret's encrypted file (a usable path; the item's other fields valid or not)
    /// and how to name it in messages (`age.secrets.db.file`).
    pub files: Vec<(String, PathBuf)>,
}

impl Checked {
    fn failed(e: Error) -> Checked {
        Checked {
            plan: None,
            errors: vec![e],
            files: Vec::new(),
        }
    }

    /// The plan when nothing is wrong; else one error: the only one, or all of them, one a
    /// line.
    pub fn into_plan(mut self) -> Result<Plan> {
        match (self.plan, self.errors.len()) {
            (Some(p), 0) => Ok(p),
            (None, 0) => Err(Error::new("invalid manifest")),
            (_, 1) => Err(self.errors.remove(0)),
            (_, n) => {
                let lines: String = self
                    .errors
                    .iter()
                    .map(|e| format!("\n  {}", e.message()))
                    .collect();
                Err(Error::new(format!("{n} errors:{lines}")))
            }
        }
    }
}

/// Read, parse and validate a manifest file.
pub fn load(path: &Path) -> Result<Plan> {
    let text = read(path)?;
    parse(&text).map_err(|e| e.context(format!("manifest {}", path.display())))
}

/// Read, parse and validate a manifest file, keeping every error (`install --check`).
pub fn check_file(path: &Path) -> Checked {
    match read(path) {
        Ok(text) => check(&text),
        Err(e) => Checked::failed(e),
    }
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| {
        Error::new(format!(
            "cannot read manifest {}: {}",
            path.display(),
            crate::error::describe_io(&e)
        ))
    })
}

pub fn parse(text: &str) -> Result<Plan> {
    check(text).into_plan()
}

/// Parse and validate, keeping every error: a manifest that does not parse (JSON, version,
/// fields) has those errors only; one that does has each error of each item.
pub fn check(text: &str) -> Checked {
    // Look at the version first so a future manifest gets a clear message rather than a
    // complaint about an unknown field.
    // Strict: a duplicate key anywhere (a second "version", two "owner"s) is an error, where
    // serde_json alone would let the last one win unseen.
    // serde's messages quote keys and values as they are: escape what names may not hold.
    let v = match crate::strict_json::parse(text) {
        Ok(v) => v,
        Err(e) => {
            return Checked::failed(Error::new(format!(
                "invalid JSON: {}",
                crate::names::escaped(&e.to_string())
            )))
        }
    };
    match v.get("version") {
        Some(serde_json::Value::Number(n)) if n.as_u64() == Some(1) => {}
        Some(other) => {
            return Checked::failed(Error::new(format!(
                "unsupported manifest version {other}; this secrets understands version 1 \
                 (update secrets, or the NixOS module that wrote it)"
            )))
        }
        None => return Checked::failed(Error::new("missing \"version\": 1")),
    }
    match serde_json::from_value::<RawManifest>(v.clone()) {
        Ok(raw) => {
            let validate::Validated {
                plan,
                errors,
                files,
            } = validate::validate(raw);
            Checked {
                plan,
                errors,
                files,
            }
        }
        Err(e) => Checked {
            plan: None,
            errors: locate(&v, e)
                .into_iter()
                .map(|m| Error::new(crate::names::escaped(&m)))
                .collect(),
            files: Vec::new(),
        },
    }
}

/// serde's message for a nested item ("unknown field `owenr`") does not say which secret it is
/// about: name every entry that fails on its own (or the whole manifest's message when none
/// does).
fn locate(v: &serde_json::Value, whole: serde_json::Error) -> Vec<String> {
    fn bad<T: serde::de::DeserializeOwned>(v: &serde_json::Value, section: &str) -> Vec<String> {
        let Some(map) = v.get(section).and_then(|s| s.as_object()) else {
            return Vec::new();
        };
        map.iter()
            .filter_map(|(name, item)| {
                serde_json::from_value::<T>(item.clone())
                    .err()
                    .map(|e| format!("{section}.{name:?}: {e}"))
            })
            .collect()
    }
    // The top level on its own, its items left out.
    let mut top = v.clone();
    for section in ["secrets", "templates"] {
        if let Some(s) = top.get_mut(section).filter(|s| s.is_object()) {
            *s = serde_json::Value::Object(Default::default());
        }
    }
    let mut all: Vec<String> = serde_json::from_value::<RawManifest>(top)
        .err()
        .map(|e| e.to_string())
        .into_iter()
        .collect();
    all.extend(bad::<RawSecret>(v, "secrets"));
    all.extend(bad::<RawTemplate>(v, "templates"));
    if all.is_empty() {
        all.push(whole.to_string());
    }
    all
}

#[cfg(test)]
mod tests;
