//! Constant databases in tinycdb's format (D. J. Bernstein's cdb, as tinycdb 0.78 writes
//! and reads it).
//!
//! A cdb is written once, in one go, and never updated: [`Builder`] collects records and
//! writes the whole file; [`Writer`] writes each record as it comes into a seekable
//! output and keeps only 8 bytes per record (the same bytes as [`Builder`] for the same
//! records in the same order); [`Reader`] looks keys up in a finished file. The crate knows
//! bytes only: no case folding, no trailing NULs, no duplicate policy beyond "keep them
//! all, in insertion order" (what `cdb -c` does by default). Callers that want makemap's
//! rules apply them before [`Builder::insert`].
//!
//! # Layout
//!
//! Every integer is a `u32`, **little-endian on every machine**.
//!
//! | offset | size | field | meaning |
//! |---|---|---|---|
//! | 0 | 2048 | header | 256 × (`pos` u32, `len` u32): table *t* starts at `pos` and has `len` slots |
//! | 2048 | … | records | back to back, in insertion order: `klen` u32, `dlen` u32, key, data |
//! | `pos[0]` | 8·Σlen | hash tables | table 0, 1, …, 255, each `len` × (`hash` u32, `rpos` u32) |
//!
//! Derived, not stored separately: the end of the records is `pos[0]`;
//! `pos[t+1] = pos[t] + 8·len[t]` (even for empty tables, whose `pos` is the running
//! offset); the file ends at `pos[255] + 8·len[255]`. A slot with `rpos` = 0 is empty.
//! An empty database is the 2048-byte header with every entry (2048, 0).
//!
//! # Hash, lookup, building
//!
//! `h = 5381; for b in key { h = (h * 33) ^ b }` (mod 2³²), see [`hash`]. A key lives in
//! table `h & 255`; probing starts at slot `(h >> 8) % len` and goes on cyclically until
//! an empty slot, at most `len` slots. The builder gives table *t* `2 × n` slots for its
//! *n* records and places them in insertion order, each at its start slot or the next
//! free one, which is what tinycdb's `cdb -c` and djb's `cdbmake` do: the output is
//! byte-identical to theirs for the same records in the same order.
//!
//! # Compatibility
//!
//! | aspect | tinycdb 0.78 | this crate |
//! |---|---|---|
//! | byte order | little-endian always | same |
//! | duplicate keys | `cdb -c` keeps all; lookup finds the first | same; [`Reader::get_all`] returns all |
//! | size limit | 4 GiB − 1 (32-bit offsets) | same: [`Error::TooLarge`] |
//! | NUL bytes, empty keys/values | allowed | allowed |
//!
//! # Trust
//!
//! Files are untrusted input: a truncated or corrupt file gives an [`Error`], never a
//! panic, a hang or an allocation bigger than the file. [`Reader::open`] checks the header
//! (every non-empty table lies after the records and inside the file, as tinycdb's lookup
//! does); records are checked as they are read.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::fmt;
use std::io::{self, Seek, SeekFrom, Write};
use std::path::Path;

/// Size of the header: 256 table entries of 8 bytes.
pub const HEADER_SIZE: u32 = 2048;

/// Most bytes of hash tables [`Builder::write_to`] holds before writing them out.
pub const TABLE_CHUNK: usize = 1 << 20;

/// Bytes [`Writer`] gathers before handing them to its output in one `write`.
pub const WRITE_BUFFER: usize = 256 << 10;

/// The largest file the 32-bit offsets can describe.
pub const MAX_FILE_SIZE: u64 = u32::MAX as u64;

