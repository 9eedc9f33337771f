//! `install --check`: build-time validation without keys or root (not to be confused with
//! `secrets check`, which checks a repository). The manifest is already validated; here each
//! encrypted file must exist, be an age file, and (with hostPublicKeys) carry a stanza for one
//! of the host's keys.

use crate::header::Header;

use super::manifest::{Plan, SecretSpec};
use super::report::Report;

pub fn run(plan: &Plan, report: &mut Report) {
    let host_tags: Vec<([u8; 4], &str)> = plan
        .host_keys
        .iter()
        .filter_map(|k| k.ssh_tag.map(|t| (t, k.fingerprint.as_str())))
        .collect();
    if !plan.host_keys.is_empty() && host_tags.is_empty() {
        report.warn(
            "hostPublicKeys has no SSH keys; whether this host can decrypt its secrets cannot \
             be checked",
        );
    }
    let host_fps: Vec<&str> = host_tags.iter().map(|(_, f)| *f).collect();
    for s in &plan.secrets {
        check_secret(s, &host_tags, &host_fps, report);
    }
}

/// One secret's file: readable here, an age file, not passphrase-encrypted, and (with host
/// keys) encrypted to one of them.
fn check_secret(
    s: &SecretSpec,
    host_tags: &[([u8; 4], &str)],
    host_fps: &[&str],
    report: &mut Report,
) {
    let f = &s.file;
    let data = match crate::fs::read_regular(f) {
        Ok(d) => d,
        // The build sandbox only sees store paths; a file given as a string elsewhere is
        // checked when it is installed.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !f.starts_with("/nix/store") => {
            report.warn(format!(
                "secret {:?}: {} does not exist here (outside /nix/store, so not checked at \
                 build time)",
                s.item.attr,
                f.display()
            ));
            return;
        }
        Err(e) => {
            report.error(format!(
                "secret {:?}: cannot read {}: {}",
                s.item.attr,
                f.display(),
                crate::error::describe_io(&e)
            ));
            return;
        }
    };
    let header = match Header::parse(&data) {
        Ok(h) => h,
        Err(e) => {
            report.error(format!("secret {:?}: {}: {e}", s.item.attr, f.display()));
            return;
        }
    };
    if header.is_scrypt() {
        report.error(format!(
            "secret {:?}: {} is passphrase-encrypted (age -p) and cannot be decrypted at \
             activation; re-encrypt it to the host's key with `secrets rekey`",
            s.item.attr,
            f.display()
        ));
        return;
    }
    if let Some(why) = header.malformed_stanza() {
        report.error(format!("secret {:?}: {}: {why}", s.item.attr, f.display()));
        return;
    }
    if host_tags.is_empty() {
        return;
    }
    let tags = header.ssh_tags();
    if host_tags.iter().any(|(t, _)| tags.contains(t)) {
        return;
    }
    let fname = f
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if header.opaque_stanzas().next().is_some() {
        report.warn(format!(
            "secret {:?}: {fname} is also encrypted to X25519 or plugin recipients, which \
             cannot be matched to a host key without the private key; cannot check that \
             this host can decrypt it",
            s.item.attr
        ));
        return;
    }
    report.error(format!(
        "secret {:?}: {fname} is not encrypted to this host's key {}; add the host key to \
         the secret's recipients and run `secrets rekey`",
        s.item.attr,
        host_fps.join(" or ")
    ));
}
