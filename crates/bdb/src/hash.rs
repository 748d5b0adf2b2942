//! Hash access method of Berkeley DB 5.3 (hash version 9): page layouts, a reader for
//! files of either byte order, and a bulk writer whose files libdb, `db5.3_verify`,
//! `makemap -u hash` and sendmail accept.
//!
//! # Layout
//!
//! All integers are in the byte order of the machine that wrote the file (detected from
//! the magic number); key and data bytes are never swapped. The writer always writes
//! little-endian. `(derived)` marks values the writer computes rather than chooses.
//!
//! **Meta page** (page 0, type 8):
//!
//! | offset | size | field | meaning / value written |
//! |---|---|---|---|
//! | 0 | 8 | `lsn` | file 0, offset 1 ("not logged") |
//! | 8 | 4 | `pgno` | 0 |
//! | 12 | 4 | `magic` | `0x00061561` (read as LE: `0x61150600` means big-endian) |
//! | 16 | 4 | `version` | 9 |
//! | 20 | 4 | `pagesize` | 512 … 65536, a power of two (writer default 4096) |
//! | 24 | 1 | `encrypt_alg` | 0 (anything else: unsupported) |
//! | 25 | 1 | `type` | 8 |
//! | 26 | 1 | `metaflags` | 0 (bit 0x01, checksums: unsupported) |
//! | 28 | 4 | `free` | first free-list page, 0 = none (writer: 0) |
//! | 32 | 4 | `last_pgno` | last page number (derived) |
//! | 36 | 12 | `nparts`, `key_count`, `record_count` (3 × u32) | 0 |
//! | 48 | 4 | `flags` | 0x01 DUP, 0x02 SUBDB (unsupported), 0x04 DUPSORT |
//! | 52 | 20 | `uid` | file id; the writer stores a digest of the contents |
//! | 72 | 4 | `max_bucket` | highest bucket number (derived: N − 1) |
//! | 76 | 4 | `high_mask` | smallest `2^k − 1 ≥ max_bucket` (derived) |
//! | 80 | 4 | `low_mask` | `high_mask >> 1` (derived) |
//! | 84 | 4 | `ffactor` | 0 (as makemap) |
//! | 88 | 4 | `nelem` | key count + hint (4096 as makemap, see [`Builder::nelem_hint`]) |
//! | 92 | 4 | `h_charkey` | [`hash`] of `%$sniglet^&\0` = `0x5e688dd1` |
//! | 96 | 128 | `spares[32]` | bucket → page: page = `b + spares[ceil_log2(b + 1)]` |
//! | 224 | … | unused | 0 |
//!
//! **Page header** (every other page, 26 bytes):
//!
//! | offset | size | field | meaning |
//! |---|---|---|---|
//! | 0 | 8 | `lsn` | file 0, offset 1 |
//! | 8 | 4 | `pgno` | this page's number (0 on a never-written page = empty bucket) |
//! | 12 | 4 | `prev_pgno` | previous page of a bucket chain / overflow chain, 0 at the head |
//! | 16 | 4 | `next_pgno` | next page of the chain, 0 at the end |
//! | 20 | 2 | `entries` | hash page: number of slots (2 per pair); overflow page: 1 |
//! | 22 | 2 | `hf_offset` | hash page: lowest used byte; overflow page: data bytes on it |
//! | 24 | 1 | `level` | 0 |
//! | 25 | 1 | `type` | 13 = hash (sorted), 2 = hash (unsorted, read only), 7 = overflow |
//!
//! **Hash page** (type 13): `entries` u16 slots at offset 26, slot `2j` the key and
//! `2j + 1` the data of pair `j`, pairs sorted by key: unsigned bytes, and when one key is a prefix of the other the
//! longer one first ([`page_order`]; btree puts the shorter first).
//! Items lie back to back from the page end down; an item's length is
//! `inp[i − 1] − inp[i]` (`pagesize − inp[0]` for slot 0). Items:
//!
//! | type byte | item | layout |
//! |---|---|---|
//! | 1 | `H_KEYDATA` | type, then the bytes |
//! | 2 | `H_DUPLICATE` | type, then per duplicate: `len` u16, bytes, `len` u16 |
//! | 3 | `H_OFFPAGE` (12 bytes) | type, 3 unused, `pgno` u32 (first overflow page), `tlen` u32 |
//! | 4 | `H_OFFDUP` | off-page duplicate tree: unsupported |
//!
//! A key or data item longer than `pagesize / 4` bytes goes to overflow pages.
//!
//! **Overflow page** (type 7): data from offset 26, `hf_offset` bytes of it, at most
//! `pagesize − 26`; chained by `prev_pgno`/`next_pgno`.
//!
//! **Hash function** ([`hash`]): `h = 0; for b in key { h = h * 16777619; h ^= b }`
//! (wrapping). Bucket: `b = h & high_mask; if b > max_bucket { b &= low_mask }`.
//!
//! # Trust
//!
//! Files are untrusted: a bad field gives [`Error::Corrupt`] naming the page, never a
//! panic, an endless loop (chains are bounded by the page count, and iteration refuses a
//! page seen twice) or an allocation larger than the file.
//!
//! # Writer layout
//!
//! [`Builder`] models libdb's table while makemap inserts the pairs in input order (see
//! [`Builder`]): the bucket count, the masks, each bucket's chain and the pairs on each
//! page are libdb's, so `db5.3_dump` and `makemap -u` list the pairs in makemap's order.
//! Bucket `b` is on page `1 + b` for every bucket up to `high_mask` (`spares[k] = 1`;
//! the pages of buckets not yet in use are zeros, the last one an empty hash page, as
//! libdb leaves them); chain pages follow, then overflow pages and off-page duplicate
//! trees ([`crate::dups`]). No free pages.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::store::Store;

/// Hash meta magic number.
const HASH_MAGIC: u32 = 0x0006_1561;
/// Btree meta magic number (to name the file type in errors).
const BTREE_MAGIC: u32 = 0x0005_3162;
/// The only hash version handled (Berkeley DB 4.7 … 6.x).
const HASH_VERSION: u32 = 9;
/// `h_charkey`: the hash of these 12 bytes.
const CHARKEY: &[u8] = b"%$sniglet^&\0";
/// Generic page header size (no checksums, no encryption).
const HDR: usize = 26;
/// Page types.
const P_INVALID: u8 = 0;
const P_HASH_UNSORTED: u8 = 2;
const P_OVERFLOW: u8 = 7;
const P_HASHMETA: u8 = 8;
const P_HASH: u8 = 13;
/// Hash item types.
const H_KEYDATA: u8 = 1;
const H_DUPLICATE: u8 = 2;
const H_OFFPAGE: u8 = 3;
const H_OFFDUP: u8 = 4;
/// Meta flags (hash).
const DB_HASH_DUP: u32 = 0x01;
const DB_HASH_SUBDB: u32 = 0x02;
/// Size of an `H_OFFPAGE` item.
const HOFFPAGE_SIZE: usize = 12;
/// makemap's `h_nelem` hint, added to the key count in the meta page.
const MAKEMAP_NELEM: u32 = 4096;
/// Page size makemap gets on ext4/overlay/tmpfs.
const DEFAULT_PAGE_SIZE: u32 = 4096;
/// Number of `spares` entries.
const NCACHED: usize = 32;

/// libdb's default hash function ("func5": FNV-1 starting from 0).
pub fn hash(key: &[u8]) -> u32 {
    let mut h: u32 = 0;
    for &b in key {
        h = h.wrapping_mul(16_777_619);
        h ^= u32::from(b);
    }
    h
}

/// Smallest `k` with `2^k >= n` (libdb's `__db_log2`).
fn ceil_log2(n: u32) -> u32 {
    if n <= 1 {
        0
    } else {
        32 - (n - 1).leading_zeros()
    }
}

/// Byte order of a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Order {
    Little,
    Big,
}

