//! One 1024-byte `.pag` page: its offset table, its pairs, and the three edits sdbm makes
//! to it (append, delete-with-compaction, split).
//!
//! | offset | size | content |
//! |---|---|---|
//! | 0 | 2 | `n`: i16, number of offsets in the table = 2 × pairs |
//! | 2 + 2·(2j) | 2 | `off[2j+1]`: i16, first byte of key *j* |
//! | 2 + 2·(2j+1) | 2 | `off[2j+2]`: i16, first byte of value *j* |
//! | 2·(n+1) .. `off[n]` | | free space (may hold stale bytes and stale offsets) |
//! | `off[n]` .. 1024 | | pair data, packed downwards from the end of the page |
//!
//! Lengths are not stored: key *j* ends where the previous value starts (1024 for *j* = 0)
//! and value *j* ends where key *j* starts. Integers are little-endian (the files Perl
//! writes on x86_64 and every other little-endian machine).

use crate::{PBLKSIZ, hash};

/// The largest `n` a page can hold: 255 empty pairs use 4 bytes of table each.
const MAX_SLOTS: usize = (PBLKSIZ - 2) / 2;

/// A page whose offset table has been checked: every offset lies between the end of the
/// table and 1024 and never increases along the table, so every slice below is in range.
#[derive(Clone)]
pub(crate) struct Page {
    buf: [u8; PBLKSIZ],
}

impl Page {
    /// A page with no pairs: all zeros, which is also what a hole in the file reads as.
    pub(crate) fn empty() -> Page {
        Page { buf: [0; PBLKSIZ] }
    }

    /// Checks the offset table of raw page bytes. This is stricter than sdbm's own check
    /// (which accepts negative offsets and an odd count); a page that fails it cannot have
    /// been written by sdbm.
    pub(crate) fn parse(buf: [u8; PBLKSIZ]) -> Result<Page, String> {
        let page = Page { buf };
        let n = page.raw(0);
        if n < 0 || n % 2 != 0 || n as usize > MAX_SLOTS {
            return Err(format!(
                "offset count {n} is not an even number from 0 to 510"
            ));
        }
        let n = n as usize;
        if n == 0 {
            return Ok(page);
        }
        let table_end = 2 * (n + 1);
        let mut end = PBLKSIZ as i32;
        for k in 1..=n {
            let off = i32::from(page.raw(k));
            if off > end {
                return Err(format!(
                    "offset {k} is {off}, above the end {end} of the item before it"
                ));
            }
            if off < table_end as i32 {
                return Err(format!(
                    "offset {k} is {off}, inside the offset table (which ends at {table_end})"
                ));
            }
            end = off;
        }
        Ok(page)
    }

    pub(crate) fn as_bytes(&self) -> &[u8; PBLKSIZ] {
        &self.buf
    }

    /// Signed 16-bit entry `k` of the table (entry 0 is `n`).
    fn raw(&self, k: usize) -> i16 {
        i16::from_le_bytes([self.buf[2 * k], self.buf[2 * k + 1]])
    }

    /// Entry `k` of a checked table, as an offset into the page.
    fn slot(&self, k: usize) -> usize {
        self.raw(k) as usize
    }

    fn set_slot(&mut self, k: usize, value: usize) {
        let bytes = (value as i16).to_le_bytes();
        self.buf[2 * k..2 * k + 2].copy_from_slice(&bytes);
    }

    /// `n`: number of table entries, twice the number of pairs.
    fn slots(&self) -> usize {
        self.slot(0)
    }

    /// Number of pairs on the page.
    pub(crate) fn len(&self) -> usize {
        self.slots() / 2
    }

    /// Lowest used byte of pair data (1024 for an empty page).
    fn data_start(&self) -> usize {
        match self.slots() {
            0 => PBLKSIZ,
            n => self.slot(n),
        }
    }

    /// Whether a pair of `size` key + value bytes fits, counting its two table entries.
    pub(crate) fn fits(&self, size: usize) -> bool {
        let free = self.data_start() - 2 * (self.slots() + 1);
        size + 4 <= free
    }

    /// Pair `j` (in slot order) as (key, value).
    pub(crate) fn pair(&self, j: usize) -> (&[u8], &[u8]) {
        let key_end = if j == 0 { PBLKSIZ } else { self.slot(2 * j) };
        let key_start = self.slot(2 * j + 1);
        let value_start = self.slot(2 * j + 2);
        (
            &self.buf[key_start..key_end],
            &self.buf[value_start..key_start],
        )
    }

    /// Index of the first pair whose key equals `key`.
    pub(crate) fn find(&self, key: &[u8]) -> Option<usize> {
        (0..self.len()).find(|&j| self.pair(j).0 == key)
    }

    pub(crate) fn get(&self, key: &[u8]) -> Option<&[u8]> {
        self.find(key).map(|j| self.pair(j).1)
    }

    /// Appends a pair after the last one: key at the lowest free bytes, value just below.
    /// The caller has checked [`Page::fits`].
    pub(crate) fn put(&mut self, key: &[u8], value: &[u8]) {
        let n = self.slots();
        let key_start = self.data_start() - key.len();
        self.buf[key_start..key_start + key.len()].copy_from_slice(key);
        let value_start = key_start - value.len();
        self.buf[value_start..key_start].copy_from_slice(value);
        self.set_slot(n + 1, key_start);
        self.set_slot(n + 2, value_start);
        self.set_slot(0, n + 2);
    }

