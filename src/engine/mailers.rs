//! The mailer table as sendmail builds it (`makemailer`, readcf.c; `setupmailers`,
//! conf.c): the three built-in mailers, then the M lines, a redefinition taking the old
//! one's place. `=M` prints it; `/try` and `/parse` use its rulesets and flags.

use crate::ir::Ir;
use crate::ir::macros::munch;

/// One mailer with sendmail's defaults applied.
#[derive(Debug, Clone)]
pub struct MailerInfo {
    pub name: Vec<u8>,
    pub path: Vec<u8>,
    /// Envelope/header sender and recipient rulesets (0 when not given).
    pub se: u16,
    pub sh: u16,
    pub re: u16,
    pub rh: u16,
    pub maxsize: i64,
    pub uid: i64,
    pub gid: i64,
    pub flags: [bool; 256],
    pub linelimit: i64,
    pub eol: Vec<u8>,
    pub charset: Option<Vec<u8>>,
    pub mtatype: Option<Vec<u8>>,
    pub addrtype: Option<Vec<u8>>,
    pub diagtype: Option<Vec<u8>>,
    pub maxrcpt: i64,
    pub argv: Vec<Vec<u8>>,
}

const BUILTIN: &[&str] = &[
    "prog, P=/bin/sh, F=lsouDq9, T=X-Unix/X-Unix/X-Unix, A=sh -c $u",
    "*file*, P=[FILE], F=lsDFMPEouq9, T=X-Unix/X-Unix/X-Unix, A=FILE $u",
    "*include*, P=/dev/null, F=su, A=INCLUDE $u",
];

/// SMTP line length limit given to mailers with `F=L`.
const SMTPLINELIM: i64 = 990;
const DEFAULT_MAX_RCPT: i64 = 100;

/// C's `atol`: leading blanks, a sign, digits; anything else stops.
fn atol(b: &[u8]) -> i64 {
    let s: Vec<u8> = b
        .iter()
        .copied()
        .skip_while(u8::is_ascii_whitespace)
        .collect();
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, &s[..]),
    };
    let mut n: i64 = 0;
    for &d in digits.iter().take_while(|d| d.is_ascii_digit()) {
        n = n.saturating_mul(10).saturating_add(i64::from(d - b'0'));
    }
    if neg { -n } else { n }
}

fn ruleset_of(ir: &Ir, part: &[u8]) -> u16 {
    let part: Vec<u8> = part
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    if part.first().is_some_and(u8::is_ascii_digit) {
        return atol(&part).clamp(0, 99) as u16;
    }
    let len = part
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
        .count();
    ir.ruleset_names.get(&part[..len]).copied().unwrap_or(0)
}

