//! SDBM `NAME.dir` + `NAME.pag` files exactly as Perl's `SDBM_File` (perl 5.36,
//! `SDBM_File` 1.15) reads and writes them.
//!
//! sdbm is a dynamic-hashing table. `.pag` is an array of 1024-byte pages holding the
//! pairs; `.dir` is a bitmap over the nodes of a binary trie on the bits of each key's
//! hash, whose leaves are the pages. A key's page is found by walking the trie from the
//! root, one hash bit per level, while the node's bit is set. A full page is split in two
//! on the next hash bit. There is no header, no magic number and no free list.
//!
//! ```
//! use cfmap_sdbm::{Sdbm, StoreMode};
//! # let tmp = tempfile::tempdir().unwrap();
//! # let (dir, pag) = (tmp.path().join("cache.dir"), tmp.path().join("cache.pag"));
//! let mut db = Sdbm::create(&dir, &pag)?;
//! db.store(b"user@example.com", b"1700000000", StoreMode::Replace)?;
//! assert_eq!(db.fetch(b"user@example.com")?.as_deref(), Some(&b"1700000000"[..]));
//! db.sync()?;
//! # Ok::<(), cfmap_sdbm::Error>(())
//! ```
//!
//! # On-disk layout
//!
//! `.pag`: page *P* is bytes `[1024·P, 1024·P + 1024)`. Pages never written (holes) and
//! bytes past the end of the file read as zeros, i.e. as empty pages.
//!
//! | offset in page | size | field | notes |
//! |---|---|---|---|
//! | 0 | 2 | `n` | i16 little-endian: number of offsets = 2 × pairs on the page (0–510) |
//! | 2 + 4·j | 2 | `off[2j+1]` | i16: first byte of key *j* |
//! | 4 + 4·j | 2 | `off[2j+2]` | i16: first byte of value *j* |
//! | 2·(n+1) … `off[n]` | – | free space | may hold stale bytes and stale offsets after a delete |
//! | `off[n]` … 1024 | – | pair data | packed downwards from the end: key *j*, then value *j* below it |
//!
//! Derived, not stored: key *j* = `[off[2j+1], off[2j])` (with `off[0]` read as 1024),
//! value *j* = `[off[2j+2], off[2j+1])`. Offsets never increase along the table. A pair
//! (key length *k*, value length *v*) fits iff `k + v + 4 ≤ off[n] − 2·(n+1)`.
//!
//! `.dir`: a bitmap, bit *d* in byte `d / 8` at position `d mod 8` (least significant
//! first). Node 0 is the root; node *d* has children `2d+1` (hash bit 0) and `2d+2`
//! (hash bit 1). A set bit means the node was split. The walk
//! `d := 2d + 1 + bit i of hash; i += 1` runs while bit *d* is set and *d* is inside the
//! file; the page is then `hash & (2^i − 1)`. The file is written in whole 4096-byte
//! blocks; a 0-byte `.dir` means nothing was ever split and every key is on page 0.
//!
//! The hash ([`hash`]) is `h = c + 65599·h` over the key's bytes taken as **signed**
//! chars (a byte ≥ 0x80 adds `b − 256`), wrapping; only the low 31 bits are ever used.
//!
//! Splitting page *P* at depth *i* rebuilds *P* and page `P + 2^i` from zeros, each pair
//! going to the side given by bit *i* of its own hash, in the old slot order; both pages
//! are written whole (a side that receives nothing is written as 1024 zeros), and the
//! `.dir` block holding the node's bit is written. A store splits at most
//! [`SPLTMAX`] times. A replacing store first deletes the old pair (so a replaced pair
//! moves to the end of its page); a delete slides the later pairs up and clears nothing.
//! Deletes never merge pages nor shrink either file. This crate repeats all of that, so
//! the same sequence of stores and deletes gives the same bytes as Perl (see
//! `tests/golden.rs` and `tests/oracle_perl.rs`).
//!
//! A whole database made of distinct keys does not need the stores and splits:
//! [`Builder`] lays every page out once from the pairs and their order, with the same
//! bytes as the stores (its module docs say why), and falls back to the stores when a
//! key repeats or sdbm's split limit is reached.
//!
//! Iteration ([`Sdbm::iter`]) reads pages 0, 1, 2, … to the end of `.pag` and takes the
//! pairs of each page in slot order: the same order as Perl's `each`/`keys`.
//!
//! # Compatibility
//!
//! | variant | page size | pair limit | this crate |
//! |---|---|---|---|
//! | Perl `SDBM_File` (any version; 1.15 in perl 5.36) | 1024 (`PBLKSIZ`) | 1008 (`PAIRMAX`) | yes, byte for byte |
//! | APR `apr_sdbm` (Apache httpd, Subversion), default build | 1024 | 1008 | same page size and limit (its header warns that other sizes break Perl compatibility); not tested against APR here |
//! | mod_ssl's built-in sdbm, APR built with bigger pages | 8192 | 8008 | **no**: a different file format; opening one gives garbage or [`Error::Corrupt`] |
//! | files written on a big-endian machine | 1024 | 1008 | **no**: offsets are the writer's native `short`; this crate reads and writes little-endian (x86_64, aarch64) |
//!
//! What the format does not record: byte order, page size, a version. There are no
//! overflow pages: a pair over 1008 bytes cannot be stored ([`Error::PairTooLarge`]),
//! which is why sendmail-style maps with long values need another format.
//!
//! # Two files, no lock
//!
//! sdbm (and Perl's `SDBM_File`) takes **no lock**, and the two files cannot be replaced
//! together atomically. Two processes writing the same database at once can lose pairs
//! or corrupt a split. Every program that shares a database must agree on a lock outside
//! sdbm. The convention cfmap keeps: an **exclusive `flock` on `NAME.pag`** (opened
//! read-only is enough) held around every writer's whole open–modify–close, and a
//! **shared `flock` on `NAME.pag`** around every reader's whole scan. [`lock_exclusive`]
//! and [`lock_shared`] take them; take the lock **before** [`Sdbm::open`], because
//! `open` reads the whole `.dir` into memory. A Perl filter does the same:
//!
//! ```perl
//! use Fcntl qw(:DEFAULT :flock);
//! use SDBM_File;
//! open(my $lock, '<', "$name.pag") or die;   # O_RDONLY is enough for flock
//! flock($lock, LOCK_EX) or die;
//! tie(my %db, 'SDBM_File', $name, O_RDWR | O_CREAT, 0644) or die;
//! $db{$address} = time;
//! untie %db;
//! close $lock;                                # releases the lock
//! ```
//!
//! # Trust
//!
//! Database files are untrusted input. Every page is checked before use (offset count
//! even and ≤ 510, every offset between the end of the table and the previous item's
//! start), the trie walk is bounded at 31 levels, and memory holds only the non-zero
//! 4096-byte blocks of `.dir` (a `.dir` over 512 MiB, more than a 31-level trie can
//! address, is [`Error::Corrupt`]) plus a page or two: damage gives an [`Error`], never
//! a panic, a hang or a huge allocation. (Listing a huge *sparse* `.pag` does read every
//! page up to its end, as Perl does; that is the file's real length, not a claim in it.)
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod bulk;
mod error;
mod page;

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

