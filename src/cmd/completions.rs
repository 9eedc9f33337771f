//! `secrets completions SHELL`.

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use super::{Cli, Global};
use crate::error::Result;

#[derive(Args, Debug)]
#[command(after_help = "\
Examples:
  secrets completions bash > /etc/bash_completion.d/secrets
  secrets completions zsh > \"${fpath[1]}/_secrets\"
  secrets completions fish > ~/.config/fish/completions/secrets.fish")]
pub struct CompletionsArgs {
    /// bash, zsh, fish, elvish or powershell
    pub shell: Shell,
}

pub fn run(args: &CompletionsArgs, _g: &Global) -> Result<i32> {
    let mut cmd = Cli::command();
    // Render to memory first: clap_complete panics on a write error, e.g. `| head` closing
    // the pipe early.
    let mut buf = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "secrets", &mut buf);
    if args.shell == Shell::PowerShell {
        buf = powershell_list_items(&String::from_utf8_lossy(&buf)).into_bytes();
    }
    super::write_stdout(&buf)
}

/// PowerShell's completion menu needs each item's list text to differ from the others without
/// regard to case, so clap_complete lists an upper-case short option with a trailing space
/// (`'-V '` beside `'-v'`), which the menu shows as typed text. List it with its long name
/// instead (`-V (--version)`): as distinct, and nothing to mistake for part of the option.
fn powershell_list_items(script: &str) -> String {
    let mut cmd = Cli::command();
    cmd.build();
    let mut out = script.to_string();
    for (short, long) in upper_shorts(&cmd) {
        let text = match long {
            Some(l) => format!("-{short} (--{l})"),
            None => format!("-{short} (upper case)"),
        };
        out = out.replace(
            &format!("'-{short}', '-{short} ',"),
            &format!("'-{short}', '{text}',"),
        );
    }
    out
}

/// Every upper-case short option in the command tree, with its long name.
fn upper_shorts(cmd: &clap::Command) -> Vec<(char, Option<String>)> {
    let mut out: Vec<(char, Option<String>)> = cmd
        .get_arguments()
        .filter_map(|a| Some((a.get_short()?, a.get_long().map(str::to_string))))
        .filter(|(c, _)| c.is_uppercase())
        .collect();
    for sub in cmd.get_subcommands() {
        out.extend(upper_shorts(sub));
    }
    out.sort();
    out.dedup();
    out
}
