//! My keys, as far as their public halves go: the identity files other commands would use
//! (`-i`, else `$SECRETS_IDENTITY`, else `~/.ssh/id_ed25519` and `~/.ssh/id_rsa`), read without
//! unlocking anything. A file whose public half cannot be read from it (a passphrase-protected
//! age identity file, a plugin identity, an unreadable file) is looked up in the `.pub` file
//! next to it; without one its keys are unknown.

use std::path::{Path, PathBuf};

use crate::keys::{public_half, Identities, PublicHalf, Recipient};

/// One identity file.
#[derive(Clone, Debug)]
pub struct MyKey {
    pub path: PathBuf,
    /// Its public keys (from the file, or from its `.pub`).
    pub keys: Vec<Recipient>,
    /// The `.pub` file they were read from, when not the key file itself.
    pub from_pub: Option<PathBuf>,
    /// Why its public keys are unknown (then `keys` is empty).
    pub unknown: Option<String>,
}

/// My identity files with their public keys. `explicit`: the `-i` paths. Never fails: a file
/// that says nothing is reported as unknown, and without HOME there are no default keys.
pub fn my_keys(explicit: &[PathBuf]) -> Vec<MyKey> {
    let paths = match Identities::cli_paths(explicit) {
        Ok((paths, _)) => paths,
        Err(_) => return Vec::new(),
    };
    paths.iter().map(|p| one(p)).collect()
}

fn one(path: &Path) -> MyKey {
    let read = crate::fs::read_path(path, true, crate::fs::MAX_KEY_FILE);
    // The private key stays in its wiped buffer: only borrowed here.
    let text = match &read {
        Ok((data, _)) => {
            std::str::from_utf8(data.as_slice()).map_err(|_| "not a text key file".to_string())
        }
        Err(e) => Err(format!("cannot read it ({})", crate::error::describe_io(e))),
    };
    let why = match text {
        Ok(text) => match public_half(text) {
            PublicHalf::Known(keys) => {
                return MyKey {
                    path: path.to_path_buf(),
                    keys,
                    from_pub: None,
                    unknown: None,
                }
            }
            PublicHalf::Unknown(why) => why,
        },
        Err(why) => why,
    };
    let mut pub_path = path.as_os_str().to_owned();
    pub_path.push(".pub");
    let pub_path = PathBuf::from(pub_path);
    match read_pub(&pub_path) {
        Some(keys) => MyKey {
            path: path.to_path_buf(),
            keys,
            from_pub: Some(pub_path),
            unknown: None,
        },
        None => MyKey {
            path: path.to_path_buf(),
            keys: Vec::new(),
            from_pub: None,
            unknown: Some(format!("{why}, and no {} beside it", pub_path.display())),
        },
    }
}

/// The public keys of a `.pub` file, one a line (`#` comments allowed); None when it is
/// missing or holds none that parse.
fn read_pub(path: &Path) -> Option<Vec<Recipient>> {
    // Public data; bounded like every key read (no FIFO, no device, no huge file).
    let (data, _) = crate::fs::read_path(path, true, crate::fs::MAX_KEY_FILE).ok()?;
    let text = std::str::from_utf8(data.as_slice()).ok()?;
    let keys: Vec<Recipient> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| Recipient::parse(l).ok())
        .collect();
    (!keys.is_empty()).then_some(keys)
}