    /// Removes the first pair with this key the way sdbm does: the data of the pairs after
    /// it slides up over it, their offsets move two entries towards the front, and nothing
    /// is cleared (the old bytes and the two last offsets stay behind as garbage, which a
    /// byte-exact writer must reproduce).
    pub(crate) fn remove(&mut self, key: &[u8]) -> bool {
        let Some(j) = self.find(key) else {
            return false;
        };
        let n = self.slots();
        let i = 2 * j + 1; // table index of the key's offset
        if i < n - 1 {
            let hole_end = if i == 1 { PBLKSIZ } else { self.slot(i - 1) };
            let pair_start = self.slot(i + 1);
            let shift = hole_end - pair_start;
            let moved_start = self.slot(n);
            self.buf
                .copy_within(moved_start..pair_start, moved_start + shift);
            for k in i..n - 1 {
                let moved = self.slot(k + 2) + shift;
                self.set_slot(k, moved);
            }
        }
        self.set_slot(0, n - 2);
        true
    }

    /// Splits the page on hash bit `bit` (a single set bit): pairs whose key hash has it
    /// clear go to the first page, the others to the second, each rebuilt from zeros in
    /// the old slot order.
    pub(crate) fn split(&self, bit: u32) -> (Page, Page) {
        let mut low = Page::empty();
        let mut high = Page::empty();
        for j in 0..self.len() {
            let (key, value) = self.pair(j);
            let side = if hash(key) & bit != 0 {
                &mut high
            } else {
                &mut low
            };
            side.put(key, value);
        }
        (low, high)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page_with(pairs: &[(&[u8], &[u8])]) -> Page {
        let mut p = Page::empty();
        for (k, v) in pairs {
            assert!(p.fits(k.len() + v.len()));
            p.put(k, v);
        }
        Page::parse(*p.as_bytes()).expect("a page we built is valid")
    }

    #[test]
    fn empty_page_is_all_zero_and_has_1018_bytes_for_a_pair() {
        let p = Page::empty();
        assert_eq!(p.len(), 0);
        assert!(p.fits(1018));
        assert!(!p.fits(1019));
    }

    #[test]
    fn put_packs_key_then_value_from_the_end() {
        let p = page_with(&[(b"key", b"value"), (b"", b"")]);
        let b = p.as_bytes();
        assert_eq!(&b[0..2], &[4, 0]);
        assert_eq!(p.slot(1), 1021);
        assert_eq!(p.slot(2), 1016);
        assert_eq!(&b[1021..1024], b"key");
        assert_eq!(&b[1016..1021], b"value");
        assert_eq!(p.pair(1), (&b""[..], &b""[..]));
        assert_eq!(p.get(b""), Some(&b""[..]));
        assert_eq!(p.get(b"ke"), None);
    }

    #[test]
    fn remove_compacts_and_leaves_stale_bytes() {
        let mut p = page_with(&[(b"a", b"1"), (b"bb", b"22"), (b"c", b"3")]);
        assert!(p.remove(b"a"));
        assert!(!p.remove(b"a"));
        assert_eq!(p.len(), 2);
        assert_eq!(p.pair(0), (&b"bb"[..], &b"22"[..]));
        assert_eq!(p.pair(1), (&b"c"[..], &b"3"[..]));
        // The two abandoned offsets stay after the table.
        assert_eq!(p.slot(5), 1017);
        assert_eq!(p.slot(6), 1016);
        // The old copy of "c3" stays below the live data.
        assert_eq!(&p.as_bytes()[1016..1018], b"3c");
        assert!(Page::parse(*p.as_bytes()).is_ok());
    }

    #[test]
    fn removing_the_last_pair_only_drops_the_count() {
        let mut p = page_with(&[(b"a", b"1"), (b"b", b"2")]);
        let before = *p.as_bytes();
        assert!(p.remove(b"b"));
        assert_eq!(&p.as_bytes()[2..], &before[2..]);
        assert_eq!(p.len(), 1);
    }

    #[test]
    fn parse_rejects_bad_tables() {
        let mut b = [0u8; PBLKSIZ];
        b[0] = 1; // odd count
        assert!(Page::parse(b).is_err());
        b[0..2].copy_from_slice(&(-2i16).to_le_bytes());
        assert!(Page::parse(b).is_err());
        b[0..2].copy_from_slice(&2i16.to_le_bytes());
        b[2..4].copy_from_slice(&1025i16.to_le_bytes()); // beyond the page
        assert!(Page::parse(b).is_err());
        b[2..4].copy_from_slice(&1000i16.to_le_bytes());
        b[4..6].copy_from_slice(&1001i16.to_le_bytes()); // value above its key
        assert!(Page::parse(b).is_err());
        b[4..6].copy_from_slice(&(-3i16).to_le_bytes()); // negative
        assert!(Page::parse(b).is_err());
        b[4..6].copy_from_slice(&4i16.to_le_bytes()); // inside the table
        assert!(Page::parse(b).is_err());
        b[4..6].copy_from_slice(&6i16.to_le_bytes());
        assert!(Page::parse(b).is_ok());
    }
}
