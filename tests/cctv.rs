//! The C2SP CCTV age test vectors, run through our decrypt path (`crypto::decrypt` with
//! identities loaded as `-i FILE` would load them).
//!
//! The vectors come from the npm package `cctv-age` (CC0/0BSD/Unlicense), fetched at test time
//! with `npm pack` into a cache under target/ and never committed. Each vector is a small text
//! header (`expect`, `payload` hash, `identity`, `passphrase`, `armored`, `compressed`), a blank
//! line, then the age file; a node one-liner inflates the zlib-compressed ones.
//!
//! The test asserts the exact outcome list: which vectors pass, and each known deviation by name
//! with its reason, so a change in the age crate or in our code shows up as a failure.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use secrets::crypto::decrypt;
use secrets::error::ErrorKind;
use secrets::keys::{Identities, Origin};
use sha2::{Digest, Sha256};

const PACKAGE: &str = "cctv-age@0.2.0";
const TOTAL: usize = 143;

/// Vectors whose identity is a post-quantum hybrid key (`AGE-SECRET-KEY-PQ-1…`, ML-KEM-768 +
/// X25519). The age crate 0.12 has no hybrid recipients, so the identity file is refused when
/// loaded; we never get to decrypt these.
const PQ_UNSUPPORTED: &[&str] = &[
    "armor_hybrid",
    "hybrid",
    "hybrid_and_x25519",
    "hybrid_bad_tag",
    "hybrid_currupted_enc_mlkem",
    "hybrid_currupted_enc_x25519",
    "hybrid_extra_argument",
    "hybrid_grease",
    "hybrid_identity",
    "hybrid_long_file_key",
    "hybrid_long_share",
    "hybrid_low_order",
    "hybrid_multiple_recipients",
    "hybrid_no_match",
    "hybrid_not_canonical_body",
    "hybrid_not_canonical_enc",
    "hybrid_short_share",
    "hybrid_uppercase",
    "hybrid_x25519_arg",
];

/// The other known deviations: each file is still refused (no plaintext), but with another
/// kind of failure than the vector names. (name, expected, what we do, why)
const KNOWN_DEVIATIONS: &[(&str, &str, &str, &str)] = &[
    (
        "armor_garbage_leading",
        "armor failure",
        "header failure",
        "text before the BEGIN line: we do not see armor, so it is 'not an age file'",
    ),
    (
        "armor_lowercase",
        "armor failure",
        "header failure",
        "lowercase BEGIN line is not recognized as armor, so it is 'not an age file'",
    ),
    (
        "armor_whitespace_begin",
        "armor failure",
        "header failure",
        "trailing space on the BEGIN line: not recognized as armor, 'not an age file'",
    ),
    (
        "armor_wrong_type",
        "armor failure",
        "header failure",
        "BEGIN line of another PEM type: not recognized as armor, 'not an age file'",
    ),
    (
        "stream_missing_tag",
        "payload failure",
        "header failure",
        "Header::parse refuses payloads shorter than nonce + one tag ('truncated file')",
    ),
    (
        "stream_no_chunks",
        "payload failure",
        "header failure",
        "Header::parse refuses payloads shorter than nonce + one tag ('truncated file')",
    ),
    (
        "stream_short_chunk",
        "payload failure",
        "header failure",
        "Header::parse refuses payloads shorter than nonce + one tag ('truncated file')",
    ),
];

/// Vectors where the age crate on its own (no `Header::parse` first) disagrees with the vector
/// on success versus failure. Our decrypt path gets these right (we strip whitespace before the
/// armor, which age 0.12's armor reader does not). (name, expected, age crate alone)
const AGE_CRATE_ALONE_DEVIATIONS: &[(&str, &str, &str)] =
    &[("armor_whitespace_outside", "success", "failure")];

// Passphrase (scrypt) vectors, the ones with a `passphrase` line: `secrets` refuses
// passphrase-encrypted files by design (secrets are encrypted to keys), so each must end in
// that refusal (a failure, never plaintext) and counts as passed when it does.

struct Vector {
    name: String,
    expect: String,
    payload: Option<String>,
    identities: Vec<String>,
    passphrases: Vec<String>,
    file: Vec<u8>,
}

fn cache_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("cctv-age-0.2.0")
}

