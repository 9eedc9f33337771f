//! age plugin recipients (`age1NAME1…`), which an `age-plugin-NAME` program on PATH encrypts
//! to. Plugin identities come from age identity files (`x25519::load_identity_file`).

use std::collections::BTreeMap;
use std::str::FromStr;

use super::callbacks::TerminalCallbacks;
use crate::error::{Error, Result};

/// `s` as a plugin recipient, if it is one.
pub fn parse(s: &str) -> Option<age::plugin::Recipient> {
    age::plugin::Recipient::from_str(s).ok()
}

/// The age recipients for plugin recipients, grouped per plugin so each plugin binary runs
/// once; a missing plugin binary is an error naming it.
pub fn recipients<'a>(
    list: impl Iterator<Item = &'a age::plugin::Recipient>,
) -> Result<Vec<Box<dyn age::Recipient + Send>>> {
    let mut plugins: BTreeMap<String, Vec<age::plugin::Recipient>> = BTreeMap::new();
    for rec in list {
        plugins
            .entry(rec.plugin().to_string())
            .or_default()
            .push(rec.clone());
    }
    let mut out: Vec<Box<dyn age::Recipient + Send>> = Vec::new();
    for (name, recs) in plugins {
        let p = age::plugin::RecipientPluginV1::new(&name, &recs, &[], TerminalCallbacks).map_err(
            |_| {
                Error::new(format!(
                    "cannot encrypt to age plugin recipients of `{name}`: the program \
                     age-plugin-{name} was not found on PATH; install it"
                ))
            },
        )?;
        out.push(Box::new(p));
    }
    Ok(out)
}
