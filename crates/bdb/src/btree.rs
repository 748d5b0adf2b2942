//! Btree access method: a reader for files libdb 5.3 made (either byte order) and a bulk
//! writer whose files libdb, `db5.3_verify`, `makemap -u` and sendmail accept.
//!
//! Common page and meta fields are in [`crate::page`]. What is specific to btree:
//!
//! # Btree meta (page 0, after the common header)
//!
//! | offset | size | field | value written | read |
//! |---|---|---|---|---|
//! | 72 | 4 | unused | 0 | ignored |
//! | 76 | 4 | `minkey` | 2 | ignored (derived: overflow threshold) |
//! | 80 | 4 | `re_len` | 0 | ignored (recno only) |
//! | 84 | 4 | `re_pad` | 0x20 | ignored (recno only) |
//! | 88 | 4 | `root` | 1 | root page of the tree |
//! | 92 | 368 | unused | 0 | ignored |
//! | 460 | 52 | crypto magic, IV, checksum | 0 | ignored |
//!
//! Meta `flags` (offset 48): 0x01 DUP (allowed: [`Reader::get`] returns the first value,
//! [`Reader::iter`] every one),
//! 0x02 RECNO (refused), 0x20 SUBDB and 0x80 COMPRESS (unsupported), others ignored.
//!
//! # Items (each starts on a 4-byte boundary; its size is rounded up to 4)
//!
//! `BKEYDATA` (leaf key or data):
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 2 | `len` |
//! | 2 | 1 | `type`: 1 = key/data; 0x80 bit = deleted |
//! | 3 | `len` | bytes |
//!
//! `BOVERFLOW` (12 bytes, an item longer than `ovflsize = (pagesize − 26)/(2·minkey) − 10`):
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 2 | unused (garbage in libdb files; 0 here) |
//! | 2 | 1 | `type` = 3 |
//! | 3 | 1 | unused |
//! | 4 | 4 | `pgno`: first overflow page |
//! | 8 | 4 | `tlen`: total length |
//!
//! `B_DUPLICATE` (12 bytes, shaped like `BOVERFLOW` with `type` = 2 and `tlen` 0): in a
//! data slot, the root page of an off-page duplicate tree ([`crate::dups`]).
//!
//! `BINTERNAL` (internal pages):
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 2 | `len` (12 when the key is on overflow pages) |
//! | 2 | 1 | `type`: 1, or 3 = key on overflow pages, a `BOVERFLOW` follows at 12 |
//! | 3 | 1 | unused |
//! | 4 | 4 | `pgno`: child page |
//! | 8 | 4 | `nrecs`: 0 |
//! | 12 | `len` | key bytes (slot 0: empty, never compared) |
//!
//! # Pages
//!
//! Leaf (type 5, level 1): slot `2j` = key, `2j+1` = data of pair *j*, ascending key
//! order (unsigned bytes, shorter first); leaves chained by `prev_pgno`/`next_pgno`.
//! Internal (type 3, level ≥ 2): one `BINTERNAL` per child; slot *k* > 0 holds a
//! separator `s` with `max(child k−1) < s ≤ min(child k)`.
//!
//! # The writer's layout
//!
//! Page 0 meta, page 1 the root (the only leaf, or the top internal page), the other
//! internal pages top-down, then the leaves left to right, then the overflow chains and
//! duplicate trees in the order the pages above refer to them. Pages are written as they
//! are made (one page buffer). Leaves are filled as full as the page allows;
//! separators are the shortest prefix of the right-hand first key that sorts above the
//! left-hand last key. No free pages.
//!
//! With duplicates (`DB_DUP`, meta flag 0x01) the values of a key keep their insertion
//! order. On a leaf they are consecutive pairs of slots whose key slots all point at one
//! key item (as libdb stores them); a set that takes a quarter of a page or more
//! (key once, every value, their index slots: `__bam_dup_check`'s rule) goes to an
//! off-page duplicate tree, and the leaf holds the key and a `B_DUPLICATE` item. A set of
//! duplicates never spans two leaves.
//!
//! # Reading untrusted files
//!
//! Every offset, length and page number is checked; descent requires the level to drop by
//! one at each step, the leaf chain and overflow chains are checked for loops, and no
//! allocation is larger than the file. Problems are [`Error::Corrupt`].

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::page::{
    self, BTREE_MAGIC, File, P_BTREEMETA, P_IBTREE, P_LBTREE, P_OVERFLOW, PAGE_HEADER_SIZE, Page,
    put_u16, put_u32,
};

/// Item types (byte 2 of an item).
const B_KEYDATA: u8 = 1;
const B_DUPLICATE: u8 = 2;
const B_OVERFLOW: u8 = 3;
const B_DELETED: u8 = 0x80;

/// Meta flags.
const BTM_DUP: u32 = 0x01;
const BTM_RECNO: u32 = 0x02;
const BTM_SUBDB: u32 = 0x20;
const BTM_COMPRESS: u32 = 0x80;

