//! Interned tokens: a workspace is a list of small ids into one table per session, so
//! rules copy, compare and case-fold tokens as integers and never allocate for them.
//!
//! Every one-byte token has its byte as its id ([`Token::byte`]): the metacharacter
//! tokens (`$#`, `$@`, `$:` …) and operators are known without a lookup. The table only
//! grows; a session lives for one run of `cfmap test` or `cfmap check`.

use std::cell::Cell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

pub(crate) use crate::shorthash::FastState;
use crate::shorthash::hash_bytes;

use crate::engine::classes::ClassTable;
use crate::ir::MacroId;
use crate::meta;

/// The arena's zero padding: a token this long or shorter can be read as a block.
pub const PAD: usize = 16;

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
    pub const fn bit_index(self) -> u32 {
        self.0.wrapping_mul(0x9E37_79B9) >> 26
    }

    fn index(self) -> usize {
        self.0 as usize
    }

    /// The token's number in its table.
    pub fn id(self) -> u32 {
        self.0
    }

    /// The token numbered `id` ([`Token::id`]) in its table.
    pub(crate) fn from_id(id: u32) -> Token {
        Token(id)
    }
}

/// What the table knows of a token.
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// Its bytes: `bytes[start..start + len]` of the table.
    start: u32,
    len: u32,
    /// The token ASCII lower-cased (itself when it has no capitals).
    fold: Token,
    /// Printable ASCII only: `xputs` prints it as it is.
    plain: bool,
    /// Holds a METAQUOTE byte.
    quoted: bool,
    /// Some rule's pattern has it (folded) as a literal.
    literal: bool,
}

/// What a folded token is to the classes, valid while the class table's generation is
/// `made` (0: never computed).
#[derive(Debug, Default)]
struct ClassCache {
    made: Cell<u32>,
    /// Member of class id (one bit per id).
    member: Cell<[u64; 4]>,
    /// Whether `starts` is known for class id, and whether some member of the class
    /// is longer and starts with the token's bytes.
    starts_known: Cell<[u64; 4]>,
    starts: Cell<[u64; 4]>,
    /// Whether `near` is known for a class slot (the session numbers the classes rules
    /// name), and whether the token is [`TokenTable::near_class`] to it.
    near_known: Cell<u64>,
    near: Cell<u64>,
}

/// A hasher for keys that are hashes already.
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn write(&mut self, bytes: &[u8]) {
        self.0 = hash_bytes(self.0, bytes);
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Token ids by the hash of their bytes; the rare second token with the same hash goes
/// to a list searched in order.
#[derive(Debug, Default)]
struct Index {
    by_hash: HashMap<u64, Token, BuildHasherDefault<Prehashed>>,
    clashes: Vec<(u64, Token)>,
}

impl std::fmt::Debug for Prehashed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Prehashed")
    }
}