impl Order {
    fn u16(self, b: &[u8], at: usize) -> u16 {
        let a = [b[at], b[at + 1]];
        match self {
            Order::Little => u16::from_le_bytes(a),
            Order::Big => u16::from_be_bytes(a),
        }
    }
    fn u32(self, b: &[u8], at: usize) -> u32 {
        let a = [b[at], b[at + 1], b[at + 2], b[at + 3]];
        match self {
            Order::Little => u32::from_le_bytes(a),
            Order::Big => u32::from_be_bytes(a),
        }
    }
}

/// The decoded fields of a hash meta page that the reader uses.
#[derive(Clone, Debug)]
struct Meta {
    page_size: usize,
    last_pgno: u32,
    max_bucket: u32,
    high_mask: u32,
    low_mask: u32,
    spares: [u32; NCACHED],
}

/// A read-only hash database (pages read on first use).
pub struct Reader {
    path: PathBuf,
    store: Store,
    /// The meta page's `flags` field.
    flags: u32,
    order: Order,
    meta: Meta,
}

/// The decoded header of a non-meta page.
#[derive(Clone, Copy, Debug)]
struct PageHdr {
    pgno: u32,
    prev: u32,
    next: u32,
    entries: u16,
    hf_offset: u16,
    ptype: u8,
}

