//! Berkeley DB 5.3 btree and hash files, read and written without libdb.
#![forbid(unsafe_code)]

pub mod btree;
mod dups;
pub mod error;
pub mod hash;
pub mod page;
mod pairs;
pub mod store;
pub use error::{Error, Result};
