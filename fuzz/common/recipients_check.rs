// The checks of the `recipients` fuzz target, shared with tests/fuzz_regressions.rs (both
// `include!` this file), so the committed corpus is replayed with exactly the fuzzer's checks.
// Needs the crates secrets, age_core, base64 and bech32 in scope.

use base64::Engine;
use secrets::crypto::DecryptFailure;
use secrets::identity::{Identities, Origin};
use secrets::loworder::{ed25519_is_small_order, x25519_is_low_order};
use secrets::recipients::{to_age_recipients, Kind, Recipient};

/// One input: the first byte picks how the rest is read (see fuzz_targets/recipients.rs).
pub fn recipients_one(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 4 {
        0 => {
            if let Ok(text) = std::str::from_utf8(rest) {
                check(text);
            }
        }
        1 => check(&ssh_ed25519_text(rest)),
        2 => {
            let hrp = bech32::Hrp::parse_unchecked("age");
            if let Ok(text) = bech32::encode::<bech32::Bech32>(hrp, rest) {
                check(&text);
            }
        }
        _ => stanzas(rest),
    }
}

/// Parse; an accepted key must not be weak and must wrap a file key.
fn check(text: &str) {
    let r = match Recipient::parse(text) {
        Ok(r) => r,
        Err(e) => {
            assert!(!e.message().is_empty());
            return;
        }
    };
    match r.kind {
        Kind::SshEd25519 => {
            let blob = b64().decode(r.text.split(' ').nth(1).unwrap()).unwrap();
            let point: [u8; 32] = blob[blob.len() - 32..].try_into().unwrap();
            assert!(
                !ed25519_is_small_order(&point),
                "weak ssh-ed25519 key accepted"
            );
        }
        Kind::X25519 => {
            let (_, bytes) = bech32::decode(&r.text).unwrap();
            let u: [u8; 32] = bytes.try_into().unwrap();
            assert!(!x25519_is_low_order(&u), "weak age1 key accepted");
        }
        Kind::SshRsa => {}
        // Wrapping would look for an age-plugin-NAME program.
        Kind::Plugin(_) => return,
    }
    let file_key = age_core::format::FileKey::init_with_mut(|k| k.fill(7));
    for rec in to_age_recipients(std::slice::from_ref(&r)).unwrap() {
        let (stanzas, _) = rec.wrap_file_key(&file_key).unwrap();
        assert!(!stanzas.is_empty());
    }
}

fn ssh_ed25519_text(point: &[u8]) -> String {
    let mut blob = Vec::new();
    for part in [&b"ssh-ed25519"[..], point] {
        blob.extend_from_slice(&(part.len() as u32).to_be_bytes());
        blob.extend_from_slice(part);
    }
    format!(
        "ssh-ed25519 {}",
        base64::engine::general_purpose::STANDARD.encode(blob)
    )
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

/// The test keys alice (ssh-ed25519) and dave (age X25519).
fn identities() -> &'static (Identities, String) {
    static IDS: std::sync::OnceLock<(Identities, String)> = std::sync::OnceLock::new();
    IDS.get_or_init(|| {
        let keys = testdata_keys();
        let ids = Identities::load(
            &[keys.join("alice_ed25519"), keys.join("dave_age.key")],
            Origin::Explicit,
        )
        .unwrap();
        let public = std::fs::read_to_string(keys.join("alice_ed25519.pub")).unwrap();
        let blob = b64().decode(public.split(' ').nth(1).unwrap()).unwrap();
        let tag = secrets::recipients::ssh_tag(&blob);
        (
            ids,
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(tag),
        )
    })
}

/// An age file whose two stanzas (X25519, and ssh-ed25519 for alice's tag) carry the share;
/// it never decrypts (no key sealed it), and a low-order share is refused as such.
fn stanzas(rest: &[u8]) {
    let Some(share) = rest.get(..32) else { return };
    let share: [u8; 32] = share.try_into().unwrap();
    let (ids, tag) = identities();
    let nopad = base64::engine::general_purpose::STANDARD_NO_PAD;
    let s = nopad.encode(share);
    let body = nopad.encode([0u8; 32]);
    let mut file = format!(
        "age-encryption.org/v1\n-> X25519 {s}\n{body}\n-> ssh-ed25519 {tag} {s}\n{body}\n--- {}\n",
        nopad.encode([0u8; 32])
    )
    .into_bytes();
    file.extend_from_slice(&[0u8; 48]);
    match secrets::crypto::decrypt(&file, ids) {
        Ok(_) => panic!("a stanza sealed by nobody decrypted"),
        Err(DecryptFailure::Invalid(m)) if m.contains("low-order") => {
            assert!(
                x25519_is_low_order(&share),
                "refused as low-order: {share:02x?}"
            );
        }
        Err(e) => assert!(
            !x25519_is_low_order(&share),
            "low-order share not refused: {e}"
        ),
    }
}
