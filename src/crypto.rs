//! Encrypt and decrypt in memory over the age crate, with our recipients and identities
//! (`keys`); the header (`header`) is read first, to refuse a forged one and to pick the
//! identities that may open it.

use std::io::Write;

use age::armor::{ArmoredReader, ArmoredWriter, Format};

use crate::error::{Error, ErrorKind, Result};
use crate::fs::SecretBytes;
use crate::header::Header;
use crate::keys::{as_refused_stanza, to_age_recipients, Identities, Recipient};

/// Encrypt `plain` to `recipients`; ASCII-armored when `armor`.
pub fn encrypt(plain: &[u8], recipients: &[Recipient], armor: bool) -> Result<Vec<u8>> {
    if recipients.is_empty() {
        return Err(Error::new("no recipients to encrypt to"));
    }
    let boxed = to_age_recipients(recipients)?;
    let enc = age::Encryptor::with_recipients(boxed.iter().map(|b| b.as_ref() as _))
        .map_err(|e| Error::new(format!("cannot encrypt: {e}")))?;
    let mut out = Vec::with_capacity(plain.len() + 512);
    let format = if armor {
        Format::AsciiArmor
    } else {
        Format::Binary
    };
    let fail = |e: std::io::Error| Error::new(format!("cannot encrypt: {e}"));
    let armored = ArmoredWriter::wrap_output(&mut out, format).map_err(fail)?;
    let mut w = enc.wrap_output(armored).map_err(fail)?;
    w.write_all(plain).map_err(fail)?;
    w.finish().and_then(|a| a.finish()).map_err(fail)?;
    Ok(out)
}

/// Decrypt a whole file in memory. The header is read first so that only identities with a
/// matching stanza are tried (and only those may ask for a passphrase).
pub fn decrypt(cipher: &[u8], ids: &Identities) -> Result<SecretBytes> {
    let header =
        Header::parse(cipher).map_err(|e| Error::of_kind(ErrorKind::Invalid, e.message()))?;
    decrypt_with_header(cipher, &header, ids)
}

pub fn decrypt_with_header(
    cipher: &[u8],
    header: &Header,
    ids: &Identities,
) -> Result<SecretBytes> {
    // Before any identity is chosen or asked (a passphrase included): the age crate would read
    // past a malformed stanza's extra arguments, and so skip the low-order share check.
    if let Some(why) = header.malformed_stanza() {
        return Err(Error::of_kind(ErrorKind::Invalid, why));
    }
    if header.is_scrypt() {
        return Err(Error::of_kind(
            ErrorKind::Invalid,
            "this file is passphrase-encrypted (age -p); secrets only handles files encrypted \
             to keys",
        ));
    }
    let usable = ids
        .for_header(header)
        .map_err(|e| Error::of_kind(ErrorKind::Key, e.message()))?;
    if usable.is_empty() {
        return Err(no_match(header, ids));
    }
    let input = if header.armored {
        crate::header::strip_leading_whitespace(cipher)
    } else {
        cipher
    };
    let dec = age::Decryptor::new_buffered(ArmoredReader::new(input))
        .map_err(|e| Error::of_kind(ErrorKind::Corrupted, describe(&e)))?;
    let mut reader = match dec.decrypt(usable.iter().map(|i| *i as &dyn age::Identity)) {
        Ok(r) => r,
        Err(age::DecryptError::NoMatchingKeys) => return Err(no_match(header, ids)),
        Err(e) if as_refused_stanza(&e).is_some() => {
            return Err(Error::of_kind(ErrorKind::Invalid, describe(&e)))
        }
        Err(e @ age::DecryptError::KeyDecryptionFailed)
        | Err(e @ age::DecryptError::Plugin(_))
        | Err(e @ age::DecryptError::PluginResolve(_)) => {
            return Err(Error::of_kind(ErrorKind::Key, describe(&e)))
        }
        Err(e) => return Err(Error::of_kind(ErrorKind::Corrupted, describe(&e))),
    };
    crate::fs::read_all_wiped(&mut reader, header.payload_len).map_err(|e| {
        Error::of_kind(
            ErrorKind::Corrupted,
            format!("the encrypted payload is damaged: {e}"),
        )
    })
}

