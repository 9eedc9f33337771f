//! The activation manifest parser (`install::manifest::parse`): any input must give Ok or an
//! error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = secrets::install::manifest::parse(text) {
        assert!(!e.message().is_empty());
    }
});
