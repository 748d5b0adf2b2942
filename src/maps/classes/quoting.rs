//! The small classes that compute instead of looking up: `dequote`, `arith`, `macro`,
//! `arpa` (all parsed by dequote_init), `syslog` and `null`.
//!
//! dequote_init's flag loop ends the argument string after the first flag word instead of
//! moving past it, so only the **first** flag of these K lines counts (`-a<text>`, `-D`,
//! `-S<c>` / `-s<c>`; other letters are ignored). None of them folds case.

use super::Common;
use super::args::flag_words;
use super::host::pton;
use crate::maps::lookup::{Answer, MapEnv};
use crate::sysexits;

/// dequote_init: the first flag word only. Returns the flags and the space substitute
/// (0 when none).
pub(crate) fn parse_dequote_flags(raw: &[u8]) -> (Common, u8) {
    let mut c = Common::default();
    let mut sub = 0;
    if let Some(w) = flag_words(raw).first() {
        match w.get(1) {
            Some(b'a') => c.app = Some(w[2..].to_vec()),
            Some(b'S' | b's') => sub = w.get(2).copied().unwrap_or(0),
            _ => {}
        }
    }
    (c, sub)
}

/// dequote_map: remove the double quotes of a key that prescan would accept unquoted.
pub(crate) fn dequote(common: &Common, space_sub: u8, key: &[u8]) -> Answer {
    let mut out = Vec::with_capacity(key.len());
    let (mut angles, mut comments, mut quotes, mut spaces) = (0i32, 0i32, 0, 0);
    let (mut quoted, mut backslash) = (false, false);
    for &c0 in key {
        if backslash {
            backslash = false;
            out.push(c0);
            continue;
        }
        let c = if c0 == b' ' && space_sub != 0 {
            space_sub
        } else {
            c0
        };
        match c {
            b'\\' => backslash = true,
            b'(' => comments += 1,
            b')' => {
                if comments <= 0 {
                    return Answer::status(sysexits::OK);
                }
                comments -= 1;
            }
            b' ' | b'\t' => spaces += 1,
            _ => {}
        }
        if comments > 0 {
            out.push(c);
            continue;
        }
        match c {
            b'"' => {
                quoted = !quoted;
                quotes += 1;
                continue;
            }
            b'<' => angles += 1,
            b'>' => {
                if angles <= 0 {
                    return Answer::status(sysexits::OK);
                }
                angles -= 1;
            }
            _ => {}
        }
        out.push(c);
    }
    if angles != 0 || comments != 0 || backslash || quoted || quotes == 0 || spaces != 0 {
        return Answer::status(sysexits::OK);
    }
    Answer::found(common.rewrite(&out, None))
}

/// C's strtol(s, NULL, 0).
fn strtol(s: &[u8]) -> i64 {
    let Ok(c) = std::ffi::CString::new(super::cstr(s)) else {
        return 0;
    };
    // SAFETY: c is NUL-terminated; a null end pointer is allowed.
    #[allow(clippy::useless_conversion)] // c_long is i32 on 32-bit targets
    i64::from(unsafe { libc::strtol(c.as_ptr(), std::ptr::null_mut(), 0) })
}

/// arith_map_lookup: the key is the operator, `%1` and `%2` the operands. No `-a`.
pub(crate) fn arith(key: &[u8], args: &[Vec<u8>]) -> Answer {
    let v: Vec<i64> = args.iter().skip(1).take(2).map(|a| strtol(a)).collect();
    if v.len() < 2 {
        return Answer::status(sysexits::CONFIG);
    }
    let (a, b) = (v[0], v[1]);
    let r = match key.first() {
        Some(b'|') => a | b,
        Some(b'&') => a & b,
        Some(b'%') if b == 0 => return Answer::status(sysexits::OK),
        Some(b'%') => a.wrapping_rem(b),
        Some(b'+') => a.wrapping_add(b),
        Some(b'-') => a.wrapping_sub(b),
        Some(b'*') => a.wrapping_mul(b),
        Some(b'/') if b == 0 => return Answer::status(sysexits::OK),
        Some(b'/') => a.wrapping_div(b),
        Some(b'l') => return Answer::found(truth(a < b)),
        Some(b'=') => return Answer::found(truth(a == b)),
        Some(b'r') => {
            let n = b.wrapping_sub(a).wrapping_add(1);
            if n <= 0 {
                return Answer::status(sysexits::OK);
            }
            random().rem_euclid(n).wrapping_add(a)
        }
        _ => return Answer::status(sysexits::CONFIG),
    };
    Answer::found(r.to_string().into_bytes())
}

fn truth(b: bool) -> Vec<u8> {
    if b {
        b"TRUE".to_vec()
    } else {
        b"FALSE".to_vec()
    }
}

