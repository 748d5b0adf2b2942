//! Pairs collected by a builder before it writes: every key and value in one buffer, so a
//! million inserts cost no million allocations, and one stable sort orders them.

/// Key/value pairs in insertion order, repeats included.
#[derive(Debug, Default, Clone)]
pub(crate) struct Pairs {
    data: Vec<u8>,
    /// Offset of the key in `data`, key length, value length; the value follows the key.
    items: Vec<Item>,
    /// Longest key or value pushed (longer than 4 GiB − 1 bytes: cut, and refused by the
    /// builders when they write).
    pub(crate) longest: usize,
}

#[derive(Debug, Clone, Copy)]
struct Item {
    at: u64,
    key: u32,
    value: u32,
}

/// Pairs sorted by key, and for each whether its key differs from the previous one's.
pub(crate) type Sorted<'a> = (Vec<(&'a [u8], &'a [u8])>, Vec<bool>);

impl Pairs {
    /// Adds a pair. Keys and values longer than 4 GiB − 1 bytes are cut there (see
    /// `longest`: the builders refuse them when they write, as the formats do).
    pub(crate) fn push(&mut self, key: &[u8], value: &[u8]) {
        self.longest = self.longest.max(key.len()).max(value.len());
        let key = &key[..key.len().min(u32::MAX as usize)];
        let value = &value[..value.len().min(u32::MAX as usize)];
        self.items.push(Item {
            at: self.data.len() as u64,
            key: key.len() as u32,
            value: value.len() as u32,
        });
        self.data.extend_from_slice(key);
        self.data.extend_from_slice(value);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Number of pairs inserted, repeats included.
    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    /// Pair `i` in insertion order.
    pub(crate) fn get(&self, i: usize) -> (&[u8], &[u8]) {
        self.pair(&self.items[i])
    }

    /// Key of pair `i` in insertion order.
    pub(crate) fn key(&self, i: usize) -> &[u8] {
        let it = self.items[i];
        &self.data[it.at as usize..it.at as usize + it.key as usize]
    }

    fn pair(&self, it: &Item) -> (&[u8], &[u8]) {
        let at = it.at as usize;
        let k = at + it.key as usize;
        (&self.data[at..k], &self.data[k..k + it.value as usize])
    }

    /// Number of distinct keys.
    pub(crate) fn distinct_len(&self) -> usize {
        let mut keys: Vec<&[u8]> = self.items.iter().map(|i| self.pair(i).0).collect();
        keys.sort_unstable();
        keys.dedup();
        keys.len()
    }

    /// The pairs sorted by key (byte-wise, libdb's default), keeping only the value
    /// inserted last for a repeated key.
    pub(crate) fn sorted_last_wins(&self) -> Vec<(&[u8], &[u8])> {
        let (mut pairs, new_key) = self.sorted_all();
        // Equal keys are in insertion order, so the last of a run is the latest.
        let mut kept = 0;
        for i in 0..pairs.len() {
            if new_key[i] || kept == 0 {
                pairs[kept] = pairs[i];
                kept += 1;
            } else {
                pairs[kept - 1].1 = pairs[i].1;
            }
        }
        pairs.truncate(kept);
        pairs
    }

    /// Every pair sorted by key (byte-wise); pairs with equal keys stay in insertion
    /// order (the order of unsorted duplicates). With each, whether it starts a new key.
    pub(crate) fn sorted_all(&self) -> Sorted<'_> {
        let key = |i: usize| {
            let it = self.items[i];
            &self.data[it.at as usize..it.at as usize + it.key as usize]
        };
        // Keys often share a long prefix (`host00…`): skip it and sort on the next 8 bytes
        // (big-endian, zero-padded: a difference there is the byte-wise order), comparing
        // the rest of the keys only on a tie, and then the insertion order (so the result
        // is the stable sort's).
        let common = match self.items.first() {
            None => 0,
            Some(_) => {
                let first = key(0);
                (1..self.items.len()).fold(first.len(), |n, i| {
                    let k = key(i);
                    first[..n].iter().zip(k).take_while(|(a, b)| a == b).count()
                })
            }
        };
        let prefix = |k: &[u8]| {
            let mut b = [0u8; 8];
            let rest = &k[common..];
            let n = rest.len().min(8);
            b[..n].copy_from_slice(&rest[..n]);
            u64::from_be_bytes(b)
        };
        // (prefix, index) in one u128: one integer compare orders the prefixes and keeps
        // the insertion order among equal ones; only runs of equal prefixes (rare unless
        // keys repeat) are then sorted on their whole keys.
        let n = self.items.len();
        let mut order: Vec<u128> = (0..n)
            .map(|i| (u128::from(prefix(key(i))) << 64) | i as u128)
            .collect();
        order.sort_unstable();
        let idx = |x: u128| (x & u128::from(u64::MAX)) as usize;
        let mut new_key = vec![true; n];
        let mut i = 0;
        while i < n {
            let p = order[i] >> 64;
            let mut j = i + 1;
            while j < n && order[j] >> 64 == p {
                j += 1;
            }
            if j - i > 1 {
                order[i..j].sort_unstable_by(|a, b| {
                    key(idx(*a))[common..]
                        .cmp(&key(idx(*b))[common..])
                        .then(a.cmp(b))
                });
                for m in i + 1..j {
                    new_key[m] = key(idx(order[m - 1])) != key(idx(order[m]));
                }
            }
            i = j;
        }
        let pairs = order
            .iter()
            .map(|&x| self.pair(&self.items[idx(x)]))
            .collect();
        (pairs, new_key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_insert_wins_and_order_is_bytewise() {
        let mut p = Pairs::default();
        p.push(b"b", b"1");
        p.push(b"a", b"2");
        p.push(b"b", b"3");
        p.push(b"\xff", b"4");
        p.push(b"b\0", b"5");
        assert_eq!(p.distinct_len(), 4);
        let s = p.sorted_last_wins();
        assert_eq!(
            s,
            [
                (&b"a"[..], &b"2"[..]),
                (&b"b"[..], &b"3"[..]),
                (&b"b\0"[..], &b"5"[..]),
                (&b"\xff"[..], &b"4"[..])
            ]
        );
        let (all, new) = p.sorted_all();
        assert_eq!(all.len(), 5);
        assert_eq!(new, [true, true, false, true, true]);
        assert_eq!(all[2], (&b"b"[..], &b"3"[..]));
    }

    #[test]
    fn sort_matches_a_stable_bytewise_sort() {
        // Keys with long shared prefixes, prefixes of each other, and repeats.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut p = Pairs::default();
        let mut naive: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        for i in 0..3000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 14) as usize;
            let mut k = b"common-prefix-".to_vec();
            k.extend((0..len).map(|j| b"ab\0\xff"[((x >> (2 * j)) % 4) as usize]));
            let v = i.to_le_bytes().to_vec();
            p.push(&k, &v);
            naive.push((k, v));
        }
        naive.sort_by(|a, b| a.0.cmp(&b.0));
        let (all, new) = p.sorted_all();
        let got: Vec<(Vec<u8>, Vec<u8>)> =
            all.iter().map(|(k, v)| (k.to_vec(), v.to_vec())).collect();
        assert_eq!(got, naive);
        for i in 1..got.len() {
            assert_eq!(new[i], got[i].0 != got[i - 1].0);
        }
        assert_eq!(p.sorted_last_wins().len(), p.distinct_len());
    }
}
