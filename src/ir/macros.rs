//! Macro and class names, ids and values, and read-time expansion (`expand`, macro.c).
//!
//! sendmail gives every macro and class name a one-byte id: a one-character name is its
//! own byte, a `{long}` name gets the next id from 0xA0 up (at most 96 long names, shared
//! by macros and classes). Values are kept in internal form: MACROEXPAND bytes in a value
//! are expanded when the macro is, which is why `$*` (the value of macro `*`) works.

use crate::cf::{MacroName, Piece, Span, Text};
use crate::meta;

/// A macro or class id (sendmail's `bitidx`).
pub type MacroId = u8;

/// Recursion limit of expansion (MaxMacroRecursion).
pub const MAX_MACRO_RECURSION: usize = 10;
/// Expansion buffer size (MACBUFSIZE).
pub const MACBUFSIZE: usize = 4096;

/// One byte of internal text and the source span it came from.
pub type SpannedByte = (u8, Span);

/// Names, ids and current values.
#[derive(Debug, Clone)]
pub struct MacroTable {
    long_names: Vec<Vec<u8>>,
    values: Vec<Option<Vec<u8>>>,
    /// Where each macro was last defined by a D line (None: predefined or never).
    pub defined_at: Vec<Option<Span>>,
    /// How many times a value was set or taken away.
    changes: u64,
}

/// A long name could not get an id (more than 96).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManyLongNames;

impl Default for MacroTable {
    fn default() -> Self {
        MacroTable::new()
    }
}

impl MacroTable {
    /// A table with sendmail's metacharacter macros (`$*` … `$&`, `$0`…`$9`) defined.
    pub fn new() -> MacroTable {
        let mut t = MacroTable {
            long_names: Vec::new(),
            values: vec![None; 256],
            defined_at: vec![None; 256],
            changes: 0,
        };
        for &(name, value) in meta::META_MACROS {
            t.values[name as usize] = Some(vec![value]);
        }
        for d in b'0'..=b'9' {
            t.values[d as usize] = Some(vec![meta::MATCHREPL, d]);
        }
        t
    }

    /// The id of a name, allocating one for a new long name.
    pub fn id(&mut self, name: &MacroName) -> Result<MacroId, TooManyLongNames> {
        match name {
            MacroName::Short(b) => Ok(*b),
            MacroName::Long(n) => {
                if let Some(i) = self.long_names.iter().position(|x| x == n) {
                    return Ok(meta::FIRST_LONG_ID + i as u8);
                }
                let next = meta::FIRST_LONG_ID as usize + self.long_names.len();
                if next > 0xFF {
                    return Err(TooManyLongNames);
                }
                self.long_names.push(n.clone());
                Ok(next as u8)
            }
        }
    }

    /// The id of a name if it has one already.
    pub fn lookup_id(&self, name: &MacroName) -> Option<MacroId> {
        match name {
            MacroName::Short(b) => Some(*b),
            MacroName::Long(n) => self
                .long_names
                .iter()
                .position(|x| x == n)
                .map(|i| meta::FIRST_LONG_ID + i as u8),
        }
    }

    pub fn name(&self, id: MacroId) -> MacroName {
        if id >= meta::FIRST_LONG_ID
            && let Some(n) = self.long_names.get((id - meta::FIRST_LONG_ID) as usize)
        {
            return MacroName::Long(n.clone());
        }
        MacroName::Short(id)
    }

    pub fn value(&self, id: MacroId) -> Option<&[u8]> {
        self.values[id as usize].as_deref()
    }

    pub fn undefine(&mut self, id: MacroId) {
        self.changes += 1;
        self.values[id as usize] = None;
    }

    /// Changes whenever a value is set or taken away.
    pub fn changes(&self) -> u64 {
        self.changes
    }

    pub fn is_defined(&self, id: MacroId) -> bool {
        self.values[id as usize].is_some()
    }

    pub fn define(&mut self, id: MacroId, value: Vec<u8>, at: Option<Span>) {
        self.changes += 1;
        self.values[id as usize] = Some(value);
        self.defined_at[id as usize] = at;
    }

    /// Convert translated pieces into internal bytes (MACROEXPAND + id), each with its
    /// span. Names that cannot get an id are dropped, as sendmail drops them.
    pub fn internal(&mut self, text: &Text) -> Vec<SpannedByte> {
        let mut out = Vec::with_capacity(text.pieces.len());
        for (p, &span) in text.pieces.iter().zip(&text.spans) {
            match p {
                Piece::Byte(b) => out.push((*b, span)),
                Piece::Macro { sigil, name } => {
                    let Ok(id) = self.id(name) else { continue };
                    out.push((meta::MACROEXPAND, span));
                    if let Some(s) = sigil {
                        out.push((*s, span));
                    }
                    out.push((id, span));
                }
            }
        }
        out
    }