/// A non-negative pseudo-random number (sendmail's get_random).
fn random() -> i64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
    );
    (h.finish() >> 1) as i64
}

/// macro_map_lookup: define (with `%1`) or undefine the macro named by the key; the
/// result is always the empty string.
pub(crate) fn macro_lookup(key: &[u8], args: &[Vec<u8>], env: &mut dyn MapEnv) -> Answer {
    if key.is_empty() {
        return Answer::status(sysexits::CONFIG);
    }
    let name: Vec<u8> = if key[0] != b'{' {
        vec![key[0]]
    } else if key.get(1) == Some(&b'}') {
        env.message(b"Name required for macro/class");
        return Answer::status(sysexits::CONFIG);
    } else {
        let mut name = Vec::new();
        let mut i = 1;
        while i < key.len() && key[i] != b'}' && name.len() < 25 {
            let c = key[i];
            if c.is_ascii_alphanumeric() || c == b'_' {
                name.push(c);
            } else {
                let mut m = b"Invalid macro/class character ".to_vec();
                m.push(c);
                env.message(&m);
            }
            i += 1;
        }
        if i >= key.len() || key[i] != b'}' {
            if i >= key.len() {
                env.message(&[b"Unbalanced { on ", &name[..]].concat());
            } else {
                env.message(
                    format!(
                        "Macro/class name ({{{}}}) too long (25 chars max)",
                        String::from_utf8_lossy(&name)
                    )
                    .as_bytes(),
                );
            }
            // macid_parse then refuses the id it did not assign.
            env.message(b"Unable to assign macro/class ID (mid = 0xffffffff)");
            return Answer::status(sysexits::CONFIG);
        }
        name
    };
    match args.get(1) {
        Some(v) => env.set_macro(&name, Some(v)),
        None => env.set_macro(&name, None),
    }
    Answer::found(Vec::new())
}

/// arpa_map_lookup: `a.b.c.d` → `d.c.b.a`; `IPv6:…` → 32 nibbles, lowest first.
pub(crate) fn arpa(common: &Common, key: &[u8], args: &[Vec<u8>]) -> Answer {
    let result = if key.len() >= 5 && key[..5].eq_ignore_ascii_case(b"IPv6:") {
        pton(libc::AF_INET6, &key[5..]).map(|a| {
            let hex = b"0123456789abcdef";
            let mut out = Vec::with_capacity(64);
            for (i, b) in a.iter().enumerate().rev() {
                out.push(hex[usize::from(b & 0x0f)]);
                out.push(b'.');
                out.push(hex[usize::from(b >> 4)]);
                if i > 0 {
                    out.push(b'.');
                }
            }
            out
        })
    } else {
        pton(libc::AF_INET, key)
            .map(|a| format!("{}.{}.{}.{}", a[3], a[2], a[1], a[0]).into_bytes())
    };
    match result {
        None => Answer::status(sysexits::DATAERR),
        Some(r) => Answer::found(common.result(key, &r, args)),
    }
}

