//! cfmap: sendmail configuration toolkit.
//!
//! Layers (arrows point down): [`cf`] reads `.cf` bytes into spanned syntax, [`ir`]
//! compiles it into rulesets, patterns, templates and map declarations, [`lint`] checks
//! both, and `cli` (in the binary) wires them to the command line.

pub mod bytes;
pub mod cf;
pub mod check;
pub mod cli;
pub mod convert;
pub mod engine;
pub mod ir;
pub mod lint;
pub mod makemap;
pub mod maps;
pub mod meta;
pub mod migrate;
pub mod prescan;
pub mod serve;
mod shorthash;
pub mod sysexits;
pub mod verify;
