//! The manifest as a whole, into a [`Plan`]: every text checked before use, the directories
//! kept apart, each secret and template (its name, path, mode, owner, units), and no two items
//! installed to the same place.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::keys::Recipient;
use crate::structured::{Format, KeyPath};

use super::super::template;
use super::fields::{check_name, check_unit, expand, parse_mode};
use super::raw::{RawManifest, RawSecret, RawTemplate};
use super::{ItemKind, ItemSpec, PhaseKind, Plan, Principal, SecretSpec, TemplateSpec};

/// How messages name an item: `secret "db"`, `template "app.conf"`.
fn who(kind: ItemKind, attr: &str) -> String {
    format!("{} {attr:?}", kind.as_str())
}

pub(super) fn validate(raw: RawManifest) -> Result<Plan> {
    check_texts(&raw)?;
    let um = raw.user_mode;
    let [secrets_dir, mount_point, users_dir] = directories(&raw)?;
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
    let plugin_path = plugin_path(&raw)?;

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
        let spec = secret(&plan, attr, s)?;
        plan.secrets.push(spec);
    }
    // Placeholders name secrets by the hash of their attribute name.
    let known: BTreeMap<String, String> = plan
        .secrets
        .iter()
        .map(|s| {
            (
                template::placeholder_hash(&s.item.attr),
                s.item.attr.clone(),
            )
        })
        .collect();
    for (attr, t) in &raw.templates {
        let spec = template(&plan, attr, t, &known)?;
        plan.templates.push(spec);
    }

    check_collisions(&plan)?;
    Ok(plan)
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
            ("format", Some(&s.format)),
            ("key", Some(&s.key)),
        ];
        (a, ItemKind::Secret, fields.to_vec())
    });
    let templates = raw.templates.iter().map(|(a, t)| {
        let fields = [
            ("name", t.name.as_ref()),
            ("path", t.path.as_ref()),
            ("owner", Some(&t.owner)),
            ("group", Some(&t.group)),
        ];
        (a, ItemKind::Template, fields.to_vec())
    });
    for (attr, kind, fields) in secrets.chain(templates) {
        check(attr, &format!("{} attribute name", kind.as_str()))?;
        let item = who(kind, attr);
        for (field, t) in fields {
            t.map_or(Ok(()), |t| check(t, &format!("{item} {field}")))?;
        }
    }
    Ok(())
}

/// secretsDir, secretsMountPoint and secretsDirForUsers, expanded, and none inside another.
fn directories(raw: &RawManifest) -> Result<[PathBuf; 3]> {
    let um = raw.user_mode;
    let secrets_dir = expand(&raw.secrets_dir, um, "secretsDir")?;
    let mount_point = expand(&raw.secrets_mount_point, um, "secretsMountPoint")?;
    let users_dir = expand(&raw.secrets_dir_for_users, um, "secretsDirForUsers")?;
    // keepGenerations is checked between the expansion and this, as it always was: the first
    // error a manifest with several gets stays the same.
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
    Ok([secrets_dir, mount_point, users_dir])
}

/// pluginPath, expanded: each entry one directory.
fn plugin_path(raw: &RawManifest) -> Result<Vec<PathBuf>> {
    raw.plugin_path
        .iter()
        .map(|d| {
            // Joined into $PATH, where a ':' would split one entry into two.
            if d.contains(':') {
                return Err(Error::new(format!(
                    "pluginPath: {d:?} contains ':'; give each directory as its own entry"
                )));
            }
            expand(d, raw.user_mode, "pluginPath")
        })
        .collect()
}

/// One secret: the fields all items have, then what only secrets have (the phase and file).
fn secret(plan: &Plan, attr: &str, s: &RawSecret) -> Result<SecretSpec> {
    let um = plan.user_mode;
    let item = who(ItemKind::Secret, attr);
    let phase = if s.needed_for_users {
        PhaseKind::Users
    } else {
        PhaseKind::Main
    };
    let spec = item_spec(
        plan,
        attr,
        ItemKind::Secret,
        phase,
        ItemFields {
            name: &s.name,
            path: &s.path,
            mode: &s.mode,
            owner: &s.owner,
            group: &s.group,
            symlink: s.symlink,
            restart: &s.restart_units,
            reload: &s.reload_units,
        },
    )?;
    if s.needed_for_users && um {
        return Err(Error::new(format!(
            "{item}: neededForUsers has no meaning with userMode (a user's installer \
             creates no users and must not touch the system's secretsDirForUsers); remove it"
        )));
    }
    if s.needed_for_users && !um && (!spec.owner.is_root() || !spec.group.is_root()) {
        return Err(Error::new(format!(
            "{item}: neededForUsers secrets are installed before users and groups exist, \
             so they must be owned by root (owner and group \"0\"), not {}:{}",
            spec.owner, spec.group
        )));
    }
    if s.file.is_empty() {
        return Err(Error::new(format!("{item}: \"file\" is empty")));
    }
    let file = expand(&s.file, um, &format!("{item} file"))?;
    // At load, so a wrong format or key fails before anything is decrypted.
    let format: Format = s.format.parse().map_err(|e: Error| e.context(&item))?;
    let key = KeyPath::parse_for(format, &s.key).map_err(|e| e.context(&item))?;
    Ok(SecretSpec {
        item: spec,
        file,
        format,
        key,
    })
}

