//! Joining tokens back into one string (`cataddr`, cf-semantics §2.6): class matches, map
//! keys, arguments and defaults are built this way.

use crate::engine::token::{PAD, Token, TokenTable};
use crate::meta;
use crate::prescan::Tables;

/// Buffer sizes sendmail joins into (the result holds at most `size - 3` bytes).
pub const MAXLINE: usize = 2048;
pub const MAXKEY: usize = 1024;

/// Join `tokens`, putting `spacesub` between two tokens that both start with an atom
/// byte. In `external` form a METAQUOTE and the byte after it become that byte.
pub fn cataddr<'t>(
    tokens: impl IntoIterator<Item = &'t [u8]>,
    tables: &Tables,
    spacesub: u8,
    external: bool,
    size: usize,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    cataddr_into(&mut out, tokens, tables, spacesub, external, size);
    out
}

/// [`cataddr`] appending to `out`.
pub fn cataddr_into<'t>(
    out: &mut Vec<u8>,
    tokens: impl IntoIterator<Item = &'t [u8]>,
    tables: &Tables,
    spacesub: u8,
    external: bool,
    size: usize,
) {
    let tokens = tokens
        .into_iter()
        .map(|t| (t, t.contains(&meta::METAQUOTE)));
    join_from(
        out,
        tokens,
        tables,
        spacesub,
        external,
        size as isize,
        false,
    );
}

/// [`cataddr_into`] of interned tokens (whose table knows which hold a METAQUOTE).
pub fn cataddr_tokens(
    out: &mut Vec<u8>,
    toks: &TokenTable,
    ws: &[Token],
    tables: &Tables,
    spacesub: u8,
    external: bool,
    size: usize,
) {
    // Like `join_from`, with short tokens copied as fixed-size blocks (no call per token).
    out.reserve(ws.len() * (PAD + 1));
    let mut sz = size as isize - 2;
    let mut prev_atom = false;
    for (k, &t) in ws.iter().enumerate() {
        if sz <= 0 {
            break;
        }
        let tok = toks.text(t);
        let atom = tok.first().is_some_and(|&b| tables.is_atom_start(b));
        let blank = isize::from(prev_atom && atom);
        if tok.len() as isize + blank >= sz || (external && toks.quoted(t)) {
            // From here on byte by byte, as sendmail's loop goes.
            let rest = ws[k..].iter().map(|&t| (toks.text(t), toks.quoted(t)));
            join_from(out, rest, tables, spacesub, external, sz + 2, prev_atom);
            return;
        }
        if blank == 1 {
            out.push(spacesub);
        }
        match toks.short_text(t) {
            Some(b) => TokenTable::extend_block(out, b),
            None => out.extend_from_slice(tok),
        }
        sz -= tok.len() as isize + blank;
        prev_atom = atom;
    }
}

