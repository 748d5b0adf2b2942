//! The `btree` and `hash` map types over `cfmap-bdb` (Berkeley DB 5.3 files).

use std::path::{Path, PathBuf};

use super::{Builder, Map, MapError, Records, commit};

/// Mode of a new `.db` file before the umask, as makemap creates it.
const NEW_MODE: u32 = 0o640;

pub(super) fn bdb_error(path: &Path, source: cfmap_bdb::Error) -> MapError {
    match source {
        cfmap_bdb::Error::Io { path, source } => MapError::Io { path, source },
        source => MapError::Format {
            path: path.to_path_buf(),
            source: Box::new(source),
        },
    }
}

macro_rules! reader_map {
    ($name:ident, $module:ident) => {
        pub(super) struct $name {
            path: PathBuf,
            reader: cfmap_bdb::$module::Reader,
        }

        impl $name {
            pub(super) fn open(path: &Path) -> Result<$name, MapError> {
                let reader =
                    cfmap_bdb::$module::Reader::open(path).map_err(|e| bdb_error(path, e))?;
                Ok($name {
                    path: path.to_path_buf(),
                    reader,
                })
            }
        }

        impl Map for $name {
            fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, MapError> {
                self.reader.get(key).map_err(|e| bdb_error(&self.path, e))
            }

            fn iter(&self) -> Records<'_> {
                Box::new(
                    self.reader
                        .iter()
                        .map(|r| r.map_err(|e| bdb_error(&self.path, e))),
                )
            }
        }
    };
}

reader_map!(BtreeMap, btree);
reader_map!(HashMap, hash);

enum Inner {
    Btree(cfmap_bdb::btree::Builder),
    Hash(cfmap_bdb::hash::Builder),
}

/// Builds a btree or hash `.db` file in memory, then commits it atomically.
pub(super) struct BdbBuilder {
    path: PathBuf,
    inner: Inner,
}

impl BdbBuilder {
    pub(super) fn btree(path: PathBuf) -> BdbBuilder {
        BdbBuilder {
            path,
            inner: Inner::Btree(cfmap_bdb::btree::Builder::new()),
        }
    }

    pub(super) fn hash(path: PathBuf) -> BdbBuilder {
        BdbBuilder {
            path,
            inner: Inner::Hash(cfmap_bdb::hash::Builder::new()),
        }
    }

    /// Keep every value of a repeated key (`DB_DUP`).
    pub(super) fn keep_duplicates(self) -> BdbBuilder {
        let inner = match self.inner {
            Inner::Btree(b) => Inner::Btree(b.duplicates(true)),
            Inner::Hash(b) => Inner::Hash(b.duplicates(true)),
        };
        BdbBuilder { inner, ..self }
    }
}

impl Builder for BdbBuilder {
    fn insert(&mut self, key: &[u8], value: &[u8]) -> Result<(), MapError> {
        match &mut self.inner {
            Inner::Btree(b) => b.insert(key, value),
            Inner::Hash(b) => b.insert(key, value),
        }
        Ok(())
    }

    fn commit(self: Box<Self>) -> Result<(), MapError> {
        let BdbBuilder { path, inner } = *self;
        // The builder writes a complete file into a fresh temporary: libdb is never
        // asked to open an empty pre-existing file (OpenSMTPD#653).
        commit::replace_file(&path, NEW_MODE, |file, tmp| {
            let mut w = std::io::BufWriter::new(file);
            match inner {
                Inner::Btree(b) => b.write_to(&mut w),
                Inner::Hash(b) => b.write_to(&mut w),
            }
            .map_err(|e| bdb_error(tmp, e))?;
            std::io::Write::flush(&mut w).map_err(|e| MapError::io(tmp, e))
        })
    }
}
