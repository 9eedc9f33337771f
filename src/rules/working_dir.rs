//! agenix's naming: a rule's name is a path relative to the *working directory*, wherever the
//! rules file is (`RULES=secrets/secrets.nix agenix -e secrets/db.age` uses the rule
//! "secrets/db.age" and writes ./secrets/db.age). The `agenix` entry switches to it; our own
//! command line keeps names relative to the rules file's directory.
//!
//! Only the files move: `Rules::dir` stays the rules file's directory, so the write guard and
//! secrets.lock.json stay next to the rules file (one lock per rules file, whichever directory
//! agenix was started from; its entries are keyed by the names the rules file itself uses).

use std::path::{Path, PathBuf};

use super::names::{lexical_normalize, normalize_name};
use super::{Rule, Rules};
use crate::error::{Error, Result};

impl Rules {
    /// Make every rule's file `base/<name>` instead of `<rules dir>/<name>`.
    pub fn name_files_from(&mut self, base: &Path) {
        for rule in self.secrets.values_mut() {
            rule.path = base.join(&rule.name);
        }
    }

    /// The rule for FILE as agenix finds it: FILE (made relative to `base` if absolute, with
    /// `./` and `//` tidied) is the rule's name, nothing else is tried.
    pub fn lookup_from(&self, base: &Path, arg: &Path) -> Result<&Rule> {
        // A rule whose name is not a plain path below `base` (`../x.age`) can only be broken.
        let written = arg.to_string_lossy();
        if let Some(b) = self.broken.iter().find(|b| b.name == written) {
            return Err(self.broken_error(b));
        }
        let name = name_in(base, arg).ok_or_else(|| {
            Error::new(format!(
                "{}: no rule for this file in {}: under agenix's naming a file is named by its \
                 path relative to the current directory ({}), and this one is not below it",
                arg.display(),
                self.file.display(),
                base.display()
            ))
        })?;
        if let Some(b) = (self.broken.iter()).find(|b| b.file.as_deref() == Some(name.as_str())) {
            return Err(self.broken_error(b));
        }
        self.secrets.get(&name).ok_or_else(|| {
            Error::new(format!(
                "{}: no rule for this file in {}; add an entry for \"{name}\" with its \
                 publicKeys (names are paths relative to the current directory, as in agenix)",
                arg.display(),
                self.file.display(),
            ))
        })
    }
}

/// `arg` as a rule name relative to `base`, if it is a plain path below it.
fn name_in(base: &Path, arg: &Path) -> Option<String> {
    let rel: PathBuf = if arg.is_absolute() {
        let abs = lexical_normalize(arg);
        match abs.strip_prefix(base) {
            Ok(r) => r.to_path_buf(),
            // `base` is the canonical working directory; try `arg`'s parent resolved too.
            Err(_) => {
                let parent = std::fs::canonicalize(abs.parent()?).ok()?;
                parent
                    .join(abs.file_name()?)
                    .strip_prefix(base)
                    .ok()?
                    .to_path_buf()
            }
        }
    } else {
        arg.to_path_buf()
    };
    normalize_name(&rel.to_string_lossy()).ok()
}

#[cfg(test)]
mod tests {
    use super::name_in;
    use std::path::Path;

    #[test]
    fn names_are_relative_to_the_base() {
        let base = Path::new("/repo");
        let n = |a: &str| name_in(base, Path::new(a));
        assert_eq!(n("secrets/db.age").as_deref(), Some("secrets/db.age"));
        assert_eq!(n("./secrets//db.age").as_deref(), Some("secrets/db.age"));
        assert_eq!(n("/repo/secrets/db.age").as_deref(), Some("secrets/db.age"));
        assert_eq!(n("../db.age"), None);
    }
}
