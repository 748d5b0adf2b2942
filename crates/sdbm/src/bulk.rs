//! Building a whole database at once: [`Builder`].
//!
//! A database made only by stores of distinct keys into empty files does not depend on
//! how the stores were interleaved with splits, only on the pairs and their order:
//!
//! - A page with pairs of sizes `s₁ … sₙ` (key + value) accepts one more of size `s`
//!   iff `Σ (sᵢ + 4) + (s + 4) + 2 ≤ 1024` (§1.3 of the format notes: two bytes of count,
//!   four of offsets per pair). With no deletes, the page at a trie leaf holds exactly
//!   the pairs stored so far whose hashes lead there, so whether it overflows is a
//!   question about that set, not about the page's history.
//! - A node is split exactly when, as a leaf, it would overflow: at the store of its
//!   *trigger*, the first pair in input order at which the running total of the pairs
//!   under it no longer fits. A child cannot overflow before its parent's trigger (its
//!   pairs are a subset), so the trie is: split every node whose pairs do not fit in one
//!   page, down to leaves that fit.
//! - A split rebuilds both sides from zeros in the old slot order, and later stores
//!   append; so every page holds its pairs in input order, packed, zeros elsewhere.
//! - Every leaf's page was written (a split writes both sides, even an empty one), so
//!   `.pag` is `1024 × (highest leaf page + 1)` long; `.dir` has the bits of the split
//!   nodes, in whole 4096-byte blocks.
//!
//! The splits one store does are the nodes on its key's path whose trigger is that store:
//! a chain of consecutive nodes with the same trigger. sdbm gives up after
//! [`SPLTMAX`](crate::SPLTMAX) of them ([`Error::TooManySplits`]) and past the 31st hash
//! bit ([`Error::TrieTooDeep`]).
//!
//! So [`Builder::finish`] hashes every key once, partitions the pairs top-down by hash
//! bit (stable, so each node keeps input order and its trigger is a prefix sum), and
//! writes each leaf page once. When the shortcut's premises fail — a repeated key (a
//! replacing store deletes first, which leaves stale bytes behind), or a chain that
//! reaches sdbm's limits (the error must be the incremental one, with the same partial
//! state) — it falls back to storing the pairs one by one with [`Sdbm::store`]. Either
//! way the result is byte for byte what Perl's `SDBM_File` writes for the same stores
//! (`tests/bulk.rs`).

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};

use crate::{
    Blocks, DBLKSIZ, DirFile, Error, MAX_DEPTH, Medium, PAIRMAX, PBLKSIZ, PagFile, SPLTMAX, Sdbm,
    StoreMode, hash, write_all_at,
};

/// A pair: where its bytes are in the arena (key, then value) and its key's hash. This is
/// also what the partition moves around, so a node's pass reads it sequentially and
/// nothing else until its leaf is written.
#[derive(Clone, Copy, Debug, Default)]
struct Pair {
    at: u64,
    hash: u32,
    key_len: u16,
    value_len: u16,
}

impl Pair {
    /// Bytes of page space it takes: its data and two offsets.
    fn cost(&self) -> u32 {
        u32::from(self.key_len) + u32::from(self.value_len) + 4
    }

    /// Tells apart the pairs of one build, except repeated empty pairs (equal keys, which
    /// the leaves catch): `at` grows with every byte pushed, and two pairs at the same
    /// place differ in size unless both are empty.
    fn id(&self) -> (u64, u32) {
        (self.at, self.cost())
    }
}

/// The shortcut does not apply; store the pairs one by one instead.
struct Fallback;

/// The trie and pages the stores would produce.
struct Layout {
    /// The non-empty leaves, in the order they were laid out.
    leaves: Vec<Leaf>,
    split_nodes: Vec<u64>,
    /// Highest page number of a leaf, empty leaves included (they were written as zeros).
    last_page: u64,
    /// The two buffers the partition moved the pairs between; each leaf's pairs stay
    /// where the leaf found them, since only the leaf's subtree uses its range.
    buffers: [Vec<Pair>; 2],
}

/// A non-empty leaf: its page number and where its pairs are, in input order.
#[derive(Clone, Copy)]
struct Leaf {
    page: u64,
    buffer: usize,
    start: usize,
    len: usize,
}