/// Everything that can go wrong reading or writing a cdb.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing the file failed.
    Io(io::Error),
    /// The file is shorter than the 2048-byte header.
    TooShort {
        /// Length of the file.
        len: u64,
    },
    /// The file, or the file being built, would not fit 32-bit offsets.
    TooLarge {
        /// Size reached or needed, in bytes.
        size: u64,
        /// Largest size allowed.
        maximum: u64,
    },
    /// Header entry 0 (the end of the records) points before the header or past the end.
    BadDataEnd {
        /// `pos[0]` as stored.
        data_end: u32,
        /// Length of the file.
        file_len: u64,
    },
    /// A non-empty hash table overlaps the records or runs past the end of the file.
    BadTable {
        /// Table number (`hash & 255`).
        table: u8,
        /// Its stored offset.
        pos: u32,
        /// Its stored number of slots.
        len: u32,
        /// End of the records (`pos[0]`).
        data_end: u32,
        /// Length of the file.
        file_len: u64,
    },
    /// A record (its 8-byte head, key or data) runs past the end of the records, or a
    /// slot points outside the record area.
    BadRecord {
        /// Offset of the record.
        pos: u32,
        /// End of the records (`pos[0]`).
        data_end: u32,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "{e}"),
            Error::TooShort { len } => {
                write!(
                    f,
                    "not a cdb: {len} bytes, shorter than the 2048-byte header"
                )
            }
            Error::TooLarge { size, maximum } => {
                write!(f, "cdb too large: {size} bytes (at most {maximum})")
            }
            Error::BadDataEnd { data_end, file_len } => write!(
                f,
                "corrupt cdb: records end at {data_end}, outside [2048, {file_len}]"
            ),
            Error::BadTable {
                table,
                pos,
                len,
                data_end,
                file_len,
            } => write!(
                f,
                "corrupt cdb: hash table {table} at {pos} with {len} slots lies outside [{data_end}, {file_len}]"
            ),
            Error::BadRecord { pos, data_end } => write!(
                f,
                "corrupt cdb: record at {pos} runs outside the records [2048, {data_end})"
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}

/// The cdb hash of `key`: `h = 5381`, then `h = (h << 5) + h ^ byte` for every byte.
///
/// ```
/// assert_eq!(cfmap_cdb::hash(b""), 0x1505);
/// assert_eq!(cfmap_cdb::hash(b"honey@sweeties.com"), 0x0802_e010);
/// ```
pub fn hash(key: &[u8]) -> u32 {
    key.iter().fold(5381u32, |h, &b| {
        (h.wrapping_shl(5).wrapping_add(h)) ^ u32::from(b)
    })
}

fn u32_at(data: &[u8], pos: usize) -> Option<u32> {
    let b = data.get(pos..pos.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// A finished cdb, held in memory.
#[derive(Clone)]
pub struct Reader {
    data: Vec<u8>,
    /// `pos[0]`: end of the records.
    data_end: u32,
}

impl fmt::Debug for Reader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reader")
            .field("file_len", &self.data.len())
            .field("data_end", &self.data_end)
            .finish()
    }
}

impl Reader {
    /// Read the file at `path` and check its header.
    pub fn open(path: impl AsRef<Path>) -> Result<Reader, Error> {
        let path = path.as_ref();
        let len = std::fs::metadata(path)?.len();
        if len > MAX_FILE_SIZE {
            return Err(Error::TooLarge {
                size: len,
                maximum: MAX_FILE_SIZE,
            });
        }
        Reader::from_bytes(std::fs::read(path)?)
    }

    /// Take a whole cdb file's bytes and check its header.
    pub fn from_bytes(data: Vec<u8>) -> Result<Reader, Error> {
        let file_len = data.len() as u64;
        if file_len > MAX_FILE_SIZE {
            return Err(Error::TooLarge {
                size: file_len,
                maximum: MAX_FILE_SIZE,
            });
        }
        if file_len < u64::from(HEADER_SIZE) {
            return Err(Error::TooShort { len: file_len });
        }
        let data_end = u32_at(&data, 0).unwrap_or(0);
        if data_end < HEADER_SIZE || u64::from(data_end) > file_len {
            return Err(Error::BadDataEnd { data_end, file_len });
        }
        for table in 0..=255u8 {
            let (pos, len) = header_entry(&data, table);
            if len == 0 {
                continue;
            }
            let end = u64::from(pos) + 8 * u64::from(len);
            if pos < data_end || end > file_len {
                return Err(Error::BadTable {
                    table,
                    pos,
                    len,
                    data_end,
                    file_len,
                });
            }
        }
        Ok(Reader { data, data_end })
    }