    /// Whether the metacharacter macros (`*`, `+`, …, `0`…`9`) still have sendmail's
    /// start-up values (no `D` line redefined one).
    fn metas_pristine(&self) -> bool {
        meta::META_MACROS
            .iter()
            .map(|m| m.0)
            .chain(b'0'..=b'9')
            .all(|id| self.defined_at[id as usize].is_none())
    }

    /// [`MacroTable::internal`] followed by [`MacroTable::expand`], with a shortcut: a
    /// metacharacter macro (`$*`, `$=w`, `$1`, …) is replaced by its one-byte value at once,
    /// and the expansion passes run only when something is left for them (a real macro
    /// reference or a conditional). The result is the same as sendmail's two passes as
    /// long as no `D` line redefined a metacharacter macro; otherwise the slow path runs.
    pub fn expand_text(&mut self, text: &Text) -> Vec<SpannedByte> {
        if !self.metas_pristine() {
            let int = self.internal(text);
            return self.expand(&int);
        }
        let mut out = Vec::with_capacity(text.pieces.len());
        let mut needs_expand = false;
        for (p, &span) in text.pieces.iter().zip(&text.spans) {
            match p {
                Piece::Byte(b) => {
                    needs_expand |= *b == meta::METAQUOTE;
                    out.push((*b, span))
                }
                Piece::Macro { sigil, name } => {
                    let Ok(id) = self.id(name) else { continue };
                    let direct = match (sigil, name) {
                        (Some(b'='), _) => Some(meta::MATCHCLASS),
                        (Some(b'~'), _) => Some(meta::MATCHNCLASS),
                        (Some(b'&'), _) => Some(meta::MACRODEXPAND),
                        (None, MacroName::Short(d)) if d.is_ascii_digit() => {
                            out.push((meta::MATCHREPL, span));
                            out.push((*d, span));
                            continue;
                        }
                        (None, MacroName::Short(m)) => {
                            if let Some(&(_, v)) = meta::META_MACROS.iter().find(|x| x.0 == *m) {
                                needs_expand |= v == meta::CONDELSE || v == meta::CONDFI;
                                out.push((v, span));
                                continue;
                            }
                            None
                        }
                        _ => None,
                    };
                    match direct {
                        Some(b) => {
                            out.push((b, span));
                            out.push((id, span));
                        }
                        None => {
                            needs_expand = true;
                            out.push((meta::MACROEXPAND, span));
                            if let Some(s) = sigil {
                                out.push((*s, span));
                            }
                            out.push((id, span));
                        }
                    }
                }
            }
        }
        if needs_expand {
            // The metacharacters emitted directly pass through expansion unchanged, except
            // CONDELSE/CONDFI, which matter only inside a conditional — as in sendmail.
            return self.expand(&out);
        }
        out.truncate(MACBUFSIZE - 1);
        out
    }

    /// Expand internal text as sendmail's `expand` does: macro references are replaced by
    /// their values, `$?x … $| … $.` conditionals are evaluated, and the whole result is
    /// expanded again while an interpolated value brought in a metacharacter.
    pub fn expand(&self, input: &[SpannedByte]) -> Vec<SpannedByte> {
        let mut cur = input.to_vec();
        for _ in 0..MAX_MACRO_RECURSION {
            let (next, again) = self.expand_once(&cur);
            cur = next;
            if !again {
                break;
            }
        }
        cur.truncate(MACBUFSIZE - 1);
        cur
    }

    fn expand_once(&self, input: &[SpannedByte]) -> (Vec<SpannedByte>, bool) {
        let mut out = Vec::with_capacity(input.len());
        let mut again = false;
        // Nesting of conditionals and how many of them are suppressing output.
        let mut depth = 0usize;
        let mut skip_from: Option<usize> = None;
        let mut i = 0;
        while i < input.len() {
            let (b, span) = input[i];
            let skipping = skip_from.is_some();
            match b {
                meta::METAQUOTE => {
                    if !skipping {
                        out.push((b, span));
                        if let Some(&n) = input.get(i + 1) {
                            out.push(n);
                        }
                    }
                    i += 2;
                    continue;
                }
                meta::CONDIF => {
                    let id = input.get(i + 1).map(|x| x.0);
                    depth += 1;
                    if !skipping {
                        let on = id
                            .and_then(|id| self.value(id))
                            .is_some_and(|v| !v.is_empty());
                        if !on {
                            skip_from = Some(depth);
                        }
                    }
                    i += 2;
                    continue;
                }
                meta::CONDELSE if depth > 0 => {
                    match skip_from {
                        Some(d) if d == depth => skip_from = None,
                        None => skip_from = Some(depth),
                        _ => {}
                    }
                    i += 1;
                    continue;
                }
                meta::CONDFI if depth > 0 => {
                    if skip_from == Some(depth) {
                        skip_from = None;
                    }
                    depth -= 1;
                    i += 1;
                    continue;
                }
                meta::MACROEXPAND => {
                    let Some(&(id, _)) = input.get(i + 1) else {
                        i += 1;
                        continue;
                    };
                    if !skipping && let Some(v) = self.value(id) {
                        let mut quoted = false;
                        for &vb in v {
                            if !quoted && (0x80..=0x9F).contains(&vb) {
                                again = true;
                            }
                            quoted = !quoted && vb == meta::METAQUOTE;
                            out.push((vb, span));
                        }
                    }
                    i += 2;
                    continue;
                }
                _ => {}
            }
            if !skipping {
                out.push((b, span));
            }
            i += 1;
        }
        (out, again)
    }
}

