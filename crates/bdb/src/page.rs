//! Things every Berkeley DB 5.3 page has: the byte order, the 26-byte page header, the
//! common meta page (page 0) and overflow chains. Shared by [`crate::btree`] and
//! [`crate::hash`]. All reads are bounds-checked: a short or inconsistent file gives
//! [`Error::Corrupt`], never a panic.
//!
//! Integers are in the byte order of the machine that wrote the file ([`ByteOrder`]);
//! key and data bytes are never swapped. The byte order is found from the magic number.
//!
//! # Generic page header (every page but the meta page)
//!
//! | offset | size | field | meaning |
//! |---|---|---|---|
//! | 0 | 4 | `lsn.file` | 0 (not logged) |
//! | 4 | 4 | `lsn.offset` | 1 (not logged) |
//! | 8 | 4 | `pgno` | this page's number (0 on a never-written page) |
//! | 12 | 4 | `prev_pgno` | back link (leaf, overflow, hash chain), else 0 |
//! | 16 | 4 | `next_pgno` | forward link, 0 at the end |
//! | 20 | 2 | `entries` | number of `inp[]` slots; overflow page: reference count (1) |
//! | 22 | 2 | `hf_offset` | lowest used byte of the item area; overflow page: data bytes on it |
//! | 24 | 1 | `level` | btree: 1 = leaf, 2 = its parent …; else 0 |
//! | 25 | 1 | `type` | [`P_INVALID`], [`P_IBTREE`], [`P_LBTREE`], [`P_OVERFLOW`], … |
//! | 26 | 2·`entries` | `inp[]` | u16 offsets of the items inside the page (derived: sorted by key) |
//!
//! # Common meta page header (page 0, bytes 0–71)
//!
//! | offset | size | field | meaning |
//! |---|---|---|---|
//! | 0 | 8 | `lsn` | 0 / 1 |
//! | 8 | 4 | `pgno` | 0 |
//! | 12 | 4 | `magic` | [`BTREE_MAGIC`] or [`HASH_MAGIC`]; read swapped = big-endian file |
//! | 16 | 4 | `version` | 9 |
//! | 20 | 4 | `pagesize` | 512 … 65536, a power of two |
//! | 24 | 1 | `encrypt_alg` | 0 (anything else: unsupported) |
//! | 25 | 1 | `type` | [`P_BTREEMETA`] or [`P_HASHMETA`] |
//! | 26 | 1 | `metaflags` | 0 (1 = checksums, 2/4 = partitioned: unsupported) |
//! | 27 | 1 | unused | 0 |
//! | 28 | 4 | `free` | first page of the free list, 0 = none |
//! | 32 | 4 | `last_pgno` | last page (derived: file length / pagesize − 1) |
//! | 36 | 4 | `nparts` | 0 |
//! | 40 | 4 | `key_count` | 0 (not maintained) |
//! | 44 | 4 | `record_count` | 0 (not maintained) |
//! | 48 | 4 | `flags` | access-method flags (btree: 0x01 DUP, 0x02 RECNO, 0x20 SUBDB, …) |
//! | 52 | 20 | `uid` | file id; any bytes (libdb: inode, device, random, pid, 0) |
//!
//! # Overflow pages (type 7)
//!
//! A long item is cut into pieces of at most `pagesize − 26` bytes, one per page, chained
//! through `prev_pgno`/`next_pgno`; `entries` = 1, `hf_offset` = bytes on this page,
//! level 0; data from offset 26.

use std::path::{Path, PathBuf};

use crate::store::Store;

use crate::error::{Error, Result};

/// Size of the generic page header (no checksums, no encryption).
pub const PAGE_HEADER_SIZE: usize = 26;

/// Page types (header byte 25).
pub const P_INVALID: u8 = 0;
pub const P_IBTREE: u8 = 3;
pub const P_LBTREE: u8 = 5;
pub const P_OVERFLOW: u8 = 7;
pub const P_HASHMETA: u8 = 8;
pub const P_BTREEMETA: u8 = 9;
pub const P_HASH: u8 = 13;

/// Magic numbers as stored by a little-endian writer.
pub const BTREE_MAGIC: u32 = 0x0005_3162;
pub const HASH_MAGIC: u32 = 0x0006_1561;