    /// The whole file.
    pub fn as_bytes(&self) -> &[u8] {
        &self.data
    }

    /// The data of the first record with key `key` (the first inserted), or `None`.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, Error> {
        Ok(self.find(key).next().transpose()?.map(<[u8]>::to_vec))
    }

    /// The data of every record with key `key`, in insertion order.
    pub fn get_all(&self, key: &[u8]) -> Result<Vec<Vec<u8>>, Error> {
        self.find(key)
            .map(|r| r.map(<[u8]>::to_vec))
            .collect::<Result<_, _>>()
    }

    /// The data of every record with key `key`, borrowed, in insertion order (probe order).
    pub fn find<'a>(&'a self, key: &'a [u8]) -> Find<'a> {
        let h = hash(key);
        let (pos, len) = header_entry(&self.data, (h & 255) as u8);
        Find {
            reader: self,
            key,
            hash: h,
            table_pos: pos,
            table_len: len,
            slot: if len == 0 { 0 } else { (h >> 8) % len },
            left: len,
        }
    }

    /// Every record in file order (= insertion order), as `cdb -d` prints them. A corrupt
    /// record ends the iteration with an error.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            reader: self,
            pos: HEADER_SIZE,
            done: false,
        }
    }

    /// The key and data of the record at `pos`, checked against the end of the records.
    fn record(&self, pos: u32) -> Result<(&[u8], &[u8]), Error> {
        let bad = Error::BadRecord {
            pos,
            data_end: self.data_end,
        };
        let end = self.data_end as usize;
        let p = pos as usize;
        if pos < HEADER_SIZE || p + 8 > end {
            return Err(bad);
        }
        let klen = u32_at(&self.data, p).unwrap_or(u32::MAX) as usize;
        let dlen = u32_at(&self.data, p + 4).unwrap_or(u32::MAX) as usize;
        let kstart = p + 8;
        if klen > end - kstart || dlen > end - kstart - klen {
            return Err(bad);
        }
        let dstart = kstart + klen;
        Ok((
            &self.data[kstart..dstart],
            &self.data[dstart..dstart + dlen],
        ))
    }
}

fn header_entry(data: &[u8], table: u8) -> (u32, u32) {
    let at = usize::from(table) * 8;
    (
        u32_at(data, at).unwrap_or(0),
        u32_at(data, at + 4).unwrap_or(0),
    )
}

/// The records with one key, from [`Reader::find`].
#[derive(Debug)]
pub struct Find<'a> {
    reader: &'a Reader,
    key: &'a [u8],
    hash: u32,
    table_pos: u32,
    table_len: u32,
    slot: u32,
    left: u32,
}

impl<'a> Iterator for Find<'a> {
    type Item = Result<&'a [u8], Error>;

    fn next(&mut self) -> Option<Self::Item> {
        while self.left > 0 {
            self.left -= 1;
            // In bounds: checked against the file length in `from_bytes`.
            let at = self.table_pos as usize + 8 * self.slot as usize;
            let sh = u32_at(&self.reader.data, at)?;
            let rp = u32_at(&self.reader.data, at + 4)?;
            self.slot += 1;
            if self.slot == self.table_len {
                self.slot = 0;
            }
            if rp == 0 {
                self.left = 0;
                return None;
            }
            if sh != self.hash {
                continue;
            }
            match self.reader.record(rp) {
                Err(e) => {
                    self.left = 0;
                    return Some(Err(e));
                }
                Ok((k, d)) if k == self.key => return Some(Ok(d)),
                Ok(_) => {}
            }
        }
        None
    }
}

/// Every record in file order, from [`Reader::iter`].
#[derive(Debug)]
pub struct Iter<'a> {
    reader: &'a Reader,
    pos: u32,
    done: bool,
}