/// Size of a `BOVERFLOW` item and of a `BINTERNAL` header.
const BOVERFLOW_SIZE: usize = 12;
const BINTERNAL_SIZE: usize = 12;

/// The `minkey` the writer uses (libdb's default, makemap's value).
const MINKEY: usize = 2;

/// Page size makemap uses on this platform (ext4, tmpfs, overlayfs).
pub const DEFAULT_PAGE_SIZE: u32 = 4096;

/// Largest page size the writer produces (a 64 KiB page's free-space offset does not fit
/// the 16-bit header field).
pub const MAX_WRITE_PAGE_SIZE: u32 = 32768;

/// Items longer than this are moved to overflow pages (1007 for 4096-byte pages).
pub fn overflow_size(page_size: u32) -> usize {
    (page_size as usize - PAGE_HEADER_SIZE) / (2 * MINKEY) - 10
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

// ---------------------------------------------------------------------------------------
// Reader
// ---------------------------------------------------------------------------------------

/// A btree file loaded into memory.
#[derive(Debug)]
pub struct Reader {
    file: File,
    root: u32,
}

/// A decoded item: bytes on the page or an overflow reference.
enum Raw<'a> {
    Inline(&'a [u8]),
    Overflow {
        pgno: u32,
        len: u32,
    },
    /// `B_DUPLICATE`: root of an off-page duplicate tree (data slots only).
    Dups(u32),
}

impl Reader {
    /// Read the file at `path`.
    pub fn open(path: &Path) -> Result<Reader> {
        let file = File::open(path, "btree", BTREE_MAGIC)?;
        Reader::from_file(file)
    }

    /// Use `bytes` as the file's contents; `path` is only used in messages.
    pub fn from_bytes(path: &Path, bytes: Vec<u8>) -> Result<Reader> {
        Reader::from_file(File::new(path, bytes, "btree", BTREE_MAGIC)?)
    }

    fn from_file(file: File) -> Result<Reader> {
        let path = file.path.clone();
        let meta = &file.meta;
        if meta.page_type != P_BTREEMETA {
            return Err(file.corrupt(0, format!("meta page type {}", meta.page_type)));
        }
        if meta.flags & BTM_RECNO != 0 {
            return Err(Error::WrongType {
                path,
                expected: "btree",
                found: "recno database".into(),
            });
        }
        if meta.flags & BTM_SUBDB != 0 {
            return Err(Error::Unsupported {
                path,
                what: "sub-databases".into(),
            });
        }
        if meta.flags & BTM_COMPRESS != 0 {
            return Err(Error::Unsupported {
                path,
                what: "compressed btree".into(),
            });
        }
        let root = file.page(0)?.u32(88)?;
        if root == 0 || root >= file.page_count() {
            return Err(file.corrupt(0, format!("root page {root} outside the file")));
        }
        Ok(Reader { file, root })
    }

    /// Page size taken from the meta page.
    pub fn page_size(&self) -> u32 {
        self.file.meta.page_size
    }

    /// Whether the file stores duplicates (meta flag DUP).
    pub fn has_duplicates(&self) -> bool {
        self.file.meta.flags & 0x01 != 0
    }

    /// Byte order of the file.
    pub fn byte_order(&self) -> page::ByteOrder {
        self.file.meta.order
    }

    /// The first value stored under `key` (libdb's default byte-wise comparison).
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let leaf = self.descend(Some(key))?;
        let n = leaf.header().entries as usize / 2;
        // Lower bound: first pair whose key is >= `key`.
        let (mut lo, mut hi) = (0usize, n);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let k = self.item(&leaf, 2 * mid)?;
            if self.bytes_of(k.1)?.as_ref() < key {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        for j in lo..n {
            let (kflags, k) = self.item(&leaf, 2 * j)?;
            if self.bytes_of(k)?.as_ref() != key {
                break;
            }
            let (dflags, d) = self.item(&leaf, 2 * j + 1)?;
            if (kflags | dflags) & B_DELETED != 0 {
                continue;
            }
            return Ok(Some(self.materialize(d)?));
        }
        Ok(None)
    }

    /// Every pair in key order (duplicates in stored order). Stops after the first error.
    pub fn iter(&self) -> impl Iterator<Item = Result<(Vec<u8>, Vec<u8>)>> + '_ {
        Iter {
            reader: self,
            state: None,
            visited: Vec::new(),
            overflow_seen: Vec::new(),
            last_key: None,
            pending: Vec::new(),
            done: false,
        }
    }

    /// Walk from the root to a leaf: the one that may hold `key`, or the leftmost leaf.
    fn descend(&self, key: Option<&[u8]>) -> Result<Page<'_>> {
        let mut pgno = self.root;
        let mut expect_level: Option<u8> = None;
        loop {
            let page = self.file.page(pgno)?;
            let h = page.header();
            if let Some(l) = expect_level
                && h.level != l
            {
                return Err(page.corrupt(format!(
                    "level {} below a level {} page",
                    h.level,
                    l + 1
                )));
            }
            match (h.page_type, h.level) {
                (P_LBTREE, 1) => {
                    if h.entries % 2 != 0 {
                        return Err(page.corrupt(format!("leaf with {} slots", h.entries)));
                    }
                    return Ok(page);
                }
                (P_IBTREE, l) if l >= 2 => {
                    let n = h.entries as usize;
                    if n == 0 {
                        return Err(page.corrupt("internal page without entries"));
                    }
                    let mut slot = 0;
                    if let Some(key) = key {
                        // Last slot k >= 1 whose key <= `key`; slot 0 is minus infinity.
                        let (mut lo, mut hi) = (1usize, n);
                        while lo < hi {
                            let mid = lo + (hi - lo) / 2;
                            if self.internal_key(&page, mid)?.as_ref() <= key {
                                lo = mid + 1;
                            } else {
                                hi = mid;
                            }
                        }
                        slot = lo - 1;
                    }
                    let off = page.slot(slot)?;
                    pgno = page.u32(off + 4)?;
                    expect_level = Some(l - 1);
                }
                (t, l) => {
                    return Err(page.corrupt(format!("type {t} level {l} in the tree")));
                }
            }
        }
    }

    /// The key of a `BINTERNAL` item.
    fn internal_key<'p>(&self, page: &Page<'p>, slot: usize) -> Result<std::borrow::Cow<'p, [u8]>> {
        let off = page.slot(slot)?;
        let len = page.u16(off)? as usize;
        let ty = page.bytes(off + 2, 1)?[0] & !B_DELETED;
        match ty {
            B_KEYDATA => Ok(std::borrow::Cow::Borrowed(
                page.bytes(off + BINTERNAL_SIZE, len)?,
            )),
            B_OVERFLOW => {
                let o = off + BINTERNAL_SIZE;
                let pgno = page.u32(o + 4)?;
                let tlen = page.u32(o + 8)?;
                self.file
                    .read_overflow(pgno, tlen)
                    .map(std::borrow::Cow::Owned)
            }
            t => Err(page.corrupt(format!("internal item of type {t}"))),
        }
    }

    /// The item in `slot` of a leaf: its flags (deleted bit) and contents.
    #[inline]
    fn item<'p>(&self, page: &Page<'p>, slot: usize) -> Result<(u8, Raw<'p>)> {
        let off = page.slot(slot)?;
        let ty = page.bytes(off + 2, 1)?[0];
        match ty & !B_DELETED {
            B_KEYDATA => {
                let len = page.u16(off)? as usize;
                Ok((ty, Raw::Inline(page.bytes(off + 3, len)?)))
            }
            B_OVERFLOW => {
                let pgno = page.u32(off + 4)?;
                let len = page.u32(off + 8)?;
                Ok((ty, Raw::Overflow { pgno, len }))
            }
            B_DUPLICATE if slot % 2 == 1 => Ok((ty, Raw::Dups(page.u32(off + 4)?))),
            t => Err(page.corrupt(format!("item of type {t} in slot {slot}"))),
        }
    }

    /// An item's bytes, borrowed from the page when they are on it (key comparisons
    /// during a lookup then copy nothing).
    fn bytes_of<'a>(&self, raw: Raw<'a>) -> Result<std::borrow::Cow<'a, [u8]>> {
        match raw {
            Raw::Inline(b) => Ok(std::borrow::Cow::Borrowed(b)),
            other => self.materialize(other).map(std::borrow::Cow::Owned),
        }
    }

    fn materialize(&self, raw: Raw<'_>) -> Result<Vec<u8>> {
        match raw {
            Raw::Inline(b) => Ok(b.to_vec()),
            Raw::Overflow { pgno, len } => self.file.read_overflow(pgno, len),
            Raw::Dups(root) => crate::dups::read_tree(self, root)?
                .into_iter()
                .next()
                .ok_or_else(|| self.file.corrupt(root, "empty duplicate tree")),
        }
    }
}