pub use bulk::Builder;
pub use error::Error;
use page::Page;

/// Size of a `.pag` page in bytes.
pub const PBLKSIZ: usize = 1024;
/// Unit in which `.dir` is written (and in which Perl reads it).
pub const DBLKSIZ: usize = 4096;
/// Largest key length + value length sdbm accepts.
pub const PAIRMAX: usize = 1008;
/// Most page splits a single store may do.
pub const SPLTMAX: usize = 10;

/// Trie depth limit: sdbm's masks go up to 31 bits.
const MAX_DEPTH: u32 = 31;
/// Largest `.dir` this crate loads: 2^32 bits, more than a 31-level trie can use.
const MAX_DIR_BYTES: u64 = 1 << 29;

/// The sdbm hash of a key, exactly as Perl's C code computes it on x86_64: bytes are
/// signed chars, so a byte ≥ 0x80 counts as `b − 256`. (The C code keeps 64 bits; only
/// the low 31 are ever used, and those are the same here.)
///
/// ```
/// assert_eq!(cfmap_sdbm::hash(b"ab"), 0x0061_1841);
/// assert_eq!(cfmap_sdbm::hash(b"m\xfcller@example.com"), 0x47f8_c159);
/// ```
pub fn hash(key: &[u8]) -> u32 {
    // Four bytes per step, h·P⁴ + c₀·P³ + c₁·P² + c₂·P + c₃ (all mod 2³²): the same
    // value as one byte per step, with one multiplication instead of four on the chain
    // from one step to the next.
    const P: u32 = 65599;
    const P2: u32 = P.wrapping_mul(P);
    const P3: u32 = P2.wrapping_mul(P);
    const P4: u32 = P3.wrapping_mul(P);
    let c = |b: u8| i32::from(b as i8) as u32;
    let mut chunks = key.chunks_exact(4);
    let mut h = 0u32;
    for q in &mut chunks {
        h = h
            .wrapping_mul(P4)
            .wrapping_add(c(q[0]).wrapping_mul(P3))
            .wrapping_add(c(q[1]).wrapping_mul(P2))
            .wrapping_add(c(q[2]).wrapping_mul(P))
            .wrapping_add(c(q[3]));
    }
    chunks
        .remainder()
        .iter()
        .fold(h, |h, &b| c(b).wrapping_add(h.wrapping_mul(P)))
}

