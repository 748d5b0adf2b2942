//! LHS matching with sendmail's backtracking order (the matching loop of `rewrite` in
//! parseaddr.c; cf-semantics §3.2).
//!
//! Wildcards bind left to right; on failure the most recent binding that can grow grows
//! by one token, so the leftmost wildcard stays as short as possible and `$=X` takes the
//! shortest phrase that is a member.

use crate::engine::cataddr::{MAXLINE, cataddr};
use crate::engine::classes::{ClassTable, Phrase};
use crate::engine::token::{Token, TokenTable};
use crate::ir::{MacroId, MacroTable, PatOp};
use crate::prescan::Tables;

/// A left-hand side operation as the matcher runs it: [`PatOp`] with its literal
/// interned and case-folded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Equal to this folded token.
    Literal(Token),
    ZeroOrMore,
    OneOrMore,
    One,
    Class(MacroId),
    NotClass(MacroId),
    Zero,
    Macro(MacroId),
}

impl Op {
    pub fn new(op: &PatOp, toks: &mut TokenTable) -> Op {
        match op {
            PatOp::Literal(l) => {
                let t = toks.intern(l);
                Op::Literal(toks.fold(t))
            }
            PatOp::ZeroOrMore => Op::ZeroOrMore,
            PatOp::OneOrMore => Op::OneOrMore,
            PatOp::One => Op::One,
            PatOp::Class(id) => Op::Class(*id),
            PatOp::NotClass(id) => Op::NotClass(*id),
            PatOp::Zero => Op::Zero,
            PatOp::Macro(id) => Op::Macro(*id),
        }
    }
}

/// What matching needs besides the pattern and the workspace.
pub struct MatchCtx<'a> {
    pub classes: &'a ClassTable,
    pub macros: &'a MacroTable,
    pub tables: &'a Tables,
    pub toks: &'a TokenTable,
    /// A buffer for joining `$=X` phrases.
    pub phrase: &'a std::cell::RefCell<Vec<u8>>,
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
    let toks = ctx.toks;
    // Most members are one token: try that before joining anything, and join only when
    // some longer member starts like that token.
    if k == start
        && let Some(&tok) = ws.get(start)
        && !toks.quoted(tok)
    {
        if toks.in_class(tok, id, ctx.classes) {
            return Some(start + 1);
        }
        if toks.text(tok).len() >= longest || !toks.starts_member(tok, id, ctx.classes) {
            // Longer phrases only grow; none can be a member.
            return None;
        }
    }
    // The phrase ws[start..k] joined as cataddr joins it (external form, BlankSub
    // between atoms), lower-cased as members are kept, extended one token at a time.
    let mut phrase = ctx.phrase.borrow_mut();
    phrase.clear();
    let mut prev_atom = false;
    let mut push = |phrase: &mut Vec<u8>, tok: &[u8]| {
        let atom = tok.first().is_some_and(|&b| ctx.tables.is_atom_start(b));
        if prev_atom && atom {
            phrase.push(ctx.blank_sub.to_ascii_lowercase());
        }
        let mut i = 0;
        while i < tok.len() {
            if tok[i] == crate::meta::METAQUOTE && i + 1 < tok.len() {
                i += 1;
            }
            phrase.push(tok[i].to_ascii_lowercase());
            i += 1;
        }
        prev_atom = atom;
    };
    for &t in &ws[start..k] {
        push(&mut phrase, toks.text(t));
    }
    let mut end = k;
    loop {
        if end >= ws.len() || phrase.len() > longest + 1 {
            return None;
        }
        push(&mut phrase, toks.text(ws[end]));
        end += 1;
        if phrase.len() < MAXLINE - 3 {
            match ctx.classes.phrase(id, &phrase) {
                Phrase::Member => return Some(end),
                Phrase::Prefix => {}
                // Phrases only grow by appending: none starting like this is a member
                // (nor its cut form past cataddr's buffer, which starts the same way).
                Phrase::Dead => return None,
            }
        } else {
            // Past cataddr's buffer sendmail compares a cut phrase; keep its answer.
            let joined = cataddr(
                toks.texts(&ws[start..end]),
                ctx.tables,
                ctx.blank_sub,
                true,
                MAXLINE,
            );
            if ctx.classes.contains(id, &joined) {
                return Some(end);
            }
        }
    }
}

