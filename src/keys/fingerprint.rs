//! How keys are named in messages and matched to stanzas: SSH fingerprints and stanza tags,
//! shortened age1 keys, and the one "name (fingerprint)" label.

use base64::Engine;
use sha2::{Digest, Sha256};

/// `SHA256:<base64 without padding>` of the key blob, as `ssh-keygen -l` prints it.
pub fn ssh_fingerprint(blob: &[u8]) -> String {
    let digest = Sha256::digest(blob);
    format!(
        "SHA256:{}",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(digest)
    )
}

/// age's stanza tag for an SSH key: the first 4 bytes of SHA-256 over the key blob.
pub fn ssh_tag(blob: &[u8]) -> [u8; 4] {
    let d = Sha256::digest(blob);
    [d[0], d[1], d[2], d[3]]
}

/// An `age1…` recipient shortened for messages: its start and end.
pub fn age_fingerprint(s: &str) -> String {
    // Byte slicing needs ASCII (valid recipients are); found by fuzzing.
    if s.len() > 20 && s.is_ascii() {
        format!("{}…{}", &s[..12], &s[s.len() - 6..])
    } else {
        s.to_string()
    }
}

/// A key as messages show it: "alice (SHA256:…)" when it has a name (a rules file's key name,
/// an identity's path), else what there is of the two.
pub fn label(name: Option<&str>, fingerprint: Option<&str>) -> String {
    match (name, fingerprint) {
        (Some(n), Some(fp)) => format!("{n} ({fp})"),
        (Some(s), None) | (None, Some(s)) => s.to_string(),
        (None, None) => String::new(),
    }
}

/// The start of something that is not a key, for messages (never a whole private key).
pub fn shorten(s: &str) -> String {
    let s: String = s.chars().take(24).collect();
    format!("{s}…")
}
