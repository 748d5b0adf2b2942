//! LHS matching with sendmail's backtracking order (the matching loop of `rewrite` in
//! parseaddr.c; cf-semantics §3.2).
//!
//! Wildcards bind left to right; on failure the most recent binding that can grow grows
//! by one token, so the leftmost wildcard stays as short as possible and `$=X` takes the
//! shortest phrase that is a member.

use crate::engine::cataddr::{MAXLINE, cataddr};
use crate::engine::classes::ClassTable;
use crate::engine::rewrite::Token;
use crate::ir::{MacroTable, PatOp};
use crate::prescan::Tables;

/// What matching needs besides the pattern and the workspace.
pub struct MatchCtx<'a> {
    pub classes: &'a ClassTable,
    pub macros: &'a MacroTable,
    pub tables: &'a Tables,
    /// The BlankSub in force (joins the tokens a `$=X` candidate spans).
    pub blank_sub: u8,
}

/// One binding: pattern operation `op` matched workspace tokens `start..end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding {
    pub op: usize,
    pub start: usize,
    pub end: usize,
}

/// Grow a `$=X` binding that starts at `start` and currently ends before `k` until the
/// phrase is a member; `None` when the workspace runs out first (or the phrase has grown
/// longer than any member, after which no longer one can be).
fn extend_class(ctx: &MatchCtx, id: u8, ws: &[Token], start: usize, k: usize) -> Option<usize> {
    let longest = ctx.classes.longest(id);
    // Most members are one token: try that before joining anything.
    if k == start
        && let Some(tok) = ws.get(start)
        && !tok.contains(&crate::meta::METAQUOTE)
    {
        if ctx.classes.contains(id, tok) {
            return Some(start + 1);
        }
        if tok.len() >= longest {
            // Longer phrases only grow; none can be a member.
            return None;
        }
    }
    // The phrase ws[start..k] joined as cataddr joins it (external form, BlankSub
    // between atoms), extended one token at a time.
    let mut phrase: Vec<u8> = Vec::with_capacity(longest + 16);
    let mut prev_atom = false;
    let mut push = |phrase: &mut Vec<u8>, tok: &[u8]| {
        let atom = tok.first().is_some_and(|&b| ctx.tables.is_atom_start(b));
        if prev_atom && atom {
            phrase.push(ctx.blank_sub);
        }
        let mut i = 0;
        while i < tok.len() {
            if tok[i] == crate::meta::METAQUOTE && i + 1 < tok.len() {
                i += 1;
            }
            phrase.push(tok[i]);
            i += 1;
        }
        prev_atom = atom;
    };
    for t in &ws[start..k] {
        push(&mut phrase, t);
    }
    let mut end = k;
    loop {
        if end >= ws.len() || phrase.len() > longest + 1 {
            return None;
        }
        push(&mut phrase, &ws[end]);
        end += 1;
        if phrase.len() < MAXLINE - 3 && ctx.classes.contains(id, &phrase) {
            return Some(end);
        }
        if phrase.len() >= MAXLINE - 3 {
            // Past cataddr's buffer sendmail compares a cut phrase; keep its answer.
            let joined = cataddr(&ws[start..end], ctx.tables, ctx.blank_sub, true, MAXLINE);
            if ctx.classes.contains(id, &joined) {
                return Some(end);
            }
        }
    }
}

