//! Which rule matches next, remembered by the workspace's shape.
//!
//! Finding the next rule that matches (the cheap tests, then the matcher, rule after
//! rule) looks at a workspace token in three ways only: whether it equals a literal of
//! the pattern, whether it is (part of) a member of a class the pattern names, and where
//! it is. A token that is no rule's literal and occurs in no member of the ruleset's
//! classes ([`TokenTable::near_class`]) fails every literal and every `$=X` phrase and
//! passes every `$~X`, whatever its text: such tokens are interchangeable. So the
//! search from rule `i` gives the same rule and the same bindings (positions) for two
//! workspaces whose tokens agree one by one, with the interchangeable ones taken as one
//! "other" token: the *shape*. Test input repeats shapes line after line (a user name
//! differs, the structure does not), and the search is then one table lookup.
//!
//! Not used for a ruleset whose patterns hold `$x` (a macro's text compared with the
//! tokens'), or name a class with a member long enough for sendmail's cut phrase
//! compare (a phrase could then match without all its tokens), or a class too large to
//! look through for each new token. Forgotten when classes change (the shapes were
//! taken against the old members) and when a release of tokens lets their ids be given
//! out again.

use std::collections::HashMap;

use crate::engine::cataddr::MAXLINE;
use crate::engine::classes::ClassTable;
use crate::engine::matcher::Binding;
use crate::engine::token::{FastState, Token, TokenTable};
use crate::ir::MacroId;

/// Rulesets of fewer rules search without the memo: shaping the workspace and looking
/// it up costs about as much as trying a few rules (measured: 8 was best until a scan
/// memo answer also spared folding the workspace, then 4).
pub(crate) const MIN_RULES: usize = 4;
/// No class slot (past the 64 there are).
pub(crate) const NO_SLOT: u8 = u8::MAX;
/// A shape element for the interchangeable tokens (no token id is this large).
const OTHER: u32 = u32::MAX;
/// Past this many remembered searches the memo starts again.
const MEMO_MAX: usize = 1 << 16;
/// A ruleset naming a class whose members take more bytes than this searches
/// without the memo (each new token would be looked for in them).
const CLASS_BYTES_MAX: usize = 1 << 16;

/// A remembered outcome and its key (ruleset, tag, shape).
struct Found<T> {
    key: Box<[u32]>,
    value: T,
}

/// What a search from a rule found: the rule that matched (none: the ruleset is done)
/// and its bindings.
pub(crate) type Search = (Option<u32>, Box<[Binding]>);

/// What a whole ruleset call gave: its result as tokens (an id) and places of the
/// input workspace (`INPUT` | position), and its status.
pub(crate) type Call = (Box<[u32]>, i32);

/// An element of a [`Call`] result that is a place in the input.
pub(crate) const INPUT: u32 = 1 << 31;

/// Outcomes remembered by ruleset, a tag (the rule a search starts from, or what else
/// the outcome depends on) and the shape of a workspace.
pub(crate) struct ShapeMemo<T> {
    /// Index into `found` by the key's hash (a clash with another key is a miss).
    slots: HashMap<u64, u32, FastState>,
    found: Vec<Found<T>>,
    /// The class generation and token release count the entries were made under.
    made: (u32, u32),
    /// The last shape's key, the hash of its shape alone, and the key's hash.
    key: Vec<u32>,
    shape_hash: u64,
    hash: u64,
    /// Per ruleset: the class generation it was last checked at, and whether its classes
    /// allow the memo (no member too long, no class too large).
    allowed: Vec<(u32, bool)>,
}

impl<T> Default for ShapeMemo<T> {
    fn default() -> Self {
        ShapeMemo {
            slots: HashMap::default(),
            found: Vec::new(),
            made: (0, 0),
            key: Vec::new(),
            shape_hash: 0,
            hash: 0,
            allowed: Vec::new(),
        }
    }
}

impl<T> ShapeMemo<T> {
    /// Make the key of the shape of `tokens` (case-folded first when `fold`) for
    /// ruleset `rs` and `tag`, the ruleset's patterns naming `classes_named` (class ids
    /// and slots, `slot_mask` their bits); false when the memo cannot be used.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn shape(
        &mut self,
        rs: u16,
        tag: u32,
        classes_named: &[(MacroId, u8)],
        slot_mask: u64,
        tokens: &[Token],
        fold: bool,
        toks: &TokenTable,
        classes: &ClassTable,
    ) -> bool {
        let made = self.refresh(toks, classes);
        let at = usize::from(rs);
        if self.allowed.len() <= at {
            self.allowed.resize(at + 1, (0, false));
        }
        if self.allowed[at].0 != made.0 {
            let ok = classes_named.iter().all(|&(id, _)| {
                classes.longest(id) + 8 < MAXLINE && classes.bytes(id) <= CLASS_BYTES_MAX
            });
            self.allowed[at] = (made.0, ok);
        }
        if !self.allowed[at].1 {
            return false;
        }
        let key = &mut self.key;
        key.clear();
        key.reserve(tokens.len() + 2);
        key.push(u32::from(rs));
        key.push(tag);
        let mut h = u64::from(rs);
        let any_class = !classes_named.is_empty();
        for &t in tokens {
            let f = if fold { toks.fold(t) } else { t };
            let kept = toks.is_literal(f)
                || any_class && toks.near_any(f, classes_named, slot_mask, classes);
            let e = if kept { f.id() } else { OTHER };
            key.push(e);
            h = mix(h, u64::from(e));
        }
        self.shape_hash = h;
        self.hash = mix(h, u64::from(tag));
        true
    }

    /// Take the shape `other` made last (of the same workspace and ruleset), with `tag`.
    pub(crate) fn shape_from<U>(
        &mut self,
        other: &ShapeMemo<U>,
        tag: u32,
        toks: &TokenTable,
        classes: &ClassTable,
    ) {
        self.refresh(toks, classes);
        self.key.clone_from(&other.key);
        self.key[1] = tag;
        self.shape_hash = other.shape_hash;
        self.hash = mix(other.shape_hash, u64::from(tag));
    }

    /// Forget everything when the classes or the tokens changed, or when full; the
    /// class generation and release count.
    fn refresh(&mut self, toks: &TokenTable, classes: &ClassTable) -> (u32, u32) {
        let made = (classes.generation(), toks.releases());
        if self.made != made || self.found.len() >= MEMO_MAX {
            self.slots.clear();
            self.found.clear();
            self.made = made;
        }
        made
    }

    /// The remembered outcome for the last [`ShapeMemo::shape`].
    pub(crate) fn get(&self) -> Option<&T> {
        let &at = self.slots.get(&self.hash)?;
        let f = &self.found[at as usize];
        (*f.key == *self.key).then_some(&f.value)
    }

    /// Remember an outcome for the last [`ShapeMemo::shape`].
    pub(crate) fn put(&mut self, value: T) {
        let f = Found {
            key: self.key.as_slice().into(),
            value,
        };
        match self.slots.get(&self.hash) {
            Some(&at) => self.found[at as usize] = f,
            None => {
                self.slots.insert(self.hash, self.found.len() as u32);
                self.found.push(f);
            }
        }
    }
}