/// The meta page version libdb 5.3 writes for both btree and hash.
pub const VERSION: u32 = 9;

/// Smallest and largest page size libdb accepts.
pub const MIN_PAGE_SIZE: u32 = 512;
pub const MAX_PAGE_SIZE: u32 = 65536;

/// Byte order of the integers in a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ByteOrder {
    Little,
    Big,
}

impl ByteOrder {
    #[inline]
    pub fn u16(self, b: [u8; 2]) -> u16 {
        match self {
            ByteOrder::Little => u16::from_le_bytes(b),
            ByteOrder::Big => u16::from_be_bytes(b),
        }
    }
    #[inline]
    pub fn u32(self, b: [u8; 4]) -> u32 {
        match self {
            ByteOrder::Little => u32::from_le_bytes(b),
            ByteOrder::Big => u32::from_be_bytes(b),
        }
    }
}

/// Little-endian u16 at `off` in `buf` (writer side; `off` must be in range).
pub fn put_u16(buf: &mut [u8], off: usize, v: u16) {
    buf[off..off + 2].copy_from_slice(&v.to_le_bytes());
}

/// Little-endian u32 at `off` in `buf` (writer side; `off` must be in range).
pub fn put_u32(buf: &mut [u8], off: usize, v: u32) {
    buf[off..off + 4].copy_from_slice(&v.to_le_bytes());
}

/// The decoded common meta page header.
#[derive(Clone, Debug)]
pub struct Meta {
    pub order: ByteOrder,
    /// Magic number as a little-endian writer stores it ([`BTREE_MAGIC`], [`HASH_MAGIC`]).
    pub magic: u32,
    pub version: u32,
    pub page_size: u32,
    pub encrypt_alg: u8,
    pub page_type: u8,
    pub metaflags: u8,
    pub free: u32,
    pub last_pgno: u32,
    pub flags: u32,
}

/// A database file, with bounds-checked page access (pages read on first use).
#[derive(Debug)]
pub struct File {
    pub path: PathBuf,
    store: Store,
    pub meta: Meta,
}

impl File {
    /// Parse and check the common meta page of a file held in memory. `expected` names
    /// the access method for the [`Error::WrongType`] message; `magic` is its
    /// little-endian magic number.
    pub fn new(path: &Path, bytes: Vec<u8>, expected: &'static str, magic: u32) -> Result<File> {
        File::with_store(path, Store::from_bytes(bytes), expected, magic)
    }

