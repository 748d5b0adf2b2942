//! The positive cache: an sdbm pair `NAME.dir` + `NAME.pag` (Perl's `SDBM_File` format,
//! through `cfmap-sdbm`) that maps a recipient address to the unix time of the last
//! positive answer, as a decimal string (`alice@example.com` → `1700000000`).
//!
//! This is the shape MIMEDefang filters that cache `md_check_against_smtp_server`
//! answers use, so one file can be shared with them. MIMEDefang itself leaves the key to
//! the filter; cfmap writes the address **lower-cased and without angle brackets**, and
//! when it finds no such key it also tries `<address>`, the form MIMEDefang hands
//! `filter_recipient` (a filter that stored `$recipient` unchanged).
//!
//! # Locking
//!
//! sdbm itself takes no lock, so every program sharing the file must follow one
//! convention (formats.md §1.13, the one `cfmap makemap dbm` and cfmap's dbm maps keep):
//!
//! - a writer holds an **exclusive `flock` on `NAME.pag`** around its whole
//!   open–modify–close (a store, a delete, a prune);
//! - a reader holds a **shared `flock` on `NAME.pag`** around its whole open–fetch–close;
//! - after the lock is granted, the locked descriptor must still be the file named
//!   `NAME.pag` (same device and inode): a `makemap`-style replacement renames a new
//!   pair over the old one while the old `.pag` is locked; the lock is then taken again.
//!
//! The pair is opened afresh under every lock (sdbm reads the whole `.dir` at open), so
//! a split made by another writer is always seen. The Perl side:
//!
//! ```perl
//! use Fcntl qw(:DEFAULT :flock);
//! use SDBM_File;
//! sysopen(my $lock, "$name.pag", O_RDONLY | O_CREAT) or die;
//! flock($lock, LOCK_EX) or die;
//! tie(my %cache, 'SDBM_File', $name, O_RDWR | O_CREAT, 0644) or die;
//! $cache{lc $address} = time;
//! untie %cache;
//! close $lock;
//! ```
//!
//! A damaged cache file is reported and left alone: lookups in it miss (the caller then
//! asks the server), and nothing is written into it.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use cfmap_sdbm::{Sdbm, StoreMode};

/// Why the cache could not be read or written. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("{}: {}", .path.display(), crate::verify::io_reason(.source))]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{0}")]
    Sdbm(#[from] cfmap_sdbm::Error),
}

impl CacheError {
    /// Whether the file holds something sdbm never writes.
    pub fn is_corrupt(&self) -> bool {
        matches!(self, CacheError::Sdbm(cfmap_sdbm::Error::Corrupt { .. }))
    }
}

/// One pair of the cache file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: Vec<u8>,
    pub value: Vec<u8>,
    /// The value read as a unix time; `None` when it is not a decimal number.
    pub stamp: Option<u64>,
}

/// The value as a unix time: ASCII digits (surrounding blanks and a trailing NUL, which
/// some C writers add, are allowed).
pub fn parse_stamp(value: &[u8]) -> Option<u64> {
    let v = value.strip_suffix(b"\0").unwrap_or(value).trim_ascii();
    if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(v).ok()?.parse().ok()
}

/// Whether a positive answer stamped `stamp` still counts at `now`: at most `max_age`
/// seconds old. A stamp in the future (clocks of two machines) counts.
pub fn is_fresh(stamp: u64, now: u64, max_age: u64) -> bool {
    now.saturating_sub(stamp) <= max_age
}

/// The cache file pair `NAME.dir` + `NAME.pag`.
#[derive(Debug, Clone)]
pub struct Cache {
    name: PathBuf,
    dir: PathBuf,
    pag: PathBuf,
}

/// An `flock` on the `.pag`, released when dropped (with the descriptor).
struct Locked {
    _pag: File,
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> CacheError + '_ {
    move |source| CacheError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl Cache {
    /// The cache called `name` (as Perl's `tie` names it: `.dir` and `.pag` are added).
    pub fn new(name: &Path) -> Cache {
        let with = |ext: &str| {
            let mut s = name.as_os_str().to_owned();
            s.push(ext);
            PathBuf::from(s)
        };
        Cache {
            name: name.to_path_buf(),
            dir: with(".dir"),
            pag: with(".pag"),
        }
    }

    /// The name without suffixes.
    pub fn name(&self) -> &Path {
        &self.name
    }

    /// The `.pag` file, which carries the lock.
    pub fn pag_path(&self) -> &Path {
        &self.pag
    }

    /// Takes the lock (module docs). `create`: make `.pag` (and later `.dir`) when
    /// missing, for a writer; a reader gets `Ok(None)` when there is no cache yet.
    #[allow(clippy::incompatible_msrv)] // File::lock: Rust 1.89
    fn lock(&self, exclusive: bool) -> Result<Option<Locked>, CacheError> {
        loop {
            let file = match File::open(&self.pag) {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::NotFound && exclusive => OpenOptions::new()
                    .append(true)
                    .create(true)
                    .open(&self.pag)
                    .map_err(io_err(&self.pag))?,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(io_err(&self.pag)(e)),
            };
            if exclusive {
                file.lock()
            } else {
                file.lock_shared()
            }
            .map_err(io_err(&self.pag))?;
            let held = file.metadata().map_err(io_err(&self.pag))?;
            match fs::metadata(&self.pag) {
                Ok(now) if now.dev() == held.dev() && now.ino() == held.ino() => {
                    return Ok(Some(Locked { _pag: file }));
                }
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io_err(&self.pag)(e)),
            }
        }
    }

