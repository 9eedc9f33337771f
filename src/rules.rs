//! The rules file: which secrets exist and to whom each is encrypted. Either agenix's
//! `secrets.nix` (evaluated once with `nix-instantiate`, fenced in: see `nix_eval`) or
//! `secrets.json` (named keys and groups).
//!
//! secrets.json is our format and strict: any problem fails the load. A secrets.nix is
//! tolerated as agenix tolerates it: attributes we do not read are ignored, and a rule that
//! cannot be used (no keys, a bad key, a `throw` in it, a `..` name) is kept aside as `Broken`,
//! failing only the commands that touch it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{describe_io, Error, Result};
use crate::keys::Recipient;
use crate::names::escaped;

mod discover;
pub mod generator;
mod layout;
mod names;
mod nix_eval;
mod parse;
mod resolve;
mod suggest;
mod working_dir;

pub use discover::{where_looked as discover_where, How, Located, Start};
pub use names::normalize_name;
pub use parse::UniqueMap;

/// How many rules of a secrets.nix that throw are evaluated again to show what they throw.
const MAX_THROWN_MESSAGES: usize = 20;

/// The JSON Schema of `secrets.json`, printed by `secrets schema`.
pub const JSON_SCHEMA: &str = include_str!("secrets.schema.json");

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Nix,
    Json,
}

#[derive(Clone, Debug)]
pub struct Rule {
    /// Path relative to the rules directory, normalized (`db.age`, `hosts/web1.age`).
    pub name: String,
    /// Absolute path of the encrypted file.
    pub path: PathBuf,
    /// Shared between the rules that list the same keys.
    pub recipients: Arc<[Recipient]>,
    pub armor: bool,
    /// How `secrets generate` creates the file (see `generator`).
    pub generator: Option<generator::Generator>,
    /// What the decrypted file is (`format`): `edit` refuses to save a document that does not
    /// parse, `decrypt --key` reads it so. None: from the file name, else binary.
    pub format: Option<crate::structured::Format>,
}

#[derive(Debug)]
pub struct Rules {
    pub file: PathBuf,
    pub dir: PathBuf,
    pub format: Format,
    pub secrets: BTreeMap<String, Rule>,
    /// The named keys of a secrets.json (none for secrets.nix), also those no rule uses any
    /// more: reports can still put a name on a key that was just removed.
    pub keys: BTreeMap<String, Recipient>,
    /// secrets.nix only: the rules that cannot be used, sorted by name.
    pub broken: Vec<Broken>,
    /// secrets.nix only: attributes of a rule that are not read (metadata), by rule name.
    pub ignored: BTreeMap<String, Vec<String>>,
    /// How the file was chosen (for `-v`), when it was discovered.
    pub how: Option<How>,
}

/// A rule of a secrets.nix that cannot be used, and why.
#[derive(Clone, Debug)]
pub struct Broken {
    /// The name as written (it may be `..`, absolute, or hold characters we refuse).
    pub name: String,
    /// The normalized file name, when the name itself is fine.
    pub file: Option<String>,
    /// What is wrong, starting with `secret "NAME"` (escaped), and the fix.
    pub message: String,
}

