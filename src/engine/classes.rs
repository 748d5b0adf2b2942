//! Class members at run time, kept the way sendmail keeps them: one symbol per word
//! shared by every class, in a 2003-bucket hash table (stab.c), so that `$=x` lists
//! members in sendmail's order (cf-semantics §5.6).

use std::cell::RefCell;
use std::collections::HashMap;

use crate::engine::token::FastState;
use crate::ir::MacroId;

const STABSIZE: u32 = 2003;
/// sendmail's symbol type for classes (ST_CLASS); it seeds the bucket hash.
const ST_CLASS: u32 = 1;

#[derive(Debug, Clone)]
struct Word {
    /// As first entered (printed raw by `$=x`).
    text: Vec<u8>,
    bucket: u32,
    /// Order of first entry: new symbols go to the end of their bucket's chain.
    seq: u32,
    /// One bit per class id.
    bits: [u64; 4],
}

/// Every class's members.
#[derive(Debug, Clone)]
pub struct ClassTable {
    /// Lower-cased word → symbol.
    words: HashMap<Vec<u8>, Word, FastState>,
    next_seq: u32,
    /// The longest member of each class, in bytes: a longer phrase cannot be one.
    longest: Vec<usize>,
    /// Changes with every [`ClassTable::add`] (what was computed from the members before
    /// is stale then); never 0.
    generation: u32,
    /// Per class id, made on first use: the generation it was made at and the class's
    /// lower-cased members, sorted (to grow a `$=X` phrase only while it can still
    /// become a member).
    sorted: RefCell<Vec<(u32, Vec<Vec<u8>>)>>,
    /// Per class id, made on first use: the generation it was made at and the class's
    /// lower-cased members joined with NUL bytes (to tell whether a text occurs in
    /// some member).
    joined: RefCell<Vec<(u32, Vec<u8>)>>,
    /// Bytes added to each class (an upper bound of its joined size).
    bytes: Vec<usize>,
    /// Made on first use: the generation, and every byte pair (and byte) that occurs
    /// in some member of some class, one bit each.
    pairs: RefCell<(u32, Box<Pairs>)>,
}

/// One bit per byte pair (65,536) and then per byte (256).
type Pairs = [u64; 1024 + 4];

/// Where a phrase stands against a class's members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phrase {
    Member,
    /// Not a member, but the start of one.
    Prefix,
    /// Neither: no longer phrase that starts with it is a member.
    Dead,
}

impl Default for ClassTable {
    fn default() -> Self {
        ClassTable {
            words: HashMap::default(),
            next_seq: 0,
            longest: vec![0; 256],
            generation: 1,
            sorted: RefCell::new(vec![(0, Vec::new()); 256]),
            joined: RefCell::new(vec![(0, Vec::new()); 256]),
            bytes: vec![0; 256],
            pairs: RefCell::new((0, Box::new([0; 1024 + 4]))),
        }
    }
}

fn bucket(word: &[u8]) -> u32 {
    word.iter().fold(ST_CLASS, |h, &b| {
        ((h << 1) ^ u32::from(b.to_ascii_lowercase())) % STABSIZE
    })
}

impl ClassTable {
    pub fn new() -> ClassTable {
        ClassTable::default()
    }

    /// Add `word` to class `id` (setclass).
    pub fn add(&mut self, id: MacroId, word: &[u8]) {
        let key = word.to_ascii_lowercase();
        let seq = self.next_seq;
        let w = self.words.entry(key).or_insert_with(|| Word {
            text: word.to_vec(),
            bucket: bucket(word),
            seq,
            bits: [0; 4],
        });
        if w.seq == seq {
            self.next_seq += 1;
        }
        w.bits[(id >> 6) as usize] |= 1 << (id & 63);
        self.generation = self.generation.wrapping_add(1).max(1);
        let l = &mut self.longest[id as usize];
        *l = (*l).max(word.len());
        self.bytes[id as usize] += word.len() + 1;
    }

    /// At most how many bytes class `id`'s members take, joined.
    pub fn bytes(&self, id: MacroId) -> usize {
        self.bytes[id as usize]
    }

    /// False when the lower-cased `text` occurs in no member of any class: some byte
    /// of it (or pair of adjacent bytes) occurs in none. True is only a maybe.
    pub fn may_mention(&self, text: &[u8]) -> bool {
        let mut pairs = self.pairs.borrow_mut();
        let (made, bits) = &mut *pairs;
        if *made != self.generation {
            bits.fill(0);
            let mut set = |n: usize| bits[n >> 6] |= 1 << (n & 63);
            for w in self.words.keys() {
                for &b in w {
                    set(65536 + b as usize);
                }
                for p in w.windows(2) {
                    set(usize::from(p[0]) << 8 | usize::from(p[1]));
                }
            }
            *made = self.generation;
        }
        let has = |n: usize| bits[n >> 6] & (1 << (n & 63)) != 0;
        match text {
            [b] => has(65536 + *b as usize),
            _ => text
                .windows(2)
                .all(|p| has(usize::from(p[0]) << 8 | usize::from(p[1]))),
        }
    }

