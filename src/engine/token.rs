//! Interned tokens: a workspace is a list of small ids into one table per session, so
//! rules copy, compare and case-fold tokens as integers and never allocate for them.
//!
//! Every one-byte token has its byte as its id ([`Token::byte`]): the metacharacter
//! tokens (`$#`, `$@`, `$:` …) and operators are known without a lookup. The table only
//! grows; a session lives for one run of `cfmap test` or `cfmap check`.

use std::cell::Cell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::rc::Rc;

use crate::engine::classes::ClassTable;
use crate::ir::MacroId;
use crate::meta;

/// One token of a workspace: an id in the session's [`TokenTable`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Token(u32);

impl Token {
    /// The token made of the one byte `b`.
    pub const fn byte(b: u8) -> Token {
        Token(b as u32)
    }

    /// Whether this is the one-byte token `b`.
    pub fn is(self, b: u8) -> bool {
        self.0 == u32::from(b)
    }

    /// A number below 64 for signatures of workspaces (ids spread evenly).
    pub fn bit_index(self) -> u32 {
        self.0.wrapping_mul(0x9E37_79B9) >> 26
    }

    fn index(self) -> usize {
        self.0 as usize
    }
}

/// What the table knows of a token.
#[derive(Debug)]
struct Entry {
    text: Rc<[u8]>,
    /// The token ASCII lower-cased (itself when it has no capitals).
    fold: Token,
    /// Printable ASCII only: `xputs` prints it as it is.
    plain: bool,
    /// Holds a METAQUOTE byte.
    quoted: bool,
    /// Class membership of the folded token (one bit per class id), valid while the
    /// class table's generation is `class_gen` (0: never computed).
    class_gen: Cell<u32>,
    class_bits: Cell<[u64; 4]>,
}

/// A multiply-rotate hash over 8-byte words: tokens are short, and come from the
/// configuration and the test input, not from an adversary on the network.
#[derive(Default)]
pub(crate) struct ShortHasher(u64);

impl Hasher for ShortHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let w = u64::from_le_bytes(c.try_into().expect("8 bytes"));
            self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
        let mut last = [0u8; 8];
        let rest = chunks.remainder();
        last[..rest.len()].copy_from_slice(rest);
        let w = u64::from_le_bytes(last) ^ ((rest.len() as u64) << 59);
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn write_u32(&mut self, n: u32) {
        self.write_usize(n as usize);
    }

    fn write_usize(&mut self, n: usize) {
        self.0 = (self.0.rotate_left(5) ^ n as u64).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Hash maps keyed by tokens or short byte strings.
pub(crate) type FastState = BuildHasherDefault<ShortHasher>;

/// The session's tokens.
#[derive(Debug)]
pub struct TokenTable {
    entries: Vec<Entry>,
    index: HashMap<Rc<[u8]>, Token, FastState>,
}

impl std::fmt::Debug for ShortHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ShortHasher")
    }
}

impl Default for TokenTable {
    fn default() -> Self {
        TokenTable::new()
    }
}

impl TokenTable {
    /// A table holding the 256 one-byte tokens (ids 0–255) and the empty token.
    pub fn new() -> TokenTable {
        let mut t = TokenTable {
            entries: Vec::with_capacity(4096),
            index: HashMap::default(),
        };
        for b in 0..=255u8 {
            t.push(Rc::from(&[b][..]));
        }
        for b in b'A'..=b'Z' {
            t.entries[b as usize].fold = Token::byte(b.to_ascii_lowercase());
        }
        t.push(Rc::from(&[][..]));
        t
    }

    fn push(&mut self, text: Rc<[u8]>) -> Token {
        let id = Token(u32::try_from(self.entries.len()).expect("fewer than 2^32 tokens"));
        self.entries.push(Entry {
            plain: text.iter().all(|&b| (0x20..0x7F).contains(&b)),
            quoted: text.contains(&meta::METAQUOTE),
            text: text.clone(),
            fold: id,
            class_gen: Cell::new(0),
            class_bits: Cell::new([0; 4]),
        });
        self.index.insert(text, id);
        id
    }