/// Fetch and unpack the vectors once; None (after a skip) when npm/node or the registry is
/// unavailable. Both tests call this at once; one fetch at a time.
fn vectors_dir() -> Option<PathBuf> {
    static FETCH: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = FETCH.lock().unwrap_or_else(|e| e.into_inner());
    let cache = cache_dir();
    let out = cache.join("vectors");
    if out.join(".complete").exists() {
        return Some(out);
    }
    if common::missing("npm") || common::missing("node") {
        return None;
    }
    std::fs::create_dir_all(&cache).unwrap();
    let pack = Command::new("npm")
        .args(["pack", PACKAGE, "--silent", "--pack-destination"])
        .arg(&cache)
        .current_dir(&cache)
        .output()
        .expect("run npm");
    if !pack.status.success() {
        common::skip(&format!(
            "npm pack {PACKAGE} failed (no registry access?): {}",
            String::from_utf8_lossy(&pack.stderr).trim()
        ));
        return None;
    }
    let tgz = cache.join("cctv-age-0.2.0.tgz");
    let st = Command::new("tar")
        .arg("xzf")
        .arg(&tgz)
        .arg("-C")
        .arg(&cache)
        .status()
        .unwrap();
    assert!(st.success(), "tar xzf {}", tgz.display());
    // Write each export as a file; inflate the body of `compressed: zlib` vectors.
    let tmp = cache.join("vectors.tmp");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).unwrap();
    let script = r#"
const [pkg, dir] = process.argv.slice(1);
const m = await import(pkg);
const fs = await import("node:fs");
const zlib = await import("node:zlib");
for (const [k, v] of Object.entries(m)) {
  const buf = Buffer.from(v);
  const sep = buf.indexOf("\n\n");
  const head = buf.subarray(0, sep + 2);
  let body = buf.subarray(sep + 2);
  if (/^compressed: zlib$/m.test(head.toString())) body = zlib.inflateSync(body);
  fs.writeFileSync(dir + "/" + k, Buffer.concat([head, body]));
}
"#;
    let st = Command::new("node")
        .args(["--input-type=module", "-e", script])
        .arg(cache.join("package/index.js"))
        .arg(&tmp)
        .status()
        .unwrap();
    assert!(st.success(), "node failed to extract the vectors");
    std::fs::write(tmp.join(".complete"), b"").unwrap();
    let _ = std::fs::remove_dir_all(&out);
    std::fs::rename(&tmp, &out).unwrap();
    Some(out)
}

