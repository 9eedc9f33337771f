//! `secrets rekey`: re-encrypt drifted files. (Being built; see issue "Rekey and check".)

use clap::Args;
use std::path::PathBuf;

use crate::cli::Global;
use crate::error::{Error, Result};

#[derive(Args, Debug, Default)]
pub struct RekeyArgs {
    /// Files to rekey (default: all files in the rules).
    pub files: Vec<PathBuf>,
}

pub fn run(_args: &RekeyArgs, _g: &Global) -> Result<i32> {
    Err(Error::new("rekey is not available yet"))
}

/// `agenix -r`: agenix's semantics, every file in the rules is re-encrypted.
pub fn agenix_rekey(_g: &Global) -> Result<i32> {
    Err(Error::new("rekey is not available yet"))
}