/// One item of a hash page, borrowed from the file.
enum Item<'a> {
    /// `H_KEYDATA`: the bytes.
    Data(&'a [u8]),
    /// `H_DUPLICATE`: the raw duplicate set (after the type byte).
    Dups(&'a [u8]),
    /// `H_OFFPAGE`: first overflow page and total length.
    Off { pgno: u32, tlen: u32 },
    /// `H_OFFDUP`: root page of a duplicate tree.
    OffDup(u32),
}

impl Reader {
    /// Opens `path` and checks its meta page; other pages are read as they are used.
    pub fn open(path: &Path) -> Result<Reader> {
        let store = Store::open(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Reader::from_store(path, store)
    }

    /// Uses `bytes` as the file's contents; `path` names the file in errors.
    pub fn from_bytes(path: &Path, bytes: Vec<u8>) -> Result<Reader> {
        Reader::from_store(path, Store::from_bytes(bytes))
    }

    fn from_store(path: &Path, mut store: Store) -> Result<Reader> {
        let path = path.to_path_buf();
        let total = store.len();
        let bytes = store.head();
        if bytes.len() < 512 {
            return Err(Error::WrongType {
                path,
                expected: "hash",
                found: format!("a file of {} bytes", bytes.len()),
            });
        }
        let magic = u32::from_le_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]);
        let order = if magic == HASH_MAGIC {
            Order::Little
        } else if magic == HASH_MAGIC.swap_bytes() {
            Order::Big
        } else {
            let found = if magic == BTREE_MAGIC || magic == BTREE_MAGIC.swap_bytes() {
                "btree".to_string()
            } else {
                format!("magic number 0x{magic:08x}")
            };
            return Err(Error::WrongType {
                path,
                expected: "hash",
                found,
            });
        };
        let o = order;
        let corrupt = |what: String| Error::Corrupt {
            path: path.clone(),
            page: 0,
            what,
        };
        let unsupported = |what: String| Error::Unsupported {
            path: path.clone(),
            what,
        };
        let version = o.u32(bytes, 16);
        if version != HASH_VERSION {
            return Err(unsupported(format!(
                "hash version {version} (only 9 is handled)"
            )));
        }
        let page_size = o.u32(bytes, 20);
        if !(512..=65536).contains(&page_size) || !page_size.is_power_of_two() {
            return Err(corrupt(format!("page size {page_size}")));
        }
        if bytes[24] != 0 {
            return Err(unsupported("encrypted database".into()));
        }
        if bytes[25] != P_HASHMETA {
            return Err(corrupt(format!(
                "meta page type {} (expected 8)",
                bytes[25]
            )));
        }
        if bytes[26] & 0x01 != 0 {
            return Err(unsupported("page checksums".into()));
        }
        if bytes[26] & 0x06 != 0 {
            return Err(unsupported("partitioned database".into()));
        }
        let flags = o.u32(bytes, 48);
        if flags & DB_HASH_SUBDB != 0 {
            return Err(unsupported("sub-databases".into()));
        }
        let last_pgno = o.u32(bytes, 32);
        let page_size = page_size as usize;
        let need = (u64::from(last_pgno) + 1) * page_size as u64;
        if total < need {
            return Err(corrupt(format!(
                "file is truncated: {total} bytes, but last_pgno {last_pgno} needs {need}"
            )));
        }
        let max_bucket = o.u32(bytes, 72);
        let high_mask = o.u32(bytes, 76);
        let low_mask = o.u32(bytes, 80);
        let charkey = o.u32(bytes, 92);
        if charkey != hash(CHARKEY) {
            return Err(unsupported(format!(
                "h_charkey 0x{charkey:08x}: made with another hash function"
            )));
        }
        // Every bucket needs its own page, so max_bucket is bounded by the page count.
        if max_bucket >= last_pgno {
            return Err(corrupt(format!(
                "max_bucket {max_bucket} needs more pages than last_pgno {last_pgno}"
            )));
        }
        let pwr = 1u64 << ceil_log2(max_bucket + 1);
        if u64::from(high_mask) != pwr - 1 || low_mask != high_mask >> 1 {
            return Err(corrupt(format!(
                "masks 0x{high_mask:x}/0x{low_mask:x} do not match max_bucket {max_bucket}"
            )));
        }
        let mut spares = [0u32; NCACHED];
        for (i, s) in spares.iter_mut().enumerate() {
            *s = o.u32(bytes, 96 + 4 * i);
        }
        let meta = Meta {
            page_size,
            last_pgno,
            max_bucket,
            high_mask,
            low_mask,
            spares,
        };
        store.set_page_size(page_size);
        Ok(Reader {
            path,
            store,
            flags,
            order,
            meta,
        })
    }

    /// Whether the file stores duplicates (meta flag DUP).
    pub fn has_duplicates(&self) -> bool {
        self.flags & DB_HASH_DUP != 0
    }

    fn corrupt(&self, page: u32, what: impl Into<String>) -> Error {
        Error::Corrupt {
            path: self.path.clone(),
            page,
            what: what.into(),
        }
    }

    /// Number of pages the file declares.
    fn npages(&self) -> u64 {
        u64::from(self.meta.last_pgno) + 1
    }

    fn page(&self, pgno: u32) -> Result<&[u8]> {
        if pgno == 0 || pgno > self.meta.last_pgno {
            return Err(self.corrupt(
                pgno,
                format!("page number out of range 1..={}", self.meta.last_pgno),
            ));
        }
        self.store
            .page(pgno, self.meta.page_size)
            .ok_or_else(|| self.corrupt(pgno, "page cannot be read"))
    }

    fn header(&self, page: &[u8]) -> PageHdr {
        let o = self.order;
        PageHdr {
            pgno: o.u32(page, 8),
            prev: o.u32(page, 12),
            next: o.u32(page, 16),
            entries: o.u16(page, 20),
            hf_offset: o.u16(page, 22),
            ptype: page[25],
        }
    }

    /// The bucket a key lives in.
    fn bucket_of(&self, key: &[u8]) -> u32 {
        let h = hash(key);
        let mut b = h & self.meta.high_mask;
        if b > self.meta.max_bucket {
            b &= self.meta.low_mask;
        }
        b
    }

    /// First page of bucket `b`.
    fn bucket_page(&self, b: u32) -> Result<u32> {
        let k = ceil_log2(b.saturating_add(1)) as usize;
        let sp = self.meta.spares.get(k).copied().unwrap_or(0);
        let p = b
            .checked_add(sp)
            .filter(|&p| p != 0 && p <= self.meta.last_pgno);
        p.ok_or_else(|| {
            self.corrupt(
                0,
                format!("bucket {b} maps to page {}", u64::from(b) + u64::from(sp)),
            )
        })
    }

    /// Checks a hash page (bucket head or chain page) and returns its header, or `None`
    /// for a never-written (all-zero header) bucket page.
    fn hash_page(&self, pgno: u32, head: bool) -> Result<Option<(PageHdr, &[u8])>> {
        self.check_hash_page(pgno, self.page(pgno)?, head)
    }

    /// [`Reader::hash_page`] on the bytes of page `pgno`, however they were read.
    fn check_hash_page<'p>(
        &self,
        pgno: u32,
        page: &'p [u8],
        head: bool,
    ) -> Result<Option<(PageHdr, &'p [u8])>> {
        let h = self.header(page);
        if head && h.ptype == P_INVALID && h.pgno == 0 && h.entries == 0 && h.next == 0 {
            return Ok(None);
        }
        if h.ptype != P_HASH && h.ptype != P_HASH_UNSORTED {
            return Err(self.corrupt(
                pgno,
                format!("page type {} where a hash page belongs", h.ptype),
            ));
        }
        if h.pgno != pgno {
            return Err(self.corrupt(pgno, format!("page says it is page {}", h.pgno)));
        }
        let n = usize::from(h.entries);
        if n % 2 != 0 {
            return Err(self.corrupt(pgno, format!("odd number of slots {n}")));
        }
        if HDR + 2 * n > self.meta.page_size {
            return Err(self.corrupt(pgno, format!("{n} slots do not fit on the page")));
        }
        Ok(Some((h, page)))
    }

    /// Item in slot `i` of a checked hash page.
    fn item<'a>(&self, pgno: u32, page: &'a [u8], i: usize) -> Result<Item<'a>> {
        let o = self.order;
        let ps = self.meta.page_size;
        let n = usize::from(o.u16(page, 20));
        let lo = HDR + 2 * n;
        let start = usize::from(o.u16(page, HDR + 2 * i));
        let end = if i == 0 {
            ps
        } else {
            usize::from(o.u16(page, HDR + 2 * (i - 1)))
        };
        if start < lo || start >= end || end > ps {
            return Err(self.corrupt(pgno, format!("slot {i}: item offset {start} out of place")));
        }
        let raw = &page[start..end];
        match raw[0] {
            H_KEYDATA => Ok(Item::Data(&raw[1..])),
            H_DUPLICATE => Ok(Item::Dups(&raw[1..])),
            H_OFFPAGE => {
                if raw.len() < HOFFPAGE_SIZE {
                    return Err(self.corrupt(pgno, format!("slot {i}: short off-page item")));
                }
                Ok(Item::Off {
                    pgno: o.u32(raw, 4),
                    tlen: o.u32(raw, 8),
                })
            }
            H_OFFDUP => {
                if raw.len() < HOFFDUP_SIZE as usize {
                    return Err(
                        self.corrupt(pgno, format!("slot {i}: short off-page duplicate item"))
                    );
                }
                Ok(Item::OffDup(o.u32(raw, 4)))
            }
            t => Err(self.corrupt(pgno, format!("slot {i}: item type {t}"))),
        }
    }

    /// Reads an overflow chain of `tlen` bytes starting at `first`.
    fn overflow(&self, from: u32, first: u32, tlen: u32) -> Result<Vec<u8>> {
        let room = (self.meta.page_size - HDR) as u64;
        if u64::from(tlen) > self.npages() * room {
            return Err(self.corrupt(
                from,
                format!("off-page item of {tlen} bytes is larger than the file"),
            ));
        }
        let tlen = tlen as usize;
        let mut out = Vec::with_capacity(tlen);
        let mut pgno = first;
        let mut prev = 0u32;
        let mut steps = 0u64;
        while out.len() < tlen {
            steps += 1;
            if pgno == 0 || steps > self.npages() {
                return Err(self.corrupt(
                    from,
                    format!("overflow chain at page {first} ends early or loops"),
                ));
            }
            let page = self.page(pgno)?;
            let h = self.header(page);
            if h.ptype != P_OVERFLOW {
                return Err(self.corrupt(
                    pgno,
                    format!("page type {} where an overflow page belongs", h.ptype),
                ));
            }
            if h.prev != prev {
                return Err(self.corrupt(
                    pgno,
                    format!("overflow back link {} (expected {prev})", h.prev),
                ));
            }
            let len = usize::from(h.hf_offset);
            if len == 0 || len > room as usize || out.len() + len > tlen {
                return Err(self.corrupt(pgno, format!("overflow page holds {len} bytes")));
            }
            out.extend_from_slice(&page[HDR..HDR + len]);
            prev = pgno;
            pgno = h.next;
        }
        if pgno != 0 {
            return Err(self.corrupt(prev, "overflow chain is longer than its item"));
        }
        Ok(out)
    }

    /// Materialises a key or a single data item.
    fn bytes_of(&self, pgno: u32, item: Item<'_>) -> Result<Vec<u8>> {
        match item {
            Item::Data(d) => Ok(d.to_vec()),
            Item::Off { pgno: first, tlen } => self.overflow(pgno, first, tlen),
            Item::Dups(_) | Item::OffDup(_) => {
                Err(self.corrupt(pgno, "duplicate set where a key belongs"))
            }
        }
    }

    /// Splits an `H_DUPLICATE` item into its values.
    fn dups(&self, pgno: u32, mut raw: &[u8]) -> Result<Vec<Vec<u8>>> {
        let o = self.order;
        let mut out = Vec::new();
        while !raw.is_empty() {
            if raw.len() < 4 {
                return Err(self.corrupt(pgno, "truncated duplicate"));
            }
            let len = usize::from(o.u16(raw, 0));
            if raw.len() < 4 + len || o.u16(raw, 2 + len) as usize != len {
                return Err(self.corrupt(pgno, "bad duplicate length"));
            }
            out.push(raw[2..2 + len].to_vec());
            raw = &raw[4 + len..];
        }
        if out.is_empty() {
            return Err(self.corrupt(pgno, "empty duplicate set"));
        }
        Ok(out)
    }

    /// Whether the key item equals `key`.
    fn key_matches(&self, pgno: u32, item: Item<'_>, key: &[u8]) -> Result<bool> {
        match item {
            Item::Data(d) => Ok(d == key),
            Item::Off { pgno: first, tlen } => {
                if tlen as usize != key.len() {
                    return Ok(false);
                }
                Ok(self.overflow(pgno, first, tlen)? == key)
            }
            Item::Dups(_) | Item::OffDup(_) => {
                Err(self.corrupt(pgno, "duplicate set where a key belongs"))
            }
        }
    }

    /// The value stored under `key` (the first one if the file has duplicates).
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let b = self.bucket_of(key);
        let mut pgno = self.bucket_page(b)?;
        let mut head = true;
        let mut steps = 0u64;
        loop {
            steps += 1;
            if steps > self.npages() {
                return Err(self.corrupt(pgno, format!("bucket {b}: page chain loops")));
            }
            let Some((h, page)) = self.hash_page(pgno, head)? else {
                return Ok(None);
            };
            for j in 0..usize::from(h.entries) / 2 {
                let k = self.item(pgno, page, 2 * j)?;
                if self.key_matches(pgno, k, key)? {
                    let d = self.item(pgno, page, 2 * j + 1)?;
                    return match d {
                        Item::Dups(raw) => Ok(self.dups(pgno, raw)?.into_iter().next()),
                        Item::OffDup(root) => {
                            Ok(crate::dups::read_tree(self, root)?.into_iter().next())
                        }
                        other => self.bytes_of(pgno, other).map(Some),
                    };
                }
            }
            if h.next == 0 {
                return Ok(None);
            }
            pgno = h.next;
            head = false;
        }
    }

    /// Every pair, bucket by bucket, along each chain, in page order — the order of
    /// `db5.3_dump` and `makemap -u`. Duplicates come out as separate pairs. After an
    /// error the iterator ends.
    pub fn iter(&self) -> impl Iterator<Item = Result<(Vec<u8>, Vec<u8>)>> + '_ {
        Iter {
            r: self,
            bucket: 0,
            page: None,
            slot: 0,
            pending: Vec::new(),
            seen: vec![false; self.npages() as usize],
            done: false,
        }
    }
}