impl Layout {
    /// The `.dir` blocks that have a bit set, and the file's length.
    fn dir(&self) -> (Blocks<DBLKSIZ>, u64) {
        let mut blocks: Blocks<DBLKSIZ> = BTreeMap::new();
        let mut len = 0;
        for &node in &self.split_nodes {
            let byte = node / 8;
            let index = byte / DBLKSIZ as u64;
            let block = blocks
                .entry(index)
                .or_insert_with(|| Box::new([0; DBLKSIZ]));
            block[(byte % DBLKSIZ as u64) as usize] |= 1 << (node % 8);
            len = len.max((index + 1) * DBLKSIZ as u64);
        }
        (blocks, len)
    }

    fn pairs(&self, leaf: &Leaf) -> &[Pair] {
        &self.buffers[leaf.buffer][leaf.start..leaf.start + leaf.len]
    }
}

/// Fills an all-zero page with these pairs, in order, as that many appends would.
fn fill_page<'a>(page: &mut [u8], pairs: impl Iterator<Item = (&'a [u8], &'a [u8])>) {
    let mut n = 0usize;
    let mut end = PBLKSIZ;
    for (key, value) in pairs {
        let key_start = end - key.len();
        page[key_start..end].copy_from_slice(key);
        let value_start = key_start - value.len();
        page[value_start..key_start].copy_from_slice(value);
        page[2 + 2 * n..4 + 2 * n].copy_from_slice(&(key_start as i16).to_le_bytes());
        page[4 + 2 * n..6 + 2 * n].copy_from_slice(&(value_start as i16).to_le_bytes());
        n += 2;
        end = value_start;
    }
    page[0..2].copy_from_slice(&(n as i16).to_le_bytes());
}

/// Collects pairs and builds the database that storing them in this order
/// ([`StoreMode::Replace`]) into empty files gives, without doing the stores.
///
/// ```
/// use cfmap_sdbm::{Builder, Sdbm, StoreMode};
/// let mut b = Builder::new();
/// let mut one_by_one = Sdbm::from_bytes(Vec::new(), Vec::new())?;
/// for i in 0..2000 {
///     let (k, v) = (format!("key{i}"), format!("value {i}"));
///     b.push(k.as_bytes(), v.as_bytes())?;
///     one_by_one.store(k.as_bytes(), v.as_bytes(), StoreMode::Replace)?;
/// }
/// assert!(b.finish()?.into_bytes()? == one_by_one.into_bytes()?);
/// # Ok::<(), cfmap_sdbm::Error>(())
/// ```
#[derive(Debug, Default, Clone)]
pub struct Builder {
    /// Every key followed by its value, pair after pair.
    arena: Vec<u8>,
    pairs: Vec<Pair>,
}

impl Builder {
    /// An empty builder.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// An empty builder with room for `pairs` pairs of `bytes` key + value bytes in all.
    pub fn with_capacity(pairs: usize, bytes: usize) -> Builder {
        Builder {
            arena: Vec::with_capacity(bytes),
            pairs: Vec::with_capacity(pairs),
        }
    }

    /// Number of pairs pushed.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Whether nothing was pushed.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// Adds a pair after the ones already pushed. A pair over [`PAIRMAX`] bytes is refused
    /// with [`Error::PairTooLarge`] and not added, as [`Sdbm::store`] refuses it before
    /// changing anything.
    pub fn push(&mut self, key: &[u8], value: &[u8]) -> Result<(), Error> {
        let size = key.len().saturating_add(value.len());
        if size > PAIRMAX {
            return Err(Error::PairTooLarge {
                size,
                maximum: PAIRMAX,
            });
        }
        let at = self.arena.len() as u64;
        self.arena.extend_from_slice(key);
        self.arena.extend_from_slice(value);
        self.pairs.push(Pair {
            at,
            hash: hash(key),
            key_len: key.len() as u16,
            value_len: value.len() as u16,
        });
        Ok(())
    }

    /// Whether [`Builder::finish`] would lay the pages out directly rather than store the
    /// pairs one by one (for tests: both give the same bytes). Does the layout work.
    #[doc(hidden)]
    pub fn takes_shortcut(&self) -> bool {
        self.layout().is_ok()
    }

    fn key(&self, p: &Pair) -> &[u8] {
        let start = p.at as usize;
        &self.arena[start..start + usize::from(p.key_len)]
    }

    fn value(&self, p: &Pair) -> &[u8] {
        let start = p.at as usize + usize::from(p.key_len);
        &self.arena[start..start + usize::from(p.value_len)]
    }