fn mix(h: u64, x: u64) -> u64 {
    (h.rotate_left(5) ^ x).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::matcher::{MatchCtx, Op, match_lhs, test_classes, test_op};
    use crate::ir::MacroTable;
    use crate::prescan::Tables;

    const NAMED: [(MacroId, u8); 1] = [(b'X', 0)];

    fn shape_of(
        memo: &mut ShapeMemo<Search>,
        ws: &[Token],
        toks: &TokenTable,
        c: &ClassTable,
    ) -> Vec<u32> {
        let folded: Vec<Token> = ws.iter().map(|&t| toks.fold(t)).collect();
        assert!(memo.shape(0, 0, &NAMED, 1, &folded, false, toks, c));
        memo.key.clone()
    }

    proptest::proptest! {
        /// Two workspaces of the same shape (other tokens swapped for other ones) bind
        /// alike, and the shape tells tokens that matter apart.
        #[test]
        fn same_shape_same_bindings(
            pat in proptest::collection::vec(0u8..10, 0..7),
            input in proptest::collection::vec((0usize..10, 0usize..4), 0..10),
        ) {
            let classes = test_classes();
            let mut toks = TokenTable::new();
            let ops: Vec<Op> = pat.iter().map(|&p| test_op(p, &mut toks)).collect();
            for lit in [&b"."[..], b"b", b"@", b"<"] {
                let t = toks.intern(lit);
                toks.mark_literal(t);
            }
            // Tokens that matter (literals, in or inside members) and others.
            let kept = ["a", "B", ".", "@", "c", "x"];
            let other = ["zz", "User1", "q", "other"];
            let pick = |(w, alt): (usize, usize), swap: bool| -> &str {
                if w < kept.len() {
                    kept[w]
                } else {
                    other[(w - kept.len() + if swap { alt } else { 0 }) % other.len()]
                }
            };
            let ws1: Vec<Token> = input.iter().map(|&p| toks.intern(pick(p, false).as_bytes())).collect();
            let ws2: Vec<Token> = input.iter().map(|&p| toks.intern(pick(p, true).as_bytes())).collect();
            let mut memo = ShapeMemo::<Search>::default();
            let s1 = shape_of(&mut memo, &ws1, &toks, &classes);
            let s2 = shape_of(&mut memo, &ws2, &toks, &classes);
            proptest::prop_assert_eq!(&s1, &s2);
            for (i, &(w, _)) in input.iter().enumerate() {
                proptest::prop_assert_eq!(s1[i + 2] == OTHER, w >= kept.len());
            }
            let macros = MacroTable::new();
            let tables = Tables::new(b".:%@!^/[]+");
            let ctx = MatchCtx {
                classes: &classes,
                macros: &macros,
                tables: &tables,
                toks: &toks,
                phrase: &Default::default(),
                blank_sub: b' ',
            };
            let run = |ws: &[Token]| {
                let folded: Vec<Token> = ws.iter().map(|&t| toks.fold(t)).collect();
                let mut b = Vec::new();
                match_lhs(&ops, ws, &folded, &ctx, &mut b).then_some(b)
            };
            proptest::prop_assert_eq!(run(&ws1), run(&ws2));
        }
    }

    #[test]
    fn forgets_when_classes_change_or_tokens_go() {
        let mut classes = ClassTable::new();
        classes.add(b'X', b"a.b");
        let mut toks = TokenTable::new();
        toks.set_mark();
        let ws = [toks.intern(b"zz"), toks.intern(b"a")];
        let mut memo = ShapeMemo::<Search>::default();
        shape_of(&mut memo, &ws, &toks, &classes);
        memo.put((Some(3), Box::default()));
        assert_eq!(memo.get().map(|(r, _)| *r), Some(Some(3)));
        // "zz" may now be part of a member: its place in the shape changes.
        classes.add(b'X', b"zz");
        let s = shape_of(&mut memo, &ws, &toks, &classes);
        assert_ne!(s[2], OTHER);
        assert!(memo.get().is_none());
        memo.put((Some(1), Box::default()));
        toks.release();
        let ws = [toks.intern(b"zz"), toks.intern(b"a")];
        shape_of(&mut memo, &ws, &toks, &classes);
        assert!(memo.get().is_none());
    }
}
