//! The manifest (v1, see README): parsed strictly (unknown fields rejected) and validated as a
//! whole into a [`Plan`] before anything on the system is touched.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::recipients::Recipient;

use super::template::{self, Segment};

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawManifest {
    #[allow(dead_code)] // checked before this struct is parsed
    version: u32,
    #[serde(default = "d_secrets_dir")]
    secrets_dir: String,
    #[serde(default = "d_mount_point")]
    secrets_mount_point: String,
    #[serde(default = "d_users_dir")]
    secrets_dir_for_users: String,
    #[serde(default)]
    filesystem: Filesystem,
    #[serde(default = "d_keep")]
    keep_generations: u32,
    #[serde(default)]
    on_failure: OnFailure,
    #[serde(default = "d_identities")]
    identity_paths: Vec<String>,
    #[serde(default)]
    user_mode: bool,
    #[serde(default)]
    allow_disk_backed: bool,
    #[serde(default)]
    restart_mode: RestartMode,
    #[serde(default)]
    host_public_keys: Vec<String>,
    #[serde(default)]
    plugin_path: Vec<String>,
    #[serde(default)]
    secrets: BTreeMap<String, RawSecret>,
    #[serde(default)]
    templates: BTreeMap<String, RawTemplate>,
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
    "0400".into()
}
fn d_root() -> String {
    "0".into()
}
fn d_true() -> bool {
    true
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawSecret {
    name: Option<String>,
    file: String,
    path: Option<String>,
    #[serde(default = "d_mode")]
    mode: String,
    #[serde(default = "d_root")]
    owner: String,
    #[serde(default = "d_root")]
    group: String,
    #[serde(default = "d_true")]
    symlink: bool,
    #[serde(default)]
    needed_for_users: bool,
    #[serde(default)]
    restart_units: Vec<String>,
    #[serde(default)]
    reload_units: Vec<String>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawTemplate {
    name: Option<String>,
    content: String,
    path: Option<String>,
    #[serde(default = "d_mode")]
    mode: String,
    #[serde(default = "d_root")]
    owner: String,
    #[serde(default = "d_root")]
    group: String,
    #[serde(default = "d_true")]
    symlink: bool,
    #[serde(default)]
    restart_units: Vec<String>,
    #[serde(default)]
    reload_units: Vec<String>,
}

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

/// A user or group as written in the manifest.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Principal {
    Id(u32),
    Name(String),
}

impl Principal {
    fn parse(s: &str, what: &str, item: &str) -> Result<Principal> {
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            let id: u32 = s
                .parse()
                .map_err(|_| Error::new(format!("{item}: {what} id {s:?} is out of range")))?;
            return match super::own::check_id(id, what) {
                Ok(()) => Ok(Principal::Id(id)),
                Err(e) => Err(Error::new(format!("{item}: {e}"))),
            };
        }
        let ok = !s.is_empty()
            && s.len() <= 256
            && !s.starts_with('-')
            // '@': directory-service accounts (SSSD's user@domain), which agenix's chown took.
            && s.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'$' | b'@')
            });
        if !ok {
            return Err(Error::new(format!(
                "{item}: {what} {s:?} is neither a numeric id nor a valid {what} name"
            )));
        }
        Ok(Principal::Name(s.to_string()))
    }

    pub fn is_root(&self) -> bool {
        matches!(self, Principal::Id(0)) || matches!(self, Principal::Name(n) if n == "root")
    }
}

impl std::fmt::Display for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Principal::Id(i) => write!(f, "{i}"),
            Principal::Name(n) => f.write_str(n),
        }
    }
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

#[derive(Clone, Debug)]
pub struct Common {
    /// Manifest attribute name (for messages).
    pub attr: String,
    /// The item's name (`name`, defaulting to the attribute name).
    pub name: String,
    pub is_template: bool,
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
}

#[derive(Clone, Debug)]
pub struct SecretSpec {
    pub c: Common,
    pub file: PathBuf,
}

#[derive(Clone, Debug)]
pub struct TemplateSpec {
    pub c: Common,
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
    pub fn stable_dir(&self, phase: PhaseKind) -> &Path {
        match phase {
            PhaseKind::Users => &self.users_dir,
            PhaseKind::Main => &self.secrets_dir,
        }
    }
}