/// The session's tokens.
///
/// Tokens made before [`TokenTable::set_mark`] (the configuration's) stay for good;
/// the ones made after it (the test input's, map results) go at the next
/// [`TokenTable::release`], so a long run does not keep every address it has seen.
#[derive(Debug)]
pub struct TokenTable {
    entries: Vec<Entry>,
    bytes: Vec<u8>,
    classes: Vec<ClassCache>,
    /// Every token's index, and a copy of it as it was at the mark: a release starts
    /// the index again from the copy instead of taking tokens out one by one.
    index: Index,
    lasting: Index,
    /// Where the tokens that go at a release begin, once set.
    mark: Option<usize>,
    /// Where in `bytes` the printed form (`$#`, `$@` …) of each metacharacter token
    /// 0x80–0x9F starts (0: none that short).
    meta_printed: [u32; 32],
    /// How many releases took tokens away (their ids are given out again after one).
    releases: u32,
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
            bytes: vec![0; PAD],
            classes: Vec::with_capacity(4096),
            index: Index::default(),
            lasting: Index::default(),
            mark: None,
            meta_printed: [0; 32],
            releases: 0,
        };
        for b in 0..=255u8 {
            t.push(&[b], 0);
        }
        for b in b'A'..=b'Z' {
            t.entries[b as usize].fold = Token::byte(b.to_ascii_lowercase());
        }
        let h = hash_bytes(0, b"");
        t.push(b"", h);
        // `$x` for the metacharacters xputs prints so (the macro ones it expands).
        for b in 0x80..=0x9Fu8 {
            if let Some(l) = meta::meta_letter(b)
                && !matches!(b, meta::MACROEXPAND | meta::MACRODEXPAND)
            {
                t.meta_printed[usize::from(b - 0x80)] = t.append(&[b'$', l]);
            }
        }
        t
    }

    /// Add `text` (its hash `h`) as a new token, to the index in use.
    fn push(&mut self, text: &[u8], h: u64) -> Token {
        let id = Token(u32::try_from(self.entries.len()).expect("fewer than 2^32 tokens"));
        let start = self.append(text);
        let plain = text.iter().all(|&b| (0x20..0x7F).contains(&b));
        self.entries.push(Entry {
            start,
            len: text.len() as u32,
            fold: id,
            plain,
            // METAQUOTE is not printable ASCII.
            quoted: !plain && text.contains(&meta::METAQUOTE),
            literal: false,
        });
        self.classes.push(ClassCache::default());
        if text.len() != 1 {
            let index = &mut self.index;
            match index.by_hash.entry(h) {
                std::collections::hash_map::Entry::Occupied(_) => index.clashes.push((h, id)),
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(id);
                }
            }
        }
        id
    }

    /// Put `text` at the end of the arena; where it starts. The arena always ends in
    /// PAD zero bytes (see [`TokenTable::short_text`]).
    fn append(&mut self, text: &[u8]) -> u32 {
        self.bytes.truncate(self.bytes.len() - PAD);
        let start = u32::try_from(self.bytes.len()).expect("less than 4 GiB of tokens");
        self.bytes.extend_from_slice(text);
        self.bytes.extend_from_slice(&[0; PAD]);
        start
    }

    fn find(&self, index: &Index, text: &[u8], h: u64) -> Option<Token> {
        let &t = index.by_hash.get(&h)?;
        if self.text(t) == text {
            return Some(t);
        }
        index
            .clashes
            .iter()
            .find(|&&(ch, t)| ch == h && self.text(t) == text)
            .map(|&(_, t)| t)
    }

    /// The token for `text`, added on first sight.
    #[inline]
    pub fn intern(&mut self, text: &[u8]) -> Token {
        if let [b] = text {
            return Token::byte(*b);
        }
        self.intern_long(text)
    }

    /// [`TokenTable::intern`] of a text that is not one byte long.
    fn intern_long(&mut self, text: &[u8]) -> Token {
        let h = hash_bytes(0, text);
        if let Some(t) = self.find(&self.index, text, h) {
            return t;
        }
        let id = self.push(text, h);
        if text.iter().any(u8::is_ascii_uppercase) {
            let fold = self.intern(&text.to_ascii_lowercase());
            self.entries[id.index()].fold = fold;
        }
        id
    }

    /// Everything interned so far stays; what comes after goes at [`TokenTable::release`].
    pub fn set_mark(&mut self) {
        self.release();
        self.mark = Some(self.entries.len());
        self.lasting.by_hash.clone_from(&self.index.by_hash);
        self.lasting.clashes.clone_from(&self.index.clashes);
    }

    /// Forget the tokens made since the mark (none of them may be used afterwards).
    pub fn release(&mut self) {
        if let Some(mark) = self.mark
            && self.entries.len() > mark
        {
            // Cleared in place: the index keeps its size for the next round.
            self.index.by_hash.clear();
            self.index.by_hash.extend(self.lasting.by_hash.iter());
            self.index.clashes.clone_from(&self.lasting.clashes);
            let start = self.entries[mark].start as usize;
            self.entries.truncate(mark);
            self.classes.truncate(mark);
            self.bytes.truncate(start);
            self.bytes.extend_from_slice(&[0; PAD]);
            self.releases = self.releases.wrapping_add(1);
        }
    }

    /// Changes whenever a release takes tokens away.
    pub fn releases(&self) -> u32 {
        self.releases
    }

    /// Note that the folded token `t` is a literal of some rule's pattern.
    pub fn mark_literal(&mut self, t: Token) {
        self.entries[t.index()].literal = true;
    }

    /// Whether the folded token `t` is a literal of some rule's pattern.
    pub fn is_literal(&self, t: Token) -> bool {
        self.entries[t.index()].literal
    }

    /// [`TokenTable::release`] once more than `limit` tokens were made since the mark:
    /// tokens that come back line after line (domains, map results) are then found
    /// instead of made again, and the table still cannot grow without bound.
    pub fn release_beyond(&mut self, limit: usize) {
        if let Some(mark) = self.mark
            && self.entries.len() - mark > limit
        {
            self.release();
        }
    }

    /// Whether `t` stays at [`TokenTable::release`].
    pub fn is_lasting(&self, t: Token) -> bool {
        self.mark.is_none_or(|m| t.index() < m)
    }

    /// The bytes of `t`.
    pub fn text(&self, t: Token) -> &[u8] {
        let e = &self.entries[t.index()];
        &self.bytes[e.start as usize..(e.start + e.len) as usize]
    }

    /// A token of at most [`PAD`] bytes as a fixed-size block that starts with its bytes
    /// (what follows them is not part of it), and its length: a copy of a fixed size
    /// costs no call. `None` for longer tokens.
    pub fn short_text(&self, t: Token) -> Option<(&[u8; PAD], usize)> {
        let e = &self.entries[t.index()];
        self.block(e.start as usize, e.len as usize)
    }

    /// The arena's PAD bytes from `start`, for bytes `len` long (at most PAD).
    #[inline(always)]
    fn block(&self, start: usize, len: usize) -> Option<(&[u8; PAD], usize)> {
        if len > PAD {
            return None;
        }
        let block = self.bytes[start..start + PAD].try_into().ok()?;
        Some((block, len))
    }

    /// What `xputs` prints for `t` as a [`TokenTable::short_text`] block, for a short
    /// token that prints as it is (printable ASCII) and for a metacharacter printed as
    /// `$x`; `None` for the others.
    #[inline(always)]
    pub fn short_printed(&self, t: Token) -> Option<(&[u8; PAD], usize)> {
        let e = &self.entries[t.index()];
        let (start, len) = if e.plain {
            (e.start as usize, e.len as usize)
        } else {
            let at = *self.meta_printed.get(t.index().wrapping_sub(0x80))?;
            if at == 0 {
                return None;
            }
            (at as usize, 2)
        };
        self.block(start, len)
    }

    /// Whether `t` prints the same whatever the macros hold: printable ASCII, or a
    /// metacharacter printed as `$x`.
    pub fn prints_static(&self, t: Token) -> bool {
        self.entries[t.index()].plain
            || self
                .meta_printed
                .get(t.index().wrapping_sub(0x80))
                .is_some_and(|&at| at != 0)
    }

    /// Append a [`TokenTable::short_text`] block's `len` bytes to `out` (a fixed-size
    /// copy, then the surplus cut off).
    #[inline(always)]
    pub fn extend_block(out: &mut Vec<u8>, (block, len): (&[u8; PAD], usize)) {
        let end = out.len() + len;
        out.extend_from_slice(block);
        out.truncate(end);
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
        let c = self.class_cache(t, classes);
        c.member.get()[(id >> 6) as usize] & (1 << (id & 63)) != 0
    }

    /// Whether a longer member of class `id` starts with the bytes of the one token `t`
    /// (ASCII case-insensitively): only then can a `$=X` phrase that starts with `t`
    /// and spans more tokens be a member.
    pub fn starts_member(&self, t: Token, id: MacroId, classes: &ClassTable) -> bool {
        let f = self.fold(t);
        let c = self.class_cache(f, classes);
        let (w, bit) = ((id >> 6) as usize, 1u64 << (id & 63));
        let mut known = c.starts_known.get();
        if known[w] & bit == 0 {
            let prefix = classes.phrase(id, self.text(f)) == crate::engine::classes::Phrase::Prefix;
            known[w] |= bit;
            c.starts_known.set(known);
            if prefix {
                let mut starts = c.starts.get();
                starts[w] |= bit;
                c.starts.set(starts);
            }
        }
        c.starts.get()[w] & bit != 0
    }

    /// Whether the folded token `f` may take part in matching `$=X` or `$~X` of class
    /// `id`: it is a member, or its text (as a phrase joins it: METAQUOTE escapes taken
    /// off) occurs in a member. Where neither holds, every `$=X` phrase that holds `f`
    /// fails, every `$~X` takes it, and no other such token matches otherwise.
    pub fn near_class(&self, f: Token, id: MacroId, classes: &ClassTable) -> bool {
        let text = self.text(f);
        if self.class_cache(f, classes).member.get()[(id >> 6) as usize] & (1 << (id & 63)) != 0 {
            return true;
        }
        if !self.quoted(f) {
            // Folded: lower-cased already.
            return classes.mentions(id, text);
        }
        let mut plain = Vec::with_capacity(text.len());
        let mut i = 0;
        while i < text.len() {
            if text[i] == meta::METAQUOTE && i + 1 < text.len() {
                i += 1;
            }
            plain.push(text[i].to_ascii_lowercase());
            i += 1;
        }
        classes.mentions(id, &plain)
    }

    /// Whether the folded token `f` is [`TokenTable::near_class`] to any of the classes
    /// `named` (class id and slot; `mask` their slot bits). Kept per token and slot
    /// while the classes stay the same.
    #[inline(always)]
    pub fn near_any(
        &self,
        f: Token,
        named: &[(MacroId, u8)],
        mask: u64,
        classes: &ClassTable,
    ) -> bool {
        let c = &self.classes[f.index()];
        if c.made.get() == classes.generation() && c.near_known.get() & mask == mask {
            return c.near.get() & mask != 0;
        }
        self.near_any_slow(f, named, mask, classes)
    }

    /// [`TokenTable::near_any`] when something is not known yet.
    #[cold]
    fn near_any_slow(
        &self,
        f: Token,
        named: &[(MacroId, u8)],
        mask: u64,
        classes: &ClassTable,
    ) -> bool {
        let c = self.class_cache(f, classes);
        let known = c.near_known.get();
        if known & mask != mask {
            if !self.quoted(f) && !classes.may_mention(self.text(f)) {
                // In no member of any class (a member's bytes would all be there).
                c.near_known.set(u64::MAX);
            } else {
                let mut near = c.near.get();
                for &(id, slot) in named {
                    if known & (1 << slot) == 0 && self.near_class(f, id, classes) {
                        near |= 1 << slot;
                    }
                }
                c.near.set(near);
                c.near_known.set(known | mask);
            }
        }
        c.near.get() & mask != 0
    }

    fn class_cache(&self, t: Token, classes: &ClassTable) -> &ClassCache {
        let f = self.fold(t);
        let c = &self.classes[f.index()];
        let generation = classes.generation();
        if c.made.get() != generation {
            c.made.set(generation);
            c.member.set(classes.bits(self.text(f)));
            c.starts_known.set([0; 4]);
            c.starts.set([0; 4]);
            c.near_known.set(0);
            c.near.set(0);
        }
        c
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
        let printed = |t: &TokenTable, k: Token| t.short_printed(k).map(|(b, n)| b[..n].to_vec());
        assert_eq!(printed(&t, a).as_deref(), Some(&b"Example"[..]));
        assert_eq!(
            printed(&t, Token::byte(meta::CANONNET)).as_deref(),
            Some(&b"$#"[..])
        );
        assert_eq!(printed(&t, Token::byte(meta::MACROEXPAND)), None);
        assert_eq!(printed(&t, high), None);
    }

    #[test]
    fn tokens_after_the_mark_go_at_release() {
        let mut t = TokenTable::new();
        let kept = t.intern(b"config");
        t.set_mark();
        let temp = t.intern(b"Input");
        assert_eq!(t.intern(b"Input"), temp);
        assert_eq!(t.intern(b"config"), kept);
        assert!(t.is_lasting(kept) && !t.is_lasting(temp));
        assert!(!t.is_lasting(t.fold(temp)));
        t.release_beyond(2);
        assert_eq!(t.intern(b"Input"), temp, "two tokens since the mark: kept");
        t.intern(b"more");
        t.release_beyond(2);
        assert_eq!(t.text(kept), b"config");
        let again = t.intern(b"other");
        assert_eq!(again, temp, "the released ids are used again");
        assert_eq!(t.text(again), b"other");
        assert_eq!(t.intern(b"Input"), t.intern(b"Input"));
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