/// What [`Sdbm::store`] does when the key is already there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreMode {
    /// Keep the old value: the store changes nothing and returns `Ok(false)`
    /// (`DBM_INSERT`).
    Insert,
    /// Delete the old pair, then append the new one at the end of its page
    /// (`DBM_REPLACE`, what a Perl hash assignment does).
    Replace,
}

/// Fixed-size blocks of a file kept in memory, only those that are not all zeros: a
/// sparse file stays small in memory however far its last block is.
type Blocks<const N: usize> = BTreeMap<u64, Box<[u8; N]>>;

/// Splits bytes into `N`-byte blocks (the last one zero-padded), keeping the non-zero
/// ones.
fn to_blocks<const N: usize>(bytes: &[u8]) -> Blocks<N> {
    let mut blocks = BTreeMap::new();
    for (i, chunk) in bytes.chunks(N).enumerate() {
        if chunk.iter().any(|&b| b != 0) {
            let mut block = Box::new([0u8; N]);
            block[..chunk.len()].copy_from_slice(chunk);
            blocks.insert(i as u64, block);
        }
    }
    blocks
}

/// The bytes `[0, len)` of a block map, zeros where no block is stored.
fn from_blocks<const N: usize>(blocks: &Blocks<N>, len: u64) -> Vec<u8> {
    let mut out = vec![0u8; len as usize];
    for (&i, block) in blocks {
        let start = i as usize * N;
        if start < out.len() {
            let end = out.len().min(start + N);
            out[start..end].copy_from_slice(&block[..end - start]);
        }
    }
    out
}

/// Where the pages live: in the `.pag` file, or in memory (tests, fuzzing).
#[derive(Debug)]
enum Medium {
    File(File),
    Memory(Blocks<PBLKSIZ>),
}

/// `.pag`: pages are read when needed and written through at once, as sdbm does.
#[derive(Debug)]
struct PagFile {
    medium: Medium,
    path: PathBuf,
    /// File length in bytes (pages written extend it; nothing shrinks it).
    len: u64,
}

impl PagFile {
    fn io(&self, source: io::Error) -> Error {
        Error::Io {
            path: self.path.clone(),
            source,
        }
    }

    fn corrupt(&self, page: u64, what: String) -> Error {
        Error::Corrupt {
            path: self.path.clone(),
            page,
            what,
        }
    }

    /// Number of pages, counting a partial last page.
    fn pages(&self) -> u64 {
        self.len.div_ceil(PBLKSIZ as u64)
    }

    /// The first page at or after `page` that may hold pairs: in memory, absent pages
    /// are known to be empty and are skipped; in a file every page is read.
    fn next_candidate(&self, page: u64) -> u64 {
        match &self.medium {
            Medium::File(_) => page,
            Medium::Memory(pages) => pages.range(page..).next().map_or(self.pages(), |(&p, _)| p),
        }
    }

    /// Reads and checks page `page`; missing bytes (holes, short file) read as zeros.
    fn read(&self, page: u64) -> Result<Page, Error> {
        let mut buf = [0u8; PBLKSIZ];
        match &self.medium {
            Medium::Memory(pages) => {
                if let Some(stored) = pages.get(&page) {
                    buf = **stored;
                }
            }
            Medium::File(file) => {
                let offset = page * PBLKSIZ as u64;
                let mut got = 0;
                while got < PBLKSIZ {
                    match read_at(file, &mut buf[got..], offset + got as u64) {
                        Ok(0) => break,
                        Ok(k) => got += k,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(self.io(e)),
                    }
                }
            }
        }
        Page::parse(buf).map_err(|what| self.corrupt(page, what))
    }

    fn write(&mut self, page: u64, data: &Page) -> Result<(), Error> {
        let offset = page * PBLKSIZ as u64;
        match &mut self.medium {
            Medium::Memory(pages) => {
                pages.insert(page, Box::new(*data.as_bytes()));
            }
            Medium::File(file) => {
                if let Err(e) = write_all_at(file, data.as_bytes(), offset) {
                    return Err(self.io(e));
                }
            }
        }
        self.len = self.len.max(offset + PBLKSIZ as u64);
        Ok(())
    }
}

/// `.dir`: held in memory (non-zero 4096-byte blocks only), every change written through
/// as the whole block that holds it, as sdbm does.
#[derive(Debug)]
struct DirFile {
    file: Option<File>,
    path: PathBuf,
    blocks: Blocks<DBLKSIZ>,
    /// File length in bytes: the walk looks at bits inside the file only.
    len: u64,
}

impl DirFile {
    fn bit(&self, node: u64) -> bool {
        let byte = node / 8;
        self.blocks
            .get(&(byte / DBLKSIZ as u64))
            .is_some_and(|block| block[(byte % DBLKSIZ as u64) as usize] & (1 << (node % 8)) != 0)
    }