impl<'a> Iterator for Iter<'a> {
    type Item = Result<(&'a [u8], &'a [u8]), Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.pos >= self.reader.data_end {
            return None;
        }
        match self.reader.record(self.pos) {
            Ok((k, d)) => {
                // Cannot overflow: the record ends at or before data_end (a u32).
                self.pos += 8 + k.len() as u32 + d.len() as u32;
                Some(Ok((k, d)))
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// Append hash table of `entries` (one table's (hash, position) pairs, in insertion order)
/// to `out`: `2 × entries.len()` slots, each entry at its start slot `(hash >> 8) % len`
/// or the next free one, as `cdb -c` places them. `slots` is scratch space.
fn encode_table(entries: &[(u32, u32)], slots: &mut Vec<(u32, u32)>, out: &mut Vec<u8>) {
    let len = 2 * entries.len();
    slots.clear();
    slots.resize(len, (0, 0));
    let start = Remainder::new(len as u32);
    for &(h, p) in entries {
        let mut i = start.of(h >> 8) as usize;
        while slots[i].1 != 0 {
            i += 1;
            if i == len {
                i = 0;
            }
        }
        slots[i] = (h, p);
    }
    let base = out.len();
    out.resize(base + 8 * len, 0);
    for (o, &(h, p)) in out[base..].chunks_exact_mut(8).zip(slots.iter()) {
        o[..4].copy_from_slice(&h.to_le_bytes());
        o[4..].copy_from_slice(&p.to_le_bytes());
    }
}

/// `n % d` for one divisor and many `n` (32 bits), without a division each time: with
/// `m = ⌈2⁶⁴ / d⌉`, the low 64 bits of `m·n` are the fraction `n / d` scaled by 2⁶⁴, and
/// their product with `d`, shifted down 64 bits, is the remainder, exactly for every
/// 32-bit `n` and `d` (Lemire, Kaser, Kurz, "Faster remainder by direct computation",
/// 2019).
#[derive(Clone, Copy)]
struct Remainder {
    d: u32,
    m: u64,
}

impl Remainder {
    fn new(d: u32) -> Remainder {
        debug_assert!(d > 0);
        Remainder {
            d,
            m: (u64::MAX / u64::from(d)).wrapping_add(1),
        }
    }

    fn of(self, n: u32) -> u32 {
        let low = self.m.wrapping_mul(u64::from(n));
        ((u128::from(low) * u128::from(self.d)) >> 64) as u32
    }
}

/// The 8 bytes that start a record in the file: key length, data length (u32 LE). A
/// record is these, the key and the data ([`Writer::insert_encoded`]).
pub fn record_head(key: &[u8], value: &[u8]) -> [u8; 8] {
    let mut head = [0u8; 8];
    head[..4].copy_from_slice(&(key.len() as u32).to_le_bytes());
    head[4..].copy_from_slice(&(value.len() as u32).to_le_bytes());
    head
}

/// Writes a cdb record by record into a seekable output, byte for byte what [`Builder`]
/// (and tinycdb's `cdb -c`) make of the same records in the same order.
///
/// The file is written front to back: a 2048-byte placeholder for the header, each
/// record as [`insert`](Self::insert) gets it (through a buffer of [`WRITE_BUFFER`]
/// bytes), then at [`finish`](Self::finish) the 256 hash tables; last, the writer seeks
/// back to where it started and writes the real header. Per record it keeps only its
/// hash and position (8 bytes), grouped by table, so memory is a fraction of the file
/// whatever the sizes of keys and values. Until `finish` returns, what is in the output
/// is not a valid cdb (its header is zero).
#[derive(Debug)]
pub struct Writer<W: Write + Seek> {
    out: W,
    /// Where the output was when the writer started: the header goes there.
    start: u64,
    /// Bytes not yet handed to `out`.
    buf: Vec<u8>,
    /// Offset (from `start`) of the next record.
    pos: u64,
    /// (hash, record offset) per table, in insertion order.
    tables: Vec<Vec<(u32, u32)>>,
    records: usize,
}

impl<W: Write + Seek> Writer<W> {
    /// Start a cdb at the current position of `out` (normally an empty file).
    pub fn new(mut out: W) -> Result<Writer<W>, Error> {
        let start = out.stream_position()?;
        let mut buf = Vec::with_capacity(WRITE_BUFFER);
        buf.resize(HEADER_SIZE as usize, 0);
        Ok(Writer {
            out,
            start,
            buf,
            pos: u64::from(HEADER_SIZE),
            tables: vec![Vec::new(); 256],
            records: 0,
        })
    }

    /// Make room for about `records` records without growing the per-table lists (a
    /// hint; inserting more is fine).
    pub fn reserve(&mut self, records: usize) {
        let per_table = records / 256 + records / 2048 + 8;
        for t in &mut self.tables {
            t.reserve(per_table.saturating_sub(t.len()));
        }
    }

    /// Number of records inserted.
    pub fn len(&self) -> usize {
        self.records
    }

    /// Whether nothing was inserted.
    pub fn is_empty(&self) -> bool {
        self.records == 0
    }

    /// Size of the file [`finish`](Self::finish) will have written.
    pub fn file_size(&self) -> u64 {
        self.pos + 16 * self.records as u64
    }

    /// Write a record after the ones already inserted. A key inserted before is kept too
    /// (lookups find the first). A record that would take the file past 4 GiB is refused
    /// with [`Error::TooLarge`] and nothing is written; the writer can go on.
    pub fn insert(&mut self, key: &[u8], value: &[u8]) -> Result<(), Error> {
        let size = self.file_size() + 8 + key.len() as u64 + value.len() as u64 + 16;
        if size > MAX_FILE_SIZE {
            return Err(Error::TooLarge {
                size,
                maximum: MAX_FILE_SIZE,
            });
        }
        let h = hash(key);
        self.tables[(h & 255) as usize].push((h, self.pos as u32));
        self.records += 1;
        self.pos += 8 + key.len() as u64 + value.len() as u64;
        let need = 8 + key.len() + value.len();
        if self.buf.len() + need > WRITE_BUFFER {
            self.flush_buf()?;
        }
        if need > WRITE_BUFFER {
            self.out.write_all(&record_head(key, value))?;
            self.out.write_all(key)?;
            self.out.write_all(value)?;
        } else {
            self.buf.extend_from_slice(&record_head(key, value));
            self.buf.extend_from_slice(key);
            self.buf.extend_from_slice(value);
        }
        Ok(())
    }

    /// Insert the records encoded in `records`, back to back in the file's own record
    /// format (`klen` u32 LE, `dlen` u32 LE, key, data): the same as calling
    /// [`insert`](Self::insert) for each, but the bytes are handed to the output as they
    /// are. For a producer that encodes records on one thread while the writer hashes
    /// and writes them on another. A last record cut short is [`Error::BadRecord`] and
    /// nothing of `records` is written; a record past 4 GiB is [`Error::TooLarge`] and
    /// nothing of `records` is written either.
    pub fn insert_encoded(&mut self, records: &[u8]) -> Result<(), Error> {
        let first = self.records;
        let mark: Vec<usize> = self.tables.iter().map(Vec::len).collect();
        let undo = |w: &mut Writer<W>, pos: u64| {
            for (t, &n) in w.tables.iter_mut().zip(&mark) {
                t.truncate(n);
            }
            w.records = first;
            w.pos = pos;
        };
        let start_pos = self.pos;
        let mut at = 0usize;
        while at < records.len() {
            let head = |i: usize| u32_at(records, at + i).map(|n| n as usize);
            let (Some(klen), Some(dlen)) = (head(0), head(4)) else {
                undo(self, start_pos);
                return Err(Error::BadRecord {
                    pos: u32::try_from(start_pos + at as u64).unwrap_or(u32::MAX),
                    data_end: u32::try_from(start_pos + records.len() as u64).unwrap_or(u32::MAX),
                });
            };
            let end = at + 8 + klen + dlen;
            if klen > records.len() || dlen > records.len() || end > records.len() {
                undo(self, start_pos);
                return Err(Error::BadRecord {
                    pos: u32::try_from(start_pos + at as u64).unwrap_or(u32::MAX),
                    data_end: u32::try_from(start_pos + records.len() as u64).unwrap_or(u32::MAX),
                });
            }
            let size = self.file_size() + (8 + klen + dlen) as u64 + 16;
            if size > MAX_FILE_SIZE {
                undo(self, start_pos);
                return Err(Error::TooLarge {
                    size,
                    maximum: MAX_FILE_SIZE,
                });
            }
            let h = hash(&records[at + 8..at + 8 + klen]);
            self.tables[(h & 255) as usize].push((h, self.pos as u32));
            self.records += 1;
            self.pos += (8 + klen + dlen) as u64;
            at = end;
        }
        // A big run of records goes out as it is, not through the buffer.
        if self.buf.len() + records.len() > WRITE_BUFFER || records.len() >= WRITE_BUFFER / 4 {
            self.flush_buf()?;
        }
        if records.len() >= WRITE_BUFFER / 4 {
            self.out.write_all(records)?;
        } else {
            self.buf.extend_from_slice(records);
        }
        Ok(())
    }

    fn flush_buf(&mut self) -> Result<(), Error> {
        if !self.buf.is_empty() {
            self.out.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    /// Write the hash tables, then the header at the start, flush, and give the output
    /// back (positioned just after the header).
    pub fn finish(mut self) -> Result<W, Error> {
        let mut header = [0u8; HEADER_SIZE as usize];
        let mut table_pos = self.pos;
        for (t, entries) in self.tables.iter().enumerate() {
            let len = 2 * entries.len() as u32;
            header[8 * t..8 * t + 4].copy_from_slice(&(table_pos as u32).to_le_bytes());
            header[8 * t + 4..8 * t + 8].copy_from_slice(&len.to_le_bytes());
            table_pos += 8 * u64::from(len);
        }
        let mut slots = Vec::new();
        let tables = std::mem::take(&mut self.tables);
        for entries in tables.iter().filter(|e| !e.is_empty()) {
            if self.buf.len() + 16 * entries.len() > WRITE_BUFFER {
                self.flush_buf()?;
            }
            encode_table(entries, &mut slots, &mut self.buf);
        }
        drop(tables);
        self.flush_buf()?;
        self.out.seek(SeekFrom::Start(self.start))?;
        self.out.write_all(&header)?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Collects records and writes a cdb exactly as tinycdb's `cdb -c` would.
#[derive(Debug, Clone, Default)]
pub struct Builder {
    /// The records, encoded, as they will appear from offset 2048.
    records: Vec<u8>,
    /// (hash, offset of the record in the file), in insertion order.
    entries: Vec<(u32, u32)>,
}

impl Builder {
    /// An empty builder.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Number of records inserted.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing was inserted.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Add a record after the ones already inserted. A key inserted before is kept too
    /// (lookups find the first); dedup before inserting for other policies.
    pub fn insert(&mut self, key: &[u8], value: &[u8]) -> Result<(), Error> {
        let pos = u64::from(HEADER_SIZE) + self.records.len() as u64;
        // Room for this record and its two table slots (8 bytes each) in the final file.
        let size = self.file_size() + 8 + key.len() as u64 + value.len() as u64 + 16;
        if size > MAX_FILE_SIZE {
            return Err(Error::TooLarge {
                size,
                maximum: MAX_FILE_SIZE,
            });
        }
        self.records.extend_from_slice(&record_head(key, value));
        self.records.extend_from_slice(key);
        self.records.extend_from_slice(value);
        self.entries.push((hash(key), pos as u32));
        Ok(())
    }

    /// Size of the file [`write_to`](Self::write_to) will write.
    pub fn file_size(&self) -> u64 {
        u64::from(HEADER_SIZE) + self.records.len() as u64 + 16 * self.entries.len() as u64
    }

    /// Write the whole database to `w`: the header, the records as inserted, then the 256
    /// hash tables, which go out through one reused buffer of at most [`TABLE_CHUNK`]
    /// bytes rather than being built whole first.
    pub fn write_to<W: Write + ?Sized>(&self, w: &mut W) -> Result<(), Error> {
        let mut counts = [0u32; 256];
        for &(h, _) in &self.entries {
            counts[(h & 255) as usize] += 1;
        }
        // Start of each table's entries in `by_table`, a counting sort that keeps
        // insertion order within a table.
        let mut start = [0usize; 257];
        for t in 0..256 {
            start[t + 1] = start[t] + counts[t] as usize;
        }

        let mut header = [0u8; HEADER_SIZE as usize];
        let mut pos = u64::from(HEADER_SIZE) + self.records.len() as u64;
        for t in 0..256 {
            let len = 2 * counts[t];
            header[8 * t..8 * t + 4].copy_from_slice(&(pos as u32).to_le_bytes());
            header[8 * t + 4..8 * t + 8].copy_from_slice(&len.to_le_bytes());
            pos += 8 * u64::from(len);
        }
        w.write_all(&header)?;
        w.write_all(&self.records)?;
        if self.entries.is_empty() {
            return Ok(());
        }

        let mut fill = start;
        let mut by_table = vec![(0u32, 0u32); self.entries.len()];
        for &(h, p) in &self.entries {
            let t = (h & 255) as usize;
            by_table[fill[t]] = (h, p);
            fill[t] += 1;
        }
        let mut out: Vec<u8> = Vec::with_capacity(TABLE_CHUNK.min(16 * self.entries.len()));
        let mut slots: Vec<(u32, u32)> = Vec::new();
        for t in 0..256 {
            let len = 2 * counts[t] as usize;
            if len == 0 {
                continue;
            }
            if out.len() + 8 * len > TABLE_CHUNK && !out.is_empty() {
                w.write_all(&out)?;
                out.clear();
            }
            encode_table(&by_table[start[t]..start[t + 1]], &mut slots, &mut out);
        }
        w.write_all(&out)?;
        Ok(())
    }

    /// The whole database as bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.file_size() as usize);
        self.write_to(&mut out)
            .expect("writing to a Vec cannot fail");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_from_the_spec() {
        assert_eq!(hash(b""), 0x0000_1505);
        assert_eq!(hash(b"a"), 0x0002_b5c4);
        assert_eq!(hash(b"natureplus.com"), 0x42b4_9d49);
        assert_eq!(hash(b"cyberpromo.com"), 0x9431_41ea);
        assert_eq!(hash(b"honey@sweeties.com"), 0x0802_e010);
        assert_eq!(hash(b"user@screwedup.domain"), 0xc53a_0d4e);
    }

    #[test]
    fn remainders_without_division() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u32
        };
        for d in (1..300u32).chain([2 << 20, 1 << 31, u32::MAX - 1, u32::MAX]) {
            let r = Remainder::new(d);
            for n in [0, 1, d - 1, d, d.wrapping_add(1), u32::MAX, u32::MAX - 1] {
                assert_eq!(r.of(n), n % d, "{n} % {d}");
            }
            for _ in 0..2000 {
                let n = next();
                assert_eq!(r.of(n), n % d, "{n} % {d}");
            }
        }
        for _ in 0..100_000 {
            let d = next().max(1);
            let n = next();
            assert_eq!(Remainder::new(d).of(n), n % d, "{n} % {d}");
        }
    }

    #[test]
    fn empty_database_is_the_header() {
        let b = Builder::new().to_bytes();
        assert_eq!(b.len(), 2048);
        for t in 0..256 {
            assert_eq!(&b[t * 8..t * 8 + 8], &[0, 8, 0, 0, 0, 0, 0, 0]);
        }
        let r = Reader::from_bytes(b).unwrap();
        assert_eq!(r.get(b"x").unwrap(), None);
        assert_eq!(r.iter().count(), 0);
    }
}