fn load(dir: &Path) -> Vec<Vector> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let data = std::fs::read(e.path()).unwrap();
        let sep = data
            .windows(2)
            .position(|w| w == b"\n\n")
            .expect("vector header");
        let head = std::str::from_utf8(&data[..sep]).unwrap();
        let mut v = Vector {
            name,
            expect: String::new(),
            payload: None,
            identities: Vec::new(),
            passphrases: Vec::new(),
            file: data[sep + 2..].to_vec(),
        };
        for line in head.lines() {
            let (k, val) = line.split_once(": ").expect("key: value");
            match k {
                "expect" => v.expect = val.to_string(),
                "payload" => v.payload = Some(val.to_string()),
                "identity" => v.identities.push(val.to_string()),
                "passphrase" => v.passphrases.push(val.to_string()),
                _ => {}
            }
        }
        out.push(v);
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// What our decrypt path did, in the vectors' vocabulary.
fn outcome(v: &Vector, tmp: &Path) -> String {
    let id_file = tmp.join(format!("{}.key", v.name));
    std::fs::write(&id_file, v.identities.join("\n") + "\n").unwrap();
    let paths = if v.identities.is_empty() {
        Vec::new()
    } else {
        vec![id_file]
    };
    let ids = match Identities::load(&paths, Origin::Explicit) {
        Ok(ids) => ids,
        Err(e) => return format!("identity refused: {e}"),
    };
    // The kind tells the outcomes apart; the message, the finer cases.
    match decrypt(&v.file, &ids).map_err(|e| (e.kind(), e.to_string())) {
        Ok(plain) => {
            let hash = hex(&Sha256::digest(&plain[..]));
            match &v.payload {
                Some(p) if *p == hash => "success".into(),
                _ => format!("success with wrong payload {hash}"),
            }
        }
        Err((ErrorKind::Invalid, m)) if m.contains("passphrase-encrypted") => {
            "passphrase refused".into()
        }
        Err((ErrorKind::Invalid, m)) if m.starts_with("invalid ASCII armor") => {
            "armor failure".into()
        }
        Err((ErrorKind::Invalid, _)) => "header failure".into(),
        Err((ErrorKind::NoMatchingIdentity, _)) => "no match".into(),
        Err((ErrorKind::Corrupted, m)) if m.contains("header does not authenticate") => {
            "HMAC failure".into()
        }
        Err((ErrorKind::Corrupted, m))
            if m.contains("payload is damaged") || m.starts_with("decryption failed") =>
        {
            // We release no plaintext before the whole file authenticates, so the vectors'
            // partial-payload hash has nothing to compare with.
            "payload failure".into()
        }
        Err((ErrorKind::Corrupted, m))
            if m == "invalid age header" || m == "unknown age format" =>
        {
            "header failure".into()
        }
        Err((_, e)) => format!("other: {e}"),
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn cctv_age_vectors() {
    let Some(dir) = vectors_dir() else { return };
    let vectors = load(&dir);
    assert_eq!(vectors.len(), TOTAL, "vector count of {PACKAGE}");
    let tmp = tempfile::tempdir().unwrap();

    let mut passed = Vec::new();
    let mut deviations: BTreeMap<String, (String, String)> = BTreeMap::new();
    for v in &vectors {
        let got = outcome(v, tmp.path());
        let scrypt_ok = !v.passphrases.is_empty() && got == "passphrase refused";
        if got == v.expect || scrypt_ok {
            passed.push(v.name.clone());
        } else {
            deviations.insert(v.name.clone(), (v.expect.clone(), got));
        }
    }
    for (n, (want, got)) in &deviations {
        eprintln!("deviation: {n}: expected `{want}`, got `{got}`");
    }
    eprintln!("{} passed, {} deviations", passed.len(), deviations.len());

    let mut expected: BTreeMap<String, (String, String)> = BTreeMap::new();
    for n in PQ_UNSUPPORTED {
        let v = vectors
            .iter()
            .find(|v| v.name == *n)
            .unwrap_or_else(|| panic!("no {n}"));
        let got = deviations.get(*n).map(|d| d.1.clone()).unwrap_or_default();
        assert!(
            got.starts_with("identity refused"),
            "{n}: expected the PQ identity to be refused, got `{got}`"
        );
        expected.insert(n.to_string(), (v.expect.clone(), got));
    }
    for (n, want, got, _why) in KNOWN_DEVIATIONS {
        expected.insert(n.to_string(), (want.to_string(), got.to_string()));
    }
    assert_eq!(
        deviations, expected,
        "the CCTV deviations changed; update the documented list"
    );
    assert_eq!(
        passed.len(),
        TOTAL - PQ_UNSUPPORTED.len() - KNOWN_DEVIATIONS.len()
    );
    assert_eq!(passed.len(), 117);
}

/// Success or failure with the age crate alone, as a plain age-crate user would decrypt.
fn age_crate_alone(v: &Vector) -> Option<bool> {
    let text = v.identities.join("\n");
    let ids = age::IdentityFile::from_buffer(text.as_bytes())
        .ok()?
        .into_identities()
        .ok()?;
    let res = (|| {
        let d = age::Decryptor::new_buffered(age::armor::ArmoredReader::new(&v.file[..])).ok()?;
        let mut r = d.decrypt(ids.iter().map(|i| i.as_ref() as _)).ok()?;
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut r, &mut out).ok()?;
        Some(hex(&Sha256::digest(&out)))
    })();
    Some(res.is_some_and(|h| v.payload.as_deref() == Some(h.as_str())))
}

#[test]
fn cctv_age_crate_alone() {
    let Some(dir) = vectors_dir() else { return };
    let mut got = Vec::new();
    for v in load(&dir) {
        if v.identities.is_empty() || !v.passphrases.is_empty() {
            continue;
        }
        let Some(ok) = age_crate_alone(&v) else {
            continue;
        };
        if ok != (v.expect == "success") {
            eprintln!(
                "age crate alone: {}: expected `{}`, success={ok}",
                v.name, v.expect
            );
            got.push((v.name.clone(), v.expect.clone(), ok));
        }
    }
    let want: Vec<_> = AGE_CRATE_ALONE_DEVIATIONS
        .iter()
        .map(|(n, e, ok)| (n.to_string(), e.to_string(), *ok == "success"))
        .collect();
    assert_eq!(got, want);
}