/// Match `ops` against the whole workspace; on success `bindings` holds the bindings in
/// `$1`… order.
pub fn match_lhs(ops: &[PatOp], ws: &[Token], ctx: &MatchCtx, bindings: &mut Vec<Binding>) -> bool {
    bindings.clear();
    let n = ws.len();
    let (mut i, mut k) = (0usize, 0usize);
    loop {
        if i >= ops.len() && k >= n {
            return true;
        }
        let exhausted =
            i >= ops.len() || (k >= n && !matches!(ops[i], PatOp::ZeroOrMore | PatOp::Zero));
        let ok = if exhausted {
            false
        } else {
            match &ops[i] {
                PatOp::Class(id) => match extend_class(ctx, *id, ws, k, k) {
                    Some(end) => {
                        bindings.push(Binding {
                            op: i,
                            start: k,
                            end,
                        });
                        k = end;
                        true
                    }
                    None => false,
                },
                PatOp::NotClass(id) => {
                    if ctx.classes.contains(*id, &ws[k]) {
                        false
                    } else {
                        bindings.push(Binding {
                            op: i,
                            start: k,
                            end: k + 1,
                        });
                        k += 1;
                        true
                    }
                }
                PatOp::One | PatOp::OneOrMore => {
                    bindings.push(Binding {
                        op: i,
                        start: k,
                        end: k + 1,
                    });
                    k += 1;
                    true
                }
                PatOp::ZeroOrMore => {
                    bindings.push(Binding {
                        op: i,
                        start: k,
                        end: k,
                    });
                    true
                }
                PatOp::Zero => true,
                PatOp::Macro(id) => match ctx.macros.value(*id) {
                    None => true,
                    Some(mut v) => {
                        let save = k;
                        let mut ok = true;
                        while !v.is_empty() {
                            let Some(tok) = ws.get(k) else {
                                ok = false;
                                break;
                            };
                            if v.len() < tok.len() || !v[..tok.len()].eq_ignore_ascii_case(tok) {
                                ok = false;
                                break;
                            }
                            v = &v[tok.len()..];
                            k += 1;
                        }
                        if !ok {
                            k = save;
                        }
                        ok
                    }
                },
                PatOp::Literal(lit) => {
                    if lit.eq_ignore_ascii_case(&ws[k]) {
                        k += 1;
                        true
                    } else {
                        false
                    }
                }
            }
        };
        if ok {
            i += 1;
            continue;
        }
        // Back up: grow the most recent binding that can grow.
        loop {
            let Some(b) = bindings.pop() else {
                return false;
            };
            i = b.op;
            k = b.end;
            if k >= n {
                continue;
            }
            match ops[i] {
                PatOp::OneOrMore | PatOp::ZeroOrMore => {
                    bindings.push(Binding { end: k + 1, ..b });
                    k += 1;
                    i += 1;
                    break;
                }
                PatOp::Class(id) => {
                    if let Some(end) = extend_class(ctx, id, ws, b.start, k) {
                        bindings.push(Binding { end, ..b });
                        k = end;
                        i += 1;
                        break;
                    }
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Token> {
        s.split(' ')
            .filter(|t| !t.is_empty())
            .map(|t| Token::from(t.as_bytes()))
            .collect()
    }

    fn run(ops: &[PatOp], input: &str, classes: &ClassTable) -> Option<Vec<String>> {
        let macros = MacroTable::new();
        let tables = Tables::new(b".:%@!^/[]+");
        let ctx = MatchCtx {
            classes,
            macros: &macros,
            tables: &tables,
            blank_sub: b' ',
        };
        let ws = toks(input);
        let mut b = Vec::new();
        match_lhs(ops, &ws, &ctx, &mut b).then(|| {
            b.iter()
                .map(|b| {
                    ws[b.start..b.end]
                        .iter()
                        .map(|t| String::from_utf8_lossy(t).into_owned())
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .collect()
        })
    }

    fn lit(s: &str) -> PatOp {
        PatOp::Literal(s.as_bytes().to_vec())
    }

    // The bindings of cf-semantics §3.2 and §3.7 [observed].
    #[test]
    fn leftmost_wildcard_is_minimal() {
        let c = ClassTable::new();
        use PatOp::*;
        assert_eq!(
            run(&[ZeroOrMore, lit("."), ZeroOrMore], "a . b . c", &c).unwrap(),
            ["a", "b . c"]
        );
        assert_eq!(
            run(&[ZeroOrMore, OneOrMore], "a b c", &c).unwrap(),
            ["", "a b c"]
        );
        assert_eq!(
            run(&[OneOrMore, ZeroOrMore], "a b c", &c).unwrap(),
            ["a", "b c"]
        );
        assert_eq!(
            run(&[OneOrMore, lit("."), OneOrMore], "a . b . c", &c).unwrap(),
            ["a", "b . c"]
        );
    }

    #[test]
    fn classes_take_the_shortest_member() {
        let mut c = ClassTable::new();
        c.add(b'X', b"foo.com");
        c.add(b'X', b"bar");
        c.add(b'Y', b"a");
        c.add(b'Y', b"b");
        use PatOp::*;
        assert_eq!(
            run(
                &[ZeroOrMore, Class(b'X'), ZeroOrMore],
                "x FOO . Com . bar",
                &c
            )
            .unwrap(),
            ["x", "FOO . Com", ". bar"]
        );
        assert_eq!(
            run(&[Class(b'X'), OneOrMore], "foo . com . x", &c).unwrap(),
            ["foo . com", ". x"]
        );
        assert_eq!(run(&[NotClass(b'Y'), ZeroOrMore], "a b", &c), None);
        assert_eq!(
            run(&[NotClass(b'Y'), ZeroOrMore], "c b", &c).unwrap(),
            ["c", "b"]
        );
    }

    #[test]
    fn zero_and_literals() {
        let c = ClassTable::new();
        use PatOp::*;
        assert_eq!(run(&[Zero], "", &c).unwrap(), Vec::<String>::new());
        assert_eq!(run(&[Zero], "x", &c), None);
        assert_eq!(
            run(&[lit("FOO"), ZeroOrMore], "foo bar", &c).unwrap(),
            ["bar"]
        );
        assert_eq!(run(&[One, One], "a", &c), None);
    }
}
