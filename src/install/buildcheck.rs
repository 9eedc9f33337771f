//! `install --check`: build-time validation without keys or root (not to be confused with
//! `secrets check`, which checks a repository). The manifest is already validated; here each
//! encrypted file must exist, be an age file, and (with hostPublicKeys) carry a stanza for one
//! of the host's keys.

use crate::header::Header;

use std::path::Path;

use super::manifest::Plan;
use super::report::Report;

/// `files`: each secret's file and how to name it (`age.secrets.db.file`), also those whose
/// item has other errors, so that one run reports everything.
pub fn run(plan: &Plan, files: &[(String, std::path::PathBuf)], report: &mut Report) {
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
    for (at, f) in files {
        check_secret(at, f, &host_tags, &host_fps, report);
    }
}

/// One secret's file (`at` names it: `age.secrets.db.file`, or `secret "db"`): readable here, an age file, not passphrase-encrypted, and (with host
/// keys) encrypted to one of them.
fn check_secret(
    at: &str,
    f: &Path,
    host_tags: &[([u8; 4], &str)],
    host_fps: &[&str],
    report: &mut Report,
) {
    let data = match crate::fs::read_regular(f) {
        Ok(d) => d,
        // The build sandbox only sees store paths; a file given as a string elsewhere is
        // checked when it is installed.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !f.starts_with("/nix/store") => {
            report.warn(format!(
                "{at}: {} does not exist here (outside /nix/store, so not checked at \
                 build time)",
                f.display()
            ));
            return;
        }
        Err(e) => {
            report.error(format!(
                "{at}: cannot read {}: {}",
                f.display(),
                crate::error::describe_io(&e)
            ));
            return;
        }
    };
    let header = match Header::parse(&data) {
        Ok(h) => h,
        Err(e) => {
            report.error(format!("{at}: {}: {e}", f.display()));
            return;
        }
    };
    if header.is_scrypt() {
        report.error(format!(
            "{at}: {} is passphrase-encrypted (age -p) and cannot be decrypted at \
             activation; re-encrypt it to the host's key with `secrets rekey`",
            f.display()
        ));
        return;
    }
    if let Some(why) = header.malformed_stanza() {
        report.error(format!("{at}: {}: {why}", f.display()));
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
            "{at}: {fname} is also encrypted to X25519 or plugin recipients, which \
             cannot be matched to a host key without the private key; cannot check that \
             this host can decrypt it"
        ));
        return;
    }
    report.error(format!(
        "{at}: {fname} is not encrypted to this host's key {}; add the host key to \
         the secret's recipients and run `secrets rekey`",
        host_fps.join(" or ")
    ));
}
