//! What to do when a file cannot be decrypted: who can read it now (from its header), and
//! who must rekey it, or how to replace it when nobody the rules name can.

use std::path::PathBuf;

use super::{key_label, my_keys, readers, Reader};
use crate::drift::KnownKeys;
use crate::error::{Error, ErrorKind};
use crate::header::Header;
use crate::keys::{Identities, Recipient};
use crate::lockfile::{recipient_id, LockFile};
use crate::rules::{Rule, Rules};

/// A NoMatchingIdentity error of `rule`'s file, told again with who can read the file and what
/// to do; any other error is returned as it is. `shown`: the file as the user named it, for
/// the commands to type; `explicit`: the `-i` paths.
pub fn explain(
    e: Error,
    shown: &str,
    rule: &Rule,
    rules: &Rules,
    ids: &Identities,
    explicit: &[PathBuf],
) -> Error {
    if e.kind() != ErrorKind::NoMatchingIdentity {
        return e;
    }
    // Read again: the error carries no header. A file that changed meanwhile only changes
    // the advice.
    let Ok(Some((header, digest))) = crate::drift::header_and_digest(&rule.path) else {
        return e;
    };
    let mut msg = format!(
        "{}: {}",
        rule.path.display(),
        crate::crypto::no_match_facts(&header, ids)
    );
    for line in explain_lines(shown, rule, rules, &digest, &header, explicit) {
        msg.push('\n');
        msg.push_str(&line);
    }
    Error::of_kind(ErrorKind::NoMatchingIdentity, msg)
}

/// The advice, one line each: who can read the file now, then what to do.
pub fn explain_lines(
    shown: &str,
    rule: &Rule,
    rules: &Rules,
    digest: &str,
    header: &Header,
    explicit: &[PathBuf],
) -> Vec<String> {
    let lock = LockFile::load(&rules.dir).unwrap_or_default();
    let known = KnownKeys::from_rules(rules);
    let all = readers(Some(&rule.name), digest, header, &lock, &known);
    let labels: Vec<String> = all.iter().map(Reader::label).collect();
    let mut lines = vec![format!("who can read it now: {}", labels.join(", "))];
    let named: Vec<String> = all
        .iter()
        .filter_map(|r| match r {
            Reader::Known(k) => Some(super::short_label(k)),
            _ => None,
        })
        .collect();
    let unnamed = all.iter().any(|r| matches!(r, Reader::Unnamed { .. }));
    let rekey = format!("`secrets rekey {shown}`");
    let rotate = format!(
        "replace its content without reading it: `secrets encrypt {shown} < NEW-CONTENT` (the \
         old content is lost)"
    );
    // Who must rekey: the readers the rules name; else, when X25519 stanzas name nobody,
    // whoever holds one of those keys; else nobody the rules know.
    let who = if !named.is_empty() {
        Some(format!("{} must run {rekey}", or_list(&named)))
    } else if unnamed {
        Some(format!(
            "whoever holds one of its X25519/plugin keys must run {rekey}; if nobody can, \
             {rotate}"
        ))
    } else {
        None
    };
    let mine = my_keys(explicit);
    let my_recipients: Vec<&Recipient> = mine.iter().flat_map(|m| &m.keys).collect();
    let listed: Vec<&Recipient> = rule
        .recipients
        .iter()
        .filter(|r| my_recipients.iter().any(|m| m.key_id() == r.key_id()))
        .collect();
    let rules_file = rules.file.display();
    let name = &rule.name;
    lines.push(match (listed.first(), who) {
        (Some(k), Some(who)) => format!(
            "the rules already list your key {} for {name}, but the file was encrypted before \
             it was added: {who}",
            key_label(k)
        ),
        (Some(k), None) => format!(
            "the rules already list your key {} for {name}, but none of the keys in the rules \
             can read the file, so nobody can rekey it: {rotate}",
            key_label(k)
        ),
        (None, who) if !my_recipients.is_empty() => {
            // Named as the rules name them, when they do (a key of another rule).
            let mine: Vec<String> = my_recipients
                .iter()
                .map(|r| key_label(known.by_id(&recipient_id(r)).unwrap_or(r)))
                .collect();
            let then = match who {
                Some(who) => format!("then {who}"),
                None => {
                    format!("then, as none of the keys in the rules can read the file, {rotate}")
                }
            };
            format!(
                "your key{} {} {} not among the recipients of {name} in {rules_file}: pass the \
                 right key with -i, or add yours to that rule, {then}",
                if mine.len() == 1 { "" } else { "s" },
                mine.join(", "),
                if mine.len() == 1 { "is" } else { "are" },
            )
        }
        (None, Some(who)) => format!(
            "which keys are yours cannot be told (no .pub beside a key whose public half is not \
             in it): pass the right key with -i; if the rules list yours, {who}"
        ),
        (None, None) => format!(
            "none of the keys in the rules can read the file, so nobody can rekey it: {rotate}"
        ),
    });
    lines
}

/// "a, b or c".
fn or_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}