/// syslog_map_parseargs: `-D`, `-S<c>`, `-L<priority>`; `Err` carries the messages and
/// means the K line is rejected (an unknown priority). Other letters only complain.
pub(crate) fn parse_syslog(raw: &[u8]) -> Result<Vec<Vec<u8>>, Vec<Vec<u8>>> {
    let mut msgs = Vec::new();
    let words: Vec<&[u8]> = raw
        .split(|b| b.is_ascii_whitespace())
        .filter(|w| !w.is_empty())
        .collect();
    let mut i = 0;
    let mut priority: Option<&[u8]> = None;
    while i < words.len() && words[i][0] == b'-' {
        let w = words[i];
        match w.get(1) {
            Some(b'D' | b'S') | None => {}
            Some(b'L') => {
                if w.len() > 2 {
                    priority = Some(&w[2..]);
                } else if let Some(next) = words.get(i + 1) {
                    priority = Some(next);
                    i += 1;
                }
            }
            Some(&c) => {
                msgs.push([&b"Illegal option "[..], &[c], b" map syslog"].concat());
            }
        }
        i += 1;
    }
    if let Some(p) = priority {
        let name = if p.len() >= 4 && p[..4].eq_ignore_ascii_case(b"LOG_") {
            &p[4..]
        } else {
            p
        };
        let known = [
            "EMERG", "ALERT", "CRIT", "ERR", "WARNING", "NOTICE", "INFO", "DEBUG",
        ]
        .iter()
        .any(|k| k.as_bytes().eq_ignore_ascii_case(name));
        if !known {
            msgs.push([&b"syslog_map_parseargs: Unknown priority "[..], p].concat());
            return Err(msgs);
        }
    }
    Ok(msgs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(v: &[&str]) -> Vec<Vec<u8>> {
        v.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    fn val(x: Answer) -> Option<String> {
        x.value.map(|v| String::from_utf8(v).unwrap())
    }

    #[test]
    fn dequote_cases() {
        let c = Common::default();
        assert_eq!(val(dequote(&c, 0, b"\"a\"b")).as_deref(), Some("ab"));
        assert_eq!(val(dequote(&c, 0, b"\"a b\"")), None);
        assert_eq!(val(dequote(&c, b'_', b"\"a b\"")).as_deref(), Some("a_b"));
        assert_eq!(val(dequote(&c, 0, b"ab")), None);
        assert_eq!(val(dequote(&c, 0, b"\"a\" (c d)")), None);
        assert_eq!(val(dequote(&c, 0, b"\"a\"(c)")).as_deref(), Some("a(c)"));
        assert_eq!(val(dequote(&c, 0, b"\"<a\"")), None);
    }

    #[test]
    fn only_the_first_flag_counts() {
        let (c, s) = parse_dequote_flags(b"-a! -s_");
        assert_eq!(c.app.as_deref(), Some(&b"!"[..]));
        assert_eq!(s, 0);
        let (c, s) = parse_dequote_flags(b"-s_ -a!");
        assert_eq!(c.app, None);
        assert_eq!(s, b'_');
    }

    #[test]
    fn arithmetic() {
        assert_eq!(
            val(arith(b"+", &a(&["+", "7", "5"]))).as_deref(),
            Some("12")
        );
        assert_eq!(
            val(arith(b"+", &a(&["+", "0x", "5"]))).as_deref(),
            Some("5")
        );
        assert_eq!(
            val(arith(b"*", &a(&["*", "0x10", "010"]))).as_deref(),
            Some("128")
        );
        assert_eq!(
            val(arith(b"l", &a(&["l", "1", "2"]))).as_deref(),
            Some("TRUE")
        );
        assert_eq!(arith(b"/", &a(&["/", "1", "0"])), Answer::status(0));
        assert_eq!(arith(b"?", &a(&["?", "1", "0"])), Answer::status(78));
        assert_eq!(arith(b"+", &a(&["+", "1"])), Answer::status(78));
        for _ in 0..20 {
            let r: i64 = val(arith(b"r", &a(&["r", "3", "5"])))
                .unwrap()
                .parse()
                .unwrap();
            assert!((3..=5).contains(&r));
        }
    }

    #[derive(Default)]
    struct Env {
        messages: Vec<String>,
        set: Vec<(String, Option<String>)>,
    }

    impl MapEnv for Env {
        fn message(&mut self, t: &[u8]) {
            self.messages.push(String::from_utf8_lossy(t).into_owned());
        }
        fn macro_value(&self, _: &[u8]) -> Option<Vec<u8>> {
            None
        }
        fn set_macro(&mut self, name: &[u8], value: Option<&[u8]>) {
            let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
            self.set.push((s(name), value.map(s)));
        }
        fn blank_sub(&self) -> u8 {
            b' '
        }
    }

    #[test]
    fn macro_map_defines_and_undefines() {
        let mut env = Env::default();
        let r = macro_lookup(b"xyz", &a(&["xyz", "v1"]), &mut env);
        assert_eq!(r, Answer::found(Vec::new()));
        macro_lookup(b"{client_addr}", &a(&["{client_addr}", ""]), &mut env);
        macro_lookup(b"{q}", &a(&["{q}"]), &mut env);
        assert_eq!(
            env.set,
            [
                ("x".to_string(), Some("v1".to_string())),
                ("client_addr".to_string(), Some(String::new())),
                ("q".to_string(), None),
            ]
        );
        assert_eq!(macro_lookup(b"", &a(&[""]), &mut env), Answer::status(78));
        assert_eq!(
            macro_lookup(b"{ab", &a(&["{ab"]), &mut env),
            Answer::status(78)
        );
        assert_eq!(
            env.messages,
            [
                "Unbalanced { on ab",
                "Unable to assign macro/class ID (mid = 0xffffffff)"
            ]
        );
    }

    #[test]
    fn arpa_reverses() {
        let c = Common::default();
        let k = |s: &str| a(&[s]);
        assert_eq!(
            val(arpa(&c, b"192.0.2.1", &k("192.0.2.1"))).as_deref(),
            Some("1.2.0.192")
        );
        let v6 = val(arpa(&c, b"IPv6:2001:db8::1", &k("IPv6:2001:db8::1"))).unwrap();
        assert!(
            v6.starts_with("1.0.0.0.") && v6.ends_with(".8.b.d.0.1.0.0.2"),
            "{v6}"
        );
        assert_eq!(arpa(&c, b"1.2.3", &k("1.2.3")), Answer::status(65));
    }
}
