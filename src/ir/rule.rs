//! Compiled rules: the LHS as a [`Pattern`] of matcher operations, the RHS as a
//! [`Template`].
//!
//! A pattern keeps what lets the matcher skip a rule without trying it: the least number
//! of workspace tokens it can match, the most (when bounded), and the literal the first
//! and last workspace tokens must be. The template keeps both the flat token list
//! sendmail executes (substitution, then lookups left to right, then calls right to left)
//! and the same tokens as a tree of lookups, calls and `$#` triples for display and lint.

use crate::cf::Span;
use crate::ir::macros::MacroId;
use crate::meta;

/// One token of a rule, in internal form, with where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tok {
    pub bytes: Vec<u8>,
    pub span: Span,
}

impl Tok {
    /// The metacharacter this token is, if it is one (first byte 0x80–0x9F).
    pub fn meta(&self) -> Option<u8> {
        self.bytes
            .first()
            .copied()
            .filter(|b| (0x80..=0x9F).contains(b))
    }

    pub fn is(&self, m: u8) -> bool {
        self.bytes.len() == 1 && self.bytes[0] == m
    }
}

/// One matcher operation of an LHS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatOp {
    /// A token compared ASCII case-insensitively (metacharacter tokens byte-wise).
    Literal(Vec<u8>),
    /// `$*`: zero or more tokens (binds).
    ZeroOrMore,
    /// `$+`: one or more tokens (binds).
    OneOrMore,
    /// `$-`: exactly one token (binds).
    One,
    /// `$=X`: the shortest phrase that is a member of class X (binds).
    Class(MacroId),
    /// `$~X`: one token not in class X (binds).
    NotClass(MacroId),
    /// `$@` on the LHS: matches zero tokens.
    Zero,
    /// `$&x`: the run-time value of macro x, token by token.
    Macro(MacroId),
}

impl PatOp {
    /// Whether the operation creates a `$n` binding.
    pub fn binds(&self) -> bool {
        matches!(
            self,
            PatOp::ZeroOrMore
                | PatOp::OneOrMore
                | PatOp::One
                | PatOp::Class(_)
                | PatOp::NotClass(_)
        )
    }
}

/// A compiled LHS.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pattern {
    pub ops: Vec<PatOp>,
    pub spans: Vec<Span>,
    /// Number of bindings (`$1`…`$n` usable on the RHS).
    pub bindings: u8,
    /// Fewest workspace tokens that can match.
    pub min_len: usize,
    /// Most workspace tokens that can match, if bounded.
    pub max_len: Option<usize>,
    /// Lower-cased literal the first workspace token must equal, if the LHS starts with one.
    pub first: Option<Vec<u8>>,
    /// Lower-cased literal the last workspace token must equal, if the LHS ends with one.
    pub last: Option<Vec<u8>>,
}

impl Pattern {
    pub fn new(ops: Vec<PatOp>, spans: Vec<Span>) -> Pattern {
        let bindings = ops.iter().filter(|o| o.binds()).count().min(255) as u8;
        let mut min_len = 0;
        let mut bounded = true;
        let mut max_len = 0usize;
        for op in &ops {
            match op {
                PatOp::Literal(_) | PatOp::One | PatOp::NotClass(_) => {
                    min_len += 1;
                    max_len += 1;
                }
                PatOp::OneOrMore | PatOp::Class(_) => {
                    min_len += 1;
                    bounded = false;
                }
                PatOp::ZeroOrMore | PatOp::Macro(_) => bounded = false,
                PatOp::Zero => {}
            }
        }
        let lit = |op: Option<&PatOp>| match op {
            Some(PatOp::Literal(b)) => Some(b.to_ascii_lowercase()),
            _ => None,
        };
        let first = lit(ops.iter().find(|o| **o != PatOp::Zero));
        let last = lit(ops.iter().rev().find(|o| **o != PatOp::Zero));
        Pattern {
            bindings,
            min_len,
            max_len: bounded.then_some(max_len),
            first,
            last,
            ops,
            spans,
        }
    }

