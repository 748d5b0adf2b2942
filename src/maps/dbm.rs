//! The `dbm` map type over `cfmap-sdbm` (`NAME.dir` + `NAME.pag`, Perl's SDBM_File).
//!
//! Locking (formats.md §1.13, [`commit`] module docs): every lookup and every scan holds
//! a shared `flock` on `NAME.pag` ([`commit::lock_pag`], which also checks that the
//! locked file is still the one named `NAME.pag`) and opens the pair afresh under it,
//! since sdbm reads `.dir` whole at open and a writer may have replaced or changed the
//! files since. The builder commits through [`commit::replace_pair`] (exclusive lock,
//! `.dir` renamed before `.pag`).

use std::path::{Path, PathBuf};

use cfmap_sdbm::Sdbm;

use super::{Builder, Map, MapError, Records, commit};

/// Mode of new `.dir`/`.pag` files before the umask, as Perl's `tie … 0666`.
const NEW_MODE: u32 = 0o666;

fn sdbm_error(path: &Path, source: cfmap_sdbm::Error) -> MapError {
    match source {
        cfmap_sdbm::Error::Io { path, source } => MapError::Io { path, source },
        source => MapError::Format {
            path: path.to_path_buf(),
            source: Box::new(source),
        },
    }
}

pub(super) struct DbmMap {
    dir: PathBuf,
    pag: PathBuf,
}

impl DbmMap {
    /// Check that the pair opens; lookups reopen it under the lock.
    pub(super) fn open(dir: &Path, pag: &Path) -> Result<DbmMap, MapError> {
        let map = DbmMap {
            dir: dir.to_path_buf(),
            pag: pag.to_path_buf(),
        };
        map.with_db(|_| Ok(()))?;
        Ok(map)
    }

    fn with_db<T>(&self, f: impl FnOnce(&Sdbm) -> Result<T, MapError>) -> Result<T, MapError> {
        let _lock = commit::lock_pag(&self.pag, false)?;
        let db = Sdbm::open(&self.dir, &self.pag, false).map_err(|e| sdbm_error(&self.pag, e))?;
        f(&db)
    }
}

impl Map for DbmMap {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, MapError> {
        self.with_db(|db| db.fetch(key).map_err(|e| sdbm_error(&self.pag, e)))
    }

    fn iter(&self) -> Records<'_> {
        // One consistent scan under the lock; the pairs are then handed out.
        let all = self.with_db(|db| {
            Ok(db
                .iter()
                .map(|r| r.map_err(|e| sdbm_error(&self.pag, e)))
                .collect::<Vec<_>>())
        });
        match all {
            Ok(v) => Box::new(v.into_iter()),
            Err(e) => Box::new(std::iter::once(Err(e))),
        }
    }
}

/// Collects the pairs, then lays out the whole database at once ([`cfmap_sdbm::Builder`],
/// the same bytes as storing them one by one) and swaps the new pair of files in.
pub(super) struct DbmBuilder {
    dir: PathBuf,
    pag: PathBuf,
    pairs: cfmap_sdbm::Builder,
}

impl DbmBuilder {
    pub(super) fn new(dir: PathBuf, pag: PathBuf) -> DbmBuilder {
        DbmBuilder {
            dir,
            pag,
            pairs: cfmap_sdbm::Builder::new(),
        }
    }
}

impl Builder for DbmBuilder {
    fn insert(&mut self, key: &[u8], value: &[u8]) -> Result<(), MapError> {
        // A pair over the limit is refused here and left out, as a store refuses it.
        self.pairs
            .push(key, value)
            .map_err(|e| sdbm_error(&self.pag, e))
    }

    fn commit(self: Box<Self>) -> Result<(), MapError> {
        let DbmBuilder { dir, pag, pairs } = *self;
        commit::replace_pair(&dir, &pag, NEW_MODE, |dtmp, ptmp| {
            // Built in memory and written once; the commit fsyncs both temporaries.
            pairs
                .write_files(dtmp, ptmp)
                .map_err(|e| sdbm_error(ptmp, e))
        })
    }
}
