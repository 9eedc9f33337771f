//! `secrets install --manifest FILE`: the activation-time installer. (Being built.)

use clap::Args;
use std::path::PathBuf;

use crate::error::{Error, Result};

#[derive(Args, Debug)]
pub struct InstallArgs {
    /// The JSON manifest written by the NixOS module.
    #[arg(long, value_name = "FILE")]
    pub manifest: PathBuf,
}

pub fn run(_args: &InstallArgs) -> Result<i32> {
    Err(Error::new("install is not available yet"))
}
