//! The rules parser: `secrets.json` text, and the JSON a `secrets.nix` evaluates to. Any input
//! must give Ok or an error, never a panic; errors must not be empty.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for nix in [false, true] {
        if let Err(e) = secrets::rules::parse_for_fuzz(text, nix) {
            assert!(!e.message().is_empty());
        }
    }
});