    /// Opens the pair under a lock already held.
    fn open(&self, locked: &Locked, writable: bool) -> Result<Option<Sdbm>, CacheError> {
        let _ = locked;
        if writable {
            // A first writer creates `.dir` (an empty one is a valid empty database).
            OpenOptions::new()
                .append(true)
                .create(true)
                .open(&self.dir)
                .map_err(io_err(&self.dir))?;
        } else if !self.dir.exists() {
            return Ok(None);
        }
        Ok(Some(Sdbm::open(&self.dir, &self.pag, writable)?))
    }

    /// The stamp of `key`'s last positive answer, if the cache has one. `key` is tried
    /// as given, then as `<key>` (module docs). A value that is not a number is `None`.
    pub fn lookup(&self, key: &[u8]) -> Result<Option<u64>, CacheError> {
        let Some(locked) = self.lock(false)? else {
            return Ok(None);
        };
        let Some(db) = self.open(&locked, false)? else {
            return Ok(None);
        };
        if let Some(v) = db.fetch(key)? {
            return Ok(parse_stamp(&v));
        }
        let bracketed = [b"<".as_slice(), key, b">"].concat();
        Ok(db.fetch(&bracketed)?.as_deref().and_then(parse_stamp))
    }

    /// Records a positive answer for `key` at `stamp` (replacing an older one).
    pub fn record(&self, key: &[u8], stamp: u64) -> Result<(), CacheError> {
        let locked = self.lock(true)?.expect("a writer's lock creates the file");
        let mut db = self.open(&locked, true)?.expect("writable open creates");
        db.store(key, stamp.to_string().as_bytes(), StoreMode::Replace)?;
        db.sync()?;
        Ok(())
    }

    /// Removes each key; returns for each whether it was there.
    pub fn remove(&self, keys: &[Vec<u8>]) -> Result<Vec<bool>, CacheError> {
        if !self.pag.exists() {
            return Ok(vec![false; keys.len()]);
        }
        let locked = self.lock(true)?.expect("a writer's lock creates the file");
        let mut db = self.open(&locked, true)?.expect("writable open creates");
        let mut out = Vec::with_capacity(keys.len());
        for k in keys {
            out.push(db.delete(k)?);
        }
        db.sync()?;
        Ok(out)
    }

    /// Every pair, in file order. A missing cache has none.
    pub fn entries(&self) -> Result<Vec<Entry>, CacheError> {
        let Some(locked) = self.lock(false)? else {
            return Ok(Vec::new());
        };
        let Some(db) = self.open(&locked, false)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for pair in db.iter() {
            let (key, value) = pair?;
            let stamp = parse_stamp(&value);
            out.push(Entry { key, value, stamp });
        }
        Ok(out)
    }

    /// Deletes every entry whose stamp is older than `max_age` seconds at `now`, under
    /// one exclusive lock. Entries whose value is not a number are kept (they are not
    /// cfmap's to judge). Returns (removed, kept).
    pub fn prune(&self, now: u64, max_age: u64) -> Result<(usize, usize), CacheError> {
        if !self.pag.exists() {
            return Ok((0, 0));
        }
        let locked = self.lock(true)?.expect("a writer's lock creates the file");
        let mut db = self.open(&locked, true)?.expect("writable open creates");
        let mut old = Vec::new();
        let mut kept = 0;
        for pair in db.iter() {
            let (key, value) = pair?;
            match parse_stamp(&value) {
                Some(s) if !is_fresh(s, now, max_age) => old.push(key),
                _ => kept += 1,
            }
        }
        for k in &old {
            db.delete(k)?;
        }
        db.sync()?;
        Ok((old.len(), kept))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps() {
        assert_eq!(parse_stamp(b"1700000000"), Some(1_700_000_000));
        assert_eq!(parse_stamp(b" 17 \0"), Some(17));
        assert_eq!(parse_stamp(b""), None);
        assert_eq!(parse_stamp(b"-1"), None);
        assert_eq!(parse_stamp(b"1e9"), None);
        assert_eq!(parse_stamp(b"99999999999999999999"), None);
        assert!(is_fresh(100, 130, 30));
        assert!(!is_fresh(100, 131, 30));
        assert!(is_fresh(200, 100, 0));
    }

    #[test]
    fn record_lookup_remove_prune() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = Cache::new(&tmp.path().join("rcpt"));
        assert_eq!(cache.lookup(b"a@x.org").unwrap(), None);
        assert!(cache.entries().unwrap().is_empty());
        cache.record(b"a@x.org", 1000).unwrap();
        cache.record(b"b@x.org", 5000).unwrap();
        cache.record(b"a@x.org", 2000).unwrap();
        assert_eq!(cache.lookup(b"a@x.org").unwrap(), Some(2000));
        assert_eq!(cache.entries().unwrap().len(), 2);
        assert_eq!(cache.prune(5000, 2999).unwrap(), (1, 1));
        assert_eq!(cache.lookup(b"a@x.org").unwrap(), None);
        assert_eq!(
            cache
                .remove(&[b"b@x.org".to_vec(), b"c@x.org".to_vec()])
                .unwrap(),
            [true, false]
        );
        assert!(cache.entries().unwrap().is_empty());
    }

    #[test]
    fn bracketed_keys_written_by_a_filter_are_found() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = Cache::new(&tmp.path().join("rcpt"));
        cache.record(b"<a@x.org>", 77).unwrap();
        assert_eq!(cache.lookup(b"a@x.org").unwrap(), Some(77));
    }
}
