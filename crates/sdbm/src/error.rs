//! The crate's one error type.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Everything that can go wrong reading or writing an sdbm pair of files.
///
/// Files are untrusted input: a damaged file gives [`Error::Corrupt`], never a panic.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// Reading, writing, opening or syncing `path` failed.
    Io {
        /// The `.dir` or `.pag` file.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// Key length + value length is over the limit (Perl: "sdbm store returned -1,
    /// errno 22"). Nothing was changed.
    PairTooLarge {
        /// Key length + value length.
        size: usize,
        /// [`crate::PAIRMAX`], 1008.
        maximum: usize,
    },
    /// A file holds something sdbm never writes.
    Corrupt {
        /// The `.dir` or `.pag` file.
        path: PathBuf,
        /// Page number in `.pag` (1024-byte units), or block number in `.dir`
        /// (4096-byte units).
        page: u64,
        /// What is wrong.
        what: String,
    },
    /// A store or delete on a database opened read-only (Perl: "No write permission to
    /// sdbm file").
    ReadOnly {
        /// The `.pag` file.
        path: PathBuf,
    },
    /// The pair still did not fit after [`crate::SPLTMAX`] page splits in one store
    /// (many large pairs whose hashes share many low bits). The splits done so far stay
    /// in the files, as with Perl; the pair is not stored.
    TooManySplits {
        /// The page the pair was meant for when the store gave up.
        page: u64,
        /// Number of splits done.
        splits: usize,
    },
    /// A split would need a 32nd hash bit, which sdbm cannot address (the trie is at
    /// most 31 levels deep). The pair is not stored.
    TrieTooDeep {
        /// The page that could not be split.
        page: u64,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Error::PairTooLarge { size, maximum } => write!(
                f,
                "sdbm pair too large: key + value is {size} bytes, at most {maximum} fit"
            ),
            Error::Corrupt { path, page, what } => {
                let unit = if path.extension().is_some_and(|e| e == "dir") {
                    "block"
                } else {
                    "page"
                };
                write!(
                    f,
                    "{}: corrupt sdbm file, {unit} {page}: {what}",
                    path.display()
                )
            }
            Error::ReadOnly { path } => write!(
                f,
                "{}: sdbm database opened read-only, cannot write",
                path.display()
            ),
            Error::TooManySplits { page, splits } => write!(
                f,
                "sdbm: pair does not fit on page {page} after {splits} splits"
            ),
            Error::TrieTooDeep { page } => write!(
                f,
                "sdbm: page {page} cannot be split: the directory trie is already 31 levels deep"
            ),
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