    /// Number of bits the walk may look at: those inside the file.
    fn nbits(&self) -> u64 {
        self.len * 8
    }

    fn set(&mut self, node: u64) -> Result<(), Error> {
        let byte = node / 8;
        let index = byte / DBLKSIZ as u64;
        let block = self
            .blocks
            .entry(index)
            .or_insert_with(|| Box::new([0; DBLKSIZ]));
        block[(byte % DBLKSIZ as u64) as usize] |= 1 << (node % 8);
        let start = index * DBLKSIZ as u64;
        self.len = self.len.max(start + DBLKSIZ as u64);
        if let Some(file) = &self.file
            && let Err(source) = write_all_at(file, &block[..], start)
        {
            return Err(Error::Io {
                path: self.path.clone(),
                source,
            });
        }
        Ok(())
    }
}

/// An open sdbm database: a `.dir` and a `.pag` file (or their bytes in memory).
///
/// Every store and delete is written to the files before it returns, page by page, in
/// the order sdbm writes them; [`Sdbm::sync`] then makes them durable. Readers and
/// writers in other processes must follow the lock convention of the crate docs.
#[derive(Debug)]
pub struct Sdbm {
    dir: DirFile,
    pag: PagFile,
    writable: bool,
}

impl Sdbm {
    /// Opens an existing database, read-only or read-write. Like Perl, `.pag` is opened
    /// first, then `.dir`; a missing file is an [`Error::Io`]. The whole `.dir` is read
    /// now, so take the lock (crate docs) first.
    pub fn open(dir: &Path, pag: &Path, writable: bool) -> Result<Sdbm, Error> {
        let mut options = OpenOptions::new();
        options.read(true).write(writable);
        let pag_file = open_with(&options, pag)?;
        let dir_file = open_with(&options, dir)?;
        Sdbm::from_files(dir_file, dir, pag_file, pag, writable)
    }

    /// Creates a new, empty database, truncating both files if they exist (mode 0666
    /// minus the umask, as Perl's `O_RDWR|O_CREAT|O_TRUNC`).
    pub fn create(dir: &Path, pag: &Path) -> Result<Sdbm, Error> {
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(true);
        let pag_file = open_with(&options, pag)?;
        let dir_file = open_with(&options, dir)?;
        Sdbm::from_files(dir_file, dir, pag_file, pag, true)
    }

    /// Opens a database on files the caller has opened already (both readable, and
    /// writable when `writable`), for example a `.pag` it holds the lock on; `dir` and
    /// `pag` are their paths, for messages. The whole `.dir` is read now.
    pub fn from_open_files(
        dir_file: File,
        dir: &Path,
        pag_file: File,
        pag: &Path,
        writable: bool,
    ) -> Result<Sdbm, Error> {
        Sdbm::from_files(dir_file, dir, pag_file, pag, writable)
    }

    fn from_files(
        dir_file: File,
        dir: &Path,
        pag_file: File,
        pag: &Path,
        writable: bool,
    ) -> Result<Sdbm, Error> {
        let dir_io = |source| Error::Io {
            path: dir.to_path_buf(),
            source,
        };
        let pag_len = pag_file
            .metadata()
            .map_err(|source| Error::Io {
                path: pag.to_path_buf(),
                source,
            })?
            .len();
        let dir_len = dir_file.metadata().map_err(dir_io)?.len();
        if dir_len > MAX_DIR_BYTES {
            return Err(Error::Corrupt {
                path: dir.to_path_buf(),
                page: 0,
                what: format!(
                    "{dir_len} bytes, more than the {MAX_DIR_BYTES} a 31-level trie can use"
                ),
            });
        }
        // Read block by block, keeping only the non-zero ones.
        let mut blocks = BTreeMap::new();
        let mut reader = (&dir_file).take(dir_len);
        let mut index = 0u64;
        loop {
            let mut block = Box::new([0u8; DBLKSIZ]);
            let mut got = 0;
            while got < DBLKSIZ {
                match reader.read(&mut block[got..]) {
                    Ok(0) => break,
                    Ok(k) => got += k,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(dir_io(e)),
                }
            }
            if got == 0 {
                break;
            }
            if block.iter().any(|&b| b != 0) {
                blocks.insert(index, block);
            }
            index += 1;
        }
        Ok(Sdbm {
            dir: DirFile {
                file: Some(dir_file),
                path: dir.to_path_buf(),
                blocks,
                len: dir_len,
            },
            pag: PagFile {
                medium: Medium::File(pag_file),
                path: pag.to_path_buf(),
                len: pag_len,
            },
            writable,
        })
    }

