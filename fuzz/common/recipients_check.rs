// The checks of the `recipients` fuzz target, shared with tests/fuzz_regressions.rs (both
// `include!` this file), so the committed corpus is replayed with exactly the fuzzer's checks.
// Needs the crates secrets, age, age_core, base64 and bech32 in scope.

use base64::Engine;
use secrets::error::ErrorKind;
use secrets::keys::{
    ed25519_is_small_order, to_age_recipients, x25519_is_low_order, Identities, Kind, Origin,
    Recipient,
};

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
struct TestIds {
    ids: Identities,
    /// alice's stanza tag, base64.
    tag: String,
    /// alice's key as an X25519 public key, and dave's: the salt suffixes of their stanzas.
    alice_x25519: [u8; 32],
    dave_x25519: [u8; 32],
}

/// The Montgomery form of testdata/keys/alice_ed25519.pub (tests/weak_keys/ checks it; the
/// fuzz crate has no curve arithmetic to derive it).
pub const ALICE_X25519: &str = "f5a9cc043e2cbc4e90fef22ba927492e9a5f6859cc991f01e28884d219afb348";

fn identities() -> &'static TestIds {
    static IDS: std::sync::OnceLock<TestIds> = std::sync::OnceLock::new();
    IDS.get_or_init(|| {
        let keys = testdata_keys();
        let ids = Identities::load(
            &[keys.join("alice_ed25519"), keys.join("dave_age.key")],
            Origin::Explicit,
        )
        .unwrap();
        let public = std::fs::read_to_string(keys.join("alice_ed25519.pub")).unwrap();
        let blob = b64().decode(public.split(' ').nth(1).unwrap()).unwrap();
        let tag = secrets::keys::ssh_tag(&blob);
        let dave = std::fs::read_to_string(keys.join("dave_age.pub")).unwrap();
        let (_, dave) = bech32::decode(dave.trim()).unwrap();
        let alice_x25519: Vec<u8> = (0..32)
            .map(|i| u8::from_str_radix(&ALICE_X25519[2 * i..2 * i + 2], 16).unwrap())
            .collect();
        TestIds {
            ids,
            tag: base64::engine::general_purpose::STANDARD_NO_PAD.encode(tag),
            alice_x25519: alice_x25519.try_into().unwrap(),
            dave_x25519: dave.try_into().unwrap(),
        }
    })
}

/// One stanza to write: type, arguments, the share and recipient key that salt the key
/// derivation, its label, and the body length (age's is 32).
struct Spec {
    tag: &'static str,
    args: Vec<String>,
    share: [u8; 32],
    pk: [u8; 32],
    label: &'static [u8],
    body_len: usize,
}

/// Writes the given stanzas, each sealed under the all-zero shared secret (what a low-order
/// share gives whatever the key): a file anyone can make without a private key.
struct ZeroSealer(Vec<Spec>);

impl age::Recipient for ZeroSealer {
    fn wrap_file_key(
        &self,
        file_key: &age_core::format::FileKey,
    ) -> Result<
        (
            Vec<age_core::format::Stanza>,
            std::collections::HashSet<String>,
        ),
        age::EncryptError,
    > {
        use age_core::secrecy::ExposeSecret;
        let stanzas = self
            .0
            .iter()
            .map(|sp| {
                let mut salt = [0u8; 64];
                salt[..32].copy_from_slice(&sp.share);
                salt[32..].copy_from_slice(&sp.pk);
                let key = age_core::primitives::hkdf(&salt, sp.label, &[0u8; 32]);
                let mut body = age_core::primitives::aead_encrypt(&key, file_key.expose_secret());
                body.resize(sp.body_len, 0);
                age_core::format::Stanza {
                    tag: sp.tag.into(),
                    args: sp.args.clone(),
                    body,
                }
            })
            .collect();
        Ok((stanzas, Default::default()))
    }
}

/// An age file with an X25519 stanza and an ssh-ed25519 stanza for alice's tag, both carrying
/// the share and sealed under the all-zero secret: it must never decrypt. A low-order share
/// (which really gives that secret) is refused as such. The optional byte after the share
/// picks a shape age never writes, each refused as malformed before any identity sees it:
/// bits 0–1 the X25519 argument count (1, 2, 0, 3), bits 2–3 the ssh-ed25519 one (2, 3, 1, 0),
/// bit 4 a 31-byte share, bit 5 a 33-byte body; bits 6–7 which stanzas, in which order (both;
/// only ssh-ed25519; only X25519; ssh-ed25519 first), so that one refused stanza does not
/// hide what the other does.
fn stanzas(rest: &[u8]) {
    let Some(share) = rest.get(..32) else { return };
    let share: [u8; 32] = share.try_into().unwrap();
    let shape = rest.get(32).copied().unwrap_or(0);
    let t = identities();
    let nopad = base64::engine::general_purpose::STANDARD_NO_PAD;
    let s = if shape & 16 != 0 {
        nopad.encode(&share[..31])
    } else {
        nopad.encode(share)
    };
    let owned = |v: &[&str]| v.iter().map(|a| a.to_string()).collect::<Vec<_>>();
    let x_args = match shape & 3 {
        0 => owned(&[&s]),
        1 => owned(&[&s, "extra"]),
        2 => vec![],
        _ => owned(&[&s, "AAAA", "extra"]),
    };
    let ssh_args = match (shape >> 2) & 3 {
        0 => owned(&[&t.tag, &s]),
        1 => owned(&[&t.tag, &s, "extra"]),
        2 => owned(&[&t.tag]),
        _ => vec![],
    };
    let body_len = if shape & 32 != 0 { 33 } else { 32 };
    let x = Spec {
        tag: "X25519",
        args: x_args,
        share,
        pk: t.dave_x25519,
        label: b"age-encryption.org/v1/X25519",
        body_len,
    };
    let ssh = Spec {
        tag: "ssh-ed25519",
        args: ssh_args,
        share,
        pk: t.alice_x25519,
        label: b"age-encryption.org/v1/ssh-ed25519",
        body_len,
    };
    let both_bad = shape & 0x30 != 0;
    let x_bad = both_bad || shape & 3 != 0;
    let ssh_bad = both_bad || shape & 0x0c != 0;
    let (specs, malformed) = match shape >> 6 {
        0 => (vec![x, ssh], x_bad || ssh_bad),
        1 => (vec![ssh], ssh_bad),
        2 => (vec![x], x_bad),
        _ => (vec![ssh, x], x_bad || ssh_bad),
    };
    let sealer = ZeroSealer(specs);
    let file = age::encrypt(&sealer, b"FORGED").unwrap();
    let low = x25519_is_low_order(&share);
    match secrets::crypto::decrypt(&file, &t.ids) {
        Ok(_) => panic!(
            "a file sealed under the all-zero secret, without any key, decrypted (share \
             {share:02x?}, shape {shape:#04x})"
        ),
        Err(e) if e.kind() == ErrorKind::Invalid && e.message().contains("malformed") => {
            assert!(malformed, "well-formed stanza refused as malformed: {e}");
        }
        Err(e) => {
            assert!(!malformed, "malformed (shape {shape:#04x}) but: {e}");
            let refused_low = e.kind() == ErrorKind::Invalid && e.message().contains("low-order");
            assert_eq!(refused_low, low, "share {share:02x?}: {e}");
        }
    }
}
