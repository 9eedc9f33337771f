//! `secrets generate --public`: rewrite a key pair's lost or stale `<name>.pub` from its
//! private key. Needs an identity to decrypt the key; never writes the encrypted file.

use crate::error::{Error, Result};
use crate::keys::Identities;
use crate::rules::generator::Generator;
use crate::rules::Rule;

/// What `refresh` found.
pub enum Refreshed {
    /// The `.pub` already held the key's public half.
    Unchanged,
    /// It was missing or different, and was written (or would be, in a dry run).
    Written,
}

/// Decrypt `rule`'s key, derive its public half and write `<name>.pub` if it does not hold
/// exactly that (atomically, 0644, as `generate` writes it). `dry_run` writes nothing.
pub fn refresh(rule: &Rule, ids: &Identities, dry_run: bool) -> Result<Refreshed> {
    let Some(Generator::KeyPair(kind)) = &rule.generator else {
        return Err(Error::new(
            "its generator is not a key pair (ssh-ed25519, wireguard, age); --public only \
             rewrites a key pair's .pub",
        ));
    };
    if rule.path.symlink_metadata().is_err() {
        return Err(Error::new(format!(
            "it does not exist, so there is no private key to read; `secrets generate {}` \
             makes the key pair",
            rule.name
        )));
    }
    let secret = crate::store::decrypt_rule(rule, ids)?;
    let public = super::keypair::public_of(*kind, &secret)?;
    drop(secret);
    let path = super::public_path(rule);
    // Anything else there (missing, unreadable, another key, a link) is replaced.
    let current = crate::fs::read_regular_text(&path).ok();
    if current.as_deref() == Some(&format!("{public}\n")) {
        return Ok(Refreshed::Unchanged);
    }
    if !dry_run {
        super::write_public(rule, &public)?;
    }
    Ok(Refreshed::Written)
}
