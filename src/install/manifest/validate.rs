//! The manifest as a whole, into a [`Plan`]: every text checked before use, the directories
//! kept apart, each secret and template (its name, path, mode, owner, units), and no two items
//! installed to the same place.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::keys::Recipient;
use crate::structured::{Format, KeyPath};

use super::super::template;
use super::fields::{check_name, check_unit, expand, parse_mode};
use super::raw::{RawManifest, RawSecret, RawTemplate};
use super::{ItemKind, ItemSpec, PhaseKind, Plan, Principal, SecretSpec, TemplateSpec, Who};

/// Every error found, in manifest order, and the plan of what validated: `plan` is None when
/// a top-level field failed, and otherwise holds only the items that passed, so that
/// `install --check` can still check their files. Installed only when `errors` is empty.
pub(super) struct Validated {
    pub(super) plan: Option<Plan>,
    pub(super) errors: Vec<Error>,
    /// Every secret's encrypted file that is a usable path, its item's other fields valid
    /// or not, with how to name it (`age.secrets.db.file`): for `install --check`.
    pub(super) files: Vec<(String, PathBuf)>,
}

/// Keep `r`'s value, or note its error and go on (every error is reported in one run).
fn keep<T>(r: Result<T>, errors: &mut Vec<Error>) -> Option<T> {
    r.map_err(|e| errors.push(e)).ok()
}

pub(super) fn validate(raw: RawManifest) -> Validated {
    let mut errors = Vec::new();
    let top_ok = keep(check_top_texts(&raw), &mut errors).is_some();
    // An item whose texts are refused is not looked at further: later messages would quote
    // them.
    let texts_ok: BTreeSet<(ItemKind, &str)> = item_texts(&raw, &mut errors);
    let um = raw.user_mode;
    // The top level's messages quote its texts: only checked further when those passed.
    let top = top_ok.then(|| {
        let dirs = directories(&raw, &mut errors);
        let identity_paths: Vec<PathBuf> = raw
            .identity_paths
            .iter()
            .filter_map(|p| keep(expand(p, um, "identityPaths"), &mut errors))
            .collect();
        let host_keys: Vec<Recipient> = raw
            .host_public_keys
            .iter()
            .filter_map(|k| {
                let r =
                    Recipient::parse(k).map_err(|e| e.context(format!("hostPublicKeys: {k:?}")));
                keep(r, &mut errors)
            })
            .collect();
        let plugin_path = plugin_path(&raw, &mut errors);
        dirs.map(|d| (d, identity_paths, host_keys, plugin_path))
    });
    let Some(Some(([secrets_dir, mount_point, users_dir], identity_paths, host_keys, plugin_path))) =
        top
    else {
        return Validated {
            plan: None,
            errors,
            files: Vec::new(),
        };
    };

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
    let mut files = Vec::new();
    for (attr, s) in &raw.secrets {
        if texts_ok.contains(&(ItemKind::Secret, attr.as_str())) {
            match secret(&plan, attr, s, &mut files) {
                Ok(spec) => plan.secrets.push(spec),
                Err(e) => errors.extend(e),
            }
        }
    }
    // Placeholders name secrets by the hash of their attribute name; a secret that failed
    // above is still known (its own error says what is wrong with it).
    let known: BTreeMap<String, String> = raw
        .secrets
        .keys()
        .filter(|a| crate::names::check(a, "").is_ok())
        .map(|a| (template::placeholder_hash(a), a.clone()))
        .collect();
    for (attr, t) in &raw.templates {
        if texts_ok.contains(&(ItemKind::Template, attr.as_str())) {
            match template(&plan, attr, t, &known) {
                Ok(spec) => plan.templates.push(spec),
                Err(e) => errors.extend(e),
            }
        }
    }

    errors.extend(check_collisions(&plan));
    Validated {
        plan: Some(plan),
        errors,
        files,
    }
}

/// The top level's names and paths, before any of them is used or shown: see `crate::names`
/// for what is refused and why.
fn check_top_texts(raw: &RawManifest) -> Result<()> {
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
    Ok(())
}

