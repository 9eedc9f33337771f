//! Generators: secrets that `secrets generate` creates from a rule's `generator` (parsed in
//! `rules::generator`), one module per kind family: `text` (alnum, hex, base64), `passphrase`
//! (with its word list), `keypair` (ssh-ed25519, wireguard, age) and `command` (derived values);
//! `public` rewrites a key pair's `.pub` from its private key.
//! Generating needs no private key: only the command kind may need one, to read its
//! dependencies. Every value comes from the OS random source and lives in wiped buffers.

pub mod command;
mod keypair;
mod passphrase;
pub mod public;
mod text;

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::fs::{self, SecretBytes};
use crate::rules::generator::{Generator, KeyKind};
use crate::rules::{Rule, Rules};

/// A generated secret, and for key pairs the public half (one line, no newline).
pub struct Made {
    pub secret: SecretBytes,
    pub public: Option<String>,
}

/// Make the secret of `rule` with `g`. `deps` holds the plaintext of the command kind's
/// dependencies (rule name, plaintext), in the order the generator lists them.
pub fn make(
    rule: &Rule,
    g: &Generator,
    deps: &[(String, SecretBytes)],
    rules_dir: &Path,
) -> Result<Made> {
    let plain = |secret| Made {
        secret,
        public: None,
    };
    Ok(match g {
        Generator::Text { kind, length } => plain(text::make(*kind, *length)),
        Generator::Passphrase { words, separator } => plain(passphrase::make(*words, separator)),
        Generator::KeyPair(kind) => {
            let kp = keypair::make(*kind, &rule.name)?;
            Made {
                secret: kp.secret,
                public: Some(kp.public),
            }
        }
        Generator::Command { command, .. } => {
            plain(command::run(&rule.name, command, deps, rules_dir)?)
        }
    })
}

/// Where a key pair's public half goes: `host-key.pub` for `host-key.age`, `x.pub` for `x`.
pub fn public_path(rule: &Rule) -> PathBuf {
    let file = rule.path.file_name().unwrap_or_default().to_string_lossy();
    let stem = file.strip_suffix(".age").unwrap_or(&file);
    rule.path.with_file_name(format!("{stem}.pub"))
}

/// Write the public half next to the rule's file: plaintext, world-readable (it is public and
/// meant to be committed), replaced atomically.
pub fn write_public(rule: &Rule, public: &str) -> Result<()> {
    let path = public_path(rule);
    fs::atomic_write(&path, format!("{public}\n").as_bytes(), 0o644)
}

/// For `check`: key-pair rules whose file exists but whose `.pub` is missing or is not a
/// public key of that kind, as (rule name, message). A missing file is reported by check
/// itself.
pub fn public_half_problems(rules: &Rules) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for rule in rules.secrets.values() {
        let Some(Generator::KeyPair(kind)) = &rule.generator else {
            continue;
        };
        if rule.path.symlink_metadata().is_err() {
            continue;
        }
        let path = public_path(rule);
        let shown = path
            .strip_prefix(&rules.dir)
            .unwrap_or(&path)
            .display()
            .to_string();
        let name = &rule.name;
        let why = match fs::read_regular_text(&path) {
            Err(e) => format!("cannot be read ({})", crate::error::describe_io(&e)),
            Ok(text) if !is_public_key(*kind, text.trim()) => format!(
                "is not {} public key",
                match kind {
                    KeyKind::SshEd25519 => "an ssh-ed25519",
                    KeyKind::Wireguard => "a WireGuard",
                    KeyKind::Age => "an age",
                }
            ),
            Ok(_) => continue,
        };
        out.push((
            name.clone(),
            format!(
                "its public half {shown} {why}; configurations that reference it break. Recreate \
                 it from the private key with `secrets generate --public {name}` (needs an \
                 identity), or make a new key pair with `secrets generate --force {name}` (this \
                 rotates the key)"
            ),
        ));
    }
    out
}

fn is_public_key(kind: KeyKind, text: &str) -> bool {
    use base64::Engine;
    match kind {
        KeyKind::SshEd25519 => ssh_key::PublicKey::from_openssh(text)
            .is_ok_and(|k| k.algorithm() == ssh_key::Algorithm::Ed25519),
        KeyKind::Wireguard => {
            text.len() == 44
                && base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .is_ok_and(|b| b.len() == 32)
        }
        KeyKind::Age => text.parse::<age::x25519::Recipient>().is_ok(),
    }
}

/// How to create the missing file of `rule`, as the command to run: `secrets generate NAME`
/// when its rule has a generator, else `secrets edit NAME` (for `check`'s "missing" message).
pub fn create_command(rule: &Rule) -> String {
    let verb = if rule.generator.is_some() {
        "generate"
    } else {
        "edit"
    };
    format!("secrets {verb} {}", rule.name)
}

/// Used by `secrets generate` for messages: the error for a rule, named.
pub fn failed(name: &str, e: Error) -> String {
    let m = e.message();
    if m.starts_with(name) {
        m.to_string()
    } else {
        format!("{name}: {m}")
    }
}
