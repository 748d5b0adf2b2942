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
/// file in under the map's exclusive lock. Dropped without `commit`, nothing changes on
/// disk.
///
/// The caller's thread only encodes records into chunks of [`STREAM_CHUNK`] bytes; once
/// the first chunk is full, a second thread takes them, hashes the keys and writes
/// ([`cfmap_cdb::Writer::insert_encoded`]), so reading the source and writing the map
/// overlap. Memory: 8 bytes per record plus a few chunks. A small map (under one chunk)
/// is written at `commit` on the caller's thread.
pub struct CdbStream {
    /// Always there until `commit` takes it.
    new: Option<commit::NewFile>,
    /// The writer, until the first full chunk hands it to the writing thread.
    writer: Option<cfmap_cdb::Writer<commit::WriteBehind>>,
    thread: Option<WritingThread>,
    chunk: Vec<u8>,
    /// The size the file will have (header, records so far, their table slots).
    size: u64,
}

/// Bytes of encoded records handed to the writing thread at a time.
pub const STREAM_CHUNK: usize = 256 << 10;

struct WritingThread {
    full: std::sync::mpsc::SyncSender<Vec<u8>>,
    empty: std::sync::mpsc::Receiver<Vec<u8>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    handle: std::thread::JoinHandle<Result<commit::WriteBehind, cfmap_cdb::Error>>,
}

impl WritingThread {
    fn start(mut writer: cfmap_cdb::Writer<commit::WriteBehind>) -> WritingThread {
        use std::sync::atomic::Ordering;
        let (full, chunks) = std::sync::mpsc::sync_channel::<Vec<u8>>(2);
        let (give_back, empty) = std::sync::mpsc::channel();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = stop.clone();
        let handle = std::thread::spawn(move || {
            for mut chunk in chunks {
                writer.insert_encoded(&chunk)?;
                chunk.clear();
                let _ = give_back.send(chunk);
            }
            if stopped.load(Ordering::Relaxed) {
                return Err(cfmap_cdb::Error::Io(std::io::Error::other("abandoned")));
            }
            writer.finish()
        });
        WritingThread {
            full,
            empty,
            stop,
            handle,
        }
    }

    /// Wait for the thread to end: the finished file, or why it stopped.
    fn join(self) -> Result<commit::WriteBehind, cfmap_cdb::Error> {
        let WritingThread { full, handle, .. } = self;
        drop(full);
        handle.join().unwrap_or_else(|_| {
            Err(cfmap_cdb::Error::Io(std::io::Error::other(
                "the cdb writing thread panicked",
            )))
        })
    }
}

impl CdbStream {
    /// Start a new cdb file at `path` (the `.cdb` file itself); errors as
    /// [`commit::begin_file`]'s.
    pub(super) fn begin(path: &Path) -> Result<CdbStream, MapError> {
        let (file, new) = commit::begin_file(path, NEW_MODE)?;
        let writer = cfmap_cdb::Writer::new(commit::WriteBehind::new(file))
            .map_err(|e| cdb_error(new.temp_path(), e))?;
        Ok(CdbStream {
            new: Some(new),
            writer: Some(writer),
            thread: None,
            chunk: Vec::with_capacity(STREAM_CHUNK),
            size: u64::from(cfmap_cdb::HEADER_SIZE),
        })
    }

    /// Make room for about `records` records (a hint, useful before the first one).
    pub fn reserve(&mut self, records: usize) {
        if let Some(w) = self.writer.as_mut() {
            w.reserve(records);
        }
    }

    /// Write a record after the ones already written (a repeated key is kept too). A
    /// record that would take the file past 4 GiB is refused, as by
    /// [`cfmap_cdb::Writer::insert`]; a write error may be reported by a later insert or
    /// by `commit`.
    #[inline]
    pub fn insert(&mut self, key: &[u8], value: &[u8]) -> Result<(), MapError> {
        let size = self.size + 8 + key.len() as u64 + value.len() as u64 + 16;
        if size > cfmap_cdb::MAX_FILE_SIZE {
            let e = cfmap_cdb::Error::TooLarge {
                size,
                maximum: cfmap_cdb::MAX_FILE_SIZE,
            };
            return Err(cdb_error(self.new_file().temp_path(), e));
        }
        self.size = size;
        self.chunk
            .extend_from_slice(&cfmap_cdb::record_head(key, value));
        self.chunk.extend_from_slice(key);
        self.chunk.extend_from_slice(value);
        if self.chunk.len() >= STREAM_CHUNK {
            self.hand_over()?;
        }
        Ok(())
    }

    /// Give the full chunk to the writing thread (started now if need be).
    #[inline(never)]
    fn hand_over(&mut self) -> Result<(), MapError> {
        if let Some(w) = self.writer.take() {
            self.thread = Some(WritingThread::start(w));
        }
        let t = self.thread.as_mut().expect("started above");
        let next = t
            .empty
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(STREAM_CHUNK));
        let full = std::mem::replace(&mut self.chunk, next);
        if t.full.send(full).is_err() {
            // The thread stopped on an error: that error is the answer.
            let t = self.thread.take().expect("running");
            let e = match t.join() {
                Err(e) => e,
                Ok(_) => cfmap_cdb::Error::Io(std::io::Error::other("cdb writer ended early")),
            };
            return Err(cdb_error(self.new_file().temp_path(), e));
        }
        Ok(())
    }

    /// Finish the file and put it in place, holding the exclusive lock readers wait on
    /// for the last part (last records, tables, header, sync, rename), as
    /// [`super::commit_locked`].
    pub fn commit(mut self) -> Result<(), MapError> {
        let _lock = commit::lock_pag(self.new_file().dest(), true)
            .ok()
            .flatten();
        let written = match (self.writer.take(), self.thread.is_some()) {
            (Some(mut w), _) => w.insert_encoded(&self.chunk).and_then(|()| w.finish()),
            (None, true) => {
                if !self.chunk.is_empty() {
                    self.hand_over()?;
                }
                self.thread.take().expect("running").join()
            }
            (None, false) => unreachable!("the writer is either here or in its thread"),
        };
        let file = written.map_err(|e| cdb_error(self.new_file().temp_path(), e))?;
        let new = self.new.take().expect("taken only here");
        new.finish(file.into_inner())
    }

    fn new_file(&self) -> &commit::NewFile {
        self.new.as_ref().expect("taken only by commit")
    }
}

impl Drop for CdbStream {
    fn drop(&mut self) {
        // Abandoned: the thread stops without writing the tables; the temporary is
        // removed when `new` is dropped.
        if let Some(t) = self.thread.take() {
            t.stop.store(true, std::sync::atomic::Ordering::Relaxed);
            let _ = t.join();
        }
    }
}
