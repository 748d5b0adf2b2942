//! Off-page duplicate trees, shared by btree and hash files made with `DB_DUP`.
//!
//! When the duplicates of one key grow too big for the key's page (btree: a quarter of a
//! page; hash: more than a quarter of a page, or no room left on the page), libdb moves
//! them to a tree of their own and leaves a pointer in the data slot: a btree
//! `B_DUPLICATE` item (12 bytes, shaped like `BOVERFLOW`, type 2, `pgno` = root, `tlen` 0)
//! or a hash `H_OFFDUP` item (8 bytes: type 4, 3 unused bytes, `pgno` = root).
//!
//! Unsorted duplicates (makemap's `-d`) live in a recno-shaped tree:
//!
//! | page | type | level | items |
//! |---|---|---|---|
//! | leaf | 6 (`P_LRECNO`) | 1 | one `BKEYDATA`/`BOVERFLOW` per duplicate, in order; leaves of one tree chained by `prev_pgno`/`next_pgno` |
//! | internal | 4 (`P_IRECNO`) | ≥ 2 | one `RINTERNAL` per child: `pgno` (u32, 0), `nrecs` (u32, 4) = records below it |
//!
//! The root internal page keeps the tree's record count in its `prev_pgno` field
//! (`db5.3_dump -d a` prints it as `records:`). A single-leaf tree has the leaf as root.
//! Data items longer than the btree overflow size go to overflow pages (type 7).

use crate::error::{Error, Result};
use crate::page::{ByteOrder, P_OVERFLOW, PAGE_HEADER_SIZE, put_u16, put_u32};

/// Recno internal and leaf page types.
pub const P_IRECNO: u8 = 4;
pub const P_LRECNO: u8 = 6;

/// Size of an `RINTERNAL` item.
const RINTERNAL_SIZE: usize = 8;
const B_KEYDATA: u8 = 1;
const B_OVERFLOW: u8 = 3;
const B_DELETED: u8 = 0x80;

/// What the tree reader needs from a file.
pub(crate) trait PageSource {
    /// The whole page `pgno` (checked against the file).
    fn page_bytes(&self, pgno: u32) -> Result<&[u8]>;
    fn byte_order(&self) -> ByteOrder;
    /// Number of pages in the file.
    fn page_total(&self) -> u32;
    fn corrupt_at(&self, pgno: u32, what: String) -> Error;
    /// An overflow item of `len` bytes starting at page `first`, referenced from `from`.
    fn overflow_item(&self, from: u32, first: u32, len: u32) -> Result<Vec<u8>>;
}

