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
    // Render to memory first: clap_complete panics on a write error, e.g. `| head` closing
    // the pipe early.
    let mut buf = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "secrets", &mut buf);
    write_stdout(&buf)
}

/// Write to stdout; a reader that went away (EPIPE) is not an error worth reporting.
fn write_stdout(buf: &[u8]) -> Result<i32> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(buf).and_then(|_| out.flush()) {
        Ok(()) => Ok(0),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(0),
        Err(e) => Err(Error::new(format!("cannot write to stdout: {e}"))),
    }
}

pub fn man() -> Result<i32> {
    let cmd = crate::cli::Cli::command();
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd)
        .render(&mut buf)
        .map_err(|e| Error::new(format!("cannot render the man page: {e}")))?;
    write_stdout(&buf)
}
