//! `secrets completions SHELL`.

use clap::{Args, CommandFactory};

use super::{Cli, Global};
use crate::error::Result;

#[derive(Args, Debug)]
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