/// Name of the per-generation state file (non-secret: names, units, destinations).
pub const STATE_FILE: &str = ".secrets-install.json";

/// Read, parse and validate a manifest file.
pub fn load(path: &Path) -> Result<Plan> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::new(format!(
            "cannot read manifest {}: {}",
            path.display(),
            crate::error::describe_io(&e)
        ))
    })?;
    parse(&text).map_err(|e| e.context(format!("manifest {}", path.display())))
}

pub fn parse(text: &str) -> Result<Plan> {
    // Look at the version first so a future manifest gets a clear message rather than a
    // complaint about an unknown field.
    // Strict: a duplicate key anywhere (a second "version", two "owner"s) is an error, where
    // serde_json alone would let the last one win unseen.
    // serde's messages quote keys and values as they are: escape what names may not hold.
    let v = crate::strict_json::parse(text).map_err(|e| {
        Error::new(format!(
            "invalid JSON: {}",
            crate::names::escaped(&e.to_string())
        ))
    })?;
    match v.get("version") {
        Some(serde_json::Value::Number(n)) if n.as_u64() == Some(1) => {}
        Some(other) => {
            return Err(Error::new(format!(
                "unsupported manifest version {other}; this secrets understands version 1 \
                 (update secrets, or the NixOS module that wrote it)"
            )))
        }
        None => return Err(Error::new("missing \"version\": 1")),
    }
    let raw: RawManifest = serde_json::from_value(v.clone())
        .map_err(|e| Error::new(crate::names::escaped(locate(&v, e).message())))?;
    validate(raw)
}

/// serde's message for a nested item ("unknown field `owenr`") does not say which secret it is
/// about: find the first entry that fails on its own and name it.
fn locate(v: &serde_json::Value, whole: serde_json::Error) -> Error {
    fn first_bad<T: serde::de::DeserializeOwned>(
        v: &serde_json::Value,
        section: &str,
    ) -> Option<String> {
        let map = v.get(section)?.as_object()?;
        map.iter().find_map(|(name, item)| {
            serde_json::from_value::<T>(item.clone())
                .err()
                .map(|e| format!("{section}.{name:?}: {e}"))
        })
    }
    let msg = first_bad::<RawSecret>(v, "secrets")
        .or_else(|| first_bad::<RawTemplate>(v, "templates"))
        .unwrap_or_else(|| whole.to_string());
    Error::new(msg)
}

fn expand(s: &str, user_mode: bool, what: &str) -> Result<PathBuf> {
    let mut out = s.to_string();
    if user_mode {
        let var = |name: &str| -> Result<String> {
            std::env::var(name)
                .ok()
                .filter(|v| !v.is_empty())
                .ok_or_else(|| Error::new(format!("{what}: {s} uses ${name}, which is not set")))
        };
        for (pat, name) in [
            ("${XDG_RUNTIME_DIR}", "XDG_RUNTIME_DIR"),
            ("$XDG_RUNTIME_DIR", "XDG_RUNTIME_DIR"),
            ("${HOME}", "HOME"),
            ("$HOME", "HOME"),
        ] {
            if let Some(rest) = s.strip_prefix(pat) {
                out = format!("{}{rest}", var(name)?);
                break;
            }
        }
        if s == "~" || s.starts_with("~/") {
            out = format!("{}{}", var("HOME")?, &s[1..]);
        }
    }
    let p = PathBuf::from(&out);
    if !p.is_absolute() {
        return Err(Error::new(format!(
            "{what}: {s:?} must be an absolute path"
        )));
    }
    if p.components().any(|c| matches!(c, Component::ParentDir)) || out.contains('\0') {
        return Err(Error::new(format!("{what}: {s:?} must not contain `..`")));
    }
    Ok(normalize(&p))
}

/// Drop `.` components and trailing slashes so paths compare reliably.
fn normalize(p: &Path) -> PathBuf {
    p.components()
        .filter(|c| !matches!(c, Component::CurDir))
        .collect()
}

