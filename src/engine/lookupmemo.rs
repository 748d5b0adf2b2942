//! File map (and host map) answers remembered by the tokens of their key and arguments.
//!
//! A lookup joins its key and arguments from workspace tokens (cataddr), strips
//! quotes, asks the map and copies its value: the same tokens give the same answer
//! while the map says it has not changed ([`Maps::stable_generation`]). Test input asks
//! for the same domains line after line, so the answer is reused, and the map is told
//! so that its state (libdb's return buffer) stays as the lookup would leave it
//! ([`Maps::replay`]). Forgotten when a release of tokens lets their ids be given out
//! again; only answers the map calls reusable are kept.
//!
//! [`Maps::stable_generation`]: crate::maps::lookup::Maps::stable_generation
//! [`Maps::replay`]: crate::maps::lookup::Maps::replay

use std::collections::HashMap;
use std::rc::Rc;

use crate::engine::token::{FastState, Token};

/// Past this many answers the memo starts again.
const MEMO_MAX: usize = 1 << 14;
/// Between the key's tokens and each argument's in a memo key (no token id is this).
const SEP: u32 = u32::MAX;

/// A remembered answer: the value the rules get, and what the map found (for
/// [`crate::maps::lookup::Maps::replay`]).
#[derive(Clone)]
pub(crate) struct Kept {
    pub value: Option<Rc<[u8]>>,
    pub found: Option<Rc<[u8]>>,
}

#[derive(Default)]
pub(crate) struct LookupMemo {
    kept: HashMap<Box<[u32]>, Kept, FastState>,
    key: Vec<u32>,
    /// The token release count the entries were made under.
    releases: u32,
}

impl LookupMemo {
    /// Make the key of a lookup in map `map` (at `generation`) of the tokens `key` with
    /// the arguments `args`; `releases` is the token table's release count.
    pub(crate) fn key<'a>(
        &mut self,
        map: usize,
        generation: u64,
        key: &[Token],
        args: impl Iterator<Item = &'a [Token]>,
        releases: u32,
    ) {
        if self.releases != releases || self.kept.len() >= MEMO_MAX {
            self.kept.clear();
            self.releases = releases;
        }
        let k = &mut self.key;
        k.clear();
        k.extend([map as u32, generation as u32, (generation >> 32) as u32]);
        k.extend(key.iter().map(|t| t.id()));
        for a in args {
            k.push(SEP);
            k.extend(a.iter().map(|t| t.id()));
        }
    }

    /// The answer kept for the last [`LookupMemo::key`].
    pub(crate) fn get(&self) -> Option<&Kept> {
        self.kept.get(self.key.as_slice())
    }

    /// Keep an answer for the last [`LookupMemo::key`].
    pub(crate) fn put(&mut self, value: Option<&[u8]>, found: Option<&[u8]>) {
        self.kept.insert(
            self.key.as_slice().into(),
            Kept {
                value: value.map(Rc::from),
                found: found.map(Rc::from),
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_tell_maps_generations_tokens_and_arguments_apart() {
        let t = |ids: &[u32]| -> Vec<Token> { ids.iter().map(|&i| Token::from_id(i)).collect() };
        let mut m = LookupMemo::default();
        m.key(1, 0, &t(&[300, 46, 301]), std::iter::empty(), 0);
        m.put(Some(b"JUNK"), Some(b"JUNK"));
        m.key(1, 0, &t(&[300, 46, 301]), std::iter::empty(), 0);
        assert_eq!(
            m.get().and_then(|k| k.value.clone()).as_deref(),
            Some(&b"JUNK"[..])
        );
        for (map, generation, key, arg) in [
            (2, 0, vec![300, 46, 301], None),
            (1, 1, vec![300, 46, 301], None),
            (1, 0, vec![300, 46], None),
            (1, 0, vec![300, 46, 301], Some(vec![])),
        ] {
            let arg = arg.map(|a: Vec<u32>| t(&a));
            m.key(map, generation, &t(&key), arg.iter().map(Vec::as_slice), 0);
            assert!(m.get().is_none());
        }
        // A release of tokens forgets everything.
        m.key(1, 0, &t(&[300, 46, 301]), std::iter::empty(), 1);
        assert!(m.get().is_none());
    }
}
