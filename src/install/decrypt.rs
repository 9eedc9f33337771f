//! Decrypting a secret's file for installation: the repository's one read-and-decrypt
//! (`store::decrypt_file`), with the installer's wording. Messages name the file, never the
//! content.

use crate::error::{ErrorKind, Result};
use crate::fs::SecretBytes;
use crate::keys::Identities;
use crate::par;

use super::manifest::SecretSpec;

/// Read and decrypt one secret's file.
pub fn decrypt(spec: &SecretSpec, ids: &Identities) -> Result<SecretBytes> {
    let f = &spec.file;
    crate::store::decrypt_file(f, ids).map_err(|e| match e.kind() {
        ErrorKind::Unreadable => e.context(format_args!("cannot read {}", f.display())),
        ErrorKind::NotAge => e.context(f.display()),
        _ => e.context(format_args!("cannot decrypt {}", f.display())),
    })
}

/// How many secrets are decrypted at once: they are independent, so on all cores (at most 8).
pub fn threads() -> usize {
    par::cores().min(8)
}

/// Decrypt each of `specs` in parallel, in memory only, in order.
pub fn all(specs: &[&SecretSpec], ids: &Identities) -> Vec<Result<SecretBytes>> {
    par::par_map(specs, threads(), |s| decrypt(s, ids))
}