/// A safe relative name: no absolute path, no `.`/`..`/empty components, no control characters.
pub fn check_name(name: &str, item: &str) -> Result<()> {
    let bad = |why: &str| {
        Err(Error::new(format!(
            "{item}: name {name:?} {why}; use a relative path like \"db-password\" or \"nginx/cert\""
        )))
    };
    if name.is_empty() {
        return bad("is empty");
    }
    if name.starts_with('/') {
        return bad("is absolute");
    }
    if name.len() > 1024 {
        return bad("is too long");
    }
    if name.chars().any(|c| c.is_control()) {
        return bad("contains a control character");
    }
    for comp in name.split('/') {
        if comp.is_empty() || comp == "." || comp == ".." {
            return bad("has an empty, `.` or `..` component");
        }
        if comp.len() > 255 {
            return bad("has a component longer than 255 bytes");
        }
    }
    if name == STATE_FILE {
        return bad("is reserved for the installer's state file");
    }
    Ok(())
}

/// A systemd unit name: `name.type`, from the characters systemd allows (plus `\xNN` escapes).
pub fn check_unit(unit: &str, item: &str) -> Result<()> {
    const TYPES: &[&str] = &[
        "service",
        "socket",
        "target",
        "timer",
        "path",
        "mount",
        "automount",
        "swap",
        "slice",
        "scope",
        "device",
    ];
    let ok_chars = {
        let b = unit.as_bytes();
        let mut i = 0;
        let mut ok = true;
        while i < b.len() {
            match b[i] {
                c if c.is_ascii_alphanumeric() || matches!(c, b':' | b'_' | b'.' | b'@' | b'-') => {
                    i += 1
                }
                b'\\'
                    if b.len() >= i + 4
                        && b[i + 1] == b'x'
                        && b[i + 2].is_ascii_hexdigit()
                        && b[i + 3].is_ascii_hexdigit() =>
                {
                    i += 4
                }
                _ => {
                    ok = false;
                    break;
                }
            }
        }
        ok
    };
    let typed = unit
        .rsplit_once('.')
        .is_some_and(|(stem, t)| !stem.is_empty() && TYPES.contains(&t));
    if unit.is_empty() || unit.len() > 255 || unit.starts_with('-') || !ok_chars || !typed {
        return Err(Error::new(format!(
            "{item}: {unit:?} is not a systemd unit name (expected e.g. \"postgresql.service\"; \
             letters, digits and :_.@- only, with a unit type suffix)"
        )));
    }
    Ok(())
}

/// A mode as agenix passed it to `chmod`: octal (`"0440"`, `"440"`) or symbolic (`u=r,g=r`).
pub fn parse_mode(s: &str, item: &str) -> Result<u32> {
    // chmod takes any number of leading zeros; 8 digits is more than enough for that.
    let octal = (1..=8).contains(&s.len()) && s.bytes().all(|b| (b'0'..=b'7').contains(&b));
    let m = if octal {
        u32::from_str_radix(s, 8).ok()
    } else {
        symbolic_mode(s)
    };
    match m {
        Some(m) if m <= 0o777 => Ok(m),
        Some(_) => Err(Error::new(format!(
            "{item}: mode {s:?} has setuid/setgid/sticky bits, which make no sense for a secret; \
             use e.g. \"0400\" or \"0440\""
        ))),
        None => Err(Error::new(format!(
            "{item}: mode {s:?} is neither an octal mode nor a symbolic one chmod understands; \
             use e.g. \"0400\", \"0440\" or \"u=r,g=r\""
        ))),
    }
}

