//! Pairs collected by a builder before it writes: every key and value in one buffer, so a
//! million inserts cost no million allocations, and one stable sort orders them.

/// Key/value pairs in insertion order, repeats included.
#[derive(Debug, Default, Clone)]
pub(crate) struct Pairs {
    data: Vec<u8>,
    /// (offset of the key in `data`, key length, value length); the value follows the key.
    items: Vec<(usize, usize, usize)>,
}

impl Pairs {
    pub(crate) fn push(&mut self, key: &[u8], value: &[u8]) {
        self.items.push((self.data.len(), key.len(), value.len()));
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
        let (at, k, _) = self.items[i];
        &self.data[at..at + k]
    }

    fn pair(&self, &(at, k, v): &(usize, usize, usize)) -> (&[u8], &[u8]) {
        (&self.data[at..at + k], &self.data[at + k..at + k + v])
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
        let mut pairs = self.sorted_all();
        // Equal keys are in insertion order, so the last of a run is the latest.
        pairs.dedup_by(|later, kept| {
            let same = later.0 == kept.0;
            if same {
                kept.1 = later.1;
            }
            same
        });
        pairs
    }

    /// Every pair sorted by key (byte-wise); pairs with equal keys stay in insertion
    /// order (the order of unsorted duplicates).
    pub(crate) fn sorted_all(&self) -> Vec<(&[u8], &[u8])> {
        let key = |i: usize| {
            let (at, k, _) = self.items[i];
            &self.data[at..at + k]
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
        let mut order: Vec<(u64, usize)> =
            (0..self.items.len()).map(|i| (prefix(key(i)), i)).collect();
        order.sort_unstable_by(|a, b| {
            a.0.cmp(&b.0)
                .then_with(|| key(a.1)[common..].cmp(&key(b.1)[common..]))
                .then(a.1.cmp(&b.1))
        });
        order
            .iter()
            .map(|&(_, i)| self.pair(&self.items[i]))
            .collect()
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
        assert_eq!(p.distinct_len(), 3);
        let s = p.sorted_last_wins();
        assert_eq!(
            s,
            [
                (&b"a"[..], &b"2"[..]),
                (&b"b"[..], &b"3"[..]),
                (&b"\xff"[..], &b"4"[..])
            ]
        );
    }
}
