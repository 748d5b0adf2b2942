//! The `regex` class (regex_map_init, regex_map_lookup, parse_fields in map.c), with
//! glibc's own regcomp/regexec: sendmail links the C library's POSIX regex, so calling
//! the same functions is the way to accept, reject and match exactly what it does.
//!
//! `Kname regex [flags] pattern`: the pattern is the rest of the line after the flags.
//! Defaults: extended syntax, case-insensitive, no sub-matches. Flags: `-n` invert,
//! `-f` case-sensitive, `-b` basic syntax, `-s[list]` report groups (default all of
//! `0..=n`), `-d<text>` separator between groups (default the byte 0x9B, sendmail's
//! `$|`), `-a<text>`, `-m`, `-q`, `-S<c>`, `-D`; other letters are ignored.
//!
//! Lookup: no match (or a match with `-n`) → no value, status left at 0. A match without
//! `-s` → the empty string + `-a` (`-m`: the key + `-a`). With `-s`: the chosen groups
//! joined by the separator (a `%1` argument replaces the list), refused when the joined
//! text has unbalanced `<>`, `()`, quotes, a trailing backslash or any blank, and then
//! `%n`-substituted and `-a` appended like any stored value. At most 255 bytes.

use std::ffi::CString;

use super::Common;
use crate::maps::lookup::{Answer, MapEnv};
use crate::sysexits;

const MAX_MATCH: usize = 32;
const END_OF_FIELDS: i32 = -1;

/// A compiled pattern; freed with regfree.
struct Compiled(Box<libc::regex_t>);

impl Compiled {
    fn compile(pattern: &[u8], flags: i32) -> Result<Compiled, Vec<u8>> {
        let c = CString::new(super::cstr(pattern)).expect("no NUL after cstr");
        // SAFETY: regex_t is plain data that regcomp initialises; zeroed is a valid start.
        let mut re: Box<libc::regex_t> = Box::new(unsafe { std::mem::zeroed() });
        // SAFETY: re points to writable regex_t storage, c is NUL-terminated.
        let err = unsafe { libc::regcomp(&mut *re, c.as_ptr(), flags) };
        if err == 0 {
            return Ok(Compiled(re));
        }
        let mut buf = [0u8; 80];
        // SAFETY: buf is 80 writable bytes; regerror writes at most that, NUL included.
        unsafe {
            libc::regerror(err, &*re, buf.as_mut_ptr().cast(), buf.len());
        }
        Err(super::cstr(&buf).to_vec())
    }

    /// `re_nsub`, which the libc crate keeps private: glibc's regex_t is six
    /// pointer-sized fields, then re_nsub.
    fn nsub(&self) -> usize {
        const _: () =
            assert!(std::mem::size_of::<libc::regex_t>() == 8 * std::mem::size_of::<usize>());
        let base: *const libc::regex_t = &*self.0;
        // SAFETY: the offset is inside the regex_t (checked size above) and aligned for a
        // size_t, which is what glibc stores there.
        unsafe { *(base.cast::<usize>().add(6)) }
    }

    /// regexec: `None` for no match, else the 32 match slots.
    fn exec(&self, subject: &[u8]) -> Option<[libc::regmatch_t; MAX_MATCH]> {
        let c = CString::new(super::cstr(subject)).expect("no NUL after cstr");
        let mut m = [libc::regmatch_t {
            rm_so: -1,
            rm_eo: -1,
        }; MAX_MATCH];
        // SAFETY: m holds MAX_MATCH slots, c is NUL-terminated, the pattern is compiled.
        let r = unsafe { libc::regexec(&*self.0, c.as_ptr(), MAX_MATCH, m.as_mut_ptr(), 0) };
        (r == 0).then_some(m)
    }
}

impl Drop for Compiled {
    fn drop(&mut self) {
        // SAFETY: the pattern was compiled successfully and is freed once.
        unsafe { libc::regfree(&mut *self.0) };
    }
}

pub(crate) struct RegexMap {
    re: Compiled,
    invert: bool,
    /// The groups to report (`-s`), `None` without `-s`.
    fields: Option<Vec<i32>>,
    delim: Vec<u8>,
}

/// C's atoi.
fn atoi(s: &[u8]) -> i32 {
    let s = s.trim_ascii_start();
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let n = digits
        .iter()
        .take_while(|c| c.is_ascii_digit())
        .fold(0i64, |n, &c| {
            (n * 10 + i64::from(c - b'0')).min(i64::from(i32::MAX) + 1)
        });
    (if neg { -n } else { n }) as i32
}

