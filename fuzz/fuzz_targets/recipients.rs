//! The key and recipient parsers (`Recipient::parse`: ssh-ed25519, ssh-rsa, age1…) and the
//! refusal of low-order ephemeral shares and malformed stanzas. Never a panic; an accepted
//! ssh-ed25519 or X25519 key is never weak and wraps a file key; a stanza with a low-order
//! share is refused, and so is a malformed one; a file sealed without any key never opens.
//!
//! The first byte picks how the rest is read, so the fuzzer explores curve points directly and
//! not only through base64 and bech32 (which random mutations rarely keep valid):
//! 0: text given to `Recipient::parse`; 1: the SSH wire blob `string "ssh-ed25519",
//! string(rest)`; 2: `age1` + bech32(rest); 3: an age file whose X25519 and ssh-ed25519
//! stanzas carry `rest[..32]` as their share, sealed under the all-zero secret and decrypted
//! with real identities (test keys); `rest[32]`, if present, picks a malformed shape.
#![no_main]

use libfuzzer_sys::fuzz_target;

include!("../common/recipients_check.rs");

fn testdata_keys() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/keys")
}

fuzz_target!(|data: &[u8]| recipients_one(data));
