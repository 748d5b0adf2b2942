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
//! A pattern's `$x` compares the tokens' texts with the macro's value, so a token whose
//! text occurs in the value of a macro the patterns name is kept in the shape too.
//!
//! Not used for a ruleset whose patterns name a class with a member long enough for
//! sendmail's cut phrase compare (a phrase could then match without all its tokens),
//! or a class too large to look through for each new token. Forgotten when classes or
//! macros change (the shapes were taken against the old members and values) and when
//! a release of tokens lets their ids be given out again.

use std::collections::HashMap;

use crate::engine::cataddr::MAXLINE;
use crate::engine::classes::ClassTable;
use crate::engine::matcher::Binding;
use crate::engine::token::{FastState, Token, TokenTable};
use crate::ir::{MacroId, MacroTable};

/// Rulesets of fewer rules search without the memo: shaping the workspace and looking
/// it up costs about as much as trying a few rules (measured: 8 was best until a scan
/// memo answer also spared folding the workspace, then 4).
pub(crate) const MIN_RULES: usize = 4;
/// No class slot (past the 64 there are).
pub(crate) const NO_SLOT: u8 = u8::MAX;
/// A shape element for the interchangeable tokens (no token id is this large).
const OTHER: u32 = u32::MAX;
/// Past this many remembered outcomes, or about this many bytes of them, the memo
/// starts again.
const MEMO_MAX: usize = 1 << 16;
const MEMO_BYTES_MAX: usize = 48 << 20;
/// A ruleset naming a class whose members take more bytes than this searches
/// without the memo (each new token would be looked for in them).
const CLASS_BYTES_MAX: usize = 1 << 16;

/// What a ruleset's patterns compare tokens with besides literals: the classes they
/// name (ids and slots), the slots' bits, and the macros they name.
#[derive(Debug, Default, Clone)]
pub(crate) struct Looks {
    pub classes: Box<[(MacroId, u8)]>,
    pub slot_mask: u64,
    pub macros: Box<[MacroId]>,
    /// The macros as a set (one bit per id).
    pub macro_set: [u64; 4],
}

impl Looks {
    /// Take in what `other` looks at too.
    pub(crate) fn add(&mut self, other: &Looks) {
        let mut classes = self.classes.to_vec();
        for c in other.classes.iter() {
            if !classes.contains(c) {
                classes.push(*c);
            }
        }
        self.classes = classes.into();
        let mut macros = self.macros.to_vec();
        for m in other.macros.iter() {
            if !macros.contains(m) {
                macros.push(*m);
            }
        }
        self.macros = macros.into();
        self.slot_mask |= other.slot_mask;
        for i in 0..4 {
            self.macro_set[i] |= other.macro_set[i];
        }
    }

    /// Whether these patterns look at nothing `other`'s do not.
    pub(crate) fn within(&self, other: &Looks) -> bool {
        self.slot_mask & !other.slot_mask == 0
            && (0..4).all(|i| self.macro_set[i] & !other.macro_set[i] == 0)
    }
}

/// What shapes are taken against: the tokens, classes and macros.
pub(crate) struct Against<'a> {
    pub toks: &'a TokenTable,
    pub classes: &'a ClassTable,
    pub macros: &'a MacroTable,
}

/// Whether `folded` (a case-folded token's text) could take part in comparing tokens
/// with the value of one of `macros`: it occurs in a value (ignoring case), or it is
/// empty.
fn in_macro_values(folded: &[u8], macros: &[MacroId], table: &MacroTable) -> bool {
    folded.is_empty()
        || macros.iter().any(|&m| {
            table.value(m).is_some_and(|v| {
                v.len() >= folded.len()
                    && v.windows(folded.len())
                        .any(|w| w.eq_ignore_ascii_case(folded))
            })
        })
}

/// A remembered outcome and its key (ruleset, tag, shape).
struct Found<T> {
    key: Box<[u32]>,
    value: T,
}

/// What a search from a rule found: the rule that matched (none: the ruleset is done)
/// and its bindings.
pub(crate) type Search = (Option<u32>, Box<[Binding]>);

/// A recorded token that is a place in the input (`INPUT` | position; others are
/// token ids), see [`crate::engine::tape`].
pub(crate) const INPUT: u32 = 1 << 31;

