//! A makemap source that rebuilds a given list of pairs: `text:` as a destination.
//!
//! makemap's input rules (formats.md §3.2) cannot carry every byte string, so the writer
//! picks the makemap flags the pairs need and names them on the first line, a comment:
//!
//! ```text
//! # rebuild with: makemap -N -f -e hash /etc/mail/access < FILE
//! ```
//!
//! | the pairs have | flag |
//! |---|---|
//! | a trailing NUL on every key and every value | `-N` (the NULs are not written) |
//! | upper-case ASCII in a key | `-f` |
//! | an empty value | `-e` |
//! | an empty key, white space in a key, a value starting with white space | `-t'C'` with a byte `C` no key contains and no value starts with |
//! | a key starting with `#` | `-D'C'` with another comment byte |
//! | a repeated key (kept on purpose) | `-d` |
//!
//! Pairs no flag can carry are refused ([`TextError`]): a NUL inside a key or value, NULs
//! on some records only, a newline, a line over makemap's 1023 bytes. Reading a text
//! source, [`merge_header`] takes the flags back from that first line, so
//! `cfmap convert hash:m text:m.txt` then `cfmap convert text:m.txt hash:m2` gives the
//! same pairs, and so does real makemap run with the flags of the first line.

use crate::makemap::{LINE_BUFFER, RulesOpt};
use crate::maps::Record;

const HEADER: &[u8] = b" rebuild with: makemap";

/// Bytes tried as `-t` separator and `-D` comment character, in this order.
const CANDIDATES: &[u8] = b"=:|,;%+@^~!/_.-";

/// Pairs that no makemap source can carry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error(
        "key {}: NUL byte inside the key or value: makemap reads lines as C strings",
        super::show(.0)
    )]
    InnerNul(Vec<u8>),
    #[error(
        "key {}: some keys or values end in NUL and others do not: makemap's -N adds one to every key and value",
        super::show(.0)
    )]
    MixedNul(Vec<u8>),
    #[error("key {}: newline in the key or value", super::show(.0))]
    Newline(Vec<u8>),
    #[error(
        "key {}: line of {} bytes: makemap reads at most {max} with the newline",
        super::show(.0),
        .1,
        max = LINE_BUFFER - 1
    )]
    TooLong(Vec<u8>, usize),
    #[error("no byte is free to separate keys from values (every candidate is used in a key)")]
    NoSeparator,
    #[error("no byte is free to be the comment character")]
    NoCommentChar,
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// The source text for `records` and the makemap flags it needs. `hint` is the
/// `TYPE NAME` shown in the rebuild comment.
pub fn render(
    records: &[Record],
    keep_duplicates: bool,
    hint: &str,
) -> Result<(Vec<u8>, String), TextError> {
    let ends_nul = |b: &[u8]| b.last() == Some(&0);
    let nul = !records.is_empty() && records.iter().all(|(k, v)| ends_nul(k) && ends_nul(v));
    let strip = |b: &[u8]| -> usize { if nul { b.len() - 1 } else { b.len() } };
    let (mut fold_off, mut empty_value, mut need_sep) = (false, false, false);
    let mut dups = false;
    let mut seen = std::collections::HashSet::new();
    for (k, v) in records {
        if !nul && (ends_nul(k) || ends_nul(v)) {
            return Err(TextError::MixedNul(k.clone()));
        }
        let (k, v) = (&k[..strip(k)], &v[..strip(v)]);
        if k.contains(&0) || v.contains(&0) {
            return Err(TextError::InnerNul(k.to_vec()));
        }
        if k.contains(&b'\n') || v.contains(&b'\n') {
            return Err(TextError::Newline(k.to_vec()));
        }
        let len = k.len() + 1 + v.len() + 1;
        if len > LINE_BUFFER - 1 {
            return Err(TextError::TooLong(k.to_vec(), len));
        }
        fold_off |= k.iter().any(u8::is_ascii_uppercase);
        empty_value |= v.is_empty();
        need_sep |= k.is_empty()
            || k.iter().any(|&b| is_space(b))
            || v.first().is_some_and(|&b| is_space(b));
        if keep_duplicates && !seen.insert(k) {
            dups = true;
        }
    }
    let sep = if need_sep {
        let ok = |c: u8| {
            records
                .iter()
                .all(|(k, v)| !k[..strip(k)].contains(&c) && v.first() != Some(&c))
        };
        Some(
            CANDIDATES
                .iter()
                .copied()
                .find(|&c| ok(c))
                .ok_or(TextError::NoSeparator)?,
        )
    } else {
        None
    };
    let first_is = |c: u8| records.iter().any(|(k, _)| k.first() == Some(&c));
    let comment = if first_is(b'#') {
        Some(
            CANDIDATES
                .iter()
                .copied()
                .find(|&c| Some(c) != sep && !first_is(c))
                .ok_or(TextError::NoCommentChar)?,
        )
    } else {
        None
    };
    let mut flags = Vec::new();
    if nul {
        flags.push("-N".to_string());
    }
    if fold_off {
        flags.push("-f".to_string());
    }
    if empty_value {
        flags.push("-e".to_string());
    }
    if dups {
        flags.push("-d".to_string());
    }
    if let Some(c) = sep {
        flags.push(format!("-t'{}'", c as char));
    }
    if let Some(c) = comment {
        flags.push(format!("-D'{}'", c as char));
    }
    let flags = flags.join(" ");
    let hint: String = hint
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .take(400)
        .collect();
    let mut out = Vec::with_capacity(
        records
            .iter()
            .map(|(k, v)| k.len() + v.len() + 2)
            .sum::<usize>()
            + 100,
    );
    out.push(comment.unwrap_or(b'#'));
    out.extend_from_slice(HEADER);
    if !flags.is_empty() {
        out.push(b' ');
        out.extend_from_slice(flags.as_bytes());
    }
    out.extend_from_slice(format!(" {hint} < FILE\n").as_bytes());
    let sep_byte = sep.unwrap_or(b'\t');
    for (k, v) in records {
        out.extend_from_slice(&k[..strip(k)]);
        out.push(sep_byte);
        out.extend_from_slice(&v[..strip(v)]);
        out.push(b'\n');
    }
    Ok((out, flags))
}

