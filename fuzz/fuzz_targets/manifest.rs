//! The activation manifest parser (src/install/manifest.rs). Not wired into Cargo.toml yet:
//! when this target was written, main had no public manifest parse function. To enable it,
//! add a [[bin]] entry named `manifest` and call the parser below.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(_text) = std::str::from_utf8(data) else {
        return;
    };
    // e.g. let _ = secrets::install::manifest::Manifest::parse(_text);
});