/// Outcomes remembered by ruleset, a tag (the rule a search starts from, or what else
/// the outcome depends on) and the shape of a workspace.
pub(crate) struct ShapeMemo<T> {
    /// Index into `found` by the key's hash (a clash with another key is a miss).
    slots: HashMap<u64, u32, FastState>,
    found: Vec<Found<T>>,
    /// The class generation, macro changes and token release count the entries were
    /// made under.
    made: (u32, u64, u32),
    /// The last shape's key, the hash of its shape alone, and the key's hash.
    key: Vec<u32>,
    shape_hash: u64,
    hash: u64,
    /// Per ruleset: the class generation it was last checked at, and whether its classes
    /// allow the memo (no member too long, no class too large).
    allowed: Vec<(u32, bool)>,
    /// About how many bytes the outcomes take.
    bytes: usize,
}

impl<T> Default for ShapeMemo<T> {
    fn default() -> Self {
        ShapeMemo {
            slots: HashMap::default(),
            found: Vec::new(),
            made: (0, 0, 0),
            key: Vec::new(),
            shape_hash: 0,
            hash: 0,
            allowed: Vec::new(),
            bytes: 0,
        }
    }
}

impl<T> ShapeMemo<T> {
    /// Make the key of the shape of `tokens` (case-folded first when `fold`) for
    /// ruleset `rs` and `tag`, the ruleset's patterns looking at `looks`; false when the
    /// memo cannot be used.
    pub(crate) fn shape(
        &mut self,
        rs: u16,
        tag: u32,
        looks: &Looks,
        tokens: &[Token],
        fold: bool,
        at: &Against,
    ) -> bool {
        let made = self.refresh(at);
        let toks = at.toks;
        let classes = at.classes;
        let r = usize::from(rs);
        if self.allowed.len() <= r {
            self.allowed.resize(r + 1, (0, false));
        }
        if self.allowed[r].0 != made.0 {
            let ok = looks.classes.iter().all(|&(id, _)| {
                classes.longest(id) + 8 < MAXLINE && classes.bytes(id) <= CLASS_BYTES_MAX
            });
            self.allowed[r] = (made.0, ok);
        }
        if !self.allowed[r].1 {
            return false;
        }
        let key = &mut self.key;
        key.clear();
        key.reserve(tokens.len() + 2);
        key.push(u32::from(rs));
        key.push(tag);
        let mut h = u64::from(rs);
        let any_class = !looks.classes.is_empty();
        let any_macro = !looks.macros.is_empty();
        for &t in tokens {
            let f = if fold { toks.fold(t) } else { t };
            let kept = toks.is_literal(f)
                || any_class && toks.near_any(f, &looks.classes, looks.slot_mask, classes)
                || any_macro && in_macro_values(toks.text(f), &looks.macros, at.macros);
            let e = if kept { f.id() } else { OTHER };
            key.push(e);
            h = mix(h, u64::from(e));
        }
        self.shape_hash = h;
        self.hash = mix(h, u64::from(tag));
        true
    }

    /// Take the shape `other` made last (of the same workspace and ruleset), with `tag`.
    pub(crate) fn shape_from<U>(&mut self, other: &ShapeMemo<U>, tag: u32, at: &Against) {
        self.refresh(at);
        self.key.clone_from(&other.key);
        self.key[1] = tag;
        self.shape_hash = other.shape_hash;
        self.hash = mix(other.shape_hash, u64::from(tag));
    }

    /// Forget everything when the classes, the macros or the tokens changed, or when
    /// full; the class generation, macro changes and release count.
    fn refresh(&mut self, at: &Against) -> (u32, u64, u32) {
        let made = (
            at.classes.generation(),
            at.macros.changes(),
            at.toks.releases(),
        );
        if self.made != made || self.found.len() >= MEMO_MAX || self.bytes >= MEMO_BYTES_MAX {
            self.slots.clear();
            self.found.clear();
            self.made = made;
            self.bytes = 0;
        }
        made
    }

    /// The remembered outcome for the last [`ShapeMemo::shape`].
    pub(crate) fn get(&self) -> Option<&T> {
        let &at = self.slots.get(&self.hash)?;
        let f = &self.found[at as usize];
        (*f.key == *self.key).then_some(&f.value)
    }

    /// Count `n` more bytes the outcomes hold (on the heap, past what [`ShapeMemo::put`]
    /// counts).
    pub(crate) fn add_bytes(&mut self, n: usize) {
        self.bytes += n;
    }

    /// The remembered outcome for the last [`ShapeMemo::shape`], to change.
    pub(crate) fn get_mut(&mut self) -> Option<&mut T> {
        let &at = self.slots.get(&self.hash)?;
        let f = &mut self.found[at as usize];
        (*f.key == *self.key).then_some(&mut f.value)
    }

