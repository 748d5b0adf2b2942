//! The `cdb` map type over `cfmap-cdb`.

use std::path::{Path, PathBuf};

use super::{Builder, Map, MapError, Records, commit};

/// Mode of a new cdb file before the umask, as tinycdb's `cdb -c` creates it.
const NEW_MODE: u32 = 0o666;

pub(super) struct CdbMap {
    path: PathBuf,
    reader: cfmap_cdb::Reader,
}

fn cdb_error(path: &Path, source: cfmap_cdb::Error) -> MapError {
    match source {
        cfmap_cdb::Error::Io(source) => MapError::io(path, source),
        source => MapError::Cdb {
            path: path.to_path_buf(),
            source,
        },
    }
}

impl CdbMap {
    pub(super) fn open(path: &Path) -> Result<CdbMap, MapError> {
        let reader = cfmap_cdb::Reader::open(path).map_err(|e| cdb_error(path, e))?;
        Ok(CdbMap {
            path: path.to_path_buf(),
            reader,
        })
    }
}

impl Map for CdbMap {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, MapError> {
        self.reader.get(key).map_err(|e| cdb_error(&self.path, e))
    }

    fn iter(&self) -> Records<'_> {
        Box::new(self.reader.iter().map(|r| {
            r.map(|(k, v)| (k.to_vec(), v.to_vec()))
                .map_err(|e| cdb_error(&self.path, e))
        }))
    }
}

pub(super) struct CdbBuilder {
    path: PathBuf,
    builder: cfmap_cdb::Builder,
}

impl CdbBuilder {
    pub(super) fn new(path: PathBuf) -> CdbBuilder {
        CdbBuilder {
            path,
            builder: cfmap_cdb::Builder::new(),
        }
    }
}

impl Builder for CdbBuilder {
    fn insert(&mut self, key: &[u8], value: &[u8]) -> Result<(), MapError> {
        self.builder
            .insert(key, value)
            .map_err(|e| cdb_error(&self.path, e))
    }

    fn commit(self: Box<Self>) -> Result<(), MapError> {
        let CdbBuilder { path, builder } = *self;
        commit::replace_file(&path, NEW_MODE, |file, tmp| {
            let mut w = std::io::BufWriter::new(file);
            builder.write_to(&mut w).map_err(|e| cdb_error(tmp, e))?;
            std::io::Write::flush(&mut w).map_err(|e| MapError::io(tmp, e))
        })
    }
}

/// A cdb map written record by record into its temporary file as the caller produces
/// them ([`cfmap_cdb::Writer`] over [`commit::begin_file`]), then put in place like any
/// other map: [`CdbStream::commit`] writes the hash tables and the header, and swaps the
/// file in under the map's exclusive lock. Memory: 8 bytes per record. Dropped without
/// `commit`, nothing changes on disk.
pub struct CdbStream {
    writer: cfmap_cdb::Writer<std::fs::File>,
    new: commit::NewFile,
}

impl CdbStream {
    /// Start a new cdb file at `path` (the `.cdb` file itself); errors as
    /// [`commit::begin_file`]'s.
    pub(super) fn begin(path: &Path) -> Result<CdbStream, MapError> {
        let (file, new) = commit::begin_file(path, NEW_MODE)?;
        let writer = cfmap_cdb::Writer::new(file).map_err(|e| cdb_error(new.temp_path(), e))?;
        Ok(CdbStream { writer, new })
    }

    /// Make room for about `records` records (a hint).
    pub fn reserve(&mut self, records: usize) {
        self.writer.reserve(records);
    }

    /// Write a record after the ones already written (a repeated key is kept too).
    pub fn insert(&mut self, key: &[u8], value: &[u8]) -> Result<(), MapError> {
        self.writer
            .insert(key, value)
            .map_err(|e| cdb_error(self.new.temp_path(), e))
    }

    /// Finish the file and put it in place, holding the exclusive lock readers wait on
    /// for the last part (tables, header, sync, rename), as [`super::commit_locked`].
    pub fn commit(self) -> Result<(), MapError> {
        let CdbStream { writer, new } = self;
        let _lock = commit::lock_pag(new.dest(), true).ok().flatten();
        let file = writer.finish().map_err(|e| cdb_error(new.temp_path(), e))?;
        new.finish(file)
    }
}
