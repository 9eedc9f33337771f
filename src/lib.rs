//! `secrets`: age-encrypted secrets for NixOS fleets.
//!
//! Modules, one job each: rules and recipients describe who may read what; identities and
//! crypto decrypt and encrypt; the command modules implement the CLI; `install` is the
//! activation-time installer; `fsutil` holds every filesystem safety measure.

pub mod crypto;
pub mod error;
pub mod fsutil;
pub mod header;
pub mod identity;
pub mod recipients;
pub mod rules;

pub use error::{Error, Result};