    /// The same for a file on disk, read page by page as it is used.
    pub fn open(path: &Path, expected: &'static str, magic: u32) -> Result<File> {
        let store = Store::open(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        File::with_store(path, store, expected, magic)
    }

    fn with_store(
        path: &Path,
        mut store: Store,
        expected: &'static str,
        magic: u32,
    ) -> Result<File> {
        let path = path.to_path_buf();
        let total = store.len();
        let bytes = store.head();
        if bytes.len() < 72 {
            return Err(Error::WrongType {
                path,
                expected,
                found: format!("file of {} bytes", bytes.len()),
            });
        }
        let raw = u32::from_le_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]);
        let (order, found_magic) = if raw == BTREE_MAGIC || raw == HASH_MAGIC {
            (ByteOrder::Little, raw)
        } else if raw.swap_bytes() == BTREE_MAGIC || raw.swap_bytes() == HASH_MAGIC {
            (ByteOrder::Big, raw.swap_bytes())
        } else {
            return Err(Error::WrongType {
                path,
                expected,
                found: format!("magic number {raw:#x}"),
            });
        };
        if found_magic != magic {
            let found = if found_magic == BTREE_MAGIC {
                "btree database"
            } else {
                "hash database"
            };
            return Err(Error::WrongType {
                path,
                expected,
                found: found.to_string(),
            });
        }
        let r32 = |o: usize| order.u32([bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]]);
        let meta = Meta {
            order,
            magic: found_magic,
            version: r32(16),
            page_size: r32(20),
            encrypt_alg: bytes[24],
            page_type: bytes[25],
            metaflags: bytes[26],
            free: r32(28),
            last_pgno: r32(32),
            flags: r32(48),
        };
        if meta.version != VERSION {
            return Err(Error::Unsupported {
                path,
                what: format!(
                    "{expected} version {} (only {VERSION} is handled)",
                    meta.version
                ),
            });
        }
        let ps = meta.page_size;
        if !(MIN_PAGE_SIZE..=MAX_PAGE_SIZE).contains(&ps) || !ps.is_power_of_two() {
            return Err(Error::Corrupt {
                path,
                page: 0,
                what: format!("page size {ps}"),
            });
        }
        if meta.encrypt_alg != 0 {
            return Err(Error::Unsupported {
                path,
                what: "encryption".into(),
            });
        }
        if meta.metaflags & 0x01 != 0 {
            return Err(Error::Unsupported {
                path,
                what: "page checksums".into(),
            });
        }
        if meta.metaflags & 0x06 != 0 {
            return Err(Error::Unsupported {
                path,
                what: "partitioned database".into(),
            });
        }
        if total < u64::from(ps) {
            return Err(Error::Corrupt {
                path,
                page: 0,
                what: format!("file of {total} bytes is shorter than one page"),
            });
        }
        store.set_page_size(ps as usize);
        Ok(File { path, store, meta })
    }

    pub fn page_size(&self) -> usize {
        self.meta.page_size as usize
    }

    /// Number of whole pages in the file.
    pub fn page_count(&self) -> u32 {
        u32::try_from(self.store.len() / self.page_size() as u64).unwrap_or(u32::MAX)
    }

    /// A corruption error on `page`.
    #[cold]
    pub fn corrupt(&self, page: u32, what: impl Into<String>) -> Error {
        Error::Corrupt {
            path: self.path.clone(),
            page,
            what: what.into(),
        }
    }

    /// The bytes of page `pgno`.
    pub fn page(&self, pgno: u32) -> Result<Page<'_>> {
        match self.store.page(pgno, self.page_size()) {
            Some(data) => Ok(Page {
                file: self,
                pgno,
                data,
            }),
            None => Err(self.corrupt(pgno, "page beyond the end of the file")),
        }
    }

    /// Read an overflow item of `len` bytes starting at page `first`. Follows the chain,
    /// refusing loops, wrong page types and chains that end too early or run too long.
    pub fn read_overflow(&self, first: u32, len: u32) -> Result<Vec<u8>> {
        self.read_overflow_with(first, len, &mut |_| true)
    }

    /// [`File::read_overflow`], calling `visit` on each page of the chain; a `false`
    /// answer stops with [`Error::Corrupt`] (callers use it to refuse overflow pages
    /// shared by several items, which would let a small file produce endless output).
    pub fn read_overflow_with(
        &self,
        first: u32,
        len: u32,
        visit: &mut dyn FnMut(u32) -> bool,
    ) -> Result<Vec<u8>> {
        let per_page = self.page_size() - PAGE_HEADER_SIZE;
        let pages = self.page_count() as usize;
        // Cannot be longer than every page of the file together: bounds the allocation.
        if len as usize > pages.saturating_mul(per_page) {
            return Err(self.corrupt(
                first,
                format!("overflow item of {len} bytes is longer than the file"),
            ));
        }
        let mut out = Vec::with_capacity(len as usize);
        let mut pgno = first;
        let mut prev = 0u32;
        let mut hops = 0usize;
        while out.len() < len as usize {
            hops += 1;
            if pgno == 0 || hops > pages {
                return Err(self.corrupt(prev, "overflow chain ends early or loops"));
            }
            let page = self.page(pgno)?;
            if !visit(pgno) {
                return Err(page.corrupt("overflow page used by more than one item"));
            }
            let h = page.header();
            if h.page_type != P_OVERFLOW {
                return Err(page.corrupt(format!("type {} in an overflow chain", h.page_type)));
            }
            if h.prev_pgno != prev {
                return Err(page.corrupt("overflow back link does not match the chain"));
            }
            let n = h.hf_offset as usize;
            if n > per_page || n == 0 {
                return Err(page.corrupt(format!("overflow page holds {n} bytes")));
            }
            let want = (len as usize - out.len()).min(n);
            out.extend_from_slice(&page.data[PAGE_HEADER_SIZE..PAGE_HEADER_SIZE + want]);
            prev = pgno;
            pgno = h.next_pgno;
        }
        Ok(out)
    }
}