    /// The token for `text`, added on first sight.
    pub fn intern(&mut self, text: &[u8]) -> Token {
        if let [b] = text {
            return Token::byte(*b);
        }
        if let Some(&t) = self.index.get(text) {
            return t;
        }
        let id = self.push(Rc::from(text));
        if text.iter().any(u8::is_ascii_uppercase) {
            let fold = self.intern(&text.to_ascii_lowercase());
            self.entries[id.index()].fold = fold;
        }
        id
    }

    /// The bytes of `t`.
    pub fn text(&self, t: Token) -> &[u8] {
        &self.entries[t.index()].text
    }

    /// The bytes of `t`, shared (to keep while the session changes).
    pub fn shared(&self, t: Token) -> Rc<[u8]> {
        self.entries[t.index()].text.clone()
    }

    /// The bytes of each token of `ws`, in order.
    pub fn texts<'a>(&'a self, ws: &'a [Token]) -> impl Iterator<Item = &'a [u8]> + 'a {
        ws.iter().map(|&t| self.text(t))
    }

    /// `t` ASCII lower-cased: two tokens are equal as sendmail compares them when their
    /// folds are the same token.
    pub fn fold(&self, t: Token) -> Token {
        self.entries[t.index()].fold
    }

    /// Whether `t` prints as its bytes (printable ASCII only).
    pub fn plain(&self, t: Token) -> bool {
        self.entries[t.index()].plain
    }

    /// Whether `t` holds a METAQUOTE byte.
    pub fn quoted(&self, t: Token) -> bool {
        self.entries[t.index()].quoted
    }

    /// Whether the one token `t` is a member of class `id`, compared as sendmail's
    /// `wordinclass` compares. Computed once per token while the classes stay the same.
    pub fn in_class(&self, t: Token, id: MacroId, classes: &ClassTable) -> bool {
        let e = &self.entries[self.fold(t).index()];
        let generation = classes.generation();
        let bits = if e.class_gen.get() == generation {
            e.class_bits.get()
        } else {
            let bits = classes.bits(&e.text);
            e.class_bits.set(bits);
            e.class_gen.set(generation);
            bits
        };
        bits[(id >> 6) as usize] & (1 << (id & 63)) != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_byte_tokens_are_their_bytes() {
        let mut t = TokenTable::new();
        assert_eq!(t.intern(b"@"), Token::byte(b'@'));
        assert!(t.intern(&[meta::CANONNET]).is(meta::CANONNET));
        assert_eq!(t.fold(Token::byte(b'Q')), Token::byte(b'q'));
        assert_eq!(t.text(Token::byte(0x90)), [0x90]);
        let empty = t.intern(b"");
        assert_eq!(t.text(empty), b"");
    }

    #[test]
    fn interning_and_folding() {
        let mut t = TokenTable::new();
        let a = t.intern(b"Example");
        let b = t.intern(b"example");
        let c = t.intern(b"Example");
        assert_eq!(a, c);
        assert_ne!(a, b);
        assert_eq!(t.fold(a), b);
        assert_eq!(t.fold(b), b);
        assert_eq!(t.text(a), b"Example");
        assert!(t.plain(a));
        let high = t.intern(&[b'x', 0x80]);
        assert!(!t.plain(high));
        let quoted = t.intern(&[b'a', meta::METAQUOTE, b'b']);
        assert!(t.quoted(quoted));
    }

    #[test]
    fn class_membership_follows_changes() {
        let mut t = TokenTable::new();
        let mut c = ClassTable::new();
        c.add(b'w', b"Host");
        let host = t.intern(b"HOST");
        assert!(t.in_class(host, b'w', &c));
        assert!(!t.in_class(host, b'X', &c));
        c.add(b'X', b"host");
        assert!(t.in_class(host, b'X', &c));
    }
}