/// The first end at or after `least` for the wildcard `ops[i]` at which the rest of the
/// pattern can go on: before a literal, where that literal is (growing one token at a
/// time fails at once everywhere else); as the last operation, the end of the
/// workspace (nothing else can be followed by the end of the pattern). `None` when no
/// such end exists.
fn wildcard_end(ops: &[Op], i: usize, folded: &[Token], least: usize) -> Option<usize> {
    let n = folded.len();
    if least > n {
        return None;
    }
    match ops.get(i + 1) {
        None => Some(n),
        Some(&Op::Literal(lit)) => folded[least..]
            .iter()
            .position(|&t| t == lit)
            .map(|p| least + p),
        Some(_) => Some(least),
    }
}

/// Bind operation `op` to workspace tokens `*k..end` and move on after them.
fn bind(bindings: &mut Vec<Binding>, op: usize, end: usize, k: &mut usize) -> bool {
    bindings.push(Binding { op, start: *k, end });
    *k = end;
    true
}

/// Match `ops` against the whole workspace; on success `bindings` holds the bindings in
/// `$1`… order.
/// `folded` is `ws` case-folded.
pub fn match_lhs(
    ops: &[Op],
    ws: &[Token],
    folded: &[Token],
    ctx: &MatchCtx,
    bindings: &mut Vec<Binding>,
) -> bool {
    bindings.clear();
    let n = ws.len();
    let (mut i, mut k) = (0usize, 0usize);
    loop {
        if i >= ops.len() && k >= n {
            return true;
        }
        let exhausted = i >= ops.len() || (k >= n && !matches!(ops[i], Op::ZeroOrMore | Op::Zero));
        let ok = if exhausted {
            false
        } else {
            match &ops[i] {
                Op::Class(id) => match extend_class(ctx, *id, ws, k, k) {
                    Some(end) => bind(bindings, i, end, &mut k),
                    None => false,
                },
                Op::NotClass(id) => {
                    !ctx.toks.in_class(ws[k], *id, ctx.classes) && bind(bindings, i, k + 1, &mut k)
                }
                Op::One => bind(bindings, i, k + 1, &mut k),
                Op::OneOrMore | Op::ZeroOrMore => {
                    // sendmail binds the fewest tokens and grows one at a time; where
                    // the next step can only succeed at one place, start there.
                    let least = if ops[i] == Op::OneOrMore { k + 1 } else { k };
                    match wildcard_end(ops, i, folded, least) {
                        Some(end) => bind(bindings, i, end, &mut k),
                        None => false,
                    }
                }
                Op::Zero => true,
                Op::Macro(id) => match ctx.macros.value(*id) {
                    None => true,
                    Some(mut v) => {
                        let save = k;
                        let mut ok = true;
                        while !v.is_empty() {
                            let Some(&tok) = ws.get(k) else {
                                ok = false;
                                break;
                            };
                            let tok = ctx.toks.text(tok);
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
                Op::Literal(lit) => {
                    if folded[k] == *lit {
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
                Op::OneOrMore | Op::ZeroOrMore => {
                    let Some(end) = wildcard_end(ops, i, folded, k + 1) else {
                        continue;
                    };
                    bindings.push(Binding { end, ..b });
                    k = end;
                    i += 1;
                    break;
                }
                Op::Class(id) => {
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

/// Test patterns: operation `p` of a small alphabet (the wildcards, `$=X` and `$~X`, the
/// literals `.`, `b`, `@` and `<`).
#[cfg(test)]
pub(crate) fn test_op(p: u8, table: &mut TokenTable) -> Op {
    match p {
        0 => Op::ZeroOrMore,
        1 => Op::OneOrMore,
        2 => Op::One,
        3 => Op::Class(b'X'),
        4 => Op::NotClass(b'X'),
        5 => Op::Zero,
        6 => Op::Literal(table.intern(b".")),
        7 => Op::Literal(table.intern(b"b")),
        8 => Op::Literal(table.intern(b"@")),
        9 => Op::Literal(table.intern(b"<")),
        _ => Op::Macro(b'M'),
    }
}

/// The class `X` the test patterns name.
#[cfg(test)]
pub(crate) fn test_classes() -> ClassTable {
    let mut classes = ClassTable::new();
    for w in ["a", "a.b", "c", "x@c", "b.c.x"] {
        classes.add(b'X', w.as_bytes());
    }
    classes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(ops: &[PatOp], input: &str, classes: &ClassTable) -> Option<Vec<String>> {
        let macros = MacroTable::new();
        let tables = Tables::new(b".:%@!^/[]+");
        let mut table = TokenTable::new();
        let ops: Vec<Op> = ops.iter().map(|o| Op::new(o, &mut table)).collect();
        let ws: Vec<Token> = input
            .split(' ')
            .filter(|t| !t.is_empty())
            .map(|t| table.intern(t.as_bytes()))
            .collect();
        let ctx = MatchCtx {
            classes,
            macros: &macros,
            tables: &tables,
            toks: &table,
            phrase: &Default::default(),
            blank_sub: b' ',
        };
        let folded: Vec<Token> = ws.iter().map(|&t| table.fold(t)).collect();
        let mut b = Vec::new();
        match_lhs(&ops, &ws, &folded, &ctx, &mut b).then(|| {
            b.iter()
                .map(|b| {
                    ws[b.start..b.end]
                        .iter()
                        .map(|&t| String::from_utf8_lossy(table.text(t)).into_owned())
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

    /// sendmail's loop as written: every wildcard grows one token at a time, every
    /// `$=X` phrase is joined and looked up whole. The matcher above must bind exactly
    /// as this does.
    fn reference(
        ops: &[Op],
        ws: &[Token],
        table: &TokenTable,
        classes: &ClassTable,
    ) -> Option<Vec<Binding>> {
        let n = ws.len();
        let joined = |s: usize, e: usize| -> Vec<u8> {
            let tables = Tables::new(b".:%@!^/[]+");
            cataddr(table.texts(&ws[s..e]), &tables, b' ', true, MAXLINE)
        };
        let member = |id: u8, s: usize, e: usize| classes.contains(id, &joined(s, e));
        let mut b: Vec<Binding> = Vec::new();
        let (mut i, mut k) = (0usize, 0usize);
        loop {
            if i >= ops.len() && k >= n {
                return Some(b);
            }
            let ok = if i >= ops.len() || (k >= n && !matches!(ops[i], Op::ZeroOrMore | Op::Zero)) {
                false
            } else {
                match ops[i] {
                    Op::Literal(l) => {
                        let hit = table.fold(ws[k]) == l;
                        k += usize::from(hit);
                        hit
                    }
                    Op::ZeroOrMore => {
                        b.push(Binding {
                            op: i,
                            start: k,
                            end: k,
                        });
                        true
                    }
                    Op::OneOrMore | Op::One => {
                        b.push(Binding {
                            op: i,
                            start: k,
                            end: k + 1,
                        });
                        k += 1;
                        true
                    }
                    Op::NotClass(id) => {
                        let hit = !member(id, k, k + 1);
                        if hit {
                            b.push(Binding {
                                op: i,
                                start: k,
                                end: k + 1,
                            });
                            k += 1;
                        }
                        hit
                    }
                    Op::Class(id) => match (k + 1..=n).find(|&e| member(id, k, e)) {
                        Some(e) => {
                            b.push(Binding {
                                op: i,
                                start: k,
                                end: e,
                            });
                            k = e;
                            true
                        }
                        None => false,
                    },
                    Op::Zero => true,
                    Op::Macro(_) => unreachable!("not generated"),
                }
            };
            if ok {
                i += 1;
                continue;
            }
            loop {
                let last = b.pop()?;
                i = last.op;
                k = last.end;
                if k >= n {
                    continue;
                }
                let grown = match ops[i] {
                    Op::ZeroOrMore | Op::OneOrMore => Some(k + 1),
                    Op::Class(id) => (k + 1..=n).find(|&e| member(id, last.start, e)),
                    _ => None,
                };
                if let Some(end) = grown {
                    b.push(Binding { end, ..last });
                    k = end;
                    i += 1;
                    break;
                }
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn binds_as_sendmail_does(
            pat in proptest::collection::vec(0u8..9, 0..7),
            input in proptest::collection::vec(0usize..6, 0..10),
        ) {
            let words = ["a", "B", ".", "@", "c", "x"];
            let classes = test_classes();
            let mut table = TokenTable::new();
            let ops: Vec<Op> = pat.iter().map(|&p| test_op(p, &mut table)).collect();
            let ws: Vec<Token> = input.iter().map(|&w| table.intern(words[w].as_bytes())).collect();
            let folded: Vec<Token> = ws.iter().map(|&t| table.fold(t)).collect();
            let macros = MacroTable::new();
            let tables = Tables::new(b".:%@!^/[]+");
            let ctx = MatchCtx {
                classes: &classes,
                macros: &macros,
                tables: &tables,
                toks: &table,
                phrase: &Default::default(),
                blank_sub: b' ',
            };
            let mut got = Vec::new();
            let matched = match_lhs(&ops, &ws, &folded, &ctx, &mut got);
            let want = reference(&ops, &ws, &table, &classes);
            proptest::prop_assert_eq!(matched.then_some(got), want);
        }
    }
}