impl crate::dups::PageSource for Reader {
    fn page_bytes(&self, pgno: u32) -> Result<&[u8]> {
        Ok(self.file.page(pgno)?.data)
    }
    fn byte_order(&self) -> page::ByteOrder {
        self.file.meta.order
    }
    fn page_total(&self) -> u32 {
        self.file.page_count()
    }
    fn corrupt_at(&self, pgno: u32, what: String) -> Error {
        self.file.corrupt(pgno, what)
    }
    fn overflow_item(&self, _from: u32, first: u32, len: u32) -> Result<Vec<u8>> {
        self.file.read_overflow(first, len)
    }
}

/// Iterator over the leaf chain.
struct Iter<'r> {
    reader: &'r Reader,
    /// Current leaf and next pair index on it.
    state: Option<(u32, usize)>,
    /// Pages already visited (loop detection), one bit per page.
    visited: Vec<u64>,
    /// Overflow pages already read for a data item, one bit per page.
    overflow_seen: Vec<u64>,
    /// The last key returned: its leaf, item offset and bytes.
    last_key: Option<(u32, usize, Vec<u8>)>,
    /// Values of an off-page duplicate set still to return, in reverse order.
    pending: Vec<Vec<u8>>,
    done: bool,
}

/// Set bit `pgno` in `bits` (sized for `pages` pages on first use); false if it was set
/// already or lies beyond the file.
fn mark(bits: &mut Vec<u64>, pages: usize, pgno: u32) -> bool {
    if bits.is_empty() {
        *bits = vec![0; pages / 64 + 1];
    }
    let (w, b) = (pgno as usize / 64, pgno % 64);
    match bits.get_mut(w) {
        Some(word) if *word & (1 << b) == 0 => {
            *word |= 1 << b;
            true
        }
        _ => false,
    }
}