/// What `chmod MODE` does to the file agenix made: created 0400 (umask u=r,g=,o=), then
/// chmod run under the activation script's umask 022, which limits what clauses naming no
/// class (`+r`, `=r`) set. Returns bits above 0o777 for `s`/`t`, so the caller refuses them.
fn symbolic_mode(s: &str) -> Option<u32> {
    const UMASK: u32 = 0o022;
    let mut mode: u32 = 0o400;
    for clause in s.split(',') {
        let who_len = clause
            .bytes()
            .take_while(|b| matches!(b, b'u' | b'g' | b'o' | b'a'))
            .count();
        let who = clause[..who_len].bytes().fold(0, |w, b| {
            w | match b {
                b'u' => 0o4700,
                b'g' => 0o2070,
                b'o' => 0o1007,
                _ => 0o7777,
            }
        });
        let mut rest = &clause[who_len..];
        if rest.is_empty() {
            return None;
        }
        while let Some(op) = rest.chars().next().filter(|c| matches!(c, '+' | '-' | '=')) {
            rest = &rest[1..];
            let perm_len = rest
                .bytes()
                .take_while(|b| !matches!(b, b'+' | b'-' | b'='))
                .count();
            let perms = &rest[..perm_len];
            rest = &rest[perm_len..];
            let mut bits = 0;
            if matches!(perms, "u" | "g" | "o") {
                // Copy another class's bits (`g=u`).
                let shift = match perms {
                    "u" => 6,
                    "g" => 3,
                    _ => 0,
                };
                bits = ((mode >> shift) & 7) * 0o111;
            } else {
                for p in perms.bytes() {
                    bits |= match p {
                        b'r' => 0o444,
                        b'w' => 0o222,
                        b'x' => 0o111,
                        // Execute only where some execute bit is already set (a file).
                        b'X' if mode & 0o111 != 0 => 0o111,
                        b'X' => 0,
                        b's' => 0o6000,
                        b't' => 0o1000,
                        _ => return None,
                    };
                }
            }
            let affected = if who == 0 { 0o7777 & !UMASK } else { who };
            match op {
                '+' => mode |= bits & affected,
                '-' => mode &= !(bits & affected),
                // GNU chmod: `=` without a class clears every bit, then sets what the umask
                // allows.
                _ if who == 0 => mode = bits & affected,
                _ => mode = (mode & !affected) | (bits & affected),
            }
        }
        if !rest.is_empty() {
            return None;
        }
    }
    Some(mode)
}

struct CommonRaw<'a> {
    name: &'a Option<String>,
    path: &'a Option<String>,
    mode: &'a str,
    owner: &'a str,
    group: &'a str,
    symlink: bool,
    restart: &'a [String],
    reload: &'a [String],
}

/// Every name and path the manifest carries, before any of them is used or shown: see
/// `crate::names` for what is refused and why.
fn check_texts(raw: &RawManifest) -> Result<()> {
    use crate::names::check;
    check(&raw.secrets_dir, "secretsDir")?;
    check(&raw.secrets_mount_point, "secretsMountPoint")?;
    check(&raw.secrets_dir_for_users, "secretsDirForUsers")?;
    // Not hostPublicKeys: a key is no name, and this message would quote a private key pasted
    // there (Recipient::parse says what is wrong without quoting it). Not units either:
    // check_unit takes nothing but ASCII letters, digits, `:_.@-` and `\xNN` escapes.
    for (list, what) in [
        (&raw.identity_paths, "identityPaths"),
        (&raw.plugin_path, "pluginPath"),
    ] {
        list.iter().try_for_each(|t| check(t, what))?;
    }
    let secrets = raw.secrets.iter().map(|(a, s)| {
        let fields = [
            ("name", s.name.as_ref()),
            ("path", s.path.as_ref()),
            ("owner", Some(&s.owner)),
            ("group", Some(&s.group)),
            ("file", Some(&s.file)),
        ];
        (a, "secret", fields.to_vec())
    });
    let templates = raw.templates.iter().map(|(a, t)| {
        let fields = [
            ("name", t.name.as_ref()),
            ("path", t.path.as_ref()),
            ("owner", Some(&t.owner)),
            ("group", Some(&t.group)),
        ];
        (a, "template", fields.to_vec())
    });
    for (attr, kind, fields) in secrets.chain(templates) {
        check(attr, &format!("{kind} attribute name"))?;
        let item = format!("{kind} {attr:?}");
        for (field, t) in fields {
            t.map_or(Ok(()), |t| check(t, &format!("{item} {field}")))?;
        }
    }
    Ok(())
}

