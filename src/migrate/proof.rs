//! The proof that a migrated configuration answers as the old one: two engine sessions
//! (sendmail -bt in-process), one on the old `.cf` and its `.db` files, one on the new
//! `.cf` and its cdb files, are asked the same questions and must print the same bytes.
//!
//! - Every key of every migrated map through `/map NAME KEY` (the class lookup itself:
//!   folding, the adaptive NUL tries, `-a`, `%` substitution).
//! - Every such key as a test address through the rulesets that use the maps in real
//!   operation: `check_mail`, `check_rcpt`, `check_relay`, their `Local_` hooks, every
//!   other `check_*` and `Local_check_*` ruleset, and `3,0` (ruleset 0 reaches the
//!   mailertable and virtusertable); an access-style key `Tag:rest` is also tried as
//!   `rest`, and a bare domain also as `postmaster@domain`.
//!   The whole trace is compared, not only the result.

use crate::engine::Session;

/// One question the two configurations answered differently.
#[derive(Debug, Clone)]
pub struct Difference {
    pub map: Vec<u8>,
    /// The `-bt` line asked.
    pub question: Vec<u8>,
    pub old: Vec<u8>,
    pub new: Vec<u8>,
}

/// What was asked and what differed.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub lookups: usize,
    pub cases: usize,
    /// Keys that cannot be typed on a `-bt` line (a newline or NUL inside, too long).
    pub skipped: usize,
    /// How many questions were answered differently; the first of them in `differences`.
    pub different: usize,
    pub differences: Vec<Difference>,
}

/// The rulesets the proof runs, among those the configuration has: names, or `3,0`.
pub fn rulesets(ir: &crate::ir::Ir) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for name in [
        "check_mail",
        "check_rcpt",
        "check_relay",
        "Local_check_mail",
        "Local_check_rcpt",
        "Local_check_relay",
    ] {
        if ir.ruleset_names.contains_key(name.as_bytes()) {
            out.push(name.as_bytes().to_vec());
        }
    }
    // Other check rulesets (check_compat, check_vrfy, Local_check_* hooks…) after those.
    for name in ir.ruleset_names.keys() {
        if (name.starts_with(b"check_") || name.starts_with(b"Local_check_")) && !out.contains(name)
        {
            out.push(name.clone());
        }
    }
    if ir.rulesets.contains_key(&3) && ir.rulesets.contains_key(&0) {
        out.push(b"3,0".to_vec());
    }
    out
}

/// The key as it is typed: without its trailing NUL (lookups add it themselves), or
/// `None` when no `-bt` line can carry it.
fn typed(key: &[u8]) -> Option<&[u8]> {
    let k = key.strip_suffix(b"\0").unwrap_or(key);
    let ok = !k.is_empty()
        && k.len() < 1000
        && !k.iter().any(|&b| b == 0 || b == b'\n' || b == b'\r')
        && !k[0].is_ascii_whitespace();
    ok.then_some(k)
}

/// Test addresses made from a key.
fn addresses(key: &[u8]) -> Vec<Vec<u8>> {
    let mut v = vec![key.to_vec()];
    if let Some(c) = key.iter().position(|&b| b == b':')
        && c > 0
        && key[..c].iter().all(u8::is_ascii_alphabetic)
        && c + 1 < key.len()
    {
        v.push(key[c + 1..].to_vec());
    }
    let last = v.last().expect("one").clone();
    if !last.contains(&b'@') && last.contains(&b'.') && !last.starts_with(b".") {
        v.push([&b"postmaster@"[..], &last].concat());
    }
    v
}

fn ask(s: &mut Session<'_>, line: &[u8]) -> Vec<u8> {
    s.command(line);
    s.take_output()
}

/// `text` with every `from` replaced by its `to`.
fn renamed(text: Vec<u8>, names: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let mut text = text;
    for (from, to) in names {
        if from.is_empty() || !text.windows(from.len()).any(|w| w == &from[..]) {
            continue;
        }
        let mut out = Vec::with_capacity(text.len());
        let mut i = 0;
        while i < text.len() {
            if text[i..].starts_with(from) {
                out.extend_from_slice(to);
                i += from.len();
            } else {
                out.push(text[i]);
                i += 1;
            }
        }
        text = out;
    }
    text
}

/// Ask both sessions about every key of every map (`maps`: name and stored keys), and
/// run `rulesets` on each key as an address. At most `keep` differences are kept. The
/// new configuration may name its map files differently while they are being proved
/// (hidden temporaries): `names` maps those names to the final ones in its answers.
pub fn prove(
    old: &mut Session<'_>,
    new: &mut Session<'_>,
    maps: &[(Vec<u8>, Vec<Vec<u8>>)],
    rulesets: &[Vec<u8>],
    names: &[(Vec<u8>, Vec<u8>)],
    keep: usize,
) -> Report {
    let mut r = Report::default();
    // Start-up output (read-time messages) is not part of the answers.
    old.take_output();
    new.take_output();
    let note = |r: &mut Report, map: &[u8], q: Vec<u8>, a: Vec<u8>, b: Vec<u8>| {
        if a != b {
            r.different += 1;
            if r.differences.len() < keep {
                r.differences.push(Difference {
                    map: map.to_vec(),
                    question: q,
                    old: a,
                    new: b,
                });
            }
        }
    };
    for (name, keys) in maps {
        for key in keys {
            let Some(k) = typed(key) else {
                r.skipped += 1;
                continue;
            };
            let q = [&b"/map "[..], name, b" ", k].concat();
            let (a, b) = (ask(old, &q), renamed(ask(new, &q), names));
            r.lookups += 1;
            note(&mut r, name, q, a, b);
            for addr in addresses(k) {
                for rs in rulesets {
                    let q = [&rs[..], b" ", &addr].concat();
                    let (a, b) = (ask(old, &q), renamed(ask(new, &q), names));
                    r.cases += 1;
                    note(&mut r, name, q, a, b);
                }
            }
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_become_lines_and_addresses() {
        assert_eq!(typed(b"a.com\0"), Some(&b"a.com"[..]));
        assert_eq!(typed(b"a\nb"), None);
        assert_eq!(typed(b""), None);
        assert_eq!(
            addresses(b"From:spam@x.org"),
            [b"From:spam@x.org".to_vec(), b"spam@x.org".to_vec()]
        );
        assert_eq!(
            addresses(b"Connect:example.com"),
            [
                b"Connect:example.com".to_vec(),
                b"example.com".to_vec(),
                b"postmaster@example.com".to_vec()
            ]
        );
        assert_eq!(addresses(b"user@x.org"), [b"user@x.org".to_vec()]);
    }

    #[test]
    fn hidden_names_read_as_final_ones() {
        let names = vec![(b"/m/.access.tmp".to_vec(), b"/m/access".to_vec())];
        assert_eq!(
            renamed(
                b"open /m/.access.tmp.cdb: no; /m/.access.tmp".to_vec(),
                &names
            ),
            b"open /m/access.cdb: no; /m/access"
        );
    }
}
