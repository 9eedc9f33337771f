//! The public half of a private key file, read without unlocking anything: no passphrase is
//! asked, no plugin is run. For `secrets list` ("which files can I read") and the advice when a
//! file cannot be decrypted ("the rules already list your key").

use std::str::FromStr;

use base64::Engine;

use super::recipient::Recipient;
use super::ssh;

/// What a private key file says about its public key(s).
pub enum PublicHalf {
    /// The public keys it holds (an age identity file may hold several).
    Known(Vec<Recipient>),
    /// It is a key whose public half cannot be read from it (a plugin identity, a
    /// passphrase-protected age identity file, …): why.
    Unknown(String),
}

/// The public half of a private key file's content (`text`, leading blanks trimmed).
pub fn public_half(text: &str) -> PublicHalf {
    let text = text.trim_start();
    if text.starts_with("-----BEGIN ") {
        return match ssh::public_blob_of(text) {
            Some((algo, blob)) => {
                let line = format!(
                    "{algo} {}",
                    base64::engine::general_purpose::STANDARD.encode(&blob)
                );
                match Recipient::parse(&line) {
                    Ok(r) => PublicHalf::Known(vec![r]),
                    Err(e) => PublicHalf::Unknown(e.message().to_string()),
                }
            }
            None => PublicHalf::Unknown(
                "an SSH key whose public part cannot be read from it (a passphrase-protected \
                 PEM key?)"
                    .into(),
            ),
        };
    }
    if text.starts_with("age-encryption.org/") {
        return PublicHalf::Unknown("a passphrase-protected age identity file".into());
    }
    let mut keys = Vec::new();
    let mut plugins = 0;
    for line in text.lines().map(str::trim) {
        if line.starts_with("AGE-PLUGIN-") {
            plugins += 1;
        } else if line.starts_with("AGE-SECRET-KEY-1") {
            // The recipient of an X25519 identity is computed, never stored: derive it.
            let public = age::x25519::Identity::from_str(line)
                .ok()
                .and_then(|id| Recipient::parse(&id.to_public().to_string()).ok());
            match public {
                Some(r) => keys.push(r),
                None => return PublicHalf::Unknown("an invalid AGE-SECRET-KEY-1 line".into()),
            }
        }
    }
    if plugins > 0 {
        // A plugin identity's recipient is known to the plugin only.
        return PublicHalf::Unknown(format!(
            "{plugins} age plugin identit{} (the plugin alone knows the recipient)",
            if plugins == 1 { "y" } else { "ies" }
        ));
    }
    if keys.is_empty() {
        return PublicHalf::Unknown("not a private key file secrets reads".into());
    }
    PublicHalf::Known(keys)
}
