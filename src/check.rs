//! Test files for `cfmap check`: expected results of rulesets, checked in CI.
//!
//! One case a line:
//!
//! ```text
//! # comments and blank lines are ignored
//! map access=testdata/junk/access.txt      # map NAME answers from a text file
//! define {client_addr}=192.0.2.1           # a macro, for the cases below it
//! check_mail <honey@sweeties.com>  =>  $# error $@ 5 . 7 . 1 $: "550 Sorry"
//! 3,0 user@example.com  =>  $# esmtp $@ example . com $: user < @ example . com >
//! check_rcpt <a@b>  =>  OK  status 75      # the ruleset status must be 75 as well
//! ```
//!
//! A case is a ruleset list (as `sendmail -bt` takes it), one blank, the address, then
//! `=>` and the expected workspace written the way the trace prints it: tokens
//! separated by single blanks (extra blanks around `=>` do not matter). `status N` at the
//! end also checks the status of the last ruleset that failed (0 when none did).
//! `define` and `.D`/`.C` lines change the session for the cases after them; `map`
//! lines must come before the first case.

/// One line of a test file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// `map NAME=FILE`.
    Map {
        name: String,
        file: String,
    },
    /// `define NAME=VALUE`.
    Define {
        name: String,
        value: Vec<u8>,
    },
    /// A `-bt` line passed through as is (`.D`, `.C`).
    Command(Vec<u8>),
    Case(Case),
}

/// One expected result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    /// 1-based line number in the test file.
    pub line: usize,
    pub rulesets: Vec<u8>,
    pub address: Vec<u8>,
    /// Expected tokens as printed, joined by single blanks.
    pub expected: Vec<u8>,
    pub status: Option<i32>,
}

/// A problem in the test file itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct FormatError {
    pub line: usize,
    pub message: String,
}

fn trim(b: &[u8]) -> &[u8] {
    let s = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let e = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(s, |e| e + 1);
    &b[s..e.max(s)]
}

/// Normalize a token list written by hand: runs of blanks become one.
pub fn normalize(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    for w in b
        .split(|c| *c == b' ' || *c == b'\t')
        .filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push(b' ');
        }
        out.extend_from_slice(w);
    }
    out
}

/// Cut a trailing `# comment` that follows a blank.
fn strip_comment(line: &[u8]) -> &[u8] {
    let mut quoted = false;
    for i in 0..line.len() {
        match line[i] {
            b'"' => quoted = !quoted,
            b'#' if !quoted && i > 0 && line[i - 1].is_ascii_whitespace() => return &line[..i],
            _ => {}
        }
    }
    line
}

/// Parse a test file.
pub fn parse(data: &[u8]) -> Result<Vec<Item>, FormatError> {
    let mut items = Vec::new();
    let mut seen_case = false;
    for (i, raw) in data.split(|&b| b == b'\n').enumerate() {
        let line = i + 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let t = trim(raw);
        if t.is_empty() || t[0] == b'#' {
            continue;
        }
        if t[0] == b'.' {
            items.push(Item::Command(t.to_vec()));
            continue;
        }
        let t = trim(strip_comment(t));
        let err = |m: &str| FormatError {
            line,
            message: m.to_string(),
        };
        if let Some(rest) = t.strip_prefix(b"map ") {
            if seen_case {
                return Err(err("`map` lines must come before the first case"));
            }
            let rest = String::from_utf8_lossy(trim(rest)).into_owned();
            let (name, file) = rest
                .split_once('=')
                .ok_or_else(|| err("expected `map NAME=FILE`"))?;
            items.push(Item::Map {
                name: name.trim().to_string(),
                file: file.trim().to_string(),
            });
            continue;
        }
        if let Some(rest) = t.strip_prefix(b"define ") {
            let rest = trim(rest);
            let eq = rest
                .iter()
                .position(|&b| b == b'=')
                .ok_or_else(|| err("expected `define NAME=VALUE`"))?;
            items.push(Item::Define {
                name: String::from_utf8_lossy(trim(&rest[..eq])).into_owned(),
                value: rest[eq + 1..].to_vec(),
            });
            continue;
        }
        let arrow = t
            .windows(2)
            .position(|w| w == b"=>")
            .ok_or_else(|| err("expected `RULESETS ADDRESS => RESULT`"))?;
        let left = trim(&t[..arrow]);
        let mut right = trim(&t[arrow + 2..]).to_vec();
        let mut status = None;
        if let Some(p) = right.windows(7).rposition(|w| w == b"status ") {
            let num = trim(&right[p + 7..]);
            if let Some(n) = std::str::from_utf8(num).ok().and_then(|s| s.parse().ok())
                && (p == 0 || right[p - 1].is_ascii_whitespace())
            {
                status = Some(n);
                right.truncate(p);
            }
        }
        let sp = left
            .iter()
            .position(|b| b.is_ascii_whitespace())
            .ok_or_else(|| err("a case needs a ruleset list, a blank and an address"))?;
        seen_case = true;
        items.push(Item::Case(Case {
            line,
            rulesets: left[..sp].to_vec(),
            address: trim(&left[sp..]).to_vec(),
            expected: normalize(&right),
            status,
        }));
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_kind_of_line() {
        let src = b"# c\nmap access=a.txt\ndefine {client_addr}=1.2.3.4\n.DXy\n\
check_mail <a@b>  =>  $# error  $@ 5 . 7 . 1 # why\n3,0 x => y status 75\n";
        let items = parse(src).unwrap();
        assert_eq!(items.len(), 5);
        assert_eq!(
            items[0],
            Item::Map {
                name: "access".into(),
                file: "a.txt".into()
            }
        );
        let Item::Case(c) = &items[3] else { panic!() };
        assert_eq!(c.line, 5);
        assert_eq!(c.rulesets, b"check_mail");
        assert_eq!(c.address, b"<a@b>");
        assert_eq!(c.expected, b"$# error $@ 5 . 7 . 1");
        let Item::Case(c) = &items[4] else { panic!() };
        assert_eq!(c.status, Some(75));
        assert_eq!(c.expected, b"y");
    }

    #[test]
    fn bad_lines_name_their_line() {
        let e = parse(b"\n3,0 nothing here\n").unwrap_err();
        assert_eq!(e.line, 2);
        let e = parse(b"3 a => b\nmap x=y\n").unwrap_err();
        assert_eq!(e.line, 2);
    }
}
