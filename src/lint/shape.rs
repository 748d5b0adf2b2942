//! Reasoning about sets of workspaces without running rules.
//!
//! A [`Shape`] describes every workspace a rule can see or produce as a sequence of
//! [`Item`]s: known tokens and runs of unknown tokens with a known length range.
//! [`covers`] answers "does this LHS match *every* workspace of this shape?". The answer
//! is conservative: `true` only when each item can be assigned to pattern operations in a
//! way that works for every instantiation, so a lint built on it has no false positives
//! (it may miss some cases).

use crate::ir::{MacroId, Node, PatOp, Pattern};

/// One element of a workspace shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// This exact token (compared ASCII case-insensitively, metacharacters byte-wise).
    Token(Vec<u8>),
    /// Any run of tokens, possibly empty.
    Any,
    /// One or more tokens.
    Some,
    /// Exactly one token.
    One,
    /// A phrase that is a member of class X (one or more tokens).
    Member(MacroId),
    /// One token that is not a member of class X.
    NotMember(MacroId),
}

impl Item {
    fn nonempty(&self) -> bool {
        !matches!(self, Item::Any)
    }

    fn single(&self) -> bool {
        matches!(self, Item::Token(_) | Item::One | Item::NotMember(_))
    }
}

/// The shape of the workspaces an LHS matches: the items it binds, in order.
pub fn of_pattern(p: &Pattern) -> Option<Vec<Item>> {
    let mut out = Vec::with_capacity(p.ops.len());
    for op in &p.ops {
        out.push(match op {
            PatOp::Literal(b) => Item::Token(b.clone()),
            PatOp::ZeroOrMore => Item::Any,
            PatOp::OneOrMore => Item::Some,
            PatOp::One => Item::One,
            PatOp::Class(c) => Item::Member(*c),
            PatOp::NotClass(c) => Item::NotMember(*c),
            PatOp::Zero => continue,
            PatOp::Macro(_) => Item::Any,
        });
    }
    Some(out)
}

/// The shape of what an RHS produces from a match of `lhs` (before prefix handling).
/// Lookups, calls and `$&x` values are unknown runs.
pub fn of_template(nodes: &[Node], lhs: &Pattern) -> Vec<Item> {
    let bound: Vec<&PatOp> = lhs.ops.iter().filter(|o| o.binds()).collect();
    let mut out = Vec::new();
    for n in nodes {
        match n {
            Node::Token(t) => out.push(Item::Token(t.bytes.clone())),
            Node::Bound(i, _) => match bound.get((*i as usize).wrapping_sub(1)) {
                Some(PatOp::ZeroOrMore) => out.push(Item::Any),
                Some(PatOp::OneOrMore) => out.push(Item::Some),
                Some(PatOp::One) => out.push(Item::One),
                Some(PatOp::Class(c)) => out.push(Item::Member(*c)),
                Some(PatOp::NotClass(c)) => out.push(Item::NotMember(*c)),
                _ => out.push(Item::Any),
            },
            Node::Deferred(..) | Node::Lookup(_) | Node::Call { .. } | Node::Resolve { .. } => {
                out.push(Item::Any)
            }
        }
    }
    out
}

fn literal_eq(a: &[u8], b: &[u8]) -> bool {
    let meta = |x: &[u8]| x.first().is_some_and(|c| (0x80..=0x9F).contains(c));
    if meta(a) || meta(b) {
        a == b
    } else {
        a.eq_ignore_ascii_case(b)
    }
}

/// Whether `pattern` matches every workspace of `shape`.
pub fn covers(pattern: &Pattern, shape: &[Item]) -> bool {
    let ops: Vec<&PatOp> = pattern.ops.iter().filter(|o| **o != PatOp::Zero).collect();
    if ops.iter().any(|o| matches!(o, PatOp::Macro(_))) {
        return false;
    }
    // reach[i][j]: the first i operations can consume exactly the first j items.
    let (n, m) = (ops.len(), shape.len());
    let mut reach = vec![vec![false; m + 1]; n + 1];
    reach[0][0] = true;
    for i in 0..n {
        for j in 0..=m {
            if !reach[i][j] {
                continue;
            }
            match ops[i] {
                PatOp::ZeroOrMore => reach[i + 1][j..=m].fill(true),
                PatOp::OneOrMore => {
                    let mut nonempty = false;
                    for k in j + 1..=m {
                        nonempty |= shape[k - 1].nonempty();
                        if nonempty {
                            reach[i + 1][k] = true;
                        }
                    }
                }
                PatOp::One => {
                    if j < m && shape[j].single() {
                        reach[i + 1][j + 1] = true;
                    }
                }
                PatOp::Literal(lit) => {
                    if let Some(Item::Token(t)) = shape.get(j)
                        && literal_eq(lit, t)
                    {
                        reach[i + 1][j + 1] = true;
                    }
                }
                PatOp::Class(c) => {
                    if shape.get(j) == Some(&Item::Member(*c)) {
                        reach[i + 1][j + 1] = true;
                    }
                }
                PatOp::NotClass(c) => {
                    if shape.get(j) == Some(&Item::NotMember(*c)) {
                        reach[i + 1][j + 1] = true;
                    }
                }
                PatOp::Zero | PatOp::Macro(_) => {}
            }
        }
    }
    reach[n][m]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cf::Span;

    fn pat(ops: Vec<PatOp>) -> Pattern {
        let n = ops.len();
        Pattern::new(ops, vec![Span::default(); n])
    }

    #[test]
    fn star_covers_everything() {
        let p = pat(vec![PatOp::ZeroOrMore]);
        assert!(covers(&p, &[]));
        assert!(covers(&p, &[Item::Any, Item::Token(b"x".to_vec())]));
    }

    #[test]
    fn plus_needs_a_guaranteed_token() {
        let p = pat(vec![PatOp::OneOrMore]);
        assert!(!covers(&p, &[Item::Any]));
        assert!(covers(&p, &[Item::Any, Item::One]));
    }

    #[test]
    fn literals_and_subsumption() {
        // `$+ @ $+` is covered by `$* @ $*` but not the other way round.
        let general = pat(vec![
            PatOp::ZeroOrMore,
            PatOp::Literal(b"@".to_vec()),
            PatOp::ZeroOrMore,
        ]);
        let specific = pat(vec![
            PatOp::OneOrMore,
            PatOp::Literal(b"@".to_vec()),
            PatOp::OneOrMore,
        ]);
        assert!(covers(&general, &of_pattern(&specific).unwrap()));
        assert!(!covers(&specific, &of_pattern(&general).unwrap()));
    }

    #[test]
    fn case_insensitive_literals() {
        let p = pat(vec![PatOp::Literal(b"FOO".to_vec())]);
        assert!(covers(&p, &[Item::Token(b"foo".to_vec())]));
    }
}