impl Reader {
    /// Call `f` with every pair, borrowed, in the order of [`Reader::iter`] (duplicates
    /// as separate pairs), until it returns `false`. The same pages are read and checked
    /// as by `iter`, and the same first error ends the walk, but the bucket pages are
    /// read in runs of [`WALK_WINDOW`] bytes into one reused buffer, not each into the
    /// page cache, and no key or value is copied unless it is off-page: the way to copy
    /// a whole map.
    pub fn for_each_pair(&self, mut f: impl FnMut(&[u8], &[u8]) -> bool) -> Result<()> {
        let ps = self.meta.page_size;
        let mut window = Window {
            first: 0,
            count: 0,
            buf: vec![0u8; (WALK_WINDOW / ps).max(1) * ps],
        };
        let mut seen = vec![false; self.npages() as usize];
        for b in 0..=self.meta.max_bucket {
            let p = self.bucket_page(b)?;
            if seen[p as usize] {
                return Err(self.corrupt(p, format!("bucket {b} starts on a page already used")));
            }
            seen[p as usize] = true;
            if self
                .check_hash_page(p, window.page(self, p, true)?, true)?
                .is_none()
            {
                continue;
            }
            let mut pgno = p;
            loop {
                let page = window.page(self, pgno, false)?;
                let (h, page) = self
                    .check_hash_page(pgno, page, false)?
                    .ok_or_else(|| self.corrupt(pgno, "empty page in a chain"))?;
                let mut slot = 0;
                while slot + 1 < usize::from(h.entries) {
                    let k = self.item(pgno, page, slot)?;
                    let d = self.item(pgno, page, slot + 1)?;
                    slot += 2;
                    let off_key;
                    let key = match k {
                        Item::Data(k) => k,
                        other => {
                            off_key = self.bytes_of(pgno, other)?;
                            &off_key[..]
                        }
                    };
                    let go_on = match d {
                        Item::Data(v) => f(key, v),
                        Item::Off { .. } => f(key, &self.bytes_of(pgno, d)?),
                        Item::Dups(raw) => self.dups(pgno, raw)?.iter().all(|v| f(key, v)),
                        Item::OffDup(root) => crate::dups::read_tree(self, root)?
                            .iter()
                            .all(|v| f(key, v)),
                    };
                    if !go_on {
                        return Ok(());
                    }
                }
                if h.next == 0 {
                    break;
                }
                let next = h.next;
                if next > self.meta.last_pgno || seen[next as usize] {
                    return Err(self.corrupt(
                        pgno,
                        format!("chain link to page {next} loops or leaves the file"),
                    ));
                }
                seen[next as usize] = true;
                let (nh, _) = self
                    .check_hash_page(next, window.page(self, next, false)?, false)?
                    .ok_or_else(|| self.corrupt(next, "empty page in a chain"))?;
                if nh.prev != pgno {
                    return Err(
                        self.corrupt(next, format!("back link {} (expected {pgno})", nh.prev))
                    );
                }
                pgno = next;
            }
        }
        Ok(())
    }
}

/// Bytes of bucket pages [`Reader::for_each_pair`] reads at a time.
pub const WALK_WINDOW: usize = 256 << 10;

/// Consecutive pages read together by [`Reader::for_each_pair`], starting at a bucket's
/// first page: the buckets' pages follow each other in the file.
struct Window {
    first: u32,
    count: usize,
    buf: Vec<u8>,
}

impl Window {
    /// Page `pgno`: from the window, or (a bucket's first page) from a new window read
    /// at it, or else from the reader's cache (chain pages lie elsewhere).
    fn page<'w>(&'w mut self, r: &'w Reader, pgno: u32, head: bool) -> Result<&'w [u8]> {
        let ps = r.meta.page_size;
        let inside = |w: &Window| pgno >= w.first && ((pgno - w.first) as usize) < w.count;
        if !inside(self) && head && pgno != 0 && pgno <= r.meta.last_pgno {
            let left = (r.meta.last_pgno - pgno) as usize + 1;
            let n = left.min(self.buf.len() / ps);
            self.first = pgno;
            self.count = r.store.read_pages(pgno, ps, &mut self.buf[..n * ps]);
        }
        if inside(self) {
            let at = (pgno - self.first) as usize * ps;
            Ok(&self.buf[at..at + ps])
        } else {
            r.page(pgno)
        }
    }
}

impl crate::dups::PageSource for Reader {
    fn page_bytes(&self, pgno: u32) -> Result<&[u8]> {
        self.page(pgno)
    }
    fn byte_order(&self) -> crate::page::ByteOrder {
        match self.order {
            Order::Little => crate::page::ByteOrder::Little,
            Order::Big => crate::page::ByteOrder::Big,
        }
    }
    fn page_total(&self) -> u32 {
        self.meta.last_pgno.saturating_add(1)
    }
    fn corrupt_at(&self, pgno: u32, what: String) -> Error {
        self.corrupt(pgno, what)
    }
    fn overflow_item(&self, from: u32, first: u32, len: u32) -> Result<Vec<u8>> {
        self.overflow(from, first, len)
    }
}

/// Iterator behind [`Reader::iter`].
struct Iter<'a> {
    r: &'a Reader,
    /// Next bucket to start.
    bucket: u64,
    /// Page being read.
    page: Option<u32>,
    /// Next slot on it.
    slot: usize,
    /// Remaining duplicates of the current key, in reverse order.
    pending: Vec<(Vec<u8>, Vec<u8>)>,
    /// Pages already read (a page reached twice means a loop or a shared chain).
    seen: Vec<bool>,
    done: bool,
}

impl Iter<'_> {
    fn step(&mut self) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        let r = self.r;
        loop {
            if let Some(p) = self.pending.pop() {
                return Ok(Some(p));
            }
            let pgno = match self.page {
                Some(p) => p,
                None => {
                    if self.bucket > u64::from(r.meta.max_bucket) {
                        return Ok(None);
                    }
                    let b = self.bucket as u32;
                    self.bucket += 1;
                    let p = r.bucket_page(b)?;
                    if self.seen[p as usize] {
                        return Err(
                            r.corrupt(p, format!("bucket {b} starts on a page already used"))
                        );
                    }
                    self.seen[p as usize] = true;
                    if r.hash_page(p, true)?.is_none() {
                        continue;
                    }
                    self.page = Some(p);
                    self.slot = 0;
                    p
                }
            };
            let (h, page) = r
                .hash_page(pgno, false)?
                .ok_or_else(|| r.corrupt(pgno, "empty page in a chain"))?;
            if self.slot + 1 < usize::from(h.entries) {
                let k = r.item(pgno, page, self.slot)?;
                let d = r.item(pgno, page, self.slot + 1)?;
                self.slot += 2;
                let key = r.bytes_of(pgno, k)?;
                let values = match d {
                    Item::Dups(raw) => Some(r.dups(pgno, raw)?),
                    Item::OffDup(root) => Some(crate::dups::read_tree(r, root)?),
                    _ => None,
                };
                match (values, d) {
                    (Some(values), _) => {
                        let mut v: Vec<_> = values.into_iter().map(|d| (key.clone(), d)).collect();
                        v.reverse();
                        self.pending = v;
                    }
                    (None, other) => return Ok(Some((key, r.bytes_of(pgno, other)?))),
                }
                continue;
            }
            if h.next == 0 {
                self.page = None;
                continue;
            }
            let next = h.next;
            if next > r.meta.last_pgno || self.seen[next as usize] {
                return Err(r.corrupt(
                    pgno,
                    format!("chain link to page {next} loops or leaves the file"),
                ));
            }
            self.seen[next as usize] = true;
            let (nh, _) = r
                .hash_page(next, false)?
                .ok_or_else(|| r.corrupt(next, "empty page in a chain"))?;
            if nh.prev != pgno {
                return Err(r.corrupt(next, format!("back link {} (expected {pgno})", nh.prev)));
            }
            self.page = Some(next);
            self.slot = 0;
        }
    }
}