/// The first line, if it is the rebuild comment this module writes.
fn header_line(data: &[u8]) -> Option<&[u8]> {
    let line = data.split(|&b| b == b'\n').next()?;
    (line.len() > HEADER.len() && &line[1..=HEADER.len()] == HEADER).then_some(line)
}

/// Whether `data` starts with the rebuild comment (a file cfmap convert wrote).
pub fn has_header(data: &[u8]) -> bool {
    header_line(data).is_some()
}

/// Add the flags named on the rebuild comment (if `data` has one) to `rules`.
pub fn merge_header(data: &[u8], rules: &mut RulesOpt) {
    let Some(line) = header_line(data) else {
        return;
    };
    rules.comment = Some(line[0]);
    for word in line[HEADER.len() + 1..].split(|&b| b == b' ') {
        match word {
            b"-N" => rules.nul = true,
            b"-f" => rules.no_fold = true,
            b"-e" => rules.allow_empty = true,
            [b'-', b't', b'\'', c, b'\''] => rules.separator = Some(*c),
            [b'-', ..] => {}
            _ if !word.is_empty() => break,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::makemap::Lines;

    fn r(k: &[u8], v: &[u8]) -> Record {
        (k.to_vec(), v.to_vec())
    }

    /// Render, then read back with makemap's rules and the header's flags.
    fn round_trip(records: &[Record]) -> (Vec<Record>, String) {
        let (text, flags) = render(records, true, "hash m").unwrap();
        let mut rules = RulesOpt::default();
        merge_header(&text, &mut rules);
        let back = Lines::new(&text, rules.rules())
            .map(|(n, item)| {
                let rec = item.unwrap_or_else(|e| panic!("line {n}: {e:?}"));
                (rec.key, rec.value)
            })
            .collect();
        (back, flags)
    }

    #[test]
    fn plain_pairs_need_no_flags() {
        let recs = vec![r(b"a.com", b"OK"), r(b"b", b"REJECT with blanks ")];
        let (back, flags) = round_trip(&recs);
        assert_eq!(back, recs);
        assert_eq!(flags, "");
    }

    #[test]
    fn each_hard_case_picks_its_flag() {
        let cases: Vec<(Vec<Record>, &str)> = vec![
            (vec![r(b"k\0", b"v\0"), r(b"l\0", b"\0")], "-N -e"),
            (vec![r(b"Mixed", b"v")], "-f"),
            (vec![r(b"", b"empty key")], "-t'='"),
            (vec![r(b"a b", b" lead")], "-t'='"),
            (vec![r(b"a=b c", b"x")], "-t':'"),
            (vec![r(b"#hash", b"x")], "-D'='"),
            (vec![r(b"k", b"1"), r(b"k", b"2")], "-d"),
            (vec![r(b"k", b"cr\r")], ""),
            (vec![r(b"\xfc", b"\xff")], ""),
        ];
        for (recs, want) in cases {
            let (back, flags) = round_trip(&recs);
            assert_eq!(back, recs, "{flags}");
            assert_eq!(flags, want);
        }
    }

    #[test]
    fn impossible_pairs_are_refused() {
        let e = |recs: Vec<Record>| render(&recs, false, "hash m").unwrap_err();
        assert!(matches!(e(vec![r(b"k\0x", b"v")]), TextError::InnerNul(_)));
        assert!(matches!(
            e(vec![r(b"k\0", b"v\0"), r(b"p", b"q")]),
            TextError::MixedNul(_)
        ));
        assert!(matches!(e(vec![r(b"k", b"a\nb")]), TextError::Newline(_)));
        assert!(matches!(
            e(vec![r(b"k", &[b'x'; 1021])]),
            TextError::TooLong(_, 1024)
        ));
        // Key, blank and value of 1022 bytes, and the newline: what makemap's buffer holds.
        assert!(render(&[r(b"k", &[b'x'; 1020])], false, "h").is_ok());
    }
}