/// The values of the duplicate tree rooted at `root`, in stored order.
pub(crate) fn read_tree<S: PageSource + ?Sized>(s: &S, root: u32) -> Result<Vec<Vec<u8>>> {
    let o = s.byte_order();
    let u16_at =
        |p: &[u8], at: usize| -> Option<u16> { Some(o.u16(p.get(at..at + 2)?.try_into().ok()?)) };
    let u32_at =
        |p: &[u8], at: usize| -> Option<u32> { Some(o.u32(p.get(at..at + 4)?.try_into().ok()?)) };
    let total = s.page_total();
    // Down the leftmost edge.
    let mut pgno = root;
    let mut expect: Option<u8> = None;
    for hops in 0.. {
        if hops > 64 {
            return Err(s.corrupt_at(root, "duplicate tree too deep".into()));
        }
        let p = s.page_bytes(pgno)?;
        let (ty, level) = (p[25], p[24]);
        if expect.is_some_and(|l| l != level) {
            return Err(s.corrupt_at(pgno, format!("level {level} in a duplicate tree")));
        }
        match ty {
            P_LRECNO if level == 1 => break,
            P_IRECNO if level >= 2 => {
                let child = u16_at(p, PAGE_HEADER_SIZE)
                    .filter(|_| u16_at(p, 20).unwrap_or(0) > 0)
                    .and_then(|off| u32_at(p, off as usize));
                pgno =
                    child.ok_or_else(|| s.corrupt_at(pgno, "empty duplicate tree page".into()))?;
                expect = Some(level - 1);
            }
            t => {
                return Err(s.corrupt_at(pgno, format!("page type {t} in a duplicate tree")));
            }
        }
    }
    // Along the leaves.
    let mut seen = vec![false; total as usize];
    let mut out = Vec::new();
    let mut off_bytes: u64 = 0;
    let limit = u64::from(total) * s.page_bytes(root)?.len() as u64;
    loop {
        if pgno == 0 || pgno >= total || seen[pgno as usize] {
            return Err(s.corrupt_at(pgno, "duplicate leaf chain loops or leaves the file".into()));
        }
        seen[pgno as usize] = true;
        let p = s.page_bytes(pgno)?;
        if p[25] != P_LRECNO || p[24] != 1 {
            return Err(s.corrupt_at(
                pgno,
                format!("page type {} in a duplicate leaf chain", p[25]),
            ));
        }
        let bad = || s.corrupt_at(pgno, "duplicate item out of place".into());
        let n = u16_at(p, 20).ok_or_else(bad)? as usize;
        let low = PAGE_HEADER_SIZE + 2 * n;
        if low > p.len() {
            return Err(bad());
        }
        for i in 0..n {
            let off = u16_at(p, PAGE_HEADER_SIZE + 2 * i).ok_or_else(bad)? as usize;
            if off < low || off + 3 > p.len() {
                return Err(bad());
            }
            let ty = p[off + 2];
            if ty & B_DELETED != 0 {
                continue;
            }
            match ty {
                B_KEYDATA => {
                    let len = u16_at(p, off).ok_or_else(bad)? as usize;
                    out.push(p.get(off + 3..off + 3 + len).ok_or_else(bad)?.to_vec());
                }
                B_OVERFLOW => {
                    let first = u32_at(p, off + 4).ok_or_else(bad)?;
                    let len = u32_at(p, off + 8).ok_or_else(bad)?;
                    // Distinct items have distinct chains: together no longer than the file.
                    off_bytes += u64::from(len);
                    if off_bytes > limit {
                        return Err(s.corrupt_at(pgno, "overflow items share pages".into()));
                    }
                    out.push(s.overflow_item(pgno, first, len)?);
                }
                t => return Err(s.corrupt_at(pgno, format!("item type {t} in a duplicate tree"))),
            }
        }
        match u32_at(p, 16).ok_or_else(bad)? {
            0 => break,
            next => pgno = next,
        }
    }
    if out.is_empty() {
        return Err(s.corrupt_at(root, "empty duplicate tree".into()));
    }
    Ok(out)
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// Writes a 26-byte page header (LSN "not logged").
#[allow(clippy::too_many_arguments)]
pub(crate) fn header(
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
    put_u16(page, 22, hf as u16);
    page[24] = level;
    page[25] = ty;
}

/// Number of pages [`write_tree`] makes for `values`.
pub(crate) fn tree_pages(values: &[&[u8]], ps: usize, ovfl: usize) -> usize {
    let (levels, _) = shape(values, ps, ovfl);
    let per = ps - PAGE_HEADER_SIZE;
    let tree: usize = levels.iter().map(Vec::len).sum();
    tree + values
        .iter()
        .filter(|v| v.len() > ovfl)
        .map(|v| v.len().div_ceil(per))
        .sum::<usize>()
}

/// The root page of the tree [`write_tree`] makes for `values` from page `first` on.
pub(crate) fn tree_root(values: &[&[u8]], ps: usize, first: u32, ovfl: usize) -> u32 {
    let (levels, _) = shape(values, ps, ovfl);
    let below: usize = levels[..levels.len() - 1].iter().map(Vec::len).sum();
    first + below as u32
}

/// The tree's nodes level by level (leaves first): each node is a range of items (leaves)
/// or of nodes one level down; and the record count of each node of each level.
type Shape = (Vec<Vec<std::ops::Range<usize>>>, Vec<Vec<u32>>);

fn shape(values: &[&[u8]], ps: usize, ovfl: usize) -> Shape {
    let cost = |v: &[u8]| {
        2 + if v.len() > ovfl {
            12
        } else {
            align4(v.len() + 3)
        }
    };
    let mut leaves = Vec::new();
    let mut counts = Vec::new();
    let (mut start, mut used) = (0, PAGE_HEADER_SIZE);
    for (i, v) in values.iter().enumerate() {
        if used + cost(v) > ps && i > start {
            leaves.push(start..i);
            counts.push((i - start) as u32);
            start = i;
            used = PAGE_HEADER_SIZE;
        }
        used += cost(v);
    }
    leaves.push(start..values.len());
    counts.push((values.len() - start) as u32);
    let mut levels = vec![leaves];
    let mut all_counts = vec![counts];
    let per_internal = (ps - PAGE_HEADER_SIZE) / (2 + RINTERNAL_SIZE);
    while levels.last().map_or(0, Vec::len) > 1 {
        let below = all_counts.last().map_or(&[][..], Vec::as_slice);
        let n = below.len();
        let mut nodes = Vec::new();
        let mut counts = Vec::new();
        let mut s = 0;
        while s < n {
            let mut e = (s + per_internal).min(n);
            // No internal page with a single child.
            if n - e == 1 && e - s > 1 {
                e -= 1;
            }
            nodes.push(s..e);
            counts.push(below[s..e].iter().sum());
            s = e;
        }
        levels.push(nodes);
        all_counts.push(counts);
    }
    (levels, all_counts)
}

/// The pages of a duplicate tree holding `values` (at least one), numbered from `first`
/// on: leaves, internal pages bottom-up (the root last), then overflow pages. Returns the
/// root's page number and the pages. `ovfl` is the btree overflow size.
pub(crate) fn write_tree(
    values: &[&[u8]],
    ps: usize,
    first: u32,
    ovfl: usize,
) -> (u32, Vec<Vec<u8>>) {
    let (levels, counts) = shape(values, ps, ovfl);
    let mut pgnos: Vec<Vec<u32>> = Vec::new();
    let mut next = first;
    for level in &levels {
        pgnos.push((0..level.len() as u32).map(|i| next + i).collect());
        next += level.len() as u32;
    }
    let per = ps - PAGE_HEADER_SIZE;
    let mut pages: Vec<Vec<u8>> = Vec::new();
    let mut overflow: Vec<Vec<u8>> = Vec::new();
    let nleaves = levels[0].len();
    for (i, range) in levels[0].iter().enumerate() {
        let mut page = vec![0u8; ps];
        let mut hf = ps;
        for (slot, v) in values[range.clone()].iter().enumerate() {
            if v.len() > ovfl {
                hf -= 12;
                page[hf + 2] = B_OVERFLOW;
                put_u32(&mut page, hf + 4, next);
                put_u32(&mut page, hf + 8, v.len() as u32);
                let n = v.len().div_ceil(per);
                for (j, chunk) in v.chunks(per).enumerate() {
                    let mut op = vec![0u8; ps];
                    let pg = next + j as u32;
                    let prev = if j == 0 { 0 } else { pg - 1 };
                    let nx = if j + 1 == n { 0 } else { pg + 1 };
                    header(&mut op, pg, prev, nx, 1, chunk.len(), 0, P_OVERFLOW);
                    op[PAGE_HEADER_SIZE..PAGE_HEADER_SIZE + chunk.len()].copy_from_slice(chunk);
                    overflow.push(op);
                }
                next += n as u32;
            } else {
                hf -= align4(v.len() + 3);
                put_u16(&mut page, hf, v.len() as u16);
                page[hf + 2] = B_KEYDATA;
                page[hf + 3..hf + 3 + v.len()].copy_from_slice(v);
            }
            put_u16(&mut page, PAGE_HEADER_SIZE + 2 * slot, hf as u16);
        }
        let prev = if i == 0 { 0 } else { pgnos[0][i - 1] };
        let nx = if i + 1 == nleaves { 0 } else { pgnos[0][i + 1] };
        header(
            &mut page,
            pgnos[0][i],
            prev,
            nx,
            range.len() as u16,
            hf,
            1,
            P_LRECNO,
        );
        pages.push(page);
    }
    let top = levels.len() - 1;
    for li in 1..levels.len() {
        for (i, range) in levels[li].iter().enumerate() {
            let mut page = vec![0u8; ps];
            let mut hf = ps;
            for (slot, c) in range.clone().enumerate() {
                hf -= RINTERNAL_SIZE;
                put_u32(&mut page, hf, pgnos[li - 1][c]);
                put_u32(&mut page, hf + 4, counts[li - 1][c]);
                put_u16(&mut page, PAGE_HEADER_SIZE + 2 * slot, hf as u16);
            }
            let records = if li == top { values.len() as u32 } else { 0 };
            header(
                &mut page,
                pgnos[li][i],
                records,
                0,
                range.len() as u16,
                hf,
                (li + 1) as u8,
                P_IRECNO,
            );
            pages.push(page);
        }
    }
    pages.extend(overflow);
    (pgnos[top][0], pages)
}