impl Iterator for Iter<'_> {
    type Item = Result<(Vec<u8>, Vec<u8>)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.step() {
            Ok(Some(p)) => Some(Ok(p)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// Builds a hash database in memory and writes it in one go.
///
/// The layout is libdb's: the pairs are put into a model of libdb's hash table in
/// insertion order — buckets split one at a time whenever an insert adds a page to a
/// chain (fill factor 0, as makemap), a pair goes to the first page of its chain with
/// room, duplicates grow in place, move along the chain or go off-page as `__ham_add_dup`
/// does — so the buckets, their chains and the pairs on each page come out as makemap's,
/// and `db5.3_dump` and `makemap -u` list the pairs in the same order. Page numbers are
/// the writer's own (bucket `b` on page `1 + b`, then chain, overflow and duplicate
/// pages), with no free pages and no holes.
#[derive(Clone, Debug)]
pub struct Builder {
    page_size: u32,
    nelem_hint: u32,
    duplicates: bool,
    /// In insertion order, repeats included.
    pairs: crate::pairs::Pairs,
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

impl Builder {
    /// A builder with makemap's settings: 4096-byte pages, fill factor 0, `nelem` hint
    /// 4096 (stored as hint + key count, as `db5.3_dump` shows for makemap's files).
    pub fn new() -> Builder {
        Builder {
            page_size: DEFAULT_PAGE_SIZE,
            nelem_hint: MAKEMAP_NELEM,
            duplicates: false,
            pairs: Default::default(),
        }
    }

    /// Page size: a power of two from 512 to 32768 ([`Builder::write_to`] refuses others).
    pub fn page_size(mut self, n: u32) -> Builder {
        self.page_size = n;
        self
    }

    /// The number added to the key count in the meta `nelem` field (`h_nelem=` in
    /// `db5.3_dump`): 4096 as makemap, 0 as `db5.3_load` without `-h`.
    pub fn nelem_hint(mut self, hint: u32) -> Builder {
        self.nelem_hint = hint;
        self
    }

    /// Keep every value of a repeated key, in insertion order (`DB_DUP`, makemap `-d`);
    /// the meta page gets the DUP flag.
    pub fn duplicates(mut self, keep: bool) -> Builder {
        self.duplicates = keep;
        self
    }

    /// Adds a pair. A later insert of the same key replaces the value (the key keeps its
    /// first place), or with [`Builder::duplicates`] adds another value.
    pub fn insert(&mut self, key: &[u8], value: &[u8]) {
        self.pairs.push(key, value);
    }

    /// Number of distinct keys (counted: this sorts the keys).
    pub fn len(&self) -> usize {
        self.pairs.distinct_len()
    }

    /// Whether no pair was inserted.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// Writes the database.
    pub fn write_to<W: std::io::Write>(self, out: &mut W) -> Result<()> {
        let ps = self.page_size;
        if !(512..=32768).contains(&ps) || !ps.is_power_of_two() {
            return Err(Error::Unsupported {
                path: PathBuf::new(),
                what: format!("page size {ps} (a power of two from 512 to 32768)"),
            });
        }
        let ps = ps as usize;
        let pairs = &self.pairs;
        for i in 0..pairs.len() {
            let (k, v) = pairs.get(i);
            for (what, len) in [("key", k.len()), ("value", v.len())] {
                if u32::try_from(len).is_err() {
                    return Err(Error::TooLarge {
                        what: if what == "key" { "key" } else { "value" },
                        size: len,
                        maximum: u32::MAX as usize,
                    });
                }
            }
        }
        let mut sim = Sim::new(pairs, ps);
        sim.run(self.duplicates)?;
        let nelem = self.nelem_hint.wrapping_add(sim.keys as u32);
        sim.write(out, nelem, self.duplicates)
    }
}

/// The order of the pairs on a hash page (`__ham_getindex_sorted` without a user
/// comparison): bytewise over the common length; when one key is a prefix of the other,
/// the **longer** one first (`b.examplev` before `b.example`), unlike btree.
pub fn page_order(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    let n = a.len().min(b.len());
    a[..n].cmp(&b[..n]).then(b.len().cmp(&a.len()))
}

/// No page.
const NONE: u32 = u32::MAX;
/// Size of an `H_OFFDUP` item.
const HOFFDUP_SIZE: u32 = 8;

/// What a pair's data slot holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Data {
    /// One value: `H_KEYDATA`, or `H_OFFPAGE` when it is big.
    Single,
    /// `H_DUPLICATE`: the values on the page.
    OnPage,
    /// `H_OFFDUP`: the values in a duplicate tree.
    OffPage,
}

/// A pair on a page of the model: all a split needs, without going back to the pairs.
#[derive(Clone, Copy, Debug)]
struct Slot {
    /// [`page_order`] on the first key bytes after the prefix all keys share: 8 bytes,
    /// big-endian, padded with 0xff (a shorter key sorts after a longer one it is a
    /// prefix of); equal values need the whole keys compared.
    skey: u64,
    hash: u32,
    /// Pair holding the key (its first insert).
    key: u32,
    /// Pair holding the (first) value.
    val: u32,
    /// Bytes the pair takes on the page, its two index slots included.
    size: u32,
    kind: Data,
}

/// One page of the model: its pairs (in no particular order until they are sorted), free
/// bytes as libdb counts them (`P_FREESPACE`) and the next page of the chain.
#[derive(Clone, Debug)]
struct SimPage {
    items: Vec<Slot>,
    free: u32,
    next: u32,
}

/// A model of libdb's hash table while makemap fills it.
struct Sim<'a> {
    pairs: &'a crate::pairs::Pairs,
    ps: usize,
    /// Items longer than this go to overflow pages (`ISBIG`).
    big: u32,
    /// Number of distinct keys.
    keys: usize,
    /// Values after the first of a key with duplicates (by the key's pair).
    dups: HashMap<u32, Vec<u32>>,
    pages: Vec<SimPage>,
    /// Model pages no longer in use.
    unused: Vec<u32>,
    /// First page of each bucket.
    heads: Vec<u32>,
    /// Length of the prefix every key shares (skipped by `Slot::skey`).
    common: usize,
    /// About how many pairs a full page holds (room reserved on a new page).
    per_page: usize,
    max_bucket: u32,
    high_mask: u32,
    low_mask: u32,
}

impl<'a> Sim<'a> {
    fn new(pairs: &'a crate::pairs::Pairs, ps: usize) -> Sim<'a> {
        let mut sim = Sim {
            pairs,
            ps,
            big: (ps / 4) as u32,
            keys: 0,
            dups: HashMap::new(),
            pages: Vec::new(),
            unused: Vec::new(),
            heads: Vec::new(),
            common: 0,
            per_page: 0,
            // A new file has two buckets.
            max_bucket: 1,
            high_mask: 1,
            low_mask: 0,
        };
        for _ in 0..2 {
            let p = sim.new_page();
            sim.heads.push(p);
        }
        sim
    }

    fn new_page(&mut self) -> u32 {
        let fresh = SimPage {
            items: Vec::with_capacity(self.per_page),
            free: (self.ps - HDR) as u32,
            next: NONE,
        };
        match self.unused.pop() {
            Some(p) => {
                self.pages[p as usize] = fresh;
                p
            }
            None => {
                self.pages.push(fresh);
                (self.pages.len() - 1) as u32
            }
        }
    }

    /// A new page chained after `p` (the last page of its chain).
    fn add_page_after(&mut self, p: u32) -> u32 {
        let q = self.new_page();
        self.pages[p as usize].next = q;
        q
    }

    /// Bytes of an item of `len` bytes on a hash page.
    fn item_size(&self, len: usize) -> u32 {
        if len as u64 > u64::from(self.big) {
            HOFFPAGE_SIZE as u32
        } else {
            len as u32 + 1
        }
    }

    fn key_of(&self, s: &Slot) -> &'a [u8] {
        self.pairs.key(s.key as usize)
    }

    fn value_of(&self, pair: u32) -> &'a [u8] {
        self.pairs.get(pair as usize).1
    }

    /// Bytes of the data item of `s` on its page.
    fn data_size(&self, s: &Slot) -> u32 {
        s.size - 4 - self.item_size(self.key_of(s).len())
    }

    fn sort_key(&self, key: &[u8]) -> u64 {
        let rest = &key[self.common.min(key.len())..];
        let mut b = [0xffu8; 8];
        let n = rest.len().min(8);
        b[..n].copy_from_slice(&rest[..n]);
        u64::from_be_bytes(b)
    }

    /// Sorts the pairs of one page into [`page_order`].
    fn sort_page(&self, items: &mut [Slot]) {
        items.sort_unstable_by(|a, b| {
            a.skey
                .cmp(&b.skey)
                .then_with(|| page_order(self.key_of(a), self.key_of(b)))
        });
    }

    fn bucket(&self, h: u32) -> u32 {
        let b = h & self.high_mask;
        if b > self.max_bucket {
            b & self.low_mask
        } else {
            b
        }
    }

    fn put_on(&mut self, p: u32, s: Slot) {
        let page = &mut self.pages[p as usize];
        debug_assert!(page.free >= s.size);
        page.free -= s.size;
        page.items.push(s);
    }

    /// Takes the pair at `pos` of page `p` off the page.
    fn take(&mut self, p: u32, pos: usize) -> Slot {
        let page = &mut self.pages[p as usize];
        let s = page.items.swap_remove(pos);
        page.free += s.size;
        s
    }

    /// Every pair inserted in order, as makemap's `db->put` calls would.
    fn run(&mut self, duplicates: bool) -> Result<()> {
        let n = self.pairs.len();
        if n > (u32::MAX - 1) as usize {
            return Err(Error::TooLarge {
                what: "database",
                size: n,
                maximum: (u32::MAX - 1) as usize,
            });
        }
        if n > 0 {
            let bytes: usize = (0..n.min(1000))
                .map(|i| {
                    let (k, v) = self.pairs.get(i);
                    self.item_size(k.len()) as usize + self.item_size(v.len()) as usize + 4
                })
                .sum();
            let room = self.ps - HDR;
            self.per_page = (room * n.min(1000) / bytes.max(1)).clamp(1, room / 6);
            let first = self.pairs.key(0);
            self.common = (1..n).fold(first.len(), |c, i| {
                let k = self.pairs.key(i);
                first[..c].iter().zip(k).take_while(|(a, b)| a == b).count()
            });
        }
        let hashes: Vec<u32> = (0..n).map(|i| hash(self.pairs.key(i))).collect();
        let first = self.first_inserts(&hashes);
        for i in 0..n {
            let (key, value) = self.pairs.get(i);
            let h = hashes[i];
            let need = self.item_size(key.len()) + self.item_size(value.len()) + 4;
            // __ham_lookup: along the bucket's chain, note the first page with more room
            // than the pair needs, and find the key if it is there.
            let mut p = self.heads[self.bucket(h) as usize];
            let mut room = NONE;
            let earlier = first[i];
            let found = loop {
                let page = &self.pages[p as usize];
                if room == NONE && need < page.free {
                    room = p;
                }
                if earlier != NONE
                    && let Some(pos) = page.items.iter().position(|s| s.key == earlier)
                {
                    break Some((p, pos));
                }
                if page.next == NONE {
                    break None;
                }
                p = page.next;
            };
            match found {
                None => {
                    debug_assert_eq!(earlier, NONE);
                    self.keys += 1;
                    let s = Slot {
                        skey: self.sort_key(key),
                        hash: h,
                        key: i as u32,
                        val: i as u32,
                        size: need,
                        kind: Data::Single,
                    };
                    self.insert(s, if room == NONE { p } else { room });
                }
                Some((p, pos)) if duplicates => self.add_dup(p, pos, i as u32),
                Some((p, pos)) => self.replace(p, pos, i as u32),
            }
        }
        Ok(())
    }

    /// For each pair, the earlier pair with the same key that was inserted first, or
    /// `NONE`. An open-addressing table of (hash, pair) probed by the key's hash: keys
    /// are compared only when the whole 32-bit hashes match, and the slots of a batch of
    /// keys are read together first so their cache misses overlap.
    fn first_inserts(&self, hashes: &[u32]) -> Vec<u32> {
        const BATCH: usize = 32;
        let n = hashes.len();
        let bits = (2 * n).max(16).next_power_of_two().trailing_zeros();
        let mask = (1usize << bits) - 1;
        let start = |h: u32| (h.wrapping_mul(0x9e37_79b1) >> (32 - bits)) as usize & mask;
        let mut table = vec![(0u32, NONE); 1usize << bits];
        let mut first = vec![NONE; n];
        for base in (0..n).step_by(BATCH) {
            let end = (base + BATCH).min(n);
            let mut touch = 0u32;
            for &h in &hashes[base..end] {
                touch ^= table[start(h)].0;
            }
            std::hint::black_box(touch);
            for i in base..end {
                let h = hashes[i];
                let mut slot = start(h);
                loop {
                    let (th, j) = table[slot];
                    if j == NONE {
                        table[slot] = (h, i as u32);
                        break;
                    }
                    if th == h && self.pairs.key(j as usize) == self.pairs.key(i) {
                        first[i] = j;
                        break;
                    }
                    slot = (slot + 1) & mask;
                }
            }
        }
        first
    }

    /// `__ham_add_el` for a new key on page `p` (the first with room, or the chain's last
    /// page), then `__ham_expand_table` if a page had to be added.
    fn insert(&mut self, s: Slot, mut p: u32) {
        let page = &self.pages[p as usize];
        let grow = page.free < s.size;
        if grow {
            p = self.add_page_after(p);
        }
        self.put_on(p, s);
        if grow {
            self.expand();
        }
    }

    /// One more bucket: split bucket `new & low_mask` into itself and `new`.
    fn expand(&mut self) {
        let new = self.max_bucket + 1;
        let old = new & self.low_mask;
        if self.max_bucket == self.high_mask {
            self.low_mask = self.high_mask;
            self.high_mask = new | self.low_mask;
        }
        self.max_bucket = new;
        let np = self.new_page();
        self.heads.push(np);
        // The old chain's pages, each read in slot (key) order; the pairs are appended to
        // the last page of their new bucket, which gets a new page when full.
        let head = self.heads[old as usize];
        let mut chain = vec![head];
        let mut p = self.pages[head as usize].next;
        while p != NONE {
            chain.push(p);
            p = self.pages[p as usize].next;
        }
        let multi = chain.len() > 1;
        let mut taken: Vec<Vec<Slot>> = Vec::with_capacity(chain.len());
        for &p in &chain {
            taken.push(std::mem::take(&mut self.pages[p as usize].items));
        }
        let hp = &mut self.pages[head as usize];
        hp.free = (self.ps - HDR) as u32;
        hp.next = NONE;
        for &p in &chain[1..] {
            self.unused.push(p);
        }
        let (mut to_old, mut to_new) = (head, np);
        for mut items in taken {
            // Within one page, the order only matters when a new bucket page can fill up,
            // which needs more than one page of pairs.
            if multi {
                self.sort_page(&mut items);
            }
            for s in items {
                let dest = if self.bucket(s.hash) == old {
                    &mut to_old
                } else {
                    &mut to_new
                };
                let mut d = *dest;
                if self.pages[d as usize].free < s.size {
                    d = self.add_page_after(d);
                    *dest = d;
                }
                self.put_on(d, s);
            }
        }
    }

    /// `__ham_overwrite` of a single value (`__ham_replpair`): in place when the new
    /// value fits, else the pair is deleted and added again from its page on.
    fn replace(&mut self, p: u32, pos: usize, pair: u32) {
        let s = self.pages[p as usize].items[pos];
        let old = self.value_of(s.val).len() as u64;
        let new = self.value_of(pair).len() as u64;
        let big = u64::from(self.big);
        let free = u64::from(self.pages[p as usize].free);
        if old > big || new > big || (new > old && new - old > free) {
            let mut s = self.take(p, pos);
            s.size = s.size - self.item_size(old as usize) + self.item_size(new as usize);
            s.val = pair;
            // __ham_add_el from the pair's page: the first page on with room, else a new
            // page after the last one (and the table grows).
            let mut q = p;
            loop {
                let page = &self.pages[q as usize];
                if page.items.is_empty() || page.next == NONE || page.free >= s.size {
                    break;
                }
                q = page.next;
            }
            self.insert(s, q);
        } else {
            let page = &mut self.pages[p as usize];
            page.free = (u64::from(page.free) + old - new) as u32;
            let s = &mut page.items[pos];
            s.size = (u64::from(s.size) + new - old) as u32;
            s.val = pair;
        }
    }

    /// `__ham_add_dup` (with `__ham_check_move`) for value `pair` of the pair at `pos` of
    /// page `p`.
    fn add_dup(&mut self, mut p: u32, mut pos: usize, pair: u32) {
        let vlen = self.value_of(pair).len() as u32;
        let s = self.pages[p as usize].items[pos];
        if s.kind == Data::OffPage {
            self.push_dup(s.key, pair);
            return;
        }
        let add = vlen.saturating_add(4);
        let mut expand = false;
        let big_single =
            s.kind == Data::Single && self.value_of(s.val).len() as u64 > u64::from(self.big);
        let ksize = self.item_size(self.key_of(&s).len());
        if !big_single {
            // __ham_check_move: will the grown item still fit where it is?
            let old_len = self.data_size(&s);
            let single_extra = if s.kind == Data::Single { 4 } else { 0 };
            let new_len = (old_len - 1)
                .saturating_add(add)
                .saturating_add(single_extra);
            let free = self.pages[p as usize].free;
            let stays = if new_len > self.big {
                old_len > HOFFDUP_SIZE || HOFFDUP_SIZE - old_len <= free
            } else {
                new_len - old_len <= free
            };
            if !stays {
                let moved = if new_len > self.big {
                    HOFFDUP_SIZE
                } else {
                    new_len + 1
                };
                let need = moved + ksize;
                let mut q = p;
                let target = loop {
                    let next = self.pages[q as usize].next;
                    if next == NONE {
                        break self.add_page_after(q);
                    }
                    q = next;
                    if self.pages[q as usize].free >= need {
                        break q;
                    }
                };
                let s = self.take(p, pos);
                self.put_on(target, s);
                p = target;
                pos = self.pages[p as usize].items.len() - 1;
                // A moved pair makes the table grow, wherever it went.
                expand = true;
            }
        }
        let s = self.pages[p as usize].items[pos];
        let dsize = self.data_size(&s);
        // A single value becomes a duplicate set: its own length fields count too.
        let single_extra = if s.kind == Data::Single { 4 } else { 0 };
        let add = add.saturating_add(single_extra);
        let new_size = (dsize - 1).saturating_add(add);
        let page = &mut self.pages[p as usize];
        let slot = &mut page.items[pos];
        if big_single || new_size > self.big || add > page.free {
            // __ham_dup_convert: the values go to a duplicate tree.
            page.free = page.free + dsize - HOFFDUP_SIZE;
            slot.size = slot.size - dsize + HOFFDUP_SIZE;
            slot.kind = Data::OffPage;
        } else {
            let grow = new_size + 1 - dsize;
            page.free -= grow;
            slot.size += grow;
            slot.kind = Data::OnPage;
        }
        self.push_dup(s.key, pair);
        if expand {
            self.expand();
        }
    }

    fn push_dup(&mut self, key: u32, pair: u32) {
        self.dups.entry(key).or_default().push(pair);
    }

    /// The values of the pair in `s`, in order.
    fn values(&self, s: &Slot) -> Vec<&'a [u8]> {
        let mut v = vec![self.value_of(s.val)];
        if let Some(more) = self.dups.get(&s.key) {
            v.extend(more.iter().map(|&p| self.value_of(p)));
        }
        v
    }

    /// Writes the modelled table: meta page, bucket pages, chain pages, then overflow
    /// and duplicate-tree pages.
    fn write<W: std::io::Write>(mut self, out: &mut W, nelem: u32, duplicates: bool) -> Result<()> {
        let ps = self.ps;
        let room = ps - HDR;
        let big = self.big as usize;
        let nb = self.max_bucket as usize + 1;
        // Pages for every bucket of the current doubling: libdb's verifier wants the
        // pages of the buckets not yet in use (max_bucket < b <= high_mask) empty.
        let reserved = self.high_mask as usize + 1;
        let too_big = |n: u64| Error::TooLarge {
            what: "database",
            size: usize::try_from(n).unwrap_or(usize::MAX),
            maximum: u32::MAX as usize,
        };
        // File order of the model pages, and their page numbers and back links.
        let mut order: Vec<u32> = Vec::with_capacity(self.pages.len());
        let mut pgno = vec![0u32; self.pages.len()];
        let mut prev = vec![0u32; self.pages.len()];
        for (b, &h) in self.heads.iter().enumerate() {
            pgno[h as usize] = 1 + b as u32;
            order.push(h);
        }
        let mut next_pg: u64 = 1 + reserved as u64;
        for &h in &self.heads {
            let (mut last, mut p) = (h, self.pages[h as usize].next);
            while p != NONE {
                pgno[p as usize] = u32::try_from(next_pg).map_err(|_| too_big(next_pg))?;
                prev[p as usize] = pgno[last as usize];
                next_pg += 1;
                order.push(p);
                last = p;
                p = self.pages[p as usize].next;
            }
        }
        // Pairs sorted on each page; overflow and duplicate pages numbered after.
        enum Extra {
            Over { pair: u32, key: bool, first: u32 },
            Tree { slot: Slot, first: u32 },
        }
        let mut extras: Vec<Extra> = Vec::new();
        let mut off_key: HashMap<u32, u32> = HashMap::new();
        let mut off_data: HashMap<u32, u32> = HashMap::new();
        let mut tree_root: HashMap<u32, u32> = HashMap::new();
        let ovfl = crate::btree::overflow_size(ps as u32);
        let pairs = self.pairs;
        for &p in &order {
            let mut items = std::mem::take(&mut self.pages[p as usize].items);
            self.sort_page(&mut items);
            for s in &items {
                let klen = self.key_of(s).len();
                let at = u32::try_from(next_pg).map_err(|_| too_big(next_pg))?;
                if klen > big {
                    off_key.insert(s.key, at);
                    extras.push(Extra::Over {
                        pair: s.key,
                        key: true,
                        first: at,
                    });
                    next_pg += klen.div_ceil(room) as u64;
                }
                let at = u32::try_from(next_pg).map_err(|_| too_big(next_pg))?;
                match s.kind {
                    Data::Single => {
                        let vlen = self.value_of(s.val).len();
                        if vlen > big {
                            off_data.insert(s.key, at);
                            extras.push(Extra::Over {
                                pair: s.val,
                                key: false,
                                first: at,
                            });
                            next_pg += vlen.div_ceil(room) as u64;
                        }
                    }
                    Data::OnPage => {}
                    Data::OffPage => {
                        let values = self.values(s);
                        let n = crate::dups::tree_pages(&values, ps, ovfl);
                        tree_root.insert(s.key, crate::dups::tree_root(&values, ps, at, ovfl));
                        extras.push(Extra::Tree {
                            slot: *s,
                            first: at,
                        });
                        next_pg += n as u64;
                    }
                }
            }
            self.pages[p as usize].items = items;
        }
        let last_pgno = u32::try_from(next_pg - 1).map_err(|_| too_big(next_pg))?;
        let io = |source| Error::Io {
            path: PathBuf::new(),
            source,
        };
        let masks = (self.max_bucket, self.high_mask, self.low_mask);
        out.write_all(&meta_page(
            ps, last_pgno, masks, nelem, duplicates, self.keys,
        ))
        .map_err(io)?;
        let mut buf = vec![0u8; ps];
        // The unused buckets' pages: never written by libdb (zeros) but for the last one.
        let write_unused = |out: &mut W, buf: &mut Vec<u8>| -> Result<()> {
            for b in nb..reserved {
                buf.fill(0);
                if b + 1 == reserved {
                    header(buf, 1 + b as u32, 0, 0, 0, ps as u16, P_HASH);
                }
                out.write_all(buf).map_err(io)?;
            }
            Ok(())
        };
        for (n, &p) in order.iter().enumerate() {
            if n == nb {
                write_unused(out, &mut buf)?;
            }
            let page = &self.pages[p as usize];
            // The pairs of a page lie anywhere in memory: read a byte of each first, so
            // that their cache misses overlap instead of stalling the copies one by one.
            let mut touch = 0u8;
            for s in &page.items {
                let (k, v) = pairs.get(s.val as usize);
                touch ^= k.first().copied().unwrap_or(0) ^ v.first().copied().unwrap_or(0);
            }
            std::hint::black_box(touch);
            let mut top = ps;
            let mut slot = HDR;
            for s in &page.items {
                let key = self.key_of(s);
                if let Some(&first) = off_key.get(&s.key) {
                    top -= HOFFPAGE_SIZE;
                    buf[top] = H_OFFPAGE;
                    buf[top + 1..top + 4].fill(0);
                    put32(&mut buf, top + 4, first);
                    put32(&mut buf, top + 8, key.len() as u32);
                } else {
                    top -= key.len() + 1;
                    buf[top] = H_KEYDATA;
                    buf[top + 1..top + 1 + key.len()].copy_from_slice(key);
                }
                put16(&mut buf, slot, top as u16);
                slot += 2;
                match s.kind {
                    Data::Single => {
                        let v = self.value_of(s.val);
                        if let Some(&first) = off_data.get(&s.key) {
                            top -= HOFFPAGE_SIZE;
                            buf[top] = H_OFFPAGE;
                            buf[top + 1..top + 4].fill(0);
                            put32(&mut buf, top + 4, first);
                            put32(&mut buf, top + 8, v.len() as u32);
                        } else {
                            top -= v.len() + 1;
                            buf[top] = H_KEYDATA;
                            buf[top + 1..top + 1 + v.len()].copy_from_slice(v);
                        }
                    }
                    Data::OnPage => {
                        let dsize = self.data_size(s) as usize;
                        top -= dsize;
                        buf[top] = H_DUPLICATE;
                        let mut at = top + 1;
                        for v in self.values(s) {
                            put16(&mut buf, at, v.len() as u16);
                            buf[at + 2..at + 2 + v.len()].copy_from_slice(v);
                            put16(&mut buf, at + 2 + v.len(), v.len() as u16);
                            at += v.len() + 4;
                        }
                        debug_assert_eq!(at, top + dsize);
                    }
                    Data::OffPage => {
                        top -= HOFFDUP_SIZE as usize;
                        buf[top] = H_OFFDUP;
                        buf[top + 1..top + 4].fill(0);
                        put32(&mut buf, top + 4, tree_root[&s.key]);
                    }
                }
                put16(&mut buf, slot, top as u16);
                slot += 2;
            }
            debug_assert_eq!(top - slot, page.free as usize);
            // Between the index and the items: zeros.
            buf[slot..top].fill(0);
            let next = if page.next == NONE {
                0
            } else {
                pgno[page.next as usize]
            };
            header(
                &mut buf,
                pgno[p as usize],
                prev[p as usize],
                next,
                ((slot - HDR) / 2) as u16,
                top as u16,
                P_HASH,
            );
            out.write_all(&buf).map_err(io)?;
        }
        if order.len() == nb {
            write_unused(out, &mut buf)?;
        }
        for x in extras {
            match x {
                Extra::Over { pair, key, first } => {
                    let (k, v) = pairs.get(pair as usize);
                    let bytes = if key { k } else { v };
                    let n = bytes.len().div_ceil(room);
                    for (j, chunk) in bytes.chunks(room).enumerate() {
                        buf.fill(0);
                        let pg = first + j as u32;
                        let pv = if j == 0 { 0 } else { pg - 1 };
                        let nx = if j + 1 == n { 0 } else { pg + 1 };
                        buf[HDR..HDR + chunk.len()].copy_from_slice(chunk);
                        header(&mut buf, pg, pv, nx, 1, chunk.len() as u16, P_OVERFLOW);
                        out.write_all(&buf).map_err(io)?;
                    }
                }
                Extra::Tree { slot, first } => {
                    let (_, pages) = crate::dups::write_tree(&self.values(&slot), ps, first, ovfl);
                    for pg in pages {
                        out.write_all(&pg).map_err(io)?;
                    }
                }
            }
        }
        Ok(())
    }
}