/// parse_fields: a comma-separated list of group numbers below `nsub`.
fn parse_fields(s: &[u8], nsub: usize) -> Result<Vec<i32>, Vec<u8>> {
    let mut out = Vec::new();
    for piece in s.split(|&b| b == b',') {
        if out.len() >= MAX_MATCH {
            return Err(format!("too many fields, {MAX_MATCH} max").into_bytes());
        }
        let v = atoi(piece);
        if v < 0 || v as usize >= nsub {
            return Err(
                format!("field ({v}) out of range, only {nsub} substrings in pattern").into_bytes(),
            );
        }
        out.push(v);
    }
    Ok(out)
}

impl RegexMap {
    /// regex_map_init over the K line's class arguments.
    pub(crate) fn parse(raw: &[u8]) -> Result<(Common, RegexMap), Vec<u8>> {
        let mut common = Common::default();
        let mut pflags = libc::REG_ICASE | libc::REG_EXTENDED | libc::REG_NOSUB;
        let mut invert = false;
        let mut sub_param: Option<Vec<u8>> = None;
        let mut delim: Option<Vec<u8>> = None;
        let mut p = 0;
        loop {
            while p < raw.len() && raw[p].is_ascii_whitespace() {
                p += 1;
            }
            if p >= raw.len() || raw[p] != b'-' {
                break;
            }
            let end = raw[p..]
                .iter()
                .position(|b| b.is_ascii_whitespace())
                .map_or(raw.len(), |e| p + e);
            let w = &raw[p..end];
            match w.get(1) {
                Some(b'n') => invert = true,
                Some(b'f') => {
                    common.keep_case = true;
                    pflags &= !libc::REG_ICASE;
                }
                Some(b'b') => pflags &= !libc::REG_EXTENDED,
                Some(b's') => {
                    sub_param = Some(w[2..].to_vec());
                    pflags &= !libc::REG_NOSUB;
                }
                Some(b'd') => delim = Some(w[2..].to_vec()),
                Some(b'a') => common.app = Some(w[2..].to_vec()),
                Some(b'm') => common.match_only = true,
                _ => {}
            }
            p = (end + 1).min(raw.len());
        }
        let pattern = &raw[p..];
        let re = Compiled::compile(pattern, pflags)
            .map_err(|e| [&b"pattern-compile-error: "[..], &e].concat())?;
        let mut fields = None;
        if pflags & libc::REG_NOSUB == 0 {
            let substrings = re.nsub() + 1;
            if substrings >= MAX_MATCH {
                return Err(format!("too many substrings, {MAX_MATCH} max").into_bytes());
            }
            fields = Some(match sub_param.as_deref() {
                Some(s) if !s.is_empty() => parse_fields(s, substrings)?,
                _ => (0..substrings as i32).collect(),
            });
        }
        Ok((
            common,
            RegexMap {
                re,
                invert,
                fields,
                delim: delim.unwrap_or_else(|| vec![0x9b]),
            },
        ))
    }

