//! Structured secrets in the installer: each encrypted document is decrypted once per run,
//! however many secrets take values from it (in either phase, or as template inputs), and each
//! secret's value is then taken out of it by key. A secret whose document cannot be decrypted
//! or parsed, or lacks its key, fails on its own, like any secret that cannot be decrypted.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::error::Result;
use crate::fs::SecretBytes;
use crate::keys::Identities;
use crate::par;
use crate::structured;

use super::decrypt;
use super::manifest::SecretSpec;

/// The documents decrypted so far in this run, by file. Kept for the whole run so the users
/// phase and the main phase share them; wiped when the run ends (`SecretBytes`).
#[derive(Default)]
pub struct Documents {
    decrypted: BTreeMap<PathBuf, Result<SecretBytes>>,
}

impl Documents {
    /// Decrypt, in parallel, every document `specs` take values from that is not here yet.
    pub fn load<'a>(&mut self, specs: impl IntoIterator<Item = &'a SecretSpec>, ids: &Identities) {
        let mut todo: BTreeMap<&PathBuf, &SecretSpec> = BTreeMap::new();
        for s in specs {
            if s.is_structured() && !self.decrypted.contains_key(&s.file) {
                todo.entry(&s.file).or_insert(s);
            }
        }
        let todo: Vec<&SecretSpec> = todo.into_values().collect();
        let values = par::par_map(&todo, decrypt::threads(), |s| decrypt::decrypt(s, ids));
        for (s, v) in todo.into_iter().zip(values) {
            self.decrypted.insert(s.file.clone(), v);
        }
    }

    /// One secret's value: a structured secret's from its document (loaded before), any other
    /// secret's file decrypted as it always is.
    pub fn value(&self, s: &SecretSpec, ids: &Identities) -> Result<SecretBytes> {
        if !s.is_structured() {
            return decrypt::decrypt(s, ids);
        }
        let fresh;
        let doc = match self.decrypted.get(&s.file) {
            Some(Ok(doc)) => doc,
            Some(Err(e)) => return Err(e.clone()),
            // Not loaded (a caller's mistake): decrypt it here rather than fail the secret.
            None => {
                fresh = decrypt::decrypt(s, ids)?;
                &fresh
            }
        };
        structured::extract(s.format, doc, &s.key).map_err(|e| e.context(s.file.display()))
    }

    /// The values of `specs` (template inputs from the other phase), in order: the plain ones
    /// decrypted together in parallel, the structured ones from their documents.
    pub fn values(&self, specs: &[&SecretSpec], ids: &Identities) -> Vec<Result<SecretBytes>> {
        let plain: Vec<&SecretSpec> = specs
            .iter()
            .copied()
            .filter(|s| !s.is_structured())
            .collect();
        let mut plain = decrypt::all(&plain, ids).into_iter();
        specs
            .iter()
            .map(|s| {
                if s.is_structured() {
                    self.value(s, ids)
                } else {
                    plain.next().expect("one decrypted value per plain secret")
                }
            })
            .collect()
    }
}