    /// A writable database held in memory, starting from the given `.dir` and `.pag`
    /// bytes (both empty for a new database). Errors name the files `memory.dir` and
    /// `memory.pag`. Used by tests and the fuzz target; [`Sdbm::into_bytes`] gives the
    /// bytes back. Memory holds only the pages and `.dir` blocks that are not all zeros.
    pub fn from_bytes(dir: Vec<u8>, pag: Vec<u8>) -> Result<Sdbm, Error> {
        if dir.len() as u64 > MAX_DIR_BYTES {
            return Err(Error::Corrupt {
                path: PathBuf::from("memory.dir"),
                page: 0,
                what: format!("{} bytes, more than a 31-level trie can use", dir.len()),
            });
        }
        Ok(Sdbm {
            dir: DirFile {
                file: None,
                path: PathBuf::from("memory.dir"),
                blocks: to_blocks(&dir),
                len: dir.len() as u64,
            },
            pag: PagFile {
                medium: Medium::Memory(to_blocks(&pag)),
                path: PathBuf::from("memory.pag"),
                len: pag.len() as u64,
            },
            writable: true,
        })
    }

    /// The current `.dir` and `.pag` bytes (read back from disk for a file database;
    /// holes come back as zeros). Both are as long as the files, which may be much more
    /// than the memory an in-memory database used (sparse files).
    pub fn into_bytes(self) -> Result<(Vec<u8>, Vec<u8>), Error> {
        let pag = match &self.pag.medium {
            Medium::Memory(pages) => from_blocks(pages, self.pag.len),
            Medium::File(file) => {
                let mut v = Vec::new();
                let mut reader = file;
                io::Seek::seek(&mut reader, io::SeekFrom::Start(0))
                    .and_then(|_| reader.read_to_end(&mut v))
                    .map_err(|source| Error::Io {
                        path: self.pag.path.clone(),
                        source,
                    })?;
                v
            }
        };
        Ok((from_blocks(&self.dir.blocks, self.dir.len), pag))
    }