    /// Remember an outcome for the last [`ShapeMemo::shape`].
    pub(crate) fn put(&mut self, value: T) {
        self.bytes += std::mem::size_of::<Found<T>>() + 4 * self.key.len() + 16;
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

    /// Patterns that name class X (slot 0) and macro M.
    fn looks() -> Looks {
        let mut macro_set = [0; 4];
        macro_set[usize::from(b'M' / 64)] |= 1 << (b'M' % 64);
        Looks {
            classes: Box::new([(b'X', 0)]),
            slot_mask: 1,
            macros: Box::new([b'M']),
            macro_set,
        }
    }

    fn shape_with(
        memo: &mut ShapeMemo<Search>,
        ws: &[Token],
        toks: &TokenTable,
        c: &ClassTable,
        macros: &MacroTable,
    ) -> Vec<u32> {
        let folded: Vec<Token> = ws.iter().map(|&t| toks.fold(t)).collect();
        let at = Against {
            toks,
            classes: c,
            macros,
        };
        assert!(memo.shape(0, 0, &looks(), &folded, false, &at));
        memo.key.clone()
    }

    fn shape_of(
        memo: &mut ShapeMemo<Search>,
        ws: &[Token],
        toks: &TokenTable,
        c: &ClassTable,
    ) -> Vec<u32> {
        shape_with(memo, ws, toks, c, &MacroTable::new())
    }

    #[test]
    fn tokens_inside_a_named_macros_value_keep_their_place() {
        let classes = ClassTable::new();
        let mut toks = TokenTable::new();
        let mut macros = MacroTable::new();
        macros.define(b'M', b"Example.COM".to_vec(), None);
        let ws: Vec<Token> = ["example", "com", "exam", "other", "net"]
            .iter()
            .map(|w| toks.intern(w.as_bytes()))
            .collect();
        let mut memo = ShapeMemo::<Search>::default();
        let s = shape_with(&mut memo, &ws, &toks, &classes, &macros);
        assert_eq!(&s[2..5], &[ws[0].id(), ws[1].id(), ws[2].id()]);
        assert_eq!(&s[5..], &[OTHER, OTHER]);
        memo.put((Some(1), Box::default()));
        // A new value: the old shapes go, and "net" now matters.
        macros.define(b'M', b"example.net".to_vec(), None);
        let s = shape_with(&mut memo, &ws, &toks, &classes, &macros);
        assert!(memo.get().is_none());
        assert_eq!(&s[5..], &[OTHER, ws[4].id()]);
    }

    #[test]
    fn a_memo_grown_too_large_starts_again() {
        let classes = ClassTable::new();
        let mut toks = TokenTable::new();
        let ws = [toks.intern(b"zz")];
        let mut memo = ShapeMemo::<Search>::default();
        shape_of(&mut memo, &ws, &toks, &classes);
        memo.put((Some(3), Box::default()));
        shape_of(&mut memo, &ws, &toks, &classes);
        assert!(memo.get().is_some());
        memo.add_bytes(MEMO_BYTES_MAX);
        shape_of(&mut memo, &ws, &toks, &classes);
        assert!(memo.get().is_none());
    }

    #[test]
    fn looks_within_and_added() {
        let mut a = looks();
        let b = Looks {
            classes: Box::new([(b'Y', 1)]),
            slot_mask: 2,
            ..Looks::default()
        };
        assert!(!b.within(&a));
        assert!(Looks::default().within(&a));
        a.add(&b);
        assert!(b.within(&a));
        assert_eq!(a.slot_mask, 3);
        assert_eq!(a.classes.len(), 2);
    }

    proptest::proptest! {
        /// Two workspaces of the same shape (other tokens swapped for other ones) bind
        /// alike, and the shape tells tokens that matter apart.
        #[test]
        fn same_shape_same_bindings(
            pat in proptest::collection::vec(0u8..11, 0..7),
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
            // `$M` compares with "a.C": its tokens are among those that matter.
            let mut macros = MacroTable::new();
            macros.define(b'M', b"a.C".to_vec(), None);
            let mut memo = ShapeMemo::<Search>::default();
            let s1 = shape_with(&mut memo, &ws1, &toks, &classes, &macros);
            let s2 = shape_with(&mut memo, &ws2, &toks, &classes, &macros);
            proptest::prop_assert_eq!(&s1, &s2);
            for (i, &(w, _)) in input.iter().enumerate() {
                proptest::prop_assert_eq!(s1[i + 2] == OTHER, w >= kept.len());
            }
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
