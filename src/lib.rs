//! `secrets`: age-encrypted secrets for NixOS fleets.
//!
//! Modules, one job each: `rules` says who may read what; `keys` holds the recipients and
//! identities, one module per key type (refusing weak keys and forged stanzas); `header` reads a
//! file's header without a key; `crypto` encrypts and decrypts; `drift` and `lockfile` tell, without keys, whether a file
//! matches its rule; `store` is the one writer of encrypted files and the lock file; `cmd` holds
//! the command line, one module per command; `install` is the activation-time installer, with
//! its descriptor-relative primitives (`SafeDir`, mounts, the install lock); `fs` holds what
//! every command needs from the filesystem (wiped secret buffers, bounded reads, atomic and
//! batched durable writes, RAM detection and the editor's private directory, process
//! hardening); `names` and `strict_json` are the checks every name and every JSON text we read
//! must pass; `structured` takes one value out of a JSON, YAML, dotenv or INI
//! document; `readers` tells who can read a file (and whether I can) from its header, which
//! `list` shows for every rule; `par` is the one parallel map; `agenix` is the
//! agenix-compatible command line.

pub mod agenix;
pub mod cmd;
pub mod crypto;
pub mod drift;
pub mod error;
pub mod fs;
pub mod generate;
pub mod header;
pub mod install;
pub mod keys;
pub mod list;
pub mod lockfile;
pub mod names;
pub mod par;
pub mod readers;
pub mod rules;
pub mod store;
pub mod strict_json;
pub mod structured;

pub use error::{Error, Result};
