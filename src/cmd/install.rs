//! `secrets install --manifest FILE`: the activation-time installer, which is the library's
//! `install` module; its arguments are declared there.

use super::Global;
use crate::error::Result;

pub use crate::install::InstallArgs;

/// The installer's report decides what it prints; `-v` adds nothing to it.
pub fn run(args: &InstallArgs, _g: &Global) -> Result<i32> {
    crate::install::run(args)
}
