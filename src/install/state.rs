//! The per-generation state file (`.secrets-install.json`): which items a generation holds,
//! where they were linked or copied to, and their units. Names and units only, never values
//! or hashes of values. It tells the next run what was removed (to unlink it and restart its
//! units) and whether a directory under the mount point is ours.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::generation::Gen;
use super::genfs;
use super::manifest::{ItemKind, ItemSpec, STATE_FILE};
use super::modes::STATE_FILE_MODE;
use super::owned::{self, Ownership};
use crate::error::{Error, Result};
use crate::fs;

/// The record of one generation (named so as not to be taken for any other state).
#[derive(Serialize, Deserialize, Debug, Clone, Default)]
#[serde(rename_all = "camelCase")]
pub struct GenState {
    pub version: u32,
    pub items: Vec<StateItem>,
}

impl GenState {
    /// The record of a generation holding `items`, each with whether its owner, group and
    /// mode are still to be applied (`--defer-owners`).
    pub fn of<'a>(items: impl Iterator<Item = (&'a ItemSpec, bool)>) -> GenState {
        GenState {
            version: 1,
            items: items
                .map(|(i, deferred)| StateItem {
                    kind: i.kind.as_str().into(),
                    attr: i.attr.clone(),
                    rel: i.rel.clone(),
                    path: i.custom_path.clone(),
                    symlink: i.symlink,
                    restart_units: i.restart_units.clone(),
                    reload_units: i.reload_units.clone(),
                    pending: deferred.then(|| Pending {
                        owner: i.owner.to_string(),
                        group: i.group.to_string(),
                        mode: i.mode,
                    }),
                })
                .collect(),
        }
    }
}

#[derive(Serialize, Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct StateItem {
    /// "secret" or "template" (kept as text: a kind this version does not know is a secret).
    pub kind: String,
    pub attr: String,
    pub rel: String,
    pub path: Option<PathBuf>,
    pub symlink: bool,
    pub restart_units: Vec<String>,
    pub reload_units: Vec<String>,
    /// Written root's by `--defer-owners`: the owner, group and mode `--phase owners` gives
    /// it (recorded here, with the files they are for, so that the step applies what this
    /// generation was written for whatever happens in between). Absent in older records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<Pending>,
}

/// An item's owner and group as the manifest named them, and its final mode.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub owner: String,
    pub group: String,
    pub mode: u32,
}

impl StateItem {
    pub fn kind(&self) -> ItemKind {
        ItemKind::from_recorded(&self.kind)
    }

    /// A template's name, when this is one recorded below `rendered/`.
    pub fn template_name(&self) -> Option<&str> {
        ItemKind::template_name(&self.rel).filter(|_| self.kind() == ItemKind::Template)
    }
}

pub fn write(gen: &Gen, state: &GenState, owner: Option<Ownership>) -> Result<()> {
    let p = gen.path.join(STATE_FILE);
    let data = serde_json::to_vec(state).expect("state serializes");
    owned::create_owned_file(&p, &data, owner, STATE_FILE_MODE, false)
        .map_err(|e| genfs::with_space(Error::io("cannot write", &p, e), &gen.path))
}

/// The state of a generation; None for generations written by other tools.
pub fn read(gen: &Gen) -> Option<GenState> {
    let p = gen.path.join(STATE_FILE);
    let (data, _) = fs::read_secret_nofollow(&p).ok()?;
    serde_json::from_slice(&data).ok()
}

/// Regular files below a generation (relative paths), for generations without a state file.
pub fn walk_files(dir: &Path) -> Vec<String> {
    let mut files = fs::regular_files(dir, |_| true);
    files.retain(|rel| rel != STATE_FILE);
    files
}

/// What `prev` held that the new generation (holding `new_rels`) does not. A generation
/// without a state file (another tool's) is taken to hold secrets named like its files.
pub fn removed_since(prev: Option<&Gen>, new_rels: &BTreeSet<&str>) -> Vec<StateItem> {
    let Some(prev) = prev else {
        return Vec::new();
    };
    match read(prev) {
        Some(st) => st
            .items
            .into_iter()
            .filter(|i| !new_rels.contains(i.rel.as_str()))
            .collect(),
        None => walk_files(&prev.path)
            .into_iter()
            .filter(|r| !new_rels.contains(r.as_str()))
            .map(|rel| StateItem {
                kind: ItemKind::Secret.as_str().into(),
                attr: rel.clone(),
                rel,
                path: None,
                symlink: true,
                restart_units: Vec::new(),
                reload_units: Vec::new(),
                pending: None,
            })
            .collect(),
    }
}

/// Does generation `g` hold anything (by its state file, else by its files)?
pub fn holds_anything(g: &Gen) -> bool {
    match read(g) {
        Some(st) => !st.items.is_empty(),
        None => !walk_files(&g.path).is_empty(),
    }
}