    /// Whether the pattern cannot match a workspace of `len` tokens whose first and last
    /// tokens are given (lower-cased); a cheap test before the real match.
    pub fn skips(&self, len: usize, first: Option<&[u8]>, last: Option<&[u8]>) -> bool {
        if len < self.min_len || self.max_len.is_some_and(|m| len > m) {
            return true;
        }
        if let (Some(want), Some(got)) = (&self.first, first)
            && want.as_slice() != got
        {
            return true;
        }
        if let (Some(want), Some(got)) = (&self.last, last)
            && want.as_slice() != got
        {
            return true;
        }
        false
    }

    /// Whether this LHS matches every workspace (e.g. `$*`, `$* $*`).
    pub fn matches_everything(&self) -> bool {
        self.ops
            .iter()
            .all(|o| matches!(o, PatOp::ZeroOrMore | PatOp::Zero))
            && self.ops.contains(&PatOp::ZeroOrMore)
    }
}

/// How the rule continues after a successful rewrite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Prefix {
    /// No prefix: the same rule is tried again on the new workspace.
    #[default]
    Repeat,
    /// `$:`: rewrite once, then go on with the next rule.
    Once,
    /// `$@`: rewrite once and return from the ruleset.
    Return,
}

/// A node of the RHS tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// A token copied as is (may be a metacharacter such as `$|` or a stray `$@`).
    Token(Tok),
    /// `$n`.
    Bound(u8, Span),
    /// `$&x`.
    Deferred(MacroId, Span),
    /// `$( map key $@ arg … $: default $)` or `$[ host $: default $]`.
    Lookup(Box<Lookup>),
    /// `$>name rest…`: call the ruleset with the rest of the vector.
    Call {
        target: Vec<u8>,
        span: Span,
        input: Vec<Node>,
    },
    /// `$# mailer $@ host $: user`.
    Resolve {
        mailer: Vec<Node>,
        host: Option<Vec<Node>>,
        user: Option<Vec<Node>>,
        span: Span,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    /// `None` for `$[ … $]` (the `host` map).
    pub map: Option<Tok>,
    pub key: Vec<Node>,
    pub args: Vec<Vec<Node>>,
    pub default: Option<Vec<Node>>,
    pub span: Span,
    /// False when the closing token is missing.
    pub closed: bool,
}

/// A compiled RHS.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Template {
    pub prefix: Prefix,
    /// The tokens after the prefix, as sendmail executes them.
    pub tokens: Vec<Tok>,
    /// The same tokens as a tree.
    pub nodes: Vec<Node>,
}

/// A problem found while building a template tree (checked again by lint).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TreeProblem {
    /// `$(` or `$[` inside a lookup.
    NestedLookup(Span),
    /// A lookup that is never closed.
    Unclosed(Span),
    /// A `$)` or `$]` with no lookup open.
    StrayClose(Span),
    /// More than 9 `$@` arguments.
    TooManyArgs(Span),
}

/// Build the RHS tree from its tokens (after the prefix).
pub fn build_tree(tokens: &[Tok], problems: &mut Vec<TreeProblem>) -> Vec<Node> {
    let mut i = 0;
    let nodes = seq(tokens, &mut i, problems);
    if tokens.first().is_some_and(|t| t.is(meta::CANONNET)) {
        return vec![resolve(nodes)];
    }
    nodes
}

