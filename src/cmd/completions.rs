//! `secrets completions SHELL`.

use clap::{Args, CommandFactory};

use super::{Cli, Global};
use crate::error::Result;

#[derive(Args, Debug)]
#[command(after_help = "\
Examples:
  secrets completions bash > /etc/bash_completion.d/secrets
  secrets completions zsh > \"${fpath[1]}/_secrets\"
  secrets completions fish > ~/.config/fish/completions/secrets.fish")]
pub struct CompletionsArgs {
    /// bash, zsh or fish
    pub shell: clap_complete::Shell,
}

pub fn run(args: &CompletionsArgs, _g: &Global) -> Result<i32> {
    let mut cmd = Cli::command();
    // Render to memory first: clap_complete panics on a write error, e.g. `| head` closing
    // the pipe early.
    let mut buf = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "secrets", &mut buf);
    super::write_stdout(&buf)
}