    pub(crate) fn lookup(
        &self,
        common: &Common,
        key: &[u8],
        args: &[Vec<u8>],
        env: &mut dyn MapEnv,
    ) -> Answer {
        let rewrite = |s: &[u8]| {
            if common.match_only {
                common.rewrite(args.first().map_or(key, |k| k.as_slice()), None)
            } else {
                common.rewrite(s, Some(args))
            }
        };
        let m = self.re.exec(key);
        if self.invert {
            return match m {
                None => Answer::found(rewrite(b"")),
                Some(_) => Answer::status(sysexits::OK),
            };
        }
        let Some(m) = m else {
            return Answer::status(sysexits::OK);
        };
        let Some(stored) = &self.fields else {
            return Answer::found(rewrite(b""));
        };
        let fields = match args.get(1) {
            Some(list) => match parse_fields(super::cstr(list), self.re.nsub() + 1) {
                Ok(f) => f,
                Err(msg) => {
                    env.message(&msg);
                    return Answer::status(sysexits::CONFIG);
                }
            },
            None => stored.clone(),
        };
        let key = super::cstr(key);
        let limit = super::MAXNAME - 1;
        let mut out: Vec<u8> = Vec::new();
        let (mut angles, mut comments, mut spaces) = (0i32, 0i32, 0);
        let (mut quoted, mut backslash) = (false, false);
        for (n, &f) in fields
            .iter()
            .take_while(|&&f| f != END_OF_FIELDS)
            .enumerate()
        {
            if n > 0 {
                for &d in &self.delim {
                    if out.len() < limit {
                        out.push(d);
                    }
                }
            }
            let Some(g) = m.get(f as usize) else {
                continue;
            };
            if g.rm_so < 0 || g.rm_eo < 0 {
                continue;
            }
            for &c in &key[g.rm_so as usize..g.rm_eo as usize] {
                if out.len() >= limit {
                    continue;
                }
                out.push(c);
                if backslash {
                    backslash = false;
                } else if quoted && c != b'"' && c != b'\\' {
                } else {
                    match c {
                        b'\\' => backslash = true,
                        b'(' => comments += 1,
                        b')' => comments -= 1,
                        b'<' => angles += 1,
                        b'>' => angles -= 1,
                        b' ' => spaces += 1,
                        b'"' => quoted = !quoted,
                        _ => {}
                    }
                }
            }
        }
        if angles != 0 || comments != 0 || quoted || backslash || spaces != 0 {
            return Answer::status(sysexits::OK);
        }
        Answer::found(rewrite(&out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Env(Vec<Vec<u8>>);
    impl MapEnv for Env {
        fn message(&mut self, t: &[u8]) {
            self.0.push(t.to_vec());
        }
        fn macro_value(&self, _: &[u8]) -> Option<Vec<u8>> {
            None
        }
        fn set_macro(&mut self, _: &[u8], _: Option<&[u8]>) {}
        fn blank_sub(&self) -> u8 {
            b' '
        }
    }

    fn look(raw: &str, key: &str) -> Option<String> {
        let (c, r) = RegexMap::parse(raw.as_bytes()).unwrap();
        let a = vec![key.as_bytes().to_vec()];
        r.lookup(&c, key.as_bytes(), &a, &mut Env(Vec::new()))
            .value
            .map(|v| String::from_utf8_lossy(&v).into_owned())
    }

    fn err(raw: &str) -> String {
        String::from_utf8(RegexMap::parse(raw.as_bytes()).err().unwrap()).unwrap()
    }

    #[test]
    fn matching_and_groups() {
        assert_eq!(look("^a+$", "AAA").as_deref(), Some(""));
        assert_eq!(look("-f ^a+$", "AAA"), None);
        assert_eq!(look("-n ^a+$", "b").as_deref(), Some(""));
        assert_eq!(look("-a@MATCH x", "x").as_deref(), Some("@MATCH"));
        assert_eq!(look("-m -a! x", "axb").as_deref(), Some("axb!"));
        assert_eq!(
            look("-s1,2 -d+ ^([a-z]+)\\.([a-z]+)$", "abc.def").as_deref(),
            Some("abc+def")
        );
        assert_eq!(look("-s2 -d+ ^(x)|(y)$", "y").as_deref(), Some("y"));
        assert_eq!(
            look("-s ^(a)(b)?$", "a").as_deref(),
            Some("a\u{fffd}a\u{fffd}")
        );
        assert_eq!(look("-s1 ^(.*)$", "a b"), None);
        assert_eq!(look("-b -s1 ^\\(a*\\)$", "aa").as_deref(), Some("aa"));
    }

    #[test]
    fn a_first_argument_picks_the_groups() {
        let (c, r) = RegexMap::parse(b"-s1 -d+ ^([a-z]+)@([a-z]+)$").unwrap();
        let mut env = Env(Vec::new());
        let args = |l: &str| vec![b"u@d".to_vec(), l.as_bytes().to_vec()];
        let got = r.lookup(&c, b"u@d", &args("2,1"), &mut env);
        assert_eq!(got.value.as_deref(), Some(&b"d+u"[..]));
        let got = r.lookup(&c, b"u@d", &args("7"), &mut env);
        assert_eq!(got, Answer::status(sysexits::CONFIG));
        assert_eq!(
            env.0,
            [b"field (7) out of range, only 3 substrings in pattern".to_vec()]
        );
    }

    #[test]
    fn compile_errors() {
        assert_eq!(err("^(a"), "pattern-compile-error: Unmatched ( or \\(");
        assert_eq!(
            err("-s9 ^(a)$"),
            "field (9) out of range, only 2 substrings in pattern"
        );
        let many = "-s ".to_string() + &"(a)".repeat(31);
        assert_eq!(err(&many), "too many substrings, 32 max");
    }
}