    /// The database, in memory (write it with [`Sdbm::write_files`], or read it back with
    /// [`Sdbm::into_bytes`]): the same bytes as [`Sdbm::store`] with
    /// [`StoreMode::Replace`] of every pair in order into an empty database, and the same
    /// error where that fails ([`Error::TooManySplits`], [`Error::TrieTooDeep`]).
    pub fn finish(self) -> Result<Sdbm, Error> {
        match self.layout() {
            Ok(layout) => Ok(self.assemble(layout)),
            Err(Fallback) => self.one_by_one(),
        }
    }

    /// Builds the database as [`Builder::finish`] does and writes it to the files `dir`
    /// and `pag` (created, or truncated) as [`Sdbm::write_files`] does, without holding
    /// the pages in an [`Sdbm`] first. Nothing is fsynced.
    pub fn write_files(self, dir: &Path, pag: &Path) -> Result<(), Error> {
        let mut layout = match self.layout() {
            Ok(layout) => layout,
            Err(Fallback) => return self.one_by_one()?.write_files(dir, pag),
        };
        let pag_len = self.pag_len(&layout);
        // The pages are made as they go out, in file order.
        let mut leaves = std::mem::take(&mut layout.leaves);
        leaves.sort_unstable_by_key(|leaf| leaf.page);
        write_blocks(
            pag,
            PBLKSIZ,
            leaves.iter().map(|leaf| {
                let layout = &layout;
                let this = &self;
                (leaf.page, move |run: &mut Vec<u8>| {
                    this.page_into(layout.pairs(leaf), run)
                })
            }),
            pag_len,
        )?;
        let (dir_blocks, dir_len) = layout.dir();
        write_blocks(
            dir,
            DBLKSIZ,
            dir_blocks.iter().map(|(&i, block)| {
                (i, move |run: &mut Vec<u8>| {
                    run.extend_from_slice(&block[..])
                })
            }),
            dir_len,
        )
    }

    /// Appends the page holding `pairs` (which fit) to `out`.
    fn page_into(&self, pairs: &[Pair], out: &mut Vec<u8>) {
        // Load the pairs' first bytes together: they are scattered over the arena, and
        // independent loads let the cache misses overlap.
        let mut acc = 0u8;
        for p in pairs {
            acc ^= self.arena.get(p.at as usize).copied().unwrap_or(0);
        }
        std::hint::black_box(acc);
        let start = out.len();
        out.resize(start + PBLKSIZ, 0);
        fill_page(
            &mut out[start..],
            pairs.iter().map(|p| (self.key(p), self.value(p))),
        );
    }

    /// What the incremental algorithm does, store after store.
    fn one_by_one(&self) -> Result<Sdbm, Error> {
        let mut db = Sdbm::from_bytes(Vec::new(), Vec::new())?;
        for p in &self.pairs {
            db.store(self.key(p), self.value(p), StoreMode::Replace)?;
        }
        Ok(db)
    }

    fn layout(&self) -> Result<Layout, Fallback> {
        let mut items = self.pairs.clone();
        let mut scratch = vec![Pair::default(); items.len()];
        let mut layout = Layout {
            leaves: Vec::new(),
            split_nodes: Vec::new(),
            last_page: 0,
            buffers: [Vec::new(), Vec::new()],
        };
        if !items.is_empty() {
            let root = Node {
                depth: 0,
                node: 0,
                page: 0,
                parent_trigger: None,
                chain: 0,
                buffer: 0,
                start: 0,
            };
            self.place(&mut items, &mut scratch, root, &mut layout)?;
        }
        layout.buffers = [items, scratch];
        Ok(layout)
    }