fn validate(raw: RawManifest) -> Result<Plan> {
    check_texts(&raw)?;
    let um = raw.user_mode;
    let secrets_dir = expand(&raw.secrets_dir, um, "secretsDir")?;
    let mount_point = expand(&raw.secrets_mount_point, um, "secretsMountPoint")?;
    let users_dir = expand(&raw.secrets_dir_for_users, um, "secretsDirForUsers")?;
    if raw.keep_generations < 1 {
        return Err(Error::new(
            "keepGenerations must be at least 1 (the current generation counts)",
        ));
    }
    for (a, an, b, bn) in [
        (
            &secrets_dir,
            "secretsDir",
            &mount_point,
            "secretsMountPoint",
        ),
        (
            &users_dir,
            "secretsDirForUsers",
            &mount_point,
            "secretsMountPoint",
        ),
        (&secrets_dir, "secretsDir", &users_dir, "secretsDirForUsers"),
    ] {
        if a == b || a.starts_with(b) || b.starts_with(a) {
            return Err(Error::new(format!(
                "{an} ({}) and {bn} ({}) must be separate paths, neither inside the other",
                a.display(),
                b.display()
            )));
        }
    }
    let identity_paths = raw
        .identity_paths
        .iter()
        .map(|p| expand(p, um, "identityPaths"))
        .collect::<Result<Vec<_>>>()?;
    let host_keys = raw
        .host_public_keys
        .iter()
        .map(|k| Recipient::parse(k).map_err(|e| e.context(format!("hostPublicKeys: {k:?}"))))
        .collect::<Result<Vec<_>>>()?;

    let plugin_path = raw
        .plugin_path
        .iter()
        .map(|d| {
            // Joined into $PATH, where a ':' would split one entry into two.
            if d.contains(':') {
                return Err(Error::new(format!(
                    "pluginPath: {d:?} contains ':'; give each directory as its own entry"
                )));
            }
            expand(d, um, "pluginPath")
        })
        .collect::<Result<Vec<_>>>()?;

    let mut plan = Plan {
        secrets_dir,
        mount_point,
        users_dir,
        filesystem: raw.filesystem,
        keep_generations: raw.keep_generations,
        on_failure: raw.on_failure,
        identity_paths,
        user_mode: um,
        allow_disk_backed: raw.allow_disk_backed,
        restart_mode: raw.restart_mode,
        host_keys,
        plugin_path,
        secrets: Vec::new(),
        templates: Vec::new(),
    };

    for (attr, s) in &raw.secrets {
        let item = format!("secret {attr:?}");
        let phase = if s.needed_for_users {
            PhaseKind::Users
        } else {
            PhaseKind::Main
        };
        let c = common(
            &plan,
            attr,
            &item,
            phase,
            CommonRaw {
                name: &s.name,
                path: &s.path,
                mode: &s.mode,
                owner: &s.owner,
                group: &s.group,
                symlink: s.symlink,
                restart: &s.restart_units,
                reload: &s.reload_units,
            },
            false,
        )?;
        if s.needed_for_users && um {
            return Err(Error::new(format!(
                "{item}: neededForUsers has no meaning with userMode (a user's installer \
                 creates no users and must not touch the system's secretsDirForUsers); remove it"
            )));
        }
        if s.needed_for_users && !um && (!c.owner.is_root() || !c.group.is_root()) {
            return Err(Error::new(format!(
                "{item}: neededForUsers secrets are installed before users and groups exist, \
                 so they must be owned by root (owner and group \"0\"), not {}:{}",
                c.owner, c.group
            )));
        }
        if s.file.is_empty() {
            return Err(Error::new(format!("{item}: \"file\" is empty")));
        }
        let file = expand(&s.file, um, &format!("{item} file"))?;
        plan.secrets.push(SecretSpec { c, file });
    }

    let mut known = BTreeMap::new();
    for s in &plan.secrets {
        known.insert(template::placeholder_hash(&s.c.attr), s.c.attr.clone());
    }
    for (attr, t) in &raw.templates {
        let item = format!("template {attr:?}");
        let c = common(
            &plan,
            attr,
            &item,
            PhaseKind::Main,
            CommonRaw {
                name: &t.name,
                path: &t.path,
                mode: &t.mode,
                owner: &t.owner,
                group: &t.group,
                symlink: t.symlink,
                restart: &t.restart_units,
                reload: &t.reload_units,
            },
            true,
        )?;
        let segments = template::parse(&t.content, &known).map_err(|e| e.context(&item))?;
        plan.templates.push(TemplateSpec { c, segments });
    }

    check_collisions(&plan)?;
    Ok(plan)
}

