//! Encrypt and decrypt over the age crate, with our recipients and identities (`keys`), as
//! streams in constant memory (`decrypt_stream`, `copy_plain`, `sealer`) or in memory for
//! small values (`encrypt`, `decrypt`); the header (`header`) is read first, to refuse a
//! forged one and to pick the identities that may open it.

use std::io::{self, Read, Write};

use age::armor::{ArmoredWriter, Format};
use zeroize::Zeroizing;

use crate::error::{Error, ErrorKind, Result};
use crate::fs::SecretBytes;
use crate::header::stream::{self, AgeStream, Opened};
use crate::header::Header;
use crate::keys::{as_refused_stanza, to_age_recipients, Identities, Recipient};

/// An age encryption in progress: plaintext written to it is encrypted into the inner writer
/// one 64 KiB chunk at a time. `finish` writes the last chunk (and the armor's end).
pub struct Sealer<W: Write>(age::stream::StreamWriter<ArmoredWriter<W>>);

impl<W: Write> Write for Sealer<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl<W: Write> Sealer<W> {
    /// Write the final chunk; the result is a complete age file. Dropped unfinished, what was
    /// written is a truncated file that no reader accepts.
    pub fn finish(self) -> io::Result<W> {
        self.0.finish()?.finish()
    }
}

/// Start encrypting to `recipients` into `out`; ASCII-armored when `armor`.
pub fn sealer<W: Write>(out: W, recipients: &[Recipient], armor: bool) -> Result<Sealer<W>> {
    if recipients.is_empty() {
        return Err(Error::new("no recipients to encrypt to"));
    }
    let boxed = to_age_recipients(recipients)?;
    let enc = age::Encryptor::with_recipients(boxed.iter().map(|b| b.as_ref() as _))
        .map_err(|e| Error::new(format!("cannot encrypt: {e}")))?;
    let format = if armor {
        Format::AsciiArmor
    } else {
        Format::Binary
    };
    let fail = |e: io::Error| Error::new(format!("cannot encrypt: {e}"));
    let armored = ArmoredWriter::wrap_output(out, format).map_err(fail)?;
    Ok(Sealer(enc.wrap_output(armored).map_err(fail)?))
}

/// Encrypt `plain` to `recipients` in memory; ASCII-armored when `armor`.
pub fn encrypt(plain: &[u8], recipients: &[Recipient], armor: bool) -> Result<Vec<u8>> {
    let mut w = sealer(Vec::with_capacity(plain.len() + 512), recipients, armor)?;
    let fail = |e: io::Error| Error::new(format!("cannot encrypt: {e}"));
    w.write_all(plain).map_err(fail)?;
    w.finish().map_err(fail)
}

/// Decrypt a whole file in memory (at most `fs::value_limit()` bytes of plaintext). The
/// header is read first so that only identities with a matching stanza are tried (and only
/// those may ask for a passphrase).
pub fn decrypt(cipher: &[u8], ids: &Identities) -> Result<SecretBytes> {
    // A header that does not parse, or armor broken past it, is an invalid file here.
    stream::open(cipher)
        .and_then(|opened| decrypt_whole(opened, ids))
        .map_err(|e| match e.kind() {
            ErrorKind::NotAge => Error::of_kind(ErrorKind::Invalid, e.message()),
            _ => e,
        })
}

/// Decrypt an opened file into a wiped buffer, refusing plaintext larger than
/// `fs::value_limit()` (values held whole: edit, templates, generator inputs).
pub fn decrypt_whole(opened: Opened, ids: &Identities) -> Result<SecretBytes> {
    let limit = crate::fs::value_limit();
    let hint = opened.header.payload_len;
    let plain = decrypt_stream(opened, ids)?;
    let buf =
        crate::fs::read_all_wiped(plain.take(limit.saturating_add(1)), hint).map_err(damaged)?;
    if buf.len() as u64 > limit {
        return Err(crate::fs::value_limit_error("the decrypted value", limit));
    }
    Ok(buf)
}

/// A file being decrypted: reading it yields the plaintext, each 64 KiB chunk only once it
/// authenticated. A damaged or truncated file fails at the chunk where it is damaged, so a
/// reader may have taken (authentic) earlier chunks by then.
pub struct Plain<'a>(age::stream::StreamReader<AgeStream<'a>>);

impl Read for Plain<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

/// The payload could not be read or does not authenticate (or, armored, its armor is broken).
fn damaged(e: io::Error) -> Error {
    if let Some(armor) = stream::armor_error(&e) {
        return armor;
    }
    Error::of_kind(
        ErrorKind::Corrupted,
        format!("the encrypted payload is damaged: {e}"),
    )
}

/// Copy `from`'s plaintext into `to` through one wiped buffer, returning the bytes copied.
/// A failed read (a damaged chunk) is a `Corrupted` error; a failed write is `write_err`'s.
pub fn copy_plain(
    from: &mut Plain,
    to: &mut dyn Write,
    write_err: &dyn Fn(io::Error) -> Error,
) -> Result<u64> {
    let mut buf = Zeroizing::new(vec![0u8; stream::BUF]);
    let mut total = 0u64;
    loop {
        let n = match from.read(&mut buf[..]) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(damaged(e)),
        };
        to.write_all(&buf[..n]).map_err(write_err)?;
        total += n as u64;
    }
}

/// Start decrypting an opened file: refuse a forged header, pick the identities with a
/// matching stanza, unwrap the file key. The payload is read as the result is read.
pub fn decrypt_stream<'a>(opened: Opened<'a>, ids: &Identities) -> Result<Plain<'a>> {
    let header = &opened.header;
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
    let dec = age::Decryptor::new_buffered(opened.stream)
        .map_err(|e| Error::of_kind(ErrorKind::Corrupted, describe(&e)))?;
    match dec.decrypt(usable.iter().map(|i| *i as &dyn age::Identity)) {
        Ok(r) => Ok(Plain(r)),
        Err(age::DecryptError::NoMatchingKeys) => Err(no_match(header, ids)),
        Err(e) if as_refused_stanza(&e).is_some() => {
            Err(Error::of_kind(ErrorKind::Invalid, describe(&e)))
        }
        Err(e @ age::DecryptError::KeyDecryptionFailed)
        | Err(e @ age::DecryptError::Plugin(_))
        | Err(e @ age::DecryptError::PluginResolve(_)) => {
            Err(Error::of_kind(ErrorKind::Key, describe(&e)))
        }
        Err(e) => Err(Error::of_kind(ErrorKind::Corrupted, describe(&e))),
    }
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