/// sendmail's `munchstring` for D-line values: double quotes are removed and backslash
/// escapes (`\n` `\r` `\f` `\b`, `\` + other byte → that byte) resolved.
pub fn munch(value: &[SpannedByte]) -> Vec<SpannedByte> {
    let mut out = Vec::with_capacity(value.len());
    let mut i = 0;
    while i < value.len() {
        let (b, span) = value[i];
        match b {
            b'"' => {}
            b'\\' if i + 1 < value.len() => {
                i += 1;
                let (n, nspan) = value[i];
                let c = match n {
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b'f' => 0x0C,
                    b'b' => 0x08,
                    other => other,
                };
                out.push((c, span.to(nspan)));
            }
            _ => out.push((b, span)),
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(b: &[u8]) -> Vec<SpannedByte> {
        b.iter().map(|&c| (c, Span::default())).collect()
    }

    fn bytes(v: &[SpannedByte]) -> Vec<u8> {
        v.iter().map(|x| x.0).collect()
    }

    #[test]
    fn metacharacters_come_from_macros() {
        let t = MacroTable::new();
        let e = t.expand(&plain(&[meta::MACROEXPAND, b'*', b'x']));
        assert_eq!(bytes(&e), [meta::MATCHZANY, b'x']);
        let e = t.expand(&plain(&[meta::MACROEXPAND, b'=', b'w']));
        assert_eq!(bytes(&e), [meta::MATCHCLASS, b'w']);
        let e = t.expand(&plain(&[meta::MACROEXPAND, b'1']));
        assert_eq!(bytes(&e), [meta::MATCHREPL, b'1']);
    }

    #[test]
    fn conditionals_are_evaluated_in_the_second_pass() {
        // `$?X xdef $| xundef $.` with X defined → `xdef ` (cf-semantics §1.1).
        let mut t = MacroTable::new();
        t.define(b'X', b"1".to_vec(), None);
        let mut input = vec![meta::MACROEXPAND, b'?', b'X'];
        input.extend(b" xdef ");
        input.extend([meta::MACROEXPAND, b'|']);
        input.extend(b" xundef ");
        input.extend([meta::MACROEXPAND, b'.']);
        let e = t.expand(&plain(&input));
        assert_eq!(bytes(&e), b" xdef ");
        let t2 = MacroTable::new();
        let e = t2.expand(&plain(&input));
        assert_eq!(bytes(&e), b" xundef ");
        // A bare `$| $.` stays as two metacharacters.
        let e = t2.expand(&plain(&[
            meta::MACROEXPAND,
            b'|',
            b' ',
            meta::MACROEXPAND,
            b'.',
        ]));
        assert_eq!(bytes(&e), [meta::CONDELSE, b' ', meta::CONDFI]);
    }

    #[test]
    fn long_ids_start_at_a0() {
        let mut t = MacroTable::new();
        assert_eq!(t.id(&MacroName::Long(b"client_addr".to_vec())), Ok(0xA0));
        assert_eq!(t.id(&MacroName::Long(b"x".to_vec()).clone()), Ok(0xA1));
        assert_eq!(t.id(&MacroName::Long(b"client_addr".to_vec())), Ok(0xA0));
        for i in 0..94 {
            t.id(&MacroName::Long(format!("n{i}").into_bytes()))
                .unwrap();
        }
        assert_eq!(
            t.id(&MacroName::Long(b"onemore".to_vec())),
            Err(TooManyLongNames)
        );
    }

    #[test]
    fn munch_removes_quotes_and_escapes() {
        let v = munch(&plain(b"\"a b\"  c\\\"d"));
        assert_eq!(bytes(&v), b"a b  c\"d");
    }
}
