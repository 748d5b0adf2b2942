//! Errors of the Berkeley DB reader and writers.

use std::path::PathBuf;

/// What went wrong. Every variant that concerns a file names it; corruption names the page.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing the file failed.
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file is not a Berkeley DB file of the expected access method.
    WrongType {
        path: PathBuf,
        expected: &'static str,
        found: String,
    },
    /// A version, page size or feature this implementation does not handle.
    Unsupported { path: PathBuf, what: String },
    /// A page or field is inconsistent.
    Corrupt {
        path: PathBuf,
        page: u32,
        what: String,
    },
    /// An item larger than the format allows.
    TooLarge {
        what: &'static str,
        size: usize,
        maximum: usize,
    },
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Error::WrongType {
                path,
                expected,
                found,
            } => {
                write!(f, "{}: not a {expected} database ({found})", path.display())
            }
            Error::Unsupported { path, what } => {
                write!(f, "{}: unsupported: {what}", path.display())
            }
            Error::Corrupt { path, page, what } => {
                write!(f, "{}: corrupt page {page}: {what}", path.display())
            }
            Error::TooLarge {
                what,
                size,
                maximum,
            } => {
                write!(f, "{what} of {size} bytes is larger than {maximum}")
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;