    /// Writes an in-memory database ([`Sdbm::from_bytes`]) to the files `dir` and `pag`
    /// (created, or truncated): only the blocks that are not all zeros are written, so
    /// the `.pag` keeps its holes, as when sdbm writes it page by page; both files get
    /// their full length. Nothing is fsynced. Building in memory and writing once is
    /// much faster than a file database's write-through for a whole map. A database
    /// opened on files is refused (`InvalidInput`).
    pub fn write_files(&self, dir: &Path, pag: &Path) -> Result<(), Error> {
        let Medium::Memory(pages) = &self.pag.medium else {
            return Err(Error::Io {
                path: pag.to_path_buf(),
                source: io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "write_files needs an in-memory database",
                ),
            });
        };
        let mut options = OpenOptions::new();
        options.write(true).create(true).truncate(true);
        let io_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| Error::Io { path, source }
        };
        let pag_file = open_with(&options, pag)?;
        // Runs of consecutive pages go out in one write each, at most `RUN` bytes.
        const RUN: usize = 1 << 20;
        let mut run: Vec<u8> = Vec::with_capacity(RUN);
        let mut run_start = 0u64;
        for (&i, block) in pages {
            let offset = i * PBLKSIZ as u64;
            if !run.is_empty() && (run_start + run.len() as u64 != offset || run.len() >= RUN) {
                write_all_at(&pag_file, &run, run_start).map_err(io_err(pag))?;
                run.clear();
            }
            if run.is_empty() {
                run_start = offset;
            }
            run.extend_from_slice(&block[..]);
        }
        if !run.is_empty() {
            write_all_at(&pag_file, &run, run_start).map_err(io_err(pag))?;
        }
        pag_file.set_len(self.pag.len).map_err(io_err(pag))?;
        let dir_file = open_with(&options, dir)?;
        for (&i, block) in &self.dir.blocks {
            write_all_at(&dir_file, &block[..], i * DBLKSIZ as u64).map_err(io_err(dir))?;
        }
        dir_file.set_len(self.dir.len).map_err(io_err(dir))?;
        Ok(())
    }

    /// Whether stores and deletes are allowed.
    pub fn is_writable(&self) -> bool {
        self.writable
    }

    /// The path of the `.pag` file (`memory.pag` for an in-memory database).
    pub fn pag_path(&self) -> &Path {
        &self.pag.path
    }

    /// The path of the `.dir` file (`memory.dir` for an in-memory database).
    pub fn dir_path(&self) -> &Path {
        &self.dir.path
    }

    /// Walks the trie for hash `h`: returns the leaf node, its depth (hash bits used)
    /// and the page number.
    fn locate(&self, h: u32) -> Result<(u64, u32, u64), Error> {
        let nbits = self.dir.nbits();
        let mut node = 0u64;
        let mut depth = 0u32;
        while node < nbits && self.dir.bit(node) {
            if depth == MAX_DEPTH {
                return Err(Error::Corrupt {
                    path: self.dir.path.clone(),
                    page: node / 8 / DBLKSIZ as u64,
                    what: format!("trie deeper than {MAX_DEPTH} levels at node {node}"),
                });
            }
            node = 2 * node + 1 + u64::from((h >> depth) & 1);
            depth += 1;
        }
        let mask = (1u32 << depth) - 1; // depth ≤ 31
        Ok((node, depth, u64::from(h & mask)))
    }

    /// The value stored under `key`, if any.
    pub fn fetch(&self, key: &[u8]) -> Result<Option<Vec<u8>>, Error> {
        let (_, _, page_no) = self.locate(hash(key))?;
        let page = self.pag.read(page_no)?;
        Ok(page.get(key).map(<[u8]>::to_vec))
    }

    /// Whether `key` is stored.
    pub fn contains_key(&self, key: &[u8]) -> Result<bool, Error> {
        let (_, _, page_no) = self.locate(hash(key))?;
        Ok(self.pag.read(page_no)?.find(key).is_some())
    }

    fn check_writable(&self) -> Result<(), Error> {
        if self.writable {
            Ok(())
        } else {
            Err(Error::ReadOnly {
                path: self.pag.path.clone(),
            })
        }
    }

    /// Stores a pair. Returns `Ok(true)` when stored, `Ok(false)` when `mode` is
    /// [`StoreMode::Insert`] and the key exists (nothing is changed or written).
    ///
    /// A pair whose key + value is over [`PAIRMAX`] bytes is refused with
    /// [`Error::PairTooLarge`] before anything is read, as Perl refuses it.
    pub fn store(&mut self, key: &[u8], value: &[u8], mode: StoreMode) -> Result<bool, Error> {
        self.check_writable()?;
        let size = key.len().saturating_add(value.len());
        if size > PAIRMAX {
            return Err(Error::PairTooLarge {
                size,
                maximum: PAIRMAX,
            });
        }
        let h = hash(key);
        let (mut node, mut depth, mut page_no) = self.locate(h)?;
        let mut page = self.pag.read(page_no)?;
        match mode {
            StoreMode::Replace => {
                page.remove(key);
            }
            StoreMode::Insert => {
                if page.find(key).is_some() {
                    return Ok(false);
                }
            }
        }
        let mut splits = 0;
        while !page.fits(size) {
            if splits > 0 {
                // sdbm writes the current page after every split that was not enough.
                self.pag.write(page_no, &page)?;
            }
            if splits == SPLTMAX {
                return Err(Error::TooManySplits {
                    page: page_no,
                    splits,
                });
            }
            if depth >= MAX_DEPTH {
                return Err(Error::TrieTooDeep { page: page_no });
            }
            let bit = 1u32 << depth;
            let (low, high) = page.split(bit);
            let twin = page_no + u64::from(bit);
            // The side the new key does not go to is written now; the other one stays
            // current and is written after the pair is added.
            if h & bit != 0 {
                self.pag.write(page_no, &low)?;
                page_no = twin;
                page = high;
            } else {
                self.pag.write(twin, &high)?;
                page = low;
            }
            self.dir.set(node)?;
            splits += 1;
            node = 2 * node + 1 + u64::from((h >> depth) & 1);
            depth += 1;
        }
        page.put(key, value);
        self.pag.write(page_no, &page)?;
        Ok(true)
    }

    /// Deletes `key`. Returns whether it was there; only then is its page rewritten.
    pub fn delete(&mut self, key: &[u8]) -> Result<bool, Error> {
        self.check_writable()?;
        let (_, _, page_no) = self.locate(hash(key))?;
        let mut page = self.pag.read(page_no)?;
        if !page.remove(key) {
            return Ok(false);
        }
        self.pag.write(page_no, &page)?;
        Ok(true)
    }

    /// Every pair, in the order Perl's `each`/`keys` (sdbm's firstkey/nextkey) give
    /// them: pages in file order, pairs in slot order. A damaged page yields one
    /// [`Error::Corrupt`] and ends the iteration, as it ends Perl's.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            db: self,
            next_page: 0,
            page: None,
            slot: 0,
            done: false,
        }
    }

    /// Makes every write so far durable: fsyncs `.pag`, then `.dir`. (Writes already
    /// reached the files when each store or delete returned.)
    pub fn sync(&mut self) -> Result<(), Error> {
        if let Medium::File(file) = &self.pag.medium {
            file.sync_all().map_err(|source| Error::Io {
                path: self.pag.path.clone(),
                source,
            })?;
        }
        if let Some(file) = &self.dir.file {
            file.sync_all().map_err(|source| Error::Io {
                path: self.dir.path.clone(),
                source,
            })?;
        }
        Ok(())
    }
}