/// One template: the fields all items have, then its content (placeholders of `known`
/// secrets, by hash).
fn template(
    plan: &Plan,
    attr: &str,
    t: &RawTemplate,
    known: &BTreeMap<String, String>,
) -> Result<TemplateSpec> {
    let spec = item_spec(
        plan,
        attr,
        ItemKind::Template,
        PhaseKind::Main,
        ItemFields {
            name: &t.name,
            path: &t.path,
            mode: &t.mode,
            owner: &t.owner,
            group: &t.group,
            symlink: t.symlink,
            restart: &t.restart_units,
            reload: &t.reload_units,
        },
    )?;
    let segments =
        template::parse(&t.content, known).map_err(|e| e.context(who(ItemKind::Template, attr)))?;
    Ok(TemplateSpec {
        item: spec,
        segments,
    })
}

/// The manifest fields secrets and templates share.
struct ItemFields<'a> {
    name: &'a Option<String>,
    path: &'a Option<String>,
    mode: &'a str,
    owner: &'a str,
    group: &'a str,
    symlink: bool,
    restart: &'a [String],
    reload: &'a [String],
}

fn item_spec(
    plan: &Plan,
    attr: &str,
    kind: ItemKind,
    phase: PhaseKind,
    r: ItemFields<'_>,
) -> Result<ItemSpec> {
    let item = &who(kind, attr);
    let name = r.name.clone().unwrap_or_else(|| attr.to_string());
    check_name(&name, item)?;
    let rel = kind.rel(&name);
    let stable = plan.stable_dir(phase).join(&rel);
    let custom_path = match r.path {
        None => None,
        Some(p) => custom_path(plan, item, p, &stable)?,
    };
    let mode = parse_mode(r.mode, item)?;
    let owner = Principal::parse(r.owner, "owner", item)?;
    let group = Principal::parse(r.group, "group", item)?;
    for u in r.restart.iter().chain(r.reload) {
        check_unit(u, &format!("{item} restartUnits/reloadUnits"))?;
    }
    Ok(ItemSpec {
        kind,
        attr: attr.to_string(),
        name,
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

/// An item's `path`: None when it is the stable path anyway; never the install lock, and
/// nowhere else inside the installer's directories.
fn custom_path(plan: &Plan, item: &str, p: &str, stable: &PathBuf) -> Result<Option<PathBuf>> {
    let p = expand(p, plan.user_mode, &format!("{item} path"))?;
    if p == *stable {
        return Ok(None);
    }
    let lock = plan.lock_path();
    if p == lock {
        return Err(Error::new(format!(
            "{item}: path {} is the install lock of secretsMountPoint ({}); a \
             copy or link there would replace it, and every later install would \
             refuse to run. Choose another path",
            p.display(),
            plan.mount_point.display()
        )));
    }
    if p == plan.restarts_path() {
        return Err(Error::new(format!(
            "{item}: path {} is where the installer leaves restarts for its owners step \
             (next to secretsMountPoint {}); choose another path",
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
    Ok(Some(p))
}

/// No two items in one place: not the same name in a generation, not one inside the other,
/// not the same destination.
fn check_collisions(plan: &Plan) -> Result<()> {
    let items: Vec<&ItemSpec> = plan
        .secrets
        .iter()
        .map(|s| &s.item)
        .chain(plan.templates.iter().map(|t| &t.item))
        .collect();
    let rels = same_rel(&items)?;
    rel_inside_rel(&rels)?;
    shared_destination(plan, &items)
}

/// Same relative path within a phase's generation; returns every (phase, rel) and who has it.
fn same_rel<'a>(items: &[&'a ItemSpec]) -> Result<BTreeMap<(PhaseKind, &'a str), String>> {
    let mut rels: BTreeMap<(PhaseKind, &str), String> = BTreeMap::new();
    for it in items {
        let who = who(it.kind, &it.attr);
        if let Some(other) = rels.insert((it.phase, it.rel.as_str()), who.clone()) {
            return Err(Error::new(format!(
                "{other} and {who} both install to {:?}; give one of them another name",
                it.rel
            )));
        }
    }
    Ok(rels)
}

/// One item's relative path a directory of another's in the same phase.
fn rel_inside_rel(rels: &BTreeMap<(PhaseKind, &str), String>) -> Result<()> {
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
    Ok(())
}

/// Destinations: stable paths and custom paths must all differ.
fn shared_destination(plan: &Plan, items: &[&ItemSpec]) -> Result<()> {
    let mut dests: BTreeMap<PathBuf, String> = BTreeMap::new();
    for it in items {
        let who = who(it.kind, &it.attr);
        let mut paths = vec![plan.stable_dir(it.phase).join(&it.rel)];
        paths.extend(it.custom_path.clone());
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
