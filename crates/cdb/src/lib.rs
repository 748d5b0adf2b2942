//! Constant databases in tinycdb's format.
#![forbid(unsafe_code)]
