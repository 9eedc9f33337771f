//! Decrypting a secret's file for installation: the repository's one read-and-decrypt
//! (`store::decrypt_file`, or streamed: `store::decrypt_file_to`), with the installer's
//! wording. Messages name the file, never the content.

use crate::error::{Error, ErrorKind, Result};
use crate::fs::SecretBytes;
use crate::keys::Identities;
use crate::par;

use super::manifest::SecretSpec;

/// Read and decrypt one secret's file.
pub fn decrypt(spec: &SecretSpec, ids: &Identities) -> Result<SecretBytes> {
    crate::store::decrypt_file(&spec.file, ids).map_err(|e| worded(spec, e))
}

fn worded(spec: &SecretSpec, e: Error) -> Error {
    let f = &spec.file;
    match e.kind() {
        ErrorKind::Unreadable => e.context(format_args!("cannot read {}", f.display())),
        ErrorKind::NotAge => e.context(f.display()),
        _ => e.context(format_args!("cannot decrypt {}", f.display())),
    }
}

/// Decrypt one secret's file straight into `out`, in constant memory (a plain secret into its
/// file in the generation). Errors as `decrypt`'s; a failed write is `write_err`'s, as it is.
pub fn decrypt_to(
    spec: &SecretSpec,
    ids: &Identities,
    out: &mut dyn std::io::Write,
    write_err: &dyn Fn(std::io::Error) -> Error,
) -> Result<u64> {
    let failed_write = std::cell::Cell::new(false);
    let mark = |e| {
        failed_write.set(true);
        write_err(e)
    };
    crate::store::decrypt_file_to(&spec.file, ids, out, &mark).map_err(|e| {
        if failed_write.get() {
            e
        } else {
            worded(spec, e)
        }
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