/// Split `$# m $@ h $: u` into its parts (only when the RHS starts with `$#`).
fn resolve(nodes: Vec<Node>) -> Node {
    let span = match nodes.first() {
        Some(Node::Token(t)) => t.span,
        _ => Span::default(),
    };
    let mut parts: [Vec<Node>; 3] = Default::default();
    let mut seen = [true, false, false];
    let mut cur = 0;
    for n in nodes.into_iter().skip(1) {
        match &n {
            Node::Token(t) if t.is(meta::CANONHOST) && cur < 1 => {
                cur = 1;
                seen[1] = true;
                continue;
            }
            Node::Token(t) if t.is(meta::CANONUSER) => {
                cur = 2;
                seen[2] = true;
                continue;
            }
            _ => {}
        }
        parts[cur].push(n);
    }
    let [mailer, host, user] = parts;
    Node::Resolve {
        mailer,
        host: seen[1].then_some(host),
        user: seen[2].then_some(user),
        span,
    }
}

fn seq(tokens: &[Tok], i: &mut usize, problems: &mut Vec<TreeProblem>) -> Vec<Node> {
    let mut out = Vec::new();
    while *i < tokens.len() {
        let t = &tokens[*i];
        match t.meta() {
            Some(meta::LOOKUPBEGIN) | Some(meta::HOSTBEGIN) => {
                out.push(Node::Lookup(Box::new(lookup(tokens, i, problems))));
            }
            Some(meta::LOOKUPEND) | Some(meta::HOSTEND) => {
                problems.push(TreeProblem::StrayClose(t.span));
                out.push(Node::Token(t.clone()));
                *i += 1;
            }
            Some(meta::CALLSUBR) if *i + 1 < tokens.len() => {
                let target = unquote(&tokens[*i + 1].bytes);
                let span = t.span.to(tokens[*i + 1].span);
                *i += 2;
                let input = seq(tokens, i, problems);
                out.push(Node::Call {
                    target,
                    span,
                    input,
                });
            }
            Some(meta::MATCHREPL) if t.bytes.len() == 2 => {
                out.push(Node::Bound(t.bytes[1].wrapping_sub(b'0'), t.span));
                *i += 1;
            }
            Some(meta::MACRODEXPAND) if t.bytes.len() == 2 => {
                out.push(Node::Deferred(t.bytes[1], t.span));
                *i += 1;
            }
            _ => {
                out.push(Node::Token(t.clone()));
                *i += 1;
            }
        }
    }
    out
}

/// sendmail removes quotes and backslashes from a `$>` target.
fn unquote(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {}
            b'\\' if i + 1 < b.len() => {
                i += 1;
                out.push(b[i]);
            }
            c => out.push(c),
        }
        i += 1;
    }
    out
}