fn build(ir: &Ir, name: &[u8], fields: &[(Vec<u8>, Vec<u8>)]) -> Option<MailerInfo> {
    let mut m = MailerInfo {
        name: name.to_vec(),
        path: Vec::new(),
        se: 0,
        sh: 0,
        re: 0,
        rh: 0,
        maxsize: 0,
        uid: -1,
        gid: -1,
        flags: [false; 256],
        linelimit: 0,
        eol: Vec::new(),
        charset: None,
        mtatype: None,
        addrtype: None,
        diagtype: None,
        maxrcpt: 0,
        argv: Vec::new(),
    };
    let mut has_path = false;
    let mut has_argv = false;
    let mut has_eol = false;
    for (key, raw) in fields {
        let Some(&code) = key.first() else { continue };
        let spanned: Vec<_> = raw
            .iter()
            .map(|&c| (c, crate::cf::Span::default()))
            .collect();
        let v: Vec<u8> = munch(&spanned).into_iter().map(|x| x.0).collect();
        let v: Vec<u8> = v
            .iter()
            .copied()
            .skip_while(u8::is_ascii_whitespace)
            .collect();
        match code {
            b'P' if !v.is_empty() => {
                m.path = v;
                has_path = true;
            }
            b'F' => {
                for &c in v.iter().filter(|c| !c.is_ascii_whitespace()) {
                    m.flags[c as usize] = true;
                }
            }
            b'S' | b'R' => {
                let mut parts = v.splitn(2, |&b| b == b'/');
                let first = ruleset_of(ir, parts.next().unwrap_or(&[]));
                let second = parts.next().map(|p| ruleset_of(ir, p));
                if code == b'S' {
                    m.se = first;
                    m.sh = second.unwrap_or(first);
                } else {
                    m.re = first;
                    m.rh = second.unwrap_or(first);
                }
            }
            b'E' if !v.is_empty() => {
                m.eol = v;
                has_eol = true;
            }
            b'A' if !v.is_empty() => {
                m.argv = v
                    .split(u8::is_ascii_whitespace)
                    .filter(|w| !w.is_empty())
                    .map(<[u8]>::to_vec)
                    .collect();
                has_argv = true;
            }
            b'M' => m.maxsize = atol(&v),
            b'r' => m.maxrcpt = atol(&v),
            b'L' => m.linelimit = atol(&v).max(0),
            b'C' if !v.is_empty() => m.charset = Some(v),
            b'T' => {
                let mut parts = v.splitn(3, |&b| b == b'/');
                let mta = parts.next().unwrap_or(&[]).to_vec();
                let addr = parts.next().map(<[u8]>::to_vec).filter(|p| !p.is_empty());
                let diag = parts.next().map(<[u8]>::to_vec).filter(|p| !p.is_empty());
                m.mtatype = Some(if mta.is_empty() { b"dns".to_vec() } else { mta });
                m.addrtype = Some(addr.unwrap_or_else(|| b"rfc822".to_vec()));
                m.diagtype = Some(diag.unwrap_or_else(|| b"smtp".to_vec()));
            }
            b'U' => {
                let mut parts = v.splitn(2, |&b| b == b':' || b == b',');
                let u = parts.next().unwrap_or(&[]);
                if u.first().is_some_and(u8::is_ascii_digit) {
                    m.uid = atol(u);
                }
                if let Some(g) = parts.next()
                    && g.first().is_some_and(u8::is_ascii_digit)
                {
                    m.gid = atol(g);
                }
            }
            _ => {}
        }
    }
    if !has_argv || !has_path {
        return None;
    }
    if m.maxrcpt <= 0 {
        m.maxrcpt = DEFAULT_MAX_RCPT;
    }
    if m.flags[b'L' as usize] && m.linelimit == 0 {
        m.linelimit = SMTPLINELIM;
    }
    if m.path == b"[IPC]" {
        m.mtatype.get_or_insert_with(|| b"dns".to_vec());
        m.addrtype.get_or_insert_with(|| b"rfc822".to_vec());
        if m.diagtype.is_none() {
            m.diagtype = Some(if m.argv.first().is_some_and(|a| a == b"FILE") {
                b"x-unix".to_vec()
            } else {
                b"smtp".to_vec()
            });
        }
    }
    if !has_eol {
        let uses_u = m.argv.iter().any(|a| a.windows(2).any(|w| w == b"$u"));
        m.eol = if uses_u {
            b"\n".to_vec()
        } else {
            b"\r\n".to_vec()
        };
    }
    Some(m)
}

/// An M line's fields as (equate, value).
type Fields = Vec<(Vec<u8>, Vec<u8>)>;

fn parse_builtin(line: &str) -> (Vec<u8>, Fields) {
    let mut parts = line.split(", ");
    let name = parts.next().unwrap_or("").as_bytes().to_vec();
    let fields = parts
        .filter_map(|f| f.split_once('='))
        .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
        .collect();
    (name, fields)
}

/// Every mailer in sendmail's index order.
pub fn mailers(ir: &Ir) -> Vec<MailerInfo> {
    let mut out: Vec<MailerInfo> = Vec::new();
    let mut add = |m: MailerInfo| match out
        .iter()
        .position(|o| o.name.eq_ignore_ascii_case(&m.name))
    {
        Some(i) => out[i] = m,
        None => out.push(m),
    };
    for b in BUILTIN {
        let (name, fields) = parse_builtin(b);
        if let Some(m) = build(ir, &name, &fields) {
            add(m);
        }
    }
    for m in ir.mailers.values() {
        if let Some(info) = build(ir, &m.name, &m.fields) {
            add(info);
        }
    }
    out
}
