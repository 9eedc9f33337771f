//! Decrypting a secret's file for installation: the repository's one read-and-decrypt
//! (`store::decrypt_file`), with the installer's wording. Messages name the file, never the
//! content.

use crate::error::{describe_io, Error, Result};
use crate::fs::SecretBytes;
use crate::keys::Identities;
use crate::par;

use super::manifest::SecretSpec;

/// Read and decrypt one secret's file.
pub fn decrypt(spec: &SecretSpec, ids: &Identities) -> Result<SecretBytes> {
    use crate::store::DecryptFileError as E;
    let f = &spec.file;
    crate::store::decrypt_file(f, ids).map_err(|e| match e {
        E::Read(e) => Error::new(format!("cannot read {}: {}", f.display(), describe_io(&e))),
        E::NotAge(e) => e.context(f.display()),
        E::Decrypt(e) => e.context(format_args!("cannot decrypt {}", f.display())),
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
