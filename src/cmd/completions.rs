//! `secrets completions SHELL` and `secrets man`.

use clap::{Args, CommandFactory};

use crate::error::{Error, Result};

#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// bash, zsh or fish
    pub shell: clap_complete::Shell,
}

pub fn completions(args: &CompletionsArgs) -> Result<i32> {
    let mut cmd = crate::cli::Cli::command();
    clap_complete::generate(args.shell, &mut cmd, "secrets", &mut std::io::stdout());
    Ok(0)
}

pub fn man() -> Result<i32> {
    let cmd = crate::cli::Cli::command();
    clap_mangen::Man::new(cmd)
        .render(&mut std::io::stdout())
        .map_err(|e| Error::new(format!("cannot write the man page: {e}")))?;
    Ok(0)
}
