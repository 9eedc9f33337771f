//! age's native X25519 type (`age1…` / `AGE-SECRET-KEY-1…`): our recipient, which refuses
//! weak keys where the age crate panics, and age identity files (X25519 and plugin lines), each
//! identity behind the guard against low-order shares and malformed stanzas.

use std::path::Path;
use std::str::FromStr;

use zeroize::Zeroizing;

use super::callbacks::{NoQuestions, TerminalCallbacks};
use super::fingerprint::shorten;
use super::loworder::{is_all_zero, weak_key, weak_recipient, x25519_is_low_order, RefuseLowOrder};
use crate::error::{Error, Result};
use crate::header::X25519;

/// HKDF label of age's X25519 recipient type.
const X25519_LABEL: &[u8] = b"age-encryption.org/v1/X25519";

/// `s` as an X25519 recipient: None when the age crate does not read it as one (it may be a
/// plugin recipient); an error for a weak key. `fingerprint` names it in messages.
pub fn parse(s: &str, fingerprint: &str) -> Option<Result<X25519Recipient>> {
    age::x25519::Recipient::from_str(s).ok()?;
    // Valid for the age crate, so its data is 32 bytes; we need them to check the point.
    let weak = || {
        weak_key(
            &format!("age X25519 recipient {fingerprint}"),
            "use a real age key: the age1… line `age-keygen` prints (or \
             `age-keygen -y KEYFILE`)",
        )
    };
    let r = x25519_bytes(s)
        .ok_or_else(|| {
            Error::new(format!(
                "invalid age recipient `{}`: not 32 bytes",
                shorten(s)
            ))
        })
        .and_then(|u| X25519Recipient::new(u).ok_or_else(weak));
    Some(r)
}

/// The 32 bytes of an `age1…` recipient the age crate accepted.
fn x25519_bytes(s: &str) -> Option<[u8; 32]> {
    age_core::primitives::bech32_decode(
        s,
        |_| (),
        |_| Ok(()),
        |_, bytes| bytes.collect::<Vec<u8>>().try_into().map_err(|_| ()),
    )
    .ok()
}

/// age's X25519 (`age1…`) recipient, as the age crate writes it, but returning an error where
/// the age crate panics: on an all-zero shared secret, which a low-order key gives for every
/// ephemeral secret (`parse` refuses such keys first; this is the last line).
#[derive(Clone)]
pub struct X25519Recipient {
    pk: x25519_dalek::PublicKey,
}

impl X25519Recipient {
    /// None for a weak (low-order) u-coordinate.
    pub fn new(u: [u8; 32]) -> Option<Self> {
        if x25519_is_low_order(&u) {
            return None;
        }
        Some(X25519Recipient {
            pk: x25519_dalek::PublicKey::from(u),
        })
    }
}

/// What `wrap_file_key` returns.
pub(super) type Wrapped = std::result::Result<
    (
        Vec<age_core::format::Stanza>,
        std::collections::HashSet<String>,
    ),
    age::EncryptError,
>;

/// The X25519 step both X25519-based stanza types share: a fresh ephemeral key from the OS
/// random source, its shared secret with `dh_with`, the wrapping key from HKDF(`label`,
/// salt = ephemeral ‖ `salt_pk`), and the sealed file key. `args_before` go before the
/// ephemeral share (ssh-ed25519's key tag). An all-zero shared secret is refused (`what`
/// names the key type): it would seal the file key under a key anyone can compute.
pub(super) fn seal(
    tag: &str,
    args_before: &[String],
    dh_with: &x25519_dalek::PublicKey,
    salt_pk: &[u8; 32],
    label: &[u8],
    what: &str,
    file_key: &age_core::format::FileKey,
) -> Wrapped {
    use age_core::secrecy::ExposeSecret;
    use base64::Engine;
    let esk = x25519_dalek::EphemeralSecret::random_from_rng(rand::rngs::OsRng);
    let epk = x25519_dalek::PublicKey::from(&esk);
    let shared = esk.diffie_hellman(dh_with);
    if is_all_zero(shared.as_bytes()) {
        return Err(weak_recipient(what));
    }
    let mut salt = [0u8; 64];
    salt[..32].copy_from_slice(epk.as_bytes());
    salt[32..].copy_from_slice(salt_pk);
    let key = Zeroizing::new(age_core::primitives::hkdf(&salt, label, shared.as_bytes()));
    let mut args = args_before.to_vec();
    args.push(base64::engine::general_purpose::STANDARD_NO_PAD.encode(epk.as_bytes()));
    let stanza = age_core::format::Stanza {
        tag: tag.to_string(),
        args,
        body: age_core::primitives::aead_encrypt(&key, file_key.expose_secret()),
    };
    Ok((vec![stanza], Default::default()))
}

impl age::Recipient for X25519Recipient {
    fn wrap_file_key(&self, file_key: &age_core::format::FileKey) -> Wrapped {
        seal(
            X25519,
            &[],
            &self.pk,
            self.pk.as_bytes(),
            X25519_LABEL,
            "age X25519",
            file_key,
        )
    }
}

/// The identities of an age identity file (`text`, from its first non-blank character):
/// X25519 and plugin lines, each behind the guard. `ask`: whether plugins may ask questions on
/// the terminal.
pub fn load_identity_file(path: &Path, text: &str, ask: bool) -> Result<Vec<RefuseLowOrder>> {
    let file = age::IdentityFile::from_buffer(text.as_bytes()).map_err(|_| {
        Error::new(format!(
            "{}: not a private key (expected an OpenSSH private key or an age identity \
                 file with AGE-SECRET-KEY-1… / AGE-PLUGIN-… lines)",
            path.display()
        ))
    })?;
    let ids = if ask {
        file.with_callbacks(TerminalCallbacks).into_identities()
    } else {
        file.with_callbacks(NoQuestions).into_identities()
    };
    let ids = ids.map_err(|e| {
        Error::new(format!(
            "{}: cannot use this identity file: {e}",
            path.display()
        ))
    })?;
    if ids.is_empty() {
        return Err(Error::new(format!(
            "{}: no identities in this file",
            path.display()
        )));
    }
    Ok(ids
        .into_iter()
        .map(|inner| RefuseLowOrder {
            inner,
            ssh_tag: None,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Weak keys are refused when built (crypto's tests check the age crate, and
    /// tests/weak_keys/ Go `age`, decrypt our stanzas).
    #[test]
    fn x25519_recipient_refuses_low_order_keys() {
        for u in crate::keys::X25519_LOW_ORDER {
            assert!(X25519Recipient::new(u).is_none());
        }
    }
}
