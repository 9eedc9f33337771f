//! What is particular to ssh-rsa keys: the key sizes we encrypt to, and the public half of a
//! PEM (PKCS#1) private key, which unlike an OpenSSH key does not store it. Encryption and
//! decryption themselves are the age crate's.

use crate::error::{Error, Result};

/// Refuse an RSA key too weak to protect secrets, or too large for the age library to encrypt
/// to; `fingerprint` names it.
pub fn check_size(pk: &ssh_key::PublicKey, fingerprint: &str) -> Result<()> {
    let bits = pk
        .key_data()
        .rsa()
        .and_then(|k| k.n.as_positive_bytes())
        .map(bit_len)
        .unwrap_or(0);
    if bits < 2048 {
        return Err(Error::new(format!(
            "RSA key {fingerprint} has {bits} bits; keys under 2048 bits are too weak to \
             protect secrets: use an ssh-ed25519 key"
        )));
    }
    if bits > 4096 {
        return Err(Error::new(format!(
            "RSA key {fingerprint} has {bits} bits; the age library cannot encrypt to RSA \
             keys over 4096 bits (it can still decrypt with them): use an ssh-ed25519 key \
             or an RSA key of 2048–4096 bits"
        )));
    }
    Ok(())
}

fn bit_len(bytes: &[u8]) -> usize {
    let bytes = match bytes.iter().position(|b| *b != 0) {
        Some(i) => &bytes[i..],
        None => return 0,
    };
    bytes.len() * 8 - bytes[0].leading_zeros() as usize
}

/// The SSH wire encoding of a PEM RSA private key's public half; `fail` words an error.
pub fn pem_public_blob(text: &str, fail: impl Fn(String) -> Error) -> Result<Vec<u8>> {
    use rsa::pkcs1::DecodeRsaPrivateKey;
    use rsa::traits::PublicKeyParts;
    let sk = rsa::RsaPrivateKey::from_pkcs1_pem(text).map_err(|e| fail(e.to_string()))?;
    let key = ssh_key::public::RsaPublicKey {
        e: ssh_key::Mpint::from_positive_bytes(&sk.e().to_bytes_be())
            .map_err(|e| fail(e.to_string()))?,
        n: ssh_key::Mpint::from_positive_bytes(&sk.n().to_bytes_be())
            .map_err(|e| fail(e.to_string()))?,
    };
    ssh_key::PublicKey::from(ssh_key::public::KeyData::Rsa(key))
        .to_bytes()
        .map_err(|e| fail(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_len_counts_leading_zero_bits() {
        assert_eq!(bit_len(&[0, 0x80, 0]), 16);
        assert_eq!(bit_len(&[0x01, 0]), 9);
    }
}
