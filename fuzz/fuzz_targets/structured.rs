//! Structured secrets (`structured::extract` and `validate`): any document, any format, any of a
//! few keys gives a value or an error, never a panic; an error is never empty. JSON we accept
//! serde_json accepts too (we are stricter: duplicate keys, depth), a JSON string we give is
//! the one serde_json reads, and a mapping or list we give as canonical JSON is JSON that gives
//! itself back. The first byte picks the format (JSON, YAML, dotenv, INI), the rest is the
//! document.
#![no_main]

use libfuzzer_sys::fuzz_target;

include!("../common/structured_check.rs");

fuzz_target!(|data: &[u8]| structured_one(data));
