//! The `.mc` side of a migration: the m4 text that produced the K lines.
//!
//! In sendmail-cf's m4 files a database map comes from a `FEATURE` argument or a
//! `define` that spells its class and file (`FEATURE(`mailertable', `hash -o
//! /etc/mail/mailertable')`), or, when the argument is left out, from
//! `DATABASE_MAP_TYPE` (cfhead.m4 defines it as `hash`; `access_db`, `mailertable`,
//! `virtusertable`, `genericstable`, `domaintable`, `authinfo`… use it). So:
//!
//! 1. every quoted m4 string (outside `dnl` comments) that starts with a going-away
//!    class word and names the file of a converted map gets its class word replaced
//!    (and the `.db` ending of the file dropped), as the K line is;
//! 2. if a converted map came from no such string, `DATABASE_MAP_TYPE` is set to the new
//!    type: its `define` is changed, or one is added after the `OSTYPE` line (after
//!    cf.m4, which defines the default, and before the FEATUREs that read it).

use super::Edit;

/// What changes in the `.mc`, and what the caller should say about it.
#[derive(Debug, Clone, Default)]
pub struct McPatch {
    pub edits: Vec<Edit>,
    pub notes: Vec<String>,
}

/// Quoted strings of `mc` outside `dnl` comments: (content range).
fn quoted(mc: &[u8]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < mc.len() {
        if mc[i..].starts_with(b"dnl")
            && (i == 0 || !mc[i - 1].is_ascii_alphanumeric() && mc[i - 1] != b'_')
        {
            while i < mc.len() && mc[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        if mc[i] == b'`' {
            let start = i + 1;
            let mut depth = 1;
            i += 1;
            while i < mc.len() && depth > 0 {
                match mc[i] {
                    b'`' => depth += 1,
                    b'\'' => depth -= 1,
                    _ => {}
                }
                i += 1;
            }
            out.push(start..i.saturating_sub(1));
            continue;
        }
        i += 1;
    }
    out
}

const CLASSES: [&[u8]; 4] = [b"hash", b"btree", b"dbm", b"implicit"];

/// The edits for `mc`; `files` are the K-line files (as written in the .cf) of the
/// converted maps, `to` the new class word.
pub fn patch(mc: &[u8], files: &[Vec<u8>], to: &str) -> McPatch {
    let mut p = McPatch::default();
    let mut matched = vec![false; files.len()];
    let mut db_type: Option<std::ops::Range<usize>> = None;
    let strings = quoted(mc);
    for (n, r) in strings.iter().enumerate() {
        let s = &mc[r.clone()];
        // define(`DATABASE_MAP_TYPE', `hash'): the string after the name.
        if s == b"DATABASE_MAP_TYPE"
            && r.start >= 8
            && mc[..r.start - 1].ends_with(b"define(")
            && let Some(v) = strings.get(n + 1)
        {
            db_type = Some(v.clone());
            continue;
        }
        let lead = s.iter().take_while(|b| b.is_ascii_whitespace()).count();
        let words: Vec<(usize, usize)> = {
            let mut w = Vec::new();
            let mut i = lead;
            while i < s.len() {
                let st = i;
                while i < s.len() && !s[i].is_ascii_whitespace() {
                    i += 1;
                }
                w.push((st, i));
                while i < s.len() && s[i].is_ascii_whitespace() {
                    i += 1;
                }
            }
            w
        };
        let Some(&(cs, ce)) = words.first() else {
            continue;
        };
        if !CLASSES.contains(&&s[cs..ce]) {
            continue;
        }
        let Some(&(fs, fe)) = words[1..].iter().find(|&&(a, _)| s[a] != b'-') else {
            continue;
        };
        let file = &s[fs..fe];
        let Some(i) = files
            .iter()
            .position(|f| f == file || f.strip_suffix(b".db") == Some(file))
        else {
            continue;
        };
        matched[i] = true;
        p.edits.push(Edit {
            range: r.start + cs..r.start + ce,
            text: to.as_bytes().to_vec(),
        });
        if &s[cs..ce] != b"dbm" && file.ends_with(b".db") {
            p.edits.push(Edit {
                range: r.start + fe - 3..r.start + fe,
                text: Vec::new(),
            });
        }
    }
    let unmatched: Vec<&Vec<u8>> = files
        .iter()
        .zip(&matched)
        .filter(|(_, m)| !**m)
        .map(|(f, _)| f)
        .collect();
    if unmatched.is_empty() {
        return p;
    }
    let shown: Vec<String> = unmatched
        .iter()
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .collect();
    match db_type {
        Some(r) => {
            p.edits.push(Edit {
                range: r,
                text: to.as_bytes().to_vec(),
            });
            p.notes.push(format!(
                "DATABASE_MAP_TYPE set to {to} (the default class of {})",
                shown.join(", ")
            ));
        }
        None => {
            let line = format!("define(`DATABASE_MAP_TYPE', `{to}')dnl\n").into_bytes();
            let after = ["OSTYPE(", "cf.m4'"]
                .iter()
                .find_map(|m| find_line_end(mc, m.as_bytes()))
                .unwrap_or(0);
            p.edits.push(Edit {
                range: after..after,
                text: line,
            });
            p.notes.push(format!(
                "define(`DATABASE_MAP_TYPE', `{to}') added (the default class of {})",
                shown.join(", ")
            ));
        }
    }
    p
}

/// The offset just after the line holding `needle` (outside a `dnl` comment start).
fn find_line_end(mc: &[u8], needle: &[u8]) -> Option<usize> {
    let mut at = 0;
    for line in mc.split_inclusive(|&b| b == b'\n') {
        let t = line.trim_ascii_start();
        if !t.starts_with(b"dnl") && line.windows(needle.len()).any(|w| w == needle) {
            return Some(at + line.len());
        }
        at += line.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrate::apply;

    #[test]
    fn explicit_arguments_and_the_default_type() {
        let mc = b"include(`cf.m4')dnl\nOSTYPE(`linux')dnl\ndnl FEATURE(`x', `hash /etc/mail/x')\n\
FEATURE(`access_db')dnl\nFEATURE(`mailertable', `hash -o /etc/mail/mailertable.db')dnl\n\
FEATURE(`other', `hash /etc/mail/notours')dnl\n";
        let files = vec![
            b"/etc/mail/access".to_vec(),
            b"/etc/mail/mailertable.db".to_vec(),
        ];
        let p = patch(mc, &files, "cdb");
        assert_eq!(
            String::from_utf8(apply(mc, &p.edits)).unwrap(),
            "include(`cf.m4')dnl\nOSTYPE(`linux')dnl\ndefine(`DATABASE_MAP_TYPE', `cdb')dnl\n\
dnl FEATURE(`x', `hash /etc/mail/x')\nFEATURE(`access_db')dnl\n\
FEATURE(`mailertable', `cdb -o /etc/mail/mailertable')dnl\nFEATURE(`other', `hash /etc/mail/notours')dnl\n"
        );
        let mc2 = b"define(`DATABASE_MAP_TYPE', `btree')dnl\nFEATURE(`access_db')dnl\n";
        let p = patch(mc2, &files[..1], "cdb");
        assert_eq!(
            apply(mc2, &p.edits),
            b"define(`DATABASE_MAP_TYPE', `cdb')dnl\nFEATURE(`access_db')dnl\n"
        );
    }
}