fn common(
    plan: &Plan,
    attr: &str,
    item: &str,
    phase: PhaseKind,
    r: CommonRaw<'_>,
    is_template: bool,
) -> Result<Common> {
    let name = r.name.clone().unwrap_or_else(|| attr.to_string());
    check_name(&name, item)?;
    let rel = if is_template {
        format!("rendered/{name}")
    } else {
        name.clone()
    };
    let stable = plan.stable_dir(phase).join(&rel);
    let custom_path = match r.path {
        None => None,
        Some(p) => {
            let p = expand(p, plan.user_mode, &format!("{item} path"))?;
            if p == stable {
                None
            } else {
                let lock = super::lock::path_for(&plan.mount_point);
                if p == lock {
                    return Err(Error::new(format!(
                        "{item}: path {} is the install lock of secretsMountPoint ({}); a \
                         copy or link there would replace it, and every later install would \
                         refuse to run. Choose another path",
                        p.display(),
                        plan.mount_point.display()
                    )));
                }
                for (dir, dn) in [
                    (&plan.secrets_dir, "secretsDir"),
                    (&plan.users_dir, "secretsDirForUsers"),
                    (&plan.mount_point, "secretsMountPoint"),
                ] {
                    if p.starts_with(dir) {
                        return Err(Error::new(format!(
                            "{item}: path {} is inside {dn} ({}) but is not {}; leave path at \
                             its default or point it outside {dn}",
                            p.display(),
                            dir.display(),
                            stable.display()
                        )));
                    }
                }
                Some(p)
            }
        }
    };
    let mode = parse_mode(r.mode, item)?;
    let owner = Principal::parse(r.owner, "owner", item)?;
    let group = Principal::parse(r.group, "group", item)?;
    for u in r.restart.iter().chain(r.reload) {
        check_unit(u, &format!("{item} restartUnits/reloadUnits"))?;
    }
    Ok(Common {
        attr: attr.to_string(),
        name,
        is_template,
        rel,
        custom_path,
        mode,
        owner,
        group,
        symlink: r.symlink,
        phase,
        restart_units: r.restart.to_vec(),
        reload_units: r.reload.to_vec(),
    })
}

