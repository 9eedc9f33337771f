//! `secrets schema`: the JSON Schema of secrets.json.

use clap::Args;

use super::Global;
use crate::error::Result;

#[derive(Args, Debug)]
#[command(after_help = "\
Examples:
  secrets schema > secrets.schema.json
                                      for an editor that checks secrets.json")]
pub struct SchemaArgs {}

pub fn run(_args: &SchemaArgs, _g: &Global) -> Result<i32> {
    println!("{}", crate::rules::JSON_SCHEMA.trim_end());
    Ok(0)
}