/// A lookup starting at `tokens[*i]` (`$(` or `$[`).
fn lookup(tokens: &[Tok], i: &mut usize, problems: &mut Vec<TreeProblem>) -> Lookup {
    let open = &tokens[*i];
    let host = open.is(meta::HOSTBEGIN);
    let end_meta = if host { meta::HOSTEND } else { meta::LOOKUPEND };
    let mut span = open.span;
    *i += 1;
    let map = if host {
        None
    } else if *i < tokens.len() {
        *i += 1;
        Some(tokens[*i - 1].clone())
    } else {
        None
    };
    let mut key = Vec::new();
    let mut args: Vec<Vec<Node>> = Vec::new();
    let mut default: Option<Vec<Node>> = None;
    // 0 = key, 1 = arg, 2 = default
    let mut part = 0;
    let mut closed = false;
    while *i < tokens.len() {
        let t = &tokens[*i];
        span = span.to(t.span);
        if t.is(end_meta) {
            *i += 1;
            closed = true;
            break;
        }
        if t.is(meta::CANONHOST) {
            args.push(Vec::new());
            part = 1;
            *i += 1;
            continue;
        }
        if t.is(meta::CANONUSER) {
            default = Some(Vec::new());
            part = 2;
            *i += 1;
            continue;
        }
        let node = match t.meta() {
            Some(meta::LOOKUPBEGIN) | Some(meta::HOSTBEGIN) => {
                problems.push(TreeProblem::NestedLookup(t.span));
                Node::Lookup(Box::new(lookup(tokens, i, problems)))
            }
            Some(meta::MATCHREPL) if t.bytes.len() == 2 => {
                *i += 1;
                Node::Bound(t.bytes[1].wrapping_sub(b'0'), t.span)
            }
            Some(meta::MACRODEXPAND) if t.bytes.len() == 2 => {
                *i += 1;
                Node::Deferred(t.bytes[1], t.span)
            }
            _ => {
                *i += 1;
                Node::Token(t.clone())
            }
        };
        match part {
            0 => key.push(node),
            1 => args.last_mut().expect("an argument was opened").push(node),
            _ => default.as_mut().expect("a default was opened").push(node),
        }
    }
    if !closed {
        problems.push(TreeProblem::Unclosed(open.span));
    }
    if args.len() >= 10 {
        problems.push(TreeProblem::TooManyArgs(open.span));
    }
    Lookup {
        map,
        key,
        args,
        default,
        span,
        closed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(b: &[u8]) -> Tok {
        Tok {
            bytes: b.to_vec(),
            span: Span::default(),
        }
    }

    #[test]
    fn nodes_stay_small() {
        assert!(
            std::mem::size_of::<Node>() <= 96,
            "{}",
            std::mem::size_of::<Node>()
        );
    }

    #[test]
    fn pattern_bounds() {
        let p = Pattern::new(
            vec![
                PatOp::Literal(b"<".to_vec()),
                PatOp::OneOrMore,
                PatOp::Literal(b">".to_vec()),
            ],
            vec![Span::default(); 3],
        );
        assert_eq!((p.min_len, p.max_len, p.bindings), (3, None, 1));
        assert!(p.skips(2, None, None));
        assert!(p.skips(4, Some(b"x"), None));
        assert!(!p.skips(4, Some(b"<"), Some(b">")));
        let p = Pattern::new(vec![PatOp::One, PatOp::One], vec![Span::default(); 2]);
        assert_eq!(p.max_len, Some(2));
    }

    #[test]
    fn calls_nest_to_the_right() {
        // $>a x $>b y  ==  a( x b( y ) )
        let toks = [
            t(&[meta::CALLSUBR]),
            t(b"a"),
            t(b"x"),
            t(&[meta::CALLSUBR]),
            t(b"b"),
            t(b"y"),
        ];
        let mut p = Vec::new();
        let n = build_tree(&toks, &mut p);
        assert_eq!(n.len(), 1);
        let Node::Call { target, input, .. } = &n[0] else {
            panic!()
        };
        assert_eq!(target, b"a");
        assert!(matches!(&input[1], Node::Call { target, .. } if target == b"b"));
    }

    #[test]
    fn lookup_parts_and_problems() {
        let toks = [
            t(&[meta::LOOKUPBEGIN]),
            t(b"access"),
            t(b"k"),
            t(&[meta::CANONHOST]),
            t(b"a1"),
            t(&[meta::CANONUSER]),
            t(b"d"),
        ];
        let mut p = Vec::new();
        let n = build_tree(&toks, &mut p);
        let Node::Lookup(l) = &n[0] else { panic!() };
        assert!(!l.closed);
        assert_eq!(l.args.len(), 1);
        assert!(l.default.is_some());
        assert_eq!(p, [TreeProblem::Unclosed(Span::default())]);
    }

    #[test]
    fn resolve_triple() {
        let toks = [
            t(&[meta::CANONNET]),
            t(b"local"),
            t(&[meta::CANONUSER]),
            t(&[meta::MATCHREPL, b'1']),
        ];
        let n = build_tree(&toks, &mut Vec::new());
        let Node::Resolve {
            mailer, host, user, ..
        } = &n[0]
        else {
            panic!()
        };
        assert_eq!(mailer.len(), 1);
        assert!(host.is_none());
        assert_eq!(user.as_ref().unwrap().len(), 1);
    }
}