fn no_match(header: &Header, ids: &Identities) -> Error {
    // Callers that know the rules replace the generic advice with who can read the file and
    // what to do (`readers::explain`).
    Error::of_kind(
        ErrorKind::NoMatchingIdentity,
        format!(
            "{}; pass the right key with -i, or ask someone who can read it to add your key to \
             the rules and run `secrets rekey`",
            no_match_facts(header, ids)
        ),
    )
}

/// "no identity can decrypt it (it is encrypted to …; tried: …)": the facts of a
/// NoMatchingIdentity error, without advice.
pub fn no_match_facts(header: &Header, ids: &Identities) -> String {
    let real: Vec<_> = header.real_stanzas().collect();
    let mut kinds: Vec<String> = real.iter().map(|s| s.tag.clone()).collect();
    kinds.sort();
    kinds.dedup();
    format!(
        "no identity can decrypt it (it is encrypted to {} recipient(s) of type {}; tried: {})",
        real.len(),
        kinds.join(", "),
        ids.describe()
    )
}

fn describe(e: &age::DecryptError) -> String {
    match e {
        age::DecryptError::InvalidMac => {
            "the header does not authenticate (file corrupted or tampered with)".into()
        }
        age::DecryptError::DecryptionFailed => {
            "decryption failed (file corrupted or tampered with)".into()
        }
        age::DecryptError::InvalidHeader => "invalid age header".into(),
        age::DecryptError::UnknownFormat => "unknown age format".into(),
        age::DecryptError::KeyDecryptionFailed => "a private key could not be decrypted".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Origin;

    fn keys() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/keys")
    }

    /// Our ssh-ed25519 stanzas decrypt with the age crate's own ssh identity, and only for the
    /// key they name.
    #[test]
    fn ssh_ed25519_stanza_decrypts_with_age_crate() {
        let alice =
            Recipient::parse(&std::fs::read_to_string(keys().join("alice_ed25519.pub")).unwrap())
                .unwrap();
        let cipher = encrypt(b"tweaked", &[alice], false).unwrap();
        let header = Header::parse(&cipher).unwrap();
        let ed: Vec<_> = header
            .stanzas
            .iter()
            .filter(|s| s.tag == crate::header::SSH_ED25519)
            .collect();
        assert_eq!(ed.len(), 1);
        for (id, ok) in [("alice_ed25519", true), ("web1_ed25519", false)] {
            let key = std::fs::read(keys().join(id)).unwrap();
            let identity = match age::ssh::Identity::from_buffer(&key[..], None).unwrap() {
                i @ age::ssh::Identity::Unencrypted(_) => i,
                _ => panic!("{id} should be an unencrypted key"),
            };
            let got = age::decrypt(&identity, &cipher);
            assert_eq!(got.is_ok(), ok, "{id}");
            if ok {
                assert_eq!(got.unwrap(), b"tweaked");
            }
        }
    }

    /// Our X25519 stanzas open with the age crate's own X25519 identity (tests/weak_keys/
    /// checks Go `age` too; keys::x25519's tests that weak keys are refused when built).
    #[test]
    fn x25519_stanza_decrypts_with_age_crate() {
        let keys = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/keys");
        let public = std::fs::read_to_string(keys.join("dave_age.pub")).unwrap();
        let r = Recipient::parse(&public).unwrap();
        let id_text = std::fs::read_to_string(keys.join("dave_age.key")).unwrap();
        let line = id_text
            .lines()
            .find(|l| l.starts_with("AGE-SECRET-KEY-1"))
            .unwrap();
        let id: age::x25519::Identity = line.parse().unwrap();
        for round in 0..8u8 {
            let plain = vec![round; 100];
            let cipher = encrypt(&plain, std::slice::from_ref(&r), false).unwrap();
            assert_eq!(age::decrypt(&id, &cipher).unwrap(), plain);
        }
    }

    #[test]
    fn decrypt_accepts_whitespace_around_armor() {
        let keys = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/keys");
        let public = std::fs::read_to_string(keys.join("dave_age.pub")).unwrap();
        let r = Recipient::parse(&public).unwrap();
        let armored = encrypt(b"hello", &[r], true).unwrap();
        let mut padded = b"\n\r \t\n".to_vec();
        padded.extend_from_slice(&armored);
        padded.extend_from_slice(b"\n \t\n");
        let ids = Identities::load(&[keys.join("dave_age.key")], Origin::Explicit).unwrap();
        assert_eq!(decrypt(&padded, &ids).unwrap().as_slice(), b"hello");
    }
}
