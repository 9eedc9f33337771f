//! The command lines of the tools `secrets` replaces: invoked as `agenix` it speaks agenix's
//! (`script`), as `ragenix` ragenix's (`ragenix`). Each only builds our commands' arguments
//! and calls their `run`; what differs from the originals on purpose is listed in README
//! ("agenix compatibility").

mod ragenix;
mod script;

/// agenix's help text (agenix(1) is generated from it).
pub use script::HELP;

/// `ragenix --help`, which ragenix(1) is made of.
pub use ragenix::HELP as RAGENIX_HELP;

use std::ffi::{OsStr, OsString};

/// Which command line to speak.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    Agenix,
    Ragenix,
}

/// The command line for a run: by the name the binary was started under (a symlink, or the
/// package's `agenix`/`ragenix` links), else agenix's when `args` start with one of its
/// actions (`nix run <this flake> -- -e x.age` starts the binary as `secrets`).
pub fn flavor(argv0: Option<&OsStr>, args: &[OsString]) -> Option<Flavor> {
    let name = argv0
        .map(|a| std::path::Path::new(a).file_name().unwrap_or_default())
        .unwrap_or_default();
    if name == "agenix" {
        Some(Flavor::Agenix)
    } else if name == "ragenix" {
        Some(Flavor::Ragenix)
    } else if wants_agenix(args) {
        Some(Flavor::Agenix)
    } else {
        None
    }
}

/// Run a flavor's command line on `args` (without argv[0]); returns the exit code.
pub fn main(flavor: Flavor, args: Vec<OsString>) -> i32 {
    match flavor {
        Flavor::Agenix => script::main(args),
        Flavor::Ragenix => ragenix::main(args),
    }
}

/// True when `args` (without argv[0]) ask for one of agenix's actions before naming a
/// subcommand. A subcommand (`secrets edit -e`) keeps our own command line.
pub fn wants_agenix(args: &[OsString]) -> bool {
    let mut it = args.iter().map(|a| a.to_str().unwrap_or(""));
    while let Some(a) = it.next() {
        match a {
            "-e" | "--edit" | "-d" | "--decrypt" | "-r" | "--rekey" => return true,
            // The option of both command lines that takes a value: skip it.
            "-i" | "--identity" => {
                it.next();
            }
            _ if a.starts_with('-') => {}
            // The first word that is not an option is our subcommand (or a typo for clap).
            _ => return false,
        }
    }
    false
}

/// The version line both help texts end with: agenix's package check greps `agenix -h` for
/// the package's version, which for this package is ours.
fn version_lines(tool: &str) -> String {
    format!(
        "{tool} version: {v}\n\
         provided by: secrets {v}\n\
         age: built in (the Rust age library); no age binary is run",
        v = env!("CARGO_PKG_VERSION")
    )
}

#[cfg(test)]
mod tests {
    use super::{flavor, wants_agenix, Flavor};
    use std::ffi::OsStr;

    fn wants(args: &[&str]) -> bool {
        wants_agenix(&args.iter().map(Into::into).collect::<Vec<_>>())
    }

    #[test]
    fn agenix_actions_before_a_subcommand_select_agenix() {
        assert!(wants(&["-e", "db.age"]));
        assert!(wants(&["-i", "key", "--decrypt", "db.age"]));
        assert!(wants(&["-v", "-r"]));
        // An identity named like an agenix flag is a value, not an action.
        assert!(!wants(&["-i", "-r", "check"]));
        assert!(!wants(&["edit", "-e"]));
        assert!(!wants(&["--rules", "secrets.json", "decrypt", "-d"]));
        assert!(!wants(&["-v", "rekey", "-r"]));
        assert!(!wants(&["--help"]));
        assert!(!wants(&[]));
    }

    #[test]
    fn the_name_selects_the_flavor() {
        let f = |name: &str, args: &[&str]| {
            let args: Vec<_> = args.iter().map(Into::into).collect();
            flavor(Some(OsStr::new(name)), &args)
        };
        assert_eq!(f("/nix/store/x/bin/agenix", &[]), Some(Flavor::Agenix));
        assert_eq!(f("ragenix", &["-e", "x"]), Some(Flavor::Ragenix));
        assert_eq!(f("secrets", &["-e", "x"]), Some(Flavor::Agenix));
        assert_eq!(f("secrets", &["edit", "x"]), None);
    }
}
