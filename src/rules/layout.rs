//! When none of the rules' files exists where the native commands look (below the rules
//! file's directory), say where they looked and why that may be: a secrets.nix written for
//! agenix names files relative to the directory agenix runs in, which need not be the rules
//! file's directory. A new repository (nothing created yet) is told so as well.

use std::path::Path;

use super::Rules;
use crate::names::escaped;

impl Rules {
    /// The message for "no usable rule's file exists": where secrets looked, the likely
    /// cause found by looking around, and the fix.
    pub fn none_exist_message(&self) -> String {
        let dir = self.dir.display();
        let mut msg = format!(
            "none of the {} file(s) named in {} exists in {dir}: secrets looks for them there, \
             because names in the rules are relative to the rules file's directory",
            self.secrets.len(),
            self.file.display()
        );
        let cwd = std::env::current_dir().unwrap_or_default();
        let here: Vec<&str> = self
            .secrets
            .keys()
            .filter(|n| cwd != self.dir && cwd.join(n).symlink_metadata().is_ok())
            .map(String::as_str)
            .collect();
        let age_files = crate::fs::regular_files(&self.dir, |name| !name.starts_with('.'))
            .into_iter()
            .filter(|f| f.ends_with(".age"))
            .collect::<Vec<_>>();
        if let Some(first) = here.first() {
            msg.push_str(&format!(
                ".\n{} of them can be found relative to the current directory {} (such as \"{}\"): \
                 the rules seem to be written for agenix, which names files relative to the \
                 directory it runs in. Use the agenix entry from this directory (`agenix -r`, \
                 `agenix -e FILE`), or rename the rules so that the names are relative to {dir}",
                here.len(),
                cwd.display(),
                escaped(first)
            ));
            if let Some(renamed) = renamed(&cwd.join(first), &self.dir) {
                msg.push_str(&format!(
                    " (\"{}\" would be \"{}\")",
                    escaped(first),
                    escaped(&renamed)
                ));
            }
        } else if let Some(first) = age_files.first() {
            msg.push_str(&format!(
                ".\n{dir} holds {} .age file(s) under other names (such as \"{}\"): the names \
                 in the rules do not match them. If the rules were written for agenix, whose \
                 names are relative to the directory it runs in, use the agenix entry from \
                 that directory (`agenix -r`), or rename the rules to the names relative to \
                 {dir}",
                age_files.len(),
                escaped(first)
            ));
        } else {
            msg.push_str(
                ".\nIf this is a new repository, nothing has been created yet: create each \
                 file with `secrets edit NAME` (rekey has nothing to do before that). If the \
                 files exist elsewhere, the rules were probably written for agenix, whose \
                 names are relative to the directory it runs in: use the agenix entry from \
                 that directory (`agenix -r`), or rename the rules relative to the rules \
                 file's directory",
            );
        }
        msg
    }
}

/// `path` as a name relative to `dir`, when it lies below it.
fn renamed(path: &Path, dir: &Path) -> Option<String> {
    // The parent only: a link's own name is what a rule would say.
    let path = std::fs::canonicalize(path.parent()?)
        .ok()?
        .join(path.file_name()?);
    let rel = path.strip_prefix(dir).ok()?;
    super::normalize_name(&rel.to_string_lossy()).ok()
}
