//! Header inspection (`Header::parse`), used by check/rekey without keys. Besides "no panic",
//! compare with the age crate's own header parser: a file age can open must not be called
//! malformed by us (that would make `check` report a good file as broken).
#![no_main]

use libfuzzer_sys::fuzz_target;
use secrets::header::Header;

fuzz_target!(|data: &[u8]| {
    let ours = Header::parse(data);
    if let Ok(h) = &ours {
        assert!(h.payload_len <= data.len());
        assert!(!h.stanzas.is_empty());
        let _ = h.ssh_tags();
        let _ = h.opaque_stanzas().count();
    }
    // age reads the armor lazily, so a damaged armor tail shows only when the payload is read;
    // count it as "age accepts" only when the whole armored stream also decodes.
    let armor_ok = std::io::Read::read_to_end(
        &mut age::armor::ArmoredReader::new(data),
        &mut Vec::new(),
    )
    .is_ok();
    let age_ok = armor_ok
        && age::Decryptor::new_buffered(age::armor::ArmoredReader::new(data)).is_ok();
    if let Err(e) = &ours {
        // We also demand a payload of at least nonce + one chunk, which age checks later.
        let payload_short = e.message().starts_with("truncated file");
        // age also reads the pre-v1 stanza layout (no body line, or no short final line),
        // which the spec and we refuse; the CCTV vectors stanza_missing_body and
        // stanza_missing_final_line record this. No real encryptor writes it.
        let legacy_body = e.message().ends_with("malformed stanza body");
        assert!(
            !age_ok || payload_short || legacy_body,
            "age accepts this header but Header::parse says: {e}"
        );
    }
});
