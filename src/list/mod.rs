//! `secrets list`: every rule with its file's state, its recipients, who the file is encrypted
//! to now and whether my keys can read it, told without any private key (no passphrase is
//! asked). Built from the pieces `check` uses (`drift::assess_file`, `check::orphans`) and from
//! `readers`; `cmd::list` renders it. The JSON form is `schema.json` (versioned).

use std::collections::HashSet;
use std::hash::Hash;
use std::ops::Deref;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde::{Serialize, Serializer};

use crate::drift::{assess_file, KnownKeys, State};
use crate::header::Header;
use crate::keys::Recipient;
use crate::lockfile::{recipient_id, LockFile};
use crate::par::par_map;
use crate::readers::{my_keys, readable, readers, MyKey, Readable, Reader};
use crate::rules::{Broken, Rule, Rules};

/// The JSON Schema of `secrets list --json`.
pub const SCHEMA: &str = include_str!("schema.json");

#[derive(Serialize, Debug)]
pub struct Listing {
    pub version: u32,
    pub rules: String,
    pub identities: Vec<Identity>,
    pub files: Vec<File>,
}

/// One of my identity files.
#[derive(Serialize, Debug)]
pub struct Identity {
    pub path: String,
    /// Its public keys, each named as the rules name it when they do.
    pub keys: Vec<Key>,
    /// The `.pub` file the keys were read from, when not the key file itself.
    pub public_from: Option<String>,
    /// Why its public keys are unknown.
    pub unknown: Option<String>,
}

/// A key, named as the rules name it.
#[derive(Serialize, Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    pub name: Option<String>,
    pub comment: Option<String>,
    pub fingerprint: String,
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Serialize, Debug)]
pub struct File {
    pub file: String,
    pub state: &'static str,
    /// Why the state is not `present`, and the fix.
    pub message: Option<String>,
    /// The rule's armor; None for an orphan or a rule that cannot be used.
    pub armor: Option<bool>,
    /// The rule's recipients (none for an orphan or a rule that cannot be used).
    pub recipients: Shared<Key>,
    /// Who the file is encrypted to now; None when there is no readable age file.
    pub readers: Option<Shared<Key>>,
    /// yes, no or unknown; None when there is no readable age file.
    pub readable: Option<&'static str>,
    /// The identity files that can read it.
    pub readable_with: Shared<String>,
    /// Why `readable` is unknown.
    pub readable_note: Option<String>,
}

/// A list that many files have alike (their recipients, their readers, the identities that
/// read them), held once: a listing of 100,000 files would otherwise hold 100,000 copies.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Shared<T>(Arc<[T]>);

impl<T> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Shared(self.0.clone())
    }
}

impl<T> Default for Shared<T> {
    fn default() -> Self {
        Shared(Arc::from(Vec::new()))
    }
}

impl<T> Deref for Shared<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.0
    }
}

impl<T: Serialize> Serialize for Shared<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.as_ref().serialize(s)
    }
}

/// Where the lists are held once each.
struct Pool<T>(Mutex<HashSet<Shared<T>>>);

impl<T: Eq + Hash> Pool<T> {
    fn new() -> Self {
        Pool(Mutex::new(HashSet::new()))
    }

    /// The held list equal to `list`, held from now on if it is the first.
    fn share(&self, list: Vec<T>) -> Shared<T> {
        if list.is_empty() {
            return Shared::default();
        }
        let list = Shared(Arc::from(list));
        let mut held = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(same) = held.get(&list) {
            return same.clone();
        }
        held.insert(list.clone());
        list
    }
}

impl Key {
    fn of(r: &Recipient) -> Key {
        Key {
            name: r.name.clone(),
            comment: r.comment.as_deref().map(crate::names::escaped),
            fingerprint: r.fingerprint.clone(),
            kind: r.kind.report_name(),
        }
    }

    /// As a table shows it: name, else comment, else fingerprint.
    pub fn short(&self) -> String {
        self.name
            .clone()
            .or_else(|| self.comment.clone())
            .unwrap_or_else(|| self.fingerprint.clone())
    }

    /// Readers as keys: an unknown key is named by its tag or lock id, each stanza nothing
    /// names by `unknown` (the conventions of `secrets check --json`).
    fn of_readers(list: &[Reader]) -> Vec<Key> {
        let unknown = |kind: &str, fingerprint: &str| Key {
            name: None,
            comment: None,
            fingerprint: fingerprint.into(),
            kind: kind.into(),
        };
        let mut out = Vec::new();
        for r in list {
            match r {
                Reader::Known(k) => out.push(Key::of(k)),
                Reader::Unknown { kind, id } => out.push(unknown(kind, id)),
                Reader::Unnamed { kind, count } => {
                    out.extend((0..*count).map(|_| unknown(kind, "unknown")))
                }
            }
        }
        out
    }
}

/// What the listing needs besides the rules.
struct Ctx<'a> {
    rules: &'a Rules,
    lock: LockFile,
    known: KnownKeys,
    mine: Vec<MyKey>,
    keys: Pool<Key>,
    paths: Pool<String>,
}