/// Each item's names and paths (and its option, shown in every message about it); returns
/// the items whose texts all passed.
fn item_texts<'a>(raw: &'a RawManifest, errors: &mut Vec<Error>) -> BTreeSet<(ItemKind, &'a str)> {
    use crate::names::check;
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
        (a, ItemKind::Secret, &s.option, fields.to_vec())
    });
    let templates = raw.templates.iter().map(|(a, t)| {
        let fields = [
            ("name", t.name.as_ref()),
            ("path", t.path.as_ref()),
            ("owner", Some(&t.owner)),
            ("group", Some(&t.group)),
        ];
        (a, ItemKind::Template, &t.option, fields.to_vec())
    });
    let mut ok = BTreeSet::new();
    for (attr, kind, option, fields) in secrets.chain(templates) {
        if let Err(e) = check(attr, &format!("{} attribute name", kind.as_str())) {
            errors.push(e);
            continue;
        }
        let plain = Who {
            kind,
            attr,
            option: None,
        };
        // The option is checked before it is used to name anything.
        let option = match option {
            Some(o) if o.is_empty() => {
                errors.push(Error::new(format!(
                    "{}: \"option\" is empty; give the option path (age.{}s.<name>) or leave it out",
                    plain.item(),
                    kind.as_str()
                )));
                continue;
            }
            Some(o) => match check(o, &plain.field("option")) {
                Ok(()) => Some(o.as_str()),
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            },
            None => None,
        };
        let who = Who { kind, attr, option };
        let before = errors.len();
        for (field, t) in fields {
            if let Some(t) = t {
                keep(check(t, &who.field(field)), errors);
            }
        }
        if errors.len() == before {
            ok.insert((kind, attr.as_str()));
        }
    }
    ok
}

/// secretsDir, secretsMountPoint and secretsDirForUsers, expanded, and none inside another;
/// keepGenerations.
fn directories(raw: &RawManifest, errors: &mut Vec<Error>) -> Option<[PathBuf; 3]> {
    let um = raw.user_mode;
    let secrets_dir = keep(expand(&raw.secrets_dir, um, "secretsDir"), errors);
    let mount_point = keep(
        expand(&raw.secrets_mount_point, um, "secretsMountPoint"),
        errors,
    );
    let users_dir = keep(
        expand(&raw.secrets_dir_for_users, um, "secretsDirForUsers"),
        errors,
    );
    if raw.keep_generations < 1 {
        errors.push(Error::new(
            "keepGenerations must be at least 1 (the current generation counts)",
        ));
    }
    let (secrets_dir, mount_point, users_dir) = (secrets_dir?, mount_point?, users_dir?);
    let before = errors.len();
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
            errors.push(Error::new(format!(
                "{an} ({}) and {bn} ({}) must be separate paths, neither inside the other",
                a.display(),
                b.display()
            )));
        }
    }
    (errors.len() == before && raw.keep_generations >= 1).then_some([
        secrets_dir,
        mount_point,
        users_dir,
    ])
}

/// pluginPath, expanded: each entry one directory.
fn plugin_path(raw: &RawManifest, errors: &mut Vec<Error>) -> Vec<PathBuf> {
    let one = |d: &String| {
        // Joined into $PATH, where a ':' would split one entry into two.
        if d.contains(':') {
            return Err(Error::new(format!(
                "pluginPath: {d:?} contains ':'; give each directory as its own entry"
            )));
        }
        expand(d, raw.user_mode, "pluginPath")
    };
    raw.plugin_path
        .iter()
        .filter_map(|d| keep(one(d), errors))
        .collect()
}

