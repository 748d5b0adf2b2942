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