fn put16(buf: &mut [u8], at: usize, v: u16) {
    buf[at..at + 2].copy_from_slice(&v.to_le_bytes());
}

fn put32(buf: &mut [u8], at: usize, v: u32) {
    buf[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

/// Writes the 26-byte page header (LSN file 0, offset 1; level 0).
fn header(buf: &mut [u8], pgno: u32, prev: u32, next: u32, entries: u16, hf: u16, ptype: u8) {
    put32(buf, 0, 0);
    put32(buf, 4, 1);
    put32(buf, 8, pgno);
    put32(buf, 12, prev);
    put32(buf, 16, next);
    put16(buf, 20, entries);
    put16(buf, 22, hf);
    buf[24] = 0;
    buf[25] = ptype;
}

/// The meta page: buckets 0 … `max_bucket` on pages 1 … `max_bucket + 1`.
fn meta_page(
    ps: usize,
    last_pgno: u32,
    (max_bucket, high_mask, low_mask): (u32, u32, u32),
    nelem: u32,
    duplicates: bool,
    keys: usize,
) -> Vec<u8> {
    let mut m = vec![0u8; ps];
    put32(&mut m, 4, 1);
    put32(&mut m, 12, HASH_MAGIC);
    put32(&mut m, 16, HASH_VERSION);
    put32(&mut m, 20, ps as u32);
    m[25] = P_HASHMETA;
    put32(&mut m, 32, last_pgno);
    if duplicates {
        put32(&mut m, 48, DB_HASH_DUP);
    }
    // File id: libdb's is inode, device, random bits, serial, 0; nothing checks it.
    // Derived from the shape so equal inputs give equal files.
    put32(&mut m, 52, hash(&last_pgno.to_le_bytes()));
    put32(&mut m, 56, keys as u32);
    put32(&mut m, 60, last_pgno ^ 0x6366_6d70);
    put32(&mut m, 64, max_bucket);
    put32(&mut m, 72, max_bucket);
    put32(&mut m, 76, high_mask);
    put32(&mut m, 80, low_mask);
    put32(&mut m, 88, nelem);
    put32(&mut m, 92, hash(CHARKEY));
    for k in 0..=ceil_log2(max_bucket + 1) as usize {
        put32(&mut m, 96 + 4 * k, 1);
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_examples() {
        assert_eq!(hash(b"a"), 0x61);
        assert_eq!(hash(b"natureplus.com"), 0x541c_1338);
        assert_eq!(hash(b"cyberpromo.com"), 0xcf85_6e0d);
        assert_eq!(hash(b"honey@sweeties.com"), 0x5dd4_478b);
        assert_eq!(hash(b"user@screwedup.domain"), 0xbc1e_5f05);
        assert_eq!(hash(CHARKEY), 0x5e68_8dd1);
    }

    #[test]
    fn log2() {
        let want = [
            (0, 0),
            (1, 0),
            (2, 1),
            (3, 2),
            (4, 2),
            (5, 3),
            (8, 3),
            (9, 4),
        ];
        for (n, k) in want {
            assert_eq!(ceil_log2(n), k, "{n}");
        }
        assert_eq!(ceil_log2(u32::MAX), 32);
    }

    #[test]
    fn roundtrip_small() {
        let mut b = Builder::new();
        b.insert(b"k", b"v");
        b.insert(b"k", b"w");
        b.insert(b"", b"");
        b.insert(&[0u8; 2000], &[7u8; 9000]);
        assert_eq!(b.len(), 3);
        let mut out = Vec::new();
        b.write_to(&mut out).unwrap();
        let r = Reader::from_bytes(Path::new("t"), out).unwrap();
        assert_eq!(r.get(b"k").unwrap(), Some(b"w".to_vec()));
        assert_eq!(r.get(b"").unwrap(), Some(Vec::new()));
        assert_eq!(r.get(&[0u8; 2000]).unwrap(), Some(vec![7u8; 9000]));
        assert_eq!(r.get(b"x").unwrap(), None);
        assert_eq!(r.iter().count(), 3);
    }

    #[test]
    fn bad_page_size() {
        let mut out = Vec::new();
        assert!(Builder::new().page_size(1000).write_to(&mut out).is_err());
    }
}