/// The join, each token with whether it holds a METAQUOTE, from a budget of `size` (as
/// sendmail counts it) and whether the token before the first was an atom.
fn join_from<'t>(
    out: &mut Vec<u8>,
    tokens: impl Iterator<Item = (&'t [u8], bool)>,
    tables: &Tables,
    spacesub: u8,
    external: bool,
    size: isize,
    mut prev_atom: bool,
) {
    // sendmail keeps two bytes back and stops as soon as the budget reaches zero.
    let mut sz = size - 2;
    'outer: for (tok, quoted) in tokens {
        if sz <= 0 {
            break;
        }
        let atom = tok.first().is_some_and(|&b| tables.is_atom_start(b));
        if prev_atom && atom {
            out.push(spacesub);
            sz -= 1;
            if sz <= 0 {
                break;
            }
        }
        // The whole token at once when it fits and has nothing to unquote.
        if (tok.len() as isize) < sz && !(external && quoted) {
            out.extend_from_slice(tok);
            sz -= tok.len() as isize;
            prev_atom = atom;
            continue;
        }
        let mut i = 0;
        while i < tok.len() {
            sz -= 1;
            if sz <= 0 {
                break 'outer;
            }
            let c = tok[i];
            i += 1;
            if c == meta::METAQUOTE && external && i < tok.len() {
                out.push(tok[i]);
                i += 1;
            } else {
                out.push(c);
            }
        }
        prev_atom = atom;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t() -> Tables {
        Tables::new(b".:%@!^/[]+")
    }

    #[test]
    fn blank_only_between_atoms() {
        let toks: Vec<&[u8]> = vec![b"a", b"b", b"@", b"c", b"\"x y\"", b"d"];
        assert_eq!(
            cataddr(toks.iter().copied(), &t(), b' ', true, MAXKEY),
            b"a b@c\"x y\"d"
        );
        assert_eq!(
            cataddr(toks.iter().copied(), &t(), b'.', true, MAXKEY),
            b"a.b@c\"x y\"d"
        );
    }

    #[test]
    fn truncates_like_sendmail() {
        let toks: Vec<&[u8]> = vec![b"abcdef"];
        // size 6: two bytes kept back, the third decrement reaches zero.
        assert_eq!(cataddr(toks.iter().copied(), &t(), b' ', true, 6), b"abc");
    }

    #[test]
    fn metaquote_external() {
        let toks: Vec<&[u8]> = vec![&[b'a', meta::METAQUOTE, 0x90, b'b']];
        assert_eq!(
            cataddr(toks.iter().copied(), &t(), b' ', true, MAXKEY),
            [b'a', 0x90, b'b']
        );
        assert_eq!(
            cataddr(toks.iter().copied(), &t(), b' ', false, MAXKEY),
            [b'a', meta::METAQUOTE, 0x90, b'b']
        );
    }

    /// sendmail's loop as written: one byte and one budget step at a time.
    fn byte_by_byte(toks: &[&[u8]], spacesub: u8, external: bool, size: usize) -> Vec<u8> {
        let tables = t();
        let mut out = Vec::new();
        let mut sz = size as isize - 2;
        let mut prev_atom = false;
        'outer: for tok in toks {
            if sz <= 0 {
                break;
            }
            let atom = tok.first().is_some_and(|&b| tables.is_atom_start(b));
            if prev_atom && atom {
                out.push(spacesub);
                sz -= 1;
                if sz <= 0 {
                    break;
                }
            }
            let mut i = 0;
            while i < tok.len() {
                sz -= 1;
                if sz <= 0 {
                    break 'outer;
                }
                let c = tok[i];
                i += 1;
                if c == meta::METAQUOTE && external && i < tok.len() {
                    out.push(tok[i]);
                    i += 1;
                } else {
                    out.push(c);
                }
            }
            prev_atom = atom;
        }
        out
    }

    #[test]
    fn whole_tokens_cut_where_the_byte_loop_cuts() {
        let q = meta::METAQUOTE;
        let pool: Vec<Vec<u8>> = vec![
            b"a".to_vec(),
            b"abc".to_vec(),
            b"@".to_vec(),
            b"example".to_vec(),
            vec![b'x', q, 0x90, b'y'],
            vec![q],
            b"".to_vec(),
            b"\"q z\"".to_vec(),
        ];
        for n in 0..pool.len() * pool.len() * pool.len() {
            let toks: Vec<&[u8]> = [n % 8, n / 8 % 8, n / 64 % 8]
                .iter()
                .map(|&i| pool[i].as_slice())
                .collect();
            for size in 0..24 {
                for external in [false, true] {
                    assert_eq!(
                        cataddr(toks.iter().copied(), &t(), b'.', external, size),
                        byte_by_byte(&toks, b'.', external, size),
                        "{toks:?} size {size} external {external}"
                    );
                }
            }
        }
    }

    #[test]
    fn interned_tokens_join_as_their_texts() {
        let q = meta::METAQUOTE;
        let pool: Vec<Vec<u8>> = vec![
            b"a".to_vec(),
            b"abc".to_vec(),
            b"@".to_vec(),
            b"a-rather-long-hostname-part".to_vec(),
            vec![b'x', q, 0x90, b'y'],
            b"\"q z\"".to_vec(),
        ];
        let mut toks = TokenTable::new();
        let ids: Vec<Token> = pool.iter().map(|p| toks.intern(p)).collect();
        let n = pool.len();
        for m in 0..n * n * n * n {
            let pick = [m % n, m / n % n, m / (n * n) % n, m / (n * n * n) % n];
            let ws: Vec<Token> = pick.iter().map(|&i| ids[i]).collect();
            let texts: Vec<&[u8]> = pick.iter().map(|&i| pool[i].as_slice()).collect();
            for size in (0..40).chain([MAXKEY]) {
                for external in [false, true] {
                    let mut got = b"kept".to_vec();
                    cataddr_tokens(&mut got, &toks, &ws, &t(), b'.', external, size);
                    let mut want = b"kept".to_vec();
                    want.extend(byte_by_byte(&texts, b'.', external, size));
                    assert_eq!(got, want, "{texts:?} size {size} external {external}");
                }
            }
        }
    }
}