/// Iterator over the pairs of an [`Sdbm`], from [`Sdbm::iter`].
#[derive(Debug)]
pub struct Iter<'a> {
    db: &'a Sdbm,
    next_page: u64,
    page: Option<Page>,
    slot: usize,
    done: bool,
}

impl std::fmt::Debug for Page {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Page").field("pairs", &self.len()).finish()
    }
}

impl Iterator for Iter<'_> {
    type Item = Result<(Vec<u8>, Vec<u8>), Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(page) = &self.page
                && self.slot < page.len()
            {
                let (key, value) = page.pair(self.slot);
                self.slot += 1;
                return Some(Ok((key.to_vec(), value.to_vec())));
            }
            self.next_page = self.db.pag.next_candidate(self.next_page);
            if self.done || self.next_page >= self.db.pag.pages() {
                self.done = true;
                return None;
            }
            match self.db.pag.read(self.next_page) {
                Ok(page) => {
                    self.page = Some(page);
                    self.slot = 0;
                    self.next_page += 1;
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
    }
}

/// An `flock` on a database's `.pag` file, released when dropped. See the crate docs for
/// the convention.
#[derive(Debug)]
pub struct PagLock {
    _file: File,
}

/// Takes an exclusive `flock` on `pag` (`NAME.pag`), waiting for other holders, for a
/// writer's whole open–modify–close. Creates an empty `pag` if it does not exist yet
/// (without truncating an existing one), so the first writer can lock too.
pub fn lock_exclusive(pag: &Path) -> Result<PagLock, Error> {
    let io = |source| Error::Io {
        path: pag.to_path_buf(),
        source,
    };
    let file = match File::open(pag) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => OpenOptions::new()
            .append(true)
            .create(true)
            .open(pag)
            .map_err(io)?,
        Err(e) => return Err(io(e)),
    };
    file.lock().map_err(io)?;
    Ok(PagLock { _file: file })
}

/// Takes a shared `flock` on `pag` (`NAME.pag`), waiting for a writer to finish, for a
/// reader's whole scan.
pub fn lock_shared(pag: &Path) -> Result<PagLock, Error> {
    let io = |source| Error::Io {
        path: pag.to_path_buf(),
        source,
    };
    let file = File::open(pag).map_err(io)?;
    file.lock_shared().map_err(io)?;
    Ok(PagLock { _file: file })
}

fn open_with(options: &OpenOptions, path: &Path) -> Result<File, Error> {
    options.open(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, offset)
}

#[cfg(unix)]
fn write_all_at(file: &File, buf: &[u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(file, buf, offset)
}

#[cfg(windows)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, buf, offset)
}