    /// Lays out the pairs `items` (in input order) under trie node `at`; `scratch` is as
    /// long as `items` and its contents do not matter.
    fn place(
        &self,
        items: &mut [Pair],
        scratch: &mut [Pair],
        at: Node,
        layout: &mut Layout,
    ) -> Result<(), Fallback> {
        // The page's two count bytes, then pair after pair until one does not fit.
        let mut total = 2u32;
        let trigger = items.iter().find_map(|it| {
            total += it.cost();
            (total as usize > PBLKSIZ).then_some(it.id())
        });
        let Some(trigger) = trigger else {
            return self.leaf(items, at, layout);
        };
        let chain = if at.parent_trigger == Some(trigger) {
            at.chain + 1
        } else {
            1
        };
        if chain > SPLTMAX || at.depth >= MAX_DEPTH {
            return Err(Fallback);
        }
        layout.split_nodes.push(at.node);
        let bit = 1u32 << at.depth;
        // A stable partition, without branches: which side a hash goes to is a coin toss.
        let low = items.iter().filter(|it| it.hash & bit == 0).count();
        let (mut l, mut h) = (0, low);
        for it in items.iter() {
            let high = usize::from(it.hash & bit != 0);
            let to = if high == 1 { h } else { l };
            scratch[to] = *it;
            h += high;
            l += 1 - high;
        }
        let (low_items, high_items) = scratch.split_at_mut(low);
        let (low_scratch, high_scratch) = items.split_at_mut(low);
        let child = |side: u64| Node {
            depth: at.depth + 1,
            node: 2 * at.node + 1 + side,
            page: at.page + side * u64::from(bit),
            parent_trigger: Some(trigger),
            chain,
            buffer: 1 - at.buffer,
            start: at.start + if side == 0 { 0 } else { low },
        };
        self.place(low_items, low_scratch, child(0), layout)?;
        self.place(high_items, high_scratch, child(1), layout)
    }

    /// Records leaf `at` with `items`, which fit, in input order.
    fn leaf(&self, items: &[Pair], at: Node, layout: &mut Layout) -> Result<(), Fallback> {
        layout.last_page = layout.last_page.max(at.page);
        if items.is_empty() {
            return Ok(()); // a page of zeros: a hole reads the same
        }
        // A repeated key: the incremental store deletes the old pair first.
        for (i, a) in items.iter().enumerate() {
            for b in &items[..i] {
                if a.hash == b.hash && self.key(a) == self.key(b) {
                    return Err(Fallback);
                }
            }
        }
        layout.leaves.push(Leaf {
            page: at.page,
            buffer: at.buffer,
            start: at.start,
            len: items.len(),
        });
        Ok(())
    }

    /// `.pag` ends after the highest page written: every leaf's, once anything was stored.
    fn pag_len(&self, layout: &Layout) -> u64 {
        if self.pairs.is_empty() {
            0
        } else {
            (layout.last_page + 1) * PBLKSIZ as u64
        }
    }

    fn assemble(&self, layout: Layout) -> Sdbm {
        let (dir_blocks, dir_len) = layout.dir();
        let mut pages: Blocks<PBLKSIZ> = BTreeMap::new();
        let mut bytes = Vec::with_capacity(PBLKSIZ);
        for leaf in &layout.leaves {
            bytes.clear();
            self.page_into(layout.pairs(leaf), &mut bytes);
            let mut block = Box::new([0u8; PBLKSIZ]);
            block.copy_from_slice(&bytes);
            pages.insert(leaf.page, block);
        }
        let pag_len = self.pag_len(&layout);
        Sdbm {
            dir: DirFile {
                file: None,
                path: PathBuf::from("memory.dir"),
                blocks: dir_blocks,
                len: dir_len,
            },
            pag: PagFile {
                medium: Medium::Memory(pages),
                path: PathBuf::from("memory.pag"),
                len: pag_len,
            },
            writable: true,
        }
    }
}