impl Iter<'_> {
    fn visit(&mut self, pgno: u32) -> bool {
        mark(
            &mut self.visited,
            self.reader.file.page_count() as usize,
            pgno,
        )
    }

    fn step(&mut self) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        let r = self.reader;
        if let Some(v) = self.pending.pop() {
            let key = self
                .last_key
                .as_ref()
                .map(|k| k.2.clone())
                .unwrap_or_default();
            return Ok(Some((key, v)));
        }
        let (mut pgno, mut idx) = match self.state {
            Some(s) => s,
            None => {
                let leaf = r.descend(None)?;
                if !self.visit(leaf.pgno) {
                    return Err(leaf.corrupt("page visited twice"));
                }
                (leaf.pgno, 0)
            }
        };
        loop {
            let page = r.file.page(pgno)?;
            let h = page.header();
            if h.page_type != P_LBTREE || h.level != 1 || h.entries % 2 != 0 {
                return Err(page.corrupt(format!(
                    "leaf chain reaches a page of type {} level {} with {} slots",
                    h.page_type, h.level, h.entries
                )));
            }
            while 2 * idx < h.entries as usize {
                let (kf, k) = r.item(&page, 2 * idx)?;
                let (df, d) = r.item(&page, 2 * idx + 1)?;
                idx += 1;
                if (kf | df) & B_DELETED != 0 {
                    continue;
                }
                self.state = Some((pgno, idx));
                // Duplicates share one key item: reuse it instead of reading it again.
                let koff = page.slot(2 * idx - 2)?;
                let key = match self.last_key.take() {
                    Some((p, o, key)) if p == pgno && o == koff => key,
                    _ => r.materialize(k)?,
                };
                // A data item's overflow pages belong to it alone.
                let data = match d {
                    Raw::Dups(root) => {
                        let mut values = crate::dups::read_tree(r, root)?;
                        values.reverse();
                        let first = values.pop().unwrap_or_default();
                        self.pending = values;
                        first
                    }
                    Raw::Inline(b) => b.to_vec(),
                    Raw::Overflow { pgno: first, len } => {
                        let seen = &mut self.overflow_seen;
                        let pages = r.file.page_count() as usize;
                        r.file
                            .read_overflow_with(first, len, &mut |p| mark(seen, pages, p))?
                    }
                };
                self.last_key = Some((pgno, koff, key.clone()));
                return Ok(Some((key, data)));
            }
            if h.next_pgno == 0 {
                return Ok(None);
            }
            if h.next_pgno >= r.file.page_count() {
                return Err(page.corrupt(format!(
                    "next leaf {} beyond the end of the file",
                    h.next_pgno
                )));
            }
            if !self.visit(h.next_pgno) {
                return Err(page.corrupt(format!("leaf chain loops back to page {}", h.next_pgno)));
            }
            pgno = h.next_pgno;
            idx = 0;
            self.state = Some((pgno, idx));
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
            Ok(Some(pair)) => Some(Ok(pair)),
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

// ---------------------------------------------------------------------------------------
// Writer
// ---------------------------------------------------------------------------------------

/// Collects pairs and writes a whole btree file (little-endian; duplicates on request).
#[derive(Clone, Debug)]
pub struct Builder {
    page_size: u32,
    duplicates: bool,
    /// In insertion order, repeats included; sorted and deduplicated by `build` (one
    /// sort is much cheaper than a `BTreeMap` insert per pair).
    pairs: crate::pairs::Pairs,
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

/// The pairs of one key (several with duplicates).
struct Group {
    range: std::ops::Range<usize>,
    /// The values go to an off-page duplicate tree.
    off: bool,
}

/// The groups of the sorted pairs: one per pair without duplicates (nothing stored),
/// else their boundaries.
enum Groups {
    Single(usize),
    Dups(Vec<Group>),
}

impl Groups {
    fn len(&self) -> usize {
        match self {
            Groups::Single(n) => *n,
            Groups::Dups(g) => g.len(),
        }
    }

    fn get(&self, i: usize) -> Group {
        match self {
            Groups::Single(_) => Group {
                range: i..i + 1,
                off: false,
            },
            Groups::Dups(g) => Group {
                range: g[i].range.clone(),
                off: g[i].off,
            },
        }
    }

    fn iter(&self, range: std::ops::Range<usize>) -> impl Iterator<Item = Group> + '_ {
        range.map(|i| self.get(i))
    }
}

/// One internal or leaf node of the tree being built.
struct Node {
    /// Separator for this node in its parent (empty for the leftmost node of a level).
    low_key: Vec<u8>,
    /// Leaf: range of groups. Internal: range of child node indices one level down.
    range: std::ops::Range<usize>,
}

impl Builder {
    /// An empty builder with makemap's page size here ([`DEFAULT_PAGE_SIZE`]).
    pub fn new() -> Builder {
        Builder {
            page_size: DEFAULT_PAGE_SIZE,
            duplicates: false,
            pairs: Default::default(),
        }
    }

    /// Page size: a power of two from 512 to [`MAX_WRITE_PAGE_SIZE`]; other values make
    /// [`Builder::write_to`] fail with [`Error::Unsupported`].
    pub fn page_size(mut self, n: u32) -> Builder {
        self.page_size = n;
        self
    }

    /// Keep every value of a repeated key, in insertion order (`DB_DUP`, makemap `-d`);
    /// the meta page gets the DUP flag.
    pub fn duplicates(mut self, keep: bool) -> Builder {
        self.duplicates = keep;
        self
    }

    /// Add a pair; a later insert of the same key replaces the earlier value (or, with
    /// [`Builder::duplicates`], adds another one).
    pub fn insert(&mut self, key: &[u8], value: &[u8]) {
        self.pairs.push(key, value);
    }

    /// Number of distinct keys (counted: this sorts the keys).
    pub fn len(&self) -> usize {
        self.pairs.distinct_len()
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// Write the whole file.
    pub fn write_to<W: std::io::Write>(self, out: &mut W) -> Result<()> {
        let ps = self.page_size;
        if !(page::MIN_PAGE_SIZE..=MAX_WRITE_PAGE_SIZE).contains(&ps) || !ps.is_power_of_two() {
            return Err(Error::Unsupported {
                path: PathBuf::from("<btree output>"),
                what: format!(
                    "page size {ps} (use a power of two from 512 to {MAX_WRITE_PAGE_SIZE})"
                ),
            });
        }
        if self.pairs.longest > u32::MAX as usize {
            return Err(Error::TooLarge {
                what: "key or value",
                size: self.pairs.longest,
                maximum: u32::MAX as usize,
            });
        }
        let psz = ps as usize;
        let ovfl = overflow_size(ps);
        let per = psz - PAGE_HEADER_SIZE;
        let (pairs, new_key) = if self.duplicates {
            self.pairs.sorted_all()
        } else {
            (self.pairs.sorted_last_wins(), Vec::new())
        };
        let leaf_item = |b: &[u8]| {
            if b.len() > ovfl {
                BOVERFLOW_SIZE
            } else {
                align4(b.len() + 3)
            }
        };
        let internal_item = |b: &[u8]| {
            if b.len() > ovfl {
                BINTERNAL_SIZE + BOVERFLOW_SIZE
            } else {
                align4(b.len() + BINTERNAL_SIZE)
            }
        };

        // Groups of pairs with one key (more than one only with duplicates). A set of
        // duplicates shares one key item on the leaf; one that takes a quarter of a page
        // or more goes to an off-page duplicate tree (as __bam_dup_check decides), and
        // the leaf keeps the key and a B_DUPLICATE item.
        let groups = if self.duplicates {
            let mut groups: Vec<Group> = Vec::new();
            let mut i = 0;
            while i < pairs.len() {
                let mut j = i + 1;
                while j < pairs.len() && !new_key[j] {
                    j += 1;
                }
                let off = j - i > 1 && {
                    let k = leaf_item(pairs[i].0) + 2;
                    let d: usize = pairs[i..j].iter().map(|p| leaf_item(p.1) + 2).sum();
                    k + d >= psz / 4
                };
                groups.push(Group { range: i..j, off });
                i = j;
            }
            Groups::Dups(groups)
        } else {
            Groups::Single(pairs.len())
        };
        let group_cost = |g: &Group| {
            let k = leaf_item(pairs[g.range.start].0);
            if g.off {
                4 + k + BOVERFLOW_SIZE
            } else {
                k + pairs[g.range.clone()]
                    .iter()
                    .map(|p| 4 + leaf_item(p.1))
                    .sum::<usize>()
            }
        };

        // Leaves: ranges of groups.
        let mut levels: Vec<Vec<Node>> = Vec::new();
        let mut leaves: Vec<Node> = Vec::new();
        let mut start = 0;
        let mut used = PAGE_HEADER_SIZE;
        for (i, g) in groups.iter(0..groups.len()).enumerate() {
            let cost = group_cost(&g);
            if used + cost > psz && i > start {
                leaves.push(Node {
                    low_key: Vec::new(),
                    range: start..i,
                });
                start = i;
                used = PAGE_HEADER_SIZE;
            }
            used += cost;
        }
        leaves.push(Node {
            low_key: Vec::new(),
            range: start..groups.len(),
        });
        for i in 1..leaves.len() {
            let left = &pairs[groups.get(leaves[i - 1].range.end - 1).range.start].0;
            let right = &pairs[groups.get(leaves[i].range.start).range.start].0;
            leaves[i].low_key = separator(left, right);
        }
        levels.push(leaves);

        // Internal levels until one node is left.
        while levels.last().map_or(0, Vec::len) > 1 {
            let below = levels.last().unwrap_or_else(|| unreachable!());
            let mut nodes: Vec<Node> = Vec::new();
            let mut start = 0;
            let mut used = PAGE_HEADER_SIZE;
            for (i, child) in below.iter().enumerate() {
                // Slot 0 of every internal page has an empty key.
                let key: &[u8] = if i == start { &[] } else { &child.low_key };
                let cost = 2 + internal_item(key);
                if used + cost > psz && i > start {
                    nodes.push(Node {
                        low_key: below[start].low_key.clone(),
                        range: start..i,
                    });
                    start = i;
                    used = PAGE_HEADER_SIZE + 2 + internal_item(&[]);
                } else {
                    used += cost;
                }
            }
            nodes.push(Node {
                low_key: below[start].low_key.clone(),
                range: start..below.len(),
            });
            // Never leave an internal page with a single child.
            let n = nodes.len();
            if n > 1 && nodes[n - 1].range.len() == 1 {
                let moved = nodes[n - 2].range.end - 1;
                nodes[n - 2].range.end = moved;
                nodes[n - 1].range.start = moved;
                nodes[n - 1].low_key = below[moved].low_key.clone();
            }
            levels.push(nodes);
        }

        // Page numbers: root = 1, then the rest top-down, level by level; then the
        // overflow chains and duplicate trees, in the order the tree pages refer to them
        // (internal pages top-down, then the leaves).
        let mut pgnos: Vec<Vec<u32>> = vec![Vec::new(); levels.len()];
        let mut next: u64 = 1;
        for (li, level) in levels.iter().enumerate().rev() {
            for _ in level {
                pgnos[li].push(u32::try_from(next).map_err(|_| too_many(next as usize))?);
                next += 1;
            }
        }
        enum Extra<'a> {
            Over(&'a [u8]),
            Tree(Vec<&'a [u8]>),
        }
        let mut listed: Vec<Extra<'_>> = Vec::new();
        for li in (1..levels.len()).rev() {
            for node in &levels[li] {
                for c in node.range.clone().skip(1) {
                    let key = &levels[li - 1][c].low_key;
                    if key.len() > ovfl {
                        listed.push(Extra::Over(key));
                    }
                }
            }
        }
        for g in groups.iter(0..groups.len()) {
            let key = pairs[g.range.start].0;
            if key.len() > ovfl {
                listed.push(Extra::Over(key));
            }
            if g.off {
                let values = pairs[g.range.clone()].iter().map(|p| p.1).collect();
                listed.push(Extra::Tree(values));
            } else {
                for (_, v) in &pairs[g.range.clone()] {
                    if v.len() > ovfl {
                        listed.push(Extra::Over(v));
                    }
                }
            }
        }
        let mut extras: Vec<(u32, Extra<'_>)> = Vec::with_capacity(listed.len());
        for extra in listed {
            let first = u32::try_from(next).map_err(|_| too_many(next as usize))?;
            next += match &extra {
                Extra::Over(b) => b.len().div_ceil(per),
                Extra::Tree(values) => crate::dups::tree_pages(values, psz, ovfl),
            } as u64;
            extras.push((first, extra));
        }
        let last = u32::try_from(next - 1).map_err(|_| too_many(next as usize))?;
        let io = |source| Error::Io {
            path: PathBuf::from("<btree output>"),
            source,
        };

        // Meta page.
        let mut page = vec![0u8; psz];
        put_u32(&mut page, 4, 1);
        put_u32(&mut page, 12, BTREE_MAGIC);
        put_u32(&mut page, 16, page::VERSION);
        put_u32(&mut page, 20, ps);
        page[25] = P_BTREEMETA;
        put_u32(&mut page, 32, last);
        if self.duplicates {
            put_u32(&mut page, 48, BTM_DUP);
        }
        page[52..72].copy_from_slice(&file_id());
        put_u32(&mut page, 76, MINKEY as u32);
        put_u32(&mut page, 84, 0x20);
        put_u32(&mut page, 88, 1);
        out.write_all(&page).map_err(io)?;

        // Pages referring to extras take them in this order.
        let mut xi = 0usize;

        // Internal pages, top-down.
        for li in (1..levels.len()).rev() {
            for (i, node) in levels[li].iter().enumerate() {
                page.fill(0);
                let mut hf = psz;
                let mut slot = 0;
                for c in node.range.clone() {
                    let key: &[u8] = if c == node.range.start {
                        &[]
                    } else {
                        &levels[li - 1][c].low_key
                    };
                    let child = pgnos[li - 1][c];
                    hf -= internal_item(key);
                    if key.len() > ovfl {
                        let first = extras[xi].0;
                        xi += 1;
                        put_u16(&mut page, hf, BOVERFLOW_SIZE as u16);
                        page[hf + 2] = B_OVERFLOW;
                        put_u32(&mut page, hf + 4, child);
                        let o = hf + BINTERNAL_SIZE;
                        write_boverflow(&mut page[o..o + BOVERFLOW_SIZE], first, key.len());
                    } else {
                        put_u16(&mut page, hf, key.len() as u16);
                        page[hf + 2] = B_KEYDATA;
                        put_u32(&mut page, hf + 4, child);
                        page[hf + BINTERNAL_SIZE..hf + BINTERNAL_SIZE + key.len()]
                            .copy_from_slice(key);
                    }
                    put_u16(&mut page, PAGE_HEADER_SIZE + 2 * slot, hf as u16);
                    slot += 1;
                }
                let level = (li + 1) as u8;
                write_header(
                    &mut page,
                    pgnos[li][i],
                    0,
                    0,
                    slot as u16,
                    hf,
                    level,
                    P_IBTREE,
                );
                out.write_all(&page).map_err(io)?;
            }
        }

        // Leaves.
        let put_item = |page: &mut [u8], hf: &mut usize, xi: &mut usize, b: &[u8]| {
            *hf -= leaf_item(b);
            let at = *hf;
            if b.len() > ovfl {
                let first = extras[*xi].0;
                *xi += 1;
                write_boverflow(&mut page[at..at + BOVERFLOW_SIZE], first, b.len());
            } else {
                put_u16(page, at, b.len() as u16);
                page[at + 2] = B_KEYDATA;
                page[at + 3..at + 3 + b.len()].copy_from_slice(b);
                // Padding up to the 4-byte boundary.
                page[at + 3 + b.len()..at + align4(b.len() + 3)].fill(0);
            }
            at
        };
        let nleaves = levels[0].len();
        for (i, leaf) in levels[0].iter().enumerate() {
            let pgno = pgnos[0][i];
            let prev = if i == 0 { 0 } else { pgnos[0][i - 1] };
            let nxt = if i + 1 == nleaves { 0 } else { pgnos[0][i + 1] };
            let mut hf = psz;
            let mut slot = 0;
            // The leaf's pairs lie anywhere in memory: read a byte of each first, so
            // that their cache misses overlap instead of stalling the copies one by one.
            let span = if leaf.range.is_empty() {
                0..0
            } else {
                groups.get(leaf.range.start).range.start..groups.get(leaf.range.end - 1).range.end
            };
            let mut touch = 0u8;
            for (k, v) in &pairs[span] {
                touch ^= k.first().copied().unwrap_or(0) ^ v.first().copied().unwrap_or(0);
            }
            std::hint::black_box(touch);
            for g in groups.iter(leaf.range.clone()) {
                let key = pairs[g.range.start].0;
                let koff = put_item(&mut page, &mut hf, &mut xi, key);
                let mut pair_slots = |page: &mut [u8], voff: usize| {
                    put_u16(page, PAGE_HEADER_SIZE + 2 * slot, koff as u16);
                    put_u16(page, PAGE_HEADER_SIZE + 2 * slot + 2, voff as u16);
                    slot += 2;
                };
                if g.off {
                    let (first, Extra::Tree(values)) = &extras[xi] else {
                        unreachable!("extras are listed in page order")
                    };
                    xi += 1;
                    let root = crate::dups::tree_root(values, psz, *first, ovfl);
                    hf -= BOVERFLOW_SIZE;
                    write_boverflow(&mut page[hf..hf + BOVERFLOW_SIZE], root, 0);
                    page[hf + 2] = B_DUPLICATE;
                    pair_slots(&mut page, hf);
                    continue;
                }
                for (_, v) in &pairs[g.range.clone()] {
                    let voff = put_item(&mut page, &mut hf, &mut xi, v);
                    pair_slots(&mut page, voff);
                }
            }
            page[PAGE_HEADER_SIZE + 2 * slot..hf].fill(0);
            write_header(&mut page, pgno, prev, nxt, slot as u16, hf, 1, P_LBTREE);
            out.write_all(&page).map_err(io)?;
        }
        debug_assert_eq!(xi, extras.len());

        // Overflow chains and duplicate trees.
        for (first, extra) in &extras {
            match extra {
                Extra::Over(data) => {
                    let chunks = data.len().div_ceil(per);
                    for (j, chunk) in data.chunks(per).enumerate() {
                        page.fill(0);
                        let pg = first + j as u32;
                        let prev = if j == 0 { 0 } else { pg - 1 };
                        let nx = if j + 1 == chunks { 0 } else { pg + 1 };
                        write_header(&mut page, pg, prev, nx, 1, chunk.len(), 0, P_OVERFLOW);
                        page[PAGE_HEADER_SIZE..PAGE_HEADER_SIZE + chunk.len()]
                            .copy_from_slice(chunk);
                        out.write_all(&page).map_err(io)?;
                    }
                }
                Extra::Tree(values) => {
                    let (_, tree) = crate::dups::write_tree(values, psz, *first, ovfl);
                    for p in tree {
                        out.write_all(&p).map_err(io)?;
                    }
                }
            }
        }
        Ok(())
    }
}

fn too_many(n: usize) -> Error {
    Error::TooLarge {
        what: "number of pages",
        size: n,
        maximum: u32::MAX as usize,
    }
}

/// Shortest prefix of `right` that sorts above `left` (requires `left < right`).
fn separator(left: &[u8], right: &[u8]) -> Vec<u8> {
    let common = left.iter().zip(right).take_while(|(a, b)| a == b).count();
    right[..(common + 1).min(right.len())].to_vec()
}

#[allow(clippy::too_many_arguments)]
fn write_header(
    page: &mut [u8],
    pgno: u32,
    prev: u32,
    next: u32,
    entries: u16,
    hf: usize,
    level: u8,
    ty: u8,
) {
    put_u32(page, 0, 0);
    put_u32(page, 4, 1);
    put_u32(page, 8, pgno);
    put_u32(page, 12, prev);
    put_u32(page, 16, next);
    put_u16(page, 20, entries);
    // A full 32 KiB page cannot happen with items; an empty one is `psz` (fits for ≤ 32 KiB).
    put_u16(page, 22, hf as u16);
    page[24] = level;
    page[25] = ty;
}

fn write_boverflow(item: &mut [u8], first: u32, len: usize) {
    item[0] = 0;
    item[1] = 0;
    item[2] = B_OVERFLOW;
    item[3] = 0;
    put_u32(item, 4, first);
    put_u32(item, 8, len as u32);
}

/// A file id in libdb's shape: 16 varying bytes (time, process, per-call randomness)
/// and 4 zero bytes. Nothing checks it; it only keeps cache ids apart.
fn file_id() -> [u8; 20] {
    use std::hash::{BuildHasher, Hasher};
    let mut id = [0u8; 20];
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    for (i, chunk) in id[..16].chunks_mut(8).enumerate() {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(now);
        h.write_u32(std::process::id());
        h.write_usize(i);
        chunk.copy_from_slice(&h.finish().to_le_bytes()[..chunk.len()]);
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(b: Builder) -> Reader {
        let mut out = Vec::new();
        b.write_to(&mut out).unwrap();
        Reader::from_bytes(Path::new("t.db"), out).unwrap()
    }

    #[test]
    fn separators() {
        assert_eq!(separator(b"host0060", b"host0061x"), b"host0061");
        assert_eq!(separator(b"ab", b"abc"), b"abc");
        assert_eq!(separator(b"", b"a"), b"a");
        assert_eq!(separator(b"a", b"b"), b"b");
    }

    #[test]
    fn overflow_threshold() {
        assert_eq!(overflow_size(4096), 1007);
        assert_eq!(overflow_size(512), 111);
    }

    #[test]
    fn empty_file() {
        let r = build(Builder::new());
        assert_eq!(r.get(b"x").unwrap(), None);
        assert_eq!(r.iter().count(), 0);
    }

    #[test]
    fn multi_level_with_long_keys() {
        let mut b = Builder::new().page_size(512);
        let long = vec![b'k'; 300];
        for i in 0..2000u32 {
            let mut k = long.clone();
            k.extend_from_slice(format!("{i:05}").as_bytes());
            b.insert(&k, format!("v{i}").as_bytes());
        }
        let r = build(b);
        assert_eq!(r.iter().count(), 2000);
        let mut k = long.clone();
        k.extend_from_slice(b"01234");
        assert_eq!(r.get(&k).unwrap(), Some(b"v1234".to_vec()));
        assert_eq!(r.get(&long).unwrap(), None);
    }

    #[test]
    fn long_separators_go_to_overflow_pages() {
        let mut b = Builder::new().page_size(512);
        let prefix = vec![b'p'; 200];
        for i in 0..100u32 {
            b.insert(
                &[prefix.clone(), format!("{i:03}").into_bytes()].concat(),
                b"v",
            );
        }
        let r = build(b);
        let root = r.file.page(1).unwrap();
        assert_eq!(root.header().page_type, P_IBTREE);
        let off = root.slot(1).unwrap();
        assert_eq!(root.data[off + 2], B_OVERFLOW);
        assert!(r.internal_key(&root, 1).unwrap().len() > overflow_size(512));
        assert_eq!(r.iter().count(), 100);
        let mut k = prefix.clone();
        k.extend_from_slice(b"042");
        assert_eq!(r.get(&k).unwrap(), Some(b"v".to_vec()));
    }

    #[test]
    fn bad_page_size_is_an_error() {
        let mut out = Vec::new();
        assert!(Builder::new().page_size(1000).write_to(&mut out).is_err());
        assert!(Builder::new().page_size(65536).write_to(&mut out).is_err());
    }
}