#[cfg(windows)]
fn write_all_at(file: &File, mut buf: &[u8], mut offset: u64) -> io::Result<()> {
    while !buf.is_empty() {
        match std::os::windows::fs::FileExt::seek_write(file, buf, offset) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(k) => {
                buf = &buf[k..];
                offset += k as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_matches_the_spec_table() {
        assert_eq!(hash(b""), 0);
        assert_eq!(hash(b"a"), 0x61);
        assert_eq!(hash(b"ab"), 0x0061_1841);
        assert_eq!(hash(b"natureplus.com"), 0xad7b_2194);
        assert_eq!(hash(b"cyberpromo.com"), 0xb2e9_ff89);
        assert_eq!(hash(b"user@screwedup.domain"), 0xc46d_9999);
        assert_eq!(hash(b"m\xfcller@example.com"), 0x47f8_c159);
        assert_eq!(hash(b"host0001.example.net"), 0x5988_0434);
    }

    #[test]
    fn hash_four_at_a_time_equals_byte_at_a_time() {
        let reference = |key: &[u8]| {
            key.iter().fold(0u32, |h, &b| {
                (i32::from(b as i8) as u32).wrapping_add(h.wrapping_mul(65599))
            })
        };
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for len in 0..200 {
            for _ in 0..20 {
                let key: Vec<u8> = (0..len)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        x as u8
                    })
                    .collect();
                assert_eq!(hash(&key), reference(&key), "{key:?}");
            }
        }
        assert_eq!(hash(&[0xff; 7]), reference(&[0xff; 7]));
    }

    #[test]
    fn high_bytes_hash_as_negative() {
        // 0xff as a signed char is -1.
        assert_eq!(hash(&[0xff]), u32::MAX);
        assert_eq!(hash(&[0xff]) & 0xff, 0xff);
    }

    #[test]
    fn write_files_matches_a_file_database() {
        let tmp = tempfile::tempdir().unwrap();
        let p = |n: &str| tmp.path().join(n);
        let mut mem = Sdbm::from_bytes(Vec::new(), Vec::new()).unwrap();
        let mut disk = Sdbm::create(&p("f.dir"), &p("f.pag")).unwrap();
        for i in 0..3000u32 {
            let k = format!("key{i}");
            let v = format!("value {i}");
            mem.store(k.as_bytes(), v.as_bytes(), StoreMode::Replace)
                .unwrap();
            disk.store(k.as_bytes(), v.as_bytes(), StoreMode::Replace)
                .unwrap();
        }
        mem.write_files(&p("m.dir"), &p("m.pag")).unwrap();
        drop(disk);
        for ext in ["dir", "pag"] {
            let m = std::fs::read(p(&format!("m.{ext}"))).unwrap();
            let f = std::fs::read(p(&format!("f.{ext}"))).unwrap();
            assert!(m == f, "{ext} differs");
        }
        let back = Sdbm::open(&p("m.dir"), &p("m.pag"), false).unwrap();
        assert_eq!(
            back.fetch(b"key2999").unwrap(),
            Some(b"value 2999".to_vec())
        );
        assert!(back.write_files(&p("x.dir"), &p("x.pag")).is_err());
    }

    #[test]
    fn empty_dir_walk_ends_at_page_zero() {
        let db = Sdbm::from_bytes(Vec::new(), Vec::new()).unwrap();
        assert_eq!(db.locate(0xffff_ffff).unwrap(), (0, 0, 0));
    }

    #[test]
    fn walk_follows_the_spec_example() {
        // Nodes 0, 1, 3, 8, 17, 36, 74, 149 set: host0001.example.net lands on page 52.
        let mut bits = vec![0u8; DBLKSIZ];
        for node in [0u64, 1, 3, 8, 17, 36, 74, 149] {
            bits[(node / 8) as usize] |= 1 << (node % 8);
        }
        let db = Sdbm::from_bytes(bits, Vec::new()).unwrap();
        assert_eq!(db.locate(0x5988_0434).unwrap(), (299, 8, 52));
    }

    #[test]
    fn all_bits_set_dir_stops_at_its_end() {
        // 2^23 bits: the walk goes 24 levels deep, then finds an empty page past the
        // end of `.pag`.
        let db = Sdbm::from_bytes(vec![0xff; 1 << 20], Vec::new()).unwrap();
        assert_eq!(db.locate(0).unwrap(), ((1 << 24) - 1, 24, 0));
        assert_eq!(db.fetch(b"x").unwrap(), None);
    }

    #[test]
    fn oversize_pair_is_refused_and_changes_nothing() {
        let mut db = Sdbm::from_bytes(Vec::new(), Vec::new()).unwrap();
        let key = vec![b'k'; 9];
        let value = vec![b'v'; 1000];
        assert!(matches!(
            db.store(&key, &value, StoreMode::Replace),
            Err(Error::PairTooLarge {
                size: 1009,
                maximum: 1008
            })
        ));
        assert!(db.store(&key, &value[1..], StoreMode::Replace).unwrap());
        let (dir, pag) = db.into_bytes().unwrap();
        assert!(dir.is_empty());
        assert_eq!(pag.len(), PBLKSIZ);
    }

    #[test]
    fn insert_keeps_the_old_value() {
        let mut db = Sdbm::from_bytes(Vec::new(), Vec::new()).unwrap();
        assert!(db.store(b"k", b"1", StoreMode::Insert).unwrap());
        assert!(!db.store(b"k", b"2", StoreMode::Insert).unwrap());
        assert_eq!(db.fetch(b"k").unwrap().unwrap(), b"1");
        assert!(db.store(b"k", b"2", StoreMode::Replace).unwrap());
        assert_eq!(db.fetch(b"k").unwrap().unwrap(), b"2");
        assert!(db.delete(b"k").unwrap());
        assert!(!db.delete(b"k").unwrap());
        assert_eq!(db.fetch(b"k").unwrap(), None);
    }

    #[test]
    fn too_many_splits_is_an_error() {
        // Keys whose hashes agree in their low 12 bits, each pair 600 bytes: two never
        // fit on one page, and ten splits cannot separate them.
        let mut keys = Vec::new();
        let mut n = 0u32;
        while keys.len() < 2 {
            let key = format!("k{n}").into_bytes();
            if hash(&key) & 0xfff == 0 {
                keys.push(key);
            }
            n += 1;
        }
        let mut db = Sdbm::from_bytes(Vec::new(), Vec::new()).unwrap();
        let value = vec![b'v'; 600];
        db.store(&keys[0], &value, StoreMode::Replace).unwrap();
        let err = db.store(&keys[1], &value, StoreMode::Replace).unwrap_err();
        assert!(
            matches!(err, Error::TooManySplits { splits: 10, .. }),
            "{err}"
        );
        // The first pair is still there.
        assert_eq!(db.fetch(&keys[0]).unwrap().unwrap(), value);
    }
}
