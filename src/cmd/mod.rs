//! One module per command.

pub mod check;
pub mod completions;
pub mod decrypt;
pub mod edit;
pub mod encrypt;
pub mod rekey;

use std::path::Path;

use crate::cli::Global;
use crate::error::{Error, Result};
use crate::identity::Identities;
use crate::rules::{Rule, Rules};

/// Load the rules (evaluated once) and the rule for `file`.
pub fn rules_and_rule(g: &Global, file: &Path) -> Result<(Rules, Rule)> {
    let rules = Rules::discover(g.rules.as_deref())?;
    let rule = rules.lookup(file)?.clone();
    Ok((rules, rule))
}

/// The identities for decryption; none at all is an error that says how to give one.
pub fn identities(g: &Global) -> Result<Identities> {
    let ids = Identities::from_cli(&g.identities)?;
    if ids.is_empty() {
        return Err(Error::new(
            "no identity to decrypt with: pass -i KEY, set SECRETS_IDENTITY, or create \
             ~/.ssh/id_ed25519 or ~/.ssh/id_rsa",
        ));
    }
    Ok(ids)
}

/// Read and decrypt a rule's file.
pub fn decrypt_rule(rule: &Rule, ids: &Identities) -> Result<crate::fsutil::SecretBytes> {
    let data = crate::fsutil::read_regular(&rule.path).map_err(|e| {
        Error::new(format!(
            "{}: cannot read: {}",
            rule.path.display(),
            crate::error::describe_io(&e)
        ))
    })?;
    crate::crypto::decrypt(&data, ids)
        .map_err(|e| Error::new(format!("{}: {e}", rule.path.display())))
}

/// Encrypt `plain` to the rule's recipients and replace the file atomically, keeping its mode.
pub fn write_rule(rules: &Rules, rule: &Rule, plain: &[u8]) -> Result<()> {
    let cipher = crate::crypto::encrypt(plain, &rule.recipients, rule.armor)
        .map_err(|e| e.context(rule.path.display()))?;
    let dir = crate::fsutil::parent_dir(&rule.path);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io("cannot create directory", &dir, e))?;
    let mode = crate::fsutil::existing_mode(&rule.path).unwrap_or(0o644);
    let guard = crate::lock::lock_for_writing(&rules.dir);
    crate::fsutil::atomic_write(&rule.path, &cipher, mode)?;
    // X25519/plugin recipients are invisible in headers; the lock records them for drift checks.
    crate::lock::record(&guard, &rules.dir, rule, &cipher);
    Ok(())
}