    /// Whether the lower-cased `text` occurs in some member of class `id` (only then
    /// can a token with that text be part of a phrase that is a member).
    pub fn mentions(&self, id: MacroId, text: &[u8]) -> bool {
        let mut joined = self.joined.borrow_mut();
        let (made, all) = &mut joined[id as usize];
        if *made != self.generation {
            all.clear();
            let bit = |w: &Word| w.bits[(id >> 6) as usize] & (1 << (id & 63)) != 0;
            for (k, _) in self.words.iter().filter(|(_, w)| bit(w)) {
                all.extend_from_slice(k);
                all.push(0);
            }
            *made = self.generation;
        }
        memchr::memmem::find(all, text).is_some()
    }

    /// The length of the longest member of class `id`.
    pub fn longest(&self, id: MacroId) -> usize {
        self.longest[id as usize]
    }

    /// Changes whenever a member is added.
    pub fn generation(&self) -> u32 {
        self.generation
    }

    /// The classes `word` is a member of (one bit per class id), compared ASCII
    /// case-insensitively.
    pub fn bits(&self, word: &[u8]) -> [u64; 4] {
        let found = if word.iter().any(u8::is_ascii_uppercase) {
            self.words.get(&word.to_ascii_lowercase())
        } else {
            self.words.get(word)
        };
        found.map_or([0; 4], |w| w.bits)
    }

    /// Whether the lower-cased `phrase` is a member of class `id`, the start of one, or
    /// neither.
    pub fn phrase(&self, id: MacroId, phrase: &[u8]) -> Phrase {
        let mut sorted = self.sorted.borrow_mut();
        let (made, members) = &mut sorted[id as usize];
        if *made != self.generation {
            members.clear();
            let bit = |w: &Word| w.bits[(id >> 6) as usize] & (1 << (id & 63)) != 0;
            members.extend(
                self.words
                    .iter()
                    .filter(|(_, w)| bit(w))
                    .map(|(k, _)| k.clone()),
            );
            members.sort_unstable();
            *made = self.generation;
        }
        let at = members.partition_point(|m| m.as_slice() < phrase);
        match members.get(at) {
            Some(m) if m.as_slice() == phrase => Phrase::Member,
            Some(m) if m.starts_with(phrase) => Phrase::Prefix,
            _ => Phrase::Dead,
        }
    }

    /// Whether `word` is in class `id`, compared ASCII case-insensitively (wordinclass).
    pub fn contains(&self, id: MacroId, word: &[u8]) -> bool {
        self.bits(word)[(id >> 6) as usize] & (1 << (id & 63)) != 0
    }

    /// The members of class `id` in symbol-table order.
    pub fn members(&self, id: MacroId) -> Vec<&[u8]> {
        let mut v: Vec<&Word> = self
            .words
            .values()
            .filter(|w| w.bits[(id >> 6) as usize] & (1 << (id & 63)) != 0)
            .collect();
        v.sort_by_key(|w| (w.bucket, w.seq));
        v.into_iter().map(|w| w.text.as_slice()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbol_table_order() {
        // cf-semantics §5.6 [observed]: `.CX a b vm.example.com` lists b, a, vm.example.com.
        let mut t = ClassTable::new();
        for w in ["a", "b", "vm.example.com"] {
            t.add(b'X', w.as_bytes());
        }
        assert_eq!(bucket(b"b"), 96);
        assert_eq!(bucket(b"a"), 99);
        assert_eq!(bucket(b"vm.example.com"), 685);
        assert_eq!(
            t.members(b'X'),
            [&b"b"[..], &b"a"[..], &b"vm.example.com"[..]]
        );
    }

    #[test]
    fn mentions_finds_texts_inside_members() {
        let mut t = ClassTable::new();
        t.add(b'w', b"VM.Example.com");
        t.add(b'w', b"localhost");
        t.add(b'Y', b"other.org");
        assert!(t.mentions(b'w', b"example"));
        assert!(t.mentions(b'w', b"m.e"));
        assert!(t.mentions(b'w', b"localhost"));
        assert!(!t.mentions(b'w', b"other"));
        assert!(!t.mentions(b'w', b"comlocal"));
        assert!(t.mentions(b'Y', b"other"));
        t.add(b'w', b"other.net");
        assert!(t.mentions(b'w', b"other"));
        assert!(t.may_mention(b"other"));
        assert!(t.may_mention(b"x"));
        assert!(!t.may_mention(b"q"));
        assert!(!t.may_mention(b"user1"));
        // Every pair occurs somewhere, the text nowhere: only a maybe.
        assert!(t.may_mention(b"her.com"));
        assert!(!(0..=255).any(|id| t.mentions(id, b"her.com")));
    }

    #[test]
    fn case_insensitive_and_shared_symbols() {
        let mut t = ClassTable::new();
        t.add(b'w', b"Host.Example");
        t.add(b'Y', b"host.example");
        assert!(t.contains(b'w', b"HOST.example"));
        assert!(t.contains(b'Y', b"Host.Example"));
        assert!(!t.contains(b'Z', b"host.example"));
        // One symbol: the spelling first entered is the one printed.
        assert_eq!(t.members(b'Y'), [&b"Host.Example"[..]]);
    }
}