/// List every rule, rule that cannot be used, and orphan. `explicit`: the `-i` paths.
pub fn list(rules: &Rules, explicit: &[PathBuf]) -> Listing {
    let (lock, _) = LockFile::load_lenient(&rules.dir);
    let ctx = Ctx {
        rules,
        lock,
        known: KnownKeys::from_rules(rules),
        mine: my_keys(explicit),
        keys: Pool::new(),
        paths: Pool::new(),
    };
    let all: Vec<&Rule> = rules.secrets.values().collect();
    let mut files = par_map(&all, 0, |r| rule_file(&ctx, r));
    files.extend(rules.broken.iter().map(|b| broken_file(&ctx, b)));
    files.extend(
        crate::cmd::check::orphans(rules)
            .into_iter()
            .map(|o| orphan_file(&ctx, &o)),
    );
    files.sort_by(|a, b| a.file.cmp(&b.file));
    Listing {
        version: 1,
        rules: rules.file.display().to_string(),
        identities: ctx.mine.iter().map(|m| identity(&ctx, m)).collect(),
        files,
    }
}

fn identity(ctx: &Ctx, m: &MyKey) -> Identity {
    Identity {
        path: m.path.display().to_string(),
        keys: m.keys.iter().map(|k| named(ctx, k)).collect(),
        public_from: m.from_pub.as_ref().map(|p| p.display().to_string()),
        unknown: m.unknown.clone(),
    }
}

/// My key, with the name the rules give it.
fn named(ctx: &Ctx, k: &Recipient) -> Key {
    let mut key = Key::of(k);
    if let Some(r) = ctx.known.by_id(&recipient_id(k)) {
        key.name = r.name.clone();
        key.comment = key
            .comment
            .or_else(|| r.comment.as_deref().map(crate::names::escaped));
    }
    key
}

fn empty(file: String, state: &'static str, message: Option<String>) -> File {
    File {
        file,
        state,
        message,
        armor: None,
        recipients: Shared::default(),
        readers: None,
        readable: None,
        readable_with: Shared::default(),
        readable_note: None,
    }
}

/// Who the file is encrypted to and whether I can read it.
fn fill(ctx: &Ctx, f: &mut File, name: Option<&str>, digest: &str, header: &Header) {
    let who = readers(name, digest, header, &ctx.lock, &ctx.known);
    f.readers = Some(ctx.keys.share(Key::of_readers(&who)));
    let can = readable(&ctx.mine, name, digest, header, &ctx.lock);
    f.readable = Some(can.word());
    match can {
        Readable::Yes(with) => {
            f.readable_with = ctx
                .paths
                .share(with.iter().map(|p| p.display().to_string()).collect())
        }
        Readable::Unknown(why) => f.readable_note = Some(why),
        Readable::No => {}
    }
}

fn rule_file(ctx: &Ctx, rule: &Rule) -> File {
    let mut f = empty(rule.name.clone(), "present", None);
    f.armor = Some(rule.armor);
    f.recipients = ctx
        .keys
        .share(rule.recipients.iter().map(Key::of).collect());
    match assess_file(rule, &ctx.lock, &ctx.known) {
        State::Missing => {
            f.state = "missing";
            f.message = Some(format!(
                "no file yet; create it with `secrets edit {}`",
                rule.name
            ));
        }
        State::Invalid(why) => {
            f.state = "invalid";
            f.message = Some(format!("not a valid age file: {why}"));
        }
        State::Present {
            digest,
            header,
            drift,
        } => {
            if !drift.is_clean() {
                let only_unverified =
                    drift.added.is_empty() && drift.removed.is_empty() && drift.armor.is_none();
                f.state = if only_unverified {
                    "unverified"
                } else {
                    "drifted"
                };
                f.message = Some(format!(
                    "{}; run `secrets rekey {}`",
                    drift.reasons(),
                    rule.name
                ));
            }
            fill(ctx, &mut f, Some(&rule.name), &digest, &header);
        }
    }
    f
}

fn broken_file(ctx: &Ctx, b: &Broken) -> File {
    let file = b
        .file
        .clone()
        .unwrap_or_else(|| crate::names::escaped(&b.name));
    let mut f = empty(
        file,
        "broken",
        Some(format!(
            "{} (in {}); fix the rule",
            b.message,
            ctx.rules.file.display()
        )),
    );
    // Its file, if there is one, still says who can read it.
    if let Some(name) = &b.file {
        if let Some((header, digest)) = read_header(&ctx.rules.dir.join(name)) {
            fill(ctx, &mut f, Some(name), &digest, &header);
        }
    }
    f
}

fn orphan_file(ctx: &Ctx, name: &str) -> File {
    let path = ctx.rules.dir.join(name);
    let mut f = empty(
        name.to_string(),
        "orphan",
        Some(format!(
            "no rule in {}; add a rule for \"{name}\" or delete the file",
            ctx.rules.file.display()
        )),
    );
    match read_header(&path) {
        Some((header, digest)) => fill(ctx, &mut f, None, &digest, &header),
        None => {
            f.message = Some(format!(
                "not an age file, and no rule in {}: if it holds a secret in the clear, purge \
                 it from git history",
                ctx.rules.file.display()
            ))
        }
    }
    f
}

/// In constant memory, as `check` reads files.
fn read_header(path: &std::path::Path) -> Option<(Header, String)> {
    crate::drift::header_and_digest(path).ok().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Equal lists are held once; an empty one needs no holding; JSON sees a plain array.
    #[test]
    fn equal_lists_are_held_once() {
        let pool = Pool::new();
        let a = pool.share(vec!["x".to_string(), "y".to_string()]);
        let b = pool.share(vec!["x".to_string(), "y".to_string()]);
        let c = pool.share(vec!["y".to_string()]);
        assert!(Arc::ptr_eq(&a.0, &b.0));
        assert!(!Arc::ptr_eq(&a.0, &c.0));
        assert_eq!(pool.0.lock().unwrap().len(), 2);
        assert!(pool.share(Vec::new()).is_empty());
        assert_eq!(serde_json::to_string(&a).unwrap(), r#"["x","y"]"#);
    }
}
