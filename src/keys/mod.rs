//! Keys: the recipients a secret is encrypted to and the identities that decrypt it, one
//! module per key type as the age crate has them. This file is the interface; the modules
//! behind it are private.
//!
//! - `recipient`: `Recipient::parse` (which type a public key is) and the age recipients to
//!   encrypt to; `identity`: `Identities`, the private key files (which type, and which
//!   identities may open a given header).
//! - `ssh` (both SSH types: public keys, private key files, passphrases), `ssh_ed25519` (our
//!   faster recipient and identity, and the refusals of weak keys), `ssh_rsa` (key sizes, PEM
//!   keys), `x25519` (our `age1…` recipient, age identity files), `plugin` (plugin recipients).
//! - `loworder`: small-order keys and shares, refused; `fingerprint`: fingerprints, stanza tags
//!   and the one label for a key in messages; `callbacks`: what an age plugin may ask.
//!
//! Imports go one way: `recipient` and `identity` use the type modules, which use `loworder`,
//! `fingerprint` and `callbacks`; everything here may use `crate::header` (stanza predicates),
//! never `crate::crypto`.

mod callbacks;
mod fingerprint;
mod identity;
mod loworder;
mod plugin;
mod public;
mod recipient;
mod ssh;
mod ssh_ed25519;
mod ssh_rsa;
mod x25519;

pub use callbacks::{NoQuestions, TerminalCallbacks};
pub use fingerprint::{label, ssh_fingerprint, ssh_tag};
pub use identity::{Identities, Origin};
pub use loworder::{
    ed25519_is_small_order, x25519_is_low_order, ED25519_SMALL_ORDER, X25519_LOW_ORDER,
};
pub use public::{public_half, PublicHalf};
pub use recipient::{to_age_recipients, Kind, Recipient};

/// For `crypto`: whether an age error is our refusal of a stanza.
pub(crate) use loworder::as_refused_stanza;
