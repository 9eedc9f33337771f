//! `secrets check`. (Being built; see issue "Rekey and check".)

use clap::Args;

use crate::cli::Global;
use crate::error::{Error, Result};

#[derive(Args, Debug)]
pub struct CheckArgs {}

pub fn run(_args: &CheckArgs, _g: &Global) -> Result<i32> {
    Err(Error::new("check is not available yet"))
}