/// One secret: the fields all items have, then what only secrets have (the phase and file);
/// every error of the item. Its file goes to `files` when it is a usable path.
fn secret(
    plan: &Plan,
    attr: &str,
    s: &RawSecret,
    files: &mut Vec<(String, PathBuf)>,
) -> Result<SecretSpec, Vec<Error>> {
    let um = plan.user_mode;
    let who = Who {
        kind: ItemKind::Secret,
        attr,
        option: s.option.as_deref(),
    };
    let phase = if s.needed_for_users {
        PhaseKind::Users
    } else {
        PhaseKind::Main
    };
    let mut errors = Vec::new();
    let spec = item_spec(
        plan,
        who,
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
        &mut errors,
    );
    if s.needed_for_users && um {
        errors.push(Error::new(format!(
            "{}: neededForUsers has no meaning with userMode (a user's installer \
             creates no users and must not touch the system's secretsDirForUsers); remove it",
            who.at("neededForUsers")
        )));
    }
    if let Some(spec) = spec.as_ref().filter(|_| s.needed_for_users && !um) {
        if !spec.owner.is_root() || !spec.group.is_root() {
            errors.push(Error::new(format!(
                "{}: neededForUsers secrets are installed before users and groups exist, \
                 so they must be owned by root (owner and group \"0\"), not {}:{}",
                who.at("neededForUsers"),
                spec.owner,
                spec.group
            )));
        }
    }
    let file = if s.file.is_empty() {
        errors.push(Error::new(format!("{}: \"file\" is empty", who.at("file"))));
        None
    } else {
        keep(expand(&s.file, um, &who.field("file")), &mut errors)
    };
    files.extend(file.clone().map(|f| (who.at("file"), f)));
    // At load, so a wrong format or key fails before anything is decrypted.
    let format = keep(
        s.format
            .parse::<Format>()
            .map_err(|e| e.context(who.at("format"))),
        &mut errors,
    );
    let key = format.and_then(|format| {
        let k = KeyPath::parse_for(format, &s.key).map_err(|e| e.context(who.at("key")));
        keep(k, &mut errors)
    });
    match (spec, file, format, key) {
        (Some(item), Some(file), Some(format), Some(key)) if errors.is_empty() => Ok(SecretSpec {
            item,
            file,
            format,
            key,
        }),
        _ => Err(errors),
    }
}

