//! `secrets man`: the man page, in roff.

use clap::{Args, CommandFactory};

use super::{Cli, Global};
use crate::error::{Error, Result};

#[derive(Args, Debug)]
pub struct ManArgs {}

pub fn run(_args: &ManArgs, _g: &Global) -> Result<i32> {
    let cmd = Cli::command();
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd)
        .render(&mut buf)
        .map_err(|e| Error::new(format!("cannot render the man page: {e}")))?;
    super::write_stdout(&buf)
}