/// Writes blocks of `block_len` bytes, each given by its index and a function that
/// appends its bytes to a buffer, at `index · block_len`, in increasing index order, into
/// a new (or truncated) file of `file_len` bytes: one write per run of blocks in the same
/// 4096-byte file-system block or adjacent ones, padded to whole file-system blocks. The
/// gaps between blocks inside one such block are written as zeros (they take no more
/// disk); longer gaps stay holes.
fn write_blocks<F: FnOnce(&mut Vec<u8>)>(
    path: &Path,
    block_len: usize,
    blocks: impl Iterator<Item = (u64, F)>,
    file_len: u64,
) -> Result<(), Error> {
    const FS_BLOCK: u64 = 4096;
    const RUN: usize = 1 << 20;
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    // Truncated only when not empty already: on ext4 a truncation makes the close start
    // writing the whole file back and wait for it (a guard for programs that rewrite
    // files without fsync), which the caller's fsync does anyway.
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(io)?;
    if file.metadata().map_err(io)?.len() != 0 {
        file.set_len(0).map_err(io)?;
    }
    // Runs are padded with zeros to whole file-system blocks: a write of whole blocks
    // into a hole is the kernel's fast path (no zeroing of the rest of the block), and
    // the blocks are allocated anyway.
    let fs_block = |offset: u64| offset / FS_BLOCK * FS_BLOCK;
    let mut run: Vec<u8> = Vec::with_capacity(RUN + 2 * FS_BLOCK as usize);
    let mut run_start = 0u64;
    let flush = |run: &mut Vec<u8>, run_start: u64| -> Result<(), Error> {
        let padded = (run.len() as u64).next_multiple_of(FS_BLOCK) as usize;
        run.resize(padded, 0);
        write_all_at(&file, run, run_start).map_err(io)?;
        run.clear();
        Ok(())
    };
    for (index, append) in blocks {
        let offset = index * block_len as u64;
        let run_end = run_start + run.len() as u64;
        let joins = !run.is_empty()
            && offset >= run_end
            && offset / FS_BLOCK <= run_end.div_ceil(FS_BLOCK)
            && run.len() < RUN;
        if !joins && !run.is_empty() {
            flush(&mut run, run_start)?;
        }
        if run.is_empty() {
            run_start = fs_block(offset);
        }
        run.resize((offset - run_start) as usize, 0);
        append(&mut run);
        debug_assert_eq!(run.len() as u64, offset + block_len as u64 - run_start);
    }
    if !run.is_empty() {
        flush(&mut run, run_start)?;
    }
    file.set_len(file_len).map_err(io)
}

/// A trie node being laid out.
#[derive(Clone, Copy)]
struct Node {
    /// Hash bits used to reach it.
    depth: u32,
    /// Its bit number in `.dir`.
    node: u64,
    /// Its page: the low `depth` bits of its pairs' hashes.
    page: u64,
    /// The trigger of its parent's split (none for the root).
    parent_trigger: Option<(u64, u32)>,
    /// How many splits in a row, ending with the parent's, had that trigger.
    chain: usize,
    /// Which of the two buffers holds its pairs (the root's: the first), and from where.
    buffer: usize,
    start: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incremental(pairs: &[(Vec<u8>, Vec<u8>)]) -> Result<(Vec<u8>, Vec<u8>), Error> {
        let mut db = Sdbm::from_bytes(Vec::new(), Vec::new()).unwrap();
        for (k, v) in pairs {
            db.store(k, v, StoreMode::Replace)?;
        }
        db.into_bytes()
    }

    fn bulk(pairs: &[(Vec<u8>, Vec<u8>)]) -> Result<(Vec<u8>, Vec<u8>), Error> {
        let mut b = Builder::new();
        for (k, v) in pairs {
            b.push(k, v)?;
        }
        b.finish()?.into_bytes()
    }

    #[test]
    fn empty_and_single_page() {
        assert_eq!(bulk(&[]).unwrap(), (Vec::new(), Vec::new()));
        let pairs = vec![(b"a".to_vec(), b"1".to_vec()), (Vec::new(), Vec::new())];
        assert_eq!(bulk(&pairs).unwrap(), incremental(&pairs).unwrap());
    }

    #[test]
    fn shortcut_taken_for_distinct_keys() {
        let pairs: Vec<_> = (0..5000)
            .map(|i| (format!("k{i}").into_bytes(), vec![b'v'; i % 90]))
            .collect();
        let mut b = Builder::new();
        for (k, v) in &pairs {
            b.push(k, v).unwrap();
        }
        assert!(b.layout().is_ok());
        assert_eq!(bulk(&pairs).unwrap(), incremental(&pairs).unwrap());
    }

    #[test]
    fn repeated_key_falls_back() {
        let mut pairs: Vec<_> = (0..300)
            .map(|i| (format!("k{i}").into_bytes(), b"first".to_vec()))
            .collect();
        pairs.push((b"k7".to_vec(), b"second".to_vec()));
        let mut b = Builder::new();
        for (k, v) in &pairs {
            b.push(k, v).unwrap();
        }
        assert!(b.layout().is_err());
        assert_eq!(bulk(&pairs).unwrap(), incremental(&pairs).unwrap());
    }

    #[test]
    fn oversize_pair_is_refused_and_not_added() {
        let mut b = Builder::new();
        let e = b.push(b"k", &[0; PAIRMAX]).unwrap_err();
        assert!(matches!(e, Error::PairTooLarge { size: 1009, .. }));
        assert!(b.is_empty());
        b.push(b"k", &[0; PAIRMAX - 1]).unwrap();
        assert_eq!(b.len(), 1);
    }
}