/// One template: the fields all items have, then its content (placeholders of `known`
/// secrets, by hash); every error of the item.
fn template(
    plan: &Plan,
    attr: &str,
    t: &RawTemplate,
    known: &BTreeMap<String, String>,
) -> Result<TemplateSpec, Vec<Error>> {
    let who = Who {
        kind: ItemKind::Template,
        attr,
        option: t.option.as_deref(),
    };
    let mut errors = Vec::new();
    let spec = item_spec(
        plan,
        who,
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
        &mut errors,
    );
    let segments = keep(
        template::parse(&t.content, known).map_err(|e| e.context(who.at("content"))),
        &mut errors,
    );
    match (spec, segments) {
        (Some(item), Some(segments)) if errors.is_empty() => Ok(TemplateSpec { item, segments }),
        _ => Err(errors),
    }
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

/// The fields every item has, each checked (every error noted in `errors`); None when one
/// failed.
fn item_spec(
    plan: &Plan,
    who: Who<'_>,
    phase: PhaseKind,
    r: ItemFields<'_>,
    errors: &mut Vec<Error>,
) -> Option<ItemSpec> {
    let before = errors.len();
    let name = r.name.clone().unwrap_or_else(|| who.attr.to_string());
    // The `name` option, or the attribute name it defaults to.
    let named = keep(check_name(&name, &who.at("name")), errors).is_some();
    let rel = who.kind.rel(&name);
    let stable = plan.stable_dir(phase).join(&rel);
    let custom_path = match r.path {
        Some(p) if named => keep(custom_path(plan, who, p, &stable), errors).flatten(),
        _ => None,
    };
    let mode = keep(parse_mode(r.mode, &who.at("mode")), errors);
    let owner = keep(Principal::parse(r.owner, "owner", &who.at("owner")), errors);
    let group = keep(Principal::parse(r.group, "group", &who.at("group")), errors);
    for (units, field) in [(r.restart, "restartUnits"), (r.reload, "reloadUnits")] {
        for u in units {
            keep(check_unit(u, &who.field(field)), errors);
        }
    }
    if errors.len() != before {
        return None;
    }
    Some(ItemSpec {
        kind: who.kind,
        attr: who.attr.to_string(),
        name,
        rel,
        custom_path,
        mode: mode?,
        owner: owner?,
        group: group?,
        symlink: r.symlink,
        phase,
        restart_units: r.restart.to_vec(),
        reload_units: r.reload.to_vec(),
        option: who.option.map(str::to_string),
    })
}

/// An item's `path`: None when it is the stable path anyway; never the install lock, and
/// nowhere else inside the installer's directories.
fn custom_path(plan: &Plan, who: Who<'_>, p: &str, stable: &PathBuf) -> Result<Option<PathBuf>> {
    let p = expand(p, plan.user_mode, &who.field("path"))?;
    if p == *stable {
        return Ok(None);
    }
    let at = who.at("path");
    let lock = plan.lock_path();
    if p == lock {
        return Err(Error::new(format!(
            "{at}: path {} is the install lock of secretsMountPoint ({}); a \
             copy or link there would replace it, and every later install would \
             refuse to run. Choose another path",
            p.display(),
            plan.mount_point.display()
        )));
    }
    if p == plan.restarts_path() {
        return Err(Error::new(format!(
            "{at}: path {} is where the installer leaves restarts for its owners step \
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
                "{at}: path {} is inside {dn} ({}) but is not {}; leave path at \
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
/// not the same destination. Every such pair is an error.
fn check_collisions(plan: &Plan) -> Vec<Error> {
    let items: Vec<&ItemSpec> = plan
        .secrets
        .iter()
        .map(|s| &s.item)
        .chain(plan.templates.iter().map(|t| &t.item))
        .collect();
    let mut errors = Vec::new();
    let rels = same_rel(&items, &mut errors);
    rel_inside_rel(&rels, &mut errors);
    shared_destination(plan, &items, &mut errors);
    errors
}

/// Same relative path within a phase's generation; returns every (phase, rel) and who has it
/// first.
fn same_rel<'a>(
    items: &[&'a ItemSpec],
    errors: &mut Vec<Error>,
) -> BTreeMap<(PhaseKind, &'a str), String> {
    let mut rels: BTreeMap<(PhaseKind, &str), String> = BTreeMap::new();
    for it in items {
        let who = it.who().item();
        if let Some(other) = rels.get(&(it.phase, it.rel.as_str())) {
            errors.push(Error::new(format!(
                "{other} and {who} both install to {:?}; give one of them another name",
                it.rel
            )));
        } else {
            rels.insert((it.phase, it.rel.as_str()), who);
        }
    }
    rels
}

/// One item's relative path a directory of another's in the same phase.
fn rel_inside_rel(rels: &BTreeMap<(PhaseKind, &str), String>, errors: &mut Vec<Error>) {
    for phase in [PhaseKind::Users, PhaseKind::Main] {
        // Sorted, so a name's descendants follow it: each is checked against the names that
        // are its directories (a prefix ending at a '/').
        let names: BTreeMap<&str, &String> = rels
            .iter()
            .filter(|((p, _), _)| *p == phase)
            .map(|((_, r), w)| (*r, w))
            .collect();
        for (b, wb) in &names {
            for (i, _) in b.match_indices('/') {
                let a = &b[..i];
                if let Some(wa) = names.get(a) {
                    errors.push(Error::new(format!(
                        "{wa} is named {a:?}, but {wb} needs {a:?} to be a directory ({b:?}); \
                         rename one of them"
                    )));
                }
            }
        }
    }
}

/// Destinations: stable paths and custom paths must all differ.
fn shared_destination(plan: &Plan, items: &[&ItemSpec], errors: &mut Vec<Error>) {
    let mut dests: BTreeMap<PathBuf, String> = BTreeMap::new();
    for it in items {
        let who = it.who().item();
        let mut paths = vec![plan.stable_dir(it.phase).join(&it.rel)];
        paths.extend(it.custom_path.clone());
        for p in paths {
            match dests.get(&p) {
                Some(other) if *other != who => errors.push(Error::new(format!(
                    "{other} and {who} share the destination {}; give each secret its own path",
                    p.display()
                ))),
                Some(_) => {}
                None => {
                    dests.insert(p, who.clone());
                }
            }
        }
    }
}