fn check_collisions(plan: &Plan) -> Result<()> {
    let items: Vec<(&Common, &str)> = plan
        .secrets
        .iter()
        .map(|s| (&s.c, "secret"))
        .chain(plan.templates.iter().map(|t| (&t.c, "template")))
        .collect();
    // Same relative path (or one a directory of the other) within a phase's generation.
    let mut rels: BTreeMap<(PhaseKind, &str), String> = BTreeMap::new();
    for (c, kind) in &items {
        let who = format!("{kind} {:?}", c.attr);
        if let Some(other) = rels.insert((c.phase, c.rel.as_str()), who.clone()) {
            return Err(Error::new(format!(
                "{other} and {who} both install to {:?}; give one of them another name",
                c.rel
            )));
        }
    }
    for phase in [PhaseKind::Users, PhaseKind::Main] {
        let names: Vec<(&str, &String)> = rels
            .iter()
            .filter(|((p, _), _)| *p == phase)
            .map(|((_, r), w)| (*r, w))
            .collect();
        for (a, wa) in &names {
            for (b, wb) in &names {
                if b.len() > a.len() && b.starts_with(a) && b.as_bytes()[a.len()] == b'/' {
                    return Err(Error::new(format!(
                        "{wa} is named {a:?}, but {wb} needs {a:?} to be a directory ({b:?}); \
                         rename one of them"
                    )));
                }
            }
        }
    }
    // Destinations: stable paths and custom paths must all differ.
    let mut dests: BTreeMap<PathBuf, String> = BTreeMap::new();
    for (c, kind) in &items {
        let who = format!("{kind} {:?}", c.attr);
        let mut paths = vec![plan.stable_dir(c.phase).join(&c.rel)];
        paths.extend(c.custom_path.clone());
        for p in paths {
            if let Some(other) = dests.insert(p.clone(), who.clone()) {
                if other != who {
                    return Err(Error::new(format!(
                        "{other} and {who} share the destination {}; give each secret its own path",
                        p.display()
                    )));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(body: &str) -> Result<Plan> {
        parse(&format!("{{\"version\": 1, {body}}}"))
    }

    #[test]
    fn defaults_and_unknown_fields() {
        let p = parse(r#"{"version":1}"#).unwrap();
        assert_eq!(p.secrets_dir, PathBuf::from("/run/agenix"));
        assert_eq!(p.keep_generations, 1);
        let e = m(r#""secretz": {}"#).unwrap_err();
        assert!(e.message().contains("unknown field"), "{e}");
        let e = m(r#""secrets": {"a": {"file": "/x", "mod": "0400"}}"#).unwrap_err();
        assert!(e.message().contains("unknown field"), "{e}");
        assert!(parse(r#"{"version":2}"#)
            .unwrap_err()
            .message()
            .contains("version 2"));
    }

    #[test]
    fn names_modes_units() {
        assert!(check_name("a/b/c", "x").is_ok());
        for bad in ["", "/a", "a/../b", "a//b", "./a", "a/.", "a\nb"] {
            assert!(check_name(bad, "x").is_err(), "{bad:?}");
        }
        assert_eq!(parse_mode("0440", "x").unwrap(), 0o440);
        assert!(parse_mode("4755", "x").is_err());
        assert!(Principal::parse("alice@corp.example", "owner", "x").is_ok());
        for bad in ["a b", "-a", "a:b", "a/b", ""] {
            assert!(Principal::parse(bad, "owner", "x").is_err(), "{bad:?}");
        }
        assert_eq!(parse_mode("400", "x").unwrap(), 0o400);
        assert_eq!(parse_mode("u=r,g=r", "x").unwrap(), 0o440);
        assert_eq!(parse_mode("00400", "x").unwrap(), 0o400);
        for bad in [
            "u+s", "g+s,u=r", "+t", "", "u", "u=r,", "u=q", "0o400", "u=r g=r",
        ] {
            assert!(parse_mode(bad, "x").is_err(), "{bad:?}");
        }
        assert!(check_unit("postgresql.service", "x").is_ok());
        assert!(check_unit("foo@bar\\x2dbaz.service", "x").is_ok());
        for bad in [
            "x",
            "a;b.service",
            "a b.service",
            "a\n.service",
            "-x.service",
            ".service",
        ] {
            assert!(check_unit(bad, "x").is_err(), "{bad:?}");
        }
    }

    /// Symbolic modes give what GNU chmod gives to agenix's file: created 0400, then chmod
    /// under umask 022. (GNU `stat -c`: Linux.)
    #[test]
    #[cfg(target_os = "linux")]
    fn symbolic_modes_match_chmod() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        for m in [
            "u=r,g=r",
            "+r",
            "a=r",
            "u+w",
            "go-rwx",
            "ug=rw",
            "u=rw,g=u",
            "=",
            "o+x",
            "a+X",
            "u+x,a+X",
            "g+r-w",
            "u=rwx,go=rx",
            "-r",
            "a-r",
            "+w",
            "ugo=",
            "o=u",
            "u+rw,o+r",
            "a+w,=r",
            "go+w,=",
            "a+rwx,=w",
            "g+w,+r",
        ] {
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg("umask 022; rm -f \"$1\"; (umask 377; : > \"$1\"); chmod \"$2\" \"$1\" && stat -c %a \"$1\"")
                .args(["sh", f.to_str().unwrap(), m])
                .output()
                .unwrap();
            assert!(out.status.success(), "chmod {m}: {out:?}");
            let want = u32::from_str_radix(String::from_utf8_lossy(&out.stdout).trim(), 8).unwrap();
            assert_eq!(parse_mode(m, "x").unwrap(), want, "mode {m:?}");
        }
    }

    #[test]
    fn shared_destination_and_prefix() {
        let e = m(r#""secrets": {"a": {"file": "/x", "path": "/etc/s"}, "b": {"file": "/y", "path": "/etc/s"}}"#)
            .unwrap_err();
        assert!(e.message().contains("share the destination"), "{e}");
        let e = m(r#""secrets": {"a": {"file": "/x"}, "b": {"file": "/y", "name": "a/b"}}"#)
            .unwrap_err();
        assert!(e.message().contains("directory"), "{e}");
        let e = m(r#""secrets": {"a": {"file": "/x", "path": "/run/agenix/other"}}"#).unwrap_err();
        assert!(e.message().contains("inside secretsDir"), "{e}");
        let e = m(r#""secrets": {"a": {"file": "/x", "neededForUsers": true, "owner": "alice"}}"#)
            .unwrap_err();
        assert!(e.message().contains("owned by root"), "{e}");
    }
}