/// What a file named on the command line is in the rules.
pub enum Found<'a> {
    Rule(&'a Rule),
    Broken(&'a Broken),
}

impl Rules {
    /// Find and load the rules file (see `discover` for the order).
    pub fn discover(explicit: Option<&Path>, start: Start) -> Result<Rules> {
        Self::load_located(Self::discover_path(explicit, start)?)
    }

    /// Load a rules file `locate` gave, remembering how it was chosen (for `-v`).
    pub fn load_located(found: Located) -> Result<Rules> {
        let mut rules = Self::load(&found.path)?;
        rules.how = Some(found.how);
        Ok(rules)
    }

    /// The rules file to use, if one is given or found (`decrypt` needs none).
    pub fn locate(explicit: Option<&Path>, start: Start) -> Result<Option<Located>> {
        discover::locate(explicit, start)
    }

    /// The rules file `discover` would load: `explicit`, else $RULES, else the first one found
    /// from `start` upward; none is an error that says where it looked.
    pub fn discover_path(explicit: Option<&Path>, start: Start) -> Result<Located> {
        discover::locate(explicit, start)?.ok_or_else(|| discover::not_found(start))
    }

    /// Load the rules file at `path`. Its problems are also given one by one, without the
    /// file's name (`Error::about`), for reports.
    pub fn load(path: &Path) -> Result<Rules> {
        Self::load_file(path).map_err(|e| {
            if e.about().is_some() {
                return e;
            }
            let canonical = std::fs::canonicalize(path).unwrap_or(path.to_path_buf());
            let msg = e.message();
            let problem = [path, canonical.as_path()]
                .iter()
                .flat_map(|p| {
                    [
                        format!("rules file {}: ", p.display()),
                        format!("{}: ", p.display()),
                    ]
                })
                .find_map(|prefix| msg.strip_prefix(prefix.as_str()))
                .unwrap_or(msg)
                .to_string();
            e.about_file(canonical.display(), vec![problem])
        })
    }

    fn load_file(path: &Path) -> Result<Rules> {
        let file = std::fs::canonicalize(path).map_err(|e| {
            Error::new(format!(
                "rules file {}: {}",
                path.display(),
                describe_io(&e)
            ))
        })?;
        let dir = file.parent().unwrap_or(Path::new("/")).to_path_buf();
        let format = if file.extension().is_some_and(|e| e == "json") {
            Format::Json
        } else {
            Format::Nix
        };
        let raw = match format {
            Format::Json => {
                let text = crate::fs::read_regular_text(&file)
                    .map_err(|e| Error::io("cannot read rules file", &file, e))?;
                parse::parse_json(&text).map_err(|e| e.context(file.display()))?
            }
            Format::Nix => {
                // Nix would block on a FIFO just the same; a rules file is a regular file.
                if !std::fs::metadata(&file).is_ok_and(|m| m.is_file()) {
                    return Err(Error::new(format!(
                        "rules file {}: not a regular file",
                        file.display()
                    )));
                }
                nix_eval::refuse_escaping_link(path, &file)?;
                let json = nix_eval::eval_rules(&file, &dir)?;
                // One more evaluation per rule that throws, for its message; a file where
                // many do is not evaluated again and again.
                let mut left = MAX_THROWN_MESSAGES;
                let mut thrown = |rule: &str, attr: &str| {
                    if left == 0 {
                        return format!(
                            "it throws an error (not evaluated again for its message: more \
                             than {MAX_THROWN_MESSAGES} rules throw)"
                        );
                    }
                    left -= 1;
                    nix_eval::thrown_message(&file, &dir, rule, attr)
                };
                parse::parse_nix_json(&json, &mut thrown).map_err(|e| e.context(file.display()))?
            }
        };
        let ignored = raw.ignored.clone();
        let r = resolve::resolve(raw, &dir);
        // secrets.json is ours: every problem fails the load. (A secrets.nix has no keys or
        // groups, so no errors of the file as a whole.)
        let mut errs = r.errors;
        if format == Format::Json || !errs.is_empty() {
            // A rule broken only by a key that cannot be used is named in that key's error.
            errs.extend(
                r.broken
                    .into_iter()
                    .filter(|b| !r.folded.contains(&b.name))
                    .map(|b| b.message),
            );
            if !errs.is_empty() {
                errs.sort();
                let msg = format!(
                    "{} is invalid:\n  - {}",
                    file.display(),
                    errs.join("\n  - ")
                );
                return Err(Error::new(msg).about_file(file.display(), errs));
            }
            return Ok(Rules {
                file,
                dir,
                format,
                secrets: r.secrets,
                keys: r.keys,
                broken: Vec::new(),
                ignored,
                how: None,
            });
        }
        Ok(Rules {
            file,
            dir,
            format,
            secrets: r.secrets,
            keys: r.keys,
            broken: r.broken,
            ignored,
            how: None,
        })
    }

    /// The rule for a file named on the command line: a path relative to the current
    /// directory, an absolute path, or the rule's name relative to the rules directory. A
    /// rule that cannot be used is an error naming it, what is wrong and the fix.
    pub fn lookup(&self, arg: &Path) -> Result<&Rule> {
        match self.find(arg)? {
            Found::Rule(r) => Ok(r),
            Found::Broken(b) => Err(self.broken_error(b)),
        }
    }

    /// Like `lookup`, but a rule that cannot be used is returned, not an error.
    pub fn find(&self, arg: &Path) -> Result<Found<'_>> {
        let mut candidates = Vec::new();
        let abs = if arg.is_absolute() {
            arg.to_path_buf()
        } else {
            std::env::current_dir().unwrap_or_default().join(arg)
        };
        if let Some(rel) = self.relative_name(&abs) {
            candidates.push(rel);
        }
        if !arg.is_absolute() {
            if let Ok(n) = normalize_name(&arg.to_string_lossy()) {
                candidates.push(n);
            }
        }
        for c in &candidates {
            if let Some(r) = self.secrets.get(c) {
                return Ok(Found::Rule(r));
            }
        }
        if let Some(b) = self.broken_for(arg, &abs, &candidates) {
            return Ok(Found::Broken(b));
        }
        // Outside the rules directory no entry could name it: say so rather than suggest one.
        let Some(first) = candidates.first() else {
            return Err(Error::new(format!(
                "{}: no rule for this file in {}: it is outside {}, and secrets must be below \
                 the rules file's directory",
                arg.display(),
                self.file.display(),
                self.dir.display()
            )));
        };
        Err(Error::new(self.no_rule_message(arg, first)))
    }

    /// "no rule for FILE", with the rule names it is probably a typo of, and how to add one.
    pub fn no_rule_message(&self, arg: &Path, name: &str) -> String {
        let names = self
            .secrets
            .keys()
            .map(String::as_str)
            .chain(self.broken.iter().filter_map(|b| b.file.as_deref()));
        let close: Vec<String> = suggest::similar(name, names)
            .into_iter()
            .map(|n| format!("\"{}\"", escaped(n)))
            .collect();
        let (file, shown) = (self.file.display(), arg.display());
        if close.is_empty() {
            return format!(
                "{shown}: no rule for this file in {file}; add an entry for \"{}\" with its \
                 publicKeys",
                escaped(name)
            );
        }
        format!(
            "{shown}: no rule for this file in {file}; did you mean {}? (for a new secret, add \
             an entry for \"{}\" with its publicKeys)",
            close.join(" or "),
            escaped(name)
        )
    }

    /// The broken rule a file named on the command line refers to: by its file name, or, for
    /// a name that is not one (`../x.age`, `/etc/x.age`), as written or by where it points.
    fn broken_for(&self, arg: &Path, abs: &Path, candidates: &[String]) -> Option<&Broken> {
        let abs = names::lexical_normalize(abs);
        self.broken.iter().find(|b| match &b.file {
            Some(f) => candidates.contains(f),
            None => {
                Path::new(&b.name) == arg
                    || names::lexical_normalize(&self.dir.join(&b.name)) == abs
            }
        })
    }

    /// The error of a command that needs a rule that cannot be used.
    pub fn broken_error(&self, b: &Broken) -> Error {
        Error::new(format!(
            "{}: {}\nthis rule cannot be used until it is fixed; the other rules are not \
             affected (`secrets check` lists every rule that cannot be used)",
            self.file.display(),
            b.message,
        ))
    }

    /// Whether the rules name the file `name` (normalized), usable or not.
    pub fn names_file(&self, name: &str) -> bool {
        self.secrets.contains_key(name)
            || self.broken.iter().any(|b| b.file.as_deref() == Some(name))
    }

    /// With `-v`: which rules file is used and how it was chosen, then the attributes of
    /// each rule that are ignored, once per rule.
    pub fn mention_ignored(&self, verbose: bool) {
        if !verbose {
            return;
        }
        if let Some(how) = &self.how {
            eprintln!("rules: {} ({})", self.file.display(), how.describe());
        }
        for (rule, attrs) in &self.ignored {
            let attrs: Vec<String> = attrs.iter().map(|a| escaped(a)).collect();
            eprintln!(
                "{}: rule \"{}\": ignoring {} (secrets reads only {})",
                self.file.display(),
                escaped(rule),
                attrs.join(", "),
                parse::KNOWN_ATTRS.join(" and ")
            );
        }
    }

    /// `abs` as a normalized name relative to the rules directory, if it lies inside it.
    pub fn relative_name(&self, abs: &Path) -> Option<String> {
        let abs = names::lexical_normalize(abs);
        // Resolve symlinks in the existing parent so /real/dir and /link/dir agree.
        let abs = match (abs.parent(), abs.file_name()) {
            (Some(p), Some(n)) => std::fs::canonicalize(p)
                .map(|p| p.join(n))
                .unwrap_or(abs.clone()),
            _ => abs,
        };
        let rel = abs.strip_prefix(&self.dir).ok()?;
        normalize_name(&rel.to_string_lossy()).ok()
    }
}

/// Fuzzing entry point (used by fuzz/): parse `secrets.json` text (or, with `nix`, the JSON that
/// our evaluation of a `secrets.nix` gives) and resolve it as `Rules::load` would, against a
/// fixed directory. Returns the number of usable secrets, or the error a user would see.
/// Touches no files.
pub fn parse_for_fuzz(text: &str, nix: bool) -> Result<usize> {
    let raw = if nix {
        parse::parse_nix_json(text, &mut |_, _| "it throws".to_string())?
    } else {
        parse::parse_json(text)?
    };
    let r = resolve::resolve(raw, Path::new("/fuzz"));
    let mut errs = r.errors;
    if !nix {
        errs.extend(r.broken.into_iter().map(|b| b.message));
    }
    if errs.is_empty() {
        Ok(r.secrets.len())
    } else {
        Err(Error::new(errs.join("\n")))
    }
}
