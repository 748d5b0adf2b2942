//! K-line arguments as sendmail's class parsers read them (map_parseargs and the flag
//! loops of the classes with their own parser).
//!
//! map_parseargs, for every K line of a map in turn (a redefinition adds to the same
//! record): words starting with `-` are flags, each ended by a blank; `-a`, `-T` take the
//! rest of their word, quotes included; `-k` and `-v` skip blanks first, so `-k 1` is
//! `-k1`; `-S<c>` and `-z<c>` take the next byte even when it is a blank (and `-z\n`,
//! `-z\t`, `-z\<other>`); `-N` and `-O` start afresh on every K line. The first other
//! word is the file name (quotes kept), the rest of the line the "rebuild" text.

use super::Common;

/// What map_parseargs leaves in the map record.
pub(crate) struct Generic {
    pub common: Common,
    pub file: Option<Vec<u8>>,
}

/// The K line's class arguments the last class parser run saw.
pub(crate) fn last(lines: &[Vec<u8>]) -> &[u8] {
    lines.last().map_or(&[][..], Vec::as_slice)
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// The end of the word starting at `p`.
fn word_end(raw: &[u8], mut p: usize) -> usize {
    while p < raw.len() && !is_space(raw[p]) {
        p += 1;
    }
    p
}

/// map_parseargs over every K line of the map.
pub(crate) fn generic(lines: &[Vec<u8>]) -> Generic {
    let mut c = Common::default();
    let mut file = None;
    for raw in lines {
        c.try0 = true;
        c.try1 = true;
        let mut p = 0;
        loop {
            while p < raw.len() && is_space(raw[p]) {
                p += 1;
            }
            if p >= raw.len() || raw[p] != b'-' {
                break;
            }
            p += 1;
            let text =
                |from: usize| raw[from.min(raw.len())..word_end(raw, from.min(raw.len()))].to_vec();
            match raw.get(p) {
                Some(b'a') => c.app = Some(text(p + 1)),
                Some(b'f') => c.keep_case = true,
                Some(b'm') => c.match_only = true,
                Some(b'N') => c.try0 = false,
                Some(b'O') => c.try1 = false,
                Some(b'o') => c.optional = true,
                Some(b'k' | b'v') => {
                    let which = raw[p];
                    p += 1;
                    while p < raw.len() && is_space(raw[p]) {
                        p += 1;
                    }
                    let col = Some(text(p));
                    if which == b'k' {
                        c.key_col = col;
                    } else {
                        c.value_col = col;
                    }
                }
                Some(b'z') => {
                    p += 1;
                    c.delim = match raw.get(p) {
                        Some(b'\\') => {
                            p += 1;
                            match raw.get(p) {
                                Some(b'n') => b'\n',
                                Some(b't') => b'\t',
                                _ => b'\\',
                            }
                        }
                        Some(&d) => d,
                        None => 0,
                    };
                }
                Some(b'S') => p += 1,
                _ => {}
            }
            p = word_end(raw, p.min(raw.len()));
            if p < raw.len() {
                p += 1;
            }
        }
        if p < raw.len() {
            let end = word_end(raw, p);
            file = Some(raw[p..end].to_vec());
        }
    }
    Generic { common: c, file }
}

/// The leading `-x…` words of a class argument string (the class-specific flag loops
/// stop at the first word that does not start with `-`).
pub(crate) fn flag_words(raw: &[u8]) -> Vec<&[u8]> {
    raw.split(|&b| is_space(b))
        .filter(|w| !w.is_empty())
        .take_while(|w| w[0] == b'-')
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(lines: &[&str]) -> Generic {
        let v: Vec<Vec<u8>> = lines.iter().map(|l| l.as_bytes().to_vec()).collect();
        generic(&v)
    }

    #[test]
    fn flags_as_map_parseargs_reads_them() {
        let x = g(&["-a\"!\" -k 1 -v2 -f /srv/t"]);
        assert_eq!(x.common.app.as_deref(), Some(&b"\"!\""[..]));
        assert_eq!(x.common.key_col.as_deref(), Some(&b"1"[..]));
        assert_eq!(x.common.value_col.as_deref(), Some(&b"2"[..]));
        assert!(x.common.keep_case);
        assert_eq!(x.file.as_deref(), Some(&b"/srv/t"[..]));
        // `-z ` takes the blank; the next word is the file.
        let x = g(&["-z : -v1 /srv/t"]);
        assert_eq!(x.common.delim, b' ');
        assert_eq!(x.file.as_deref(), Some(&b":"[..]));
        assert_eq!(g(&["-z\\t f"]).common.delim, b'\t');
        assert_eq!(g(&["-z\\x f"]).common.delim, b'\\');
    }

    #[test]
    fn redefinitions_add_up() {
        let x = g(&["-a! -N db/m", "-m"]);
        assert!(x.common.match_only);
        assert_eq!(x.common.app.as_deref(), Some(&b"!"[..]));
        // -N does not survive the second K line.
        assert!(x.common.try0 && x.common.try1);
        assert_eq!(x.file.as_deref(), Some(&b"db/m"[..]));
        assert!(g(&["-o"]).file.is_none());
    }
}