/// The decoded generic page header.
#[derive(Clone, Copy, Debug)]
pub struct PageHeader {
    pub pgno: u32,
    pub prev_pgno: u32,
    pub next_pgno: u32,
    pub entries: u16,
    pub hf_offset: u16,
    pub level: u8,
    pub page_type: u8,
}

/// One page of a [`File`].
#[derive(Clone, Copy)]
pub struct Page<'a> {
    pub file: &'a File,
    pub pgno: u32,
    pub data: &'a [u8],
}

impl<'a> Page<'a> {
    #[cold]
    pub fn corrupt(&self, what: impl Into<String>) -> Error {
        self.file.corrupt(self.pgno, what)
    }

    /// u16 at `off`, in the file's byte order.
    #[inline]
    pub fn u16(&self, off: usize) -> Result<u16> {
        match self.data.get(off..off.wrapping_add(2)) {
            Some(b) if off <= usize::MAX - 2 => Ok(self.file.meta.order.u16([b[0], b[1]])),
            _ => Err(self.corrupt(format!("field at offset {off} outside the page"))),
        }
    }

    /// u32 at `off`, in the file's byte order.
    #[inline]
    pub fn u32(&self, off: usize) -> Result<u32> {
        match self.data.get(off..off.wrapping_add(4)) {
            Some(b) if off <= usize::MAX - 4 => {
                Ok(self.file.meta.order.u32([b[0], b[1], b[2], b[3]]))
            }
            _ => Err(self.corrupt(format!("field at offset {off} outside the page"))),
        }
    }

    /// `len` bytes at `off`.
    #[inline]
    pub fn bytes(&self, off: usize, len: usize) -> Result<&'a [u8]> {
        off.checked_add(len)
            .and_then(|end| self.data.get(off..end))
            .ok_or_else(|| self.corrupt(format!("{len} bytes at offset {off} outside the page")))
    }

    pub fn header(&self) -> PageHeader {
        let o = self.file.meta.order;
        let d = self.data;
        let r32 = |i: usize| o.u32([d[i], d[i + 1], d[i + 2], d[i + 3]]);
        PageHeader {
            pgno: r32(8),
            prev_pgno: r32(12),
            next_pgno: r32(16),
            entries: o.u16([d[20], d[21]]),
            hf_offset: o.u16([d[22], d[23]]),
            level: d[24],
            page_type: d[25],
        }
    }

    /// Offset of the item in index slot `i` (checked against the page size and the slot
    /// count; the item's own length is checked by its reader).
    #[inline]
    pub fn slot(&self, i: usize) -> Result<usize> {
        let entries = self.file.meta.order.u16([self.data[20], self.data[21]]) as usize;
        if i >= entries || PAGE_HEADER_SIZE + 2 * entries > self.data.len() {
            return Err(self.corrupt(format!("slot {i} of {entries}")));
        }
        let off = self.u16(PAGE_HEADER_SIZE + 2 * i)? as usize;
        if off < PAGE_HEADER_SIZE + 2 * entries || off >= self.data.len() {
            return Err(self.corrupt(format!("slot {i} points at offset {off}")));
        }
        Ok(off)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_orders() {
        assert_eq!(ByteOrder::Little.u32([0x62, 0x31, 0x05, 0]), BTREE_MAGIC);
        assert_eq!(ByteOrder::Big.u32([0, 0x05, 0x31, 0x62]), BTREE_MAGIC);
        assert_eq!(ByteOrder::Big.u16([1, 2]), 0x0102);
    }

    #[test]
    fn short_and_foreign_files_are_errors() {
        let p = Path::new("x");
        assert!(matches!(
            File::new(p, vec![], "btree", BTREE_MAGIC),
            Err(Error::WrongType { .. })
        ));
        assert!(matches!(
            File::new(p, vec![0xff; 600], "btree", BTREE_MAGIC),
            Err(Error::WrongType { .. })
        ));
    }
}
